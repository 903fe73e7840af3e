/**
 * @module services/rds/engine-driver
 * STOPGAP until branch `engines` lands: RdsEngineDriver for PostgreSQL (Debian postgresql-N) and
 * MariaDB on the local machine. When src/engines/ exists, this file becomes a thin binding of
 * RdsEngineDriver to its adapters (initialise/start/stop/healthProbe/configure/setMasterPassword/
 * storageUsedBytes).
 *
 * Layout of an instance directory (0700, owned by the engine user):
 *   data/        the engine's data directory
 *   run/         Unix socket and pid file
 *   engine.log   the engine's stdout/stderr
 *   cellar.conf  (PostgreSQL, included from postgresql.conf) or my.cnf (MariaDB): Cellar-written settings
 *
 * Cellar talks to an engine as its own administrator (`rdsadmin` on PostgreSQL, `root` on MariaDB)
 * over the Unix socket with peer / unix_socket authentication, so there is no administrator password
 * anywhere. Clients use TCP on the endpoint port with the master user's password; the engine listens
 * on that port itself (nothing in the data path).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { log } from '../../core/log.js';
import type { EngineKind } from './catalog.js';
import type { EngineExit, EngineSpec, MasterCredentials, RdsEngineDriver } from './driver.js';
import { engineUser, liveProcess, runAs, signal, sleep, spawnEngine, waitGone, type EngineProcess, type EngineUser } from './engine-host.js';

const INITDB_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 10;
const SQL_TIMEOUT_MS = 10_000;
const STOP_FAST_TIMEOUT_MS = 15_000;
const STOP_KILL_TIMEOUT_MS = 5_000;
const STORAGE_WALK_MAX_ENTRIES = 500_000;
/** MariaDB redo log size for new instances (docs/rds.md: smaller than RDS's 128 MiB to keep small instances small). */
export const MARIADB_LOG_FILE_BYTES = 16 * 1024 * 1024;

interface Installed {
  kind: EngineKind;
  version: string;
  major: string;
  bin: string;
}

/** Finds the engines installed on this host and their exact versions. */
function discover(): Installed[] {
  const out: Installed[] = [];
  const pgRoot = '/usr/lib/postgresql';
  if (existsSync(pgRoot)) {
    for (const major of readdirSync(pgRoot)) {
      const bin = join(pgRoot, major, 'bin');
      if (!existsSync(join(bin, 'postgres')) || !existsSync(join(bin, 'initdb'))) continue;
      const ver = readVersion(join(bin, 'postgres'), ['--version'], /\(PostgreSQL\)\s+(\d+\.\d+)/);
      if (ver) out.push({ kind: 'postgres', version: ver, major: ver.split('.')[0]!, bin });
    }
  }
  for (const mariadbd of ['/usr/sbin/mariadbd', '/usr/bin/mariadbd']) {
    if (!existsSync(mariadbd)) continue;
    const ver = readVersion(mariadbd, ['--version'], /Ver\s+(\d+\.\d+\.\d+)-MariaDB/);
    if (ver) out.push({ kind: 'mariadb', version: ver, major: ver.split('.').slice(0, 2).join('.'), bin: mariadbd });
    break;
  }
  return out;
}

function readVersion(bin: string, args: string[], re: RegExp): string | undefined {
  try {
    return re.exec(spawnSyncText(bin, args))?.[1];
  } catch {
    return undefined;
  }
}

function spawnSyncText(bin: string, args: string[]): string {
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

function pgLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
function pgIdent(s: string): string {
  return `"${s.replace(/"/g, '""')}"`;
}
function myLiteral(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
function myIdent(s: string): string {
  return `\`${s.replace(/`/g, '``')}\``;
}

/** MariaDB option-file names for variables whose server option is spelled differently. */
const MY_CNF_NAMES: Record<string, string> = { tx_isolation: 'transaction_isolation' };

export class LocalEngineDriver implements RdsEngineDriver {
  private readonly user: EngineUser;
  private readonly engines: Installed[];
  private readonly procs = new Map<string, EngineProcess>();
  private readonly listeners: Array<(e: EngineExit) => void> = [];

  constructor() {
    this.user = engineUser();
    this.engines = discover();
  }

  installed(): Array<{ kind: EngineKind; version: string; major: string }> {
    return this.engines.map(({ kind, version, major }) => ({ kind, version, major }));
  }

