/**
 * The DynamoDB benchmark: Cellar against dynalite and the bare-HTTP ceiling, with the neutral generators
 * from ../shared/bench/ run as they are, all in one run.
 *
 *   - ddb-wrk.mjs put, get, query and mixed at 16 connections against ceiling.mjs, dynalite
 *     (node_modules/.bin/dynalite, in memory) and Cellar --in-memory; every server pinned to CPU 0,
 *     wrk to CPU 1.
 *   - On disk: dynalite with --path (LevelDB, writes not synced: it survives a crash of the process,
 *     like Cellar's default) against Cellar with a data directory: the default store (WAL,
 *     synchronous=NORMAL), durability 'fsync' (synchronous=FULL, which no peer offers) and a cache 10x
 *     smaller than the table being read (cacheMiB in <data-dir>/cellar.json) next to a large
 *     pre-loaded table.
 *   - Rounds: each workload is run --rounds times (default 3) against every server of its group, in
 *     an order that rotates each round, so drift in the machine's speed hits every server alike. Each
 *     round's ratio compares runs a few seconds apart; the table gives the median of those ratios and
 *     their range, and each server's median ops/s and p99.
 *   - ddb-bench.mjs against Cellar: every response body checked, under load.
 *   - Peak RSS (VmHWM) of every server, and startup time: spawn to the first successful signed request.
 *
 * Usage: npx tsc -p . && node dist/bench/dynamodb.js [--seconds 10] [--rounds 3] [--quick] [--startup-only]
 * Writes bench/results/dynamodb.json and bench/results/dynamodb.md and prints the table. Needs wrk and
 * taskset. `shared/` must sit beside the repository checkout (or set CELLAR_SHARED to it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, median, signDynamoDb } from './common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = resolve(process.env.CELLAR_SHARED ?? join(ROOT, '..', 'shared'));
const BENCH = join(SHARED, 'bench');
const DYNALITE = join(ROOT, 'node_modules', '.bin', 'dynalite');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const QUICK = process.argv.includes('--quick');
const SECONDS = Number(arg('seconds', QUICK ? '3' : '10'));
const ROUNDS = Math.max(1, Math.min(9, Number(arg('rounds', QUICK ? '1' : '3'))));
const CONNECTIONS = 16;
const WORKLOADS = ['put', 'get', 'query', 'mixed'] as const;
/** Items pre-loaded into another table of the small-cache run, so the database is large as well. */
const BIG_TABLE_ITEMS = QUICK ? 20_000 : 200_000;
/** SQLite page cache of the small-cache run: the get table (10,000 items of ~250 bytes) is over 10x this. */
const SMALL_CACHE_MIB = 0.25;

interface WrkResult {
  workload: string;
  ops: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  serverCpuS: number | null;
  otherCpuS: number | null;
}

interface Row extends WrkResult {
  server: string;
  round: number;
  cpuPerOpUs: number | null;
}

interface Server {
  name: string;
  proc: ChildProcess;
  endpoint: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- signing (as the generators sign)

function signedHeaders(endpoint: string, target: string, body: string): Record<string, string> {
  // fetch sets Host and Content-Length itself.
  return Object.fromEntries(signDynamoDb(new URL(endpoint).host, target, body).filter(([n]) => n !== 'Host' && n !== 'Content-Length'));
}

async function ddb(endpoint: string, target: string, payload: unknown): Promise<{ status: number; body: string }> {
  const body = JSON.stringify(payload);
  const res = await fetch(endpoint, { method: 'POST', headers: signedHeaders(endpoint, target, body), body });
  return { status: res.status, body: await res.text() };
}

// ---------------------------------------------------------------- processes

function startProcess(name: string, argv: string[], endpoint: string): Server {
  const proc = spawn('taskset', ['-c', '0', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 4000) stderr += b.toString();
  });
  proc.on('exit', (code) => {
    if (code && code !== 143) console.error(`${name} exited ${code}: ${stderr}`);
  });
  return { name, proc, endpoint };
}

