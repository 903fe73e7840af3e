/**
 * @module services/dynamodb/transactions/transact-get
 * TransactGetItems, and the read-transaction engine that PartiQL's ExecuteTransaction (a transaction of
 * SELECTs) shares (`transactGet`, taking reads already resolved to tables and keys).
 *
 * A read transaction sees every item as of one moment: the provider is synchronous, so its reads run
 * without any write in between. An item that a write transaction holds (item-locks) cancels it with
 * TransactionConflict, as DynamoDB documents. Each item read is charged twice (prepare and commit), a
 * strongly consistent read of its size, as DynamoDB charges it.
 */
import type { RequestContext } from '../../../core/context.js';
import { validationError } from '../../../core/errors.js';
import { RawJson } from '../../../protocols/wirejson.js';
import { type Item, readUnits, validateValue } from '../attributes.js';
import type { Path } from '../expressions/ast.js';
import { project } from '../expressions/evaluate.js';
import { checkPlaceholderMaps, checkUnused, newContext, parseProjection } from '../expressions/parser.js';
import type { StoredItem, TableState } from '../tables/state.js';
import type { TransactionalStore } from './state.js';
import { addItemRead, consumedCapacity, emptyUnits, TRANSACTION_FACTOR, type TableUnits } from './capacity.js';
import { type CancellationReason, NO_REASON, cancels, throttlingError, transactionCanceled, transactionConflict, validationFailed } from './cancellation.js';
import { throttledMessage } from '../throughput/enforcer.js';
import { MAX_TRANSACTION_BYTES, TRANSACTION_SIZE_MESSAGE, checkDistinctItems, keyOrProblem } from './transact-write.js';

import type * as M from '../../../models/dynamodb.js';
import type { Response } from '../shapes.js';

/** One resolved read of a read transaction. */
export type TransactGetAction =
  | { kind: 'Get'; table: TableState; key: Buffer; paths?: Path[] | undefined }
  /** A read refused before any item is read (a key that does not match its table's schema): cancels with ValidationError. */
  | { kind: 'Invalid'; table: TableState; message: string };

export interface TransactGetOutput {
  Responses: ({ Item?: Item | RawJson })[];
  ConsumedCapacity?: Response<M.ConsumedCapacity>[];
}

/** Runs a read transaction (see the module header). Throws TransactionCanceledException or ValidationException. */
export function transactGet(provider: TransactionalStore, reads: readonly TransactGetAction[], ctx: RequestContext, returnConsumedCapacity?: string): TransactGetOutput {
  checkDistinctItems(reads);
  const locks = provider.transactions.locks;
  const enforcer = provider.throughput;
  // A read whose table has no read capacity left cancels the transaction with ThrottlingError (throughput/enforcer.ts).
  const throttled = (r: TransactGetAction): CancellationReason | undefined => {
    const why = enforcer?.refuseRead(r.table);
    return why ? throttlingError(throttledMessage(why)) : undefined;
  };
  const reasons: CancellationReason[] = reads.map((r) => (r.kind === 'Invalid' ? validationFailed(r.message) : locks.isHeld(r.key) ? transactionConflict() : (throttled(r) ?? NO_REASON)));
  if (cancels(reasons)) throw transactionCanceled(reasons);
  const found: (StoredItem | undefined)[] = reads.map((r) => (r.kind === 'Get' ? provider.readItem(r.key) : undefined));
  let bytes = 0;
  for (const s of found) bytes += s?.size ?? 0;
  if (bytes > MAX_TRANSACTION_BYTES) throw validationError(TRANSACTION_SIZE_MESSAGE);
  const out: TransactGetOutput = {
    Responses: reads.map((r, i) => {
      const s = found[i];
      if (!s || r.kind !== 'Get') return {};
      if (r.paths) return { Item: project(s.item, r.paths) };
      return { Item: ctx.rawJson ? new RawJson(s.json) : s.item };
    }),
  };
  const meter = provider.capacityMeter;
  // Every request's units, whatever ReturnConsumedCapacity asked (AWS/DynamoDB metrics).
  if (meter) reads.forEach((r, i) => meter.read(r.table, TRANSACTION_FACTOR * readUnits(found[i]?.size ?? 0, true), undefined));
  if (returnConsumedCapacity === 'TOTAL' || returnConsumedCapacity === 'INDEXES') {
    const perTable = new Map<string, TableUnits>();
    reads.forEach((r, i) => {
      let u = perTable.get(r.table.meta.name);
      if (!u) perTable.set(r.table.meta.name, (u = emptyUnits()));
      addItemRead(u, found[i]?.size ?? 0);
    });
    out.ConsumedCapacity = consumedCapacity(returnConsumedCapacity, perTable);
  }
  return out;
}

interface WireGet {
  TableName: string;
  Key: Item;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
}

export interface TransactGetItemsRequest {
  TransactItems?: { Get?: WireGet }[];
  ReturnConsumedCapacity?: string;
}

/** The TransactGetItems operation: the request's reads resolved and checked, then run by transactGet. */
export function transactGetItems(provider: TransactionalStore, input: TransactGetItemsRequest, ctx: RequestContext): TransactGetOutput {
  const reads = (input.TransactItems ?? []).map((w): TransactGetAction => {
    const g = w.Get!; // required by the model
    checkPlaceholderMaps(g.ExpressionAttributeNames, undefined, validateValue);
    const ectx = newContext(g.ExpressionAttributeNames, undefined);
    const paths = g.ProjectionExpression !== undefined ? parseProjection(g.ProjectionExpression, ectx) : undefined;
    // As for write transactions, names without a ProjectionExpression are accepted.
    if (paths !== undefined) checkUnused(ectx);
    const t = provider.active(ctx, g.TableName);
    const key = keyOrProblem(() => provider.keyFromKey(t, g.Key));
    if (typeof key === 'string') return { kind: 'Invalid', table: t, message: key };
    return { kind: 'Get', table: t, key, paths };
  });
  return transactGet(provider, reads, ctx, input.ReturnConsumedCapacity);
}
