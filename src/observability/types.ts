/**
 * @module observability/types
 * The shapes measurements travel in: CloudWatch's own MetricDatum (PutMetricData's member shape), grouped by the
 * account-and-region scope and namespace they are published into, and the sampler interface a service implements
 * to contribute its measurements (RDS's engines today; later features add theirs the same way).
 */
import type { Scope } from '../core/scope.js';

export interface Dimension {
  Name: string;
  Value: string;
}

/** A period's statistics of many observations, as PutMetricData takes them. */
export interface StatisticSet {
  SampleCount: number;
  Sum: number;
  Minimum: number;
  Maximum: number;
}

/** CloudWatch's MetricDatum: exactly one of Value and StatisticValues is set. */
export interface MetricDatum {
  MetricName: string;
  Dimensions?: Dimension[];
  Timestamp?: Date;
  Value?: number;
  StatisticValues?: StatisticSet;
  /** A CloudWatch StandardUnit: Count, Percent, Bytes, Milliseconds, Seconds, Count/Second … */
  Unit?: string;
}

/** Data points for one namespace of one account and region. */
export interface ScopedMetrics {
  scope: Scope;
  namespace: string;
  datums: MetricDatum[];
}

/** What a service contributes each period (ServiceDefinition.metrics). Never throws: a failed sample is logged and skipped. */
export interface MetricSampler {
  /** `periodMs`: the length of the period that ends now; `timestamp`: its data points' time. */
  sample(periodMs: number, timestamp: Date): Promise<ScopedMetrics[]>;
}

/**
 * The CloudWatch provider's internal publishing interface (`provider.internal.publish`): stores data points as
 * PutMetricData would, without a request (AWS's own namespaces, which PutMetricData refuses to callers).
 */
export interface CloudWatchInternal {
  publish(scope: Scope, namespace: string, datums: MetricDatum[]): void | Promise<void>;
}