async function waitReady(s: Server): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await ddb(s.endpoint, 'ListTables', {});
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${s.name} did not start`);
}

function peakRssMiB(pid: number): number | null {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return Math.round(kb / 102.4) / 10;
  } catch {
    return null;
  }
}

async function stop(s: Server): Promise<void> {
  if (s.proc.exitCode !== null) return;
  const done = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await Promise.race([done, sleep(10_000)]);
  if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
}

async function cellar(name: string, dataDir?: string): Promise<Server> {
  const port = await freePort();
  const where = dataDir ? ['--data-dir', dataDir] : ['--in-memory'];
  return startProcess(name, [process.execPath, join(ROOT, 'bin', 'cellar.js'), 'start', '--port', String(port), ...where, '--quiet'], `http://127.0.0.1:${port}`);
}

function dataDir(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cellar-bench-ddb-'));
  writeFileSync(join(dir, 'cellar.json'), JSON.stringify(config));
  return dir;
}

// ---------------------------------------------------------------- generators

function runNode(script: string, args: string[], timeoutS: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000);
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

async function wrk(s: Server, workload: string, round: number): Promise<Row> {
  const r = await runNode(join(BENCH, 'ddb-wrk.mjs'), ['--endpoint', s.endpoint, '--workload', workload, '--connections', String(CONNECTIONS), '--seconds', String(SECONDS), '--cpus-client', '1', '--cpus-server', '0', '--server-pid', String(s.proc.pid)], SECONDS + 240);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !line.startsWith('{')) throw new Error(`ddb-wrk ${workload} against ${s.name} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  const w = JSON.parse(line) as WrkResult;
  const row: Row = { server: s.name, round, workload, ops: w.ops, opsPerSec: w.opsPerSec, p50Ms: w.p50Ms, p99Ms: w.p99Ms, errors: w.errors, serverCpuS: w.serverCpuS, otherCpuS: w.otherCpuS, cpuPerOpUs: w.serverCpuS !== null && w.ops ? Math.round((w.serverCpuS * 1e6) / w.ops) : null };
  console.error(`  r${round} ${s.name.padEnd(26)} ${workload.padEnd(6)} ${String(row.opsPerSec).padStart(9)} ops/s  p99 ${row.p99Ms} ms  errors ${row.errors}  cpu/op ${row.cpuPerOpUs} µs  other ${row.otherCpuS}`);
  return row;
}

async function correctness(s: Server): Promise<Array<{ workload: string; ops: number; errors: number; p99Ms: number }>> {
  const out = [];
  for (const workload of WORKLOADS) {
    const r = await runNode(join(BENCH, 'ddb-bench.mjs'), ['--endpoint', s.endpoint, '--workload', workload, '--connections', String(CONNECTIONS), '--seconds', String(Math.max(3, Math.round(SECONDS / 2)))], SECONDS + 240);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.code !== 0 || !line.startsWith('{')) throw new Error(`ddb-bench ${workload} failed (${r.code}): ${r.stderr.slice(-2000)}`);
    const j = JSON.parse(line) as { ops: number; errors: number; p99Ms: number };
    console.error(`  ddb-bench ${workload.padEnd(6)} ops ${j.ops} errors ${j.errors}`);
    out.push({ workload, ops: j.ops, errors: j.errors, p99Ms: j.p99Ms });
  }
  return out;
}

/** Fills a table with n items of ~250 bytes through BatchWriteItem, 8 requests in flight. */
async function preload(endpoint: string, table: string, n: number): Promise<void> {
  const created = await ddb(endpoint, 'CreateTable', { TableName: table, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' });
  if (created.status !== 200) throw new Error(`CreateTable ${table}: ${created.body}`);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const from = next;
      next += 25;
      const items = [];
      for (let i = from; i < Math.min(from + 25, n); i++) items.push({ PutRequest: { Item: { pk: { S: `big-${i}` }, data: { S: randomBytes(123).toString('base64') } } } });
      const r = await ddb(endpoint, 'BatchWriteItem', { RequestItems: { [table]: items } });
      if (r.status !== 200) throw new Error(`BatchWriteItem: ${r.body}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/**
 * Startup of each kind of server, measured `runs` times with the kinds interleaved (ceiling, in memory,
 * data directory, ceiling, ...) so that the host's drift hits them alike; the median of each.
 */
async function startup(runs: number, dir: string | undefined): Promise<{ ceilingMs: number; inMemoryMs: number; dataDirMs?: number }> {
  await startupMs(undefined, 1, true); // warms the page cache and this process's fetch
  const ceiling: number[] = [];
  const inMemory: number[] = [];
  const dataDir: number[] = [];
  for (let i = 0; i < runs; i++) {
    ceiling.push(await startupMs(undefined, 1, true));
    inMemory.push(await startupMs(undefined, 1));
    if (dir) dataDir.push(await startupMs(dir, 1));
  }
  return { ceilingMs: Math.round(median(ceiling)), inMemoryMs: Math.round(median(inMemory)), ...(dir ? { dataDirMs: Math.round(median(dataDir)) } : {}) };
}

/**
 * Milliseconds from spawn to the first successful signed request; the median of `runs`. `ceiling`
 * measures ceiling.mjs the same way: what node itself takes to start an HTTP server on this machine.
 */
async function startupMs(dir: string | undefined, runs: number, ceiling = false): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const t0 = process.hrtime.bigint();
    const argv = ceiling ? [join(BENCH, 'ceiling.mjs'), '--port', String(port)] : [join(ROOT, 'bin', 'cellar.js'), 'start', '--port', String(port), ...(dir ? ['--data-dir', dir] : ['--in-memory']), '--quiet'];
    const proc = spawn(process.execPath, argv, { stdio: 'ignore' });
    let last = 'no answer';
    for (let tries = 0; ; tries++) {
      if (tries > 5000) throw new Error(`${ceiling ? 'ceiling.mjs' : 'cellar'} did not start on port ${port}: ${last}`);
      try {
        const r = await ddb(endpoint, 'ListTables', {});
        if (r.status === 200) break;
        last = `${r.status} ${r.body.slice(0, 200)}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(2);
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  times.sort((a, b) => a - b);
  return Math.round(times[Math.floor(times.length / 2)]!);
}

function dirMiB(dir: string): number {
  let bytes = 0;
  for (const f of ['state.db', 'state.db-wal']) if (existsSync(join(dir, f))) bytes += statSync(join(dir, f)).size;
  return Math.round(bytes / 104857.6) / 10;
}

// ---------------------------------------------------------------- main

/**
 * Runs every workload against every server, ROUNDS times, the servers' order rotating each round (a
 * server measured first in one round is measured last in the next).
 */
async function rounds(servers: Server[], workloads: readonly string[], rows: Row[]): Promise<void> {
  for (const w of workloads) {
    for (let round = 1; round <= ROUNDS; round++) {
      const shift = (round - 1) % servers.length;
      for (const s of [...servers.slice(shift), ...servers.slice(0, shift)]) rows.push(await wrk(s, w, round));
    }
  }
}

interface Summary {
  server: string;
  workload: string;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuPerOpUs: number | null;
  /** Median and range of the per-round ratios of this server's ops/s to the peer's. */
  vsPeer?: { peer: string; median: number; min: number; max: number };
  vsCeiling?: { median: number; min: number; max: number };
  /** The peer's median p99, for the p99 comparison. */
  peerP99Ms?: number;
}

function summarise(rows: Row[], server: string, workload: string, peer: string | undefined, ceiling: string | undefined): Summary | undefined {
  const mine = rows.filter((r) => r.server === server && r.workload === workload);
  if (mine.length === 0) return undefined;
  const ratioTo = (other: string) => {
    const ratios = mine.flatMap((r) => {
      const o = rows.find((x) => x.server === other && x.workload === workload && x.round === r.round);
      return o && o.opsPerSec > 0 ? [r.opsPerSec / o.opsPerSec] : [];
    });
    return ratios.length ? { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) } : undefined;
  };
  const cpu = mine.flatMap((r) => (r.cpuPerOpUs === null ? [] : [r.cpuPerOpUs]));
  const out: Summary = {
    server,
    workload,
    opsPerSec: median(mine.map((r) => r.opsPerSec)),
    p50Ms: median(mine.map((r) => r.p50Ms)),
    p99Ms: median(mine.map((r) => r.p99Ms)),
    errors: mine.reduce((n, r) => n + r.errors, 0),
    cpuPerOpUs: cpu.length ? Math.round(median(cpu)) : null,
  };
  if (peer && peer !== server) {
    const v = ratioTo(peer);
    if (v) out.vsPeer = { peer, ...v };
    const peerRows = rows.filter((r) => r.server === peer && r.workload === workload);
    if (peerRows.length) out.peerP99Ms = median(peerRows.map((r) => r.p99Ms));
  }
  if (ceiling && ceiling !== server) out.vsCeiling = ratioTo(ceiling);
  return out;
}

async function main(): Promise<void> {
  if (process.argv.includes('--startup-only')) {
    // Startup alone (nothing else measured, results files untouched): in memory and ceiling.mjs, median of 7.
    console.log(JSON.stringify(await startup(7, undefined)));
    return;
  }
  if (!existsSync(join(BENCH, 'ddb-wrk.mjs'))) throw new Error(`no generators in ${BENCH}: shared/ must sit beside the repository (or set CELLAR_SHARED)`);
  if (!existsSync(DYNALITE)) throw new Error(`no dynalite at ${DYNALITE}`);
  const rows: Row[] = [];
  const memory: Record<string, number | null> = {};
  const started = new Date().toISOString();

  console.error(`in memory: ceiling, dynalite, cellar; ${ROUNDS} round(s)`);
  const ceilingPort = await freePort();
  const dynalitePort = await freePort();
  const servers = [
    startProcess('ceiling', [process.execPath, join(BENCH, 'ceiling.mjs'), '--port', String(ceilingPort)], `http://127.0.0.1:${ceilingPort}`),
    startProcess('dynalite', [DYNALITE, '--port', String(dynalitePort)], `http://127.0.0.1:${dynalitePort}`),
    await cellar('cellar'),
  ];
  try {
    for (const s of servers) await waitReady(s);
    await rounds(servers, WORKLOADS, rows);
    for (const s of servers) memory[s.name] = peakRssMiB(s.proc.pid!);
    console.error('correctness under load (ddb-bench.mjs) against cellar');
    var checked = await correctness(servers[2]!); // eslint-disable-line no-var
  } finally {
    for (const s of servers) await stop(s);
  }

  const DISK_PEER = 'dynalite data-dir';
  const SMALL = `cellar data-dir cache ${SMALL_CACHE_MIB} MiB`;
  console.error(`on disk: dynalite --path, cellar data-dir (default, fsync, small cache); ${ROUNDS} round(s)`);
  const dirs: string[] = [];
  let bigDirMiB = 0;
  let bigDir = '';
  const disk: Server[] = [];
  try {
    const levelDir = mkdtempSync(join(tmpdir(), 'cellar-bench-dynalite-'));
    dirs.push(levelDir);
    const levelPort = await freePort();
    disk.push(startProcess(DISK_PEER, [DYNALITE, '--port', String(levelPort), '--path', levelDir], `http://127.0.0.1:${levelPort}`));
    for (const [name, config] of [['cellar data-dir', {}], ['cellar data-dir fsync', { durability: 'fsync' }], [SMALL, { cacheMiB: SMALL_CACHE_MIB }]] as const) {
      const dir = dataDir(config);
      dirs.push(dir);
      if (name === SMALL) bigDir = dir;
      disk.push(await cellar(name, dir));
    }
    for (const s of disk) await waitReady(s);
    const t0 = Date.now();
    await preload(disk.find((s) => s.name === SMALL)!.endpoint, 'big', BIG_TABLE_ITEMS);
    console.error(`  pre-loaded ${BIG_TABLE_ITEMS} items into the small-cache server in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await rounds(disk, ['put', 'get', 'mixed'], rows);
    for (const s of disk) memory[s.name] = peakRssMiB(s.proc.pid!);
    for (const s of disk) await stop(s);
    bigDirMiB = dirMiB(bigDir);
    console.error('startup');
    var started_ = await startup(7, bigDir); // eslint-disable-line no-var
  } finally {
    for (const s of disk) await stop(s);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }

  const summaries: Summary[] = [];
  for (const w of WORKLOADS) for (const name of ['ceiling', 'dynalite', 'cellar']) summaries.push(summarise(rows, name, w, 'dynalite', 'ceiling')!);
  for (const w of ['put', 'get', 'mixed']) for (const s of disk) summaries.push(summarise(rows, s.name, w, DISK_PEER, undefined)!);
  const fmt = (v: { median: number; min: number; max: number } | undefined) => (v ? `${v.median.toFixed(2)} (${v.min.toFixed(2)}–${v.max.toFixed(2)})` : '');
  const lines = [
    `DynamoDB, ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} round(s), server on CPU 0, wrk on CPU 1 (${started}).`,
    '',
    'Ratios are the median of the per-round ratios (in brackets: lowest–highest); ops/s, p50 and p99 are medians over the rounds. In-memory servers are compared with dynalite in memory; data-directory servers with dynalite on LevelDB (--path).',
    '',
    '| server | workload | ops/s | vs dynalite | vs ceiling | p50 ms | p99 ms | dynalite p99 ms | errors | server CPU µs/op |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of summaries) {
    lines.push(`| ${r.server} | ${r.workload} | ${Math.round(r.opsPerSec)} | ${fmt(r.vsPeer)} | ${fmt(r.vsCeiling)} | ${r.p50Ms} | ${r.p99Ms} | ${r.peerP99Ms ?? ''} | ${r.errors} | ${r.cpuPerOpUs ?? ''} |`);
  }
  lines.push('', '| server | peak RSS MiB |', '|---|---:|');
  for (const [k, v] of Object.entries(memory)) lines.push(`| ${k} | ${v ?? ''} |`);
  lines.push('', `Small-cache server: cacheMiB ${SMALL_CACHE_MIB} (page cache and value cache together); its database held ${BIG_TABLE_ITEMS} pre-loaded items plus the generator's table (${bigDirMiB} MiB on disk at the end).`);
  lines.push('', `Startup, spawn to the first successful signed request (median of 7, the three kinds interleaved): Cellar in memory ${started_!.inMemoryMs} ms; Cellar on a data directory of ${bigDirMiB} MiB ${started_!.dataDirMs} ms; ceiling.mjs (bare node:http, for reference) ${started_!.ceilingMs} ms.`);
  lines.push('', '| ddb-bench.mjs against cellar | ops | errors (bad status or wrong body) | p99 ms |', '|---|---:|---:|---:|');
  for (const c of checked!) lines.push(`| ${c.workload} | ${c.ops} | ${c.errors} | ${c.p99Ms} |`);
  const table = lines.join('\n');
  console.log(table);
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'dynamodb.md'), table + '\n');
  writeFileSync(join(ROOT, 'bench', 'results', 'dynamodb.json'), JSON.stringify({ started, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, machine, summaries, rows, memory, startup: started_!, checked: checked!, smallCache: { cacheMiB: SMALL_CACHE_MIB, preloadedItems: BIG_TABLE_ITEMS, dataMiB: bigDirMiB } }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
