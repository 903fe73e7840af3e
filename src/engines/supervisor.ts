/**
 * @module engines/supervisor
 * Watches one started engine. When it exits without having been asked to, the supervisor says so in one sentence,
 * then restarts it after a backoff that doubles each time (bounded), at most `maxRestarts` times within `windowMs`.
 * Past that it gives up and says so: it never loops forever. Every decision is reported as one sentence (logged and
 * handed to `report`), so tests and the RDS event stream can assert on them.
 *
 * Clock and timers are injected, so tests replay crash loops without waiting.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { log } from '../core/log.js';
import { countEngineRestart } from '../observability/measures.js';
import { describeExit } from './adapter.js';
import type { ExitStatus } from './host.js';

/** The part of an EngineAdapter the supervisor needs. */
export interface Supervisable {
  readonly spec: { readonly engine: string; readonly name: string };
  onUnexpectedExit(listener: (status: ExitStatus) => void): () => void;
  start(options?: { timeoutMs?: number }): Promise<void>;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SupervisorOptions {
  /** Restarts allowed within `windowMs` before giving up. */
  maxRestarts?: number;
  windowMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  startTimeoutMs?: number;
  clock?: Clock;
  timers?: Timers;
  /** Receives every decision as a sentence. */
  report?: (sentence: string) => void;
  /** Called once when the supervisor gives up (e.g. to mark the instance `failed`). */
  onGiveUp?: (sentence: string) => void;
  /** Called on each unexpected exit, before any restart (e.g. to report the instance `rebooting`). */
  onExit?: (status: ExitStatus, sentence: string) => void;
  /** Called when a restart brought the engine back (e.g. to report the instance `available` again). */
  onRestarted?: (sentence: string) => void;
}

export type SupervisorState = 'watching' | 'restarting' | 'gave-up' | 'stopped';

export class EngineSupervisor {
  private readonly maxRestarts: number;
  private readonly windowMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly startTimeoutMs: number;
  private readonly clock: Clock;
  private readonly timers: Timers;
  private restartTimesMs: number[] = [];
  private unsubscribe: (() => void) | undefined;
  private pendingTimer: unknown;
  private current: SupervisorState = 'stopped';
  readonly sentences: string[] = [];
  private static readonly MAX_SENTENCES = 100;

  constructor(
    private readonly engine: Supervisable,
    private readonly options: SupervisorOptions = {},
  ) {
    this.maxRestarts = options.maxRestarts ?? 5;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.initialBackoffMs = options.initialBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  get state(): SupervisorState {
    return this.current;
  }

  private get label(): string {
    return `${this.engine.spec.engine} ${this.engine.spec.name}`;
  }

  /** Begin watching (the engine should already be running). Idempotent. */
  watch(): void {
    if (this.unsubscribe) return;
    this.current = 'watching';
    this.unsubscribe = this.engine.onUnexpectedExit((status) => this.onExit(status));
  }

  /** Stop watching and cancel any pending restart (call before a deliberate stop or delete). */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.pendingTimer !== undefined) this.timers.clearTimeout(this.pendingTimer);
    this.pendingTimer = undefined;
    this.current = 'stopped';
  }

  private say(sentence: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    this.sentences.push(sentence);
    if (this.sentences.length > EngineSupervisor.MAX_SENTENCES) this.sentences.shift();
    log(level, sentence, { engine: this.engine.spec.engine, name: this.engine.spec.name });
    this.options.report?.(sentence);
  }

  private onExit(status: ExitStatus): void {
    if (this.current !== 'watching') return;
    const now = this.clock.now();
    this.restartTimesMs = this.restartTimesMs.filter((t) => now - t < this.windowMs);
    const exited = `${this.label} exited unexpectedly (${describeExit(status)})`;
    this.notify(() => this.options.onExit?.(status, exited));
    if (this.restartTimesMs.length >= this.maxRestarts) {
      this.giveUp(`${exited}; not restarting: already restarted ${this.restartTimesMs.length} times within ${Math.round(this.windowMs / 1000)} s`);
      return;
    }
    this.scheduleRestart(exited);
  }

  private scheduleRestart(reason: string): void {
    const attempt = this.restartTimesMs.length + 1;
    const backoffMs = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 1));
    this.restartTimesMs.push(this.clock.now());
    this.current = 'restarting';
    this.say(`${reason}; restarting in ${backoffMs} ms (attempt ${attempt} of ${this.maxRestarts} within ${Math.round(this.windowMs / 1000)} s)`, 'warn');
    this.pendingTimer = this.timers.setTimeout(() => {
      this.pendingTimer = undefined;
      void this.restart(attempt);
    }, backoffMs);
  }

  private async restart(attempt: number): Promise<void> {
    if (this.current !== 'restarting') return;
    const started = this.clock.now();
    try {
      await this.engine.start({ timeoutMs: this.startTimeoutMs });
      if (this.current !== 'restarting') return; // stopped meanwhile
      this.current = 'watching';
      countEngineRestart(this.engine.spec.engine);
      const sentence = `restarted ${this.label} in ${this.clock.now() - started} ms (attempt ${attempt})`;
      this.say(sentence);
      this.notify(() => this.options.onRestarted?.(sentence));
    } catch (err) {
      if (this.current !== 'restarting') return;
      const message = err instanceof Error ? err.message : String(err);
      const now = this.clock.now();
      this.restartTimesMs = this.restartTimesMs.filter((t) => now - t < this.windowMs);
      if (this.restartTimesMs.length >= this.maxRestarts) {
        this.giveUp(`restart ${attempt} of ${this.label} failed (${firstLine(message)}); giving up after ${this.restartTimesMs.length} attempts within ${Math.round(this.windowMs / 1000)} s`);
        return;
      }
      this.scheduleRestart(`restart ${attempt} of ${this.label} failed (${firstLine(message)})`);
    }
  }

  /** A listener's failure is logged, never allowed to stop the supervision itself. */
  private notify(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      log('error', 'supervisor listener failed', { engine: this.engine.spec.engine, name: this.engine.spec.name, error: String(err) });
    }
  }

  private giveUp(sentence: string): void {
    this.current = 'gave-up';
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.say(sentence, 'error');
    this.options.onGiveUp?.(sentence);
  }
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? line.slice(0, 300) + '…' : line;
}
