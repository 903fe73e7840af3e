/**
 * @module services/rds/records
 * What RDS keeps durably, one JSON document per resource in the state store, keyed
 * `<account>/<region>/<name>` so every table is scoped by account and region. A DB instance record is a runtime
 * resource record (runtime/resource.ts): its spec fields and `desired` are what the API asked for, `observed` is what
 * the reconciler and the health decider saw, and `status` is derived from the two by the transition table
 * (runtime/transitions.ts). A Cellar that dies mid-action finds desired and observed still apart on restart, and the
 * reconciler finishes the work.
 *
 * Records written before the runtime (status as a command, `desiredRunning`, `generation`, `storageFull` on the
 * record) are migrated when read (`migrateInstance`), and written back in the new shape by the next write.
 */
import { JsonTable, type ScopeLike, type Store } from '../../storage/store.js';
import type { Member, RuntimeFields } from '../../runtime/resource.js';
import type { ObservedState } from '../../runtime/transitions.js';
import type { BaseBackupInfo } from '../../engines/adapter.js';
import type { EngineKind, RdsEngine } from './catalog.js';
import type { Tag } from './tag.js';

/**
 * The built-in rotation function of managed master passwords (`arn:aws:lambda:<region>:<account>:function:<name>`
 * resolves to it). Here rather than in master-secret.ts so that the service definition can register it with
 * Secrets Manager without loading the RDS provider.
 */
export const ROTATION_FUNCTION = 'cellar-rds-master-user-password-rotation';

/**
 * Additional data of the master password's seal (crypto/rootkey.ts). Here, with the records it protects, so that
 * the provider, the supervisor and master-secret.ts share it without importing each other.
 */
export const SEAL_AAD = 'rds-master-password';

/** RDS's DB instance statuses that Cellar uses (RDS's own strings; derived, see runtime/transitions.ts). */
export type { ResourceStatus as InstanceStatus } from '../../runtime/transitions.js';

export type { Tag } from './tag.js';

/** Changes waiting for the maintenance window or a reboot (ApplyImmediately=false). */
export interface PendingChanges {
  DBInstanceClass?: string;
  AllocatedStorage?: number;
  /** Sealed with the root key; only its presence is reported (as `****`). */
  MasterUserPasswordSealed?: string;
  Port?: number;
}

export interface MasterUserSecretRecord {
  secretArn: string;
  kmsKeyId: string;
  status: 'creating' | 'active' | 'rotating' | 'impaired';
}

export interface InstanceRecord extends RuntimeFields {
  id: string;
  accountId: string;
  region: string;
  engine: RdsEngine;
  engineKind: EngineKind;
  engineVersion: string;
  family: string;
  licenseModel: string;
  instanceClass: string;
  allocatedStorageGiB: number;
  masterUsername: string;
  /** The master password sealed under the root key: never stored in plaintext. */
  masterPasswordSealed: string;
  masterUserSecret?: MasterUserSecretRecord;
  dbName?: string;
  port: number;
  parameterGroupName: string;
  optionGroupName: string;
  vpcSecurityGroupIds: string[];
  subnetGroupName: string;
  availabilityZone: string;
  publiclyAccessible: boolean;
  storageEncrypted: boolean;
  kmsKeyId?: string;
  deletionProtection: boolean;
  backupRetentionPeriod: number;
  preferredBackupWindow: string;
  preferredMaintenanceWindow: string;
  autoMinorVersionUpgrade: boolean;
  copyTagsToSnapshot: boolean;
  tags: Tag[];
  createdAtMs: number;
  dbiResourceId: string;
  pending: PendingChanges;
  /** When a StopDBInstance took effect; RDS starts the instance again 7 days later. */
  stoppedAtMs?: number;
  /** Modifications being applied right now (status `modifying`), applied in the reconciler. */
  applying?: PendingChanges;
  /** Settings the running engine was started with: static parameters differ => pending-reboot. */
  startedWithStatic?: Record<string, string>;
  /** Dynamic settings last applied to the running engine. */
  appliedDynamic?: Record<string, string>;
  /** When the TLS certificate the engine serves expires (DescribeDBInstances CertificateDetails.ValidTill). */
  tlsValidTillMs?: number;
  /** The engine data directory, under Cellar's data directory. */
  dataDir: string;
  /** Final snapshot requested by DeleteDBInstance, taken by the deletion before the engine stops. */
  finalSnapshotId?: string;
  /** DeleteDBInstance DeleteAutomatedBackups=false: the automated backups stay, `retained`. */
  retainAutomatedBackups?: boolean;
  /** Set on an instance made by a restore: what its create step restores instead of initialising a new engine. */
  restore?: RestoreSource;
  /** Last maintenance-window check, so a window is not missed when the clock jumps. */
  lastMaintenanceCheckMs?: number;
}

