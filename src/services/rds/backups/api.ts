/**
 * @module services/rds/backups/api
 * RDS's backup operations: manual snapshots (CreateDBSnapshot, DescribeDBSnapshots, CopyDBSnapshot, DeleteDBSnapshot,
 * ModifyDBSnapshotAttribute, DescribeDBSnapshotAttributes), automated backups (DescribeDBInstanceAutomatedBackups,
 * DeleteDBInstanceAutomatedBackup) and the two restores (RestoreDBInstanceFromDBSnapshot,
 * RestoreDBInstanceToPointInTime). Each checks its input as RDS does and records what the background worker
 * (./worker.ts) and the reconciler's create step carry out; none waits for an engine.
 *
 * Sharing: a manual snapshot whose `restore` attribute names another account (or `all`) can be described, copied and
 * restored from that account, in the same region, by its ARN only (core/scope.ts: Scope.crossAccount, after that
 * check). Nothing else of the owner's is reachable, and the owner's tags are not shown.
 */
import { parseArn, PARTITION, Scope, isAccountId } from '../../../core/scope.js';
import { ServiceError } from '../../../core/errors.js';
import type { RequestContext } from '../../../core/context.js';
import type * as api from '../../../models/rds.js';
import { baseBackupFor } from '../../../engines/backup/index.js';
import { filterValues, paginate } from '../describe.js';
import {
  blankParameter,
  dbInstanceNotFound,
  dbSnapshotAlreadyExists,
  invalidDBInstanceState,
  invalidParameterCombination,
  invalidParameterValue,
  kmsKeyNotAccessible,
} from '../errors.js';
import { scopeKey, type InstanceRecord, type RdsTables, type SnapshotRecord } from '../records.js';
import type { InstanceEvents } from '../status.js';
import { checkIdentifier, checkTags } from '../validation.js';
import { emitSnapshotEvent, snapshotArn } from './events.js';
import { automatedSnapshots, listedDbiResourceId, listedEngine, listedId, listedInstanceId, toAutomatedBackup, toSnapshot, type ListedSnapshot } from './describe.js';
import { automatedBackupArn, automatedKey, restoreWindow, type AutomatedBackupRecord, type BackupTables, type RestoreSource, type SourceSettings } from './records.js';
import { checkRestoreTime, RestoreWindowMissing } from './validation.js';
import { newSnapshotRecord, type BackupWorker } from './worker.js';

/** RDS's default quota of manual snapshots per region. */
const MANUAL_SNAPSHOT_QUOTA = 100;
/** Accounts one manual snapshot can be shared with. */
const SHARED_ACCOUNTS_MAX = 20;

export const dbSnapshotNotFound = (id: string) => new ServiceError('DBSnapshotNotFound', `DBSnapshot ${id} not found.`, { status: 404 });
const invalidSnapshotState = (message: string) => new ServiceError('InvalidDBSnapshotState', message);
const automatedBackupNotFound = (what: string) => new ServiceError('DBInstanceAutomatedBackupNotFound', `No automated backup found for ${what}.`, { status: 404 });

/** A new instance restored from a backup: what the provider's create path needs besides the request. */
export interface RestoredFrom {
  restore: RestoreSource;
  source: SourceSettings;
}

/** The provider's side of a restore: validation of the new instance's settings and its record, as CreateDBInstance. */
export interface InstanceCreator {
  createDBInstance(input: api.CreateDBInstanceMessage, ctx: RequestContext, restored?: RestoredFrom): Promise<api.CreateDBInstanceResult>;
}

export interface BackupApiOptions {
  tables: RdsTables;
  backups: BackupTables;
  events: InstanceEvents;
  worker: BackupWorker;
  /** The create path of DB instances (provider.ts), which restores take. */
  creator: InstanceCreator;
}

export class BackupApi implements Partial<api.RDSApi> {
  private readonly t: RdsTables;
  constructor(private readonly o: BackupApiOptions) {
    this.t = o.tables;
  }

  // ---- manual snapshots ---------------------------------------------------------------------------------------------

