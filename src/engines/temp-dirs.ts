/**
 * @module engines/temp-dirs
 * The directories Cellar creates under the system temp dir, outside any data directory: an instance's run directory
 * when its socket path would be too long (`cellar-<16 hex>`, see instanceLayout), and the engine root and the
 * certificate authorities' directory of an `--in-memory` Cellar (`cellar-rds-XXXXXX`, `cellar-tls-XXXXXX`, see
 * tls/authorities.ts). A Cellar that dies (kill -9, OOM) cannot remove them, so each one
 * carries an owner stamp (`.cellar-owner`: the pid and kernel start time of the Cellar using it), and the next Cellar
 * to start sweeps those whose owner is gone.
 *
 * Another Cellar still running keeps its directories: its stamp names a live process (pid and start time both match,
 * so a reused pid does not count as alive). A directory without a stamp is never touched: it may be a Cellar's that
 * is creating it right now, or a live older Cellar's (which stamps nothing and holds nothing open there that would
 * tell); leftovers of older Cellars stay until removed by hand. Before removing a directory, processes still using
 * it (an engine that outlived its Cellar because setpriv was missing) are stopped (SIGTERM, then SIGKILL):
 * recognised by their command line naming the directory and by running as the engine user or Cellar's own user. A
 * directory in which a Unix socket still listens after that is left alone (an engine found only through its lock
 * file; the adapter taking it over handles it). Everything is bounded: entries scanned, processes waited for.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { log } from '../core/log.js';
import { delay, type Host } from './host.js';
import { OWNER_FILE, ownStamp, stampIsAlive, type OwnerStamp } from './owner-stamp.js';

export { OWNER_FILE, ownStamp, stampIsAlive, type OwnerStamp };

/** `cellar-rds-XXXXXX` and `cellar-tls-XXXXXX` (mkdtemp) and `cellar-<16 hex>` (socket fallback): nothing else in the temp dir is ours. */
const SWEPT_NAME = /^cellar-((?:rds|tls)-[A-Za-z0-9]{6}|[0-9a-f]{16})$/;
const MAX_TEMP_ENTRIES = 10_000;
const MAX_PROC_ENTRIES = 100_000;
const STOP_WAIT_MS = 5_000;

/** Marks `dir` (one of the swept kinds) as used by this Cellar. */
export async function claimTempDir(host: Host, dir: string): Promise<void> {
  await host.writeFile(path.join(dir, OWNER_FILE), JSON.stringify(await ownStamp()) + '\n', { ownedByCellar: true, mode: 0o644, durable: false });
}

/** Paths of the Unix sockets bound on this machine (network namespace), from /proc/net/unix. */
async function boundSocketPaths(): Promise<string[]> {
  try {
    const text = await fs.readFile('/proc/net/unix', 'utf8');
    return text
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[7])
      .filter((p): p is string => p !== undefined && p.startsWith('/'));
  } catch {
    return [];
  }
}

/** Pids (not ours) whose command line names something under `dir`, running as one of `uids`. */
async function processesUsing(dir: string, uids: ReadonlySet<number>): Promise<number[]> {
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  const prefix = dir + path.sep;
  for (const e of entries.slice(0, MAX_PROC_ENTRIES)) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmdline = await fs.readFile(`/proc/${e}/cmdline`, 'utf8');
      if (!cmdline.includes(prefix)) continue;
      const status = await fs.readFile(`/proc/${e}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uids.has(uid)) found.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export interface SweepOptions {
  /** Default: the system temp dir. */
  tmpDir?: string;
}

/**
 * Removes the temp directories (see the module header) whose owner Cellar is gone. Never throws: a directory that
 * cannot be inspected or removed is logged and left. Returns the directories removed.
 */
export async function sweepStaleTempDirs(host: Host, options: SweepOptions = {}): Promise<string[]> {
  const tmp = options.tmpDir ?? os.tmpdir();
  const mine = new Set([process.getuid?.() ?? -1, host.engineUser.uid]);
  const removed: string[] = [];
  let names: string[];
  try {
    names = (await fs.readdir(tmp)).filter((n) => SWEPT_NAME.test(n)).slice(0, MAX_TEMP_ENTRIES);
  } catch {
    return removed;
  }
  if (names.length === 0) return removed;
  const sockets = await boundSocketPaths();
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      const st = await fs.lstat(dir);
      // The temp dir is shared: only real directories we (or our engines) own are ours to remove.
      if (!st.isDirectory() || !mine.has(st.uid)) continue;
      const stampText = await host.readFile(path.join(dir, OWNER_FILE)).catch(() => undefined);
      if (stampText === undefined) continue;
      let stamp: OwnerStamp;
      try {
        stamp = JSON.parse(stampText) as OwnerStamp;
      } catch {
        continue; // stamps are renamed in whole, so this was not written by a Cellar: not ours to judge
      }
      if (await stampIsAlive(stamp)) continue;
      // Engines of the dead Cellar still running there: asked to stop, then killed (each wait bounded).
      const users = await processesUsing(dir, mine);
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        const left = await processesUsing(dir, mine);
        if (left.length === 0) break;
        for (const pid of left) host.signalPid(pid, signal);
        const until = Date.now() + STOP_WAIT_MS;
        while (Date.now() < until && (await processesUsing(dir, mine)).length > 0) await delay(20);
      }
      // Something still listens in it (an engine whose command line does not name this directory, e.g. a run
      // directory's PostgreSQL): leave it to the adapter that takes that engine over by its lock file. And a Cellar
      // starting meanwhile may have claimed it (a data directory's instance reusing its run directory).
      const live = users.length > 0 ? await boundSocketPaths() : sockets;
      if (live.some((s) => s.startsWith(dir + path.sep))) continue;
      if ((await host.readFile(path.join(dir, OWNER_FILE)).catch(() => undefined)) !== stampText) continue;
      await host.remove(dir);
      removed.push(dir);
    } catch (err) {
      log('warn', 'temp directory of a previous Cellar not removed', { dir, error: (err as Error).message });
    }
  }
  if (removed.length > 0) log('info', 'removed temp directories left by a Cellar that is gone', { dirs: removed });
  return removed;
}

/**
 * Removes the temp directories stamped by this process (at a graceful stop, once its engines are stopped): a
 * stopped Cellar leaves nothing under the temp dir. Never throws.
 */
export async function removeOwnTempDirs(host: Host, options: SweepOptions = {}): Promise<void> {
  const tmp = options.tmpDir ?? os.tmpdir();
  const mine = JSON.stringify(await ownStamp());
  let names: string[];
  try {
    names = (await fs.readdir(tmp)).filter((n) => SWEPT_NAME.test(n)).slice(0, MAX_TEMP_ENTRIES);
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      const stamp = await host.readFile(path.join(dir, OWNER_FILE)).catch(() => undefined);
      if (stamp?.trim() === mine) await host.remove(dir);
    } catch (err) {
      log('warn', 'temp directory not removed', { dir, error: (err as Error).message });
    }
  }
}
