import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { loadModel } from '../../src/protocols/model.js';
import { RawJson } from '../../src/protocols/wirejson.js';
import { redacted, SENSITIVE } from '../../src/observability/redact.js';
import { RequestMeter } from '../../src/observability/request-meter.js';
import { CapacityMeter, type MeteredTable } from '../../src/observability/dynamodb-capacity.js';
import { descendants, ioBetween, sampleTree } from '../../src/observability/proc.js';
import { HistogramFamily } from '../../src/observability/measures.js';
import type { MetricDatum, ScopedMetrics } from '../../src/observability/types.js';

const find = (batches: ScopedMetrics[], namespace: string, metric: string, dims: Record<string, string>): MetricDatum | undefined =>
  batches
    .filter((b) => b.namespace === namespace)
    .flatMap((b) => b.datums)
    .find((d) => d.MetricName === metric && (d.Dimensions ?? []).length === Object.keys(dims).length && (d.Dimensions ?? []).every((x) => dims[x.Name] === x.Value));

describe('redaction by model shape', () => {
  const sm = loadModel('secretsmanager');
  const kms = loadModel('kms');
  it('replaces sensitive members, keeps the others, at any depth', () => {
    const input = { Name: 'db/password', SecretString: 'hunter2', Tags: [{ Key: 'team', Value: 'a' }] };
    const out = redacted(sm, 'CreateSecretRequest', input) as Record<string, unknown>;
    assert.equal(out['SecretString'], SENSITIVE);
    assert.equal(out['Name'], 'db/password');
    assert.deepEqual(out['Tags'], [{ Key: 'team', Value: 'a' }]);
    const list = redacted(sm, 'BatchGetSecretValueResponse', { SecretValues: [{ Name: 'x', SecretString: 'hunter2' }] }) as { SecretValues: Array<Record<string, unknown>> };
    assert.equal(list.SecretValues[0]!['SecretString'], SENSITIVE);
    assert.equal(list.SecretValues[0]!['Name'], 'x');
  });
  it('shows blobs by size, and a sensitive blob not at all', () => {
    const out = redacted(kms, 'EncryptRequest', { KeyId: 'k', Plaintext: Buffer.from('secret bytes') }) as Record<string, unknown>;
    assert.equal(out['Plaintext'], SENSITIVE);
    const enc = redacted(kms, 'EncryptResponse', { CiphertextBlob: Buffer.alloc(40) }) as Record<string, unknown>;
    assert.equal(enc['CiphertextBlob'], '<40 bytes>');
  });
  it('shows raw JSON as its value', () => {
    assert.deepEqual(redacted(kms, undefined, new RawJson('{"a":1}')), { a: 1 });
  });
});

