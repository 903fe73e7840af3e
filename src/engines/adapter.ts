/**
 * @module engines/adapter
 * The one interface every engine adapter (postgres, mariadb/mysql, redis) implements, the spec it is built from,
 * and `ProcessEngine`, the shared base that runs one supervised engine process through a `Host`.
 *
 * How a reconciler uses an adapter (each call idempotent, each bounded in time):
 *
 *   const engine = createEngine(host, { engine: 'postgres', name: 'db-1', dataDir, port: 5432,
 *                                       masterUsername: 'admin', masterPassword, dbName: 'app', params: {} });
 *   if (!(await engine.isInitialised())) await engine.initialise();   // durable once it resolves
 *   await engine.start();                                               // resolves when a real query succeeds
 *   await engine.healthProbe();                                         // { ok, latencyMs, reason? }
 *   await engine.configure({ work_mem: '8MB' });                        // { appliedLive, pendingRestart }
 *   await engine.setMasterPassword('admin', newPassword);
 *   await engine.stop('fast');                                          // escalates to immediate, then kill
 *
 * The spec's `dataDir` is the instance's own directory; the adapter owns everything inside it:
 *   <dataDir>/data/   the engine's data (PGDATA, MariaDB datadir, Redis dir)
 *   <dataDir>/run/    Unix sockets and pid files (a short directory under the system temp dir if the path would
 *                     exceed the 107-byte socket path limit)
 *   <dataDir>/conf/   configuration Cellar renders, Cellar's internal credentials (0600)
 *   <dataDir>/log/    the engine's stdout/stderr
 *   <dataDir>/cellar-engine.json   written last by initialise(): the instance exists once this file does
 *
 * The master user is like RDS's: it can do nearly everything an application needs, but it is not a superuser.
 * Cellar administers through its own internal account (`rdsadmin`, as on RDS), reachable only through the Unix
 * socket inside the instance's directory.
 *
 * Backup, point-in-time restore, promote and follow-primary live in `RecoverableEngineAdapter` below: an engine
 * implements it for real or not at all (no stubs), and `isRecoverable()` tells which ones do. Every engine that does
 * passes the shared contract suite (test/integration/engine-contract.test.ts). Backup files are kept by the storage
 * module (./backup/): its checksum manifests, verification and pruning are the same for every engine.
 */
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import { withContext } from '../core/errors.js';
import { log } from '../core/log.js';
import { delay, settlesWithin, type ExitStatus, type Host, type HostProcess } from './host.js';
import type { TlsMaterial } from './tls.js';
import { claimTempDir } from './temp-dirs.js';

export type EngineName = 'postgres' | 'mariadb' | 'mysql' | 'redis';

export interface EngineSpec {
  engine: EngineName;
  /** Identifier used in logs and reports (e.g. the DB instance identifier). Not a secret. */
  name: string;
  /** Directory holding the engine binaries; each adapter has a default for the Debian packages. */
  binDir?: string;
  /** The instance's own directory; see the layout in the module header. */
  dataDir: string;
  port: number;
  /** Addresses to listen on; default loopback only. */
  listenAddresses?: string[];
  masterUsername: string;
  masterPassword: string;
  /** Initial database created and owned by the master user (not used by redis). */
  dbName?: string;
  /** Engine parameters rendered into the configuration at initialise (e.g. shared_buffers, max_connections). */
  params?: Record<string, string>;
}

/**
 * How hard to stop. `stop(mode)` starts at that step and escalates through the later ones, each with a timeout:
 * graceful (let clients finish) → fast (disconnect clients, clean shutdown) → immediate (no shutdown checkpoint,
 * crash recovery on next start) → kill (SIGKILL to the whole process group).
 */
export type StopMode = 'graceful' | 'fast' | 'immediate' | 'kill';
export const STOP_MODES: readonly StopMode[] = ['graceful', 'fast', 'immediate', 'kill'];

