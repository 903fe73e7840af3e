/**
 * @module services/dynamodb/items/item-operations
 * Single-item and batch operations: PutItem, GetItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem. Every write goes through the provider's one write path (applyChanges); reads through readItem and the store's point reads.
 * Functions of the provider's state, called by the provider's operation methods.
 */
import type { RequestContext } from '../../../core/context.js';
import { ServiceError, validationError } from '../../../core/errors.js';
import { RawJson } from '../../../protocols/wirejson.js';
import { type AttributeValue, type Item, itemSize, MAX_ITEM_BYTES, readUnits, validateValue, writeUnits } from '../attributes.js';
import type { Condition, Path, UpdateAction } from '../expressions/ast.js';
import { evalCondition, project } from '../expressions/evaluate.js';
import { attributesToGet, attributeUpdatesToActions, checkStyleMix, expectedToCondition, type LegacyCondition, type LegacyUpdate } from '../expressions/legacy.js';
import { checkPlaceholderMaps, checkUnused, type ExpressionContext, newContext, parseCondition, parseProjection, parseUpdate } from '../expressions/parser.js';
import { applyUpdate } from '../expressions/update.js';
import { ITEM_HEADER_BYTES, textValueJson, textValueSize } from '../keycodec.js';
import { checkIndexKeyValues, checkUpdatedIndexKeyTypes } from '../indexes/keys.js';
import { updatePaths } from '../request-rules.js';
import type * as M from '../../../models/dynamodb.js';
import type { ItemStore, StoredItem, TableState, WriteEffect } from '../tables/state.js';
import { writeCapacity } from './capacity.js';
import { type Refusal, throughputExceeded } from '../throughput/enforcer.js';
import { conditionalFailed, MB, storedItem } from '../common.js';
import type { Answer, Request, Response } from '../shapes.js';

/** The condition members every single-item write (and a transaction's write actions) may carry. */
export type WriteConditionInput = Request<Pick<M.PutItemInput, 'ConditionExpression' | 'Expected' | 'ConditionalOperator' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>>;
/** The members a single-item write's answer depends on besides its ReturnValues. */
type WriteMetricsInput = Request<Pick<M.PutItemInput, 'ReturnConsumedCapacity' | 'ReturnItemCollectionMetrics'>>;
type KeysAndAttributes = Request<M.KeysAndAttributes>;

export function writeCondition(provider: ItemStore, input: WriteConditionInput, opName: string, extraExpr: string[] = [], extraLegacy: string[] = []): { ctx: ExpressionContext; condition: Condition | undefined } {
  // AWS lists UpdateItem's parameters as {UpdateExpression, ConditionExpression} / {AttributeUpdates, Expected}.
  checkStyleMix(input, [...extraExpr, 'ConditionExpression'], [...extraLegacy, 'Expected']);
  if (input.ConditionalOperator !== undefined && input.Expected === undefined) {
    throw validationError('ConditionalOperator can only be used when Expected or KeyConditions or QueryFilter or ScanFilter is present');
  }
  void opName;
  checkPlaceholderMaps(input.ExpressionAttributeNames, input.ExpressionAttributeValues, validateValue);
  const ctx = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
  let condition: Condition | undefined;
  if (input.ConditionExpression !== undefined) condition = parseCondition(input.ConditionExpression, 'ConditionExpression', ctx);
  else if (input.Expected !== undefined) condition = expectedToCondition(input.Expected satisfies Record<string, LegacyCondition>, input.ConditionalOperator);
  return { ctx, condition };
}

export function checkReturnValuesOnFailure(provider: ItemStore, input: Request<Pick<M.PutItemInput, 'ReturnValuesOnConditionCheckFailure'>>, old: Item | undefined): ServiceError {
  return conditionalFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? old : undefined);
}

