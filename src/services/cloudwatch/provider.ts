/**
 * @module services/cloudwatch/provider
 * CloudWatch's metric operations (PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics), the alarm
 * operations (alarms.ts) and tags, each in the caller's account and region; and the in-process `internal`
 * interface Cellar's samplers publish through.
 */
import { ServiceError } from '../../core/errors.js';
import type { RequestContext } from '../../core/context.js';
import { Scope } from '../../core/scope.js';
import type { Clock } from '../../core/clock.js';
import type { Store } from '../../storage/store.js';
import type {
  Datapoint,
  DeleteAlarmsInput,
  DescribeAlarmHistoryInput,
  DescribeAlarmsForMetricInput,
  DescribeAlarmsInput,
  DisableAlarmActionsInput,
  EnableAlarmActionsInput,
  ListTagsForResourceInput,
  PutMetricAlarmInput,
  SetAlarmStateInput,
  TagResourceInput,
  UntagResourceInput,
  GetMetricDataInput,
  GetMetricDataOutput,
  GetMetricStatisticsInput,
  GetMetricStatisticsOutput,
  ListMetricsInput,
  ListMetricsOutput,
  MetricDatum,
  PutMetricDataInput,
} from '../../models/cloudwatch.js';
import { percentileOf, statistic } from './aggregate.js';
import { AlarmBook } from './alarms.js';
import { checkNamespace, checkTimestamps, invalidCombination, invalidValue, MAX_DATUMS_PER_REQUEST, storedDatum } from './datums.js';
import type { CloudWatchInternal } from './internal.js';
import { offsetOfToken, offsetToken } from './paging.js';
import { checkPeriod, evaluateQueries, periodAggregates, resultsOf, validationError } from './queries.js';
import { MetricSeries, type StoredDatum } from './series.js';

/** GetMetricStatistics answers at most this many datapoints. */
const MAX_STATISTICS_DATAPOINTS = 1440;
/** GetMetricData's default and largest MaxDatapoints. */
const MAX_METRIC_DATA_DATAPOINTS = 100_800;
const MAX_METRIC_DATA_QUERIES = 500;
const LIST_METRICS_PAGE = 500;
/** ListMetrics lists metrics that received data in the past two weeks (or three hours, with RecentlyActive). */
const LISTED_FOR_MS = 14 * 24 * 3_600_000;
const RECENTLY_ACTIVE_MS = 3 * 3_600_000;
/** Distinct metrics one account and region may hold: bounds the disk Cellar's CloudWatch can use. */
export const MAX_METRICS_PER_SCOPE = 50_000;

export class CloudWatchProvider {
  readonly series: MetricSeries;
  readonly alarms: AlarmBook;
  readonly internal: CloudWatchInternal;

  constructor(
    readonly store: Store,
    readonly clock: Clock,
  ) {
    this.series = new MetricSeries(store);
    this.alarms = new AlarmBook(store, this.series, clock);
    this.internal = {
      publish: (scope, namespace, datums) => this.store_(Scope.ofRecord(scope), namespace, datums, true),
    };
  }

  // ---------------------------------------------------------------- alarms and tags (alarms.ts)

  putMetricAlarm(input: PutMetricAlarmInput, ctx: RequestContext) {
    return this.alarms.putMetricAlarm(input, ctx);
  }
  describeAlarms(input: DescribeAlarmsInput, ctx: RequestContext) {
    return this.alarms.describeAlarms(input, ctx);
  }
  describeAlarmsForMetric(input: DescribeAlarmsForMetricInput, ctx: RequestContext) {
    return this.alarms.describeAlarmsForMetric(input, ctx);
  }
  deleteAlarms(input: DeleteAlarmsInput, ctx: RequestContext) {
    return this.alarms.deleteAlarms(input, ctx);
  }
  setAlarmState(input: SetAlarmStateInput, ctx: RequestContext) {
    return this.alarms.setAlarmState(input, ctx);
  }
  describeAlarmHistory(input: DescribeAlarmHistoryInput, ctx: RequestContext) {
    return this.alarms.describeAlarmHistory(input, ctx);
  }
  enableAlarmActions(input: EnableAlarmActionsInput, ctx: RequestContext) {
    return this.alarms.enableAlarmActions(input, ctx);
  }
  disableAlarmActions(input: DisableAlarmActionsInput, ctx: RequestContext) {
    return this.alarms.disableAlarmActions(input, ctx);
  }
  tagResource(input: TagResourceInput, ctx: RequestContext) {
    return this.alarms.tagResource(input, ctx);
  }
  untagResource(input: UntagResourceInput, ctx: RequestContext) {
    return this.alarms.untagResource(input, ctx);
  }
  listTagsForResource(input: ListTagsForResourceInput, ctx: RequestContext) {
    return this.alarms.listTagsForResource(input, ctx);
  }

