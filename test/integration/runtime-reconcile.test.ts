/**
 * The reconcile runtime (src/runtime/) on a real PostgreSQL behind RDS: desired versus observed state, a crash at
 * every step, and one decider acting.
 *
 * - A crash at every step: for each ensure-step of a DB instance's reconciler in turn, Cellar starts with
 *   `runtime.<step>@1=kill` (core/faults.ts), so the process dies by SIGKILL the first time that step is entered;
 *   the next, fault-free start finishes the reconcile: the instance is `available`, its desired and observed
 *   generations agree, and the master user reads back a row written before... or, for a kill before the engine was
 *   ever initialised, the engine is created then.
 * - Desired versus observed: StopDBInstance / StartDBInstance / RebootDBInstance are written as desired state and the
 *   status follows observation; a Cellar killed right after the API answered finds desired and observed apart and
 *   converges them.
 * - One decider: kill -9 of the engine gives exactly one "DB instance shutdown" and one "DB instance restarted", the
 *   decider's sentence in the log, and exactly one new engine process.
 * - Records stored before the runtime (status as a command) still load: rewritten in the old shape in the state
 *   database, they come back as they were (running with their data, stopped, and startable).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import Database from 'better-sqlite3';
import {
  RDSClient,
  CreateDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  RebootDBInstanceCommand,
  StartDBInstanceCommand,
  StopDBInstanceCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const RDS_TIMEOUT_MS = 90_000;
const PASSWORD = 'Passw0rd-runtime';
/** The DB instance reconciler's steps, in order (services/rds/instance-steps.ts), as fault points. */
const STEPS = [
  'ensure-members',
  'ensure-not-failed',
  'ensure-deleted',
  'ensure-data-dir',
  'ensure-stopped',
  'ensure-health',
  'ensure-configuration',
  'ensure-process',
  'ensure-users',
  'ensure-tls',
  'ensure-storage',
  'ensure-parameters',
  'ensure-maintenance',
  'ensure-backups',
];

const dirs: string[] = [];
const processes: CellarProcess[] = [];
after(async () => {
  for (const p of processes) await p.kill9().catch(() => undefined);
  for (const d of dirs) removeDir(d);
});

function dataDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  writeFileSync(join(dir, 'cellar.json'), JSON.stringify({ rds: { healthIntervalMs: 250 } }));
  return dir;
}

async function start(dir: string, faults = '', port?: number, quiet = true): Promise<CellarProcess> {
  const c = await startCellar({ dataDir: dir, args: quiet ? ['--quiet'] : [], env: { CELLAR_FAULTS: faults }, ...(port ? { port } : {}) });
  processes.push(c);
  return c;
}

const exited = (c: CellarProcess) => new Promise<void>((resolve) => (c.proc.exitCode !== null || c.proc.signalCode !== null ? resolve() : c.proc.once('exit', () => resolve())));
const describeOne = async (rds: RDSClient, id: string): Promise<DBInstance | undefined> => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })).catch(() => undefined))?.DBInstances?.[0];
const statusOf = async (rds: RDSClient, id: string) => (await describeOne(rds, id))?.DBInstanceStatus;
const healthOf = async (c: CellarProcess, id: string) => ((await (await fetch(`${c.endpoint}/_cellar/health`)).json()) as any).services.rds.instances?.find((x: any) => x.id === id);
const events = async (rds: RDSClient, id: string) => (await rds.send(new DescribeEventsCommand({ SourceIdentifier: id, SourceType: 'db-instance', Duration: 60 }))).Events!;

async function create(rds: RDSClient, id: string): Promise<void> {
  await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, DBName: 'app', Port: await freePort() }));
}

