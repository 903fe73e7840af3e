/**
 * DynamoDB transactions end to end, through the official SDK v3 client against a running Cellar (with a data
 * directory, so writes go through the group commit): TransactWriteItems (Put, Update, Delete, ConditionCheck)
 * and TransactGetItems, all-or-nothing and isolated under concurrent writers and readers, every cancellation
 * reason in request order, the limits and their messages, ClientRequestToken idempotency (across kill -9 and
 * its 10-minute window), and the capacity DynamoDB charges (two units per item).
 *
 * A second Cellar runs with the fault point `dynamodb.transaction.hold` (CELLAR_FAULTS, test hooks only), which
 * holds the first write transaction for a while with its items taken: what concurrent requests get meanwhile
 * (TransactionCanceledException with TransactionConflict, TransactionConflictException, TransactionInProgressException,
 * a GetItem of the value before) is what DynamoDB documents.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchGetItemCommand, CreateTableCommand, DeleteItemCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, IdempotentParameterMismatchException,
  PutItemCommand, ResourceNotFoundException, ScanCommand, TransactGetItemsCommand, TransactionCanceledException, TransactionConflictException,
  TransactionInProgressException, TransactWriteItemsCommand, UpdateItemCommand, type AttributeValue, type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { advanceClock, removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall } from '../helpers/sign.js';

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

async function createTable(client: DynamoDBClient, name: string, extra: Record<string, unknown> = {}): Promise<void> {
  await client.send(new CreateTableCommand({
    TableName: name, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    ...extra,
  }));
}

async function scanAll(client: DynamoDBClient, table: string): Promise<Record<string, AttributeValue>[]> {
  const r = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return (r.Items ?? []).sort((a, b) => (a.pk!.S! < b.pk!.S! ? -1 : 1));
}

/** The rejection, for assertions on its members. */
async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected the request to fail');
}

