/**
 * @module engines/mariadb/backup
 * Backups and point-in-time restore for MariaDB, with MariaDB's own tools only:
 *
 * - **Continuous binlog archiving**: `mariadb-binlog --read-from-remote-server --raw --stop-never` runs as the engine
 *   user, logs in over the instance's Unix socket as the backup account (unix_socket authentication, no password;
 *   ./config.ts backupAccountSql) and writes the server's binlog files, event by event, into the archive directory.
 *   Once the server has moved to a newer file, the older one is complete: it is gzip-compressed and sealed with its
 *   sha256 sidecar (../backup/manifest.ts). The newest file stays as it is, growing. If the archiver dies, it is
 *   restarted (bounded backoff) from the newest file it has, which it rewrites from its start.
 * - **Base backup**: `mariadb-backup --backup --stream=xbstream | zstd` into a new directory, sealed by a manifest.
 *   The binlog position of the backup comes from mariadb-backup's own report (the same text as its
 *   xtrabackup_binlog_info).
 * - **Restore**: verify every checksum, `mbstream -x`, `mariadb-backup --prepare`, `--move-back` into the new
 *   instance's data directory (as the engine user, so ownership is right), then, for a point in time, start the
 *   restored server privately (no TCP, no binlog of its own), replay the archived binlogs from the backup's position
 *   with `mariadb-binlog --stop-datetime`, and stop it. See ./binlog.ts for what a time with a fraction of a second
 *   means (binlog timestamps are whole seconds).
 *
 * The archive's latest restorable time: when the archiver holds everything up to the server's current binlog
 * position (asked just before), every transaction stamped before the current second is safe; otherwise it is the
 * second of the newest archived complete transaction. The caught-up second is recorded in the archive before it is
 * reported, so a restore (which has no running server to ask) accepts every time that was reported. The archive is written through the page cache (mariadb-binlog
 * does not fsync each event): it survives a kill -9 of Cellar or the engine, not a host crash before writeback;
 * compressed files are fsynced when sealed.
 */
import * as fs from 'node:fs/promises';
import { constants as fsConstants, createReadStream } from 'node:fs';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { withContext } from '../../core/errors.js';
import { log } from '../../core/log.js';
import { delay, settlesWithin, type Host, type HostProcess } from '../host.js';
import { PhaseTimer, type BackupPlace, type BaseBackupInfo, type EngineName, type InstanceLayout, type RestoreRequest } from '../adapter.js';
import {
  BackupCorruptError,
  baseBackupDir,
  compressAndSealArchiveFile,
  isArchiveFileSealed,
  readBackupInfo,
  sealBackup,
  verifyArchiveFile,
  verifyBackup,
} from '../backup/index.js';
import {
  BINLOG_FILE_PATTERN,
  binlogDatetime,
  compareBinlogNames,
  emptyScan,
  formatPosition,
  parseBackupBinlogPosition,
  parsePosition,
  restorableSecond,
  scanBinlog,
  type BinlogScan,
} from './binlog.js';

const BACKUP_FILE = 'backup.xbstream.zst';
const BACKUP_LOG = 'mariadb-backup.log';
const BACKUP_TIMEOUT_MS = 6 * 60 * 60_000;
const RESTORE_STEP_TIMEOUT_MS = 6 * 60 * 60_000;
const ARCHIVER_TICK_MS = 1000;
const ARCHIVER_MAX_BACKOFF_MS = 30_000;
const REPLAY_SERVER_START_TIMEOUT_MS = 120_000;
const REPLAY_SERVER_STOP_TIMEOUT_MS = 60_000;
/** Archive files read per latestArchivedTime call at most (bounds the work when the archive is long). */
const SCAN_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Written when archiving pauses for an engine stop, after the archiver was seen holding the server's whole binlog
 * position: everything committed before `latestAt` (ms) is archived, up to `position` in `file`. Without it, an
 * archive whose engine is down is restorable only to the second of its newest transaction (the server does not send
 * its Stop event to the archiver).
 */
const LATEST_RECORD = 'cellar-latest.json';
interface LatestRecord {
  file: string;
  position: number;
  latestAt: number;
}

/**
 * Written, before it is reported, each time the running server's whole binlog position was seen in the archive:
 * everything stamped before `latestAt` (a whole second) is archived. A restore (in another adapter, maybe after a
 * kill -9 of Cellar) reads it, so the LatestRestorableTime reported is always a time the restore accepts. Unlike
 * LATEST_RECORD it says nothing about what follows `position`: the server kept writing to the same file.
 */
