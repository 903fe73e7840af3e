/**
 * @module observability/measures
 * Cellar's own measurements, kept in plain records that the request path updates with a few additions: request
 * counts and latency histograms per service and operation (each label set bound once and kept by its caller), store
 * commit latency, engine restarts, and the last period's CloudWatch data points. ./prometheus.ts turns them into the
 * Prometheus text format when `/_cellar/metrics` is scraped; prom-client itself is loaded only then (it costs
 * hundreds of milliseconds to load, which Cellar's startup should not pay).
 *
 * One set per process (like prom-client's default registry): a process runs one Cellar.
 */
import type { ScopedMetrics } from './types.js';

/** Seconds; from 0.25 ms (a cached DynamoDB GetItem) to 10 s (an RDS action waiting for its engine). */
export const LATENCY_BUCKETS_SECONDS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One label set's histogram: per-bucket counts (not cumulative), sum and count. */
export class HistogramChild {
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    readonly bounds: readonly number[],
  ) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.buckets[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HistogramFamily {
  readonly children: HistogramChild[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[] = LATENCY_BUCKETS_SECONDS,
  ) {}

  /** A child for these labels; call once per label set and keep it. */
  child(labels: Record<string, string>): HistogramChild {
    const c = new HistogramChild(labels, this.bounds);
    this.children.push(c);
    return c;
  }
}

/** One label set's request counts by outcome. */
export class RequestCounts {
  success = 0;
  clientError = 0;
  serverError = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
}

export class RequestCountFamily {
  readonly children: RequestCounts[] = [];

  child(labels: Record<string, string>): RequestCounts {
    const c = new RequestCounts(labels);
    this.children.push(c);
    return c;
  }
}

export const requestCounts = new RequestCountFamily();
export const requestDuration = new HistogramFamily('cellar_request_duration_seconds', 'Time from a request to its response, by service and operation');
export const storeCommitDuration = new HistogramFamily('cellar_store_commit_duration_seconds', 'Time the state store took to commit a transaction or a write group', [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1,
]);
export const storeCommits = storeCommitDuration.child({});

/** Engine processes restarted because their health decider (runtime/decider.ts) found them down, by engine. */
export const engineRestarts = new Map<string, number>();

export function countEngineRestart(engine: string): void {
  engineRestarts.set(engine, (engineRestarts.get(engine) ?? 0) + 1);
}

/** The data points of the last completed period (mirrored as Prometheus gauges), and how many periods completed. */
export const lastPeriod: { batches: readonly ScopedMetrics[]; completed: number } = { batches: [], completed: 0 };
