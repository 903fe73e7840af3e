/**
 * @module services/rds/provider
 * RDS's DB instances, managed as RDS manages them and backed by real engines (PostgreSQL, MariaDB; `mysql` is served
 * by MariaDB): Create/Describe/Modify/Reboot/Stop/Start/DeleteDBInstance. The resources around them have modules of
 * their own beside this one (parameter-groups.ts, subnet-groups.ts, option-groups.ts, tagging.ts, describe-events.ts,
 * engine-versions.ts, backups/api.ts), all reading through resources.ts; index.ts serves each operation from the
 * module that has it (assemble.ts lists them).
 *
 * Every write persists the desired state only (the spec fields and `desired`, bumping its generation) before it
 * answers, then asks the supervisor to reconcile in the background. The status it answers is derived from desired
 * and observed by the runtime's transition table (status.ts `settle`), never set here. The API never waits for an
 * engine: CreateDBInstance answers `creating` at once.
 */
import { Scope } from '../../core/scope.js';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import type { CellarConfig } from '../../config.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import type * as api from '../../models/rds.js';
import { ENGINE_KIND, instanceClass, resolveEngineVersion, type EngineVersionInfo, type RdsEngine } from './catalog.js';
import { checkMaxRecords, filterValues, listenAddress, paginate, toDBInstance } from './describe.js';
import {
  blankParameter,
  dbInstanceAlreadyExists,
  dbInstanceNotFound,
  dbSnapshotAlreadyExists,
  invalidDBInstanceState,
  invalidParameterCombination,
  invalidParameterValue,
  kmsKeyNotAccessible,
} from './errors.js';
import type { KmsInternal } from '../kms/internal.js';
import { generateMasterPassword, type MasterSecrets } from './master-secret.js';
import { availabilityZones, defaultSecurityGroupId, SECURITY_GROUP_ID } from './network.js';
import type { OptionGroupApi } from './option-groups.js';
import type { ParameterGroupApi } from './parameter-groups.js';
import { allocatePort } from './ports.js';
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
import type { RdsResources, ReconcileTrigger } from './resources.js';
import { instanceSettings, sameSettings } from './settings.js';
import { InstanceEvents, instanceArn } from './status.js';
import type { SubnetGroupApi } from './subnet-groups.js';
import type { RestoredFrom } from './backups/api.js';
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

export interface RdsProviderOptions {
  resources: RdsResources;
  events: InstanceEvents;
  box: SecretBox;
  config: CellarConfig;
  /** Where engine data directories live. */
  engineRoot: string;
  memoryScale: number;
  trigger: ReconcileTrigger;
  /** The groups an instance names (resolved, checked, defaulted). */
  parameterGroups: ParameterGroupApi;
  subnetGroups: SubnetGroupApi;
  optionGroups: OptionGroupApi;
  /** ManageMasterUserPassword through Secrets Manager (absent: the parameter is refused). */
  secrets?: MasterSecrets;
  /** KMS in-process: StorageEncrypted's key is resolved and checked there (absent: Cellar serves no KMS). */
  kms?: KmsInternal;
  /** LatestRestorableTime of an instance's automated backups (./backups/). */
  backupWorker: BackupWorker;
  /** The engines' log files (./logs.ts). */
  logs: RdsLogs;
}

const DEFAULT_MAINTENANCE_WINDOW = 'sun:05:00-sun:05:30';
const DEFAULT_STORAGE_KMS_KEY = 'alias/aws/rds';

const MANAGED_AND_PASSWORD = "You can't specify MasterUserPassword when ManageMasterUserPassword is turned on: RDS generates the password and stores it in AWS Secrets Manager.";
const KMS_KEY_WITHOUT_MANAGE = 'You can specify MasterUserSecretKmsKeyId only when ManageMasterUserPassword is turned on.';

export class RdsProvider implements Partial<api.RDSApi> {
  private readonly r: RdsResources;
  private readonly t: RdsTables;
  private readonly ev: InstanceEvents;

  constructor(private readonly o: RdsProviderOptions) {
    this.r = o.resources;
    this.t = o.resources.tables;
    this.ev = o.events;
  }

