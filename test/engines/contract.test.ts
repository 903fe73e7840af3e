/**
 * One contract, run against every engine adapter with real engine processes: initialise, start, probe, use as the
 * master user, configure, stop/start, kill -9 and recover, recover from a "previous Cellar" leftover, supervise,
 * change the master password, stop. Steps run in order and build on each other; every wait is bounded.
 * Each engine only differs in a small harness saying how its master user talks to it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { LocalHost, settlesWithin } from '../../src/engines/host.js';
import { createEngine } from '../../src/engines/index.js';
import type { EngineAdapter, EngineName, EngineSpec, RelationalEngineAdapter } from '../../src/engines/adapter.js';
import { HealthDecider } from '../../src/runtime/decider.js';
import { describeExit } from '../../src/engines/adapter.js';
import { RespClient, RespError } from '../../src/engines/redis/resp.js';

const STEP_TIMEOUT_MS = 120_000;

/** A master-user session, as an application would have it. */
interface Session {
  write(key: string, value: string): Promise<void>;
  read(key: string): Promise<string | undefined>;
  /** The live value of a parameter as this session sees it. */
  setting(name: string): Promise<string>;
  /** Throws if the session has superuser powers (checked several ways per engine). */
  assertNotSuperuser(): Promise<void>;
  close(): Promise<void>;
}

interface Harness {
  engine: EngineName;
  masterUsername: string;
  connect(port: number, user: string, password: string, db: string): Promise<Session>;
  /** A parameter the engine changes live, and one that needs a restart, with the value `setting` then shows. */
  dynamicParam: { name: string; value: string; shows: string };
  staticParam: { name: string; value: string; shows: string };
}

const pgHarness: Harness = {
  engine: 'postgres',
  masterUsername: 'master_user',
  dynamicParam: { name: 'work_mem', value: '7MB', shows: '7MB' },
  staticParam: { name: 'max_connections', value: '57', shows: '57' },
  async connect(port, user, password, db) {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: db, connectionTimeoutMillis: 5000, query_timeout: 5000 });
    c.on('error', () => {});
    await c.connect();
    await c.query('CREATE TABLE IF NOT EXISTS kv (k text PRIMARY KEY, v text NOT NULL)');
    return {
      write: async (k, v) => void (await c.query('INSERT INTO kv VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v', [k, v])),
      read: async (k) => (await c.query<{ v: string }>('SELECT v FROM kv WHERE k = $1', [k])).rows[0]?.v,
      setting: async (name) => (await c.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]!.v,
      async assertNotSuperuser() {
        const r = await c.query<{ rolsuper: boolean; member: boolean }>(
          "SELECT rolsuper, pg_has_role(current_user, 'rds_superuser', 'MEMBER') AS member FROM pg_roles WHERE rolname = current_user",
        );
        assert.equal(r.rows[0]!.rolsuper, false, 'master must not be a superuser');
        assert.equal(r.rows[0]!.member, true, 'master must be a member of rds_superuser');
        assert.equal((await c.query('SHOW is_superuser')).rows[0].is_superuser, 'off');
        await assert.rejects(c.query("COPY (SELECT 1) TO PROGRAM 'true'"), /permission denied|must be superuser/);
        await assert.rejects(c.query("ALTER SYSTEM SET work_mem = '1MB'"), /permission denied|must be superuser/);
        // CREATEROLE must not open a way to the host (run programs or read files as the engine's OS user).
        for (const role of ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files']) {
          await assert.rejects(c.query(`GRANT ${role} TO current_user`), /must be superuser|permission denied/, role);
        }
        // It can do what RDS's master can: read everything, create roles and databases.
        await c.query('SELECT count(*) FROM pg_stat_activity');
        await c.query('CREATE ROLE contract_app_role NOLOGIN');
        await c.query('DROP ROLE contract_app_role');
      },
      close: () => c.end(),
    };
  },
};

