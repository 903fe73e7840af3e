/**
 * @module services/dynamodb/partiql/executor
 * ExecuteStatement, BatchExecuteStatement and ExecuteTransaction. Each statement is parsed, planned into
 * the DynamoDB operation that serves it (planner.ts), and run through the provider's own operations
 * (GetItem, Query, Scan, PutItem, UpdateItem, DeleteItem, TransactWriteItems, TransactGetItems), so PartiQL
 * reads and writes share the one read path and the one write path (indexes, capacity, change log) with
 * every other DynamoDB operation, and answer with the same validation.
 *
 * A SELECT's NextToken is opaque: base64 of the position where the read stopped, bound to the caller's
 * account and region, to a hash of the statement and its parameters, and to the time it was made
 * (a token older than an hour has expired, as on DynamoDB).
 */
import { createHash } from 'node:crypto';
import type { RequestContext } from '../../../core/context.js';
import { ServiceError, validationError } from '../../../core/errors.js';
import { type AttributeValue, type Item, compareScalars, validateValue } from '../attributes.js';
import type { DocPath, OrderBy, Statement } from './ast.js';
import { SyntaxProblem } from './lexer.js';
import { parseStatement, Rejection } from './parser.js';
import { isRead, plan, type Plan, type TableSchema, type UseCase } from './planner.js';
import { unnest } from './unnest.js';
import { parameterNumberProblem } from './parameters.js';
import type * as M from '../../../models/dynamodb.js';
import type { RawJson } from '../../../protocols/wirejson.js';
import type { Answer, Request, Response } from '../shapes.js';

/** What the executor needs from the DynamoDB provider: the key schema of a table, and its item operations. */
export interface PartiqlBackend {
  /** The key schema of an ACTIVE (or UPDATING) table in the caller's scope; throws ResourceNotFoundException. */
  partiqlSchema(ctx: RequestContext, table: string): TableSchema;
  getItem(input: Request<M.GetItemInput>, ctx: RequestContext): Answer<Response<M.GetItemOutput>>;
  query(input: Request<M.QueryInput>, ctx: RequestContext): Answer<Response<M.QueryOutput>>;
  scan(input: Request<M.ScanInput>, ctx: RequestContext): Answer<Response<M.ScanOutput>>;
  putItem(input: Request<M.PutItemInput>, ctx: RequestContext): Answer<Response<M.PutItemOutput>>;
  updateItem(input: Request<M.UpdateItemInput>, ctx: RequestContext): Answer<Response<M.UpdateItemOutput>>;
  deleteItem(input: Request<M.DeleteItemInput>, ctx: RequestContext): Answer<Response<M.DeleteItemOutput>>;
  transactWriteItems?(input: Request<M.TransactWriteItemsInput>, ctx: RequestContext): Answer<Response<M.TransactWriteItemsOutput>>;
  transactGetItems?(input: Request<M.TransactGetItemsInput>, ctx: RequestContext): Answer<Response<M.TransactGetItemsOutput>>;
}

/** What a statement of a batch answers with, whichever item operation served it. */
interface MemberOutput {
  Item?: Item | RawJson;
  Attributes?: Item | RawJson;
  ConsumedCapacity?: Response<M.ConsumedCapacity>;
}

/** One statement of a request, as the wire carries it (binary values as base64, like every item Cellar reads). */
export type StatementRequest = Request<M.BatchStatementRequest>;
export type ExecuteStatementRequest = Request<M.ExecuteStatementInput>;
export type BatchExecuteStatementRequest = Request<M.BatchExecuteStatementInput>;
export type ExecuteTransactionRequest = Request<M.ExecuteTransactionInput>;

const WELL_FORMED = "Statement wasn't well formed, can't be processed: ";
const DUPLICATE_ITEM = 'Duplicate primary key exists in table';
/** How long a NextToken stays usable. */
const TOKEN_LIFETIME_MS = 60 * 60 * 1000;

/** A statement's parse, as a ValidationException when DynamoDB refuses it. */
function parse(statement: string): { statement: Statement; params: number } {
  try {
    return parseStatement(statement);
  } catch (e) {
    throw asValidation(e);
  }
}

function asValidation(e: unknown): unknown {
  if (e instanceof SyntaxProblem) return validationError(WELL_FORMED + e.detail);
  if (e instanceof Rejection) return validationError(e.message);
  return e;
}

