/**
 * Cellar's own measurements and logs, over a real server:
 * - `/_cellar/metrics` parses as the Prometheus text format (parse-prometheus-text-format) and counts exactly the
 *   requests a scripted load made, with their latency histograms, store commits, and the CloudWatch data points of
 *   each period mirrored as gauges (consumed capacity, usage counts), summed here over the periods the load spans;
 * - with metrics off nothing is measured;
 * - at debug level each request and response is logged with its parameters, sensitive members redacted, every line
 *   carrying the request id the response was sent with; a request over the slow threshold is logged at warn level.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, TransactWriteItemsCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import parsePrometheusTextFormat, { type PromFamily, type PromSample } from 'parse-prometheus-text-format';
import { removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

async function scrapeText(endpoint: string): Promise<string> {
  const res = await fetch(`${endpoint}/_cellar/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

async function scrape(endpoint: string): Promise<PromFamily[]> {
  return parsePrometheusTextFormat(await scrapeText(endpoint));
}

/**
 * One label set of a histogram family. parse-prometheus-text-format folds every label set of a histogram into one
 * sample (and keeps _sum and _count only for unlabelled ones), so the family's lines for that label set are parsed
 * on their own: their buckets by `le`.
 */
function histogramBuckets(text: string, name: string, labels: string): Record<string, string> | undefined {
  const lines = text.split('\n').filter((l) => l.startsWith(`# HELP ${name} `) || l.startsWith(`# TYPE ${name} `) || (l.startsWith(`${name}_bucket{`) && l.includes(labels)));
  const family = parsePrometheusTextFormat(lines.join('\n') + '\n').find((f) => f.name === name);
  assert.equal(family?.type, 'HISTOGRAM');
  return family?.metrics[0]?.buckets;
}

function sample(families: PromFamily[], name: string, labels: Record<string, string>): PromSample | undefined {
  return families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

function value(families: PromFamily[], name: string, labels: Record<string, string>): number | undefined {
  const s = sample(families, name, labels);
  return s?.value === undefined ? undefined : Number(s.value);
}

async function periodsCompleted(endpoint: string): Promise<number> {
  return value(await scrape(endpoint), 'cellar_metrics_periods_total', {}) ?? 0;
}

/** Resolves right after the next metrics period ends (bounded). */
async function nextPeriod(endpoint: string, timeoutMs = 30_000): Promise<void> {
  const start = await periodsCompleted(endpoint);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await periodsCompleted(endpoint)) > start) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no metrics period completed in time');
}

/** Long enough that a scrape (with prom-client's first load on a busy machine) never spans two periods. */
const PERIOD_MS = 4000;
const PUTS = 20;
const GETS = 10;

