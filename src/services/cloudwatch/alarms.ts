/**
 * @module services/cloudwatch/alarms
 * Metric alarms: their definitions and state (keyspace `cw_alarms`), their history (`cw_alarm_history`, kept two
 * weeks as CloudWatch keeps it), the alarm operations and tags, and the background evaluation that moves each alarm
 * between OK, ALARM and INSUFFICIENT_DATA from the stored metrics (alarm-rules.ts decides). Alarm actions are
 * recorded in the definition but not carried out: Cellar serves no SNS, Auto Scaling or EC2.
 */
import { ServiceError } from '../../core/errors.js';
import type { RequestContext } from '../../core/context.js';
import { parseArn, Scope } from '../../core/scope.js';
import type { Clock } from '../../core/clock.js';
import { log } from '../../core/log.js';
import { JsonTable, ScopedTable, type Store } from '../../storage/store.js';
import type {
  AlarmHistoryItem,
  DeleteAlarmsInput,
  DescribeAlarmHistoryInput,
  DescribeAlarmHistoryOutput,
  DescribeAlarmsForMetricInput,
  DescribeAlarmsForMetricOutput,
  DescribeAlarmsInput,
  DescribeAlarmsOutput,
  DisableAlarmActionsInput,
  EnableAlarmActionsInput,
  ListTagsForResourceInput,
  ListTagsForResourceOutput,
  MetricAlarm,
  PutMetricAlarmInput,
  SetAlarmStateInput,
  Tag,
  TagResourceInput,
  UntagResourceInput,
} from '../../models/cloudwatch.js';
import { bucketStart, statistic, mergeAggregates, type Aggregate } from './aggregate.js';
import { alarmPeriod, checkAlarmDefinition, decide, MAX_ALARMS_PER_SCOPE, type AlarmState, type Slot, type TreatMissingData } from './alarm-rules.js';
import { evaluateQueries, periodAggregates } from './queries.js';
import { nameOfToken, nameToken, offsetOfToken, offsetToken } from './paging.js';
import { sortedDimensions, type MetricSeries } from './series.js';

interface AlarmRecord {
  accountId: string;
  region: string;
  /** The definition as last put, without its tags. */
  definition: Omit<PutMetricAlarmInput, 'Tags'>;
  tags: Tag[];
  state: AlarmState;
  stateReason: string;
  stateReasonData?: string;
  stateUpdatedMs: number;
  stateTransitionedMs: number;
  configUpdatedMs: number;
}

interface HistoryRecord {
  alarmName: string;
  timestampMs: number;
  type: 'ConfigurationUpdate' | 'StateUpdate' | 'Action';
  summary: string;
  data: string;
}

/** CloudWatch keeps alarm history for two weeks. */
const HISTORY_RETENTION_MS = 14 * 24 * 3_600_000;
/** Alarms evaluated in one tick at most; the rest wait for the next. */
const EVALUATIONS_PER_TICK = 200;
const DEFAULT_DESCRIBE_PAGE = 50;
const DEFAULT_HISTORY_PAGE = 100;

export class AlarmBook {
  private readonly alarms: ScopedTable<AlarmRecord>;
  private readonly history: ScopedTable<HistoryRecord>;
  private readonly historyAll: JsonTable<HistoryRecord>;
  /** When each alarm (by store key) was last evaluated; after a restart every alarm is evaluated at once. */
  private readonly lastEvaluated = new Map<string, number>();
  private historySeq = 0;

  constructor(
    private readonly store: Store,
    private readonly series: MetricSeries,
    private readonly clock: Clock,
  ) {
    this.alarms = new ScopedTable<AlarmRecord>(store.keyspace('cw_alarms'));
    const historySpace = store.keyspace('cw_alarm_history');
    this.history = new ScopedTable<HistoryRecord>(historySpace);
    this.historyAll = new JsonTable<HistoryRecord>(historySpace);
  }

  private write<T>(fn: () => T): Promise<T> {
    return this.store.groupsCommits ? this.store.grouped(fn) : Promise.resolve(this.store.transaction(fn));
  }

