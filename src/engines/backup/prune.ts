/**
 * @module engines/backup/prune
 * Listing and pruning of one instance's backups by retention. What a restore inside the retention window needs is
 * always kept: the newest base backup consistent at or before the window's start (a restore to that instant starts
 * from it), every later one, and every archive file from the oldest kept base backup's `archiveStart` on.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { BackupPlace, BaseBackupInfo } from '../adapter.js';
import type { Host } from '../host.js';
import { CHECKSUM_SUFFIX, MANIFEST_NAME, readBackupInfo } from './manifest.js';

/** Bounds the directory listings (a daily backup for 35 days is 35 entries; the archive holds many segments). */
const MAX_ENTRIES = 1_000_000;

export interface BaseBackupListing {
  /** Complete backups (with a manifest), oldest first by consistentAt. */
  complete: BaseBackupInfo[];
  /** Directories without a manifest: a backup in progress, or one a crash interrupted. */
  incomplete: string[];
}

export async function listBaseBackups(place: BackupPlace): Promise<BaseBackupListing> {
  const complete: BaseBackupInfo[] = [];
  const incomplete: string[] = [];
  let entries: string[];
  try {
    entries = (await fs.readdir(place.baseDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { complete, incomplete };
    throw err;
  }
  for (const name of entries.slice(0, MAX_ENTRIES)) {
    const dir = path.join(place.baseDir, name);
    const info = await readBackupInfo(dir);
    if (info) complete.push(info);
    else incomplete.push(dir);
  }
  complete.sort((a, b) => a.consistentAt - b.consistentAt || a.finishedAt - b.finishedAt);
  return { complete, incomplete: incomplete.sort() };
}

/** The newest complete backup from which a restore to `targetTime` can start (consistent at or before it). */
export function baseBackupFor(backups: readonly BaseBackupInfo[], targetTime: number): BaseBackupInfo | undefined {
  let best: BaseBackupInfo | undefined;
  for (const b of backups) if (b.consistentAt <= targetTime && (!best || b.consistentAt >= best.consistentAt)) best = b;
  return best;
}

/**
 * Which complete backups retention lets go: those older than the newest one consistent at or before `windowStart`.
 * Pure, so the rule is unit-tested.
 */
export function backupsToPrune(backups: readonly BaseBackupInfo[], windowStart: number): BaseBackupInfo[] {
  const anchor = baseBackupFor(backups, windowStart);
  if (!anchor) return [];
  return backups.filter((b) => b !== anchor && b.consistentAt < anchor.consistentAt);
}

export interface PruneOutcome {
  removedBackups: string[];
  removedArchiveFiles: number;
  /** The oldest base backup kept (bounds the archive). */
  oldestKept: BaseBackupInfo | undefined;
}

/**
 * Removes backups retention no longer needs, incomplete backup directories not named in `inProgress` (left by a
 * crash), and archive files older than the oldest kept backup's `archiveStart`. `logName` maps an archive file name
 * to the log name it holds (comparable by sort order), or undefined for files always kept (timeline history).
 */
export async function pruneBackups(
  host: Host,
  place: BackupPlace,
  options: { windowStart: number; inProgress?: ReadonlySet<string>; logName?: (fileName: string) => string | undefined },
): Promise<PruneOutcome> {
  const listing = await listBaseBackups(place);
  const removedBackups: string[] = [];
  for (const b of backupsToPrune(listing.complete, options.windowStart)) {
    // The manifest goes first: a crash half-way leaves an incomplete directory, never a listed backup missing files.
    await host.remove(path.join(b.dir, MANIFEST_NAME));
    await host.remove(b.dir);
    removedBackups.push(b.dir);
  }
  for (const dir of listing.incomplete) {
    if (options.inProgress?.has(dir)) continue;
    await host.remove(dir);
    removedBackups.push(dir);
  }
  const kept = listing.complete.filter((b) => !removedBackups.includes(b.dir));
  const oldestKept = kept[0];
  const removedArchiveFiles = oldestKept ? await pruneArchive(host, place.archiveDir, oldestKept.archiveStart, options.logName) : 0;
  return { removedBackups, removedArchiveFiles, oldestKept };
}

/**
 * The log name an archive file holds by default: its name without .sha256, .gz and .partial. Timeline history files
 * (PostgreSQL's `<timeline>.history`, needed to follow later timelines) and Cellar's own .json records are kept.
 */
export function defaultLogName(fileName: string): string | undefined {
  const name = fileName.replace(new RegExp(`\\${CHECKSUM_SUFFIX}$`), '').replace(/\.gz$/, '').replace(/\.partial$/, '');
  return name.endsWith('.history') || name.endsWith('.json') ? undefined : name;
}

/** Removes archive files whose log name sorts before `firstNeeded`. Returns how many. */
export async function pruneArchive(host: Host, archiveDir: string, firstNeeded: string, logName: (fileName: string) => string | undefined = defaultLogName): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(archiveDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  let removed = 0;
  // Data files before their checksums: a crash between the two leaves an orphan checksum (harmless), whereas the
  // other order would leave an unsealed file, which the archiver would take for one still to seal.
  const ordered = [...names.filter((n) => !n.endsWith(CHECKSUM_SUFFIX)), ...names.filter((n) => n.endsWith(CHECKSUM_SUFFIX))];
  for (const name of ordered.slice(0, MAX_ENTRIES)) {
    const log = logName(name);
    if (log === undefined || log >= firstNeeded) continue;
    await host.remove(path.join(archiveDir, name));
    removed++;
  }
  return removed;
}