export function putItem(provider: ItemStore, input: Request<M.PutItemInput>, ctx: RequestContext): Answer<Response<M.PutItemOutput>> {
  const item = input.Item;
  const rv: string = input.ReturnValues ?? 'NONE';
  if (rv !== 'NONE' && rv !== 'ALL_OLD') throw validationError('ReturnValues can only be ALL_OLD or NONE');
  for (const name in item) {
    const msg = validateValue(item[name]);
    if (msg) throw validationError(msg);
  }
  const { ctx: ectx, condition } = writeCondition(provider, input, 'PutItem');
  checkUnused(ectx);
  const t = provider.active(ctx, input.TableName);
  const key = provider.keyFromItem(t, item);
  const size = itemSize(item);
  if (size > MAX_ITEM_BYTES) throw validationError('Item size has exceeded the maximum allowed size');
  provider.throughput?.admitWrite(t);
  provider.transactions.checkFree(key);
  let old: StoredItem | undefined;
  provider.markStats(t);
  return provider.write([t], () => {
    old = provider.readItem(key);
    if (condition && !evalCondition(condition, old?.item ?? {})) throw checkReturnValuesOnFailure(provider, input, old?.item);
    return provider.userWrite(t, key, old, item, size);
  }, (effect) => {
    const out: Response<M.PutItemOutput> = {};
    if (rv === 'ALL_OLD' && old) out.Attributes = storedItem(old.json, ctx);
    return withWriteMetrics(provider, out, t, input, effect, item);
  });
}

export function getItem(provider: ItemStore, input: Request<M.GetItemInput>, ctx: RequestContext): Response<M.GetItemOutput> {
  let paths: Path[] | undefined;
  if (input.ProjectionExpression !== undefined || input.AttributesToGet !== undefined || input.ExpressionAttributeNames !== undefined) {
    checkStyleMix(input, ['ProjectionExpression'], ['AttributesToGet']);
    checkPlaceholderMaps(input.ExpressionAttributeNames, undefined, validateValue);
    const ectx = newContext(input.ExpressionAttributeNames, undefined);
    if (input.ProjectionExpression !== undefined) paths = parseProjection(input.ProjectionExpression, ectx);
    else if (input.AttributesToGet) paths = attributesToGet(input.AttributesToGet);
    checkUnused(ectx);
  }
  const t = provider.active(ctx, input.TableName);
  // GetItem words an empty key value "were invalid:", where an item's is "are not valid." (dynalite's suite, recorded on AWS).
  const key = provider.keyFromKey(t, input.Key, 'One or more parameter values were invalid:');
  if (paths) provider.checkKeyPaths(t, paths);
  provider.throughput?.admitRead(t);
  const text = provider.items.getText(key, ITEM_HEADER_BYTES);
  const out: Response<M.GetItemOutput> = {};
  let size = 0;
  if (text !== undefined) {
    size = textValueSize(text);
    const json = textValueJson(text);
    out.Item = paths ? project(JSON.parse(json) as Item, paths) : storedItem(json, ctx);
  }
  // Called whatever the mode: the metrics count every request's units (it answers undefined for NONE).
  const cc = provider.readCapacity(t, input.ReturnConsumedCapacity, readUnits(size, input.ConsistentRead === true));
  if (cc) out.ConsumedCapacity = cc;
  return out;
}