  /** Also the create path of restores (`restored`): the new instance's data then comes from a backup. */
  async createDBInstance(input: api.CreateDBInstanceMessage, ctx: RequestContext, restored?: RestoredFrom): Promise<api.CreateDBInstanceResult> {
    const id = checkIdentifier('DBInstanceIdentifier', input.DBInstanceIdentifier);
    const engine = this.r.checkEngine(input.Engine);
    const version = resolveEngineVersion(this.r.versions(), engine, input.EngineVersion);
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
    // A restored instance keeps the backup's master password (its data carries it), sealed as the source's was, unless
    // it is to be managed: then a new one goes into its secret and replaces the backup's once the data is restored.
    const password = manage ? generateMasterPassword() : restored ? '' : checkMasterPassword(engine, input.MasterUserPassword);
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
    const pg = this.o.parameterGroups.resolveParameterGroup(ctx, input.DBParameterGroupName, version.family);
    const og = this.o.optionGroups.resolveOptionGroup(ctx, input.OptionGroupName, engine, version.major);
    const subnetGroup = this.o.subnetGroups.resolveSubnetGroup(ctx, input.DBSubnetGroupName);
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
    const allocated = await allocatePort(this.t.ports, port, version.defaultPort);
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
        // ensureUsers sets it in the engine after the restore and makes the secret active (./instance-steps.ts).
        pending: restored && masterUserSecret ? { MasterUserPasswordSealed: this.o.box.sealString(password, SEAL_AAD) } : {},
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
      const id = this.r.idFromArnOrName(ctx, input.DBInstanceIdentifier, 'db');
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
    const versions = this.r.versions();
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
    const pg = input.DBParameterGroupName !== undefined ? this.o.parameterGroups.resolveParameterGroup(ctx, input.DBParameterGroupName, rec.family) : undefined;
    const og = input.OptionGroupName !== undefined ? this.o.optionGroups.resolveOptionGroup(ctx, input.OptionGroupName, rec.engine, version?.major ?? '') : undefined;
    if (input.VpcSecurityGroupIds) for (const sg of input.VpcSecurityGroupIds) if (!SECURITY_GROUP_ID.test(sg)) throw invalidParameterValue(`Invalid security group , groupId= ${sg}, groupName=.`);
    if (input.DBSubnetGroupName !== undefined && input.DBSubnetGroupName !== rec.subnetGroupName) {
      throw invalidParameterCombination('Cellar does not move DB instances between DB subnet groups yet.');
    }
    const newPort = port !== undefined && port !== rec.port ? await allocatePort(this.t.ports, port, port) : undefined;

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
    const key = scopeKey(ctx.scope, this.r.idFromArnOrName(ctx, input.DBInstanceIdentifier, 'db'));
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

  // ---- log files ----------------------------------------------------------------------------------------

  describeDBLogFiles(input: api.DescribeDBLogFilesMessage, ctx: RequestContext): Promise<api.DescribeDBLogFilesResponse> {
    return this.o.logs.describe(this.instance(ctx, input.DBInstanceIdentifier), input);
  }

  downloadDBLogFilePortion(input: api.DownloadDBLogFilePortionMessage, ctx: RequestContext): Promise<api.DownloadDBLogFilePortionDetails> {
    return this.o.logs.download(this.instance(ctx, input.DBInstanceIdentifier), input);
  }

  // ---- helpers --------------------------------------------------------------------------------------------

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
    const id = this.r.idFromArnOrName(ctx, idOrArn, 'db');
    const rec = this.t.instances.get(scopeKey(ctx.scope, id));
    if (!rec) throw dbInstanceNotFound(idOrArn);
    return rec;
  }

  describeOne(rec: InstanceRecord): api.DBInstance {
    const sg = this.t.subnetGroups.get(scopeKey(Scope.ofRecord(rec), rec.subnetGroupName)) ?? this.o.subnetGroups.defaultSubnetGroup(rec.accountId, rec.region);
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

  private checkOrderable(cls: string | undefined, version: EngineVersionInfo): void {
    if (!cls) throw blankParameter('DBInstanceClass');
    if (!instanceClass(cls)) {
      throw invalidParameterCombination(
        `RDS does not support creating a DB instance with the following combination: DBInstanceClass=${cls}, Engine=${version.engine}, EngineVersion=${version.version}, LicenseModel=${version.licenseModel}. For supported combinations of instance class and database engine version, see the documentation.`,
      );
    }
  }
}