  private engine(spec: EngineSpec): Installed {
    const e = this.engines.find((x) => x.kind === spec.kind && x.version === spec.version);
    if (!e) throw new Error(`${spec.kind} ${spec.version} is not installed on this host`);
    return e;
  }

  private paths(spec: EngineSpec) {
    const run = join(spec.dataDir, 'run');
    return {
      data: join(spec.dataDir, 'data'),
      run,
      log: join(spec.dataDir, 'engine.log'),
      pgConf: join(spec.dataDir, 'data', 'cellar.conf'),
      myCnf: join(spec.dataDir, 'my.cnf'),
      mySocket: join(run, 'mysqld.sock'),
      myPid: join(run, 'mysqld.pid'),
      initialised: join(spec.dataDir, '.initialised'),
      bootstrapped: join(spec.dataDir, '.bootstrapped'),
    };
  }

  private ensureDir(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    if (userInfo().uid === 0) chownSync(dir, this.user.uid, this.user.gid);
  }

  private writeOwned(path: string, content: string): void {
    writeFileSync(path, content, { mode: 0o600 });
    if (userInfo().uid === 0) chownSync(path, this.user.uid, this.user.gid);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------

  async initialise(spec: EngineSpec, master: MasterCredentials, settings: Record<string, string>): Promise<void> {
    const p = this.paths(spec);
    if (!existsSync(p.initialised)) {
      // A directory left by an interrupted initialisation is discarded and made again.
      await this.stop(spec);
      rmSync(spec.dataDir, { recursive: true, force: true });
      this.ensureDir(spec.dataDir);
      this.ensureDir(p.run);
      if (spec.kind === 'postgres') await this.initdb(spec);
      else await this.installDb(spec);
      this.writeOwned(p.initialised, new Date().toISOString() + '\n');
    }
    if (!existsSync(p.bootstrapped)) {
      if (!this.isRunning(spec)) await this.start(spec, settings);
      if (spec.kind === 'postgres') await this.bootstrapPostgres(spec, master);
      else await this.bootstrapMariadb(spec, master);
      this.writeOwned(p.bootstrapped, new Date().toISOString() + '\n');
    }
  }

  private async initdb(spec: EngineSpec): Promise<void> {
    const e = this.engine(spec);
    const p = this.paths(spec);
    const r = await runAs(this.user, join(e.bin, 'initdb'), ['-D', p.data, '-U', 'rdsadmin', '-E', 'UTF8', '--locale=C', '-N', '--no-instructions', '-A', 'peer'], { timeoutMs: INITDB_TIMEOUT_MS });
    if (r.code !== 0) throw new Error(`initdb failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
    // Peer authentication maps the OS users Cellar may run as to rdsadmin; everyone else uses passwords.
    const me = userInfo().username;
    const idents = [...new Set(['root', me, this.user.name])].map((u) => `cellar ${u} rdsadmin`).join('\n');
    this.writeOwned(join(p.data, 'pg_ident.conf'), idents + '\n');
    this.writeOwned(
      join(p.data, 'pg_hba.conf'),
      [
        'local all rdsadmin peer map=cellar',
        'local all all scram-sha-256',
        'host all rdsadmin all reject',
        'host all all all scram-sha-256',
      ].join('\n') + '\n',
    );
    const conf = readFileSync(join(p.data, 'postgresql.conf'), 'utf8');
    this.writeOwned(join(p.data, 'postgresql.conf'), conf + "\ninclude_if_exists = 'cellar.conf'\n");
  }

  private async installDb(spec: EngineSpec): Promise<void> {
    const p = this.paths(spec);
    const me = userInfo().username;
    // mariadb-install-db must run as root to switch to --user; as an ordinary user it runs as that user.
    const args = [
      '--no-defaults',
      `--datadir=${p.data}`,
      `--user=${this.user.name}`,
      '--auth-root-authentication-method=socket',
      `--auth-root-socket-user=${me}`,
      '--skip-test-db',
      '--skip-name-resolve',
      `--innodb-log-file-size=${MARIADB_LOG_FILE_BYTES}`,
    ];
    const r = await runAs({ name: me, uid: userInfo().uid, gid: userInfo().gid }, 'mariadb-install-db', args, { timeoutMs: INITDB_TIMEOUT_MS });
    if (r.code !== 0) throw new Error(`mariadb-install-db failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  }

  async start(spec: EngineSpec, settings: Record<string, string>): Promise<void> {
    if (this.isRunning(spec)) return;
    // An engine a previous Cellar started: keep it if it answers.
    if (await this.adopt(spec)) return;
    const e = this.engine(spec);
    const p = this.paths(spec);
    this.ensureDir(p.run);
    this.writeConfig(spec, settings);
    let proc: EngineProcess;
    const onExit = (code: number | null, sig: string | null) => {
      if (this.procs.get(spec.key) !== proc) return;
      if (!proc.stopping) for (const l of this.listeners) l({ key: spec.key, code, signal: sig });
    };
    if (spec.kind === 'postgres') {
      // A pid file left by a dead postmaster (even a zombie waiting for PID 1) would block the start.
      const pidFile = join(p.data, 'postmaster.pid');
      if (existsSync(pidFile)) {
        const old = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
        if (!liveProcess(old, ['postgres'])) rmSync(pidFile, { force: true });
      }
      proc = spawnEngine(this.user, join(e.bin, 'postgres'), ['-D', p.data], p.log, onExit);
    } else {
      rmSync(p.myPid, { force: true });
      proc = spawnEngine(this.user, e.bin, [`--defaults-file=${p.myCnf}`], p.log, onExit);
    }
    this.procs.set(spec.key, proc);
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exited) throw new Error(`${spec.kind} exited during startup: ${this.logTail(spec)}`);
      if (await this.probe(spec, 1000)) return;
      await sleep(READY_POLL_MS);
    }
    await this.stop(spec);
    throw new Error(`${spec.kind} did not accept connections within ${START_TIMEOUT_MS} ms: ${this.logTail(spec)}`);
  }

