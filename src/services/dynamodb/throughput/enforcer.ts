/**
 * @module services/dynamodb/throughput/enforcer
 * Provisioned-throughput enforcement (setting dynamodb.enforceProvisionedThroughput, off by default): token buckets
 * (token-bucket.ts) per PROVISIONED table and per global secondary index, one for reads and one for writes, refilled
 * at the provisioned rate. On-demand tables are never throttled.
 *
 * - A read is admitted while its bucket (the table's, or the GSI's for a Query or Scan of one) holds capacity; a
 *   write while the table's write bucket and the write bucket of every GSI of the table do (a GSI short of write
 *   capacity throttles writes to its table: AWS's back-pressure). A refused request changes nothing.
 * - What an admitted request consumed is taken afterwards (this class is a CapacityRecorder, called where the
 *   provider computes consumed capacity), so a bucket may go into debt.
 * - Provisioned rates are read from the table's metadata at each use: an UpdateTable of ProvisionedThroughput or of
 *   the billing mode takes effect at once.
 *
 * State lives in memory only (capacity is not data): one set of buckets per table that was used, by the table's
 * namespace (unique per table incarnation); dropped when the table is purged (a write observer) and its GSIs'
 * when they are gone from the table.
 */
import type { Clock } from '../../../core/clock.js';
import { ServiceError } from '../../../core/errors.js';
import type { CapacityRecorder } from '../../../observability/dynamodb-capacity.js';
import { type IndexMeta, type TableMeta, tableArn } from '../tables/schema.js';
import { TokenBucket } from './token-bucket.js';

/** ProvisionedThroughputExceededException's message when the table's own capacity is spent (AWS's words). */
export const TABLE_THROTTLED_MESSAGE = 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.';
/** …and when a global secondary index's is (AWS's words, TransactionCanceledException's documented reasons). */
export const INDEX_THROTTLED_MESSAGE =
  'The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API.';

/** The parts of a table's state enforcement reads (services/dynamodb TableState has them). */
export interface ThrottledTable {
  meta: Pick<TableMeta, 'ns' | 'name' | 'accountId' | 'region' | 'billingMode' | 'throughput' | 'status'> & {
    indexes: ReadonlyArray<Pick<IndexMeta, 'name' | 'global' | 'status' | 'throughput'>>;
  };
}

export type Access = 'read' | 'write';

/** Why a request may not run: which bucket is empty. */
export interface Refusal {
  access: Access;
  /** The global secondary index whose capacity is spent; undefined for the table's own. */
  indexName: string | undefined;
}

/** Where throttle events are counted (observability/dynamodb-capacity.ts CapacityMeter). */
export interface ThrottleEvents {
  throttled(t: ThrottledTable, access: Access, indexName: string | undefined): void;
}

interface Buckets {
  read: TokenBucket;
  write: TokenBucket;
}

interface TableBuckets {
  /** The table's identity besides its namespace, so that a namespace reused after a reset never inherits buckets. */
  id: string;
  table: Buckets;
  /** Global secondary index name → its buckets. */
  indexes: Map<string, Buckets>;
}

export class ThroughputEnforcer implements CapacityRecorder {
  /** Table namespace → its buckets. */
  private readonly tables = new Map<number, TableBuckets>();
  /** Set once metrics are collected. */
  events: ThrottleEvents | undefined;

  constructor(private readonly clock: Clock) {}

  // ------------------------------------------------------------------ admission

  /** Throws ProvisionedThroughputExceededException when a read of the table (or of its GSI `indexName`) may not run now. */
  admitRead(t: ThrottledTable, indexName?: string): void {
    const refusal = this.refuseRead(t, indexName);
    if (refusal) throw throughputExceeded(t, refusal);
  }

  /** Throws ProvisionedThroughputExceededException when a write to the table may not run now. */
  admitWrite(t: ThrottledTable): void {
    const refusal = this.refuseWrite(t);
    if (refusal) throw throughputExceeded(t, refusal);
  }

  /**
   * Why a read may not run now, counted as a throttle event; undefined when it may. `promisedUnits`: what earlier
   * parts of the same batch were admitted to consume (taken only once the batch is done).
   */
  refuseRead(t: ThrottledTable, indexName?: string, promisedUnits = 0): Refusal | undefined {
    const buckets = this.bucketsOf(t);
    if (!buckets) return undefined;
    const nowMs = this.clock.now();
    const gsi = indexName !== undefined ? buckets.indexes.get(indexName) : undefined;
    if (gsi) return gsi.read.available(nowMs) > promisedUnits ? undefined : this.refused(t, 'read', indexName);
    if (indexName !== undefined && isGlobal(t, indexName)) return undefined; // a GSI without provisioned throughput
    return buckets.table.read.available(nowMs) > promisedUnits ? undefined : this.refused(t, 'read', undefined);
  }

