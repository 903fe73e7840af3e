/**
 * What metrics collection costs: DynamoDB PutItem throughput and pgbench TPS with collection on against off, in the
 * same run, alternating rounds (issue 13: under 3% for both).
 *
 *   npm run build && node dist/bench/observability.js [--seconds 10] [--rounds 5] [--only put,pgbench] [--period-ms 1000]
 *
 * Two Cellars on fresh data directories, identical but for the switch: `on` collects with a 1 s period (--period-ms;
 * the sampling cost at sixty times its 60 s default, so the worst case), `off` has CELLAR_METRICS=off. Both are pinned to
 * CPU 0 with taskset (their engines inherit it); the load generator runs on CPU 1.
 *   - put: bench/ddb-wrk.mjs, 16 connections, a pool of 20,000 signed PutItems of distinct keys (cycled: later puts
 *     overwrite; a larger pool takes minutes to sign on a loaded machine).
 *   - pgbench: one db.t3.micro PostgreSQL instance per Cellar, `pgbench -i -s 4` once, then `pgbench -c 8 -j 1 -T
 *     <seconds> -n` (TPC-B-like, over TCP with the master user). The `on` Cellar samples its instance every second
 *     (an admin query, /proc reads of the engine's process tree, a disk usage walk) while pgbench runs.
 * Each round runs every workload once against each Cellar, the order swapping from round to round; a first round
 * warms up and is not counted. The result is the median of the per-round ratios on/off, with their spread.
 *
 * First, in this process, the request path's own recording is timed alone: the gateway's meter, DynamoDB's capacity
 * meter and the store's commit timer, as one PutItem calls them, two million times (CPU ns per put). The throughput
 * rounds include everything else (sampling, publishing into CloudWatch) but on a shared machine their spread is
 * wider than 3%; the isolated figure is the precise one for the request path.
 *
 * Writes bench/results/observability.{md,json} and prints the table. Needs wrk, pgbench and taskset. Not a test.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { arg, DDB_WRK, freePort, median, RESULTS, ROOT, sleep } from './common.js';
import { processTicks } from './wrk-pool.js';
import { CapacityMeter, type MeteredTable } from '../src/observability/dynamodb-capacity.js';
import { storeCommits } from '../src/observability/measures.js';
import { RequestMeter } from '../src/observability/request-meter.js';

const SECONDS = Math.max(2, Number(arg('seconds', '10')));
const ROUNDS = Math.max(1, Math.min(15, Number(arg('rounds', '5'))));
const ONLY = new Set(arg('only', 'put,pgbench').split(','));
/** The `on` Cellar's metrics period: 1 s by default, sixty times AWS's (and Cellar's default) 60 s. */
const PERIOD_MS = Math.max(1000, Number(arg('period-ms', '1000')));
const SERVER_CPU = '0';
const CLIENT_CPU = '1';
const PASSWORD = 'Bench-pass-1';

interface Server {
  name: 'on' | 'off';
  proc: ChildProcess;
  endpoint: string;
  dataDir: string;
  pg?: { port: number };
}