export interface StopOutcome {
  /** The step at which the engine actually went away ('none' if it was not running). */
  stoppedBy: StopMode | 'none';
  elapsedMs: number;
}

export type ProbeResult = { ok: true; latencyMs: number } | { ok: false; latencyMs: number; reason: string };

export interface ConfigureResult {
  /** Parameters in effect now (for new sessions at least). */
  appliedLive: string[];
  /** Parameters stored for the next restart (RDS's "pending-reboot"). */
  pendingRestart: string[];
}

export interface EngineAdapter {
  readonly spec: Readonly<EngineSpec>;
  /** The instance directory's layout; its logFile is the engine's output (RDS serves it as the instance's log). */
  readonly layout: InstanceLayout;
  /** Where clients connect: the first listen address and the port. */
  endpoint(): { address: string; port: number };
  /** True once initialise() has completed (the instance directory holds a complete, durable instance). */
  isInitialised(): Promise<boolean>;
  /** Creates the data directory, runs the engine's own initialisation, creates the master user and database. */
  initialise(): Promise<void>;
  /** Starts the engine and resolves once a real query succeeds. A no-op if already running. */
  start(options?: { timeoutMs?: number }): Promise<void>;
  stop(mode?: StopMode, options?: { stepTimeoutMs?: number }): Promise<StopOutcome>;
  isRunning(): boolean;
  /** Pid of the engine's main process while running. */
  pid(): number | undefined;
  /** Called when the engine exits without stop() having been asked. Returns an unsubscribe function. */
  onUnexpectedExit(listener: (status: ExitStatus) => void): () => void;
  /** A real query (or PING) through Cellar's admin account, bounded by `timeoutMs`. Never throws. */
  healthProbe(timeoutMs?: number): Promise<ProbeResult>;
  /** Applies parameters: dynamic ones live, static ones stored for the next restart. Engine must be running. */
  configure(params: Record<string, string>): Promise<ConfigureResult>;
  /** Sets a user's password (normally the master user's). Engine must be running. */
  setMasterPassword(username: string, password: string): Promise<void>;
  /** Bytes allocated on disk by the whole instance directory. */
  storageUsedBytes(): Promise<number>;
  /**
   * Removes the whole instance: its directory and, when the socket path forced it elsewhere, its run directory.
   * The engine must be stopped (stop() first). Irreversible.
   */
  destroy(): Promise<void>;
}

/**
 * Where one instance's backups live: `<backupRoot>/<account>/<region>/<dbiResourceId>/` (see ./backup/location.ts,
 * which creates both directories, owned by the engine user since the engine's own tools write there).
 */
export interface BackupPlace {
  /** Full (base) backups, one directory each. */
  baseDir: string;
  /** The continuously archived log (PostgreSQL WAL segments, MariaDB binlogs), compressed once each file is complete. */
  archiveDir: string;
}

/** A full physical backup, as recorded in its directory's checksum manifest (./backup/manifest.ts). */
export interface BaseBackupInfo {
  id: string;
  engine: EngineName;
  /** Epoch ms. */
  startedAt: number;
  finishedAt: number;
  /** The earliest time a restore from this backup is consistent (a restore target must not be earlier). */
  consistentAt: number;
  /** Compressed bytes stored. */
  bytes: number;
  /** The engine's log position at the backup's start (PostgreSQL LSN; MariaDB binlog file:pos or GTID). */
  position: string;
  /**
   * Name of the first archived log file a restore from this backup reads (a WAL segment name, a binlog file name):
   * archive files sorting before it are not needed by this backup (./backup/prune.ts).
   */
  archiveStart: string;
  /** Where its files and its checksum manifest are. */
  dir: string;
}

