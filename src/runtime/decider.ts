/**
 * @module runtime/decider
 * The one health decider of a resource: probe, decide, act. Every restart, reboot and (later) failover of a failing
 * engine is decided here and nowhere else; the engine layer only reports exits, and the reconciler only converges
 * the engine towards what the desired state and this decider's observations say.
 *
 * Inputs are observations: an unexpected exit (`noteExit`, reported by the engine layer), a probe result (`decide`
 * runs the probe when one is due), a restart that failed (`noteRestartFailed`) and a start that brought the engine up
 * (`noteRunning`). The output of each `decide` is a Decision with one sentence saying what was decided and why
 * ("postgres db-1 exited unexpectedly (signal SIGKILL); restarting it (crash restart 1 of 3 within 600 s)"). The
 * caller acts on it.
 *
 * Each cause of a restart has its own bound, so that nothing loops for ever:
 * - a crash (the engine exited, or was found not running): restarted at once, a repeated one after a backoff doubling
 *   from `initialBackoffMs`; past `maxRestarts` crashes within `windowMs`, give up (a crash loop);
 * - a hang (alive, but `probeFailuresBeforeRestart` probes in a row unanswered, e.g. its admin account taken away):
 *   restarted at once (the failed probes were the wait); past `maxHangRestarts` within the window, give up;
 * - a restart that failed: tried again after a backoff doubling from `initialBackoffMs`; after `maxFailedRestarts` in
 *   a row, give up.
 * Giving up makes the resource `failed` until its user reboots or deletes it (`reset`).
 *
 * The clock is injected and there are no timers: the caller asks again (the health loop ticks, or it waits the
 * `retryInMs` a `wait` decision names), so tests replay crash loops on a manual clock
 * (test/unit/runtime-decider.test.ts).
 */
import { systemClock, type Clock } from '../core/clock.js';

export interface DeciderOptions {
  /** Crash restarts allowed within the window. */
  maxRestarts?: number;
  /** Hang restarts allowed within the window. */
  maxHangRestarts?: number;
  /** Restarts that failed, in a row, before giving up. */
  maxFailedRestarts?: number;
  windowMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  probeEveryMs?: number;
  probeFailuresBeforeRestart?: number;
  clock?: Clock;
}

export type ProbeOutcome = { ok: true } | { ok: false; reason: string };

export type Decision =
  /** Healthy, or nothing due: nothing to do. */
  | { action: 'none'; sentence: string }
  /** Down, but the backoff has not elapsed: ask again in `retryInMs`. */
  | { action: 'wait'; sentence: string; retryInMs: number }
  /** Restart the engine now (the caller marks it down and brings it back). */
  | { action: 'restart'; sentence: string }
  /** Past the bound: the resource is failed. */
  | { action: 'give-up'; sentence: string };

export type DeciderState = 'healthy' | 'down' | 'gave-up';

/** Why the engine is down: each cause has its own bound. */
type Cause = 'crash' | 'hang' | 'failed-restart';

export class HealthDecider {
  private readonly maxRestarts: number;
  private readonly maxHangRestarts: number;
  private readonly maxFailedRestarts: number;
  private readonly windowMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly probeEveryMs: number;
  private readonly probeFailuresBeforeRestart: number;
  private readonly clock: Clock;
  private crashRestartsMs: number[] = [];
  private hangRestartsMs: number[] = [];
  private failedRestartsInRow = 0;
  private probeFailures = 0;
  private lastProbeMs = 0;
  private downSinceMs = 0;
  private downReason = '';
  private cause: Cause = 'crash';
  private current: DeciderState = 'healthy';

  constructor(
    readonly label: string,
    options: DeciderOptions = {},
  ) {
    this.maxRestarts = options.maxRestarts ?? 3;
    this.maxHangRestarts = options.maxHangRestarts ?? 10;
    this.maxFailedRestarts = options.maxFailedRestarts ?? 3;
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.probeEveryMs = options.probeEveryMs ?? 5_000;
    this.probeFailuresBeforeRestart = options.probeFailuresBeforeRestart ?? 3;
    this.clock = options.clock ?? systemClock;
  }

  get state(): DeciderState {
    return this.current;
  }

  /** The engine exited without being asked to (reported by the engine layer). */
  noteExit(detail: string): void {
    if (this.current === 'gave-up') return;
    this.markDown('crash', `${this.label} exited unexpectedly (${detail})`);
  }

