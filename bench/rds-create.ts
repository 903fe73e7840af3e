/**
 * Benchmark: time from CreateDBInstance to `available` for each engine, against (1) the floor of running the
 * engine's own init and start commands directly, and (2) the engine layer alone (src/engines adapter
 * initialise + start, which is what RDS runs underneath: bootstrap in single-user mode, one filesystem sync,
 * marker file), measured alternately in the same run. (2) - (1) is the engine layer's cost, Cellar - (2) the
 * API, reconciler and polling.
 * Run: npx tsc -p . && node dist/bench/rds-create.js [runs]   (on a quiet machine)
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, chownSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand, DeleteDBInstanceCommand } from '@aws-sdk/client-rds';
import { sdkConfig, startCellar } from '../test/helpers/cellar.js';
import { LocalHost } from '../src/engines/host.js';
import { createRelationalEngine } from '../src/engines/index.js';

const RUNS = Number(process.argv[2] ?? 3);
const POLL_MS = 10;
const TIMEOUT_MS = 60_000;
const uid = Number(spawnSync('id', ['-u', 'cellar'], { encoding: 'utf8' }).stdout.trim() || userInfo().uid);
const gid = Number(spawnSync('id', ['-g', 'cellar'], { encoding: 'utf8' }).stdout.trim() || userInfo().gid);
const as = userInfo().uid === 0 ? { uid, gid } : {};

async function until(fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error('timed out');
}

function run(cmd: string, args: string[], opts: object = as): void {
  const r = spawnSync(cmd, args, { ...opts, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
}

async function floorPostgres(port: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'floor-pg-'));
  if (userInfo().uid === 0) chownSync(dir, uid, gid);
  const t0 = performance.now();
  run('/usr/lib/postgresql/15/bin/initdb', ['-D', join(dir, 'data'), '-U', 'rdsadmin', '-E', 'UTF8', '--locale=C', '-N', '--no-instructions', '-A', 'trust']);
  const p = spawn('/usr/lib/postgresql/15/bin/postgres', ['-D', join(dir, 'data'), '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`], { ...as, stdio: 'ignore' });
  await until(async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'rdsadmin', database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    await c.query('select 1');
    await c.end();
    return true;
  });
  const ms = performance.now() - t0;
  p.kill('SIGINT');
  await new Promise((r) => p.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

async function floorMariadb(port: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'floor-my-'));
  if (userInfo().uid === 0) chownSync(dir, uid, gid);
  const t0 = performance.now();
  run('mariadb-install-db', ['--no-defaults', `--datadir=${join(dir, 'data')}`, `--user=${userInfo().uid === 0 ? 'cellar' : userInfo().username}`, '--auth-root-authentication-method=socket', `--auth-root-socket-user=${userInfo().username}`, '--skip-test-db', '--skip-name-resolve', '--innodb-log-file-size=16777216'], {});
  const p = spawn('mariadbd', ['--no-defaults', `--datadir=${join(dir, 'data')}`, `--socket=${join(dir, 's.sock')}`, `--port=${port}`, '--bind-address=127.0.0.1', '--skip-log-bin', '--innodb-log-file-size=16777216'], { ...as, stdio: 'ignore' });
  await until(async () => {
    const c = await mysql.createConnection({ socketPath: join(dir, 's.sock'), user: userInfo().username });
    await c.query('select 1');
    await c.end();
    return true;
  });
  const ms = performance.now() - t0;
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

/** The engine layer alone, with the settings RDS gives a db.t3.micro (memory formulas left to the defaults). */
async function engineLayer(host: LocalHost, engine: 'postgres' | 'mariadb', port: number): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), `layer-${engine}-`));
  chmodSync(root, 0o711); // the engine user must pass through to its instance directory
  const adapter = createRelationalEngine(host, {
    engine,
    name: `bench-${engine}`,
    dataDir: join(root, 'instance'),
    port,
    masterUsername: 'master',
    masterPassword: 'Passw0rd-bench',
    dbName: 'app',
    params: engine === 'mariadb' ? { innodb_log_file_size: '16777216' } : {},
  });
  const t0 = performance.now();
  await adapter.initialise();
  await adapter.start();
  const ms = performance.now() - t0;
  await adapter.stop('fast');
  await adapter.destroy();
  rmSync(root, { recursive: true, force: true });
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const cellar = await startCellar({ args: ['--quiet'] });
  const rds = new RDSClient(sdkConfig(cellar.endpoint));
  const host = await LocalHost.create();
  const results: Record<string, { cellar: number[]; floor: number[]; layer: number[] }> = { postgres: { cellar: [], floor: [], layer: [] }, mariadb: { cellar: [], floor: [], layer: [] } };
  try {
    for (let i = 0; i < RUNS; i++) {
      for (const engine of ['postgres', 'mariadb'] as const) {
        // Alternate floor and Cellar so machine noise hits both alike.
        results[engine]!.floor.push(engine === 'postgres' ? await floorPostgres(25432) : await floorMariadb(23306));
        results[engine]!.layer.push(await engineLayer(host, engine, engine === 'postgres' ? 25433 : 23307));
        const id = `bench-${engine}-${i}`;
        const t0 = performance.now();
        await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: engine, DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: 'Passw0rd-bench', DBName: 'app' }));
        await until(async () => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!.DBInstanceStatus === 'available');
        results[engine]!.cellar.push(performance.now() - t0);
        await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }));
        await until(async () => !(await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.some((d) => d.DBInstanceIdentifier === id));
      }
    }
  } finally {
    await cellar.stop();
  }
  console.log(`| engine | runs | floor median (ms) | engine layer median (ms) | CreateDBInstance → available median (ms) | ratio to floor | all Cellar runs (ms) |`);
  console.log(`|---|---|---|---|---|---|---|`);
  for (const [engine, r] of Object.entries(results)) {
    const f = median(r.floor);
    const c = median(r.cellar);
    console.log(`| ${engine} | ${RUNS} | ${f.toFixed(0)} | ${median(r.layer).toFixed(0)} | ${c.toFixed(0)} | ${(c / f).toFixed(2)} | ${r.cellar.map((x) => x.toFixed(0)).join(', ')} |`);
  }
}

await main();
