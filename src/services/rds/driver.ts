/**
 * @module services/rds/driver
 * What the RDS reconciler needs from the engine layer, in RDS's terms, and its one binding to src/engines/: the
 * relational engine adapters (postgres, mariadb serving `mariadb` and `mysql`) and the host interface they run
 * through. Nothing here starts, signals or watches a process itself. An engine that exits unexpectedly is only
 * reported (`onEngineEvent`): deciding what to do about it is the resource's health decider's (runtime/decider.ts),
 * and nobody else's.
 *
 * Instance directories follow the adapters' layout (src/engines/adapter.ts): data/, run/, conf/, log/ and the
 * cellar-engine.json marker, all owned by the unprivileged engine user.
 */
import { join } from 'node:path';
import { describeExit, isRecoverable, type BackupPlace, type BaseBackupInfo, type ConfigureResult, type EngineActivity, type EngineSpec, type RecoverableEngineAdapter, type RelationalEngineAdapter, type RestoreRequest } from '../../engines/adapter.js';
import { preparePlace, pruneArchive, verifyBackup, type BackupOwner } from '../../engines/backup/index.js';
import type { ExitStatus, Host } from '../../engines/host.js';
import { createRelationalEngine } from '../../engines/index.js';
import type { TlsMaterial } from '../../engines/tls.js';
import { VersionProbeCache } from '../../engines/version-cache.js';
import { listPostgresInstallations, mariadbVersion } from '../../engines/versions.js';
import { log } from '../../core/log.js';
import type { EngineKind, RdsEngine } from './catalog.js';

/**
 * The engine of one member of an instance (runtime/resource.ts Member), as the driver builds its adapter from it:
 * the adapter's own EngineSpec fields, plus what picks the installation and keys the driver's table.
 */
export interface MemberEngine extends Pick<EngineSpec, 'dataDir' | 'port' | 'masterUsername'> {
  /** Stable, unique per instance (account/region/id): names processes and logs. */
  key: string;
  /** The RDS engine name (`mysql` is served by MariaDB). */
  engine: RdsEngine;
  kind: EngineKind;
  /** Exact engine version that must run (never swapped for another). */
  version: string;
  /** The member's host address: 127.0.0.1 unless the instance is publicly accessible. */
  listenAddress: string;
}

export interface MasterCredentials {
  username: string;
  password: string;
  dbName?: string;
}

/** An engine exited without being asked to: an observation for the instance's health decider. */
export interface EngineEvent {
  key: string;
  kind: 'exited';
  status: ExitStatus;
  /** How it exited ("signal SIGKILL", "exit code 1"). */
  detail: string;
}

/** One of an engine's log files (src/engines/adapter.ts: the engine's output, one previous file kept at a start). */
export interface EngineLogFile {
  which: 'current' | 'previous';
  size: number;
  mtimeMs: number;
}

export interface InstalledEngine {
  kind: EngineKind;
  version: string;
  major: string;
  /** The system's own packaged engine (Debian's): the default when a request names no EngineVersion. */
  preferred?: boolean;
}

