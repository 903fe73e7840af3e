/**
 * @module services/rds/engine-host
 * STOPGAP until branch `engines` lands: the local-machine host interface the RDS engine driver starts
 * processes through (spawn as the unprivileged engine user, signal, watch, adopt a process a previous
 * Cellar left running, run a command to completion). When src/engines/ exists, engine-driver.ts binds
 * to its host and adapters instead and this file goes.
 *
 * Engines write their logs to a file, not to a pipe held by Cellar, so an engine outlives a Cellar
 * that is killed with -9 and the next Cellar can adopt it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface EngineUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The OS user engines run as: `cellar` when Cellar runs as root (PostgreSQL refuses root), otherwise
 * Cellar's own user.
 */
export function engineUser(): EngineUser {
  const me = userInfo();
  if (me.uid !== 0) return { name: me.username, uid: me.uid, gid: me.gid };
  const r = spawnSync('id', ['-u', 'cellar'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'cellar'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) throw new Error('Cellar runs as root but the unprivileged user `cellar` does not exist: run scripts/install-system-deps.sh');
  return { name: 'cellar', uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command as the engine user to completion, with a time limit. */
export function runAs(user: EngineUser, cmd: string, args: string[], opts: { timeoutMs: number; input?: string; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      uid: user.uid,
      gid: user.gid,
      cwd: opts.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const cap = 64 * 1024;
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < cap) stdout += d.toString('utf8');
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < cap) stderr += d.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} did not finish within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.end(opts.input ?? '');
  });
}

export interface EngineProcess {
  pid: number;
  /** Present when this Cellar started it; absent for an adopted process. */
  child?: ChildProcess;
  /** Set before Cellar stops it, so its exit is not reported as a crash. */
  stopping: boolean;
  exited: boolean;
}

/** Starts a long-running engine process as the engine user, its output appended to logFile. */
export function spawnEngine(user: EngineUser, cmd: string, args: string[], logFile: string, onExit: (code: number | null, signal: string | null) => void): EngineProcess {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(cmd, args, {
      uid: user.uid,
      gid: user.gid,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
      stdio: ['ignore', fd, fd],
      // Its own process group: a Ctrl-C aimed at Cellar's terminal does not hit the engines directly.
      detached: true,
    });
    const proc: EngineProcess = { pid: child.pid ?? -1, child, stopping: false, exited: false };
    child.once('exit', (code, signal) => {
      proc.exited = true;
      onExit(code, signal);
    });
    child.once('error', () => {
      proc.exited = true;
      onExit(null, null);
    });
    return proc;
  } finally {
    closeSync(fd);
  }
}

/** True when pid is a live (not zombie) process whose command line contains every marker. */
export function liveProcess(pid: number, markers: string[] = []): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the command name in parentheses; Z (zombie) and X (dead) are gone.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    return markers.every((m) => cmdline.includes(m));
  } catch {
    return false;
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Waits until the process is gone, polling (works for adopted processes we cannot wait on). */
export async function waitGone(proc: EngineProcess, timeoutMs: number, pollMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited || !liveProcess(proc.pid)) return true;
    await sleep(pollMs);
  }
  return proc.exited || !liveProcess(proc.pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