  // ---------------------------------------------------------------- metrics

  async putMetricData(input: PutMetricDataInput, ctx: RequestContext): Promise<Record<string, never>> {
    const datums = [...(input.MetricData ?? []), ...(input.EntityMetricData ?? []).flatMap((e) => e.MetricData ?? [])];
    if (datums.length === 0) throw new ServiceError('MissingParameter', 'The parameter MetricData is required.');
    await this.store_(ctx.scope, input.Namespace, datums, false);
    return {};
  }

  /** Validates every datum, then stores them all in one atomic write (durable when the promise settles). */
  private store_(scope: Scope, namespace: string, datums: MetricDatum[], allowReserved: boolean): Promise<void> {
    checkNamespace(namespace, allowReserved);
    if (datums.length > MAX_DATUMS_PER_REQUEST) throw invalidValue(`The collection MetricData must not have a size greater than ${MAX_DATUMS_PER_REQUEST}.`);
    const now = this.clock.now();
    checkTimestamps(datums, now);
    const byMetric = new Map<MetricDatum, StoredDatum>();
    datums.forEach((d, i) => byMetric.set(d, storedDatum(d, i, now)));
    const write = () => {
      let fresh = 0;
      for (const [d, stored] of byMetric) {
        const isNew = !this.series.find(scope, namespace, d.MetricName, d.Dimensions);
        if (isNew && this.metricCount(scope) + fresh >= MAX_METRICS_PER_SCOPE) {
          throw new ServiceError('LimitExceeded', `Cellar keeps at most ${MAX_METRICS_PER_SCOPE} metrics per account and region.`);
        }
        if (this.series.add(scope, namespace, d.MetricName, d.Dimensions, [stored], now)) fresh++;
      }
      const counted = this.metricCounts.get(scope.prefix);
      if (counted !== undefined) this.metricCounts.set(scope.prefix, counted + fresh);
    };
    return this.store.groupsCommits ? this.store.grouped(write) : Promise.resolve(this.store.transaction(write));
  }

  /** Metrics per scope, counted on first need and kept up to date by writes (dropped when pruning removes metrics). */
  private readonly metricCounts = new Map<string, number>();
  private metricCount(scope: Scope): number {
    let n = this.metricCounts.get(scope.prefix);
    if (n === undefined) this.metricCounts.set(scope.prefix, (n = this.series.metrics.list(scope).length));
    return n;
  }

  /** Background upkeep: forgets data past its tier's retention, at most `budget` keys a call. */
  prune(budget: number): number {
    const deleted = this.series.prune(this.clock.now(), budget);
    if (deleted) this.metricCounts.clear();
    return deleted + this.alarms.pruneHistory(Math.max(0, budget - deleted));
  }

  getMetricStatistics(input: GetMetricStatisticsInput, ctx: RequestContext): GetMetricStatisticsOutput {
    const stats = input.Statistics ?? [];
    const extended = input.ExtendedStatistics ?? [];
    if (stats.length === 0 && extended.length === 0) throw invalidCombination('Must specify either Statistics or ExtendedStatistics');
    for (const e of extended) if (percentileOf(e) === undefined) throw invalidValue(`The value ${e} for parameter ExtendedStatistics is not supported.`);
    const start = input.StartTime.getTime();
    const end = input.EndTime.getTime();
    if (start === end) throw invalidValue('The parameter StartTime must not equal parameter EndTime.');
    if (start > end) throw invalidValue('The parameter StartTime must be less than the parameter EndTime.');
    checkPeriod(input.Period, 'Period');
    const requested = Math.ceil((end - start) / (input.Period * 1000));
    if (requested > MAX_STATISTICS_DATAPOINTS) {
      throw invalidCombination(`You have requested up to ${requested} datapoints, which exceeds the limit of ${MAX_STATISTICS_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`);
    }
    const datapoints: Datapoint[] = [];
    for (const p of periodAggregates(this.series, ctx.scope, { namespace: input.Namespace, metricName: input.MetricName, dimensions: input.Dimensions }, input.Period, input.Unit, start, end, this.clock.now())) {
      for (const [unit, agg] of p.byUnit) {
        const dp: Datapoint = { Timestamp: new Date(p.startMs), Unit: unit as Datapoint['Unit'] };
        for (const s of stats) (dp as Record<string, unknown>)[s] = statistic(agg, s);
        if (extended.length) {
          const ext: Record<string, number> = {};
          for (const e of extended) {
            const v = statistic(agg, e);
            if (v !== undefined) ext[e] = v;
          }
          dp.ExtendedStatistics = ext;
        }
        datapoints.push(dp);
      }
    }
    return { Label: input.MetricName, Datapoints: datapoints };
  }

