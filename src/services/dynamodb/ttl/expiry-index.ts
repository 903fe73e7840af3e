/**
 * @module services/dynamodb/ttl/expiry-index
 * The Time to Live expiry index: one entry per item whose TTL attribute holds a Number, keyed by the
 * expiry time (ordered) and then the item's store key, so the sweeper finds what is due with one
 * bounded range scan instead of scanning tables. Entries are written by a WriteObserver inside the
 * same store transaction as the item write (provider.applyChanges), so the index never disagrees
 * with a committed item; an entry that does turn out stale (a table deleted, TTL turned off, an item
 * changed while TTL was off) is harmless, because the sweeper re-reads the item before it deletes.
 *
 * Entry key: 8 bytes (the expiry, epoch seconds, as an order-preserving float64) + the item's store
 * key (its table namespace, then its key body). Entry value: the table's metadata key, so the sweeper
 * can find the table the item belongs to.
 */
import type { Keyspace } from '../../../storage/store.js';
import type { AttributeValue, Item } from '../attributes.js';
import type { ItemChange, TableState, WriteObserver, WriteOptions } from '../tables/state.js';
import type { TimeToLiveMeta } from '../tables/schema.js';

/** How far in the past a TTL value may lie and still be acted on: AWS ignores values more than five years old. */
export const FIVE_YEARS_MS = 5 * 365 * 24 * 3600 * 1000;

/** Bytes of the expiry prefix of an entry key. */
export const EXPIRY_BYTES = 8;

/**
 * An item's expiry in epoch seconds under a TTL attribute: the attribute must be a top-level Number
 * (AWS ignores any other type, and a value that is not a finite number).
 */
export function expiryOf(item: Item | undefined, attributeName: string): number | undefined {
  const v: AttributeValue | undefined = item?.[attributeName];
  if (v === undefined || typeof v.N !== 'string') return undefined;
  const seconds = Number(v.N);
  return Number.isFinite(seconds) ? seconds : undefined;
}

/**
 * Whether an item with this expiry is due for deletion at nowMs: its time has come, and it lies no more
 * than five years in the past (AWS leaves such items alone).
 */
export function isDue(expirySeconds: number, nowMs: number): boolean {
  const ms = expirySeconds * 1000;
  return ms <= nowMs && ms >= nowMs - FIVE_YEARS_MS;
}

/** An order-preserving 8-byte encoding of a number: byte order equals numeric order (negatives included). */
export function encodeExpiry(seconds: number): Buffer {
  const b = Buffer.allocUnsafe(EXPIRY_BYTES);
  b.writeDoubleBE(seconds === 0 ? 0 : seconds, 0); // -0 sorts with 0
  if (b[0]! & 0x80) for (let i = 0; i < EXPIRY_BYTES; i++) b[i] = ~b[i]! & 0xff;
  else b[0] = b[0]! | 0x80;
  return b;
}

export function decodeExpiry(key: Buffer): number {
  const b = Buffer.from(key.subarray(0, EXPIRY_BYTES));
  if (b[0]! & 0x80) b[0] = b[0]! & 0x7f;
  else for (let i = 0; i < EXPIRY_BYTES; i++) b[i] = ~b[i]! & 0xff;
  return b.readDoubleBE(0);
}

export function entryKey(expirySeconds: number, itemKey: Buffer): Buffer {
  return Buffer.concat([encodeExpiry(expirySeconds), itemKey]);
}

/** The item store key an entry stands for. */
export function itemKeyOf(entry: Buffer): Buffer {
  return entry.subarray(EXPIRY_BYTES);
}

/**
 * The attribute whose entries a table's writes maintain, and whether new entries are added: the enabled
 * attribute (add and remove), or, while a walk is removing a disabled attribute's entries, that one
 * (remove only, so the walk and the writes together leave none behind).
 */
function maintained(meta: TimeToLiveMeta | undefined): { attributeName: string; add: boolean } | undefined {
  if (meta === undefined) return undefined;
  if (meta.enabled && meta.attributeName !== undefined) return { attributeName: meta.attributeName, add: true };
  if (meta.walk && !meta.walk.adding) return { attributeName: meta.walk.attributeName, add: false };
  return undefined;
}

/** Keeps the expiry index in step with item writes (registered with provider.addWriteObserver). */
export class ExpiryIndex implements WriteObserver {
  constructor(
    readonly space: Keyspace,
    /** The metadata key of a table (the entry value). */
    private readonly tableKeyOf: (t: TableState) => string,
  ) {}

  onChange(change: ItemChange, _options: WriteOptions): void {
    const m = maintained(change.table.meta.timeToLive);
    if (m === undefined) return;
    const needle = `${JSON.stringify(m.attributeName)}:`;
    // The stored JSON is parsed only when it can hold the attribute at all.
    const before = change.stored !== undefined && change.stored.json.includes(needle) ? expiryOf(change.stored.item, m.attributeName) : undefined;
    const after = m.add ? expiryOf(change.next, m.attributeName) : undefined;
    if (before === after) return;
    if (before !== undefined) this.space.delete(entryKey(before, change.key));
    if (after !== undefined) this.space.put(entryKey(after, change.key), Buffer.from(this.tableKeyOf(change.table), 'utf8'));
  }

  /** Adds (or, with add false, removes) an item's entry under an attribute: the walks over existing items. */
  reconcileItem(t: TableState, itemKey: Buffer, item: Item, attributeName: string, add: boolean): void {
    const expiry = expiryOf(item, attributeName);
    if (expiry === undefined) return;
    const key = entryKey(expiry, itemKey);
    if (add) this.space.put(key, Buffer.from(this.tableKeyOf(t), 'utf8'));
    else this.space.delete(key);
  }
}