  /** Why a write may not run now (the table's capacity, then its GSIs'), counted as a throttle event; see refuseRead. */
  refuseWrite(t: ThrottledTable, promisedUnits = 0): Refusal | undefined {
    const buckets = this.bucketsOf(t);
    if (!buckets) return undefined;
    const nowMs = this.clock.now();
    if (!(buckets.table.write.available(nowMs) > promisedUnits)) return this.refused(t, 'write', undefined);
    for (const [name, b] of buckets.indexes) if (!(b.write.available(nowMs) > promisedUnits)) return this.refused(t, 'write', name);
    return undefined;
  }

  private refused(t: ThrottledTable, access: Access, indexName: string | undefined): Refusal {
    this.events?.throttled(t, access, indexName);
    return { access, indexName };
  }

  // ------------------------------------------------------------------ consumption (CapacityRecorder)

  read(t: ThrottledTable, units: number, indexName: string | undefined): void {
    const buckets = this.bucketsOf(t);
    if (!buckets) return;
    const nowMs = this.clock.now();
    if (indexName !== undefined && isGlobal(t, indexName)) buckets.indexes.get(indexName)?.read.take(units, nowMs);
    else buckets.table.read.take(units, nowMs);
  }

  write(t: ThrottledTable, tableUnits: number, indexUnits: ReadonlyMap<string, number> | undefined): void {
    const buckets = this.bucketsOf(t);
    if (!buckets) return;
    const nowMs = this.clock.now();
    let local = 0;
    if (indexUnits) {
      for (const [name, units] of indexUnits) {
        // A GSI's writes are its own capacity; a local index's are the table's.
        if (isGlobal(t, name)) buckets.indexes.get(name)?.write.take(units, nowMs);
        else local += units;
      }
    }
    buckets.table.write.take(tableUnits + local, nowMs);
  }

  // ------------------------------------------------------------------ buckets

  /** A deleted table's buckets (called when its data is purged). */
  forget(tableNs: number): void {
    this.tables.delete(tableNs);
  }

  /** How many tables have buckets (bounded by the tables that exist and were used). */
  get size(): number {
    return this.tables.size;
  }

  /** The table's buckets, brought to its current provisioned rates; undefined for an on-demand table. */
  private bucketsOf(t: ThrottledTable): TableBuckets | undefined {
    const m = t.meta;
    if (m.billingMode !== 'PROVISIONED') {
      // Switching to on demand drops the buckets; switching back starts full ones.
      this.tables.delete(m.ns);
      return undefined;
    }
    const nowMs = this.clock.now();
    const id = `${m.accountId}/${m.region}/${m.name}`;
    let b = this.tables.get(m.ns);
    if (!b || b.id !== id) {
      b = { id, table: newBuckets(m.throughput, nowMs), indexes: new Map() };
      this.tables.set(m.ns, b);
    } else setRates(b.table, m.throughput, nowMs);
    for (const i of m.indexes) {
      if (!i.global || !i.throughput || i.status === 'DELETING') continue;
      const existing = b.indexes.get(i.name);
      if (existing) setRates(existing, i.throughput, nowMs);
      else b.indexes.set(i.name, newBuckets(i.throughput, nowMs));
    }
    if (b.indexes.size) {
      for (const name of b.indexes.keys()) {
        if (!m.indexes.some((i) => i.name === name && i.global && i.throughput && i.status !== 'DELETING')) b.indexes.delete(name);
      }
    }
    return b;
  }
}

function newBuckets(throughput: TableMeta['throughput'], nowMs: number): Buckets {
  return { read: new TokenBucket(throughput.ReadCapacityUnits ?? 0, nowMs), write: new TokenBucket(throughput.WriteCapacityUnits ?? 0, nowMs) };
}

function setRates(b: Buckets, throughput: TableMeta['throughput'], nowMs: number): void {
  b.read.setRate(throughput.ReadCapacityUnits ?? 0, nowMs);
  b.write.setRate(throughput.WriteCapacityUnits ?? 0, nowMs);
}

function isGlobal(t: ThrottledTable, indexName: string): boolean {
  for (const i of t.meta.indexes) if (i.name === indexName) return i.global;
  return false;
}

/** The message of a refusal, in AWS's words. */
export function throttledMessage(refusal: Refusal): string {
  return refusal.indexName === undefined ? TABLE_THROTTLED_MESSAGE : INDEX_THROTTLED_MESSAGE;
}

/**
 * ProvisionedThroughputExceededException (HTTP 400), with the ThrottlingReasons the current model carries: the
 * resource (the table's or the index's ARN) and ResourceType+OperationType+LimitType.
 */
export function throughputExceeded(t: ThrottledTable, refusal: Refusal): ServiceError {
  const arn = tableArn(t.meta);
  const onIndex = refusal.indexName !== undefined;
  const reason = `${onIndex ? 'Index' : 'Table'}${refusal.access === 'read' ? 'Read' : 'Write'}ProvisionedThroughputExceeded`;
  const resource = onIndex ? `${arn}/index/${refusal.indexName}` : arn;
  return new ServiceError('ProvisionedThroughputExceededException', throttledMessage(refusal), { fields: { ThrottlingReasons: [{ reason, resource }] } });
}
