/**
 * The floor: how fast the engines themselves go from nothing to a first answered query, done directly
 * (initdb + postgres + SELECT 1; mariadb-install-db + mariadbd + SELECT 1; redis-server + PING), versus the same
 * through the adapters (initialise + start + health probe). Median of N runs each, direct and adapter interleaved
 * so the machine's noise hits both alike. Prints one JSON line per engine.
 *
 *   npx tsc -p . && node dist/bench/engine-floor.js [runs=3] [engines=postgres,mariadb,redis]
 *
 * The direct PostgreSQL floor is measured twice: with initdb's own fsync (what initdb does by default) and with
 * --no-sync (no durability at all). The adapter uses --no-sync plus one fsync pass over the whole instance after
 * its bootstrap, so its number includes durability; compare it with the synced floor.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { setLogLevel } from '../src/core/log.js';
import { LocalHost, type HostProcess } from '../src/engines/host.js';
import { createEngine } from '../src/engines/index.js';
import type { EngineName, ProcessEngine } from '../src/engines/adapter.js';
import { RespClient } from '../src/engines/redis/resp.js';

setLogLevel('error');
const runs = Number(process.argv[2] ?? 3);
const engines = (process.argv[3] ?? 'postgres,mariadb,redis').split(',') as EngineName[];
const host = await LocalHost.create();
const FIRST_QUERY_TIMEOUT_MS = 60_000;

async function untilOk(what: string, proc: HostProcess, fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + FIRST_QUERY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (proc.exitStatus()) throw new Error(`${what} exited: ${JSON.stringify(proc.exitStatus())}`);
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  throw new Error(`${what} never answered: ${String(last)}`);
}

async function stopDirect(p: HostProcess): Promise<void> {
  p.signal('SIGKILL', { group: true });
  await p.exited;
}

function freshDir(tag: string): string {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `cellar-floor-${tag}-`));
  fs.chmodSync(base, 0o711);
  return base;
}

async function directPostgres(sync: boolean): Promise<number> {
  const base = freshDir('pgd');
  const data = path.join(base, 'data');
  const bin = '/usr/lib/postgresql/15/bin';
  const port = await host.findFreePort();
  let proc: HostProcess | undefined;
  const t0 = performance.now();
  try {
    await host.ensureDir(data);
    const r = await host.run({ command: `${bin}/initdb`, args: ['-D', data, '-U', 'bench', '-A', 'trust', ...(sync ? [] : ['-N'])], cwd: base, timeoutMs: 180_000 });
    if (r.code !== 0) throw new Error(r.stderr);
    proc = host.spawn({ command: `${bin}/postgres`, args: ['-D', data, '-p', String(port), '-k', data, '-c', 'listen_addresses=127.0.0.1'], cwd: base });
    await untilOk('postgres', proc, async () => {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'bench', database: 'postgres' });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.query('SELECT 1');
      } finally {
        await c.end().catch(() => {});
      }
    });
    return performance.now() - t0;
  } finally {
    if (proc) await stopDirect(proc);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function directMariadb(): Promise<number> {
  const base = freshDir('myd');
  const data = path.join(base, 'data');
  const run = path.join(base, 'run');
  const sock = path.join(run, 'my.sock');
  const port = await host.findFreePort();
  let proc: HostProcess | undefined;
  const t0 = performance.now();
  try {
    await host.ensureDir(data);
    await host.ensureDir(run);
    const r = await host.run({
      command: '/usr/bin/mariadb-install-db',
      args: ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=socket', `--auth-root-socket-user=${host.cellarUser}`, '--skip-test-db'],
      cwd: base,
      timeoutMs: 180_000,
    });
    if (r.code !== 0) throw new Error(r.stderr);
    proc = host.spawn({
      command: '/usr/sbin/mariadbd',
      args: ['--no-defaults', `--datadir=${data}`, `--socket=${sock}`, `--pid-file=${run}/p.pid`, `--port=${port}`, '--bind-address=127.0.0.1', '--skip-name-resolve'],
      cwd: base,
    });
    await untilOk('mariadbd', proc, async () => {
      const c = await mysql.createConnection({ socketPath: sock, user: host.cellarUser });
      try {
        await c.query('SELECT 1');
      } finally {
        c.destroy();
      }
    });
    return performance.now() - t0;
  } finally {
    if (proc) await stopDirect(proc);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function directRedis(): Promise<number> {
  const base = freshDir('rd');
  const port = await host.findFreePort();
  let proc: HostProcess | undefined;
  const t0 = performance.now();
  try {
    await host.ensureDir(path.join(base, 'data'));
    proc = host.spawn({ command: '/usr/bin/redis-server', args: ['--port', String(port), '--bind', '127.0.0.1', '--dir', path.join(base, 'data'), '--appendonly', 'yes'], cwd: base });
    await untilOk('redis', proc, async () => {
      const c = await RespClient.connect({ host: '127.0.0.1', port }, 1000);
      try {
        await c.call(['PING']);
      } finally {
        c.close();
      }
    });
    return performance.now() - t0;
  } finally {
    if (proc) await stopDirect(proc);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

async function viaAdapter(engine: EngineName): Promise<{ ms: number; phasesMs: Record<string, number>; startMs: number }> {
  const base = freshDir(`ad-${engine}`);
  const e = createEngine(host, {
    engine,
    name: 'floor',
    dataDir: path.join(base, 'instance'),
    port: await host.findFreePort(),
    masterUsername: engine === 'redis' ? 'default' : 'master',
    masterPassword: 'floor-password',
    dbName: 'app',
  }) as ProcessEngine;
  const t0 = performance.now();
  try {
    await e.initialise();
    const t1 = performance.now();
    await e.start();
    const probe = await e.healthProbe(5000);
    if (!probe.ok) throw new Error(probe.reason);
    return { ms: performance.now() - t0, phasesMs: e.lastInitialisePhasesMs, startMs: Math.round(performance.now() - t1) };
  } finally {
    await e.stop('fast').catch(() => {});
    fs.rmSync(base, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]!);
}

for (const engine of engines) {
  const direct: number[] = [];
  const directNoSync: number[] = [];
  const adapter: number[] = [];
  const details: Array<Record<string, unknown>> = [];
  for (let i = 0; i < runs; i++) {
    if (engine === 'postgres') {
      direct.push(await directPostgres(true));
      directNoSync.push(await directPostgres(false));
    } else if (engine === 'mariadb' || engine === 'mysql') {
      direct.push(await directMariadb());
    } else {
      direct.push(await directRedis());
    }
    const a = await viaAdapter(engine);
    adapter.push(a.ms);
    details.push({ initialisePhasesMs: a.phasesMs, startAndProbeMs: a.startMs });
  }
  const floor = median(direct);
  console.log(
    JSON.stringify({
      engine,
      runs,
      directFloorMs: floor,
      ...(directNoSync.length ? { directFloorNoSyncMs: median(directNoSync) } : {}),
      adapterMs: median(adapter),
      ratio: Math.round((median(adapter) / floor) * 100) / 100,
      samples: { direct: direct.map(Math.round), directNoSync: directNoSync.map(Math.round), adapter: adapter.map(Math.round) },
      details,
      loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    }),
  );
}
