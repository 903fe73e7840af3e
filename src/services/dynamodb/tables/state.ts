/**
 * @module services/dynamodb/tables/state
 * What the DynamoDB provider (provider.ts) and the modules of its operations share: a table's in-memory
 * state, an item as read from the store, the changes and effects of the one write path, and the narrow
 * interfaces through which those modules reach the provider's behaviour (DynamoDBProvider implements them).
 *
 * Why apart from provider.ts: the operation modules (items/, query/, tables/lifecycle.ts, transactions/,
 * ttl/, streams/) are imported by the provider; if they took these types and the provider class back from
 * provider.ts, the service would be one import circle. This module imports nothing above it.
 */
import type { Clock } from '../../../core/clock.js';
import type { RequestContext } from '../../../core/context.js';
import type { ServiceError } from '../../../core/errors.js';
import type { Scope } from '../../../core/scope.js';
import type * as M from '../../../models/dynamodb.js';
import type { CapacityRecorder } from '../../../observability/dynamodb-capacity.js';
import type { Keyspace, Store } from '../../../storage/store.js';
import type { AttributeValue, Item } from '../attributes.js';
import type { Path } from '../expressions/ast.js';
import type { IndexKey } from '../indexes/keys.js';
import type { Response } from '../shapes.js';
import type { StreamSpecificationInput } from '../streams/stream-spec.js';
import type { ThroughputEnforcer } from '../throughput/enforcer.js';
import type { TableCounters } from './counters.js';
import type { IndexMeta, KeyDef, Stats, TableMeta } from './schema.js';

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
  /** storedValue: what the item write stored for the new item (keycodec encodeItemValue), undefined for a delete. */
  onChange(change: ItemChange, options: WriteOptions, storedValue: Buffer | undefined): void;
  /** A deleted table's data is being removed (inside that store transaction): remove what the observer keeps for it. */
  onTablePurged?(meta: TableMeta): void;
}

/** Finding a table of the caller's scope: the provider's table cache (Time to Live, and every operation below). */
export interface TableLookup {
  readonly store: Store;
  /** A table's metadata key: the table's scope (core/scope.ts) and name. */
  metaKey(scope: Pick<Scope, 'accountId' | 'region'>, name: string): string;
  /** The table a TableName names: a name, or an ARN of a table in the caller's own account and region. */
  tableName(ctx: RequestContext, nameOrArn: string): string;
  /** The table (cached), with CREATING/UPDATING promoted to ACTIVE once their delay has passed. */
  lookup(ctx: RequestContext, nameOrArn: string): TableState | undefined;
  /** A table that accepts data operations (ACTIVE or UPDATING), else ResourceNotFoundException. */
  active(ctx: RequestContext, name: string): TableState;
  /** A table by its metadata key (background work acts in the table's own scope), or undefined when it is gone. */
  tableAt(tableKey: string): TableState | undefined;
  saveMeta(meta: TableMeta): void;
  tableNotFound(name: string): ServiceError;
  /** Registers a write observer (stream change log, Time to Live expiry index); see WriteObserver. */
  addWriteObserver(observer: WriteObserver): void;
}

/**
 * Reading and writing items: key validation, item reads, the one write path, the capacity it reports and the throughput it may refuse.
 * What item operations, Query and Scan, transactions and the Time to Live sweeper use of the provider.
 */
