/**
 * Provider tests: the DynamoDB operations called directly on an in-memory SQLite store with a fake
 * request context (no HTTP).
 */
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { DynamoDBProvider } from '../../src/services/dynamodb/provider.js';
import { ServiceError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/core/clock.js';
import type { RequestContext } from '../../src/core/context.js';
import { Scope } from '../../src/core/scope.js';
import { RawJson } from '../../src/protocols/wirejson.js';
import type { Item } from '../../src/services/dynamodb/attributes.js';

/** An in-memory store by default; `path` for a file store (group commit). */
function setup(options = {}, path = ':memory:') {
  const store = new SqliteStore({ path });
  const ddb = new DynamoDBProvider(store, options);
  const clock = new ManualClock();
  const ctx: RequestContext = {
    scope: Scope.ofCaller('000000000000', 'us-east-1'), requestId: 'r', accessKeyId: 'AKID', callerArn: 'arn:aws:iam::000000000000:root',
    service: 'dynamodb', operation: 'x', clock,
  };
  return { store, ddb, ctx, clock };
}

/** Asserts that e is the ServiceError expected (code, and the message when given). */
/** An answer's item, parsed (these contexts do not ask for pre-serialised items). */
function parsed(item: Item | RawJson | undefined): Item {
  assert.ok(item !== undefined && !(item instanceof RawJson));
  return item;
}

/** An answer's items, parsed. */
function parsedItems(items: (Item | RawJson)[] | undefined): Item[] {
  assert.ok(items !== undefined);
  return items.map(parsed);
}

function expectServiceError(e: unknown, code: string, message?: string | RegExp): void {
  assert.ok(e instanceof ServiceError, String(e));
  assert.equal(e.code, code, e.message);
  if (typeof message === 'string') assert.equal(e.message, message);
  else if (message) assert.match(e.message, message);
}

function fails(fn: () => unknown, code: string, message?: string | RegExp): void {
  try {
    fn();
  } catch (e) {
    expectServiceError(e, code, message);
    return;
  }
  assert.fail(`expected ${code}`);
}

/** fails() for the write operations, which answer through a promise (group commit). */
async function failsAsync(fn: () => unknown, code: string, message?: string | RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    expectServiceError(e, code, message);
    return;
  }
  assert.fail(`expected ${code}`);
}

/** DescribeTable, answered at once (no recount is running in these tests). */
function describeNow(ddb: DynamoDBProvider, input: { TableName: string }, ctx: RequestContext): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = ddb.describeTable(input, ctx);
  assert.ok(!(r instanceof Promise));
  return r;
}

type CreateTableRequest = Parameters<DynamoDBProvider['createTable']>[0];

/** A table keyed pk/sk; `defs` adds attribute definitions to those two. */
function makeTable(ddb: DynamoDBProvider, ctx: RequestContext, extra: Partial<CreateTableRequest> & { defs?: CreateTableRequest['AttributeDefinitions'] } = {}) {
  return ddb.createTable({
    TableName: 'things',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, ...(extra.defs ?? [])],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    BillingMode: 'PAY_PER_REQUEST',
    ...extra,
  }, ctx);
}

test('table lifecycle: create → ACTIVE, describe, list, delete (DELETING, then gone)', async () => {
  const { ddb, ctx } = setup();
  const created = makeTable(ddb, ctx);
  assert.equal(created.TableDescription?.TableStatus, 'CREATING');
  assert.equal(created.TableDescription?.TableArn, 'arn:aws:dynamodb:us-east-1:000000000000:table/things');
  const d = describeNow(ddb, { TableName: 'things' }, ctx).Table;
  assert.equal(d.TableStatus, 'ACTIVE');
  assert.equal(d.ItemCount, 0);
  assert.deepEqual(d.BillingModeSummary.BillingMode, 'PAY_PER_REQUEST');
  fails(() => makeTable(ddb, ctx), 'ResourceInUseException', 'Table already exists: things');
  assert.deepEqual(ddb.listTables({}, ctx), { TableNames: ['things'] });
  assert.deepEqual(ddb.listTables({}, { ...ctx, scope: Scope.ofCaller('000000000000', 'eu-west-1') }), { TableNames: [] });
  assert.equal(ddb.deleteTable({ TableName: 'things' }, ctx).TableDescription?.TableStatus, 'DELETING');
  // Until the background removal runs: DescribeTable shows DELETING, data operations find no table,
  // a second DeleteTable is not an error, CreateTable of the name is refused.
  assert.equal(describeNow(ddb, { TableName: 'things' }, ctx).Table.TableStatus, 'DELETING');
  fails(() => ddb.getItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { N: '1' } } }, ctx), 'ResourceNotFoundException', 'Requested resource not found');
  assert.equal(ddb.deleteTable({ TableName: 'things' }, ctx).TableDescription?.TableStatus, 'DELETING');
  fails(() => makeTable(ddb, ctx), 'ResourceInUseException', 'Table already exists: things');
  await new Promise((r) => setImmediate(r));
  fails(() => describeNow(ddb, { TableName: 'things' }, ctx), 'ResourceNotFoundException', 'Requested resource not found: Table: things not found');
  assert.deepEqual(ddb.listTables({}, ctx), { TableNames: [] });
});

