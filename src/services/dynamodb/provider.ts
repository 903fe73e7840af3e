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
 * and recounted after an unclean stop: see tables/counters.ts.
 *
 * This class holds the service's state (tables cache, keyspaces, observers) and the one write path
 * (applyChanges); the operations live in modules by concern and take the provider as their first
 * argument: tables/ (schema, lifecycle, counters), items/ (item operations, capacity), query/,
 * expressions/, indexes/, transactions/, partiql/, streams/, ttl/, probes/. They take it through the
 * narrow interfaces of tables/state.ts (TableLookup, ItemStore, TableCatalog; TransactionalStore in
 * transactions/state.ts), never as this class, so that none of them imports this module back.
 */
import type { RequestContext } from '../../core/context.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { ServiceError, validationError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { parseArn, PARTITION } from '../../core/scope.js';
import { notAuthorizedMessage } from '../../auth/policy.js';
import type { Keyspace, Store } from '../../storage/store.js';
import type { DescribeTimeToLiveInput, DescribeTimeToLiveOutput, UpdateTimeToLiveInput, UpdateTimeToLiveOutput } from '../../models/dynamodb.js';
import { StreamChangeLog } from './streams/change-log.js';
import { type AttributeValue, type Item, itemSize, typeOf, validateValue, writeUnits } from './attributes.js';
import type { Condition, Path } from './expressions/ast.js';
import { type ExpressionContext } from './expressions/parser.js';
import { TransactionState, transactGetItems, transactWriteItems } from './transactions/index.js';
import type { TransactionalStore } from './transactions/state.js';
import { RECOUNT_CHUNK, TableCounters } from './tables/counters.js';
import { batchExecuteStatement, executeStatement, executeTransaction } from './partiql/executor.js';
import type { TableSchema } from './partiql/planner.js';
import { encodeItemValue, ITEM_HEADER_BYTES, keyBody, textValueJson, textValueSize, withNamespace, type KeyType } from './keycodec.js';
import { checkIndexKeyValues, indexKeyOf, itemIndexKeyBody } from './indexes/keys.js';
import { keySizeProblem } from './indexes/query.js';
import { type KeyDef, type TableMeta, keyDefOf, projectedNames } from './tables/schema.js';
import { checkKeyPaths } from './request-rules.js';
import * as probes from './probes/index.js';
import type * as M from '../../models/dynamodb.js';
import { TimeToLive, type TimeToLiveOptions } from './ttl/time-to-live.js';

import { INVALID, notFound, checkTableName } from './common.js';
import * as lifecycle from './tables/lifecycle.js';
import * as itemOps from './items/item-operations.js';
import * as capacity from './items/capacity.js';
import * as queryScan from './query/query-scan.js';
import type { Answer, Request, Response } from './shapes.js';
import type { CapacityRecorder } from '../../observability/dynamodb-capacity.js';
import {
  StoredItem, type IndexState, type ItemChange, type TableCatalog, type TableState, type WriteEffect, type WriteObserver, type WriteOptions,
} from './tables/state.js';

// The shared types moved to tables/state.ts (so the operation modules need not import this one); still exported here.
export { StoredItem, type IndexState, type ItemChange, type TableState, type WriteEffect, type WriteObserver, type WriteOptions, type WriteOrigin } from './tables/state.js';
import type { ThroughputEnforcer } from './throughput/enforcer.js';

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

/**
 * An untyped request or response. No operation here uses it any more (they take Request<M.XInput> and answer
 * Response<M.XOutput>, shapes.ts); kept exported for work in progress on other branches. Do not use in new code.
 */
export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** How often counters changed by writes are stored (exact, clean) again. */
const STATS_FLUSH_MS = 1000;
/** How many names of tables that do not exist are remembered, so that lookups of them skip the store. */
const MISSING_CACHED = 1024;

const USER_WRITE: Omit<WriteOptions, 'nowMs'> = { origin: 'user', transactional: false };

export class DynamoDBProvider implements TableCatalog, TransactionalStore {
  readonly items: Keyspace;
  readonly meta: Keyspace;
  /** Tables read from the store, by metaKey. */
  readonly tables = new Map<string, TableState>();
  /** Names looked up and not found (bounded: the oldest is forgotten past MISSING_CACHED). */
  private readonly missing = new Set<string>();
  readonly createDelayMs: number;
  readonly updateDelayMs: number;
  readonly deleteDelayMs: number;
  readonly backfillBatch: number;
  readonly endpointAddress: () => string;
  readonly timers = new Set<NodeJS.Timeout | NodeJS.Immediate>();
  private readonly statsTimer: NodeJS.Timeout;
  readonly counters: TableCounters;
  closed = false;
  readonly writeObservers: WriteObserver[] = [];
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
    // Items are often large (up to 400 KB): see storage/sqlite.ts on why they are laid out apart from their keys.
    this.items = store.keyspace('ddb_items', { largeValues: true });
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