export interface RdsEngineDriver {
  /** Versions really installed on this host. */
  installed(): InstalledEngine[];
  /**
   * Brings a new instance up: the engine's own initialisation with the master user (RDS-like privileges) and
   * DBName, then a start with `settings`. Re-runnable after a crash: a half-made directory is discarded.
   */
  initialise(spec: MemberEngine, master: MasterCredentials, settings: Record<string, string>): Promise<void>;
  /**
   * Starts the engine with `settings` (its complete parameter set) and resolves once a real query succeeds; an
   * engine a previous Cellar left running is stopped and started again. A no-op when already running.
   */
  start(spec: MemberEngine, settings: Record<string, string>): Promise<void>;
  /** Stops the engine (escalating fast → immediate → kill), also one a previous Cellar left running. */
  stop(spec: MemberEngine): Promise<void>;
  isRunning(spec: MemberEngine): boolean;
  /** Whether the engine answers a real query now. */
  probe(spec: MemberEngine): Promise<boolean>;
  /** Makes `settings` the complete parameter set: dynamic ones now, static ones at the next start. */
  applySettings(spec: MemberEngine, settings: Record<string, string>): Promise<ConfigureResult>;
  /** The engine's process id while it runs (reported by /_cellar/health). */
  pid(spec: MemberEngine): number | undefined;
  /** Changes the master user's password in the running engine. */
  setMasterPassword(spec: MemberEngine, username: string, password: string): Promise<void>;
  /** Bytes the instance occupies on disk (data, WAL, logs). */
  storageUsedBytes(spec: MemberEngine): Promise<number>;
  /** The running engine's connections and I/O counters (AWS/RDS metrics); undefined when it is not running. */
  activity?(spec: MemberEngine): Promise<EngineActivity | undefined>;
  /** The engine's log files that exist, the previous one (kept when a start rotated it) before the current one. */
  logFiles(spec: MemberEngine): Promise<EngineLogFile[]>;
  /** Up to `length` bytes of one of the engine's log files from byte `start`; undefined when it is gone. */
  readLog(spec: MemberEngine, which: EngineLogFile['which'], start: number, length: number): Promise<Buffer | undefined>;
  /** Copies the (stopped) engine data directory to dest, for a final snapshot. */
  copyDataDir(spec: MemberEngine, dest: string): Promise<void>;
  /** Stops the engine and removes the instance directory. */
  destroy(spec: MemberEngine): Promise<void>;
  onEngineEvent(listener: (event: EngineEvent) => void): void;
  /** Installs the instance's TLS certificate and key (served from the next start, and now when the engine can reload it). */
  installTls(spec: MemberEngine, material: TlsMaterial): Promise<{ live: boolean }>;
  /** The instance's installed TLS certificate (PEM), undefined when none is. */
  tlsCertificate(spec: MemberEngine): Promise<string | undefined>;
  /** Whether the instance's engine can take backups and restore them here (its adapter is a RecoverableEngineAdapter). */
  canBackUp(spec: MemberEngine): boolean;
  /** Creates (idempotently) the backup place of an owner under `root` (engines/backup/location.ts). */
  preparePlace(root: string, owner: BackupOwner): Promise<BackupPlace>;
  /** Continuous archiving of the running engine's log into the place (idempotent; stops with the engine). */
  startLogArchiving(spec: MemberEngine, place: BackupPlace): Promise<void>;
  stopLogArchiving(spec: MemberEngine): Promise<void>;
  /** The newest change safely archived (LatestRestorableTime), undefined if none. */
  latestArchivedTime(spec: MemberEngine, place: BackupPlace): Promise<number | undefined>;
  /** A full backup of the running engine into a new directory under place.baseDir, by the engine's own tool. */
  backup(spec: MemberEngine, place: BackupPlace, id: string): Promise<BaseBackupInfo>;
  /** Builds the (new, stopped) instance of `spec` from a backup, verified first; see RecoverableEngineAdapter. */
  restoreToPoint(spec: MemberEngine, req: Omit<RestoreRequest, 'dataDir'>): Promise<{ restoredTo: number }>;
  /** A verified copy of a finished backup as a new directory under place.baseDir (CopyDBSnapshot). */
  copyBackup(from: BaseBackupInfo, place: BackupPlace, id: string): Promise<BaseBackupInfo>;
  /** Removes a backup directory or a whole place. */
  removeBackupFiles(dir: string): Promise<void>;
  /** Removes archived log files a restore from `firstNeeded` (a base backup's archiveStart) on does not need. */
  pruneArchive(archiveDir: string, firstNeeded: string): Promise<number>;
  /**
   * Stops every engine this driver runs (Cellar shutting down): `fast` is a clean shutdown; `immediate` (a hurried
   * stop) skips the engines' shutdown work and escalates a stop already in progress.
   */
  stopAll(mode?: 'fast' | 'immediate'): Promise<void>;
}

const PROBE_TIMEOUT_MS = 2000;
const COPY_TIMEOUT_MS = 10 * 60_000;

interface Running {
  engine: RelationalEngineAdapter;
  unsubscribe: () => void;
}