function planned(s: Statement, params: AttributeValue[] | undefined, backend: PartiqlBackend, ctx: RequestContext, use: UseCase): Plan {
  // Parameters are attribute values: checked as every attribute value is, before they reach an expression.
  for (const v of params ?? []) {
    const problem = parameterNumberProblem(v) ?? validateValue(v);
    if (problem) throw validationError(problem);
  }
  try {
    return plan(s, params ?? [], (table) => backend.partiqlSchema(ctx, table), use);
  } catch (e) {
    throw asValidation(e);
  }
}

/** DynamoDB's answer to an INSERT whose key exists (the PutItem's condition failed). */
function duplicateItem(): ServiceError {
  return new ServiceError('DuplicateItemException', DUPLICATE_ITEM);
}

// ------------------------------------------------------------------ NextToken

interface TokenBody {
  v: 1;
  a: string;
  r: string;
  h: string;
  t: number;
  k: Item;
}

function requestHash(statement: string, params: AttributeValue[] | undefined): string {
  return createHash('sha256').update(JSON.stringify([statement, params ?? []])).digest('base64url');
}

function makeToken(ctx: RequestContext, hash: string, lastKey: Item): string {
  const body: TokenBody = { v: 1, a: ctx.scope.accountId, r: ctx.scope.region, h: hash, t: ctx.clock.now(), k: lastKey };
  return Buffer.from(JSON.stringify(body)).toString('base64');
}

function readToken(ctx: RequestContext, token: string, hash: string): Item {
  let body: TokenBody;
  try {
    body = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as TokenBody;
  } catch {
    throw validationError('Invalid NextToken');
  }
  if (!body || typeof body !== 'object' || body.v !== 1 || typeof body.h !== 'string' || typeof body.t !== 'number' || !body.k || typeof body.k !== 'object') {
    throw validationError('Invalid NextToken');
  }
  if (body.a !== ctx.scope.accountId || body.r !== ctx.scope.region) throw validationError('Given NextToken is invalid for this account');
  if (body.h !== hash) throw validationError('NextToken does not match request');
  if (ctx.clock.now() - body.t >= TOKEN_LIFETIME_MS) throw validationError('Given NextToken has already expired');
  return body.k;
}

// ------------------------------------------------------------------ ExecuteStatement

export function executeStatement(backend: PartiqlBackend, input: ExecuteStatementRequest, ctx: RequestContext): Answer<Response<M.ExecuteStatementOutput>> {
  const statement = input.Statement;
  const { statement: parsed } = parse(statement);
  const p = planned(parsed, input.Parameters, backend, ctx, 'statement');
  const capacity = input.ReturnConsumedCapacity !== undefined ? { ReturnConsumedCapacity: input.ReturnConsumedCapacity } : {};
  switch (p.k) {
    case 'query':
    case 'scan': {
      if (input.ConsistentRead === true && p.input.IndexName !== undefined) {
        const idx = backend.partiqlSchema(ctx, p.input.TableName).indexes.get(p.input.IndexName);
        if (idx?.global) throw validationError('Strongly consistent read is not supported on Global Secondary Indexes');
      }
      const hash = requestHash(statement, input.Parameters);
      const read: Request<M.QueryInput & M.ScanInput> = { ...p.input, ...capacity };
      if (input.ConsistentRead === true) read.ConsistentRead = true;
      if (input.Limit !== undefined) read.Limit = input.Limit;
      if (input.NextToken !== undefined) read.ExclusiveStartKey = readToken(ctx, input.NextToken, hash);
      return then(p.k === 'query' ? backend.query(read, ctx) : backend.scan(read, ctx), (out) => {
        // Items are parsed wherever they are sorted or unnested: an ORDER BY needs a WHERE (a filtered read parses its
        // items) and a projection is a ProjectionExpression (projected items are parsed), see query-scan's walk.
        const items = (out.Items ?? []) as Item[];
        if (p.k === 'scan' && p.order) sortPage(items, p.order);
        const answer: Response<M.ExecuteStatementOutput> = { Items: p.paths ? items.map((i) => unnest(i, p.paths!)) : items };
        if (out.LastEvaluatedKey) answer.NextToken = makeToken(ctx, hash, out.LastEvaluatedKey as Item); // built from key attributes (query-scan keyOf), never pre-serialised
        if (out.ConsumedCapacity) answer.ConsumedCapacity = out.ConsumedCapacity;
        return answer;
      });
    }
    case 'put':
      return then(catching(() => backend.putItem({ ...p.input, ...capacity }, ctx), insertError), (out) => writeAnswer(out));
    case 'update':
    case 'delete': {
      const write: Request<M.UpdateItemInput & M.DeleteItemInput> = { ...p.input, ...capacity };
      if (input.ReturnValuesOnConditionCheckFailure !== undefined) write.ReturnValuesOnConditionCheckFailure = input.ReturnValuesOnConditionCheckFailure;
      return then(p.k === 'update' ? backend.updateItem(write, ctx) : backend.deleteItem(write, ctx), (out) => writeAnswer(out));
    }
    default:
      // get and check are planned only for batches and transactions.
      throw validationError(WELL_FORMED + 'Expected data manipulation');
  }
}

