/**
 * @module services/dynamodb/provider
 * The DynamoDB service: one method per operation, taking the parsed wire-shaped request and the request
 * context, returning the wire-shaped response or throwing ServiceError. State is scoped by account and
 * region. Items live in the store under order-preserving keys (keycodec), secondary index entries in
 * their own key ranges, written in the same store transaction as the base item, so every acknowledged
 * write is durable and indexes never disagree with their table.
 *
 * Hot path: table metadata is cached in memory (this process owns the store), key validation and
 * encoding touch only the key attributes, and items are stored as their JSON text behind a 4-byte size
 * so reads neither re-validate nor re-measure them. Whole tables are never loaded: Query and Scan walk
 * the store in bounded chunks.
 *
 * Writes go through the store's group commit (Store.grouped): the item writes of one event-loop turn
 * share a commit, each atomic on its own, and each response is built once that commit is durable.
 *
 * Table counters (ItemCount, TableSizeBytes, index sizes) live in memory, stored every STATS_FLUSH_MS
 * and recounted after an unclean stop: see table-counters.ts.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { ServiceError, validationError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { faultPoint } from '../../core/faults.js';
import { parseArn, PARTITION } from '../../core/scope.js';
import { notAuthorizedMessage } from '../../auth/policy.js';
import type { Keyspace, Store } from '../../storage/store.js';
import type { DescribeTimeToLiveInput, DescribeTimeToLiveOutput, UpdateTimeToLiveInput, UpdateTimeToLiveOutput } from '../../models/dynamodb.js';
import { RawJson } from '../../protocols/wirejson.js';
import { prefixEnd } from '../../storage/store.js';
import { StreamChangeLog } from './streams/change-log.js';
import { streamLabel } from './streams/format.js';
import { checkCreateStreamSpec, checkUpdateStreamSpec } from './streams/stream-spec.js';
import {
  type AttributeValue, type Item, compareScalars, MAX_ITEM_BYTES, itemSize, readUnits, typeOf, validateValue, writeUnits,
} from './attributes.js';
import type { Condition, Operand, Path, UpdateAction } from './expressions/ast.js';
import { evalCondition, project } from './expressions/evaluate.js';
import { attributesToGet, attributeUpdatesToActions, checkStyleMix, comparison, expectedToCondition, filterToCondition, type LegacyCondition, type LegacyUpdate } from './expressions/legacy.js';
import { checkPlaceholderMaps, checkUnused, newContext, parseCondition, parseProjection, parseUpdate, type ExpressionContext } from './expressions/parser.js';
import { applyUpdate } from './expressions/update.js';
import { TransactionState, transactGetItems, transactWriteItems } from './transactions/index.js';
import { RECOUNT_CHUNK, TableCounters } from './table-counters.js';
import {
  type BatchExecuteStatementRequest, type ExecuteStatementRequest, type ExecuteTransactionRequest, batchExecuteStatement, executeStatement, executeTransaction,
} from './partiql/executor.js';
import type { TableSchema } from './partiql/planner.js';
import {
  bucketRange, encodeItemValue, ITEM_HEADER_BYTES, itemValueJson, itemValueSize, keyBody, namespacePrefix, segmentOf, textValueJson, textValueSize, withNamespace, type KeyType,
} from './keycodec.js';
import { checkGlobalIndexKeySchema, checkIndexKeyValues, indexKeyBodyOf, indexKeyOf, indexKeyViolation, itemIndexKeyBody, type IndexKey } from './indexes/keys.js';
import { checkMultiQueryStart, type KeyCondition, keySizeProblem, multiKeyBounds, multiKeyRange, rangeBoundsOf, satisfiesKeyCondition } from './indexes/query.js';
import {
  type AttributeDefinition, type IndexMeta, type KeyDef, type KeySchemaElement, type Projection, type Stats, type TableMeta, type Throughput,
  checkKeySchema, checkProjection, describe, describeCreated, describeDeleted, keyDefOf, projectedNames, raiseWarmThroughput, tableArn,
} from './tables.js';
import { checkIndexUpdateCapacity, checkKeyPaths, checkQueryKey, conditionPaths, invalidKeyConditionOperator, updatePaths } from './request-rules.js';
import * as probes from './probes/index.js';
import type * as M from '../../models/dynamodb.js';
import { TimeToLive, type TimeToLiveOptions } from './ttl/time-to-live.js';

export interface DynamoDBProviderOptions {
  /** How long a new table (or index) stays CREATING; 0 = ACTIVE from the next request on. */
  createDelayMs?: number;
  /** How long UpdateTable leaves a table UPDATING. */
  updateDelayMs?: number;
  /** How long a deleted table stays DELETING before it is gone; 0 = gone on the next event-loop turn. */
  deleteDelayMs?: number;
  /** Items copied per backfill step when a GSI is added; steps yield to the event loop. */
  backfillBatch?: number;
  /** The address DescribeEndpoints answers with when the request carried no usable Host. */
  endpointAddress?: () => string;
  /** Entries counted per step when a table's counters are recounted after an unclean stop. */
  recountChunk?: number;
  /** The service's clock (the server's, which tests can move): the time writes are made at. */
  clock?: Clock;
  /** Time to Live intervals (ttl/time-to-live.ts). */
  timeToLive?: TimeToLiveOptions;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const INVALID = 'One or more parameter values were invalid: ';
const MB = 1024 * 1024;
/** Entries read from the store per chunk while walking a Query or Scan. */
const SCAN_CHUNK = 128;

export interface IndexState {
  meta: IndexMeta;
  /** The first HASH and RANGE attributes; `ikey` has them all (a GSI key may have up to four of each). */
  key: KeyDef;
  ikey: IndexKey;
  projected: Set<string> | 'ALL';
}

export interface TableState {
  meta: TableMeta;
  key: KeyDef;
  keyAttrs: string[];
  indexes: IndexState[];
  stats: Stats;
  indexStats: Map<number, Stats>;
  /** True once a dirty record is committed: the in-memory counters may differ from the stored ones. */
  statsMarked: boolean;
}

/** How often counters changed by writes are stored (exact, clean) again. */
const STATS_FLUSH_MS = 1000;
/** Tries of one backfill step before the index's creation fails. */
const BACKFILL_ATTEMPTS = 3;

/** How many names of tables that do not exist are remembered, so that lookups of them skip the store. */
const MISSING_CACHED = 1024;

function notFound(): ServiceError {
  return new ServiceError('ResourceNotFoundException', 'Requested resource not found');
}

function conditionalFailed(item?: Item): ServiceError {
  return new ServiceError('ConditionalCheckFailedException', 'The conditional request failed', item ? { fields: { Item: item } } : {});
}

/**
 * A stored item (or index entry) as the response's value: its JSON text as it is when the caller
 * serializes to JSON (stored text is JSON.stringify's output, so it is exactly what re-serializing the
 * parsed item would give), the parsed item otherwise.
 */
function storedItem(json: string, ctx: RequestContext): Item | RawJson {
  return ctx.rawJson ? new RawJson(json) : (JSON.parse(json) as Item);
}

function inUse(message: string): ServiceError {
  return new ServiceError('ResourceInUseException', message);
}

const TABLE_NAME = /^[a-zA-Z0-9_.-]+$/;

/**
 * The model types TableName as "name or ARN" (1–1024 characters), but DynamoDB still checks a plain
 * name against the table-name rules and reports it in the model-validation form.
 */
function checkTableName(name: string): void {
  if (name.startsWith('arn:')) return;
  const problem = name.length > 255 ? 'Member must have length less than or equal to 255'
    : !TABLE_NAME.test(name) ? 'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+'
      : name.length < 3 ? 'Member must have length greater than or equal to 3' : undefined;
  if (problem) throw validationError(`1 validation error detected: Value '${name}' at 'tableName' failed to satisfy constraint: ${problem}`);
}

/** The ARN of the KMS key a table is encrypted with: the given key (id, alias or ARN) or aws/dynamodb. */
function kmsKeyArn(keyId: string | undefined, ctx: RequestContext): string {
  if (keyId?.startsWith('arn:')) return keyId;
  const prefix = `arn:aws:kms:${ctx.scope.region}:${ctx.scope.accountId}:`;
  if (!keyId) return `${prefix}alias/aws/dynamodb`;
  return keyId.startsWith('alias/') ? prefix + keyId : `${prefix}key/${keyId}`;
}

/** Top-level attribute names a condition reads. */
function collectPathHeads(c: Condition, out: Set<string>): void {
  const operand = (o: Operand): void => {
    if (o.k === 'path') out.add(o.path[0] as string);
    else if (o.k === 'size') operand(o.arg);
  };
  switch (c.k) {
    case 'and': case 'or': collectPathHeads(c.l, out); collectPathHeads(c.r, out); break;
    case 'not': collectPathHeads(c.c, out); break;
    case 'cmp': operand(c.l); operand(c.r); break;
    case 'between': operand(c.v); operand(c.lo); operand(c.hi); break;
    case 'in': operand(c.v); c.list.forEach(operand); break;
    case 'exists': case 'not_exists': case 'type': out.add(c.path[0] as string); break;
    case 'begins_with': operand(c.v); operand(c.prefix); break;
    case 'contains': operand(c.v); operand(c.needle); break;
    case 'true': break;
  }
}

/** An item read from the store: its size at once, the parsed item only when someone asks for it. */
export class StoredItem {
  private parsed: Item | undefined;
  constructor(readonly json: string, readonly size: number) {}
  get item(): Item {
    return (this.parsed ??= JSON.parse(this.json) as Item);
  }
}

export interface WriteEffect {
  tableBytes: number;
  indexUnits: Map<string, number>;
}

/**
 * Who made a write. AWS marks the deletes of Time to Live as the service's own (a stream record's
 * userIdentity), and transactions are charged twice: the write path carries both to its observers.
 */
export type WriteOrigin = 'user' | 'ttl';

export interface WriteOptions {
  origin: WriteOrigin;
  /** Part of a transaction (TransactWriteItems, ExecuteTransaction). */
  transactional: boolean;
  /** The time the write is made at (ms since the epoch), one value for every change of a request. */
  nowMs: number;
}

/** One change to one item: `next` undefined deletes it. */
export interface ItemChange {
  table: TableState;
  key: Buffer;
  /** The item as stored before the change (read inside the same transaction), if any. */
  stored: StoredItem | undefined;
  next: Item | undefined;
  /** itemSize(next), 0 for a delete. */
  nextSize: number;
}

/**
 * Called by the write path for every applied change, inside the same store transaction as the item
 * write, so what an observer stores (a stream's change log, a Time to Live expiry index) commits or
 * rolls back with the item. An observer must not throw for valid items: a throw fails the whole write.
 */
export interface WriteObserver {
  onChange(change: ItemChange, options: WriteOptions): void;
  /** A deleted table's data is being removed (inside that store transaction): remove what the observer keeps for it. */
  onTablePurged?(meta: TableMeta): void;
}

const USER_WRITE: Omit<WriteOptions, 'nowMs'> = { origin: 'user', transactional: false };

export class DynamoDBProvider {
  readonly items: Keyspace;
  private readonly meta: Keyspace;
  /** Tables read from the store, by metaKey. */
  private readonly tables = new Map<string, TableState>();
  /** Names looked up and not found (bounded: the oldest is forgotten past MISSING_CACHED). */
  private readonly missing = new Set<string>();
  private readonly createDelayMs: number;
  private readonly updateDelayMs: number;
  private readonly deleteDelayMs: number;
  private readonly backfillBatch: number;
  private readonly endpointAddress: () => string;
  private readonly timers = new Set<NodeJS.Timeout | NodeJS.Immediate>();
  private readonly statsTimer: NodeJS.Timeout;
  private readonly counters: TableCounters;
  private closed = false;
  private readonly writeObservers: WriteObserver[] = [];
  readonly clock: Clock;
  /** The items write transactions hold, and the client tokens they remember (transactions/). */
  readonly transactions: TransactionState;
  /** The tables' change logs and streams (DynamoDB Streams), fed by the write path. */
  readonly streams: StreamChangeLog;
  /** Time to Live: its operations, expiry index and sweeper. */
  private readonly timeToLive: TimeToLive;