describe('DynamoDB transactions through the AWS SDK', () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;
  before(async () => {
    cellar = await startCellar({ args: ['--quiet'] });
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await createTable(client, 'orders');
  });
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  it('applies Put, Update, Delete and ConditionCheck together', async () => {
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('gone'), v: N(1) } }));
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('stock'), n: N(5) } }));
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('guard'), open: { BOOL: true } } }));
    const out = await client.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: 'orders', Item: { pk: S('order-1'), qty: N(2) }, ConditionExpression: 'attribute_not_exists(pk)' } },
        { Update: { TableName: 'orders', Key: { pk: S('stock') }, UpdateExpression: 'SET n = n - :q', ConditionExpression: 'n >= :q', ExpressionAttributeValues: { ':q': N(2) } } },
        { Delete: { TableName: 'orders', Key: { pk: S('gone') } } },
        { ConditionCheck: { TableName: 'orders', Key: { pk: S('guard') }, ConditionExpression: '#o = :t', ExpressionAttributeNames: { '#o': 'open' }, ExpressionAttributeValues: { ':t': { BOOL: true } } } },
      ],
    }));
    assert.equal(out.ConsumedCapacity, undefined);
    assert.equal(out.ItemCollectionMetrics, undefined);
    assert.deepEqual(await scanAll(client, 'orders'), [
      { pk: S('guard'), open: { BOOL: true } },
      { pk: S('order-1'), qty: N(2) },
      { pk: S('stock'), n: N(3) },
    ]);
    const d = await client.send(new DescribeTableCommand({ TableName: 'orders' }));
    assert.equal(d.Table?.ItemCount, 3);
    // A table named by its ARN, in TransactGetItems too.
    const arn = d.Table!.TableArn!;
    await client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: arn, Item: { pk: S('by-arn') } } }] }));
    const got = await client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: arn, Key: { pk: S('by-arn') } } }, { Get: { TableName: 'orders', Key: { pk: S('none') } } }] }));
    assert.deepEqual(got.Responses, [{ Item: { pk: S('by-arn') } }, {}]);
  });

  it('cancels with every action\'s reason in request order and changes nothing', async () => {
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('c-1'), n: N(1), s: S('text') } }));
    const before = await scanAll(client, 'orders');
    const e = await failure(client.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: 'orders', Item: { pk: S('c-new') } } },
        { ConditionCheck: { TableName: 'orders', Key: { pk: S('c-1') }, ConditionExpression: 'n > :z', ExpressionAttributeValues: { ':z': N(5) }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
        { Delete: { TableName: 'orders', Key: { pk: S('stock') }, ConditionExpression: 'attribute_not_exists(pk)' } },
        { Update: { TableName: 'orders', Key: { pk: S('c-2') }, UpdateExpression: 'SET n = n + :one', ExpressionAttributeValues: { ':one': N(1) } } },
        { Update: { TableName: 'orders', Key: { pk: N(7) }, UpdateExpression: 'SET x = :one', ExpressionAttributeValues: { ':one': N(1) } } },
      ],
    })));
    assert.ok(e instanceof TransactionCanceledException);
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.equal(e.message, 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, ConditionalCheckFailed, ValidationError, ValidationError]');
    assert.deepEqual(e.CancellationReasons, [
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: S('c-1'), n: N(1), s: S('text') } },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
      { Code: 'ValidationError', Message: 'The provided expression refers to an attribute that does not exist in the item' },
      { Code: 'ValidationError', Message: 'The provided key element does not match the schema' },
    ]);
    assert.deepEqual(await scanAll(client, 'orders'), before);
  });

  it('cancels an Update that would grow its item past 400 KB, with a ValidationError', async () => {
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('large'), b: S('x'.repeat(399 * 1024)) } }));
    const e = await failure(client.send(new TransactWriteItemsCommand({ TransactItems: [
      { Update: { TableName: 'orders', Key: { pk: S('large') }, UpdateExpression: 'SET c = :c', ExpressionAttributeValues: { ':c': S('y'.repeat(2048)) } } },
      { Put: { TableName: 'orders', Item: { pk: S('large-2') } } },
    ] })));
    assert.ok(e instanceof TransactionCanceledException);
    assert.deepEqual(e.CancellationReasons, [{ Code: 'ValidationError', Message: 'Item size to update has exceeded the maximum allowed size' }, { Code: 'None' }]);
    assert.equal((await client.send(new GetItemCommand({ TableName: 'orders', Key: { pk: S('large-2') } }))).Item, undefined);
    await client.send(new DeleteItemCommand({ TableName: 'orders', Key: { pk: S('large') } }));
  });

  it('sends TransactionCanceledException as DynamoDB does on the wire', async () => {
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('guard'), open: { BOOL: true } } }));
    const r = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.TransactWriteItems', JSON.stringify({
      TransactItems: [
        { ConditionCheck: { TableName: 'orders', Key: { pk: { S: 'guard' } }, ConditionExpression: 'attribute_not_exists(pk)' } },
        { Put: { TableName: 'orders', Item: { pk: { S: 'wire' } } } },
      ],
    }));
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-amzn-errortype'), 'TransactionCanceledException');
    assert.deepEqual(r.json, {
      __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
      Message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]',
      CancellationReasons: [{ Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' }, { Code: 'None' }],
    });
    const ok = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.TransactWriteItems', JSON.stringify({ TransactItems: [{ Put: { TableName: 'orders', Item: { pk: { S: 'wire' } } } }] }));
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, {});
    // IdempotentParameterMismatchException carries no message, as DynamoDB Local answers it.
    const put = (v: string) => JSON.stringify({ ClientRequestToken: 'wire-token', TransactItems: [{ Put: { TableName: 'orders', Item: { pk: { S: 'wire' }, v: { S: v } } } }] });
    assert.equal((await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.TransactWriteItems', put('a'))).status, 200);
    const mismatch = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.TransactWriteItems', put('b'));
    assert.equal(mismatch.status, 400);
    assert.deepEqual(Object.keys(mismatch.json), ['__type']);
    assert.equal(mismatch.json.__type, 'com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException');
  });

  it('refuses what DynamoDB refuses, with its messages, and changes nothing', async () => {
    const before = await scanAll(client, 'orders');
    const expectError = async (items: TransactWriteItem[] | unknown, name: string, message: string | RegExp) => {
      const e = await failure(client.send(new TransactWriteItemsCommand({ TransactItems: items as TransactWriteItem[] })));
      assert.equal(e.name, name, e.message);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      assert.equal(e.$metadata.httpStatusCode, 400);
    };
    // Two actions on one item, whatever the order of the key's attributes.
    await expectError([
      { Put: { TableName: 'orders', Item: { pk: S('dup'), a: N(1) } } },
      { Delete: { TableName: 'orders', Key: { pk: S('dup') } } },
    ], 'ValidationException', 'Transaction request cannot include multiple operations on one item');
    await expectError([
      { Update: { TableName: 'orders', Key: { pk: S('dup') }, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': N(1) } } },
      { ConditionCheck: { TableName: 'orders', Key: { pk: S('dup') }, ConditionExpression: 'attribute_exists(pk)' } },
    ], 'ValidationException', 'Transaction request cannot include multiple operations on one item');
    // 100 actions at most, one at least (the model's constraints).
    await expectError(Array.from({ length: 101 }, (_, i) => ({ Put: { TableName: 'orders', Item: { pk: S(`many-${i}`) } } })), 'ValidationException',
      /^1 validation error detected: Value '[\s\S]*' at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100$/);
    await expectError([], 'ValidationException', /at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1$/);
    // Exactly one action per TransactWriteItem.
    await expectError([{ Put: { TableName: 'orders', Item: { pk: S('two') } }, Delete: { TableName: 'orders', Key: { pk: S('two') } } }], 'ValidationException',
      'TransactItems can only contain one of Check, Put, Update or Delete');
    await expectError([{}], 'ValidationException', 'TransactItems can only contain one of Check, Put, Update or Delete');
    // A table that does not exist.
    await expectError([{ Put: { TableName: 'orders', Item: { pk: S('x') } } }, { Put: { TableName: 'missing', Item: {} } }], 'ResourceNotFoundException', 'Requested resource not found');
    // Values no key may hold are refused for the whole request.
    await expectError([{ Update: { TableName: 'orders', Key: { pk: S('') }, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': N(0) } } }], 'ValidationException',
      'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk');
    // Expression errors, as the single-item operations word them.
    await expectError([{ Put: { TableName: 'orders', Item: { pk: S('e') }, ConditionExpression: 'attribute_not_exists(#n0)', ExpressionAttributeNames: { '#n0': 'pk' }, ExpressionAttributeValues: {} } }],
      'ValidationException', 'ExpressionAttributeValues must not be empty');
    await expectError([{ Update: { TableName: 'orders', Key: { pk: S('e') }, UpdateExpression: 'SET a = :a SET b = :a', ExpressionAttributeValues: { ':a': N(1) } } }],
      'ValidationException', /^Invalid UpdateExpression: The "SET" section can only be used once in an update expression;/);
    // With an expression, a placeholder it does not use is refused; parse errors name their parameter.
    await expectError([{ Put: { TableName: 'orders', Item: { pk: S('e') }, ConditionExpression: 'attribute_not_exists(pk)', ExpressionAttributeNames: { '#n': 'foo' } } }],
      'ValidationException', 'Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}');
    await expectError([{ Update: { TableName: 'orders', Key: { pk: S('e') }, UpdateExpression: 'SET status = :v', ExpressionAttributeValues: { ':v': N(1) } } }],
      'ValidationException', 'Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status');
    await expectError([{ ConditionCheck: { TableName: 'orders', Key: { pk: S('e') }, ConditionExpression: 'status > :v', ExpressionAttributeValues: { ':v': N(0) } } }],
      'ValidationException', 'Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status');
    // The 4 MB aggregate: eleven items of 390 KB.
    const big = 'x'.repeat(390 * 1024);
    await expectError(Array.from({ length: 11 }, (_, i) => ({ Put: { TableName: 'orders', Item: { pk: S(`big-${i}`), b: S(big) } } })), 'ValidationException',
      'Transaction size has exceeded the maximum allowed size of 4 MB');
    assert.deepEqual(await scanAll(client, 'orders'), before);
  });

  it('accepts placeholder maps without an expression, as DynamoDB does for transactions', async () => {
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('pm-del') } }));
    await client.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: 'orders', Item: { pk: S('pm-put') }, ExpressionAttributeNames: { '#n': 'foo' }, ExpressionAttributeValues: { ':v': N(1) } } },
      { Delete: { TableName: 'orders', Key: { pk: S('pm-del') }, ExpressionAttributeNames: { '#n': 'foo' } } },
    ] }));
    const got = await client.send(new TransactGetItemsCommand({ TransactItems: [
      { Get: { TableName: 'orders', Key: { pk: S('pm-put') }, ExpressionAttributeNames: { '#n': 'foo' } } },
      { Get: { TableName: 'orders', Key: { pk: S('pm-del') } } },
    ] }));
    assert.deepEqual(got.Responses, [{ Item: { pk: S('pm-put') } }, {}]);
    const unused = await failure(client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'orders', Key: { pk: S('pm-put') }, ProjectionExpression: 'pk', ExpressionAttributeNames: { '#n': 'foo' } } }] })));
    assert.equal(unused.message, 'Value provided in ExpressionAttributeNames unused in expressions: keys: {#n}');
  });

  it('a ClientRequestToken makes a transaction idempotent for 10 minutes', async () => {
    const txn = (token: string, extra: Record<string, AttributeValue> = {}) => new TransactWriteItemsCommand({
      ClientRequestToken: token,
      ReturnConsumedCapacity: 'TOTAL',
      TransactItems: [
        { Update: { TableName: 'orders', Key: { pk: S('counter') }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': N(1) } } },
        { Put: { TableName: 'orders', Item: { pk: S('audit'), by: S('token'), ...extra } } },
      ],
    });
    const count = async () => (await client.send(new GetItemCommand({ TableName: 'orders', Key: { pk: S('counter') } }))).Item?.n?.N;
    const first = await client.send(txn('tok-1'));
    assert.deepEqual(first.ConsumedCapacity, [{ TableName: 'orders', CapacityUnits: 4, WriteCapacityUnits: 4 }]);
    assert.equal(await count(), '1');
    // The same request again: success, nothing applied again; the repeat reports reading the items.
    const again = await client.send(txn('tok-1'));
    assert.deepEqual(again.ConsumedCapacity, [{ TableName: 'orders', CapacityUnits: 4, ReadCapacityUnits: 4 }]);
    assert.equal(await count(), '1');
    // Members of a map in another order are the same request.
    const reordered = await client.send(new TransactWriteItemsCommand({
      ClientRequestToken: 'tok-1', ReturnConsumedCapacity: 'TOTAL',
      TransactItems: [
        { Update: { Key: { pk: S('counter') }, TableName: 'orders', ExpressionAttributeValues: { ':one': N(1) }, UpdateExpression: 'ADD n :one' } },
        { Put: { Item: { by: S('token'), pk: S('audit') }, TableName: 'orders' } },
      ],
    }));
    assert.ok(reordered.ConsumedCapacity);
    assert.equal(await count(), '1');
    // Another request with the token: refused, nothing applied.
    const e = await failure(client.send(txn('tok-1', { more: S('different') })));
    assert.ok(e instanceof IdempotentParameterMismatchException, e.name);
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.equal((await client.send(new GetItemCommand({ TableName: 'orders', Key: { pk: S('audit') } }))).Item?.more, undefined);
    // A token whose transaction was cancelled is not remembered: the retry runs.
    await client.send(new DeleteItemCommand({ TableName: 'orders', Key: { pk: S('gate') } }));
    const gated = () => new TransactWriteItemsCommand({ ClientRequestToken: 'tok-gated', TransactItems: [
      { ConditionCheck: { TableName: 'orders', Key: { pk: S('gate') }, ConditionExpression: 'attribute_exists(pk)' } },
      { Update: { TableName: 'orders', Key: { pk: S('counter') }, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': N(1) } } },
    ] });
    assert.ok((await failure(client.send(gated()))) instanceof TransactionCanceledException);
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('gate') } }));
    await client.send(gated());
    assert.equal(await count(), '2');
    // Tokens are durable: after kill -9 and a restart, the repeat still applies nothing.
    await cellar.kill9();
    cellar = await startCellar({ dataDir: cellar.dataDir!, port: cellar.port, args: ['--quiet'] });
    await client.send(txn('tok-1'));
    await client.send(gated());
    assert.equal(await count(), '2');
    assert.ok((await failure(client.send(txn('tok-1', { more: S('different') })))) instanceof IdempotentParameterMismatchException);
    // Tokens are scoped by region: the same token in another region is another request.
    const west = new DynamoDBClient({ ...sdkConfig(cellar.endpoint), region: 'eu-west-1' });
    try {
      await createTable(west, 'orders');
      await west.send(txn('tok-1'));
      assert.equal((await west.send(new GetItemCommand({ TableName: 'orders', Key: { pk: S('counter') } }))).Item?.n?.N, '1');
      assert.equal(await count(), '2');
    } finally {
      west.destroy();
    }
    // Ten minutes after, the token is a new request.
    await advanceClock(cellar.endpoint, 10 * 60 * 1000 + 1000);
    await client.send(txn('tok-1', { more: S('different') }));
    assert.equal(await count(), '3');
  });

  it('charges two units per item, reads for ConditionCheck, and reports item collections', async () => {
    await client.send(new CreateTableCommand({
      TableName: 'ledger', BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'l', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [{ IndexName: 'by-g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
      LocalSecondaryIndexes: [{ IndexName: 'by-l', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
    }));
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: S('five-kb'), d: S('y'.repeat(5000)) } }));
    const out = await client.send(new TransactWriteItemsCommand({
      ReturnConsumedCapacity: 'INDEXES', ReturnItemCollectionMetrics: 'SIZE',
      TransactItems: [
        // 1.5 KB: 2 × 2 units; its GSI entry (ALL) 2 units once; its LSI entry (KEYS_ONLY) 1.
        { Put: { TableName: 'ledger', Item: { pk: S('p'), sk: S('1'), g: S('G'), l: S('L'), pad: S('z'.repeat(1500)) } } },
        { Put: { TableName: 'ledger', Item: { pk: S('p'), sk: S('2') } } },
        // A read: 5 KB is 2 read units, twice.
        { ConditionCheck: { TableName: 'orders', Key: { pk: S('five-kb') }, ConditionExpression: 'attribute_exists(pk)' } },
      ],
    }));
    assert.deepEqual(out.ConsumedCapacity, [
      { TableName: 'ledger', CapacityUnits: 9, WriteCapacityUnits: 9, Table: { CapacityUnits: 6, WriteCapacityUnits: 6 }, GlobalSecondaryIndexes: { 'by-g': { CapacityUnits: 2, WriteCapacityUnits: 2 } }, LocalSecondaryIndexes: { 'by-l': { CapacityUnits: 1, WriteCapacityUnits: 1 } } },
      { TableName: 'orders', CapacityUnits: 4, ReadCapacityUnits: 4, Table: { CapacityUnits: 4, ReadCapacityUnits: 4 } },
    ]);
    assert.deepEqual(out.ItemCollectionMetrics, { ledger: [
      { ItemCollectionKey: { pk: S('p') }, SizeEstimateRangeGB: [0, 1] },
      { ItemCollectionKey: { pk: S('p') }, SizeEstimateRangeGB: [0, 1] },
    ] });
    const got = await client.send(new TransactGetItemsCommand({
      ReturnConsumedCapacity: 'TOTAL',
      TransactItems: [
        { Get: { TableName: 'orders', Key: { pk: S('five-kb') }, ProjectionExpression: 'pk' } },
        { Get: { TableName: 'orders', Key: { pk: S('absent') } } },
        { Get: { TableName: 'ledger', Key: { pk: S('p'), sk: S('2') } } },
      ],
    }));
    assert.deepEqual(got.Responses, [{ Item: { pk: S('five-kb') } }, {}, { Item: { pk: S('p'), sk: S('2') } }]);
    assert.deepEqual(got.ConsumedCapacity, [
      { TableName: 'orders', CapacityUnits: 6, ReadCapacityUnits: 6 },
      { TableName: 'ledger', CapacityUnits: 2, ReadCapacityUnits: 2 },
    ]);
  });

  it('TransactGetItems refuses what DynamoDB refuses', async () => {
    const wrongType = await failure(client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'orders', Key: { pk: S('a') } } }, { Get: { TableName: 'orders', Key: { pk: N(1) } } }] })));
    assert.ok(wrongType instanceof TransactionCanceledException);
    assert.deepEqual(wrongType.CancellationReasons, [{ Code: 'None' }, { Code: 'ValidationError', Message: 'The provided key element does not match the schema' }]);
    const dup = await failure(client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'orders', Key: { pk: S('a') } } }, { Get: { TableName: 'orders', Key: { pk: S('a') } } }] })));
    assert.equal(dup.name, 'ValidationException');
    assert.equal(dup.message, 'Transaction request cannot include multiple operations on one item');
    const missing = await failure(client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'nope', Key: { pk: S('a') } } }] })));
    assert.ok(missing instanceof ResourceNotFoundException);
    const many = await failure(client.send(new TransactGetItemsCommand({ TransactItems: Array.from({ length: 101 }, (_, i) => ({ Get: { TableName: 'orders', Key: { pk: S(`k${i}`) } } })) })));
    assert.match(many.message, /Member must have length less than or equal to 100$/);
  });

  it('a transaction\'s changes reach the table\'s stream, a ConditionCheck and a cancelled transaction make no record', async () => {
    await createTable(client, 'streamed', { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } });
    const streams = new DynamoDBStreamsClient(sdkConfig(cellar.endpoint));
    try {
      const arn = (await client.send(new DescribeTableCommand({ TableName: 'streamed' }))).Table!.LatestStreamArn!;
      await client.send(new PutItemCommand({ TableName: 'streamed', Item: { pk: S('m'), v: N(1) } }));
      await client.send(new PutItemCommand({ TableName: 'streamed', Item: { pk: S('r'), v: N(1) } }));
      await client.send(new PutItemCommand({ TableName: 'streamed', Item: { pk: S('c'), v: N(1) } }));
      await failure(client.send(new TransactWriteItemsCommand({ TransactItems: [
        { Put: { TableName: 'streamed', Item: { pk: S('never') } } },
        { ConditionCheck: { TableName: 'streamed', Key: { pk: S('c') }, ConditionExpression: 'v > :v', ExpressionAttributeValues: { ':v': N(5) } } },
      ] })));
      await client.send(new TransactWriteItemsCommand({ TransactItems: [
        { Put: { TableName: 'streamed', Item: { pk: S('i'), v: N(1) } } },
        { Update: { TableName: 'streamed', Key: { pk: S('m') }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': N(2) } } },
        { Delete: { TableName: 'streamed', Key: { pk: S('r') } } },
        { ConditionCheck: { TableName: 'streamed', Key: { pk: S('c') }, ConditionExpression: 'attribute_exists(pk)' } },
        { Delete: { TableName: 'streamed', Key: { pk: S('absent') } } },
      ] }));
      const shard = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards![0]!.ShardId!;
      const it = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
      const got = await streams.send(new GetRecordsCommand({ ShardIterator: it }));
      const seen = got.Records!.map((r) => [r.eventName, r.dynamodb!.Keys!.pk!.S, r.dynamodb!.OldImage?.v?.N, r.dynamodb!.NewImage?.v?.N]);
      assert.deepEqual(seen, [
        ['INSERT', 'm', undefined, '1'], ['INSERT', 'r', undefined, '1'], ['INSERT', 'c', undefined, '1'],
        ['INSERT', 'i', undefined, '1'], ['MODIFY', 'm', '1', '2'], ['REMOVE', 'r', '1', undefined],
      ]);
    } finally {
      streams.destroy();
    }
  });

  it('no reader ever sees half a transaction while writers move value between items', async () => {
    const accounts = 8;
    const total = accounts * 100;
    await createTable(client, 'bank');
    await client.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: accounts }, (_, i) => ({ Put: { TableName: 'bank', Item: { pk: S(`acct-${i}`), bal: N(100), ops: N(0) } } })) }));
    const keys = Array.from({ length: accounts }, (_, i) => ({ pk: S(`acct-${i}`) }));
    let committed = 0;
    let refused = 0;
    let writing = true;
    const writer = async (seed: number) => {
      let x = seed;
      const rand = (n: number) => {
        x = (x * 1103515245 + 12345) % 2147483648;
        return x % n;
      };
      for (let i = 0; i < 60; i++) {
        const from = rand(accounts);
        const to = (from + 1 + rand(accounts - 1)) % accounts;
        const amount = 1 + rand(150); // sometimes more than the balance: the condition cancels it
        try {
          await client.send(new TransactWriteItemsCommand({
            TransactItems: [
              { Update: { TableName: 'bank', Key: keys[from], UpdateExpression: 'SET bal = bal - :a ADD ops :one', ConditionExpression: 'bal >= :a', ExpressionAttributeValues: { ':a': N(amount), ':one': N(1) } } },
              { Update: { TableName: 'bank', Key: keys[to], UpdateExpression: 'SET bal = bal + :a ADD ops :one', ExpressionAttributeValues: { ':a': N(amount), ':one': N(1) } } },
            ],
          }));
          committed++;
        } catch (e) {
          if (!(e instanceof TransactionCanceledException)) throw e;
          refused++;
        }
      }
    };
    const sum = (items: Record<string, AttributeValue>[] | undefined) => (items ?? []).reduce((s, it) => s + Number(it.bal!.N), 0);
    const observed = { transactGet: 0, batchGet: 0, scan: 0 };
    const reader = async () => {
      while (writing) {
        try {
          const t = await client.send(new TransactGetItemsCommand({ TransactItems: keys.map((k) => ({ Get: { TableName: 'bank', Key: k } })) }));
          assert.equal(sum(t.Responses!.map((r) => r.Item!)), total, 'TransactGetItems saw a partial transaction');
          observed.transactGet++;
        } catch (e) {
          // A read of an item a transaction holds is cancelled (TransactionConflict), as on DynamoDB.
          if (!(e instanceof TransactionCanceledException)) throw e;
          assert.ok(e.CancellationReasons!.every((r) => r.Code === 'None' || r.Code === 'TransactionConflict'));
        }
        const b = await client.send(new BatchGetItemCommand({ RequestItems: { bank: { Keys: keys, ConsistentRead: true } } }));
        assert.equal(sum(b.Responses!.bank), total, 'BatchGetItem saw a partial transaction');
        observed.batchGet++;
        assert.equal(sum(await scanAll(client, 'bank')), total, 'Scan saw a partial transaction');
        observed.scan++;
      }
    };
    const readers = [reader(), reader()];
    await Promise.all([1, 2, 3, 4].map(writer));
    writing = false;
    await Promise.all(readers);
    assert.ok(committed > 0 && observed.transactGet > 0 && observed.batchGet > 0, JSON.stringify({ committed, refused, observed }));
    const final = await scanAll(client, 'bank');
    assert.equal(sum(final), total);
    assert.ok(final.every((it) => Number(it.bal!.N) >= 0));
    // Every committed transaction touched two items; a cancelled one touched none.
    assert.equal(final.reduce((s, it) => s + Number(it.ops!.N), 0), 2 * committed);
  });
});