/** A finished base backup as the engine adapter reports it: a full physical backup, compressed and checksummed. */
export type BaseBackupRef = BaseBackupInfo;

/** What a restored instance is made from; the create step of the reconciler finds it on the new instance record. */
export interface RestoreSource {
  kind: 'snapshot' | 'point-in-time';
  /** The snapshot identifier or the source instance identifier, for events. */
  sourceName: string;
  base: BaseBackupRef;
  /** Point-in-time restores replay the archived log from here. */
  archiveDir?: string;
  /**
   * Epoch ms the data must be exactly as of (point-in-time restores); absent: everything archived, when the time asked
   * is past the newest archived change (nothing changed between them).
   */
  targetTimeMs?: number;
  /** The time the request asked for (the restoration event names it). */
  requestedTimeMs?: number;
  /** The automated backup the restore reads (its bases are not pruned meanwhile). */
  automatedBackupKey?: string;
}

/**
 * Settings of an instance that a restore from its backups needs once the instance is gone (backups/records.ts keeps
 * them with the automated backups, SnapshotRecord with a snapshot): the instance record's own fields, and its `id` and
 * `createdAtMs` under names of their own.
 */
export type SourceSettings = Pick<
  InstanceRecord,
  | 'engine'
  | 'engineKind'
  | 'engineVersion'
  | 'family'
  | 'licenseModel'
  | 'instanceClass'
  | 'allocatedStorageGiB'
  | 'masterUsername'
  // Sealed under the root key, as on the instance record; the restored data carries the same password.
  | 'masterPasswordSealed'
  | 'dbName'
  | 'port'
  | 'availabilityZone'
  | 'optionGroupName'
  | 'storageEncrypted'
  | 'kmsKeyId'
  | 'dbiResourceId'
> & {
  instanceId: string;
  instanceCreateTimeMs: number;
  /** What a restore inherits when it names none (RDS User Guide, "Backup retention period"); absent in older records. */
  backupRetentionPeriod?: number;
};

/** A manual snapshot's extra state (kept optional on SnapshotRecord, so records of earlier Cellars still read). */
export type SnapshotStatus = 'creating' | 'available' | 'copying' | 'failed';

/** The shape records had before the runtime (status as the reconciler's command). */
interface LegacyInstanceFields {
  desiredRunning?: boolean;
  generation?: number;
  storageFull?: boolean;
}

/**
 * Reads a stored instance in the current shape. A record from before the runtime carries its action in `status`:
 * that becomes the desired state it asked for, and nothing is taken as observed about its engine (this Cellar has
 * not seen it yet), so the reconciler redoes the action idempotently.
 */
export function migrateInstance(raw: InstanceRecord): InstanceRecord {
  if (raw.desired && raw.observed && raw.members) return raw;
  const legacy = raw as InstanceRecord & LegacyInstanceFields;
  const status = legacy.status;
  const generation = legacy.generation ?? 1;
  const running = status === 'stopping' || status === 'stopped' || status === 'deleting' ? false : (legacy.desiredRunning ?? true);
  const observed: ObservedState = {
    generation: 0,
    created: status !== 'creating',
    engine: status === 'stopped' || status === 'starting' ? 'stopped' : 'detached',
    rebootGeneration: 0,
    storageFull: legacy.storageFull ?? false,
    ...(status === 'failed' ? { failed: { generation, reason: 'failed before this Cellar was upgraded' } } : {}),
  };
  const members: Member[] = [{ role: 'primary', availabilityZone: raw.availabilityZone, host: '127.0.0.1', dataDir: raw.dataDir, port: raw.port }];
  const rec: InstanceRecord = {
    ...raw,
    desired: { generation, running, deleted: status === 'deleting', rebootGeneration: status === 'rebooting' ? 1 : 0 },
    observed,
    members,
  };
  const stale = rec as InstanceRecord & LegacyInstanceFields;
  delete stale.desiredRunning;
  delete stale.generation;
  delete stale.storageFull;
  return rec;
}