  getMetricData(input: GetMetricDataInput, ctx: RequestContext): GetMetricDataOutput {
    const queries = input.MetricDataQueries;
    if (queries.length === 0) throw validationError('The parameter MetricDataQueries is required.');
    if (queries.length > MAX_METRIC_DATA_QUERIES) throw validationError(`The collection MetricDataQueries must not have a size greater than ${MAX_METRIC_DATA_QUERIES}.`);
    const start = input.StartTime.getTime();
    const end = input.EndTime.getTime();
    if (start === end) throw validationError('The parameter StartTime must not equal parameter EndTime.');
    if (start > end) throw validationError('The parameter EndTime must be greater than StartTime.');
    const maxPoints = input.MaxDatapoints ?? MAX_METRIC_DATA_DATAPOINTS;
    if (maxPoints < 1) throw invalidValue('The parameter MaxDatapoints must be greater than 0.');
    if (!queries.some((q) => q.ReturnData !== false)) throw validationError('At least one MetricDataQuery must have ReturnData set to true.');
    for (const [i, q] of queries.entries()) if (q.Period !== undefined) checkPeriod(q.Period, `MetricDataQueries.member.${i + 1}.Period`);
    const offset = input.NextToken === undefined ? 0 : offsetOfToken(input.NextToken);
    const evaluated = evaluateQueries(this.series, ctx.scope, queries, start, end, this.clock.now());
    const all = resultsOf(queries, evaluated, (input.ScanBy ?? 'TimestampDescending') === 'TimestampDescending');
    // Pages cut through the results' datapoints in order: a result that straddles a page boundary is answered in
    // parts (PartialData), its remaining points on the next page.
    const page: typeof all = [];
    let position = 0;
    let taken = 0;
    let more = false;
    for (const r of all) {
      const n = r.Values!.length;
      if (position + n <= offset && (n > 0 || position < offset)) {
        position += n;
        continue;
      }
      const room = maxPoints - taken;
      if (room <= 0) {
        more = true;
        break;
      }
      const from = Math.max(0, offset - position);
      const to = Math.min(n, from + room);
      page.push({ ...r, Timestamps: r.Timestamps!.slice(from, to), Values: r.Values!.slice(from, to), StatusCode: to < n ? 'PartialData' : 'Complete' });
      taken += to - from;
      position += n;
      if (to < n) {
        more = true;
        break;
      }
    }
    return { MetricDataResults: page, Messages: [], ...(more ? { NextToken: offsetToken(offset + taken) } : {}) };
  }

  listMetrics(input: ListMetricsInput, ctx: RequestContext): ListMetricsOutput {
    const now = this.clock.now();
    const after = input.NextToken === undefined ? undefined : decodeListToken(input.NextToken);
    const activeSince = now - (input.RecentlyActive === 'PT3H' ? RECENTLY_ACTIVE_MS : LISTED_FOR_MS);
    const prefix = input.Namespace !== undefined ? `${input.Namespace}\u0000` : '';
    const metrics: ListMetricsOutput['Metrics'] = [];
    let next: string | undefined;
    let lastKey: string | undefined;
    for (const [key, m] of this.series.metrics.list(ctx.scope, prefix)) {
      if (after !== undefined && key <= after) continue;
      if (m.lastPutMs < activeSince) continue;
      if (input.MetricName !== undefined && m.metricName !== input.MetricName) continue;
      if (input.Dimensions && !input.Dimensions.every((f) => m.dimensions.some((d) => d.Name === f.Name && (f.Value === undefined || d.Value === f.Value)))) continue;
      if (metrics.length === LIST_METRICS_PAGE) {
        next = Buffer.from(lastKey!, 'utf8').toString('base64');
        break;
      }
      metrics.push({ Namespace: m.namespace, MetricName: m.metricName, Dimensions: m.dimensions });
      lastKey = key;
    }
    return { Metrics: metrics, ...(next ? { NextToken: next } : {}) };
  }
}

function decodeListToken(token: string): string {
  const key = Buffer.from(token, 'base64').toString('utf8');
  if (!key.includes('\u0000') || Buffer.from(key, 'utf8').toString('base64') !== token) throw invalidValue('Request parameter NextToken is invalid');
  return key;
}
