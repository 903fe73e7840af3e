/**
 * @module services/rds/backups/records
 * What RDS keeps durably about backups, beside the instance records (../records.ts):
 *
 * - one automated-backup record per DB instance resource (DbiResourceId) with backups on: its base backups, where its
 *   archived log lives, and a copy of the instance settings needed to restore it after the instance is gone
 *   (DeleteDBInstance with DeleteAutomatedBackups=false leaves it `retained`);
 * - the manual snapshots live in the RDS snapshot table (../records.ts SnapshotRecord, with what a snapshot taken by
 *   the engine's own backup tool needs: its base backup, status and source settings, defined there too, beside the
 *   instance record they are taken from, and re-exported here).
 *
 * Automated snapshots (`rds:<instance>-<yyyy-mm-dd-hh-mm>`) are not stored separately: they are the automated-backup
 * records' base backups, as on RDS, and go when retention prunes them.
 */
import { createHash } from 'node:crypto';
import { JsonTable, type ScopeLike, type Store } from '../../../storage/store.js';
import type { BaseBackupRef, SourceSettings, Tag } from '../records.js';

/** The record shapes backups share with the instance and snapshot records (they live in ../records.ts). */
export type { BaseBackupRef, RestoreSource, SnapshotStatus, SourceSettings } from '../records.js';

/** Where one instance's backups live (engines/backup): base backups in baseDir, the archived log in archiveDir. */
export interface BackupPlaceRef {
  baseDir: string;
  archiveDir: string;
}

export type AutomatedBackupStatus = 'active' | 'retained' | 'creating';

export interface AutomatedBackupRecord {
  accountId: string;
  region: string;
  status: AutomatedBackupStatus;
  source: SourceSettings;
  retentionDays: number;
  backupWindow: string;
  place: BackupPlaceRef;
  /** Oldest first. */
  bases: BaseBackupRef[];
  /** Newest moment restorable, as last observed (epoch ms); refreshed often while the instance runs. */
  latestRestorableMs?: number;
  /** When the instance was deleted with DeleteAutomatedBackups=false (Cellar's clock). */
  retainedAtMs?: number;
  /**
   * When the newest base backup was started by Cellar's clock (the base's own times are the engine's wall clock):
   * the daily schedule compares it with the backup window, so a clock moved forward takes one backup, not one a tick.
   */
  lastBackupAtMs?: number;
  tags: Tag[];
}

export class BackupTables {
  readonly automated: JsonTable<AutomatedBackupRecord>;
  constructor(readonly store: Store) {
    this.automated = new JsonTable(store.keyspace('rds_automated_backups'));
  }
}

export function automatedKey(scope: ScopeLike, dbiResourceId: string): string {
  return scope.prefix + dbiResourceId;
}

/** RDS's automated-backup ARN: `arn:aws:rds:<region>:<account>:auto-backup:ab-<id>` (lower case, stable per resource). */
export function automatedBackupArn(rec: Pick<AutomatedBackupRecord, 'accountId' | 'region' | 'source'>): string {
  const id = createHash('sha256').update(rec.source.dbiResourceId).digest('hex').slice(0, 40);
  return `arn:aws:rds:${rec.region}:${rec.accountId}:auto-backup:ab-${id}`;
}

/** The automated snapshot name RDS gives a daily backup: `rds:<instance>-yyyy-mm-dd-hh-mm`. */
export function automatedSnapshotId(instanceId: string, startedAtMs: number): string {
  const d = new Date(startedAtMs).toISOString();
  return `rds:${instanceId}-${d.slice(0, 10)}-${d.slice(11, 13)}-${d.slice(14, 16)}`;
}

/** The restorable window of an automated backup: from its oldest base's consistency point to the latest archived. */
export function restoreWindow(rec: AutomatedBackupRecord): { earliestMs: number; latestMs: number } | undefined {
  const first = rec.bases[0];
  if (!first) return undefined;
  const newest = rec.bases[rec.bases.length - 1]!;
  const latest = Math.max(rec.latestRestorableMs ?? 0, newest.consistentAt);
  return { earliestMs: first.consistentAt, latestMs: latest };
}

/** Where a retention of `retentionDays` puts the start of the restorable window now. */
export function windowStartMs(retentionDays: number, nowMs: number): number {
  return nowMs - retentionDays * 86_400_000;
}

/**
 * The place name of a manual snapshot's backup (engines/backup/location.ts): fixed-length, made of the scope and the
 * snapshot identifier, so no identifier RDS accepts (up to 255 characters) makes an over-long or unsafe path.
 */
export function snapshotPlaceId(scope: { accountId: string; region: string }, snapshotId: string): string {
  return `snap-${createHash('sha256').update(`${scope.accountId}/${scope.region}/${snapshotId}`).digest('hex').slice(0, 40)}`;
}