export interface ParameterGroupRecord {
  name: string;
  family: string;
  description: string;
  /** User-set values (ParameterName → value). */
  values: Record<string, string>;
  tags: Tag[];
  isDefault: boolean;
}

export interface SubnetGroupRecord {
  name: string;
  description: string;
  vpcId: string;
  subnets: Array<{ id: string; az: string }>;
  tags: Tag[];
}

export interface OptionGroupRecord {
  name: string;
  description: string;
  engineName: string;
  majorEngineVersion: string;
  tags: Tag[];
  isDefault: boolean;
}

export interface EventRecord {
  sourceId: string;
  sourceType: 'db-instance' | 'db-parameter-group' | 'db-security-group' | 'db-snapshot';
  message: string;
  categories: string[];
  dateMs: number;
  sourceArn: string;
}

export interface SnapshotRecord {
  id: string;
  instanceId: string;
  /**
   * Where an earlier Cellar's copy of the stopped data directory is (final snapshots before backups were taken by the
   * engines' tools). Such snapshots are listed but cannot be restored (see backups/api.ts).
   */
  dir?: string;
  /** The engine's base backup this snapshot is (absent while `creating`, and in earlier Cellars' records). */
  base?: BaseBackupRef;
  /** Absent in earlier Cellars' records: `available`. */
  status?: SnapshotStatus;
  /** The settings a restore needs (absent in earlier Cellars' records). */
  source?: SourceSettings;
  /** CopyDBSnapshot: the snapshot this one copies (an ARN), and its backup while the copy is made. */
  copiedFromArn?: string;
  copyOf?: BaseBackupRef;
  /** When the data was captured, for copies: the original's. */
  originalCreatedAtMs?: number;
  /** ModifyDBSnapshotAttribute `restore`: account IDs (or `all`) that may restore and copy it. */
  restoreAccounts?: string[];
  /** Why it failed, when `failed`. */
  failure?: string;
  /** The instance's storage key ARN: the snapshot is encrypted under it, as RDS's are. */
  kmsKeyId?: string;
  createdAtMs: number;
  engine: RdsEngine;
  engineVersion: string;
  allocatedStorageGiB: number;
  masterUsername: string;
  port: number;
  availabilityZone: string;
  tags: Tag[];
}

/** Port allocation: one row per port Cellar gave an instance, so two instances never share one. */
export interface PortRecord {
  accountId: string;
  region: string;
  instanceId: string;
}

export class RdsTables {
  readonly instances: JsonTable<InstanceRecord>;
  readonly parameterGroups: JsonTable<ParameterGroupRecord>;
  readonly subnetGroups: JsonTable<SubnetGroupRecord>;
  readonly optionGroups: JsonTable<OptionGroupRecord>;
  readonly events: JsonTable<EventRecord>;
  readonly snapshots: JsonTable<SnapshotRecord>;
  readonly ports: JsonTable<PortRecord>;

  constructor(readonly store: Store) {
    this.instances = new JsonTable(store.keyspace('rds_instances'), migrateInstance);
    this.parameterGroups = new JsonTable(store.keyspace('rds_parameter_groups'));
    this.subnetGroups = new JsonTable(store.keyspace('rds_subnet_groups'));
    this.optionGroups = new JsonTable(store.keyspace('rds_option_groups'));
    this.events = new JsonTable(store.keyspace('rds_events'));
    this.snapshots = new JsonTable(store.keyspace('rds_snapshots'));
    this.ports = new JsonTable(store.keyspace('rds_ports'));
  }
}

/** The store key of a resource of a scope (core/scope.ts): `<account>/<region>/<name>`; with no name, the scope's prefix. */
export function scopeKey(scope: ScopeLike, name = ''): string {
  return scope.prefix + name;
}

/** Port keys sort numerically as zero-padded strings. */
export function portKey(port: number): string {
  return String(port).padStart(5, '0');
}
