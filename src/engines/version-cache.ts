/**
 * @module engines/version-cache
 * Remembers what `<engine> --version` printed, so that Cellar's startup does not start one process per installed
 * engine every time (each start is a synchronous fork+exec on Node's main thread, ~20-40 ms apiece here).
 *
 * The cache only remembers a probe: an entry is used only while the binary is the very same file, compared by real
 * path, device, inode, size, mtime and ctime (ctime cannot be set back by anyone, so a replaced or rewritten binary
 * always misses), and the output is parsed again as if the binary had just printed it. Only successful probes are
 * remembered; a binary that failed is asked again next time.
 *
 * The file lives where only Cellar's own user can write: `$XDG_CACHE_HOME/cellar` or `~/.cache/cellar`, a 0700
 * directory holding a 0600 file. A cache that somebody else owns, or that group or others may write, is ignored
 * (and never rewritten): otherwise whoever could write it would choose the versions Cellar reports and runs.
 */
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

const FILE_NAME = 'engine-versions.json';
const FORMAT = 1;
/** A cache file larger than this is not ours (a handful of entries is a few KiB). */
const MAX_FILE_BYTES = 256 * 1024;
/** Entries kept; the ones probed or used most recently win. */
const MAX_ENTRIES = 64;
/** `--version` output kept per entry. */
const MAX_OUTPUT_CHARS = 4096;

/** Which file a probe was made of: any difference means another binary. */
interface Identity {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

interface Entry extends Identity {
  output: string;
}

interface CacheFile {
  format: number;
  entries: Record<string, Entry>;
}

/** `$XDG_CACHE_HOME/cellar` (an absolute XDG_CACHE_HOME only, as the XDG spec asks) or `~/.cache/cellar`. */
export function defaultVersionCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  return path.join(base, 'cellar');
}

export class VersionProbeCache {
  private readonly entries: Map<string, Entry>;
  private changed = false;

  private constructor(
    /** undefined when the cache must not be written (unsafe or unusable): probes still work, uncached. */
    private readonly file: string | undefined,
    entries: Map<string, Entry>,
  ) {
    this.entries = entries;
  }

  /**
   * Opens (never creates) the cache in `dir`. Any problem (missing, unreadable, corrupt, unsafe) gives an empty
   * cache; an unsafe one is also never written.
   */
  static async open(dir: string = defaultVersionCacheDir()): Promise<VersionProbeCache> {
    const file = path.join(dir, FILE_NAME);
    const safeDir = await isPrivateDir(dir);
    if (safeDir === 'unsafe') return new VersionProbeCache(undefined, new Map());
    if (safeDir === 'missing') return new VersionProbeCache(file, new Map());
    const text = await readPrivateFile(file);
    if (text === 'unsafe') return new VersionProbeCache(undefined, new Map());
    return new VersionProbeCache(file, parseEntries(text));
  }

  /** A cache that remembers nothing and writes nothing (tests, or when caching is off). */
  static disabled(): VersionProbeCache {
    return new VersionProbeCache(undefined, new Map());
  }

  /**
   * What `binary --version` printed, from the cache while the binary is unchanged, else from `probe` (whose
   * successful answer is remembered). undefined when the binary is absent or the probe fails.
   */
  async output(binary: string, probe: () => Promise<string | undefined>): Promise<string | undefined> {
    let real: string;
    let id: Identity;
    try {
      real = await fs.realpath(binary);
      id = identity(await fs.stat(real, { bigint: true }));
    } catch {
      return probe(); // cannot tell which file it is: never cached
    }
    const hit = this.entries.get(real);
    if (hit && sameIdentity(hit, id)) {
      // Most recently used last, so the bound drops the stalest.
      this.entries.delete(real);
      this.entries.set(real, hit);
      return hit.output;
    }
    const out = await probe();
    if (out !== undefined && out.length <= MAX_OUTPUT_CHARS) {
      // Stat again: a binary replaced while it was probed must not be remembered under the new file's identity.
      let after: Identity | undefined;
      try {
        after = identity(await fs.stat(real, { bigint: true }));
      } catch {
        after = undefined;
      }
      if (after && sameIdentity(after, id)) {
        this.entries.delete(real);
        this.entries.set(real, { ...id, output: out });
        this.changed = true;
      }
    } else if (hit) {
      this.entries.delete(real);
      this.changed = true;
    }
    return out;
  }

  /** Writes the cache if anything changed (directory 0700 and file 0600, created as needed; atomic replace). */
  async save(): Promise<void> {
    if (!this.file || !this.changed) return;
    const dir = path.dirname(this.file);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // Re-checked after mkdir: an existing directory keeps its owner and mode whatever mkdir was asked.
    if ((await isPrivateDir(dir)) !== 'ok') return;
    const kept = [...this.entries].slice(-MAX_ENTRIES);
    const body: CacheFile = { format: FORMAT, entries: Object.fromEntries(kept) };
    const tmp = `${this.file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    // O_EXCL never follows a symlink and never reuses somebody else's file.
    const handle = await fs.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
    try {
      await handle.writeFile(JSON.stringify(body));
      await handle.chmod(0o600);
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    this.changed = false;
  }
}

function identity(st: import('node:fs').BigIntStats): Identity {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function myUid(): number {
  return process.getuid?.() ?? -1;
}

/** Ours, a real directory (not a symlink), and writable by nobody else. */
async function isPrivateDir(dir: string): Promise<'ok' | 'missing' | 'unsafe'> {
  let st;
  try {
    st = await fs.lstat(dir);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unsafe';
  }
  if (!st.isDirectory() || st.uid !== myUid() || (st.mode & 0o022) !== 0) return 'unsafe';
  return 'ok';
}

/**
 * The file's text, checked on the opened descriptor itself (so a file swapped in between cannot slip past): a
 * regular file, ours, writable by nobody else, and small. undefined if it does not exist.
 */
async function readPrivateFile(file: string): Promise<string | undefined | 'unsafe'> {
  let handle;
  try {
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'unsafe';
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.uid !== myUid() || (st.mode & 0o022) !== 0 || st.size > MAX_FILE_BYTES) return 'unsafe';
    return await handle.readFile('utf8');
  } catch {
    return 'unsafe';
  } finally {
    await handle.close();
  }
}

function parseEntries(text: string | undefined): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  if (!text) return entries;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return entries; // corrupt (a crash mid-write cannot do it, the write is atomic; a hand edit can): start over
  }
  const file = raw as Partial<CacheFile> | null;
  if (!file || file.format !== FORMAT || typeof file.entries !== 'object' || file.entries === null) return entries;
  for (const [key, e] of Object.entries(file.entries).slice(-MAX_ENTRIES)) {
    const fields = ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs', 'output'] as const;
    if (path.isAbsolute(key) && e && fields.every((f) => typeof (e as unknown as Record<string, unknown>)[f] === 'string') && e.output.length <= MAX_OUTPUT_CHARS) {
      entries.set(key, { dev: e.dev, ino: e.ino, size: e.size, mtimeNs: e.mtimeNs, ctimeNs: e.ctimeNs, output: e.output });
    }
  }
  return entries;
}
