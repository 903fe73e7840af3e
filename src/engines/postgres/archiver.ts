/**
 * @module engines/postgres/archiver
 * Continuous WAL archiving of one PostgreSQL instance with pg_receivewal, PostgreSQL's own streaming archiver.
 *
 * - pg_receivewal runs as the engine user, connects over the instance's Unix socket as Cellar's replication role
 *   (password auth, see config.ts REPLICATION_ROLE) and holds a physical replication slot, so the server keeps every
 *   WAL segment until it is archived, also while Cellar is down.
 * - `--synchronous` makes it fsync what it receives at once and report the flushed position back, so the archive
 *   trails the server by milliseconds. The segment being written is `<segment>.partial`.
 * - Completed segments (and timeline history files) are compressed with gzip and get a sha256 sidecar
 *   (../backup/manifest.ts), on a 1 s tick.
 * - LatestRestorableTime: samples of (server clock, current WAL position) are matched against the position
 *   pg_receivewal has flushed (pg_stat_replication): the newest sample at or below it is a time up to which every
 *   commit is in the archive. It is recorded durably in `cellar-latest.json`, for when the engine is down.
 * - pg_receivewal runs with --no-loop; this module restarts it (backoff 100 ms → 5 s) while the engine runs, pauses
 *   while the engine is down and resumes when it starts again. It never throws out of a timer.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { log } from '../../core/log.js';
import { delay, settlesWithin, type Host, type HostProcess } from '../host.js';
import type { BackupPlace } from '../adapter.js';
import { compressAndSealArchiveFile, isArchiveFileSealed, sealArchiveFile } from '../backup/manifest.js';
import { REPLICATION_ROLE } from './config.js';
import { HISTORY_NAME, parseLsn, SEGMENT_NAME } from './wal.js';

export const ARCHIVE_SLOT = 'cellar_archive';
export const ARCHIVE_APPLICATION = 'cellar_archive';
export const LATEST_FILE = 'cellar-latest.json';
const TICK_MS = 1000;
const MAX_SAMPLES = 120;
const FILES_PER_TICK = 64;
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;
const CONNECT_WAIT_MS = 15_000;
const FLUSH_WAIT_MS = 1000;
const FLUSH_POLL_MS = 20;
const TOOL_TIMEOUT_MS = 30_000;

/** What the archiver needs of its engine. */
export interface ArchivedEngine {
  readonly host: Host;
  readonly label: string;
  socketDir(): string;
  port(): number;
  logDir(): string;
  isRunning(): boolean;
  /** Directory with pg_receivewal and pg_basebackup suitable for this server. */
  toolsBinDir(): Promise<string>;
  replicationPassword(): Promise<string>;
  adminQuery<T extends object>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface ArchiverStatus {
  state: 'off' | 'streaming' | 'restarting' | 'paused';
  restarts: number;
  lastError?: string;
}

interface Sample {
  t: number;
  lsn: bigint;
}

export class WalArchiver {
  private proc: HostProcess | undefined;
  private wanted = false;
  private restarts = 0;
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private samples: Sample[] = [];
  private latest: { t: number; lsn: string } | undefined;
  private persistedT = 0;

  constructor(
    private readonly engine: ArchivedEngine,
    readonly place: BackupPlace,
  ) {}

