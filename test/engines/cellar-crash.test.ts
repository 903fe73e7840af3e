/**
 * Given an instance run by a Cellar process, when that Cellar is killed with SIGKILL:
 * - the engine shuts itself down cleanly within seconds (setpriv --pdeathsig, see engines/host.ts), and the next
 *   Cellar starts it again with every acknowledged write;
 * - an engine that outlived its Cellar anyway (a Cellar without setpriv, stood for by `stopChildrenWithCellar:
 *   false`) is taken over by the next Cellar: the leftover is stopped, its stale lock cleared, the engine started
 *   again, and every acknowledged write is still there.
 * Run against every engine, with a real separate Node process standing for the first Cellar.
 */
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { LocalHost } from '../../src/engines/host.js';
import { createEngine } from '../../src/engines/index.js';
import type { EngineAdapter, EngineName, EngineSpec } from '../../src/engines/adapter.js';
import { RespClient } from '../../src/engines/redis/resp.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const engineIndex = path.resolve(here, '../../src/engines/index.js');
const hostModule = path.resolve(here, '../../src/engines/host.js');

async function writeAndRead(spec: EngineSpec, write: string | undefined): Promise<string | undefined> {
  if (spec.engine === 'postgres') {
    const c = new pg.Client({ host: '127.0.0.1', port: spec.port, user: spec.masterUsername, password: spec.masterPassword, database: spec.dbName, connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      await c.query('CREATE TABLE IF NOT EXISTS t (v text)');
      if (write) await c.query('INSERT INTO t VALUES ($1)', [write]);
      return (await c.query('SELECT string_agg(v, \',\') AS v FROM t')).rows[0].v ?? undefined;
    } finally {
      await c.end();
    }
  }
  if (spec.engine === 'redis') {
    const c = await RespClient.connect({ host: '127.0.0.1', port: spec.port }, 5000);
    try {
      await c.call(['AUTH', spec.masterUsername, spec.masterPassword]);
      if (write) await c.call(['RPUSH', 't', write]);
      const v = (await c.call(['LRANGE', 't', '0', '-1'])) as string[];
      return v.length ? v.join(',') : undefined;
    } finally {
      c.close();
    }
  }
  const c = await mysql.createConnection({ host: '127.0.0.1', port: spec.port, user: spec.masterUsername, password: spec.masterPassword, database: spec.dbName, connectTimeout: 5000 });
  try {
    await c.query('CREATE TABLE IF NOT EXISTS t (v TEXT) ENGINE=InnoDB');
    if (write) await c.query('INSERT INTO t VALUES (?)', [write]);
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT GROUP_CONCAT(v) AS v FROM t');
    return rows[0]!.v ?? undefined;
  } finally {
    await c.end();
  }
}

/** Starts a separate "Cellar" process that initialises and starts the instance, and resolves with the engine pid. */
function startFirstCellar(spec: EngineSpec, hostOptions: { stopChildrenWithCellar?: boolean } = {}): Promise<{ cellarPid: number; enginePid: number }> {
  const script = `
    import { LocalHost } from ${JSON.stringify(hostModule)};
    import { createEngine } from ${JSON.stringify(engineIndex)};
    const spec = JSON.parse(process.env.SPEC);
    const engine = createEngine(await LocalHost.create(JSON.parse(process.env.HOST_OPTIONS)), spec);
    await engine.initialise();
    await engine.start();
    console.log('READY ' + engine.pid());
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, SPEC: JSON.stringify(spec), HOST_OPTIONS: JSON.stringify(hostOptions), CELLAR_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('first Cellar not ready within 120 s'));
    }, 120_000);
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ cellarPid: child.pid!, enginePid: Number(m[1]) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`first Cellar exited early (${code})`));
    });
  });
}

const engines: EngineName[] = ['postgres', 'mariadb', 'redis'];

// The first Cellar and its successor share a root key, as two runs of one server on one data directory do: the
// engines' secret files (Redis's admin password) are sealed under it. Child processes inherit it.
process.env.CELLAR_ROOT_KEY ??= randomBytes(32).toString('base64');

describe('Cellar killed with SIGKILL while its engines run', { timeout: 10 * 60_000 }, () => {
  const host = LocalHost.create();
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c().catch(() => {});
  });

  const newSpec = async (h: LocalHost, engineName: EngineName, label: string): Promise<{ spec: EngineSpec; base: string }> => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), `cellar-crash-${engineName}-`));
    fs.chmodSync(base, 0o711);
    const spec: EngineSpec = {
      engine: engineName,
      name: `${label}-${engineName}`,
      dataDir: path.join(base, 'instance'),
      port: await h.findFreePort(),
      masterUsername: engineName === 'redis' ? 'default' : 'master',
      masterPassword: 'crash-test-pw',
      dbName: 'app',
    };
    return { spec, base };
  };

  /** What each engine writes to its log when it shuts down cleanly. */
  const cleanShutdownLine: Record<string, RegExp> = {
    postgres: /received fast shutdown request[\s\S]*database system is shut down/,
    mariadb: /Shutdown complete/,
    redis: /ready to exit, bye bye/,
  };

  for (const engineName of engines) {
    it(`${engineName}: the engine shuts down cleanly with its Cellar, and the next Cellar starts it with all acknowledged writes`, { timeout: 240_000 }, async () => {
      const h = await host;
      const { spec, base } = await newSpec(h, engineName, 'dies');
      let successor: EngineAdapter | undefined;
      let enginePid: number | undefined;
      cleanups.push(async () => {
        if (successor?.isRunning()) await successor.stop('fast');
        if (enginePid && (await h.processInfo(enginePid)).state === 'running') process.kill(-enginePid, 'SIGKILL');
        fs.rmSync(base, { recursive: true, force: true });
      });

      const first = await startFirstCellar(spec);
      enginePid = first.enginePid;
      assert.equal(await writeAndRead(spec, 'before-crash'), 'before-crash');
      process.kill(first.cellarPid, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      while ((await h.processInfo(first.enginePid)).state === 'running') {
        assert.ok(Date.now() < deadline, `engine ${first.enginePid} still running 10 s after its Cellar was killed`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const log = fs.readFileSync(path.join(spec.dataDir, 'log', `${engineName}.log`), 'utf8');
      assert.match(log, cleanShutdownLine[engineName]!, 'the engine shut down cleanly, not killed');

      successor = createEngine(h, spec);
      await successor.start();
      assert.equal(await writeAndRead(spec, 'after-restart'), 'before-crash,after-restart');
      await successor.stop('fast');
    });

    it(`${engineName}: the next Cellar takes an engine that outlived its Cellar over with all acknowledged writes`, { timeout: 240_000 }, async () => {
      const h = await host;
      const { spec, base } = await newSpec(h, engineName, 'orphan');
      let successor: EngineAdapter | undefined;
      let orphanPid: number | undefined;
      cleanups.push(async () => {
        if (successor?.isRunning()) await successor.stop('fast');
        if (orphanPid && (await h.processInfo(orphanPid)).state === 'running') process.kill(-orphanPid, 'SIGKILL');
        fs.rmSync(base, { recursive: true, force: true });
      });

      const first = await startFirstCellar(spec, { stopChildrenWithCellar: false });
      orphanPid = first.enginePid;
      assert.equal(await writeAndRead(spec, 'before-crash'), 'before-crash');
      process.kill(first.cellarPid, 'SIGKILL');
      // The engine survives its Cellar (own session, no death signal) and keeps serving.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await h.processInfo(first.enginePid)).state, 'running');
      assert.equal(await writeAndRead(spec, 'while-orphaned'), 'before-crash,while-orphaned');

      successor = createEngine(h, spec);
      assert.equal(await successor.isInitialised(), true);
      await successor.start();
      assert.notEqual(successor.pid(), first.enginePid);
      assert.notEqual((await h.processInfo(first.enginePid)).state, 'running');
      assert.equal(await writeAndRead(spec, 'after-takeover'), 'before-crash,while-orphaned,after-takeover');
      await successor.stop('fast');
    });
  }

  it('refuses to start on a port something else holds, saying which', { timeout: 120_000 }, async () => {
    const h = await host;
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-port-'));
    fs.chmodSync(base, 0o711);
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    const e = createEngine(h, { engine: 'redis', name: 'port', dataDir: path.join(base, 'i'), port, masterUsername: 'default', masterPassword: 'x' });
    cleanups.push(async () => {
      server.close();
      if (e.isRunning()) await e.stop('fast');
      fs.rmSync(base, { recursive: true, force: true });
    });
    await e.initialise();
    await assert.rejects(e.start(), new RegExp(`while starting redis port in .*: port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assert.equal(e.isRunning(), false);
  });
});