test('createTable semantic validation', async () => {
  const { ddb, ctx } = setup();
  fails(() => ddb.createTable({ TableName: 'tb1', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }] }, ctx),
    'ValidationException', 'One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED');
  fails(() => ddb.createTable({ TableName: 'tb1', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }, { AttributeName: 'b', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }] }, ctx),
    'ValidationException', 'One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions');
  fails(() => ddb.createTable({ TableName: 'tb1', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'x', KeyType: 'HASH' }] }, ctx),
    'ValidationException', 'One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [x], AttributeDefinitions: [a]');
  fails(() => ddb.createTable({ TableName: 'tb1', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'a', KeyType: 'RANGE' }] }, ctx),
    'ValidationException', 'Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
  assert.deepEqual(ddb.listTables({}, ctx).TableNames, []);
});

test('put/get/delete with conditions, ReturnValues and capacity', async () => {
  const { ddb, ctx } = setup();
  makeTable(ddb, ctx);
  const item = { pk: { S: 'a' }, sk: { N: '1.0' }, v: { S: 'x' }, n: { N: '1e2' } };
  const put = await ddb.putItem({ TableName: 'things', Item: item, ReturnConsumedCapacity: 'TOTAL' }, ctx);
  assert.deepEqual(put.ConsumedCapacity, { TableName: 'things', CapacityUnits: 1, WriteCapacityUnits: 1 });
  const got = ddb.getItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { N: '1' } }, ReturnConsumedCapacity: 'TOTAL' }, ctx);
  assert.deepEqual(got.Item, { pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'x' }, n: { N: '100' } });
  assert.equal(got.ConsumedCapacity?.CapacityUnits, 0.5);
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: item, ConditionExpression: 'attribute_not_exists(pk)' }, ctx), 'ConditionalCheckFailedException', 'The conditional request failed');
  try {
    await ddb.putItem({ TableName: 'things', Item: item, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }, ctx);
    assert.fail('should fail');
  } catch (e) {
    assert.deepEqual((e as ServiceError).fields?.Item, got.Item);
  }
  const replaced = await ddb.putItem({ TableName: 'things', Item: { pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'y' } }, ReturnValues: 'ALL_OLD' }, ctx);
  assert.deepEqual(replaced.Attributes, got.Item);
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: item, ReturnValues: 'ALL_NEW' }, ctx), 'ValidationException', 'ReturnValues can only be ALL_OLD or NONE');
  const proj = ddb.getItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { N: '1' } }, ProjectionExpression: '#v', ExpressionAttributeNames: { '#v': 'v' } }, ctx);
  assert.deepEqual(proj.Item, { v: { S: 'y' } });
  const del = await ddb.deleteItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { N: '1' } }, ReturnValues: 'ALL_OLD' }, ctx);
  assert.deepEqual(parsed(del.Attributes).v, { S: 'y' });
  assert.deepEqual(ddb.getItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { N: '1' } } }, ctx), {});
  assert.equal(describeNow(ddb, { TableName: 'things' }, ctx).Table.ItemCount, 0);
});

