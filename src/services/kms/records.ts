/**
 * @module services/kms/records
 * How KMS keeps its state: keys, aliases and grants, each in its own keyspace and reached through the caller's (or
 * the key's) Scope. A key's material is stored sealed by the root key, never in plaintext (see key-material.ts).
 */
import { Scope } from '../../core/scope.js';
import { ScopedTable, type Store } from '../../storage/store.js';
import type * as api from '../../models/kms.js';

export const DAY_MS = 86_400_000;
export const DEFAULT_ROTATION_DAYS = 365;

export interface KeyMaterialRecord {
  sealed: string;
  id: string;
  createdMs: number;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
}

export interface KeyRecord {
  keyId: string;
  arn: string;
  accountId: string;
  region: string;
  createdMs: number;
  description: string;
  state: 'Enabled' | 'Disabled' | 'PendingDeletion';
  /** Sealed 32-byte materials, oldest first; the last is current. */
  materials: KeyMaterialRecord[];
  keyManager: 'AWS' | 'CUSTOMER';
  /** For AWS managed keys: the service they serve (`secretsmanager` for alias/aws/secretsmanager). */
  managedFor?: string;
  multiRegion: boolean;
  rotationEnabled: boolean;
  rotationPeriodDays: number;
  nextRotationMs?: number;
  onDemandRotationStartMs?: number;
  deletionMs?: number;
  pendingWindowDays?: number;
  tags: Record<string, string>;
  policies: Record<string, string>;
}

export interface AliasRecord {
  name: string;
  arn: string;
  targetKeyId: string;
  createdMs: number;
  updatedMs: number;
}

export type GrantOperation = api.CreateGrantRequest['Operations'][number];

export interface GrantRecord {
  grantId: string;
  keyId: string;
  name?: string;
  createdMs: number;
  granteePrincipal: string;
  retiringPrincipal?: string;
  issuingAccount: string;
  operations: GrantOperation[];
  constraints?: api.GrantConstraints;
  token: string;
}

export class KmsTables {
  readonly keys: ScopedTable<KeyRecord>;
  readonly aliases: ScopedTable<AliasRecord>;
  /** Keyed `<key id>/<grant id>` in the key's scope. */
  readonly grants: ScopedTable<GrantRecord>;

  constructor(readonly store: Store) {
    this.keys = new ScopedTable(store.keyspace('kms_keys'));
    this.aliases = new ScopedTable(store.keyspace('kms_aliases'));
    this.grants = new ScopedTable(store.keyspace('kms_grants'));
  }

  save(key: KeyRecord): void {
    this.keys.put(Scope.ofRecord(key), key.keyId, key);
  }
}
