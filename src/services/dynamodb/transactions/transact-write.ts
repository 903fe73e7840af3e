/**
 * @module services/dynamodb/transactions/transact-write
 * TransactWriteItems, and the write-transaction engine that PartiQL's ExecuteTransaction shares
 * (`transactWrite`, taking actions already resolved to tables and keys).
 *
 * A transaction runs in three steps:
 *   1. checks that need no item: one action per item, the 4 MB aggregate, the client token (a repeat
 *      is answered without changing anything);
 *   2. it takes its items (item-locks): an item another transaction holds cancels it with
 *      TransactionConflict;
 *   3. in ONE store op (the provider's `write`: a group-commit op, or a transaction), it reads every
 *      item, evaluates every condition and update, and either cancels with every action's reason in
 *      request order, or applies all the changes in one call of the provider's write path
 *      (`applyChanges`, transactional) and records the token, so everything commits together or not
 *      at all. Its items are released when that op's commit is durable (or has failed).
 * Readers never see half a transaction: the provider is synchronous, so step 3 runs without any other
 * request in between, and what it writes is committed as one.
 *
 * The fault point `dynamodb.transaction.hold` (core/faults.ts, test hooks only) holds a transaction
 * between steps 2 and 3, so tests can show what concurrent requests see while it holds its items.
 */
import type { RequestContext } from '../../../core/context.js';
import { ServiceError, validationError } from '../../../core/errors.js';
import { faultDelayMs } from '../../../core/faults.js';
import { type Item, MAX_ITEM_BYTES, itemSize, readUnits, validateValue, writeUnits } from '../attributes.js';
import type { Condition, UpdateAction } from '../expressions/ast.js';
import { evalCondition } from '../expressions/evaluate.js';
import { checkPlaceholderMaps, checkUnused, newContext, parseCondition, parseUpdate } from '../expressions/parser.js';
import { applyUpdate } from '../expressions/update.js';
import type { ItemChange, StoredItem, TableState, WriteEffect } from '../tables/state.js';
import { throttledMessage } from '../throughput/enforcer.js';
import type { TransactionalStore } from './state.js';
import { addIndexWrite, addItemRead, addItemWrite, consumedCapacity, emptyUnits, TRANSACTION_FACTOR, type TableUnits } from './capacity.js';
import {
  type CancellationReason, NO_REASON, cancels, conditionalCheckFailed, throttlingError, transactionCanceled, transactionConflict, validationFailed,
} from './cancellation.js';
import { ClientTokens, type TokenRecord, requestHash } from './client-tokens.js';

import type * as M from '../../../models/dynamodb.js';
import type { Response } from '../shapes.js';

type ItemCollectionMetrics = Response<M.ItemCollectionMetrics>;

/** DynamoDB's limit on the aggregate size of the items of one transaction. */
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;
export const MULTIPLE_OPERATIONS_MESSAGE = 'Transaction request cannot include multiple operations on one item';
export const TRANSACTION_SIZE_MESSAGE = 'Transaction size has exceeded the maximum allowed size of 4 MB';
const ONE_ACTION_MESSAGE = 'TransactItems can only contain one of Check, Put, Update or Delete';

/** What a failed condition cancels an action with (PartiQL's INSERT of an existing item: DuplicateItem). */
export interface ConditionFailure {
  code: 'ConditionalCheckFailed' | 'DuplicateItem';
  message: string;
}

interface ActionBase {
  table: TableState;
  /** The item's store key (provider.keyFromKey / keyFromItem). */
  key: Buffer;
  condition?: Condition | undefined;
  /** ReturnValuesOnConditionCheckFailure=ALL_OLD: a failed condition's reason carries the item. */
  returnOldOnFailure?: boolean;
  /** Default: ConditionalCheckFailed, "The conditional request failed". */
  onConditionFailure?: ConditionFailure;
}