  private arn(scope: Scope, name: string): string {
    return scope.arn('cloudwatch', `alarm:${name}`);
  }

  private addHistory(scope: Scope, rec: HistoryRecord): void {
    // Keys sort by time; the sequence keeps two items of one millisecond apart.
    const key = `${String(rec.timestampMs).padStart(15, '0')}\u0000${String(this.historySeq++ % 1_000_000).padStart(6, '0')}\u0000${rec.alarmName}`;
    this.history.put(scope, key, rec);
  }

  // ---------------------------------------------------------------- operations

  async putMetricAlarm(input: PutMetricAlarmInput, ctx: RequestContext): Promise<Record<string, never>> {
    checkAlarmDefinition(input);
    const now = this.clock.now();
    const { Tags, ...definition } = input;
    await this.write(() => {
      const existing = this.alarms.get(ctx.scope, input.AlarmName);
      if (!existing && this.alarms.list(ctx.scope).length >= MAX_ALARMS_PER_SCOPE) {
        throw new ServiceError('LimitExceeded', `The maximum number of alarms (${MAX_ALARMS_PER_SCOPE}) for this account and region has been reached.`);
      }
      // An update leaves the state as it is and ignores Tags, as CloudWatch does.
      const record: AlarmRecord = existing
        ? { ...existing, definition, configUpdatedMs: now }
        : { accountId: ctx.scope.accountId, region: ctx.scope.region, definition, tags: Tags ?? [], state: 'INSUFFICIENT_DATA', stateReason: 'Unchecked: Initial alarm creation', stateUpdatedMs: now, stateTransitionedMs: now, configUpdatedMs: now };
      this.alarms.put(ctx.scope, input.AlarmName, record);
      this.addHistory(ctx.scope, {
        alarmName: input.AlarmName,
        timestampMs: now,
        type: 'ConfigurationUpdate',
        summary: `Alarm "${input.AlarmName}" ${existing ? 'updated' : 'created'}`,
        data: JSON.stringify({ version: '1.0', type: existing ? 'Update' : 'Create', ...(existing ? { originalConfiguration: this.describe(ctx.scope, input.AlarmName, existing) } : {}), updatedConfiguration: this.describe(ctx.scope, input.AlarmName, record) }),
      });
    });
    // Evaluated on the next tick, on the new definition.
    this.lastEvaluated.delete(ctx.scope.key(input.AlarmName));
    return {};
  }

  describeAlarms(input: DescribeAlarmsInput, ctx: RequestContext): DescribeAlarmsOutput {
    if (input.AlarmNames?.length && input.AlarmNamePrefix !== undefined) throw new ServiceError('InvalidParameterCombination', 'AlarmNames and AlarmNamePrefix are mutually exclusive.');
    if (input.ChildrenOfAlarmName !== undefined || input.ParentsOfAlarmName !== undefined) return { MetricAlarms: [], CompositeAlarms: [] };
    const types = input.AlarmTypes ?? ['MetricAlarm'];
    if (!types.includes('MetricAlarm')) return { MetricAlarms: [], CompositeAlarms: [] };
    const names = input.AlarmNames?.length ? new Set(input.AlarmNames) : undefined;
    const after = input.NextToken === undefined ? undefined : nameOfToken(input.NextToken);
    const limit = input.MaxRecords ?? DEFAULT_DESCRIBE_PAGE;
    const out: MetricAlarm[] = [];
    let next: string | undefined;
    for (const [name, rec] of this.alarms.list(ctx.scope, input.AlarmNamePrefix ?? '')) {
      if (after !== undefined && name <= after) continue;
      if (names && !names.has(name)) continue;
      if (input.StateValue !== undefined && rec.state !== input.StateValue) continue;
      if (input.ActionPrefix !== undefined && ![...(rec.definition.AlarmActions ?? []), ...(rec.definition.OKActions ?? []), ...(rec.definition.InsufficientDataActions ?? [])].some((a) => a.startsWith(input.ActionPrefix!))) continue;
      if (out.length === limit) {
        next = nameToken(out[out.length - 1]!.AlarmName!);
        break;
      }
      out.push(this.describe(ctx.scope, name, rec));
    }
    return { MetricAlarms: out, CompositeAlarms: [], ...(next ? { NextToken: next } : {}) };
  }

