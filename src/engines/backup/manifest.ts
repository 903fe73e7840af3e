/**
 * @module engines/backup/manifest
 * Checksums of stored backups, written last and verified before any restore.
 *
 * A base backup directory is complete once its manifest `cellar-manifest.json` exists: it lists every file with its
 * size and SHA-256 and carries the backup's BaseBackupInfo. It is written after every file it lists is fsynced, and
 * is itself written atomically and fsynced, so a crash mid-backup leaves a directory without a manifest (incomplete,
 * never restored from, removed by pruning) rather than a manifest naming data that never reached the disk.
 *
 * A file of the continuous archive gets a sidecar `<file>.sha256` (sha256sum's format) once it is complete and
 * compressed; the file exists before its sidecar, never the other way round.
 *
 * Files are read with Node's fs as the user Cellar runs as (root can read the engine user's files; otherwise the
 * engine user is Cellar's own user). Engine tools write the backups; nothing here copies live data files.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { BaseBackupInfo } from '../adapter.js';
import type { Host } from '../host.js';
import { BackupCorruptError } from './errors.js';

export const MANIFEST_NAME = 'cellar-manifest.json';
export const CHECKSUM_SUFFIX = '.sha256';
const MANIFEST_VERSION = 1;
/** A backup holds a few files (tar archives, the engine's own manifest); this bounds the directory walk. */
const MAX_FILES_PER_BACKUP = 10_000;
const HASH_CHUNK_BYTES = 1024 * 1024;

export interface ManifestEntry {
  /** Relative to the backup directory, '/'-separated. */
  name: string;
  bytes: number;
  sha256: string;
}

interface ManifestFile {
  version: number;
  info: Omit<BaseBackupInfo, 'dir'>;
  files: ManifestEntry[];
}

/** SHA-256 (hex) and size of a file, streamed. */
export async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  // O_NOFOLLOW: the directory belongs to the engine user; a planted symlink must not make Cellar read elsewhere.
  const handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    for await (const chunk of createReadStream('', { fd: handle.fd, highWaterMark: HASH_CHUNK_BYTES, autoClose: false }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Every regular file under `dir` (relative names, sorted), except the manifest. Symlinks are refused. */
async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(name);
      else if (e.isFile()) {
        if (name !== MANIFEST_NAME && !name.startsWith(MANIFEST_NAME + '.tmp-')) out.push(name);
      } else throw new Error(`unexpected entry ${name} in backup ${dir} (not a regular file)`);
      if (out.length > MAX_FILES_PER_BACKUP) throw new Error(`backup ${dir} holds more than ${MAX_FILES_PER_BACKUP} files`);
    }
  };
  await walk('');
  return out.sort();
}

