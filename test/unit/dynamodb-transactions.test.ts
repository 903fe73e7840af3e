/**
 * The pure parts of DynamoDB transactions: the cancellation message and reasons, item locks (all or none),
 * request hashes that ignore the order of map members, transactional capacity, and the client-token store
 * (its window, its bound, and what survives a reopen), plus the engine driven directly on a provider.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.js';
import type { RequestContext } from '../../src/core/context.js';
import { ServiceError } from '../../src/core/errors.js';
import { enableFaults, faultDelayMs } from '../../src/core/faults.js';
import { Scope } from '../../src/core/scope.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { DynamoDBProvider } from '../../src/services/dynamodb/provider.js';
import { cancellationMessage, conditionalCheckFailed, NO_REASON, transactionCanceled, transactionConflict } from '../../src/services/dynamodb/transactions/cancellation.js';
import { addIndexWrite, addItemRead, addItemWrite, consumedCapacity, emptyUnits } from '../../src/services/dynamodb/transactions/capacity.js';
import { canonicalJson, ClientTokens, requestHash, TOKEN_LIFETIME_MS } from '../../src/services/dynamodb/transactions/client-tokens.js';
import { ItemLocks } from '../../src/services/dynamodb/transactions/item-locks.js';
import { transactGet, transactWrite, type TransactWriteAction } from '../../src/services/dynamodb/transactions/index.js';

const scope = Scope.ofCaller('000000000000', 'us-east-1');

function thrown(fn: () => unknown): ServiceError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ServiceError, String(e));
    return e;
  }
  assert.fail('expected a ServiceError');
}

test('the cancellation message lists the codes in request order, as DynamoDB formats it', () => {
  assert.equal(cancellationMessage([conditionalCheckFailed(), NO_REASON]), 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]');
  const e = transactionCanceled([NO_REASON, transactionConflict(), conditionalCheckFailed({ pk: { S: 'a' } })]);
  assert.equal(e.code, 'TransactionCanceledException');
  assert.equal(e.status, 400);
  assert.deepEqual(e.fields, { CancellationReasons: [
    { Code: 'None' },
    { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' },
    { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 'a' } } },
  ] });
});

test('item locks are taken all or none, and only their owner releases them', () => {
  const locks = new ItemLocks();
  const a = Buffer.from([0, 0, 0, 1, 0x61]);
  const b = Buffer.from([0, 0, 0, 1, 0x62]);
  const c = Buffer.from([0, 0, 0, 2, 0x61]);
  const t1 = locks.newOwner();
  const t2 = locks.newOwner();
  assert.notEqual(t1, t2);
  assert.deepEqual(locks.tryAcquire([a, b], t1), []);
  assert.deepEqual(locks.tryAcquire([c, b], t2), [1]);
  assert.equal(locks.isHeld(c), false, 'a refused transaction takes nothing');
  locks.release([a, b], t2);
  assert.equal(locks.isHeld(a), true, 'another owner cannot release');
  locks.release([a, b], t1);
  assert.equal(locks.size, 0);
  assert.deepEqual(locks.tryAcquire([c, b], t2), []);
});

test('request hashes ignore the order of map members, not the order of lists', () => {
  assert.equal(canonicalJson({ b: 1, a: [{ y: 'x', x: null }], u: undefined }), '{"a":[{"x":null,"y":"x"}],"b":1}');
  const h1 = requestHash('TransactWriteItems', { TransactItems: [{ Put: { TableName: 't', Item: { pk: { S: '1' }, v: { N: '2' } } } }] });
  const h2 = requestHash('TransactWriteItems', { TransactItems: [{ Put: { Item: { v: { N: '2' }, pk: { S: '1' } }, TableName: 't' } }] });
  assert.equal(h1, h2);
  const one = { Put: { TableName: 't', Item: { pk: { S: '1' } } } };
  const two = { Put: { TableName: 't', Item: { pk: { S: '2' } } } };
  assert.notEqual(requestHash('TransactWriteItems', { TransactItems: [one, two] }), requestHash('TransactWriteItems', { TransactItems: [two, one] }));
  assert.notEqual(requestHash('TransactWriteItems', { TransactItems: [one] }), requestHash('ExecuteTransaction', { TransactItems: [one] }));
});

test('transactional capacity: each item\'s units rounded on their own, then doubled', () => {
  const u = emptyUnits();
  addItemWrite(u, 1500); // 2 units, twice
  addItemWrite(u, 0); // a delete of nothing: 1 unit, twice
  addItemRead(u, 5000); // 2 read units, twice
  addIndexWrite(u, 'g', true, 2);
  addIndexWrite(u, 'l', false, 1);
  const perTable = new Map([['t', u]]);
  assert.equal(consumedCapacity('NONE', perTable), undefined);
  assert.deepEqual(consumedCapacity('TOTAL', perTable), [{ TableName: 't', CapacityUnits: 13, ReadCapacityUnits: 4, WriteCapacityUnits: 9 }]);
  assert.deepEqual(consumedCapacity('INDEXES', perTable), [{
    TableName: 't', CapacityUnits: 13, ReadCapacityUnits: 4, WriteCapacityUnits: 9,
    Table: { CapacityUnits: 10, ReadCapacityUnits: 4, WriteCapacityUnits: 6 },
    GlobalSecondaryIndexes: { g: { CapacityUnits: 2, WriteCapacityUnits: 2 } },
    LocalSecondaryIndexes: { l: { CapacityUnits: 1, WriteCapacityUnits: 1 } },
  }]);
});

test('client tokens: a repeat, a mismatch, in progress, the 10-minute window, the bound, and a reopen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellar-tokens-'));
  try {
    const clock = new ManualClock();
    let store = new SqliteStore({ path: join(dir, 'db') });
    let tokens = new ClientTokens(store, clock, 3);
    const id = ClientTokens.id(scope, 'tok');
    assert.equal(ClientTokens.id(Scope.ofCaller('000000000000', 'eu-west-1'), 'tok') === id, false, 'scoped by region');
    assert.equal(tokens.check(id, 'h1', clock.now()), undefined);
    tokens.begin(id, 'h1');
    assert.equal(thrown(() => tokens.check(id, 'h1', clock.now())).code, 'TransactionInProgressException');
    store.transaction(() => tokens.record(id, { h: 'h1', at: clock.now(), icm: { t: [] } }));
    tokens.end(id);
    assert.deepEqual(tokens.check(id, 'h1', clock.now())?.icm, { t: [] });
    assert.equal(thrown(() => tokens.check(id, 'h2', clock.now())).code, 'IdempotentParameterMismatchException');
    // Kept across a reopen of the store.
    tokens.close();
    store.close();
    store = new SqliteStore({ path: join(dir, 'db') });
    tokens = new ClientTokens(store, clock, 3);
    assert.equal(tokens.check(id, 'h1', clock.now())?.h, 'h1');
    // Past the window it is a new request, and a sweep forgets it (in the store too).
    clock.advance(TOKEN_LIFETIME_MS + 1);
    assert.equal(tokens.check(id, 'h2', clock.now()), undefined);
    tokens.sweep();
    assert.equal(tokens.size, 0);
    assert.equal([...store.keyspace('ddb_txn_tokens').scan()].length, 0);
    // Bounded: past the bound the oldest go first.
    for (let i = 0; i < 5; i++) store.transaction(() => tokens.record(ClientTokens.id(scope, `t${i}`), { h: 'h', at: clock.now() + i }));
    assert.equal(tokens.size, 3);
    assert.equal(tokens.check(ClientTokens.id(scope, 't0'), 'x', clock.now()), undefined);
    assert.equal(tokens.check(ClientTokens.id(scope, 't4'), 'h', clock.now())?.h, 'h');
    assert.equal([...store.keyspace('ddb_txn_tokens').scan()].length, 3);
    tokens.close();
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a delay fault point counts its steps and answers its delay only at the planned ones', () => {
  assert.throws(() => enableFaults('dynamodb.transaction.hold@1=delay:abc'), /cannot read/);
  enableFaults('unit.kill@3=kill,unit.throw@1+=throw'); // the older actions still read
  assert.throws(() => faultDelayMs('unit.throw'), /fault injected at unit.throw step 1/);
  enableFaults('unit.hold@2+=delay:25');
  assert.equal(faultDelayMs('unit.hold'), 0);
  assert.equal(faultDelayMs('unit.hold'), 25);
  assert.equal(faultDelayMs('unit.hold'), 25);
  assert.equal(faultDelayMs('unit.other'), 0);
});

test('the engine, driven directly: resolved actions commit together, and a failure anywhere changes nothing', () => {
  const store = new SqliteStore({ path: ':memory:' });
  const ddb = new DynamoDBProvider(store, {});
  const clock = new ManualClock();
  const ctx: RequestContext = { scope, requestId: 'r', accessKeyId: 'AKID', callerArn: 'arn:aws:iam::000000000000:root', service: 'dynamodb', operation: 'x', clock };
  try {
    ddb.createTable({ TableName: 'tbl', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }, ctx);
    const t = ddb.active(ctx, 'tbl');
    const put = (pk: string, v: number): TransactWriteAction => {
      const item = { pk: { S: pk }, v: { N: String(v) } };
      return { kind: 'Put', table: t, key: ddb.keyFromItem(t, item), item, size: 10 };
    };
    const before = store.digest();
    // A DuplicateItem reason (PartiQL's INSERT of an existing item) once the item exists.
    transactWrite(ddb, [put('a', 1)], ctx);
    const insert = { ...put('a', 2), condition: { k: 'not_exists' as const, path: ['pk'] }, onConditionFailure: { code: 'DuplicateItem' as const, message: 'Duplicate primary key exists in table' } };
    const e = thrown(() => transactWrite(ddb, [put('b', 1), insert], ctx));
    assert.deepEqual(e.fields, { CancellationReasons: [{ Code: 'None' }, { Code: 'DuplicateItem', Message: 'Duplicate primary key exists in table' }] });
    assert.notEqual(store.digest(), before);
    const afterOne = store.digest();
    assert.equal(thrown(() => transactWrite(ddb, [put('c', 1), { kind: 'Invalid', table: t, message: 'bad key' }], ctx)).code, 'TransactionCanceledException');
    assert.equal(store.digest(), afterOne, 'a cancelled transaction changes nothing');
    assert.equal(thrown(() => transactWrite(ddb, [put('c', 1), put('c', 2)], ctx)).message, 'Transaction request cannot include multiple operations on one item');
    const read = transactGet(ddb, [{ kind: 'Get', table: t, key: ddb.keyFromKey(t, { pk: { S: 'a' } }) }, { kind: 'Get', table: t, key: ddb.keyFromKey(t, { pk: { S: 'b' } }) }], ctx, 'TOTAL');
    assert.deepEqual(read.Responses, [{ Item: { pk: { S: 'a' }, v: { N: '1' } } }, {}]);
    assert.deepEqual(read.ConsumedCapacity, [{ TableName: 'tbl', CapacityUnits: 4, ReadCapacityUnits: 4 }]);
  } finally {
    ddb.close();
    store.close();
  }
});
