/**
 * @module services/scheduler
 * The periodic loop behind a service's schedules (KMS rotation and deletion, Secrets Manager rotation
 * and deletion, RDS maintenance). Each tick returns one sentence saying what it decided, or '' when
 * nothing was due; the loop logs it. A tick that throws is logged and the loop goes on.
 */
import { log } from '../core/log.js';

export interface Scheduler {
  /** Runs one tick now (catch-up at start), then every intervalMs. */
  start(): void;
  stop(): void;
}

export function periodic(name: string, intervalMs: number, tick: () => string): Scheduler {
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    try {
      const decided = tick();
      if (decided) log('info', `${name} scheduler`, { decided });
    } catch (e) {
      log('error', `${name} scheduler failed`, { error: e instanceof Error ? e.message : String(e) });
    }
  };
  return {
    start() {
      run();
      timer = setInterval(run, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
