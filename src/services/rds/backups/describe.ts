/**
 * @module services/rds/backups/describe
 * The API shapes of snapshots (manual, automated, shared) and automated backups, built from the stored records.
 */
import type * as api from '../../../models/rds.js';
import type { SnapshotRecord } from '../records.js';
import { defaultVpcId } from '../network.js';
import { instanceArn } from '../status.js';
import { snapshotArn } from './events.js';
import { automatedBackupArn, automatedSnapshotId, restoreWindow, type AutomatedBackupRecord, type BaseBackupRef } from './records.js';

/** A snapshot as DescribeDBSnapshots lists it: a stored manual one, or an automated backup's base backup. */
export type ListedSnapshot =
  | { kind: 'manual'; accountId: string; region: string; rec: SnapshotRecord }
  | { kind: 'automated'; accountId: string; region: string; ab: AutomatedBackupRecord; base: BaseBackupRef; id: string };

export function automatedSnapshots(ab: AutomatedBackupRecord): ListedSnapshot[] {
  return ab.bases.map((base) => ({ kind: 'automated', accountId: ab.accountId, region: ab.region, ab, base, id: automatedSnapshotId(ab.source.instanceId, base.startedAt) }));
}

export function listedId(s: ListedSnapshot): string {
  return s.kind === 'manual' ? s.rec.id : s.id;
}

export function listedInstanceId(s: ListedSnapshot): string {
  return s.kind === 'manual' ? s.rec.instanceId : s.ab.source.instanceId;
}

export function listedDbiResourceId(s: ListedSnapshot): string | undefined {
  return s.kind === 'manual' ? s.rec.source?.dbiResourceId : s.ab.source.dbiResourceId;
}

export function listedEngine(s: ListedSnapshot): string {
  return s.kind === 'manual' ? s.rec.engine : s.ab.source.engine;
}

export function toSnapshot(s: ListedSnapshot, callerAccountId: string): api.DBSnapshot {
  if (s.kind === 'automated') {
    const src = s.ab.source;
    return {
      DBSnapshotIdentifier: s.id,
      DBInstanceIdentifier: src.instanceId,
      SnapshotCreateTime: new Date(s.base.finishedAt),
      Engine: src.engine,
      AllocatedStorage: src.allocatedStorageGiB,
      Status: 'available',
      Port: src.port,
      AvailabilityZone: src.availabilityZone,
      VpcId: defaultVpcId(s.accountId, s.region),
      InstanceCreateTime: new Date(src.instanceCreateTimeMs),
      MasterUsername: src.masterUsername,
      EngineVersion: src.engineVersion,
      LicenseModel: src.licenseModel,
      SnapshotType: 'automated',
      OptionGroupName: src.optionGroupName,
      PercentProgress: 100,
      StorageType: 'gp2',
      Encrypted: src.storageEncrypted,
      ...(src.kmsKeyId ? { KmsKeyId: src.kmsKeyId } : {}),
      DBSnapshotArn: snapshotArn(s, s.id),
      IAMDatabaseAuthenticationEnabled: false,
      ProcessorFeatures: [],
      DbiResourceId: src.dbiResourceId,
      TagList: s.ab.tags,
      OriginalSnapshotCreateTime: new Date(s.base.finishedAt),
      SnapshotDatabaseTime: new Date(s.base.consistentAt),
      SnapshotTarget: 'region',
      DedicatedLogVolume: false,
      MultiTenant: false,
    };
  }
  const r = s.rec;
  const status = r.status ?? 'available';
  const captured = r.base?.consistentAt;
  return {
    DBSnapshotIdentifier: r.id,
    DBInstanceIdentifier: r.instanceId,
    SnapshotCreateTime: new Date(r.createdAtMs),
    Engine: r.engine,
    AllocatedStorage: r.allocatedStorageGiB,
    Status: status,
    Port: r.port,
    AvailabilityZone: r.availabilityZone,
    VpcId: defaultVpcId(s.accountId, s.region),
    ...(r.source ? { InstanceCreateTime: new Date(r.source.instanceCreateTimeMs), LicenseModel: r.source.licenseModel, OptionGroupName: r.source.optionGroupName, DbiResourceId: r.source.dbiResourceId } : {}),
    MasterUsername: r.masterUsername,
    EngineVersion: r.engineVersion,
    SnapshotType: 'manual',
    PercentProgress: status === 'available' ? 100 : 0,
    ...(r.copiedFromArn ? { SourceDBSnapshotIdentifier: r.copiedFromArn, SourceRegion: s.region } : {}),
    StorageType: 'gp2',
    Encrypted: r.kmsKeyId !== undefined,
    ...(r.kmsKeyId ? { KmsKeyId: r.kmsKeyId } : {}),
    DBSnapshotArn: snapshotArn(s, r.id),
    IAMDatabaseAuthenticationEnabled: false,
    ProcessorFeatures: [],
    // Another account sees a shared snapshot's data, not its owner's tags.
    TagList: s.accountId === callerAccountId ? r.tags : [],
    OriginalSnapshotCreateTime: new Date(r.originalCreatedAtMs ?? r.createdAtMs),
    ...(captured !== undefined ? { SnapshotDatabaseTime: new Date(captured) } : {}),
    SnapshotTarget: 'region',
    DedicatedLogVolume: false,
    MultiTenant: false,
  };
}

export function toAutomatedBackup(ab: AutomatedBackupRecord, latestMs: number | undefined): api.DBInstanceAutomatedBackup {
  const src = ab.source;
  const w = restoreWindow({ ...ab, ...(latestMs !== undefined ? { latestRestorableMs: latestMs } : {}) });
  return {
    DBInstanceArn: instanceArn({ accountId: ab.accountId, region: ab.region, id: src.instanceId }),
    DbiResourceId: src.dbiResourceId,
    Region: ab.region,
    DBInstanceIdentifier: src.instanceId,
    RestoreWindow: w ? { EarliestTime: new Date(w.earliestMs), LatestTime: new Date(w.latestMs) } : {},
    AllocatedStorage: src.allocatedStorageGiB,
    Status: ab.status,
    Port: src.port,
    AvailabilityZone: src.availabilityZone,
    VpcId: defaultVpcId(ab.accountId, ab.region),
    InstanceCreateTime: new Date(src.instanceCreateTimeMs),
    MasterUsername: src.masterUsername,
    Engine: src.engine,
    EngineVersion: src.engineVersion,
    LicenseModel: src.licenseModel,
    OptionGroupName: src.optionGroupName,
    Encrypted: src.storageEncrypted,
    StorageType: 'gp2',
    ...(src.kmsKeyId ? { KmsKeyId: src.kmsKeyId } : {}),
    IAMDatabaseAuthenticationEnabled: false,
    BackupRetentionPeriod: ab.retentionDays,
    PreferredBackupWindow: ab.backupWindow,
    DBInstanceAutomatedBackupsArn: automatedBackupArn(ab),
    DBInstanceAutomatedBackupsReplications: [],
    BackupTarget: 'region',
    MultiTenant: false,
    TagList: ab.tags,
    DedicatedLogVolume: false,
  };
}
