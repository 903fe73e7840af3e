/**
 * @module services/dynamodb/items/capacity
 * Consumed capacity and item collection metrics, as DynamoDB computes them.
 * Functions of the provider's state, called by the provider's operation methods.
 */
import { type Item, writeUnits } from '../attributes.js';
import type * as M from '../../../models/dynamodb.js';
import type { ItemStore, TableState, WriteEffect } from '../tables/state.js';
import type { Response } from '../shapes.js';

export function writeCapacity(provider: ItemStore, t: TableState, mode: string | undefined, effect: WriteEffect | undefined): Response<M.ConsumedCapacity> | undefined {
  if (mode !== 'TOTAL' && mode !== 'INDEXES') return undefined;
  const tableUnits = writeUnits(effect?.tableBytes ?? 0);
  let total = tableUnits;
  const gsi: Record<string, M.Capacity> = {};
  const lsi: Record<string, M.Capacity> = {};
  if (effect) {
    for (const [name, units] of effect.indexUnits) {
      total += units;
      const global = t.indexes.find((i) => i.meta.name === name)?.meta.global;
      (global ? gsi : lsi)[name] = { CapacityUnits: units, WriteCapacityUnits: units };
    }
  }
  const out: Response<M.ConsumedCapacity> = { TableName: t.meta.name, CapacityUnits: total, WriteCapacityUnits: total };
  if (mode === 'INDEXES') {
    out.Table = { CapacityUnits: tableUnits, WriteCapacityUnits: tableUnits };
    if (Object.keys(gsi).length) out.GlobalSecondaryIndexes = gsi;
    if (Object.keys(lsi).length) out.LocalSecondaryIndexes = lsi;
  }
  return out;
}

export function readCapacity(provider: ItemStore, t: TableState, mode: string | undefined, units: number, indexName?: string): Response<M.ConsumedCapacity> | undefined {
  if (mode !== 'TOTAL' && mode !== 'INDEXES') return undefined;
  const out: Response<M.ConsumedCapacity> = { TableName: t.meta.name, CapacityUnits: units, ReadCapacityUnits: units };
  if (mode === 'INDEXES') {
    if (indexName) {
      const global = t.indexes.find((i) => i.meta.name === indexName)?.meta.global;
      out.Table = { CapacityUnits: 0, ReadCapacityUnits: 0 };
      out[global ? 'GlobalSecondaryIndexes' : 'LocalSecondaryIndexes'] = { [indexName]: { CapacityUnits: units, ReadCapacityUnits: units } };
    } else out.Table = { CapacityUnits: units, ReadCapacityUnits: units };
  }
  return out;
}

export function collectionMetrics(provider: ItemStore, t: TableState, mode: string | undefined, item: Item | undefined): Response<M.ItemCollectionMetrics> | undefined {
  if (mode !== 'SIZE' || !t.indexes.some((i) => !i.meta.global) || !item) return undefined;
  return { ItemCollectionKey: { [t.key.hashName]: item[t.key.hashName] }, SizeEstimateRangeGB: [0, 1] };
}