export interface RestoreRequest {
  base: BaseBackupInfo;
  /** The archived log to replay; absent = restore the base backup as it is (a snapshot). */
  archiveDir?: string;
  /** Epoch ms (millisecond precision); undefined = everything archived (latest). Ignored without archiveDir. */
  targetTime?: number;
  /** The NEW instance's instance directory (empty or absent); the request's adapter spec must point at it. */
  dataDir: string;
}

/** The primary a standby follows: a replication account on it (the primary's `replicationCredentials()`). */
export interface PrimaryEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * An engine with backups, point-in-time restore and replication roles. Each method is bounded in time and fails with
 * context; none is a stub.
 */
export interface RecoverableEngineAdapter extends EngineAdapter {
  /**
   * Continuous archiving of the engine's log into `place.archiveDir` (PostgreSQL: pg_receivewal; MariaDB:
   * mariadb-binlog --read-from-remote-server --raw --stop-never), a child process supervised by the adapter that
   * stops with the engine. Completed files are compressed and checksummed. Idempotent. Engine must be running.
   */
  startLogArchiving(place: BackupPlace): Promise<void>;
  stopLogArchiving(): Promise<void>;
  /**
   * The time of the newest change safely in the archive (RDS's LatestRestorableTime): everything committed up to it
   * can be restored. undefined if nothing is archived yet. Read from the archive's own record when the engine is down.
   */
  latestArchivedTime(place: BackupPlace): Promise<number | undefined>;
  /** A full physical backup of the running engine, with the engine's own tool, compressed and checksummed, into a new dir under place.baseDir. */
  backup(place: BackupPlace, id: string): Promise<BaseBackupInfo>;
  /**
   * Verifies every checksum it needs (throws BackupCorruptError naming the file), then builds a complete instance
   * directory in req.dataDir, initialised (isInitialised() true), whose data is exactly the source's at targetTime
   * (or at the newest archived change), with this adapter's spec (port, parameters). Leaves the engine stopped.
   * The adapter must be the new instance's (spec.dataDir === req.dataDir).
   */
  restoreToPoint(req: RestoreRequest): Promise<{ restoredTo: number }>;
  /** The account a standby of this instance connects with (created on first call, stored as the engine needs it). */
  replicationCredentials(): Promise<{ user: string; password: string }>;
  /** Makes a standby a primary that accepts writes; resolves once it does. A no-op on a primary. */
  promote(): Promise<void>;
  /**
   * Makes this instance a standby streaming from `primary`, re-seeding its data from the primary with the engine's
   * own tool when it is not already a standby of the same system. Resolves once it is running and replicating.
   */
  followPrimary(primary: PrimaryEndpoint): Promise<void>;
  /** 'primary' or 'standby', asked of the running engine. */
  replicationRole(): Promise<'primary' | 'standby'>;
}

export function isRecoverable(adapter: EngineAdapter): adapter is RecoverableEngineAdapter {
  const a = adapter as Partial<RecoverableEngineAdapter>;
  return typeof a.backup === 'function' && typeof a.restoreToPoint === 'function' && typeof a.startLogArchiving === 'function';
}

/**
 * The relational engines (postgres, mariadb/mysql) also take a whole parameter set at once, which is how RDS
 * drives them: a DB parameter group is the complete list of what differs from the defaults, so a parameter that
 * leaves the group must go back to its default, and static ones must wait for the next start.
 */
export interface RelationalEngineAdapter extends EngineAdapter {
  /**
   * Makes `params` the instance's complete parameter set. It is stored (conf/params.json) and used by every later
   * start; while the engine runs, dynamic parameters take effect now and parameters no longer in the set return
   * to their defaults. Works on a stopped engine too (then it only stores). `configure()` merges instead.
   */
  applyParams(params: Record<string, string>): Promise<ConfigureResult>;
  /**
   * Installs the server certificate and key for TLS in the instance's own directory (`tls/server.pem`, 0600, engine
   * user; see ./tls.ts). Every later start serves TLS with it; a running engine reloads it (`live: true`) when it can:
   * PostgreSQL always can; MariaDB can replace a certificate (FLUSH SSL) but not turn TLS on without a restart.
   */
  installTls(material: TlsMaterial): Promise<{ live: boolean }>;
  /** The installed server certificate (PEM), undefined when none is. */
  tlsCertificate(): Promise<string | undefined>;
  /** Client connections and I/O timing counters, through Cellar's admin account (CloudWatch's AWS/RDS metrics). */
  activity(timeoutMs: number): Promise<EngineActivity>;
}