const CAUGHT_UP_RECORD = 'cellar-caught-up.json';

async function readLatestRecord(archiveDir: string, name = LATEST_RECORD): Promise<LatestRecord | undefined> {
  try {
    const r = JSON.parse(await fs.readFile(path.join(archiveDir, name), 'utf8')) as Partial<LatestRecord>;
    if (typeof r.file === 'string' && BINLOG_FILE_PATTERN.test(r.file) && Number.isSafeInteger(r.position) && Number.isSafeInteger(r.latestAt)) return r as LatestRecord;
  } catch {
    // none, or unreadable: the archive's own scan answers
  }
  return undefined;
}

/** What the adapter gives this module: its tools, its socket, and two questions to the running server. */
export interface MariadbBackupContext {
  host: Host;
  engine: EngineName;
  label: string;
  /** MariaDB's installation prefix (bin/mariadb-backup, bin/mariadb-binlog, sbin/mariadbd). */
  prefix: string;
  socket: string;
  layout: InstanceLayout;
  /** The account the tools log in with (the engine's OS user, unix_socket). */
  backupUser: string;
  isRunning(): boolean;
  /** SHOW MASTER STATUS: the server's current binlog file and position. */
  masterStatus(): Promise<{ file: string; position: number } | undefined>;
  /** SHOW BINARY LOGS: the binlog files the server still has, oldest first. */
  serverBinlogs(): Promise<string[]>;
}

function tool(ctx: MariadbBackupContext, name: string): string {
  return path.join(ctx.prefix, name === 'mariadbd' ? 'sbin' : 'bin', name);
}

