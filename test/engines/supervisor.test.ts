/**
 * The supervisor's decisions, replayed with a fake engine, a manual clock and manual timers: restart with doubling
 * backoff, retry failed restarts, give up after the bound, forget old restarts outside the window, stop cleanly.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import type { ExitStatus } from '../../src/engines/host.js';
import { EngineSupervisor, type Timers } from '../../src/engines/supervisor.js';

class FakeEngine {
  readonly spec = { engine: 'postgres', name: 'db-1' };
  private listener: ((s: ExitStatus) => void) | undefined;
  starts = 0;
  failNextStarts = 0;
  onUnexpectedExit(l: (s: ExitStatus) => void) {
    this.listener = l;
    return () => (this.listener = undefined);
  }
  crash() {
    this.listener?.({ code: null, signal: 'SIGKILL' });
  }
  async start() {
    this.starts++;
    if (this.failNextStarts > 0) {
      this.failNextStarts--;
      throw new Error('while starting postgres db-1: engine exited during startup (exit code 1)\nlog...');
    }
  }
}

class ManualTimers implements Timers {
  pending: Array<{ fn: () => void; ms: number; id: number }> = [];
  private next = 1;
  constructor(private readonly clock: ManualClock) {}
  setTimeout(fn: () => void, ms: number) {
    const id = this.next++;
    this.pending.push({ fn, ms, id });
    return id;
  }
  clearTimeout(id: unknown) {
    this.pending = this.pending.filter((t) => t.id !== id);
  }
  /** Fires the one pending timer after moving the clock, then lets the restart promise settle. */
  async fire(): Promise<number> {
    assert.equal(this.pending.length, 1, 'exactly one pending timer');
    const t = this.pending.shift()!;
    this.clock.advance(t.ms);
    t.fn();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    return t.ms;
  }
}

function setup(options: { maxRestarts?: number; windowMs?: number } = {}) {
  const clock = new ManualClock();
  const timers = new ManualTimers(clock);
  const engine = new FakeEngine();
  const sentences: string[] = [];
  const gaveUp: string[] = [];
  const sup = new EngineSupervisor(engine, {
    clock,
    timers,
    initialBackoffMs: 100,
    maxBackoffMs: 1000,
    maxRestarts: options.maxRestarts ?? 3,
    windowMs: options.windowMs ?? 60_000,
    report: (s) => sentences.push(s),
    onGiveUp: (s) => gaveUp.push(s),
  });
  sup.watch();
  return { clock, timers, engine, sentences, gaveUp, sup };
}

describe('engine supervisor', () => {
  it('restarts after an unexpected exit and says so', async () => {
    const { timers, engine, sentences, sup } = setup();
    engine.crash();
    assert.equal(sup.state, 'restarting');
    assert.equal(sentences[0], 'postgres db-1 exited unexpectedly (signal SIGKILL); restarting in 100 ms (attempt 1 of 3 within 60 s)');
    assert.equal(await timers.fire(), 100);
    assert.equal(engine.starts, 1);
    assert.equal(sup.state, 'watching');
    assert.match(sentences[1]!, /^restarted postgres db-1 in \d+ ms \(attempt 1\)$/);
  });

  it('doubles the backoff, retries failed restarts and gives up at the bound', async () => {
    const { timers, engine, sentences, gaveUp, sup } = setup({ maxRestarts: 3 });
    engine.failNextStarts = 10;
    engine.crash();
    assert.equal(await timers.fire(), 100);
    assert.match(sentences.at(-1)!, /^restart 1 of postgres db-1 failed \(while starting postgres db-1: engine exited during startup \(exit code 1\)\); restarting in 200 ms/);
    assert.equal(await timers.fire(), 200);
    assert.equal(await timers.fire(), 400);
    assert.equal(sup.state, 'gave-up');
    assert.equal(engine.starts, 3);
    assert.equal(timers.pending.length, 0, 'no timer left behind');
    assert.equal(gaveUp.length, 1);
    assert.match(gaveUp[0]!, /giving up after 3 attempts within 60 s/);
    engine.crash(); // no longer watched
    assert.equal(timers.pending.length, 0);
  });

  it('forgets restarts older than the window', async () => {
    const { clock, timers, engine, sup } = setup({ maxRestarts: 2, windowMs: 10_000 });
    engine.crash();
    await timers.fire();
    engine.crash();
    await timers.fire();
    clock.advance(11_000);
    engine.crash();
    assert.equal(sup.state, 'restarting', 'the two earlier restarts are outside the window');
    assert.equal(await timers.fire(), 100, 'backoff starts over');
  });

  it('gives up immediately when crashes come too often', async () => {
    const { timers, engine, gaveUp, sup } = setup({ maxRestarts: 1 });
    engine.crash();
    await timers.fire();
    engine.crash();
    assert.equal(sup.state, 'gave-up');
    assert.match(gaveUp[0]!, /not restarting: already restarted 1 times within 60 s/);
  });

  it('cancels a pending restart when stopped', () => {
    const { timers, engine, sup } = setup();
    engine.crash();
    assert.equal(timers.pending.length, 1);
    sup.stop();
    assert.equal(timers.pending.length, 0);
    assert.equal(sup.state, 'stopped');
    engine.crash();
    assert.equal(timers.pending.length, 0);
  });
});

describe('EngineSupervisor listeners', () => {
  it('reports each exit before the restart and each successful restart; a throwing listener changes nothing', async () => {
    const clock = new ManualClock();
    const timers = new ManualTimers(clock);
    const engine = new FakeEngine();
    const calls: string[] = [];
    const sup = new EngineSupervisor(engine, {
      clock,
      timers,
      initialBackoffMs: 100,
      maxRestarts: 3,
      onExit: (status, sentence) => {
        calls.push(`exit ${status.signal}: ${sentence}`);
        throw new Error('listener bug');
      },
      onRestarted: (sentence) => calls.push(`restarted: ${sentence}`),
    });
    sup.watch();
    engine.crash();
    assert.deepEqual(calls, ['exit SIGKILL: postgres db-1 exited unexpectedly (signal SIGKILL)']);
    assert.equal(sup.state, 'restarting');
    await timers.fire();
    assert.equal(calls.length, 2);
    assert.match(calls[1]!, /^restarted: restarted postgres db-1 in \d+ ms \(attempt 1\)$/);
    assert.equal(sup.state, 'watching');
    sup.stop();
  });
});
