/**
 * Time to Live, the pure parts and the provider without HTTP: the order-preserving expiry encoding, what counts as
 * an expiry (a top-level Number only), the five-year rule at its edges, the expiry index kept by the write path
 * (entries follow puts, updates and deletes, and a table without TTL gets none), and a sweep tick deleting exactly
 * what is due through the provider (counters follow), with the clock moved by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { DynamoDBProvider } from '../../src/services/dynamodb/provider.js';
import { ManualClock } from '../../src/core/clock.js';
import type { RequestContext } from '../../src/core/context.js';
import { Scope } from '../../src/core/scope.js';
import { decodeExpiry, encodeExpiry, entryKey, expiryOf, FIVE_YEARS_MS, isDue, itemKeyOf } from '../../src/services/dynamodb/ttl/expiry-index.js';

test('the expiry encoding orders as the numbers do, negatives and fractions included, and decodes back', () => {
  const values = [-1e20, -5, -1.5, -0.25, 0, 1e-9, 0.5, 1, 1.5, 1_700_000_000, 1_700_000_000.5, 1e15, 9.9e125];
  const encoded = values.map((v) => encodeExpiry(v));
  for (let i = 1; i < values.length; i++) assert.ok(Buffer.compare(encoded[i - 1]!, encoded[i]!) < 0, `${values[i - 1]} < ${values[i]}`);
  for (const v of values) assert.equal(decodeExpiry(encodeExpiry(v)), v);
  assert.deepEqual(encodeExpiry(-0), encodeExpiry(0));
  const key = Buffer.from([0, 0, 0, 7, 1, 2, 3]);
  assert.deepEqual(itemKeyOf(entryKey(42, key)), key);
});

test('an expiry is a top-level Number only', () => {
  assert.equal(expiryOf({ e: { N: '1700000000' } }, 'e'), 1_700_000_000);
  assert.equal(expiryOf({ e: { N: '1700000000.25' } }, 'e'), 1_700_000_000.25);
  assert.equal(expiryOf({ e: { S: '1700000000' } }, 'e'), undefined);
  assert.equal(expiryOf({ e: { NS: ['1700000000'] } }, 'e'), undefined);
  assert.equal(expiryOf({ m: { M: { e: { N: '1' } } } }, 'e'), undefined);
  assert.equal(expiryOf({ e: { NULL: true } }, 'e'), undefined);
  assert.equal(expiryOf(undefined, 'e'), undefined);
});

test('due: the time has come, and it lies no more than five years back', () => {
  const now = 2_000_000_000_000;
  assert.equal(isDue(now / 1000, now), true);
  assert.equal(isDue(now / 1000 + 0.001, now), false);
  assert.equal(isDue((now - FIVE_YEARS_MS) / 1000, now), true);
  assert.equal(isDue((now - FIVE_YEARS_MS) / 1000 - 1, now), false);
});

function setup() {
  const store = new SqliteStore({ path: ':memory:' });
  const clock = new ManualClock();
  const ddb = new DynamoDBProvider(store, { clock, timeToLive: { changeIntervalMs: 0, sweepIntervalMs: 3_600_000 } });
  const ctx: RequestContext = {
    scope: Scope.ofCaller('000000000000', 'us-east-1'), requestId: 'r', accessKeyId: 'AKID', callerArn: 'arn:aws:iam::000000000000:root',
    service: 'dynamodb', operation: 'x', clock,
  };
  ddb.createTable({ TableName: 'tbl', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }, ctx);
  const entries = () => [...store.keyspace('ddb_ttl').scan()].map(([k]) => decodeExpiry(k)).sort((a, b) => a - b);
  return { store, ddb, ctx, clock, entries };
}

test('the expiry index follows writes while TTL is on, and holds nothing for a table without it', async () => {
  const { ddb, ctx, entries, store } = setup();
  await ddb.putItem({ TableName: 'tbl', Item: { pk: { S: 'before' }, e: { N: '100' } } }, ctx);
  assert.deepEqual(entries(), []);
  ddb.updateTimeToLive({ TableName: 'tbl', TimeToLiveSpecification: { Enabled: true, AttributeName: 'e' } }, ctx);
  await new Promise((r) => setImmediate(r)); // the walk over existing items
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(entries(), [100]);
  await ddb.putItem({ TableName: 'tbl', Item: { pk: { S: 'a' }, e: { N: '200' } } }, ctx);
  await ddb.updateItem({ TableName: 'tbl', Key: { pk: { S: 'a' } }, UpdateExpression: 'SET e = :e', ExpressionAttributeValues: { ':e': { N: '300' } } }, ctx);
  await ddb.putItem({ TableName: 'tbl', Item: { pk: { S: 'b' }, e: { S: '400' } } }, ctx);
  assert.deepEqual(entries(), [100, 300]);
  await ddb.deleteItem({ TableName: 'tbl', Key: { pk: { S: 'before' } } }, ctx);
  assert.deepEqual(entries(), [300]);
  ddb.close();
  store.close();
});

test('a sweep deletes what is due, leaves the rest, and the table counters follow', async () => {
  const { ddb, ctx, clock, entries, store } = setup();
  ddb.updateTimeToLive({ TableName: 'tbl', TimeToLiveSpecification: { Enabled: true, AttributeName: 'e' } }, ctx);
  const now = Math.floor(clock.now() / 1000);
  await ddb.putItem({ TableName: 'tbl', Item: { pk: { S: 'due' }, e: { N: String(now + 10) } } }, ctx);
  await ddb.putItem({ TableName: 'tbl', Item: { pk: { S: 'later' }, e: { N: String(now + 1000) } } }, ctx);
  await ddb.putItem({ TableName: 'tbl', Item: { pk: { S: 'none' } } }, ctx);
  clock.advance(20_000);
  const sweeper = (ddb as unknown as { timeToLive: { sweeper: { tick(): Promise<boolean> } } }).timeToLive.sweeper;
  assert.equal(await sweeper.tick(), false);
  assert.equal(ddb.getItem({ TableName: 'tbl', Key: { pk: { S: 'due' } } }, ctx).Item, undefined);
  assert.ok(ddb.getItem({ TableName: 'tbl', Key: { pk: { S: 'later' } } }, ctx).Item);
  assert.deepEqual(entries(), [now + 1000]);
  assert.equal(((await ddb.describeTable({ TableName: 'tbl' }, ctx)) as { Table: { ItemCount: number } }).Table.ItemCount, 2);
  ddb.close();
  store.close();
});

test('while a table is created or deleted: DescribeTimeToLive is refused with its state, UpdateTimeToLive is in use or not found', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const clock = new ManualClock();
  const ddb = new DynamoDBProvider(store, { clock, createDelayMs: 60_000, deleteDelayMs: 60_000 });
  const ctx: RequestContext = {
    scope: Scope.ofCaller('000000000000', 'us-east-1'), requestId: 'r', accessKeyId: 'AKID', callerArn: 'arn:aws:iam::000000000000:root',
    service: 'dynamodb', operation: 'x', clock,
  };
  const fails = (fn: () => unknown, code: string, message: string) => assert.throws(fn, (e: Error) => {
    assert.deepEqual([e.name, e.message], [code, message]);
    return true;
  });
  ddb.createTable({ TableName: 'slow', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }, ctx);
  const spec = { TableName: 'slow', TimeToLiveSpecification: { Enabled: true, AttributeName: 'e' } };
  fails(() => ddb.describeTimeToLive({ TableName: 'slow' }, ctx), 'ValidationException', 'Cannot describe time to live while table is in CREATING state');
  fails(() => ddb.updateTimeToLive(spec, ctx), 'ResourceInUseException', 'Attempt to change a resource which is still in use: Table is being created: slow');
  clock.advance(60_000);
  assert.deepEqual(ddb.describeTimeToLive({ TableName: 'slow' }, ctx), { TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } });
  ddb.deleteTable({ TableName: 'slow' }, ctx);
  fails(() => ddb.describeTimeToLive({ TableName: 'slow' }, ctx), 'ValidationException', 'Cannot describe time to live while table is in DELETING state');
  fails(() => ddb.updateTimeToLive(spec, ctx), 'ResourceNotFoundException', 'Requested resource not found: Table: slow not found');
  ddb.close();
  store.close();
});