async function fsyncPath(p: string): Promise<void> {
  const handle = await fs.open(p, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Makes a finished backup directory durable and complete: fsyncs every file, then writes the manifest (atomically,
 * fsynced), then fsyncs the parent directory so the backup's own entry survives a crash. Returns the info with
 * `bytes` (the stored total) and `dir` filled in.
 */
export async function sealBackup(host: Host, dir: string, info: Omit<BaseBackupInfo, 'dir' | 'bytes'>): Promise<BaseBackupInfo> {
  const files: ManifestEntry[] = [];
  for (const name of await listFiles(dir)) {
    const file = path.join(dir, name);
    await fsyncPath(file);
    files.push({ name, ...(await sha256File(file)) });
  }
  for (const sub of new Set(files.map((f) => path.dirname(path.join(dir, f.name))))) await fsyncPath(sub);
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  const manifest: ManifestFile = { version: MANIFEST_VERSION, info: { ...info, bytes }, files };
  await host.writeFile(path.join(dir, MANIFEST_NAME), JSON.stringify(manifest, null, 1) + '\n', { mode: 0o600, ownedByCellar: true });
  await fsyncPath(path.dirname(dir));
  return { ...info, bytes, dir };
}

/** The backup's info from its manifest, without verifying files; undefined when there is no (readable) manifest. */
export async function readBackupInfo(dir: string): Promise<BaseBackupInfo | undefined> {
  try {
    return { ...(await readManifest(dir)).info, dir };
  } catch {
    return undefined;
  }
}

async function readManifest(dir: string): Promise<ManifestFile> {
  const file = path.join(dir, MANIFEST_NAME);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupCorruptError(file, 'no-manifest', 'the backup never completed or its manifest was removed');
    throw new BackupCorruptError(file, 'unreadable-manifest', String(err));
  }
  let parsed: ManifestFile;
  try {
    parsed = JSON.parse(text) as ManifestFile;
  } catch (err) {
    throw new BackupCorruptError(file, 'unreadable-manifest', `not JSON (${(err as Error).message})`);
  }
  if (parsed?.version !== MANIFEST_VERSION || !Array.isArray(parsed.files) || typeof parsed.info !== 'object' || parsed.info === null) {
    throw new BackupCorruptError(file, 'unreadable-manifest', `not a version ${MANIFEST_VERSION} Cellar backup manifest`);
  }
  for (const f of parsed.files) {
    if (typeof f?.name !== 'string' || typeof f.bytes !== 'number' || typeof f.sha256 !== 'string' || f.name.split('/').includes('..') || path.isAbsolute(f.name)) {
      throw new BackupCorruptError(file, 'unreadable-manifest', `malformed entry ${JSON.stringify(f)}`);
    }
  }
  return parsed;
}

/**
 * Checks every file the manifest lists: present, of the recorded size, with the recorded SHA-256. Throws
 * BackupCorruptError naming the first file that is not; returns the backup's info otherwise.
 */
export async function verifyBackup(dir: string): Promise<BaseBackupInfo> {
  const manifest = await readManifest(dir);
  for (const entry of manifest.files) {
    await verifyFile(path.join(dir, entry.name), entry.bytes, entry.sha256);
  }
  return { ...manifest.info, dir };
}

async function verifyFile(file: string, bytes: number | undefined, sha256: string): Promise<void> {
  let actual: { sha256: string; bytes: number };
  try {
    actual = await sha256File(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupCorruptError(file, 'missing', 'listed in the checksum manifest but not on disk');
    throw new BackupCorruptError(file, 'corrupt', `cannot be read (${(err as Error).message})`);
  }
  if (bytes !== undefined && actual.bytes !== bytes) throw new BackupCorruptError(file, 'truncated', `${actual.bytes} bytes, the manifest says ${bytes}`);
  if (actual.sha256 !== sha256) throw new BackupCorruptError(file, 'corrupt', `sha256 ${actual.sha256}, the manifest says ${sha256}`);
}

/** Writes `<file>.sha256` for a complete archive file (durably, after fsyncing the file itself). */
export async function sealArchiveFile(host: Host, file: string): Promise<void> {
  await fsyncPath(file);
  const { sha256 } = await sha256File(file);
  await host.writeFile(file + CHECKSUM_SUFFIX, `${sha256}  ${path.basename(file)}\n`, { mode: 0o600, ownedByCellar: true });
}

export async function isArchiveFileSealed(file: string): Promise<boolean> {
  try {
    await fs.access(file + CHECKSUM_SUFFIX);
    return true;
  } catch {
    return false;
  }
}

/**
 * How long a restore waits for the sidecar of a compressed file that has none yet: the archiver seals a file
 * milliseconds after gzip finishes it, and a restore that lists the archive in between must not call it damaged.
 */
export const SIDECAR_WAIT_MS = 5000;

/** Checks an archive file against its sidecar; throws BackupCorruptError naming it when missing or corrupt. */
export async function verifyArchiveFile(file: string, sidecarWaitMs = SIDECAR_WAIT_MS): Promise<void> {
  let sidecar: string | undefined;
  const deadline = Date.now() + sidecarWaitMs;
  for (;;) {
    try {
      sidecar = await fs.readFile(file + CHECKSUM_SUFFIX, 'utf8');
      break;
    } catch {
      try {
        await fs.access(file);
      } catch {
        throw new BackupCorruptError(file, 'missing', 'not in the archive');
      }
      if (Date.now() >= deadline) throw new BackupCorruptError(file, 'no-manifest', `its checksum ${path.basename(file)}${CHECKSUM_SUFFIX} is missing`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const m = /^([0-9a-f]{64}) {2}/.exec(sidecar);
  if (!m) throw new BackupCorruptError(file + CHECKSUM_SUFFIX, 'unreadable-manifest', 'not a sha256sum line');
  await verifyFile(file, undefined, m[1]!);
}

/**
 * Compresses a complete archive file with gzip (level 1: the archive keeps up with the write load on one core) as
 * the engine user, then seals the result. gzip fsyncs its output (--synchronous) before removing the input, so after
 * a crash either the input is still there (compress again; -f replaces the partial output) or the output is complete.
 */
export async function compressAndSealArchiveFile(host: Host, file: string, timeoutMs = 120_000): Promise<string> {
  const r = await host.run({ command: 'gzip', args: ['-1', '-f', '--synchronous', '--', file], timeoutMs });
  if (r.code !== 0) throw new Error(`gzip of ${file} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-500)}`);
  await sealArchiveFile(host, file + '.gz');
  return file + '.gz';
}