export function deleteItem(provider: ItemStore, input: Request<M.DeleteItemInput>, ctx: RequestContext): Answer<Response<M.DeleteItemOutput>> {
  const rv: string = input.ReturnValues ?? 'NONE';
  if (rv !== 'NONE' && rv !== 'ALL_OLD') throw validationError('ReturnValues can only be ALL_OLD or NONE');
  const { ctx: ectx, condition } = writeCondition(provider, input, 'DeleteItem');
  checkUnused(ectx);
  const t = provider.active(ctx, input.TableName);
  const key = provider.keyFromKey(t, input.Key);
  provider.throughput?.admitWrite(t);
  provider.transactions.checkFree(key);
  let old: StoredItem | undefined;
  provider.markStats(t);
  return provider.write([t], () => {
    old = provider.readItem(key);
    if (condition && !evalCondition(condition, old?.item ?? {})) throw checkReturnValuesOnFailure(provider, input, old?.item);
    if (!old) return undefined;
    return provider.userWrite(t, key, old, undefined, 0);
  }, (effect) => {
    const out: Response<M.DeleteItemOutput> = {};
    if (rv === 'ALL_OLD' && old) out.Attributes = storedItem(old.json, ctx);
    const cc = provider.writeCapacity(t, input.ReturnConsumedCapacity, effect);
    if (cc) out.ConsumedCapacity = cc;
    const icm = input.ReturnItemCollectionMetrics === 'SIZE' ? provider.collectionMetrics(t, 'SIZE', old?.item ?? input.Key) : undefined;
    if (icm) out.ItemCollectionMetrics = icm;
    return out;
  });
}

export function updateItem(provider: ItemStore, input: Request<M.UpdateItemInput>, ctx: RequestContext): Answer<Response<M.UpdateItemOutput>> {
  const rv: string = input.ReturnValues ?? 'NONE';
  const { ctx: ectx, condition } = writeCondition(provider, input, 'UpdateItem', ['UpdateExpression'], ['AttributeUpdates']);
  const t0 = provider.lookup(ctx, input.TableName);
  const keyAttrs = t0 ? t0.keyAttrs : [];
  let actions: UpdateAction[] = [];
  if (input.UpdateExpression !== undefined) actions = parseUpdate(input.UpdateExpression, ectx, keyAttrs);
  else if (input.AttributeUpdates !== undefined) actions = attributeUpdatesToActions(input.AttributeUpdates satisfies Record<string, LegacyUpdate>, keyAttrs);
  checkUnused(ectx);
  const t = provider.active(ctx, input.TableName);
  const key = provider.keyFromKey(t, input.Key);
  if (t.indexes.length) checkUpdatedIndexKeyTypes(t.indexes, actions);
  provider.checkKeyPaths(t, updatePaths(actions));
  provider.throughput?.admitWrite(t);
  provider.transactions.checkFree(key);
  let old: StoredItem | undefined;
  let next: Item | undefined;
  provider.markStats(t);
  return provider.write([t], () => {
    old = provider.readItem(key);
    if (condition && !evalCondition(condition, old?.item ?? {})) throw checkReturnValuesOnFailure(provider, input, old?.item);
    // An update that only removes attributes creates no item where there is none (AWS answers success, writes nothing).
    if (!old && actions.length > 0 && actions.every((a) => a.k === 'remove')) return { tableBytes: 0, indexUnits: new Map<string, number>() };
    const base: Item = old ? old.item : { ...input.Key };
    next = applyUpdate(base, actions);
    // The updated item's index key values (its table key cannot change), in UpdateItem's words.
    if (t.indexes.length) checkIndexKeyValues(t.indexes, next, 'update');
    const size = itemSize(next);
    if (size > MAX_ITEM_BYTES) throw validationError('Item size to update has exceeded the maximum allowed size');
    return provider.userWrite(t, key, old, next, size);
  }, (effect) => updateOutput(provider, t, input, rv, actions, old, next, effect));
}

export function updateOutput(provider: ItemStore, t: TableState, input: WriteMetricsInput, rv: string, actions: UpdateAction[], old: StoredItem | undefined, next: Item | undefined, effect: WriteEffect): Response<M.UpdateItemOutput> {
  const out: Response<M.UpdateItemOutput> = {};
  const paths = actions.map((a) => a.path);
  switch (rv) {
    case 'ALL_OLD':
      if (old) out.Attributes = old.item;
      break;
    case 'ALL_NEW':
      if (next) out.Attributes = next;
      break;
    case 'UPDATED_OLD':
      if (old) {
        const p = project(old.item, paths);
        if (Object.keys(p).length) out.Attributes = p;
      }
      break;
    case 'UPDATED_NEW': {
      const p = next ? project(next, paths) : {};
      if (Object.keys(p).length) out.Attributes = p;
      break;
    }
  }
  return withWriteMetrics(provider, out, t, input, effect, next);
}

