/**
 * @module runtime/events
 * The event log of engine-backed resources: one row per event in a keyspace of the state store, keyed
 * `<account>/<region>/<time>-<sequence>-<random>` so a scope's events are one ordered range.
 *
 * Bounded in age and in number, as every store Cellar keeps must be: RDS keeps events 14 days ("Events are retained
 * for 14 days", DescribeEvents), so older ones are pruned; and a scope never holds more than `maxPerScope` events,
 * the oldest going first, so a resource that flaps cannot grow the store without end. Pruning runs on the write path
 * every `pruneEvery` events of a scope and from `pruneAll` (the health loop), each pass bounded by `maxDeletesPerPass`.
 */
import { randomBytes } from 'node:crypto';
import { JsonTable, type ScopeLike, type Store } from '../storage/store.js';

/** RDS's retention of events. */
export const EVENT_RETENTION_MS = 14 * 24 * 3600_000;
export const DEFAULT_MAX_EVENTS_PER_SCOPE = 10_000;

export interface EventLogOptions {
  retentionMs?: number;
  maxPerScope?: number;
  /** Prune a scope on every n-th event written to it. */
  pruneEvery?: number;
  maxDeletesPerPass?: number;
}

/** Key of an event at `nowMs`; the sequence keeps events of one millisecond in order. */
function eventKey(scope: ScopeLike, nowMs: number, seq: number): string {
  return `${scope.prefix}${String(nowMs).padStart(15, '0')}-${String(seq % 1e6).padStart(6, '0')}-${randomBytes(3).toString('hex')}`;
}

/** The time part of an event key (after the scope prefix). */
function keyTimeMs(key: string, prefixLength: number): number {
  return Number(key.slice(prefixLength, prefixLength + 15));
}

export class EventLog<E extends { dateMs: number }> {
  private seq = 0;
  private readonly sinceLastPrune = new Map<string, number>();
  private readonly retentionMs: number;
  private readonly maxPerScope: number;
  private readonly pruneEvery: number;
  private readonly maxDeletesPerPass: number;

  constructor(
    private readonly store: Store,
    readonly table: JsonTable<E>,
    options: EventLogOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? EVENT_RETENTION_MS;
    this.maxPerScope = options.maxPerScope ?? DEFAULT_MAX_EVENTS_PER_SCOPE;
    this.pruneEvery = options.pruneEvery ?? 100;
    this.maxDeletesPerPass = options.maxDeletesPerPass ?? 5_000;
  }

  append(scope: ScopeLike, event: E): void {
    this.table.put(eventKey(scope, event.dateMs, this.seq++), event);
    const n = (this.sinceLastPrune.get(scope.prefix) ?? 0) + 1;
    if (n >= this.pruneEvery) {
      this.sinceLastPrune.set(scope.prefix, 0);
      this.prune(scope, event.dateMs);
    } else this.sinceLastPrune.set(scope.prefix, n);
  }

  /** The scope's events, oldest first. */
  list(scope: ScopeLike): E[] {
    return this.table.list(scope.prefix).map(([, e]) => e);
  }

  /**
   * Deletes the scope's events older than the retention, then the oldest beyond the bound. Returns how many went.
   * One pass deletes at most `maxDeletesPerPass`; the next pass continues.
   */
  prune(scope: ScopeLike, nowMs: number): number {
    const cutoff = nowMs - this.retentionMs;
    return this.store.transaction(() => {
      const keys = this.table.list(scope.prefix).map(([k]) => k);
      let budget = this.maxDeletesPerPass;
      let deleted = 0;
      const excess = Math.max(0, keys.length - this.maxPerScope);
      for (let i = 0; i < keys.length && budget > 0; i++) {
        if (i >= excess && keyTimeMs(keys[i]!, scope.prefix.length) >= cutoff) break;
        this.table.delete(keys[i]!);
        deleted++;
        budget--;
      }
      return deleted;
    });
  }

  /** Prunes every scope that has events (background work: the health loop calls it now and then). */
  pruneAll(nowMs: number): number {
    const prefixes = new Set<string>();
    for (const [key] of this.table.list()) {
      const second = key.indexOf('/', key.indexOf('/') + 1);
      if (second > 0) prefixes.add(key.slice(0, second + 1));
    }
    let n = 0;
    for (const prefix of prefixes) n += this.prune({ prefix }, nowMs);
    return n;
  }
}