test('key validation messages', async () => {
  const { ddb, ctx } = setup();
  makeTable(ddb, ctx);
  fails(() => ddb.getItem({ TableName: 'things', Key: { pk: { S: 'a' } } }, ctx), 'ValidationException', 'The provided key element does not match the schema');
  fails(() => ddb.getItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { S: '1' } } }, ctx), 'ValidationException', 'The provided key element does not match the schema');
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: { pk: { S: 'a' } } }, ctx), 'ValidationException', 'One or more parameter values were invalid: Missing the key sk in the item');
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: { pk: { N: '1' }, sk: { N: '1' } } }, ctx), 'ValidationException', 'One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N');
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: { pk: { S: '' }, sk: { N: '1' } } }, ctx), 'ValidationException', 'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk');
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: { pk: { S: 'x'.repeat(2049) }, sk: { N: '1' } } }, ctx), 'ValidationException', 'One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes');
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: { pk: { S: 'a' }, sk: { N: '1' }, big: { S: 'x'.repeat(400 * 1024) } } }, ctx), 'ValidationException', 'Item size has exceeded the maximum allowed size');
  fails(() => ddb.getItem({ TableName: 'nope', Key: { pk: { S: 'a' }, sk: { N: '1' } } }, ctx), 'ResourceNotFoundException', 'Requested resource not found');
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: { pk: { S: 'a' }, sk: { N: '1' } }, ConditionExpression: 'a = :v', Expected: { a: { Exists: false } } }, ctx),
    'ValidationException', 'Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}');
  assert.equal(describeNow(ddb, { TableName: 'things' }, ctx).Table.ItemCount, 0, 'bad input changes nothing');
});

test('updateItem: upsert, expressions, ReturnValues, legacy AttributeUpdates', async () => {
  const { ddb, ctx } = setup();
  makeTable(ddb, ctx);
  const Key = { pk: { S: 'u' }, sk: { N: '1' } };
  const r1 = await ddb.updateItem({ TableName: 'things', Key, UpdateExpression: 'SET #c = if_not_exists(#c, :z) + :one', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':z': { N: '0' }, ':one': { N: '1' } }, ReturnValues: 'ALL_NEW' }, ctx);
  assert.deepEqual(r1.Attributes, { pk: { S: 'u' }, sk: { N: '1' }, count: { N: '1' } });
  const r2 = await ddb.updateItem({ TableName: 'things', Key, UpdateExpression: 'ADD #c :one SET tags = :t', ExpressionAttributeNames: { '#c': 'count' }, ExpressionAttributeValues: { ':one': { N: '1' }, ':t': { SS: ['a'] } }, ReturnValues: 'UPDATED_OLD' }, ctx);
  assert.deepEqual(r2.Attributes, { count: { N: '1' } });
  const r3 = await ddb.updateItem({ TableName: 'things', Key, AttributeUpdates: { tags: { Action: 'ADD', Value: { SS: ['b'] } }, count: { Action: 'DELETE' } }, ReturnValues: 'UPDATED_NEW' }, ctx);
  assert.deepEqual(r3.Attributes, { tags: { SS: ['a', 'b'] } });
  await failsAsync(() => ddb.updateItem({ TableName: 'things', Key, UpdateExpression: 'SET pk = :v', ExpressionAttributeValues: { ':v': { S: 'x' } } }, ctx),
    'ValidationException', 'One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key');
  await failsAsync(() => ddb.updateItem({ TableName: 'things', Key, UpdateExpression: 'SET a = :v', ConditionExpression: 'attribute_not_exists(pk)', ExpressionAttributeValues: { ':v': { S: 'x' } } }, ctx), 'ConditionalCheckFailedException');
  await failsAsync(() => ddb.updateItem({ TableName: 'things', Key, UpdateExpression: 'SET a = :v', ExpressionAttributeValues: { ':v': { S: 'x' }, ':w': { S: 'y' } } }, ctx),
    'ValidationException', 'Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}');
  const item = ddb.getItem({ TableName: 'things', Key }, ctx).Item;
  assert.deepEqual(item, { pk: { S: 'u' }, sk: { N: '1' }, tags: { SS: ['a', 'b'] } });
});

function seed(ddb: DynamoDBProvider, ctx: RequestContext, n: number) {
  for (let i = 0; i < n; i++) {
    void ddb.putItem({ TableName: 'things', Item: { pk: { S: i % 2 ? 'odd' : 'even' }, sk: { N: String(i - 5) }, v: { N: String(i) }, g: { S: `g${i % 3}` }, ...(i % 4 === 0 ? { sparse: { S: 'yes' } } : {}) } }, ctx);
  }
}

