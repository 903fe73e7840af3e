/**
 * @module services/rds/status
 * RDS's event messages, and the one place a DB instance's status changes: `settle` derives it from the record's
 * desired and observed state through the runtime's transition table (runtime/transitions.ts), records when the new
 * status began, and emits the events RDS emits for the move (RDS User Guide, "Amazon RDS event categories and event
 * messages"). Events that are not status changes use `emitInstance` with a message from EVENTS, so every message is
 * written once. Events are kept in the runtime's bounded event log (14 days, bounded count: runtime/events.ts).
 */
import { Scope } from '../../core/scope.js';
import { log } from '../../core/log.js';
import { EventLog, type EventLogOptions } from '../../runtime/events.js';
import { settleStatus } from '../../runtime/resource.js';
import type { DesiredState, ResourceStatus } from '../../runtime/transitions.js';
import type { EventRecord, InstanceRecord, RdsTables } from './records.js';

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
  masterSecretRotated: { message: 'Master user password for the DB instance has been rotated', category: 'configuration change' },
  finalSnapshotFailed: { message: 'The final DB snapshot %s could not be created; the DB instance was not deleted', category: 'failure' },
} as const;

export type EventName = keyof typeof EVENTS;

/** The full desired state of an instance: what its record stores, and what its spec fields imply. */
export function desiredOf(rec: InstanceRecord): DesiredState {
  return {
    ...rec.desired,
    modifying: rec.applying !== undefined,
    credentialsPending: rec.pending.MasterUserPasswordSealed !== undefined,
  };
}

export class InstanceEvents {
  readonly log: EventLog<EventRecord>;

  constructor(tables: RdsTables, options: EventLogOptions = {}) {
    this.log = new EventLog(tables.store, tables.events, options);
  }

  /** Records an event for an instance (or another source) in its account and region. */
  emit(scope: Scope, event: Omit<EventRecord, 'dateMs'>, nowMs: number): void {
    this.log.append(scope, { ...event, dateMs: nowMs });
    log('info', 'rds event', { account: scope.accountId, region: scope.region, source: event.sourceId, message: event.message });
  }

  emitInstance(rec: InstanceRecord, name: EventName, nowMs: number, ...args: string[]): void {
    let message: string = EVENTS[name].message;
    for (const a of args) message = message.replace('%s', a);
    this.emitMessage(rec, message, EVENTS[name].category, nowMs);
  }

  /** An event in Cellar's words (a reconcile step's sentence), category `notification`. */
  emitMessage(rec: InstanceRecord, message: string, category: string, nowMs: number): void {
    this.emit(Scope.ofRecord(rec), { sourceId: rec.id, sourceType: 'db-instance', message, categories: [category], sourceArn: instanceArn(rec) }, nowMs);
  }

  /**
   * Derives rec's status from its desired and observed state (in memory; the caller persists), and on a change
   * records when the new status began and emits the events RDS emits for it. Returns the status.
   */
  settle(rec: InstanceRecord, nowMs: number): ResourceStatus {
    const moved = settleStatus(rec, desiredOf(rec), nowMs);
    for (const name of moved.events) this.emitInstance(rec, name, nowMs);
    if (moved.from !== moved.to) log('debug', 'rds status', { instance: rec.id, from: moved.from, to: moved.to, why: moved.why });
    return moved.to;
  }
}

export function instanceArn(rec: Pick<InstanceRecord, 'accountId' | 'region' | 'id'>): string {
  return `arn:aws:rds:${rec.region}:${rec.accountId}:db:${rec.id}`;
}