  constructor(
    readonly store: Store,
    options: DynamoDBProviderOptions = {},
  ) {
    this.items = store.keyspace('ddb_items');
    this.meta = store.keyspace('ddb_meta');
    this.createDelayMs = options.createDelayMs ?? 0;
    this.updateDelayMs = options.updateDelayMs ?? 0;
    this.deleteDelayMs = options.deleteDelayMs ?? 0;
    this.backfillBatch = options.backfillBatch ?? 500;
    this.counters = new TableCounters(store, this.items, store.keyspace('ddb_stats'), options.recountChunk ?? RECOUNT_CHUNK, this.timers);
    this.endpointAddress = options.endpointAddress ?? (() => 'localhost:4566');
    this.clock = options.clock ?? systemClock;
    this.transactions = new TransactionState(store, this.clock);
    this.streams = new StreamChangeLog(store, this.clock);
    this.addWriteObserver(this.streams);
    this.resumeBackfills();
    this.statsTimer = setInterval(() => this.flushStats(), STATS_FLUSH_MS);
    this.statsTimer.unref();
    this.timeToLive = new TimeToLive(this, options.timeToLive);
  }

  /** Stops background work (index backfills) and stores the exact counters. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timeToLive.close();
    clearInterval(this.statsTimer);
    this.transactions.close();
    this.flushStats();
    this.counters.close();
    for (const t of this.timers) {
      clearTimeout(t as NodeJS.Timeout);
      clearImmediate(t as NodeJS.Immediate);
    }
    this.timers.clear();
  }

  // ------------------------------------------------------------------ metadata

  /** A table's metadata key: the table's scope (core/scope.ts) and name. */
  metaKey(scope: { accountId: string; region: string }, name: string): string {
    return `t\u0000${scope.accountId}\u0000${scope.region}\u0000${name}`;
  }

  /**
   * The table a TableName (or RequestItems key) names: a name, or an ARN of a table in the caller's own account and
   * region. Another account's table is refused as AWS refuses it without a resource policy allowing the caller
   * (Cellar does not serve DynamoDB resource policies yet), whether or not it exists.
   */
  tableName(ctx: RequestContext, nameOrArn: string): string {
    if (nameOrArn.charCodeAt(0) !== 97 || !nameOrArn.startsWith('arn:')) return nameOrArn;
    const arn = parseArn(nameOrArn);
    if (!arn || arn.partition !== PARTITION || arn.service !== 'dynamodb' || !/^table\/[a-zA-Z0-9_.-]{3,255}$/.test(arn.resource)) {
      throw validationError(`Invalid TableArn: Invalid ResourceArn provided as input ${nameOrArn}`);
    }
    if (arn.accountId !== ctx.scope.accountId) {
      throw new ServiceError('AccessDeniedException', notAuthorizedMessage(ctx.callerArn || `arn:aws:iam::${ctx.scope.accountId}:root`, `dynamodb:${ctx.operation}`, nameOrArn, 'no-policy'));
    }
    if (arn.region !== ctx.scope.region) throw this.tableNotFound(nameOrArn);
    return arn.resource.slice('table/'.length);
  }

  private nextNamespace(): number {
    const k = Buffer.from('seq');
    const cur = this.meta.get(k);
    const next = cur ? cur.readUInt32BE(0) + 1 : 1;
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(next, 0);
    this.meta.put(k, b);
    return next;
  }

  /**
   * A table's in-memory state. The counters come from prev (the cached state: they are the exact ones),
   * else from the stored record, recounted from the data if that record is dirty.
   */
  private buildState(meta: TableMeta, prev?: TableState): TableState {
    const key = keyDefOf(meta.keySchema, meta.attributeDefinitions);
    const indexes = meta.indexes.map((m) => {
      const ik = keyDefOf(m.keySchema, meta.attributeDefinitions);
      return { meta: m, key: ik, ikey: indexKeyOf(m.keySchema, meta.attributeDefinitions), projected: projectedNames(m, key) };
    });
    const t: TableState = {
      meta, key, keyAttrs: key.rangeName ? [key.hashName, key.rangeName] : [key.hashName], indexes,
      stats: prev?.stats ?? { count: 0, bytes: 0 }, indexStats: prev?.indexStats ?? new Map(), statsMarked: prev?.statsMarked ?? false,
    };
    if (!prev) this.counters.load(t);
    for (const i of meta.indexes) if (!t.indexStats.has(i.ns)) t.indexStats.set(i.ns, { count: 0, bytes: 0 });
    return t;
  }

  /** See TableCounters.mark: called before a write changes a table's in-memory counters. */
  markStats(t: TableState): void {
    this.counters.mark(t);
  }

  private flushStats(): void {
    this.counters.flush([...this.tables.values()].filter((t) => this.tables.get(this.metaKey(t.meta, t.meta.name)) === t));
  }

  private addStats(t: TableState, ns: number, key: Buffer, count: number, bytes: number): void {
    this.counters.add(t, ns, key, count, bytes);
  }

  /**
   * Runs an item write: through the store's group commit when it has one (the answer, built by `answer`,
   * comes once the group is durable), else as a plain transaction answered at once.
   */
  write<T>(tables: TableState[], fn: () => T, answer: (v: T) => Json): Json | Promise<Json> {
    if (this.store.groupsCommits) return this.store.grouped(fn).then(answer, (e: unknown) => this.writeFailed(tables, e));
    let v: T;
    try {
      v = this.store.transaction(fn);
    } catch (e) {
      return this.writeFailed(tables, e);
    }
    return answer(v);
  }

  /**
   * After a write failed in the store itself (not a ServiceError: an I/O error, a full disk, a failed
   * group commit), the in-memory counters may include writes that were rolled back: recount them.
   */
  private writeFailed(tables: Iterable<TableState>, e: unknown): never {
    if (!(e instanceof ServiceError)) {
      for (const t of new Set(tables)) {
        try {
          this.counters.recount(t);
        } catch {
          // The stored record is dirty (marked before the write): the next restart recounts.
        }
      }
    }
    throw e;
  }

  saveMeta(meta: TableMeta): void {
    this.meta.put(Buffer.from(this.metaKey(meta, meta.name)), Buffer.from(JSON.stringify(meta)));
  }

  /** The table (cached), with CREATING/UPDATING promoted to ACTIVE once their delay has passed. */
  lookup(ctx: RequestContext, nameOrArn: string): TableState | undefined {
    const name = this.tableName(ctx, nameOrArn);
    const k = this.metaKey(ctx.scope, name);
    let t = this.tables.get(k);
    if (t === undefined) {
      if (this.missing.has(k)) return undefined;
      checkTableName(name);
      t = this.load(k);
    }
    if (!t) return undefined;
    this.promote(t, ctx.clock.now());
    return t;
  }

  /** Reads a table's state from the store into the cache, or remembers (bounded) that it has none. */
  private load(k: string): TableState | undefined {
    const raw = this.meta.get(Buffer.from(k));
    if (!raw) {
      if (this.missing.size >= MISSING_CACHED) this.missing.delete(this.missing.values().next().value!);
      this.missing.add(k);
      return undefined;
    }
    const t = this.buildState(JSON.parse(raw.toString('utf8')) as TableMeta);
    this.tables.set(k, t);
    return t;
  }

  /** A table by its metadata key (background work acts in the table's own scope), or undefined when it is gone. */
  tableAt(tableKey: string): TableState | undefined {
    const t = this.tables.get(tableKey) ?? this.load(tableKey);
    if (t) this.promote(t, this.clock.now());
    return t;
  }

  /** Caches a table's state (created, updated). */
  private cache(k: string, t: TableState): void {
    this.missing.delete(k);
    this.tables.set(k, t);
  }

  /**
   * CREATING and UPDATING end when their time has come: the cached state moves on here, and the stored record with
   * the next write of the table's metadata (a restart promotes the same way again). A read never writes, so no read
   * and no refused request changes stored state.
   */
  private promote(t: TableState, now: number): void {
    if ((t.meta.status === 'CREATING' || t.meta.status === 'UPDATING') && now >= t.meta.readyAtMs) t.meta.status = 'ACTIVE';
    for (const i of t.meta.indexes) {
      if (i.status === 'CREATING' && !i.backfilling && now >= i.readyAtMs) i.status = 'ACTIVE';
    }
  }

  /** A table that accepts data operations (ACTIVE or UPDATING). */
  active(ctx: RequestContext, name: string): TableState {
    const t = this.lookup(ctx, name);
    if (!t || t.meta.status === 'CREATING' || t.meta.status === 'DELETING') throw notFound();
    return t;
  }

