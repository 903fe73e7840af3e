/**
 * The health decider's decisions, replayed on a manual clock. Each cause of a restart has its own bound: crashes are
 * restarted at once, repeated ones after a doubling backoff, and past the bound it gives up; hung engines (probes
 * unanswered) are declared down after the set number of failed probes and restarted at once, within their own
 * bound; failed restarts are retried after a doubling backoff, and after a few in a row it gives up. Restarts
 * outside the window are forgotten; a decider that gave up decides nothing more until reset (a user's reboot).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { HealthDecider, type DeciderOptions, type ProbeOutcome } from '../../src/runtime/decider.js';

const healthy = async (): Promise<ProbeOutcome> => ({ ok: true });
const hung = async (): Promise<ProbeOutcome> => ({ ok: false, reason: 'no answer to a query' });

function setup(options: DeciderOptions = {}) {
  // A clock that moves only when told: backoffs are then exact.
  const clock = new ManualClock({ now: () => 1_000_000 });
  const decider = new HealthDecider('postgres db-1', { maxRestarts: 3, maxHangRestarts: 2, maxFailedRestarts: 3, windowMs: 60_000, initialBackoffMs: 1000, maxBackoffMs: 30_000, probeEveryMs: 5000, probeFailuresBeforeRestart: 3, clock, ...options });
  return { clock, decider };
}

describe('HealthDecider', () => {
  it('restarts a crashed engine at once, a repeated crash after a doubling backoff, and gives up past the bound', async () => {
    const { clock, decider } = setup();
    decider.noteExit('signal SIGKILL');
    assert.deepEqual(await decider.decide(healthy), { action: 'restart', sentence: 'postgres db-1 exited unexpectedly (signal SIGKILL); restarting it (crash restart 1 of 3 within 60 s)' });
    decider.noteRunning();
    assert.equal(decider.state, 'healthy');

    decider.noteExit('exit code 1');
    assert.deepEqual(await decider.decide(healthy), { action: 'wait', retryInMs: 1000, sentence: 'postgres db-1 exited unexpectedly (exit code 1); restarting in 1000 ms (crash restart 2 of 3 within 60 s)' });
    clock.advance(400);
    const later = await decider.decide(healthy);
    assert.equal(later.action === 'wait' && later.retryInMs, 600);
    clock.advance(600);
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteRunning();
    decider.noteExit('signal SIGSEGV');
    clock.advance(2000);
    assert.equal((await decider.decide(healthy)).action, 'restart', 'the third after 2 s');
    decider.noteRunning();
    decider.noteExit('signal SIGKILL');
    assert.deepEqual(await decider.decide(healthy), { action: 'give-up', sentence: 'postgres db-1 exited unexpectedly (signal SIGKILL); not restarting: already restarted 3 times for a crash within 60 s' });
    assert.equal(decider.state, 'gave-up');
    decider.noteExit('signal SIGKILL');
    decider.noteRunning();
    assert.equal(decider.state, 'gave-up', 'a decider that gave up stays so');
    assert.equal((await decider.decide(healthy)).action, 'none');
    decider.reset();
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'restart', 'a reset (the user rebooted) starts afresh');
  });

  it('forgets crash restarts older than the window', async () => {
    const { clock, decider } = setup({ maxRestarts: 1, windowMs: 10_000 });
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteRunning();
    clock.advance(10_001);
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'restart');
  });

  it('probes only when one is due; a hung engine is down after three failed probes in a row and restarted at once, within its own bound', async () => {
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
    assert.deepEqual(await decider.decide(counting), { action: 'restart', sentence: 'postgres db-1 did not answer 3 probes in a row (no answer to a query); restarting it (hang restart 1 of 2 within 60 s)' });
    assert.equal(probes, 3);
    decider.noteRunning();
    for (let i = 0; i < 3; i++) {
      clock.advance(5000);
      await decider.decide(hung);
    }
    decider.noteRunning();
    for (let i = 0; i < 3; i++) {
      clock.advance(5000);
      await decider.decide(hung);
    }
    assert.equal(decider.state, 'gave-up', 'the third hang within the window is past the bound of 2');
  });

  it('a good probe clears earlier failures; an engine found not running is a crash, restarted at once', async () => {
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
    assert.deepEqual(await decider.decide(async () => ({ ok: false, reason: 'not running' })), { action: 'restart', sentence: 'postgres db-1 is not running; restarting it (crash restart 1 of 3 within 60 s)' });
  });

  it('retries a failed restart after 1 s, then 2 s, and gives up after three failures in a row', async () => {
    const { clock, decider } = setup();
    decider.noteExit('signal SIGKILL');
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteRestartFailed('while starting postgres db-1: engine exited during startup\nlog…');
    assert.deepEqual(await decider.decide(healthy), {
      action: 'wait',
      retryInMs: 1000,
      sentence: 'restart 1 of postgres db-1 failed (while starting postgres db-1: engine exited during startup); restarting in 1000 ms (attempt 2 of 3)',
    });
    clock.advance(1000);
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteRestartFailed('again');
    clock.advance(1999);
    assert.equal((await decider.decide(healthy)).action, 'wait');
    clock.advance(1);
    assert.equal((await decider.decide(healthy)).action, 'restart');
    decider.noteRestartFailed('and again');
    assert.deepEqual(await decider.decide(healthy), { action: 'give-up', sentence: 'restart 3 of postgres db-1 failed (and again); not restarting: 3 restarts failed in a row' });
  });
});