describe('RequestMeter', () => {
  it('turns requests into DynamoDB per-table, user-error and usage data points, then starts over', () => {
    const meter = new RequestMeter();
    const put = meter.bind('dynamodb', 'PutItem');
    assert.equal(meter.bind('dynamodb', 'PutItem'), put, 'bound once per operation');
    for (const ms of [2, 4, 6]) meter.record(put, 200, undefined, ms, '111111111111', 'eu-west-1', { TableName: 'orders' });
    meter.record(put, 400, 'ProvisionedThroughputExceededException', 1, '111111111111', 'eu-west-1', { TableName: 'orders' });
    meter.record(put, 400, 'ConditionalCheckFailedException', 1, '111111111111', 'eu-west-1', { TableName: 'orders' });
    meter.record(put, 400, 'ValidationException', 1, '111111111111', 'eu-west-1', { TableName: 'orders' });
    meter.record(put, 500, 'InternalServerError', 1, '111111111111', 'eu-west-1', { TableName: 'orders' });
    meter.record(meter.bind('dynamodb', 'BatchWriteItem'), 200, undefined, 3, '111111111111', 'eu-west-1', { RequestItems: { a: [], b: [] } });
    meter.record(meter.bind('dynamodb', 'TransactWriteItems'), 200, undefined, 5, '111111111111', 'eu-west-1', { TransactItems: [{ Put: { TableName: 'a' } }, { Update: { TableName: 'a' } }, { Delete: { TableName: 'c' } }] });
    const kmsEncrypt = meter.bind('kms', 'Encrypt');
    meter.record(kmsEncrypt, 200, undefined, 1, '111111111111', 'eu-west-1', {});
    meter.record(kmsEncrypt, 400, 'NotFoundException', 1, '111111111111', 'eu-west-1', {});
    meter.record(kmsEncrypt, 403, 'AccessDenied', 1, undefined, undefined, undefined);
    const batches = meter.takePeriod(new Date(0));
    const latency = find(batches, 'AWS/DynamoDB', 'SuccessfulRequestLatency', { TableName: 'orders', Operation: 'PutItem' });
    assert.deepEqual(latency?.StatisticValues, { SampleCount: 3, Sum: 12, Minimum: 2, Maximum: 6 });
    assert.equal(latency?.Unit, 'Milliseconds');
    assert.equal(find(batches, 'AWS/DynamoDB', 'ThrottledRequests', { TableName: 'orders', Operation: 'PutItem' })?.Value, 1);
    assert.equal(find(batches, 'AWS/DynamoDB', 'SystemErrors', { TableName: 'orders', Operation: 'PutItem' })?.Value, 1);
    assert.equal(find(batches, 'AWS/DynamoDB', 'ConditionalCheckFailedRequests', { TableName: 'orders' })?.Value, 1);
    assert.equal(find(batches, 'AWS/DynamoDB', 'UserErrors', {})?.Value, 1, 'only the validation error is a user error');
    for (const t of ['a', 'b']) assert.equal(find(batches, 'AWS/DynamoDB', 'SuccessfulRequestLatency', { TableName: t, Operation: 'BatchWriteItem' })?.StatisticValues?.SampleCount, 1);
    assert.equal(find(batches, 'AWS/DynamoDB', 'SuccessfulRequestLatency', { TableName: 'a', Operation: 'TransactWriteItems' })?.StatisticValues?.SampleCount, 1, 'a table counts once per request');
    assert.ok(find(batches, 'AWS/DynamoDB', 'SuccessfulRequestLatency', { TableName: 'c', Operation: 'TransactWriteItems' }));
    const calls = find(batches, 'AWS/Usage', 'CallCount', { Service: 'KMS', Type: 'API', Resource: 'Encrypt', Class: 'None' });
    assert.equal(calls?.Value, 2, 'an unauthenticated call has no account to count in');
    assert.equal(batches[0]!.scope.accountId, '111111111111');
    assert.equal(put.counts.success, 3);
    assert.equal(put.counts.clientError, 3);
    assert.equal(put.counts.serverError, 1);
    assert.deepEqual(meter.takePeriod(new Date(0)), [], 'a period starts empty');
  });
});

describe('CapacityMeter', () => {
  const table = (billingMode: string): MeteredTable => ({
    meta: {
      name: 'orders',
      accountId: '000000000000',
      region: 'us-east-1',
      status: 'ACTIVE',
      billingMode,
      throughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 7 },
      indexes: [
        { name: 'byCustomer', global: true, status: 'ACTIVE', throughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 4 } },
        { name: 'local', global: false, status: 'ACTIVE', throughput: undefined },
      ],
    },
  });
  it('sums consumed units per table and per global index, and reports provisioned units', () => {
    const meter = new CapacityMeter();
    const t = table('PROVISIONED');
    meter.write(t, 1, new Map([['byCustomer', 1], ['local', 1]]));
    meter.write(t, 2, undefined);
    meter.read(t, 0.5, undefined);
    meter.read(t, 1, 'byCustomer');
    meter.read(t, 1, 'local');
    const b = meter.takePeriod(new Date(0), [t]);
    assert.deepEqual(find(b, 'AWS/DynamoDB', 'ConsumedWriteCapacityUnits', { TableName: 'orders' })?.StatisticValues, { SampleCount: 2, Sum: 4, Minimum: 2, Maximum: 2 });
    assert.equal(find(b, 'AWS/DynamoDB', 'ConsumedWriteCapacityUnits', { TableName: 'orders', GlobalSecondaryIndexName: 'byCustomer' })?.StatisticValues?.Sum, 1);
    assert.equal(find(b, 'AWS/DynamoDB', 'ConsumedReadCapacityUnits', { TableName: 'orders' })?.StatisticValues?.Sum, 1.5, 'a local index reads against the table');
    assert.equal(find(b, 'AWS/DynamoDB', 'ConsumedReadCapacityUnits', { TableName: 'orders', GlobalSecondaryIndexName: 'byCustomer' })?.StatisticValues?.Sum, 1);
    assert.equal(find(b, 'AWS/DynamoDB', 'ProvisionedReadCapacityUnits', { TableName: 'orders' })?.Value, 5);
    assert.equal(find(b, 'AWS/DynamoDB', 'ProvisionedWriteCapacityUnits', { TableName: 'orders', GlobalSecondaryIndexName: 'byCustomer' })?.Value, 4);
    const next = meter.takePeriod(new Date(0), [table('PAY_PER_REQUEST')]);
    assert.deepEqual(next, [], 'on-demand tables have no provisioned units, and consumption starts over');
  });
});

