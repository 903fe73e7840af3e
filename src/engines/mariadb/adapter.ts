/**
 * @module engines/mariadb/adapter
 * MariaDB as an RDS instance, for both the `mariadb` and the `mysql` engine (the latter served by the MariaDB
 * server: same adapter, different engine name in the spec).
 *
 * - mariadb-install-db with --no-defaults and --auth-root-authentication-method=socket: MariaDB's root (and the
 *   account named after Cellar's own OS user) log in only over the Unix socket as that OS user. That socket lives in
 *   the instance's private run directory, so Cellar's admin access needs no password at all.
 * - That account holds no privileges of its own: everything Cellar does goes through `CALL mysql.cellar_exec(...)`,
 *   a procedure running as a role that no account holds and that refuses TCP sessions. The init file rendered at
 *   every start (conf/init.sql) re-creates all of it, so a restart regains administration whatever the master did
 *   to Cellar's account. Why it is built that way: ./config.ts.
 * - The master user 'name'@'%' gets RDS's master privileges (see MASTER_PRIVILEGES), not SUPER; its data
 *   privileges per database pattern, none of which reaches the `mysql` or `sys` schemas.
 * - Parameters: SET GLOBAL for dynamic ones; every parameter also goes to conf/params.json, rendered as
 *   `--name=value` on the next start (MariaDB has no SET PERSIST).
 * - `spec.binDir` is MariaDB's installation prefix (default /usr): mariadbd is in sbin/, install-db in bin/.
 */
import * as path from 'node:path';
import type mysql from 'mysql2/promise';

/** The client library loads on first use: it costs ~60 ms of startup that a Cellar serving no RDS needs not pay. */
const loadMysql = async () => (await import('mysql2/promise')).default;
import { withContext } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { settlesWithin, type Host } from '../host.js';
import { instanceLayout, PhaseTimer, ProcessEngine, withTimeout, type ConfigureResult, type EngineActivity, type EngineSpec, type RelationalEngineAdapter } from '../adapter.js';
import { mysqlNativePasswordHash } from '../secrets.js';
import {
  ADMIN_PROCEDURE,
  bootstrapSql,
  checkParamName,
  initFileSql,
  mariadbdArgs,
  paramArgs,
  setGlobalValue,
  sqlString,
  validateDbName,
  validateMasterUsername,
} from './config.js';
import { hasTls, mariadbTlsArgs, readTlsCertificate, tlsFile, writeTlsMaterial, type TlsMaterial } from '../tls.js';

export const DEFAULT_MARIADB_PREFIX = '/usr';
const INSTALL_DB_TIMEOUT_MS = 180_000;
/** MySQL error numbers we act on. */
const ER_INCORRECT_GLOBAL_LOCAL_VAR = 1238; // "Variable ... is a read only variable"
/**
 * Errors that mean the server refuses Cellar's administration (account dropped, renamed, locked or altered; role or
 * procedure dropped), as opposed to a server not up yet: waiting for them to pass is pointless.
 */
const ADMIN_REFUSED_ERRNOS: ReadonlySet<number> = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1227, // ER_SPECIFIC_ACCESS_DENIED_ERROR (also the procedure's own refusal)
  1305, // ER_SP_DOES_NOT_EXIST
  1370, // ER_PROCACCESS_DENIED_ERROR
  1449, // ER_NO_SUCH_USER: the procedure's definer (the role) is gone
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR (unix_socket refused)
  4151, // ER_ACCOUNT_HAS_BEEN_LOCKED
]);
/** The server default, for Cellar's own sessions: their string literals must not depend on the server's sql_mode. */
const ADMIN_SQL_MODE = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION';

export class MariadbEngine extends ProcessEngine implements RelationalEngineAdapter {
  readonly prefix: string;
  private readonly socket: string;
  private readonly pidFile: string;

  constructor(host: Host, spec: EngineSpec) {
    super(host, spec, instanceLayout(spec.dataDir, 'mariadb.log', 'mysqld.sock'));
    if (spec.engine !== 'mariadb' && spec.engine !== 'mysql') throw new Error(`MariadbEngine cannot run engine ${spec.engine}`);
    validateMasterUsername(spec.masterUsername);
    if (spec.dbName !== undefined) validateDbName(spec.dbName);
    for (const name of Object.keys(spec.params ?? {})) checkParamName(name);
    this.prefix = spec.binDir ?? DEFAULT_MARIADB_PREFIX;
    this.socket = path.join(this.layout.run, 'mysqld.sock');
    this.pidFile = path.join(this.layout.run, 'mariadbd.pid');
  }