/** One resolved action of a write transaction. */
export type TransactWriteAction =
  | (ActionBase & { kind: 'Put'; item: Item; size: number })
  | (ActionBase & { kind: 'Update'; keyItem: Item; update: UpdateAction[] })
  | (ActionBase & { kind: 'Delete' })
  | (ActionBase & { kind: 'ConditionCheck' })
  /** An action refused before any item is read (a key that does not match its table's schema): cancels with ValidationError. */
  | { kind: 'Invalid'; table: TableState; message: string };

export interface TransactWriteOptions {
  /** ClientRequestToken, with the hash of the request's parameters (client-tokens.requestHash). */
  token?: { value: string; hash: string };
  returnConsumedCapacity?: string | undefined;
  returnItemCollectionMetrics?: string | undefined;
}

export interface TransactWriteOutput {
  ConsumedCapacity?: Response<M.ConsumedCapacity>[];
  ItemCollectionMetrics?: Record<string, ItemCollectionMetrics[]>;
}

// ---------------------------------------------------------------------------------------- the engine

/**
 * Runs a write transaction of resolved actions (see the module header). Answers the output, or throws
 * (or rejects with) TransactionCanceledException, ValidationException, TransactionInProgressException or
 * IdempotentParameterMismatchException.
 */
export function transactWrite(provider: TransactionalStore, actions: readonly TransactWriteAction[], ctx: RequestContext, options: TransactWriteOptions = {}): TransactWriteOutput | Promise<TransactWriteOutput> {
  checkDistinctItems(actions);
  checkAggregateSize(actions);
  const { locks, tokens } = provider.transactions;
  const tokenId = options.token ? ClientTokens.id(ctx.scope, options.token.value) : undefined;
  if (tokenId !== undefined) {
    const repeat = tokens.check(tokenId, options.token!.hash, ctx.clock.now());
    if (repeat) return repeatAnswer(provider, actions, repeat, options);
  }
  const throttled = throttlingReasons(provider, actions);
  if (throttled) throw transactionCanceled(throttled);
  const keys = actions.flatMap((a) => (a.kind === 'Invalid' ? [] : [a.key]));
  const owner = locks.newOwner();
  const conflicts = locks.tryAcquire(keys, owner);
  if (conflicts.length) {
    const conflicting = new Set(conflicts.map((i) => keys[i]!));
    throw transactionCanceled(actions.map((a) => (a.kind !== 'Invalid' && conflicting.has(a.key) ? transactionConflict() : NO_REASON)));
  }
  if (tokenId !== undefined) tokens.begin(tokenId, options.token!.hash);
  const finish = (): void => {
    locks.release(keys, owner);
    if (tokenId !== undefined) tokens.end(tokenId);
  };
  let answer: TransactWriteOutput | Promise<TransactWriteOutput>;
  try {
    const holdMs = faultDelayMs('dynamodb.transaction.hold');
    answer = holdMs > 0
      ? new Promise<void>((resolve) => setTimeout(resolve, holdMs)).then(() => commit(provider, refreshTables(provider, actions, ctx), ctx, options, tokenId))
      : commit(provider, actions, ctx, options, tokenId);
  } catch (e) {
    finish();
    throw e;
  }
  if (answer instanceof Promise) return answer.finally(finish);
  finish();
  return answer;
}

/**
 * With provisioned throughput enforced: the reasons that cancel a transaction one of whose tables (or their GSIs) has
 * no capacity left (ThrottlingError on those actions); undefined when every action may run.
 */
function throttlingReasons(provider: TransactionalStore, actions: readonly TransactWriteAction[]): CancellationReason[] | undefined {
  const enforcer = provider.throughput;
  if (!enforcer) return undefined;
  let throttled = false;
  const reasons = actions.map((a): CancellationReason => {
    if (a.kind === 'Invalid') return validationFailed(a.message);
    const why = a.kind === 'ConditionCheck' ? enforcer.refuseRead(a.table) : enforcer.refuseWrite(a.table);
    if (!why) return NO_REASON;
    throttled = true;
    return throttlingError(throttledMessage(why));
  });
  return throttled ? reasons : undefined;
}