  describeAlarmsForMetric(input: DescribeAlarmsForMetricInput, ctx: RequestContext): DescribeAlarmsForMetricOutput {
    const dims = JSON.stringify(sortedDimensions(input.Dimensions));
    const matches = (namespace: string | undefined, metricName: string | undefined, d: PutMetricAlarmInput['Dimensions'], stat: string | undefined, period: number | undefined, unit: string | undefined): boolean =>
      namespace === input.Namespace &&
      metricName === input.MetricName &&
      JSON.stringify(sortedDimensions(d)) === dims &&
      (input.Statistic === undefined || stat === input.Statistic) &&
      (input.ExtendedStatistic === undefined || stat === input.ExtendedStatistic) &&
      (input.Period === undefined || period === input.Period) &&
      (input.Unit === undefined || unit === input.Unit);
    const out: MetricAlarm[] = [];
    for (const [name, rec] of this.alarms.list(ctx.scope)) {
      const d = rec.definition;
      const hit = d.Metrics
        ? d.Metrics.some((m) => m.MetricStat && matches(m.MetricStat.Metric.Namespace, m.MetricStat.Metric.MetricName, m.MetricStat.Metric.Dimensions, m.MetricStat.Stat, m.MetricStat.Period, m.MetricStat.Unit))
        : matches(d.Namespace, d.MetricName, d.Dimensions, d.Statistic ?? d.ExtendedStatistic, d.Period, d.Unit);
      if (hit) out.push(this.describe(ctx.scope, name, rec));
    }
    return { MetricAlarms: out };
  }

  /** Deletes the named alarms of the caller's scope; names it has none of are passed over, as CloudWatch does. */
  async deleteAlarms(input: DeleteAlarmsInput, ctx: RequestContext): Promise<Record<string, never>> {
    await this.write(() => {
      for (const name of input.AlarmNames) {
        if (!this.alarms.get(ctx.scope, name)) continue;
        this.alarms.delete(ctx.scope, name);
        this.lastEvaluated.delete(ctx.scope.key(name));
        this.addHistory(ctx.scope, { alarmName: name, timestampMs: this.clock.now(), type: 'ConfigurationUpdate', summary: `Alarm "${name}" deleted`, data: JSON.stringify({ version: '1.0', type: 'Delete' }) });
      }
    });
    return {};
  }

  async setAlarmState(input: SetAlarmStateInput, ctx: RequestContext): Promise<Record<string, never>> {
    if (input.StateReasonData !== undefined) {
      try {
        JSON.parse(input.StateReasonData);
      } catch {
        throw new ServiceError('InvalidFormat', 'StateReasonData is not valid JSON.');
      }
    }
    await this.write(() => {
      const rec = this.alarms.get(ctx.scope, input.AlarmName);
      if (!rec) throw notFound(input.AlarmName);
      this.changeState(ctx.scope, input.AlarmName, rec, input.StateValue, input.StateReason, input.StateReasonData, this.clock.now());
    });
    // The state holds until the next regular evaluation, when the current period completes.
    this.lastEvaluated.set(ctx.scope.key(input.AlarmName), this.clock.now());
    return {};
  }