/** Sorts a page by ORDER BY key attributes (a Scan's order is the store's; items lacking them keep their place). */
function sortPage(items: Item[], order: OrderBy[]): void {
  items.sort((a, b) => {
    for (const o of order) {
      const x = a[o.path[0]];
      const y = b[o.path[0]];
      const c = x && y ? compareScalars(x, y) ?? 0 : 0;
      if (c !== 0) return o.descending ? -c : c;
    }
    return 0;
  });
}

function writeAnswer(out: MemberOutput): Response<M.ExecuteStatementOutput> {
  const answer: Response<M.ExecuteStatementOutput> = { Items: out.Attributes ? [out.Attributes] : [] };
  if (out.ConsumedCapacity) answer.ConsumedCapacity = out.ConsumedCapacity;
  return answer;
}

function insertError(e: unknown): unknown {
  return e instanceof ServiceError && e.code === 'ConditionalCheckFailedException' ? duplicateItem() : e;
}

/** Runs fn, mapping what it throws (at once or later) through map. */
function catching<T>(fn: () => Answer<T>, map: (e: unknown) => unknown): Answer<T> {
  let out: Answer<T>;
  try {
    out = fn();
  } catch (e) {
    throw map(e);
  }
  return out instanceof Promise ? out.catch((e: unknown) => Promise.reject(map(e))) : out;
}

function then<A, B>(a: Answer<A>, fn: (v: A) => B): Answer<B> {
  return a instanceof Promise ? a.then(fn) : fn(a);
}

// ------------------------------------------------------------------ BatchExecuteStatement

const BATCH_CODES: Record<string, NonNullable<M.BatchStatementError['Code']>> = {
  ConditionalCheckFailedException: 'ConditionalCheckFailed',
  DuplicateItemException: 'DuplicateItem',
  ResourceNotFoundException: 'ResourceNotFound',
  ValidationException: 'ValidationError',
  ItemCollectionSizeLimitExceededException: 'ItemCollectionSizeLimitExceeded',
  ProvisionedThroughputExceededException: 'ProvisionedThroughputExceeded',
  TransactionConflictException: 'TransactionConflict',
  RequestLimitExceeded: 'RequestLimitExceeded',
  ThrottlingException: 'ThrottlingError',
  AccessDeniedException: 'AccessDenied',
};

function batchError(e: unknown, tableName?: string): Response<M.BatchStatementResponse> {
  const error: Response<M.BatchStatementError> = e instanceof ServiceError
    ? { Code: BATCH_CODES[e.code] ?? 'InternalServerError', Message: e.message }
    : { Code: 'InternalServerError', Message: 'Internal server error' };
  if (e instanceof ServiceError && e.fields?.Item) error.Item = e.fields.Item as Item; // conditionalFailed's item
  return tableName !== undefined ? { Error: error, TableName: tableName } : { Error: error };
}

type Member = { plan: Plan } | { error: unknown };