test('query: key conditions, order, Limit paging, filter counts, Select COUNT', async () => {
  const { ddb, ctx } = setup();
  makeTable(ddb, ctx);
  seed(ddb, ctx, 20);
  const q = (extra: Record<string, unknown>) => ddb.query({ TableName: 'things', KeyConditionExpression: 'pk = :p AND sk BETWEEN :lo AND :hi', ExpressionAttributeValues: { ':p': { S: 'even' }, ':lo': { N: '-4' }, ':hi': { N: '6' } }, ...extra }, ctx);
  const all = q({});
  assert.deepEqual(parsedItems(all.Items).map((i: any) => i.sk.N), ['-3', '-1', '1', '3', '5']);
  const rev = q({ ScanIndexForward: false });
  assert.deepEqual(parsedItems(rev.Items).map((i: any) => i.sk.N), ['5', '3', '1', '-1', '-3']);
  // paging with Limit
  let start: any;
  const seen: string[] = [];
  for (let page = 0; page < 10; page++) {
    const r = q({ Limit: 4, ...(start ? { ExclusiveStartKey: start } : {}) });
    seen.push(...parsedItems(r.Items).map((i: any) => i.sk.N));
    start = r.LastEvaluatedKey;
    if (!start) break;
  }
  assert.deepEqual(seen, ['-3', '-1', '1', '3', '5']);
  const filtered = ddb.query({ TableName: 'things', KeyConditionExpression: 'pk = :p', FilterExpression: 'v > :v', ExpressionAttributeValues: { ':p': { S: 'odd' }, ':v': { N: '10' } }, Limit: 5 }, ctx);
  assert.equal(filtered.ScannedCount, 5);
  assert.equal(filtered.Count, 0);
  assert.ok(filtered.LastEvaluatedKey);
  const count = ddb.query({ TableName: 'things', KeyConditionExpression: 'pk = :p AND sk < :z', ExpressionAttributeValues: { ':p': { S: 'odd' }, ':z': { N: '0' } }, Select: 'COUNT' }, ctx);
  assert.equal(count.Count, 2);
  assert.equal(count.Items, undefined);
  fails(() => ddb.query({ TableName: 'things', KeyConditionExpression: 'sk = :z', ExpressionAttributeValues: { ':z': { N: '0' } } }, ctx), 'ValidationException', 'Query condition missed key schema element: pk');
  fails(() => ddb.query({ TableName: 'things', KeyConditionExpression: 'pk = :p OR sk = :z', ExpressionAttributeValues: { ':p': { S: 'x' }, ':z': { N: '0' } } }, ctx), 'ValidationException', 'Invalid operator used in KeyConditionExpression: OR');
  fails(() => ddb.query({ TableName: 'things', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { N: '1' } } }, ctx), 'ValidationException', 'One or more parameter values were invalid: Condition parameter type does not match schema type');
  const legacy = ddb.query({ TableName: 'things', KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'even' }] }, sk: { ComparisonOperator: 'GE', AttributeValueList: [{ N: '10' }] } } }, ctx);
  assert.deepEqual(parsedItems(legacy.Items).map((i: any) => i.sk.N), ['11', '13']);
});

test('query with begins_with on string range keys, including escaped bytes', async () => {
  const { ddb, ctx } = setup();
  ddb.createTable({ TableName: 'str', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'h', AttributeType: 'S' }, { AttributeName: 'r', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'h', KeyType: 'HASH' }, { AttributeName: 'r', KeyType: 'RANGE' }] }, ctx);
  for (const r of ['a', 'ab', 'a\u0000c', 'abc', 'b', 'é']) await ddb.putItem({ TableName: 'str', Item: { h: { S: 'x' }, r: { S: r } } }, ctx);
  const res = ddb.query({ TableName: 'str', KeyConditionExpression: 'h = :h AND begins_with(r, :p)', ExpressionAttributeValues: { ':h': { S: 'x' }, ':p': { S: 'ab' } } }, ctx);
  assert.deepEqual(parsedItems(res.Items).map((i: any) => i.r.S), ['ab', 'abc']);
  const all = ddb.query({ TableName: 'str', KeyConditionExpression: 'h = :h', ExpressionAttributeValues: { ':h': { S: 'x' } } }, ctx);
  assert.deepEqual(parsedItems(all.Items).map((i: any) => i.r.S), ['a', 'a\u0000c', 'ab', 'abc', 'b', 'é']);
});