/** Binds RdsEngineDriver to the engine layer on one host. Build it with `EnginesDriver.create`. */
export class EnginesDriver implements RdsEngineDriver {
  private readonly instances = new Map<string, Running>();
  private readonly listeners: Array<(e: EngineEvent) => void> = [];

  private constructor(
    private readonly host: Host,
    private readonly versions: Array<InstalledEngine & { binDir?: string }>,
  ) {}

  /**
   * Finds the installed engines through the engine layer's own discovery (exact versions from the binaries; a
   * binary unchanged since an earlier Cellar asked it is answered from the per-user probe cache).
   */
  static async create(host: Host, options: { versionCache?: VersionProbeCache } = {}): Promise<EnginesDriver> {
    const found: Array<InstalledEngine & { binDir?: string }> = [];
    const cache = options.versionCache ?? (await VersionProbeCache.open());
    const [postgres, m] = await Promise.all([listPostgresInstallations(host, { cache }), mariadbVersion(host, undefined, cache)]);
    // The cache is only a shortcut: failing to write it costs the next start some time, nothing else.
    await cache.save().catch((e: unknown) => log('warn', 'engine version cache not saved', { error: (e as Error).message }));
    for (const p of postgres) {
      // Two installations of one version (Debian and embedded): the first, Debian's, wins.
      if (!found.some((f) => f.kind === 'postgres' && f.version === p.version)) found.push({ kind: 'postgres', version: p.version, major: String(p.major), binDir: p.binDir, preferred: p.source === 'debian' });
    }
    if (m) found.push({ kind: 'mariadb', version: m.version, major: m.major, preferred: true });
    return new EnginesDriver(host, found);
  }

  installed(): InstalledEngine[] {
    return this.versions.map(({ kind, version, major, preferred }) => ({ kind, version, major, ...(preferred ? { preferred } : {}) }));
  }

  /**
   * The adapter for an instance. Specs are fixed per adapter, so a changed port or address (ModifyDBInstance)
   * gets a new adapter once the old engine has stopped.
   */
  private entry(spec: MemberEngine, master?: MasterCredentials, settings: Record<string, string> = {}): Running {
    const cur = this.instances.get(spec.key);
    if (cur) {
      const s = cur.engine.spec;
      const same = s.port === spec.port && s.listenAddresses?.[0] === spec.listenAddress && s.dataDir === spec.dataDir;
      if (same && !master) return cur;
      if (cur.engine.isRunning()) {
        if (same) return cur;
        throw new Error(`the engine of ${spec.key} must be stopped before its port or address changes`);
      }
      cur.unsubscribe();
    }
    const installed = this.versions.find((v) => v.kind === spec.kind && v.version === spec.version);
    if (!installed) throw new Error(`${spec.kind} ${spec.version} is not installed on this host`);
    const engine = createRelationalEngine(this.host, {
      engine: spec.engine,
      name: spec.key,
      binDir: installed.binDir,
      dataDir: spec.dataDir,
      port: spec.port,
      listenAddresses: [spec.listenAddress],
      masterUsername: master?.username ?? spec.masterUsername,
      // Only initialise() reads the password; later adapters of the instance never need it.
      masterPassword: master?.password ?? '',
      dbName: master?.dbName,
      params: settings,
    });
    // Only an exit nobody asked for is reported (a stop() is never one); the health decider decides what follows.
    const unsubscribe = engine.onUnexpectedExit((status) => {
      const event: EngineEvent = { key: spec.key, kind: 'exited', status, detail: describeExit(status) };
      for (const l of this.listeners) {
        try {
          l(event);
        } catch (e) {
          log('error', 'rds engine exit listener failed', { instance: spec.key, error: (e as Error).message });
        }
      }
    });
    const entry = { engine, unsubscribe };
    this.instances.set(spec.key, entry);
    return entry;
  }

  async initialise(spec: MemberEngine, master: MasterCredentials, settings: Record<string, string>): Promise<void> {
    const { engine } = this.entry(spec, master, settings);
    if (!(await engine.isInitialised())) await engine.initialise();
    await engine.applyParams(settings);
    await engine.start();
  }

  async start(spec: MemberEngine, settings: Record<string, string>): Promise<void> {
    const { engine } = this.entry(spec);
    if (!engine.isRunning()) {
      await engine.applyParams(settings);
      await engine.start();
    }
  }

