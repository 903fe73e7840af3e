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
 *
 * Without test hooks the plan is never read, and `faultPoint` is one comparison.
 */
export type FaultAction = 'throw' | 'kill';

interface Fault {
  at: number;
  andAfter: boolean;
  action: FaultAction;
}

let plan: Map<string, Fault> | undefined;
const counts = new Map<string, number>();

export class InjectedFault extends Error {}

/** Reads a plan (the CELLAR_FAULTS syntax); malformed entries are refused, so a test cannot silently inject nothing. */
export function enableFaults(spec: string | undefined): void {
  if (!spec) return;
  const next = new Map<string, Fault>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9.-]*)@(\d{1,6})(\+?)=(throw|kill)$/.exec(part);
    if (!m) throw new Error(`CELLAR_FAULTS: cannot read ${JSON.stringify(part)} (job@step[+]=throw|kill)`);
    next.set(m[1]!, { at: Number(m[2]), andAfter: m[3] === '+', action: m[4] as FaultAction });
  }
  plan = next;
}

/** Called at the start of each step of a background job. */
export function faultPoint(job: string): void {
  if (plan === undefined) return;
  const fault = plan.get(job);
  if (!fault) return;
  const n = (counts.get(job) ?? 0) + 1;
  counts.set(job, n);
  if (n < fault.at || (n > fault.at && !fault.andAfter)) return;
  if (fault.action === 'kill') process.kill(process.pid, 'SIGKILL');
  throw new InjectedFault(`fault injected at ${job} step ${n}`);
}