test('GSI (sparse) and LSI maintained atomically with the table', async () => {
  const { ddb, ctx } = setup();
  makeTable(ddb, ctx, {
    defs: [{ AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'sparse', AttributeType: 'S' }, { AttributeName: 'v', AttributeType: 'N' }],
    GlobalSecondaryIndexes: [
      { IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }, { AttributeName: 'v', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
      { IndexName: 'bySparse', KeySchema: [{ AttributeName: 'sparse', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } },
    ],
    LocalSecondaryIndexes: [{ IndexName: 'byV', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'v', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
  });
  seed(ddb, ctx, 12);
  const g = ddb.query({ TableName: 'things', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g1' } } }, ctx);
  assert.deepEqual(parsedItems(g.Items).map((i: any) => i.v.N), ['1', '4', '7', '10']);
  assert.deepEqual(Object.keys(parsedItems(g.Items)[0]).sort(), ['g', 'pk', 'sk', 'v']);
  const s = ddb.scan({ TableName: 'things', IndexName: 'bySparse' }, ctx);
  assert.equal(s.Count, 3);
  // LSI fetches non-projected attributes from the table
  const l = ddb.query({ TableName: 'things', IndexName: 'byV', KeyConditionExpression: 'pk = :p AND v > :v', ExpressionAttributeValues: { ':p': { S: 'even' }, ':v': { N: '6' } }, Select: 'ALL_ATTRIBUTES' }, ctx);
  assert.deepEqual(parsedItems(l.Items).map((i: any) => i.g.S), ['g2', 'g1']);
  // update moves the GSI entry; delete removes it
  await ddb.updateItem({ TableName: 'things', Key: { pk: { S: 'odd' }, sk: { N: '-4' } }, UpdateExpression: 'SET g = :g', ExpressionAttributeValues: { ':g': { S: 'g2' } } }, ctx);
  const g1 = ddb.query({ TableName: 'things', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g1' } } }, ctx);
  assert.deepEqual(parsedItems(g1.Items).map((i: any) => i.v.N), ['4', '7', '10']);
  await ddb.deleteItem({ TableName: 'things', Key: { pk: { S: 'even' }, sk: { N: '-5' } } }, ctx);
  assert.equal(ddb.scan({ TableName: 'things', IndexName: 'bySparse' }, ctx).Count, 2);
  const d = describeNow(ddb, { TableName: 'things' }, ctx).Table;
  assert.equal(d.ItemCount, 11);
  assert.equal(d.GlobalSecondaryIndexes.find((i: any) => i.IndexName === 'bySparse').ItemCount, 2);
  fails(() => ddb.query({ TableName: 'things', IndexName: 'byG', ConsistentRead: true, KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g1' } } }, ctx), 'ValidationException', 'Consistent reads are not supported on global secondary indexes');
  await failsAsync(() => ddb.putItem({ TableName: 'things', Item: { pk: { S: 'a' }, sk: { N: '1' }, g: { N: '1' } } }, ctx), 'ValidationException', 'One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: byG');
  fails(() => ddb.query({ TableName: 'things', IndexName: 'nope', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g1' } } }, ctx), 'ValidationException', 'The table does not have the specified index: nope');
});

test('UpdateTable adds a GSI with backfill (CREATING → ACTIVE) and deletes it', async () => {
  const { ddb, ctx } = setup({ backfillBatch: 3 });
  makeTable(ddb, ctx, { defs: [] });
  seed(ddb, ctx, 10);
  const res = ddb.updateTable({ TableName: 'things', AttributeDefinitions: [{ AttributeName: 'g', AttributeType: 'S' }], GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } } }] }, ctx);
  assert.equal(res.TableDescription?.GlobalSecondaryIndexes?.[0]?.IndexStatus, 'CREATING');
  fails(() => ddb.query({ TableName: 'things', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g0' } } }, ctx), 'ValidationException', 'Cannot read from backfilling global secondary index: byG');
  await ddb.putItem({ TableName: 'things', Item: { pk: { S: 'new' }, sk: { N: '0' }, g: { S: 'g0' } } }, ctx);
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  const d = describeNow(ddb, { TableName: 'things' }, ctx).Table;
  assert.equal(d.GlobalSecondaryIndexes[0].IndexStatus, 'ACTIVE');
  const q = ddb.query({ TableName: 'things', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g0' } } }, ctx);
  assert.equal(q.Count, 5);
  ddb.updateTable({ TableName: 'things', GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'byG' } }] }, ctx);
  assert.equal(describeNow(ddb, { TableName: 'things' }, ctx).Table.GlobalSecondaryIndexes, undefined);
  ddb.close();
});

test('scan: parallel segments cover every item exactly once; 1 MB pages', async () => {
  const { ddb, ctx } = setup();
  makeTable(ddb, ctx);
  seed(ddb, ctx, 40);
  const keys = new Set<string>();
  for (let s = 0; s < 4; s++) {
    let start: any;
    for (let page = 0; page < 100; page++) {
      const r = ddb.scan({ TableName: 'things', Segment: s, TotalSegments: 4, Limit: 3, ...(start ? { ExclusiveStartKey: start } : {}) }, ctx);
      for (const i of parsedItems(r.Items)) {
        const k = `${i.pk.S}/${i.sk.N}`;
        assert.ok(!keys.has(k), `duplicate ${k}`);
        keys.add(k);
      }
      start = r.LastEvaluatedKey;
      if (!start) break;
    }
  }
  assert.equal(keys.size, 40);
  fails(() => ddb.scan({ TableName: 'things', Segment: 4, TotalSegments: 4 }, ctx), 'ValidationException', 'The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is not less than TotalSegments: 4');
  // 1 MB page
  const big = 'x'.repeat(300 * 1024);
  for (let i = 0; i < 5; i++) await ddb.putItem({ TableName: 'things', Item: { pk: { S: 'big' }, sk: { N: String(i) }, b: { S: big } } }, ctx);
  const r = ddb.query({ TableName: 'things', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'big' } } }, ctx);
  assert.equal(r.Count, 4);
  assert.ok(r.LastEvaluatedKey);
  const legacy = ddb.scan({ TableName: 'things', ScanFilter: { g: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'g0' }] } }, AttributesToGet: ['v'] }, ctx);
  assert.equal(legacy.Count, 14);
  assert.deepEqual(Object.keys(parsedItems(legacy.Items)[0]), ['v']);
});

test('batch operations', async () => {
  const { ddb, ctx } = setup();
  makeTable(ddb, ctx);
  const w = await ddb.batchWriteItem({ RequestItems: { things: [
    { PutRequest: { Item: { pk: { S: 'a' }, sk: { N: '1' } } } },
    { PutRequest: { Item: { pk: { S: 'b' }, sk: { N: '1' } } } },
  ] }, ReturnConsumedCapacity: 'TOTAL' }, ctx);
  assert.deepEqual(w.UnprocessedItems, {});
  assert.equal(w.ConsumedCapacity?.[0]?.CapacityUnits, 2);
  await failsAsync(() => ddb.batchWriteItem({ RequestItems: { things: [
    { PutRequest: { Item: { pk: { S: 'c' }, sk: { N: '1' } } } },
    { PutRequest: { Item: { pk: { S: 'd' } } } },
  ] } }, ctx), 'ValidationException', 'The provided key element does not match the schema');
  assert.equal(ddb.getItem({ TableName: 'things', Key: { pk: { S: 'c' }, sk: { N: '1' } } }, ctx).Item, undefined, 'whole batch rejected');
  await failsAsync(() => ddb.batchWriteItem({ RequestItems: { things: [
    { PutRequest: { Item: { pk: { S: 'c' }, sk: { N: '1' } } } },
    { DeleteRequest: { Key: { pk: { S: 'c' }, sk: { N: '1' } } } },
  ] } }, ctx), 'ValidationException', 'Provided list of item keys contains duplicates');
  const g = ddb.batchGetItem({ RequestItems: { things: { Keys: [{ pk: { S: 'a' }, sk: { N: '1' } }, { pk: { S: 'zz' }, sk: { N: '1' } }] } } }, ctx);
  assert.equal(g.Responses?.things?.length, 1);
  assert.deepEqual(g.UnprocessedKeys, {});
  const keys = Array.from({ length: 101 }, (_, i) => ({ pk: { S: String(i) }, sk: { N: '1' } }));
  fails(() => ddb.batchGetItem({ RequestItems: { things: { Keys: keys } } }, ctx), 'ValidationException', 'Too many items requested for the BatchGetItem call');
});

test('tags, limits, endpoints', async () => {
  const { ddb, ctx } = setup();
  const arn = makeTable(ddb, ctx).TableDescription?.TableArn;
  assert.ok(arn !== undefined);
  ddb.tagResource({ ResourceArn: arn, Tags: [{ Key: 'env', Value: 'dev' }, { Key: 'team', Value: 'x' }] }, ctx);
  ddb.untagResource({ ResourceArn: arn, TagKeys: ['team'] }, ctx);
  assert.deepEqual(ddb.listTagsOfResource({ ResourceArn: arn }, ctx), { Tags: [{ Key: 'env', Value: 'dev' }] });
  fails(() => ddb.listTagsOfResource({ ResourceArn: arn.replace('things', 'nope') }, ctx), 'ResourceNotFoundException');
  assert.equal(ddb.describeLimits({}, ctx).TableMaxReadCapacityUnits, 40000);
  assert.equal(ddb.describeEndpoints({}, ctx).Endpoints[0].CachePeriodInMinutes, 1440);
});

test('deletion protection and durability across reopen', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'ddb-'));
  try {
    const ctx = setup().ctx;
    let store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    let ddb = new DynamoDBProvider(store);
    makeTable(ddb, ctx, { DeletionProtectionEnabled: true });
    await ddb.putItem({ TableName: 'things', Item: { pk: { S: 'a' }, sk: { N: '1' }, v: { S: 'kept' } } }, ctx);
    fails(() => ddb.deleteTable({ TableName: 'things' }, ctx), 'ValidationException', /protected against deletion/);
    ddb.close();
    store.close();
    store = new SqliteStore({ path: join(dir, 'db.sqlite') });
    ddb = new DynamoDBProvider(store);
    assert.deepEqual(parsed(ddb.getItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { N: '1' } } }, ctx).Item).v, { S: 'kept' });
    assert.equal(describeNow(ddb, { TableName: 'things' }, ctx).Table.ItemCount, 1);
    ddb.close();
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('names of missing tables are remembered only up to a bound, and a table created later is found', async () => {
  const { ddb, ctx } = setup();
  for (let i = 0; i < 5000; i++) fails(() => ddb.getItem({ TableName: `missing-${i}`, Key: { pk: { S: 'a' } } }, ctx), 'ResourceNotFoundException');
  assert.ok((ddb as unknown as { missing: Set<string> }).missing.size <= 1024);
  for (const name of ['missing-0', 'missing-4999']) {
    ddb.createTable({ TableName: name, AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }, ctx);
    await ddb.putItem({ TableName: name, Item: { pk: { S: 'a' } } }, ctx);
    assert.deepEqual(ddb.getItem({ TableName: name, Key: { pk: { S: 'a' } } }, ctx), { Item: { pk: { S: 'a' } } });
  }
});

test('group commit: writes of one turn share a commit; a failing write leaves the others intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellar-ddb-'));
  const { ddb, ctx, store } = setup({}, join(dir, 'state.db'));
  assert.equal(store.groupsCommits, true);
  try {
    makeTable(ddb, ctx, { defs: [{ AttributeName: 'g', AttributeType: 'S' }], GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }] });
    describeNow(ddb, { TableName: 'things' }, ctx);
    await ddb.putItem({ TableName: 'things', Item: { pk: { S: 'old' }, sk: { N: '0' }, v: { S: 'kept' }, g: { S: 'x' } } }, ctx);
    // All issued in the same event-loop turn: one group.
    const results = await Promise.allSettled([
      ddb.putItem({ TableName: 'things', Item: { pk: { S: 'a' }, sk: { N: '1' }, g: { S: 'x' } } }, ctx),
      ddb.putItem({ TableName: 'things', Item: { pk: { S: 'old' }, sk: { N: '0' }, v: { S: 'overwritten' }, g: { S: 'y' } }, ConditionExpression: 'attribute_not_exists(pk)' }, ctx),
      ddb.updateItem({ TableName: 'things', Key: { pk: { S: 'old' }, sk: { N: '0' } }, UpdateExpression: 'SET v = :v', ConditionExpression: 'v = :other', ExpressionAttributeValues: { ':v': { S: 'changed' }, ':other': { S: 'nope' } } }, ctx),
      ddb.deleteItem({ TableName: 'things', Key: { pk: { S: 'a' }, sk: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' }, ctx),
      ddb.batchWriteItem({ RequestItems: { things: [{ PutRequest: { Item: { pk: { S: 'b' }, sk: { N: '2' }, g: { S: 'x' } } } }, { PutRequest: { Item: { pk: { S: 'c' }, sk: { N: '3' } } } }] } }, ctx),
      ddb.updateItem({ TableName: 'things', Key: { pk: { S: 'd' }, sk: { N: '4' } }, UpdateExpression: 'SET g = :g', ExpressionAttributeValues: { ':g': { S: 'x' } } }, ctx),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected', 'fulfilled', 'fulfilled']);
    for (const r of results.slice(1, 4)) assert.equal(((r as PromiseRejectedResult).reason as ServiceError).code, 'ConditionalCheckFailedException');
    assert.deepEqual(ddb.getItem({ TableName: 'things', Key: { pk: { S: 'old' }, sk: { N: '0' } } }, ctx).Item, { pk: { S: 'old' }, sk: { N: '0' }, v: { S: 'kept' }, g: { S: 'x' } });
    for (const [pk, sk] of [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4']]) {
      assert.ok(ddb.getItem({ TableName: 'things', Key: { pk: { S: pk! }, sk: { N: sk! } } }, ctx).Item, `${pk} written`);
    }
    const byG = ddb.query({ TableName: 'things', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'x' } } }, ctx);
    assert.deepEqual(parsedItems(byG.Items).map((i) => i.pk!.S).sort(), ['a', 'b', 'd', 'old']);
    const d = describeNow(ddb, { TableName: 'things' }, ctx).Table;
    assert.equal(d.ItemCount, 5);
    assert.equal(d.GlobalSecondaryIndexes[0].ItemCount, 4);
  } finally {
    ddb.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('counters found dirty are recounted in the background while writes go on, and come out exact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cellar-ddb-'));
  const path = join(dir, 'state.db');
  const item = (i: number) => ({ pk: { S: `p${i % 3}` }, sk: { N: String(i) }, pad: { S: 'x'.repeat(i % 40) }, ...(i % 2 ? { g: { S: `g${i % 4}` } } : {}) });
  const first = setup({}, path);
  makeTable(first.ddb, first.ctx, { defs: [{ AttributeName: 'g', AttributeType: 'S' }], GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }] });
  describeNow(first.ddb, { TableName: 'things' }, first.ctx);
  await Promise.all(Array.from({ length: 200 }, (_, i) => first.ddb.putItem({ TableName: 'things', Item: item(i) }, first.ctx)));
  // An unclean stop: the store goes away before the provider could store its counters.
  first.store.close();
  first.ddb.close();
  const { ddb, ctx, store } = setup({ recountChunk: 7 }, path);
  try {
    // The first use loads the table, finds its counters dirty and starts recounting them, 7 entries a turn.
    const described = ddb.describeTable({ TableName: 'things' }, ctx);
    assert.ok(described instanceof Promise, 'DescribeTable waits for the recount');
    // Writes during the recount: new items, deletes, size changes and index moves, spread over turns.
    for (let turn = 0; turn < 20; turn++) {
      const ops: Promise<unknown>[] = [];
      for (let j = 0; j < 5; j++) {
        const i = turn * 10 + j;
        ops.push(Promise.resolve(ddb.putItem({ TableName: 'things', Item: item(1000 + i) }, ctx)));
        ops.push(Promise.resolve(ddb.deleteItem({ TableName: 'things', Key: { pk: { S: `p${i % 3}` }, sk: { N: String(i) } } }, ctx)));
        ops.push(Promise.resolve(ddb.updateItem({ TableName: 'things', Key: { pk: { S: `p${(i + 5) % 3}` }, sk: { N: String(i + 5) } }, UpdateExpression: 'SET g = :g, #p = :p', ExpressionAttributeNames: { '#p': 'pad' }, ExpressionAttributeValues: { ':g': { S: `moved${turn}` }, ':p': { S: 'y'.repeat(turn) } } }, ctx)));
      }
      await Promise.all(ops);
    }
    const after = (await described).Table;
    assert.ok(after?.GlobalSecondaryIndexes?.[0] !== undefined);
    // The oracle: a synchronous recount of everything now.
    const t = (ddb as unknown as { tables: Map<string, { stats: unknown; indexStats: Map<number, unknown> }> }).tables.values().next().value!;
    (ddb as unknown as { counters: { recount(x: unknown): void } }).counters.recount(t);
    const exact = describeNow(ddb, { TableName: 'things' }, ctx).Table;
    assert.equal(after.ItemCount, exact.ItemCount);
    assert.equal(after.TableSizeBytes, exact.TableSizeBytes);
    assert.equal(after.GlobalSecondaryIndexes[0].ItemCount, exact.GlobalSecondaryIndexes[0].ItemCount);
    assert.equal(after.GlobalSecondaryIndexes[0].IndexSizeBytes, exact.GlobalSecondaryIndexes[0].IndexSizeBytes);
    // 200 items, 100 new, 100 of the first deleted (the updates of deleted keys recreate some).
    const scanned = ddb.scan({ TableName: 'things', Select: 'COUNT' }, ctx);
    assert.equal(exact.ItemCount, scanned.Count);
  } finally {
    ddb.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
