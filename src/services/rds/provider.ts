/**
 * @module services/rds/provider
 * RDS: DB instances managed as RDS manages them, backed by real engines (PostgreSQL, MariaDB; `mysql`
 * is served by MariaDB), plus the resources around them (parameter groups, subnet groups, option
 * groups, snapshots taken at deletion, events, tags).
 *
 * Every write persists the desired state only (the spec fields and `desired`, bumping its generation) before it
 * answers, then asks the supervisor to reconcile in the background. The status it answers is derived from desired
 * and observed by the runtime's transition table (status.ts `settle`), never set here. The API never waits for an
 * engine: CreateDBInstance answers `creating` at once.
 */
import { parseArn, PARTITION, Scope } from '../../core/scope.js';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import type { CellarConfig } from '../../config.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import type * as api from '../../models/rds.js';
import {
  classMemoryBytes,
  ENGINE_KIND,
  engineVersions,
  INSTANCE_CLASSES,
  instanceClass,
  resolveEngineVersion,
  STORAGE_LIMITS_GIB,
  type EngineVersionInfo,
  type RdsEngine,
} from './catalog.js';
import {
  checkMaxRecords,
  filterValues,
  listenAddress,
  paginate,
  toDBInstance,
  toDBParameterGroup,
  toDBSnapshot,
  toDBSubnetGroup,
  toEvent,
  toOptionGroup,
} from './describe.js';
import {
  blankParameter,
  dbInstanceAlreadyExists,
  dbInstanceNotFound,
  dbParameterGroupAlreadyExists,
  dbParameterGroupNotFound,
  dbSecurityGroupNotFound,
  dbSnapshotAlreadyExists,
  dbSubnetGroupAlreadyExists,
  dbSubnetGroupNotFound,
  invalidDBInstanceState,
  invalidDBParameterGroupState,
  invalidDBSubnetGroupState,
  invalidOptionGroupState,
  invalidParameterCombination,
  invalidParameterValue,
  kmsKeyNotAccessible,
  optionGroupAlreadyExists,
  optionGroupNotFound,
} from './errors.js';
import type { KmsInternal } from '../kms/internal.js';
import { generateMasterPassword, type MasterSecrets } from './master-secret.js';
import { availabilityZones, defaultSecurityGroupId, defaultSubnets, defaultVpcId, SECURITY_GROUP_ID, SUBNET_ID, subnetAz } from './network.js';
import { checkValue, parameterDef, parameterDefs, type FormulaVars } from './parameters.js';
import { initialState } from '../../runtime/transitions.js';
import {
  portKey,
  scopeKey,
  SEAL_AAD,
  type InstanceRecord,
  type OptionGroupRecord,
  type ParameterGroupRecord,
  type RdsTables,
  type SubnetGroupRecord,
  type Tag,
} from './records.js';
import { instanceSettings, sameSettings } from './settings.js';
import { InstanceEvents, instanceArn } from './status.js';
import type { BackupApi, RestoredFrom } from './backups/api.js';
import { BACKUP_CATEGORIES } from './backups/events.js';
import { checkRetention, checkWindowsApart, defaultBackupWindow, parseBackupWindow } from './backups/validation.js';
import type { BackupWorker } from './backups/worker.js';
import type { RdsLogs } from './logs.js';
import {
  checkAllocatedStorage,
  checkDBName,
  checkIdentifier,
  checkMasterPassword,
  checkMasterUsername,
  checkPort,
  checkTags,
  parseMaintenanceWindow,
} from './validation.js';

/** What the provider asks of the background side (supervisor.ts). */
export interface ReconcileTrigger {
  kick(scope: Scope, id: string): void;
}

export interface RdsProviderOptions {
  tables: RdsTables;
  events: InstanceEvents;
  box: SecretBox;
  config: CellarConfig;
  /** Where engine data directories live. */
  engineRoot: string;
  memoryScale: number;
  installed: () => Array<{ kind: 'postgres' | 'mariadb'; version: string; major: string }>;
  trigger: ReconcileTrigger;
  /** ManageMasterUserPassword through Secrets Manager (absent: the parameter is refused). */
  secrets?: MasterSecrets;
  /** Lowest port Cellar hands out when the caller names none and the engine's default is taken. */
  portRangeStart?: number;
  /** KMS in-process: StorageEncrypted's key is resolved and checked there (absent: Cellar serves no KMS). */
  kms?: KmsInternal;
  /** Snapshots, automated backups and restores (./backups/). */
  backups: BackupApi;
  /** The engines' log files (./logs.ts). */
  logs: RdsLogs;
  backupWorker: BackupWorker;
}

const RDS_ENGINES: readonly RdsEngine[] = ['postgres', 'mariadb', 'mysql'];
const PARAMETER_GROUP_NAME_MAX = 255;
const MODIFY_PARAMETERS_MAX = 20;
const DEFAULT_MAINTENANCE_WINDOW = 'sun:05:00-sun:05:30';
const PORT_PROBE_TIMEOUT_MS = 1000;
const DEFAULT_STORAGE_KMS_KEY = 'alias/aws/rds';

const MANAGED_AND_PASSWORD = "You can't specify MasterUserPassword when ManageMasterUserPassword is turned on: RDS generates the password and stores it in AWS Secrets Manager.";
const KMS_KEY_WITHOUT_MANAGE = 'You can specify MasterUserSecretKmsKeyId only when ManageMasterUserPassword is turned on.';

export class RdsProvider implements Partial<api.RDSApi> {
  private readonly t: RdsTables;
  private readonly ev: InstanceEvents;

  constructor(private readonly o: RdsProviderOptions) {
    this.t = o.tables;
    this.ev = o.events;
  }

  private versions(): EngineVersionInfo[] {
    return engineVersions(this.o.installed());
  }

  // ---- DB instances ----------------------------------------------------------------------------------

  /** Also the create path of restores (`restored`): the new instance's data then comes from a backup. */
  async createDBInstance(input: api.CreateDBInstanceMessage, ctx: RequestContext, restored?: RestoredFrom): Promise<api.CreateDBInstanceResult> {
    const id = checkIdentifier('DBInstanceIdentifier', input.DBInstanceIdentifier);
    const engine = this.checkEngine(input.Engine);
    const version = resolveEngineVersion(this.versions(), engine, input.EngineVersion);
    if (!version) {
      if (input.EngineVersion === undefined) throw invalidParameterCombination(`Cellar has no ${engine} server installed`);
      throw invalidParameterCombination(`Cannot find version ${input.EngineVersion} for ${engine}`);
    }
    this.checkOrderable(input.DBInstanceClass, version);
    if (input.DBClusterIdentifier) throw invalidParameterCombination('Cellar does not serve DB clusters: create a DB instance without DBClusterIdentifier');
    if (input.MultiAZ) throw invalidParameterCombination('Cellar does not serve Multi-AZ DB instances yet: create the instance with MultiAZ=false');
    const storage = checkAllocatedStorage(input.AllocatedStorage);
    const masterUsername = checkMasterUsername(engine, input.MasterUsername);
    const manage = input.ManageMasterUserPassword ?? false;
    if (manage && input.MasterUserPassword !== undefined) throw invalidParameterCombination(MANAGED_AND_PASSWORD);
    if (!manage && input.MasterUserSecretKmsKeyId !== undefined) throw invalidParameterCombination(KMS_KEY_WITHOUT_MANAGE);
    const secrets = manage ? this.secretsOrRefuse() : undefined;
    // A restored instance keeps the backup's master password (its data carries it), sealed as the source's was.
    const password = restored ? '' : manage ? generateMasterPassword() : checkMasterPassword(engine, input.MasterUserPassword);
    const secretKmsArn = secrets ? secrets.resolveKmsKey(ctx, input.MasterUserSecretKmsKeyId) : undefined;
    const dbName = checkDBName(engine, input.DBName);
    const port = checkPort(input.Port);
    const tags = checkTags(input.Tags);
    if (input.PreferredMaintenanceWindow) parseMaintenanceWindow(input.PreferredMaintenanceWindow);
    checkRetention(input.BackupRetentionPeriod);
    if (input.PreferredBackupWindow !== undefined) {
      parseBackupWindow(input.PreferredBackupWindow);
      checkWindowsApart(input.PreferredBackupWindow, input.PreferredMaintenanceWindow ?? DEFAULT_MAINTENANCE_WINDOW);
    }
    const pg = this.resolveParameterGroup(ctx, input.DBParameterGroupName, version.family);
    const og = this.resolveOptionGroup(ctx, input.OptionGroupName, engine, version.major);
    const subnetGroup = this.resolveSubnetGroup(ctx, input.DBSubnetGroupName);
    const az = input.AvailabilityZone ?? subnetGroup.subnets[0]?.az ?? availabilityZones(ctx.scope.region)[0]!;
    if (!subnetGroup.subnets.some((s) => s.az === az)) {
      throw invalidParameterCombination(`Cannot create a DB instance in availability zone ${az}: DB subnet group ${subnetGroup.name} has no subnet there.`);
    }
    const sgIds = input.VpcSecurityGroupIds?.length ? input.VpcSecurityGroupIds : [defaultSecurityGroupId(ctx.scope.accountId, ctx.scope.region)];
    for (const sg of sgIds) if (!SECURITY_GROUP_ID.test(sg)) throw invalidParameterValue(`Invalid security group , groupId= ${sg}, groupName=.`);
    if (input.KmsKeyId && !input.StorageEncrypted) throw invalidParameterCombination('Encryption must be enabled when specifying a KMS key (StorageEncrypted).');
    // A restored instance is encrypted under its backup's key, already resolved when the backup was made.
    const storageKmsKeyArn = restored ? restored.source.kmsKeyId : input.StorageEncrypted ? this.storageKey(ctx, input.KmsKeyId) : undefined;

    const key = scopeKey(ctx.scope, id);
    const now = ctx.clock.now();
    const dbiResourceId = `db-${randomBytes(16).toString('base64').replace(/[^A-Za-z0-9]/g, '').toUpperCase().slice(0, 26).padEnd(26, 'Q')}`;
    if (this.t.instances.get(key)) throw dbInstanceAlreadyExists();
    const allocated = await this.allocatePort(port, version.defaultPort);
    // The secret exists before the instance does (RDS reports it with the `creating` instance); if the instance
    // record cannot be committed after all, the secret goes again, so a refused create leaves nothing behind.
    const masterUserSecret = secrets ? await secrets.create({ accountId: ctx.scope.accountId, region: ctx.scope.region, id, masterUsername }, password, secretKmsArn!, input.MasterUserSecretKmsKeyId) : undefined;
    try {
      return this.commitCreate(ctx, input, { key, id, engine, version, storage, masterUsername, password, dbName, allocated, pg, og, subnetGroup, az, sgIds, tags, now, dbiResourceId, masterUserSecret, storageKmsKeyArn, restored });
    } catch (e) {
      if (secrets && masterUserSecret) secrets.delete(ctx.scope, masterUserSecret.secretArn);
      throw e;
    }
  }