  async stop(spec: MemberEngine): Promise<void> {
    const cur = this.instances.get(spec.key) ?? this.entry(spec);
    await cur.engine.stop('fast');
  }

  isRunning(spec: MemberEngine): boolean {
    return this.instances.get(spec.key)?.engine.isRunning() ?? false;
  }

  async probe(spec: MemberEngine): Promise<boolean> {
    const cur = this.instances.get(spec.key);
    return cur ? (await cur.engine.healthProbe(PROBE_TIMEOUT_MS)).ok : false;
  }

  async applySettings(spec: MemberEngine, settings: Record<string, string>): Promise<ConfigureResult> {
    return this.entry(spec).engine.applyParams(settings);
  }

  pid(spec: MemberEngine): number | undefined {
    return this.instances.get(spec.key)?.engine.pid();
  }

  async setMasterPassword(spec: MemberEngine, username: string, password: string): Promise<void> {
    await this.entry(spec).engine.setMasterPassword(username, password);
  }

  async storageUsedBytes(spec: MemberEngine): Promise<number> {
    return this.entry(spec).engine.storageUsedBytes();
  }

  async activity(spec: MemberEngine): Promise<EngineActivity | undefined> {
    const cur = this.instances.get(spec.key);
    if (!cur?.engine.isRunning()) return undefined;
    return cur.engine.activity(PROBE_TIMEOUT_MS);
  }

  /** The log's path, from the instance's adapter (its engine's layout); undefined when no adapter can be made. */
  private logPath(spec: MemberEngine, which: EngineLogFile['which']): string | undefined {
    let file: string;
    try {
      // The adapter already made for the instance, even one whose port is about to change: its directory is the same.
      file = this.adapterOf(spec).layout.logFile;
    } catch {
      return undefined; // its engine version is no longer installed: no adapter, and no log to serve
    }
    return which === 'previous' ? `${file}.1` : file;
  }

  async logFiles(spec: MemberEngine): Promise<EngineLogFile[]> {
    const out: EngineLogFile[] = [];
    for (const which of ['previous', 'current'] as const) {
      const file = this.logPath(spec, which);
      const info = file === undefined ? undefined : await this.host.fileInfo(file);
      if (info) out.push({ which, ...info });
    }
    return out;
  }

  async readLog(spec: MemberEngine, which: EngineLogFile['which'], start: number, length: number): Promise<Buffer | undefined> {
    const file = this.logPath(spec, which);
    return file === undefined ? undefined : this.host.readFileRange(file, start, length);
  }

  async copyDataDir(spec: MemberEngine, dest: string): Promise<void> {
    if (this.isRunning(spec)) throw new Error('the engine must be stopped before its data directory is copied');
    // A partial copy never carries the final name: copied aside, then renamed.
    const partial = `${dest}.partial`;
    await this.host.remove(partial);
    const r = await this.host.run({ command: 'cp', args: ['-a', join(spec.dataDir, 'data'), partial], asEngineUser: false, timeoutMs: COPY_TIMEOUT_MS });
    if (r.code !== 0) {
      // What was copied is no snapshot: removed now rather than left for the next attempt to find.
      await this.host.remove(partial).catch(() => undefined);
      throw new Error(`copying the data directory failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-500)}`);
    }
    const mv = await this.host.run({ command: 'mv', args: ['-T', partial, dest], asEngineUser: false, timeoutMs: COPY_TIMEOUT_MS });
    if (mv.code !== 0) {
      await this.host.remove(partial).catch(() => undefined);
      throw new Error(`naming the snapshot copy failed: ${mv.stderr.trim().slice(-500)}`);
    }
  }

  async destroy(spec: MemberEngine): Promise<void> {
    await this.stop(spec);
    const cur = this.instances.get(spec.key)!;
    await cur.engine.destroy();
    cur.unsubscribe();
    this.instances.delete(spec.key);
  }

  onEngineEvent(listener: (event: EngineEvent) => void): void {
    this.listeners.push(listener);
  }

