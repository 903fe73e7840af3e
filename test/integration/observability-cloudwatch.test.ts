/**
 * CloudWatch with real numbers: a scripted load on a real RDS PostgreSQL instance (a known number of pg sessions
 * under a write load) and on a DynamoDB table (a known number of puts and gets), then GetMetricData, through the
 * official SDK, returns what the load did:
 * - AWS/RDS DatabaseConnections: exactly the sessions held (Maximum over the load's minutes); WriteIOPS and
 *   CPUUtilization above zero; FreeableMemory and FreeStorageSpace above zero and below the instance's memory and
 *   storage;
 * - AWS/DynamoDB ConsumedWrite/ReadCapacityUnits: exactly the units of the puts (1 each) and eventually consistent
 *   gets (0.5 each); SuccessfulRequestLatency: one sample per request, average above 0 and under 2 s;
 * - AWS/Usage CallCount of Secrets Manager: exactly the calls made.
 * Metrics are published every second here (metrics.periodMs 1000); the queries use 60 s periods, as a dashboard does,
 * and sum over every period returned, so a load that straddles a minute boundary still adds up.
 * When the sessions close, the next periods count none (read from the Prometheus mirror at /_cellar/metrics); a
 * killed engine's restart is counted in cellar_engine_restarts_total.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateDBInstanceCommand, DeleteDBInstanceCommand, DescribeDBInstancesCommand, RDSClient, type DBInstance } from '@aws-sdk/client-rds';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const PASSWORD = 'Metr1cs-secret!';
/** AllocatedStorage 20 stands for 20 x 32 MiB here. */
const STORAGE_GIB_BYTES = 32 * 1024 * 1024;
const SESSIONS = 4;
const PUTS = 50;
const GETS = 20;
const SECRET_READS = 3;

async function rdsGauge(endpoint: string, metric: string, id: string): Promise<number | undefined> {
  const text = await (await fetch(`${endpoint}/_cellar/metrics`)).text();
  const family = parsePrometheusTextFormat(text).find((f) => f.name === `aws_rds_${metric}`);
  const s = family?.metrics.find((m) => m.labels?.['db_instance_identifier'] === id);
  return s?.value === undefined ? undefined : Number(s.value);
}

