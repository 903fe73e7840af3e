/**
 * @module lifecycle/init-hooks
 * Init hooks, as LocalStack's init directories: executable scripts in `<init-dir>/{boot,ready,shutdown}.d` run at
 * those stages of Cellar's life, in name order, one at a time, with the endpoint in their environment.
 * - boot: the server listens, before the services start their background work (RDS has not started its engines).
 * - ready: every service has started; the usual place to create tables, secrets and instances.
 * - shutdown: a stop has begun; the server still answers until the hooks finish.
 *
 * The init directory is `<data-dir>/init` unless `initDir` is set (docs/lifecycle.md). A file that is not executable
 * runs with `sh` when its name ends in `.sh`, and is otherwise skipped with a warning. Each line a hook writes goes to
 * Cellar's log; a hook that exits non-zero, is killed, or outlives its time limit is reported as failed (in the log
 * and at `/_cellar/init`), and the next hook still runs: a hook never stops the server.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { log } from '../core/log.js';

export type HookStage = 'boot' | 'ready' | 'shutdown';
export const HOOK_STAGES: readonly HookStage[] = ['boot', 'ready', 'shutdown'];

export type HookState = 'pending' | 'running' | 'successful' | 'failed' | 'skipped';

export interface HookRecord {
  stage: HookStage;
  name: string;
  path: string;
  state: HookState;
  exitCode?: number | null;
  signal?: string | null;
  durationMs?: number;
  /** Why it failed or was skipped. */
  reason?: string;
}

export interface InitHookOptions {
  /** The init directory; undefined: no hooks. */
  dir: string | undefined;
  /** Per-hook time limit, after which its whole process group is killed. */
  timeoutMs: number;
  /** Added to each hook's environment (the endpoint, the region, default credentials). */
  env: () => Record<string, string>;
}

/** A hook's output lines past this are not logged (it keeps running); each logged line is cut to LINE_CHARS. */
const MAX_LOGGED_LINES = 2_000;
const LINE_CHARS = 4_096;
/** Hooks per stage directory that are run; the rest are reported as skipped. */
const MAX_HOOKS_PER_STAGE = 200;

export class InitHooks {
  private readonly records: HookRecord[] = [];
  private readonly completed = new Set<HookStage>();
  private readonly runningStages = new Set<HookStage>();

  constructor(private readonly options: InitHookOptions) {}

  /** Runs a stage's hooks, in name order, one after another. Never throws. */
  async run(stage: HookStage): Promise<HookRecord[]> {
    this.runningStages.add(stage);
    const hooks = this.discover(stage);
    this.records.push(...hooks);
    try {
      for (const hook of hooks) {
        if (hook.state === 'skipped') continue;
        await this.runOne(hook);
      }
    } finally {
      this.runningStages.delete(stage);
      this.completed.add(stage);
    }
    return hooks;
  }

  /** What /_cellar/init reports (and /_localstack/init, in LocalStack's shape). */
  report(stage?: HookStage): { completed: Record<HookStage, boolean> | boolean; scripts: HookRecord[] } {
    const scripts = this.records.filter((r) => !stage || r.stage === stage);
    if (stage) return { completed: this.completed.has(stage), scripts };
    return { completed: { boot: this.completed.has('boot'), ready: this.completed.has('ready'), shutdown: this.completed.has('shutdown') }, scripts };
  }

  isComplete(stage: HookStage): boolean {
    return this.completed.has(stage);
  }

  private discover(stage: HookStage): HookRecord[] {
    if (!this.options.dir) return [];
    const dir = join(this.options.dir, `${stage}.d`);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') log('warn', 'init hooks: cannot read the stage directory', { stage, dir, error: (e as Error).message });
      return [];
    }
    const hooks: HookRecord[] = [];
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      let isFile: boolean;
      try {
        isFile = statSync(path).isFile();
      } catch {
        continue;
      }
      if (!isFile) continue;
      const hook: HookRecord = { stage, name, path, state: 'pending' };
      if (hooks.length >= MAX_HOOKS_PER_STAGE) {
        hook.state = 'skipped';
        hook.reason = `more than ${MAX_HOOKS_PER_STAGE} hooks in ${dir}`;
      } else if (!isExecutable(path) && !name.endsWith('.sh')) {
        hook.state = 'skipped';
        hook.reason = 'not executable (and not a .sh script)';
        log('warn', 'init hook skipped', { stage, hook: name, reason: hook.reason });
      }
      hooks.push(hook);
    }
    return hooks;
  }

  private runOne(hook: HookRecord): Promise<void> {
    const started = Date.now();
    hook.state = 'running';
    log('info', 'init hook started', { stage: hook.stage, hook: hook.name });
    const [command, args] = isExecutable(hook.path) ? [hook.path, []] : ['sh', [hook.path]];
    return new Promise<void>((resolve) => {
      let child;
      try {
        child = spawn(command, args, {
          cwd: this.options.dir,
          env: { ...process.env, ...this.options.env(), CELLAR_INIT_STAGE: hook.stage },
          stdio: ['ignore', 'pipe', 'pipe'],
          // Its own process group, so a time-out kills what it started too.
          detached: true,
        });
      } catch (e) {
        this.finish(hook, started, 'failed', { reason: (e as Error).message });
        resolve();
        return;
      }
      let lines = 0;
      for (const [stream, readable] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
        createInterface({ input: readable, crlfDelay: Infinity }).on('line', (line) => {
          lines++;
          if (lines <= MAX_LOGGED_LINES) log('info', 'init hook output', { stage: hook.stage, hook: hook.name, stream, line: line.slice(0, LINE_CHARS) });
          else if (lines === MAX_LOGGED_LINES + 1) log('warn', 'init hook output: further lines not logged', { stage: hook.stage, hook: hook.name, limit: MAX_LOGGED_LINES });
        });
      }
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, this.options.timeoutMs);
      child.once('error', (e) => {
        clearTimeout(timer);
        this.finish(hook, started, 'failed', { reason: e.message });
        resolve();
      });
      // 'exit', not 'close': a hook may leave a background process holding its output open.
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (hook.state !== 'running') return resolve();
        if (timedOut) this.finish(hook, started, 'failed', { exitCode: code, signal, reason: `did not finish within ${this.options.timeoutMs} ms and was killed` });
        else if (code === 0) this.finish(hook, started, 'successful', { exitCode: 0 });
        else this.finish(hook, started, 'failed', { exitCode: code, signal, reason: signal ? `killed by ${signal}` : `exited with status ${code}` });
        resolve();
      });
    });
  }

  private finish(hook: HookRecord, started: number, state: HookState, details: Partial<HookRecord>): void {
    Object.assign(hook, details, { state, durationMs: Date.now() - started });
    if (state === 'successful') log('info', 'init hook finished', { stage: hook.stage, hook: hook.name, durationMs: hook.durationMs });
    else log('error', 'init hook failed', { stage: hook.stage, hook: hook.name, reason: hook.reason, exitCode: hook.exitCode ?? null, durationMs: hook.durationMs });
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