export interface ItemStore extends TableLookup {
  /** The keyspace items and index entries live in (keycodec). */
  readonly items: Keyspace;
  readonly clock: Clock;
  /** Before a single-item write: refuses an item a write transaction holds (transactions/state.ts TransactionState). */
  readonly transactions: { checkFree(key: Buffer): void };
  /** Called for every request's units while metrics are collected (observability/). */
  readonly capacityMeter: CapacityRecorder | undefined;
  /** Provisioned-throughput enforcement (throughput/enforcer.ts), when the setting turns it on. */
  readonly throughput: ThroughputEnforcer | undefined;
  /** Validates a Key parameter against the table's schema; returns its encoded item key. */
  keyFromKey(t: TableState, key: Item | undefined, emptyLead?: string): Buffer;
  /** Validates a full item's key attributes and index key attributes; returns its encoded key. */
  keyFromItem(t: TableState, item: Item): Buffer;
  /** Paths into the table's or an index's key attributes are refused (request-rules checkKeyPaths). */
  checkKeyPaths(t: TableState, paths: readonly Path[]): void;
  checkKeyValue(name: string, v: AttributeValue, isHash: boolean, lead?: string): void;
  /** DynamoDB's key size limits, table and index keys alike. */
  checkKeySize(v: AttributeValue, isHash: boolean): void;
  readItem(key: Buffer): StoredItem | undefined;
  /** Called before a write changes a table's in-memory counters (TableCounters.mark). */
  markStats(t: TableState): void;
  /** Runs an item write through the store's group commit when it has one; `answer` builds the response once durable. */
  write<T, R>(tables: TableState[], fn: () => T, answer: (v: T) => R): R | Promise<R>;
  /** The one write path: must run inside write(), after markStats() of each table. */
  applyChanges(changes: readonly ItemChange[], options: WriteOptions): WriteEffect[];
  /** A caller's ordinary (non-transactional) write, through the one write path. */
  userWrite(t: TableState, key: Buffer, stored: StoredItem | undefined, next: Item | undefined, nextSize: number): WriteEffect;
  writeCapacity(t: TableState, mode: string | undefined, effect: WriteEffect | undefined): Response<M.ConsumedCapacity> | undefined;
  readCapacity(t: TableState, mode: string | undefined, units: number, indexName?: string): Response<M.ConsumedCapacity> | undefined;
  collectionMetrics(t: TableState, mode: string | undefined, item: Item | undefined): Response<M.ItemCollectionMetrics> | undefined;
}

/** What table lifecycle tells the tables' change logs (streams/change-log.ts). */
export interface TableStreamEvents {
  tableCreated(meta: TableMeta): void;
  streamUpdated(meta: TableMeta, spec: StreamSpecificationInput, nowMs: number): void;
  tableDeleted(meta: TableMeta, nowMs: number): void;
}

/**
 * The provider's tables as table lifecycle (tables/lifecycle.ts) manages them: the stored metadata, the cache,
 * the counters, the timers of delayed state changes and backfills, and the index entries a backfill writes.
 */
export interface TableCatalog extends ItemStore {
  /** The keyspace table metadata lives in. */
  readonly meta: Keyspace;
  /** Tables read from the store, by metaKey. */
  readonly tables: Map<string, TableState>;
  readonly timers: Set<NodeJS.Timeout | NodeJS.Immediate>;
  readonly counters: TableCounters;
  readonly streams: TableStreamEvents;
  readonly writeObservers: readonly WriteObserver[];
  /** True once close() began: background work stops. */
  readonly closed: boolean;
  readonly createDelayMs: number;
  readonly updateDelayMs: number;
  readonly deleteDelayMs: number;
  readonly backfillBatch: number;
  readonly endpointAddress: () => string;
  nextNamespace(): number;
  /** A table's in-memory state, the counters from prev (the cached state) or from the stored record. */
  buildState(meta: TableMeta, prev?: TableState): TableState;
  /** Caches a table's state (created, updated). */
  cache(k: string, t: TableState): void;
  /** Reads a table's state from the store into the cache, or remembers (bounded) that it has none. */
  load(k: string): TableState | undefined;
  /** The index entry for an item, or undefined when the item is not in the index. */
  indexEntry(t: TableState, idx: IndexState, item: Item, itemKeyBody: Buffer): { key: Buffer; value: Buffer; size: number } | undefined;
  addStats(t: TableState, ns: number, key: Buffer, count: number, bytes: number): void;
}