  status(): ArchiverStatus {
    const state = !this.wanted ? 'off' : this.proc && !this.proc.exitStatus() ? 'streaming' : this.engine.isRunning() ? 'restarting' : 'paused';
    return { state, restarts: this.restarts, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  private conninfo(): string {
    return `host=${this.engine.socketDir()} port=${this.engine.port()} user=${REPLICATION_ROLE} application_name=${ARCHIVE_APPLICATION}`;
  }

  private async tool(name: string): Promise<string> {
    return path.join(await this.engine.toolsBinDir(), name);
  }

  private starting: Promise<void> | undefined;

  /** Starts (or resumes) archiving; resolves once pg_receivewal streams. Engine must be running. Concurrent calls share one attempt. */
  start(): Promise<void> {
    this.starting ??= this.startOnce().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    this.wanted = true;
    this.timer ??= setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    if (this.proc && !this.proc.exitStatus()) return;
    await this.engine.host.ensureDir(this.place.archiveDir);
    this.latest ??= await readLatest(this.place.archiveDir);
    const password = await this.engine.replicationPassword();
    const slot = await this.engine.host.run({
      command: await this.tool('pg_receivewal'),
      args: ['--create-slot', '--if-not-exists', '-S', ARCHIVE_SLOT, '-d', this.conninfo()],
      env: { PGPASSWORD: password },
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    if (slot.code !== 0) throw new Error(`pg_receivewal --create-slot failed (exit ${slot.code}): ${slot.stderr.trim().slice(-500)}`);
    await this.compressCompleted();
    await this.spawn(password);
    const deadline = Date.now() + CONNECT_WAIT_MS;
    while (!(await this.flushedLsn())) {
      if (this.proc?.exitStatus()) throw new Error(`pg_receivewal exited at once: ${await this.logTail()}`);
      if (Date.now() > deadline) throw new Error(`pg_receivewal did not connect within ${CONNECT_WAIT_MS} ms: ${await this.logTail()}`);
      await delay(20);
    }
    await this.sample();
  }

  private async spawn(password: string): Promise<void> {
    const logFile = path.join(this.engine.logDir(), 'pg_receivewal.log');
    const proc = this.engine.host.spawn({
      command: await this.tool('pg_receivewal'),
      args: ['-D', this.place.archiveDir, '-d', this.conninfo(), '-S', ARCHIVE_SLOT, '--synchronous', '--no-loop'],
      env: { PGPASSWORD: password },
      logFile,
      parentDeathSignal: 'SIGINT',
    });
    this.proc = proc;
    void proc.exited.then((status) => {
      if (proc !== this.proc || !this.wanted) return;
      this.lastError = `pg_receivewal exited (${status.signal ?? `code ${status.code}`})`;
      this.scheduleRestart();
    });
  }

  /** After an unexpected exit: again after a growing delay while the engine runs; paused while it is down. */
  private scheduleRestart(): void {
    if (!this.wanted || this.restartTimer) return;
    const waitMs = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** this.consecutiveFailures);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.wanted || !this.engine.isRunning()) return; // resume() restarts it with the engine
      this.consecutiveFailures++;
      this.restarts++;
      this.start()
        .then(() => {
          this.consecutiveFailures = 0;
          log('info', 'WAL archiving resumed', { engine: this.engine.label, restarts: this.restarts });
        })
        .catch((err: unknown) => {
          this.lastError = err instanceof Error ? err.message : String(err);
          log('warn', 'WAL archiving could not restart; retrying', { engine: this.engine.label, error: this.lastError });
          this.scheduleRestart();
        });
    }, waitMs);
    this.restartTimer.unref();
  }

  /** Called by the engine after it started: archiving that was wanted resumes. */
  resume(): void {
    if (!this.wanted || (this.proc && !this.proc.exitStatus())) return;
    this.consecutiveFailures = 0;
    this.scheduleRestart();
  }

