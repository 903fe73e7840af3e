/**
 * @module services/rds/status
 * The DB instance status state machine, in RDS's own status strings, and RDS's event messages.
 * Every status change goes through `transition`, which refuses moves RDS never makes, records when
 * the new status began, and emits the event RDS emits for it (RDS User Guide, "Amazon RDS event
 * categories and event messages"). Events that are not status changes use `emit` with a message
 * from EVENTS, so every message is written once.
 */
import { Scope } from '../../core/scope.js';
import { randomBytes } from 'node:crypto';
import { log } from '../../core/log.js';
import type { EventRecord, InstanceRecord, InstanceStatus, RdsTables } from './records.js';
import { scopeKey } from './records.js';

/** RDS's DB instance event messages (event id in the comment) with their category. */
export const EVENTS = {
  created: { message: 'DB instance created', category: 'creation' }, // RDS-EVENT-0005
  deleted: { message: 'DB instance deleted', category: 'deletion' }, // RDS-EVENT-0003
  shutdown: { message: 'DB instance shutdown', category: 'availability' }, // RDS-EVENT-0004
  restarted: { message: 'DB instance restarted', category: 'availability' }, // RDS-EVENT-0006
  stopped: { message: 'DB instance stopped', category: 'notification' }, // RDS-EVENT-0087
  started: { message: 'DB instance started', category: 'notification' }, // RDS-EVENT-0088
  autoStarted: { message: 'DB instance is being started due to it exceeding the maximum allowed time being stopped.', category: 'notification' }, // RDS-EVENT-0154
  applyingClass: { message: 'Applying modification to database instance class', category: 'configuration change' }, // RDS-EVENT-0012
  finishedClass: { message: 'Finished applying modification to DB instance class', category: 'configuration change' }, // RDS-EVENT-0014
  applyingStorage: { message: 'The storage settings for this DB instance are being changed.', category: 'configuration change' }, // RDS-EVENT-0018
  finishedStorage: { message: 'Finished applying modification to allocated storage', category: 'configuration change' }, // RDS-EVENT-0017
  resetCredentials: { message: 'Reset master credentials', category: 'configuration change' }, // RDS-EVENT-0016
  parameterGroupChanged: { message: 'Updated to use DBParameterGroup %s', category: 'configuration change' }, // RDS-EVENT-0011
  parameterGroupApplied: { message: 'Finished updating DB parameter group', category: 'configuration change' }, // RDS-EVENT-0092
  portChanged: { message: 'The DB instance port has been changed to %s', category: 'configuration change' },
  storageExhausted: { message: 'Allocated storage has been exhausted. Allocate additional storage to resolve the issue.', category: 'low storage' }, // RDS-EVENT-0007
  failed: {
    message: 'The DB instance has failed due to an incompatible configuration or an underlying storage issue. Begin a point-in-time-restore for the DB instance.',
    category: 'failure',
  }, // RDS-EVENT-0031
  restartError: { message: 'Error restarting %s: %s', category: 'availability' }, // RDS-EVENT-0022
  recoveryStarted: { message: 'Recovery of the DB instance has started. Recovery time will vary with the amount of data to be recovered.', category: 'recovery' }, // RDS-EVENT-0019
  recoveryComplete: { message: 'Recovery of the DB instance is complete.', category: 'recovery' }, // RDS-EVENT-0020
  masterSecretRotated: { message: 'Master user password for the DB instance has been rotated', category: 'configuration change' },
  finalSnapshotFailed: { message: 'The final DB snapshot %s could not be created; the DB instance was not deleted', category: 'failure' },
} as const;

export type EventName = keyof typeof EVENTS;

/** The moves RDS makes; anything else is a bug in the caller, refused loudly. */
const ALLOWED: Record<InstanceStatus, readonly InstanceStatus[]> = {
  // A new instance's first backup is taken as soon as its engine is up (RDS shows `backing-up` then).
  creating: ['available', 'backing-up', 'failed', 'deleting', 'storage-full'],
  available: ['backing-up', 'modifying', 'rebooting', 'resetting-master-credentials', 'stopping', 'deleting', 'storage-full', 'failed'],
  'backing-up': ['available', 'storage-full', 'rebooting', 'failed', 'deleting'],
  modifying: ['available', 'storage-full', 'failed', 'deleting', 'rebooting'],
  rebooting: ['available', 'storage-full', 'failed', 'deleting'],
  'resetting-master-credentials': ['available', 'storage-full', 'failed', 'deleting'],
  stopping: ['stopped', 'failed', 'deleting'],
  stopped: ['starting', 'deleting', 'modifying'],
  starting: ['available', 'storage-full', 'failed', 'deleting'],
  // A deletion whose final snapshot cannot be taken fails the instance rather than losing its data or retrying forever.
  deleting: ['failed'],
  'storage-full': ['available', 'modifying', 'rebooting', 'resetting-master-credentials', 'stopping', 'deleting', 'failed'],
  failed: ['deleting', 'rebooting'],
};

/** Which event, if any, marks arriving in a status from another. */
function arrivalEvent(from: InstanceStatus, to: InstanceStatus): EventName | undefined {
  if (to === 'available' || to === 'storage-full' || to === 'backing-up') {
    if (from === 'creating') return 'created';
    if (from === 'rebooting') return 'restarted';
    if (from === 'starting') return 'started';
  }
  if (to === 'stopped') return 'stopped';
  if (to === 'failed') return 'failed';
  if (to === 'storage-full') return 'storageExhausted';
  return undefined;
}

export class InvalidTransition extends Error {}

export class InstanceEvents {
  private seq = 0;
  constructor(private readonly tables: RdsTables) {}

  /** Records an event for an instance (or another source) in its account and region. */
  emit(scope: Scope, event: Omit<EventRecord, 'dateMs'>, nowMs: number): void {
    // Key: time, then a per-process sequence and random suffix so events in the same millisecond keep order.
    const key = scopeKey(scope, `${String(nowMs).padStart(15, '0')}-${String(this.seq++ % 1e6).padStart(6, '0')}-${randomBytes(3).toString('hex')}`);
    this.tables.events.put(key, { ...event, dateMs: nowMs });
    log('info', 'rds event', { account: scope.accountId, region: scope.region, source: event.sourceId, message: event.message });
  }

  emitInstance(rec: InstanceRecord, name: EventName, nowMs: number, ...args: string[]): void {
    let message: string = EVENTS[name].message;
    for (const a of args) message = message.replace('%s', a);
    this.emit(Scope.ofRecord(rec), { sourceId: rec.id, sourceType: 'db-instance', message, categories: [EVENTS[name].category], sourceArn: instanceArn(rec) }, nowMs);
  }

  /**
   * Moves rec to status `to` (in memory; the caller persists), recording when it began and emitting
   * the matching event. A move to the status it already has is a no-op.
   */
  transition(rec: InstanceRecord, to: InstanceStatus, nowMs: number): InstanceRecord {
    const from = rec.status;
    if (from === to) return rec;
    if (!ALLOWED[from].includes(to)) throw new InvalidTransition(`DB instance ${rec.id} cannot go from ${from} to ${to}`);
    rec.status = to;
    rec.statusSinceMs = nowMs;
    const ev = arrivalEvent(from, to);
    if (ev) this.emitInstance(rec, ev, nowMs);
    // A restart out of storage-full into available after more storage: RDS reports recovery.
    return rec;
  }
}

export function instanceArn(rec: Pick<InstanceRecord, 'accountId' | 'region' | 'id'>): string {
  return `arn:aws:rds:${rec.region}:${rec.accountId}:db:${rec.id}`;
}