/** As RDS's PostgreSQL requires (rds.force_ssl=1): TLS, verified against Cellar's RDS CA bundle. */
async function query(cellar: CellarProcess, i: DBInstance, sql: string): Promise<any[]> {
  const c = new pg.Client({ host: i.Endpoint!.Address, port: i.Endpoint!.Port!, user: 'master', password: PASSWORD, database: 'app', connectionTimeoutMillis: 5000, ssl: { ca: await rdsCaBundle(cellar.endpoint) } });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Available under c, with desired and observed generations agreeing (the reconcile finished). */
async function converged(c: CellarProcess, rds: RDSClient, id: string): Promise<DBInstance> {
  await waitFor(async () => (await statusOf(rds, id)) === 'available', `${id} available`, RDS_TIMEOUT_MS, 200);
  await waitFor(async () => {
    const h = await healthOf(c, id);
    return h && h.generation.desired === h.generation.observed && h.engine === 'running';
  }, `${id} desired and observed generations to agree`, 20_000, 100);
  return (await describeOne(rds, id))!;
}

describe('reconcile runtime', () => {
  for (const step of STEPS) {
    it(`a crash at ${step}: the next start finishes the reconcile`, { timeout: 3 * RDS_TIMEOUT_MS }, async () => {
      const dir = dataDir();
      const port = await freePort();
      const first = await start(dir, `runtime.${step}@1=kill`, port);
      let rds = new RDSClient(sdkConfig(first.endpoint));
      // The record is committed before the reconcile it asks for starts; the answer may not get out before the kill.
      await create(rds, 'crashy').catch(() => undefined);
      await waitFor(() => first.proc.signalCode !== null || first.proc.exitCode !== null, `Cellar to die at ${step}`, RDS_TIMEOUT_MS, 100);
      await exited(first);
      assert.equal(first.proc.signalCode, 'SIGKILL', `killed at ${step} by the injected fault`);

      const second = await start(dir, '', port);
      rds = new RDSClient(sdkConfig(second.endpoint));
      const i = await converged(second, rds, 'crashy');
      assert.deepEqual(await query(second, i, 'SELECT 1 AS one'), [{ one: 1 }], `the engine serves after a crash at ${step}`);
      const messages = (await events(rds, 'crashy')).map((e) => e.Message);
      assert.equal(messages.filter((m) => m === 'DB instance created').length, 1, `created once (crash at ${step}): ${messages.join('; ')}`);
      await second.stop();
      assert.equal(second.proc.exitCode, 0);
    });
  }

  it('desired versus observed: API writes are desired state; a Cellar killed before acting on them converges after restart', { timeout: 10 * RDS_TIMEOUT_MS }, async () => {
    const dir = dataDir();
    const port = await freePort();
    let c = await start(dir, '', port);
    let rds = new RDSClient(sdkConfig(c.endpoint));
    await create(rds, 'steady');
    let i = await converged(c, rds, 'steady');
    await query(c, i, 'CREATE TABLE t (v int); INSERT INTO t VALUES (42)');

    // Stop, then kill -9 at once: the desired state (stopped) was acknowledged, the engine may not be stopped yet.
    const stop = await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'steady' }));
    assert.equal(stop.DBInstance!.DBInstanceStatus, 'stopping', 'derived: stop asked, engine not yet stopped');
    await c.kill9();
    c = await start(dir, '', port);
    rds = new RDSClient(sdkConfig(c.endpoint));
    await waitFor(async () => (await statusOf(rds, 'steady')) === 'stopped', 'steady stopped after the restart', RDS_TIMEOUT_MS, 200);
    const h = await healthOf(c, 'steady');
    assert.equal(h.engine, 'stopped');
    await waitFor(async () => {
      const x = await healthOf(c, 'steady');
      return x.generation.desired === x.generation.observed;
    }, 'the stop to converge', 20_000, 100);

    // Start, then kill -9: starting → available after the restart, data intact.
    const startRes = await rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'steady' }));
    assert.equal(startRes.DBInstance!.DBInstanceStatus, 'starting');
    await c.kill9();
    c = await start(dir, '', port);
    rds = new RDSClient(sdkConfig(c.endpoint));
    i = await converged(c, rds, 'steady');
    assert.deepEqual(await query(c, i, 'SELECT v FROM t'), [{ v: 42 }]);

    // Reboot, then kill -9: the reboot asked is still owed, and done, after the restart.
    const pidBefore = (await healthOf(c, 'steady')).pid;
    const reboot = await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: 'steady' }));
    assert.equal(reboot.DBInstance!.DBInstanceStatus, 'rebooting');
    await c.kill9();
    c = await start(dir, '', port);
    rds = new RDSClient(sdkConfig(c.endpoint));
    i = await converged(c, rds, 'steady');
    const pidAfter = (await healthOf(c, 'steady')).pid;
    assert.ok(pidAfter > 0 && pidAfter !== pidBefore, `a new engine (pid ${pidBefore} -> ${pidAfter})`);
    assert.deepEqual(await query(c, i, 'SELECT v FROM t'), [{ v: 42 }]);
    const messages = (await events(rds, 'steady')).map((e) => e.Message);
    for (const m of ['DB instance created', 'DB instance stopped', 'DB instance started', 'DB instance restarted']) assert.ok(messages.includes(m), `${m} in ${messages.join('; ')}`);
    await c.stop();
  });

  it('one decider acts on a crashed engine: one shutdown, one restart, one new process', { timeout: 4 * RDS_TIMEOUT_MS }, async () => {
    const dir = dataDir();
    const c = await start(dir, '', undefined, false);
    const rds = new RDSClient(sdkConfig(c.endpoint));
    await create(rds, 'watched');
    const i = await converged(c, rds, 'watched');
    const pid = (await healthOf(c, 'watched')).pid as number;
    const since = new Date(Date.now() - 1000);
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await statusOf(rds, 'watched')) !== 'available' || (await healthOf(c, 'watched')).pid !== pid, 'the crash to be noticed', 10_000, 50);
    await converged(c, rds, 'watched');
    const newPid = (await healthOf(c, 'watched')).pid as number;
    assert.ok(newPid > 0 && newPid !== pid);
    // Some ticks later, still the same engine: nobody else restarted it again.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await healthOf(c, 'watched')).pid, newPid, 'one restart only');
    const recent = (await events(rds, 'watched')).filter((e) => e.Date! >= since).map((e) => e.Message!);
    assert.equal(recent.filter((m) => m === 'DB instance shutdown').length, 1, recent.join('; '));
    assert.equal(recent.filter((m) => m === 'DB instance restarted').length, 1, recent.join('; '));
    const decided = recent.filter((m) => /exited unexpectedly \(signal SIGKILL\); restarting it \(crash restart 1 of 3 within 600 s\)$/.test(m));
    assert.equal(decided.length, 1, `the decider's one decision, as an event: ${recent.join('; ')}`);
    assert.ok(c.output.some((l) => l.includes('exited unexpectedly (signal SIGKILL); restarting it')), "the decider's sentence is logged");
    assert.deepEqual(await query(c, i, 'SELECT 1 AS one'), [{ one: 1 }]);
    await c.stop();
  });

  it('records stored in the shape from before the runtime load and converge: a running instance comes back with its data, a stopped one stays stopped and starts', { timeout: 6 * RDS_TIMEOUT_MS }, async () => {
    const dir = dataDir();
    const port = await freePort();
    let c = await start(dir, '', port);
    let rds = new RDSClient(sdkConfig(c.endpoint));
    await create(rds, 'legacy-up');
    await create(rds, 'legacy-stopped');
    const up = await converged(c, rds, 'legacy-up');
    await converged(c, rds, 'legacy-stopped');
    await query(c, up, 'CREATE TABLE t (v int); INSERT INTO t VALUES (7)');
    await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'legacy-stopped' }));
    await waitFor(async () => (await statusOf(rds, 'legacy-stopped')) === 'stopped', 'legacy-stopped stopped', RDS_TIMEOUT_MS, 200);
    await c.stop();

    // The old shape: the status was the reconciler's command, with desiredRunning, generation and storageFull beside it.
    const db = new Database(join(dir, 'state.db'));
    const rows = db.prepare('SELECT k, v FROM kv_rds_instances').all() as Array<{ k: Buffer; v: Buffer }>;
    assert.equal(rows.length, 2);
    for (const row of rows) {
      const rec = JSON.parse(row.v.toString('utf8'));
      const { desired, observed, members, ...rest } = rec;
      assert.ok(desired && observed && members, 'stored in the current shape before the rewrite');
      const old = { ...rest, desiredRunning: desired.running, generation: 5, storageFull: false };
      db.prepare('UPDATE kv_rds_instances SET v = ? WHERE k = ?').run(Buffer.from(JSON.stringify(old)), row.k);
    }
    db.close();

    c = await start(dir, '', port);
    rds = new RDSClient(sdkConfig(c.endpoint));
    const back = await converged(c, rds, 'legacy-up');
    assert.deepEqual(await query(c, back, 'SELECT v FROM t'), [{ v: 7 }]);
    assert.equal((await healthOf(c, 'legacy-up')).generation.desired, 5, 'the stored generation carried over');
    await waitFor(async () => (await statusOf(rds, 'legacy-stopped')) === 'stopped' && (await healthOf(c, 'legacy-stopped')).engine === 'stopped', 'legacy-stopped still stopped', RDS_TIMEOUT_MS, 200);
    await rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'legacy-stopped' }));
    await converged(c, rds, 'legacy-stopped');
    await c.stop();
  });
});
