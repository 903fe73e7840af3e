/**
 * @module observability/proc
 * What Linux's /proc says about a process tree: CPU time, resident memory and I/O, summed over a root process and
 * its descendants (PostgreSQL runs a process per connection under its postmaster; MariaDB one process). Reads only
 * numbers; a process that exits between two reads is skipped. On a system without /proc every reading is empty.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU times in these ticks (getconf CLK_TCK; 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

export interface ProcessSample {
  /** The root process's pid (a restart changes it, and deltas start over). */
  rootPid: number;
  /** CPU seconds used by the tree, reaped children included (the root's cutime and cstime). */
  cpuSeconds: number;
  /** Resident memory of the live processes. */
  rssBytes: number;
  /** Per live pid: read and write system calls so far (/proc/<pid>/io syscr, syscw). */
  io: Map<number, { reads: number; writes: number }>;
}

interface StatFields {
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  rssPages: number;
}

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: the fields after the last `)` are fixed.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field n is rest[n - 3].
  return {
    ppid: Number(rest[1]),
    utime: Number(rest[11]),
    stime: Number(rest[12]),
    cutime: Number(rest[13]),
    cstime: Number(rest[14]),
    rssPages: Number(rest[21]),
  };
}

function readIo(pid: number): { reads: number; writes: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/io`, 'latin1');
  } catch {
    return undefined;
  }
  const reads = /^syscr: (\d+)$/m.exec(text);
  const writes = /^syscw: (\d+)$/m.exec(text);
  return reads && writes ? { reads: Number(reads[1]), writes: Number(writes[1]) } : undefined;
}

/** Every live process's parent: read once per sampling round, shared by all the trees sampled in it. */
export function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return parents;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    const s = readStat(pid);
    if (s) parents.set(pid, s.ppid);
  }
  return parents;
}

/** The tree under `rootPid` (root included), from a parent map. */
export function descendants(rootPid: number, parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    let list = children.get(ppid);
    if (!list) children.set(ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const queue = [rootPid];
  // Bounded by the number of live processes: each pid has one parent, so it is queued once.
  while (queue.length > 0 && out.length <= parents.size) {
    const pid = queue.shift()!;
    out.push(pid);
    for (const child of children.get(pid) ?? []) queue.push(child);
  }
  return out;
}

/** A reading of the tree under `rootPid`, or undefined when that process is gone. */
export function sampleTree(rootPid: number, parents: ReadonlyMap<number, number>): ProcessSample | undefined {
  const root = readStat(rootPid);
  if (!root) return undefined;
  let ticks = root.cutime + root.cstime;
  let rssPages = 0;
  const io = new Map<number, { reads: number; writes: number }>();
  for (const pid of descendants(rootPid, parents)) {
    const s = pid === rootPid ? root : readStat(pid);
    if (!s) continue;
    ticks += s.utime + s.stime;
    rssPages += s.rssPages;
    const i = readIo(pid);
    if (i) io.set(pid, i);
  }
  return { rootPid, cpuSeconds: ticks / TICKS_PER_SECOND, rssBytes: rssPages * PAGE_BYTES, io };
}

/**
 * Read and write system calls between two readings of the same tree: a pid in both counts its difference, a pid
 * new in `now` counts everything it did (it began within the period). A process that ended in between loses its
 * last stretch (Linux does not add a reaped child's I/O to its parent's).
 */
export function ioBetween(before: ProcessSample, now: ProcessSample): { reads: number; writes: number } {
  let reads = 0;
  let writes = 0;
  for (const [pid, n] of now.io) {
    const b = before.io.get(pid);
    reads += Math.max(0, n.reads - (b?.reads ?? 0));
    writes += Math.max(0, n.writes - (b?.writes ?? 0));
  }
  return { reads, writes };
}
