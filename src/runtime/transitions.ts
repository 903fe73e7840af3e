/**
 * @module runtime/transitions
 * The one transition table of every engine-backed resource: its status (RDS's own strings) is derived from what the
 * API asked for (the desired state) and what the reconciler and the health decider observed, never written as a
 * command. Pure: no I/O, no clock, so every row is unit-tested (test/unit/runtime-transitions.test.ts).
 *
 *                       ┌────────── delete (any status) ──────────┐
 *                       ▼                                          │
 *   creating ──created──▶ available ◀──engine up── rebooting ◀── reboot / engine down / taken over
 *      │                 │  ▲   │  ▲                                   (decider)
 *      │        modify   │  │   │  └── storage back under the limit ── storage-full ◀── storage full
 *      │                 ▼  │   │
 *      │          modifying─┘   └─stop─▶ stopping ──engine stopped──▶ stopped ──start──▶ starting ──engine up──▶ available
 *      │                                                                                        
 *      └──gave up──▶ failed ◀── any action that gave up (decider or reconciler); a newer API write (reboot, delete) leaves it
 *
 *   available ──backup started──▶ backing-up ──backup finished──▶ available     (observed.backingUp, ensureBackups)
 *
 * The rows are ordered: the first that matches names the status, and its `why` says which fact decided it.
 */

/** The statuses an engine-backed resource reports (RDS's DB instance statuses that Cellar uses). */
export type ResourceStatus =
  | 'creating'
  | 'available'
  | 'modifying'
  | 'rebooting'
  | 'resetting-master-credentials'
  | 'stopping'
  | 'stopped'
  | 'starting'
  | 'deleting'
  | 'storage-full'
  | 'backing-up'
  | 'failed';

/** What the API asked for. Only the API writes it, and every write bumps `generation`. */
export interface DesiredState {
  generation: number;
  /** StopDBInstance makes it false, StartDBInstance true. */
  running: boolean;
  /** DeleteDBInstance. */
  deleted: boolean;
  /** Bumped by RebootDBInstance; the reconciler echoes it in `observed.rebootGeneration` once it has restarted. */
  rebootGeneration: number;
  /** Modifications to apply now (ModifyDBInstance ApplyImmediately, or the maintenance window opened). */
  modifying: boolean;
  /** A master password the engine does not have yet. */
  credentialsPending: boolean;
}

/**
 * What the engine of a member was last seen doing: `running` (started by this Cellar and answering), `stopped` (shut
 * down on request), `down` (crashed or hung, as the health decider decided), `detached` (not under this Cellar: the
 * observation of a previous Cellar process, which is stale by definition once this one starts).
 */
export type EngineObservation = 'running' | 'stopped' | 'down' | 'detached';

/** What the reconciler and the health decider observed; only they write it. */
export interface ObservedState {
  /** The desired generation the reconciler last converged to. */
  generation: number;
  /** The engine's data directory is initialised and the engine once accepted connections. */
  created: boolean;
  engine: EngineObservation;
  rebootGeneration: number;
  /** An action gave up at this desired generation; a newer API write tries again. */
  failed?: { generation: number; reason: string };
  /** The data outgrew the allocated storage; the engine is read-only. */
  storageFull: boolean;
  /** A backup of the running engine is being taken (the ensureBackups step's observation). */
  backingUp?: boolean;
}

interface Row {
  status: ResourceStatus;
  when: (d: DesiredState, o: ObservedState) => boolean;
  why: string;
}

/** The table. Order matters: the first row that matches decides. */
export const TRANSITION_TABLE: readonly Row[] = [
  { status: 'failed', when: (d, o) => o.failed !== undefined && o.failed.generation >= d.generation, why: 'an action gave up and nothing newer was asked' },
  { status: 'deleting', when: (d) => d.deleted, why: 'deletion asked' },
  { status: 'creating', when: (_d, o) => !o.created, why: 'engine not yet initialised' },
  { status: 'stopped', when: (d, o) => !d.running && o.engine === 'stopped', why: 'stop asked and the engine is stopped' },
  { status: 'stopping', when: (d) => !d.running, why: 'stop asked, engine not yet stopped' },
  { status: 'starting', when: (_d, o) => o.engine === 'stopped', why: 'start asked, engine still stopped' },
  { status: 'modifying', when: (d) => d.modifying, why: 'modifications to apply now' },
  { status: 'rebooting', when: (d, o) => d.rebootGeneration > o.rebootGeneration, why: 'reboot asked' },
  { status: 'rebooting', when: (_d, o) => o.engine !== 'running', why: 'engine down or not yet under this Cellar' },
  { status: 'resetting-master-credentials', when: (d) => d.credentialsPending, why: 'a new master password waits for the engine' },
  { status: 'storage-full', when: (_d, o) => o.storageFull, why: 'storage full' },
  { status: 'backing-up', when: (_d, o) => o.backingUp === true, why: 'a backup is being taken' },
  { status: 'available', when: () => true, why: 'engine running as asked' },
];

/** The status (desired, observed) stands for, and the fact that decided it. */
export function deriveStatus(d: DesiredState, o: ObservedState): { status: ResourceStatus; why: string } {
  for (const row of TRANSITION_TABLE) if (row.when(d, o)) return { status: row.status, why: row.why };
  /* c8 ignore next: the last row always matches */
  throw new Error('transition table has no default row');
}

/**
 * Events RDS emits on arriving in a status (RDS User Guide, "Amazon RDS event categories and event messages"), by
 * name (see the service's event catalogue). Derived from the move and the observation that caused it.
 */
export type ArrivalEvent = 'shutdown' | 'created' | 'restarted' | 'started' | 'stopped' | 'failed' | 'storageExhausted';

export function arrivalEvents(from: ResourceStatus, to: ResourceStatus, o: ObservedState): ArrivalEvent[] {
  if (from === to) return [];
  const out: ArrivalEvent[] = [];
  const wasServing = from === 'available' || from === 'storage-full';
  if (to === 'rebooting' && wasServing && o.engine === 'down') out.push('shutdown');
  // A new instance goes on to its first backup (`backing-up`) as it becomes serving: it was created all the same.
  if (to === 'available' || to === 'storage-full' || to === 'backing-up') {
    if (from === 'creating') out.push('created');
    else if (from === 'rebooting') out.push('restarted');
    else if (from === 'starting') out.push('started');
  }
  if (to === 'stopped') out.push('stopped');
  if (to === 'failed') out.push('failed');
  if (to === 'storage-full') out.push('storageExhausted');
  return out;
}

/** A fresh resource: created by the API, nothing observed yet. */
export function initialState(): { desired: DesiredState; observed: ObservedState } {
  return {
    desired: { generation: 1, running: true, deleted: false, rebootGeneration: 0, modifying: false, credentialsPending: false },
    observed: { generation: 0, created: false, engine: 'detached', rebootGeneration: 0, storageFull: false },
  };
}
