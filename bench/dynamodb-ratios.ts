/**
 * Cellar against dynalite, both on disk, in alternating rounds: the ratios issue 11 sets goals for.
 *
 *   npm run build && node dist/bench/dynamodb-ratios.js [--seconds 10] [--rounds 5] [--only put,get,query,streams,txn]
 *   node dist/bench/dynamodb-ratios.js --memory [--items 1000000] [--data-dir DIR --keep]
 *
 * Default run: Cellar with a fresh data directory (default settings: WAL, synchronous=NORMAL) and dynalite with
 * --path (LevelDB), both pinned to CPU 0 with taskset, the load generator (wrk) on CPU 1. Each round runs every
 * workload once against each server, the order of the two servers swapping from one round to the next, and waits
 * before each run until both servers are idle (background work, a dropped table's purge or LevelDB's compaction,
 * would otherwise run on the CPU of the next run's server). A round's ratio compares two runs seconds apart, so drift
 * in the machine's speed mostly cancels; the spread of the per-round ratios says how noisy the run was. A first
 * round warms both servers up and is not counted. Besides throughput, each run's server CPU time per op (every
 * thread of the process) gives a second ratio that other load on the machine disturbs much less.
 *
 *   - put, get, query: bench/ddb-wrk.mjs (a copy of the neutral generator), 16 connections. Puts get a pool of
 *     distinct keys larger than the run can use, so every put inserts.
 *   - streams: Cellar only, puts into a table with a stream (NEW_AND_OLD_IMAGES) against puts into one without,
 *     alternating. Measured only when Cellar serves the DynamoDB Streams API; otherwise reported as not measurable.
 *   - txn: Cellar only, TransactWriteItems of 10 Puts against BatchWriteItem of 10 PutRequests (requests per
 *     second of each; every item new). Measured only when Cellar serves TransactWriteItems.
 *
 * --memory: loads --items (default 1,000,000) items of 1 KB into one table through BatchWriteItem (25 items a
 * request, 16 in flight), then reports Cellar's resident memory and GetItem throughput on that table against a
 * table of 10,000 such items, in alternating rounds. It takes minutes and about 1.5 GB of disk; --data-dir DIR
 * --keep keeps the loaded directory, and a later run with the same --data-dir skips the load.
 *
 * Writes bench/results/dynamodb-ratios.{md,json} (or dynamodb-memory.{md,json}) and prints the table.
 * Needs wrk and taskset. Not a test: nothing here asserts a speed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { amzDateNow, arg, DDB_WRK, freePort, median, RESULTS, ROOT, signDynamoDb, sleep } from './common.js';
import { processTicks, rawRequest, runPool, type PoolRun } from './wrk-pool.js';

const DYNALITE = join(ROOT, 'node_modules', '.bin', 'dynalite');
const SECONDS = Math.max(2, Number(arg('seconds', '10')));
const ROUNDS = Math.max(1, Math.min(15, Number(arg('rounds', '5'))));
const ONLY = new Set(arg('only', 'put,get,query,streams,txn').split(','));
const CONNECTIONS = 16;
const SERVER_CPU = '0';
const CLIENT_CPU = '1';

// ---------------------------------------------------------------- servers

interface Server {
  name: string;
  proc: ChildProcess;
  endpoint: string;
}

function startServer(name: string, argv: string[], port: number): Server {
  const proc = spawn('taskset', ['-c', SERVER_CPU, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 4000) stderr += b.toString();
  });
  proc.on('exit', (code) => {
    if (code && code !== 143) console.error(`${name} exited ${code}: ${stderr}`);
  });
  return { name, proc, endpoint: `http://127.0.0.1:${port}` };
}

async function startCellar(dataDir: string): Promise<Server> {
  const port = await freePort();
  return startServer('cellar', [process.execPath, join(ROOT, 'bin', 'cellar.js'), 'start', '--port', String(port), '--data-dir', dataDir, '--quiet'], port);
}

async function startDynalite(path: string): Promise<Server> {
  const port = await freePort();
  return startServer('dynalite', [DYNALITE, '--port', String(port), '--path', path], port);
}

async function stop(s: Server): Promise<void> {
  if (s.proc.exitCode !== null) return;
  const done = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await Promise.race([done, sleep(15_000)]);
  if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
}

async function ddb(endpoint: string, target: string, payload: unknown): Promise<{ status: number; body: string }> {
  const body = JSON.stringify(payload);
  const headers = Object.fromEntries(signDynamoDb(new URL(endpoint).host, target, body).filter(([n]) => n !== 'Host' && n !== 'Content-Length'));
  const res = await fetch(endpoint, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
}

async function ddbOk(endpoint: string, target: string, payload: unknown): Promise<Record<string, unknown>> {
  const r = await ddb(endpoint, target, payload);
  if (r.status !== 200) throw new Error(`${target}: ${r.status} ${r.body.slice(0, 500)}`);
  return JSON.parse(r.body) as Record<string, unknown>;
}

async function waitReady(s: Server): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await ddb(s.endpoint, 'ListTables', {})).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`${s.name} did not start`);
}

/**
 * Waits (at most 60 s) until every server has used under 2% of a CPU for half a second: the previous run's
 * background work must not land on the next run.
 */
