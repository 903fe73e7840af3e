/**
 * The reconciler's step runner and loop: steps run in order until one stops; each sentence is kept, the sentences of
 * steps that acted are reported; a throwing step ends the reconcile with its name in the error; every step is a
 * fault point (`runtime.<kebab-step>`); and the loop runs one reconcile at a time per resource, running again when kicked
 * meanwhile.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { enableFaults, InjectedFault } from '../../src/core/faults.js';
import { acted, done, faultPointOf, halt, ReconcileLoop, runSteps, type EnsureStep } from '../../src/runtime/reconciler.js';

interface Ctx {
  log: string[];
  stopAt?: string;
}

const step = (name: string, kind: 'done' | 'acted' = 'done'): EnsureStep<Ctx> => ({
  name,
  async run(c) {
    c.log.push(name);
    if (c.stopAt === name) return halt(`${name} must wait`);
    return kind === 'acted' ? acted(`${name} did it`) : done(`${name} already true`);
  },
});

describe('runSteps', () => {
  it('runs the steps in order, reports those that acted, and stops where a step says so', async () => {
    const steps = [step('ensureA'), step('ensureB', 'acted'), step('ensureC'), step('ensureD')];
    const reported: string[] = [];
    const c: Ctx = { log: [], stopAt: 'ensureC' };
    const r = await runSteps('db-1', steps, c, (name, s) => reported.push(`${name}: ${s}`));
    assert.deepEqual(c.log, ['ensureA', 'ensureB', 'ensureC']);
    assert.deepEqual(reported, ['ensureB: ensureB did it']);
    assert.deepEqual(r.sentences, ['ensureA: ensureA already true', 'ensureB: ensureB did it', 'ensureC: ensureC must wait']);
    assert.equal(r.summary, 'ensureC must wait');
  });

  it('names the failing step in the error and runs no later step', async () => {
    const boom: EnsureStep<Ctx> = {
      name: 'ensureProcess',
      async run() {
        throw new Error('engine exited during startup');
      },
    };
    const c: Ctx = { log: [] };
    await assert.rejects(runSteps('db-1', [step('ensureA'), boom, step('ensureZ')], c), /^Error: while ensureProcess db-1: engine exited during startup$/);
    assert.deepEqual(c.log, ['ensureA']);
  });

  it('makes every step a fault point (runtime.<kebab-step>)', async () => {
    assert.equal(faultPointOf('ensureDataDir'), 'runtime.ensure-data-dir');
    enableFaults('runtime.ensure-b@2=throw');
    try {
      const steps = [step('ensureA'), step('ensureB'), step('ensureC')];
      const c: Ctx = { log: [] };
      await runSteps('db-1', steps, c);
      await assert.rejects(runSteps('db-1', steps, c), (e: Error) => e.cause instanceof InjectedFault && /while ensureB db-1: fault injected at runtime.ensure-b step 2/.test(e.message));
      assert.deepEqual(c.log, ['ensureA', 'ensureB', 'ensureC', 'ensureA']);
      await runSteps('db-1', steps, c);
      assert.equal(c.log.length, 7, 'the fault fired once, as planned');
    } finally {
      enableFaults('runtime.none@1=throw');
    }
  });
});

describe('ReconcileLoop', () => {
  it('runs one reconcile at a time per resource, and once more when kicked meanwhile', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const loop = new ReconcileLoop({
      name: 'test',
      intervalMs: 60_000,
      keys: () => ['k'],
      reconcile: async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) await gate;
        running--;
        return `run ${runs}`;
      },
    });
    loop.kick('k');
    await new Promise((r) => setImmediate(r));
    loop.kick('k');
    loop.kick('k');
    assert.equal(loop.busy('k'), true);
    release();
    for (let i = 0; i < 20 && (runs < 2 || loop.busy('k')); i++) await new Promise((r) => setImmediate(r));
    assert.equal(runs, 2, 'kicks during a run ask for exactly one more');
    assert.equal(maxRunning, 1);
    assert.equal(loop.lastDecision.get('k'), 'run 2');
    await loop.stop(1000, () => false);
    loop.kick('k');
    await new Promise((r) => setImmediate(r));
    assert.equal(runs, 2, 'a stopped loop starts nothing');
  });

  it('forgets what it kept about a resource once the resource is gone', async () => {
    let keys = ['a', 'b'];
    const loop = new ReconcileLoop({ name: 'test', intervalMs: 60_000, keys: () => keys, reconcile: async (key) => `${key} fine` });
    loop.tick();
    for (let i = 0; i < 10 && loop.lastDecision.size < 2; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual([...loop.lastDecision.keys()].sort(), ['a', 'b']);
    keys = ['a'];
    loop.tick();
    for (let i = 0; i < 10 && (loop.busy('a') || loop.busy('b')); i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual([...loop.lastDecision.keys()], ['a']);
    await loop.stop(1000, () => false);
  });
});