export async function batchExecuteStatement(backend: PartiqlBackend, input: BatchExecuteStatementRequest, ctx: RequestContext): Promise<Response<M.BatchExecuteStatementOutput>> {
  const requests = input.Statements ?? [];
  const parsed = requests.map((r): { statement: Statement } | { error: unknown } => {
    try {
      return { statement: parse(r.Statement).statement };
    } catch (e) {
      return { error: e };
    }
  });
  const kinds = parsed.filter((p): p is { statement: Statement } => 'statement' in p).map((p) => isRead(p.statement));
  if (kinds.includes(true) && kinds.includes(false)) throw validationError('Read and write requests together in the same batch is not supported.');
  const members: Member[] = parsed.map((p, i) => {
    if ('error' in p) return p;
    try {
      return { plan: planned(p.statement, requests[i]!.Parameters, backend, ctx, 'batch') };
    } catch (e) {
      return { error: e };
    }
  });
  const seen = new Set<string>();
  for (const m of members) {
    // An INSERT names its item by value; two INSERTs of one key fail the second with DuplicateItem instead.
    if (!('plan' in m) || !('Key' in m.plan.input)) continue;
    const id = JSON.stringify([m.plan.input.TableName, m.plan.input.Key]);
    if (seen.has(id)) throw validationError('Provided list of item keys contains duplicates');
    seen.add(id);
  }
  const capacity = input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES' ? { ReturnConsumedCapacity: input.ReturnConsumedCapacity } : undefined;
  const consumed: Response<M.ConsumedCapacity>[] = [];
  const responses: Response<M.BatchStatementResponse>[] = [];
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    if ('error' in m) {
      responses.push(batchError(m.error));
      continue;
    }
    const table = m.plan.input.TableName;
    try {
      const out = await runMember(backend, m.plan, requests[i]!, capacity, ctx);
      if (out.ConsumedCapacity) consumed.push(out.ConsumedCapacity);
      const response: Response<M.BatchStatementResponse> = { TableName: table };
      const item = out.Item ?? out.Attributes;
      if (item) response.Item = m.plan.k === 'get' && m.plan.paths ? unnest(item as Item, m.plan.paths) : item;
      responses.push(response);
    } catch (e) {
      responses.push(batchError(e, table));
    }
  }
  const out: Response<M.BatchExecuteStatementOutput> = { Responses: responses };
  if (capacity) out.ConsumedCapacity = sumCapacity(consumed);
  return out;
}

async function runMember(backend: PartiqlBackend, p: Plan, request: StatementRequest, capacity: Pick<BatchExecuteStatementRequest, 'ReturnConsumedCapacity'> | undefined, ctx: RequestContext): Promise<MemberOutput> {
  const extra: Pick<M.UpdateItemInput, 'ReturnConsumedCapacity' | 'ReturnValuesOnConditionCheckFailure'> = { ...capacity };
  switch (p.k) {
    case 'get':
      return backend.getItem({ ...p.input, ...extra, ...(request.ConsistentRead === true ? { ConsistentRead: true } : {}) }, ctx);
    case 'put':
      return catching(() => backend.putItem({ ...p.input, ...extra }, ctx), insertError);
    case 'update':
    case 'delete':
      if (request.ReturnValuesOnConditionCheckFailure !== undefined) extra.ReturnValuesOnConditionCheckFailure = request.ReturnValuesOnConditionCheckFailure;
      return p.k === 'update' ? backend.updateItem({ ...p.input, ...extra }, ctx) : backend.deleteItem({ ...p.input, ...extra }, ctx);
    default:
      throw validationError(WELL_FORMED + 'Expected data manipulation');
  }
}

/** ConsumedCapacity per table, summed over the statements that ran. */
function sumCapacity(list: Response<M.ConsumedCapacity>[]): Response<M.ConsumedCapacity>[] {
  const byTable = new Map<string | undefined, Response<M.ConsumedCapacity>>();
  const add = (into: M.Capacity, from: M.Capacity): void => {
    for (const k of ['CapacityUnits', 'ReadCapacityUnits', 'WriteCapacityUnits'] as const) {
      const units = from[k];
      if (typeof units === 'number') into[k] = (into[k] ?? 0) + units;
    }
  };
  for (const c of list) {
    let t = byTable.get(c.TableName);
    if (!t) {
      t = { TableName: c.TableName };
      byTable.set(c.TableName, t);
    }
    add(t, c);
    if (c.Table) add((t.Table ??= {}), c.Table);
    for (const group of ['GlobalSecondaryIndexes', 'LocalSecondaryIndexes'] as const) {
      const indexes = c[group];
      if (!indexes) continue;
      const into = (t[group] ??= {});
      for (const [name, units] of Object.entries(indexes)) add((into[name] ??= {}), units);
    }
  }
  return [...byTable.values()];
}

// ------------------------------------------------------------------ ExecuteTransaction

