/**
 * Stopping Cellar: on SIGTERM a request in flight is answered while new connections are refused and idle ones
 * closed, then every service stops and the process exits 0; RDS engines are shut down cleanly (PostgreSQL's log
 * says so). A second signal hurries the stop: the drain ends and engines get an immediate shutdown, and the process
 * exits long before the drain's bound. Waits are for outcomes, each bounded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { freePort, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';
import { signedRequest } from '../helpers/sign.js';
import { RawClient } from '../helpers/raw.js';

/** The drain bound the tests configure: far longer than any of them may take. */
const DRAIN_MS = 60_000;
const EXIT_BOUND_MS = 20_000;

/** A Cellar with these settings: on dataDir (its cellar.json), or in memory (a config file in a directory removed on exit). */
async function startWith(settings: Record<string, unknown>, dataDir?: string): Promise<CellarProcess> {
  const dir = dataDir ?? tempDir();
  writeFileSync(join(dir, 'cellar.json'), JSON.stringify(settings));
  if (dataDir) return startCellar({ dataDir, args: ['--quiet'] });
  const cellar = await startCellar({ inMemory: true, args: ['--config', join(dir, 'cellar.json'), '--quiet'] });
  cellar.proc.once('exit', () => removeDir(dir));
  return cellar;
}