  /**
   * The instance's adapter for backups: the one already made when there is one, even if a new port or address is
   * still to be applied (backups go through the engine's socket and data directory, which a port change keeps), so a
   * final snapshot taken in that moment is a real backup rather than a refused one.
   */
  private recoverable(spec: MemberEngine): RecoverableEngineAdapter {
    const engine = this.adapterOf(spec);
    if (!isRecoverable(engine)) throw new Error(`${spec.kind} ${spec.version} cannot take backups here yet`);
    return engine;
  }

  /** The adapter already made for the instance's directory, or a new one. */
  private adapterOf(spec: MemberEngine): RelationalEngineAdapter {
    const cur = this.instances.get(spec.key);
    return cur && cur.engine.spec.dataDir === spec.dataDir ? cur.engine : this.entry(spec).engine;
  }

  canBackUp(spec: MemberEngine): boolean {
    try {
      return isRecoverable(this.adapterOf(spec));
    } catch {
      return false; // its version is not installed here: no adapter at all
    }
  }

  async preparePlace(root: string, owner: BackupOwner): Promise<BackupPlace> {
    const { baseDir, archiveDir } = await preparePlace(this.host, root, owner);
    return { baseDir, archiveDir };
  }

  async startLogArchiving(spec: MemberEngine, place: BackupPlace): Promise<void> {
    await this.recoverable(spec).startLogArchiving(place);
  }

  async stopLogArchiving(spec: MemberEngine): Promise<void> {
    const cur = this.instances.get(spec.key);
    if (cur && isRecoverable(cur.engine)) await cur.engine.stopLogArchiving();
  }

  async latestArchivedTime(spec: MemberEngine, place: BackupPlace): Promise<number | undefined> {
    return this.recoverable(spec).latestArchivedTime(place);
  }

  async backup(spec: MemberEngine, place: BackupPlace, id: string): Promise<BaseBackupInfo> {
    return this.recoverable(spec).backup(place, id);
  }

  async restoreToPoint(spec: MemberEngine, req: Omit<RestoreRequest, 'dataDir'>): Promise<{ restoredTo: number }> {
    return this.recoverable(spec).restoreToPoint({ ...req, dataDir: spec.dataDir });
  }

  async copyBackup(from: BaseBackupInfo, place: BackupPlace, id: string): Promise<BaseBackupInfo> {
    // The source is checked before it is copied, and the copy after: a copy never carries damage on silently.
    await verifyBackup(from.dir);
    const dest = join(place.baseDir, id);
    const partial = `${dest}.partial`;
    await this.host.remove(partial);
    const r = await this.host.run({ command: 'cp', args: ['-a', '--reflink=auto', from.dir, partial], asEngineUser: false, timeoutMs: COPY_TIMEOUT_MS });
    if (r.code !== 0) {
      await this.host.remove(partial).catch(() => undefined);
      throw new Error(`copying backup ${from.id} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-500)}`);
    }
    const mv = await this.host.run({ command: 'mv', args: ['-T', partial, dest], asEngineUser: false, timeoutMs: COPY_TIMEOUT_MS });
    if (mv.code !== 0) {
      await this.host.remove(partial).catch(() => undefined);
      throw new Error(`naming the backup copy failed: ${mv.stderr.trim().slice(-500)}`);
    }
    return verifyBackup(dest);
  }

  async removeBackupFiles(dir: string): Promise<void> {
    await this.host.remove(dir);
  }

  async pruneArchive(archiveDir: string, firstNeeded: string): Promise<number> {
    return pruneArchive(this.host, archiveDir, firstNeeded);
  }

  async installTls(spec: MemberEngine, material: TlsMaterial): Promise<{ live: boolean }> {
    return this.entry(spec).engine.installTls(material);
  }

  async tlsCertificate(spec: MemberEngine): Promise<string | undefined> {
    return this.entry(spec).engine.tlsCertificate();
  }

  async stopAll(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await Promise.all(
      [...this.instances.values()].map(async ({ engine }) => {
        try {
          await engine.stop(mode);
        } catch (e) {
          log('error', 'rds engine did not stop', { engine: engine.spec.name, error: (e as Error).message });
        }
      }),
    );
  }
}