  private tableNotFound(name: string): ServiceError {
    return new ServiceError('ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
  }

  // ------------------------------------------------------------------ tables

  createTable(input: Json, ctx: RequestContext): Json {
    const name: string = this.tableName(ctx, input.TableName);
    checkTableName(name);
    const keySchema: KeySchemaElement[] = input.KeySchema ?? [];
    const defs: AttributeDefinition[] = input.AttributeDefinitions ?? [];
    checkKeySchema(keySchema);
    const defined = new Set<string>();
    for (const d of defs) {
      // AWS's text for this case, reported without the usual "parameter values" prefix.
      if (defined.has(d.AttributeName)) throw validationError(`Attribute Name is duplicated: ${d.AttributeName}`);
      defined.add(d.AttributeName);
    }
    const lsis: Json[] = input.LocalSecondaryIndexes ?? [];
    const gsis: Json[] = input.GlobalSecondaryIndexes ?? [];
    const billingMode: 'PROVISIONED' | 'PAY_PER_REQUEST' = input.BillingMode ?? 'PROVISIONED';
    const throughput: Throughput | undefined = input.ProvisionedThroughput;
    if (billingMode === 'PROVISIONED' && !throughput) {
      throw validationError(`${INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED`);
    }
    if (billingMode === 'PAY_PER_REQUEST' && throughput) {
      throw validationError(`${INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST`);
    }
    const used = new Set<string>(keySchema.map((k) => k.AttributeName));
    const allSchemas = [keySchema, ...lsis.map((l) => l.KeySchema as KeySchemaElement[]), ...gsis.map((g) => g.KeySchema as KeySchemaElement[])];
    for (const s of allSchemas) {
      // AWS lists the whole key schema (not only the undefined names), unquoted.
      if (s.some((k) => !defined.has(k.AttributeName))) {
        throw validationError(`${INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [${s.map((k) => k.AttributeName).join(', ')}], AttributeDefinitions: [${defs.map((d) => d.AttributeName).join(', ')}]`);
      }
    }
    const names = new Set<string>();
    const indexes: IndexMeta[] = [];
    const now = ctx.clock.now();
    if (lsis.length) {
      if (keySchema.length < 2) throw validationError(`${INVALID}Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex`);
      if (lsis.length > 5) throw validationError(`${INVALID}Number of LocalSecondaryIndexes exceeds per-table limit of 5`);
    }
    if (gsis.length > 20) throw validationError(`${INVALID}GlobalSecondaryIndex count exceeds the per-table limit of 20`);
    for (const l of lsis) {
      const ks = l.KeySchema as KeySchemaElement[];
      checkKeySchema(ks);
      if (names.has(l.IndexName)) throw validationError(`${INVALID}Duplicate index name: ${l.IndexName}`);
      names.add(l.IndexName);
      if (ks.length < 2) throw validationError(`${INVALID}Index KeySchema does not have a range key for index: ${l.IndexName}`);
      if (ks[0]!.AttributeName !== keySchema[0]!.AttributeName) {
        throw validationError(`${INVALID}Index KeySchema does not have the same leading hash key as table KeySchema for index: ${l.IndexName}. index hash key: ${ks[0]!.AttributeName}, table hash key: ${keySchema[0]!.AttributeName}`);
      }
      checkProjection(l.Projection, l.IndexName);
      ks.forEach((k) => used.add(k.AttributeName));
      indexes.push({ ns: 0, name: l.IndexName, global: false, keySchema: ks, projection: l.Projection, status: 'ACTIVE', backfilling: false, readyAtMs: now, throughput: undefined });
    }
    for (const g of gsis) {
      const ks = g.KeySchema as KeySchemaElement[];
      checkGlobalIndexKeySchema(ks);
      if (names.has(g.IndexName)) throw validationError(`${INVALID}Duplicate index name: ${g.IndexName}`);
      names.add(g.IndexName);
      checkProjection(g.Projection, g.IndexName);
      if (billingMode === 'PROVISIONED' && !g.ProvisionedThroughput) throw validationError(`${INVALID}ProvisionedThroughput must be specified for index: ${g.IndexName}`);
      if (billingMode === 'PAY_PER_REQUEST' && g.ProvisionedThroughput) {
        throw validationError(`${INVALID}ProvisionedThroughput should not be specified for index: ${g.IndexName} when BillingMode is PAY_PER_REQUEST`);
      }
      ks.forEach((k) => used.add(k.AttributeName));
      indexes.push({ ns: 0, name: g.IndexName, global: true, keySchema: ks, projection: g.Projection, status: 'CREATING', backfilling: false, readyAtMs: now + this.createDelayMs, throughput: g.ProvisionedThroughput });
    }
    if (used.size !== defined.size || [...defined].some((d) => !used.has(d))) {
      throw validationError(`${INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions`);
    }
    checkCreateStreamSpec(input.StreamSpecification);
    if (this.lookup(ctx, name)) throw inUse(`Table already exists: ${name}`);
    const meta: TableMeta = {
      ns: 0,
      name,
      accountId: ctx.scope.accountId,
      region: ctx.scope.region,
      tableId: randomUUID(),
      createdMs: now,
      status: 'CREATING',
      readyAtMs: now + this.createDelayMs,
      keySchema,
      attributeDefinitions: defs,
      billingMode,
      billingModeChangedMs: billingMode === 'PAY_PER_REQUEST' ? now : undefined,
      throughput: throughput ?? {},
      lastIncreaseMs: undefined,
      lastDecreaseMs: undefined,
      decreasesToday: 0,
      indexes,
      deletionProtection: input.DeletionProtectionEnabled === true,
      tableClass: input.TableClass,
      stream: input.StreamSpecification,
      ...(input.StreamSpecification?.StreamEnabled ? { streamLabel: streamLabel(now) } : {}),
      ...(input.SSESpecification?.Enabled ? { sse: { kmsKeyArn: kmsKeyArn(input.SSESpecification.KMSMasterKeyId, ctx) } } : {}),
      tags: {},
    };
    for (const t of (input.Tags ?? []) as { Key: string; Value: string }[]) meta.tags[t.Key] = t.Value;
    raiseWarmThroughput(meta);
    this.store.transaction(() => {
      meta.ns = this.nextNamespace();
      for (const i of meta.indexes) i.ns = this.nextNamespace();
      this.streams.tableCreated(meta); // may move the stream's label on (see StreamChangeLog.openStream)
      this.saveMeta(meta);
    });
    const state = this.buildState(meta);
    this.cache(this.metaKey(ctx.scope, name), state);
    const desc = describeCreated(meta, state.stats, state.indexStats);
    if (this.createDelayMs === 0) {
      // Reported as CREATING once, as AWS does; ACTIVE from the next request on.
      meta.status = 'ACTIVE';
      for (const i of meta.indexes) i.status = 'ACTIVE';
      this.saveMeta(meta);
    }
    return { TableDescription: desc };
  }

  describeTable(input: Json, ctx: RequestContext): Json | Promise<Json> {
    const t = this.lookup(ctx, input.TableName);
    if (!t) throw this.tableNotFound(input.TableName);
    const recount = this.counters.pendingRecount(t);
    if (recount) return recount.then(() => this.describeTable(input, ctx));
    // The in-memory counters include the open write group: commit it before showing them.
    this.store.sync();
    return { Table: describe(t.meta, t.stats, t.indexStats) };
  }

  listTables(input: Json, ctx: RequestContext): Json {
    const limit: number = input.Limit ?? 100;
    const start: string | undefined = input.ExclusiveStartTableName;
    const prefix = Buffer.from(this.metaKey(ctx.scope, ''));
    const from = start !== undefined ? Buffer.from(this.metaKey(ctx.scope, start)) : undefined;
    const end = prefixEnd(prefix);
    const names: string[] = [];
    let more = false;
    for (const [k] of this.meta.scan({ ...(from ? { gt: from } : { gte: prefix }), ...(end ? { lt: end } : {}), limit: limit + 1 })) {
      if (names.length === limit) {
        more = true;
        break;
      }
      names.push(k.subarray(prefix.length).toString('utf8'));
    }
    // Names compare as UTF-8 bytes in the store, which for the allowed characters is their sorted order.
    const out: Json = { TableNames: names };
    if (more) out.LastEvaluatedTableName = names[names.length - 1];
    return out;
  }

  deleteTable(input: Json, ctx: RequestContext): Json {
    const name: string = this.tableName(ctx, input.TableName);
    const t = this.lookup(ctx, name);
    if (!t) throw this.tableNotFound(name);
    if (t.meta.status === 'CREATING' || t.meta.status === 'UPDATING') {
      throw inUse(`Attempt to change a resource which is still in use: Table is being ${t.meta.status === 'CREATING' ? 'created' : 'updated'}: ${name}`);
    }
    if (t.meta.deletionProtection) {
      throw validationError('Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.');
    }
    // AWS answers DELETING and removes the table in the background; DescribeTable shows DELETING until
    // then, data operations already find no table. A second DeleteTable meanwhile is not an error.
    if (t.meta.status !== 'DELETING') {
      t.meta.status = 'DELETING';
      this.store.transaction(() => {
        this.saveMeta(t.meta);
        // The table's stream is disabled with it, and stays readable for 24 hours.
        this.streams.tableDeleted(t.meta, ctx.clock.now());
      });
      this.schedulePurge(this.metaKey(ctx.scope, name));
    }
    return { TableDescription: describeDeleted(t.meta, t.stats) };
  }

  /** Removes a DELETING table's items, index entries, counters and metadata (after deleteDelayMs). */
  private schedulePurge(tableKey: string): void {
    if (this.closed) return;
    const run = (): void => {
      this.timers.delete(handle);
      // Background work: a failure is logged and the table stays DELETING (retried at the next start), never fatal.
      try {
        faultPoint('dynamodb.purge');
        const raw = this.meta.get(Buffer.from(tableKey));
        if (!raw) return;
        const meta = JSON.parse(raw.toString('utf8')) as TableMeta;
        if (meta.status !== 'DELETING') return;
        this.store.transaction(() => {
          this.items.deletePrefix(namespacePrefix(meta.ns));
          for (const i of meta.indexes) this.items.deletePrefix(namespacePrefix(i.ns));
          this.counters.forget(meta);
          for (const o of this.writeObservers) o.onTablePurged?.(meta);
          this.meta.delete(Buffer.from(tableKey));
        });
        this.tables.delete(tableKey);
      } catch (e) {
        log('error', 'dynamodb table deletion failed; retried at the next start', { table: tableKey.replace(/\u0000/g, '/'), error: (e as Error).message });
      }
    };
    const handle: NodeJS.Timeout | NodeJS.Immediate = this.deleteDelayMs > 0 ? setTimeout(run, this.deleteDelayMs) : setImmediate(run);
    this.timers.add(handle);
  }

  updateTable(input: Json, ctx: RequestContext): Json {
    const name: string = this.tableName(ctx, input.TableName);
    const t = this.lookup(ctx, name);
    if (!t) throw this.tableNotFound(name);
    checkIndexUpdateCapacity(input);
    const m = t.meta;
    const updates: Json[] = input.GlobalSecondaryIndexUpdates ?? [];
    const hasAny = input.ProvisionedThroughput || input.BillingMode || updates.length || input.DeletionProtectionEnabled !== undefined ||
      input.StreamSpecification || input.TableClass || input.SSESpecification || input.ReplicaUpdates;
    if (!hasAny) {
      throw validationError('At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required');
    }
    if (m.status !== 'ACTIVE') throw inUse(`Attempt to change a resource which is still in use: Table is being ${m.status === 'CREATING' ? 'created' : m.status === 'DELETING' ? 'deleted' : 'updated'}: ${name}`);
    const creates = updates.filter((u) => u.Create);
    const deletes = updates.filter((u) => u.Delete);
    if (creates.length + deletes.length > 1) throw validationError(`${INVALID}Only 1 online index can be created or deleted simultaneously per table`);
    checkUpdateStreamSpec(input.StreamSpecification, name, m.stream?.StreamEnabled === true, creates.length + deletes.length > 0);
    const now = ctx.clock.now();
    const billing: 'PROVISIONED' | 'PAY_PER_REQUEST' = input.BillingMode ?? m.billingMode;
    if (input.ProvisionedThroughput && billing === 'PAY_PER_REQUEST') {
      throw validationError(`${INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST`);
    }
    if (billing === 'PROVISIONED' && m.billingMode === 'PAY_PER_REQUEST' && !input.ProvisionedThroughput) {
      throw validationError(`${INVALID}ProvisionedThroughput must be specified when BillingMode is PROVISIONED`);
    }
    const pt: Throughput | undefined = input.ProvisionedThroughput;
    if (pt && m.billingMode === 'PROVISIONED' && billing === 'PROVISIONED' && pt.ReadCapacityUnits === m.throughput.ReadCapacityUnits && pt.WriteCapacityUnits === m.throughput.WriteCapacityUnits && !updates.length) {
      throw validationError(`The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: ${m.throughput.ReadCapacityUnits}. Requested ReadCapacityUnits: ${pt.ReadCapacityUnits}. Current WriteCapacityUnits provisioned for the table: ${m.throughput.WriteCapacityUnits}. Requested WriteCapacityUnits: ${pt.WriteCapacityUnits}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.`);
    }
    // Validate everything before changing anything.
    const newDefs = [...m.attributeDefinitions];
    for (const d of (input.AttributeDefinitions ?? []) as AttributeDefinition[]) {
      const existing = newDefs.find((x) => x.AttributeName === d.AttributeName);
      if (existing && existing.AttributeType !== d.AttributeType) {
        throw validationError(`${INVALID}Cannot change the type of existing attribute definition: ${d.AttributeName}`);
      }
      if (!existing) newDefs.push(d);
    }
    for (const u of creates) {
      const c = u.Create as Json;
      const ks = c.KeySchema as KeySchemaElement[];
      checkGlobalIndexKeySchema(ks);
      if (m.indexes.some((i) => i.name === c.IndexName)) throw validationError(`${INVALID}Attempting to create an index which already exists`);
      const missing = ks.map((k) => k.AttributeName).filter((n) => !newDefs.some((d) => d.AttributeName === n));
      if (missing.length) {
        throw validationError(`${INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [${missing.join(', ')}], AttributeDefinitions: [${newDefs.map((d) => d.AttributeName).join(', ')}]`);
      }
      checkProjection(c.Projection, c.IndexName);
      if (billing === 'PROVISIONED' && !c.ProvisionedThroughput) throw validationError(`${INVALID}ProvisionedThroughput must be specified for index: ${c.IndexName}`);
      if (m.indexes.filter((i) => i.global).length >= 20) throw new ServiceError('LimitExceededException', 'Subscriber limit exceeded: The number of global secondary indexes exceeds the limit of 20');
    }
    for (const u of deletes) {
      const idx = m.indexes.find((i) => i.global && i.name === u.Delete.IndexName);
      if (!idx) throw new ServiceError('ResourceNotFoundException', `Requested resource not found: Requested index ${u.Delete.IndexName} not found`);
    }
    for (const u of updates.filter((x) => x.Update)) {
      const idx = m.indexes.find((i) => i.global && i.name === u.Update.IndexName);
      if (!idx) throw new ServiceError('ResourceNotFoundException', `Requested resource not found: Requested index ${u.Update.IndexName} not found`);
    }
    let startBackfill: IndexMeta | undefined;
    let dropped: IndexMeta | undefined;
    this.store.transaction(() => {
      if (pt) {
        const oldR = m.throughput.ReadCapacityUnits ?? 0;
        const oldW = m.throughput.WriteCapacityUnits ?? 0;
        if ((pt.ReadCapacityUnits ?? 0) > oldR || (pt.WriteCapacityUnits ?? 0) > oldW) m.lastIncreaseMs = now;
        if ((pt.ReadCapacityUnits ?? 0) < oldR || (pt.WriteCapacityUnits ?? 0) < oldW) {
          m.lastDecreaseMs = now;
          m.decreasesToday++;
        }
        m.throughput = { ReadCapacityUnits: pt.ReadCapacityUnits, WriteCapacityUnits: pt.WriteCapacityUnits };
      }
      if (billing !== m.billingMode) {
        m.billingMode = billing;
        m.billingModeChangedMs = now;
      }
      if (input.DeletionProtectionEnabled !== undefined) m.deletionProtection = input.DeletionProtectionEnabled;
      if (input.TableClass) m.tableClass = input.TableClass;
      if (input.StreamSpecification) this.streams.streamUpdated(m, input.StreamSpecification, now);
      if (input.SSESpecification) {
        if (input.SSESpecification.Enabled) m.sse = { kmsKeyArn: kmsKeyArn(input.SSESpecification.KMSMasterKeyId, ctx) };
        else delete m.sse;
      }
      m.attributeDefinitions = newDefs;
      for (const u of updates.filter((x) => x.Update)) {
        const idx = m.indexes.find((i) => i.global && i.name === u.Update.IndexName)!;
        idx.throughput = u.Update.ProvisionedThroughput ?? idx.throughput;
      }
      for (const u of creates) {
        const c = u.Create as Json;
        const idx: IndexMeta = {
          ns: this.nextNamespace(), name: c.IndexName, global: true, keySchema: c.KeySchema, projection: c.Projection,
          status: 'CREATING', backfilling: true, readyAtMs: now + this.createDelayMs, throughput: c.ProvisionedThroughput,
        };
        m.indexes.push(idx);
        startBackfill = idx;
      }
      for (const u of deletes) {
        dropped = m.indexes.find((i) => i.global && i.name === u.Delete.IndexName)!;
        m.indexes = m.indexes.filter((i) => i !== dropped);
        this.items.deletePrefix(namespacePrefix(dropped.ns));
      }
      m.status = 'UPDATING';
      m.readyAtMs = now + this.updateDelayMs;
      raiseWarmThroughput(m);
      this.saveMeta(m);
    });
    const key = this.metaKey(ctx.scope, name);
    const state = this.buildState(m, t);
    if (dropped) state.indexStats.delete(dropped.ns);
    this.cache(key, state);
    const out = describe(m, state.stats, state.indexStats);
    if (dropped) {
      const arn = tableArn(m);
      const gs = (out.GlobalSecondaryIndexes as Json[] | undefined) ?? [];
      gs.push({ IndexName: dropped.name, KeySchema: dropped.keySchema, Projection: dropped.projection, IndexStatus: 'DELETING', ProvisionedThroughput: { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 }, IndexSizeBytes: 0, ItemCount: 0, IndexArn: `${arn}/index/${dropped.name}` });
      out.GlobalSecondaryIndexes = gs;
      this.counters.persist(state);
    }
    if (startBackfill) this.scheduleBackfill(key, startBackfill.ns, undefined);
    return { TableDescription: out };
  }

  /**
   * Resumes backfills and table deletions interrupted by a restart. Runs in the constructor, so it must never throw:
   * a metadata record that cannot be read is logged and left alone, and the server serves the other tables.
   */
  private resumeBackfills(): void {
    const prefix = Buffer.from('t\u0000');
    const end = prefixEnd(prefix);
    const pending: [string, number][] = [];
    const deleting: string[] = [];
    try {
      for (const [k, v] of this.meta.scan({ gte: prefix, ...(end ? { lt: end } : {}) })) {
        let meta: TableMeta;
        try {
          meta = JSON.parse(v.toString('utf8')) as TableMeta;
        } catch (e) {
          log('error', 'dynamodb table metadata unreadable; table left alone', { table: k.toString('utf8').replace(/\u0000/g, '/'), error: (e as Error).message });
          continue;
        }
        if (meta.status === 'DELETING') deleting.push(k.toString('utf8'));
        else for (const i of meta.indexes ?? []) if (i.backfilling) pending.push([k.toString('utf8'), i.ns]);
      }
    } catch (e) {
      log('error', 'dynamodb could not look for interrupted background work', { error: (e as Error).message });
    }
    // A DeleteTable acknowledged before a crash still completes.
    for (const key of deleting) this.schedulePurge(key);
    for (const [key, ns] of pending) this.scheduleBackfill(key, ns, undefined);
  }

  /**
   * Copies existing items into a new GSI in bounded batches, one per event-loop turn, so requests keep
   * being served. Writes that happen meanwhile maintain the index themselves (it is in the table's index
   * list from the start), and each batch reads current items, so the result is exact. Items whose index key
   * breaks the key limits are left out of the index, as AWS's backfill leaves them (indexEntry).
   *
   * The work is background work: a step that throws is retried (BACKFILL_ATTEMPTS, with a growing pause) and then
   * fails the index's creation, which removes the index (DynamoDB has no FAILED index status): never the process,
   * and, since the index is gone from the stored metadata, never the next start either.
   */
  private scheduleBackfill(tableKey: string, indexNs: number, after: Buffer | undefined, attempt = 1): void {
    if (this.closed) return;
    const run = (): void => {
      this.timers.delete(handle);
      let table: TableState | undefined;
      try {
        faultPoint('dynamodb.backfill');
        table = this.tables.get(tableKey) ?? this.load(tableKey);
        if (!table) return;
        const t = table;
        const idx = t.indexes.find((i) => i.meta.ns === indexNs);
        if (!idx || !idx.meta.backfilling) return;
        const prefix = namespacePrefix(t.meta.ns);
        const end = prefixEnd(prefix)!;
        const batch = [...this.items.scan({ ...(after ? { gt: after } : { gte: prefix }), lt: end, limit: this.backfillBatch })];
        let violations = 0;
        this.store.transaction(() => {
          if (!t.indexStats.has(indexNs)) t.indexStats.set(indexNs, { count: 0, bytes: 0 });
          for (const [k, v] of batch) {
            const item = JSON.parse(itemValueJson(v)) as Item;
            const entry = this.indexEntry(t, idx, item, k.subarray(4));
            if (!entry) {
              if (indexKeyViolation(item, idx.ikey)) violations++;
              continue;
            }
            if (this.items.get(entry.key) === undefined) this.addStats(t, indexNs, entry.key, 1, entry.size);
            this.items.put(entry.key, entry.value);
          }
          if (batch.length < this.backfillBatch) {
            idx.meta.backfilling = false;
            this.saveMeta(t.meta);
          }
          this.counters.persist(t);
        });
        if (violations > 0) {
          // AWS reports these as index key violations (its violation detector); here the log says how many were left out.
          log('warn', 'dynamodb index backfill left out items whose index key values the index cannot hold', { table: t.meta.name, index: idx.meta.name, items: violations });
        }
        if (idx.meta.backfilling) this.scheduleBackfill(tableKey, indexNs, batch[batch.length - 1]![0]);
      } catch (e) {
        // The batch's counter changes may be in memory without their commit: count again from what is stored.
        if (table) {
          try {
            this.counters.recount(table);
          } catch {
            // the stored record stays dirty; the next start recounts
          }
        }
        if (attempt < BACKFILL_ATTEMPTS) {
          log('warn', 'dynamodb index backfill step failed; retrying', { table: tableKey.replace(/\u0000/g, '/'), attempt, error: (e as Error).message });
          this.scheduleBackfill(tableKey, indexNs, after, attempt + 1);
        } else this.failBackfill(tableKey, indexNs, e);
      }
    };
    const handle: NodeJS.Timeout | NodeJS.Immediate = attempt === 1 ? setImmediate(run) : setTimeout(run, 100 * 2 ** attempt);
    this.timers.add(handle);
  }

  /** A GSI whose backfill cannot finish: its creation fails, so the index and its entries go. */
  private failBackfill(tableKey: string, indexNs: number, cause: unknown): void {
    try {
      const raw = this.meta.get(Buffer.from(tableKey));
      if (!raw) return;
      const meta = JSON.parse(raw.toString('utf8')) as TableMeta;
      const failed = meta.indexes.find((i) => i.ns === indexNs);
      if (!failed) return;
      meta.indexes = meta.indexes.filter((i) => i.ns !== indexNs);
      this.store.transaction(() => {
        this.items.deletePrefix(namespacePrefix(indexNs));
        this.saveMeta(meta);
      });
      const prev = this.tables.get(tableKey);
      const state = this.buildState(meta, prev);
      state.indexStats.delete(indexNs);
      this.cache(tableKey, state);
      log('error', 'dynamodb global secondary index creation failed; index removed', { table: meta.name, account: meta.accountId, region: meta.region, index: failed.name, error: cause instanceof Error ? cause.message : String(cause) });
    } catch (e) {
      log('error', 'dynamodb could not record a failed index creation', { table: tableKey.replace(/\u0000/g, '/'), error: (e as Error).message });
    }
  }

  updateTimeToLive(input: UpdateTimeToLiveInput, ctx: RequestContext): UpdateTimeToLiveOutput {
    return this.timeToLive.updateTimeToLive(input, ctx);
  }

  describeTimeToLive(input: DescribeTimeToLiveInput, ctx: RequestContext): DescribeTimeToLiveOutput {
    return this.timeToLive.describeTimeToLive(input, ctx);
  }

  describeLimits(_input: Json, _ctx: RequestContext): Json {
    return { AccountMaxReadCapacityUnits: 80000, AccountMaxWriteCapacityUnits: 80000, TableMaxReadCapacityUnits: 40000, TableMaxWriteCapacityUnits: 40000 };
  }

  /** The address the client reached Cellar at (its Host header), so a client that follows it comes back here. */
  describeEndpoints(_input: Json, ctx: RequestContext): Json {
    return { Endpoints: [{ Address: ctx.host ?? this.endpointAddress(), CachePeriodInMinutes: 1440 }] };
  }

  // ------------------------------------------------------------------ what tools probe for (probes/)

  private readonly probes = new probes.TableProbes(this);
  describeContinuousBackups(input: Json, ctx: RequestContext): Json { return this.probes.describeContinuousBackups(input as M.DescribeContinuousBackupsInput, ctx); }
  describeContributorInsights(input: Json, ctx: RequestContext): Json { return this.probes.describeContributorInsights(input as M.DescribeContributorInsightsInput, ctx); }
  listContributorInsights(input: Json, ctx: RequestContext): Json { return this.probes.listContributorInsights(input, ctx); }
  describeKinesisStreamingDestination(input: Json, ctx: RequestContext): Json { return this.probes.describeKinesisStreamingDestination(input as M.DescribeKinesisStreamingDestinationInput, ctx); }
  describeTableReplicaAutoScaling(input: Json, ctx: RequestContext): Json { return this.probes.describeTableReplicaAutoScaling(input as M.DescribeTableReplicaAutoScalingInput, ctx); }
  getResourcePolicy(input: Json, ctx: RequestContext): Json { return this.probes.getResourcePolicy(input as M.GetResourcePolicyInput, ctx); }
  listBackups(): Json { return probes.listBackups(); }
  listExports(): Json { return probes.listExports(); }
  listImports(): Json { return probes.listImports(); }
  listGlobalTables(): Json { return probes.listGlobalTables(); }

  // ------------------------------------------------------------------ tags

  /** The table a tag operation's ResourceArn names; notFound is the operation's own text when there is none. */
  tableByArn(arn: string, ctx: RequestContext, notFound = `Requested resource not found: ResourcArn: ${arn} not found`): TableState {
    if (!arn.startsWith('arn:')) throw validationError(`Invalid TableArn: Invalid ResourceArn provided as input ${arn}`);
    const name = this.tableName(ctx, arn);
    const t = this.lookup(ctx, name);
    if (!t) throw new ServiceError('ResourceNotFoundException', notFound);
    return t;
  }

  tagResource(input: Json, ctx: RequestContext): Json {
    const t = this.tableByArn(input.ResourceArn, ctx);
    const tags = (input.Tags ?? []) as { Key: string; Value: string }[];
    if (Object.keys(t.meta.tags).length + tags.filter((x) => !(x.Key in t.meta.tags)).length > 50) {
      throw new ServiceError('LimitExceededException', 'Subscriber limit exceeded: The number of tags on the resource exceeds the limit of 50');
    }
    for (const tag of tags) t.meta.tags[tag.Key] = tag.Value;
    this.saveMeta(t.meta);
    return {};
  }

  untagResource(input: Json, ctx: RequestContext): Json {
    // UntagResource alone says only "Requested resource not found" (dynalite's suite, recorded on AWS).
    const t = this.tableByArn(input.ResourceArn, ctx, 'Requested resource not found');
    for (const k of (input.TagKeys ?? []) as string[]) delete t.meta.tags[k];
    this.saveMeta(t.meta);
    return {};
  }

  listTagsOfResource(input: Json, ctx: RequestContext): Json {
    const t = this.tableByArn(input.ResourceArn, ctx);
    const keys = Object.keys(t.meta.tags).sort();
    const start = input.NextToken ? Number.parseInt(String(input.NextToken), 10) || 0 : 0;
    const page = keys.slice(start, start + 10);
    const out: Json = { Tags: page.map((k) => ({ Key: k, Value: t.meta.tags[k] })) };
    if (start + 10 < keys.length) out.NextToken = String(start + 10);
    return out;
  }

  // ------------------------------------------------------------------ keys and index entries

  /** Validates a Key parameter against the table's schema; returns its encoded item key. */
  keyFromKey(t: TableState, key: Json | undefined, emptyLead?: string): Buffer {
    const k = t.key;
    if (!key || typeof key !== 'object') throw validationError('The provided key element does not match the schema');
    let n = 0;
    for (const name in key) {
      n++;
      const msg = validateValue(key[name]);
      if (msg) throw validationError(msg);
    }
    const h = key[k.hashName] as AttributeValue | undefined;
    const r = k.rangeName ? (key[k.rangeName] as AttributeValue | undefined) : undefined;
    if (n !== (k.rangeName ? 2 : 1) || !h || (k.rangeName && !r)) throw validationError('The provided key element does not match the schema');
    if ((h as Json)[k.hashType] === undefined || (r && (r as Json)[k.rangeType!] === undefined)) {
      throw validationError('The provided key element does not match the schema');
    }
    this.checkKeyValue(k.hashName, h, true, emptyLead);
    if (r) this.checkKeyValue(k.rangeName!, r, false, emptyLead);
    return withNamespace(t.meta.ns, keyBody(h, k.hashType, r, k.rangeType));
  }

  /** Paths into the table's or an index's key attributes are refused (request-rules checkKeyPaths). */
  private checkKeyPaths(t: TableState, paths: readonly Path[]): void {
    checkKeyPaths(paths, t.keyAttrs, t.indexes.flatMap((i) => i.ikey.parts.map((p) => p.name)));
  }

  private checkKeyValue(name: string, v: AttributeValue, isHash: boolean, lead = 'One or more parameter values are not valid.'): void {
    if (v.S === '' ) throw validationError(`${lead} The AttributeValue for a key attribute cannot contain an empty string value. Key: ${name}`);
    if (v.B !== undefined && v.B.length === 0) throw validationError(`${lead} The AttributeValue for a key attribute cannot contain an empty binary value. Key: ${name}`);
    this.checkKeySize(v, isHash);
  }

  /** DynamoDB's key size limits (2,048 bytes for a partition key, 1,024 for a sort key), table and index keys alike. */
  private checkKeySize(v: AttributeValue, isHash: boolean): void {
    const msg = keySizeProblem(v, isHash);
    if (msg) throw validationError(msg);
  }

  /** Validates a full item's key attributes and index key attributes; returns its encoded key. */
  keyFromItem(t: TableState, item: Item): Buffer {
    const k = t.key;
    for (const [name, type, isHash] of [[k.hashName, k.hashType, true], [k.rangeName, k.rangeType, false]] as [string | undefined, KeyType | undefined, boolean][]) {
      if (!name) continue;
      const v = item[name];
      if (!v) throw validationError(`${INVALID}Missing the key ${name} in the item`);
      if ((v as Json)[type!] === undefined) throw validationError(`${INVALID}Type mismatch for key ${name} expected: ${type} actual: ${typeOf(v)}`);
      this.checkKeyValue(name, v, isHash);
    }
    // Checked before anything is stored: an index key value no index could hold refuses the write.
    if (t.indexes.length) checkIndexKeyValues(t.indexes, item);
    return withNamespace(t.meta.ns, keyBody(item[k.hashName]!, k.hashType, k.rangeName ? item[k.rangeName] : undefined, k.rangeType));
  }

  private projectForIndex(item: Item, idx: IndexState): Item {
    if (idx.projected === 'ALL') return item;
    const out: Item = {};
    for (const n of idx.projected) if (item[n]) out[n] = item[n];
    return out;
  }

  /**
   * The index entry for an item, or undefined when the item is not in the index: a key attribute absent or of
   * another type (a sparse index), or a value no index key can hold (an item written before the index existed,
   * left out as AWS's backfill leaves it: an "index key violation"). Writes are refused before they get here.
   */
  private indexEntry(t: TableState, idx: IndexState, item: Item, itemKeyBody: Buffer): { key: Buffer; value: Buffer; size: number } | undefined {
    const body = itemIndexKeyBody(item, idx.ikey);
    if (!body) return undefined;
    const projected = this.projectForIndex(item, idx);
    const size = itemSize(projected);
    const key = withNamespace(idx.meta.ns, body, itemKeyBody);
    void t;
    return { key, value: encodeItemValue(JSON.stringify(projected), size), size };
  }

  /** The tables' change logs and streams, for the DynamoDB Streams service (a method, so it survives the request-rules wrapper). */
  changeLog(): StreamChangeLog {
    return this.streams;
  }

  /** Registers a write observer (stream change log, Time to Live expiry index); see WriteObserver. */
  addWriteObserver(observer: WriteObserver): void {
    this.writeObservers.push(observer);
  }

  /**
   * The one write path. Every change to items (item operations, batches, transactions, PartiQL, Time
   * to Live) is applied here: the item, its index entries, the table's counters, then the observers.
   * Must run inside a store transaction or grouped op (see write()), after markStats() of each table;
   * the changes of one call commit together or not at all.
   */
  applyChanges(changes: readonly ItemChange[], options: WriteOptions): WriteEffect[] {
    return changes.map((c) => this.applyChange(c, options));
  }

  applyChange(change: ItemChange, options: WriteOptions): WriteEffect {
    const effect = this.writeItem(change.table, change.key, change.stored, change.next, change.nextSize);
    for (const o of this.writeObservers) o.onChange(change, options);
    return effect;
  }

  /** A caller's ordinary (non-transactional) write, through the one write path. */
  private userWrite(t: TableState, key: Buffer, stored: StoredItem | undefined, next: Item | undefined, nextSize: number): WriteEffect {
    return this.applyChange({ table: t, key, stored, next, nextSize }, { ...USER_WRITE, nowMs: this.clock.now() });
  }

  /**
   * Writes (or deletes, when next is undefined) an item and keeps its index entries and the table's
   * in-memory counters in step. Only applyChange calls it.
   */
  private writeItem(t: TableState, key: Buffer, stored: StoredItem | undefined, next: Item | undefined, nextSize: number): WriteEffect {
    const oldSize = stored?.size ?? 0;
    // Parsed only when index entries depend on it (a plain overwrite needs only its size).
    const old = stored !== undefined && t.indexes.length ? stored.item : undefined;
    const existed = stored !== undefined;
    const effect: WriteEffect = { tableBytes: Math.max(oldSize, nextSize), indexUnits: new Map() };
    if (next) this.items.put(key, encodeItemValue(JSON.stringify(next), nextSize));
    else if (existed) this.items.delete(key);
    if (existed && !next) this.addStats(t, t.meta.ns, key, -1, -oldSize);
    else if (!existed && next) this.addStats(t, t.meta.ns, key, 1, nextSize);
    else if (existed && next) this.addStats(t, t.meta.ns, key, 0, nextSize - oldSize);
    if (t.indexes.length) {
      const body = key.subarray(4);
      for (const idx of t.indexes) {
        const before = old ? this.indexEntry(t, idx, old, body) : undefined;
        const after = next ? this.indexEntry(t, idx, next, body) : undefined;
        if (!before && !after) continue;
        const ns = idx.meta.ns;
        let units = 0;
        if (before && (!after || !before.key.equals(after.key))) {
          this.items.delete(before.key);
          this.addStats(t, ns, before.key, -1, -before.size);
          units += writeUnits(before.size);
        }
        if (after) {
          if (before && before.key.equals(after.key)) {
            this.addStats(t, ns, after.key, 0, after.size - before.size);
            units += writeUnits(Math.max(before.size, after.size));
          } else {
            this.addStats(t, ns, after.key, 1, after.size);
            units += writeUnits(after.size);
          }
          this.items.put(after.key, after.value);
        }
        effect.indexUnits.set(idx.meta.name, units);
      }
    }
    return effect;
  }

  readItem(key: Buffer): StoredItem | undefined {
    const text = this.items.getText(key, ITEM_HEADER_BYTES);
    if (text === undefined) return undefined;
    return new StoredItem(textValueJson(text), textValueSize(text));
  }

  // ------------------------------------------------------------------ capacity and metrics

  writeCapacity(t: TableState, mode: string | undefined, effect: WriteEffect | undefined): Json | undefined {
    if (mode !== 'TOTAL' && mode !== 'INDEXES') return undefined;
    const tableUnits = writeUnits(effect?.tableBytes ?? 0);
    let total = tableUnits;
    const gsi: Json = {};
    const lsi: Json = {};
    if (effect) {
      for (const [name, units] of effect.indexUnits) {
        total += units;
        const global = t.indexes.find((i) => i.meta.name === name)?.meta.global;
        (global ? gsi : lsi)[name] = { CapacityUnits: units, WriteCapacityUnits: units };
      }
    }
    const out: Json = { TableName: t.meta.name, CapacityUnits: total, WriteCapacityUnits: total };
    if (mode === 'INDEXES') {
      out.Table = { CapacityUnits: tableUnits, WriteCapacityUnits: tableUnits };
      if (Object.keys(gsi).length) out.GlobalSecondaryIndexes = gsi;
      if (Object.keys(lsi).length) out.LocalSecondaryIndexes = lsi;
    }
    return out;
  }

  readCapacity(t: TableState, mode: string | undefined, units: number, indexName?: string): Json | undefined {
    if (mode !== 'TOTAL' && mode !== 'INDEXES') return undefined;
    const out: Json = { TableName: t.meta.name, CapacityUnits: units, ReadCapacityUnits: units };
    if (mode === 'INDEXES') {
      if (indexName) {
        const global = t.indexes.find((i) => i.meta.name === indexName)?.meta.global;
        out.Table = { CapacityUnits: 0, ReadCapacityUnits: 0 };
        out[global ? 'GlobalSecondaryIndexes' : 'LocalSecondaryIndexes'] = { [indexName]: { CapacityUnits: units, ReadCapacityUnits: units } };
      } else out.Table = { CapacityUnits: units, ReadCapacityUnits: units };
    }
    return out;
  }

  collectionMetrics(t: TableState, mode: string | undefined, item: Item | undefined): Json | undefined {
    if (mode !== 'SIZE' || !t.indexes.some((i) => !i.meta.global) || !item) return undefined;
    return { ItemCollectionKey: { [t.key.hashName]: item[t.key.hashName] }, SizeEstimateRangeGB: [0, 1] };
  }

  // ------------------------------------------------------------------ expressions for writes

  writeCondition(input: Json, opName: string, extraExpr: string[] = [], extraLegacy: string[] = []): { ctx: ExpressionContext; condition: Condition | undefined } {
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
    else if (input.Expected !== undefined) condition = expectedToCondition(input.Expected as Record<string, LegacyCondition>, input.ConditionalOperator);
    return { ctx, condition };
  }

  checkReturnValuesOnFailure(input: Json, old: Item | undefined): ServiceError {
    return conditionalFailed(input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' ? old : undefined);
  }

  // ------------------------------------------------------------------ item operations

  putItem(input: Json, ctx: RequestContext): Json | Promise<Json> {
    const item = input.Item as Item;
    const rv: string = input.ReturnValues ?? 'NONE';
    if (rv !== 'NONE' && rv !== 'ALL_OLD') throw validationError('ReturnValues can only be ALL_OLD or NONE');
    for (const name in item) {
      const msg = validateValue(item[name]);
      if (msg) throw validationError(msg);
    }
    const { ctx: ectx, condition } = this.writeCondition(input, 'PutItem');
    checkUnused(ectx);
    const t = this.active(ctx, input.TableName);
    const key = this.keyFromItem(t, item);
    const size = itemSize(item);
    if (size > MAX_ITEM_BYTES) throw validationError('Item size has exceeded the maximum allowed size');
    this.transactions.checkFree(key);
    let old: StoredItem | undefined;
    this.markStats(t);
    return this.write([t], () => {
      old = this.readItem(key);
      if (condition && !evalCondition(condition, old?.item ?? {})) throw this.checkReturnValuesOnFailure(input, old?.item);
      return this.userWrite(t, key, old, item, size);
    }, (effect) => {
      const out: Json = {};
      if (rv === 'ALL_OLD' && old) out.Attributes = storedItem(old.json, ctx);
      const cc = this.writeCapacity(t, input.ReturnConsumedCapacity, effect);
      if (cc) out.ConsumedCapacity = cc;
      const icm = this.collectionMetrics(t, input.ReturnItemCollectionMetrics, item);
      if (icm) out.ItemCollectionMetrics = icm;
      return out;
    });
  }

  getItem(input: Json, ctx: RequestContext): Json {
    let paths: Path[] | undefined;
    if (input.ProjectionExpression !== undefined || input.AttributesToGet !== undefined || input.ExpressionAttributeNames !== undefined) {
      checkStyleMix(input, ['ProjectionExpression'], ['AttributesToGet']);
      checkPlaceholderMaps(input.ExpressionAttributeNames, undefined, validateValue);
      const ectx = newContext(input.ExpressionAttributeNames, undefined);
      if (input.ProjectionExpression !== undefined) paths = parseProjection(input.ProjectionExpression, ectx);
      else if (input.AttributesToGet) paths = attributesToGet(input.AttributesToGet);
      checkUnused(ectx);
    }
    const t = this.active(ctx, input.TableName);
    // GetItem words an empty key value "were invalid:", where an item's is "are not valid." (dynalite's suite, recorded on AWS).
    const key = this.keyFromKey(t, input.Key, 'One or more parameter values were invalid:');
    if (paths) this.checkKeyPaths(t, paths);
    const text = this.items.getText(key, ITEM_HEADER_BYTES);
    const out: Json = {};
    let size = 0;
    if (text !== undefined) {
      size = textValueSize(text);
      const json = textValueJson(text);
      out.Item = paths ? project(JSON.parse(json) as Item, paths) : storedItem(json, ctx);
    }
    if (input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES') {
      out.ConsumedCapacity = this.readCapacity(t, input.ReturnConsumedCapacity, readUnits(size, input.ConsistentRead === true));
    }
    return out;
  }

  deleteItem(input: Json, ctx: RequestContext): Json | Promise<Json> {
    const rv: string = input.ReturnValues ?? 'NONE';
    if (rv !== 'NONE' && rv !== 'ALL_OLD') throw validationError('ReturnValues can only be ALL_OLD or NONE');
    const { ctx: ectx, condition } = this.writeCondition(input, 'DeleteItem');
    checkUnused(ectx);
    const t = this.active(ctx, input.TableName);
    const key = this.keyFromKey(t, input.Key);
    this.transactions.checkFree(key);
    let old: StoredItem | undefined;
    this.markStats(t);
    return this.write([t], () => {
      old = this.readItem(key);
      if (condition && !evalCondition(condition, old?.item ?? {})) throw this.checkReturnValuesOnFailure(input, old?.item);
      if (!old) return undefined;
      return this.userWrite(t, key, old, undefined, 0);
    }, (effect) => {
      const out: Json = {};
      if (rv === 'ALL_OLD' && old) out.Attributes = storedItem(old.json, ctx);
      const cc = this.writeCapacity(t, input.ReturnConsumedCapacity, effect);
      if (cc) out.ConsumedCapacity = cc;
      const icm = input.ReturnItemCollectionMetrics === 'SIZE' ? this.collectionMetrics(t, 'SIZE', old?.item ?? (input.Key as Item)) : undefined;
      if (icm) out.ItemCollectionMetrics = icm;
      return out;
    });
  }

  updateItem(input: Json, ctx: RequestContext): Json | Promise<Json> {
    const rv: string = input.ReturnValues ?? 'NONE';
    const { ctx: ectx, condition } = this.writeCondition(input, 'UpdateItem', ['UpdateExpression'], ['AttributeUpdates']);
    const t0 = this.lookup(ctx, input.TableName);
    const keyAttrs = t0 ? t0.keyAttrs : [];
    let actions: UpdateAction[] = [];
    if (input.UpdateExpression !== undefined) actions = parseUpdate(input.UpdateExpression, ectx, keyAttrs);
    else if (input.AttributeUpdates !== undefined) actions = attributeUpdatesToActions(input.AttributeUpdates as Record<string, LegacyUpdate>, keyAttrs);
    checkUnused(ectx);
    const t = this.active(ctx, input.TableName);
    const key = this.keyFromKey(t, input.Key);
    this.checkKeyPaths(t, updatePaths(actions));
    this.transactions.checkFree(key);
    let old: StoredItem | undefined;
    let next: Item | undefined;
    this.markStats(t);
    return this.write([t], () => {
      old = this.readItem(key);
      if (condition && !evalCondition(condition, old?.item ?? {})) throw this.checkReturnValuesOnFailure(input, old?.item);
      // An update that only removes attributes creates no item where there is none (AWS answers success, writes nothing).
      if (!old && actions.length > 0 && actions.every((a) => a.k === 'remove')) return { tableBytes: 0, indexUnits: new Map<string, number>() };
      const base: Item = old ? old.item : { ...(input.Key as Item) };
      next = applyUpdate(base, actions);
      // The updated item's index key values (its table key cannot change), in UpdateItem's words.
      if (t.indexes.length) checkIndexKeyValues(t.indexes, next, 'update');
      const size = itemSize(next);
      if (size > MAX_ITEM_BYTES) throw validationError('Item size to update has exceeded the maximum allowed size');
      return this.userWrite(t, key, old, next, size);
    }, (effect) => this.updateOutput(t, input, rv, actions, old, next, effect));
  }

  private updateOutput(t: TableState, input: Json, rv: string, actions: UpdateAction[], old: StoredItem | undefined, next: Item | undefined, effect: WriteEffect): Json {
    const out: Json = {};
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
    const cc = this.writeCapacity(t, input.ReturnConsumedCapacity, effect);
    if (cc) out.ConsumedCapacity = cc;
    const icm = this.collectionMetrics(t, input.ReturnItemCollectionMetrics, next);
    if (icm) out.ItemCollectionMetrics = icm;
    return out;
  }

  // ------------------------------------------------------------------ transactions (transactions/)

  transactWriteItems(input: Json, ctx: RequestContext): Json | Promise<Json> {
    return transactWriteItems(this, input, ctx);
  }

  transactGetItems(input: Json, ctx: RequestContext): Json {
    return transactGetItems(this, input, ctx);
  }

  batchGetItem(input: Json, ctx: RequestContext): Json {
    const requests = (input.RequestItems ?? {}) as Record<string, Json>;
    let total = 0;
    for (const name in requests) total += (requests[name]!.Keys ?? []).length;
    if (total > 100) throw validationError('Too many items requested for the BatchGetItem call');
    const plans: { name: string; t: TableState; keys: Buffer[]; rawKeys: Json[]; paths: Path[] | undefined; consistent: boolean; req: Json }[] = [];
    for (const name in requests) {
      const req = requests[name]!;
      checkStyleMix(req, ['ProjectionExpression'], ['AttributesToGet']);
      checkPlaceholderMaps(req.ExpressionAttributeNames, undefined, validateValue);
      const ectx = newContext(req.ExpressionAttributeNames, undefined);
      let paths: Path[] | undefined;
      if (req.ProjectionExpression !== undefined) paths = parseProjection(req.ProjectionExpression, ectx);
      else if (req.AttributesToGet) paths = attributesToGet(req.AttributesToGet);
      checkUnused(ectx);
      const t = this.active(ctx, name);
      const keys: Buffer[] = [];
      const seen = new Set<string>();
      for (const k of req.Keys as Json[]) {
        const enc = this.keyFromKey(t, k);
        const hex = enc.toString('hex');
        if (seen.has(hex)) throw validationError('Provided list of item keys contains duplicates');
        seen.add(hex);
        keys.push(enc);
      }
      plans.push({ name, t, keys, rawKeys: req.Keys, paths, consistent: req.ConsistentRead === true, req });
    }
    const responses: Json = {};
    const unprocessed: Json = {};
    const capacity: Json[] = [];
    let bytes = 0;
    for (const p of plans) {
      const items: (Item | RawJson)[] = [];
      let units = 0;
      for (let i = 0; i < p.keys.length; i++) {
        // 16 MB response limit: the rest is returned as UnprocessedKeys for the caller to retry.
        if (bytes > 16 * MB) {
          const u = (unprocessed[p.name] ??= { ...p.req, Keys: [] });
          u.Keys.push(p.rawKeys[i]);
          continue;
        }
        const text = this.items.getText(p.keys[i]!, ITEM_HEADER_BYTES);
        const size = text !== undefined ? textValueSize(text) : 0;
        units += readUnits(size, p.consistent);
        if (text === undefined) continue;
        bytes += size;
        const json = textValueJson(text);
        items.push(p.paths ? project(JSON.parse(json) as Item, p.paths) : storedItem(json, ctx));
      }
      responses[p.name] = items;
      const cc = this.readCapacity(p.t, input.ReturnConsumedCapacity, units);
      if (cc) capacity.push(cc);
    }
    const out: Json = { Responses: responses, UnprocessedKeys: unprocessed };
    if (input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES') out.ConsumedCapacity = capacity;
    return out;
  }

  batchWriteItem(input: Json, ctx: RequestContext): Json | Promise<Json> {
    const requests = (input.RequestItems ?? {}) as Record<string, Json[]>;
    let total = 0;
    for (const name in requests) total += requests[name]!.length;
    if (total > 25) throw validationError('Too many items requested for the BatchWriteItem call');
    type Op = { t: TableState; key: Buffer; item: Item | undefined; size: number };
    const ops: Op[] = [];
    // Validate the whole batch first: one invalid member rejects everything.
    for (const name in requests) {
      for (const w of requests[name]!) {
        if (w.PutRequest && w.DeleteRequest) throw validationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
        if (w.PutRequest) {
          const item = w.PutRequest.Item as Item;
          for (const n in item) {
            const msg = validateValue(item[n]);
            if (msg) throw validationError(msg);
          }
        } else if (!w.DeleteRequest) throw validationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
      }
    }
    for (const name in requests) {
      const t = this.active(ctx, name);
      const seen = new Set<string>();
      for (const w of requests[name]!) {
        let key: Buffer;
        let item: Item | undefined;
        let size = 0;
        if (w.PutRequest) {
          item = w.PutRequest.Item as Item;
          // A put whose item lacks the table's key (or has it in another type) gets the key message here, not PutItem's.
          const k = t.key;
          if ((item[k.hashName] as Json | undefined)?.[k.hashType] === undefined || (k.rangeName && (item[k.rangeName] as Json | undefined)?.[k.rangeType!] === undefined)) {
            throw validationError('The provided key element does not match the schema');
          }
          key = this.keyFromItem(t, item);
          size = itemSize(item);
          if (size > MAX_ITEM_BYTES) throw validationError('Item size has exceeded the maximum allowed size');
        } else key = this.keyFromKey(t, w.DeleteRequest.Key);
        const hex = key.toString('hex');
        if (seen.has(hex)) throw validationError('Provided list of item keys contains duplicates');
        seen.add(hex);
        ops.push({ t, key, item, size });
      }
    }
    const perTable = new Map<TableState, WriteEffect[]>();
    const metrics = new Map<TableState, Json[]>();
    for (const op of ops) this.markStats(op.t);
    return this.write(ops.map((op) => op.t), () => {
      for (const op of ops) {
        const old = this.readItem(op.key);
        if (!op.item && !old) {
          perTable.set(op.t, [...(perTable.get(op.t) ?? []), { tableBytes: 0, indexUnits: new Map() }]);
          continue;
        }
        const effect = this.userWrite(op.t, op.key, old, op.item, op.size);
        perTable.set(op.t, [...(perTable.get(op.t) ?? []), effect]);
        const icm = input.ReturnItemCollectionMetrics === 'SIZE' ? this.collectionMetrics(op.t, 'SIZE', op.item ?? old?.item) : undefined;
        if (icm) metrics.set(op.t, [...(metrics.get(op.t) ?? []), icm]);
      }
    }, () => this.batchWriteOutput(input, perTable, metrics));
  }

  private batchWriteOutput(input: Json, perTable: Map<TableState, WriteEffect[]>, metrics: Map<TableState, Json[]>): Json {
    const out: Json = { UnprocessedItems: {} };
    if (input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES') {
      out.ConsumedCapacity = [...perTable].map(([t, effects]) => {
        const merged: WriteEffect = { tableBytes: 0, indexUnits: new Map() };
        let tableUnits = 0;
        for (const e of effects) {
          tableUnits += writeUnits(e.tableBytes);
          for (const [n, u] of e.indexUnits) merged.indexUnits.set(n, (merged.indexUnits.get(n) ?? 0) + u);
        }
        const cc = this.writeCapacity(t, input.ReturnConsumedCapacity, merged)!;
        const extra = tableUnits - writeUnits(0);
        cc.CapacityUnits += extra;
        cc.WriteCapacityUnits += extra;
        if (cc.Table) {
          cc.Table.CapacityUnits += extra;
          cc.Table.WriteCapacityUnits += extra;
        }
        return cc;
      });
    }
    if (input.ReturnItemCollectionMetrics === 'SIZE') {
      const m: Json = {};
      for (const [t, list] of metrics) m[t.meta.name] = list;
      out.ItemCollectionMetrics = m;
    }
    return out;
  }

  // ------------------------------------------------------------------ PartiQL (partiql/)

  /** The key schema PartiQL plans against: an ACTIVE or UPDATING table of the caller's scope. */
  partiqlSchema(ctx: RequestContext, table: string): TableSchema {
    const t = this.active(ctx, table);
    const keyOf = (k: KeyDef): Pick<TableSchema, 'hash' | 'range'> => ({
      hash: { name: k.hashName, type: k.hashType },
      ...(k.rangeName ? { range: { name: k.rangeName, type: k.rangeType! } } : {}),
    });
    return { name: t.meta.name, ...keyOf(t.key), indexes: new Map(t.indexes.map((i) => [i.meta.name, { global: i.meta.global, multi: i.ikey.multi, ...keyOf(i.key) }])) };
  }

  executeStatement(input: Json, ctx: RequestContext): Json | Promise<Json> {
    return executeStatement(this, input as ExecuteStatementRequest, ctx);
  }

  batchExecuteStatement(input: Json, ctx: RequestContext): Promise<Json> {
    return batchExecuteStatement(this, input as BatchExecuteStatementRequest, ctx);
  }

  executeTransaction(input: Json, ctx: RequestContext): Json | Promise<Json> {
    return executeTransaction(this, input as ExecuteTransactionRequest, ctx);
  }

  // ------------------------------------------------------------------ query and scan

  query(input: Json, ctx: RequestContext): Json {
    checkStyleMix(input, ['ProjectionExpression', 'FilterExpression', 'KeyConditionExpression'], ['AttributesToGet', 'QueryFilter', 'ConditionalOperator', 'KeyConditions']);
    if (input.KeyConditions === undefined && input.KeyConditionExpression === undefined) {
      throw validationError('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
    }
    checkPlaceholderMaps(input.ExpressionAttributeNames, input.ExpressionAttributeValues, validateValue);
    const ectx = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    let keyCond: Condition;
    if (input.KeyConditionExpression !== undefined) keyCond = parseCondition(input.KeyConditionExpression, 'KeyConditionExpression', ectx);
    else {
      const kc = input.KeyConditions as Record<string, LegacyCondition>;
      const conds = Object.keys(kc).map((a) => comparison(a, kc[a]!.ComparisonOperator ?? '', kc[a]!.AttributeValueList ?? []));
      keyCond = conds.length ? conds.reduce((l, r) => ({ k: 'and', l, r })) : { k: 'true' };
    }
    const { filter, paths } = this.readExpressions(input, ectx, 'QueryFilter');
    checkUnused(ectx);
    const t = this.active(ctx, input.TableName);
    const { target, key } = this.findTarget(t, input);
    if (!target?.ikey.multi) {
      // DynamoDB's walk of the key attributes, start key and conditions interleaved (request-rules.ts).
      const queried = [{ name: key.hashName, type: key.hashType as string }, ...(key.rangeName ? [{ name: key.rangeName, type: key.rangeType as string }] : [])];
      checkQueryKey(input, queried, [...new Set([...t.keyAttrs, ...queried.map((a) => a.name)])], (name, v, isHash) => this.checkKeyValue(name, v, isHash));
    }
    if (input.KeyConditions !== undefined) {
      for (const a of Object.keys(input.KeyConditions as Json)) {
        if (['NULL', 'NOT_NULL', 'NE', 'CONTAINS', 'NOT_CONTAINS', 'IN'].includes((input.KeyConditions as Json)[a]?.ComparisonOperator)) {
          throw validationError('Attempted conditional constraint is not an indexable operation');
        }
      }
    }
    const ns = target ? target.meta.ns : t.meta.ns;
    let bounds: { gte?: Buffer; gt?: Buffer; lt?: Buffer; lte?: Buffer };
    if (target?.ikey.multi) {
      // A key of several HASH or RANGE attributes (indexes/query.ts).
      const q = multiKeyRange(this.keyConditionParts(keyCond), target.ikey);
      if (input.ExclusiveStartKey) {
        this.startKey(t, target, input.ExclusiveStartKey, 'Query');
        checkMultiQueryStart(input.ExclusiveStartKey, target.ikey, q);
      }
      bounds = multiKeyBounds(ns, q, target.ikey);
    } else {
      const range = this.keyConditionRange(keyCond, key, input.KeyConditionExpression !== undefined);
      if (input.ExclusiveStartKey) {
        this.startKey(t, target, input.ExclusiveStartKey, 'Query');
        this.checkQueryStart(input.ExclusiveStartKey, key, range);
      }
      bounds = this.rangeBounds(withNamespace(ns, keyBody(range.hash, key.hashType)), range, key);
    }
    if (paths) this.checkKeyPaths(t, paths);
    if (filter) {
      // A Query filters after the key condition: filtering on the queried key attributes is refused.
      const heads = new Set<string>();
      collectPathHeads(filter, heads);
      for (const k of target ? target.ikey.parts.map((p) => p.name) : t.keyAttrs) {
        if (heads.has(k)) {
          throw validationError(`${input.QueryFilter !== undefined ? 'QueryFilter' : 'Filter Expression'} can only contain non-primary key attributes: Primary key attribute: ${k}`);
        }
      }
    }
    if (target) this.checkTargetProjection(target, input, paths);
    if (filter) this.checkKeyPaths(t, conditionPaths(filter));
    return this.walk(t, target, input, bounds, filter, paths, input.ScanIndexForward === false, undefined, ctx);
  }

  scan(input: Json, ctx: RequestContext): Json {
    checkStyleMix(input, ['ProjectionExpression', 'FilterExpression'], ['AttributesToGet', 'ScanFilter', 'ConditionalOperator']);
    const segment: number | undefined = input.Segment;
    const totalSegments: number | undefined = input.TotalSegments;
    if (segment !== undefined && totalSegments === undefined) {
      throw validationError('The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
    }
    if (totalSegments !== undefined && segment === undefined) {
      throw validationError('The Segment parameter is required but was not present in the request when parameter TotalSegments is present');
    }
    if (segment !== undefined && totalSegments !== undefined && segment >= totalSegments) {
      throw validationError(`The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: ${segment} is not less than TotalSegments: ${totalSegments}`);
    }
    checkPlaceholderMaps(input.ExpressionAttributeNames, input.ExpressionAttributeValues, validateValue);
    const ectx = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
    const { filter, paths } = this.readExpressions(input, ectx, 'ScanFilter');
    checkUnused(ectx);
    const t = this.active(ctx, input.TableName);
    // DynamoDB's order: the index, the start key, what the index projects, then paths into key attributes.
    const { target } = this.findTarget(t, input);
    // The index's part of a start key is checked before the projection, the table's part after it.
    if (input.ExclusiveStartKey) this.startKey(t, target, input.ExclusiveStartKey, 'Scan', () => target && this.checkTargetProjection(target, input, paths));
    else if (target) this.checkTargetProjection(target, input, paths);
    if (paths) this.checkKeyPaths(t, paths);
    if (filter) this.checkKeyPaths(t, conditionPaths(filter));
    const ns = target ? target.meta.ns : t.meta.ns;
    let bounds: { gte: Buffer; lt: Buffer };
    if (totalSegments !== undefined) bounds = bucketRange(ns, segment!, totalSegments);
    else bounds = { gte: namespacePrefix(ns), lt: namespacePrefix(ns + 1) };
    return this.walk(t, target, input, bounds, filter, paths, false, totalSegments !== undefined ? { segment: segment!, total: totalSegments } : undefined, ctx);
  }

  private readExpressions(input: Json, ectx: ExpressionContext, legacyFilter: 'QueryFilter' | 'ScanFilter'): { filter: Condition | undefined; paths: Path[] | undefined } {
    let filter: Condition | undefined;
    let paths: Path[] | undefined;
    if (input.FilterExpression !== undefined) filter = parseCondition(input.FilterExpression, 'FilterExpression', ectx);
    else if (input[legacyFilter] !== undefined) filter = filterToCondition(input[legacyFilter], input.ConditionalOperator);
    if (input.ConditionalOperator !== undefined && input[legacyFilter] === undefined && input.KeyConditions === undefined) {
      throw validationError('ConditionalOperator can only be used when Expected or KeyConditions or QueryFilter or ScanFilter is present');
    }
    if (input.ProjectionExpression !== undefined) paths = parseProjection(input.ProjectionExpression, ectx);
    else if (input.AttributesToGet !== undefined) paths = attributesToGet(input.AttributesToGet);
    // Select against the projection parameters, with AWS's messages (no "parameter values" prefix).
    const select: string | undefined = input.Select;
    const what = input.AttributesToGet !== undefined ? 'AttributesToGet' : 'ProjectionExpression';
    switch (select) {
      case 'ALL_ATTRIBUTES':
      case 'ALL_PROJECTED_ATTRIBUTES':
        if (paths) throw validationError(`Cannot specify the ${what} when choosing to get ${select}`);
        // AWS says "Querying" here on Scan too.
        if (select === 'ALL_PROJECTED_ATTRIBUTES' && input.IndexName === undefined) {
          throw validationError('ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName');
        }
        break;
      case 'COUNT':
        if (paths) throw validationError(`Cannot specify the ${what} when choosing to get only the Count`);
        break;
      case 'SPECIFIC_ATTRIBUTES':
        if (!paths) throw validationError('Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES');
        break;
    }
    return { filter, paths };
  }

  /** The index a read names (or the table), with the checks DynamoDB makes as soon as it has found it. */
  private findTarget(t: TableState, input: Json): { target: IndexState | undefined; key: KeyDef } {
    if (input.IndexName === undefined) return { target: undefined, key: t.key };
    const idx = t.indexes.find((i) => i.meta.name === input.IndexName);
    if (!idx) throw validationError(`The table does not have the specified index: ${input.IndexName}`);
    if (idx.meta.global && input.ConsistentRead === true) throw validationError('Consistent reads are not supported on global secondary indexes');
    if (idx.meta.status === 'CREATING' && idx.meta.backfilling) throw validationError(`Cannot read from backfilling global secondary index: ${idx.meta.name}`);
    return { target: idx, key: idx.key };
  }

  /** What a read of a GSI may ask for: not ALL_ATTRIBUTES, nor paths it does not project, unless it projects ALL. */
  private checkTargetProjection(idx: IndexState, input: Json, paths: Path[] | undefined): void {
    if (idx.meta.global && input.Select === 'ALL_ATTRIBUTES' && idx.projected !== 'ALL') {
      throw validationError(`${INVALID}Select type ALL_ATTRIBUTES is not supported for global secondary index ${idx.meta.name} because its projection type is not ALL`);
    }
    if (idx.meta.global && paths && idx.projected !== 'ALL') {
      // A GSI cannot fetch from the table: every projected path must be in the index. AWS names the
      // missing attributes as a bracketed list ("... does not project [a, b]").
      const missing = [...new Set(paths.map((p) => String(p[0])).filter((name) => !(idx.projected as Set<string>).has(name)))];
      if (missing.length > 0) throw validationError(`${INVALID}Global secondary index ${idx.meta.name} does not project [${missing.join(', ')}]`);
    }
  }

  /** Turns a key condition into the hash value and an optional range predicate, with AWS's checks. */
  private keyConditionRange(cond: Condition, key: KeyDef, isExpression: boolean): { hash: AttributeValue; op?: string; values?: AttributeValue[] } {
    const found = this.keyConditionParts(cond);
    const bad = (m: string): ServiceError => validationError(m);
    if (!isExpression && (found.size < 1 || found.size > 2)) throw bad('Conditions can be of length 1 or 2 only');
    const h = found.get(key.hashName);
    if (!h) throw bad(`Query condition missed key schema element: ${key.hashName}`);
    for (const name of found.keys()) {
      if (name !== key.hashName && name !== key.rangeName) throw bad('Query key condition not supported');
    }
    if (h.op !== '=') throw bad('Query key condition not supported');
    const typeOk = (v: AttributeValue, type: KeyType): boolean => (v as Json)[type] !== undefined;
    if (!typeOk(h.values[0]!, key.hashType)) throw bad(`${INVALID}Condition parameter type does not match schema type`);
    const r = key.rangeName ? found.get(key.rangeName) : undefined;
    if (r && !r.values.every((v) => typeOk(v, key.rangeType!))) throw bad(`${INVALID}Condition parameter type does not match schema type`);
    if (r?.op === 'BEGINS_WITH' && key.rangeType === 'N') throw bad(`${INVALID}Condition parameter type does not match schema type`);
    // A value no key can hold matches nothing on AWS either: it is refused with the key size messages.
    this.checkKeySize(h.values[0]!, true);
    for (const v of r?.values ?? []) this.checkKeySize(v, false);
    return { hash: h.values[0]!, ...(r ? { op: r.op, values: r.values } : {}) };
  }

  /** The conditions of a key condition by attribute name, with AWS's checks of each one's form. */
  private keyConditionParts(cond: Condition): Map<string, KeyCondition> {
    const parts: Condition[] = [];
    const flatten = (c: Condition): void => {
      if (c.k === 'and') {
        flatten(c.l);
        flatten(c.r);
      } else parts.push(c);
    };
    flatten(cond);
    const bad = (m: string): ServiceError => validationError(m);
    const found = new Map<string, KeyCondition>();
    for (const c of parts) {
      let attr: string | undefined;
      let op: string;
      let values: AttributeValue[];
      const single = (o: { k: string; path?: Path; value?: AttributeValue }): void => {
        if (o.k !== 'path') return;
        if (attr !== undefined) throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
        if (o.path!.length > 1) throw bad('KeyConditionExpressions cannot have conditions on nested attributes');
        attr = o.path![0] as string;
      };
      const operator = invalidKeyConditionOperator(c);
      if (operator) throw bad(operator);
      switch (c.k) {
        case 'true': continue;
        case 'cmp': {
          if (c.op === '<>') throw bad('Invalid operator used in KeyConditionExpression: <>');
          if (c.l.k === 'size' || c.r.k === 'size') throw bad('KeyConditionExpressions cannot contain nested operations');
          single(c.l);
          single(c.r);
          if (attr === undefined) throw bad('Invalid condition in KeyConditionExpression: No key attribute specified');
          const flip: Record<string, string> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
          op = c.l.k === 'path' ? c.op : flip[c.op]!;
          values = [(c.l.k === 'path' ? c.r : c.l) as { k: 'value'; value: AttributeValue }].map((o) => o.value);
          if (c.l.k === 'path' && c.r.k === 'path') throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
          break;
        }
        case 'between': {
          if (c.v.k !== 'path') throw bad('Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand');
          single(c.v);
          if (c.lo.k !== 'value' || c.hi.k !== 'value') throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
          op = 'BETWEEN';
          values = [c.lo.value, c.hi.value];
          break;
        }
        case 'begins_with': {
          if (c.v.k !== 'path') throw bad('Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand');
          single(c.v);
          if (c.prefix.k !== 'value') throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
          op = 'BEGINS_WITH';
          values = [c.prefix.value];
          break;
        }
        default:
          throw bad('Query key condition not supported');
      }
      if (found.has(attr!)) throw bad('KeyConditionExpressions must only contain one condition per key');
      found.set(attr!, { op, values });
    }
    return found;
  }

  /** Store key bounds for a partition and an optional range predicate. */
  private rangeBounds(prefix: Buffer, range: { op?: string; values?: AttributeValue[] }, key: KeyDef): { gte?: Buffer; gt?: Buffer; lt?: Buffer; lte?: Buffer } {
    return rangeBoundsOf(prefix, range, key.rangeType);
  }

  /**
   * The store key an ExclusiveStartKey stands for (table key, or index key + table key), checked with
   * AWS's messages: a wrong attribute count or a missing index key attribute is "The provided starting
   * key is invalid" (a Scan of the table itself adds the schema message), a wrong index key type is the
   * bare schema message, and a wrong table key is prefixed.
   */
  private startKey(t: TableState, target: IndexState | undefined, esk: Json, op: 'Query' | 'Scan', afterIndexPart?: () => void): Buffer {
    const bare = 'The provided starting key is invalid';
    const schema = 'The provided key element does not match the schema';
    for (const n in esk) {
      const msg = validateValue(esk[n]);
      if (msg) throw validationError(/contains duplicates|number set|numeric value|significant digits|number with magnitude/.test(msg) ? msg : `${bare}: ${msg}`);
    }
    const need = new Set(t.keyAttrs);
    if (target) for (const p of target.ikey.parts) need.add(p.name);
    if (Object.keys(esk).length !== need.size) throw validationError(op === 'Scan' && !target ? `${bare}: ${schema}` : bare);
    if (target) {
      for (const p of target.ikey.parts) {
        const v = esk[p.name] as Json | undefined;
        if (!v) throw validationError(bare);
        if (v[p.type] === undefined) throw validationError(schema);
      }
    }
    afterIndexPart?.();
    const get = (name: string, type: KeyType, isHash: boolean): AttributeValue => {
      const v = esk[name] as AttributeValue | undefined;
      if (!v || (v as Json)[type] === undefined) throw validationError(`${bare}: ${schema}`);
      this.checkKeySize(v, isHash);
      return v;
    };
    const tk = t.key;
    const body = keyBody(get(tk.hashName, tk.hashType, true), tk.hashType, tk.rangeName ? get(tk.rangeName, tk.rangeType!, false) : undefined, tk.rangeType);
    if (!target) return withNamespace(t.meta.ns, body);
    const values: Record<string, AttributeValue> = {};
    for (const p of target.ikey.parts) values[p.name] = get(p.name, p.type, p.isHash);
    return withNamespace(target.meta.ns, indexKeyBodyOf(values, target.ikey), body);
  }

  /**
   * A Query's ExclusiveStartKey must lie in the queried partition and satisfy the range condition, with
   * AWS's (distinct) messages for each case.
   */
  private checkQueryStart(esk: Json, key: KeyDef, range: { hash: AttributeValue; op?: string; values?: AttributeValue[] }): void {
    const h = esk[key.hashName] as AttributeValue;
    const samePartition = compareScalars(h, range.hash) === 0;
    if (!range.op) {
      if (!samePartition) throw validationError('The provided starting key is outside query boundaries based on provided conditions');
      return;
    }
    const ok = satisfiesKeyCondition(esk[key.rangeName!] as AttributeValue, { op: range.op, values: range.values! });
    if (!ok) throw validationError('The provided starting key does not match the range key predicate');
    if (!samePartition) throw validationError('The query can return at most one row and cannot be restarted');
  }

  /**
   * The common Query/Scan loop: walks store keys in order (or reverse) in bounded chunks, counts every
   * evaluated item against Limit and the 1 MB page, applies the filter, projects, and reports where it
   * stopped as LastEvaluatedKey.
   */
  private walk(
    t: TableState, target: IndexState | undefined, input: Json, bounds: { gte?: Buffer; gt?: Buffer; lt?: Buffer; lte?: Buffer },
    filter: Condition | undefined, paths: Path[] | undefined, reverse: boolean, segment: { segment: number; total: number } | undefined, ctx: RequestContext,
  ): Json {
    const limit: number = input.Limit ?? Number.MAX_SAFE_INTEGER;
    const select: string = input.Select ?? (paths ? 'SPECIFIC_ATTRIBUTES' : target ? 'ALL_PROJECTED_ATTRIBUTES' : 'ALL_ATTRIBUTES');
    const consistent = input.ConsistentRead === true;
    const lo: { gte?: Buffer; gt?: Buffer } = bounds.gt ? { gt: bounds.gt } : { gte: bounds.gte! };
    const hi: { lt?: Buffer; lte?: Buffer } = bounds.lte ? { lte: bounds.lte } : { lt: bounds.lt! };
    if (input.ExclusiveStartKey) {
      const sk = this.startKey(t, target, input.ExclusiveStartKey, input.KeyConditionExpression === undefined && input.KeyConditions === undefined ? 'Scan' : 'Query');
      if (segment && segmentOf(sk, segment.total) !== segment.segment) {
        throw validationError(`The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: ${segment.total} Segment: ${segment.segment}`);
      }
      if (reverse) {
        delete hi.lte;
        if (!hi.lt || Buffer.compare(sk, hi.lt) < 0) hi.lt = sk;
      } else {
        delete lo.gte;
        lo.gt = sk;
      }
    }
    const items: (Item | RawJson)[] = [];
    let scanned = 0;
    let count = 0;
    let bytes = 0;
    let last: string | undefined;
    let stopped = false;
    // LSI reads of attributes outside the projection fetch the table item (and pay for it).
    const fetch = target !== undefined && !target.meta.global && target.projected !== 'ALL' && this.needsFetch(select, paths, target);
    // The loop ends when the range is exhausted, Limit items were evaluated, or 1 MB was read; each
    // chunk advances the cursor past the entries it read.
    for (;;) {
      const want = Math.min(SCAN_CHUNK, limit - scanned);
      if (want <= 0) {
        stopped = true;
        break;
      }
      const chunk = this.items.scanText({ ...lo, ...hi, reverse, limit: want }, ITEM_HEADER_BYTES);
      for (const v of chunk) {
        const size = textValueSize(v);
        const json = textValueJson(v);
        scanned++;
        bytes += size;
        last = json;
        if (!fetch && !filter && !paths) {
          // The entry as stored is the answer.
          count++;
          if (select !== 'COUNT') items.push(storedItem(json, ctx));
        } else {
          let item = JSON.parse(json) as Item;
          if (fetch) {
            const tk = t.key;
            const base = this.readItem(withNamespace(t.meta.ns, keyBody(item[tk.hashName]!, tk.hashType, tk.rangeName ? item[tk.rangeName] : undefined, tk.rangeType)));
            if (base) {
              item = base.item;
              bytes += base.size;
            }
          }
          if (!filter || evalCondition(filter, item)) {
            count++;
            if (select !== 'COUNT') items.push(paths ? project(item, paths) : item);
          }
        }
        if (bytes >= MB) {
          stopped = true;
          break;
        }
      }
      if (stopped) break;
      if (chunk.length < want) break;
      // The next chunk starts after the last entry read: its store key, rebuilt from its key
      // attributes exactly as an ExclusiveStartKey would be.
      const k = this.startKey(t, target, this.keyOf(JSON.parse(last!) as Item, t, target), 'Scan');
      if (reverse) hi.lt = k;
      else {
        delete lo.gte;
        lo.gt = k;
      }
    }
    if (scanned >= limit) stopped = true;
    const out: Json = {};
    if (select !== 'COUNT') out.Items = items;
    out.Count = count;
    out.ScannedCount = scanned;
    if (stopped && last) out.LastEvaluatedKey = this.keyOf(JSON.parse(last) as Item, t, target);
    if (input.ReturnConsumedCapacity === 'TOTAL' || input.ReturnConsumedCapacity === 'INDEXES') {
      out.ConsumedCapacity = this.readCapacity(t, input.ReturnConsumedCapacity, readUnits(bytes, consistent), target?.meta.name);
    }
    return out;
  }

  private needsFetch(select: string, paths: Path[] | undefined, idx: IndexState): boolean {
    if (select === 'ALL_ATTRIBUTES') return true;
    if (select === 'SPECIFIC_ATTRIBUTES' && paths && idx.projected !== 'ALL') {
      const projected = idx.projected;
      return paths.some((p) => !projected.has(p[0] as string));
    }
    return false;
  }

  private keyOf(item: Item, t: TableState, target: IndexState | undefined): Item {
    const out: Item = {};
    for (const n of t.keyAttrs) if (item[n]) out[n] = item[n];
    if (target) for (const p of target.ikey.parts) if (item[p.name]) out[p.name] = item[p.name]!;
    return out;
  }
}
