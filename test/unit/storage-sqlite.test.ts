/**
 * The SQLite store's group commit and its checkpointer, on real data directories:
 *  - ops of one event-loop turn share a commit, each atomic on its own: a failing op leaves the others intact,
 *    whatever it wrote (puts, deletes, batches, prefix deletes, nested transactions, in several keyspaces);
 *  - an op's promise settles only once its group is committed (another connection sees it);
 *  - anything else touching the store commits an open group first;
 *  - the checkpointer keeps the WAL bounded under sustained writes, and a clean close leaves no WAL behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/storage/sqlite.js';

function tempDb(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cellar-store-'));
  return { dir, path: join(dir, 'state.db') };
}

/** What another connection (another process, after a crash) sees of keyspace t. */
function committedKeys(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT k FROM "kv_t" ORDER BY k').pluck(true).all() as Buffer[]).map((k) => k.toString());
  } finally {
    db.close();
  }
}

test('group commit: a failing op rolls back only its own writes; the others commit', async () => {
  const { dir, path } = tempDb();
  const store = new SqliteStore({ path });
  try {
    const t = store.keyspace('t');
    const a = store.grouped(() => {
      t.put(Buffer.from('a1'), Buffer.from('x'));
      t.put(Buffer.from('a2'), Buffer.from('x'));
      return 'a';
    });
    const b = store.grouped(() => {
      t.put(Buffer.from('b1'), Buffer.from('x'));
      t.delete(Buffer.from('a1')); // undone with the rest of b
      throw new Error('b fails after writing');
    });
    const c = store.grouped(() => {
      t.put(Buffer.from('c1'), Buffer.from('x'));
      return 'c';
    });
    // Nothing is committed before the end of the turn.
    assert.deepEqual(committedKeys(path), []);
    const [ra, rb, rc] = await Promise.allSettled([a, b, c]);
    assert.deepEqual(ra, { status: 'fulfilled', value: 'a' });
    assert.equal(rb.status, 'rejected');
    assert.match(String((rb as PromiseRejectedResult).reason), /b fails after writing/);
    assert.deepEqual(rc, { status: 'fulfilled', value: 'c' });
    assert.deepEqual(committedKeys(path), ['a1', 'a2', 'c1']);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('group commit: an op that fails after writing is taken back whatever it wrote, and the ops around it see exactly the state they would alone', async () => {
  const { dir, path } = tempDb();
  const store = new SqliteStore({ path });
  try {
    const t = store.keyspace('t');
    const u = store.keyspace('u');
    t.put(Buffer.from('old'), Buffer.from('before'));
    for (const k of ['p1', 'p2', 'q1']) u.put(Buffer.from(k), Buffer.from('x'));
    const seen: Record<string, string | undefined> = {};
    const ops = [
      store.grouped(() => t.put(Buffer.from('a'), Buffer.from('1'))),
      // One write, an overwrite: the old value comes back.
      store.grouped(() => {
        t.put(Buffer.from('old'), Buffer.from('changed'));
        throw new Error('after one put');
      }),
      store.grouped(() => {
        seen.old = t.get(Buffer.from('old'))?.toString();
        t.put(Buffer.from('b'), Buffer.from(seen.old ?? 'none'));
      }),
      // Every kind of write, in two keyspaces, then a failure.
      store.grouped(() => {
        t.delete(Buffer.from('a'));
        u.deletePrefix(Buffer.from('p'));
        u.write([{ key: Buffer.from('q1'), value: undefined }, { key: Buffer.from('q2'), value: Buffer.from('y') }]);
        store.transaction(() => t.put(Buffer.from('c'), Buffer.from('3')));
        throw new Error('after many writes');
      }),
      store.grouped(() => {
        seen.a = t.get(Buffer.from('a'))?.toString();
        seen.p1 = u.get(Buffer.from('p1'))?.toString();
        t.put(Buffer.from('d'), Buffer.from('4'));
      }),
      // A failure that wrote nothing rolls nothing back.
      store.grouped(() => {
        throw new Error('before writing');
      }),
      store.grouped(() => u.delete(Buffer.from('p2'))),
    ];
    const results = await Promise.allSettled(ops);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((results[3] as PromiseRejectedResult).reason), /after many writes/);
    assert.deepEqual(seen, { old: 'before', a: '1', p1: 'x' });
    assert.deepEqual(committedKeys(path), ['a', 'b', 'd', 'old']);
    assert.equal(t.get(Buffer.from('old'))?.toString(), 'before');
    assert.equal(t.get(Buffer.from('b'))?.toString(), 'before');
    const db = new Database(path, { readonly: true });
    try {
      assert.deepEqual((db.prepare('SELECT k FROM "kv_u" ORDER BY k').pluck(true).all() as Buffer[]).map((k) => k.toString()), ['p1', 'q1']);
    } finally {
      db.close();
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('group commit: an op settles only after its group is committed; outside access commits the group first', async () => {
  const { dir, path } = tempDb();
  const store = new SqliteStore({ path, durability: 'fsync' });
  try {
    const t = store.keyspace('t');
    const p = store.grouped(() => t.put(Buffer.from('k1'), Buffer.from('v')));
    let settled = false;
    void p.then(() => (settled = true));
    await Promise.resolve();
    assert.equal(settled, false);
    assert.deepEqual(committedKeys(path), []);
    // A read outside the group commits it: no one outside the group sees an uncommitted write.
    assert.equal(t.get(Buffer.from('k1'))?.toString(), 'v');
    assert.deepEqual(committedKeys(path), ['k1']);
    await p;
    // A transaction outside the group also commits it first.
    const q = store.grouped(() => t.put(Buffer.from('k2'), Buffer.from('v')));
    store.transaction(() => t.put(Buffer.from('k3'), Buffer.from('v')));
    assert.deepEqual(committedKeys(path), ['k1', 'k2', 'k3']);
    await q;
    // Each settled op was committed: a fresh connection sees every one.
    const ops = Array.from({ length: 50 }, (_, i) => store.grouped(() => t.put(Buffer.from(`m${String(i).padStart(2, '0')}`), Buffer.from('v'))));
    await Promise.all(ops);
    assert.equal(committedKeys(path).length, 53);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkpointer: the WAL stays bounded under sustained writes, and a clean close leaves no WAL', async () => {
  const { dir, path } = tempDb();
  const limit = 1024 * 1024;
  const store = new SqliteStore({ path, walLimitBytes: limit, checkpointIntervalMs: 5 });
  const wal = `${path}-wal`;
  let maxWal = 0;
  try {
    const t = store.keyspace('t');
    const value = Buffer.alloc(1000, 7);
    // ~60 MB of values (well over 100 MB of WAL frames if the log never restarted), 20 ops per turn,
    // for at most 30 s.
    const deadline = Date.now() + 30_000;
    for (let turn = 0; turn < 3000 && Date.now() < deadline; turn++) {
      const ops = [];
      for (let j = 0; j < 20; j++) ops.push(store.grouped(() => t.put(Buffer.from(`k${turn}-${j}`), value)));
      await Promise.all(ops);
      if (existsSync(wal)) maxWal = Math.max(maxWal, statSync(wal).size);
    }
    const stats = store.checkpointStats();
    assert.ok(stats.passive > 0, `no passive checkpoint ran: ${JSON.stringify(stats)}`);
    assert.ok(stats.restart > 0, `the WAL never needed a restart: ${JSON.stringify(stats)}`);
    // The limit is a trigger: the WAL also holds what is written while a checkpoint cycle runs (a few
    // MB at this write rate, more on a busy disk), still far below what was written.
    assert.ok(maxWal < 32 * limit, `WAL reached ${maxWal} bytes (limit ${limit}): ${JSON.stringify(stats)}`);
  } finally {
    store.close();
  }
  assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'a clean close checkpoints and truncates the WAL');
  const reopened = new SqliteStore({ path });
  try {
    assert.equal(reopened.keyspace('t').get(Buffer.from('k0-0'))?.length, 1000);
  } finally {
    reopened.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('text cache: point reads see every committed write and never a rolled-back one', async () => {
  for (const path of [':memory:', tempDb().path]) {
    const store = new SqliteStore({ path });
    try {
      const t = store.keyspace('t');
      const value = (s: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, s.length]), Buffer.from(s)]);
      const k = Buffer.from('key');
      t.put(k, value('one'));
      assert.equal(t.getText(k, 4), '00000003one');
      assert.equal(t.getText(k, 4), '00000003one'); // now from the cache
      t.put(k, value('two!'));
      assert.equal(t.getText(k, 4), '00000004two!', 'a plain put replaces the cached value');

      // Read inside a transaction that is rolled back: the uncommitted value must not be cached.
      assert.throws(() =>
        store.transaction(() => {
          t.put(k, value('bad'));
          assert.equal(t.getText(k, 4), '00000003bad');
          throw new Error('roll back');
        }),
      );
      assert.equal(t.getText(k, 4), '00000004two!', 'the rolled-back value is not served');

      // A group op that fails: its write is rolled back, and so is what it read.
      await assert.rejects(
        store.grouped(() => {
          t.put(k, value('nope'));
          assert.equal(t.getText(k, 4), '00000004nope');
          throw new Error('fail the op');
        }),
      );
      assert.equal(t.getText(k, 4), '00000004two!');
      // A group op that succeeds: the next read (which commits the group) sees its write.
      const ok = store.grouped(() => t.put(k, value('three')));
      assert.equal(t.getText(k, 4), '00000005three');
      await ok;

      t.write([{ key: k, value: value('four') }]);
      assert.equal(t.getText(k, 4), '00000004four', 'a batch write replaces the cached value');
      t.delete(k);
      assert.equal(t.getText(k, 4), undefined, 'a deleted key is not served from the cache');
      t.put(k, value('five'));
      assert.equal(t.getText(k, 4), '00000004five');
      t.deletePrefix(Buffer.from('k'));
      assert.equal(t.getText(k, 4), undefined, 'deletePrefix drops cached values');
      // Another header size reads past the cache.
      t.put(k, value('six'));
      assert.equal(t.getText(k, 4), '00000003six');
      assert.equal(t.getText(k, 0), '\u0000\u0000\u0000\u0003six');
    } finally {
      store.close();
    }
  }
});

test('text cache: stays within its share of cacheMiB however many values are read', () => {
  const store = new SqliteStore({ path: ':memory:', cacheMiB: 0.25 });
  try {
    const t = store.keyspace('t');
    const filler = 'x'.repeat(200);
    for (let i = 0; i < 3000; i++) t.put(Buffer.from(`k${i}`), Buffer.concat([Buffer.from([0, 0, 0, 200]), Buffer.from(filler)]));
    for (let i = 0; i < 3000; i++) assert.equal(t.getText(Buffer.from(`k${i}`), 4), `000000C8${filler}`);
    const { usedBytes, limitBytes } = store.textCacheStats();
    assert.equal(limitBytes, 0.25 * 1024 * 1024 / 4);
    assert.ok(usedBytes > limitBytes / 2 && usedBytes <= limitBytes, `used ${usedBytes} of ${limitBytes}`);
    // Re-reading every key still gives every value (evicted ones come from SQLite again).
    for (let i = 2999; i >= 0; i--) assert.equal(t.getText(Buffer.from(`k${i}`), 4), `000000C8${filler}`);
    assert.ok(store.textCacheStats().usedBytes <= limitBytes);
  } finally {
    store.close();
  }
});

/** Every operation of a keyspace, with the same results whatever its layout. */
function exercise(store: SqliteStore, name: string, largeValues: boolean): unknown[] {
  const space = store.keyspace(name, { largeValues });
  const big = Buffer.alloc(3000, 0x61);
  const seen: unknown[] = [];
  for (let i = 0; i < 50; i++) space.put(Buffer.from(`k${String(i).padStart(2, '0')}`), i % 7 ? Buffer.from(`v${i}`) : big);
  space.put(Buffer.from('k03'), Buffer.from('overwritten'));
  space.delete(Buffer.from('k04'));
  space.write([{ key: Buffer.from('k05'), value: undefined }, { key: Buffer.from('k99'), value: Buffer.from('\u0000\u0000\u0000\u0002{"a":1}') }]);
  space.deletePrefix(Buffer.from('k1'));
  seen.push(space.get(Buffer.from('k03'))?.toString(), space.get(Buffer.from('k04')), space.get(Buffer.from('k07'))?.length);
  seen.push(space.getText(Buffer.from('k99'), 4), space.scanText({ gte: Buffer.from('k99') }, 4));
  seen.push([...space.scan({ gt: Buffer.from('k20'), lt: Buffer.from('k30') })].map(([k, v]) => `${k.toString()}=${v.length}`));
  seen.push([...space.scan({ reverse: true, limit: 3 })].map(([k]) => k.toString()));
  return seen;
}

test('a keyspace of large values (a rowid table beside its key index) answers exactly as a WITHOUT ROWID one', () => {
  const { dir, path } = tempDb();
  const store = new SqliteStore({ path });
  try {
    assert.deepEqual(exercise(store, 'large', true), exercise(store, 'small', false));
    const db = new Database(path, { readonly: true });
    try {
      const sql = (name: string) => db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'kv_${name}'`).pluck(true).get() as string;
      store.sync();
      assert.doesNotMatch(sql('large'), /WITHOUT ROWID/);
      assert.match(sql('small'), /WITHOUT ROWID/);
    } finally {
      db.close();
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a keyspace created before it was marked as holding large values keeps its table, and works, when opened again', () => {
  const { dir, path } = tempDb();
  try {
    const before = new SqliteStore({ path });
    before.keyspace('items').put(Buffer.from('old'), Buffer.from('kept'));
    before.close();
    const after = new SqliteStore({ path });
    try {
      const items = after.keyspace('items', { largeValues: true });
      assert.equal(items.get(Buffer.from('old'))?.toString(), 'kept');
      items.delete(Buffer.from('old'));
      assert.deepEqual(exercise(after, 'items', true).slice(1), exercise(after, 'fresh', true).slice(1));
      const db = new Database(path, { readonly: true });
      try {
        after.sync();
        assert.match(db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'kv_items'`).pluck(true).get() as string, /WITHOUT ROWID/);
      } finally {
        db.close();
      }
    } finally {
      after.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