function mariadbHarness(engine: 'mariadb' | 'mysql'): Harness {
  return {
    engine,
    masterUsername: 'admin',
    dynamicParam: { name: 'max_connections', value: '123', shows: '123' },
    staticParam: { name: 'performance_schema', value: 'ON', shows: '1' },
    async connect(port, user, password, db) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user, password, database: db, connectTimeout: 5000 });
      c.on('error', () => {});
      await c.query('CREATE TABLE IF NOT EXISTS kv (k VARCHAR(100) PRIMARY KEY, v TEXT NOT NULL) ENGINE=InnoDB');
      return {
        write: async (k, v) => void (await c.query('REPLACE INTO kv VALUES (?, ?)', [k, v])),
        read: async (k) => {
          const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT v FROM kv WHERE k = ?', [k]);
          return rows[0]?.v as string | undefined;
        },
        setting: async (name) => {
          if (!/^[a-z_]+$/.test(name)) throw new Error(`bad variable ${name}`);
          const [rows] = await c.query<mysql.RowDataPacket[]>(`SELECT @@GLOBAL.${name} AS v`);
          return String(rows[0]!.v);
        },
        async assertNotSuperuser() {
          const [grants] = await c.query<mysql.RowDataPacket[]>('SHOW GRANTS');
          const text = grants.map((g) => String(Object.values(g)[0])).join('\n');
          assert.doesNotMatch(text, /\bSUPER\b|\bSHUTDOWN\b|\bFILE\b|ALL PRIVILEGES ON \*\.\*/, text);
          // Data privileges per database pattern; on the system schemas only reading.
          assert.match(text, /GRANT ALL PRIVILEGES ON `______%`\.\* TO /);
          assert.match(text, /GRANT SELECT, LOCK TABLES, SHOW VIEW ON `mysql`\.\* TO /);
          assert.doesNotMatch(text, /ON `(%|mysql|sys)`\.\* TO .* WITH GRANT OPTION/);
          assert.match(text, /WITH GRANT OPTION/);
          await assert.rejects(c.query('SET GLOBAL max_connections = 99'), /Access denied|SUPER/);
          await assert.rejects(c.query('SHUTDOWN'), /Access denied|SHUTDOWN/);
          await c.query("CREATE USER IF NOT EXISTS 'contract_app'@'%' IDENTIFIED BY 'x'");
          await c.query("DROP USER 'contract_app'@'%'");
        },
        close: () => c.end(),
      };
    },
  };
}

const redisHarness: Harness = {
  engine: 'redis',
  masterUsername: 'default',
  dynamicParam: { name: 'maxmemory-policy', value: 'allkeys-lru', shows: 'allkeys-lru' },
  staticParam: { name: 'databases', value: '32', shows: '32' },
  async connect(port, user, password) {
    const c = await RespClient.connect({ host: '127.0.0.1', port }, 5000);
    try {
      await c.call(['AUTH', user, password]);
    } catch (err) {
      c.close();
      throw err;
    }
    return {
      write: async (k, v) => void (await c.call(['SET', k, v])),
      read: async (k) => {
        const v = await c.call(['GET', k]);
        return v === null ? undefined : String(v);
      },
      // The master user may not run CONFIG GET (as on ElastiCache), so look from the outside.
      setting: async (name) => {
        if (name === 'maxmemory-policy') return /^maxmemory_policy:(.*)$/m.exec(String(await c.call(['INFO', 'memory'])))?.[1]?.trim() ?? '';
        if (name === 'databases') {
          // The highest database index that SELECT accepts, plus one (bounded probe).
          for (let n = 64; n > 0; n--) if (!((await c.command(['SELECT', String(n - 1)])) instanceof RespError)) return String(n);
          return '0';
        }
        throw new Error(`no way to observe ${name}`);
      },
      async assertNotSuperuser() {
        for (const cmd of [['CONFIG', 'GET', 'maxmemory'], ['SHUTDOWN', 'NOSAVE'], ['DEBUG', 'SLEEP', '0'], ['ACL', 'SETUSER', 'x']]) {
          const r = await c.command(cmd);
          // DEBUG is also disabled server-wide by Redis 7's default (enable-debug-command no): refused either way.
          assert.ok(r instanceof RespError && /NOPERM|DEBUG command not allowed/.test(r.message), `${cmd.join(' ')} should be refused, got ${JSON.stringify(r)}`);
        }
      },
      close: async () => c.close(),
    };
  },
};