async function settle(servers: Server[]): Promise<number> {
  const t0 = Date.now();
  let before = servers.map((s) => processTicks(s.proc.pid!) ?? 0);
  while (Date.now() - t0 < 60_000) {
    await sleep(500);
    const now = servers.map((s) => processTicks(s.proc.pid!) ?? 0);
    const busiest = Math.max(...now.map((n, i) => n - before[i]!));
    before = now;
    if (busiest <= 1) break;
  }
  return Date.now() - t0;
}

function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(kb('VmRSS') / 102.4) / 10, hwmMiB: Math.round(kb('VmHWM') / 102.4) / 10 };
}

async function createTable(endpoint: string, name: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const out = await ddbOk(endpoint, 'CreateTable', {
    TableName: name,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
    ...extra,
  });
  for (let i = 0; i < 600; i++) {
    const d = (await ddbOk(endpoint, 'DescribeTable', { TableName: name })).Table as { TableStatus: string };
    if (d.TableStatus === 'ACTIVE') return out;
    await sleep(100);
  }
  throw new Error(`table ${name} never became ACTIVE`);
}

// ---------------------------------------------------------------- measurements

interface Run {
  round: number;
  workload: string;
  subject: string;
  opsPerSec: number;
  errors: number;
  cpuPerOpUs: number | null;
  otherCpuS: number | null;
  p99Ms?: number;
}

function logRun(r: Run): void {
  console.error(`  r${r.round} ${r.workload.padEnd(8)} ${r.subject.padEnd(22)} ${String(Math.round(r.opsPerSec)).padStart(7)} ops/s  errors ${r.errors}  cpu/op ${r.cpuPerOpUs ?? '?'} µs  server's share of a CPU ${r.cpuPerOpUs === null ? '?' : ((r.cpuPerOpUs * r.opsPerSec) / 1e6).toFixed(2)}`);
}