  describeAlarmHistory(input: DescribeAlarmHistoryInput, ctx: RequestContext): DescribeAlarmHistoryOutput {
    const types = input.AlarmTypes ?? ['MetricAlarm'];
    if (!types.includes('MetricAlarm')) return { AlarmHistoryItems: [] };
    const start = input.StartDate?.getTime() ?? 0;
    const end = input.EndDate?.getTime() ?? Number.MAX_SAFE_INTEGER;
    if (start > end) throw new ServiceError('InvalidParameterValue', 'The parameter StartDate must be less than or equal to the parameter EndDate.');
    const offset = input.NextToken === undefined ? 0 : offsetOfToken(input.NextToken);
    const limit = input.MaxRecords ?? DEFAULT_HISTORY_PAGE;
    let items = this.history.list(ctx.scope).map(([, h]) => h);
    items = items.filter((h) => (input.AlarmName === undefined || h.alarmName === input.AlarmName) && (input.HistoryItemType === undefined || h.type === input.HistoryItemType) && h.timestampMs >= start && h.timestampMs <= end);
    if ((input.ScanBy ?? 'TimestampDescending') === 'TimestampDescending') items.reverse();
    const page = items.slice(offset, offset + limit);
    const out: AlarmHistoryItem[] = page.map((h) => ({ AlarmName: h.alarmName, AlarmType: 'MetricAlarm', Timestamp: new Date(h.timestampMs), HistoryItemType: h.type, HistorySummary: h.summary, HistoryData: h.data }));
    return { AlarmHistoryItems: out, ...(offset + limit < items.length ? { NextToken: offsetToken(offset + limit) } : {}) };
  }

  async enableAlarmActions(input: EnableAlarmActionsInput, ctx: RequestContext): Promise<Record<string, never>> {
    await this.setActionsEnabled(ctx.scope, input.AlarmNames, true);
    return {};
  }

  async disableAlarmActions(input: DisableAlarmActionsInput, ctx: RequestContext): Promise<Record<string, never>> {
    await this.setActionsEnabled(ctx.scope, input.AlarmNames, false);
    return {};
  }

  private setActionsEnabled(scope: Scope, names: string[], enabled: boolean): Promise<void> {
    return this.write(() => {
      for (const name of names) {
        const rec = this.alarms.get(scope, name);
        if (!rec) continue;
        rec.definition.ActionsEnabled = enabled;
        this.alarms.put(scope, name, rec);
      }
    });
  }

  // ---------------------------------------------------------------- tags

  /** The alarm an ARN names in the caller's scope, or ResourceNotFoundException. */
  private alarmOfArn(scope: Scope, arnText: string): [string, AlarmRecord] {
    const arn = parseArn(arnText);
    if (!arn) throw new ServiceError('InvalidParameterValue', `Invalid ARN: ${arnText}`);
    const name = arn.resource.startsWith('alarm:') ? arn.resource.slice('alarm:'.length) : undefined;
    const rec = name !== undefined && scope.owns(arn, 'cloudwatch') ? this.alarms.get(scope, name) : undefined;
    if (!rec || name === undefined) {
      throw new ServiceError('ResourceNotFoundException', 'The specified resource does not exist.', { status: 404, fields: { ResourceType: arn.resource.split(':')[0], ResourceId: arnText } });
    }
    return [name, rec];
  }

  listTagsForResource(input: ListTagsForResourceInput, ctx: RequestContext): ListTagsForResourceOutput {
    return { Tags: this.alarmOfArn(ctx.scope, input.ResourceARN)[1].tags };
  }

  async tagResource(input: TagResourceInput, ctx: RequestContext): Promise<Record<string, never>> {
    for (const t of input.Tags) if (t.Key.startsWith('aws:')) throw new ServiceError('InvalidParameterValue', `The tag key ${t.Key} is invalid: the prefix aws: is reserved.`);
    await this.write(() => {
      const [name, rec] = this.alarmOfArn(ctx.scope, input.ResourceARN);
      const byKey = new Map(rec.tags.map((t) => [t.Key, t.Value]));
      for (const t of input.Tags) byKey.set(t.Key, t.Value);
      if (byKey.size > 50) throw new ServiceError('InvalidParameterValue', 'A resource can have at most 50 tags.');
      rec.tags = [...byKey].map(([Key, Value]) => ({ Key, Value }));
      this.alarms.put(ctx.scope, name, rec);
    });
    return {};
  }