  /** Stops pg_receivewal (it flushes what it has and exits). `forget` also drops the slot, releasing the server's WAL. */
  async stop(options: { forget?: boolean; pauseOnly?: boolean } = {}): Promise<void> {
    if (!options.pauseOnly) this.wanted = false;
    // What was committed before the stop is recorded as archived (pg_receivewal flushes within milliseconds).
    if (this.engine.isRunning() && this.proc && !this.proc.exitStatus()) await this.catchUp().catch(() => undefined);
    await this.persist().catch(() => undefined);
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (!options.pauseOnly) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    const proc = this.proc;
    if (proc && !proc.exitStatus()) {
      this.proc = undefined;
      proc.signal('SIGINT');
      if (!(await settlesWithin(proc.exited, 10_000))) {
        proc.signal('SIGKILL', { group: true });
        await settlesWithin(proc.exited, 5000);
      }
    }
    if (options.forget && this.engine.isRunning()) {
      const r = await this.engine.host.run({
        command: await this.tool('pg_receivewal'),
        args: ['--drop-slot', '-S', ARCHIVE_SLOT, '-d', this.conninfo()],
        env: { PGPASSWORD: await this.engine.replicationPassword() },
        timeoutMs: TOOL_TIMEOUT_MS,
      });
      if (r.code !== 0 && !/does not exist/.test(r.stderr)) throw new Error(`pg_receivewal --drop-slot failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (this.engine.isRunning() && this.proc && !this.proc.exitStatus()) await this.sample();
      await this.compressCompleted();
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      log('warn', 'WAL archive tick failed', { engine: this.engine.label, error: this.lastError });
    } finally {
      this.ticking = false;
    }
  }

  /** Compresses and seals completed segments and history files; seals a .gz whose sidecar a crash prevented. */
  async compressCompleted(): Promise<number> {
    const names = await fs.readdir(this.place.archiveDir).catch(() => [] as string[]);
    const present = new Set(names);
    let done = 0;
    for (const name of names.sort()) {
      if (done >= FILES_PER_TICK) break;
      const file = path.join(this.place.archiveDir, name);
      if (SEGMENT_NAME.test(name) || HISTORY_NAME.test(name)) {
        await compressAndSealArchiveFile(this.engine.host, file);
        done++;
      } else if (name.endsWith('.gz') && !present.has(name.slice(0, -3)) && !(await isArchiveFileSealed(file))) {
        await sealArchiveFile(this.engine.host, file);
        done++;
      }
    }
    return done;
  }

  private async flushedLsn(): Promise<bigint | undefined> {
    const rows = await this.engine.adminQuery<{ flushed: string | null }>(
      'SELECT max(flush_lsn)::text AS flushed FROM pg_stat_replication WHERE application_name = $1',
      [ARCHIVE_APPLICATION],
    );
    const f = rows[0]?.flushed;
    return f ? parseLsn(f) : undefined;
  }

  /** Records (now, current WAL position), and advances the latest archived time as far as the flushed position allows. */
  private async sample(): Promise<Sample> {
    const rows = await this.engine.adminQuery<{ t: number; lsn: string; flushed: string | null }>(
      `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS t, pg_current_wal_lsn()::text AS lsn,
              (SELECT max(flush_lsn)::text FROM pg_stat_replication WHERE application_name = $1) AS flushed`,
      [ARCHIVE_APPLICATION],
    );
    const row = rows[0]!;
    const s = { t: Math.floor(Number(row.t)), lsn: parseLsn(row.lsn) };
    this.samples.push(s);
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
    if (row.flushed) await this.advance(parseLsn(row.flushed));
    return s;
  }

  private async advance(flushed: bigint): Promise<void> {
    let best: Sample | undefined;
    for (const s of this.samples) if (s.lsn <= flushed && (!best || s.t > best.t)) best = s;
    if (!best || (this.latest && best.t <= this.latest.t)) return;
    this.latest = { t: best.t, lsn: best.lsn.toString() };
    this.samples = this.samples.filter((s) => s.t >= best!.t);
    if (best.t - this.persistedT >= TICK_MS || !this.wanted) await this.persist();
  }

  private async persist(): Promise<void> {
    if (!this.latest) return;
    await this.engine.host.writeFile(path.join(this.place.archiveDir, LATEST_FILE), JSON.stringify({ latestRestorableTime: this.latest.t, lsn: this.latest.lsn }) + '\n', {
      ownedByCellar: true,
    });
    this.persistedT = this.latest.t;
  }

  /**
   * The newest time up to which every commit is archived. While streaming, asks the server now and waits (at most
   * FLUSH_WAIT_MS) for pg_receivewal to flush up to the present; otherwise the recorded value.
   */
  async latestArchivedTime(): Promise<number | undefined> {
    if (this.wanted && this.engine.isRunning() && this.proc && !this.proc.exitStatus()) {
      try {
        await this.catchUp();
        await this.persist();
      } catch (err) {
        log('warn', 'could not sample the WAL position; answering the recorded latest archived time', { engine: this.engine.label, error: String(err) });
      }
    }
    this.latest ??= await readLatest(this.place.archiveDir);
    return this.latest?.t;
  }

  /** Samples the present and waits (at most FLUSH_WAIT_MS) until pg_receivewal has flushed up to it. */
  private async catchUp(): Promise<void> {
    const now = await this.sample();
    const deadline = Date.now() + FLUSH_WAIT_MS;
    while ((this.latest?.t ?? 0) < now.t && Date.now() < deadline) {
      // Each poll is a fresh admin session (a backend start): polled every 20 ms, not faster.
      await delay(FLUSH_POLL_MS);
      const flushed = await this.flushedLsn();
      if (flushed !== undefined) await this.advance(flushed);
    }
  }

  private async logTail(): Promise<string> {
    const text = (await this.engine.host.readFile(path.join(this.engine.logDir(), 'pg_receivewal.log'))) ?? '';
    return text.trimEnd().split('\n').slice(-5).join('\n');
  }
}

/** The recorded latest archived time of an archive (also for a deleted instance's retained backups). */
export async function readLatest(archiveDir: string): Promise<{ t: number; lsn: string } | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(archiveDir, LATEST_FILE), 'utf8')) as { latestRestorableTime?: unknown; lsn?: unknown };
    return typeof parsed.latestRestorableTime === 'number' && typeof parsed.lsn === 'string' ? { t: parsed.latestRestorableTime, lsn: parsed.lsn } : undefined;
  } catch {
    return undefined;
  }
}