  private logTail(spec: EngineSpec): string {
    try {
      const text = readFileSync(this.paths(spec).log, 'utf8');
      return text.trim().split('\n').slice(-3).join(' | ').slice(-600);
    } catch {
      return '(no log)';
    }
  }

  async adopt(spec: EngineSpec): Promise<boolean> {
    this.adoptPid(spec);
    if (!this.isRunning(spec)) return false;
    if (await this.probe(spec)) return true;
    await this.stop(spec);
    return false;
  }

  /** Takes over an engine a previous Cellar left running on this data directory, if there is one. */
  private adoptPid(spec: EngineSpec): void {
    if (this.procs.get(spec.key) && !this.procs.get(spec.key)!.exited) return;
    const p = this.paths(spec);
    const pidFile = spec.kind === 'postgres' ? join(p.data, 'postmaster.pid') : p.myPid;
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    const markers = spec.kind === 'postgres' ? ['postgres', p.data] : ['mariadbd', p.myCnf];
    if (!liveProcess(pid, markers)) return;
    log('info', 'rds engine adopted', { key: spec.key, pid });
    this.procs.set(spec.key, { pid, stopping: false, exited: false });
  }

  private writeConfig(spec: EngineSpec, settings: Record<string, string>): void {
    const p = this.paths(spec);
    if (spec.kind === 'postgres') {
      const lines = [
        `listen_addresses = ${pgLiteral(spec.listenAddress)}`,
        `port = ${spec.port}`,
        `unix_socket_directories = ${pgLiteral(p.run)}`,
        // Engines are short-lived dev instances: no huge pages, no stats collector files outside data.
        'huge_pages = off',
        'logging_collector = off',
        ...Object.entries(settings).map(([k, v]) => `${k} = ${pgLiteral(v)}`),
      ];
      this.writeOwned(p.pgConf, lines.join('\n') + '\n');
    } else {
      const lines = [
        '[mariadbd]',
        `datadir=${p.data}`,
        `socket=${p.mySocket}`,
        `pid-file=${p.myPid}`,
        `port=${spec.port}`,
        `bind-address=${spec.listenAddress}`,
        'skip-name-resolve',
        'skip-log-bin',
        `log-error=${p.log}`,
        ...Object.entries(settings).map(([k, v]) => `${MY_CNF_NAMES[k] ?? k}=${v}`),
      ];
      this.writeOwned(p.myCnf, lines.join('\n') + '\n');
    }
  }