  createDBSnapshot(input: api.CreateDBSnapshotMessage, ctx: RequestContext): api.CreateDBSnapshotResult {
    const id = checkIdentifier('DBSnapshotIdentifier', input.DBSnapshotIdentifier, 255);
    if (!input.DBInstanceIdentifier) throw blankParameter('DBInstanceIdentifier');
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const rec = this.ownInstance(ctx, input.DBInstanceIdentifier);
      if (this.t.snapshots.get(scopeKey(ctx.scope, id))) throw dbSnapshotAlreadyExists(id);
      if (rec.status !== 'available' && rec.status !== 'storage-full' && rec.status !== 'backing-up') {
        throw invalidDBInstanceState(`Cannot create a snapshot because the database instance ${rec.id} is not currently in the available state.`);
      }
      this.checkCanBackUp(rec);
      this.checkQuota(ctx);
      const snap = newSnapshotRecord(rec, id, ctx.clock.now(), tags.length ? tags : rec.copyTagsToSnapshot ? rec.tags : []);
      this.t.snapshots.put(scopeKey(ctx.scope, id), snap);
      return { DBSnapshot: toSnapshot({ kind: 'manual', accountId: ctx.scope.accountId, region: ctx.scope.region, rec: snap }, ctx.scope.accountId) };
    });
  }

  describeDBSnapshots(input: api.DescribeDBSnapshotsMessage, ctx: RequestContext): api.DBSnapshotMessage {
    const filters = filterValues(input.Filters, ['db-instance-id', 'db-snapshot-id', 'dbi-resource-id', 'snapshot-type', 'engine']);
    const type = input.SnapshotType;
    if (type !== undefined && !['automated', 'manual', 'shared', 'public', 'awsbackup'].includes(type)) {
      throw invalidParameterValue(`Invalid snapshot type: ${type}. Valid values are automated, manual, shared, public, awsbackup.`);
    }
    let snaps: ListedSnapshot[];
    if (input.DBSnapshotIdentifier !== undefined) {
      snaps = [this.findSnapshot(ctx, input.DBSnapshotIdentifier, 'read')];
    } else {
      const own = type === 'shared' || type === 'public' ? [] : this.ownSnapshots(ctx);
      const shared = type === 'shared' || (type === undefined && input.IncludeShared) ? this.sharedWith(ctx) : [];
      snaps = [...own, ...shared];
    }
    if (type === 'manual' || type === 'automated') snaps = snaps.filter((s) => s.kind === type);
    if (type === 'awsbackup') snaps = [];
    if (input.DBInstanceIdentifier !== undefined) {
      const want = instanceIdOf(input.DBInstanceIdentifier);
      snaps = snaps.filter((s) => listedInstanceId(s) === want);
    }
    if (input.DbiResourceId !== undefined) snaps = snaps.filter((s) => listedDbiResourceId(s) === input.DbiResourceId);
    const byFilter = (name: string, value: (s: ListedSnapshot) => string | undefined) => {
      const vals = filters.get(name);
      if (vals) snaps = snaps.filter((s) => vals.has(value(s) ?? ''));
    };
    byFilter('db-instance-id', listedInstanceId);
    byFilter('db-snapshot-id', listedId);
    byFilter('dbi-resource-id', listedDbiResourceId);
    byFilter('snapshot-type', (s) => (s.accountId === ctx.scope.accountId ? s.kind : 'shared'));
    byFilter('engine', listedEngine);
    const keyOf = (s: ListedSnapshot) => `${s.accountId}/${listedId(s)}`;
    snaps.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
    const { page, marker } = paginate(snaps, keyOf, input.MaxRecords, input.Marker);
    return { DBSnapshots: page.map((s) => this.describe(s, ctx)), Marker: marker };
  }

  deleteDBSnapshot(input: api.DeleteDBSnapshotMessage, ctx: RequestContext): api.DeleteDBSnapshotResult {
    if (!input.DBSnapshotIdentifier) throw blankParameter('DBSnapshotIdentifier');
    return this.t.store.transaction(() => {
      const s = this.findSnapshot(ctx, input.DBSnapshotIdentifier, 'own');
      if (s.kind !== 'manual') throw invalidSnapshotState('Only manual snapshots may be deleted.');
      const status = s.rec.status ?? 'available';
      if (status !== 'available' && status !== 'failed') throw invalidSnapshotState(`Cannot delete the snapshot ${s.rec.id} because it is ${status}.`);
      this.t.snapshots.delete(scopeKey(ctx.scope, s.rec.id));
      emitSnapshotEvent(this.o.events, ctx.scope, s.rec.id, 'deleted', ctx.clock.now());
      this.o.worker.removeFilesLater(this.o.worker.snapshotFilesDir(ctx.scope, s.rec.id));
      if (s.rec.dir) this.o.worker.removeFilesLater(s.rec.dir);
      const d = this.describe(s, ctx);
      return { DBSnapshot: { ...d, Status: 'deleted' } };
    });
  }

  copyDBSnapshot(input: api.CopyDBSnapshotMessage, ctx: RequestContext): api.CopyDBSnapshotResult {
    if (!input.SourceDBSnapshotIdentifier) throw blankParameter('SourceDBSnapshotIdentifier');
    const target = checkIdentifier('TargetDBSnapshotIdentifier', input.TargetDBSnapshotIdentifier, 255);
    if (input.PreSignedUrl || input.TargetCustomAvailabilityZone) throw invalidParameterCombination('Cellar copies snapshots within a region only: omit PreSignedUrl and TargetCustomAvailabilityZone.');
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const src = this.findSnapshot(ctx, input.SourceDBSnapshotIdentifier, 'read');
      if (this.t.snapshots.get(scopeKey(ctx.scope, target))) throw dbSnapshotAlreadyExists(target);
      const { base, source } = restorable(src);
      this.checkQuota(ctx);
      const kmsKeyId = input.KmsKeyId ?? source.kmsKeyId;
      if (input.KmsKeyId && !source.storageEncrypted) throw invalidParameterCombination('KmsKeyId can be given only when copying an encrypted snapshot.');
      if (src.accountId !== ctx.scope.accountId && source.storageEncrypted && !input.KmsKeyId) {
        throw kmsKeyNotAccessible('Copying a shared encrypted snapshot needs a KmsKeyId of your own account.');
      }
      const copyTags = input.CopyTags && src.kind === 'manual' && src.accountId === ctx.scope.accountId ? src.rec.tags : [];
      const now = ctx.clock.now();
      const snap: SnapshotRecord = {
        id: target,
        instanceId: source.instanceId,
        status: 'copying',
        source: { ...source, ...(kmsKeyId ? { kmsKeyId } : {}) },
        ...(kmsKeyId ? { kmsKeyId } : {}),
        createdAtMs: now,
        originalCreatedAtMs: src.kind === 'manual' ? (src.rec.originalCreatedAtMs ?? src.rec.createdAtMs) : src.base.finishedAt,
        copiedFromArn: snapshotArn(src, listedId(src)),
        copyOf: base,
        engine: source.engine,
        engineVersion: source.engineVersion,
        allocatedStorageGiB: source.allocatedStorageGiB,
        masterUsername: source.masterUsername,
        port: source.port,
        availabilityZone: source.availabilityZone,
        tags: tags.length ? tags : copyTags,
      };
      this.t.snapshots.put(scopeKey(ctx.scope, target), snap);
      return { DBSnapshot: toSnapshot({ kind: 'manual', accountId: ctx.scope.accountId, region: ctx.scope.region, rec: snap }, ctx.scope.accountId) };
    });
  }

  modifyDBSnapshotAttribute(input: api.ModifyDBSnapshotAttributeMessage, ctx: RequestContext): api.ModifyDBSnapshotAttributeResult {
    if (!input.DBSnapshotIdentifier) throw blankParameter('DBSnapshotIdentifier');
    if (!input.AttributeName) throw blankParameter('AttributeName');
    if (input.AttributeName !== 'restore') throw invalidParameterValue(`Invalid snapshot attribute ${input.AttributeName}`);
    const add = input.ValuesToAdd ?? [];
    const remove = input.ValuesToRemove ?? [];
    for (const v of [...add, ...remove]) if (v !== 'all' && !isAccountId(v)) throw invalidParameterValue(`Invalid account id ${v}: an AWS account ID is 12 digits, or 'all'.`);
    const both = add.filter((v) => remove.includes(v));
    if (both.length) throw invalidParameterCombination(`A value may not appear in both the add list and remove list. [${both.map((v) => `'${v}'`).join(', ')}]`);
    return this.t.store.transaction(() => {
      const s = this.findSnapshot(ctx, input.DBSnapshotIdentifier, 'own');
      if (s.kind !== 'manual') throw invalidSnapshotState('Automated snapshots cannot be shared. Copy the snapshot to a manual snapshot and share the copy.');
      if ((s.rec.status ?? 'available') !== 'available') throw invalidSnapshotState(`The snapshot ${s.rec.id} is not available.`);
      if (add.includes('all') && s.rec.kmsKeyId) throw invalidParameterValue('Encrypted snapshots cannot be shared publicly.');
      const next = [...new Set([...(s.rec.restoreAccounts ?? []), ...add])].filter((v) => !remove.includes(v));
      if (next.filter((v) => v !== 'all').length > SHARED_ACCOUNTS_MAX) {
        throw new ServiceError('SharedSnapshotQuotaExceeded', 'The request cannot be processed because it would exceed the maximum number of accounts a snapshot can be shared with.');
      }
      s.rec.restoreAccounts = next;
      this.t.snapshots.put(scopeKey(ctx.scope, s.rec.id), s.rec);
      return { DBSnapshotAttributesResult: attributes(s) };
    });
  }

  describeDBSnapshotAttributes(input: api.DescribeDBSnapshotAttributesMessage, ctx: RequestContext): api.DescribeDBSnapshotAttributesResult {
    if (!input.DBSnapshotIdentifier) throw blankParameter('DBSnapshotIdentifier');
    return { DBSnapshotAttributesResult: attributes(this.findSnapshot(ctx, input.DBSnapshotIdentifier, 'own')) };
  }

  // ---- automated backups ----------------------------------------------------------------------------------------

  describeDBInstanceAutomatedBackups(input: api.DescribeDBInstanceAutomatedBackupsMessage, ctx: RequestContext): api.DBInstanceAutomatedBackupMessage {
    const filters = filterValues(input.Filters, ['status', 'db-instance-id', 'dbi-resource-id']);
    let all = [...this.o.backups.automated.list(scopeKey(ctx.scope))].map(([, ab]) => ab);
    if (input.DbiResourceId !== undefined) {
      all = all.filter((ab) => ab.source.dbiResourceId === input.DbiResourceId);
      if (!all.length) throw automatedBackupNotFound(`DbiResourceId ${input.DbiResourceId}`);
    }
    if (input.DBInstanceAutomatedBackupsArn !== undefined) {
      all = all.filter((ab) => automatedBackupArn(ab) === input.DBInstanceAutomatedBackupsArn);
      if (!all.length) throw automatedBackupNotFound(input.DBInstanceAutomatedBackupsArn);
    }
    if (input.DBInstanceIdentifier !== undefined) all = all.filter((ab) => ab.source.instanceId === instanceIdOf(input.DBInstanceIdentifier!));
    const byFilter = (name: string, value: (ab: AutomatedBackupRecord) => string) => {
      const vals = filters.get(name);
      if (vals) all = all.filter((ab) => vals.has(value(ab)));
    };
    byFilter('status', (ab) => ab.status);
    byFilter('db-instance-id', (ab) => ab.source.instanceId);
    byFilter('dbi-resource-id', (ab) => ab.source.dbiResourceId);
    const { page, marker } = paginate(all, (ab) => `${ab.source.instanceId}/${ab.source.dbiResourceId}`, input.MaxRecords, input.Marker);
    return { DBInstanceAutomatedBackups: page.map((ab) => toAutomatedBackup(ab, this.o.worker.latestOf(ab))), Marker: marker };
  }

  deleteDBInstanceAutomatedBackup(input: api.DeleteDBInstanceAutomatedBackupMessage, ctx: RequestContext): api.DeleteDBInstanceAutomatedBackupResult {
    if (input.DbiResourceId === undefined && input.DBInstanceAutomatedBackupsArn === undefined) {
      throw invalidParameterCombination('Specify either DbiResourceId or DBInstanceAutomatedBackupsArn.');
    }
    return this.t.store.transaction(() => {
      const ab = this.automatedBackup(ctx, { DbiResourceId: input.DbiResourceId, DBInstanceAutomatedBackupsArn: input.DBInstanceAutomatedBackupsArn });
      const key = automatedKey(ctx.scope, ab.source.dbiResourceId);
      if (ab.status !== 'retained') {
        throw new ServiceError('InvalidDBInstanceAutomatedBackupState', `The automated backup is in use by DB instance ${ab.source.instanceId}: only retained automated backups can be deleted.`);
      }
      if ([...this.t.instances.list(scopeKey(ctx.scope))].some(([, r]) => r.status === 'creating' && r.restore?.automatedBackupKey === key)) {
        throw new ServiceError('InvalidDBInstanceAutomatedBackupState', 'The automated backup is being restored from; delete it once the restore has finished.');
      }
      this.o.backups.automated.delete(key);
      this.o.worker.removeFilesLater(ab.place.baseDir.replace(/\/base\/?$/, ''));
      return { DBInstanceAutomatedBackup: { ...toAutomatedBackup(ab, this.o.worker.latestOf(ab)), Status: 'deleting' } };
    });
  }

  // ---- restores -------------------------------------------------------------------------------------------------

  async restoreDBInstanceFromDBSnapshot(input: api.RestoreDBInstanceFromDBSnapshotMessage, ctx: RequestContext): Promise<api.RestoreDBInstanceFromDBSnapshotResult> {
    if (input.DBClusterSnapshotIdentifier !== undefined) throw invalidParameterCombination('Cellar does not serve DB clusters: restore from a DBSnapshotIdentifier.');
    if (!input.DBSnapshotIdentifier) throw blankParameter('DBSnapshotIdentifier');
    checkIdentifier('DBInstanceIdentifier', input.DBInstanceIdentifier);
    const snap = this.findSnapshot(ctx, input.DBSnapshotIdentifier, 'read');
    const { base, source } = restorable(snap);
    if (snap.accountId !== ctx.scope.accountId && source.storageEncrypted) {
      throw kmsKeyNotAccessible(`The snapshot ${listedId(snap)} is encrypted with a key of account ${snap.accountId}; copy it with a key of your own account first.`);
    }
    if (input.Engine !== undefined && input.Engine.toLowerCase() !== source.engine) throw invalidParameterCombination(`The snapshot's engine is ${source.engine}; it cannot be restored as ${input.Engine}.`);
    const restore: RestoreSource = { kind: 'snapshot', sourceName: listedId(snap), base };
    const result = await this.o.creator.createDBInstance(this.createMessage(input, source), ctx, { restore, source });
    return { DBInstance: result.DBInstance };
  }

  async restoreDBInstanceToPointInTime(input: api.RestoreDBInstanceToPointInTimeMessage, ctx: RequestContext): Promise<api.RestoreDBInstanceToPointInTimeResult> {
    checkIdentifier('TargetDBInstanceIdentifier', input.TargetDBInstanceIdentifier);
    const ab = this.pointInTimeSource(ctx, input);
    const w = restoreWindow({ ...ab, latestRestorableMs: this.o.worker.latestOf(ab) });
    let when;
    try {
      when = checkRestoreTime(input, w, ab.source.instanceId);
    } catch (e) {
      if (e instanceof RestoreWindowMissing) throw invalidDBInstanceState(`DB instance ${ab.source.instanceId} has no restorable time yet: its first automated backup has not finished.`);
      throw e;
    }
    // UseLatestRestorableTime is the latest restorable time at the time of the request, as on RDS.
    const targetTimeMs = when.latest ? w!.latestMs : when.timeMs;
    const base = baseBackupFor(ab.bases, targetTimeMs);
    if (!base) throw invalidDBInstanceState(`No backup of DB instance ${ab.source.instanceId} covers ${new Date(targetTimeMs).toISOString()}.`);
    if (input.Engine !== undefined && input.Engine.toLowerCase() !== ab.source.engine) throw invalidParameterCombination(`The source's engine is ${ab.source.engine}; it cannot be restored as ${input.Engine}.`);
    // Past the newest archived change (a quiet source whose newest backup is later): nothing changed in between, so
    // everything archived is exactly the data at that time; the engine would refuse a target past its archive.
    const archived = this.o.worker.archivedLatestOf(ab);
    const beyondArchive = archived === undefined || targetTimeMs > archived;
    const restore: RestoreSource = {
      kind: 'point-in-time',
      sourceName: ab.source.instanceId,
      base,
      archiveDir: ab.place.archiveDir,
      ...(beyondArchive ? {} : { targetTimeMs }),
      requestedTimeMs: targetTimeMs,
      automatedBackupKey: automatedKey(ctx.scope, ab.source.dbiResourceId),
    };
    const message = this.createMessage({ ...input, DBInstanceIdentifier: input.TargetDBInstanceIdentifier }, ab.source);
    const result = await this.o.creator.createDBInstance(message, ctx, { restore, source: ab.source });
    return { DBInstance: result.DBInstance };
  }

  /** The automated backup a point-in-time restore reads: exactly one of the three ways to name it. */
  private pointInTimeSource(ctx: RequestContext, input: api.RestoreDBInstanceToPointInTimeMessage): AutomatedBackupRecord {
    const given = [input.SourceDBInstanceIdentifier, input.SourceDbiResourceId, input.SourceDBInstanceAutomatedBackupsArn].filter((v) => v !== undefined);
    if (given.length !== 1) {
      throw invalidParameterCombination('Specify exactly one of SourceDBInstanceIdentifier, SourceDbiResourceId and SourceDBInstanceAutomatedBackupsArn.');
    }
    if (input.SourceDBInstanceIdentifier !== undefined) {
      const rec = this.ownInstance(ctx, input.SourceDBInstanceIdentifier);
      const ab = this.o.backups.automated.get(automatedKey(ctx.scope, rec.dbiResourceId));
      if (rec.backupRetentionPeriod === 0 || !ab) {
        if (rec.backupRetentionPeriod === 0) throw new ServiceError('PointInTimeRestoreNotEnabled', `Point-in-time restore is not enabled for DB instance ${rec.id}: its BackupRetentionPeriod is 0.`);
        throw invalidDBInstanceState(`DB instance ${rec.id} has no restorable time yet: its first automated backup has not finished.`);
      }
      return ab;
    }
    return this.automatedBackup(ctx, { DbiResourceId: input.SourceDbiResourceId, DBInstanceAutomatedBackupsArn: input.SourceDBInstanceAutomatedBackupsArn });
  }

  private automatedBackup(ctx: RequestContext, by: { DbiResourceId?: string; DBInstanceAutomatedBackupsArn?: string }): AutomatedBackupRecord {
    if (by.DbiResourceId !== undefined) {
      const ab = this.o.backups.automated.get(automatedKey(ctx.scope, by.DbiResourceId));
      if (!ab) throw automatedBackupNotFound(`DbiResourceId ${by.DbiResourceId}`);
      return ab;
    }
    const arn = by.DBInstanceAutomatedBackupsArn!;
    const parsed = parseArn(arn);
    if (!parsed || parsed.service !== 'rds' || !parsed.resource.startsWith('auto-backup:')) throw invalidParameterValue(`Invalid resource name: ${arn}`);
    const found = parsed.partition === PARTITION && ctx.scope.owns(parsed, 'rds') ? [...this.o.backups.automated.list(scopeKey(ctx.scope))].find(([, ab]) => automatedBackupArn(ab) === arn) : undefined;
    if (!found) throw automatedBackupNotFound(arn);
    return found[1];
  }

  /** CreateDBInstance's request for a restored instance: the source's settings where the restore request names none. */
  private createMessage(input: api.RestoreDBInstanceFromDBSnapshotMessage, source: SourceSettings): api.CreateDBInstanceMessage {
    if (input.MultiAZ) throw invalidParameterCombination('Cellar does not serve Multi-AZ DB instances yet: restore with MultiAZ=false.');
    if (input.AllocatedStorage !== undefined && input.AllocatedStorage < source.allocatedStorageGiB) {
      throw invalidParameterValue(`The allocated storage of the restored DB instance must be at least the source's ${source.allocatedStorageGiB} GiB.`);
    }
    return {
      DBInstanceIdentifier: input.DBInstanceIdentifier,
      DBInstanceClass: input.DBInstanceClass ?? source.instanceClass,
      Engine: source.engine,
      EngineVersion: source.engineVersion,
      AllocatedStorage: input.AllocatedStorage ?? source.allocatedStorageGiB,
      MasterUsername: source.masterUsername,
      // Managed: a new password in a new secret replaces the backup's once the data is restored.
      ...(input.ManageMasterUserPassword !== undefined ? { ManageMasterUserPassword: input.ManageMasterUserPassword } : {}),
      ...(input.MasterUserSecretKmsKeyId !== undefined ? { MasterUserSecretKmsKeyId: input.MasterUserSecretKmsKeyId } : {}),
      ...(source.dbName !== undefined ? { DBName: source.dbName } : {}),
      ...(input.Port !== undefined ? { Port: input.Port } : {}),
      ...(input.AvailabilityZone !== undefined ? { AvailabilityZone: input.AvailabilityZone } : {}),
      ...(input.DBSubnetGroupName !== undefined ? { DBSubnetGroupName: input.DBSubnetGroupName } : {}),
      ...(input.PubliclyAccessible !== undefined ? { PubliclyAccessible: input.PubliclyAccessible } : {}),
      ...(input.AutoMinorVersionUpgrade !== undefined ? { AutoMinorVersionUpgrade: input.AutoMinorVersionUpgrade } : {}),
      ...(input.OptionGroupName !== undefined ? { OptionGroupName: input.OptionGroupName } : {}),
      ...(input.DBParameterGroupName !== undefined ? { DBParameterGroupName: input.DBParameterGroupName } : {}),
      ...(input.VpcSecurityGroupIds !== undefined ? { VpcSecurityGroupIds: input.VpcSecurityGroupIds } : {}),
      ...(input.Tags !== undefined ? { Tags: input.Tags } : {}),
      ...(input.DeletionProtection !== undefined ? { DeletionProtection: input.DeletionProtection } : {}),
      ...(input.CopyTagsToSnapshot !== undefined ? { CopyTagsToSnapshot: input.CopyTagsToSnapshot } : {}),
      // Not named: the source's, as RDS restores do (a source recorded by an earlier Cellar has none: the default).
      ...((input.BackupRetentionPeriod ?? source.backupRetentionPeriod) !== undefined ? { BackupRetentionPeriod: input.BackupRetentionPeriod ?? source.backupRetentionPeriod } : {}),
      ...(input.PreferredBackupWindow !== undefined ? { PreferredBackupWindow: input.PreferredBackupWindow } : {}),
      StorageEncrypted: source.storageEncrypted,
      ...(source.kmsKeyId ? { KmsKeyId: source.kmsKeyId } : {}),
    };
  }

  // ---- lookups ------------------------------------------------------------------------------------------------

  /** An instance of the caller's scope named by identifier or ARN; another scope's is not found, as RDS answers. */
  private ownInstance(ctx: RequestContext, value: string): InstanceRecord {
    if (value.startsWith('arn:')) {
      const arn = parseArn(value);
      if (!arn || arn.service !== 'rds' || !arn.resource.startsWith('db:')) throw invalidParameterValue(`Invalid resource name: ${value}`);
      if (!ctx.scope.owns(arn, 'rds')) throw dbInstanceNotFound(value);
    }
    const rec = this.t.instances.get(scopeKey(ctx.scope, instanceIdOf(value)));
    if (!rec) throw dbInstanceNotFound(value);
    return rec;
  }

  private checkCanBackUp(rec: InstanceRecord): void {
    if (!this.o.worker.canBackUp(rec)) throw invalidParameterCombination(`Cellar cannot take snapshots of ${rec.engine} ${rec.engineVersion} DB instances on this host yet.`);
  }

  private checkQuota(ctx: RequestContext): void {
    const n = [...this.t.snapshots.list(scopeKey(ctx.scope))].length;
    if (n >= MANUAL_SNAPSHOT_QUOTA) throw new ServiceError('SnapshotQuotaExceeded', 'The request cannot be processed because it would exceed the maximum number of snapshots.');
  }

  private ownSnapshots(ctx: RequestContext): ListedSnapshot[] {
    const manual: ListedSnapshot[] = [...this.t.snapshots.list(scopeKey(ctx.scope))].map(([, rec]) => ({ kind: 'manual', accountId: ctx.scope.accountId, region: ctx.scope.region, rec }));
    const automated = [...this.o.backups.automated.list(scopeKey(ctx.scope))].flatMap(([, ab]) => automatedSnapshots(ab));
    return [...manual, ...automated];
  }

  /** Manual snapshots of other accounts, in the caller's region, whose `restore` attribute names the caller. */
  private sharedWith(ctx: RequestContext): ListedSnapshot[] {
    const out: ListedSnapshot[] = [];
    for (const [key, rec] of this.t.snapshots.list()) {
      const [accountId, region] = key.split('/') as [string, string];
      if (accountId === ctx.scope.accountId || region !== ctx.scope.region) continue;
      if (sharedTo(rec, ctx.scope.accountId)) out.push({ kind: 'manual', accountId, region, rec });
    }
    return out;
  }

  /**
   * A snapshot a parameter names: by identifier in the caller's scope (manual, or automated `rds:...`), or by ARN. An
   * ARN of another account reaches a manual snapshot shared with the caller, for reading (describe, copy, restore)
   * only; anything else is not found, as RDS answers.
   */
  private findSnapshot(ctx: RequestContext, value: string, purpose: 'own' | 'read'): ListedSnapshot {
    let scope: Scope = ctx.scope;
    let id = value;
    if (value.startsWith('arn:')) {
      const arn = parseArn(value);
      const sep = arn ? arn.resource.indexOf(':') : -1;
      if (!arn || arn.service !== 'rds' || sep < 0 || arn.resource.slice(0, sep) !== 'snapshot') throw invalidParameterValue(`Invalid resource name: ${value}`);
      id = arn.resource.slice(sep + 1);
      if (!ctx.scope.owns(arn, 'rds')) {
        const sameRegion = arn.partition === PARTITION && arn.region === ctx.scope.region && isAccountId(arn.accountId);
        if (purpose !== 'read' || !sameRegion) throw dbSnapshotNotFound(value);
        const rec = this.t.snapshots.get(scopeKey(Scope.crossAccount(arn), id.toLowerCase()));
        if (!rec || !sharedTo(rec, ctx.scope.accountId)) throw dbSnapshotNotFound(value);
        return { kind: 'manual', accountId: arn.accountId, region: arn.region, rec };
      }
    }
    if (id.startsWith('rds:')) {
      const found = [...this.o.backups.automated.list(scopeKey(scope))].flatMap(([, ab]) => automatedSnapshots(ab)).find((s) => listedId(s) === id.toLowerCase());
      if (!found) throw dbSnapshotNotFound(value);
      return found;
    }
    const rec = this.t.snapshots.get(scopeKey(scope, id.toLowerCase()));
    if (!rec) throw dbSnapshotNotFound(value);
    return { kind: 'manual', accountId: scope.accountId, region: scope.region, rec };
  }

  private describe(s: ListedSnapshot, ctx: RequestContext): api.DBSnapshot {
    return toSnapshot(s, ctx.scope.accountId);
  }
}

