/**
 * @module lifecycle/daemon
 * Cellar in the background: `cellar start -d` starts a detached server that writes its PID file and its log file,
 * waits until it is healthy and returns; `cellar stop` stops the server a PID file names; `cellar wait` waits until a
 * server is healthy; `cellar logs [-f]` prints (and follows) its log. Every wait is bounded.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** What `/_cellar/health` answers (the parts the lifecycle commands read). */
export interface HealthAnswer {
  status: string;
  init?: { ready?: boolean };
  services: Record<string, { state?: string }>;
}

export type Readiness = { ready: true; health: HealthAnswer } | { ready: false; why: string };

/** Asks a server whether it is ready: it answers, every service is available, and its ready hooks have run. */
export async function readiness(endpoint: string, timeoutMs = 2_000): Promise<Readiness> {
  let res: Response;
  try {
    res = await fetch(`${endpoint}/_cellar/health`, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    return { ready: false, why: `not answering at ${endpoint} (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message})` };
  }
  if (!res.ok) return { ready: false, why: `health answered ${res.status}` };
  const health = (await res.json()) as HealthAnswer;
  const starting = Object.entries(health.services)
    .filter(([, s]) => s.state !== 'available')
    .map(([id, s]) => `${id} is ${s.state ?? 'unknown'}`);
  if (starting.length > 0) return { ready: false, why: starting.join(', ') };
  if (health.init && health.init.ready === false) return { ready: false, why: 'the ready hooks are still running' };
  return { ready: true, health };
}

/** Polls until ready or the deadline; `alive` (when given) ends the wait early once it says the server is gone. */
export async function waitUntilReady(endpoint: string, timeoutMs: number, alive?: () => boolean): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  let last: Readiness = { ready: false, why: 'not asked yet' };
  while (Date.now() < deadline) {
    last = await readiness(endpoint, Math.max(100, Math.min(2_000, deadline - Date.now())));
    if (last.ready) return last;
    if (alive && !alive()) return { ready: false, why: `the server exited (${last.why})` };
    await sleep(200);
  }
  return { ready: false, why: `not ready within ${timeoutMs} ms: ${last.why}` };
}

/** The pid a PID file names, if that process is alive and is a Cellar. Removes a stale file. */
export function runningPid(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (Number.isInteger(pid) && pid > 1 && isCellar(pid)) return pid;
  rmSync(pidFile, { force: true });
  return undefined;
}

function isCellar(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A recycled pid belongs to some other program: only a process running Cellar's CLI counts.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cellar');
  } catch {
    return true;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Written by the serving process itself, removed by it when it exits (if it still names it). */
export function claimPidFile(pidFile: string): void {
  mkdirSync(dirname(pidFile), { recursive: true, mode: 0o700 });
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  process.on('exit', () => {
    try {
      if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile, { force: true });
    } catch {
      // already gone
    }
  });
}

export interface DetachedStart {
  /** The CLI's own arguments for the serving process (without -d). */
  args: string[];
  logFile: string;
  pidFile: string;
  endpoint: string;
  timeoutMs: number;
}

/** Starts a detached server and waits until it is ready. Resolves with its pid; rejects with what went wrong. */
export async function startDetached(o: DetachedStart): Promise<number> {
  const existing = runningPid(o.pidFile);
  if (existing) throw new Error(`cellar is already running (pid ${existing}, PID file ${o.pidFile})`);
  mkdirSync(dirname(o.logFile), { recursive: true, mode: 0o700 });
  const out = openSync(o.logFile, 'a', 0o600);
  const startOffset = statSync(o.logFile).size;
  let exited: string | undefined;
  try {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...o.args, '--pid-file', o.pidFile, '--log-file', o.logFile], {
      detached: true,
      stdio: ['ignore', out, out],
      env: process.env,
    });
    child.once('exit', (code, signal) => (exited = signal ? `killed by ${signal}` : `exit status ${code}`));
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error('the server process could not be started');
    const ready = await waitUntilReady(o.endpoint, o.timeoutMs, () => exited === undefined);
    if (!ready.ready) {
      const tail = readTail(o.logFile, startOffset, 20);
      throw new Error(`${exited ? `the server exited (${exited})` : ready.why}${tail ? `\n--- last lines of ${o.logFile} ---\n${tail}` : ''}`);
    }
    return pid;
  } finally {
    closeSync(out);
  }
}

/** Stops the server a PID file names: SIGTERM, then SIGKILL past the timeout. Resolves with what happened. */
export async function stopDetached(pidFile: string, timeoutMs: number): Promise<{ pid: number | undefined; how: 'not-running' | 'stopped' | 'killed'; elapsedMs: number }> {
  const started = Date.now();
  const pid = runningPid(pidFile);
  if (!pid) return { pid: undefined, how: 'not-running', elapsedMs: 0 };
  process.kill(pid, 'SIGTERM');
  const deadline = started + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      rmSync(pidFile, { force: true });
      return { pid, how: 'stopped', elapsedMs: Date.now() - started };
    }
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  rmSync(pidFile, { force: true });
  return { pid, how: 'killed', elapsedMs: Date.now() - started };
}

/** The last `lines` lines of a file from `offset` on (at most 64 KiB read). */
export function readTail(path: string, offset: number, lines: number): string {
  try {
    const size = statSync(path).size;
    const from = Math.max(offset, size - 64 * 1024);
    const buf = Buffer.alloc(size - from);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, from);
    } finally {
      closeSync(fd);
    }
    return buf.toString('utf8').split('\n').filter(Boolean).slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Prints a log file and, with `follow`, what is appended to it until `signal` aborts, reopening it when it is rotated
 * (core/log-file.ts renames it to `.1` and starts a new one).
 */
export async function printLog(path: string, o: { follow: boolean; lines?: number; write: (s: string) => void; signal?: AbortSignal }): Promise<boolean> {
  if (!existsSync(path) && !o.follow) return false;
  let offset = 0;
  let inode = -1;
  if (existsSync(path)) {
    const st = statSync(path);
    inode = st.ino;
    if (o.lines !== undefined) {
      const tail = readTail(path, 0, o.lines);
      if (tail) o.write(tail + '\n');
      offset = st.size;
    }
  }
  for (;;) {
    if (existsSync(path)) {
      const st = statSync(path);
      if (st.ino !== inode || st.size < offset) {
        inode = st.ino;
        offset = 0;
      }
      if (st.size > offset) {
        const fd = openSync(path, 'r');
        try {
          // Bounded reads: a large file is printed in 1 MiB pieces.
          while (offset < st.size) {
            const buf = Buffer.alloc(Math.min(1 << 20, st.size - offset));
            const n = readSync(fd, buf, 0, buf.length, offset);
            if (n <= 0) break;
            o.write(buf.subarray(0, n).toString('utf8'));
            offset += n;
          }
        } finally {
          closeSync(fd);
        }
      }
    }
    if (!o.follow || o.signal?.aborted) return true;
    await sleep(250, o.signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
