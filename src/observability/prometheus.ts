/**
 * @module observability/prometheus
 * The Prometheus text format of Cellar's measurements (./measures.ts), written by prom-client: loaded by the
 * `/_cellar/metrics` route on its first scrape (`import()`), never at startup.
 *
 * The request path's records are handed to prom-client as metric objects it reads at scrape time (its Metric
 * contract: name, help, type and `get()`): prom-client's own `labels(...).observe()` hashes and validates the labels
 * on every call, too much work per request. Engine restarts are a prom-client Counter filled at collect time.
 *
 * The CloudWatch data points of the last period are mirrored as gauges `aws_<namespace>_<metric>`
 * (`aws_rds_database_connections`), labelled with the account, the region and the datum's dimensions. A statistic
 * set shows its average for time units (latencies) and its sum otherwise (counts, capacity units). A series not
 * sampled in the last period is absent.
 */
import client from 'prom-client';
import { engineRestarts, HistogramFamily, lastPeriod, requestCounts, requestDuration, storeCommitDuration } from './measures.js';
import type { MetricDatum } from './types.js';

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface PromMetric {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  get(): { name: string; help: string; type: string; aggregator: string; values: PromValue[] };
}

function histogram(family: HistogramFamily): PromMetric {
  const { name, help, bounds } = family;
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: PromValue[] = [];
      for (const c of family.children) {
        if (c.count === 0) continue;
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += c.buckets[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { ...c.labels, le: bounds[i]! }, value: cumulative });
        }
        values.push({ metricName: `${name}_bucket`, labels: { ...c.labels, le: '+Inf' }, value: c.count });
        values.push({ metricName: `${name}_sum`, labels: { ...c.labels }, value: c.sum });
        values.push({ metricName: `${name}_count`, labels: { ...c.labels }, value: c.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}

function requestCounter(): PromMetric {
  const name = 'cellar_requests_total';
  const help = 'Requests answered, by service, operation and outcome (success, client_error, server_error)';
  return {
    name,
    help,
    type: 'counter',
    aggregator: 'sum',
    get() {
      const values: PromValue[] = [];
      for (const c of requestCounts.children) {
        if (c.success) values.push({ labels: { ...c.labels, outcome: 'success' }, value: c.success });
        if (c.clientError) values.push({ labels: { ...c.labels, outcome: 'client_error' }, value: c.clientError });
        if (c.serverError) values.push({ labels: { ...c.labels, outcome: 'server_error' }, value: c.serverError });
      }
      return { name, help, type: 'counter', aggregator: 'sum', values };
    },
  };
}

const registry = new client.Registry();
for (const m of [requestCounter(), histogram(requestDuration), histogram(storeCommitDuration)]) registry.registerMetric(m as unknown as client.Metric);
new client.Counter({
  name: 'cellar_engine_restarts_total',
  help: 'Engine processes restarted by their supervisor after an unexpected exit, by engine',
  labelNames: ['engine'],
  registers: [registry],
  collect() {
    this.reset();
    for (const [engine, n] of engineRestarts) this.inc({ engine }, n);
  },
});
new client.Counter({
  name: 'cellar_metrics_periods_total',
  help: 'Metric periods completed (sampled, published into CloudWatch and mirrored here)',
  registers: [registry],
  collect() {
    this.reset();
    this.inc(lastPeriod.completed);
  },
});
client.collectDefaultMetrics({ register: registry, prefix: 'cellar_' });

const mirrors = new Map<string, client.Gauge<string>>();
const mirrorNames = new Set<string>();

function snake(s: string): string {
  return s
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}

const TIME_UNITS = new Set(['Seconds', 'Milliseconds', 'Microseconds']);

function gaugeValue(d: MetricDatum): number | undefined {
  if (d.Value !== undefined) return d.Value;
  const s = d.StatisticValues;
  if (!s || s.SampleCount === 0) return undefined;
  return d.Unit !== undefined && TIME_UNITS.has(d.Unit) ? s.Sum / s.SampleCount : s.Sum;
}

function mirrorGauge(namespace: string, d: MetricDatum, dimensionNames: string[]): client.Gauge<string> {
  // The namespace as one word (AWS/DynamoDB → dynamodb), the metric name split at its words (DatabaseConnections → database_connections).
  const base = `aws_${namespace.replace(/^AWS\//, '').replace(/[^A-Za-z0-9]+/g, '_').toLowerCase()}_${snake(d.MetricName)}`;
  const key = `${base}|${dimensionNames.join(',')}`;
  let g = mirrors.get(key);
  if (!g) {
    // The same metric under another set of dimensions (per table, and per table and index) is a family of its own.
    const name = mirrorNames.has(base) ? `${base}_by_${dimensionNames.map(snake).join('_')}` : base;
    mirrorNames.add(name);
    g = new client.Gauge({ name, help: `CloudWatch ${namespace} ${d.MetricName}${d.Unit ? ` (${d.Unit})` : ''} over the last period`, labelNames: ['account', 'region', ...dimensionNames.map(snake)], registers: [registry] });
    mirrors.set(key, g);
  }
  return g;
}

function mirrorLastPeriod(): void {
  for (const g of mirrors.values()) g.reset();
  for (const b of lastPeriod.batches) {
    for (const d of b.datums) {
      const v = gaugeValue(d);
      if (v === undefined || !Number.isFinite(v)) continue;
      const dims = [...(d.Dimensions ?? [])].sort((x, y) => (x.Name < y.Name ? -1 : x.Name > y.Name ? 1 : 0));
      const labels: Record<string, string> = { account: b.scope.accountId, region: b.scope.region };
      for (const x of dims) labels[snake(x.Name)] = x.Value;
      mirrorGauge(b.namespace, d, dims.map((x) => x.Name)).set(labels, v);
    }
  }
}

/** The exposition: its content type and text. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  mirrorLastPeriod();
  return { contentType: registry.contentType, body: await registry.metrics() };
}