/** A bash pipeline with pipefail, its paths passed as positional parameters (never spliced into the script). */
async function runPipeline(
  host: Host,
  script: string,
  args: string[],
  options: { what: string; timeoutMs: number; asEngineUser?: boolean; env?: Record<string, string>; cwd?: string },
): Promise<{ stdout: string; stderr: string }> {
  const r = await host.run({
    command: '/bin/bash',
    args: ['-o', 'pipefail', '-c', script, 'cellar-pipeline', ...args],
    timeoutMs: options.timeoutMs,
    asEngineUser: options.asEngineUser,
    env: options.env,
    cwd: options.cwd,
  });
  if (r.code !== 0) throw new Error(`${options.what} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${(r.stderr + r.stdout).trim().slice(-2000)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Archive listing and scanning

interface ArchiveFile {
  /** The binlog name (binlog.000042). */
  name: string;
  /** The file on disk (the name, or the name + .gz once compressed). */
  file: string;
  compressed: boolean;
}

/** The archive's binlog files by sequence number; the sidecars are not listed. */
export async function listArchive(archiveDir: string): Promise<ArchiveFile[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(archiveDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const byName = new Map<string, ArchiveFile>();
  for (const e of entries) {
    // While its input is there, a .gz may be partial: gzip is writing it, or died before finishing. gzip removes the
    // input only after fsyncing a complete output, so the uncompressed file wins (compressCompleted redoes the .gz).
    if (BINLOG_FILE_PATTERN.test(e)) {
      byName.set(e, { name: e, file: path.join(archiveDir, e), compressed: false });
    } else if (e.endsWith('.gz') && BINLOG_FILE_PATTERN.test(e.slice(0, -3))) {
      if (!byName.has(e.slice(0, -3))) byName.set(e.slice(0, -3), { name: e.slice(0, -3), file: path.join(archiveDir, e), compressed: true });
    }
  }
  return [...byName.values()].sort((a, b) => compareBinlogNames(a.name, b.name));
}

/** Scans of files already read, so a growing file is read once, in steps. */
const scanCache = new Map<string, BinlogScan & { size: number }>();
const SCAN_CACHE_MAX = 256;

async function scanArchiveFile(f: ArchiveFile): Promise<BinlogScan> {
  const cached = scanCache.get(f.file);
  let size: number;
  try {
    size = (await fs.stat(f.file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyScan();
    throw err;
  }
  if (cached && cached.size === size) return cached;
  let scan = f.compressed || !cached || cached.size > size ? emptyScan() : cached;
  if (f.compressed) {
    // Streamed through gunzip; a chunk boundary may split an event, so the unscanned tail is carried over.
    let carry: Buffer = Buffer.alloc(0);
    const stream = createReadStream(f.file).pipe(createGunzip());
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const bytes: Buffer = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const before = scan.completeBytes;
      scan = scanBinlog(bytes, scan);
      carry = bytes.subarray(scan.completeBytes - before);
    }
  } else {
    const handle = await fs.open(f.file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      for (let offset = scan.completeBytes; offset < size; ) {
        const want = Math.min(SCAN_CHUNK_BYTES * 4, size - offset);
        const buf = Buffer.alloc(want);
        const { bytesRead } = await handle.read(buf, 0, want, offset);
        if (bytesRead === 0) break;
        const next = scanBinlog(buf.subarray(0, bytesRead), scan);
        const progressed = next.completeBytes > scan.completeBytes;
        scan = next;
        if (!progressed) {
          // An event larger than the chunk: read it whole (bounded by the file's size).
          if (bytesRead < want || want === size - offset) break;
          const whole = Buffer.alloc(size - offset);
          const r = await handle.read(whole, 0, whole.length, offset);
          scan = scanBinlog(whole.subarray(0, r.bytesRead), scan);
          break;
        }
        offset = scan.completeBytes;
      }
    } finally {
      await handle.close();
    }
  }
  if (scanCache.size >= SCAN_CACHE_MAX) scanCache.delete(scanCache.keys().next().value!);
  scanCache.set(f.file, { ...scan, size });
  return scan;
}

/** Whether the archive holds `record.file` up to `record.position` (a file the server moved on from is whole). */
async function archiveHolds(files: ArchiveFile[], newestScan: BinlogScan, record: LatestRecord): Promise<boolean> {
  const newest = files[files.length - 1]!;
  if (newest.name === record.file) return newestScan.completeBytes >= record.position;
  return files.some((f) => f.name === record.file);
}

/** The server's binlog position, read at `at` and found entirely in the archive; `host` records it (CAUGHT_UP_RECORD). */
export interface CaughtUp {
  at: number;
  file: string;
  position: number;
  host: Host;
}

/**
 * The latest restorable time (epoch ms) of an archive: see the module header. Both LatestRestorableTime (with
 * `caughtUp`, engine running) and the restore's bound (without) come from here, so a reported time is restorable.
 */
export async function archiveLatestTime(archiveDir: string, caughtUp?: CaughtUp): Promise<number | undefined> {
  const files = await listArchive(archiveDir);
  if (files.length === 0) return undefined;
  const newest = files[files.length - 1]!;
  const newestScan = await scanArchiveFile(newest);
  const recorded = await readLatestRecord(archiveDir, CAUGHT_UP_RECORD);
  if (caughtUp && newest.name === caughtUp.file && newestScan.completeBytes >= caughtUp.position) {
    const latestAt = restorableSecond(caughtUp.at) * 1000;
    if (latestAt > (recorded?.latestAt ?? 0)) {
      const record: LatestRecord = { file: caughtUp.file, position: caughtUp.position, latestAt };
      await caughtUp.host.writeFile(path.join(archiveDir, CAUGHT_UP_RECORD), JSON.stringify(record) + '\n', { ownedByCellar: true, durable: false });
    }
    return Math.max(latestAt, recorded?.latestAt ?? 0);
  }
  const fromArchive = await archiveOwnLatestTime(archiveDir, files, newestScan);
  if (recorded && (await archiveHolds(files, newestScan, recorded))) return Math.max(recorded.latestAt, fromArchive ?? 0);
  return fromArchive;
}

/** What the archive's files (and the record of the engine's last stop) say by themselves. */
async function archiveOwnLatestTime(archiveDir: string, files: ArchiveFile[], newestScan: BinlogScan): Promise<number | undefined> {
  const newest = files[files.length - 1]!;
  // Recorded at the engine's last stop, and nothing archived since: exact to the millisecond (see restoreInstance).
  const record = await readLatestRecord(archiveDir);
  if (record && record.file === newest.name && newestScan.completeBytes >= record.position) return record.latestAt;
  // The newest complete transaction: in the newest file, else in an earlier one (a fresh file holds none yet).
  for (let i = files.length - 1; i >= 0 && i >= files.length - 3; i--) {
    const scan = i === files.length - 1 ? newestScan : await scanArchiveFile(files[i]!);
    if (scan.closed && i === files.length - 1 && scan.lastEventSec !== undefined) {
      // The server closed the file (shut down): everything it wrote is here.
      return Math.min(Date.now(), (scan.lastEventSec + 1) * 1000);
    }
    if (scan.lastCommittedSec !== undefined) return scan.lastCommittedSec * 1000;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The archiver

export class BinlogArchiver {
  private proc: HostProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wanted = false;
  private failures = 0;
  private nextStartAt = 0;
  private ticking = false;
  private readonly logFile: string;

  constructor(
    private readonly ctx: MariadbBackupContext,
    readonly archiveDir: string,
  ) {
    this.logFile = path.join(ctx.layout.logDir, 'binlog-archiver.log');
  }

  isRunning(): boolean {
    return this.proc !== undefined && this.proc.exitStatus() === undefined;
  }

  async start(): Promise<void> {
    this.wanted = true;
    await this.ctx.host.ensureDir(this.archiveDir);
    if (!this.isRunning()) await this.spawn();
    this.timer ??= setInterval(() => void this.tick(), ARCHIVER_TICK_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.wanted = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pause();
  }

  /** While the engine is stopped: the archiver process ends, archiving stays wanted; resume() carries on. */
  async pause(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined; // its exit is expected: no restart
    if (proc && proc.exitStatus() === undefined) {
      proc.signal('SIGTERM');
      if (!(await settlesWithin(proc.exited, 10_000))) {
        proc.signal('SIGKILL', { group: true });
        await settlesWithin(proc.exited, 5000);
      }
    }
    // Whatever the server finished while we ran is compressed now rather than at the next start.
    await this.compressCompleted().catch((err) => log('warn', 'binlog archive compression failed', { name: this.ctx.label, error: String(err) }));
  }

  /**
   * Before the engine stops: waits (bounded) until the archive holds the server's current binlog position, then
   * records it with the time it was read (LATEST_RECORD), so the archive answers to the millisecond while the engine
   * is down.
   */
  async catchUp(timeoutMs: number): Promise<boolean> {
    if (!this.isRunning() || !this.ctx.isRunning()) return false;
    const at = Date.now();
    const status = await this.ctx.masterStatus();
    if (!status) return false;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const newest = (await listArchive(this.archiveDir)).at(-1);
      if (newest && !newest.compressed && newest.name === status.file && (await scanArchiveFile(newest)).completeBytes >= status.position) break;
      if (Date.now() > deadline || !this.isRunning()) return false;
      await delay(20);
    }
    const record: LatestRecord = { file: status.file, position: status.position, latestAt: at };
    await this.ctx.host.writeFile(path.join(this.archiveDir, LATEST_RECORD), JSON.stringify(record) + '\n', { ownedByCellar: true });
    return true;
  }

  /** After the engine started again: archiving that was wanted carries on at once. */
  async resume(): Promise<void> {
    if (this.wanted && !this.isRunning() && this.ctx.isRunning()) await this.spawn();
  }

  /** The binlog file to (re)start from: the newest one archived, else the server's oldest. */
  private async startFile(): Promise<string> {
    const archived = await listArchive(this.archiveDir);
    const server = await this.ctx.serverBinlogs();
    if (server.length === 0) throw new Error('the server has no binary log (log_bin is off)');
    const newest = archived[archived.length - 1];
    if (!newest) return server[0]!;
    if (!newest.compressed) return newest.name;
    // Every archived file is complete: continue with the server's next one.
    const next = server.find((n) => compareBinlogNames(n, newest.name) > 0);
    if (next === undefined) throw new Error(`the server has no binary log after ${newest.name}`);
    return next;
  }

  private async spawn(): Promise<void> {
    const ctx = this.ctx;
    let from = await this.startFile();
    const server = await ctx.serverBinlogs();
    if (!server.includes(from)) {
      // Purged on the server before it was archived: the archive has a gap there, which a restore across it detects.
      log('warn', 'binlog archive gap: the server no longer has the next file; archiving resumes from its oldest', { name: ctx.label, missing: from, resumeAt: server[0] });
      from = server[0]!;
    }
    const args = [
      '--no-defaults',
      '--read-from-remote-server',
      '--raw',
      '--stop-never',
      `--socket=${ctx.socket}`,
      `--user=${ctx.backupUser}`,
      `--result-file=${this.archiveDir}/`,
      from,
    ];
    const proc = ctx.host.spawn({ command: tool(ctx, 'mariadb-binlog'), args, cwd: this.archiveDir, logFile: this.logFile, parentDeathSignal: 'SIGTERM' });
    this.proc = proc;
    log('info', 'binlog archiving started', { name: ctx.label, from, pid: proc.pid });
    void proc.exited.then((status) => {
      if (this.proc !== proc || !this.wanted) return;
      this.failures++;
      this.nextStartAt = Date.now() + Math.min(ARCHIVER_MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.failures, 6));
      log('warn', 'binlog archiver exited; restarting after a pause', { name: ctx.label, code: status.code, signal: status.signal, failures: this.failures });
    });
  }

  /** Once a second: restart a dead archiver (after its backoff), compress the files the server has finished. */
  private async tick(): Promise<void> {
    if (this.ticking || !this.wanted) return;
    this.ticking = true;
    try {
      if (!this.isRunning() && this.ctx.isRunning() && Date.now() >= this.nextStartAt) {
        await this.spawn();
      } else if (this.isRunning() && this.failures > 0 && Date.now() - this.nextStartAt > 60_000) {
        this.failures = 0;
      }
      await this.compressCompleted();
    } catch (err) {
      log('warn', 'binlog archiver tick failed', { name: this.ctx.label, error: err instanceof Error ? err.message : String(err) });
    } finally {
      this.ticking = false;
    }
  }

  /** Every uncompressed file but the newest is complete (the server rotated past it): compress and seal it. */
  async compressCompleted(): Promise<void> {
    const files = await listArchive(this.archiveDir);
    for (const f of files.slice(0, -1)) {
      if (f.compressed) {
        if (!(await isArchiveFileSealed(f.file))) await sealArchiveFileAgain(this.ctx.host, f.file);
        continue;
      }
      await compressAndSealArchiveFile(this.ctx.host, f.file);
      scanCache.delete(f.file);
    }
  }
}

/** A compressed file whose sidecar a crash prevented: gzip had fsynced it before removing its input, so seal it. */
async function sealArchiveFileAgain(host: Host, file: string): Promise<void> {
  const { sealArchiveFile } = await import('../backup/manifest.js');
  await sealArchiveFile(host, file);
}

// ---------------------------------------------------------------------------------------------------------------
// Base backup

export async function takeBaseBackup(ctx: MariadbBackupContext, place: BackupPlace, id: string): Promise<BaseBackupInfo> {
  const dir = baseBackupDir(place, id);
  const startedAt = Date.now();
  try {
    const existing = await readBackupInfo(dir);
    if (existing) return existing; // taken already (a retried request): the same backup
    if (!ctx.isRunning()) throw new Error('the engine is not running');
    // Without a manifest it never completed (a crash mid-backup): start it again.
    await ctx.host.remove(dir);
    await ctx.host.ensureDir(dir);
    const work = path.join(dir, 'work');
    await ctx.host.ensureDir(work);
    // As the engine user: it reads the data files, and everything it writes belongs to it.
    await runPipeline(
      ctx.host,
      '"$1" --no-defaults --backup --stream=xbstream --socket="$2" --user="$3" --datadir="$4" --target-dir="$5" 2>"$6" | zstd -q -1 -T0 -o "$7"',
      [tool(ctx, 'mariadb-backup'), ctx.socket, ctx.backupUser, ctx.layout.data, work, path.join(dir, BACKUP_LOG), path.join(dir, BACKUP_FILE)],
      { what: 'mariadb-backup --backup', timeoutMs: BACKUP_TIMEOUT_MS, cwd: dir },
    ).catch(async (err) => {
      const tail = ((await ctx.host.readFile(path.join(dir, BACKUP_LOG))) ?? '').trim().split('\n').slice(-8).join('\n');
      throw withContext(tail ? `mariadb-backup said:\n${tail}\n` : '', err);
    });
    await ctx.host.remove(work);
    const report = (await ctx.host.readFile(path.join(dir, BACKUP_LOG))) ?? '';
    const position = parseBackupBinlogPosition(report);
    if (!position) throw new Error('mariadb-backup did not report a binlog position (is log_bin on?)');
    const finishedAt = Date.now();
    return await sealBackup(ctx.host, dir, {
      id,
      engine: ctx.engine,
      startedAt,
      finishedAt,
      // The copy is consistent at the binlog position mariadb-backup took under BACKUP STAGE BLOCK_COMMIT, shortly
      // before it finished; the finish is a safe bound (a target before it could predate the position).
      consistentAt: finishedAt,
      position: formatPosition(position),
      archiveStart: position.file,
    });
  } catch (err) {
    throw withContext(`backing up ${ctx.label} into ${dir}`, err);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Restore

export interface RestoreContext extends MariadbBackupContext {
  /** Cellar's admin account (unix_socket as Cellar's OS user), used for the replay. */
  adminUser: string;
  pidFile: string;
  /** The init file for the private replay server: Cellar's administration plus full privileges for the replay. */
  replayInitSql: string;
  /** Writes the marker and stored parameters: the instance exists once this returns. */
  finishInstance(details: Record<string, unknown>): Promise<void>;
}

/** The archive files a restore from `startFile` replays, all verified; throws BackupCorruptError on a gap or damage. */
async function archiveFilesFrom(archiveDir: string, startFile: string): Promise<ArchiveFile[]> {
  const all = await listArchive(archiveDir);
  const needed = all.filter((f) => compareBinlogNames(f.name, startFile) >= 0);
  if (needed.length === 0 || needed[0]!.name !== startFile) {
    throw new BackupCorruptError(path.join(archiveDir, startFile), 'missing', 'the binlog the backup starts from is not in the archive');
  }
  for (let i = 1; i < needed.length; i++) {
    const seq = (n: string) => Number(n.slice(n.lastIndexOf('.') + 1));
    if (seq(needed[i]!.name) !== seq(needed[i - 1]!.name) + 1) {
      // Every archive file but the newest is stored compressed: the missing one is the next name's .gz.
      const missing = needed[i - 1]!.name.replace(/\d+$/, (d) => String(Number(d) + 1).padStart(d.length, '0')) + '.gz';
      throw new BackupCorruptError(path.join(archiveDir, missing), 'gap', `the archive jumps from ${needed[i - 1]!.name} to ${needed[i]!.name}`);
    }
  }
  for (const f of needed) if (f.compressed || (await isArchiveFileSealed(f.file))) await verifyArchiveFile(f.file);
  return needed;
}

export async function restoreInstance(ctx: RestoreContext, req: RestoreRequest): Promise<{ restoredTo: number; phasesMs: Record<string, number> }> {
  const L = ctx.layout;
  const work = path.join(L.root, 'restore-work');
  const phases = new PhaseTimer();
  try {
    // Planned from the request's record of the backup (a bad target fails before any work); the manifest's own
    // record, verified below, must be the same.
    const info = req.base;
    const position = parsePosition(info.position);
    const replay = req.archiveDir !== undefined;
    let files: ArchiveFile[] = [];
    let stopSec: number | undefined;
    let stopAtPosition: number | undefined;
    let restoredTo = info.consistentAt;
    if (replay) {
      files = await archiveFilesFrom(req.archiveDir!, position.file);
      const latest = await archiveLatestTime(req.archiveDir!);
      if (req.targetTime !== undefined) {
        if (req.targetTime < info.consistentAt) throw new Error(`restore time ${new Date(req.targetTime).toISOString()} is before the backup's consistent point ${new Date(info.consistentAt).toISOString()}`);
        if (latest === undefined || restorableSecond(req.targetTime) * 1000 > Math.max(latest, info.consistentAt)) {
          throw new Error(`restore time ${new Date(req.targetTime).toISOString()} is after the latest restorable time ${latest === undefined ? '(none)' : new Date(latest).toISOString()}`);
        }
        stopSec = restorableSecond(req.targetTime);
        restoredTo = stopSec * 1000;
        // A target while the source was stopped, at or after the position recorded at its stop: everything up to that
        // position, nothing after it (the restart's transactions are in later files, stamped after the target).
        const record = await readLatestRecord(req.archiveDir!);
        const at = record ? files.findIndex((f) => f.name === record.file) : -1;
        if (record && at >= 0 && req.targetTime >= record.latestAt) {
          const nextFirst = at + 1 < files.length ? (await scanArchiveFile(files[at + 1]!)).firstGtidSec : undefined;
          if (nextFirst === undefined || req.targetTime < nextFirst * 1000) {
            files = files.slice(0, at + 1);
            stopSec = undefined;
            stopAtPosition = record.position;
            restoredTo = req.targetTime;
          }
        }
      } else {
        restoredTo = Math.max(latest ?? info.consistentAt, info.consistentAt);
      }
    }
    if (await ctx.host.exists(L.marker)) throw new Error(`${L.root} already holds an instance`);
    await ctx.host.ensureDir(L.root);
    await ctx.host.remove(L.data);
    await ctx.host.remove(work);
    for (const d of [L.conf, L.logDir, work, path.join(L.root, 'tmp'), path.join(L.root, 'files')]) await ctx.host.ensureDir(d);
    await ctx.host.ensureDir(L.run);
    const base = path.join(work, 'base');
    await ctx.host.ensureDir(base);
    // Every checksum is verified while the stream is extracted (both read the same file, so it comes from the disk
    // once); nothing extracted is used unless the verification passed, and a damaged backup is reported as such.
    const [verified, extracted] = await Promise.allSettled([
      verifyBackup(info.dir),
      runPipeline(ctx.host, 'zstd -q -dc -- "$1" | "$2" -x -C "$3"', [path.join(info.dir, BACKUP_FILE), tool(ctx, 'mbstream'), base], {
        what: 'extracting the backup (zstd | mbstream -x)',
        timeoutMs: RESTORE_STEP_TIMEOUT_MS,
        cwd: work,
      }),
    ]);
    if (verified.status === 'rejected') {
      await ctx.host.remove(work);
      throw verified.reason;
    }
    if (extracted.status === 'rejected') throw extracted.reason;
    const manifest = verified.value;
    if (manifest.position !== info.position || manifest.consistentAt !== info.consistentAt || manifest.id !== info.id) {
      throw new Error(`the backup's manifest (${manifest.id} at ${manifest.position}) is not the backup asked for (${info.id} at ${info.position})`);
    }
    phases.mark('verifyAndExtract');
    await runTool(ctx, 'mariadb-backup', ['--no-defaults', '--prepare', `--target-dir=${base}`], 'mariadb-backup --prepare', work);
    phases.mark('prepare');
    // The data directory must not exist for --move-back; it creates it as the engine user.
    await runTool(ctx, 'mariadb-backup', ['--no-defaults', '--move-back', `--target-dir=${base}`, `--datadir=${L.data}`], 'mariadb-backup --move-back', work);
    phases.mark('moveBack');
    if (replay) {
      await replayBinlogs(ctx, work, files, position.position, stopSec, stopAtPosition);
      phases.mark('replay');
    }
    await ctx.host.remove(work);
    // The restored files reach the disk before the marker says the instance exists.
    await ctx.host.syncTree(L.root);
    phases.mark('sync');
    await ctx.finishInstance({ restoredFrom: info.id, restoredTo: new Date(restoredTo).toISOString(), gtid: replay ? undefined : position.gtid });
    phases.mark('marker');
    log('info', 'restored', { name: ctx.label, from: info.id, restoredTo: new Date(restoredTo).toISOString(), phasesMs: phases.phasesMs });
    return { restoredTo, phasesMs: phases.phasesMs };
  } catch (err) {
    // Unwrapped, so the caller can tell a damaged backup (its own error to the user) from a failed restore.
    if (err instanceof BackupCorruptError) throw err;
    throw withContext(`restoring ${ctx.label} from backup ${req.base.id}${req.targetTime !== undefined ? ` to ${new Date(req.targetTime).toISOString()}` : ''}`, err);
  }
}

