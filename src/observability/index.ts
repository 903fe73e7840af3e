/**
 * @module observability
 * Cellar's measurements in one place. The gateway records each request into a RequestMeter, the store its commit
 * times, the health deciders (runtime/decider.ts) their restarts; services add samplers of their own (ServiceDefinition.metrics: RDS's
 * engines, DynamoDB's consumed and provisioned capacity). Once per period (metrics.periodMs, 60 s by
 * default) the period's data points are published into CloudWatch through the CloudWatch provider's internal
 * interface, at AWS's namespaces, names and dimensions, and mirrored into the Prometheus gauges served with Cellar's
 * own counters at `GET /_cellar/metrics` (docs/observability.md).
 *
 * With metrics off (metrics.enabled false, CELLAR_METRICS=off) nothing is measured or sampled: the switch the
 * overhead benchmark turns (bench/observability.ts).
 */
import type { Clock } from '../core/clock.js';
import { log } from '../core/log.js';
import type { MetricsConfig } from '../config.js';
import type { WireRequest, WireResponse } from '../protocols/types.js';
import type { ServiceDefinition } from '../services/registry.js';
import { observeCommits } from '../storage/sqlite.js';
import { lastPeriod, storeCommits } from './measures.js';
import { RequestMeter } from './request-meter.js';
import type { CloudWatchInternal, ScopedMetrics } from './types.js';

/** PutMetricData takes at most 1000 datums a call. */
const PUBLISH_BATCH = 1000;

/** A sampler slower than this is abandoned for the period (and reported): a hung engine never stalls the loop. */
const SAMPLE_TIMEOUT_MS = 10_000;

export class Observability {
  readonly requests: RequestMeter | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastFlushMs: number;

  constructor(
    private readonly config: MetricsConfig,
    private readonly services: readonly ServiceDefinition[],
    private readonly clock: Clock,
  ) {
    this.lastFlushMs = clock.now();
    if (!config.enabled) return;
    this.requests = new RequestMeter();
  }

  /** Attaches the meters and starts the period timer (after the services are built). */
  start(): void {
    if (!this.config.enabled || this.timer) return;
    observeCommits((seconds) => storeCommits.observe(seconds));
    this.timer = setInterval(() => void this.flush(), this.config.periodMs);
    this.timer.unref();
  }

  /** Stops the timer and publishes what the last, partial period measured. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.config.enabled) return;
    await this.flush();
    observeCommits(undefined);
  }

  /**
   * Forgets what the current period measured of requests, unpublished: a reset that empties CloudWatch must not see
   * it refilled at the next period with counts of requests made before the reset.
   */
  discardPending(): void {
    this.requests?.takePeriod(new Date(this.clock.now()));
  }

  /** One period: collect every data point, publish it into CloudWatch, mirror it into Prometheus. Never throws. */
  flush(): Promise<void> {
    this.flushing ??= this.collectAndPublish().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async collectAndPublish(): Promise<void> {
    const nowMs = this.clock.now();
    const periodMs = Math.max(1, nowMs - this.lastFlushMs);
    this.lastFlushMs = nowMs;
    const timestamp = new Date(nowMs);
    const batches: ScopedMetrics[] = [];
    try {
      if (this.requests) batches.push(...this.requests.takePeriod(timestamp));
    } catch (e) {
      log('error', 'metrics: request measurements not collected', { error: (e as Error).stack ?? String(e) });
    }
    for (const svc of this.services) {
      if (!svc.metrics) continue;
      try {
        batches.push(...(await withTimeout(svc.metrics.sample(periodMs, timestamp), SAMPLE_TIMEOUT_MS)));
      } catch (e) {
        log('warn', 'metrics: service not sampled this period', { service: svc.id, error: (e as Error).message });
      }
    }
    lastPeriod.batches = batches;
    lastPeriod.completed++;
    const cloudwatch = this.cloudwatch();
    if (!cloudwatch) return;
    for (const b of batches) {
      try {
        // PutMetricData's own bound: at most PUBLISH_BATCH datums a call.
        for (let i = 0; i < b.datums.length; i += PUBLISH_BATCH) await cloudwatch.publish(b.scope, b.namespace, b.datums.slice(i, i + PUBLISH_BATCH));
      } catch (e) {
        log('warn', 'metrics: not published into CloudWatch', { namespace: b.namespace, scope: b.scope.toString(), error: (e as Error).message });
      }
    }
  }

  /** `GET /_cellar/metrics`: the Prometheus text format. */
  route(): (req: WireRequest) => Promise<WireResponse> {
    return async (req): Promise<WireResponse> => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { 'content-type': 'text/plain', allow: 'GET' }, body: 'GET the metrics\n' };
      const { contentType, body } = await (await import('./prometheus.js')).renderMetrics();
      return { status: 200, headers: { 'content-type': contentType }, body: req.method === 'HEAD' ? '' : body };
    };
  }

  private cloudwatch(): CloudWatchInternal | undefined {
    const internal = (this.services.find((s) => s.id === 'cloudwatch')?.provider as { internal?: CloudWatchInternal } | undefined)?.internal;
    return internal && typeof internal.publish === 'function' ? internal : undefined;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
