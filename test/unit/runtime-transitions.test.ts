/**
 * The runtime's one transition table: every status derived from (desired, observed), the events each move emits, and
 * whole lifecycles replayed as the API and the reconciler would write them, including after a Cellar restart.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arrivalEvents, deriveStatus, initialState, TRANSITION_TABLE, type DesiredState, type ObservedState, type ResourceStatus } from '../../src/runtime/transitions.js';
import { settleStatus, type RuntimeFields } from '../../src/runtime/resource.js';

function state(d: Partial<DesiredState> = {}, o: Partial<ObservedState> = {}) {
  const s = initialState();
  return { d: { ...s.desired, ...d }, o: { ...s.observed, created: true, engine: 'running' as const, ...o } };
}
const status = (d: Partial<DesiredState>, o: Partial<ObservedState>) => {
  const s = state(d, o);
  return deriveStatus(s.d, s.o).status;
};

describe('transition table', () => {
  it('derives every status from desired and observed', () => {
    const cases: Array<[ResourceStatus, Partial<DesiredState>, Partial<ObservedState>]> = [
      ['creating', {}, { created: false, engine: 'detached' }],
      ['available', {}, {}],
      ['stopping', { running: false }, {}],
      ['stopped', { running: false }, { engine: 'stopped' }],
      ['starting', { running: true }, { engine: 'stopped' }],
      ['rebooting', { rebootGeneration: 1 }, {}],
      ['rebooting', {}, { engine: 'down' }],
      ['rebooting', {}, { engine: 'detached' }],
      ['modifying', { modifying: true }, {}],
      ['modifying', { modifying: true }, { engine: 'down' }],
      ['resetting-master-credentials', { credentialsPending: true }, {}],
      ['storage-full', {}, { storageFull: true }],
      ['backing-up', {}, { backingUp: true }],
      ['storage-full', {}, { storageFull: true, backingUp: true }],
      ['rebooting', { rebootGeneration: 1 }, { backingUp: true }],
      ['deleting', { deleted: true, running: false }, {}],
      ['deleting', { deleted: true }, { created: false }],
      ['failed', { generation: 3 }, { failed: { generation: 3, reason: 'x' } }],
      ['deleting', { generation: 4, deleted: true }, { failed: { generation: 3, reason: 'x' } }],
      ['rebooting', { generation: 4, rebootGeneration: 1 }, { failed: { generation: 3, reason: 'x' } }],
    ];
    for (const [want, d, o] of cases) assert.equal(status(d, o), want, `desired ${JSON.stringify(d)} observed ${JSON.stringify(o)}`);
  });

  it('every status is reachable through some row, and the last row always matches', () => {
    const statuses = new Set(TRANSITION_TABLE.map((r) => r.status));
    for (const s of ['creating', 'available', 'modifying', 'rebooting', 'resetting-master-credentials', 'stopping', 'stopped', 'starting', 'deleting', 'storage-full', 'backing-up', 'failed'] as const) assert.ok(statuses.has(s), s);
    assert.equal(TRANSITION_TABLE.at(-1)!.when(initialState().desired, initialState().observed), true);
  });

  it("emits RDS's events on arrival, by the observation that caused the move", () => {
    const o = state().o;
    assert.deepEqual(arrivalEvents('creating', 'available', o), ['created']);
    assert.deepEqual(arrivalEvents('available', 'rebooting', { ...o, engine: 'down' }), ['shutdown']);
    assert.deepEqual(arrivalEvents('available', 'rebooting', { ...o, engine: 'detached' }), [], 'a takeover is no shutdown');
    assert.deepEqual(arrivalEvents('rebooting', 'available', o), ['restarted']);
    assert.deepEqual(arrivalEvents('starting', 'available', o), ['started']);
    assert.deepEqual(arrivalEvents('stopping', 'stopped', o), ['stopped']);
    assert.deepEqual(arrivalEvents('available', 'storage-full', o), ['storageExhausted']);
    assert.deepEqual(arrivalEvents('rebooting', 'storage-full', o), ['restarted', 'storageExhausted']);
    assert.deepEqual(arrivalEvents('modifying', 'failed', o), ['failed']);
    assert.deepEqual(arrivalEvents('available', 'available', o), []);
  });

  it('replays a lifecycle: each API write and observation moves the status once, with its events', () => {
    const s = initialState();
    const rec: RuntimeFields = { desired: { generation: 1, running: true, deleted: false, rebootGeneration: 0 }, observed: s.observed, members: [], status: 'creating', statusSinceMs: 0 };
    const seen: string[] = [];
    const settle = (t: number) => {
      const m = settleStatus(rec, { ...rec.desired, modifying: false, credentialsPending: false }, t);
      if (m.from !== m.to) seen.push(`${m.to}${m.events.length ? ` [${m.events.join(',')}]` : ''}`);
    };
    settle(0);
    rec.observed.created = true; // ensureDataDir
    rec.observed.engine = 'running';
    settle(1);
    rec.desired.running = false; // StopDBInstance
    rec.desired.generation++;
    settle(2);
    rec.observed.engine = 'stopped'; // ensureStopped
    settle(3);
    rec.desired.running = true; // StartDBInstance
    rec.desired.generation++;
    settle(4);
    rec.observed.engine = 'running'; // ensureProcess
    settle(5);
    rec.observed.engine = 'down'; // the engine crashed
    settle(6);
    rec.observed.engine = 'running'; // the decider ordered a restart; ensureProcess did it
    settle(7);
    rec.observed.engine = 'detached'; // Cellar restarted (takeOver)
    settle(8);
    rec.observed.engine = 'running';
    settle(9);
    rec.observed.failed = { generation: rec.desired.generation, reason: 'gave up' }; // the decider gave up
    settle(10);
    rec.desired.deleted = true; // DeleteDBInstance
    rec.desired.generation++;
    settle(11);
    assert.deepEqual(seen, ['available [created]', 'stopping', 'stopped [stopped]', 'starting', 'available [started]', 'rebooting [shutdown]', 'available [restarted]', 'rebooting', 'available [restarted]', 'failed [failed]', 'deleting']);
    assert.equal(rec.statusSinceMs, 11);
  });
});
