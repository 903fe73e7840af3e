/**
 * AWS/RDS metrics sampled from a real PostgreSQL engine: with a known number of client sessions open and a write
 * load running, the period's DatabaseConnections equals the sessions, and CPUUtilization, FreeableMemory,
 * FreeStorageSpace and WriteIOPS are measured (read here from their Prometheus mirror at /_cellar/metrics).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateDBInstanceCommand, DeleteDBInstanceCommand, DescribeDBInstancesCommand, RDSClient, type DBInstance } from '@aws-sdk/client-rds';
import pg from 'pg';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const PASSWORD = 'Metr1cs-secret!';
/** AllocatedStorage 20 stands for 20 x 32 MiB here. */
const STORAGE_GIB_BYTES = 32 * 1024 * 1024;
const SESSIONS = 4;

async function rdsGauge(endpoint: string, metric: string, id: string): Promise<number | undefined> {
  const text = await (await fetch(`${endpoint}/_cellar/metrics`)).text();
  const family = parsePrometheusTextFormat(text).find((f) => f.name === `aws_rds_${metric}`);
  const s = family?.metrics.find((m) => m.labels?.['db_instance_identifier'] === id);
  return s?.value === undefined ? undefined : Number(s.value);
}

describe('AWS/RDS metrics from a real PostgreSQL', () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let rds: RDSClient;
  let instance: DBInstance;

  before(async () => {
    dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { storageGiBBytes: STORAGE_GIB_BYTES, healthIntervalMs: 250 }, metrics: { periodMs: 1000 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'metered-pg', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, DBName: 'app', Port: await freePort() }));
    instance = (await waitFor(async () => {
      const i = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'metered-pg' }))).DBInstances![0]!;
      return i.DBInstanceStatus === 'available' ? i : undefined;
    }, 'metered-pg available', 90_000, 200))!;
  });
  after(async () => {
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'metered-pg', SkipFinalSnapshot: true })).catch(() => undefined);
    await cellar.stop();
    removeDir(dataDir);
  });

  it('counts the open sessions and measures the engine under a write load', async () => {
    const ca = await rdsCaBundle(cellar.endpoint);
    const clients: pg.Client[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const c = new pg.Client({ host: instance.Endpoint!.Address, port: instance.Endpoint!.Port, user: 'master', password: PASSWORD, database: 'app', ssl: { ca }, connectionTimeoutMillis: 10_000 });
      await c.connect();
      clients.push(c);
    }
    try {
      await clients[0]!.query('CREATE TABLE load (id serial PRIMARY KEY, body text)');
      // A write load on every session while the periods pass: commits mean WAL writes and fsyncs.
      let writing = true;
      const writers = clients.map(async (c) => {
        while (writing) await c.query("INSERT INTO load (body) SELECT repeat('x', 200) FROM generate_series(1, 50)");
      });
      try {
        const connections = await waitFor(async () => ((await rdsGauge(cellar.endpoint, 'database_connections', 'metered-pg')) === SESSIONS ? SESSIONS : undefined), `DatabaseConnections = ${SESSIONS}`, 30_000, 200);
        assert.equal(connections, SESSIONS);
        const writeIops = await waitFor(async () => {
          const v = await rdsGauge(cellar.endpoint, 'write_iops', 'metered-pg');
          return v !== undefined && v > 0 ? v : undefined;
        }, 'WriteIOPS above zero', 30_000, 200);
        assert.ok(writeIops! > 0);
        const cpu = await waitFor(async () => {
          const v = await rdsGauge(cellar.endpoint, 'cpu_utilization', 'metered-pg');
          return v !== undefined && v > 0 ? v : undefined;
        }, 'CPUUtilization above zero', 30_000, 200);
        assert.ok(cpu! > 0 && cpu! <= 100, `CPUUtilization ${cpu}`);
      } finally {
        writing = false;
        await Promise.all(writers);
      }
      const freeable = await rdsGauge(cellar.endpoint, 'freeable_memory', 'metered-pg');
      assert.ok(freeable !== undefined && freeable > 0, `FreeableMemory ${freeable}`);
      const free = await rdsGauge(cellar.endpoint, 'free_storage_space', 'metered-pg');
      assert.ok(free !== undefined && free > 0 && free < 20 * STORAGE_GIB_BYTES, `FreeStorageSpace ${free} of ${20 * STORAGE_GIB_BYTES}`);
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    }
    // The sessions closed: the next periods count none.
    await waitFor(async () => ((await rdsGauge(cellar.endpoint, 'database_connections', 'metered-pg')) === 0 ? true : undefined), 'DatabaseConnections = 0', 30_000, 200);
  });
});
