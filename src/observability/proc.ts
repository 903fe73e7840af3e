/**
 * @module observability/proc
 * What Linux's /proc says about a process tree: CPU time, resident memory and I/O, summed over a root process and
 * its descendants (PostgreSQL runs a process per connection under its postmaster; MariaDB one process), found through
 * each process's `children` list rather than a scan of every process on the machine. Reads only numbers; a process
 * that exits between two reads is skipped. On a system without /proc every reading is empty.
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
  /**
   * Memory of the live processes: each one's proportional set size (/proc/<pid>/smaps_rollup Pss), where a page
   * shared by n processes counts 1/n in each, so PostgreSQL's shared buffers count once for the tree and not once per
   * backend that touched them (summed RSS overstated a busy instance several times over). RSS where Pss is unreadable.
   */
  memoryBytes: number;
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

/** The process's proportional set size in bytes (smaps_rollup, Linux 4.14 and later), or undefined. */
function readPss(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
  } catch {
    return undefined;
  }
  const pss = /^Pss:\s+(\d+) kB$/m.exec(text);
  return pss ? Number(pss[1]) * 1024 : undefined;
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

/** Past this many processes a tree is not followed further (an engine runs one process per connection, bounded). */
const MAX_TREE_PROCESSES = 10_000;

/** The children of a process: Linux lists them per thread in /proc/<pid>/task/<tid>/children. */
function childrenOf(pid: number): number[] {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tasks) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const c of text.split(' ')) if (c !== '' && c !== '\n') out.push(Number(c));
  }
  return out;
}

/** The tree under `rootPid` (root included), following each process's children; bounded by MAX_TREE_PROCESSES. */
export function descendants(rootPid: number): number[] {
  const out: number[] = [];
  const queue = [rootPid];
  for (let i = 0; i < queue.length && out.length < MAX_TREE_PROCESSES; i++) {
    const pid = queue[i]!;
    out.push(pid);
    for (const child of childrenOf(pid)) queue.push(child);
  }
  return out;
}

/** A reading of the tree under `rootPid`, or undefined when that process is gone. */
export function sampleTree(rootPid: number): ProcessSample | undefined {
  const root = readStat(rootPid);
  if (!root) return undefined;
  let ticks = root.cutime + root.cstime;
  let memoryBytes = 0;
  const io = new Map<number, { reads: number; writes: number }>();
  for (const pid of descendants(rootPid)) {
    const s = pid === rootPid ? root : readStat(pid);
    if (!s) continue;
    ticks += s.utime + s.stime;
    memoryBytes += readPss(pid) ?? s.rssPages * PAGE_BYTES;
    const i = readIo(pid);
    if (i) io.set(pid, i);
  }
  return { rootPid, cpuSeconds: ticks / TICKS_PER_SECOND, memoryBytes, io };
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