/** One run of bench/ddb-wrk.mjs; puts get a pool of distinct keys larger than the run can use. */
async function ddbWrk(s: Server, workload: string, round: number): Promise<Run> {
  const args = [DDB_WRK, '--endpoint', s.endpoint, '--workload', workload, '--connections', String(CONNECTIONS), '--seconds', String(SECONDS), '--cpus-client', CLIENT_CPU, '--cpus-server', SERVER_CPU, '--server-pid', String(s.proc.pid)];
  if (workload === 'put') args.push('--pool', String(SECONDS * 30_000));
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.on('close', (code) => res({ code, stdout, stderr }));
  });
  const line = out.stdout.trim().split('\n').pop() ?? '';
  if (out.code !== 0 || !line.startsWith('{')) throw new Error(`ddb-wrk ${workload} against ${s.name} failed (${out.code}): ${out.stderr.slice(-2000)}`);
  const w = JSON.parse(line) as { ops: number; opsPerSec: number; errors: number; p99Ms: number; serverCpuS: number | null; otherCpuS: number | null };
  const run: Run = { round, workload, subject: s.name, opsPerSec: w.opsPerSec, errors: w.errors, p99Ms: w.p99Ms, otherCpuS: w.otherCpuS, cpuPerOpUs: w.serverCpuS !== null && w.ops ? Math.round((w.serverCpuS * 1e6) / w.ops) : null };
  logRun(run);
  return run;
}

const FILLER = Array.from({ length: 64 }, () => randomBytes(123).toString('base64'));
const filler = () => FILLER[(Math.random() * FILLER.length) | 0]!;
/** An item as ddb-wrk.mjs writes them: a fresh 32-character key and ~164 characters of data. */
const smallItem = () => ({ pk: { S: randomBytes(16).toString('hex') }, data: { S: filler() } });

async function pooled(s: Server, workload: string, subject: string, round: number, requests: string[]): Promise<Run> {
  const r: PoolRun = await runPool(s.endpoint, requests, { connections: CONNECTIONS, seconds: SECONDS, serverPid: s.proc.pid!, cpusClient: CLIENT_CPU });
  const run: Run = { round, workload, subject, opsPerSec: r.opsPerSec, errors: r.errors, otherCpuS: r.otherCpuS, cpuPerOpUs: r.serverCpuS !== null && r.ops ? Math.round((r.serverCpuS * 1e6) / r.ops) : null };
  logRun(run);
  return run;
}

/** Whether Cellar serves streams: a table made with a StreamSpecification has a stream DescribeStream can read. */
async function streamsServed(endpoint: string, table: string): Promise<boolean> {
  const created = await ddb(endpoint, 'CreateTable', {
    TableName: table,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
  });
  if (created.status !== 200) return false;
  const arn = (JSON.parse(created.body) as { TableDescription?: { LatestStreamArn?: string } }).TableDescription?.LatestStreamArn;
  if (!arn) return false;
  for (let i = 0; i < 600; i++) {
    const d = (await ddbOk(endpoint, 'DescribeTable', { TableName: table })).Table as { TableStatus: string };
    if (d.TableStatus === 'ACTIVE') break;
    await sleep(100);
  }
  const described = await ddb(endpoint, 'DynamoDBStreams_20120810.DescribeStream', { StreamArn: arn });
  return described.status === 200;
}

/** Whether Cellar serves TransactWriteItems (one Put of a throwaway item). */
async function transactionsServed(endpoint: string, table: string): Promise<boolean> {
  const r = await ddb(endpoint, 'TransactWriteItems', { TransactItems: [{ Put: { TableName: table, Item: smallItem() } }] });
  return r.status === 200;
}

interface Pair {
  workload: string;
  a: string;
  b: string;
  goal: string;
  goalRatio: number;
  /** a's runs over b's, one per round. */
  ratios: number[];
  aOps: number[];
  bOps: number[];
  /** b's server CPU per op over a's, one per round: the throughput ratio if each server had a whole CPU to itself. */
  cpuRatios: number[];
}

function pairOf(runs: Run[], workload: string, a: string, b: string, goal: string, goalRatio: number): Pair {
  const mine = runs.filter((r) => r.workload === workload);
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (const ra of mine.filter((r) => r.subject === a)) {
    const rb = mine.find((r) => r.subject === b && r.round === ra.round);
    if (rb && rb.opsPerSec > 0) ratios.push(ra.opsPerSec / rb.opsPerSec);
    if (rb?.cpuPerOpUs && ra.cpuPerOpUs) cpuRatios.push(rb.cpuPerOpUs / ra.cpuPerOpUs);
  }
  return { workload, a, b, goal, goalRatio, ratios, cpuRatios, aOps: mine.filter((r) => r.subject === a).map((r) => r.opsPerSec), bOps: mine.filter((r) => r.subject === b).map((r) => r.opsPerSec) };
}

