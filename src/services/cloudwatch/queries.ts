/**
 * @module services/cloudwatch/queries
 * Reading stored metrics back: the statistics of one metric per period (GetMetricStatistics, MetricStat queries,
 * alarms), and GetMetricData's evaluation of a request's MetricStat and Expression queries with metric math.
 */
import { ServiceError } from '../../core/errors.js';
import type { Scope } from '../../core/scope.js';
import type { MetricDataQuery, MetricDataResult, MetricStat } from '../../models/cloudwatch.js';
import { bucketStart, isKnownStat, mergeAggregates, statistic, tierForQuery, type Aggregate } from './aggregate.js';
import { evaluate, MathError, parseExpression, references, type MathValue, type Series } from './math.js';
import type { MetricSeries } from './series.js';

/** A metric's data per period, merged over the units asked for (all, when `unit` is undefined), in time order. */
export function periodAggregates(series: MetricSeries, scope: Scope, stat: { namespace: string; metricName: string; dimensions: MetricStat['Metric']['Dimensions'] }, periodSec: number, unit: string | undefined, startMs: number, endMs: number, nowMs: number): Array<{ startMs: number; byUnit: Map<string, Aggregate> }> {
  const record = series.find(scope, stat.namespace, stat.metricName, stat.dimensions);
  if (!record) return [];
  const first = bucketStart(startMs, periodSec);
  const tier = tierForQuery(first, nowMs, periodSec);
  const periods = new Map<number, Map<string, Aggregate>>();
  for (const b of series.read(scope, record, tier, first, endMs)) {
    const p = bucketStart(b.startMs, periodSec);
    let byUnit = periods.get(p);
    for (const [u, agg] of Object.entries(b.byUnit)) {
      if (unit !== undefined && u !== unit) continue;
      if (!byUnit) periods.set(p, (byUnit = new Map()));
      const prior = byUnit.get(u);
      byUnit.set(u, prior ? mergeAggregates(prior, agg) : agg);
    }
  }
  return [...periods.entries()].sort((a, b) => a[0] - b[0]).map(([p, byUnit]) => ({ startMs: p, byUnit }));
}

/** One MetricStat as a time series: the stat of each period with data, over every unit unless one is named. */
export function metricStatSeries(series: MetricSeries, scope: Scope, ms: MetricStat, id: string, label: string, startMs: number, endMs: number, nowMs: number): Series {
  const timestamps: number[] = [];
  const values: number[] = [];
  const m = ms.Metric;
  for (const p of periodAggregates(series, scope, { namespace: m.Namespace ?? '', metricName: m.MetricName ?? '', dimensions: m.Dimensions }, ms.Period, ms.Unit, startMs, endMs, nowMs)) {
    let merged: Aggregate | undefined;
    for (const agg of p.byUnit.values()) merged = merged ? mergeAggregates(merged, agg) : agg;
    const v = merged ? statistic(merged, ms.Stat) : undefined;
    if (v === undefined || !Number.isFinite(v)) continue;
    timestamps.push(p.startMs);
    values.push(v);
  }
  return { id, label, timestamps, values, periodSec: ms.Period };
}

export function validationError(message: string): ServiceError {
  return new ServiceError('ValidationError', message);
}

/** Period of a MetricStat or query: 1, 5, 10, 20, 30 (high resolution) or a multiple of 60. */
export function checkPeriod(period: number, path: string): void {
  if (!(period === 1 || period === 5 || period === 10 || period === 20 || period === 30 || (period >= 60 && period % 60 === 0))) {
    throw new ServiceError('InvalidParameterValue', `The parameter ${path} must be 1, 5, 10, 20, 30, or a multiple of 60.`);
  }
}

export interface EvaluatedQuery {
  query: MetricDataQuery;
  /** What the query shows: its series, or its scalar at every period of the range. */
  series: Series[];
  /** What other expressions read. */
  value: MathValue;
}

/**
 * Evaluates every query of a GetMetricData request (or a math alarm): MetricStat queries read their metric, and
 * expressions are evaluated once the queries they read are, in dependency order. Throws ValidationError for requests
 * CloudWatch refuses as a whole (duplicate ids, a query with neither or both of MetricStat and Expression, an
 * unknown id, a cycle, a malformed expression).
 */
export function evaluateQueries(series: MetricSeries, scope: Scope, queries: MetricDataQuery[], startMs: number, endMs: number, nowMs: number): Map<string, EvaluatedQuery> {
  const { byId, parsed } = checkQueries(queries, 'MetricDataQueries');
  return evaluateChecked(series, scope, queries, byId, parsed, startMs, endMs, nowMs);
}

/**
 * The rules a list of queries (GetMetricData's MetricDataQueries, an alarm's Metrics) must follow as a whole: unique
 * ids that start with a lowercase letter, exactly one of MetricStat and Expression each, known periods and stats,
 * expressions that parse and name only ids of the list. Returns the queries by id and the parsed expressions.
 */