/** Step 3: one store op that reads, checks, and applies everything or nothing. */
function commit(provider: TransactionalStore, actions: readonly TransactWriteAction[], ctx: RequestContext, options: TransactWriteOptions, tokenId: string | undefined): TransactWriteOutput | Promise<TransactWriteOutput> {
  const tables = [...new Set(actions.map((a) => a.table))];
  for (const t of tables) provider.markStats(t);
  const nowMs = ctx.clock.now();
  let record: TokenRecord | undefined;
  const run = (): Applied => {
    const applied = evaluate(provider, actions);
    const effects = provider.applyChanges(applied.changes, { origin: 'user', transactional: true, nowMs });
    applied.effects = effects;
    if (tokenId !== undefined) {
      record = { h: options.token!.hash, at: nowMs };
      const icm = itemCollectionMetrics(provider, applied, options.returnItemCollectionMetrics);
      if (icm) record.icm = icm;
      provider.transactions.tokens.record(tokenId, record);
    }
    return applied;
  };
  // A token recorded by an op that then failed (its commit, not its checks) is forgotten with it.
  const failed = (e: unknown): never => {
    if (record && tokenId !== undefined) provider.transactions.tokens.forget(tokenId, record);
    throw e;
  };
  let answered: TransactWriteOutput | Promise<TransactWriteOutput>;
  try {
    answered = provider.write(tables, run, (applied) => output(provider, applied, options));
  } catch (e) {
    return failed(e);
  }
  if (answered instanceof Promise) return answered.catch(failed);
  return answered;
}

interface Applied {
  actions: readonly TransactWriteAction[];
  /** Per action: the item before, and the change made (undefined for a ConditionCheck or a change of nothing). */
  before: (StoredItem | undefined)[];
  changes: ItemChange[];
  /** Index in `changes` of each action's change, or -1. */
  changeOf: number[];
  effects: WriteEffect[];
}

/** Reads every item and evaluates every action; throws TransactionCanceledException if any cannot be done. */
function evaluate(provider: TransactionalStore, actions: readonly TransactWriteAction[]): Applied {
  const reasons: CancellationReason[] = [];
  const applied: Applied = { actions, before: [], changes: [], changeOf: [], effects: [] };
  for (const a of actions) {
    if (a.kind === 'Invalid') {
      reasons.push(validationFailed(a.message));
      applied.before.push(undefined);
      applied.changeOf.push(-1);
      continue;
    }
    const stored = provider.readItem(a.key);
    applied.before.push(stored);
    let reason = NO_REASON;
    let change: ItemChange | undefined;
    try {
      if (a.condition && !evalCondition(a.condition, stored?.item ?? {})) reason = conditionFailed(a, stored);
      else change = changeFor(provider, a, stored);
    } catch (e) {
      if (!(e instanceof ServiceError) || e.code !== 'ValidationException') throw e;
      reason = validationFailed(e.message);
    }
    reasons.push(reason);
    applied.changeOf.push(change ? applied.changes.length : -1);
    if (change) applied.changes.push(change);
  }
  if (cancels(reasons)) throw transactionCanceled(reasons);
  return applied;
}

function conditionFailed(a: Exclude<TransactWriteAction, { kind: 'Invalid' }>, stored: StoredItem | undefined): CancellationReason {
  const old = a.returnOldOnFailure ? stored?.item : undefined;
  if (a.onConditionFailure && a.onConditionFailure.code !== 'ConditionalCheckFailed') {
    return old ? { Code: a.onConditionFailure.code, Message: a.onConditionFailure.message, Item: old } : { Code: a.onConditionFailure.code, Message: a.onConditionFailure.message };
  }
  return conditionalCheckFailed(old);
}