function machineLine(started: string): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, started ${started}, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

function pinSelf(): void {
  // This process builds pools and talks to the servers between runs: keep it off the servers' CPU.
  try {
    execFileSync('taskset', ['-a', '-p', '-c', CLIENT_CPU, String(process.pid)], { stdio: 'ignore' });
  } catch {
    // taskset missing: the runs still pin wrk and the servers
  }
}

async function ratios(): Promise<void> {
  pinSelf();
  if (!existsSync(DYNALITE)) throw new Error(`no dynalite at ${DYNALITE}`);
  const started = new Date().toISOString();
  const startLoad = loadavg().map((l) => l.toFixed(2)).join(' ');
  const dirs = [mkdtempSync(join(tmpdir(), 'cellar-ratios-cellar-')), mkdtempSync(join(tmpdir(), 'cellar-ratios-dynalite-'))];
  const cellar = await startCellar(dirs[0]!);
  const dynalite = await startDynalite(dirs[1]!);
  const runs: Run[] = [];
  const notes: string[] = [];
  let settleMs = 0;
  try {
    await waitReady(cellar);
    await waitReady(dynalite);
    const streams = ONLY.has('streams') && (await streamsServed(cellar.endpoint, 'ratios_stream_on'));
    if (streams) await createTable(cellar.endpoint, 'ratios_stream_off');
    else if (ONLY.has('streams')) notes.push('streams: not measurable: this Cellar does not serve the DynamoDB Streams API for a table created with a StreamSpecification.');
    let txn = false;
    if (ONLY.has('txn')) {
      await createTable(cellar.endpoint, 'ratios_txn');
      await createTable(cellar.endpoint, 'ratios_batch');
      txn = await transactionsServed(cellar.endpoint, 'ratios_txn');
      if (!txn) notes.push('txn: not measurable: this Cellar does not serve TransactWriteItems.');
    }
    console.error(`Cellar (data directory) and dynalite (--path) on CPU ${SERVER_CPU}, wrk on CPU ${CLIENT_CPU}, ${CONNECTIONS} connections, ${SECONDS} s a run, ${ROUNDS} rounds`);
    // A warm-up round, not counted: V8 compiles the hot paths during the first seconds of load, on the server's CPU.
    for (let round = 0; round <= ROUNDS; round++) {
      const pair = <T>(x: T, y: T): [T, T] => (round % 2 ? [x, y] : [y, x]);
      for (const workload of ['put', 'get', 'query']) {
        if (!ONLY.has(workload)) continue;
        for (const s of pair(cellar, dynalite)) {
          settleMs += await settle([cellar, dynalite]);
          runs.push(await ddbWrk(s, workload, round));
        }
      }
      const poolSize = SECONDS * 30_000;
      if (streams) {
        for (const table of pair('ratios_stream_on', 'ratios_stream_off')) {
          const amzDate = amzDateNow();
          const pool = Array.from({ length: poolSize }, () => rawRequest(cellar.endpoint, 'PutItem', { TableName: table, Item: smallItem() }, amzDate));
          settleMs += await settle([cellar, dynalite]);
          runs.push(await pooled(cellar, 'streams', table === 'ratios_stream_on' ? 'put, stream on' : 'put, stream off', round, pool));
        }
      }
      if (txn) {
        for (const kind of pair('txn', 'batch')) {
          const amzDate = amzDateNow();
          const pool = Array.from({ length: SECONDS * 4_000 }, () => {
            const items = Array.from({ length: 10 }, smallItem);
            return kind === 'txn'
              ? rawRequest(cellar.endpoint, 'TransactWriteItems', { TransactItems: items.map((Item) => ({ Put: { TableName: 'ratios_txn', Item } })) }, amzDate)
              : rawRequest(cellar.endpoint, 'BatchWriteItem', { RequestItems: { ratios_batch: items.map((Item) => ({ PutRequest: { Item } })) } }, amzDate);
          });
          settleMs += await settle([cellar, dynalite]);
          runs.push(await pooled(cellar, 'txn', kind === 'txn' ? 'TransactWriteItems x10' : 'BatchWriteItem x10', round, pool));
        }
      }
    }
    var memory = { cellar: memoryOf(cellar.proc.pid!), dynalite: memoryOf(dynalite.proc.pid!) }; // eslint-disable-line no-var
  } finally {
    await stop(cellar);
    await stop(dynalite);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }

  runs.splice(0, runs.length, ...runs.filter((r) => r.round > 0));
  const pairs: Pair[] = [];
  for (const [w, goal, ratio] of [['put', '≥ 2', 2], ['get', '≥ 2', 2], ['query', '≥ 3', 3]] as const) {
    if (ONLY.has(w)) pairs.push(pairOf(runs, w, 'cellar', 'dynalite', goal, ratio));
  }
  if (runs.some((r) => r.workload === 'streams')) pairs.push(pairOf(runs, 'streams', 'put, stream on', 'put, stream off', '≥ 0.75', 0.75));
  if (runs.some((r) => r.workload === 'txn')) pairs.push(pairOf(runs, 'txn', 'TransactWriteItems x10', 'BatchWriteItem x10', '≥ 0.33', 1 / 3));
  const fmt = (v: number) => v.toFixed(2);
  const lines = [
    `DynamoDB ratios, both servers on disk (Cellar: a data directory, default settings; dynalite: --path), server on CPU ${SERVER_CPU}, wrk on CPU ${CLIENT_CPU}, ${CONNECTIONS} connections, ${SECONDS} s a run, ${ROUNDS} rounds alternating the order.`,
    `Machine: ${machineLine(started)}.`,
    '',
    'Throughput ratio: first ops/s over second, per round. CPU ratio: second\'s server CPU time per op over first\'s (whole process, every thread), per round: what the throughput ratio would be if each server had a CPU to itself, much less sensitive to other load on the machine.',
    '',
    '| workload | compared | median ops/s (first) | median ops/s (second) | per-round throughput ratios | median | per-round CPU ratios | median | goal | met (throughput) |',
    '|---|---|---:|---:|---|---:|---|---:|---|---|',
  ];
  for (const p of pairs) {
    const m = median(p.ratios);
    const c = p.cpuRatios.length ? fmt(median(p.cpuRatios)) : '';
    lines.push(`| ${p.workload} | ${p.a} / ${p.b} | ${Math.round(median(p.aOps))} | ${Math.round(median(p.bOps))} | ${p.ratios.map(fmt).join(' ')} | ${fmt(m)} | ${p.cpuRatios.map(fmt).join(' ')} | ${c} | ${p.goal} | ${m >= p.goalRatio ? 'yes' : 'no'} |`);
  }
  for (const n of notes) lines.push('', n);
  const cpuLine = (subject: string, workload: string) => {
    const v = runs.filter((r) => r.subject === subject && r.workload === workload && r.cpuPerOpUs !== null).map((r) => r.cpuPerOpUs!);
    return v.length ? String(Math.round(median(v))) : '';
  };
  lines.push('', '| workload | subject | server CPU µs/op (median) | errors |', '|---|---|---:|---:|');
  for (const p of pairs) {
    for (const s of [p.a, p.b]) lines.push(`| ${p.workload} | ${s} | ${cpuLine(s, p.workload)} | ${runs.filter((r) => r.subject === s && r.workload === p.workload).reduce((n, r) => n + r.errors, 0)} |`);
  }
  // A CPU-bound server that had CPU 0 to itself would use one CPU-second per second: what it got instead is the share
  // the rest of the machine left it, the clearest measure of how noisy the run was.
  const shares = runs.flatMap((r) => (r.cpuPerOpUs === null ? [] : [(r.cpuPerOpUs * r.opsPerSec) / 1e6]));
  lines.push(
    '',
    `Noise: during its runs a server used a median of ${fmt(median(shares))} of a CPU (lowest ${fmt(Math.min(...shares))}, highest ${fmt(Math.max(...shares))}); the rest of CPU ${SERVER_CPU} went to other processes. Load average at the start ${startLoad}. Waiting for idle servers before runs took ${Math.round(settleMs / 1000)} s in all.`,
    `Peak RSS at the end: Cellar ${memory!.cellar.hwmMiB} MiB, dynalite ${memory!.dynalite.hwmMiB} MiB.`,
  );
  const table = lines.join('\n');
  console.log(table);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'dynamodb-ratios.md'), table + '\n');
  writeFileSync(join(RESULTS, 'dynamodb-ratios.json'), JSON.stringify({ started, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, pairs, runs, notes, memory: memory! }, null, 2) + '\n');
}

