/**
 * @module core/faults
 * Fault injection for the crash-at-every-step tests: background jobs call `faultPoint(job)` at the start of each
 * step, and a test that starts Cellar with test hooks on (--allow-clock-control) and `CELLAR_FAULTS` set makes a
 * chosen step throw, or kill the whole process, to show that a job failing or dying at any step fails that job,
 * never the process, and that the next start finishes it or records its failure.
 *
 *   CELLAR_FAULTS="dynamodb.backfill@3=kill"        the 3rd backfill step: SIGKILL this process
 *   CELLAR_FAULTS="secretsmanager.rotation@2=throw"  the 2nd rotation step throws
 *   CELLAR_FAULTS="dynamodb.backfill@2+=throw"      every backfill step from the 2nd on throws
 *   CELLAR_FAULTS="dynamodb.transaction.hold@1=delay:2000"  the 1st write transaction holds its items 2 s
 *
 * A delay is for points that can wait (`faultDelayMs`): it shows what concurrent requests see meanwhile.
 *
 * Without test hooks the plan is never read, and `faultPoint` is one comparison.
 */
export type FaultAction = 'throw' | 'kill' | 'delay';

interface Fault {
  at: number;
  andAfter: boolean;
  action: FaultAction;
  /** For 'delay': how long. */
  delayMs: number;
}

let plan: Map<string, Fault> | undefined;
const counts = new Map<string, number>();

export class InjectedFault extends Error {}

/** Reads a plan (the CELLAR_FAULTS syntax); malformed entries are refused, so a test cannot silently inject nothing. */
export function enableFaults(spec: string | undefined): void {
  if (!spec) return;
  const next = new Map<string, Fault>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9.-]*)@(\d{1,6})(\+?)=(throw|kill|delay:(\d{1,6}))$/.exec(part);
    if (!m) throw new Error(`CELLAR_FAULTS: cannot read ${JSON.stringify(part)} (job@step[+]=throw|kill|delay:<ms>)`);
    const action = (m[5] !== undefined ? 'delay' : m[4]) as FaultAction;
    next.set(m[1]!, { at: Number(m[2]), andAfter: m[3] === '+', action, delayMs: m[5] !== undefined ? Number(m[5]) : 0 });
  }
  plan = next;
}

/** Called at the start of each step of a background job. */
export function faultPoint(job: string): void {
  faultDelayMs(job);
}

/**
 * Called at a point that can wait: how long to wait there (0 unless a delay is planned for this step);
 * a planned throw or kill happens as at faultPoint.
 */
export function faultDelayMs(job: string): number {
  if (plan === undefined) return 0;
  const fault = plan.get(job);
  if (!fault) return 0;
  const n = (counts.get(job) ?? 0) + 1;
  counts.set(job, n);
  if (n < fault.at || (n > fault.at && !fault.andAfter)) return 0;
  if (fault.action === 'delay') return fault.delayMs;
  if (fault.action === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new InjectedFault(`fault injected at ${job} step ${n}`);
}
