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
import {
  instanceLayout,
  PhaseTimer,
  ProcessEngine,
  withTimeout,
  type BackupPlace,
  type BaseBackupInfo,
  type ConfigureResult,
  type EngineActivity,
  type EngineSpec,
  type PrimaryEndpoint,
  type RecoverableEngineAdapter,
  type RelationalEngineAdapter,
  type RestoreRequest,
  type StopMode,
  type StopOutcome,
} from '../adapter.js';
import { generateSecret, mysqlNativePasswordHash } from '../secrets.js';
import { archiveLatestTime, BinlogArchiver, restoreInstance, takeBaseBackup, type CaughtUp, type MariadbBackupContext } from './backup.js';
import {
  ADMIN_PROCEDURE,
  bootstrapSql,
  checkParamName,
  initFileSql,
  mariadbdArgs,
  paramArgs,
  serverIdFor,
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

/** Cellar's replication account: standbys (and nothing else) log in with it over TCP. */
export const REPLICATION_USER = 'rdsrepladmin';
const REPLICATION_START_TIMEOUT_MS = 30_000;

/** The longest wait before asking a server that refused SHOW MASTER STATUS again. */
const MASTER_STATUS_BACKOFF_CAP_MS = 30_000;

export class MariadbEngine extends ProcessEngine implements RelationalEngineAdapter, RecoverableEngineAdapter {
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
      serverId: serverIdFor(this.layout.root),
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
    await this.host.writeFile(this.initFile, this.initSql(), { durable: false });
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

  // ------------------------------------------------------------------------------------------------------------
  // Backups, point-in-time restore and replication roles (./backup.ts)

  private archiver: BinlogArchiver | undefined;

  private initSql(): string {
    return initFileSql({ adminUser: this.adminUser, masterUsername: this.spec.masterUsername, backupUser: this.host.engineUser.name });
  }

  private backupContext(): MariadbBackupContext {
    return {
      host: this.host,
      engine: this.spec.engine,
      label: this.label,
      prefix: this.prefix,
      socket: this.socket,
      layout: this.layout,
      backupUser: this.host.engineUser.name,
      isRunning: () => this.isRunning(),
      masterStatus: () => this.masterStatus(),
      serverBinlogs: async () => (await this.adminRows('SHOW BINARY LOGS')).map((r) => String(r.Log_name)),
    };
  }

  /** Rows of a statement run through the admin procedure (SHOW ... needs privileges Cellar's account lacks). */
  private async adminRows(statement: string): Promise<mysql.RowDataPacket[]> {
    return this.withAdmin(10_000, async (_c, exec) => {
      const result = (await exec(statement)) as [unknown, unknown];
      const sets = result[0];
      // A CALL answers its result sets followed by an OK packet.
      return Array.isArray(sets) && Array.isArray(sets[0]) ? (sets[0] as mysql.RowDataPacket[]) : [];
    });
  }

  private async masterStatus(): Promise<{ file: string; position: number } | undefined> {
    const row = (await this.adminRows('SHOW MASTER STATUS'))[0];
    return row ? { file: String(row.File), position: Number(row.Position) } : undefined;
  }

  async startLogArchiving(place: BackupPlace): Promise<void> {
    this.requireRunning('starting binlog archiving');
    try {
      if (this.archiver && this.archiver.archiveDir !== place.archiveDir) await this.archiver.stop();
      if (!this.archiver || this.archiver.archiveDir !== place.archiveDir) this.archiver = new BinlogArchiver(this.backupContext(), place.archiveDir);
      await this.archiver.start();
    } catch (err) {
      throw withContext(`starting binlog archiving of ${this.label} into ${place.archiveDir}`, err);
    }
  }

  async stopLogArchiving(): Promise<void> {
    const archiver = this.archiver;
    this.archiver = undefined;
    await archiver?.stop();
  }

  override async stop(mode?: StopMode, options?: { stepTimeoutMs?: number }): Promise<StopOutcome> {
    // The archiver catches up and records how far the archive reaches, then pauses (it would only fail against a
    // server going away) and resumes after the next start.
    if (this.archiver && this.isRunning()) {
      await this.archiver.catchUp(3000).catch((err) => log('warn', 'binlog archive did not catch up before the stop', { name: this.label, error: String(err) }));
    }
    await this.archiver?.pause();
    return super.stop(mode, options);
  }

  protected override async afterStart(): Promise<void> {
    // Not fatal to the start: the archiver's own tick retries with a backoff.
    await this.archiver?.resume().catch((err) => log('warn', 'binlog archiving did not resume yet', { name: this.label, error: String(err) }));
  }

  async latestArchivedTime(place: BackupPlace): Promise<number | undefined> {
    let caughtUp: CaughtUp | undefined;
    if (this.isRunning() && this.archiver?.isRunning() && this.archiver.archiveDir === place.archiveDir && Date.now() >= this.masterStatusRetryAt) {
      const at = Date.now();
      const status = await this.masterStatus().catch(() => undefined);
      if (status) {
        caughtUp = { at, ...status, host: this.host };
        this.masterStatusBackoffMs = 0;
      } else {
        // Cellar's account refused (a master user who dropped it), or the engine too busy: asked again only after a
        // backoff, so a caller polling every second cannot fill the engine's log with refused logins meanwhile.
        this.masterStatusBackoffMs = Math.min(MASTER_STATUS_BACKOFF_CAP_MS, Math.max(1_000, this.masterStatusBackoffMs * 2));
        this.masterStatusRetryAt = Date.now() + this.masterStatusBackoffMs;
      }
    }
    return archiveLatestTime(place.archiveDir, caughtUp);
  }

  /** After SHOW MASTER STATUS failed, not asked again before this (doubling from 1 s to MASTER_STATUS_BACKOFF_CAP_MS). */
  private masterStatusRetryAt = 0;
  private masterStatusBackoffMs = 0;

  async backup(place: BackupPlace, id: string): Promise<BaseBackupInfo> {
    return takeBaseBackup(this.backupContext(), place, id);
  }

  /** Durations of the last restoreToPoint() steps, for logs and the benchmark. */
  lastRestorePhasesMs: Record<string, number> = {};

  async restoreToPoint(req: RestoreRequest): Promise<{ restoredTo: number }> {
    if (path.resolve(req.dataDir) !== this.layout.root) throw new Error(`restoreToPoint: ${this.label} lives in ${this.layout.root}, not ${req.dataDir}`);
    if (this.isRunning()) throw new Error(`restoreToPoint: ${this.label} is running`);
    const admin = `${sqlString(this.adminUser)}@'localhost'`;
    const { restoredTo, phasesMs } = await restoreInstance(
      {
        ...this.backupContext(),
        adminUser: this.adminUser,
        pidFile: this.pidFile,
        // Cellar's administration as at every start, plus full privileges for the replay session (binlog events
        // create users, set GTIDs, run BINLOG statements). The next normal start's init file takes them away again.
        replayInitSql: this.initSql() + `GRANT ALL PRIVILEGES ON *.* TO ${admin} WITH GRANT OPTION;\n`,
        finishInstance: async (details) => {
          await this.storeParams({ ...(this.spec.params ?? {}) });
          await this.writeMarker({ prefix: this.prefix, ...details });
        },
      },
      req,
    );
    this.lastRestorePhasesMs = phasesMs;
    return { restoredTo };
  }

  /** The account standbys log in with: REPLICATION SLAVE only, its password kept sealed in conf/. */
  async replicationCredentials(): Promise<{ user: string; password: string }> {
    this.requireRunning('preparing replication credentials');
    const secretFile = path.join(this.layout.conf, 'replication.secret');
    try {
      let password = await this.host.readSecret(secretFile);
      if (!password) {
        password = generateSecret();
        await this.host.writeSecret(secretFile, password);
      }
      const account = `${sqlString(REPLICATION_USER)}@'%'`;
      await this.withAdmin(10_000, async (_c, exec) => {
        // Not logged: each instance has its own replication account and password, never its primary's.
        await exec('SET SESSION sql_log_bin = 0');
        await exec(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY PASSWORD ${sqlString(mysqlNativePasswordHash(password!))}`);
        await exec(`ALTER USER ${account} IDENTIFIED BY PASSWORD ${sqlString(mysqlNativePasswordHash(password!))} ACCOUNT UNLOCK`);
        await exec(`GRANT REPLICATION SLAVE ON *.* TO ${account}`);
      });
      return { user: REPLICATION_USER, password };
    } catch (err) {
      throw withContext(`preparing the replication account of ${this.label}`, err);
    }
  }

  async replicationRole(): Promise<'primary' | 'standby'> {
    const rows = await this.adminRows('SHOW SLAVE STATUS');
    return rows.length > 0 ? 'standby' : 'primary';
  }

  /** STOP SLAVE; RESET SLAVE ALL; read_only off (live and for later starts). A no-op on a primary. */
  async promote(): Promise<void> {
    this.requireRunning('promoting');
    try {
      const standby = (await this.replicationRole()) === 'standby';
      await this.withAdmin(30_000, async (_c, exec) => {
        if (standby) {
          await exec('STOP SLAVE');
          await exec('RESET SLAVE ALL');
        }
        await exec('SET GLOBAL read_only = 0');
      });
      const stored = { ...((await this.storedParams()) ?? {}) };
      delete stored.read_only;
      await this.storeParams(stored);
    } catch (err) {
      throw withContext(`promoting ${this.label}`, err);
    }
  }

  /**
   * CHANGE MASTER TO the primary with GTID, read_only on, START SLAVE, and waits until both replication threads run.
   * Where it starts: MASTER_USE_GTID = current_pos, i.e. after the last transaction this instance has, whether it
   * logged it itself (a former primary now following its promoted standby) or replicated it; an instance restored
   * from the primary's snapshot starts at the snapshot's GTID (recorded at restore); a new instance (initialised
   * here) has none and replays the primary's binlog from its first file, which holds everything since the primary's
   * creation (Cellar's bootstrap is not logged) as long as the primary has not purged it (binlog_expire_logs_seconds,
   * a day by default). Re-seeding a standby whose start the primary no longer has (mariadb-dump or a backup) is not
   * done here: that case fails with the server's error 1236.
   */
  async followPrimary(primary: PrimaryEndpoint): Promise<void> {
    try {
      if (!(await this.isInitialised())) await this.initialise();
      if (!this.isRunning()) await this.start();
      const marker = JSON.parse((await this.host.readFile(this.layout.marker)) ?? '{}') as { gtid?: string };
      await this.withAdmin(REPLICATION_START_TIMEOUT_MS + 10_000, async (c, exec) => {
        await exec('STOP SLAVE');
        const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.gtid_slave_pos AS p');
        if (!rows[0]?.p && marker.gtid && /^[0-9,-]+$/.test(marker.gtid)) await exec(`SET GLOBAL gtid_slave_pos = ${sqlString(marker.gtid)}`);
        await exec(
          `CHANGE MASTER TO MASTER_HOST = ${sqlString(primary.host)}, MASTER_PORT = ${Number(primary.port)}, MASTER_USER = ${sqlString(primary.user)}, ` +
            `MASTER_PASSWORD = ${sqlString(primary.password)}, MASTER_USE_GTID = current_pos, MASTER_CONNECT_RETRY = 1`,
        );
        await exec('SET GLOBAL read_only = 1');
        await exec('START SLAVE');
        const deadline = Date.now() + REPLICATION_START_TIMEOUT_MS;
        for (;;) {
          const status = ((await exec('SHOW SLAVE STATUS')) as [mysql.RowDataPacket[][]])[0][0]?.[0];
          if (status?.Slave_IO_Running === 'Yes' && status.Slave_SQL_Running === 'Yes') break;
          if (status?.Last_IO_Error || status?.Last_SQL_Error) {
            if (Date.now() > deadline) throw new Error(`replication did not start: ${status.Last_IO_Error || status.Last_SQL_Error}`);
          }
          if (Date.now() > deadline) throw new Error(`replication threads not running after ${REPLICATION_START_TIMEOUT_MS} ms`);
          await new Promise((r) => setTimeout(r, 100));
        }
      });
      await this.storeParams({ ...((await this.storedParams()) ?? {}), read_only: '1' });
    } catch (err) {
      throw withContext(`making ${this.label} follow ${primary.host}:${primary.port}`, err);
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
