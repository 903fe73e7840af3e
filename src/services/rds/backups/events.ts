/**
 * @module services/rds/backups/events
 * RDS's backup, snapshot and restore events (RDS User Guide, "Amazon RDS event categories and event messages"; the
 * event id in each comment), recorded through the instance events table so DescribeEvents serves them.
 */
import { Scope } from '../../../core/scope.js';
import type { InstanceEvents } from '../status.js';
import { instanceArn } from '../status.js';

export const INSTANCE_BACKUP_EVENTS = {
  backupStarted: { message: 'Backing up DB instance', category: 'backup' }, // RDS-EVENT-0001
  backupFinished: { message: 'Finished DB Instance backup', category: 'backup' }, // RDS-EVENT-0002
  backupFailed: { message: 'The backup of the DB instance failed: %s', category: 'backup' },
  backupsDisabled: { message: 'Automated backups for this DB instance have been disabled', category: 'configuration change' }, // RDS-EVENT-0028
  backupsEnabled: { message: 'Automated backups for this DB instance have been enabled', category: 'configuration change' }, // RDS-EVENT-0032
  restoredFromSnapshot: { message: 'Restored from snapshot %s', category: 'restoration' }, // RDS-EVENT-0043
  restoredToPointInTime: { message: 'Restored from DB instance %s to %s', category: 'restoration' }, // RDS-EVENT-0019
  restoreFailed: { message: 'The DB instance could not be restored: %s', category: 'failure' },
} as const;

export const SNAPSHOT_EVENTS = {
  manualStarted: { message: 'Creating manual snapshot', category: 'creation' }, // RDS-EVENT-0040
  manualFinished: { message: 'Manual snapshot created', category: 'creation' }, // RDS-EVENT-0042
  automatedStarted: { message: 'Creating automated snapshot', category: 'creation' }, // RDS-EVENT-0090
  automatedFinished: { message: 'Automated snapshot created', category: 'creation' }, // RDS-EVENT-0091
  deleted: { message: 'Deleted manual snapshot', category: 'deletion' }, // RDS-EVENT-0041
  copyStarted: { message: 'Started copy of snapshot %s in region %s', category: 'notification' }, // RDS-EVENT-0196
  copyFinished: { message: 'Finished copy of snapshot %s in region %s', category: 'notification' }, // RDS-EVENT-0197
  failed: { message: 'The snapshot could not be created: %s', category: 'notification' },
} as const;

/** The categories DescribeEventCategories lists for the sources backups add events to. */
export const BACKUP_CATEGORIES = { instance: ['backup', 'restoration'], snapshot: ['creation', 'deletion', 'notification', 'restoration'] };

function fill(message: string, args: string[]): string {
  let out = message;
  for (const a of args) out = out.replace('%s', a);
  return out;
}

export function emitInstanceBackupEvent(
  events: InstanceEvents,
  rec: { id: string; accountId: string; region: string },
  name: keyof typeof INSTANCE_BACKUP_EVENTS,
  nowMs: number,
  ...args: string[]
): void {
  const e = INSTANCE_BACKUP_EVENTS[name];
  events.emit(Scope.ofRecord(rec), { sourceId: rec.id, sourceType: 'db-instance', message: fill(e.message, args), categories: [e.category], sourceArn: instanceArn(rec) }, nowMs);
}

export function emitSnapshotEvent(
  events: InstanceEvents,
  scope: { accountId: string; region: string },
  snapshotId: string,
  name: keyof typeof SNAPSHOT_EVENTS,
  nowMs: number,
  ...args: string[]
): void {
  const e = SNAPSHOT_EVENTS[name];
  events.emit(
    Scope.ofRecord(scope),
    { sourceId: snapshotId, sourceType: 'db-snapshot', message: fill(e.message, args), categories: [e.category], sourceArn: snapshotArn(scope, snapshotId) },
    nowMs,
  );
}

export function snapshotArn(scope: { accountId: string; region: string }, snapshotId: string): string {
  return `arn:aws:rds:${scope.region}:${scope.accountId}:snapshot:${snapshotId}`;
}
