/**
 * @module services/cloudwatch/aggregate
 * The statistic set CloudWatch keeps per metric, unit and time bucket (sample count, sum, minimum, maximum) and, while
 * it stays small, the distribution of the values (value → count) that percentiles are computed from, and CloudWatch's
 * storage tiers: 1-second data for 3 hours, 1-minute for 15 days, 5-minute for 63 days, 1-hour for 455 days. A datum
 * is added to every tier's bucket at once (so a coarser tier is the roll-up of the finer one) and each tier forgets
 * its buckets past its retention. Pure: no I/O.
 */

export interface Aggregate {
  /** Sample count. */
  n: number;
  sum: number;
  min: number;
  max: number;
  /**
   * [value, count] pairs, sorted by value, while there are at most MAX_DISTINCT_VALUES of them; absent once a
   * bucket outgrew that or took a StatisticSet (which carries no distribution): percentiles are then unavailable.
   */
  d?: Array<[number, number]>;
}

/** Distinct values a bucket keeps for percentiles (a PutMetricData datum may carry 150). */
export const MAX_DISTINCT_VALUES = 300;

export interface Tier {
  /** One character in stored keys. */
  id: string;
  resolutionSec: number;
  retentionMs: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** CloudWatch's retention schedule, finest first. */
export const TIERS: readonly Tier[] = [
  { id: 's', resolutionSec: 1, retentionMs: 3 * HOUR_MS },
  { id: 'm', resolutionSec: 60, retentionMs: 15 * DAY_MS },
  { id: 'f', resolutionSec: 300, retentionMs: 63 * DAY_MS },
  { id: 'h', resolutionSec: 3600, retentionMs: 455 * DAY_MS },
];

/** The tiers a datum of this storage resolution (1 or 60 seconds) is written to. */
export function tiersFor(storageResolutionSec: number): readonly Tier[] {
  return storageResolutionSec === 1 ? TIERS : TIERS.slice(1);
}

/**
 * The tier a query over [startMs, …) with this period reads: the finest one that still holds data from startMs and
 * whose resolution divides the period (the 1-second tier only for periods under a minute); failing that, the finest that holds data from startMs (CloudWatch then answers
 * at that tier's resolution); failing that, the coarsest.
 */
export function tierForQuery(startMs: number, nowMs: number, periodSec: number): Tier {
  const age = nowMs - startMs;
  const holding = TIERS.filter((t) => age <= t.retentionMs);
  // The 1-second tier holds high-resolution data only; every datum is in the coarser tiers too.
  const fits = (t: Tier) => periodSec % t.resolutionSec === 0 && (t.resolutionSec > 1 || periodSec < 60);
  return holding.find(fits) ?? holding[0] ?? TIERS[TIERS.length - 1]!;
}

/** The start of the bucket of this width that holds timeMs. */
export function bucketStart(timeMs: number, widthSec: number): number {
  const w = widthSec * 1000;
  return Math.floor(timeMs / w) * w;
}

/** The aggregate of one datum: values with their counts (Value is one value with count 1). */
export function aggregateOfValues(values: readonly number[], counts: readonly number[] | undefined): Aggregate | undefined {
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  const d = new Map<number, number>();
  for (let i = 0; i < values.length; i++) {
    const c = counts ? counts[i]! : 1;
    if (c <= 0) continue;
    const v = values[i]!;
    n += c;
    sum += v * c;
    if (v < min) min = v;
    if (v > max) max = v;
    d.set(v, (d.get(v) ?? 0) + c);
  }
  if (n === 0) return undefined;
  const agg: Aggregate = { n, sum, min, max };
  if (d.size <= MAX_DISTINCT_VALUES) agg.d = [...d.entries()].sort((a, b) => a[0] - b[0]);
  return agg;
}

export function mergeAggregates(a: Aggregate, b: Aggregate): Aggregate {
  const out: Aggregate = { n: a.n + b.n, sum: a.sum + b.sum, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
  if (a.d && b.d) {
    const d = new Map<number, number>(a.d);
    for (const [v, c] of b.d) d.set(v, (d.get(v) ?? 0) + c);
    if (d.size <= MAX_DISTINCT_VALUES) out.d = [...d.entries()].sort((x, y) => x[0] - y[0]);
  }
  return out;
}

export type StatisticName = 'SampleCount' | 'Average' | 'Sum' | 'Minimum' | 'Maximum';

/**
 * A statistic of an aggregate: the five basic ones by name (or CloudWatch's short forms, `n`-less `pNN` aside),
 * and percentiles `pNN` / `pNN.N` from the distribution; undefined when the aggregate cannot answer it.
 */
export function statistic(agg: Aggregate, stat: string): number | undefined {
  switch (stat) {
    case 'SampleCount':
      return agg.n;
    case 'Sum':
      return agg.sum;
    case 'Minimum':
    case 'Min':
      return agg.min;
    case 'Maximum':
    case 'Max':
      return agg.max;
    case 'Average':
    case 'Avg':
      return agg.sum / agg.n;
    default: {
      const p = percentileOf(stat);
      if (p === undefined || !agg.d) return undefined;
      return percentile(agg.d, p);
    }
  }
}

/** `p99`, `p99.9`, `p0`, `p100` → the percentile; undefined when stat is not one. */
export function percentileOf(stat: string): number | undefined {
  const m = /^p(\d{1,2}(?:\.\d{1,2})?|100)$/.exec(stat);
  if (!m) return undefined;
  const p = Number(m[1]);
  return p >= 0 && p <= 100 ? p : undefined;
}

/** The smallest value with at least p% of the samples at or below it (nearest rank). */
export function percentile(d: ReadonlyArray<readonly [number, number]>, p: number): number | undefined {
  const total = d.reduce((s, [, c]) => s + c, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [v, c] of d) {
    seen += c;
    if (seen >= rank) return v;
  }
  return d[d.length - 1]![0];
}

/** Whether a Stat string names something CloudWatch computes (the five statistics, their short forms, percentiles). */
export function isKnownStat(stat: string): boolean {
  return ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum', 'Min', 'Max', 'Avg'].includes(stat) || percentileOf(stat) !== undefined;
}