/** What a restore or a copy of a listed snapshot reads; RDS's state error when it has none (yet). */
function restorable(s: ListedSnapshot): { base: NonNullable<SnapshotRecord['base']>; source: SourceSettings } {
  if (s.kind === 'automated') return { base: s.base, source: s.ab.source };
  const status = s.rec.status ?? 'available';
  if (status !== 'available') throw invalidSnapshotState(`Snapshot ${s.rec.id} is not available (it is ${status}).`);
  if (!s.rec.base || !s.rec.source) {
    throw invalidSnapshotState(`Snapshot ${s.rec.id} was taken by an earlier version of Cellar as a copy of a stopped data directory and cannot be restored.`);
  }
  return { base: s.rec.base, source: s.rec.source };
}

function sharedTo(rec: SnapshotRecord, accountId: string): boolean {
  const to = rec.restoreAccounts ?? [];
  return (rec.status ?? 'available') === 'available' && (to.includes(accountId) || to.includes('all'));
}

function attributes(s: ListedSnapshot): api.DBSnapshotAttributesResult {
  const values = s.kind === 'manual' ? (s.rec.restoreAccounts ?? []) : [];
  return { DBSnapshotIdentifier: listedId(s), DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }] };
}

/** An instance identifier given as a name or an ARN (`arn:...:db:<id>`), lower-cased as RDS stores it. */
function instanceIdOf(value: string): string {
  const m = /^arn:[^:]+:rds:[^:]*:\d{12}:db:(.+)$/.exec(value);
  return (m ? m[1]! : value).toLowerCase();
}