  private commitCreate(
    ctx: RequestContext,
    input: api.CreateDBInstanceMessage,
    v: {
      key: string;
      id: string;
      engine: RdsEngine;
      version: EngineVersionInfo;
      storage: number;
      masterUsername: string;
      password: string;
      dbName: string | undefined;
      allocated: number;
      pg: ParameterGroupRecord;
      og: OptionGroupRecord;
      subnetGroup: SubnetGroupRecord;
      az: string;
      sgIds: string[];
      tags: Tag[];
      now: number;
      dbiResourceId: string;
      masterUserSecret: InstanceRecord['masterUserSecret'];
      storageKmsKeyArn: string | undefined;
      restored: RestoredFrom | undefined;
    },
  ): api.CreateDBInstanceResult {
    const { key, id, engine, version, storage, masterUsername, password, dbName, allocated, pg, og, subnetGroup, az, sgIds, tags, now, dbiResourceId, masterUserSecret, storageKmsKeyArn, restored } = v;
    const maintenanceWindow = (input.PreferredMaintenanceWindow ?? DEFAULT_MAINTENANCE_WINDOW).toLowerCase();
    // Everything below is synchronous: the existence check, the port claim and the record commit
    // together, so two concurrent creates can neither share an identifier nor a port.
    return this.t.store.transaction(() => {
      if (this.t.instances.get(key)) throw dbInstanceAlreadyExists();
      const portOwner = this.t.ports.get(portKey(allocated));
      if (portOwner) throw invalidParameterValue(`Port ${allocated} is already used by DB instance ${portOwner.instanceId} on this Cellar host.`);
      const dataDir = join(this.o.engineRoot, ctx.scope.accountId, ctx.scope.region, `${id}-${dbiResourceId.slice(3, 11).toLowerCase()}`);
      const publiclyAccessible = input.PubliclyAccessible ?? false;
      const rec: InstanceRecord = {
        id,
        accountId: ctx.scope.accountId,
        region: ctx.scope.region,
        engine,
        engineKind: ENGINE_KIND[engine],
        engineVersion: version.version,
        family: version.family,
        licenseModel: version.licenseModel,
        instanceClass: input.DBInstanceClass,
        allocatedStorageGiB: storage,
        masterUsername,
        masterPasswordSealed: restored ? restored.source.masterPasswordSealed : this.o.box.sealString(password, SEAL_AAD),
        ...(masterUserSecret ? { masterUserSecret } : {}),
        dbName,
        port: allocated,
        parameterGroupName: pg.name,
        optionGroupName: og.name,
        vpcSecurityGroupIds: sgIds,
        subnetGroupName: subnetGroup.name,
        availabilityZone: az,
        publiclyAccessible,
        storageEncrypted: input.StorageEncrypted ?? false,
        kmsKeyId: storageKmsKeyArn,
        deletionProtection: input.DeletionProtection ?? false,
        backupRetentionPeriod: input.BackupRetentionPeriod ?? 1,
        preferredBackupWindow: input.PreferredBackupWindow ?? defaultBackupWindow(dbiResourceId, maintenanceWindow),
        preferredMaintenanceWindow: maintenanceWindow,
        autoMinorVersionUpgrade: input.AutoMinorVersionUpgrade ?? true,
        copyTagsToSnapshot: input.CopyTagsToSnapshot ?? false,
        tags,
        createdAtMs: now,
        dbiResourceId,
        status: 'creating',
        statusSinceMs: now,
        pending: {},
        dataDir,
        members: [{ role: 'primary', availabilityZone: az, host: listenAddress({ publiclyAccessible }, this.o.config), dataDir, port: allocated }],
        ...initialState(),
        lastMaintenanceCheckMs: now,
        ...(restored ? { restore: restored.restore } : {}),
      };
      this.t.instances.put(key, rec);
      this.t.ports.put(portKey(allocated), { accountId: ctx.scope.accountId, region: ctx.scope.region, instanceId: id });
      this.o.trigger.kick(ctx.scope, id);
      return { DBInstance: this.describeOne(rec) };
    });
  }

  describeDBInstances(input: api.DescribeDBInstancesMessage, ctx: RequestContext): api.DBInstanceMessage {
    const filters = filterValues(input.Filters, ['db-instance-id', 'engine', 'dbi-resource-id', 'db-cluster-id', 'domain']);
    checkMaxRecords(input.MaxRecords);
    let recs = [...this.t.instances.list(scopeKey(ctx.scope))].map(([, r]) => r);
    if (input.DBInstanceIdentifier !== undefined) {
      const id = this.idFromArnOrName(ctx, input.DBInstanceIdentifier, 'db');
      recs = recs.filter((r) => r.id === id);
      if (!recs.length) throw dbInstanceNotFound(input.DBInstanceIdentifier);
    }
    const ids = filters.get('db-instance-id');
    if (ids) recs = recs.filter((r) => ids.has(r.id) || ids.has(instanceArn(r)));
    const engines = filters.get('engine');
    if (engines) recs = recs.filter((r) => engines.has(r.engine));
    const dbi = filters.get('dbi-resource-id');
    if (dbi) recs = recs.filter((r) => dbi.has(r.dbiResourceId));
    if (filters.get('db-cluster-id') || filters.get('domain')) recs = [];
    const { page, marker } = paginate(recs, (r) => r.id, input.MaxRecords, input.Marker);
    return { DBInstances: page.map((r) => this.describeOne(r)), Marker: marker };
  }

