/**
 * @module services/rds/engine-versions
 * What can be ordered here: DescribeDBEngineVersions (the engine versions this host has installed, catalog.ts) and
 * DescribeOrderableDBInstanceOptions (each of them in each instance class Cellar offers).
 */
import type { RequestContext } from '../../core/context.js';
import type * as api from '../../models/rds.js';
import { INSTANCE_CLASSES, resolveEngineVersion, STORAGE_LIMITS_GIB, type EngineVersionInfo } from './catalog.js';
import { filterValues, paginate } from './describe.js';
import { blankParameter } from './errors.js';
import { availabilityZones } from './network.js';
import type { RdsResources } from './resources.js';

export class EngineVersionApi implements Partial<api.RDSApi> {
  constructor(private readonly r: RdsResources) {}

  describeDBEngineVersions(input: api.DescribeDBEngineVersionsMessage): api.DBEngineVersionMessage {
    filterValues(input.Filters, ['engine', 'engine-version', 'engine-mode', 'status', 'db-parameter-group-family']);
    let list = this.r.versions();
    if (input.Engine !== undefined) list = list.filter((v) => v.engine === input.Engine);
    if (input.EngineVersion !== undefined) list = list.filter((v) => v.version === input.EngineVersion || v.major === input.EngineVersion);
    if (input.DBParameterGroupFamily !== undefined) list = list.filter((v) => v.family === input.DBParameterGroupFamily);
    for (const f of input.Filters ?? []) {
      const vals = new Set(f.Values);
      if (f.Name === 'engine') list = list.filter((v) => vals.has(v.engine));
      if (f.Name === 'engine-version') list = list.filter((v) => vals.has(v.version));
      if (f.Name === 'db-parameter-group-family') list = list.filter((v) => vals.has(v.family));
      if (f.Name === 'status') list = list.filter(() => vals.has('available'));
      if (f.Name === 'engine-mode') list = list.filter(() => vals.has('provisioned'));
    }
    if (input.DefaultOnly) {
      const newest = new Map<string, EngineVersionInfo>();
      for (const v of list) {
        const cur = newest.get(v.engine);
        if (!cur || resolveEngineVersion([cur, v], v.engine, undefined) === v) newest.set(v.engine, v);
      }
      list = [...newest.values()];
    }
    const { page, marker } = paginate(list, (v) => `${v.engine}/${v.version}`, input.MaxRecords, input.Marker);
    return {
      DBEngineVersions: page.map((v) => ({
        Engine: v.engine,
        EngineVersion: v.version,
        MajorEngineVersion: v.major,
        DBParameterGroupFamily: v.family,
        DBEngineDescription: v.description,
        DBEngineVersionDescription: v.versionDescription,
        ValidUpgradeTarget: [],
        ExportableLogTypes: v.kind === 'postgres' ? ['postgresql'] : ['error', 'general', 'slowquery'],
        SupportsLogExportsToCloudwatchLogs: false,
        SupportsReadReplica: false,
        SupportedEngineModes: ['provisioned'],
        SupportedFeatureNames: [],
        Status: 'available',
        SupportsParallelQuery: false,
        SupportsGlobalDatabases: false,
        SupportsBabelfish: false,
        SupportsCertificateRotationWithoutRestart: true,
        SupportedCACertificateIdentifiers: ['rds-ca-rsa2048-g1'],
        SupportsLocalWriteForwarding: false,
        SupportsIntegrations: false,
      })),
      Marker: marker,
    };
  }

  describeOrderableDBInstanceOptions(input: api.DescribeOrderableDBInstanceOptionsMessage, ctx: RequestContext): api.OrderableDBInstanceOptionsMessage {
    filterValues(input.Filters, []);
    const engine = input.Engine;
    if (!engine) throw blankParameter('Engine');
    const versions = this.r.versions().filter((v) => v.engine === engine && (input.EngineVersion === undefined || v.version === input.EngineVersion || v.major === input.EngineVersion));
    if (input.LicenseModel !== undefined && versions.every((v) => v.licenseModel !== input.LicenseModel)) return { OrderableDBInstanceOptions: [] };
    const classes = INSTANCE_CLASSES.filter((c) => input.DBInstanceClass === undefined || c.name === input.DBInstanceClass);
    if (input.Vpc === false) return { OrderableDBInstanceOptions: [] };
    const all = versions.flatMap((v) =>
      classes.map((c) => ({
        Engine: v.engine,
        EngineVersion: v.version,
        DBInstanceClass: c.name,
        LicenseModel: v.licenseModel,
        AvailabilityZoneGroup: ctx.scope.region,
        AvailabilityZones: availabilityZones(ctx.scope.region).map((Name) => ({ Name })),
        MultiAZCapable: false,
        ReadReplicaCapable: false,
        Vpc: true,
        SupportsStorageEncryption: true,
        StorageType: 'gp2',
        SupportsIops: false,
        SupportsStorageThroughput: false,
        SupportsEnhancedMonitoring: false,
        SupportsIAMDatabaseAuthentication: false,
        SupportsPerformanceInsights: false,
        MinStorageSize: STORAGE_LIMITS_GIB.min,
        MaxStorageSize: STORAGE_LIMITS_GIB.max,
        SupportedEngineModes: ['provisioned'],
        SupportsStorageAutoscaling: false,
        SupportsKerberosAuthentication: false,
        OutpostCapable: false,
        SupportedActivityStreamModes: [],
        SupportsGlobalDatabases: false,
        SupportedNetworkTypes: ['IPV4'],
        SupportsClusters: false,
        SupportsDedicatedLogVolume: false,
      })),
    );
    const { page, marker } = paginate(all, (o) => `${o.EngineVersion}/${o.DBInstanceClass}`, input.MaxRecords ?? 100, input.Marker);
    return { OrderableDBInstanceOptions: page, Marker: marker };
  }
}
