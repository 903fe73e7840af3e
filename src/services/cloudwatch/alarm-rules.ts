/**
 * @module services/cloudwatch/alarm-rules
 * What an alarm decides from the datapoints of its evaluation range, as CloudWatch documents it: the last
 * EvaluationPeriods periods, each a value or missing; ALARM when at least DatapointsToAlarm of them breach the
 * threshold, missing periods treated as TreatMissingData says (missing, ignore, breaching, notBreaching); and
 * PutMetricAlarm's rules for a definition. Pure: no I/O.
 */
import { ServiceError } from '../../core/errors.js';
import type { PutMetricAlarmInput } from '../../models/cloudwatch.js';
import { isKnownStat, percentileOf } from './aggregate.js';
import { checkPeriod, checkQueries } from './queries.js';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissingData = 'missing' | 'ignore' | 'breaching' | 'notBreaching';

const STATIC_OPERATORS: Record<string, { symbol: string; words: string; breaches: (v: number, t: number) => boolean }> = {
  GreaterThanOrEqualToThreshold: { symbol: '>=', words: 'greater than or equal to', breaches: (v, t) => v >= t },
  GreaterThanThreshold: { symbol: '>', words: 'greater than', breaches: (v, t) => v > t },
  LessThanThreshold: { symbol: '<', words: 'less than', breaches: (v, t) => v < t },
  LessThanOrEqualToThreshold: { symbol: '<=', words: 'less than or equal to', breaches: (v, t) => v <= t },
};

/** Alarms per account and region (CloudWatch's default quota is far higher; this bounds Cellar's state). */
export const MAX_ALARMS_PER_SCOPE = 5000;
/** Period × EvaluationPeriods may not exceed seven days. */
const MAX_EVALUATION_RANGE_SEC = 7 * 24 * 3600;

export interface Slot {
  /** Period start, ms. */
  timestampMs: number;
  /** undefined: no data in the period. */
  value: number | undefined;
}

export interface Decision {
  state: AlarmState;
  reason: string;
  /** StateReasonData's JSON (CloudWatch's shape: version, queryDate, startDate, statistic, period, recentDatapoints, threshold). */
  reasonData: string;
}

export interface EvaluationSettings {
  comparisonOperator: string;
  threshold: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  treatMissingData: TreatMissingData;
  /** The statistic as shown in StateReasonData (`Sum`, `p99`, or undefined for a math alarm). */
  statistic: string | undefined;
  periodSec: number;
}

function formatNumber(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v);
}

/** CloudWatch writes datapoint times in reasons as dd/MM/yy HH:mm:ss. */
function reasonTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/**
 * The state an alarm is in given its slots (oldest first, EvaluationPeriods of them), and why. `current` is the
 * state it is in now: TreatMissingData `ignore` keeps it when every slot is missing.
 */
export function decide(slots: readonly Slot[], s: EvaluationSettings, current: AlarmState, nowMs: number): Decision {
  const op = STATIC_OPERATORS[s.comparisonOperator]!;
  const present = slots.filter((x) => x.value !== undefined);
  const missing = slots.length - present.length;
  const breachingPresent = present.filter((x) => op.breaches(x.value!, s.threshold));
  const reasonData = (): string =>
    JSON.stringify({
      version: '1.0',
      queryDate: new Date(nowMs).toISOString().replace('Z', '+0000'),
      startDate: new Date(slots[0]?.timestampMs ?? nowMs).toISOString().replace('Z', '+0000'),
      ...(s.statistic ? { statistic: s.statistic } : {}),
      period: s.periodSec,
      recentDatapoints: [...present].reverse().map((x) => x.value),
      threshold: s.threshold,
      evaluatedDatapoints: [...slots].reverse().map((x) => ({ timestamp: new Date(x.timestampMs).toISOString().replace('Z', '+0000'), ...(x.value !== undefined ? { value: x.value } : {}) })),
    });
  if (present.length === 0) {
    switch (s.treatMissingData) {
      case 'breaching':
        return { state: 'ALARM', reason: `Threshold Crossed: no datapoints were received for ${slots.length} period${slots.length === 1 ? '' : 's'} and ${slots.length} missing datapoint${slots.length === 1 ? ' was' : 's were'} treated as [Breaching].`, reasonData: reasonData() };
      case 'notBreaching':
        return { state: 'OK', reason: `Threshold Crossed: no datapoints were received for ${slots.length} period${slots.length === 1 ? '' : 's'} and ${slots.length} missing datapoint${slots.length === 1 ? ' was' : 's were'} treated as [NonBreaching].`, reasonData: reasonData() };
      case 'ignore':
        return { state: current, reason: '', reasonData: '' };
      default:
        return { state: 'INSUFFICIENT_DATA', reason: `Insufficient Data: ${slots.length} datapoint${slots.length === 1 ? ' was' : 's were'} unknown.`, reasonData: reasonData() };
    }
  }
  const breaching = breachingPresent.length + (s.treatMissingData === 'breaching' ? missing : 0);
  const state: AlarmState = breaching >= s.datapointsToAlarm ? 'ALARM' : 'OK';
  const shown = state === 'ALARM' ? breachingPresent : present.filter((x) => !op.breaches(x.value!, s.threshold));
  const list = [...shown].reverse().map((x) => `${formatNumber(x.value!)} (${reasonTime(x.timestampMs)})`).join(', ');
  const counted = state === 'ALARM' ? breaching : present.length - breachingPresent.length + (s.treatMissingData === 'notBreaching' ? missing : 0);
  const words = state === 'ALARM' ? op.words : `not ${op.words}`;
  const reason = `Threshold Crossed: ${counted} out of the last ${slots.length} datapoints [${list}] ${counted === 1 ? 'was' : 'were'} ${words} the threshold (${formatNumber(s.threshold)}) (minimum ${s.datapointsToAlarm} datapoint${s.datapointsToAlarm === 1 ? '' : 's'} for ${state === 'ALARM' ? 'OK -> ALARM' : 'ALARM -> OK'} transition).`;
  return { state, reason, reasonData: reasonData() };
}