async function startCellar(name: 'on' | 'off'): Promise<Server> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), `cellar-bench-obs-${name}-`));
  writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ metrics: { enabled: name === 'on', periodMs: PERIOD_MS } }));
  const proc = spawn('taskset', ['-c', SERVER_CPU, process.execPath, join(ROOT, 'bin', 'cellar.js'), 'start', '--port', String(port), '--data-dir', dataDir, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const s: Server = { name, proc, endpoint: `http://127.0.0.1:${port}`, dataDir };
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${s.endpoint}/_cellar/health`)).ok) return s;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`cellar ${name} did not start`);
}

async function stop(s: Server): Promise<void> {
  if (s.proc.exitCode === null) {
    const done = new Promise((r) => s.proc.once('exit', r));
    s.proc.kill('SIGTERM');
    await Promise.race([done, sleep(30_000)]);
    if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  }
  rmSync(s.dataDir, { recursive: true, force: true });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 600_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(command, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

interface Sample {
  round: number;
  workload: 'put' | 'pgbench';
  server: 'on' | 'off';
  perSecond: number;
  /** Server CPU per operation (every thread of the Cellar; for pgbench, Cellar's own process, not the engine's). */
  cpuPerOpUs: number | null;
}

async function putRun(s: Server, round: number): Promise<Sample> {
  const out = await run(process.execPath, [DDB_WRK, '--endpoint', s.endpoint, '--workload', 'put', '--connections', '16', '--seconds', String(SECONDS), '--cpus-client', CLIENT_CPU, '--cpus-server', SERVER_CPU, '--server-pid', String(s.proc.pid), '--pool', '20000']);
  const line = out.stdout.trim().split('\n').pop() ?? '';
  if (out.code !== 0 || !line.startsWith('{')) throw new Error(`ddb-wrk against ${s.name} failed: ${out.stderr.slice(-2000)}`);
  const w = JSON.parse(line) as { opsPerSec: number; errors: number; ops: number; serverCpuS: number | null };
  if (w.errors > 0) throw new Error(`ddb-wrk against ${s.name}: ${w.errors} errors`);
  return { round, workload: 'put', server: s.name, perSecond: w.opsPerSec, cpuPerOpUs: w.serverCpuS !== null && w.ops ? (w.serverCpuS * 1e6) / w.ops : null };
}

async function createInstance(s: Server): Promise<void> {
  const rds = new RDSClient({ endpoint: s.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const port = await freePort();
  await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: `bench-${s.name}`, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, DBName: 'bench', Port: port }));
  for (let i = 0; i < 1200; i++) {
    const d = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: `bench-${s.name}` }))).DBInstances![0]!;
    if (d.DBInstanceStatus === 'available') {
      s.pg = { port };
      const init = await run('taskset', ['-c', CLIENT_CPU, 'pgbench', '-i', '-s', '4', '-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'master', 'bench'], { PGPASSWORD: PASSWORD });
      if (init.code !== 0) throw new Error(`pgbench -i on ${s.name}: ${init.stderr}`);
      return;
    }
    await sleep(250);
  }
  throw new Error(`bench-${s.name} never became available`);
}

async function pgbenchRun(s: Server, round: number): Promise<Sample> {
  const cellarTicks = processTicks(s.proc.pid!);
  const out = await run('taskset', ['-c', CLIENT_CPU, 'pgbench', '-c', '8', '-j', '1', '-T', String(SECONDS), '-n', '-h', '127.0.0.1', '-p', String(s.pg!.port), '-U', 'master', 'bench'], { PGPASSWORD: PASSWORD });
  const tps = /tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out.stdout);
  if (out.code !== 0 || !tps) throw new Error(`pgbench against ${s.name} failed: ${out.stderr.slice(-2000)}${out.stdout.slice(-500)}`);
  const transactions = Number(/number of transactions actually processed: (\d+)/.exec(out.stdout)?.[1] ?? 0);
  const after = processTicks(s.proc.pid!);
  const cpuPerOpUs = cellarTicks !== null && after !== null && transactions > 0 ? ((after - cellarTicks) * 10_000) / transactions : null;
  return { round, workload: 'pgbench', server: s.name, perSecond: Number(tps[1]), cpuPerOpUs };
}

/** CPU ns of the recording one PutItem does (request meter, capacity meter, commit timer): the median of 5 runs. */
function hookCostNs(): number {
  const meter = new RequestMeter();
  const capacity = new CapacityMeter();
  const table: MeteredTable = { meta: { name: 'bench', accountId: '000000000000', region: 'us-east-1', status: 'ACTIVE', billingMode: 'PAY_PER_REQUEST', throughput: {}, indexes: [] } };
  const input = { TableName: 'bench', Item: {} };
  const n = 2_000_000;
  const runs: number[] = [];
  for (let round = 0; round < 5; round++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      capacity.write(table, 1, undefined);
      const commit = performance.now();
      storeCommits.observe((performance.now() - commit) / 1000);
      meter.record(meter.bind('dynamodb', 'PutItem'), 200, undefined, performance.now() - started, '000000000000', 'us-east-1', input);
      if (i % 100_000 === 0) {
        meter.takePeriod(new Date());
        capacity.takePeriod(new Date(), []);
      }
    }
    const c = process.cpuUsage(c0);
    runs.push(((c.user + c.system) * 1000) / n);
  }
  return median(runs);
}

async function main(): Promise<void> {
  const started = new Date();
  const hookNs = hookCostNs();
  console.error(`  recording of one PutItem, alone: ${hookNs.toFixed(0)} ns CPU`);
  const servers = [await startCellar('on'), await startCellar('off')];
  const samples: Sample[] = [];
  try {
    if (ONLY.has('pgbench')) for (const s of servers) await createInstance(s);
    for (let round = 0; round <= ROUNDS; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const workload of ['put', 'pgbench'] as const) {
        if (!ONLY.has(workload)) continue;
        for (const s of order) {
          const sample = workload === 'put' ? await putRun(s, round) : await pgbenchRun(s, round);
          console.error(`  r${round} ${workload.padEnd(8)} metrics ${s.name.padEnd(3)} ${sample.perSecond.toFixed(1).padStart(9)} /s  Cellar CPU/op ${sample.cpuPerOpUs?.toFixed(1) ?? '?'} µs${round === 0 ? ' (warm-up)' : ''}`);
          samples.push(sample);
          await sleep(2000);
        }
      }
    }
  } finally {
    for (const s of servers) await stop(s);
  }
  const rows: Array<{ workload: string; on: number; off: number; ratio: number; min: number; max: number; costPct: number; cpuOn: number | null; cpuOff: number | null }> = [];
  for (const workload of ['put', 'pgbench'] as const) {
    if (!ONLY.has(workload)) continue;
    const ratios: number[] = [];
    const on: number[] = [];
    const off: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const a = samples.find((x) => x.round === round && x.workload === workload && x.server === 'on')!;
      const b = samples.find((x) => x.round === round && x.workload === workload && x.server === 'off')!;
      ratios.push(a.perSecond / b.perSecond);
      on.push(a.perSecond);
      off.push(b.perSecond);
    }
    const ratio = median(ratios);
    const cpu = (server: 'on' | 'off') => {
      const v = samples.filter((x) => x.round > 0 && x.workload === workload && x.server === server && x.cpuPerOpUs !== null).map((x) => x.cpuPerOpUs!);
      return v.length ? median(v) : null;
    };
    rows.push({ workload, on: median(on), off: median(off), ratio, min: Math.min(...ratios), max: Math.max(...ratios), costPct: (1 - ratio) * 100, cpuOn: cpu('on'), cpuOff: cpu('off') });
  }
  const unit = (w: string) => (w === 'put' ? 'PutItem/s' : 'TPS');
  const table = [
    `Run of ${started.toISOString()}: ${ROUNDS} rounds of ${SECONDS} s (+1 warm-up), metrics period ${PERIOD_MS / 1000} s, ${cpus().length} CPUs, load average at the end ${loadavg()[0]!.toFixed(2)}.`,
    '',
    '| workload | metrics on (median) | metrics off (median) | on/off (median of rounds) | spread of rounds | cost | Cellar CPU per op, on / off |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.workload === 'put' ? 'DynamoDB PutItem' : 'pgbench (TPC-B-like, 8 clients)'} | ${r.on.toFixed(0)} ${unit(r.workload)} | ${r.off.toFixed(0)} ${unit(r.workload)} | ${r.ratio.toFixed(3)} | ${r.min.toFixed(3)}–${r.max.toFixed(3)} | ${r.costPct.toFixed(1)}% | ${r.cpuOn?.toFixed(1) ?? '?'} / ${r.cpuOff?.toFixed(1) ?? '?'} µs |`,
    ),
    '',
    `The request path's recording alone (gateway meter, capacity meter, commit timer), as one PutItem does it: ${hookNs.toFixed(0)} ns of CPU per put (median of 5 × 2,000,000).`,
  ].join('\n');
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'observability.md'), table + '\n');
  writeFileSync(join(RESULTS, 'observability.json'), JSON.stringify({ started, seconds: SECONDS, rounds: ROUNDS, periodMs: PERIOD_MS, hookNsPerPut: hookNs, rows, samples }, null, 2) + '\n');
  console.log(table);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