  async modifyDBInstance(input: api.ModifyDBInstanceMessage, ctx: RequestContext): Promise<api.ModifyDBInstanceResult> {
    const rec = this.instance(ctx, input.DBInstanceIdentifier);
    if (rec.status !== 'available' && rec.status !== 'storage-full') throw invalidDBInstanceState('Database instance is not in available state.');
    const versions = this.versions();
    const version = versions.find((v) => v.engine === rec.engine && v.version === rec.engineVersion);
    if (input.NewDBInstanceIdentifier !== undefined && input.NewDBInstanceIdentifier.toLowerCase() !== rec.id) {
      throw invalidParameterCombination('Cellar does not rename DB instances (NewDBInstanceIdentifier) yet.');
    }
    if (input.EngineVersion !== undefined && input.EngineVersion !== rec.engineVersion) {
      throw invalidParameterCombination(`Cannot upgrade ${rec.engine} from ${rec.engineVersion} to ${input.EngineVersion}`);
    }
    if (input.MultiAZ) throw invalidParameterCombination('Cellar does not serve Multi-AZ DB instances yet.');
    const managed = rec.masterUserSecret !== undefined;
    const manage = input.ManageMasterUserPassword;
    if (manage === true && input.MasterUserPassword !== undefined) throw invalidParameterCombination(MANAGED_AND_PASSWORD);
    if (input.MasterUserSecretKmsKeyId !== undefined && manage !== true) throw invalidParameterCombination(KMS_KEY_WITHOUT_MANAGE);
    if (manage === false && managed && input.MasterUserPassword === undefined) {
      throw invalidParameterCombination('You must specify MasterUserPassword when you turn off ManageMasterUserPassword for a DB instance that manages the master user password with AWS Secrets Manager.');
    }
    if (manage === undefined && managed && input.MasterUserPassword !== undefined) {
      throw invalidParameterCombination("You can't specify MasterUserPassword for a DB instance that manages the master user password with AWS Secrets Manager. Turn off ManageMasterUserPassword to set a password.");
    }
    if (input.RotateMasterUserPassword) {
      if (!managed || manage === false) throw invalidParameterCombination("You can't rotate the master user password of a DB instance that doesn't manage it with AWS Secrets Manager.");
      if (!input.ApplyImmediately) throw invalidParameterCombination('You must specify ApplyImmediately when you rotate the master user password.');
    }
    const secrets = manage === true || input.RotateMasterUserPassword ? this.secretsOrRefuse() : undefined;
    const newSecretKmsArn = manage === true && (!managed || input.MasterUserSecretKmsKeyId !== undefined) ? secrets!.resolveKmsKey(ctx, input.MasterUserSecretKmsKeyId) : undefined;
    if (input.DBInstanceClass !== undefined && version) this.checkOrderable(input.DBInstanceClass, version);
    if (input.AllocatedStorage !== undefined) {
      checkAllocatedStorage(input.AllocatedStorage);
      if (input.AllocatedStorage < rec.allocatedStorageGiB) throw invalidParameterValue('Invalid storage size: you cannot decrease the allocated storage of a DB instance.');
      if (input.AllocatedStorage > rec.allocatedStorageGiB && input.AllocatedStorage < Math.ceil(rec.allocatedStorageGiB * 1.1)) {
        throw invalidParameterValue(`Invalid storage size: the new allocated storage must be at least 10 percent greater than the current ${rec.allocatedStorageGiB} GiB.`);
      }
    }
    const password = input.MasterUserPassword !== undefined ? checkMasterPassword(rec.engine, input.MasterUserPassword) : undefined;
    const port = checkPort(input.DBPortNumber);
    if (input.PreferredMaintenanceWindow) parseMaintenanceWindow(input.PreferredMaintenanceWindow);
    checkRetention(input.BackupRetentionPeriod);
    if (input.PreferredBackupWindow !== undefined) parseBackupWindow(input.PreferredBackupWindow);
    if (input.PreferredBackupWindow !== undefined || input.PreferredMaintenanceWindow !== undefined) {
      checkWindowsApart(input.PreferredBackupWindow ?? rec.preferredBackupWindow, input.PreferredMaintenanceWindow ?? rec.preferredMaintenanceWindow);
    }
    const pg = input.DBParameterGroupName !== undefined ? this.resolveParameterGroup(ctx, input.DBParameterGroupName, rec.family) : undefined;
    const og = input.OptionGroupName !== undefined ? this.resolveOptionGroup(ctx, input.OptionGroupName, rec.engine, version?.major ?? '') : undefined;
    if (input.VpcSecurityGroupIds) for (const sg of input.VpcSecurityGroupIds) if (!SECURITY_GROUP_ID.test(sg)) throw invalidParameterValue(`Invalid security group , groupId= ${sg}, groupName=.`);
    if (input.DBSubnetGroupName !== undefined && input.DBSubnetGroupName !== rec.subnetGroupName) {
      throw invalidParameterCombination('Cellar does not move DB instances between DB subnet groups yet.');
    }
    const newPort = port !== undefined && port !== rec.port ? await this.allocatePort(port, port) : undefined;

    // Secret work that can fail (KMS, Secrets Manager) happens before anything of the instance changes.
    let generated: string | undefined;
    let createdSecret: InstanceRecord['masterUserSecret'];
    if (manage === true && !managed) {
      generated = generateMasterPassword();
      createdSecret = await secrets!.create(rec, generated, newSecretKmsArn!, input.MasterUserSecretKmsKeyId);
    } else if (manage === true && managed && input.MasterUserSecretKmsKeyId !== undefined) {
      secrets!.changeKmsKey(rec, rec.masterUserSecret!.secretArn, input.MasterUserSecretKmsKeyId);
    }
    if (input.RotateMasterUserPassword) {
      try {
        secrets!.rotateNow(rec, rec.masterUserSecret!.secretArn);
      } catch (e) {
        if (e instanceof ServiceError) throw invalidDBInstanceState(`The master user password of DB instance ${rec.id} can't be rotated now: ${e.message}`);
        throw e;
      }
    }
    let droppedSecret: string | undefined;
    try {
      const result = this.commitModify(ctx, input, { newPort, pg, og, password: generated ?? password, createdSecret, newSecretKmsArn, onDropSecret: (arn) => (droppedSecret = arn) });
      // Turning management off deletes the secret, as RDS does; only once the instance no longer refers to it.
      if (droppedSecret) this.o.secrets?.delete(rec, droppedSecret);
      return result;
    } catch (e) {
      if (createdSecret) secrets!.delete(rec, createdSecret.secretArn);
      throw e;
    }
  }

  private commitModify(
    ctx: RequestContext,
    input: api.ModifyDBInstanceMessage,
    v: {
      newPort: number | undefined;
      pg: ParameterGroupRecord | undefined;
      og: OptionGroupRecord | undefined;
      password: string | undefined;
      createdSecret: InstanceRecord['masterUserSecret'];
      newSecretKmsArn: string | undefined;
      onDropSecret: (arn: string) => void;
    },
  ): api.ModifyDBInstanceResult {
    const { newPort, pg, og, password } = v;
    const now = ctx.clock.now();
    const key = scopeKey(ctx.scope, this.idFromArnOrName(ctx, input.DBInstanceIdentifier, 'db'));
    return this.t.store.transaction(() => {
      const cur = this.t.instances.get(key);
      if (!cur || (cur.status !== 'available' && cur.status !== 'storage-full')) throw invalidDBInstanceState('Database instance is not in available state.');
      if (newPort !== undefined) {
        const owner = this.t.ports.get(portKey(newPort));
        if (owner && owner.instanceId !== cur.id) throw invalidParameterValue(`Port ${newPort} is already used by DB instance ${owner.instanceId} on this Cellar host.`);
      }
      // Settings that take effect at once, whatever ApplyImmediately says (as on RDS).
      if (input.DeletionProtection !== undefined) cur.deletionProtection = input.DeletionProtection;
      if (input.BackupRetentionPeriod !== undefined) cur.backupRetentionPeriod = input.BackupRetentionPeriod;
      if (input.PreferredBackupWindow !== undefined) cur.preferredBackupWindow = input.PreferredBackupWindow;
      if (input.PreferredMaintenanceWindow !== undefined) cur.preferredMaintenanceWindow = input.PreferredMaintenanceWindow.toLowerCase();
      if (input.AutoMinorVersionUpgrade !== undefined) cur.autoMinorVersionUpgrade = input.AutoMinorVersionUpgrade;
      if (input.CopyTagsToSnapshot !== undefined) cur.copyTagsToSnapshot = input.CopyTagsToSnapshot;
      if (input.VpcSecurityGroupIds?.length) cur.vpcSecurityGroupIds = input.VpcSecurityGroupIds;
      if (og) cur.optionGroupName = og.name;
      if (pg && pg.name !== cur.parameterGroupName) {
        cur.parameterGroupName = pg.name;
        // RDS applies a newly associated group at the next reboot; until then it reports pending-reboot.
        cur.startedWithStatic = undefined;
        this.ev.emitInstance(cur, 'parameterGroupChanged', now, pg.name);
      }
      let restartNow = false;
      if (input.PubliclyAccessible !== undefined && input.PubliclyAccessible !== cur.publiclyAccessible) {
        cur.publiclyAccessible = input.PubliclyAccessible;
        for (const m of cur.members) m.host = listenAddress(cur, this.o.config);
        restartNow = true;
      }
      if (newPort !== undefined) {
        // RDS changes the port at once, with a restart, whatever ApplyImmediately says.
        this.t.ports.delete(portKey(cur.port));
        this.t.ports.put(portKey(newPort), { accountId: cur.accountId, region: cur.region, instanceId: cur.id });
        cur.port = newPort;
        for (const m of cur.members) m.port = newPort;
        restartNow = true;
        this.ev.emitInstance(cur, 'portChanged', now, String(newPort));
      }
      const changes: InstanceRecord['pending'] = {};
      if (input.DBInstanceClass !== undefined && input.DBInstanceClass !== cur.instanceClass) changes.DBInstanceClass = input.DBInstanceClass;
      if (input.AllocatedStorage !== undefined && input.AllocatedStorage !== cur.allocatedStorageGiB) changes.AllocatedStorage = input.AllocatedStorage;
      const applyNow = input.ApplyImmediately ?? false;
      if (applyNow) {
        const applying = { ...cur.pending, ...changes };
        cur.pending = {};
        if (applying.DBInstanceClass || applying.AllocatedStorage || restartNow) cur.applying = applying;
      } else {
        cur.pending = { ...cur.pending, ...changes };
        if (restartNow) cur.applying = {};
      }
      if (v.createdSecret) cur.masterUserSecret = v.createdSecret;
      else if (cur.masterUserSecret && v.newSecretKmsArn) cur.masterUserSecret.kmsKeyId = v.newSecretKmsArn;
      if (input.ManageMasterUserPassword === false && cur.masterUserSecret) {
        v.onDropSecret(cur.masterUserSecret.secretArn);
        cur.masterUserSecret = undefined;
      }
      if (password !== undefined) {
        // The master password is always changed at once; it shows as pending until the engine has it.
        cur.pending.MasterUserPasswordSealed = this.o.box.sealString(password, SEAL_AAD);
      }
      cur.desired.generation++;
      this.ev.settle(cur, now);
      this.t.instances.put(key, cur);
      this.o.trigger.kick(Scope.ofRecord(cur), cur.id);
      return { DBInstance: this.describeOne(cur) };
    });
  }

