/**
 * @module services/secretsmanager/records
 * How secrets are kept: one JSON record per secret (metadata, versions and their staging labels) in
 * `sm_secrets`, each version's value sealed separately in `sm_values` (only ciphertext: the value is
 * encrypted under a KMS data key before it reaches the store), and a due-time index in `sm_due` so
 * the scheduler finds scheduled deletions and rotations without reading every secret.
 * Keys are `<account>/<region>/<name>`: state is scoped by account and region, and reached through a Scope
 * (core/scope.ts): `get`/`list` take one, `save`/`purge` use the record's own.
 */
import { JsonTable, type Store } from '../../storage/store.js';
import { Scope } from '../../core/scope.js';
import type { RotationRulesType, Tag } from '../../models/secretsmanager.js';

export interface VersionMeta {
  id: string;
  stages: string[];
  createdMs: number;
  /** Midnight UTC of the last day it was read (AWS reports access dates to the day). */
  lastAccessedDayMs?: number;
  /** The KMS key its value is encrypted under; absent for an empty version (a rotation's placeholder). */
  kmsKeyArn?: string;
}

export interface PendingRotation {
  token: string;
  rotationToken: string;
  /** false: RotateImmediately=false, which only tests the function (testSecret). */
  immediately: boolean;
  startedMs: number;
  state: 'running' | 'failed';
}

export interface RotationState {
  enabled: boolean;
  lambdaArn?: string;
  rules?: RotationRulesType;
  /** What the next window is counted from: the last rotation (or manual change), or when rotation was set up. */
  baseMs?: number;
  lastRotatedMs?: number;
  nextStartMs?: number;
  nextReportedMs?: number;
  pending?: PendingRotation;
  lastFailure?: { step: string; message: string; atMs: number };
  /**
   * Managed rotation: the owning service rotates the secret through its own built-in function, which AWS does not
   * report as a RotationLambdaARN.
   */
  managed?: boolean;
}

export interface ReplicaState {
  Region: string;
  KmsKeyId: string;
  Status: 'InSync' | 'Failed' | 'InProgress';
  StatusMessage: string;
}

export interface SecretRecord {
  arn: string;
  name: string;
  accountId: string;
  region: string;
  description?: string;
  /** As the caller gave it; absent means the AWS-managed key aws/secretsmanager. */
  kmsKeyId?: string;
  type?: string;
  owningService?: string;
  createdMs: number;
  lastChangedMs: number;
  lastAccessedDayMs?: number;
  deletedMs?: number;
  deletionDueMs?: number;
  tags: Tag[];
  policy?: string;
  rotation?: RotationState;
  /** On a replica: the primary's region. */
  primaryRegion?: string;
  /** On a primary: where it is replicated. */
  replicas: ReplicaState[];
  versions: Record<string, VersionMeta>;
  /** The sm_due keys this record currently holds, so a save can drop stale ones. */
  dueKeys: string[];
}

/** A sealed value: AES-256-GCM under a KMS data key whose ciphertext sits beside it. */
export interface SealedValue {
  keyArn: string;
  dataKey: string;
  iv: string;
  tag: string;
  body: string;
  binary: boolean;
}

export type DueKind = 'delete' | 'rotate';

/** The store key of a secret: its own scope's key for its name. */
export function secretKey(rec: Pick<SecretRecord, 'accountId' | 'region' | 'name'>): string {
  return Scope.ofRecord(rec).key(rec.name);
}

function dueKey(kind: DueKind, dueMs: number, key: string): string {
  return `${String(Math.max(0, Math.floor(dueMs))).padStart(15, '0')}|${kind}|${key}`;
}

export class SecretRepository {
  private readonly secrets: JsonTable<SecretRecord>;
  readonly values: JsonTable<SealedValue>;
  private readonly due: JsonTable<{ kind: DueKind; key: string; dueMs: number }>;

  constructor(readonly store: Store) {
    this.secrets = new JsonTable(store.keyspace('sm_secrets'));
    this.values = new JsonTable(store.keyspace('sm_values'));
    this.due = new JsonTable(store.keyspace('sm_due'));
  }

  get(scope: Scope, name: string): SecretRecord | undefined {
    return this.secrets.get(scope.key(name));
  }

  list(scope: Scope): SecretRecord[] {
    return this.secrets.list(scope.prefix).map(([, r]) => r);
  }

  /** A secret by its store key (the due index's and the rotation runner's handle on it; never a request's string). */
  byStoreKey(key: string): SecretRecord | undefined {
    return this.secrets.get(key);
  }

  /** Writes the record and brings its due-index entries in line with it (call inside a transaction with related writes). */
  save(rec: SecretRecord): void {
    const key = secretKey(rec);
    const wanted: string[] = [];
    if (rec.deletionDueMs !== undefined) wanted.push(dueKey('delete', rec.deletionDueMs, key));
    else if (rec.rotation?.enabled && rec.rotation.nextStartMs !== undefined && !rec.primaryRegion) wanted.push(dueKey('rotate', rec.rotation.nextStartMs, key));
    this.store.transaction(() => {
      for (const old of rec.dueKeys) if (!wanted.includes(old)) this.due.delete(old);
      for (const k of wanted) {
        if (!rec.dueKeys.includes(k)) {
          const [ms, kind] = k.split('|') as [string, DueKind];
          this.due.put(k, { kind, key, dueMs: Number(ms) });
        }
      }
      rec.dueKeys = wanted;
      this.secrets.put(key, rec);
    });
  }

  /** Removes the secret, every version's value and its index entries. */
  purge(rec: SecretRecord): void {
    this.store.transaction(() => {
      for (const id of Object.keys(rec.versions)) this.values.delete(valueKey(rec.arn, id));
      for (const k of rec.dueKeys) this.due.delete(k);
      this.secrets.delete(secretKey(rec));
    });
  }

  /** Index entries due at or before nowMs, oldest first, at most limit of them. */
  dueBefore(nowMs: number, limit: number): Array<{ kind: DueKind; key: string; dueMs: number; indexKey: string }> {
    const out: Array<{ kind: DueKind; key: string; dueMs: number; indexKey: string }> = [];
    for (const [k, v] of this.due.list()) {
      if (v.dueMs > nowMs || out.length >= limit) break;
      out.push({ ...v, indexKey: k });
    }
    return out;
  }

  dropDue(indexKey: string): void {
    this.due.delete(indexKey);
  }

  all(): SecretRecord[] {
    return this.secrets.list().map(([, r]) => r);
  }
}

export function valueKey(arn: string, versionId: string): string {
  return `${arn}|${versionId}`;
}