/**
 * What an engine reports about its load, for the AWS/RDS metrics. `connections` leaves out Cellar's own admin
 * sessions where the engine can tell them apart (PostgreSQL: its admin role's; MariaDB: the one asking). The I/O counters are cumulative and present only when the engine times its I/O (PostgreSQL's
 * track_io_timing and track_wal_io_timing): reads are data-block reads, writes are WAL syncs (what a commit waits for).
 */
export interface EngineActivity {
  connections: number;
  readCount?: number;
  readTimeMs?: number;
  writeCount?: number;
  writeTimeMs?: number;
}

/** A stop step: the signal that asks for it and how long to wait before escalating. */
export interface StopStep {
  mode: StopMode;
  signal: NodeJS.Signals;
  timeoutMs: number;
}

export const DEFAULT_START_TIMEOUT_MS = 60_000;
const PROBE_INTERVAL_MS = 10;
/** Consecutive refusals of Cellar's admin access (not "not ready yet") after which a start gives up, and their spacing. */
const ADMIN_REFUSALS_BEFORE_GIVING_UP = 5;
const ADMIN_REFUSED_RETRY_MS = 200;
const MAX_START_ATTEMPTS = 3;
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export interface InstanceLayout {
  root: string;
  data: string;
  run: string;
  conf: string;
  logDir: string;
  logFile: string;
  marker: string;
  /** The parameter set last given to initialise/configure/applyParams, used at each start. */
  paramsFile: string;
}

/** Lays out the instance directory. `longestSocketName` is the engine's socket file name (e.g. `.s.PGSQL.65535`). */
export function instanceLayout(root: string, logName: string, longestSocketName: string): InstanceLayout {
  const abs = path.resolve(root);
  let run = path.join(abs, 'run');
  if (Buffer.byteLength(path.join(run, longestSocketName)) > MAX_SOCKET_PATH_BYTES) {
    // Too deep for a Unix socket: use a short private directory named after the instance path instead.
    run = path.join(os.tmpdir(), 'cellar-' + createHash('sha256').update(abs).digest('hex').slice(0, 16));
  }
  return {
    root: abs,
    data: path.join(abs, 'data'),
    run,
    conf: path.join(abs, 'conf'),
    logDir: path.join(abs, 'log'),
    logFile: path.join(abs, 'log', logName),
    marker: path.join(abs, 'cellar-engine.json'),
    paramsFile: path.join(abs, 'conf', 'params.json'),
  };
}

/** Quotes an SQL identifier the standard way (PostgreSQL). */
export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

export function validateSpec(spec: EngineSpec): void {
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw new Error(`invalid port ${spec.port} for ${spec.name}`);
  if (!path.isAbsolute(spec.dataDir)) throw new Error(`dataDir must be absolute for ${spec.name}: ${spec.dataDir}`);
  if (!spec.masterUsername) throw new Error(`masterUsername is required for ${spec.name}`);
  for (const a of spec.listenAddresses ?? []) {
    if (!/^[0-9a-fA-F:.*]+$/.test(a) && a !== 'localhost') throw new Error(`invalid listen address ${a} for ${spec.name}`);
  }
}

/**
 * The shared process lifecycle: start with readiness polling and bounded retries, exit watching, escalating stop.
 * Subclasses say how to build the command line, how to probe, and how to recognise leftovers of a previous run.
 */
