/**
 * @module services/cloudwatch/series
 * Durable metric storage, scoped by account and region. Two keyspaces:
 *   - `cw_metrics`: one record per metric (namespace, name, dimension set) and when data last arrived, for
 *     ListMetrics and for finding a metric's points;
 *   - `cw_points`: `<account>/<region>/<metric id><tier id><bucket start ms, 8 bytes>` → the bucket's
 *     aggregate per unit (aggregate.ts), in every tier at once; `prune` forgets what a tier no longer keeps.
 * The metric id is a hash of the scope and the metric's identity, so the points of one scope's metric are a
 * contiguous key range no other scope's keys fall into.
 */
import { createHash } from 'node:crypto';
import type { Scope } from '../../core/scope.js';
import { ScopedTable, prefixEnd, type Keyspace, type Store } from '../../storage/store.js';
import type { Dimension } from '../../models/cloudwatch.js';
import { bucketStart, mergeAggregates, TIERS, tiersFor, type Aggregate, type Tier } from './aggregate.js';

export interface MetricRecord {
  id: string;
  namespace: string;
  metricName: string;
  /** Sorted by name. */
  dimensions: Dimension[];
  /** When the last datum arrived (receipt time, ms): ListMetrics lists metrics with data in the past two weeks. */
  lastPutMs: number;
}

/** One datum reduced to what is stored: its time, unit, resolution and aggregate. */
export interface StoredDatum {
  timestampMs: number;
  unit: string;
  storageResolutionSec: number;
  aggregate: Aggregate;
}

/** A bucket as read back: its start, and the aggregate per unit. */
export interface Bucket {
  startMs: number;
  byUnit: Record<string, Aggregate>;
}

/** Buckets read by one query at most (a tier's whole retention of one metric is under 22,000). */
const MAX_BUCKETS_PER_READ = 100_000;

export function sortedDimensions(dims: readonly Dimension[] | undefined): Dimension[] {
  return [...(dims ?? [])].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
}

/** A metric's name within its scope: namespace, metric name and sorted dimensions, joined by characters no name holds. */
export function metricKey(namespace: string, metricName: string, dims: readonly Dimension[]): string {
  return `${namespace}\u0000${metricName}\u0000${dims.map((d) => `${d.Name}\u0001${d.Value}`).join('\u0002')}`;
}

export class MetricSeries {
  readonly metrics: ScopedTable<MetricRecord>;
  private readonly points: Keyspace;

  constructor(readonly store: Store) {
    this.metrics = new ScopedTable<MetricRecord>(store.keyspace('cw_metrics'));
    this.points = store.keyspace('cw_points');
  }

  find(scope: Scope, namespace: string, metricName: string, dims: readonly Dimension[] | undefined): MetricRecord | undefined {
    return this.metrics.get(scope, metricKey(namespace, metricName, sortedDimensions(dims)));
  }

  /** Adds datums of one metric; call inside a store transaction. Returns whether the metric is new. */
  add(scope: Scope, namespace: string, metricName: string, dims: readonly Dimension[] | undefined, datums: readonly StoredDatum[], nowMs: number): boolean {
    const sorted = sortedDimensions(dims);
    const key = metricKey(namespace, metricName, sorted);
    const existing = this.metrics.get(scope, key);
    const record: MetricRecord = existing ?? { id: metricId(scope, key), namespace, metricName, dimensions: sorted, lastPutMs: nowMs };
    record.lastPutMs = nowMs;
    this.metrics.put(scope, key, record);
    for (const d of datums) {
      for (const tier of tiersFor(d.storageResolutionSec)) {
        if (nowMs - d.timestampMs > tier.retentionMs) continue;
        const k = pointKey(scope, record.id, tier, bucketStart(d.timestampMs, tier.resolutionSec));
        const raw = this.points.get(k);
        const byUnit: Record<string, Aggregate> = raw ? (JSON.parse(raw.toString('utf8')) as Record<string, Aggregate>) : {};
        const prior = byUnit[d.unit];
        byUnit[d.unit] = prior ? mergeAggregates(prior, d.aggregate) : d.aggregate;
        this.points.put(k, Buffer.from(JSON.stringify(byUnit), 'utf8'));
      }
    }
    return existing === undefined;
  }

  /** The buckets of one tier of a metric in [startMs, endMs), in time order. */
  read(scope: Scope, record: MetricRecord, tier: Tier, startMs: number, endMs: number): Bucket[] {
    const out: Bucket[] = [];
    const from = pointKey(scope, record.id, tier, Math.max(0, bucketStart(startMs, tier.resolutionSec)));
    const to = pointKey(scope, record.id, tier, Math.max(0, endMs));
    for (const [k, v] of this.points.scan({ gte: from, lt: to, limit: MAX_BUCKETS_PER_READ })) {
      const startAt = Number(k.readBigUInt64BE(k.length - 8));
      if (startAt < startMs) continue; // the bucket began before the range (a coarser tier than the query's period)
      out.push({ startMs: startAt, byUnit: JSON.parse(v.toString('utf8')) as Record<string, Aggregate> });
    }
    return out;
  }

  /**
   * Forgets at most `budget` buckets that their tier no longer keeps, and the records of metrics whose every
   * bucket is gone. Returns how many keys it deleted (fewer than budget: nothing more is due).
   */
  prune(nowMs: number, budget: number): number {
    let deleted = 0;
    for (const [storeKey, record] of this.metrics.everyScope()) {
      const scopePrefix = storeKey.slice(0, storeKey.length - metricKey(record.namespace, record.metricName, record.dimensions).length);
      for (const tier of TIERS) {
        const cutoff = bucketStart(nowMs - tier.retentionMs, tier.resolutionSec);
        if (cutoff <= 0) continue;
        const base = Buffer.from(scopePrefix + record.id + tier.id, 'utf8');
        const doomed: Buffer[] = [];
        for (const [k] of this.points.scan({ gte: base, lt: Buffer.concat([base, u64(cutoff)]), limit: budget - deleted })) doomed.push(k);
        if (doomed.length) this.store.transaction(() => this.points.write(doomed.map((key) => ({ key, value: undefined }))));
        deleted += doomed.length;
        if (deleted >= budget) return deleted;
      }
      if (nowMs - record.lastPutMs > TIERS[TIERS.length - 1]!.retentionMs) {
        const base = Buffer.from(scopePrefix + record.id, 'utf8');
        const end = prefixEnd(base);
        const left = this.points.scan({ gte: base, ...(end ? { lt: end } : {}), limit: 1 }).next();
        if (left.done) {
          this.store.transaction(() => this.metrics.delete({ prefix: scopePrefix }, metricKey(record.namespace, record.metricName, record.dimensions)));
          deleted++;
        }
      }
    }
    return deleted;
  }
}

function metricId(scope: Scope, key: string): string {
  return createHash('sha256').update(scope.prefix).update(key).digest('hex').slice(0, 24);
}

function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function pointKey(scope: Scope, id: string, tier: Tier, startMs: number): Buffer {
  return Buffer.concat([Buffer.from(scope.prefix + id + tier.id, 'utf8'), u64(startMs)]);
}
