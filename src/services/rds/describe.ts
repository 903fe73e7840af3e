/**
 * @module services/rds/describe
 * Turns stored records into the API's output shapes (DBInstance, DBParameterGroup, DBSubnetGroup,
 * OptionGroup, Event, DBSnapshot), and the shared Describe* plumbing: filters and pagination with
 * RDS's limits (MaxRecords 20-100, default 100; an opaque Marker).
 */
import { networkInterfaces } from 'node:os';
import type * as api from '../../models/rds.js';
import type { CellarConfig } from '../../config.js';
import { invalidParameterValue } from './errors.js';
import type { EventRecord, InstanceRecord, OptionGroupRecord, ParameterGroupRecord, SnapshotRecord, SubnetGroupRecord } from './records.js';
import { instanceArn } from './status.js';
import { defaultVpcId } from './network.js';

const MAX_RECORDS_DEFAULT = 100;
/** RDS's default CA type, which Cellar's own `rds` CA matches (an RSA 2048 root; src/tls/ca.ts). */
const CA_CERTIFICATE_IDENTIFIER = 'rds-ca-rsa2048-g1';

/** The address clients reach an instance on: loopback, or the public address (a real one if 0.0.0.0). */
export function endpointAddress(rec: Pick<InstanceRecord, 'publiclyAccessible'>, config: Pick<CellarConfig, 'publicAddress'>): string {
  if (!rec.publiclyAccessible) return '127.0.0.1';
  const pub = config.publicAddress;
  if (pub !== '0.0.0.0' && pub !== '::') return pub;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function listenAddress(rec: Pick<InstanceRecord, 'publiclyAccessible'>, config: Pick<CellarConfig, 'publicAddress'>): string {
  return rec.publiclyAccessible ? config.publicAddress : '127.0.0.1';
}

export function toDBInstance(
  rec: InstanceRecord,
  opts: { config: Pick<CellarConfig, 'publicAddress'>; subnetGroup: SubnetGroupRecord | undefined; parameterApplyStatus: string },
): api.DBInstance {
  const pending: api.PendingModifiedValues = {};
  const p = rec.status === 'modifying' && rec.applying ? { ...rec.pending, ...rec.applying } : rec.pending;
  if (p.DBInstanceClass) pending.DBInstanceClass = p.DBInstanceClass;
  if (p.AllocatedStorage) pending.AllocatedStorage = p.AllocatedStorage;
  if (p.MasterUserPasswordSealed) pending.MasterUserPassword = '****';
  if (p.Port) pending.Port = p.Port;
  // RDS leaves Endpoint out while an instance is being created (the address is not assigned yet).
  const endpoint = rec.status === 'creating' ? undefined : { Address: endpointAddress(rec, opts.config), Port: rec.port, HostedZoneId: 'Z2R2ITUGPM61AM' };
  const sg = opts.subnetGroup;
  return {
    DBInstanceIdentifier: rec.id,
    DBInstanceClass: rec.instanceClass,
    Engine: rec.engine,
    DBInstanceStatus: rec.status,
    MasterUsername: rec.masterUsername,
    DBName: rec.dbName,
    Endpoint: endpoint,
    AllocatedStorage: rec.allocatedStorageGiB,
    InstanceCreateTime: rec.status === 'creating' ? undefined : new Date(rec.createdAtMs),
    PreferredBackupWindow: rec.preferredBackupWindow,
    BackupRetentionPeriod: rec.backupRetentionPeriod,
    DBSecurityGroups: [],
    VpcSecurityGroups: rec.vpcSecurityGroupIds.map((id) => ({ VpcSecurityGroupId: id, Status: 'active' })),
    DBParameterGroups: [{ DBParameterGroupName: rec.parameterGroupName, ParameterApplyStatus: opts.parameterApplyStatus }],
    AvailabilityZone: rec.availabilityZone,
    DBSubnetGroup: sg ? toDBSubnetGroup(sg, rec.accountId, rec.region) : undefined,
    PreferredMaintenanceWindow: rec.preferredMaintenanceWindow,
    PendingModifiedValues: pending,
    MultiAZ: false,
    EngineVersion: rec.engineVersion,
    AutoMinorVersionUpgrade: rec.autoMinorVersionUpgrade,
    ReadReplicaDBInstanceIdentifiers: [],
    LicenseModel: rec.licenseModel,
    OptionGroupMemberships: [{ OptionGroupName: rec.optionGroupName, Status: 'in-sync' }],
    PubliclyAccessible: rec.publiclyAccessible,
    StorageType: 'gp2',
    DbInstancePort: 0,
    StorageEncrypted: rec.storageEncrypted,
    KmsKeyId: rec.kmsKeyId,
    DbiResourceId: rec.dbiResourceId,
    CACertificateIdentifier: CA_CERTIFICATE_IDENTIFIER,
    CertificateDetails: rec.tlsValidTillMs !== undefined ? { CAIdentifier: CA_CERTIFICATE_IDENTIFIER, ValidTill: new Date(rec.tlsValidTillMs) } : undefined,
    CopyTagsToSnapshot: rec.copyTagsToSnapshot,
    MonitoringInterval: 0,
    DBInstanceArn: instanceArn(rec),
    IAMDatabaseAuthenticationEnabled: false,
    PerformanceInsightsEnabled: false,
    DeletionProtection: rec.deletionProtection,
    AssociatedRoles: [],
    TagList: rec.tags,
    CustomerOwnedIpEnabled: false,
    NetworkType: 'IPV4',
    BackupTarget: 'region',
    ActivityStreamStatus: 'stopped',
    AutomaticRestartTime: rec.status === 'stopped' && rec.stoppedAtMs !== undefined ? new Date(rec.stoppedAtMs + STOPPED_LIMIT_MS) : undefined,
    MasterUserSecret: rec.masterUserSecret
      ? { SecretArn: rec.masterUserSecret.secretArn, SecretStatus: rec.masterUserSecret.status, KmsKeyId: rec.masterUserSecret.kmsKeyId }
      : undefined,
    DedicatedLogVolume: false,
    MultiTenant: false,
    EngineLifecycleSupport: 'open-source-rds-extended-support-disabled',
  };
}

/** RDS starts a stopped instance again after seven days. */
export const STOPPED_LIMIT_MS = 7 * 86_400_000;

export function toDBSubnetGroup(sg: SubnetGroupRecord, accountId: string, region: string): api.DBSubnetGroup {
  return {
    DBSubnetGroupName: sg.name,
    DBSubnetGroupDescription: sg.description,
    VpcId: sg.vpcId || defaultVpcId(accountId, region),
    SubnetGroupStatus: 'Complete',
    Subnets: sg.subnets.map((s) => ({ SubnetIdentifier: s.id, SubnetAvailabilityZone: { Name: s.az }, SubnetOutpost: {}, SubnetStatus: 'Active' })),
    DBSubnetGroupArn: `arn:aws:rds:${region}:${accountId}:subgrp:${sg.name}`,
    SupportedNetworkTypes: ['IPV4'],
  };
}

export function toDBParameterGroup(pg: ParameterGroupRecord, accountId: string, region: string): api.DBParameterGroup {
  return { DBParameterGroupName: pg.name, DBParameterGroupFamily: pg.family, Description: pg.description, DBParameterGroupArn: `arn:aws:rds:${region}:${accountId}:pg:${pg.name}` };
}

export function toOptionGroup(og: OptionGroupRecord, accountId: string, region: string): api.OptionGroup {
  return {
    OptionGroupName: og.name,
    OptionGroupDescription: og.description,
    EngineName: og.engineName,
    MajorEngineVersion: og.majorEngineVersion,
    Options: [],
    AllowsVpcAndNonVpcInstanceMemberships: true,
    OptionGroupArn: `arn:aws:rds:${region}:${accountId}:og:${og.name}`,
  };
}

export function toEvent(ev: EventRecord): api.Event {
  return { SourceIdentifier: ev.sourceId, SourceType: ev.sourceType, Message: ev.message, EventCategories: ev.categories, Date: new Date(ev.dateMs), SourceArn: ev.sourceArn };
}

export function toDBSnapshot(s: SnapshotRecord, accountId: string, region: string): api.DBSnapshot {
  return {
    DBSnapshotIdentifier: s.id,
    DBInstanceIdentifier: s.instanceId,
    SnapshotCreateTime: new Date(s.createdAtMs),
    Engine: s.engine,
    AllocatedStorage: s.allocatedStorageGiB,
    Status: 'available',
    Port: s.port,
    AvailabilityZone: s.availabilityZone,
    VpcId: defaultVpcId(accountId, region),
    MasterUsername: s.masterUsername,
    EngineVersion: s.engineVersion,
    SnapshotType: 'manual',
    PercentProgress: 100,
    StorageType: 'gp2',
    Encrypted: s.kmsKeyId !== undefined,
    ...(s.kmsKeyId ? { KmsKeyId: s.kmsKeyId } : {}),
    DBSnapshotArn: `arn:aws:rds:${region}:${accountId}:snapshot:${s.id}`,
    TagList: s.tags,
  };
}

// ---- pagination and filters ------------------------------------------------------------------------

export function checkMaxRecords(maxRecords: number | undefined): number {
  if (maxRecords === undefined) return MAX_RECORDS_DEFAULT;
  if (maxRecords < 20 || maxRecords > 100) throw invalidParameterValue(`Invalid value ${maxRecords} for MaxRecords. Must be between 20 and 100`);
  return maxRecords;
}

/**
 * One page of items (already in a stable order, each with a unique sort key) after the marker.
 * The marker is the base64url of the last key returned, so a page stays correct when items are
 * added or removed between calls.
 */
export function paginate<T>(items: T[], keyOf: (t: T) => string, maxRecords: number | undefined, marker: string | undefined): { page: T[]; marker?: string } {
  const limit = checkMaxRecords(maxRecords);
  let after: string | undefined;
  if (marker) {
    try {
      after = Buffer.from(marker, 'base64url').toString('utf8');
    } catch {
      throw invalidParameterValue('Invalid Marker');
    }
  }
  const start = after === undefined ? items : items.filter((t) => keyOf(t) > after!);
  const page = start.slice(0, limit);
  return start.length > limit ? { page, marker: Buffer.from(keyOf(page[page.length - 1]!), 'utf8').toString('base64url') } : { page };
}

/** Validates filter names against the operation's list, as RDS refuses unknown ones. */
export function filterValues(filters: api.Filter[] | undefined, allowed: readonly string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const f of filters ?? []) {
    if (!allowed.includes(f.Name)) throw invalidParameterValue(`Unrecognized filter name: ${f.Name}.`);
    out.set(f.Name, new Set(f.Values));
  }
  return out;
}