export abstract class ProcessEngine implements EngineAdapter {
  protected proc: HostProcess | undefined;
  /** Durations of the last initialise() steps, for logs and benchmarks. */
  lastInitialisePhasesMs: Record<string, number> = {};
  private stopping = false;
  private readonly exitListeners = new Set<(status: ExitStatus) => void>();
  readonly spec: Readonly<EngineSpec>;

  protected constructor(
    protected readonly host: Host,
    spec: EngineSpec,
    readonly layout: InstanceLayout,
  ) {
    validateSpec(spec);
    this.spec = Object.freeze({ ...spec, listenAddresses: spec.listenAddresses ?? ['127.0.0.1'], params: { ...spec.params } });
  }

  /** e.g. "postgres db-1". */
  protected get label(): string {
    return `${this.spec.engine} ${this.spec.name}`;
  }

  protected abstract command(): { command: string; args: string[]; env?: Record<string, string> };
  /**
   * How stop escalates before the final SIGKILL. The default suits engines with one clean shutdown
   * (SIGTERM: mariadbd flushes and exits, redis fsyncs its AOF); PostgreSQL overrides it with its
   * smart/fast/immediate modes.
   */
  protected stopSteps(): StopStep[] {
    return [
      { mode: 'graceful', signal: 'SIGTERM', timeoutMs: 30_000 },
      { mode: 'fast', signal: 'SIGTERM', timeoutMs: 30_000 },
    ];
  }
  /**
   * What the engine gets if Cellar dies (host.ts, setpriv --pdeathsig): its own clean and fast shutdown. SIGTERM
   * suits mariadbd (flushes and exits) and redis (fsyncs its AOF); PostgreSQL overrides it (SIGTERM there would wait
   * for every client to disconnect).
   */
  protected deathSignal(): NodeJS.Signals {
    return 'SIGTERM';
  }
  /** One probe attempt; throws on failure. */
  protected abstract probeOnce(timeoutMs: number): Promise<void>;
  /**
   * Whether a probe error means the engine refuses Cellar's administrative access (an account the master dropped,
   * say) rather than an engine not ready yet. A start gives up after a few of those instead of polling until its
   * deadline, which would only fill the engine's log with refused logins.
   */
  protected isAdminAccessRefused(_err: unknown): boolean {
    return false;
  }
  /** Runs once the engine answers, before start() resolves (bounded by the adapter); e.g. migrations of rules. */
  protected async afterStart(): Promise<void> {}
  /** Stops or clears what a previous Cellar may have left (orphan engine, stale lock). Called before spawning. */
  protected abstract clearLeftovers(): Promise<void>;
  /** Whether an early exit looks like a leftover still going away (worth a bounded retry). */
  protected abstract isTransientStartFailure(logTail: string): boolean;
  abstract initialise(): Promise<void>;
  abstract configure(params: Record<string, string>): Promise<ConfigureResult>;
  abstract setMasterPassword(username: string, password: string): Promise<void>;

  endpoint(): { address: string; port: number } {
    const first = this.spec.listenAddresses![0]!;
    return { address: first === '*' || first === '0.0.0.0' ? '127.0.0.1' : first === '::' ? '::1' : first, port: this.spec.port };
  }

  async isInitialised(): Promise<boolean> {
    return this.host.exists(this.layout.marker);
  }

  /** Writes the marker last: after it, the instance exists. */
  /**
   * The start of every initialise(): the instance's directories, with any data directory discarded. There is no
   * marker yet, so no instance was ever reported: whatever a crashed earlier attempt left is safe to discard.
   */
  protected async freshDirectories(extra: string[] = []): Promise<void> {
    const L = this.layout;
    await this.host.ensureDir(L.root);
    await this.host.remove(L.data);
    for (const d of [L.data, L.conf, L.logDir, ...extra]) await this.host.ensureDir(d);
    await this.ensureRunDir();
  }