describe('/_cellar/metrics (Prometheus)', () => {
  let cellar: CellarProcess;
  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'], env: { CELLAR_METRICS_PERIOD_MS: String(PERIOD_MS) } });
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('counts a scripted load exactly, and its periods mirror the CloudWatch data points', async () => {
    const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    const kms = new KMSClient(sdkConfig(cellar.endpoint));
    await ddb.send(new CreateTableCommand({
      TableName: 'metered',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 7 },
    }));
    await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: 'metered' });
    const key = await kms.send(new CreateKeyCommand({}));
    await nextPeriod(cellar.endpoint);

    // Every period the load spans is read once, as it completes: the gauges hold one period each.
    const periods: PromFamily[][] = [];
    let polling = true;
    let missed = 0;
    // Read before the load starts, so no period with part of the load can be taken for an earlier one.
    let seen = await periodsCompleted(cellar.endpoint);
    const poller = (async () => {
      while (polling) {
        const m = await scrape(cellar.endpoint);
        const n = value(m, 'cellar_metrics_periods_total', {}) ?? 0;
        if (n > seen) {
          missed += n - seen - 1;
          seen = n;
          periods.push(m);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    for (let i = 0; i < PUTS; i++) await ddb.send(new PutItemCommand({ TableName: 'metered', Item: { pk: { S: `k${i}` }, v: { S: 'x'.repeat(100) } } }));
    // Eventually consistent reads of items under 4 KB: half a unit each.
    for (let i = 0; i < GETS; i++) await ddb.send(new GetItemCommand({ TableName: 'metered', Key: { pk: { S: `k${i}` } } }));
    // A transaction writes each item twice: two new small items are 4 write units.
    await ddb.send(new TransactWriteItemsCommand({ TransactItems: [0, 1].map((i) => ({ Put: { TableName: 'metered', Item: { pk: { S: `t${i}` } } } })) }));
    await assert.rejects(ddb.send(new GetItemCommand({ TableName: 'absent', Key: { pk: { S: 'a' } } })), { name: 'ResourceNotFoundException' });
    for (let i = 0; i < 3; i++) await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from('p') }));
    // The period the load ended in completes.
    const loadPeriods = periods.length;
    await waitFor(() => periods.length > loadPeriods, 'the period the load ended in', 30_000, 100);
    polling = false;
    await poller;
    assert.equal(missed, 0, 'every period was read');

    const text = await scrapeText(cellar.endpoint);
    const m = parsePrometheusTextFormat(text);
    // Cellar's own counters are cumulative and exact.
    assert.equal(value(m, 'cellar_requests_total', { service: 'dynamodb', operation: 'PutItem', outcome: 'success' }), PUTS);
    assert.equal(value(m, 'cellar_requests_total', { service: 'dynamodb', operation: 'GetItem', outcome: 'success' }), GETS);
    assert.equal(value(m, 'cellar_requests_total', { service: 'dynamodb', operation: 'GetItem', outcome: 'client_error' }), 1);
    assert.equal(value(m, 'cellar_requests_total', { service: 'kms', operation: 'Encrypt', outcome: 'success' }), 3);
    const putBuckets = histogramBuckets(text, 'cellar_request_duration_seconds', 'service="dynamodb",operation="PutItem"');
    assert.equal(Number(putBuckets?.['+Inf']), PUTS);
    assert.ok(Number(putBuckets?.['10']) <= PUTS && Number(putBuckets?.['0.00025']) <= Number(putBuckets?.['10']), 'buckets are cumulative');
    assert.match(text, /^cellar_request_duration_seconds_sum\{service="dynamodb",operation="PutItem"\} [0-9.e-]+$/m);
    assert.equal(m.find((f) => f.name === 'cellar_request_duration_seconds')?.type, 'HISTOGRAM');
    assert.ok(Number(sample(m, 'cellar_store_commit_duration_seconds', {})?.count) > 0, 'the puts committed');
    assert.ok(value(m, 'cellar_process_resident_memory_bytes', {})! > 0, 'process metrics are there too');

    // The CloudWatch data points, summed over the periods the load spanned.
    const table = { account: '000000000000', region: 'us-east-1', table_name: 'metered' };
    const total = (name: string, labels: Record<string, string>) => periods.reduce((sum, p) => sum + (value(p, name, labels) ?? 0), 0);
    assert.equal(total('aws_dynamodb_consumed_write_capacity_units', table), PUTS + 4);
    assert.equal(total('aws_dynamodb_consumed_read_capacity_units', table), GETS / 2);
    assert.equal(total('aws_dynamodb_user_errors', { account: '000000000000', region: 'us-east-1' }), 1);
    assert.equal(total('aws_usage_call_count', { service: 'KMS', type: 'API', resource: 'Encrypt', class: 'None' }), 3);
    const last = periods[periods.length - 1]!;
    assert.equal(value(last, 'aws_dynamodb_provisioned_read_capacity_units', table), 5);
    assert.equal(value(last, 'aws_dynamodb_provisioned_write_capacity_units', table), 7);
    const latencies = periods.map((p) => value(p, 'aws_dynamodb_successful_request_latency', { ...table, operation: 'PutItem' })).filter((v) => v !== undefined);
    assert.ok(latencies.length > 0 && latencies.every((v) => v! > 0 && v! < 5000), `PutItem latency ${latencies.join(', ')} ms`);
  });

  it('a reset leaves CloudWatch empty: the counts gathered before it are not published after it', async () => {
    const cw = new CloudWatchClient(sdkConfig(cellar.endpoint));
    assert.ok(((await cw.send(new ListMetricsCommand({}))).Metrics ?? []).length > 0, 'the load above was published');
    // Requests whose counts wait for the end of the period, then a reset in the same period.
    await nextPeriod(cellar.endpoint);
    const kms = new KMSClient(sdkConfig(cellar.endpoint));
    const key = await kms.send(new CreateKeyCommand({}));
    for (let i = 0; i < 3; i++) await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from('p') }));
    const reset = await fetch(`${cellar.endpoint}/_cellar/reset`, { method: 'POST' });
    assert.equal(reset.status, 200, await reset.text());
    // Two periods complete after the reset: nothing from before it reached the emptied CloudWatch.
    await nextPeriod(cellar.endpoint);
    await nextPeriod(cellar.endpoint);
    const after = (await cw.send(new ListMetricsCommand({}))).Metrics ?? [];
    assert.deepEqual(after.map((m) => `${m.Namespace}/${m.MetricName}`), []);
  });
});

