/**
 * @module engines/postgres/backup
 * PostgreSQL's base backups and the archive side of a point-in-time restore, with PostgreSQL's own tools:
 * - a base backup is `pg_basebackup -Ft -X stream --compress=lz4` as Cellar's replication role into a new directory,
 *   then sealed with a sha256 manifest (../backup/manifest.ts); its WAL range comes from pg_basebackup's report;
 * - a restore verifies the base backup, extracts it with tar (as the engine user), and stages the archived WAL it
 *   may replay: links to the verified `.gz` segments, and copies of segments not compressed yet and of the newest,
 *   still partial one. restore_command serves the staging directory only (wal.ts renderRestoreScript).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { BackupPlace, BaseBackupInfo } from '../adapter.js';
import type { Host } from '../host.js';
import { BackupCorruptError } from '../backup/errors.js';
import { baseBackupDir } from '../backup/location.js';
import { readBackupInfo, sealBackup, verifyArchiveFile } from '../backup/manifest.js';
import type { ArchivedEngine } from './archiver.js';
import { REPLICATION_ROLE } from './config.js';
import { nextWalFileName, parseBaseBackupReport, parseLsn, PARTIAL_NAME, SEGMENT_NAME, walFileName } from './wal.js';

const BACKUP_TIMEOUT_MS = 6 * 3600_000;
const EXTRACT_TIMEOUT_MS = 6 * 3600_000;
const COPY_TIMEOUT_MS = 120_000;
/**
 * A segment completed (its mtime) this long after a restore target holds no commit from before the target: a commit
 * is written right after its timestamp is taken. Later segments are neither verified nor staged.
 */
const SEGMENT_AFTER_TARGET_MARGIN_MS = 60_000;
const STAGING_ATTEMPTS = 3;

/** A full backup of the running engine into `<place.baseDir>/<id>`; an existing complete one is returned as is. */
export async function takeBaseBackup(engine: ArchivedEngine, place: BackupPlace, id: string): Promise<BaseBackupInfo> {
  const host = engine.host;
  const dir = baseBackupDir(place, id);
  const existing = await readBackupInfo(dir);
  if (existing) return existing;
  await host.remove(dir);
  await host.ensureDir(place.baseDir);
  await host.ensureDir(dir);
  const startedAt = Date.now();
  const r = await host.run({
    command: path.join(await engine.toolsBinDir(), 'pg_basebackup'),
    args: [
      '-d',
      `host=${engine.socketDir()} port=${engine.port()} user=${REPLICATION_ROLE} application_name=cellar_basebackup`,
      '-D',
      dir,
      '-Ft',
      '-X',
      'stream',
      '--compress=lz4',
      '--checkpoint=fast',
      '--verbose',
      '--label',
      `cellar ${id}`,
    ],
    env: { PGPASSWORD: await engine.replicationPassword() },
    timeoutMs: BACKUP_TIMEOUT_MS,
  });
  if (r.code !== 0) {
    await host.remove(dir);
    throw new Error(`pg_basebackup failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-1000)}`);
  }
  const report = parseBaseBackupReport(r.stderr);
  const finishedAt = Date.now();
  return sealBackup(host, dir, {
    id,
    engine: 'postgres',
    startedAt,
    finishedAt,
    // The end-of-backup record was written before pg_basebackup returned; a commit stamped later comes after it.
    consistentAt: finishedAt,
    position: report.startLsn,
    archiveStart: walFileName(report.startTimeline, parseLsn(report.startLsn)),
  });
}

/** tar's option for a pg_basebackup archive, by its name. */
function decompressOption(file: string): string[] {
  if (file.endsWith('.lz4')) return ['-I', 'lz4'];
  if (file.endsWith('.gz')) return ['-z'];
  if (file.endsWith('.zst')) return ['-I', 'zstd'];
  return [];
}

/** Extracts a verified base backup into an empty PGDATA (base.tar.* into it, pg_wal.tar.* into its pg_wal). */
export async function extractBaseBackup(host: Host, base: BaseBackupInfo, pgdata: string): Promise<void> {
  const names = await fs.readdir(base.dir);
  const baseTar = names.find((n) => /^base\.tar(\.(lz4|gz|zst))?$/.test(n));
  const walTar = names.find((n) => /^pg_wal\.tar(\.(lz4|gz|zst))?$/.test(n));
  if (!baseTar) throw new BackupCorruptError(path.join(base.dir, 'base.tar.lz4'), 'missing', 'the backup has no base archive');
  await host.ensureDir(pgdata);
  const extract = async (tarFile: string, into: string) => {
    const r = await host.run({ command: 'tar', args: ['-x', ...decompressOption(tarFile), '-f', path.join(base.dir, tarFile), '-C', into], timeoutMs: EXTRACT_TIMEOUT_MS });
    if (r.code !== 0) throw new Error(`extracting ${tarFile} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-1000)}`);
  };
  await extract(baseTar, pgdata);
  if (walTar) {
    await host.ensureDir(path.join(pgdata, 'pg_wal'));
    await extract(walTar, path.join(pgdata, 'pg_wal'));
  }
}