async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const only = process.env.CELLAR_ENGINES?.split(',');
const harnesses = [pgHarness, mariadbHarness('mariadb'), mariadbHarness('mysql'), redisHarness].filter((h) => !only || only.includes(h.engine));

for (const h of harnesses) {
  describe(`engine contract: ${h.engine}`, { timeout: 15 * 60_000 }, () => {
    let host: LocalHost;
    let base: string;
    let spec: EngineSpec;
    let engine: EngineAdapter;
    const extraEngines: EngineAdapter[] = [];
    let password = `Pa55'w"rd\\;$x-${h.engine}`;
    const unexpectedExits: string[] = [];

    before(async () => {
      host = await LocalHost.create();
      base = fs.mkdtempSync(path.join(os.tmpdir(), `cellar-contract-${h.engine}-`));
      fs.chmodSync(base, 0o711); // the engine user must be able to enter it
      spec = {
        engine: h.engine,
        name: `contract-${h.engine}`,
        dataDir: path.join(base, 'instance'),
        port: await host.findFreePort(),
        masterUsername: h.masterUsername,
        masterPassword: password,
        dbName: 'appdb',
        params: {},
      };
      engine = createEngine(host, spec);
      engine.onUnexpectedExit((s) => unexpectedExits.push(`${s.code}/${s.signal}`));
    });

    after(async () => {
      // Runs even when a step failed: no engine may outlive the suite.
      for (const e of [engine, ...extraEngines]) {
        if (e?.isRunning()) await e.stop('fast', { stepTimeoutMs: 10_000 }).catch(() => {});
      }
      if (base && !process.env.CELLAR_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
    });

    it('initialises a durable instance, idempotently', { timeout: STEP_TIMEOUT_MS }, async () => {
      assert.equal(await engine.isInitialised(), false);
      await engine.initialise();
      assert.equal(await engine.isInitialised(), true);
      await engine.initialise(); // no-op the second time
      const mode = fs.statSync(spec.dataDir).mode & 0o777;
      assert.equal(mode, 0o700);
      if (process.getuid?.() === 0) assert.equal(fs.statSync(spec.dataDir).uid, host.engineUser.uid);
      // No secret left lying around in plaintext.
      for (const f of walkFiles(spec.dataDir)) {
        if (fs.statSync(f).size < 1_000_000) assert.ok(!fs.readFileSync(f).includes(Buffer.from(password)), `plaintext password found in ${f}`);
      }
    });

    it('starts and answers a health probe', { timeout: STEP_TIMEOUT_MS }, async () => {
      await engine.start();
      assert.equal(engine.isRunning(), true);
      const probe = await engine.healthProbe(2000);
      assert.ok(probe.ok, JSON.stringify(probe));
      assert.deepEqual(engine.endpoint(), { address: '127.0.0.1', port: spec.port });
      await engine.start(); // already running: no-op
    });

    it('lets the master user write and read data', { timeout: STEP_TIMEOUT_MS }, async () => {
      const s = await h.connect(spec.port, h.masterUsername, password, 'appdb');
      try {
        await s.write('k1', 'v1');
        assert.equal(await s.read('k1'), 'v1');
      } finally {
        await s.close();
      }
    });

    it('does not make the master user a superuser', { timeout: STEP_TIMEOUT_MS }, async () => {
      const s = await h.connect(spec.port, h.masterUsername, password, 'appdb');
      try {
        await s.assertNotSuperuser();
      } finally {
        await s.close();
      }
    });

    it('applies a dynamic parameter live and defers a static one to the restart', { timeout: STEP_TIMEOUT_MS }, async () => {
      const r = await engine.configure({ [h.dynamicParam.name]: h.dynamicParam.value });
      assert.deepEqual(r, { appliedLive: [h.dynamicParam.name], pendingRestart: [] });
      const s = await h.connect(spec.port, h.masterUsername, password, 'appdb');
      try {
        assert.equal(await s.setting(h.dynamicParam.name), h.dynamicParam.shows);
      } finally {
        await s.close();
      }
      const r2 = await engine.configure({ [h.staticParam.name]: h.staticParam.value });
      assert.deepEqual(r2, { appliedLive: [], pendingRestart: [h.staticParam.name] });
      await assert.rejects(engine.configure({ port: '1' }), /managed by Cellar/);
    });

    it('stops gracefully, starts again with data intact and the static parameter applied', { timeout: STEP_TIMEOUT_MS }, async () => {
      const outcome = await engine.stop('graceful');
      assert.notEqual(outcome.stoppedBy, 'kill', JSON.stringify(outcome));
      assert.notEqual(outcome.stoppedBy, 'none');
      assert.equal(engine.isRunning(), false);
      assert.equal((await engine.healthProbe(500)).ok, false);
      assert.deepEqual(unexpectedExits, [], 'a requested stop is not an unexpected exit');
      await engine.start();
      const s = await h.connect(spec.port, h.masterUsername, password, 'appdb');
      try {
        assert.equal(await s.read('k1'), 'v1');
        assert.equal(await s.setting(h.dynamicParam.name), h.dynamicParam.shows, 'dynamic parameter survives a restart');
        assert.equal(await s.setting(h.staticParam.name), h.staticParam.shows, 'static parameter applied by the restart');
      } finally {
        await s.close();
      }
    });

    it('recovers from kill -9 of the engine (no stale lock problem)', { timeout: STEP_TIMEOUT_MS }, async () => {
      const s = await h.connect(spec.port, h.masterUsername, password, 'appdb');
      await s.write('k2', 'acknowledged-before-kill');
      await s.close();
      const pid = engine.pid()!;
      process.kill(pid, 'SIGKILL'); // the main process only, as a crash would: backends are left to notice
      await waitFor('the engine exit to be seen', 10_000, () => !engine.isRunning());
      await waitFor('the unexpected exit to be reported', 2_000, () => unexpectedExits.length === 1);
      assert.deepEqual(unexpectedExits, ['null/SIGKILL']);
      await engine.start();
      const s2 = await h.connect(spec.port, h.masterUsername, password, 'appdb');
      try {
        assert.equal(await s2.read('k1'), 'v1');
        assert.equal(await s2.read('k2'), 'acknowledged-before-kill');
      } finally {
        await s2.close();
      }
    });

    it('takes over an engine left running by a previous Cellar', { timeout: STEP_TIMEOUT_MS }, async () => {
      // A second adapter on the same directory stands for Cellar restarted after a crash: it does not know the pid.
      const orphanPid = engine.pid()!;
      const successor = createEngine(host, spec);
      extraEngines.push(successor);
      await successor.start();
      assert.notEqual(successor.pid(), orphanPid);
      await waitFor('the old engine to be gone', 10_000, () => !engine.isRunning());
      const s = await h.connect(spec.port, h.masterUsername, password, 'appdb');
      try {
        assert.equal(await s.read('k2'), 'acknowledged-before-kill');
      } finally {
        await s.close();
      }
      await successor.stop('fast');
      unexpectedExits.length = 0;
      await engine.start();
    });

    it('is restarted after a crash, as its health decider decides', { timeout: STEP_TIMEOUT_MS }, async () => {
      // The engine layer only reports the exit; the runtime's one decider decides the restart and the caller acts.
      const decider = new HealthDecider(`${h.engine} contract`, { maxRestarts: 2, windowMs: 60_000 });
      const unsubscribe = engine.onUnexpectedExit((status) => decider.noteExit(describeExit(status)));
      try {
        const pid = engine.pid()!;
        process.kill(pid, 'SIGKILL');
        await waitFor('the exit to be reported', 60_000, () => decider.state === 'down');
        const decision = await decider.decide(async () => ({ ok: true }));
        assert.equal(decision.action, 'restart');
        assert.match(decision.sentence, /exited unexpectedly \(signal SIGKILL\); restarting it \(crash restart 1 of 2 within 60 s\)/);
        await engine.start();
        decider.noteRunning();
        assert.ok((await engine.healthProbe(2000)).ok);
        assert.notEqual(engine.pid(), pid);
      } finally {
        unsubscribe();
      }
    });

    it('changes the master password: the old one is refused, the new one works', { timeout: STEP_TIMEOUT_MS }, async () => {
      const old = password;
      const next = `n3w-${h.engine}-'"\\pw`;
      await engine.setMasterPassword(h.masterUsername, next);
      await assert.rejects(async () => {
        const s = await h.connect(spec.port, h.masterUsername, old, 'appdb');
        await s.close();
      });
      password = next;
      const s = await h.connect(spec.port, h.masterUsername, next, 'appdb');
      try {
        assert.equal(await s.read('k1'), 'v1');
      } finally {
        await s.close();
      }
    });

    it('reports the storage it uses', { timeout: STEP_TIMEOUT_MS }, async () => {
      const bytes = await engine.storageUsedBytes();
      assert.ok(bytes > 4096, `storage used ${bytes}`);
    });

    it('stops within its bounds', { timeout: STEP_TIMEOUT_MS }, async () => {
      const pid = engine.pid()!;
      const outcome = await engine.stop('fast');
      assert.equal(outcome.stoppedBy, 'fast');
      assert.equal(engine.isRunning(), false);
      assert.ok(await settlesWithin(waitFor('pid to disappear', 5000, async () => (await host.processInfo(pid)).state === 'gone'), 6000));
      assert.deepEqual(await engine.stop('fast'), { stoppedBy: 'none', elapsedMs: 0 });
    });

    // Parameter sets are an RDS notion: the test exists for the relational engines only (not a skip).
    if (h.engine !== 'redis') it('takes a whole parameter set: stored while stopped, live while running, dropped ones back to default', { timeout: STEP_TIMEOUT_MS }, async () => {
      const relational = engine as RelationalEngineAdapter;
      const { name, value, shows } = h.dynamicParam;
      // Stopped: the empty set replaces what configure() stored earlier, so the start runs with defaults.
      assert.deepEqual(await relational.applyParams({}), { appliedLive: [], pendingRestart: [] });
      await engine.start();
      const seen = async () => {
        const s = await h.connect(spec.port, h.masterUsername, password, 'appdb');
        try {
          return await s.setting(name);
        } finally {
          await s.close();
        }
      };
      assert.notEqual(await seen(), shows, 'configure()d value gone with the new set');
      assert.deepEqual(await relational.applyParams({ [name]: value }), { appliedLive: [name], pendingRestart: [] });
      assert.equal(await seen(), shows);
      await relational.applyParams({});
      assert.notEqual(await seen(), shows, 'a parameter that left the set is back to its default');
    });

    it('is destroyed once stopped, and refuses while running', { timeout: STEP_TIMEOUT_MS }, async () => {
      if (!engine.isRunning()) await engine.start();
      await assert.rejects(engine.destroy(), /still running/);
      await engine.stop('fast');
      await engine.destroy();
      assert.equal(fs.existsSync(spec.dataDir), false);
      assert.equal(await engine.isInitialised(), false);
    });
  });
}

function* walkFiles(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walkFiles(p);
    else if (entry.isFile()) yield p;
  }
}