/** Adds the ConsumedCapacity and ItemCollectionMetrics a single-item write was asked for. */
function withWriteMetrics<O extends Response<Pick<M.PutItemOutput, 'ConsumedCapacity' | 'ItemCollectionMetrics'>>>(provider: ItemStore, out: O, t: TableState, input: WriteMetricsInput, effect: WriteEffect | undefined, item: Item | undefined): O {
  const cc = provider.writeCapacity(t, input.ReturnConsumedCapacity, effect);
  if (cc) out.ConsumedCapacity = cc;
  const icm = provider.collectionMetrics(t, input.ReturnItemCollectionMetrics, item);
  if (icm) out.ItemCollectionMetrics = icm;
  return out;
}

export function batchGetItem(provider: ItemStore, input: Request<M.BatchGetItemInput>, ctx: RequestContext): Response<M.BatchGetItemOutput> {
  const requests = input.RequestItems ?? {};
  let total = 0;
  for (const name in requests) total += (requests[name]!.Keys ?? []).length;
  if (total > 100) throw validationError('Too many items requested for the BatchGetItem call');
  const plans: { name: string; t: TableState; keys: Buffer[]; rawKeys: Item[]; paths: Path[] | undefined; consistent: boolean; req: KeysAndAttributes }[] = [];
  for (const name in requests) {
    const req = requests[name]!;
    checkStyleMix(req, ['ProjectionExpression'], ['AttributesToGet']);
    checkPlaceholderMaps(req.ExpressionAttributeNames, undefined, validateValue);
    const ectx = newContext(req.ExpressionAttributeNames, undefined);
    let paths: Path[] | undefined;
    if (req.ProjectionExpression !== undefined) paths = parseProjection(req.ProjectionExpression, ectx);
    else if (req.AttributesToGet) paths = attributesToGet(req.AttributesToGet);
    checkUnused(ectx);
    const t = provider.active(ctx, name);
    const keys: Buffer[] = [];
    const seen = new Set<string>();
    for (const k of req.Keys) {
      const enc = provider.keyFromKey(t, k);
      const hex = enc.toString('hex');
      if (seen.has(hex)) throw validationError('Provided list of item keys contains duplicates');
      seen.add(hex);
      keys.push(enc);
    }
    plans.push({ name, t, keys, rawKeys: req.Keys, paths, consistent: req.ConsistentRead === true, req });
  }
  const responses: Record<string, (Item | RawJson)[]> = {};
  const unprocessed: Record<string, KeysAndAttributes> = {};
  const capacity: Response<M.ConsumedCapacity>[] = [];
  const enforcer = provider.throughput;
  let bytes = 0;
  let read = 0;
  let refusal: { t: TableState; why: Refusal } | undefined;
  const units: number[] = [];
  for (const p of plans) {
    const items: (Item | RawJson)[] = [];
    let tableUnits = 0;
    for (let i = 0; i < p.keys.length; i++) {
      // 16 MB response limit, or a key whose table's read capacity is spent (counting what this batch has read from
      // it): returned as UnprocessedKeys for the caller to retry.
      const why = bytes > 16 * MB ? undefined : enforcer?.refuseRead(p.t, undefined, tableUnits);
      if (why) refusal ??= { t: p.t, why };
      if (bytes > 16 * MB || why) {
        const u = (unprocessed[p.name] ??= { ...p.req, Keys: [] });
        u.Keys.push(p.rawKeys[i]);
        continue;
      }
      read++;
      const text = provider.items.getText(p.keys[i]!, ITEM_HEADER_BYTES);
      const size = text !== undefined ? textValueSize(text) : 0;
      tableUnits += readUnits(size, p.consistent);
      if (text === undefined) continue;
      bytes += size;
      const json = textValueJson(text);
      items.push(p.paths ? project(JSON.parse(json) as Item, p.paths) : storedItem(json, ctx));
    }
    responses[p.name] = items;
    units.push(tableUnits);
  }
  // AWS: "If none of the items can be processed due to insufficient provisioned throughput on all of the tables in
  // the request, then BatchGetItem returns a ProvisionedThroughputExceededException."
  if (read === 0 && refusal) throw throughputExceeded(refusal.t, refusal.why);
  plans.forEach((p, i) => {
    const cc = provider.readCapacity(p.t, input.ReturnConsumedCapacity, units[i]!);
    if (cc) capacity.push(cc);
  });
  const out: Response<M.BatchGetItemOutput> = { Responses: responses, UnprocessedKeys: unprocessed };
  if (input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES') out.ConsumedCapacity = capacity;
  return out;
}

export function batchWriteItem(provider: ItemStore, input: Request<M.BatchWriteItemInput>, ctx: RequestContext): Answer<Response<M.BatchWriteItemOutput>> {
  const requests = input.RequestItems ?? {};
  let total = 0;
  for (const name in requests) total += requests[name]!.length;
  if (total > 25) throw validationError('Too many items requested for the BatchWriteItem call');
  type Op = { t: TableState; key: Buffer; item: Item | undefined; size: number; name: string; request: Request<M.WriteRequest> };
  const ops: Op[] = [];
  // Validate the whole batch first: one invalid member rejects everything.
  for (const name in requests) {
    for (const w of requests[name]!) {
      if (w.PutRequest && w.DeleteRequest) throw validationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
      if (w.PutRequest) {
        const item = w.PutRequest.Item;
        for (const n in item) {
          const msg = validateValue(item[n]);
          if (msg) throw validationError(msg);
        }
      } else if (!w.DeleteRequest) throw validationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
    }
  }
  for (const name in requests) {
    const t = provider.active(ctx, name);
    const seen = new Set<string>();
    for (const w of requests[name]!) {
      let key: Buffer;
      let item: Item | undefined;
      let size = 0;
      if (w.PutRequest) {
        item = w.PutRequest.Item;
        // A put whose item lacks the table's key (or has it in another type) gets the key message here, not PutItem's.
        const k = t.key;
        if (item[k.hashName]?.[k.hashType] === undefined || (k.rangeName && item[k.rangeName]?.[k.rangeType!] === undefined)) {
          throw validationError('The provided key element does not match the schema');
        }
        key = provider.keyFromItem(t, item);
        size = itemSize(item);
        if (size > MAX_ITEM_BYTES) throw validationError('Item size has exceeded the maximum allowed size');
      } else key = provider.keyFromKey(t, w.DeleteRequest!.Key);
      const hex = key.toString('hex');
      if (seen.has(hex)) throw validationError('Provided list of item keys contains duplicates');
      seen.add(hex);
      ops.push({ t, key, item, size, name, request: w });
    }
  }
  const { admitted, unprocessed } = admitBatchWrites(provider, ops);
  return writeBatch(provider, input, admitted, unprocessed);
}

/**
 * The writes of a batch that the tables' (and their GSIs') write capacity admits now, counting what the batch's
 * earlier writes will consume (estimated from the item's size, one unit for a delete: the item is read only later);
 * the others go back as UnprocessedItems. None admitted: ProvisionedThroughputExceededException, as AWS answers "if
 * none of the items can be processed due to insufficient provisioned throughput on all of the tables in the request".
 */
function admitBatchWrites<O extends { t: TableState; size: number; name: string; request: Request<M.WriteRequest> }>(provider: ItemStore, ops: O[]): { admitted: O[]; unprocessed: Record<string, Request<M.WriteRequest>[]> } {
  const unprocessed: Record<string, Request<M.WriteRequest>[]> = {};
  const enforcer = provider.throughput;
  if (!enforcer) return { admitted: ops, unprocessed };
  const admitted: O[] = [];
  const promised = new Map<TableState, number>();
  let refusal: { t: TableState; why: Refusal } | undefined;
  for (const op of ops) {
    const units = promised.get(op.t) ?? 0;
    const why = enforcer.refuseWrite(op.t, units);
    if (why) {
      refusal ??= { t: op.t, why };
      (unprocessed[op.name] ??= []).push(op.request);
      continue;
    }
    promised.set(op.t, units + writeUnits(op.size));
    admitted.push(op);
  }
  if (admitted.length === 0 && refusal) throw throughputExceeded(refusal.t, refusal.why);
  return { admitted, unprocessed };
}

function writeBatch(provider: ItemStore, input: Request<M.BatchWriteItemInput>, ops: { t: TableState; key: Buffer; item: Item | undefined; size: number }[], unprocessed: Record<string, Request<M.WriteRequest>[]>): Answer<Response<M.BatchWriteItemOutput>> {
  const perTable = new Map<TableState, WriteEffect[]>();
  const metrics = new Map<TableState, Response<M.ItemCollectionMetrics>[]>();
  for (const op of ops) provider.markStats(op.t);
  return provider.write(ops.map((op) => op.t), () => {
    for (const op of ops) {
      const old = provider.readItem(op.key);
      if (!op.item && !old) {
        perTable.set(op.t, [...(perTable.get(op.t) ?? []), { tableBytes: 0, indexUnits: new Map() }]);
        continue;
      }
      const effect = provider.userWrite(op.t, op.key, old, op.item, op.size);
      perTable.set(op.t, [...(perTable.get(op.t) ?? []), effect]);
      const icm = input.ReturnItemCollectionMetrics === 'SIZE' ? provider.collectionMetrics(op.t, 'SIZE', op.item ?? old?.item) : undefined;
      if (icm) metrics.set(op.t, [...(metrics.get(op.t) ?? []), icm]);
    }
  }, () => {
    const out = batchWriteOutput(provider, input, perTable, metrics);
    out.UnprocessedItems = unprocessed;
    return out;
  });
}

export function batchWriteOutput(provider: ItemStore, input: Request<Pick<M.BatchWriteItemInput, 'ReturnConsumedCapacity' | 'ReturnItemCollectionMetrics'>>, perTable: Map<TableState, WriteEffect[]>, metrics: Map<TableState, Response<M.ItemCollectionMetrics>[]>): Response<M.BatchWriteItemOutput> {
  const out: Response<M.BatchWriteItemOutput> = { UnprocessedItems: {} };
  const meter = provider.capacityMeter;
  if (meter) for (const [t, effects] of perTable) for (const e of effects) meter.write(t, writeUnits(e.tableBytes), e.indexUnits);
  if (input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES') {
    out.ConsumedCapacity = [...perTable].map(([t, effects]) => {
      const merged: WriteEffect = { tableBytes: 0, indexUnits: new Map() };
      let tableUnits = 0;
      for (const e of effects) {
        tableUnits += writeUnits(e.tableBytes);
        for (const [n, u] of e.indexUnits) merged.indexUnits.set(n, (merged.indexUnits.get(n) ?? 0) + u);
      }
      // Not provider.writeCapacity: the meter has counted these writes one by one above.
      const cc = writeCapacity(provider, t, input.ReturnConsumedCapacity, merged)!;
      const extra = tableUnits - writeUnits(0);
      // writeCapacity sets both counts (and the Table's, when it reports one) in TOTAL and INDEXES modes.
      cc.CapacityUnits! += extra;
      cc.WriteCapacityUnits! += extra;
      if (cc.Table) {
        cc.Table.CapacityUnits! += extra;
        cc.Table.WriteCapacityUnits! += extra;
      }
      return cc;
    });
  }
  if (input.ReturnItemCollectionMetrics === 'SIZE') {
    const m: Record<string, Response<M.ItemCollectionMetrics>[]> = {};
    for (const [t, list] of metrics) m[t.meta.name] = list;
    out.ItemCollectionMetrics = m;
  }
  return out;
}
