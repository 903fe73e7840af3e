/**
 * @module services/dynamodb/transactions/capacity
 * What transactions consume, as DynamoDB charges it: every item is read or written twice (once to
 * prepare the transaction, once to commit it), so each item's units, rounded up on their own, count
 * double. A write transaction's ConditionCheck reads its item (read units); its Put, Update and Delete
 * write theirs (write units). Index writes are charged once, as for single-item writes. Pure.
 */
import { readUnits, writeUnits } from '../attributes.js';
import type { Capacity, ConsumedCapacity } from '../../../models/dynamodb.js';

/** The transactional multiplier. */
export const TRANSACTION_FACTOR = 2;

/** One table's units within a transaction. */
export interface TableUnits {
  read: number;
  write: number;
  /** Index name → write units, with whether the index is global. */
  indexes: Map<string, { units: number; global: boolean }>;
}

export function emptyUnits(): TableUnits {
  return { read: 0, write: 0, indexes: new Map() };
}

/** Adds one transactional item write of `bytes` (the larger of the old and new item). */
export function addItemWrite(u: TableUnits, bytes: number): void {
  u.write += TRANSACTION_FACTOR * writeUnits(bytes);
}

/** Adds one transactional (strongly consistent) item read of `bytes` (0 for an item that is not there). */
export function addItemRead(u: TableUnits, bytes: number): void {
  u.read += TRANSACTION_FACTOR * readUnits(bytes, true);
}

export function addIndexWrite(u: TableUnits, index: string, global: boolean, units: number): void {
  const cur = u.indexes.get(index);
  u.indexes.set(index, { units: (cur?.units ?? 0) + units, global });
}

function capacity(read: number, write: number): Capacity {
  const c: Capacity = { CapacityUnits: read + write };
  if (read > 0) c.ReadCapacityUnits = read;
  if (write > 0) c.WriteCapacityUnits = write;
  return c;
}

/** The ConsumedCapacity entries of a transaction, one per table in the order the tables came, or undefined for NONE. */
export function consumedCapacity(mode: string | undefined, perTable: ReadonlyMap<string, TableUnits>): ConsumedCapacity[] | undefined {
  if (mode !== 'TOTAL' && mode !== 'INDEXES') return undefined;
  const out: ConsumedCapacity[] = [];
  for (const [name, u] of perTable) {
    let indexWrites = 0;
    for (const i of u.indexes.values()) indexWrites += i.units;
    const c: ConsumedCapacity = { TableName: name, ...capacity(u.read, u.write + indexWrites) };
    if (mode === 'INDEXES') {
      c.Table = capacity(u.read, u.write);
      const gsi: Record<string, Capacity> = {};
      const lsi: Record<string, Capacity> = {};
      for (const [index, i] of u.indexes) (i.global ? gsi : lsi)[index] = capacity(0, i.units);
      if (Object.keys(gsi).length) c.GlobalSecondaryIndexes = gsi;
      if (Object.keys(lsi).length) c.LocalSecondaryIndexes = lsi;
    }
    out.push(c);
  }
  return out;
}