  /** The MariaDB account Cellar administers through: the one named after Cellar's OS user (root when root). */
  private get adminUser(): string {
    return this.host.cellarUser;
  }

  async initialise(): Promise<void> {
    if (await this.isInitialised()) return;
    const L = this.layout;
    const extraFile = path.join(L.conf, 'bootstrap.sql');
    const phases = new PhaseTimer();
    try {
      await this.freshDirectories([path.join(L.root, 'tmp')]);
      // Not fsynced one by one: the syncTree after install-db covers them.
      await this.storeParams({ ...(this.spec.params ?? {}) }, { durable: false });
      await this.host.writeFile(
        extraFile,
        bootstrapSql({
          masterUsername: this.spec.masterUsername,
          masterPasswordHash: mysqlNativePasswordHash(this.spec.masterPassword),
          dbName: this.spec.dbName,
        }),
        { durable: false },
      );
      const args = [
        '--no-defaults',
        `--datadir=${L.data}`,
        '--auth-root-authentication-method=socket',
        `--auth-root-socket-user=${this.adminUser}`,
        '--skip-test-db',
        '--skip-name-resolve',
        `--extra-file=${extraFile}`,
        `--tmpdir=${path.join(L.root, 'tmp')}`,
        // install-db hands unknown options to the bootstrap server, which creates the InnoDB files: sizes fixed at
        // creation (innodb_log_file_size, innodb_page_size...) then follow the spec from the first byte.
        ...paramArgs(this.spec.params ?? {}),
      ];
      phases.mark('prepare');
      const r = await this.host.run({
        command: path.join(this.prefix, 'bin', 'mariadb-install-db'),
        args,
        cwd: L.root,
        env: { PATH: `${path.join(this.prefix, 'bin')}:${path.join(this.prefix, 'sbin')}:/usr/bin:/bin` },
        timeoutMs: INSTALL_DB_TIMEOUT_MS,
      });
      if (r.code !== 0) {
        throw new Error(`mariadb-install-db failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${(r.stderr + r.stdout).trim().slice(-2000)}`);
      }
      phases.mark('installDb');
      await this.host.remove(extraFile);
      await this.host.syncTree(L.root);
      phases.mark('sync');
      await this.writeMarker({ prefix: this.prefix });
      phases.mark('marker');
      this.lastInitialisePhasesMs = phases.phasesMs;
      log('info', 'engine initialised', { engine: this.spec.engine, name: this.spec.name, phasesMs: phases.phasesMs });
    } catch (err) {
      await this.host.remove(extraFile).catch(() => {});
      throw withContext(`initialising ${this.label} in ${L.root}`, err);
    }
  }

  private paramsForStart: Record<string, string> = {};
  /** The key file when one is installed (checked before each start; command() is synchronous). */
  private tlsForStart: string | undefined;

  private get initFile(): string {
    return path.join(this.layout.conf, 'init.sql');
  }

  /** secure_file_priv: the only place FILE could read or write, were it ever held by anyone but Cellar's role. */
  private get secureFileDir(): string {
    return path.join(this.layout.root, 'files');
  }

  protected command() {
    const args = mariadbdArgs({
      dataDir: this.layout.data,
      initFile: this.initFile,
      secureFileDir: this.secureFileDir,
      socket: this.socket,
      pidFile: this.pidFile,
      tmpDir: path.join(this.layout.root, 'tmp'),
      port: this.spec.port,
      listenAddresses: this.spec.listenAddresses!,
      params: this.paramsForStart,
    });
    if (this.tlsForStart) args.push(...mariadbTlsArgs(this.tlsForStart));
    return { command: path.join(this.prefix, 'sbin', 'mariadbd'), args };
  }