/** The change an action makes to its item, or undefined when it changes nothing. Throws ValidationException. */
function changeFor(provider: TransactionalStore, a: Exclude<TransactWriteAction, { kind: 'Invalid' }>, stored: StoredItem | undefined): ItemChange | undefined {
  switch (a.kind) {
    case 'ConditionCheck':
      return undefined;
    case 'Delete':
      return stored ? { table: a.table, key: a.key, stored, next: undefined, nextSize: 0 } : undefined;
    case 'Put':
      return { table: a.table, key: a.key, stored, next: a.item, nextSize: a.size };
    case 'Update': {
      // Removing attributes from an item that is not there creates nothing, as UpdateItem does.
      if (!stored && a.update.every((u) => u.k === 'remove')) return undefined;
      const next = applyUpdate(stored ? stored.item : { ...a.keyItem }, a.update);
      provider.keyFromItem(a.table, next); // the updated item's index key types
      const size = itemSize(next);
      if (size > MAX_ITEM_BYTES) throw validationError('Item size to update has exceeded the maximum allowed size');
      return { table: a.table, key: a.key, stored, next, nextSize: size };
    }
  }
}

function output(provider: TransactionalStore, applied: Applied, options: TransactWriteOptions): TransactWriteOutput {
  const out: TransactWriteOutput = {};
  const meter = provider.capacityMeter;
  if (meter) {
    // Every request's units, whatever ReturnConsumedCapacity asked (AWS/DynamoDB metrics), charged as below.
    applied.actions.forEach((a, i) => {
      const ci = applied.changeOf[i]!;
      if (a.kind === 'ConditionCheck') meter.read(a.table, TRANSACTION_FACTOR * readUnits(applied.before[i]?.size ?? 0, true), undefined);
      else if (ci < 0) meter.write(a.table, TRANSACTION_FACTOR * writeUnits(applied.before[i]?.size ?? 0), undefined);
      else meter.write(a.table, TRANSACTION_FACTOR * writeUnits(applied.effects[ci]!.tableBytes), applied.effects[ci]!.indexUnits);
    });
  }
  if (options.returnConsumedCapacity === 'TOTAL' || options.returnConsumedCapacity === 'INDEXES') {
    const perTable = new Map<string, TableUnits>();
    applied.actions.forEach((a, i) => {
      let u = perTable.get(a.table.meta.name);
      if (!u) perTable.set(a.table.meta.name, (u = emptyUnits()));
      const ci = applied.changeOf[i]!;
      if (a.kind === 'ConditionCheck') addItemRead(u, applied.before[i]?.size ?? 0);
      else if (ci < 0) addItemWrite(u, applied.before[i]?.size ?? 0); // a Delete of no item, an Update that changed nothing
      else {
        const effect = applied.effects[ci]!;
        addItemWrite(u, effect.tableBytes);
        for (const [index, n] of effect.indexUnits) addIndexWrite(u, index, a.table.indexes.find((x) => x.meta.name === index)?.meta.global ?? false, n);
      }
    });
    out.ConsumedCapacity = consumedCapacity(options.returnConsumedCapacity, perTable);
  }
  const icm = itemCollectionMetrics(provider, applied, options.returnItemCollectionMetrics);
  if (icm) out.ItemCollectionMetrics = icm;
  return out;
}

