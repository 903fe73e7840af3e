/** End-to-end: the official AWS SDK v3 DynamoDB client (and the lib-dynamodb document client) against a running Cellar. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, PutItemCommand, GetItemCommand, QueryCommand, UpdateItemCommand,
  DeleteTableCommand, ConditionalCheckFailedException, ResourceNotFoundException, ListTablesCommand, BatchWriteItemCommand, ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';

describe('DynamoDB through the AWS SDK', () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;
  before(async () => {
    cellar = await startCellar();
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  it('creates a table, writes, reads, queries, updates and deletes', async () => {
    const created = await client.send(new CreateTableCommand({
      TableName: 'orders', BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    }));
    assert.equal(created.TableDescription?.TableStatus, 'CREATING');
    assert.ok(created.TableDescription?.CreationDateTime instanceof Date);
    const d = await client.send(new DescribeTableCommand({ TableName: 'orders' }));
    assert.equal(d.Table?.TableStatus, 'ACTIVE');
    await client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'c1' }, sk: { N: '1' }, amount: { N: '10.50' }, blob: { B: new Uint8Array([0, 1, 2]) } } }));
    const got = await client.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'c1' }, sk: { N: '1' } } }));
    assert.equal(got.Item?.amount?.N, '10.5');
    assert.deepEqual([...(got.Item?.blob?.B ?? [])], [0, 1, 2]);
    await assert.rejects(
      client.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'c1' }, sk: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)' })),
      (e: unknown) => e instanceof ConditionalCheckFailedException && e.$metadata.httpStatusCode === 400,
    );
    await assert.rejects(client.send(new GetItemCommand({ TableName: 'missing', Key: { pk: { S: 'x' } } })), (e: unknown) => e instanceof ResourceNotFoundException);
    await assert.rejects(
      client.send(new QueryCommand({ TableName: 'orders', KeyConditionExpression: 'status = :s', ExpressionAttributeValues: { ':s': { S: 'x' } } })),
      (e: any) => e.name === 'ValidationException' && e.message === 'Invalid KeyConditionExpression: Attribute name is a reserved keyword; reserved keyword: status',
    );
    await client.send(new BatchWriteItemCommand({ RequestItems: { orders: [2, 3, 4].map((n) => ({ PutRequest: { Item: { pk: { S: 'c1' }, sk: { N: String(n) } } } })) } }));
    const q = await client.send(new QueryCommand({ TableName: 'orders', KeyConditionExpression: 'pk = :p AND sk > :s', ExpressionAttributeValues: { ':p': { S: 'c1' }, ':s': { N: '1' } }, ScanIndexForward: false, Limit: 2 }));
    assert.deepEqual(q.Items?.map((i) => i.sk?.N), ['4', '3']);
    assert.deepEqual(q.LastEvaluatedKey, { pk: { S: 'c1' }, sk: { N: '3' } });
    const u = await client.send(new UpdateItemCommand({ TableName: 'orders', Key: { pk: { S: 'c1' }, sk: { N: '1' } }, UpdateExpression: 'ADD amount :d', ExpressionAttributeValues: { ':d': { N: '0.25' } }, ReturnValues: 'UPDATED_NEW' }));
    assert.equal(u.Attributes?.amount?.N, '10.75');
    const s = await client.send(new ScanCommand({ TableName: 'orders', Select: 'COUNT' }));
    assert.equal(s.Count, 4);
    const doc = DynamoDBDocumentClient.from(client);
    await doc.send(new PutCommand({ TableName: 'orders', Item: { pk: 'doc', sk: 1, nested: { list: [1, 'two', { three: true }] }, tags: new Set(['a', 'b']) } }));
    const dg = await doc.send(new GetCommand({ TableName: 'orders', Key: { pk: 'doc', sk: 1 } }));
    assert.deepEqual(dg.Item?.nested, { list: [1, 'two', { three: true }] });
    assert.deepEqual(dg.Item?.tags, new Set(['a', 'b']));
    assert.deepEqual((await client.send(new ListTablesCommand({}))).TableNames, ['orders']);
    await client.send(new DeleteTableCommand({ TableName: 'orders' }));
    assert.deepEqual((await client.send(new ListTablesCommand({}))).TableNames, []);
  });
});
