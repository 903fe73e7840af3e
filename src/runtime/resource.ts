/**
 * @module runtime/resource
 * The record every engine-backed resource keeps (a DB instance today; a Multi-AZ instance, a DB cluster, a cache
 * cluster or a replication group later): the desired spec with its generation, written only by the API; what was
 * observed, written only by the reconciler and the health decider; and the members that run the engine.
 *
 *   { ...spec fields (the API's view), desired: DesiredState, observed: ObservedState, members: Member[],
 *     status, statusSinceMs }
 *
 * `status` is a cache of `deriveStatus(desired, observed)` (runtime/transitions.ts), kept on the record so that a
 * Describe reads it without recomputing and so that a change of it is noticed once (and its event emitted once) by
 * `settleStatus`, the one function that writes it.
 */
import { arrivalEvents, deriveStatus, type ArrivalEvent, type DesiredState, type ObservedState, type ResourceStatus } from './transitions.js';

/** One process of a resource: an instance has one (the primary); Multi-AZ two; a replication group several. */
export interface Member {
  role: 'primary' | 'standby' | 'replica';
  availabilityZone: string;
  /** The address the engine listens on (loopback unless the resource is publicly accessible). */
  host: string;
  /** The member's own instance directory (engines/adapter.ts layout). */
  dataDir: string;
  port: number;
}

export interface RuntimeFields {
  /** Stored: generation, running, deleted, rebootGeneration (the rest of DesiredState is derived from the spec). */
  desired: Pick<DesiredState, 'generation' | 'running' | 'deleted' | 'rebootGeneration'>;
  observed: ObservedState;
  members: Member[];
  status: ResourceStatus;
  statusSinceMs: number;
}

/**
 * Recomputes the status from (desired, observed); when it changed, records when the new one began and returns the
 * names of the events RDS emits for the move (the caller emits them). The only writer of `status`.
 */
export function settleStatus(rec: RuntimeFields, desired: DesiredState, nowMs: number): { from: ResourceStatus; to: ResourceStatus; why: string; events: ArrivalEvent[] } {
  const from = rec.status;
  const { status: to, why } = deriveStatus(desired, rec.observed);
  if (from === to) return { from, to, why, events: [] };
  rec.status = to;
  rec.statusSinceMs = nowMs;
  return { from, to, why, events: arrivalEvents(from, to, rec.observed) };
}

/** The primary member (every resource has one). */
export function primary(rec: { members: Member[] }): Member {
  const m = rec.members.find((x) => x.role === 'primary');
  if (!m) throw new Error('resource has no primary member');
  return m;
}