function itemCollectionMetrics(provider: TransactionalStore, applied: Applied, mode: string | undefined): Record<string, ItemCollectionMetrics[]> | undefined {
  if (mode !== 'SIZE') return undefined;
  const out: Record<string, ItemCollectionMetrics[]> = {};
  for (const c of applied.changes) {
    const m = provider.collectionMetrics(c.table, 'SIZE', c.next ?? c.stored?.item);
    if (m) (out[c.table.meta.name] ??= []).push(m);
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * A repeat of a request whose token is remembered: nothing is changed. DynamoDB documents that the
 * repeat reports the read capacity of reading the items (not the writes of the first call).
 */
function repeatAnswer(provider: TransactionalStore, actions: readonly TransactWriteAction[], record: TokenRecord, options: TransactWriteOptions): TransactWriteOutput {
  const out: TransactWriteOutput = {};
  if (options.returnConsumedCapacity === 'TOTAL' || options.returnConsumedCapacity === 'INDEXES') {
    const perTable = new Map<string, TableUnits>();
    for (const a of actions) {
      let u = perTable.get(a.table.meta.name);
      if (!u) perTable.set(a.table.meta.name, (u = emptyUnits()));
      if (a.kind !== 'Invalid') addItemRead(u, provider.readItem(a.key)?.size ?? 0);
    }
    out.ConsumedCapacity = consumedCapacity(options.returnConsumedCapacity, perTable);
  }
  if (record.icm !== undefined) out.ItemCollectionMetrics = record.icm as Record<string, ItemCollectionMetrics[]>; // what output() answered when the token was recorded
  return out;
}

/**
 * After a hold (a fault point's delay), the tables may have changed (an index added: a new state
 * object; deleted, or deleted and made again: another namespace, so these keys are not its items).
 */
function refreshTables(provider: TransactionalStore, actions: readonly TransactWriteAction[], ctx: RequestContext): TransactWriteAction[] {
  return actions.map((a) => {
    const now = provider.active(ctx, a.table.meta.name);
    if (now === a.table) return a;
    if (now.meta.ns !== a.table.meta.ns) throw new ServiceError('ResourceNotFoundException', 'Requested resource not found');
    return { ...a, table: now };
  });
}

/** No two actions on one item (keys are store keys: table namespace and key, so equal keys are one item). */
export function checkDistinctItems(actions: readonly ({ kind: 'Invalid' } | { kind: string; key: Buffer })[]): void {
  const seen = new Set<string>();
  for (const a of actions) {
    if (!('key' in a)) continue;
    const k = a.key.toString('latin1');
    if (seen.has(k)) throw validationError(MULTIPLE_OPERATIONS_MESSAGE);
    seen.add(k);
  }
}

/** The 4 MB limit on the items a transaction carries (whole items for Put, keys for the others). */
function checkAggregateSize(actions: readonly TransactWriteAction[]): void {
  let bytes = 0;
  for (const a of actions) {
    if (a.kind === 'Put') bytes += a.size;
    else if (a.kind === 'Update') bytes += itemSize(a.keyItem);
  }
  if (bytes > MAX_TRANSACTION_BYTES) throw validationError(TRANSACTION_SIZE_MESSAGE);
}

// ---------------------------------------------------------------------------------------- TransactWriteItems

interface WireConditional {
  TableName: string;
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Item;
  ReturnValuesOnConditionCheckFailure?: string;
}
interface WirePut extends WireConditional { Item: Item }
interface WireUpdate extends WireConditional { Key: Item; UpdateExpression: string }
interface WireKeyed extends WireConditional { Key: Item }

export interface TransactWriteItemsRequest {
  TransactItems?: { Put?: WirePut; Update?: WireUpdate; Delete?: WireKeyed; ConditionCheck?: WireKeyed }[];
  ReturnConsumedCapacity?: string;
  ReturnItemCollectionMetrics?: string;
  ClientRequestToken?: string;
}

/** The TransactWriteItems operation: the request's actions resolved and checked, then run by transactWrite. */
export function transactWriteItems(provider: TransactionalStore, input: TransactWriteItemsRequest, ctx: RequestContext): TransactWriteOutput | Promise<TransactWriteOutput> {
  const items = input.TransactItems ?? [];
  for (const w of items) {
    const n = (w.Put ? 1 : 0) + (w.Update ? 1 : 0) + (w.Delete ? 1 : 0) + (w.ConditionCheck ? 1 : 0);
    if (n !== 1) throw validationError(ONE_ACTION_MESSAGE);
  }
  const actions = items.map((w) => resolveWriteItem(provider, w, ctx));
  const options: TransactWriteOptions = { returnConsumedCapacity: input.ReturnConsumedCapacity, returnItemCollectionMetrics: input.ReturnItemCollectionMetrics };
  if (input.ClientRequestToken !== undefined) {
    const params = { TransactItems: input.TransactItems, ReturnConsumedCapacity: input.ReturnConsumedCapacity, ReturnItemCollectionMetrics: input.ReturnItemCollectionMetrics };
    options.token = { value: input.ClientRequestToken, hash: requestHash('TransactWriteItems', params) };
  }
  return transactWrite(provider, actions, ctx, options);
}

function resolveWriteItem(provider: TransactionalStore, w: NonNullable<TransactWriteItemsRequest['TransactItems']>[number], ctx: RequestContext): TransactWriteAction {
  if (w.Put) {
    const p = w.Put;
    for (const name in p.Item) {
      const msg = validateValue(p.Item[name]);
      if (msg) throw validationError(msg);
    }
    const { condition } = actionExpressions(p);
    const t = provider.active(ctx, p.TableName);
    const size = itemSize(p.Item);
    if (size > MAX_ITEM_BYTES) throw validationError('Item size has exceeded the maximum allowed size');
    const key = keyOrProblem(() => provider.keyFromItem(t, p.Item));
    if (typeof key === 'string') return { kind: 'Invalid', table: t, message: key };
    return { kind: 'Put', table: t, key, item: p.Item, size, condition, returnOldOnFailure: p.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' };
  }
  if (w.Update) {
    const u = w.Update;
    const known = provider.lookup(ctx, u.TableName);
    const { condition, update } = actionExpressions(u, u.UpdateExpression, known ? known.keyAttrs : []);
    const t = provider.active(ctx, u.TableName);
    const key = keyOrProblem(() => provider.keyFromKey(t, u.Key));
    if (typeof key === 'string') return { kind: 'Invalid', table: t, message: key };
    return { kind: 'Update', table: t, key, keyItem: u.Key, update: update!, condition, returnOldOnFailure: u.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' };
  }
  const kind = w.Delete ? 'Delete' : 'ConditionCheck';
  const d = (w.Delete ?? w.ConditionCheck)!;
  const { condition } = actionExpressions(d);
  const t = provider.active(ctx, d.TableName);
  const key = keyOrProblem(() => provider.keyFromKey(t, d.Key));
  if (typeof key === 'string') return { kind: 'Invalid', table: t, message: key };
  return { kind, table: t, key, condition, returnOldOnFailure: d.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' };
}

/**
 * An action's condition and update, parsed with the single-item operations' checks and messages, except
 * that, as DynamoDB does for transactions, placeholder maps without any expression are accepted (with an
 * expression, a placeholder it does not use is still refused).
 */
function actionExpressions(a: WireConditional, updateExpression?: string, keyAttributes: readonly string[] = []): { condition: Condition | undefined; update: UpdateAction[] | undefined } {
  checkPlaceholderMaps(a.ExpressionAttributeNames, a.ExpressionAttributeValues, validateValue);
  const ectx = newContext(a.ExpressionAttributeNames, a.ExpressionAttributeValues);
  const condition = a.ConditionExpression !== undefined ? parseCondition(a.ConditionExpression, 'ConditionExpression', ectx) : undefined;
  const update = updateExpression !== undefined ? parseUpdate(updateExpression, ectx, keyAttributes) : undefined;
  if (condition !== undefined || update !== undefined) checkUnused(ectx);
  return { condition, update };
}

/**
 * An action's key, or the problem that cancels the action. A key that does not match its table's schema
 * (missing, extra or of the wrong type) cancels the transaction with a ValidationError reason; a value no
 * key may hold (empty, too long, malformed) is refused for the whole request, as DynamoDB does.
 */
export function keyOrProblem(resolve: () => Buffer): Buffer | string {
  try {
    return resolve();
  } catch (e) {
    if (e instanceof ServiceError && e.code === 'ValidationException' && SCHEMA_MISMATCH.test(e.message)) return e.message;
    throw e;
  }
}

const SCHEMA_MISMATCH = /does not match the schema|Missing the key|Type mismatch/;
