/**
 * @module runtime/decider
 * The one health decider of a resource: probe, decide, act. Every restart, reboot and (later) failover of a failing
 * engine is decided here and nowhere else; the engine layer only reports exits, and the reconciler only converges
 * the engine towards what the desired state and this decider's observations say.
 *
 * Inputs are observations: an unexpected exit (`noteExit`, reported by the engine layer), a probe result (`decide`
 * runs the probe when one is due), and a start that brought the engine up (`noteRunning`). The output of each
 * `decide` is a Decision with one sentence saying what was decided and why ("postgres db-1 exited unexpectedly
 * (signal SIGKILL); restarting it (attempt 1 of 3 within 600 s)"). The caller acts on it.
 *
 * Bounds: at most `maxRestarts` restarts within `windowMs`, each after a backoff that doubles (capped at
 * `maxBackoffMs`); past the bound the decision is to give up (the resource becomes `failed`), never to loop. A hung
 * engine (alive, not answering) is declared down after `probeFailuresBeforeRestart` failed probes in a row.
 *
 * The clock is injected and there are no timers: the caller asks again (the health loop ticks), so tests replay
 * crash loops on a manual clock (test/unit/runtime-decider.test.ts).
 */
import { systemClock, type Clock } from '../core/clock.js';

export interface DeciderOptions {
  maxRestarts?: number;
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
  /** Down, but the backoff has not elapsed: ask again later. */
  | { action: 'wait'; sentence: string; retryInMs: number }
  /** Restart the engine now (the caller marks it down and brings it back). */
  | { action: 'restart'; sentence: string; attempt: number }
  /** Past the bound: the resource is failed. */
  | { action: 'give-up'; sentence: string };

export type DeciderState = 'healthy' | 'down' | 'gave-up';

export class HealthDecider {
  private readonly maxRestarts: number;
  private readonly windowMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly probeEveryMs: number;
  private readonly probeFailuresBeforeRestart: number;
  private readonly clock: Clock;
  private restartTimesMs: number[] = [];
  private probeFailures = 0;
  private lastProbeMs = 0;
  private downSinceMs = 0;
  private downReason = '';
  private current: DeciderState = 'healthy';

  constructor(
    readonly label: string,
    options: DeciderOptions = {},
  ) {
    this.maxRestarts = options.maxRestarts ?? 3;
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.initialBackoffMs = options.initialBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
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
    this.markDown(`${this.label} exited unexpectedly (${detail})`);
  }

  /** The engine is up and answering (a start by anyone succeeded): a restart, if one was under way, worked. */
  noteRunning(): void {
    this.current = 'healthy';
    this.probeFailures = 0;
    this.lastProbeMs = this.clock.now();
  }

  /** A start ordered by this decider failed: counted like a crash, so the bound holds. */
  noteRestartFailed(reason: string): void {
    if (this.current === 'gave-up') return;
    this.markDown(`restart of ${this.label} failed (${firstLine(reason)})`);
  }

  /** Starts afresh (a reboot or delete the user asked for after a give-up; a deliberate stop). */
  reset(): void {
    this.current = 'healthy';
    this.restartTimesMs = [];
    this.probeFailures = 0;
    this.lastProbeMs = this.clock.now();
  }

  private markDown(reason: string): void {
    this.current = 'down';
    this.downReason = reason;
    this.downSinceMs = this.clock.now();
  }

  /**
   * Probe (when one is due and the engine is believed healthy), decide, and return the decision. `probe` must not
   * throw and must be bounded in time; it stands for "is the engine process alive and answering a real query".
   */
  async decide(probe: () => Promise<ProbeOutcome>): Promise<Decision> {
    if (this.current === 'gave-up') return { action: 'none', sentence: `${this.label}: gave up earlier; waiting for a reboot or delete` };
    const now = this.clock.now();
    if (this.current === 'healthy') {
      if (now - this.lastProbeMs < this.probeEveryMs) return { action: 'none', sentence: `${this.label}: healthy, no probe due` };
      this.lastProbeMs = now;
      const r = await probe();
      if (r.ok) {
        this.probeFailures = 0;
        return { action: 'none', sentence: `${this.label}: answered a probe` };
      }
      this.probeFailures++;
      if (this.probeFailures < this.probeFailuresBeforeRestart && !r.reason.startsWith('not running')) {
        return { action: 'none', sentence: `${this.label}: did not answer a probe (${this.probeFailures} of ${this.probeFailuresBeforeRestart}): ${r.reason}` };
      }
      this.markDown(r.reason.startsWith('not running') ? `${this.label} is not running` : `${this.label} did not answer ${this.probeFailures} probes in a row (${r.reason})`);
    }
    // Down: restart within the bound, after the backoff.
    this.restartTimesMs = this.restartTimesMs.filter((t) => now - t < this.windowMs);
    const windowS = Math.round(this.windowMs / 1000);
    if (this.restartTimesMs.length >= this.maxRestarts) {
      this.current = 'gave-up';
      return { action: 'give-up', sentence: `${this.downReason}; not restarting: already restarted ${this.restartTimesMs.length} times within ${windowS} s` };
    }
    const attempt = this.restartTimesMs.length + 1;
    const backoffMs = this.restartTimesMs.length === 0 ? 0 : Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** (attempt - 2));
    const waitedMs = now - this.downSinceMs;
    if (waitedMs < backoffMs) return { action: 'wait', sentence: `${this.downReason}; restarting in ${backoffMs - waitedMs} ms`, retryInMs: backoffMs - waitedMs };
    this.restartTimesMs.push(now);
    this.probeFailures = 0;
    return { action: 'restart', attempt, sentence: `${this.downReason}; restarting it (attempt ${attempt} of ${this.maxRestarts} within ${windowS} s)` };
  }
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? line.slice(0, 300) + '…' : line;
}