/** Resolves with the exit code and signal, or rejects if the process has not exited within timeoutMs. */
function exited(cellar: CellarProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const proc = cellar.proc;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cellar did not exit within ${timeoutMs} ms:\n${cellar.output.slice(-20).join('\n')}`)), timeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** A PutItem whose head (with Expect: 100-continue) is sent and admitted, and whose body is held back. */
async function putInFlight(cellar: CellarProcess): Promise<{ client: RawClient; rest: Buffer }> {
  const body = Buffer.from(JSON.stringify({ TableName: 'drain', Item: { pk: { S: 'in-flight' }, blob: { S: 'z'.repeat(100_000) } } }));
  const req = await signedRequest(cellar.endpoint, body, { service: 'dynamodb', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' } });
  const head = ['POST / HTTP/1.1'];
  req.headers.forEach((v, k) => {
    if (k !== 'content-length') head.push(`${k}: ${v}`);
  });
  head.push(`content-length: ${body.length}`, 'expect: 100-continue');
  const client = await RawClient.open(cellar.port);
  client.write(head.join('\r\n') + '\r\n\r\n');
  // 100 Continue: the head has been checked and its body admitted, so the request is in flight.
  assert.equal((await client.reply()).status, 100);
  client.write(body.subarray(0, 1000));
  return { client, rest: body.subarray(1000) };
}

async function createTable(cellar: CellarProcess): Promise<void> {
  const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
  await ddb.send(new CreateTableCommand({ TableName: 'drain', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  ddb.destroy();
}

/** True once connecting to the port is refused (the listener is closed). */
async function refused(port: number): Promise<boolean> {
  return RawClient.open(port).then(
    (c) => {
      c.destroy();
      return false;
    },
    (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
  );
}

describe('stopping Cellar', () => {
  it('on SIGTERM answers the request in flight, refuses new connections, closes idle ones, and exits 0', async () => {
    const cellar = await startWith({ shutdownDrainMs: DRAIN_MS });
    try {
      await createTable(cellar);
      const idle = await RawClient.open(cellar.port);
      idle.write('GET /_cellar/health HTTP/1.1\r\nhost: x\r\n\r\n');
      assert.equal((await idle.reply()).status, 200);
      const { client, rest } = await putInFlight(cellar);

      cellar.proc.kill('SIGTERM');
      assert.equal(await idle.waitClosed(), true, 'the idle keep-alive connection is closed');
      assert.ok(await waitFor(() => refused(cellar.port), 'new connections to be refused', 10_000), 'new connections are refused');
      assert.equal(client.closed, false, 'the request in flight keeps its connection');
      assert.equal(cellar.proc.exitCode, null, 'still draining');

      client.write(rest);
      const r = await client.reply();
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['connection'], 'close');
      assert.equal(await client.waitClosed(), true);
      assert.deepEqual(await exited(cellar, EXIT_BOUND_MS), { code: 0, signal: null });
      assert.ok(cellar.output.some((l) => l.includes('requests drained; stopping services')));
    } finally {
      await cellar.kill9();
    }
  });

  it('a second signal ends the drain and exits long before its bound', async () => {
    const cellar = await startWith({ shutdownDrainMs: DRAIN_MS });
    try {
      await createTable(cellar);
      const { client } = await putInFlight(cellar);
      cellar.proc.kill('SIGTERM');
      await waitFor(() => refused(cellar.port), 'the drain to begin', 10_000);
      assert.equal(client.closed, false, 'the drain waits for the request in flight');
      cellar.proc.kill('SIGINT');
      assert.deepEqual(await exited(cellar, EXIT_BOUND_MS), { code: 0, signal: null });
      assert.equal(await client.waitClosed(), true);
      assert.ok(cellar.output.some((l) => l.includes('hurrying the shutdown')));
    } finally {
      await cellar.kill9();
    }
  });
});

describe('stopping Cellar with an RDS PostgreSQL instance', () => {
  const CREATE_TIMEOUT_MS = 60_000;

  async function withInstance(id: string): Promise<{ cellar: CellarProcess; dataDir: string; pid: number; log: string }> {
    const dataDir = tempDir();
    const cellar = await startWith({ shutdownDrainMs: DRAIN_MS, rds: { healthIntervalMs: 250 } }, dataDir);
    const rds = new RDSClient(sdkConfig(cellar.endpoint));
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: 'Sup3r-secret!', Port: await freePort() }));
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!.DBInstanceStatus === 'available', `${id} to be available`, CREATE_TIMEOUT_MS, 100);
    rds.destroy();
    const health = (await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as any;
    const pid = health.services.rds.instances.find((x: any) => x.id === id).pid as number;
    const scope = join(dataDir, 'rds', '000000000000', 'us-east-1');
    const instanceDir = readdirSync(scope).find((d) => d.startsWith(`${id}-`));
    assert.ok(instanceDir, `an instance directory for ${id} under ${scope}`);
    const log = join(scope, instanceDir, 'log', 'postgres.log');
    assert.ok(existsSync(log), log);
    return { cellar, dataDir, pid, log };
  }

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('on SIGTERM, the engine is shut down cleanly before Cellar exits 0', async () => {
    const { cellar, dataDir, pid, log } = await withInstance('drain-pg');
    try {
      assert.equal(alive(pid), true);
      cellar.proc.kill('SIGTERM');
      assert.deepEqual(await exited(cellar, 90_000), { code: 0, signal: null });
      assert.equal(alive(pid), false, `engine process ${pid} is gone`);
      const text = readFileSync(log, 'utf8');
      assert.match(text, /received fast shutdown request/);
      assert.match(text, /database system is shut down/);
    } finally {
      await cellar.kill9();
      removeDir(dataDir);
    }
  });

  it('a second signal stops the engine immediately and Cellar exits long before the drain bound', async () => {
    const { cellar, dataDir, pid, log } = await withInstance('hurry-pg');
    try {
      await createTable(cellar);
      const { client } = await putInFlight(cellar);
      cellar.proc.kill('SIGTERM');
      await waitFor(() => refused(cellar.port), 'the drain to begin', 10_000);
      assert.equal(client.closed, false, 'the drain waits for the request in flight');
      cellar.proc.kill('SIGINT');
      assert.deepEqual(await exited(cellar, EXIT_BOUND_MS), { code: 0, signal: null });
      assert.equal(alive(pid), false, `engine process ${pid} is gone`);
      assert.match(readFileSync(log, 'utf8'), /received immediate shutdown request/);
    } finally {
      await cellar.kill9();
      removeDir(dataDir);
    }
  });
});
