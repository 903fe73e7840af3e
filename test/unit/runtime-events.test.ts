/**
 * The runtime's event log is bounded: events older than RDS's 14 days are pruned, a scope never keeps more than its
 * bound (the oldest go first), pruning is per scope (another account's events are untouched), and one pass deletes
 * at most its budget.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Scope } from '../../src/core/scope.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { JsonTable } from '../../src/storage/store.js';
import { EVENT_RETENTION_MS, EventLog } from '../../src/runtime/events.js';

interface Ev {
  message: string;
  dateMs: number;
}

function setup(options = {}) {
  const store = new SqliteStore({ path: ':memory:' });
  const log = new EventLog<Ev>(store, new JsonTable<Ev>(store.keyspace('events')), options);
  return { store, log };
}

const a = Scope.ofCaller('111111111111', 'us-east-1');
const b = Scope.ofCaller('222222222222', 'eu-west-1');
const DAY = 86_400_000;

describe('EventLog', () => {
  it("prunes events older than RDS's 14 days, in the scope being written, and keeps the rest in order", () => {
    const { log } = setup({ pruneEvery: 1000 });
    const now = Date.UTC(2026, 11, 7);
    for (let d = 20; d >= 0; d--) log.append(a, { message: `a${d}`, dateMs: now - d * DAY });
    log.append(b, { message: 'b-old', dateMs: now - 30 * DAY });
    assert.equal(EVENT_RETENTION_MS, 14 * DAY);
    assert.equal(log.prune(a, now), 6, 'days 20..15 are older than 14 days');
    assert.deepEqual(log.list(a).map((e) => e.message), Array.from({ length: 15 }, (_, i) => `a${14 - i}`));
    assert.deepEqual(log.list(b).map((e) => e.message), ['b-old'], 'another scope is pruned on its own');
    assert.equal(log.pruneAll(now), 1);
    assert.deepEqual(log.list(b), []);
  });

  it('bounds the number of events of a scope as they are written, dropping the oldest', () => {
    const { log } = setup({ maxPerScope: 50, pruneEvery: 10 });
    const now = Date.now();
    for (let i = 0; i < 1000; i++) log.append(a, { message: `e${i}`, dateMs: now + i });
    const kept = log.list(a);
    assert.ok(kept.length <= 50 + 10, `at most the bound plus one pruning interval: ${kept.length}`);
    assert.equal(kept.at(-1)!.message, 'e999');
    assert.ok(kept.every((e, i) => i === 0 || e.dateMs > kept[i - 1]!.dateMs), 'still in order');
    log.prune(a, now + 1000);
    assert.equal(log.list(a).length, 50);
    assert.equal(log.list(a)[0]!.message, 'e950');
  });

  it('deletes at most its budget in one pass, and the next pass continues', () => {
    const { log } = setup({ maxPerScope: 10, pruneEvery: 1_000_000, maxDeletesPerPass: 25 });
    const now = Date.now();
    for (let i = 0; i < 60; i++) log.append(a, { message: `e${i}`, dateMs: now + i });
    assert.equal(log.prune(a, now), 25);
    assert.equal(log.prune(a, now), 25);
    assert.equal(log.prune(a, now), 0);
    assert.equal(log.list(a).length, 10);
  });
});