async function runTool(ctx: MariadbBackupContext, name: string, args: string[], what: string, cwd: string): Promise<void> {
  const r = await ctx.host.run({ command: tool(ctx, name), args, cwd, timeoutMs: RESTORE_STEP_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`${what} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${(r.stderr + r.stdout).trim().split('\n').slice(-10).join('\n')}`);
}

/**
 * Replays archived binlogs on the restored data: a private server (Unix socket only, no binlog of its own, the
 * replay init file), `mariadb-binlog --start-position=<backup's> [--stop-datetime] files... | mariadb`, then a clean
 * shutdown. The client ends at the last complete event; a transaction whose end is not archived is rolled back when
 * the session closes.
 */
async function replayBinlogs(
  ctx: RestoreContext,
  work: string,
  files: ArchiveFile[],
  startPosition: number,
  stopSec: number | undefined,
  stopAtPosition: number | undefined,
): Promise<void> {
  const L = ctx.layout;
  const binlogDir = path.join(work, 'binlogs');
  await ctx.host.ensureDir(binlogDir);
  const plain: string[] = [];
  for (const f of files) {
    const out = path.join(binlogDir, f.name);
    if (f.compressed) {
      await runPipeline(ctx.host, 'gzip -dc -- "$1" > "$2"', [f.file, out], { what: `decompressing ${f.name}`, timeoutMs: RESTORE_STEP_TIMEOUT_MS });
    } else {
      // The source's archiver may compress it meanwhile (the server moved to a newer file): then read the .gz.
      await runPipeline(ctx.host, 'if [ -e "$1" ]; then cat -- "$1"; else gzip -dc -- "$1.gz"; fi > "$2"', [f.file, out], {
        what: `reading ${f.name}`,
        timeoutMs: RESTORE_STEP_TIMEOUT_MS,
      });
    }
    plain.push(out);
  }
  // The newest file may end inside an event still being written: stop before it.
  const lastScan = scanBinlog(await fs.readFile(plain[plain.length - 1]!));
  const lastSize = (await fs.stat(plain[plain.length - 1]!)).size;
  const initFile = path.join(work, 'replay-init.sql');
  await ctx.host.writeFile(initFile, ctx.replayInitSql, { durable: false });
  const server = ctx.host.spawn({
    command: tool(ctx, 'mariadbd'),
    args: [
      '--no-defaults',
      `--datadir=${L.data}`,
      `--socket=${ctx.socket}`,
      `--pid-file=${ctx.pidFile}`,
      `--tmpdir=${path.join(L.root, 'tmp')}`,
      '--skip-networking',
      '--skip-name-resolve',
      '--skip-log-bin',
      '--skip-slave-start',
      `--init-file=${initFile}`,
      `--secure-file-priv=${path.join(L.root, 'files')}`,
    ],
    cwd: L.root,
    logFile: path.join(L.logDir, 'restore-replay.log'),
    parentDeathSignal: 'SIGTERM',
  });
  try {
    await waitForSocket(ctx, server);
    const args = ['--no-defaults', `--start-position=${startPosition}`];
    if (stopSec !== undefined) args.push(`--stop-datetime=${binlogDatetime(stopSec)}`);
    const stopPosition = Math.min(stopAtPosition ?? lastSize, lastScan.completeBytes);
    if (stopPosition < lastSize) args.push(`--stop-position=${stopPosition}`);
    // As Cellar's own OS user: the admin account (unix_socket) is what the replay init file gives full privileges.
    await runPipeline(
      ctx.host,
      'binlog="$1"; client="$2"; socket="$3"; user="$4"; shift 4; ' +
        '"$binlog" "$@" | "$client" --no-defaults --socket="$socket" --user="$user" --binary-mode --max-allowed-packet=1G',
      [tool(ctx, 'mariadb-binlog'), tool(ctx, 'mariadb'), ctx.socket, ctx.adminUser, ...args, ...plain],
      { what: 'replaying the archived binlogs (mariadb-binlog | mariadb)', timeoutMs: RESTORE_STEP_TIMEOUT_MS, asEngineUser: false, env: { TZ: 'UTC' }, cwd: work },
    );
  } finally {
    server.signal('SIGTERM');
    if (!(await settlesWithin(server.exited, REPLAY_SERVER_STOP_TIMEOUT_MS))) {
      server.signal('SIGKILL', { group: true });
      await settlesWithin(server.exited, 5000);
    }
  }
  const status = server.exitStatus();
  if (status && status.code !== 0 && status.signal === null) {
    throw new Error(`the replay server did not shut down cleanly (exit ${status.code}); see ${path.join(L.logDir, 'restore-replay.log')}`);
  }
}

async function waitForSocket(ctx: RestoreContext, server: HostProcess): Promise<void> {
  const deadline = Date.now() + REPLAY_SERVER_START_TIMEOUT_MS;
  let lastError = '';
  while (Date.now() < deadline) {
    if (server.exitStatus()) throw new Error(`the replay server exited during startup (exit ${server.exitStatus()!.code}); see ${path.join(ctx.layout.logDir, 'restore-replay.log')}`);
    const r = await ctx.host.run({
      command: tool(ctx, 'mariadb'),
      args: ['--no-defaults', `--socket=${ctx.socket}`, `--user=${ctx.adminUser}`, '-e', 'DO 1'],
      asEngineUser: false,
      timeoutMs: 5000,
    });
    if (r.code === 0) return;
    lastError = r.stderr.trim();
    await delay(100);
  }
  throw new Error(`the replay server did not answer within ${REPLAY_SERVER_START_TIMEOUT_MS} ms (${lastError})`);
}
