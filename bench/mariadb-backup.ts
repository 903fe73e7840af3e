/**
 * MariaDB backup and restore through the adapter against mariadb-backup run directly (the floor), and the
 * LatestRestorableTime lag of continuous binlog archiving under write load.
 *
 *   npm run build && node dist/bench/mariadb-backup.js [--mb 1024] [--rounds 2] [--lag-seconds 20]
 *
 * One source instance is loaded with `--mb` MiB of rows (random hex, so compression has real work), then, for each
 * round, in alternating order so the machine's drift hits both alike:
 * - backup, floor: `mariadb-backup --backup --target-dir` (a plain copy, no compression, no checksums);
 * - backup, floor compressed: `mariadb-backup --backup --stream=xbstream | zstd -1 -T0` (what the adapter runs);
 * - backup, adapter: `backup()` (the same pipeline + sha256 manifest + fsyncs);
 * - restore, floor: `--prepare` + `--copy-back` of the plain copy, then mariadbd to the first answered query;
 * - restore, floor compressed: `zstd -dc | mbstream -x`, `--prepare`, `--move-back`, mariadbd to the first query;
 * - restore, adapter: `restoreToPoint()` of the base backup (verify, zstd | mbstream, --prepare, --move-back) + start().
 * Then a writer inserts rows as fast as one connection can for `--lag-seconds`, with archiving on, while
 * latestArchivedTime() is sampled every 250 ms: lag = now - LatestRestorableTime.
 * Prints a JSON summary and writes bench/results/mariadb-backup.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { setLogLevel } from '../src/core/log.js';
import { LocalHost, settlesWithin } from '../src/engines/host.js';
import { MariadbEngine } from '../src/engines/mariadb/adapter.js';
import { preparePlace } from '../src/engines/backup/index.js';
import { median } from './common.js';

setLogLevel('error');
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const targetMiB = arg('mb', 1024);
const rounds = arg('rounds', 2);
const lagSeconds = arg('lag-seconds', 20);
const PASSWORD = 'bench-Pa55word';

const host = await LocalHost.create();
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-bench-mariabackup-'));
fs.chmodSync(base, 0o711);
const place = await preparePlace(host, path.join(base, 'backups'), { accountId: '000000000000', region: 'us-east-1', resourceId: 'db-BENCH' });

const newEngine = async (name: string) =>
  new MariadbEngine(host, {
    engine: 'mariadb',
    name,
    dataDir: path.join(base, name),
    port: await host.findFreePort(),
    masterUsername: 'admin',
    masterPassword: PASSWORD,
    dbName: 'appdb',
    params: { innodb_buffer_pool_size: '256M' },
  });
const connect = (port: number) => mysql.createConnection({ host: '127.0.0.1', port, user: 'admin', password: PASSWORD, database: 'appdb' });
const run = async (command: string, args: string[], asEngineUser = true) => {
  const r = await host.run({ command, args, timeoutMs: 3_600_000, asEngineUser });
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')}: exit ${r.code}: ${r.stderr.slice(-1000)}`);
};
const timed = async (fn: () => Promise<unknown>): Promise<number> => {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const dirBytes = (dir: string): number => {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
};

const source = await newEngine('source');
await source.initialise();
await source.start();
const socket = path.join(source.layout.run, 'mysqld.sock');

// Load: rows of 1 KiB of random hex (compresses to about half), `--mb` MiB of them, doubled in batches. The load is
// not binlogged (sql_log_bin off in Cellar's admin session over the socket): it is not what is measured.
{
  const c = await connect(source.spec.port);
  await c.query('CREATE TABLE big (id BIGINT AUTO_INCREMENT PRIMARY KEY, a CHAR(192) NOT NULL, b VARCHAR(800) NOT NULL) ENGINE=InnoDB');
  await c.end();
  const randomRow = 'CONCAT(MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND())), CONCAT(MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()), MD5(RAND()))';
  const targetRows = targetMiB * 1024;
  const statements = ['SET SESSION sql_log_bin = 0', `INSERT INTO appdb.big (a, b) SELECT ${randomRow} FROM seq_1_to_1024`];
  for (let rows = 1024; rows < targetRows; rows *= 2) {
    statements.push(`INSERT INTO appdb.big (a, b) SELECT ${randomRow} FROM appdb.big LIMIT ${Math.min(rows, targetRows - rows)}`);
  }
  const sql = statements.map((st) => `CALL mysql.cellar_exec('${st}');`).join(' ');
  await run('/usr/bin/mariadb', ['--no-defaults', `--socket=${socket}`, `--user=${host.cellarUser}`, '-e', sql], false);
}
const dataBytes = dirBytes(source.layout.data);
console.error(`loaded: data directory ${(dataBytes / 2 ** 20).toFixed(0)} MiB`);

/** mariadbd on a restored data directory until its first answered query, then a clean stop; the directory goes. */
async function startAndStop(dir: string): Promise<void> {
  const sock = path.join(dir, 's.sock');
  const proc = host.spawn({ command: '/usr/sbin/mariadbd', args: ['--no-defaults', `--datadir=${path.join(dir, 'data')}`, `--socket=${sock}`, '--skip-networking', `--pid-file=${path.join(dir, 'p.pid')}`], cwd: dir, logFile: path.join(dir, 'log') });
  const deadline = Date.now() + 300_000;
  for (;;) {
    const probe = await host.run({ command: '/usr/bin/mariadb', args: ['--no-defaults', `--socket=${sock}`, `--user=${host.cellarUser}`, '-e', 'DO 1'], asEngineUser: false, timeoutMs: 5000 });
    if (probe.code === 0) break;
    if (Date.now() > deadline || proc.exitStatus()) throw new Error(`floor restore server did not answer: ${probe.stderr}`);
    await new Promise((res) => setTimeout(res, 10));
  }
  proc.signal('SIGTERM');
  await settlesWithin(proc.exited, 60_000);
  fs.rmSync(dir, { recursive: true, force: true });
}