  rebootDBInstance(input: api.RebootDBInstanceMessage, ctx: RequestContext): api.RebootDBInstanceResult {
    if (input.ForceFailover) throw invalidParameterCombination('ForceFailover can only be specified for a Multi-AZ DB instance.');
    return this.mutate(ctx, input.DBInstanceIdentifier, (rec) => {
      if (!['available', 'storage-full', 'failed'].includes(rec.status)) throw invalidDBInstanceState('Database instance is not in available state.');
      // A reboot of a failed instance (even one whose deletion failed) asks for it running again.
      rec.desired.rebootGeneration++;
      rec.desired.running = true;
      rec.desired.deleted = false;
    });
  }

  stopDBInstance(input: api.StopDBInstanceMessage, ctx: RequestContext): api.StopDBInstanceResult {
    if (input.DBSnapshotIdentifier) throw invalidParameterCombination('Cellar does not take snapshots when stopping a DB instance yet: omit DBSnapshotIdentifier.');
    return this.mutate(ctx, input.DBInstanceIdentifier, (rec) => {
      if (rec.status !== 'available' && rec.status !== 'storage-full') throw invalidDBInstanceState(`Instance ${rec.id} is not in available state.`);
      rec.desired.running = false;
    });
  }

  startDBInstance(input: api.StartDBInstanceMessage, ctx: RequestContext): api.StartDBInstanceResult {
    return this.mutate(ctx, input.DBInstanceIdentifier, (rec) => {
      if (rec.status !== 'stopped') throw invalidDBInstanceState(`Instance ${rec.id} is not stopped, it cannot be started.`);
      rec.desired.running = true;
    });
  }

  deleteDBInstance(input: api.DeleteDBInstanceMessage, ctx: RequestContext): api.DeleteDBInstanceResult {
    const skip = input.SkipFinalSnapshot ?? false;
    const finalId = input.FinalDBSnapshotIdentifier;
    // The identifier's syntax is a parameter check, made before the instance is looked up.
    const snapId = finalId ? checkIdentifier('FinalDBSnapshotIdentifier', finalId, 255) : undefined;
    return this.mutate(ctx, input.DBInstanceIdentifier, (rec) => {
      if (rec.status === 'deleting') throw invalidDBInstanceState(`Instance ${rec.id} is already being deleted.`);
      if (rec.deletionProtection) throw invalidParameterCombination('Cannot delete protected DB Instance, please disable deletion protection and try again.');
      if (!skip && !finalId) throw invalidParameterCombination('FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.');
      if (skip && finalId) throw invalidParameterCombination('FinalDBSnapshotIdentifier can not be specified when SkipFinalSnapshot is enabled.');
      // RDS deletes the automated backups with the instance unless asked to retain them.
      rec.retainAutomatedBackups = input.DeleteAutomatedBackups === false;
      if (snapId) {
        if (this.t.snapshots.get(scopeKey(ctx.scope, snapId))) throw dbSnapshotAlreadyExists(snapId);
        if (rec.status === 'creating' || rec.status === 'failed') throw invalidDBInstanceState(`Instance ${rec.id} is not in a state that allows a final snapshot (${rec.status}).`);
        rec.finalSnapshotId = snapId;
      } else delete rec.finalSnapshotId;
      rec.desired.deleted = true;
    });
  }

  /** Reads, checks and changes one instance atomically, then asks for a reconcile. */
  private mutate(ctx: RequestContext, idOrArn: string, fn: (rec: InstanceRecord) => void): { DBInstance: api.DBInstance } {
    return this.t.store.transaction(() => {
      const rec = this.instance(ctx, idOrArn);
      const now = ctx.clock.now();
      fn(rec);
      rec.desired.generation++;
      this.ev.settle(rec, now);
      this.t.instances.put(scopeKey(ctx.scope, rec.id), rec);
      this.o.trigger.kick(ctx.scope, rec.id);
      return { DBInstance: this.describeOne(rec) };
    });
  }

  private instance(ctx: RequestContext, idOrArn: string | undefined): InstanceRecord {
    if (!idOrArn) throw blankParameter('DBInstanceIdentifier');
    const id = this.idFromArnOrName(ctx, idOrArn, 'db');
    const rec = this.t.instances.get(scopeKey(ctx.scope, id));
    if (!rec) throw dbInstanceNotFound(idOrArn);
    return rec;
  }

  /**
   * The identifier a parameter names, as a name or as an ARN. An ARN must be an RDS ARN of this partition, of the
   * kind asked for, and of the caller's own account and region (core/scope.ts): another scope's resource is not
   * found here, as RDS answers (it has no resource policies that could share it).
   */
  private idFromArnOrName(ctx: RequestContext, value: string, kind: 'db' | 'pg' | 'snapshot' | 'subgrp' | 'og'): string {
    if (!value.startsWith('arn:')) return value.toLowerCase();
    const arn = parseArn(value);
    const sep = arn ? arn.resource.indexOf(':') : -1;
    if (!arn || arn.service !== 'rds' || sep < 0 || arn.resource.slice(0, sep) !== kind) throw invalidParameterValue(`Invalid resource name: ${value}`);
    // Another partition's, account's or region's resource is not found here (the tagging operations answer the same).
    if (!ctx.scope.owns(arn, 'rds')) throw notFoundOf(kind, value);
    return arn.resource.slice(sep + 1).toLowerCase();
  }

  describeOne(rec: InstanceRecord): api.DBInstance {
    const sg = this.t.subnetGroups.get(scopeKey(Scope.ofRecord(rec), rec.subnetGroupName)) ?? this.defaultSubnetGroup(rec.accountId, rec.region);
    const d = toDBInstance(rec, { config: this.o.config, subnetGroup: sg, parameterApplyStatus: this.parameterApplyStatus(rec) });
    const latest = this.o.backupWorker.latestRestorableMs(rec);
    if (latest !== undefined) d.LatestRestorableTime = new Date(latest);
    // The secret's status is Secrets Manager's to say (a rotation in progress, a deleted secret).
    if (d.MasterUserSecret && this.o.secrets) d.MasterUserSecret.SecretStatus = this.o.secrets.status(rec);
    return d;
  }

  /**
   * StorageEncrypted's key, as RDS resolves it: the key ARN of KmsKeyId (a key id, key ARN, alias name or alias ARN;
   * another account's key by its key ARN) or of the AWS managed key aws/rds (made on first use, as RDS makes it). The
   * caller must be allowed to use the key through RDS (DescribeKey and CreateGrant by the key policy or a grant);
   * a key that does not exist, is not enabled or may not be used is KMSKeyNotAccessibleFault, in RDS's words.
   */
  private storageKey(ctx: RequestContext, kmsKeyId: string | undefined): string | undefined {
    const keyId = kmsKeyId ?? DEFAULT_STORAGE_KMS_KEY;
    if (!this.o.kms) return kmsKeyId ?? ctx.scope.arn('kms', DEFAULT_STORAGE_KMS_KEY);
    try {
      return this.o.kms.resolveKeyArn(ctx, keyId, { viaService: `rds.${ctx.scope.region}.amazonaws.com` });
    } catch (e) {
      if (e instanceof ServiceError) throw kmsKeyNotAccessible(`The specified KMS key [${keyId}] does not exist, is not enabled or you do not have permissions to access it.`);
      throw e;
    }
  }