describe('metrics switched off', () => {
  it('measures nothing', async () => {
    const cellar = await startCellar({ inMemory: true, args: ['--quiet'], env: { CELLAR_METRICS: 'off' } });
    try {
      const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
      await assert.rejects(ddb.send(new GetItemCommand({ TableName: 'absent', Key: { pk: { S: 'a' } } })), { name: 'ResourceNotFoundException' });
      const m = await scrape(cellar.endpoint);
      assert.equal(sample(m, 'cellar_requests_total', { service: 'dynamodb' }), undefined);
      assert.ok(m.some((f) => f.name === 'cellar_process_cpu_seconds_total'), 'the endpoint still answers');
    } finally {
      await cellar.stop();
    }
  });
});

interface LogLine {
  level: string;
  msg: string;
  requestId?: string;
  operation?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  [k: string]: unknown;
}

describe('logs that help', () => {
  let cellar: CellarProcess;
  before(async () => {
    // Every request is "slow" past 0.001 ms, so the slow-request line shows on each.
    cellar = await startCellar({ inMemory: true, env: { CELLAR_LOG_LEVEL: 'debug', CELLAR_SLOW_REQUEST_MS: '0.001' } });
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('logs requests and responses at debug level with sensitive members redacted, tied by request id', async () => {
    const canary = `canary-${Date.now()}-value`;
    const sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    const created = await sm.send(new CreateSecretCommand({ Name: 'app/db', SecretString: canary }));
    const createId = created.$metadata.requestId!;
    const read = await sm.send(new GetSecretValueCommand({ SecretId: 'app/db' }));
    assert.equal(read.SecretString, canary);
    const readId = read.$metadata.requestId!;
    // Log lines are written once per event-loop turn and reach this process through a pipe: wait for the last one.
    const parsed = () => cellar.output.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
    await waitFor(() => parsed().some((l) => l.requestId === readId && l.msg === 'response sent'), 'the last request\'s log lines', 10_000, 50);
    const lines = parsed();
    assert.ok(!cellar.output.some((l) => l.includes(canary)), 'the secret value is in no log line');

    const ofCreate = lines.filter((l) => l.requestId === createId);
    const received = ofCreate.find((l) => l.msg === 'request received');
    assert.equal(received?.level, 'debug');
    assert.equal(received?.operation, 'CreateSecret');
    assert.equal(received?.params?.['Name'], 'app/db');
    assert.equal(received?.params?.['SecretString'], '***SensitiveInformation***');
    assert.ok(ofCreate.find((l) => l.msg === 'response sent')?.result?.['ARN'], 'the response with its values');
    assert.ok(ofCreate.some((l) => l.msg === 'request' && l.level === 'info'), 'the request summary line');
    const slow = ofCreate.find((l) => l.msg === 'slow request');
    assert.equal(slow?.level, 'warn');
    assert.equal(slow?.['thresholdMs'], 0.001);

    const sent = lines.find((l) => l.requestId === readId && l.msg === 'response sent');
    assert.equal(sent?.result?.['SecretString'], '***SensitiveInformation***');
    assert.equal(sent?.result?.['Name'], 'app/db');
  });
});