export function executeTransaction(backend: PartiqlBackend, input: ExecuteTransactionRequest, ctx: RequestContext): Answer<Response<M.ExecuteTransactionOutput>> {
  const requests = input.TransactStatements ?? [];
  const plans: Plan[] = [];
  requests.forEach((r, i) => {
    const { statement } = parse(r.Statement);
    if ((statement.k === 'update' || statement.k === 'delete') && statement.returning) {
      throw validationError(`Validation failed in TransactStatements[${i}]: RETURNING clause is not supported in ExecuteTransaction.`);
    }
    plans.push(planned(statement, r.Parameters, backend, ctx, 'transaction'));
  });
  const reads = plans.filter((p) => p.k === 'get').length;
  if (reads > 0 && reads < plans.length) throw validationError('ExecuteTransaction API does not support both read and write operations in the same request.');
  const capacity = input.ReturnConsumedCapacity !== undefined ? { ReturnConsumedCapacity: input.ReturnConsumedCapacity } : {};
  if (reads > 0) {
    if (!backend.transactGetItems) throw new ServiceError('UnknownOperationException', '');
    // Every plan is a get here (reads > 0 and no writes).
    const get: Request<M.TransactGetItemsInput> = { TransactItems: plans.map((p) => ({ Get: (p as Extract<Plan, { k: 'get' }>).input })), ...capacity };
    return then(backend.transactGetItems(get, ctx), (out) => {
      const responses = out.Responses ?? [];
      const answer: Response<M.ExecuteTransactionOutput> = {
        Responses: responses.map((r, i) => {
          const paths = plans[i]!.k === 'get' ? (plans[i] as { paths?: DocPath[] }).paths : undefined;
          return r.Item && paths ? { ...r, Item: unnest(r.Item as Item, paths) } : r;
        }),
      };
      if (out.ConsumedCapacity) answer.ConsumedCapacity = out.ConsumedCapacity;
      return answer;
    });
  }
  if (!backend.transactWriteItems) throw new ServiceError('UnknownOperationException', '');
  const items = plans.map((p, i) => {
    const rv = requests[i]!.ReturnValuesOnConditionCheckFailure;
    // The plan's own input, which TransactWriteItems takes as it is but for ReturnValues (an item operation's member only).
    const body: Request<M.Put & M.Update & M.Delete & M.ConditionCheck> & { ReturnValues?: string } = {
      ...(p.input as Request<M.Put & M.Update & M.Delete & M.ConditionCheck>), ...(rv !== undefined ? { ReturnValuesOnConditionCheckFailure: rv } : {}),
    };
    delete body.ReturnValues;
    switch (p.k) {
      case 'put': return { Put: body };
      case 'update': return { Update: body };
      case 'delete': return { Delete: body };
      default: return { ConditionCheck: body };
    }
  });
  const write: Request<M.TransactWriteItemsInput> = { TransactItems: items, ...capacity };
  if (input.ClientRequestToken !== undefined) write.ClientRequestToken = input.ClientRequestToken;
  const inserts = new Set(plans.flatMap((p, i) => (p.k === 'put' ? [i] : [])));
  return then(catching(() => backend.transactWriteItems!(write, ctx), (e) => duplicateReasons(e, inserts)), (out) => {
    const answer: Response<M.ExecuteTransactionOutput> = {};
    if (out.ConsumedCapacity) answer.ConsumedCapacity = out.ConsumedCapacity;
    return answer;
  });
}

/** A cancelled transaction reports a failed INSERT as DuplicateItem, as DynamoDB does, not as a failed condition. */
function duplicateReasons(e: unknown, inserts: Set<number>): unknown {
  if (!(e instanceof ServiceError) || e.code !== 'TransactionCanceledException' || inserts.size === 0) return e;
  const reasons = e.fields?.CancellationReasons as Response<M.CancellationReason>[] | undefined; // as transactions/cancellation.ts sets them
  if (!Array.isArray(reasons)) return e;
  const mapped = reasons.map((r, i) => (inserts.has(i) && r.Code === 'ConditionalCheckFailed' ? { Code: 'DuplicateItem', Message: DUPLICATE_ITEM } : r));
  const message = `Transaction cancelled, please refer cancellation reasons for specific reasons [${mapped.map((r) => r.Code).join(', ')}]`;
  return new ServiceError(e.code, message, { status: e.status, fields: { ...e.fields, CancellationReasons: mapped } });
}
