/**
 * Query and Scan over more entries than one store chunk (128), where the walk continues from a cursor
 * rebuilt from the last entry's key attributes; and the raw-JSON read path (RequestContext.rawJson)
 * against the plain-object one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { DynamoDBProvider } from '../../src/services/dynamodb/provider.js';
import { ManualClock } from '../../src/core/clock.js';
import type { RequestContext } from '../../src/core/context.js';
import { Scope } from '../../src/core/scope.js';
import { RawJson, stringifyWire } from '../../src/protocols/wirejson.js';
import type { Item } from '../../src/services/dynamodb/attributes.js';

const N = 300;

function setup() {
  const ddb = new DynamoDBProvider(new SqliteStore({ path: ':memory:' }));
  const ctx: RequestContext = { scope: Scope.ofCaller('000000000000', 'us-east-1'), requestId: 'r', accessKeyId: 'AKID', callerArn: 'arn:aws:iam::000000000000:root', service: 'dynamodb', operation: 'x', clock: new ManualClock() };
  ddb.createTable({
    TableName: 'walk',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, { AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'l', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
    LocalSecondaryIndexes: [{ IndexName: 'byL', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
    BillingMode: 'PAY_PER_REQUEST',
  }, ctx);
  ddb.describeTable({ TableName: 'walk' }, ctx);
  for (let i = 0; i < N; i++) {
    ddb.putItem({ TableName: 'walk', Item: { pk: { S: 'p' }, sk: { N: String(i - 150) }, g: { S: 'same' }, l: { S: `l${String(N - i).padStart(4, '0')}` }, v: { S: `v${i}` } } }, ctx);
  }
  return { ddb, ctx };
}

/** The sort keys of an answer's items (parsed: these contexts do not ask for raw JSON). */
const sks = (items: (Item | RawJson)[] | undefined) => parsedItems(items).map((i) => Number(i.sk!.N));
function parsedItems(items: (Item | RawJson)[] | undefined): Item[] {
  assert.ok(items !== undefined && items.every((i) => !(i instanceof RawJson)));
  return items as Item[];
}
const range = (from: number, n: number, step = 1) => Array.from({ length: n }, (_, i) => from + i * step);

test(`Query, Scan and index queries return all ${N} entries in order across store chunks`, () => {
  const { ddb, ctx } = setup();
  const q = { TableName: 'walk', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'p' } } };
  assert.deepEqual(sks(ddb.query(q, ctx).Items), range(-150, N));
  assert.deepEqual(sks(ddb.query({ ...q, ScanIndexForward: false }, ctx).Items), range(149, N, -1));
  assert.deepEqual(sks(ddb.scan({ TableName: 'walk' }, ctx).Items), range(-150, N));
  const g = ddb.query({ TableName: 'walk', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'same' } } }, ctx);
  assert.deepEqual(sks(g.Items), range(-150, N));
  const l = ddb.query({ TableName: 'walk', IndexName: 'byL', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'p' } }, Select: 'ALL_ATTRIBUTES' }, ctx);
  assert.deepEqual(sks(l.Items), range(149, N, -1));
  assert.equal(parsedItems(l.Items)[0]!.v!.S, 'v299');
  const limited = ddb.query({ ...q, Limit: 200, ScanIndexForward: false }, ctx);
  assert.deepEqual(sks(limited.Items), range(149, 200, -1));
  assert.deepEqual(limited.LastEvaluatedKey, { pk: { S: 'p' }, sk: { N: '-50' } });
  const rest = ddb.query({ ...q, ScanIndexForward: false, ExclusiveStartKey: limited.LastEvaluatedKey }, ctx);
  assert.deepEqual(sks(rest.Items), range(-51, 100, -1));
});

test('stored items written as raw JSON serialize exactly as the parsed items do', () => {
  const { ddb, ctx } = setup();
  const raw = { ...ctx, rawJson: true };
  const q = { TableName: 'walk', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'p' } } };
  assert.equal(stringifyWire(ddb.query(q, raw)), stringifyWire(ddb.query(q, ctx)));
  assert.equal(stringifyWire(ddb.scan({ TableName: 'walk', Limit: 150 }, raw)), stringifyWire(ddb.scan({ TableName: 'walk', Limit: 150 }, ctx)));
  const key = { pk: { S: 'p' }, sk: { N: '7' } };
  assert.equal(stringifyWire(ddb.getItem({ TableName: 'walk', Key: key }, raw)), stringifyWire(ddb.getItem({ TableName: 'walk', Key: key }, ctx)));
  const batch = { RequestItems: { walk: { Keys: [key, { pk: { S: 'p' }, sk: { N: '8' } }] } } };
  assert.equal(stringifyWire(ddb.batchGetItem(batch, raw)), stringifyWire(ddb.batchGetItem(batch, ctx)));
});
