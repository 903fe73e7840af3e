/**
 * @module services/dynamodb/tables/counters
 * A table's counters (ItemCount, TableSizeBytes, each index's count and size) live in memory and are
 * not written by each write. Their stored record says whether it is exact: before the first write after
 * the record was last stored exact, a record marked dirty is committed on its own; every flush interval,
 * and on close, the exact counts are stored again (clean). A table whose record is dirty when it is
 * loaded (Cellar stopped without closing) has its counters recounted from its items and index entries,
 * in the background, `recountChunk` entries per event-loop turn; DescribeTable waits for the recount.
 * Writes meanwhile go on: a write's change to a counter goes into the recount when its key is at or
 * before the recount's position (already counted), and is left to the recount otherwise (it will count
 * the result).
 */
import { faultPoint } from '../../../core/faults.js';
import { log } from '../../../core/log.js';
import type { Keyspace, Store } from '../../../storage/store.js';
import { itemValueSize, namespacePrefix } from '../keycodec.js';
import type { Stats, TableMeta } from './schema.js';

/** Entries read per step (one per event-loop turn) when recounting a table's counters. */
export const RECOUNT_CHUNK = 1000;

/** What the counters need of a table's in-memory state. */
export interface CountedTable {
  meta: TableMeta;
  stats: Stats;
  indexStats: Map<number, Stats>;
  /** True once a dirty record is committed: the in-memory counters may differ from the stored ones. */
  statsMarked: boolean;
}

/** A recount of one namespace (the table's items, or one index's entries) in progress. */
interface NamespaceRecount {
  /** The last key counted; undefined before the first step. */
  after: Buffer | undefined;
  counted: Stats;
}

/** A table's counters being recounted: namespaces still to finish, and who waits for them. */
interface Recount {
  pending: Map<number, NamespaceRecount>;
  done: Promise<void>;
  finish(): void;
}

/** The stored counters: c/b for the table, i for [index ns, count, bytes]; d=1 while not exact. */
interface StoredStats {
  c: number;
  b: number;
  i: [number, number, number][];
  d?: 1;
}