  /** The engine is up and answering (a start by anyone succeeded): a restart, if one was under way, worked. */
  noteRunning(): void {
    if (this.current === 'gave-up') return;
    this.current = 'healthy';
    this.probeFailures = 0;
    this.failedRestartsInRow = 0;
    this.lastProbeMs = this.clock.now();
  }

  /** A restart this decider ordered failed. */
  noteRestartFailed(reason: string): void {
    if (this.current === 'gave-up') return;
    this.failedRestartsInRow++;
    this.markDown('failed-restart', `restart ${this.failedRestartsInRow} of ${this.label} failed (${firstLine(reason)})`);
  }

  /** Starts afresh: the user rebooted or deleted the resource, or stopped it. */
  reset(): void {
    this.current = 'healthy';
    this.crashRestartsMs = [];
    this.hangRestartsMs = [];
    this.failedRestartsInRow = 0;
    this.probeFailures = 0;
    this.lastProbeMs = this.clock.now();
  }

  private markDown(cause: Cause, reason: string): void {
    this.current = 'down';
    this.cause = cause;
    this.downReason = reason;
    this.downSinceMs = this.clock.now();
  }

  private backoff(n: number): number {
    return n <= 0 ? 0 : Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (n - 1));
  }

  /**
   * Probe (when one is due and the engine is believed healthy), decide, and return the decision. `probe` must not
   * throw and must be bounded in time; it stands for "is the engine process alive and answering a real query".
   */
  async decide(probe: () => Promise<ProbeOutcome>): Promise<Decision> {
    if (this.current === 'gave-up') return { action: 'none', sentence: `${this.label}: gave up earlier; waiting for a reboot or delete` };
    if (this.current === 'healthy') {
      const probedAt = this.clock.now();
      if (probedAt - this.lastProbeMs < this.probeEveryMs) return { action: 'none', sentence: `${this.label}: healthy, no probe due` };
      this.lastProbeMs = probedAt;
      const r = await probe();
      if (r.ok) {
        this.probeFailures = 0;
        return { action: 'none', sentence: `${this.label}: answered a probe` };
      }
      if (r.reason === 'not running') this.markDown('crash', `${this.label} is not running`);
      else {
        this.probeFailures++;
        if (this.probeFailures < this.probeFailuresBeforeRestart) {
          return { action: 'none', sentence: `${this.label}: did not answer a probe (${this.probeFailures} of ${this.probeFailuresBeforeRestart}): ${r.reason}` };
        }
        this.markDown('hang', `${this.label} did not answer ${this.probeFailures} probes in a row (${r.reason})`);
      }
    }
    // Down: the time read after the probe, which takes time.
    const now = this.clock.now();
    const windowS = Math.round(this.windowMs / 1000);
    this.crashRestartsMs = this.crashRestartsMs.filter((t) => now - t < this.windowMs);
    this.hangRestartsMs = this.hangRestartsMs.filter((t) => now - t < this.windowMs);
    let backoffMs: number;
    let counted: string;
    if (this.cause === 'failed-restart') {
      if (this.failedRestartsInRow >= this.maxFailedRestarts) return this.giveUp(`${this.downReason}; not restarting: ${this.failedRestartsInRow} restarts failed in a row`);
      backoffMs = this.backoff(this.failedRestartsInRow);
      counted = `attempt ${this.failedRestartsInRow + 1} of ${this.maxFailedRestarts}`;
    } else {
      const times = this.cause === 'crash' ? this.crashRestartsMs : this.hangRestartsMs;
      const max = this.cause === 'crash' ? this.maxRestarts : this.maxHangRestarts;
      if (times.length >= max) return this.giveUp(`${this.downReason}; not restarting: already restarted ${times.length} times for a ${this.cause} within ${windowS} s`);
      // A hang already waited its probes out; a repeated crash waits longer each time.
      backoffMs = this.cause === 'crash' ? this.backoff(times.length) : 0;
      counted = `${this.cause} restart ${times.length + 1} of ${max} within ${windowS} s`;
    }
    const waitedMs = now - this.downSinceMs;
    if (waitedMs < backoffMs) return { action: 'wait', sentence: `${this.downReason}; restarting in ${backoffMs - waitedMs} ms (${counted})`, retryInMs: backoffMs - waitedMs };
    if (this.cause === 'crash') this.crashRestartsMs.push(now);
    if (this.cause === 'hang') this.hangRestartsMs.push(now);
    this.probeFailures = 0;
    return { action: 'restart', sentence: `${this.downReason}; restarting it (${counted})` };
  }

  private giveUp(sentence: string): Decision {
    this.current = 'gave-up';
    return { action: 'give-up', sentence };
  }
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? line.slice(0, 300) + '…' : line;
}
