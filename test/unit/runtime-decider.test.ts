/**
 * The health decider's decisions, replayed on a manual clock: a crash is restarted at once, later ones after a
 * doubling backoff; a failed restart counts like a crash; past the bound it gives up (once, and stays so); restarts
 * outside the window are forgotten; a hung engine is declared down after the set number of failed probes; a reset
 * (a user's reboot) starts afresh.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { HealthDecider, type ProbeOutcome } from '../../src/runtime/decider.js';

const healthy = async (): Promise<ProbeOutcome> => ({ ok: true });
const hung = async (): Promise<ProbeOutcome> => ({ ok: false, reason: 'no answer to a query' });

function setup(options: { maxRestarts?: number; windowMs?: number } = {}) {
  const clock = new ManualClock();
  const decider = new HealthDecider('postgres db-1', { maxRestarts: 3, windowMs: 60_000, initialBackoffMs: 200, maxBackoffMs: 1000, probeEveryMs: 5000, probeFailuresBeforeRestart: 3, clock, ...options });
  return { clock, decider };
}

describe('HealthDecider', () => {
  it('restarts a crashed engine at once, then after a doubling backoff, then gives up past the bound', async () => {
    const { clock, decider } = setup();
    decider.noteExit('signal SIGKILL');
    const first = await decider.decide(healthy);
    assert.deepEqual(first, { action: 'restart', attempt: 1, sentence: 'postgres db-1 exited unexpectedly (signal SIGKILL); restarting it (attempt 1 of 3 within 60 s)' });
    decider.noteRunning();
    assert.equal(decider.state, 'healthy');

    decider.noteExit('exit code 1');
    const waiting = await decider.decide(healthy);
    assert.equal(waiting.action, 'wait');
    assert.equal(waiting.action === 'wait' && waiting.retryInMs, 200);
    clock.advance(200);
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteRestartFailed('while starting postgres db-1: engine exited during startup\nlog…');
    const again = await decider.decide(healthy);
    assert.equal(again.action, 'wait');
    assert.match(again.sentence, /^restart of postgres db-1 failed \(while starting postgres db-1: engine exited during startup\); restarting in 400 ms$/);
    clock.advance(400);
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteExit('signal SIGSEGV');
    const gaveUp = await decider.decide(healthy);
    assert.deepEqual(gaveUp, { action: 'give-up', sentence: 'postgres db-1 exited unexpectedly (signal SIGSEGV); not restarting: already restarted 3 times within 60 s' });
    assert.equal(decider.state, 'gave-up');
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'none', 'a decider that gave up decides nothing more');
    decider.reset();
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'restart', 'a reset (the user rebooted) starts afresh');
  });

  it('forgets restarts older than the window', async () => {
    const { clock, decider } = setup({ maxRestarts: 1, windowMs: 10_000 });
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteRunning();
    clock.advance(10_001);
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'restart');
  });

  it('probes only when a probe is due, and declares a hung engine down after three failed probes in a row', async () => {
    const { clock, decider } = setup();
    let probes = 0;
    const counting = async () => {
      probes++;
      return hung();
    };
    decider.noteRunning();
    assert.equal((await decider.decide(counting)).action, 'none');
    assert.equal(probes, 0, 'no probe before one is due');
    for (let i = 1; i <= 2; i++) {
      clock.advance(5000);
      const d = await decider.decide(counting);
      assert.equal(d.action, 'none');
      assert.match(d.sentence, new RegExp(`did not answer a probe \\(${i} of 3\\)`));
    }
    clock.advance(5000);
    const d = await decider.decide(counting);
    assert.deepEqual(d, { action: 'restart', attempt: 1, sentence: 'postgres db-1 did not answer 3 probes in a row (no answer to a query); restarting it (attempt 1 of 3 within 60 s)' });
    assert.equal(probes, 3);
  });

  it('a good probe clears earlier failures; an engine found not running is down at once', async () => {
    const { clock, decider } = setup();
    clock.advance(5000);
    await decider.decide(hung);
    clock.advance(5000);
    await decider.decide(hung);
    clock.advance(5000);
    assert.equal((await decider.decide(healthy)).action, 'none');
    clock.advance(5000);
    assert.equal((await decider.decide(hung)).action, 'none', 'the count started again');
    clock.advance(5000);
    const gone = await decider.decide(async () => ({ ok: false, reason: 'not running' }));
    assert.deepEqual(gone, { action: 'restart', attempt: 1, sentence: 'postgres db-1 is not running; restarting it (attempt 1 of 3 within 60 s)' });
  });
});