describe('CloudWatch metrics from a scripted load on RDS PostgreSQL and DynamoDB', () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let rds: RDSClient;
  let cloudwatch: CloudWatchClient;
  let instance: DBInstance;

  before(async () => {
    dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { storageGiBBytes: STORAGE_GIB_BYTES, healthIntervalMs: 250 }, metrics: { periodMs: 1000 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    cloudwatch = new CloudWatchClient(sdkConfig(cellar.endpoint));
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'metered-pg', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, DBName: 'app', Port: await freePort() }));
    instance = (await waitFor(async () => {
      const i = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'metered-pg' }))).DBInstances![0]!;
      return i.DBInstanceStatus === 'available' ? i : undefined;
    }, 'metered-pg available', 120_000, 200))!;
  });
  after(async () => {
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'metered-pg', SkipFinalSnapshot: true })).catch(() => undefined);
    await cellar.stop();
    removeDir(dataDir);
  });

  /** Every value GetMetricData returns for one metric statistic over the test's window, at 60 s periods. */
  async function values(namespace: string, metric: string, dimensions: Record<string, string>, stat: string, startTime: Date): Promise<number[]> {
    const query: MetricDataQuery = {
      Id: 'm',
      MetricStat: { Metric: { Namespace: namespace, MetricName: metric, Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })) }, Period: 60, Stat: stat },
    };
    const out = await cloudwatch.send(new GetMetricDataCommand({ MetricDataQueries: [query], StartTime: startTime, EndTime: new Date(Date.now() + 120_000) }));
    const result = out.MetricDataResults?.find((r) => r.Id === 'm');
    assert.equal(result?.StatusCode, 'Complete');
    return result?.Values ?? [];
  }
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

  it('GetMetricData returns the sessions, I/O, CPU, capacity, latency and calls of the load', async () => {
    // CloudWatch's 60 s periods start on the minute: the window starts at the minute the load began.
    const startTime = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);

    // DynamoDB: known puts and gets.
    const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await ddb.send(new CreateTableCommand({ TableName: 'metered', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: 'metered' });
    for (let i = 0; i < PUTS; i++) await ddb.send(new PutItemCommand({ TableName: 'metered', Item: { pk: { S: `k${i}` }, body: { S: 'x'.repeat(500) } } }));
    for (let i = 0; i < GETS; i++) await ddb.send(new GetItemCommand({ TableName: 'metered', Key: { pk: { S: `k${i}` } } }));
    // Secrets Manager: calls counted in AWS/Usage.
    const sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    await sm.send(new CreateSecretCommand({ Name: 'metered', SecretString: 's3cret' }));
    for (let i = 0; i < SECRET_READS; i++) await sm.send(new GetSecretValueCommand({ SecretId: 'metered' }));

    // RDS: known sessions, each writing while several periods pass.
    const ca = await rdsCaBundle(cellar.endpoint);
    const clients: pg.Client[] = [];
    try {
      for (let i = 0; i < SESSIONS; i++) {
        const c = new pg.Client({ host: instance.Endpoint!.Address, port: instance.Endpoint!.Port, user: 'master', password: PASSWORD, database: 'app', ssl: { ca }, connectionTimeoutMillis: 10_000 });
        await c.connect();
        clients.push(c);
      }
      await clients[0]!.query('CREATE TABLE load (id serial PRIMARY KEY, body text)');
      let writing = true;
      const writers = clients.map(async (c) => {
        while (writing) await c.query("INSERT INTO load (body) SELECT repeat('x', 200) FROM generate_series(1, 50)");
      });
      try {
        // Until a period saw all the sessions and the writes (at least three periods of load).
        await waitFor(async () => ((await values('AWS/RDS', 'DatabaseConnections', { DBInstanceIdentifier: 'metered-pg' }, 'Maximum', startTime)).includes(SESSIONS) ? true : undefined), `DatabaseConnections ${SESSIONS} in CloudWatch`, 60_000, 500);
        await waitFor(async () => (sum(await values('AWS/RDS', 'WriteIOPS', { DBInstanceIdentifier: 'metered-pg' }, 'Sum', startTime)) > 0 ? true : undefined), 'WriteIOPS in CloudWatch', 60_000, 500);
        await new Promise((r) => setTimeout(r, 2500));
      } finally {
        writing = false;
        await Promise.all(writers);
      }
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    }

    const instanceDims = { DBInstanceIdentifier: 'metered-pg' };
    // The sessions were held throughout: no period saw more (tolerance: exact).
    assert.equal(Math.max(...(await values('AWS/RDS', 'DatabaseConnections', instanceDims, 'Maximum', startTime))), SESSIONS);
    const cpu = await values('AWS/RDS', 'CPUUtilization', instanceDims, 'Maximum', startTime);
    assert.ok(cpu.length > 0 && Math.max(...cpu) > 0 && Math.max(...cpu) <= 100, `CPUUtilization ${cpu}`);
    const writeIops = await values('AWS/RDS', 'WriteIOPS', instanceDims, 'Average', startTime);
    assert.ok(Math.max(...writeIops) > 0, `WriteIOPS ${writeIops}`);
    const freeable = await values('AWS/RDS', 'FreeableMemory', instanceDims, 'Minimum', startTime);
    // db.t3.micro: 1 GiB on AWS, a quarter of it here (rds.memoryScale), at most the host's memory.
    assert.ok(freeable.length > 0 && freeable.every((v) => v > 0 && v <= 1024 ** 3), `FreeableMemory ${freeable}`);
    const freeStorage = await values('AWS/RDS', 'FreeStorageSpace', instanceDims, 'Minimum', startTime);
    assert.ok(freeStorage.length > 0 && freeStorage.every((v) => v > 0 && v < 20 * STORAGE_GIB_BYTES), `FreeStorageSpace ${freeStorage}`);

    // DynamoDB: the units are exact (items under 1 KB: one write unit each; eventually consistent reads under 4 KB:
    // half a unit each), as is the number of successful requests; the latency is bounded.
    const table = { TableName: 'metered' };
    await waitFor(async () => (sum(await values('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', table, 'Sum', startTime)) === PUTS ? true : undefined), `${PUTS} write units`, 10_000, 250);
    assert.equal(sum(await values('AWS/DynamoDB', 'ConsumedReadCapacityUnits', table, 'Sum', startTime)), GETS / 2);
    assert.equal(sum(await values('AWS/DynamoDB', 'ConsumedWriteCapacityUnits', table, 'SampleCount', startTime)), PUTS);
    const putOp = { TableName: 'metered', Operation: 'PutItem' };
    assert.equal(sum(await values('AWS/DynamoDB', 'SuccessfulRequestLatency', putOp, 'SampleCount', startTime)), PUTS);
    const latency = await values('AWS/DynamoDB', 'SuccessfulRequestLatency', putOp, 'Average', startTime);
    assert.ok(latency.length > 0 && latency.every((v) => v > 0 && v < 2000), `SuccessfulRequestLatency ${latency} ms`);
    const usage = { Service: 'Secrets Manager', Type: 'API', Resource: 'GetSecretValue', Class: 'None' };
    assert.equal(sum(await values('AWS/Usage', 'CallCount', usage, 'Sum', startTime)), SECRET_READS);

    // The sessions closed: the next periods count none.
    await waitFor(async () => ((await rdsGauge(cellar.endpoint, 'database_connections', 'metered-pg')) === 0 ? true : undefined), 'DatabaseConnections = 0', 30_000, 200);
  });

  it('counts an engine restart after a crash in cellar_engine_restarts_total', async () => {
    const restarts = async (): Promise<number> => {
      const text = await (await fetch(`${cellar.endpoint}/_cellar/metrics`)).text();
      const s = parsePrometheusTextFormat(text).find((f) => f.name === 'cellar_engine_restarts_total')?.metrics.find((m) => m.labels?.['engine'] === 'postgres');
      return Number(s?.value ?? 0);
    };
    assert.equal(await restarts(), 0);
    const health = (await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as { services: { rds: { instances: Array<{ id: string; pid: number }> } } };
    const pid = health.services.rds.instances.find((i) => i.id === 'metered-pg')!.pid;
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => ((await restarts()) === 1 ? true : undefined), 'one postgres restart counted', 60_000, 200);
  });
});