  protected async clearLeftovers(): Promise<void> {
    const L = this.layout;
    await this.ensureRunDir();
    await this.host.ensureDir(path.join(L.root, 'tmp'));
    await this.host.ensureDir(this.secureFileDir);
    // Rewritten at every start (not durable: it follows from the spec), read by mariadbd as the engine user.
    await this.host.writeFile(this.initFile, initFileSql({ adminUser: this.adminUser, masterUsername: this.spec.masterUsername }), { durable: false });
    this.paramsForStart = (await this.storedParams()) ?? {};
    this.tlsForStart = (await hasTls(this.host, L)) ? tlsFile(L) : undefined;
    const text = await this.host.readFile(this.pidFile);
    if (text === undefined) return;
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0) {
      await this.stopLeftover(pid, (cmd) => cmd.length > 0 && path.basename(cmd[0]!) === 'mariadbd' && cmd.includes(`--datadir=${L.data}`), 'SIGTERM');
    }
    await this.host.remove(this.pidFile);
  }

  protected isTransientStartFailure(logTail: string): boolean {
    return /Unable to lock|Can't start server: Bind on TCP\/IP port/.test(logTail);
  }

  /**
   * A session on Cellar's account over the Unix socket. Statements that need privileges go through `exec`
   * (the admin procedure); the session's sql_mode is the server default, so literals mean what they say.
   */
  private async withAdmin<T>(timeoutMs: number, fn: (c: mysql.Connection, exec: (statement: string) => Promise<unknown>) => Promise<T>): Promise<T> {
    const connection = await withTimeout(
      (await loadMysql()).createConnection({ socketPath: this.socket, user: this.adminUser, connectTimeout: timeoutMs }),
      timeoutMs,
      'connecting as admin',
    );
    connection.on('error', () => {});
    try {
      await withTimeout(connection.query(`SET SESSION sql_mode = '${ADMIN_SQL_MODE}'`), timeoutMs, 'admin session setup');
      const exec = (statement: string) => connection.query(`CALL ${ADMIN_PROCEDURE}(?)`, [statement]);
      return await withTimeout(fn(connection, exec), timeoutMs, 'admin query');
    } finally {
      await closeQuietly(connection);
    }
  }

  /** Threads_connected counts every session, this one included. MariaDB does not time its I/O by default: connections only. */
  async activity(timeoutMs: number): Promise<EngineActivity> {
    return this.withAdmin(timeoutMs, async (c) => {
      const [rows] = await c.query("SHOW GLOBAL STATUS LIKE 'Threads_connected'");
      const value = Number((rows as Array<{ Value?: string }>)[0]?.Value ?? 1);
      return { connections: Math.max(0, value - 1) };
    });
  }

  /** Through the admin procedure, so a probe also proves that Cellar can still administer the server. */
  protected async probeOnce(timeoutMs: number): Promise<void> {
    const connection = await withTimeout(
      (await loadMysql()).createConnection({ socketPath: this.socket, user: this.adminUser, connectTimeout: timeoutMs }),
      timeoutMs,
      'connecting as admin',
    );
    connection.on('error', () => {});
    try {
      await withTimeout(connection.query(`CALL ${ADMIN_PROCEDURE}('DO 1')`), timeoutMs, 'admin probe');
    } finally {
      await closeQuietly(connection);
    }
  }

  protected override isAdminAccessRefused(err: unknown): boolean {
    return ADMIN_REFUSED_ERRNOS.has((err as { errno?: number }).errno ?? 0);
  }

  async configure(params: Record<string, string>): Promise<ConfigureResult> {
    this.requireRunning('configuring parameters');
    const entries = Object.entries(params).map(([k, v]) => [checkParamName(k), v] as const);
    const result: ConfigureResult = { appliedLive: [], pendingRestart: [] };
    const accepted: Record<string, string> = {};
    try {
      await this.withAdmin(10_000, async (_c, exec) => {
        for (const [name, value] of entries) {
          try {
            await exec(`SET GLOBAL ${name} = ${setGlobalValue(value)}`);
            result.appliedLive.push(name);
          } catch (err) {
            if ((err as { errno?: number }).errno !== ER_INCORRECT_GLOBAL_LOCAL_VAR) throw err;
            result.pendingRestart.push(name);
          }
          accepted[name] = value;
        }
      });
      return result;
    } catch (err) {
      throw withContext(`configuring ${entries.map(([n]) => n).join(', ')} on ${this.label}`, err);
    } finally {
      // Whatever was accepted (live or for later) must survive a restart, even if a later parameter failed.
      if (Object.keys(accepted).length > 0) {
        await this.storeParams({ ...((await this.storedParams()) ?? {}), ...accepted });
      }
    }
  }

  /**
   * Stores the set for the next start; while running, SET GLOBAL for each value that changed and `= DEFAULT` (the
   * compiled-in default) for each parameter that left the set. Unchanged ones are not touched: SET GLOBAL on a
   * read-only variable fails even with its current value, which would report it pending for nothing.
   */
  async applyParams(params: Record<string, string>): Promise<ConfigureResult> {
    const entries = Object.entries(params).map(([k, v]) => [checkParamName(k), v] as const);
    const result: ConfigureResult = { appliedLive: [], pendingRestart: [] };
    try {
      const previous = Object.fromEntries(Object.entries((await this.storedParams()) ?? {}).map(([k, v]) => [checkParamName(k), v]));
      await this.storeParams(Object.fromEntries(entries));
      if (!this.isRunning()) return { appliedLive: [], pendingRestart: entries.map(([n]) => n) };
      const next = new Map(entries);
      await this.withAdmin(10_000, async (_c, exec) => {
        const set = async (name: string, value: string | undefined): Promise<void> => {
          try {
            await exec(`SET GLOBAL ${name} = ${value === undefined ? 'DEFAULT' : setGlobalValue(value)}`);
            if (value !== undefined) result.appliedLive.push(name);
          } catch (err) {
            if ((err as { errno?: number }).errno !== ER_INCORRECT_GLOBAL_LOCAL_VAR) throw err;
            if (value !== undefined) result.pendingRestart.push(name);
          }
        };
        for (const [name, value] of entries) {
          if (previous[name] === value) result.appliedLive.push(name);
          else await set(name, value);
        }
        for (const name of Object.keys(previous)) if (!next.has(name)) await set(name, undefined);
      });
      return result;
    } catch (err) {
      throw withContext(`applying parameters ${entries.map(([n]) => n).join(', ') || '(none)'} on ${this.label}`, err);
    }
  }

  /**
   * Writes the key file; a running server that already serves TLS reloads it (FLUSH SSL, MariaDB 10.4+). One started
   * without TLS cannot turn it on live: it serves TLS from its next start (`live: false`).
   */
  async installTls(material: TlsMaterial): Promise<{ live: boolean }> {
    try {
      await writeTlsMaterial(this.host, this.layout, material);
      if (!this.isRunning()) return { live: false };
      return await this.withAdmin(10_000, async (c, exec) => {
        const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@have_ssl AS s');
        if (rows[0]?.s !== 'YES') return { live: false };
        // RELOAD is the admin role's, not the account's: through the admin procedure like every privileged statement.
        await exec('FLUSH SSL');
        return { live: true };
      });
    } catch (err) {
      throw withContext(`installing the TLS certificate of ${this.label}`, err);
    }
  }

  async tlsCertificate(): Promise<string | undefined> {
    return readTlsCertificate(this.host, this.layout);
  }

  async setMasterPassword(username: string, password: string): Promise<void> {
    this.requireRunning('setting a password');
    validateMasterUsername(username);
    try {
      await this.withAdmin(10_000, async (c, exec) => {
        const [rows] = await c.query<mysql.RowDataPacket[]>("SELECT 1 FROM mysql.global_priv WHERE User = ? AND Host = '%'", [username]);
        if (rows.length === 0) throw new Error(`user '${username}'@'%' does not exist`);
        await exec(`ALTER USER ${sqlString(username)}@'%' IDENTIFIED BY PASSWORD ${sqlString(mysqlNativePasswordHash(password))}`);
      });
    } catch (err) {
      throw withContext(`setting the password of ${username} on ${this.label}`, err);
    }
  }
}

/**
 * Ends a session with COM_QUIT (bounded), then drops the socket. Dropping it without a word makes mariadbd log
 * "Aborted connection ... Got an error reading communication packets" for every health probe.
 */
async function closeQuietly(connection: mysql.Connection): Promise<void> {
  await settlesWithin(connection.end(), 1000);
  connection.destroy();
}