interface Round {
  backupFloorMs: number;
  backupFloorCompressedMs: number;
  backupAdapterMs: number;
  backupBytes: number;
  restoreFloorMs: number;
  restoreFloorCompressedMs: number;
  restoreAdapterMs: number;
}
const results: Round[] = [];
const restorePhases: Record<string, number>[] = [];
for (let r = 0; r < rounds; r++) {
  // The floor's files live in a directory of the engine user's, as the adapter's do.
  const floorDir = path.join(base, 'floor');
  await host.ensureDir(floorDir);
  const plain = path.join(floorDir, `plain-${r}`);
  const streamed = path.join(floorDir, `streamed-${r}.xbstream.zst`);
  await host.ensureDir(plain);
  const floorBackup = () =>
    run('/usr/bin/mariadb-backup', ['--no-defaults', '--backup', `--socket=${socket}`, `--user=${host.engineUser.name}`, `--datadir=${source.layout.data}`, `--target-dir=${plain}`]);
  const floorCompressed = () =>
    run('/bin/bash', ['-o', 'pipefail', '-c', '"$1" --no-defaults --backup --stream=xbstream --socket="$2" --user="$3" --datadir="$4" --target-dir="$5" 2>/dev/null | zstd -q -1 -T0 -o "$6"', 'x', '/usr/bin/mariadb-backup', socket, host.engineUser.name, source.layout.data, plain + '-tmp', streamed]);
  let info: Awaited<ReturnType<MariadbEngine['backup']>> | undefined;
  const adapterBackup = async () => {
    info = await source.backup(place, `round-${r}`);
  };
  const round: Partial<Round> = {};
  const order: Array<[keyof Round, () => Promise<unknown>]> = [
    ['backupFloorMs', floorBackup],
    ['backupFloorCompressedMs', floorCompressed],
    ['backupAdapterMs', adapterBackup],
  ];
  for (const [key, fn] of r % 2 === 0 ? order : [...order].reverse()) round[key] = await timed(fn);
  round.backupBytes = info!.bytes;

  // Restores: the floor from the plain copy, the adapter from its own backup.
  const floorRestore = async () => {
    const dir = path.join(floorDir, `restore-${r}`);
    await host.ensureDir(dir);
    await run('/usr/bin/mariadb-backup', ['--no-defaults', '--prepare', `--target-dir=${plain}`]);
    await run('/usr/bin/mariadb-backup', ['--no-defaults', '--copy-back', `--target-dir=${plain}`, `--datadir=${path.join(dir, 'data')}`]);
    await startAndStop(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  // The same steps as the adapter's, run directly: decompress and extract the stream, --prepare, --move-back, start.
  const floorCompressedRestore = async () => {
    const dir = path.join(floorDir, `restore-z-${r}`);
    const extracted = path.join(dir, 'base');
    await host.ensureDir(extracted);
    await run('/bin/bash', ['-o', 'pipefail', '-c', 'zstd -q -dc -- "$1" | mbstream -x -C "$2"', 'x', streamed, extracted]);
    await run('/usr/bin/mariadb-backup', ['--no-defaults', '--prepare', `--target-dir=${extracted}`]);
    await run('/usr/bin/mariadb-backup', ['--no-defaults', '--move-back', `--target-dir=${extracted}`, `--datadir=${path.join(dir, 'data')}`]);
    await startAndStop(dir);
  };
  const adapterRestore = async () => {
    const target = await newEngine(`restore-${r}`);
    await target.restoreToPoint({ base: info!, dataDir: target.spec.dataDir });
    const startMs = await timed(() => target.start());
    restorePhases.push({ ...target.lastRestorePhasesMs, start: Math.round(startMs) });
    await target.stop('fast');
    await target.destroy();
  };
  const restores: Array<[keyof Round, () => Promise<unknown>]> = [
    ['restoreFloorMs', floorRestore],
    ['restoreFloorCompressedMs', floorCompressedRestore],
    ['restoreAdapterMs', adapterRestore],
  ];
  for (const [key, fn] of r % 2 === 0 ? restores : [...restores].reverse()) round[key] = await timed(fn);
  fs.rmSync(plain, { recursive: true, force: true });
  fs.rmSync(streamed, { force: true });
  fs.rmSync(info!.dir, { recursive: true, force: true });
  results.push(round as Round);
  console.error(JSON.stringify({ round: r, ...round }));
}

// LatestRestorableTime lag under write load.
await source.startLogArchiving(place);
const lags: number[] = [];
let inserted = 0;
{
  const c = await connect(source.spec.port);
  await c.query('CREATE TABLE lag_rows (id BIGINT AUTO_INCREMENT PRIMARY KEY, at BIGINT NOT NULL, pad CHAR(100) NOT NULL)');
  let writing = true;
  const writer = (async () => {
    while (writing) {
      await c.query("INSERT INTO lag_rows (at, pad) VALUES (?, 'x')", [Date.now()]);
      inserted++;
    }
  })();
  const end = Date.now() + lagSeconds * 1000;
  await new Promise((res) => setTimeout(res, 1000));
  while (Date.now() < end) {
    const latest = await source.latestArchivedTime(place);
    if (latest !== undefined) lags.push(Date.now() - latest);
    await new Promise((res) => setTimeout(res, 250));
  }
  writing = false;
  await writer;
  await c.end();
}
await source.stopLogArchiving();
await source.stop('fast');
fs.rmSync(base, { recursive: true, force: true });

const mib = dataBytes / 2 ** 20;
const med = (k: keyof Round) => median(results.map((x) => x[k]));
const sortedLags = [...lags].sort((a, b) => a - b);
const summary = {
  at: new Date().toISOString(),
  dataMiB: Math.round(mib),
  rounds,
  backup: {
    floorMiBps: +(mib / (med('backupFloorMs') / 1000)).toFixed(1),
    floorCompressedMiBps: +(mib / (med('backupFloorCompressedMs') / 1000)).toFixed(1),
    adapterMiBps: +(mib / (med('backupAdapterMs') / 1000)).toFixed(1),
    adapterVsFloor: +(med('backupFloorMs') / med('backupAdapterMs')).toFixed(2),
    adapterVsFloorCompressed: +(med('backupFloorCompressedMs') / med('backupAdapterMs')).toFixed(2),
    storedMiB: Math.round(median(results.map((x) => x.backupBytes)) / 2 ** 20),
  },
  restore: {
    floorMs: Math.round(med('restoreFloorMs')),
    adapterMs: Math.round(med('restoreAdapterMs')),
    floorCompressedMs: Math.round(med('restoreFloorCompressedMs')),
    adapterVsFloor: +(med('restoreFloorMs') / med('restoreAdapterMs')).toFixed(2),
    adapterVsFloorCompressed: +(med('restoreFloorCompressedMs') / med('restoreAdapterMs')).toFixed(2),
  },
  lag: {
    writesPerSecond: Math.round(inserted / lagSeconds),
    samples: lags.length,
    medianMs: Math.round(median(lags)),
    p95Ms: Math.round(sortedLags[Math.floor(sortedLags.length * 0.95)] ?? NaN),
    maxMs: Math.round(sortedLags[sortedLags.length - 1] ?? NaN),
  },
  adapterRestorePhasesMs: restorePhases,
  roundsDetail: results,
};
console.log(JSON.stringify(summary, null, 2));
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync('bench/results/mariadb-backup.json', JSON.stringify(summary, null, 2) + '\n');