  async stop(spec: EngineSpec): Promise<void> {
    this.adoptPid(spec);
    const proc = this.procs.get(spec.key);
    if (!proc || proc.exited || !liveProcess(proc.pid)) {
      this.procs.delete(spec.key);
      return;
    }
    proc.stopping = true;
    // PostgreSQL: SIGINT is its fast shutdown; MariaDB: SIGTERM. Then SIGKILL.
    signal(proc.pid, spec.kind === 'postgres' ? 'SIGINT' : 'SIGTERM');
    if (!(await waitGone(proc, STOP_FAST_TIMEOUT_MS))) {
      signal(proc.pid, 'SIGKILL');
      await waitGone(proc, STOP_KILL_TIMEOUT_MS);
    }
    this.procs.delete(spec.key);
  }

  isRunning(spec: EngineSpec): boolean {
    const proc = this.procs.get(spec.key);
    if (!proc || proc.exited) return false;
    if (!proc.child && !liveProcess(proc.pid)) {
      // An adopted engine died: there is no exit event for a process we did not start.
      proc.exited = true;
      if (!proc.stopping) for (const l of this.listeners) l({ key: spec.key, code: null, signal: null });
      return false;
    }
    return true;
  }

  pid(spec: EngineSpec): number | undefined {
    const proc = this.procs.get(spec.key);
    return proc && !proc.exited ? proc.pid : undefined;
  }

  // ---- SQL as the administrator, over the Unix socket ----------------------------------------------