  async untagResource(input: UntagResourceInput, ctx: RequestContext): Promise<Record<string, never>> {
    await this.write(() => {
      const [name, rec] = this.alarmOfArn(ctx.scope, input.ResourceARN);
      const drop = new Set(input.TagKeys);
      rec.tags = rec.tags.filter((t) => !drop.has(t.Key));
      this.alarms.put(ctx.scope, name, rec);
    });
    return {};
  }

  // ---------------------------------------------------------------- evaluation

  private describe(scope: Scope, name: string, rec: AlarmRecord): MetricAlarm {
    const d = rec.definition;
    return {
      AlarmName: name,
      AlarmArn: this.arn(scope, name),
      ...(d.AlarmDescription !== undefined ? { AlarmDescription: d.AlarmDescription } : {}),
      AlarmConfigurationUpdatedTimestamp: new Date(rec.configUpdatedMs),
      ActionsEnabled: d.ActionsEnabled ?? true,
      OKActions: d.OKActions ?? [],
      AlarmActions: d.AlarmActions ?? [],
      InsufficientDataActions: d.InsufficientDataActions ?? [],
      StateValue: rec.state,
      StateReason: rec.stateReason,
      ...(rec.stateReasonData !== undefined ? { StateReasonData: rec.stateReasonData } : {}),
      StateUpdatedTimestamp: new Date(rec.stateUpdatedMs),
      ...(d.MetricName !== undefined ? { MetricName: d.MetricName } : {}),
      ...(d.Namespace !== undefined ? { Namespace: d.Namespace } : {}),
      ...(d.Statistic !== undefined ? { Statistic: d.Statistic } : {}),
      ...(d.ExtendedStatistic !== undefined ? { ExtendedStatistic: d.ExtendedStatistic } : {}),
      Dimensions: d.Dimensions ?? [],
      ...(d.Period !== undefined ? { Period: d.Period } : {}),
      ...(d.Unit !== undefined ? { Unit: d.Unit } : {}),
      EvaluationPeriods: d.EvaluationPeriods,
      ...(d.DatapointsToAlarm !== undefined ? { DatapointsToAlarm: d.DatapointsToAlarm } : {}),
      Threshold: d.Threshold,
      ComparisonOperator: d.ComparisonOperator,
      ...(d.TreatMissingData !== undefined ? { TreatMissingData: d.TreatMissingData } : {}),
      ...(d.EvaluateLowSampleCountPercentile !== undefined ? { EvaluateLowSampleCountPercentile: d.EvaluateLowSampleCountPercentile } : {}),
      ...(d.Metrics !== undefined ? { Metrics: d.Metrics } : {}),
      StateTransitionedTimestamp: new Date(rec.stateTransitionedMs),
    };
  }

  /** Records a new state (and its history item); call inside a write. */
  private changeState(scope: Scope, name: string, rec: AlarmRecord, state: AlarmState, reason: string, reasonData: string | undefined, now: number): void {
    const old = { stateValue: rec.state, stateReason: rec.stateReason };
    if (state !== rec.state) rec.stateTransitionedMs = now;
    rec.state = state;
    rec.stateReason = reason;
    if (reasonData !== undefined) rec.stateReasonData = reasonData;
    else delete rec.stateReasonData;
    rec.stateUpdatedMs = now;
    this.alarms.put(scope, name, rec);
    const newState: Record<string, unknown> = { stateValue: state, stateReason: reason };
    if (reasonData !== undefined) {
      try {
        newState.stateReasonData = JSON.parse(reasonData);
      } catch {
        // SetAlarmState checked it; stored data is JSON.
      }
    }
    this.addHistory(scope, { alarmName: name, timestampMs: now, type: 'StateUpdate', summary: `Alarm updated from ${old.stateValue} to ${state}`, data: JSON.stringify({ version: '1.0', oldState: old, newState }) });
  }

