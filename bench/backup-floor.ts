/**
 * Backups of a ~1 GB PostgreSQL database through the adapter against PostgreSQL's own tools run directly (the
 * floor), and the LatestRestorableTime lag under write load.
 *
 *   npm run build && node dist/bench/backup-floor.js [scale=70] [rounds=2] [loadSeconds=20]
 *
 * - backup: `pg_basebackup -Ft -X stream --compress=lz4 --checkpoint=fast` run directly, against
 *   adapter.backup() (the same command, plus the sha256 manifest and fsyncs), interleaved;
 * - restore of that base backup alone: `tar -I lz4 -x` of both archives + postgres started until it answers a
 *   query (crash recovery from the backup label) + fast stop, done by hand, against adapter.restoreToPoint()
 *   (verify checksums, extract, recovery run, stop, sync of the instance);
 * - a point-in-time restore to the latest archived time (base + archived WAL) through the adapter, reported alone;
 * - lag: pgbench tpcb-like, 4 clients, while latestArchivedTime() is asked every 250 ms (lag = answer time minus
 *   the time answered); and pgbench's TPS with archiving on against off, interleaved.
 * Ratios are what to read (the machine is shared and noisy). Prints a JSON summary and writes it to bench/results.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { setLogLevel } from '../src/core/log.js';
import { LocalHost } from '../src/engines/host.js';
import { PostgresEngine, DEFAULT_POSTGRES_BIN_DIR } from '../src/engines/postgres/adapter.js';
import { preparePlace, verifyBackup } from '../src/engines/backup/index.js';
import type { BackupPlace } from '../src/engines/adapter.js';

setLogLevel('error');
const scale = Number(process.argv[2] ?? 70);
const rounds = Number(process.argv[3] ?? 2);
const loadSeconds = Number(process.argv[4] ?? 20);
const BIN = DEFAULT_POSTGRES_BIN_DIR;
const PASSWORD = 'Bench-secret-1';
const host = await LocalHost.create();
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-backup-bench-'));
fs.chmodSync(base, 0o711);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const engineUser = host.engineUser;
const asEngine = { uid: engineUser.uid, gid: engineUser.gid };

function newEngine(name: string, port: number): PostgresEngine {
  return new PostgresEngine(host, {
    engine: 'postgres',
    name,
    dataDir: path.join(base, name),
    port,
    masterUsername: 'bench',
    masterPassword: PASSWORD,
    dbName: 'bench',
    params: { shared_buffers: '256MB', max_wal_size: '2GB' },
  });
}

function pgbench(port: number, args: string[]): string {
  return execFileSync(path.join(BIN, 'pgbench'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'bench', ...args, 'bench'], {
    env: { ...process.env, PGPASSWORD: PASSWORD },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return total;
}

async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t = Date.now();
  const value = await fn();
  return { ms: Date.now() - t, value };
}

const primary = newEngine('primary', await host.findFreePort());
await primary.initialise();
await primary.start();
const password = (await primary.replicationCredentials()).password;
console.error(`loading pgbench scale ${scale}...`);
const load = await timed(() => pgbench(primary.spec.port, ['-i', '-q', '-s', String(scale)]));
const dbBytes = Number(
  (await (async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: primary.spec.port, user: 'bench', password: PASSWORD, database: 'bench' });
    await c.connect();
    const r = await c.query<{ b: string }>('SELECT pg_database_size(current_database())::text AS b');
    await c.end();
    return r.rows[0]!.b;
  })()),
);
console.error(`loaded ${(dbBytes / 2 ** 30).toFixed(2)} GiB in ${load.ms} ms`);

const place: BackupPlace = await preparePlace(host, path.join(base, 'backups'), { accountId: '123456789012', region: 'us-east-1', resourceId: 'db-BENCH' });
await primary.startLogArchiving(place);

function directBackup(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.chownSync(dir, engineUser.uid, engineUser.gid);
  const r = spawnSync(
    path.join(BIN, 'pg_basebackup'),
    ['-d', `host=${primary.layout.run} port=${primary.spec.port} user=rdsrepladmin`, '-D', dir, '-Ft', '-X', 'stream', '--compress=lz4', '--checkpoint=fast'],
    { env: { PATH: process.env.PATH, PGPASSWORD: password }, ...asEngine, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`pg_basebackup: ${r.stderr}`);
}

async function directRestore(backupDir: string, name: string): Promise<void> {
  const data = path.join(base, name, 'data');
  fs.mkdirSync(data, { recursive: true, mode: 0o700 });
  fs.chmodSync(path.join(base, name), 0o711);
  fs.chownSync(data, engineUser.uid, engineUser.gid);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { ...asEngine, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  };
  run('tar', ['-x', '-I', 'lz4', '-f', path.join(backupDir, 'base.tar.lz4'), '-C', data]);
  // pg_basebackup 15 compresses the WAL archive with gzip only; with lz4 it leaves it plain.
  const walTar = fs.readdirSync(backupDir).find((n) => n.startsWith('pg_wal.tar'))!;
  run('tar', ['-x', ...(walTar.endsWith('.lz4') ? ['-I', 'lz4'] : walTar.endsWith('.gz') ? ['-z'] : []), '-f', path.join(backupDir, walTar), '-C', path.join(data, 'pg_wal')]);
  const port = await host.findFreePort();
  const sock = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-bench-sock-'));
  fs.chownSync(sock, engineUser.uid, engineUser.gid);
  const proc = host.spawn({ command: path.join(BIN, 'postgres'), args: ['-D', data, '-p', String(port), '-c', `unix_socket_directories=${sock}`, '-c', 'listen_addresses=127.0.0.1'], logFile: path.join(base, `${name}.log`) });
  const deadline = Date.now() + 600_000;
  for (;;) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'bench', password: PASSWORD, database: 'bench', connectionTimeoutMillis: 1000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      break;
    } catch {
      await c.end().catch(() => {});
      if (proc.exitStatus() || Date.now() > deadline) throw new Error(`direct restore never answered (see ${name}.log)`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  proc.signal('SIGINT');
  await proc.exited;
  fs.rmSync(sock, { recursive: true, force: true });
}

const results: Record<string, number[]> = { directBackupMs: [], adapterBackupMs: [], directRestoreMs: [], adapterRestoreMs: [], adapterPitrLatestMs: [], backupBytes: [] };
const restorePhases: Array<Record<string, number>> = [];
const pitrPhases: Array<Record<string, number>> = [];
for (let i = 0; i < rounds; i++) {
  const order = i % 2 === 0 ? ['direct', 'adapter'] : ['adapter', 'direct'];
  let adapterBackupDir = '';
  let directDir = '';
  for (const who of order) {
    if (who === 'direct') {
      directDir = path.join(base, `direct-${i}`);
      results.directBackupMs!.push((await timed(() => directBackup(directDir))).ms);
    } else {
      const b = await timed(() => primary.backup(place, `bench-${i}`));
      results.adapterBackupMs!.push(b.ms);
      results.backupBytes!.push(b.value.bytes);
      adapterBackupDir = b.value.dir;
    }
  }
  console.error(`round ${i}: backups done`);
  const backupInfo = await verifyBackup(adapterBackupDir);
  for (const who of order) {
    if (who === 'direct') results.directRestoreMs!.push((await timed(() => directRestore(directDir, `direct-restore-${i}`))).ms);
    else {
      const target = newEngine(`restore-${i}`, await host.findFreePort());
      results.adapterRestoreMs!.push((await timed(() => target.restoreToPoint({ base: backupInfo, dataDir: target.spec.dataDir }))).ms);
      restorePhases.push(target.lastRestorePhasesMs);
      await target.destroy();
    }
  }
  fs.rmSync(path.join(base, `direct-restore-${i}`), { recursive: true, force: true });
  const pitr = newEngine(`pitr-${i}`, await host.findFreePort());
  results.adapterPitrLatestMs!.push((await timed(() => pitr.restoreToPoint({ base: backupInfo, dataDir: pitr.spec.dataDir, archiveDir: place.archiveDir }))).ms);
  pitrPhases.push(pitr.lastRestorePhasesMs);
  await pitr.destroy();
  fs.rmSync(directDir, { recursive: true, force: true });
  console.error(`round ${i}: restores done`);
}

// Lag and archiving cost under pgbench (run asynchronously, so that the sampler runs meanwhile).
async function loadRunAsync(archiving: boolean): Promise<{ tps: number; lagsMs: number[] }> {
  if (archiving) {
    // Archiving was off during the previous run: first let it catch up on the WAL the slot kept meanwhile, so the
    // lag measured is the steady state's (archiving is never off in service).
    const resumedAt = Date.now();
    await primary.startLogArchiving(place);
    const deadline = Date.now() + 300_000;
    while (((await primary.latestArchivedTime(place)) ?? 0) < resumedAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    catchUpMs.push(Date.now() - resumedAt);
  } else await primary.stopLogArchiving();
  const lagsMs: number[] = [];
  const child = spawn(path.join(BIN, 'pgbench'), ['-h', '127.0.0.1', '-p', String(primary.spec.port), '-U', 'bench', '-c', '4', '-j', '2', '-T', String(loadSeconds), 'bench'], {
    env: { ...process.env, PGPASSWORD: PASSWORD },
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let finished = false;
  void done.then(() => (finished = true));
  await new Promise((r) => setTimeout(r, 1000));
  while (!finished && archiving) {
    const latest = await primary.latestArchivedTime(place);
    if (latest !== undefined) lagsMs.push(Date.now() - latest);
    await new Promise((r) => setTimeout(r, 250));
  }
  await done;
  const m = /tps = ([\d.]+)/.exec(out);
  return { tps: m ? Number(m[1]) : NaN, lagsMs };
}
const catchUpMs: number[] = [];
const tpsOn: number[] = [];
const tpsOff: number[] = [];
const lags: number[] = [];
for (let i = 0; i < rounds; i++) {
  for (const archiving of i % 2 === 0 ? [true, false] : [false, true]) {
    const r = await loadRunAsync(archiving);
    (archiving ? tpsOn : tpsOff).push(r.tps);
    lags.push(...r.lagsMs);
  }
  console.error(`round ${i}: load done`);
}
await primary.stopLogArchiving({ forget: true });
await primary.stop('fast');

const summary = {
  when: new Date().toISOString(),
  scale,
  databaseBytes: dbBytes,
  rounds,
  backup: {
    directMs: results.directBackupMs,
    adapterMs: results.adapterBackupMs,
    storedBytes: results.backupBytes,
    directMBps: median(results.directBackupMs!.map((ms) => dbBytes / 1e6 / (ms / 1000))),
    adapterMBps: median(results.adapterBackupMs!.map((ms) => dbBytes / 1e6 / (ms / 1000))),
    adapterOverDirect: median(results.adapterBackupMs!) / median(results.directBackupMs!),
  },
  restoreBaseOnly: {
    directMs: results.directRestoreMs,
    adapterMs: results.adapterRestoreMs,
    adapterOverDirect: median(results.adapterRestoreMs!) / median(results.directRestoreMs!),
    adapterPhasesMs: restorePhases,
  },
  restoreLatestPhasesMs: pitrPhases,
  restoreLatestWithArchiveMs: results.adapterPitrLatestMs,
  load: {
    seconds: loadSeconds,
    tpsArchivingOn: tpsOn,
    tpsArchivingOff: tpsOff,
    onOverOff: median(tpsOn) / median(tpsOff),
    lagMs: { samples: lags.length, median: median(lags), p95: pct(lags, 95), max: Math.max(...lags) },
    archiveCatchUpAfterOffMs: catchUpMs,
  },
  archiveBytes: dirBytes(place.archiveDir),
};
console.log(JSON.stringify(summary, null, 2));
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync(path.join('bench/results', 'backup-floor.json'), JSON.stringify(summary, null, 2) + '\n');
await primary.destroy();
fs.rmSync(base, { recursive: true, force: true });