  /**
   * The run directory (sockets, pid files). When the socket path forced it under the system temp dir, it carries this
   * Cellar's owner stamp, so that a later Cellar can tell it from another live Cellar's and sweep it once this one is
   * gone (./temp-dirs.ts). A reboot may have emptied the temp dir: it is recreated at every start.
   */
  protected async ensureRunDir(): Promise<void> {
    await this.host.ensureDir(this.layout.run);
    if (!this.runDirInsideRoot()) await claimTempDir(this.host, this.layout.run);
  }

  private runDirInsideRoot(): boolean {
    return this.layout.run.startsWith(this.layout.root + path.sep);
  }

  protected async writeMarker(details: Record<string, unknown>): Promise<void> {
    await this.host.writeFile(
      this.layout.marker,
      JSON.stringify({ engine: this.spec.engine, name: this.spec.name, createdAt: new Date().toISOString(), ...details }, null, 2) + '\n',
      { mode: 0o600 },
    );
  }

  isRunning(): boolean {
    return this.proc !== undefined && this.proc.exitStatus() === undefined;
  }

  pid(): number | undefined {
    return this.isRunning() ? this.proc!.pid : undefined;
  }

  onUnexpectedExit(listener: (status: ExitStatus) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  private starting: Promise<void> | undefined;

  /** Concurrent callers (a reconciler step and the supervisor, say) share one start attempt. */
  start(options: { timeoutMs?: number } = {}): Promise<void> {
    this.starting ??= this.startOnce(options).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startOnce(options: { timeoutMs?: number }): Promise<void> {
    if (this.isRunning()) return;
    const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    if (!(await this.isInitialised())) throw new Error(`while starting ${this.label}: ${this.layout.root} is not initialised`);
    try {
      await this.clearLeftovers();
      for (const address of this.spec.listenAddresses!) {
        const bindable = address === '*' ? '0.0.0.0' : address;
        if (!(await this.host.isPortFree(this.spec.port, bindable))) throw new Error(`port ${this.spec.port} on ${bindable} is already in use`);
      }
      await this.rotateLog();
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.spawnAndWait(deadline);
        if (outcome === 'ready') {
          try {
            await this.afterStart();
          } catch (err) {
            // Not left running half-prepared: the next start tries again from the beginning.
            await this.stop('fast').catch(() => undefined);
            throw withContext('after the engine answered', err);
          }
          return;
        }
        const tail = await this.logTail(4000);
        if (attempt < MAX_START_ATTEMPTS && Date.now() < deadline && this.isTransientStartFailure(tail)) {
          log('warn', 'engine start failed on a leftover; retrying', { engine: this.spec.engine, name: this.spec.name, attempt });
          await delay(Math.min(300 * attempt, Math.max(0, deadline - Date.now())));
          await this.clearLeftovers();
          continue;
        }
        throw new Error(`${outcome}; last log lines:\n${lastLines(tail, 15)}`);
      }
    } catch (err) {
      throw withContext(`starting ${this.label} in ${this.layout.root}`, err);
    }
  }

  /** Spawns the engine and polls until it answers, exits, or the deadline passes. */
  private async spawnAndWait(deadline: number): Promise<'ready' | string> {
    const { command, args, env } = this.command();
    const started = Date.now();
    const proc = this.host.spawn({ command, args, env: env ?? {}, cwd: this.layout.root, logFile: this.layout.logFile, parentDeathSignal: this.deathSignal() });
    this.proc = proc;
    this.stopping = false;
    void proc.exited.then((status) => this.handleExit(proc, status));
    let lastError = '';
    let refusals = 0;
    while (Date.now() < deadline) {
      if (proc.exitStatus()) return `engine exited during startup (${describeExit(proc.exitStatus()!)})`;
      try {
        await this.probeOnce(Math.max(100, Math.min(2000, deadline - Date.now())));
        log('info', 'engine ready', { engine: this.spec.engine, name: this.spec.name, pid: proc.pid, startMs: Date.now() - started });
        return 'ready';
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        refusals = this.isAdminAccessRefused(err) ? refusals + 1 : 0;
      }
      if (refusals >= ADMIN_REFUSALS_BEFORE_GIVING_UP) {
        // The engine answers but refuses Cellar: take it down (an expected stop, not a crash to restart); the caller
        // decides whether to try again.
        this.stopping = true;
        proc.signal('SIGTERM');
        if (!(await settlesWithin(proc.exited, 30_000))) proc.signal('SIGKILL', { group: true });
        await settlesWithin(proc.exited, 5000);
        return `the engine refuses Cellar's administrative access (${lastError})`;
      }
      await settlesWithin(proc.exited, refusals > 0 ? ADMIN_REFUSED_RETRY_MS : PROBE_INTERVAL_MS);
    }
    // Not ready in time: take it down so we do not leave a half-started engine behind.
    proc.signal('SIGKILL', { group: true });
    await settlesWithin(proc.exited, 5000);
    throw new Error(`not ready within the start timeout (last probe error: ${lastError})`);
  }

  private handleExit(proc: HostProcess, status: ExitStatus): void {
    // Whatever is left of the engine's process group (PostgreSQL backends whose postmaster died) is doomed anyway;
    // killing it now frees shared memory and ports, so a restart needs no retry. The group id cannot be reused while
    // any member lives, so this reaches only the engine's own processes.
    this.host.signalPid(-proc.pid, 'SIGKILL');
    if (proc !== this.proc) return;
    const expected = this.stopping;
    log(expected ? 'info' : 'warn', expected ? 'engine stopped' : 'engine exited unexpectedly', {
      engine: this.spec.engine,
      name: this.spec.name,
      pid: proc.pid,
      code: status.code,
      signal: status.signal,
    });
    if (expected) return;
    for (const listener of this.exitListeners) {
      try {
        listener(status);
      } catch (err) {
        log('error', 'exit listener failed', { engine: this.spec.engine, name: this.spec.name, error: String(err) });
      }
    }
  }

  async stop(mode: StopMode = 'fast', options: { stepTimeoutMs?: number } = {}): Promise<StopOutcome> {
    const started = Date.now();
    const proc = this.proc;
    if (!proc || proc.exitStatus()) {
      // Not started by this process: an engine a previous Cellar left running (it died while stopping or deleting
      // the instance) must not survive a stop either. clearLeftovers recognises it by pid file and command line.
      if (!this.isRunning() && (await this.isInitialised())) await this.clearLeftovers();
      // elapsedMs counts the stop of this adapter's own engine; there was none.
      return { stoppedBy: 'none', elapsedMs: 0 };
    }
    this.stopping = true;
    const steps = this.stopSteps().filter((s) => STOP_MODES.indexOf(s.mode) >= STOP_MODES.indexOf(mode));
    steps.push({ mode: 'kill', signal: 'SIGKILL', timeoutMs: 10_000 });
    for (const step of steps) {
      // SIGKILL goes to the whole group so no backend outlives its postmaster; the others only to the main process,
      // which shuts its children down in order.
      proc.signal(step.signal, { group: step.mode === 'kill' });
      const timeoutMs = step.mode === 'kill' ? step.timeoutMs : (options.stepTimeoutMs ?? step.timeoutMs);
      const exited = await settlesWithin(proc.exited, timeoutMs);
      if (exited) {
        if (step.mode === 'kill') proc.signal('SIGKILL', { group: true });
        return { stoppedBy: step.mode, elapsedMs: Date.now() - started };
      }
      log('warn', 'engine did not stop in time; escalating', { engine: this.spec.engine, name: this.spec.name, step: step.mode, timeoutMs });
    }
    throw new Error(`while stopping ${this.label}: process ${proc.pid} survived SIGKILL`);
  }

  async healthProbe(timeoutMs = 2000): Promise<ProbeResult> {
    const started = Date.now();
    if (!this.isRunning()) return { ok: false, latencyMs: 0, reason: `${this.label} is not running` };
    try {
      await withTimeout(this.probeOnce(timeoutMs), timeoutMs, 'health probe');
      return { ok: true, latencyMs: Date.now() - started };
    } catch (err) {
      return { ok: false, latencyMs: Date.now() - started, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  async storageUsedBytes(): Promise<number> {
    return this.host.diskUsageBytes(this.layout.root);
  }

  async destroy(): Promise<void> {
    if (this.isRunning()) throw new Error(`while destroying ${this.label}: the engine is still running; stop it first`);
    // The run directory sits outside the instance only when the socket path was too long (see instanceLayout).
    if (!this.runDirInsideRoot()) await this.host.remove(this.layout.run);
    await this.host.remove(this.layout.root);
  }

  /** The stored parameter set (conf/params.json), or undefined before one was stored. */
  protected async storedParams(): Promise<Record<string, string> | undefined> {
    const text = await this.host.readFile(this.layout.paramsFile);
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, string>);
  }

  /** `durable: false` only where a syncTree follows (initialise); applyParams and configure need it durable. */
  protected async storeParams(params: Record<string, string>, options: { durable?: boolean } = {}): Promise<void> {
    await this.host.ensureDir(this.layout.conf);
    await this.host.writeFile(this.layout.paramsFile, JSON.stringify(params, null, 2) + '\n', options);
  }

  protected requireRunning(what: string): void {
    if (!this.isRunning()) throw new Error(`while ${what} on ${this.label}: the engine is not running`);
  }

  /** The end of the engine's log, for error messages. */
  async logTail(maxBytes: number): Promise<string> {
    const text = (await this.host.readFile(this.layout.logFile)) ?? '';
    return text.slice(-maxBytes);
  }

  /** One previous log kept; bounds the log to about twice LOG_ROTATE_BYTES. */
  private async rotateLog(): Promise<void> {
    const current = await this.host.readFile(this.layout.logFile);
    if (current !== undefined && Buffer.byteLength(current) > LOG_ROTATE_BYTES) {
      await this.host.remove(this.layout.logFile + '.1');
      await this.host.writeFile(this.layout.logFile + '.1', current);
      await this.host.remove(this.layout.logFile);
    }
  }

  /**
   * Stops an engine a previous Cellar left running (recognised by pid and command line), bounded in time.
   * Returns what the pid turned out to be.
   */
  protected async stopLeftover(pid: number, isOurs: (cmdline: string[]) => boolean, signal: NodeJS.Signals): Promise<'stopped' | 'gone' | 'zombie' | 'not-ours'> {
    const info = await this.host.processInfo(pid);
    if (info.state !== 'running') return info.state;
    if (this.proc && this.proc.pid === pid && this.isRunning()) throw new Error(`pid ${pid} is our own running engine`);
    if (!isOurs(info.cmdline)) return 'not-ours';
    log('warn', 'stopping an engine left running by a previous Cellar', { engine: this.spec.engine, name: this.spec.name, pid });
    for (const [sig, waitMs] of [[signal, 15_000], ['SIGKILL', 5_000]] as const) {
      this.host.signalPid(pid, sig);
      const until = Date.now() + waitMs;
      while (Date.now() < until) {
        if ((await this.host.processInfo(pid)).state !== 'running') return 'stopped';
        await delay(20);
      }
    }
    throw new Error(`leftover engine process ${pid} did not exit`);
  }
}

/** Records how long each step of a multi-step action took (for logs and the floor benchmark). */
export class PhaseTimer {
  private last = Date.now();
  readonly phasesMs: Record<string, number> = {};
  mark(phase: string): void {
    const now = Date.now();
    this.phasesMs[phase] = now - this.last;
    this.last = now;
  }
}

export function describeExit(status: ExitStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

export async function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