  /** The alarm's slots: its last EvaluationPeriods complete periods, each a value or missing. */
  private slots(scope: Scope, rec: AlarmRecord, now: number): Slot[] {
    const d = rec.definition;
    const period = alarmPeriod(d);
    const end = bucketStart(now, period);
    const start = end - d.EvaluationPeriods! * period * 1000;
    const byTime = new Map<number, number>();
    if (d.Metrics) {
      const evaluated = evaluateQueries(this.series, scope, d.Metrics, start, end, now);
      const returning = d.Metrics.find((m) => m.ReturnData !== false)!;
      const s = evaluated.get(returning.Id)?.series[0];
      s?.timestamps.forEach((t, i) => byTime.set(bucketStart(t, period), s.values[i]!));
    } else {
      const stat = d.Statistic ?? d.ExtendedStatistic!;
      for (const p of periodAggregates(this.series, scope, { namespace: d.Namespace!, metricName: d.MetricName!, dimensions: d.Dimensions }, period, d.Unit, start, end, now)) {
        let merged: Aggregate | undefined;
        for (const agg of p.byUnit.values()) merged = merged ? mergeAggregates(merged, agg) : agg;
        const v = merged ? statistic(merged, stat) : undefined;
        if (v !== undefined && Number.isFinite(v)) byTime.set(p.startMs, v);
      }
    }
    const out: Slot[] = [];
    for (let t = start; t < end; t += period * 1000) out.push({ timestampMs: t, value: byTime.get(t) });
    return out;
  }

  /** Evaluates one alarm now; returns what changed, or ''. */
  private evaluate(scope: Scope, name: string, rec: AlarmRecord, now: number): string {
    const d = rec.definition;
    const slots = this.slots(scope, rec, now);
    const decision = decide(slots, {
      comparisonOperator: d.ComparisonOperator!,
      threshold: d.Threshold!,
      evaluationPeriods: d.EvaluationPeriods!,
      datapointsToAlarm: d.DatapointsToAlarm ?? d.EvaluationPeriods!,
      treatMissingData: (d.TreatMissingData ?? 'missing') as TreatMissingData,
      statistic: d.Statistic ?? d.ExtendedStatistic,
      periodSec: alarmPeriod(d),
    }, rec.state, now);
    if (decision.state === rec.state) return '';
    const from = rec.state;
    this.store.transaction(() => this.changeState(scope, name, rec, decision.state, decision.reason, decision.reasonData, now));
    return `${scope} ${name}: ${from} -> ${decision.state}`;
  }

  /**
   * Evaluates the alarms that are due, at most EVALUATIONS_PER_TICK of them: each once when it is created or
   * updated, then once each time a period of it completes (its evaluation range is complete periods only, as
   * CloudWatch's is). Returns one sentence saying what changed, or ''.
   */
  tick(): string {
    const now = this.clock.now();
    const changed: string[] = [];
    let evaluated = 0;
    for (const [key, rec] of this.alarms.everyScope()) {
      if (evaluated >= EVALUATIONS_PER_TICK) break;
      const periodMs = alarmPeriod(rec.definition) * 1000;
      const last = this.lastEvaluated.get(key);
      if (last !== undefined && Math.floor(last / periodMs) === Math.floor(now / periodMs)) continue;
      this.lastEvaluated.set(key, now);
      evaluated++;
      const scope = Scope.ofRecord(rec);
      const name = key.slice(scope.prefix.length);
      try {
        const change = this.evaluate(scope, name, rec, now);
        if (change) changed.push(change);
      } catch (e) {
        log('warn', 'cloudwatch alarm evaluation failed', { alarm: key, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return changed.length ? `alarms changed state: ${changed.join('; ')}` : '';
  }

  /** Forgets history older than two weeks, at most `budget` items. */
  pruneHistory(budget: number): number {
    const cutoff = this.clock.now() - HISTORY_RETENTION_MS;
    const doomed = this.historyAll
      .list()
      .filter(([, h]) => h.timestampMs < cutoff)
      .slice(0, budget);
    if (doomed.length) this.store.transaction(() => doomed.forEach(([k]) => this.historyAll.delete(k)));
    return doomed.length;
  }
}

function notFound(name: string): ServiceError {
  return new ServiceError('ResourceNotFound', `Alarm ${name} not found`, { status: 404 });
}