export class TableCounters {
  /** Recounts in progress, by table namespace. */
  private readonly recounts = new Map<number, Recount>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly items: Keyspace,
    private readonly statsSpace: Keyspace,
    private readonly recountChunk: number,
    /** The provider's timers, cleared when it closes. */
    private readonly timers: Set<NodeJS.Timeout | NodeJS.Immediate>,
  ) {}

  close(): void {
    this.closed = true;
  }

  /** Loads a table's stored counters into t; a dirty record starts a background recount. */
  load(t: CountedTable): void {
    const raw = this.statsSpace.get(namespacePrefix(t.meta.ns));
    const parsed: StoredStats = raw ? (JSON.parse(raw.toString('utf8')) as StoredStats) : { c: 0, b: 0, i: [] };
    t.stats = { count: parsed.c, bytes: parsed.b };
    for (const [ns, c, b] of parsed.i) t.indexStats.set(ns, { count: c, bytes: b });
    if (parsed.d) {
      // The record stays dirty until a flush after the recount stores it: same state as after a write.
      t.statsMarked = true;
      this.startRecount(t);
    }
  }

  /** Removes a deleted table's stored counters (inside the purge's transaction). */
  forget(meta: TableMeta): void {
    this.statsSpace.delete(namespacePrefix(meta.ns));
  }

  /** The recount a table's counters wait for, if one is running. */
  pendingRecount(t: CountedTable): Promise<void> | undefined {
    return this.recounts.get(t.meta.ns)?.done;
  }

  /** Stores a table's counters: exact (clean), or marked dirty (the in-memory ones are about to move on). */
  persist(t: CountedTable, requestDirty = false): void {
    // Counters being recounted are not exact yet: stored, they stay dirty.
    const dirty = requestDirty || this.recounts.has(t.meta.ns);
    const body: StoredStats = { c: t.stats.count, b: t.stats.bytes, i: [...t.indexStats].map(([ns, s]) => [ns, s.count, s.bytes]) };
    if (dirty) body.d = 1;
    this.statsSpace.put(namespacePrefix(t.meta.ns), Buffer.from(JSON.stringify(body)));
    t.statsMarked = dirty;
  }

  /**
   * Before a write changes a table's in-memory counters: unless already done, commits a dirty record
   * on its own (committing any open write group first). Committed before the write, it cannot be lost
   * with the write's group: if Cellar dies at any later point, the record says to recount.
   */
  mark(t: CountedTable): void {
    if (t.statsMarked) return;
    this.store.transaction(() => this.persist(t, true));
  }

  /** Stores the exact counters of the given tables that were written since last stored (not those being recounted). */
  flush(tables: Iterable<CountedTable>): void {
    const marked = [...tables].filter((t) => t.statsMarked && !this.recounts.has(t.meta.ns));
    if (marked.length === 0) return;
    try {
      this.store.transaction(() => {
        for (const t of marked) this.persist(t, false);
      });
    } catch {
      // The records stay dirty (and marked): a restart recounts, the next flush tries again.
      for (const t of marked) t.statsMarked = true;
    }
  }

  /**
   * Applies a write's change to one counter: the table's (ns = the table's) or an index's. While that
   * namespace is being recounted, the change goes into the recount if key was already counted, and is
   * dropped otherwise (the recount will count the entry as it is then).
   */
  add(t: CountedTable, ns: number, key: Buffer, count: number, bytes: number): void {
    const r = this.recounts.get(t.meta.ns)?.pending.get(ns);
    if (r !== undefined) {
      if (r.after !== undefined && Buffer.compare(key, r.after) <= 0) {
        r.counted.count += count;
        r.counted.bytes += bytes;
      }
      return;
    }
    const s = ns === t.meta.ns ? t.stats : t.indexStats.get(ns);
    if (s === undefined) return;
    s.count += count;
    s.bytes += bytes;
  }

  /**
   * Recounts a table's counters in the background, one chunk of entries per event-loop turn (see the
   * module header). The counters shown until it is done are the stored ones; DescribeTable waits.
   */
  startRecount(t: CountedTable): void {
    if (this.recounts.has(t.meta.ns)) return;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const pending = new Map<number, NamespaceRecount>();
    for (const ns of [t.meta.ns, ...t.meta.indexes.map((i) => i.ns)]) pending.set(ns, { after: undefined, counted: { count: 0, bytes: 0 } });
    const recount: Recount = { pending, done, finish };
    this.recounts.set(t.meta.ns, recount);
    const end = (): void => {
      this.recounts.delete(t.meta.ns);
      finish();
    };
    const step = (): void => {
      this.timers.delete(handle);
      if (this.recounts.get(t.meta.ns) !== recount) return; // replaced by a synchronous recount
      const [ns, r] = pending.entries().next().value as [number, NamespaceRecount];
      let chunk: Array<[Buffer, Buffer]>;
      try {
        faultPoint('dynamodb.recount');
        chunk = [...this.items.scan({ ...(r.after ? { gt: r.after } : { gte: namespacePrefix(ns) }), lt: namespacePrefix(ns + 1), limit: this.recountChunk })];
      } catch (e) {
        // Background work: the counters stay the stored (dirty) ones and the next start recounts; never fatal.
        log('error', 'dynamodb counter recount failed', { table: t.meta.name, error: (e as Error).message });
        end();
        return;
      }
      for (const [, v] of chunk) {
        r.counted.count++;
        r.counted.bytes += itemValueSize(v);
      }
      if (chunk.length > 0) r.after = chunk[chunk.length - 1]![0];
      if (chunk.length < this.recountChunk) {
        pending.delete(ns);
        const s = ns === t.meta.ns ? t.stats : t.indexStats.get(ns);
        if (s) Object.assign(s, r.counted);
      }
      // Done, or stopping (the stored record stays dirty, and the next start recounts).
      if (pending.size === 0 || this.closed) {
        end();
        return;
      }
      handle = setImmediate(step);
      this.timers.add(handle);
    };
    let handle = setImmediate(step);
    this.timers.add(handle);
  }

  /** Recomputes a table's counters from its items and index entries at once (a walk of each, RECOUNT_CHUNK at a time). */
  recount(t: CountedTable): void {
    const pending = this.recounts.get(t.meta.ns);
    this.recounts.delete(t.meta.ns);
    const count = (ns: number): Stats => {
      const s: Stats = { count: 0, bytes: 0 };
      const end = namespacePrefix(ns + 1);
      let after: Buffer | undefined;
      for (;;) {
        const chunk = [...this.items.scan({ ...(after ? { gt: after } : { gte: namespacePrefix(ns) }), lt: end, limit: RECOUNT_CHUNK })];
        for (const [, v] of chunk) {
          s.count++;
          s.bytes += itemValueSize(v);
        }
        if (chunk.length < RECOUNT_CHUNK) return s;
        after = chunk[chunk.length - 1]![0];
      }
    };
    Object.assign(t.stats, count(t.meta.ns));
    for (const i of t.meta.indexes) {
      const s = t.indexStats.get(i.ns);
      if (s) Object.assign(s, count(i.ns));
      else t.indexStats.set(i.ns, count(i.ns));
    }
    pending?.finish();
  }
}