describe('DynamoDB transactions: an item a transaction holds', () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;
  const HOLD_MS = 3000;
  before(async () => {
    cellar = await startCellar({ args: ['--quiet'], env: { CELLAR_FAULTS: `dynamodb.transaction.hold@2=delay:${HOLD_MS}` } });
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await createTable(client, 'held');
  });
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  it('conflicts as DynamoDB documents while the transaction commits', async () => {
    // The first transaction runs at once (step 1); the second (step 2) holds its items.
    await client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'held', Item: { pk: S('x'), v: N(1) } } }, { Put: { TableName: 'held', Item: { pk: S('y'), v: N(1) } } }] }));
    const startedAt = Date.now();
    const holding = client.send(new TransactWriteItemsCommand({
      ClientRequestToken: 'held-token',
      TransactItems: [{ Update: { TableName: 'held', Key: { pk: S('x') }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': N(2) } } }],
    }));
    await new Promise((r) => setTimeout(r, 300));
    // Another transaction on the item: cancelled, its other action "None".
    const other = await failure(client.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: 'held', Item: { pk: S('z') } } },
      { Update: { TableName: 'held', Key: { pk: S('x') }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': N(3) } } },
    ] })));
    assert.ok(other instanceof TransactionCanceledException, other.name);
    assert.deepEqual(other.CancellationReasons, [{ Code: 'None' }, { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }]);
    assert.equal(other.message, 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]');
    // Single-item writes: TransactionConflictException.
    for (const cmd of [
      new PutItemCommand({ TableName: 'held', Item: { pk: S('x'), v: N(4) } }),
      new UpdateItemCommand({ TableName: 'held', Key: { pk: S('x') }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': N(4) } }),
      new DeleteItemCommand({ TableName: 'held', Key: { pk: S('x') } }),
    ]) {
      const e = await failure(client.send(cmd as PutItemCommand));
      assert.ok(e instanceof TransactionConflictException, e.name);
      assert.equal(e.$metadata.httpStatusCode, 400);
    }
    // A read transaction of the item is cancelled; GetItem reads the committed value.
    const read = await failure(client.send(new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'held', Key: { pk: S('y') } } }, { Get: { TableName: 'held', Key: { pk: S('x') } } }] })));
    assert.ok(read instanceof TransactionCanceledException);
    assert.deepEqual(read.CancellationReasons, [{ Code: 'None' }, { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }]);
    assert.deepEqual((await client.send(new GetItemCommand({ TableName: 'held', Key: { pk: S('x') } }))).Item, { pk: S('x'), v: N(1) });
    // Its token while it runs: TransactionInProgressException.
    const inProgress = await failure(client.send(new TransactWriteItemsCommand({
      ClientRequestToken: 'held-token',
      TransactItems: [{ Update: { TableName: 'held', Key: { pk: S('x') }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': N(2) } } }],
    })));
    assert.ok(inProgress instanceof TransactionInProgressException, inProgress.name);
    assert.equal(inProgress.message, 'Transaction from previous request is still in progress');
    // Other items are free.
    await client.send(new TransactWriteItemsCommand({ TransactItems: [{ Update: { TableName: 'held', Key: { pk: S('y') }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': N(5) } } }] }));
    await client.send(new PutItemCommand({ TableName: 'held', Item: { pk: S('w') } }));
    assert.ok(Date.now() - startedAt < HOLD_MS, 'the checks ran while the transaction held its items');
    await holding;
    assert.deepEqual(await scanAll(client, 'held'), [
      { pk: S('w') },
      { pk: S('x'), v: N(2) },
      { pk: S('y'), v: N(5) },
    ]);
    // Released: the item takes writes again.
    await client.send(new PutItemCommand({ TableName: 'held', Item: { pk: S('x'), v: N(6) } }));
  });
});

describe('DynamoDB transactions: kill -9 while a transaction holds its items', () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  it('a transaction that had not committed is not applied, and its token is not remembered', async () => {
    cellar = await startCellar({ args: ['--quiet'], env: { CELLAR_FAULTS: 'dynamodb.transaction.hold@2=delay:30000' } });
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await createTable(client, 'killed');
    await client.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'killed', Item: { pk: S('a'), v: N(1) } } }, { Put: { TableName: 'killed', Item: { pk: S('b'), v: N(1) } } }] }));
    const move = () => new TransactWriteItemsCommand({
      ClientRequestToken: 'killed-token',
      TransactItems: [
        { Update: { TableName: 'killed', Key: { pk: S('a') }, UpdateExpression: 'SET v = v - :one', ExpressionAttributeValues: { ':one': N(1) } } },
        { Update: { TableName: 'killed', Key: { pk: S('b') }, UpdateExpression: 'SET v = v + :one', ExpressionAttributeValues: { ':one': N(1) } } },
      ],
    });
    const held = client.send(move()).then(() => 'answered', () => 'failed');
    await new Promise((r) => setTimeout(r, 500));
    await cellar.kill9();
    assert.equal(await held, 'failed');
    cellar = await startCellar({ dataDir: cellar.dataDir!, port: cellar.port, args: ['--quiet'], env: { CELLAR_FAULTS: '' } });
    assert.deepEqual(await scanAll(client, 'killed'), [{ pk: S('a'), v: N(1) }, { pk: S('b'), v: N(1) }]);
    // Not remembered: the retry runs, once.
    await client.send(move());
    await client.send(move());
    assert.deepEqual(await scanAll(client, 'killed'), [{ pk: S('a'), v: N(0) }, { pk: S('b'), v: N(2) }]);
  });
});