// ---------------------------------------------------------------- memory

const ITEM_FILL = 1024 - 'pk'.length - 'k0000000'.length - 'data'.length;
const BIG_FILLER = Array.from({ length: 64 }, () => randomBytes(ITEM_FILL).toString('base64').slice(0, ITEM_FILL));
/** A 1 KB item (1,024 bytes as DynamoDB counts them: names and values). */
const kbItem = (i: number) => ({ pk: { S: `k${String(i).padStart(7, '0')}` }, data: { S: BIG_FILLER[i % BIG_FILLER.length]! } });

/** Loads items [from, to) into a table: BatchWriteItem of 25, `inFlight` requests at a time. */
async function load(endpoint: string, table: string, from: number, to: number, inFlight: number, pid: number): Promise<number> {
  const t0 = Date.now();
  let next = from;
  let done = 0;
  let reported = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const start = next;
      const end = Math.min(to, next + 25);
      next = end;
      let pending: unknown[] = [];
      for (let i = start; i < end; i++) pending.push({ PutRequest: { Item: kbItem(i) } });
      for (let attempt = 0; pending.length && attempt < 100; attempt++) {
        const out = await ddbOk(endpoint, 'BatchWriteItem', { RequestItems: { [table]: pending } });
        pending = ((out.UnprocessedItems as Record<string, unknown[]> | undefined) ?? {})[table] ?? [];
      }
      if (pending.length) throw new Error('BatchWriteItem kept items unprocessed');
      done += end - start;
      if (from + done - reported >= 100_000) {
        reported = from + done;
        const m = memoryOf(pid);
        console.error(`  ${reported} items, ${Math.round(done / ((Date.now() - t0) / 1000))} items/s, Cellar RSS ${m.rssMiB} MiB`);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return (Date.now() - t0) / 1000;
}

async function memoryBench(): Promise<void> {
  pinSelf();
  const items = Math.max(10_000, Number(arg('items', '1000000')));
  const smallItems = 10_000;
  const keep = process.argv.includes('--keep');
  const given = arg('data-dir', '');
  const dir = given || mkdtempSync(join(tmpdir(), 'cellar-memory-'));
  mkdirSync(dir, { recursive: true });
  const started = new Date().toISOString();
  const cellar = await startCellar(dir);
  const runs: Run[] = [];
  let loadS: number | null = null;
  try {
    await waitReady(cellar);
    const listed = (await ddbOk(cellar.endpoint, 'ListTables', {})).TableNames as string[];
    const startMem = memoryOf(cellar.proc.pid!);
    if (!listed.includes('mem_big')) {
      await createTable(cellar.endpoint, 'mem_small');
      await createTable(cellar.endpoint, 'mem_big');
      await load(cellar.endpoint, 'mem_small', 0, smallItems, 16, cellar.proc.pid!);
      console.error(`loading ${items} items of 1 KB`);
      loadS = await load(cellar.endpoint, 'mem_big', 0, items, 16, cellar.proc.pid!);
      console.error(`  loaded in ${loadS.toFixed(0)} s`);
    } else console.error(`${dir} already holds mem_big: not loading`);
    await settle([cellar]);
    const afterLoad = memoryOf(cellar.proc.pid!);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [table, n] of (round % 2 ? [['mem_small', smallItems], ['mem_big', items]] : [['mem_big', items], ['mem_small', smallItems]]) as Array<[string, number]>) {
        const amzDate = amzDateNow();
        const pool = Array.from({ length: 20_000 }, () => rawRequest(cellar.endpoint, 'GetItem', { TableName: table, Key: { pk: { S: kbItem((Math.random() * n) | 0).pk.S } } }, amzDate));
        await settle([cellar]);
        runs.push(await pooled(cellar, 'get', table === 'mem_big' ? `GetItem, ${items} items` : `GetItem, ${smallItems} items`, round, pool));
      }
    }
    const end = memoryOf(cellar.proc.pid!);
    const dbMiB = ['state.db', 'state.db-wal'].reduce((n, f) => n + (existsSync(join(dir, f)) ? statSync(join(dir, f)).size : 0), 0) / 2 ** 20;
    const p = pairOf(runs, 'get', `GetItem, ${items} items`, `GetItem, ${smallItems} items`, '≥ 0.8', 0.8);
    const m = median(p.ratios);
    const lines = [
      `DynamoDB memory: ${items} items of 1 KB in one table of a Cellar data directory (default settings, cacheMiB 64), server on CPU ${SERVER_CPU}, wrk on CPU ${CLIENT_CPU}, ${CONNECTIONS} connections, ${SECONDS} s a run, ${ROUNDS} rounds alternating the order; keys drawn uniformly from the whole table.`,
      `Machine: ${machineLine(started)}.`,
      '',
      '| measure | value | goal | met |',
      '|---|---:|---|---|',
      `| load time (BatchWriteItem of 25, 16 in flight) | ${loadS === null ? 'loaded earlier' : `${loadS.toFixed(0)} s (${Math.round(items / loadS)} items/s)`} | | |`,
      `| RSS before the load | ${startMem.rssMiB} MiB | | |`,
      `| RSS after the load | ${afterLoad.rssMiB} MiB | < 300 MiB | ${afterLoad.rssMiB < 300 ? 'yes' : 'no'} |`,
      `| peak RSS (VmHWM) over load and reads | ${end.hwmMiB} MiB | < 300 MiB | ${end.hwmMiB < 300 ? 'yes' : 'no'} |`,
      `| RSS after the reads | ${end.rssMiB} MiB | < 300 MiB | ${end.rssMiB < 300 ? 'yes' : 'no'} |`,
      `| database on disk | ${Math.round(dbMiB)} MiB | | |`,
      `| GetItem ops/s, ${items} items (median) | ${Math.round(median(p.aOps))} | | |`,
      `| GetItem ops/s, ${smallItems} items (median) | ${Math.round(median(p.bOps))} | | |`,
      `| per-round ratios large / small | ${p.ratios.map((r) => r.toFixed(2)).join(' ')} | | |`,
      `| median ratio | ${m.toFixed(2)} | ≥ 0.80 | ${m >= 0.8 ? 'yes' : 'no'} |`,
    ];
    const table = lines.join('\n');
    console.log(table);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(join(RESULTS, 'dynamodb-memory.md'), table + '\n');
    writeFileSync(join(RESULTS, 'dynamodb-memory.json'), JSON.stringify({ started, items, loadS, startMem, afterLoad, end, dbMiB, pair: p, runs }, null, 2) + '\n');
  } finally {
    await stop(cellar);
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

(process.argv.includes('--memory') ? memoryBench() : ratios()).catch((e) => {
  console.error(e);
  process.exit(1);
});
