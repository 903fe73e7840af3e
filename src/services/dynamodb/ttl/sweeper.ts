/**
 * @module services/dynamodb/ttl/sweeper
 * The Time to Live sweeper: every sweep interval it reads the expiry index from five years ago up to
 * now (one bounded range scan, no table scans) and deletes the items found there through the
 * provider's one write path, as writes made by the service (origin 'ttl'), so index entries, counters
 * and stream records follow as for any delete. Each item is re-read inside the write and deleted only
 * if it is still expired under its table's current TTL attribute; an entry that no longer stands for an
 * expired item (the item changed or went, TTL was turned off, the table was deleted) is dropped.
 *
 * Entries more than five years in the past are never acted on (AWS ignores such values); the sweeper
 * drops them in bounded chunks so they do not accumulate. Each tick does bounded work: a full batch
 * makes the next tick come on the next event-loop turn instead of after the interval. A tick that fails
 * is logged and the next one tries again: the sweeper fails its own job, never the process.
 */
import { faultPoint } from '../../../core/faults.js';
import { log } from '../../../core/log.js';
import { prefixEnd } from '../../../storage/store.js';
import type { ItemChange, ItemStore, TableState } from '../tables/state.js';
import { encodeExpiry, expiryOf, FIVE_YEARS_MS, isDue, itemKeyOf, type ExpiryIndex } from './expiry-index.js';

/** Index entries handled per tick. */
const SWEEP_BATCH = 256;

export class Sweeper {
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private closed = false;

  constructor(
    private readonly provider: ItemStore,
    private readonly index: ExpiryIndex,
    private readonly intervalMs: number,
  ) {
    this.schedule(false);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
  }

  private schedule(soon: boolean): void {
    if (this.closed) return;
    const run = (): void => {
      this.timer = undefined;
      this.tick().then(
        (full) => this.schedule(full),
        (e: unknown) => {
          log('error', 'dynamodb time to live sweep failed; retried at the next tick', { error: e instanceof Error ? e.message : String(e) });
          this.schedule(false);
        },
      );
    };
    this.timer = soon ? setImmediate(run) : setTimeout(run, this.intervalMs);
    if (!soon) (this.timer as NodeJS.Timeout).unref();
  }

  /** One sweep; resolves true when it stopped at its bound (more may be due). */
  async tick(): Promise<boolean> {
    faultPoint('dynamodb.ttl-sweep');
    const nowMs = this.provider.clock.now();
    const oldest = encodeExpiry((nowMs - FIVE_YEARS_MS) / 1000);
    const dropped = this.dropAncient(oldest);
    const newest = encodeExpiry(nowMs / 1000);
    // Every entry of this very second too: the bound is past the whole 8-byte prefix of now.
    const due = [...this.index.space.scan({ gte: oldest, lt: prefixEnd(encodeExpiry(nowMs / 1000))!, limit: SWEEP_BATCH })];
    if (due.length === 0) return dropped;
    const tables = new Map<string, TableState | undefined>();
    for (const [, v] of due) {
      const key = v.toString('utf8');
      if (tables.has(key)) continue;
      try {
        tables.set(key, this.provider.tableAt(key));
      } catch (e) {
        // A table whose metadata cannot be read serves nothing: its entries are dropped, so they cannot hold up the others.
        log('error', 'dynamodb time to live: table metadata unreadable; its expiry entries are dropped', { table: key.replace(/\u0000/g, '/'), error: (e as Error).message });
        tables.set(key, undefined);
      }
    }
    const live = [...new Set([...tables.values()].filter((t): t is TableState => t !== undefined))];
    for (const t of live) this.provider.markStats(t);
    await this.provider.write(live, () => {
      // Inside the write: the items are read again, so a write that came in since the scan wins.
      const changes: ItemChange[] = [];
      for (const [entry, v] of due) {
        this.index.space.delete(entry);
        const t = tables.get(v.toString('utf8'));
        const itemKey = itemKeyOf(entry);
        if (!t || !this.expires(t, itemKey)) continue;
        const stored = this.provider.readItem(itemKey);
        const attributeName = t.meta.timeToLive!.attributeName!;
        const expiry = expiryOf(stored?.item, attributeName);
        if (stored === undefined || expiry === undefined || !isDue(expiry, nowMs)) continue;
        changes.push({ table: t, key: Buffer.from(itemKey), stored, next: undefined, nextSize: 0 });
      }
      this.provider.applyChanges(changes, { origin: 'ttl', transactional: false, nowMs });
      return changes.length;
    }, (n) => {
      if (n > 0) log('debug', 'dynamodb time to live deleted expired items', { items: n });
      return {};
    });
    return dropped || due.length >= SWEEP_BATCH;
  }

  /** Whether a table still deletes the items of this entry: the same table (namespace), usable, TTL on. */
  private expires(t: TableState, itemKey: Buffer): boolean {
    const ttl = t.meta.timeToLive;
    return itemKey.readUInt32BE(0) === t.meta.ns && (t.meta.status === 'ACTIVE' || t.meta.status === 'UPDATING') && ttl?.enabled === true && ttl.attributeName !== undefined;
  }

  /** Drops a bounded chunk of entries more than five years in the past (never acted on); true if there may be more. */
  private dropAncient(oldest: Buffer): boolean {
    const ancient = [...this.index.space.scan({ lt: oldest, limit: SWEEP_BATCH })];
    if (ancient.length === 0) return false;
    this.provider.store.transaction(() => {
      for (const [k] of ancient) this.index.space.delete(k);
    });
    return ancient.length >= SWEEP_BATCH;
  }
}