  nextNamespace(): number {
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
  buildState(meta: TableMeta, prev?: TableState): TableState {
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

  addStats(t: TableState, ns: number, key: Buffer, count: number, bytes: number): void {
    this.counters.add(t, ns, key, count, bytes);
  }

  /**
   * Runs an item write: through the store's group commit when it has one (the answer, built by `answer`,
   * comes once the group is durable), else as a plain transaction answered at once.
   */
  write<T, R>(tables: TableState[], fn: () => T, answer: (v: T) => R): R | Promise<R> {
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
  load(k: string): TableState | undefined {
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
  cache(k: string, t: TableState): void {
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

  tableNotFound(name: string): ServiceError {
    return new ServiceError('ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
  }

  // ------------------------------------------------------------------ tables

  createTable(input: Request<M.CreateTableInput>, ctx: RequestContext): Response<M.CreateTableOutput> {
    return lifecycle.createTable(this, input, ctx);
  }

  describeTable(input: Request<M.DescribeTableInput>, ctx: RequestContext): Answer<Response<M.DescribeTableOutput>> {
    return lifecycle.describeTable(this, input, ctx);
  }

  listTables(input: Request<M.ListTablesInput>, ctx: RequestContext): Response<M.ListTablesOutput> {
    return lifecycle.listTables(this, input, ctx);
  }

  deleteTable(input: Request<M.DeleteTableInput>, ctx: RequestContext): Response<M.DeleteTableOutput> {
    return lifecycle.deleteTable(this, input, ctx);
  }

  updateTable(input: Request<M.UpdateTableInput>, ctx: RequestContext): Response<M.UpdateTableOutput> {
    return lifecycle.updateTable(this, input, ctx);
  }

  resumeBackfills(): void {
    return lifecycle.resumeBackfills(this);
  }

  updateTimeToLive(input: UpdateTimeToLiveInput, ctx: RequestContext): UpdateTimeToLiveOutput {
    return this.timeToLive.updateTimeToLive(input, ctx);
  }

  describeTimeToLive(input: DescribeTimeToLiveInput, ctx: RequestContext): DescribeTimeToLiveOutput {
    return this.timeToLive.describeTimeToLive(input, ctx);
  }

  describeLimits(_input: Request<M.DescribeLimitsInput>, _ctx: RequestContext): Response<M.DescribeLimitsOutput> {
    return lifecycle.describeLimits(this, _input, _ctx);
  }

  describeEndpoints(_input: Request<M.DescribeEndpointsRequest>, ctx: RequestContext): Response<M.DescribeEndpointsResponse> {
    return lifecycle.describeEndpoints(this, _input, ctx);
  }

  // ------------------------------------------------------------------ what tools probe for (probes/)

  private readonly probes = new probes.TableProbes(this);
  describeContinuousBackups(input: M.DescribeContinuousBackupsInput, ctx: RequestContext): M.DescribeContinuousBackupsOutput { return this.probes.describeContinuousBackups(input, ctx); }
  describeContributorInsights(input: M.DescribeContributorInsightsInput, ctx: RequestContext): M.DescribeContributorInsightsOutput { return this.probes.describeContributorInsights(input, ctx); }
  listContributorInsights(input: M.ListContributorInsightsInput, ctx: RequestContext): M.ListContributorInsightsOutput { return this.probes.listContributorInsights(input, ctx); }
  describeKinesisStreamingDestination(input: M.DescribeKinesisStreamingDestinationInput, ctx: RequestContext): M.DescribeKinesisStreamingDestinationOutput { return this.probes.describeKinesisStreamingDestination(input, ctx); }
  describeTableReplicaAutoScaling(input: M.DescribeTableReplicaAutoScalingInput, ctx: RequestContext): never { return this.probes.describeTableReplicaAutoScaling(input, ctx); }
  getResourcePolicy(input: M.GetResourcePolicyInput, ctx: RequestContext): never { return this.probes.getResourcePolicy(input, ctx); }
  listBackups(): M.ListBackupsOutput { return probes.listBackups(); }
  listExports(): M.ListExportsOutput { return probes.listExports(); }
  listImports(): M.ListImportsOutput { return probes.listImports(); }
  listGlobalTables(): M.ListGlobalTablesOutput { return probes.listGlobalTables(); }

  // ------------------------------------------------------------------ tags

  tableByArn(arn: string, ctx: RequestContext, notFound = `Requested resource not found: ResourcArn: ${arn} not found`): TableState {
    return lifecycle.tableByArn(this, arn, ctx, notFound);
  }

  tagResource(input: Request<M.TagResourceInput>, ctx: RequestContext): Record<string, never> {
    return lifecycle.tagResource(this, input, ctx);
  }

  untagResource(input: Request<M.UntagResourceInput>, ctx: RequestContext): Record<string, never> {
    return lifecycle.untagResource(this, input, ctx);
  }

  listTagsOfResource(input: Request<M.ListTagsOfResourceInput>, ctx: RequestContext): Response<M.ListTagsOfResourceOutput> {
    return lifecycle.listTagsOfResource(this, input, ctx);
  }

  // ------------------------------------------------------------------ keys and index entries

  /** Validates a Key parameter against the table's schema; returns its encoded item key. */
  keyFromKey(t: TableState, key: Item | undefined, emptyLead?: string): Buffer {
    const k = t.key;
    if (!key || typeof key !== 'object') throw validationError('The provided key element does not match the schema');
    let n = 0;
    for (const name in key) {
      n++;
      const msg = validateValue(key[name]);
      if (msg) throw validationError(msg);
    }
    const h: AttributeValue | undefined = key[k.hashName];
    const r: AttributeValue | undefined = k.rangeName ? key[k.rangeName] : undefined;
    if (n !== (k.rangeName ? 2 : 1) || !h || (k.rangeName && !r)) throw validationError('The provided key element does not match the schema');
    if (h[k.hashType] === undefined || (r && r[k.rangeType!] === undefined)) {
      throw validationError('The provided key element does not match the schema');
    }
    this.checkKeyValue(k.hashName, h, true, emptyLead);
    if (r) this.checkKeyValue(k.rangeName!, r, false, emptyLead);
    return withNamespace(t.meta.ns, keyBody(h, k.hashType, r, k.rangeType));
  }

  /** Paths into the table's or an index's key attributes are refused (request-rules checkKeyPaths). */
  checkKeyPaths(t: TableState, paths: readonly Path[]): void {
    checkKeyPaths(paths, t.keyAttrs, t.indexes.flatMap((i) => i.ikey.parts.map((p) => p.name)));
  }

  checkKeyValue(name: string, v: AttributeValue, isHash: boolean, lead = 'One or more parameter values are not valid.'): void {
    if (v.S === '' ) throw validationError(`${lead} The AttributeValue for a key attribute cannot contain an empty string value. Key: ${name}`);
    if (v.B !== undefined && v.B.length === 0) throw validationError(`${lead} The AttributeValue for a key attribute cannot contain an empty binary value. Key: ${name}`);
    this.checkKeySize(v, isHash);
  }

  /** DynamoDB's key size limits (2,048 bytes for a partition key, 1,024 for a sort key), table and index keys alike. */
  checkKeySize(v: AttributeValue, isHash: boolean): void {
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
      if (v[type!] === undefined) throw validationError(`${INVALID}Type mismatch for key ${name} expected: ${type} actual: ${typeOf(v)}`);
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
  indexEntry(t: TableState, idx: IndexState, item: Item, itemKeyBody: Buffer): { key: Buffer; value: Buffer; size: number } | undefined {
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
    // The new item is serialized once: the item write stores these bytes, and a stream record splices them in.
    const value = change.next ? encodeItemValue(JSON.stringify(change.next), change.nextSize) : undefined;
    const effect = this.writeItem(change.table, change.key, change.stored, change.next, value, change.nextSize);
    for (const o of this.writeObservers) o.onChange(change, options, value);
    return effect;
  }

  /** A caller's ordinary (non-transactional) write, through the one write path. */
  userWrite(t: TableState, key: Buffer, stored: StoredItem | undefined, next: Item | undefined, nextSize: number): WriteEffect {
    return this.applyChange({ table: t, key, stored, next, nextSize }, { ...USER_WRITE, nowMs: this.clock.now() });
  }

  /**
   * Writes (or deletes, when next is undefined) an item and keeps its index entries and the table's
   * in-memory counters in step. Only applyChange calls it.
   */
  private writeItem(t: TableState, key: Buffer, stored: StoredItem | undefined, next: Item | undefined, nextValue: Buffer | undefined, nextSize: number): WriteEffect {
    const oldSize = stored?.size ?? 0;
    // Parsed only when index entries depend on it (a plain overwrite needs only its size).
    const old = stored !== undefined && t.indexes.length ? stored.item : undefined;
    const existed = stored !== undefined;
    const effect: WriteEffect = { tableBytes: Math.max(oldSize, nextSize), indexUnits: new Map() };
    if (nextValue) this.items.put(key, nextValue);
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

  /**
   * Called for every request's units, whatever its ReturnConsumedCapacity, while metrics are collected (observability/)
   * or provisioned throughput is enforced (the enforcer takes them from its buckets).
   */
  capacityMeter: CapacityRecorder | undefined;

  /** Provisioned-throughput enforcement (throughput/enforcer.ts), when the setting turns it on. */
  throughput: ThroughputEnforcer | undefined;

  writeCapacity(t: TableState, mode: string | undefined, effect: WriteEffect | undefined): Response<M.ConsumedCapacity> | undefined {
    if (this.capacityMeter) this.capacityMeter.write(t, writeUnits(effect?.tableBytes ?? 0), effect?.indexUnits);
    return capacity.writeCapacity(this, t, mode, effect);
  }

  readCapacity(t: TableState, mode: string | undefined, units: number, indexName?: string): Response<M.ConsumedCapacity> | undefined {
    if (this.capacityMeter) this.capacityMeter.read(t, units, indexName);
    return capacity.readCapacity(this, t, mode, units, indexName);
  }

  collectionMetrics(t: TableState, mode: string | undefined, item: Item | undefined): Response<M.ItemCollectionMetrics> | undefined {
    return capacity.collectionMetrics(this, t, mode, item);
  }

  // ------------------------------------------------------------------ expressions for writes

  writeCondition(input: itemOps.WriteConditionInput, opName: string, extraExpr: string[] = [], extraLegacy: string[] = []): { ctx: ExpressionContext; condition: Condition | undefined } {
    return itemOps.writeCondition(this, input, opName, extraExpr, extraLegacy);
  }

  checkReturnValuesOnFailure(input: Request<Pick<M.PutItemInput, 'ReturnValuesOnConditionCheckFailure'>>, old: Item | undefined): ServiceError {
    return itemOps.checkReturnValuesOnFailure(this, input, old);
  }

  // ------------------------------------------------------------------ item operations

  putItem(input: Request<M.PutItemInput>, ctx: RequestContext): Answer<Response<M.PutItemOutput>> {
    return itemOps.putItem(this, input, ctx);
  }

  getItem(input: Request<M.GetItemInput>, ctx: RequestContext): Response<M.GetItemOutput> {
    return itemOps.getItem(this, input, ctx);
  }

  deleteItem(input: Request<M.DeleteItemInput>, ctx: RequestContext): Answer<Response<M.DeleteItemOutput>> {
    return itemOps.deleteItem(this, input, ctx);
  }

  updateItem(input: Request<M.UpdateItemInput>, ctx: RequestContext): Answer<Response<M.UpdateItemOutput>> {
    return itemOps.updateItem(this, input, ctx);
  }

  // ------------------------------------------------------------------ transactions (transactions/)

  transactWriteItems(input: Request<M.TransactWriteItemsInput>, ctx: RequestContext): Answer<Response<M.TransactWriteItemsOutput>> {
    return transactWriteItems(this, input, ctx);
  }

  transactGetItems(input: Request<M.TransactGetItemsInput>, ctx: RequestContext): Response<M.TransactGetItemsOutput> {
    return transactGetItems(this, input, ctx);
  }

  batchGetItem(input: Request<M.BatchGetItemInput>, ctx: RequestContext): Response<M.BatchGetItemOutput> {
    return itemOps.batchGetItem(this, input, ctx);
  }

  batchWriteItem(input: Request<M.BatchWriteItemInput>, ctx: RequestContext): Answer<Response<M.BatchWriteItemOutput>> {
    return itemOps.batchWriteItem(this, input, ctx);
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

  executeStatement(input: Request<M.ExecuteStatementInput>, ctx: RequestContext): Answer<Response<M.ExecuteStatementOutput>> {
    return executeStatement(this, input, ctx);
  }

  batchExecuteStatement(input: Request<M.BatchExecuteStatementInput>, ctx: RequestContext): Promise<Response<M.BatchExecuteStatementOutput>> {
    return batchExecuteStatement(this, input, ctx);
  }

  executeTransaction(input: Request<M.ExecuteTransactionInput>, ctx: RequestContext): Answer<Response<M.ExecuteTransactionOutput>> {
    return executeTransaction(this, input, ctx);
  }

  // ------------------------------------------------------------------ query and scan

  query(input: Request<M.QueryInput>, ctx: RequestContext): Response<M.QueryOutput> {
    return queryScan.query(this, input, ctx);
  }

  scan(input: Request<M.ScanInput>, ctx: RequestContext): Response<M.ScanOutput> {
    return queryScan.scan(this, input, ctx);
  }

}