  private async pgAdmin<T>(spec: EngineSpec, fn: (c: pg.Client) => Promise<T>, timeoutMs = SQL_TIMEOUT_MS, database = 'postgres'): Promise<T> {
    const c = new pg.Client({ host: this.paths(spec).run, port: spec.port, user: 'rdsadmin', database, connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private async myAdmin<T>(spec: EngineSpec, fn: (c: mysql.Connection) => Promise<T>, timeoutMs = SQL_TIMEOUT_MS): Promise<T> {
    const c = await mysql.createConnection({ socketPath: this.paths(spec).mySocket, user: userInfo().username, connectTimeout: timeoutMs, multipleStatements: false });
    c.on('error', () => undefined);
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  private async bootstrapPostgres(spec: EngineSpec, m: MasterCredentials): Promise<void> {
    await this.pgAdmin(spec, async (c) => {
      const u = pgIdent(m.username);
      await c.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser') THEN CREATE ROLE rds_superuser NOLOGIN; END IF;
      END $$`);
      await c.query('GRANT pg_monitor, pg_signal_backend, pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables, pg_read_all_data, pg_write_all_data, pg_checkpoint TO rds_superuser WITH ADMIN OPTION');
      const exists = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [m.username]);
      if (!exists.rowCount) await c.query(`CREATE ROLE ${u} LOGIN CREATEDB CREATEROLE PASSWORD ${pgLiteral(m.password)}`);
      else await c.query(`ALTER ROLE ${u} LOGIN CREATEDB CREATEROLE PASSWORD ${pgLiteral(m.password)}`);
      await c.query(`GRANT rds_superuser TO ${u} WITH ADMIN OPTION`);
      await c.query(`GRANT CREATE ON SCHEMA public TO rds_superuser`);
      if (m.dbName) {
        const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [m.dbName]);
        if (!db.rowCount) await c.query(`CREATE DATABASE ${pgIdent(m.dbName)} OWNER ${u}`);
      }
    });
  }

  private async bootstrapMariadb(spec: EngineSpec, m: MasterCredentials): Promise<void> {
    await this.myAdmin(spec, async (c) => {
      const u = `${myLiteral(m.username)}@'%'`;
      await c.query(`CREATE USER IF NOT EXISTS ${u} IDENTIFIED BY ${myLiteral(m.password)}`);
      await c.query(`ALTER USER ${u} IDENTIFIED BY ${myLiteral(m.password)}`);
      // RDS's master privileges: everything a DBA needs, but not SUPER / READ_ONLY ADMIN, so read_only binds it.
      await c.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, BINLOG MONITOR, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER ON *.* TO ${u} WITH GRANT OPTION`,
      );
      if (m.dbName) await c.query(`CREATE DATABASE IF NOT EXISTS ${myIdent(m.dbName)}`);
    });
  }

  async probe(spec: EngineSpec, timeoutMs = 2000): Promise<boolean> {
    try {
      if (spec.kind === 'postgres') await this.pgAdmin(spec, (c) => c.query('SELECT 1'), timeoutMs);
      else await this.myAdmin(spec, (c) => c.query('SELECT 1'), timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  async applyDynamic(spec: EngineSpec, settings: Record<string, string>, previous: Record<string, string>, allSettings: Record<string, string>): Promise<void> {
    if (spec.kind === 'postgres') {
      this.writeConfig(spec, allSettings);
      await this.pgAdmin(spec, async (c) => {
        await c.query('SELECT pg_reload_conf()');
        const ro = settings['default_transaction_read_only'] === '1';
        if (ro !== (previous['default_transaction_read_only'] === '1') && ro) {
          // Sessions keep the default they started with: end them so every session is read-only now.
          await c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND usename <> 'rdsadmin' AND pid <> pg_backend_pid()");
        }
      });
      // A reload is asynchronous: wait until a new session sees the new values (bounded).
      const deadline = Date.now() + 5000;
      const probeName = Object.keys(settings)[0];
      while (probeName && Date.now() < deadline) {
        const now = await this.pgAdmin(spec, (c) => c.query(`SELECT setting FROM pg_settings WHERE name = $1`, [probeName])).catch(() => undefined);
        const want = settings[probeName]!;
        const got = now?.rows[0]?.setting as string | undefined;
        if (got === undefined || got === want || (want === '1' && got === 'on') || (want === '0' && got === 'off')) break;
        await sleep(20);
      }
      return;
    }
    this.writeConfig(spec, allSettings);
    await this.myAdmin(spec, async (c) => {
      for (const [k, v] of Object.entries(settings)) {
        if (previous[k] === v) continue;
        const value = /^-?\d+(\.\d+)?$/.test(v) ? v : myLiteral(v);
        await c.query(`SET GLOBAL ${k} = ${value}`);
      }
      for (const k of Object.keys(previous)) if (!(k in settings)) await c.query(`SET GLOBAL ${k} = DEFAULT`);
    });
  }

  async setMasterPassword(spec: EngineSpec, username: string, password: string): Promise<void> {
    if (spec.kind === 'postgres') await this.pgAdmin(spec, (c) => c.query(`ALTER ROLE ${pgIdent(username)} PASSWORD ${pgLiteral(password)}`));
    else await this.myAdmin(spec, (c) => c.query(`ALTER USER ${myLiteral(username)}@'%' IDENTIFIED BY ${myLiteral(password)}`));
  }

  async storageUsedBytes(spec: EngineSpec): Promise<number> {
    let total = 0;
    let seen = 0;
    const stack = [spec.dataDir];
    while (stack.length && seen < STORAGE_WALK_MAX_ENTRIES) {
      const dir = stack.pop()!;
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        seen++;
        try {
          const st = await lstat(join(dir, n));
          if (st.isDirectory()) stack.push(join(dir, n));
          else if (st.isFile()) total += st.size;
        } catch {
          // removed while walking (WAL recycling, temp files)
        }
      }
    }
    return total;
  }

  async copyDataDir(spec: EngineSpec, dest: string): Promise<void> {
    if (this.isRunning(spec)) throw new Error('the engine must be stopped before its data directory is copied');
    const tmp = `${dest}.partial-${randomBytes(4).toString('hex')}`;
    const r = await runAs({ name: 'self', uid: userInfo().uid, gid: userInfo().gid }, 'cp', ['-a', this.paths(spec).data, tmp], { timeoutMs: 10 * 60_000 });
    if (r.code !== 0) throw new Error(`copying the data directory failed: ${r.stderr.trim()}`);
    chmodSync(tmp, 0o700);
    renameSync(tmp, dest);
  }

  async destroy(spec: EngineSpec): Promise<void> {
    await this.stop(spec);
    rmSync(spec.dataDir, { recursive: true, force: true });
  }

  onUnexpectedExit(listener: (exit: EngineExit) => void): void {
    this.listeners.push(listener);
  }

  async stopAll(): Promise<void> {
    await Promise.all(
      [...this.procs.entries()].map(async ([key, proc]) => {
        if (proc.exited) return;
        proc.stopping = true;
        const isPg = liveProcess(proc.pid, ['postgres']);
        signal(proc.pid, isPg ? 'SIGINT' : 'SIGTERM');
        if (!(await waitGone(proc, STOP_FAST_TIMEOUT_MS))) {
          signal(proc.pid, 'SIGKILL');
          await waitGone(proc, STOP_KILL_TIMEOUT_MS);
        }
        this.procs.delete(key);
      }),
    );
  }

  /** For tests and health: is this data directory still there? */
  exists(spec: EngineSpec): boolean {
    try {
      return statSync(spec.dataDir).isDirectory();
    } catch {
      return false;
    }
  }
}
