/**
 * @module services/cloudwatch/datums
 * PutMetricData's rules for one request's datums, as CloudWatch words them (the awsQuery parameter paths,
 * `MetricData.member.N.Value`, in every protocol), and the reduction of a valid datum to what is stored.
 */
import { ServiceError } from '../../core/errors.js';
import type { MetricDatum } from '../../models/cloudwatch.js';
import { aggregateOfValues, type Aggregate } from './aggregate.js';
import type { StoredDatum } from './series.js';

/** Datums in one request, and values in one datum (CloudWatch's documented limits). */
export const MAX_DATUMS_PER_REQUEST = 1000;
export const MAX_VALUES_PER_DATUM = 150;
const TWO_WEEKS_MS = 14 * 24 * 3_600_000;
const TWO_HOURS_MS = 2 * 3_600_000;
/** CloudWatch refuses magnitudes above 2^360 and, other than zero, below 2^-360. */
const MAX_MAGNITUDE = 2 ** 360;
const MIN_MAGNITUDE = 2 ** -360;

export function invalidValue(message: string): ServiceError {
  return new ServiceError('InvalidParameterValue', message);
}

export function invalidCombination(message: string): ServiceError {
  return new ServiceError('InvalidParameterCombination', message);
}

function checkNumber(v: number, path: string): void {
  const a = Math.abs(v);
  if (!Number.isFinite(v) || a > MAX_MAGNITUDE || (a !== 0 && a < MIN_MAGNITUDE)) throw invalidValue(`The value ${String(v)} for parameter ${path} is invalid.`);
}

/** Checks a namespace a caller publishes to; `AWS/` belongs to AWS services (Cellar's own samplers publish there). */
export function checkNamespace(namespace: string, allowReserved: boolean): void {
  if (!allowReserved && namespace.startsWith('AWS/')) throw invalidValue(`The value ${namespace} for parameter Namespace is invalid.`);
}

/** What is wrong with a datum's timestamp, in CloudWatch's words; undefined when nothing is. */
export function timestampProblem(timestampMs: number, nowMs: number, path: string): string | undefined {
  if (timestampMs < nowMs - TWO_WEEKS_MS) return `The parameter ${path}.Timestamp must specify a time within the past two weeks.`;
  if (timestampMs > nowMs + TWO_HOURS_MS) return `The parameter ${path}.Timestamp must specify a time no more than two hours in the future.`;
  return undefined;
}

/**
 * CloudWatch reports every datum whose timestamp is out of range at once, one line each, before anything else.
 * Throws that error when there is one.
 */
export function checkTimestamps(datums: readonly MetricDatum[], nowMs: number): void {
  const problems: string[] = [];
  datums.forEach((d, i) => {
    const t = d.Timestamp?.getTime();
    const p = t === undefined || Number.isNaN(t) ? undefined : timestampProblem(t, nowMs, `MetricData.member.${i + 1}`);
    if (p) problems.push(p);
  });
  if (problems.length) throw invalidValue(problems.join('\n'));
}

/** Validates datum `index` (0-based) and reduces it to its stored form. */
export function storedDatum(d: MetricDatum, index: number, nowMs: number): StoredDatum {
  const path = `MetricData.member.${index + 1}`;
  const hasValue = d.Value !== undefined;
  const hasValues = d.Values !== undefined && d.Values.length > 0;
  const stats = d.StatisticValues;
  if (hasValue && hasValues) throw invalidValue(`The parameters ${path}.Value and ${path}.Values are mutually exclusive and you have specified both.`);
  if (hasValue && stats) throw invalidCombination(`The parameters ${path}.Value and ${path}.StatisticValues are mutually exclusive and you have specified both.`);
  if (hasValues && stats) throw invalidCombination(`The parameters ${path}.Values and ${path}.StatisticValues are mutually exclusive and you have specified both.`);
  if (!hasValue && !hasValues && !stats) throw new ServiceError('MissingParameter', `The parameter ${path}.Value is required.`);
  const names = new Set<string>();
  for (const dim of d.Dimensions ?? []) {
    if (names.has(dim.Name)) throw invalidValue(`The dimension names in ${path}.Dimensions must be unique: ${dim.Name} appears more than once.`);
    names.add(dim.Name);
  }
  const resolution = d.StorageResolution ?? 60;
  if (resolution !== 1 && resolution !== 60) throw invalidValue(`The parameter ${path}.StorageResolution must be a value in the set [ 1, 60 ].`);
  const timestampMs = d.Timestamp ? d.Timestamp.getTime() : nowMs;
  if (Number.isNaN(timestampMs)) throw invalidValue(`The value for parameter ${path}.Timestamp is invalid.`);
  const timeProblem = timestampProblem(timestampMs, nowMs, path);
  if (timeProblem) throw invalidValue(timeProblem);
  let aggregate: Aggregate | undefined;
  if (stats) {
    for (const k of ['SampleCount', 'Sum', 'Minimum', 'Maximum'] as const) checkNumber(stats[k], `${path}.StatisticValues.${k}`);
    if (stats.SampleCount <= 0) throw invalidValue(`The value ${stats.SampleCount} for parameter ${path}.StatisticValues.SampleCount is invalid. It must be greater than 0.`);
    if (stats.Minimum > stats.Maximum) throw invalidValue(`The parameter ${path}.StatisticValues.Minimum must be less than or equal to ${path}.StatisticValues.Maximum.`);
    aggregate = { n: stats.SampleCount, sum: stats.Sum, min: stats.Minimum, max: stats.Maximum };
  } else if (hasValues) {
    const values = d.Values!;
    if (values.length > MAX_VALUES_PER_DATUM) throw invalidValue(`The collection ${path}.Values must not have more than ${MAX_VALUES_PER_DATUM} members.`);
    if (d.Counts !== undefined && d.Counts.length > 0 && d.Counts.length !== values.length) {
      throw invalidValue(`The parameters ${path}.Values and ${path}.Counts must be of the same size.`);
    }
    values.forEach((v) => checkNumber(v, `${path}.Values`));
    const counts = d.Counts !== undefined && d.Counts.length > 0 ? d.Counts : undefined;
    counts?.forEach((c) => {
      if (!Number.isFinite(c) || c < 0) throw invalidValue(`The value ${String(c)} for parameter ${path}.Counts is invalid.`);
    });
    aggregate = aggregateOfValues(values, counts);
    if (!aggregate) throw invalidValue(`The parameter ${path}.Counts must have at least one count greater than 0.`);
  } else {
    checkNumber(d.Value!, `${path}.Value`);
    aggregate = aggregateOfValues([d.Value!], undefined)!;
  }
  return { timestampMs, unit: d.Unit ?? 'None', storageResolutionSec: resolution, aggregate };
}