describe('process tree readings (/proc)', () => {
  it('finds a child process under its parent and counts its CPU and I/O', async () => {
    // A child that burns CPU and makes write system calls for a moment.
    const child = spawn(process.execPath, ['-e', 'const fs=require("fs");const t=Date.now();let n=0;while(Date.now()-t<300){fs.writeSync(1,"");n++}setTimeout(()=>{},2000)'], { stdio: ['ignore', 'ignore', 'ignore'] });
    try {
      await new Promise((r) => setTimeout(r, 50));
      const first = sampleTree(process.pid)!;
      assert.ok(descendants(process.pid).includes(child.pid!));
      await new Promise((r) => setTimeout(r, 500));
      const second = sampleTree(process.pid)!;
      assert.ok(second.cpuSeconds > first.cpuSeconds, `CPU ${first.cpuSeconds} → ${second.cpuSeconds}`);
      assert.ok(second.memoryBytes > 10 * 1024 * 1024);
      assert.ok(ioBetween(first, second).writes > 0);
      assert.equal(sampleTree(2 ** 22 + 1), undefined, 'no such process');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('HistogramFamily', () => {
  it('counts each observation in its bucket, with sum and count', () => {
    const h = new HistogramFamily('cellar_test_unit_seconds', 'test', [0.1, 1]);
    const c = h.child({ op: 'x' });
    for (const v of [0.05, 0.1, 0.5, 5]) c.observe(v);
    assert.deepEqual([...c.buckets], [2, 1, 1], 'a bound is inclusive (le)');
    assert.equal(c.count, 4);
    assert.equal(c.sum, 5.65);
  });
});

describe('metrics settings', () => {
  const withEnv = <T>(env: Record<string, string>, fn: () => T): T => {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      return fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  it('defaults to on at 60 s, takes the environment over the file, and refuses nonsense', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cellar-metrics-config-'));
    try {
      const unset = { CELLAR_METRICS: '', CELLAR_METRICS_PERIOD_MS: '', CELLAR_SLOW_REQUEST_MS: '' };
      assert.deepEqual(withEnv(unset, () => loadConfig({ dataDir: dir })).metrics, { enabled: true, periodMs: 60_000 });
      writeFileSync(join(dir, 'cellar.json'), JSON.stringify({ metrics: { periodMs: 5000 }, slowRequestMs: 250 }));
      const fromFile = withEnv(unset, () => loadConfig({ dataDir: dir }));
      assert.deepEqual(fromFile.metrics, { enabled: true, periodMs: 5000 }, 'a partial metrics object keeps the other default');
      assert.equal(fromFile.slowRequestMs, 250);
      const fromEnv = withEnv({ CELLAR_METRICS: 'off', CELLAR_METRICS_PERIOD_MS: '1000', CELLAR_SLOW_REQUEST_MS: '10' }, () => loadConfig({ dataDir: dir }));
      assert.deepEqual(fromEnv.metrics, { enabled: false, periodMs: 1000 });
      assert.equal(fromEnv.slowRequestMs, 10);
      assert.throws(() => withEnv({ CELLAR_METRICS: 'maybe' }, () => loadConfig({ dataDir: dir })), /CELLAR_METRICS must be on or off/);
      assert.throws(() => withEnv({ CELLAR_METRICS_PERIOD_MS: '10' }, () => loadConfig({ dataDir: dir })), /metrics.periodMs must be an integer from 1000/);
      assert.throws(() => withEnv({ CELLAR_SLOW_REQUEST_MS: '-1' }, () => loadConfig({ dataDir: dir })), /slowRequestMs must be a positive number/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