  private secretsOrRefuse(): MasterSecrets {
    if (!this.o.secrets) throw invalidParameterCombination('This Cellar serves RDS without Secrets Manager, so ManageMasterUserPassword is not available: set MasterUserPassword.');
    return this.o.secrets;
  }

  /** in-sync, or pending-reboot when the running engine was started with other static settings. */
  parameterApplyStatus(rec: InstanceRecord): string {
    if (rec.status === 'creating' || rec.status === 'stopped' || rec.status === 'stopping' || rec.status === 'starting') return 'in-sync';
    const group = this.t.parameterGroups.get(scopeKey(Scope.ofRecord(rec), rec.parameterGroupName));
    const want = instanceSettings(rec, group, this.o.memoryScale);
    if (!sameSettings(rec.startedWithStatic, want.staticValues)) return 'pending-reboot';
    if (!sameSettings(rec.appliedDynamic, want.dynamicValues)) return 'applying';
    return 'in-sync';
  }

  private checkEngine(engine: string | undefined): RdsEngine {
    if (!engine) throw blankParameter('Engine');
    const e = engine.toLowerCase();
    if (!(RDS_ENGINES as readonly string[]).includes(e)) throw invalidParameterValue('Invalid DB engine');
    return e as RdsEngine;
  }

  private checkOrderable(cls: string | undefined, version: EngineVersionInfo): void {
    if (!cls) throw blankParameter('DBInstanceClass');
    if (!instanceClass(cls)) {
      throw invalidParameterCombination(
        `RDS does not support creating a DB instance with the following combination: DBInstanceClass=${cls}, Engine=${version.engine}, EngineVersion=${version.version}, LicenseModel=${version.licenseModel}. For supported combinations of instance class and database engine version, see the documentation.`,
      );
    }
  }

  /**
   * A free port: the one asked for, else the engine's default if nothing holds it, else one the
   * operating system offers. Checked against Cellar's own allocations and by binding it briefly.
   */
  private async allocatePort(requested: number | undefined, defaultPort: number): Promise<number> {
    const taken = (p: number) => this.t.ports.get(portKey(p)) !== undefined;
    if (requested !== undefined) {
      if (taken(requested)) {
        const owner = this.t.ports.get(portKey(requested))!;
        throw invalidParameterValue(`Port ${requested} is already used by DB instance ${owner.instanceId} on this Cellar host.`);
      }
      if (!(await bindable(requested))) throw invalidParameterValue(`Port ${requested} is already in use on this host by another program.`);
      return requested;
    }
    if (!taken(defaultPort) && (await bindable(defaultPort))) return defaultPort;
    for (let attempt = 0; attempt < 20; attempt++) {
      const p = await osPort();
      if (p >= 1150 && !taken(p)) return p;
    }
    throw new ServiceError('InsufficientDBInstanceCapacity', 'Cellar could not find a free port for the DB instance.');
  }

  // ---- engine versions and orderable options ----------------------------------------------------------

