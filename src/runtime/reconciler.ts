/**
 * @module runtime/reconciler
 * One reconciler per resource: a short ordered list of idempotent ensure-steps (ensure data directory, ensure
 * configuration, ensure process, ensure users, ensure TLS, ensure backups …), run in order until one says the
 * reconcile cannot go further now. Each step returns one sentence saying what it decided and why; the runner logs
 * it and hands the sentences of steps that acted to `report` (the resource's events).
 *
 * Crash safety is the steps' own: each reads the record afresh, checks what is already true before acting, and
 * writes its observation when done, so a Cellar killed at any step finds the work half done and the same step
 * finishes it on the next start. Every step is a fault point (`runtime.ensure-data-dir` for ensureDataDir, see
 * core/faults.ts), which the
 * runtime tests use to crash at each one in turn.
 *
 * `ReconcileLoop` schedules reconciles: one at a time per resource (a kick during a run asks for another run
 * after it), other resources served meanwhile; failures back off before the next try.
 */
import { faultPoint } from '../core/faults.js';
import { log } from '../core/log.js';
import { withContext } from '../core/errors.js';

/**
 * What a step decided: `continue` to the next step; `stop` here (acted and wants a fresh look, or must wait); or
 * `rest`: the resource is as asked and the later steps do not apply to it (a stopped instance).
 */
export interface StepOutcome {
  next: 'continue' | 'stop' | 'rest';
  /** One sentence: what was decided and why. */
  sentence: string;
  /** Whether the step changed something (its sentence then goes to the events). */
  acted: boolean;
}

export const done = (sentence: string): StepOutcome => ({ next: 'continue', sentence, acted: false });
export const acted = (sentence: string, next: 'continue' | 'stop' = 'continue'): StepOutcome => ({ next, sentence, acted: true });
export const halt = (sentence: string): StepOutcome => ({ next: 'stop', sentence, acted: false });
export const rest = (sentence: string): StepOutcome => ({ next: 'rest', sentence, acted: false });

/** The fault point of a step: `ensureDataDir` → `runtime.ensure-data-dir` (CELLAR_FAULTS names are lower case). */
export function faultPointOf(stepName: string): string {
  return `runtime.${stepName.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;
}

export interface EnsureStep<C> {
  /** Names the step in logs, errors and fault points (`runtime.<kebab-name>`, see faultPointOf). */
  readonly name: string;
  run(ctx: C): Promise<StepOutcome>;
}

export interface ReconcileResult {
  /** The sentences of the steps that ran, in order. */
  sentences: string[];
  /** The one-sentence summary: the last step that acted or stopped, else that every step found its part done. */
  summary: string;
  /** Every step ran, or one said the resource rests as asked: desired and observed agree. */
  converged: boolean;
}

/**
 * Runs `steps` in order. A step that throws ends the reconcile with its error, in context ("while ensureProcess
 * db-1: …"); the caller decides about retries.
 */
export async function runSteps<C>(label: string, steps: ReadonlyArray<EnsureStep<C>>, ctx: C, report?: (step: string, sentence: string) => void): Promise<ReconcileResult> {
  const sentences: string[] = [];
  let summary = '';
  let converged = true;
  for (const step of steps) {
    let out: StepOutcome;
    try {
      faultPoint(faultPointOf(step.name));
      out = await step.run(ctx);
    } catch (e) {
      throw withContext(`${step.name} ${label}`, e);
    }
    sentences.push(`${step.name}: ${out.sentence}`);
    if (out.acted) {
      log('info', 'reconcile step', { resource: label, step: step.name, decision: out.sentence });
      report?.(step.name, out.sentence);
    }
    if (out.acted || out.next !== 'continue') summary = out.sentence;
    if (out.next !== 'continue') {
      converged = out.next === 'rest' && !out.acted;
      break;
    }
  }
  return { sentences, summary: summary || `all ${steps.length} steps found their part as asked`, converged };
}

export interface ReconcileLoopOptions {
  /** Names the loop's log lines (`<name> reconcile`, `<name> reconcile failed`), e.g. the service. */
  name: string;
  /** Runs one reconcile of a resource; returns its summary sentence (undefined: the resource is gone). */
  reconcile(key: string): Promise<string | undefined>;
  /** Keys of every resource, for the health tick. */
  keys(): Iterable<string>;
  intervalMs: number;
  /** Called on each tick before the resources are kicked (housekeeping). */
  onTick?: () => void;
}

/** Errors a reconcile throws when the resource moved under it: not failures, just a reason to look again. */
export class MovedOn extends Error {}

export class ReconcileLoop {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly notBeforeMs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The last sentence each resource's reconciler returned (health output, tests). */
  readonly lastDecision = new Map<string, string>();

  constructor(private readonly o: ReconcileLoopOptions) {}

  start(): void {
    for (const key of this.o.keys()) this.kick(key);
    this.timer = setInterval(() => this.tick(), this.o.intervalMs);
    this.timer.unref();
  }

  /** Stops scheduling; resolves once the runs in flight ended or `waitMs` passed. */
  async stop(waitMs: number, hurried: () => boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + waitMs;
    while (this.inFlight.size && !hurried() && Date.now() < deadline) await Promise.race([...this.inFlight.values(), new Promise((r) => setTimeout(r, 100))]);
  }

  busy(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** The health loop leaves the resource alone until then (a failed action backs off). */
  backOff(key: string, untilMs: number | undefined): void {
    if (untilMs === undefined) this.notBeforeMs.delete(key);
    else this.notBeforeMs.set(key, untilMs);
  }

  forget(key: string): void {
    this.lastDecision.delete(key);
    this.notBeforeMs.delete(key);
  }

  /** Asks for a reconcile of `key` now, or right after the one in flight. */
  kick(key: string): void {
    if (this.stopped) return;
    if (this.inFlight.has(key)) {
      this.again.add(key);
      return;
    }
    const run = (async () => {
      // Yield first: inFlight must hold this run before the reconcile can kick the same resource again.
      await Promise.resolve();
      try {
        const sentence = await this.o.reconcile(key);
        if (sentence) {
          const prev = this.lastDecision.get(key);
          this.lastDecision.set(key, sentence);
          log(prev === sentence ? 'debug' : 'info', `${this.o.name} reconcile`, { resource: key, decision: sentence });
        }
      } catch (e) {
        if (!(e instanceof MovedOn)) log('error', `${this.o.name} reconcile failed`, { resource: key, error: (e as Error).message });
      } finally {
        this.inFlight.delete(key);
        if (this.again.delete(key)) this.kick(key);
      }
    })();
    this.inFlight.set(key, run);
  }

  /** One health tick: every resource not busy and not backing off gets a reconcile. */
  tick(): void {
    try {
      this.o.onTick?.();
    } catch (e) {
      log('error', 'reconcile tick housekeeping failed', { error: (e as Error).message });
    }
    const now = Date.now();
    const keys = new Set(this.o.keys());
    for (const key of keys) {
      if ((this.notBeforeMs.get(key) ?? 0) > now) continue;
      if (!this.inFlight.has(key)) this.kick(key);
    }
    // What is kept per resource goes with the resource, so these maps stay as large as the set of resources.
    for (const key of this.lastDecision.keys()) if (!keys.has(key) && !this.inFlight.has(key)) this.forget(key);
    for (const key of this.notBeforeMs.keys()) if (!keys.has(key)) this.notBeforeMs.delete(key);
  }
}