export interface StagedArchive {
  /** Segments and history files staged, by name. */
  files: string[];
  /** The newest segment staged from a `.partial` (the one still being written at the source), if any. */
  partial?: string;
}

/**
 * Verifies the archived WAL a restore from `base` to `targetTime` (undefined = latest) may read and stages it in
 * `stagingDir`. A sealed file that does not match its checksum, or a segment missing from the sequence after the
 * base backup's start, fails with BackupCorruptError naming it.
 */
export async function stageArchive(host: Host, archiveDir: string, base: BaseBackupInfo, stagingDir: string, targetTime: number | undefined): Promise<StagedArchive> {
  for (let attempt = 1; ; attempt++) {
    await host.remove(stagingDir);
    await host.ensureDir(stagingDir);
    try {
      return await stageOnce(host, archiveDir, base, stagingDir, targetTime);
    } catch (err) {
      // pg_receivewal completes a .partial, or the archiver compresses a segment, between listing and copying.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !/No such file/.test(String(err))) throw err;
      if (attempt >= STAGING_ATTEMPTS) throw err;
    }
  }
}

async function stageOnce(host: Host, archiveDir: string, base: BaseBackupInfo, stagingDir: string, targetTime: number | undefined): Promise<StagedArchive> {
  const names = (await fs.readdir(archiveDir)).sort();
  const files: string[] = [];
  let partial: string | undefined;
  const segments: string[] = [];
  const cutoff = targetTime === undefined ? Infinity : targetTime + SEGMENT_AFTER_TARGET_MARGIN_MS;
  let pastCutoff = false;
  const present = new Set(names);
  for (const name of names) {
    const gz = /^([0-9A-F]{24}|[0-9A-F]{8}\.history)\.gz$/.exec(name);
    const raw = SEGMENT_NAME.test(name) || /^[0-9A-F]{8}\.history$/.test(name);
    const part = PARTIAL_NAME.exec(name);
    const logName = gz ? gz[1]! : raw ? name : part ? part[1]! : undefined;
    // gzip is still writing this .gz (its input is there): the uncompressed file is staged instead.
    if (!logName || (gz && present.has(gz[1]!))) continue;
    const isSegment = SEGMENT_NAME.test(logName);
    if (isSegment && logName < base.archiveStart) continue;
    if (isSegment && pastCutoff) continue;
    const file = path.join(archiveDir, name);
    if (gz) {
      await verifyArchiveFile(file);
      await fs.symlink(file, path.join(stagingDir, name));
    } else {
      const r = await host.run({ command: 'cp', args: ['--', file, path.join(stagingDir, logName)], timeoutMs: COPY_TIMEOUT_MS });
      if (r.code !== 0) throw new Error(`copying ${name} for the restore failed: ${r.stderr.trim()}`);
      if (part) partial = logName;
    }
    files.push(logName);
    if (isSegment) {
      segments.push(logName);
      if ((await fs.stat(file)).mtimeMs > cutoff) pastCutoff = true;
    }
  }
  checkSequence(archiveDir, base.archiveStart, segments);
  return { files, ...(partial ? { partial } : {}) };
}

/** Segments of each timeline must follow each other without a gap, and the base's timeline must start at its start. */
function checkSequence(archiveDir: string, archiveStart: string, segments: readonly string[]): void {
  const baseTimeline = archiveStart.slice(0, 8);
  const byTimeline = new Map<string, string[]>();
  for (const s of [...new Set(segments)].sort()) {
    const list = byTimeline.get(s.slice(0, 8)) ?? [];
    list.push(s);
    byTimeline.set(s.slice(0, 8), list);
  }
  const onBase = byTimeline.get(baseTimeline) ?? [];
  if (onBase[0] !== archiveStart) {
    throw new BackupCorruptError(path.join(archiveDir, archiveStart + '.gz'), 'gap', 'the first WAL segment the base backup needs is not in the archive');
  }
  for (const list of byTimeline.values()) {
    for (let i = 1; i < list.length; i++) {
      const expected = nextWalFileName(list[i - 1]!);
      if (list[i] !== expected) throw new BackupCorruptError(path.join(archiveDir, expected + '.gz'), 'gap', `WAL segment ${expected} is missing between ${list[i - 1]} and ${list[i]}`);
    }
  }
}