  describeDBEngineVersions(input: api.DescribeDBEngineVersionsMessage): api.DBEngineVersionMessage {
    filterValues(input.Filters, ['engine', 'engine-version', 'engine-mode', 'status', 'db-parameter-group-family']);
    let list = this.versions();
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
    const versions = this.versions().filter((v) => v.engine === engine && (input.EngineVersion === undefined || v.version === input.EngineVersion || v.major === input.EngineVersion));
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

  // ---- parameter groups -----------------------------------------------------------------------------

  /** The group an instance names, or its family's default (created on first use, as RDS does). */
  private resolveParameterGroup(ctx: RequestContext, name: string | undefined, family: string): ParameterGroupRecord {
    if (name === undefined) return this.defaultParameterGroup(ctx.scope, family);
    const pg = this.parameterGroup(ctx, name);
    if (pg.family !== family) {
      throw invalidParameterCombination(`The parameter group ${pg.name} with DBParameterGroupFamily ${pg.family} can't be used for this instance. Use a parameter group with DBParameterGroupFamily ${family}.`);
    }
    return pg;
  }

  /**
   * A family's default group. RDS's defaults always exist and cannot be changed, so Cellar stores one only once it
   * is tagged (tagged()); reading one never writes, so no read, and no refused request, changes stored state.
   */
  private defaultParameterGroup(scope: Scope, family: string): ParameterGroupRecord {
    const name = `default.${family}`;
    return this.t.parameterGroups.get(scopeKey(scope, name)) ?? { name, family, description: `Default parameter group for ${family}`, values: {}, tags: [], isDefault: true };
  }

  private parameterGroup(ctx: RequestContext, name: string): ParameterGroupRecord {
    const n = name.toLowerCase();
    const m = /^default\.(.+)$/.exec(n);
    if (m && this.families().includes(m[1]!)) return this.defaultParameterGroup(ctx.scope, m[1]!);
    const pg = this.t.parameterGroups.get(scopeKey(ctx.scope, n));
    if (!pg) throw dbParameterGroupNotFound(name);
    return pg;
  }

  private families(): string[] {
    return [...new Set(this.versions().map((v) => v.family))];
  }

  private kindOfFamily(family: string): 'postgres' | 'mariadb' {
    return family.startsWith('postgres') ? 'postgres' : 'mariadb';
  }

  createDBParameterGroup(input: api.CreateDBParameterGroupMessage, ctx: RequestContext): api.CreateDBParameterGroupResult {
    const name = checkIdentifier('DBParameterGroupName', input.DBParameterGroupName, PARAMETER_GROUP_NAME_MAX);
    if (!input.Description) throw blankParameter('Description');
    if (!this.families().includes(input.DBParameterGroupFamily)) {
      throw invalidParameterValue(`ParameterGroupFamily ${input.DBParameterGroupFamily} is not a valid parameter group family`);
    }
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.parameterGroups.get(key) || name.startsWith('default.')) throw dbParameterGroupAlreadyExists(name);
      const pg: ParameterGroupRecord = { name, family: input.DBParameterGroupFamily, description: input.Description, values: {}, tags, isDefault: false };
      this.t.parameterGroups.put(key, pg);
      return { DBParameterGroup: toDBParameterGroup(pg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  copyDBParameterGroup(input: api.CopyDBParameterGroupMessage, ctx: RequestContext): api.CopyDBParameterGroupResult {
    const source = this.parameterGroup(ctx, this.idFromArnOrName(ctx, input.SourceDBParameterGroupIdentifier, 'pg'));
    const name = checkIdentifier('TargetDBParameterGroupIdentifier', input.TargetDBParameterGroupIdentifier, PARAMETER_GROUP_NAME_MAX);
    if (!input.TargetDBParameterGroupDescription) throw blankParameter('TargetDBParameterGroupDescription');
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.parameterGroups.get(key) || name.startsWith('default.')) throw dbParameterGroupAlreadyExists(name);
      const pg: ParameterGroupRecord = { name, family: source.family, description: input.TargetDBParameterGroupDescription, values: { ...source.values }, tags, isDefault: false };
      this.t.parameterGroups.put(key, pg);
      return { DBParameterGroup: toDBParameterGroup(pg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  describeDBParameterGroups(input: api.DescribeDBParameterGroupsMessage, ctx: RequestContext): api.DBParameterGroupsMessage {
    filterValues(input.Filters, []);
    checkMaxRecords(input.MaxRecords);
    const stored = [...this.t.parameterGroups.list(scopeKey(ctx.scope))].map(([, g]) => g);
    const defaults = this.families().map((f) => this.defaultParameterGroup(ctx.scope, f)).filter((d) => !stored.some((g) => g.name === d.name));
    let groups = [...stored, ...defaults].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (input.DBParameterGroupName !== undefined) groups = [this.parameterGroup(ctx, this.idFromArnOrName(ctx, input.DBParameterGroupName, 'pg'))];
    const { page, marker } = paginate(groups, (g) => g.name, input.MaxRecords, input.Marker);
    return { DBParameterGroups: page.map((g) => toDBParameterGroup(g, ctx.scope.accountId, ctx.scope.region)), Marker: marker };
  }

  modifyDBParameterGroup(input: api.ModifyDBParameterGroupMessage, ctx: RequestContext): api.DBParameterGroupNameMessage {
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (pg.isDefault) throw invalidParameterValue('Cannot modify a default parameter group.');
    const params = input.Parameters ?? [];
    if (!params.length) throw blankParameter('Parameters');
    if (params.length > MODIFY_PARAMETERS_MAX) throw invalidParameterValue(`You can modify at most ${MODIFY_PARAMETERS_MAX} parameters in one request.`);
    const kind = this.kindOfFamily(pg.family);
    const updates: Record<string, string> = {};
    const contexts = this.formulaContexts();
    for (const p of params) {
      if (!p.ParameterName) throw blankParameter('ParameterName');
      const def = parameterDef(kind, p.ParameterName);
      if (!def) throw invalidParameterValue(`Could not find parameter with name: ${p.ParameterName}`);
      if (!def.modifiable) throw invalidParameterValue(`The parameter ${def.name} cannot be modified.`);
      if (p.ApplyMethod === undefined) throw invalidParameterValue(`The parameter ApplyMethod must be provided and must not be blank.`);
      if (def.applyType === 'static' && p.ApplyMethod === 'immediate') throw invalidParameterCombination('cannot use immediate apply method for static parameter');
      if (p.ParameterValue === undefined) throw invalidParameterValue(`The parameter ParameterValue for ${def.name} must be provided and must not be blank.`);
      const problem = checkValue(def, p.ParameterValue, contexts);
      if (problem) throw invalidParameterValue(problem);
      updates[def.name] = p.ParameterValue;
    }
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, pg.name);
      const cur = this.t.parameterGroups.get(key)!;
      cur.values = { ...cur.values, ...updates };
      this.t.parameterGroups.put(key, cur);
      this.kickMembers(ctx, cur.name);
      return { DBParameterGroupName: cur.name };
    });
  }

  resetDBParameterGroup(input: api.ResetDBParameterGroupMessage, ctx: RequestContext): api.DBParameterGroupNameMessage {
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (pg.isDefault) throw invalidParameterValue('Cannot modify a default parameter group.');
    const kind = this.kindOfFamily(pg.family);
    if (!input.ResetAllParameters && !input.Parameters?.length) throw invalidParameterCombination('Either ResetAllParameters or Parameters must be specified.');
    if (input.ResetAllParameters && input.Parameters?.length) throw invalidParameterCombination('ResetAllParameters and Parameters cannot both be specified.');
    const names = (input.Parameters ?? []).map((p) => {
      const def = p.ParameterName ? parameterDef(kind, p.ParameterName) : undefined;
      if (!def) throw invalidParameterValue(`Could not find parameter with name: ${p.ParameterName ?? ''}`);
      if (def.applyType === 'static' && p.ApplyMethod === 'immediate') throw invalidParameterCombination('cannot use immediate apply method for static parameter');
      return def.name;
    });
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, pg.name);
      const cur = this.t.parameterGroups.get(key)!;
      if (input.ResetAllParameters) cur.values = {};
      else for (const n of names) delete cur.values[n];
      this.t.parameterGroups.put(key, cur);
      this.kickMembers(ctx, cur.name);
      return { DBParameterGroupName: cur.name };
    });
  }

  deleteDBParameterGroup(input: api.DeleteDBParameterGroupMessage, ctx: RequestContext): void {
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (pg.isDefault) throw invalidParameterValue('Cannot delete a default parameter group.');
    this.t.store.transaction(() => {
      const users = this.members(ctx, (r) => r.parameterGroupName === pg.name);
      if (users.length) throw invalidDBParameterGroupState(`One or more database instances are still members of this parameter group ${pg.name}, so the group cannot be deleted`);
      this.t.parameterGroups.delete(scopeKey(ctx.scope, pg.name));
    });
  }

  describeDBParameters(input: api.DescribeDBParametersMessage, ctx: RequestContext): api.DBParameterGroupDetails {
    filterValues(input.Filters, []);
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (input.Source !== undefined && !['user', 'system', 'engine-default'].includes(input.Source)) {
      throw invalidParameterValue(`Invalid value for Source: ${input.Source}. Valid values are user, system, engine-default.`);
    }
    const params = this.parameterList(pg.family, pg.values).filter((p) => input.Source === undefined || p.Source === input.Source);
    const { page, marker } = paginate(params, (p) => p.ParameterName!, input.MaxRecords, input.Marker);
    return { Parameters: page, Marker: marker };
  }

  describeEngineDefaultParameters(input: api.DescribeEngineDefaultParametersMessage): api.DescribeEngineDefaultParametersResult {
    filterValues(input.Filters, []);
    if (!this.families().includes(input.DBParameterGroupFamily)) throw invalidParameterValue(`Invalid DB parameter group family: ${input.DBParameterGroupFamily}`);
    const params = this.parameterList(input.DBParameterGroupFamily, {});
    const { page, marker } = paginate(params, (p) => p.ParameterName!, input.MaxRecords, input.Marker);
    return { EngineDefaults: { DBParameterGroupFamily: input.DBParameterGroupFamily, Parameters: page, Marker: marker } };
  }

  private parameterList(family: string, values: Record<string, string>): api.Parameter[] {
    return [...parameterDefs(this.kindOfFamily(family))]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((d) => ({
        ParameterName: d.name,
        ParameterValue: values[d.name] ?? d.rdsDefault,
        Description: d.description,
        Source: values[d.name] !== undefined ? 'user' : d.rdsDefault !== undefined ? 'system' : 'engine-default',
        ApplyType: d.applyType,
        DataType: d.dataType,
        AllowedValues: d.allowedValues,
        IsModifiable: d.modifiable,
        ApplyMethod: d.applyType === 'static' ? ('pending-reboot' as const) : ('immediate' as const),
      }));
  }

  /**
   * What a parameter formula may be evaluated with: every class Cellar offers (DBInstanceClassMemory as this Cellar
   * gives it), at the smallest and the largest storage. A group can be given to an instance of any class.
   */
  private formulaContexts(): FormulaVars[] {
    return INSTANCE_CLASSES.flatMap((cls) =>
      [STORAGE_LIMITS_GIB.min, STORAGE_LIMITS_GIB.max].map((gib) => ({ DBInstanceClassMemory: classMemoryBytes(cls, this.o.memoryScale), DBInstanceVCPU: cls.vcpu, AllocatedStorage: gib * 1024 ** 3 })),
    );
  }

  private members(ctx: RequestContext, pred: (r: InstanceRecord) => boolean): InstanceRecord[] {
    return [...this.t.instances.list(scopeKey(ctx.scope))].map(([, r]) => r).filter(pred);
  }

  private kickMembers(ctx: RequestContext, groupName: string): void {
    for (const r of this.members(ctx, (m) => m.parameterGroupName === groupName)) this.o.trigger.kick(Scope.ofRecord(r), r.id);
  }

  // ---- subnet groups, security groups, option groups ---------------------------------------------

  private defaultSubnetGroup(accountId: string, region: string): SubnetGroupRecord {
    return { name: 'default', description: 'default', vpcId: defaultVpcId(accountId, region), subnets: defaultSubnets(accountId, region), tags: [] };
  }

  private resolveSubnetGroup(ctx: RequestContext, name: string | undefined): SubnetGroupRecord {
    if (name === undefined || name.toLowerCase() === 'default') return this.defaultSubnetGroup(ctx.scope.accountId, ctx.scope.region);
    const sg = this.t.subnetGroups.get(scopeKey(ctx.scope, name.toLowerCase()));
    if (!sg) throw dbSubnetGroupNotFound(name);
    return sg;
  }

  private checkSubnets(ctx: RequestContext, ids: string[] | undefined): Array<{ id: string; az: string }> {
    if (!ids?.length) throw blankParameter('SubnetIds');
    const subnets = ids.map((id) => {
      if (!SUBNET_ID.test(id)) throw new ServiceError('InvalidSubnet', `Some input subnets in :[${ids.join(', ')}] are invalid.`);
      return { id, az: subnetAz(ctx.scope.accountId, ctx.scope.region, id) };
    });
    if (new Set(subnets.map((s) => s.az)).size < 2) {
      throw new ServiceError('DBSubnetGroupDoesNotCoverEnoughAZs', 'The DB subnet group doesn\'t meet Availability Zone (AZ) coverage requirement. Current AZ coverage: ' + [...new Set(subnets.map((s) => s.az))].join(', ') + '. Add subnets to cover at least 2 AZs.');
    }
    return subnets;
  }

  createDBSubnetGroup(input: api.CreateDBSubnetGroupMessage, ctx: RequestContext): api.CreateDBSubnetGroupResult {
    const name = input.DBSubnetGroupName?.toLowerCase();
    if (!name) throw blankParameter('DBSubnetGroupName');
    if (name === 'default' || !/^[a-z0-9 ._-]{1,255}$/.test(name)) throw invalidParameterValue(`The parameter DBSubnetGroupName is not a valid identifier: ${input.DBSubnetGroupName}`);
    if (!input.DBSubnetGroupDescription) throw blankParameter('DBSubnetGroupDescription');
    const subnets = this.checkSubnets(ctx, input.SubnetIds);
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.subnetGroups.get(key)) throw dbSubnetGroupAlreadyExists(name);
      const sg: SubnetGroupRecord = { name, description: input.DBSubnetGroupDescription, vpcId: defaultVpcId(ctx.scope.accountId, ctx.scope.region), subnets, tags };
      this.t.subnetGroups.put(key, sg);
      return { DBSubnetGroup: toDBSubnetGroup(sg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  modifyDBSubnetGroup(input: api.ModifyDBSubnetGroupMessage, ctx: RequestContext): api.ModifyDBSubnetGroupResult {
    const key = scopeKey(ctx.scope, input.DBSubnetGroupName.toLowerCase());
    const subnets = this.checkSubnets(ctx, input.SubnetIds);
    return this.t.store.transaction(() => {
      const sg = this.t.subnetGroups.get(key);
      if (!sg) throw dbSubnetGroupNotFound(input.DBSubnetGroupName);
      sg.subnets = subnets;
      if (input.DBSubnetGroupDescription !== undefined) sg.description = input.DBSubnetGroupDescription;
      this.t.subnetGroups.put(key, sg);
      return { DBSubnetGroup: toDBSubnetGroup(sg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  deleteDBSubnetGroup(input: api.DeleteDBSubnetGroupMessage, ctx: RequestContext): void {
    const name = input.DBSubnetGroupName.toLowerCase();
    if (name === 'default') throw invalidDBSubnetGroupState('Cannot delete default DB subnet group');
    this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (!this.t.subnetGroups.get(key)) throw dbSubnetGroupNotFound(input.DBSubnetGroupName);
      if (this.members(ctx, (r) => r.subnetGroupName === name).length) throw invalidDBSubnetGroupState(`Cannot delete the subnet group '${name}' because at least one database instance: is still using it.`);
      this.t.subnetGroups.delete(key);
    });
  }

  describeDBSubnetGroups(input: api.DescribeDBSubnetGroupsMessage, ctx: RequestContext): api.DBSubnetGroupMessage {
    filterValues(input.Filters, []);
    let groups = [this.defaultSubnetGroup(ctx.scope.accountId, ctx.scope.region), ...[...this.t.subnetGroups.list(scopeKey(ctx.scope))].map(([, g]) => g)];
    if (input.DBSubnetGroupName !== undefined) {
      const n = input.DBSubnetGroupName.toLowerCase();
      groups = groups.filter((g) => g.name === n);
      if (!groups.length) throw dbSubnetGroupNotFound(input.DBSubnetGroupName);
    }
    const { page, marker } = paginate(groups, (g) => g.name, input.MaxRecords, input.Marker);
    return { DBSubnetGroups: page.map((g) => toDBSubnetGroup(g, ctx.scope.accountId, ctx.scope.region)), Marker: marker };
  }

  describeDBSecurityGroups(input: api.DescribeDBSecurityGroupsMessage, ctx: RequestContext): api.DBSecurityGroupMessage {
    filterValues(input.Filters, []);
    // A VPC account has one DB security group, `default`, as RDS shows it.
    const group: api.DBSecurityGroup = {
      OwnerId: ctx.scope.accountId,
      DBSecurityGroupName: 'default',
      DBSecurityGroupDescription: 'default',
      VpcId: defaultVpcId(ctx.scope.accountId, ctx.scope.region),
      EC2SecurityGroups: [{ Status: 'authorized', EC2SecurityGroupId: defaultSecurityGroupId(ctx.scope.accountId, ctx.scope.region), EC2SecurityGroupName: 'default', EC2SecurityGroupOwnerId: ctx.scope.accountId }],
      IPRanges: [],
      DBSecurityGroupArn: `arn:aws:rds:${ctx.scope.region}:${ctx.scope.accountId}:secgrp:default`,
    };
    if (input.DBSecurityGroupName !== undefined && input.DBSecurityGroupName !== 'default') throw dbSecurityGroupNotFound(input.DBSecurityGroupName);
    return { DBSecurityGroups: [group] };
  }

  private defaultOptionGroupName(engine: string, major: string): string {
    return `default:${engine}-${major.replace(/\./g, '-')}`;
  }

  private resolveOptionGroup(ctx: RequestContext, name: string | undefined, engine: RdsEngine, major: string): OptionGroupRecord {
    if (name === undefined || name === this.defaultOptionGroupName(engine, major)) return this.defaultOptionGroup(ctx.scope, engine, major);
    const og = this.t.optionGroups.get(scopeKey(ctx.scope, name.toLowerCase()));
    if (!og) throw optionGroupNotFound(name);
    if (og.engineName !== engine || og.majorEngineVersion !== major) {
      throw invalidParameterCombination(`The option group ${og.name} is for ${og.engineName} ${og.majorEngineVersion} and can't be used with ${engine} ${major}.`);
    }
    return og;
  }

  /** An engine version's default option group: stored only once tagged, as default parameter groups are. */
  private defaultOptionGroup(scope: Scope, engine: string, major: string): OptionGroupRecord {
    const name = this.defaultOptionGroupName(engine, major);
    return this.t.optionGroups.get(scopeKey(scope, name)) ?? { name, description: `Default option group for ${engine} ${major}`, engineName: engine, majorEngineVersion: major, tags: [], isDefault: true };
  }

  createOptionGroup(input: api.CreateOptionGroupMessage, ctx: RequestContext): api.CreateOptionGroupResult {
    const name = checkIdentifier('OptionGroupName', input.OptionGroupName, 255);
    if (!input.OptionGroupDescription) throw blankParameter('OptionGroupDescription');
    const engine = this.checkEngine(input.EngineName);
    if (!this.versions().some((v) => v.engine === engine && v.major === input.MajorEngineVersion)) {
      throw invalidParameterCombination(`Cannot find major version ${input.MajorEngineVersion} for ${engine}`);
    }
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.optionGroups.get(key)) throw optionGroupAlreadyExists(name);
      const og: OptionGroupRecord = { name, description: input.OptionGroupDescription, engineName: engine, majorEngineVersion: input.MajorEngineVersion, tags, isDefault: false };
      this.t.optionGroups.put(key, og);
      return { OptionGroup: toOptionGroup(og, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  deleteOptionGroup(input: api.DeleteOptionGroupMessage, ctx: RequestContext): void {
    const name = input.OptionGroupName.toLowerCase();
    if (this.versions().some((v) => this.defaultOptionGroupName(v.engine, v.major) === name)) throw invalidParameterValue('Default option groups cannot be deleted.');
    this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      const og = this.t.optionGroups.get(key);
      if (!og) throw optionGroupNotFound(input.OptionGroupName);
      if (og.isDefault) throw invalidParameterValue('Default option groups cannot be deleted.');
      if (this.members(ctx, (r) => r.optionGroupName === name).length) throw invalidOptionGroupState(`The option group '${name}' cannot be deleted because it is in use.`);
      this.t.optionGroups.delete(key);
    });
  }

  describeOptionGroups(input: api.DescribeOptionGroupsMessage, ctx: RequestContext): api.OptionGroups {
    filterValues(input.Filters, []);
    const stored = [...this.t.optionGroups.list(scopeKey(ctx.scope))].map(([, g]) => g);
    const defaults = [...new Map(this.versions().map((v) => [this.defaultOptionGroupName(v.engine, v.major), this.defaultOptionGroup(ctx.scope, v.engine, v.major)])).values()].filter((d) => !stored.some((g) => g.name === d.name));
    let groups = [...stored, ...defaults].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (input.OptionGroupName !== undefined) {
      groups = groups.filter((g) => g.name === input.OptionGroupName!.toLowerCase());
      if (!groups.length) throw optionGroupNotFound(input.OptionGroupName);
    }
    if (input.EngineName !== undefined) groups = groups.filter((g) => g.engineName === input.EngineName);
    if (input.MajorEngineVersion !== undefined) groups = groups.filter((g) => g.majorEngineVersion === input.MajorEngineVersion);
    const { page, marker } = paginate(groups, (g) => g.name, input.MaxRecords, input.Marker);
    return { OptionGroupsList: page.map((g) => toOptionGroup(g, ctx.scope.accountId, ctx.scope.region)), Marker: marker };
  }

  // ---- snapshots, automated backups and restores (./backups/api.ts) -------------------------------------

  createDBSnapshot(input: api.CreateDBSnapshotMessage, ctx: RequestContext): api.CreateDBSnapshotResult {
    return this.o.backups.createDBSnapshot(input, ctx);
  }

  describeDBSnapshots(input: api.DescribeDBSnapshotsMessage, ctx: RequestContext): api.DBSnapshotMessage {
    return this.o.backups.describeDBSnapshots(input, ctx);
  }

  copyDBSnapshot(input: api.CopyDBSnapshotMessage, ctx: RequestContext): api.CopyDBSnapshotResult {
    return this.o.backups.copyDBSnapshot(input, ctx);
  }

  deleteDBSnapshot(input: api.DeleteDBSnapshotMessage, ctx: RequestContext): api.DeleteDBSnapshotResult {
    return this.o.backups.deleteDBSnapshot(input, ctx);
  }

  modifyDBSnapshotAttribute(input: api.ModifyDBSnapshotAttributeMessage, ctx: RequestContext): api.ModifyDBSnapshotAttributeResult {
    return this.o.backups.modifyDBSnapshotAttribute(input, ctx);
  }

  describeDBSnapshotAttributes(input: api.DescribeDBSnapshotAttributesMessage, ctx: RequestContext): api.DescribeDBSnapshotAttributesResult {
    return this.o.backups.describeDBSnapshotAttributes(input, ctx);
  }

  describeDBInstanceAutomatedBackups(input: api.DescribeDBInstanceAutomatedBackupsMessage, ctx: RequestContext): api.DBInstanceAutomatedBackupMessage {
    return this.o.backups.describeDBInstanceAutomatedBackups(input, ctx);
  }

  deleteDBInstanceAutomatedBackup(input: api.DeleteDBInstanceAutomatedBackupMessage, ctx: RequestContext): api.DeleteDBInstanceAutomatedBackupResult {
    return this.o.backups.deleteDBInstanceAutomatedBackup(input, ctx);
  }

  restoreDBInstanceFromDBSnapshot(input: api.RestoreDBInstanceFromDBSnapshotMessage, ctx: RequestContext): Promise<api.RestoreDBInstanceFromDBSnapshotResult> {
    return this.o.backups.restoreDBInstanceFromDBSnapshot(input, ctx, this);
  }

  restoreDBInstanceToPointInTime(input: api.RestoreDBInstanceToPointInTimeMessage, ctx: RequestContext): Promise<api.RestoreDBInstanceToPointInTimeResult> {
    return this.o.backups.restoreDBInstanceToPointInTime(input, ctx, this);
  }

  // ---- tags -------------------------------------------------------------------------------------------

  /** The stored tags of any RDS resource an ARN names, with a setter; RDS's not-found error otherwise. */
  private tagged(ctx: RequestContext, arn: string): { get(): Tag[]; set(tags: Tag[]): void } {
    const m = /^arn:aws[\w-]*:rds:([^:]+):(\d{12}):(db|pg|subgrp|og|snapshot):(.+)$/.exec(arn);
    if (!m) throw invalidParameterValue(`Invalid resource name: ${arn}`);
    const [, , , kind, rawName] = m as unknown as [string, string, string, 'db' | 'pg' | 'subgrp' | 'og' | 'snapshot', string];
    const parsed = parseArn(arn);
    // Another account's or region's resource is not found here: RDS has no resource policies that could share it.
    if (!parsed || parsed.partition !== PARTITION || !ctx.scope.owns(parsed, 'rds')) throw notFoundOf(kind, rawName);
    const name = rawName.toLowerCase();
    const key = scopeKey(ctx.scope, name);
    const table =
      kind === 'db'
        ? this.t.instances
        : kind === 'pg'
          ? this.t.parameterGroups
          : kind === 'subgrp'
            ? this.t.subnetGroups
            : kind === 'og'
              ? this.t.optionGroups
              : this.t.snapshots;
    let rec = (table as { get(k: string): { tags: Tag[] } | undefined }).get(key);
    // Default groups exist without being stored; tagging one stores it (set below).
    if (!rec && kind === 'pg' && name.startsWith('default.')) rec = this.parameterGroup(ctx, name);
    if (!rec && kind === 'og' && name.startsWith('default:')) rec = this.versions().map((v) => this.defaultOptionGroup(ctx.scope, v.engine, v.major)).find((g) => g.name === name);
    if (!rec) {
      if (kind === 'db') throw dbInstanceNotFound(rawName!);
      if (kind === 'pg') throw dbParameterGroupNotFound(rawName!);
      if (kind === 'subgrp') throw dbSubnetGroupNotFound(rawName!);
      if (kind === 'og') throw optionGroupNotFound(rawName!);
      throw new ServiceError('DBSnapshotNotFound', `DBSnapshot ${rawName} not found.`, { status: 404 });
    }
    const found = rec;
    return {
      get: () => found.tags,
      set: (tags) => {
        found.tags = tags;
        (table as { put(k: string, v: unknown): void }).put(key, found);
      },
    };
  }

  addTagsToResource(input: api.AddTagsToResourceMessage, ctx: RequestContext): void {
    const add = checkTags(input.Tags);
    this.t.store.transaction(() => {
      const r = this.tagged(ctx, input.ResourceName);
      const merged = new Map(r.get().map((t) => [t.Key, t.Value]));
      for (const t of add) merged.set(t.Key, t.Value);
      r.set(checkTags([...merged].map(([Key, Value]) => ({ Key, Value }))));
    });
  }

  removeTagsFromResource(input: api.RemoveTagsFromResourceMessage, ctx: RequestContext): void {
    const remove = new Set(input.TagKeys ?? []);
    this.t.store.transaction(() => {
      const r = this.tagged(ctx, input.ResourceName);
      r.set(r.get().filter((t) => !remove.has(t.Key)));
    });
  }

  listTagsForResource(input: api.ListTagsForResourceMessage, ctx: RequestContext): api.TagListMessage {
    filterValues(input.Filters, []);
    return { TagList: this.tagged(ctx, input.ResourceName).get() };
  }

  // ---- log files ----------------------------------------------------------------------------------------

  describeDBLogFiles(input: api.DescribeDBLogFilesMessage, ctx: RequestContext): Promise<api.DescribeDBLogFilesResponse> {
    return this.o.logs.describe(this.instance(ctx, input.DBInstanceIdentifier), input);
  }

  downloadDBLogFilePortion(input: api.DownloadDBLogFilePortionMessage, ctx: RequestContext): Promise<api.DownloadDBLogFilePortionDetails> {
    return this.o.logs.download(this.instance(ctx, input.DBInstanceIdentifier), input);
  }

  // ---- events -----------------------------------------------------------------------------------------

  describeEvents(input: api.DescribeEventsMessage, ctx: RequestContext): api.EventsMessage {
    filterValues(input.Filters, []);
    const now = ctx.clock.now();
    if (input.Duration !== undefined && (input.Duration < 0 || input.Duration > 20160)) throw invalidParameterValue('Duration must be between 0 and 20160 minutes.');
    const end = input.EndTime?.getTime() ?? now;
    const start = input.StartTime?.getTime() ?? (input.EndTime ? end : now) - (input.Duration ?? 60) * 60_000;
    const categories = input.EventCategories?.length ? new Set(input.EventCategories) : undefined;
    const sourceId = input.SourceIdentifier?.toLowerCase();
    const items = [...this.t.events.list(scopeKey(ctx.scope))]
      .filter(([, e]) => e.dateMs >= start && e.dateMs <= end)
      .filter(([, e]) => input.SourceType === undefined || e.sourceType === input.SourceType)
      .filter(([, e]) => sourceId === undefined || e.sourceId === sourceId)
      .filter(([, e]) => !categories || e.categories.some((c) => categories.has(c)));
    const { page, marker } = paginate(items, ([k]) => k, input.MaxRecords, input.Marker);
    return { Events: page.map(([, e]) => toEvent(e)), Marker: marker };
  }

  describeEventCategories(input: api.DescribeEventCategoriesMessage): api.EventCategoriesMessage {
    const instance = [...new Set(['availability', 'configuration change', 'creation', 'deletion', 'failure', 'low storage', 'notification', 'recovery', ...BACKUP_CATEGORIES.instance])].sort();
    const maps = [
      { SourceType: 'db-instance', EventCategories: instance },
      { SourceType: 'db-snapshot', EventCategories: BACKUP_CATEGORIES.snapshot },
    ];
    return { EventCategoriesMapList: maps.filter((m) => input.SourceType === undefined || input.SourceType === m.SourceType) };
  }
}

/** True when nothing listens on port (on any address), checked by binding it for a moment. */
export function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    const timer = setTimeout(() => {
      srv.close();
      resolve(false);
    }, PORT_PROBE_TIMEOUT_MS);
    srv.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => {
      clearTimeout(timer);
      srv.close(() => resolve(true));
    });
  });
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '0.0.0.0', exclusive: true }, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** RDS's not-found error for a kind of resource. */
function notFoundOf(kind: 'db' | 'pg' | 'snapshot' | 'subgrp' | 'og', name: string): ServiceError {
  switch (kind) {
    case 'db':
      return dbInstanceNotFound(name);
    case 'pg':
      return dbParameterGroupNotFound(name);
    case 'subgrp':
      return dbSubnetGroupNotFound(name);
    case 'og':
      return optionGroupNotFound(name);
    default:
      return new ServiceError('DBSnapshotNotFound', `DBSnapshot ${name} not found.`, { status: 404 });
  }
}