export function checkQueries(queries: MetricDataQuery[], listName: string): { byId: Map<string, MetricDataQuery>; parsed: Map<string, ReturnType<typeof parseExpression>> } {
  const byId = new Map<string, MetricDataQuery>();
  // Every id off the pattern is named at once, one line each, as CloudWatch does.
  const badIds = queries.flatMap((q, i) => (/^[a-z][a-zA-Z0-9_]*$/.test(q.Id) ? [] : [`The value ${q.Id} for parameter ${listName}.member.${i + 1}.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.`]));
  if (badIds.length) throw validationError(badIds.join('\n'));
  queries.forEach((q, i) => {
    const path = `${listName}.member.${i + 1}`;
    if (byId.has(q.Id)) throw validationError(`The value ${q.Id} for parameter ${path}.Id is not unique.`);
    if (q.MetricStat && q.Expression !== undefined) throw validationError(`The parameters ${path}.MetricStat and ${path}.Expression are mutually exclusive and you have specified both.`);
    if (!q.MetricStat && q.Expression === undefined) throw validationError(`The parameter ${path}.MetricStat is required.`);
    if (q.MetricStat) {
      checkPeriod(q.MetricStat.Period, `${path}.MetricStat.Period`);
      if (!isKnownStat(q.MetricStat.Stat)) throw validationError(`The value ${q.MetricStat.Stat} for parameter ${path}.MetricStat.Stat is not supported.`);
    }
    byId.set(q.Id, q);
  });
  const parsed = new Map<string, ReturnType<typeof parseExpression>>();
  for (const q of queries) {
    if (q.Expression === undefined) continue;
    try {
      parsed.set(q.Id, parseExpression(q.Expression));
    } catch (e) {
      if (e instanceof MathError) throw validationError(`Error in expression ${q.Id}: ${e.message}`);
      throw e;
    }
    for (const ref of references(parsed.get(q.Id)!)) {
      if (ref !== '*' && !byId.has(ref)) throw validationError(`Error in expression ${q.Id}: Unrecognized metric or expression id ${ref}`);
      if (ref === q.Id) throw validationError(`Error in expression ${q.Id}: Circular dependency on ${q.Id}`);
    }
  }
  return { byId, parsed };
}

function evaluateChecked(series: MetricSeries, scope: Scope, queries: MetricDataQuery[], byId: Map<string, MetricDataQuery>, parsed: Map<string, ReturnType<typeof parseExpression>>, startMs: number, endMs: number, nowMs: number): Map<string, EvaluatedQuery> {
  const out = new Map<string, EvaluatedQuery>();
  const metricSeries: Series[] = [];
  for (const q of queries) {
    if (!q.MetricStat) continue;
    const s = metricStatSeries(series, scope, q.MetricStat, q.Id, q.Label ?? q.MetricStat.Metric.MetricName ?? q.Id, startMs, endMs, nowMs);
    metricSeries.push(s);
    out.set(q.Id, { query: q, series: [s], value: { kind: 'series', series: s } });
  }
  const defaultPeriod = queries.find((q) => q.MetricStat)?.MetricStat?.Period ?? queries.find((q) => q.Period)?.Period ?? 60;
  const grid = (periodSec: number): number[] => {
    const ts: number[] = [];
    const first = bucketStart(startMs, periodSec);
    for (let t = first; t < endMs && ts.length < 100_800; t += periodSec * 1000) ts.push(t);
    return ts;
  };
  const inProgress = new Set<string>();
  const valueOf = (id: string): MathValue | undefined => {
    const done = out.get(id);
    if (done) return done.value;
    const q = byId.get(id);
    if (!q || q.Expression === undefined) return undefined;
    if (inProgress.has(id)) throw validationError(`Error in expression ${id}: Circular dependency on ${id}`);
    inProgress.add(id);
    let v: MathValue;
    try {
      v = evaluate(parsed.get(id)!, { id, lookup: valueOf, metrics: () => metricSeries, grid });
    } catch (e) {
      if (e instanceof MathError) throw validationError(`Error in expression ${id}: ${e.message}`);
      throw e;
    }
    inProgress.delete(id);
    const label = q.Label ?? id;
    const periodSec = q.Period ?? defaultPeriod;
    let shown: Series[];
    if (v.kind === 'scalar') {
      const ts = grid(periodSec);
      shown = [{ id, label, timestamps: ts, values: ts.map(() => v.value), periodSec }];
    } else if (v.kind === 'series') {
      shown = [{ ...v.series, id, label }];
    } else {
      shown = v.items.map((s) => ({ ...s, id, label: q.Label ? `${q.Label} ${s.label}` : s.label }));
    }
    out.set(id, { query: q, series: shown, value: v });
    return v;
  };
  for (const q of queries) if (q.Expression !== undefined) valueOf(q.Id);
  return out;
}

/** The MetricDataResults of evaluated queries that return data, ordered by time as ScanBy asks. */
export function resultsOf(queries: MetricDataQuery[], evaluated: Map<string, EvaluatedQuery>, descending: boolean): MetricDataResult[] {
  const results: MetricDataResult[] = [];
  for (const q of queries) {
    if (q.ReturnData === false) continue;
    for (const s of evaluated.get(q.Id)?.series ?? []) {
      const order = s.timestamps.map((_, i) => i);
      if (descending) order.reverse();
      results.push({ Id: q.Id, Label: s.label, Timestamps: order.map((i) => new Date(s.timestamps[i]!)), Values: order.map((i) => s.values[i]!), StatusCode: 'Complete' });
    }
  }
  return results;
}