function validation(message: string): ServiceError {
  return new ServiceError('ValidationError', message);
}

const TREATMENTS = new Set(['missing', 'ignore', 'breaching', 'notBreaching']);
const ACTION_ARN = /^arn:aws[a-z-]*:(sns|autoscaling|automate|ssm|ssm-incidents|lambda|ec2|swf|opsworks|sqs):/;

/** PutMetricAlarm's rules for a definition, beyond the model's. */
export function checkAlarmDefinition(input: PutMetricAlarmInput): void {
  const single = input.MetricName !== undefined || input.Namespace !== undefined || input.Statistic !== undefined || input.ExtendedStatistic !== undefined || input.Dimensions !== undefined;
  const math = input.Metrics !== undefined && input.Metrics.length > 0;
  if (single && math) throw validation('The parameters MetricName, Namespace, Statistic, ExtendedStatistic and Dimensions cannot be specified together with Metrics.');
  if (!single && !math) throw validation('Either MetricName (with Namespace, Statistic or ExtendedStatistic, and Period) or Metrics must be specified.');
  if (input.ThresholdMetricId !== undefined || (input.ComparisonOperator !== undefined && !STATIC_OPERATORS[input.ComparisonOperator])) {
    throw validation('Cellar evaluates static thresholds only: anomaly detection bands (ThresholdMetricId and the LessThanLowerOrGreaterThanUpperThreshold family) are not supported.');
  }
  if (input.ComparisonOperator === undefined) throw validation('The parameter ComparisonOperator is required.');
  if (input.Threshold === undefined) throw validation('The parameter Threshold is required.');
  if (input.EvaluationPeriods === undefined) throw validation('The parameter EvaluationPeriods is required.');
  if (input.DatapointsToAlarm !== undefined && input.DatapointsToAlarm > input.EvaluationPeriods) {
    throw validation(`DatapointsToAlarm (${input.DatapointsToAlarm}) must be less than or equal to EvaluationPeriods (${input.EvaluationPeriods}).`);
  }
  if (input.TreatMissingData !== undefined && !TREATMENTS.has(input.TreatMissingData)) {
    throw validation(`Option ${input.TreatMissingData} is not supported. Supported options for parameter TreatMissingData are missing, ignore, breaching and notBreaching.`);
  }
  if (input.EvaluateLowSampleCountPercentile !== undefined && !['evaluate', 'ignore'].includes(input.EvaluateLowSampleCountPercentile)) {
    throw validation(`Option ${input.EvaluateLowSampleCountPercentile} is not supported. Supported options for parameter EvaluateLowSampleCountPercentile are evaluate and ignore.`);
  }
  for (const [name, arns] of [['AlarmActions', input.AlarmActions], ['OKActions', input.OKActions], ['InsufficientDataActions', input.InsufficientDataActions]] as const) {
    for (const arn of arns ?? []) if (!ACTION_ARN.test(arn)) throw validation(`Invalid arn syntax: ${arn} (${name})`);
  }
  let period: number;
  if (single) {
    if (input.MetricName === undefined) throw validation('The parameter MetricName is required.');
    if (input.Namespace === undefined) throw validation('The parameter Namespace is required.');
    if ((input.Statistic === undefined) === (input.ExtendedStatistic === undefined)) throw new ServiceError('InvalidParameterCombination', 'Exactly one of Statistic and ExtendedStatistic must be specified.');
    if (input.ExtendedStatistic !== undefined && percentileOf(input.ExtendedStatistic) === undefined) throw new ServiceError('InvalidParameterValue', `The value ${input.ExtendedStatistic} for parameter ExtendedStatistic is not supported.`);
    if (input.Period === undefined) throw validation('The parameter Period is required.');
    period = input.Period;
  } else {
    const metrics = input.Metrics!;
    checkQueries(metrics, 'Metrics');
    const returning = metrics.filter((m) => m.ReturnData !== false);
    if (returning.length !== 1) throw validation('Exactly one element of the metrics list should return data.');
    for (const m of metrics) {
      if (m.MetricStat && !isKnownStat(m.MetricStat.Stat)) throw validation(`The value ${m.MetricStat.Stat} for parameter Metrics.MetricStat.Stat is not supported.`);
    }
    period = metrics.find((m) => m.MetricStat)?.MetricStat?.Period ?? returning[0]!.Period ?? 0;
    if (!period) throw validation('The period of the alarm could not be determined: give a MetricStat or a Period.');
  }
  if (!(period === 10 || period === 30 || (period >= 60 && period % 60 === 0))) throw validation(`The parameter Period must be 10, 30 or a multiple of 60; ${period} is not.`);
  checkPeriod(period, 'Period');
  if (period * input.EvaluationPeriods > MAX_EVALUATION_RANGE_SEC) throw validation('The evaluation range of the alarm (Period multiplied by EvaluationPeriods) must not exceed 7 days.');
}

/** The period an alarm evaluates at. */
export function alarmPeriod(input: PutMetricAlarmInput): number {
  return input.Period ?? input.Metrics?.find((m) => m.MetricStat)?.MetricStat?.Period ?? input.Metrics?.find((m) => m.ReturnData !== false)?.Period ?? 60;
}
