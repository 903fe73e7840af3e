/**
 * @module engines/owner-stamp
 * The owner stamp of a temp directory Cellar makes outside any data directory (`.cellar-owner`: the pid and kernel
 * start time of the Cellar using it), by which the next Cellar to start tells a dead owner's directory from a live
 * one's (engines/temp-dirs.ts sweeps them). Only node:fs: the certificate authorities stamp their --in-memory
 * directory at startup, before the engine layer (and its child_process) is loaded.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

export const OWNER_FILE = '.cellar-owner';

export interface OwnerStamp {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. */
  startTicks: string;
}

/** The start time in /proc/<pid>/stat's text; undefined for a zombie or a dead process. */
function ticksOf(stat: string): string | undefined {
  // Fields after the parenthesised command name (which may contain spaces); starttime is field 22 overall.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  if (state === 'Z' || state === 'X') return undefined;
  return rest[19];
}

async function startTicks(pid: number): Promise<string | undefined> {
  try {
    return ticksOf(await fs.readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

let ownStampCache: OwnerStamp | undefined;

function ownStampSync(): OwnerStamp {
  if (!ownStampCache) {
    let ticks: string | undefined;
    try {
      ticks = ticksOf(readFileSync(`/proc/${process.pid}/stat`, 'utf8'));
    } catch {
      ticks = undefined;
    }
    ownStampCache = { pid: process.pid, startTicks: ticks ?? '0' };
  }
  return ownStampCache;
}

/** This process's stamp. */
export async function ownStamp(): Promise<OwnerStamp> {
  return ownStampSync();
}

/** Whether the process a stamp names is still the same living process. */
export async function stampIsAlive(stamp: OwnerStamp): Promise<boolean> {
  if (!Number.isInteger(stamp.pid) || stamp.pid <= 0) return false;
  const ticks = await startTicks(stamp.pid);
  return ticks !== undefined && ticks === stamp.startTicks;
}

/**
 * Stamps a directory this process just made with its owner stamp, synchronously, written aside then renamed (a stamp
 * is never seen half-written). For callers that cannot wait (a constructor at startup); engines/temp-dirs.ts's
 * claimTempDir does the same through the engine host.
 */
export function stampDirSync(dir: string): void {
  const file = path.join(dir, OWNER_FILE);
  const aside = `${file}.${process.pid}.tmp`;
  writeFileSync(aside, JSON.stringify(ownStampSync()) + '\n', { mode: 0o644 });
  renameSync(aside, file);
}
