/**
 * DynamoDB conformance, end to end: the official SDK v3 client, the lib-dynamodb DocumentClient, the
 * AWS CLI v2 and raw signed requests (for exact `__type`, status and message bytes) against one real
 * Cellar process. Expected values are AWS's: messages as DynamoDB returns them (cross-checked with
 * dynalite's suite, which was validated against DynamoDB, and captures of real AWS responses), sizes
 * and capacity units by DynamoDB's rules.
 *
 * Tests share one Cellar and use distinct tables, so they run in order but do not depend on each
 * other's items.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, PutItemCommand, GetItemCommand, QueryCommand, UpdateItemCommand,
  DeleteItemCommand, DeleteTableCommand, ListTablesCommand, BatchWriteItemCommand, BatchGetItemCommand, ScanCommand,
  UpdateTableCommand, DescribeLimitsCommand, DescribeEndpointsCommand, TagResourceCommand, UntagResourceCommand,
  ListTagsOfResourceCommand, ConditionalCheckFailedException, type AttributeValue, type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand, GetCommand, UpdateCommand, QueryCommand as DocQueryCommand } from '@aws-sdk/lib-dynamodb';
import { awsCli, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall } from '../helpers/sign.js';

/** Items in wire shape (binary as base64) for raw calls; SDK calls use the SDK's AttributeValue. */
type Item = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const VALIDATION = 'com.amazon.coral.validate#ValidationException';
const DDB = 'com.amazonaws.dynamodb.v20120810#';

describe('DynamoDB conformance (SDK, DocumentClient, CLI, raw)', () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;
  let doc: DynamoDBDocumentClient;

  /** A raw signed call; returns status and parsed body. */
  const raw = async (op: string, body: unknown): Promise<{ status: number; json: any }> => {
    const r = await jsonCall(cellar.endpoint, 'dynamodb', `DynamoDB_20120810.${op}`, JSON.stringify(body));
    return { status: r.status, json: r.json };
  };
  /** Asserts the exact error a raw call gets: HTTP 400, full `__type`, exact message. */
  const rejects = async (op: string, body: unknown, type: string, message: string): Promise<void> => {
    const r = await raw(op, body);
    assert.deepEqual({ status: r.status, type: r.json?.__type, message: r.json?.message }, { status: 400, type: type === 'ValidationException' ? VALIDATION : DDB + type, message }, `${op} ${JSON.stringify(body).slice(0, 300)}`);
  };
  const ok = async (op: string, body: unknown): Promise<any> => {
    const r = await raw(op, body);
    assert.equal(r.status, 200, `${op}: ${JSON.stringify(r.json)}`);
    return r.json;
  };
  const create = async (input: Partial<CreateTableCommandInput> & { TableName: string }): Promise<void> => {
    await client.send(new CreateTableCommand({ BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], ...input } as CreateTableCommandInput));
    await waitFor(async () => (await client.send(new DescribeTableCommand({ TableName: input.TableName }))).Table?.TableStatus === 'ACTIVE', `${input.TableName} ACTIVE`);
  };
  const put = (TableName: string, Item: Item) => client.send(new PutItemCommand({ TableName, Item }));
  const batchPut = async (TableName: string, items: Item[]): Promise<void> => {
    for (let i = 0; i < items.length; i += 25) {
      const r = await client.send(new BatchWriteItemCommand({ RequestItems: { [TableName]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
      assert.deepEqual(r.UnprocessedItems, {});
    }
  };

  before(async () => {
    cellar = await startCellar({ args: ['--quiet'] });
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
    doc = DynamoDBDocumentClient.from(client);
  });
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  // ---------------------------------------------------------------- tables

  it('CreateTable: every key shape, 5 LSIs, 20 GSIs, provisioned, streams, SSE, class, protection, tags; DescribeTable reports them', async () => {
    for (const [name, h, r] of [['k-s', 'S', undefined], ['k-n', 'N', undefined], ['k-b', 'B', undefined], ['k-sn', 'S', 'N'], ['k-bs', 'B', 'S'], ['k-nb', 'N', 'B']] as const) {
      const defs = [{ AttributeName: 'h', AttributeType: h }, ...(r ? [{ AttributeName: 'r', AttributeType: r }] : [])];
      const keys = [{ AttributeName: 'h', KeyType: 'HASH' as const }, ...(r ? [{ AttributeName: 'r', KeyType: 'RANGE' as const }] : [])];
      const c = await client.send(new CreateTableCommand({ TableName: name, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: defs, KeySchema: keys }));
      assert.equal(c.TableDescription?.TableStatus, 'CREATING');
      assert.deepEqual(c.TableDescription?.KeySchema, keys);
    }
    const lsis = [1, 2, 3, 4, 5].map((i) => ({
      IndexName: `lsi${i}`, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }, { AttributeName: `lsi${i}`, KeyType: 'RANGE' as const }],
      Projection: i === 1 ? { ProjectionType: 'KEYS_ONLY' as const } : i === 2 ? { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: ['x'] } : { ProjectionType: 'ALL' as const },
    }));
    const gsis = Array.from({ length: 20 }, (_, i) => ({
      IndexName: `gsi${i}`, KeySchema: [{ AttributeName: `gsi${i}`, KeyType: 'HASH' as const }],
      Projection: i % 3 === 0 ? { ProjectionType: 'KEYS_ONLY' as const } : i % 3 === 1 ? { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: ['x', 'y'] } : { ProjectionType: 'ALL' as const },
      ProvisionedThroughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 3 },
    }));
    const defs = [{ AttributeName: 'pk', AttributeType: 'S' as const }, { AttributeName: 'sk', AttributeType: 'N' as const },
      ...lsis.map((l) => ({ AttributeName: l.IndexName, AttributeType: 'S' as const })), ...gsis.map((g) => ({ AttributeName: g.IndexName, AttributeType: 'B' as const }))];
    const created = await client.send(new CreateTableCommand({
      TableName: 'big', AttributeDefinitions: defs, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      LocalSecondaryIndexes: lsis, GlobalSecondaryIndexes: gsis, ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 7 },
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' }, SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: 'alias/mine' },
      TableClass: 'STANDARD_INFREQUENT_ACCESS', DeletionProtectionEnabled: true, Tags: [{ Key: 'team', Value: 'data' }],
    }));
    assert.equal(created.TableDescription?.TableStatus, 'CREATING');
    assert.deepEqual(created.TableDescription?.GlobalSecondaryIndexes?.map((g) => g.IndexStatus), Array(20).fill('CREATING'));
    const t = (await client.send(new DescribeTableCommand({ TableName: 'big' }))).Table!;
    assert.equal(t.TableStatus, 'ACTIVE');
    assert.equal(t.TableArn, 'arn:aws:dynamodb:us-east-1:000000000000:table/big');
    assert.match(t.TableId!, /^[0-9a-f-]{36}$/);
    assert.deepEqual([t.ItemCount, t.TableSizeBytes], [0, 0]);
    assert.deepEqual({ r: t.ProvisionedThroughput?.ReadCapacityUnits, w: t.ProvisionedThroughput?.WriteCapacityUnits, d: t.ProvisionedThroughput?.NumberOfDecreasesToday }, { r: 5, w: 7, d: 0 });
    assert.equal(t.BillingModeSummary, undefined, 'a table created PROVISIONED has no BillingModeSummary');
    assert.deepEqual(t.LocalSecondaryIndexes?.map((l) => [l.IndexName, l.Projection?.ProjectionType, l.IndexSizeBytes, l.ItemCount, l.IndexArn]),
      lsis.map((l) => [l.IndexName, l.Projection.ProjectionType, 0, 0, `arn:aws:dynamodb:us-east-1:000000000000:table/big/index/${l.IndexName}`]));
    assert.deepEqual(t.GlobalSecondaryIndexes?.map((g) => [g.IndexName, g.IndexStatus, g.Projection?.ProjectionType, g.ProvisionedThroughput?.ReadCapacityUnits, g.ProvisionedThroughput?.WriteCapacityUnits]),
      gsis.map((g) => [g.IndexName, 'ACTIVE', g.Projection.ProjectionType, 2, 3]));
    assert.deepEqual(t.GlobalSecondaryIndexes?.[1]?.Projection?.NonKeyAttributes, ['x', 'y']);
    assert.deepEqual(t.StreamSpecification, { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    assert.match(t.LatestStreamArn!, /^arn:aws:dynamodb:us-east-1:000000000000:table\/big\/stream\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
    assert.deepEqual(t.SSEDescription, { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: 'arn:aws:kms:us-east-1:000000000000:alias/mine' });
    assert.deepEqual(t.TableClassSummary, { TableClass: 'STANDARD_INFREQUENT_ACCESS' });
    assert.equal(t.DeletionProtectionEnabled, true);
    assert.deepEqual((await client.send(new ListTagsOfResourceCommand({ ResourceArn: t.TableArn }))).Tags, [{ Key: 'team', Value: 'data' }]);
    // Deletion protection holds until switched off.
    await rejects('DeleteTable', { TableName: 'big' }, 'ValidationException', 'Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.');
    const u = await client.send(new UpdateTableCommand({ TableName: 'big', DeletionProtectionEnabled: false }));
    assert.equal(u.TableDescription?.DeletionProtectionEnabled, false);
    await waitFor(async () => (await client.send(new DescribeTableCommand({ TableName: 'big' }))).Table?.TableStatus === 'ACTIVE', 'big ACTIVE after update');
    const d = await client.send(new DeleteTableCommand({ TableName: 'big' }));
    assert.equal(d.TableDescription?.TableStatus, 'DELETING');
    await waitFor(async () => {
      const r = await raw('DescribeTable', { TableName: 'big' });
      return r.status === 400 && r.json.__type === `${DDB}ResourceNotFoundException` && r.json.message === 'Requested resource not found: Table: big not found';
    }, 'big gone');
  });

  it('CreateTable validation: AWS messages, in AWS order', async () => {
    const base = { TableName: 'bad', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] };
    await rejects('CreateTable', { ...base, BillingMode: undefined }, 'ValidationException', 'One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED');
    await rejects('CreateTable', { ...base, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }, 'ValidationException', 'One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST');
    await rejects('CreateTable', { ...base, AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'pk', AttributeType: 'N' }] }, 'ValidationException', 'Attribute Name is duplicated: pk');
    await rejects('CreateTable', { ...base, AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'x', AttributeType: 'S' }] }, 'ValidationException', 'One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions');
    await rejects('CreateTable', { ...base, KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }] }, 'ValidationException', 'One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [a], AttributeDefinitions: [pk]');
    await rejects('CreateTable', { ...base, KeySchema: [{ AttributeName: 'pk', KeyType: 'RANGE' }] }, 'ValidationException', 'Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
    const six = Array.from({ length: 6 }, (_, i) => ({ IndexName: `lsi${i}`, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }));
    const withRange = { ...base, AttributeDefinitions: [...base.AttributeDefinitions, { AttributeName: 'sk', AttributeType: 'S' }, { AttributeName: 'l', AttributeType: 'S' }], KeySchema: [...base.KeySchema, { AttributeName: 'sk', KeyType: 'RANGE' }] };
    await rejects('CreateTable', { ...withRange, LocalSecondaryIndexes: six }, 'ValidationException', 'One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5');
    await rejects('CreateTable', { ...base, AttributeDefinitions: [...base.AttributeDefinitions, { AttributeName: 'l', AttributeType: 'S' }], LocalSecondaryIndexes: six.slice(0, 1) }, 'ValidationException', 'One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex');
    const gsi21 = Array.from({ length: 21 }, (_, i) => ({ IndexName: `gsi${i}`, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }));
    await rejects('CreateTable', { ...base, GlobalSecondaryIndexes: gsi21 }, 'ValidationException', 'One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20');
    await rejects('CreateTable', { ...base, GlobalSecondaryIndexes: [{ IndexName: 'gsi', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY', NonKeyAttributes: ['a'] } }] }, 'ValidationException', 'One or more parameter values were invalid: ProjectionType is KEYS_ONLY, but NonKeyAttributes is specified');
    // Model validation: several problems reported together, in DynamoDB's own member order (not the model's).
    await rejects('CreateTable', { TableName: 'abc', KeySchema: [], AttributeDefinitions: [], BillingMode: 'SOMETIMES' }, 'ValidationException',
      "2 validation errors detected: Value 'SOMETIMES' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]; Value '[]' at 'keySchema' failed to satisfy constraint: Member must have length greater than or equal to 1");
    assert.deepEqual((await client.send(new ListTablesCommand({}))).TableNames?.includes('bad'), false);
    await create({ TableName: 'dup' });
    await rejects('CreateTable', { ...base, TableName: 'dup' }, 'ResourceInUseException', 'Table already exists: dup');
  });

  it('ListTables pages with Limit / ExclusiveStartTableName in name order', async () => {
    const all = (await client.send(new ListTablesCommand({}))).TableNames!;
    assert.deepEqual(all, [...all].sort());
    const seen: string[] = [];
    let start: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await client.send(new ListTablesCommand({ Limit: 2, ...(start ? { ExclusiveStartTableName: start } : {}) }));
      assert.ok(r.TableNames!.length <= 2);
      seen.push(...r.TableNames!);
      start = r.LastEvaluatedTableName;
      if (!start) break;
    }
    assert.deepEqual(seen, all);
  });

  it('UpdateTable: GSI create backfills (CREATING → ACTIVE), GSI delete, billing and throughput changes', async () => {
    await create({ TableName: 'upd' });
    const items = Array.from({ length: 1200 }, (_, i) => ({ pk: { S: `p${i}` }, g: { S: `g${i % 7}` }, n: { N: String(i) }, ...(i % 10 === 0 ? {} : { s: { S: 'x' } }) }));
    await batchPut('upd', items);
    const u = await client.send(new UpdateTableCommand({
      TableName: 'upd', AttributeDefinitions: [{ AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'n', AttributeType: 'N' }],
      GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }, { AttributeName: 'n', KeyType: 'RANGE' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['s'] } } }],
    }));
    assert.equal(u.TableDescription?.TableStatus, 'UPDATING');
    assert.deepEqual([u.TableDescription?.GlobalSecondaryIndexes?.[0]?.IndexStatus, u.TableDescription?.GlobalSecondaryIndexes?.[0]?.Backfilling], ['CREATING', true]);
    await waitFor(async () => (await client.send(new DescribeTableCommand({ TableName: 'upd' }))).Table?.GlobalSecondaryIndexes?.[0]?.IndexStatus === 'ACTIVE', 'byG ACTIVE', 30_000);
    const t = (await client.send(new DescribeTableCommand({ TableName: 'upd' }))).Table!;
    assert.equal(t.TableStatus, 'ACTIVE');
    assert.equal(t.GlobalSecondaryIndexes![0]!.ItemCount, 1200);
    const q = await client.send(new QueryCommand({ TableName: 'upd', IndexName: 'byG', KeyConditionExpression: 'g = :g AND n < :n', ExpressionAttributeValues: { ':g': { S: 'g3' }, ':n': { N: '30' } } }));
    assert.deepEqual(q.Items, [3, 10, 17, 24].map((i) => ({ g: { S: 'g3' }, n: { N: String(i) }, pk: { S: `p${i}` }, ...(i % 10 === 0 ? {} : { s: { S: 'x' } }) })));
    // Billing mode and throughput.
    const p = await client.send(new UpdateTableCommand({ TableName: 'upd', BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 4 },
      GlobalSecondaryIndexUpdates: [{ Update: { IndexName: 'byG', ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } } }] }));
    assert.deepEqual(p.TableDescription?.BillingModeSummary?.BillingMode, 'PROVISIONED');
    await waitFor(async () => (await client.send(new DescribeTableCommand({ TableName: 'upd' }))).Table?.TableStatus === 'ACTIVE', 'upd ACTIVE');
    await rejects('UpdateTable', { TableName: 'upd', ProvisionedThroughput: { ReadCapacityUnits: 3, WriteCapacityUnits: 4 } }, 'ValidationException',
      'The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: 3. Requested ReadCapacityUnits: 3. Current WriteCapacityUnits provisioned for the table: 4. Requested WriteCapacityUnits: 4. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.');
    await client.send(new UpdateTableCommand({ TableName: 'upd', ProvisionedThroughput: { ReadCapacityUnits: 10, WriteCapacityUnits: 4 } }));
    const t2 = (await client.send(new DescribeTableCommand({ TableName: 'upd' }))).Table!;
    assert.equal(t2.ProvisionedThroughput?.ReadCapacityUnits, 10);
    assert.ok(t2.ProvisionedThroughput?.LastIncreaseDateTime instanceof Date);
    await rejects('UpdateTable', { TableName: 'upd' }, 'ValidationException', 'At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required');
    await waitFor(async () => (await client.send(new DescribeTableCommand({ TableName: 'upd' }))).Table?.TableStatus === 'ACTIVE', 'upd ACTIVE');
    const del = await client.send(new UpdateTableCommand({ TableName: 'upd', GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'byG' } }] }));
    assert.equal(del.TableDescription?.GlobalSecondaryIndexes?.find((g) => g.IndexName === 'byG')?.IndexStatus, 'DELETING');
    await waitFor(async () => (await client.send(new DescribeTableCommand({ TableName: 'upd' }))).Table?.GlobalSecondaryIndexes === undefined, 'byG gone');
    await rejects('Query', { TableName: 'upd', IndexName: 'byG', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'g1' } } }, 'ValidationException', 'The table does not have the specified index: byG');
  });

  it('DeleteTable answers DELETING; the table then disappears; operations on it get ResourceNotFoundException', async () => {
    await create({ TableName: 'gone' });
    await put('gone', { pk: { S: 'a' } });
    const d = await client.send(new DeleteTableCommand({ TableName: 'gone' }));
    assert.equal(d.TableDescription?.TableStatus, 'DELETING');
    assert.equal(d.TableDescription?.ItemCount, 1);
    await waitFor(async () => (await raw('DescribeTable', { TableName: 'gone' })).status === 400, 'gone gone');
    await rejects('DescribeTable', { TableName: 'gone' }, 'ResourceNotFoundException', 'Requested resource not found: Table: gone not found');
    await rejects('DeleteTable', { TableName: 'gone' }, 'ResourceNotFoundException', 'Requested resource not found: Table: gone not found');
    await rejects('GetItem', { TableName: 'gone', Key: { pk: { S: 'a' } } }, 'ResourceNotFoundException', 'Requested resource not found');
    await rejects('PutItem', { TableName: 'gone', Item: { pk: { S: 'a' } } }, 'ResourceNotFoundException', 'Requested resource not found');
    await rejects('Query', { TableName: 'gone', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'a' } } }, 'ResourceNotFoundException', 'Requested resource not found');
    // The name is free again, and the new table is empty.
    await create({ TableName: 'gone' });
    assert.equal((await client.send(new ScanCommand({ TableName: 'gone' }))).Count, 0);
  });

  it('DescribeLimits, DescribeEndpoints, and tags (Tag/Untag/ListTagsOfResource)', async () => {
    assert.deepEqual(await ok('DescribeLimits', {}), { AccountMaxReadCapacityUnits: 80000, AccountMaxWriteCapacityUnits: 80000, TableMaxReadCapacityUnits: 40000, TableMaxWriteCapacityUnits: 40000 });
    const e = await client.send(new DescribeEndpointsCommand({}));
    assert.equal(e.Endpoints?.[0]?.CachePeriodInMinutes, 1440);
    await create({ TableName: 'tagged' });
    const arn = 'arn:aws:dynamodb:us-east-1:000000000000:table/tagged';
    await client.send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'b', Value: '2' }, { Key: 'a', Value: '1' }, { Key: 'c', Value: '3' }] }));
    await client.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ['c', 'never'] }));
    assert.deepEqual((await client.send(new ListTagsOfResourceCommand({ ResourceArn: arn }))).Tags, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }]);
    await rejects('ListTagsOfResource', { ResourceArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/nope' }, 'ResourceNotFoundException', 'Requested resource not found: ResourcArn: arn:aws:dynamodb:us-east-1:000000000000:table/nope not found');
  });

  // ---------------------------------------------------------------- items

  it('PutItem/GetItem/UpdateItem/DeleteItem: conditions, every ReturnValues mode, ReturnValuesOnConditionCheckFailure', async () => {
    await create({ TableName: 'items' });
    const k = { pk: { S: 'k' } };
    assert.deepEqual(await ok('PutItem', { TableName: 'items', Item: { ...k, a: { N: '1' }, b: { S: 'x' } }, ReturnValues: 'ALL_OLD' }), {});
    assert.deepEqual((await ok('PutItem', { TableName: 'items', Item: { ...k, a: { N: '2' } }, ReturnValues: 'ALL_OLD' })).Attributes, { ...k, a: { N: '1' }, b: { S: 'x' } });
    await rejects('PutItem', { TableName: 'items', Item: k, ReturnValues: 'ALL_NEW' }, 'ValidationException', 'ReturnValues can only be ALL_OLD or NONE');
    // A failed condition: no change, and the item when asked.
    const fail = await raw('PutItem', { TableName: 'items', Item: k, ConditionExpression: 'a = :one', ExpressionAttributeValues: { ':one': { N: '1' } }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
    assert.deepEqual(fail, { status: 400, json: { __type: `${DDB}ConditionalCheckFailedException`, message: 'The conditional request failed', Item: { ...k, a: { N: '2' } } } });
    await assert.rejects(client.send(new PutItemCommand({ TableName: 'items', Item: k, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })),
      (e: unknown) => e instanceof ConditionalCheckFailedException && e.Item?.a?.N === '2');
    assert.deepEqual((await ok('GetItem', { TableName: 'items', Key: k, ConsistentRead: true })).Item, { ...k, a: { N: '2' } });
    // UpdateItem, each ReturnValues.
    const upd = (rv: string, expr: string, values?: Item) => ok('UpdateItem', { TableName: 'items', Key: k, UpdateExpression: expr, ReturnValues: rv, ...(values ? { ExpressionAttributeValues: values } : {}) });
    assert.deepEqual(await upd('NONE', 'SET c = :c', { ':c': { S: 'c' } }), {});
    assert.deepEqual((await upd('ALL_OLD', 'SET a = a + :d', { ':d': { N: '1' } })).Attributes, { ...k, a: { N: '2' }, c: { S: 'c' } });
    assert.deepEqual((await upd('UPDATED_OLD', 'SET a = a + :d, z = :d', { ':d': { N: '1' } })).Attributes, { a: { N: '3' } });
    assert.deepEqual((await upd('UPDATED_NEW', 'REMOVE z SET a = a - :d', { ':d': { N: '10' } })).Attributes, { a: { N: '-6' } });
    assert.deepEqual((await upd('ALL_NEW', 'REMOVE c')).Attributes, { ...k, a: { N: '-6' } });
    // UpdateItem creates the item when missing; a condition on the missing item sees no attributes.
    assert.deepEqual((await ok('UpdateItem', { TableName: 'items', Key: { pk: { S: 'new' } }, UpdateExpression: 'SET v = if_not_exists(v, :z)', ExpressionAttributeValues: { ':z': { N: '0' } }, ReturnValues: 'ALL_NEW' })).Attributes, { pk: { S: 'new' }, v: { N: '0' } });
    await rejects('UpdateItem', { TableName: 'items', Key: { pk: { S: 'none' } }, UpdateExpression: 'SET v = :z', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':z': { N: '0' } } }, 'ConditionalCheckFailedException', 'The conditional request failed');
    assert.equal((await ok('GetItem', { TableName: 'items', Key: { pk: { S: 'none' } } })).Item, undefined);
    await rejects('UpdateItem', { TableName: 'items', Key: k, UpdateExpression: 'SET pk = :z', ExpressionAttributeValues: { ':z': { S: 'x' } } }, 'ValidationException', 'One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key');
    // DeleteItem with condition and ALL_OLD; deleting a missing item is fine.
    await rejects('DeleteItem', { TableName: 'items', Key: k, ConditionExpression: 'a > :z', ExpressionAttributeValues: { ':z': { N: '0' } } }, 'ConditionalCheckFailedException', 'The conditional request failed');
    assert.deepEqual((await ok('DeleteItem', { TableName: 'items', Key: k, ConditionExpression: 'a < :z', ExpressionAttributeValues: { ':z': { N: '0' } }, ReturnValues: 'ALL_OLD' })).Attributes, { ...k, a: { N: '-6' } });
    assert.deepEqual(await ok('DeleteItem', { TableName: 'items', Key: k, ReturnValues: 'ALL_OLD' }), {});
    // Key checks.
    await rejects('GetItem', { TableName: 'items', Key: { pk: { N: '1' } } }, 'ValidationException', 'The provided key element does not match the schema');
    await rejects('GetItem', { TableName: 'items', Key: { pk: { S: 'a' }, x: { S: 'b' } } }, 'ValidationException', 'The provided key element does not match the schema');
    await rejects('PutItem', { TableName: 'items', Item: { x: { S: 'a' } } }, 'ValidationException', 'One or more parameter values were invalid: Missing the key pk in the item');
    await rejects('PutItem', { TableName: 'items', Item: { pk: { N: '1' } } }, 'ValidationException', 'One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N');
  });

  it('ReturnConsumedCapacity (TOTAL, INDEXES) and ReturnItemCollectionMetrics, by DynamoDB rules', async () => {
    await create({
      TableName: 'cap', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'l', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [{ IndexName: 'gsi', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
      LocalSecondaryIndexes: [{ IndexName: 'lsi', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
    });
    const k = { pk: { S: 'a' }, sk: { S: 'b' } };
    // 3000 bytes of payload: 3 write units for the table, 1 read unit (0.5 eventually consistent).
    const big = { ...k, g: { S: 'G' }, d: { S: 'x'.repeat(3000) } };
    const p1 = await ok('PutItem', { TableName: 'cap', Item: big, ReturnConsumedCapacity: 'INDEXES', ReturnItemCollectionMetrics: 'SIZE' });
    assert.deepEqual(p1.ConsumedCapacity, { TableName: 'cap', CapacityUnits: 6, WriteCapacityUnits: 6, Table: { CapacityUnits: 3, WriteCapacityUnits: 3 }, GlobalSecondaryIndexes: { gsi: { CapacityUnits: 3, WriteCapacityUnits: 3 } } });
    assert.deepEqual(p1.ItemCollectionMetrics, { ItemCollectionKey: { pk: { S: 'a' } }, SizeEstimateRangeGB: [0, 1] });
    // Overwriting with a small item costs max(old, new); the GSI entry is replaced.
    const p2 = await ok('PutItem', { TableName: 'cap', Item: { ...k, l: { S: 'L' } }, ReturnConsumedCapacity: 'TOTAL' });
    assert.deepEqual(p2.ConsumedCapacity, { TableName: 'cap', CapacityUnits: 7, WriteCapacityUnits: 7 });
    assert.deepEqual((await ok('GetItem', { TableName: 'cap', Key: k, ReturnConsumedCapacity: 'TOTAL' })).ConsumedCapacity, { TableName: 'cap', CapacityUnits: 0.5, ReadCapacityUnits: 0.5 });
    assert.deepEqual((await ok('GetItem', { TableName: 'cap', Key: k, ConsistentRead: true, ReturnConsumedCapacity: 'INDEXES' })).ConsumedCapacity, { TableName: 'cap', CapacityUnits: 1, ReadCapacityUnits: 1, Table: { CapacityUnits: 1, ReadCapacityUnits: 1 } });
    // A missing item still costs one unit (half when eventually consistent); so does deleting nothing.
    assert.deepEqual((await ok('GetItem', { TableName: 'cap', Key: { pk: { S: 'zz' }, sk: { S: 'zz' } }, ReturnConsumedCapacity: 'TOTAL' })).ConsumedCapacity.CapacityUnits, 0.5);
    assert.deepEqual((await ok('DeleteItem', { TableName: 'cap', Key: { pk: { S: 'zz' }, sk: { S: 'zz' } }, ReturnConsumedCapacity: 'TOTAL' })).ConsumedCapacity.CapacityUnits, 1);
    // 9 KB item read: ceil(9/4) = 3 units consistent.
    await put('cap', { pk: { S: 'r' }, sk: { S: 'r' }, d: { S: 'y'.repeat(9000) } });
    assert.equal((await ok('GetItem', { TableName: 'cap', Key: { pk: { S: 'r' }, sk: { S: 'r' } }, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' })).ConsumedCapacity.CapacityUnits, 3);
    const q = await ok('Query', { TableName: 'cap', IndexName: 'gsi', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'G' } }, ReturnConsumedCapacity: 'INDEXES' });
    assert.deepEqual(q.ConsumedCapacity, { TableName: 'cap', CapacityUnits: 0.5, ReadCapacityUnits: 0.5, Table: { CapacityUnits: 0, ReadCapacityUnits: 0 }, GlobalSecondaryIndexes: { gsi: { CapacityUnits: 0.5, ReadCapacityUnits: 0.5 } } });
  });

  it('BatchGetItem (100 keys, UnprocessedKeys) and BatchWriteItem (25 requests; one invalid member rejects the batch)', async () => {
    await create({ TableName: 'batch' });
    const items = Array.from({ length: 100 }, (_, i) => ({ pk: { S: `b${i}` }, n: { N: String(i) } }));
    await batchPut('batch', items);
    const got = await client.send(new BatchGetItemCommand({ RequestItems: { batch: { Keys: items.map((i) => ({ pk: i.pk })), ProjectionExpression: 'n' } }, ReturnConsumedCapacity: 'TOTAL' }));
    assert.deepEqual(got.Responses?.batch?.map((i) => Number(i.n!.N)).sort((a, b) => a - b), items.map((_, i) => i));
    assert.deepEqual(got.UnprocessedKeys, {});
    assert.deepEqual(got.ConsumedCapacity, [{ TableName: 'batch', CapacityUnits: 50, ReadCapacityUnits: 50 }]);
    // 100 keys in total across tables (one table's list over 100 is a model constraint error instead).
    await create({ TableName: 'batch2' });
    await rejects('BatchGetItem', { RequestItems: { batch: { Keys: items.slice(0, 60).map((i) => ({ pk: i.pk })) }, batch2: { Keys: items.slice(0, 41).map((i) => ({ pk: i.pk })) } } }, 'ValidationException', 'Too many items requested for the BatchGetItem call');
    await rejects('BatchGetItem', { RequestItems: { batch: { Keys: [{ pk: { S: 'b1' } }, { pk: { S: 'b1' } }] } } }, 'ValidationException', 'Provided list of item keys contains duplicates');
    const writes = Array.from({ length: 26 }, (_, i) => ({ PutRequest: { Item: { pk: { S: `w${i}` } } } }));
    await rejects('BatchWriteItem', { RequestItems: { batch: writes.slice(0, 13), batch2: writes.slice(13) } }, 'ValidationException', 'Too many items requested for the BatchWriteItem call');
    const bad = [...writes.slice(0, 24), { PutRequest: { Item: { pk: { S: 'w24' }, s: { SS: [] } } } }];
    await rejects('BatchWriteItem', { RequestItems: { batch: bad } }, 'ValidationException', 'One or more parameter values were invalid: An string set  may not be empty');
    const noKey = [...writes.slice(0, 24), { PutRequest: { Item: { x: { S: 'w24' } } } }];
    // BatchWriteItem words a put without the table's key as a key mismatch, not as PutItem does (dynalite's suite, recorded on AWS).
    await rejects('BatchWriteItem', { RequestItems: { batch: noKey } }, 'ValidationException', 'The provided key element does not match the schema');
    assert.equal((await ok('GetItem', { TableName: 'batch', Key: { pk: { S: 'w0' } } })).Item, undefined, 'a rejected batch writes nothing');
    const w = await ok('BatchWriteItem', { RequestItems: { batch: [...writes.slice(0, 24), { DeleteRequest: { Key: { pk: { S: 'b0' } } } }] } });
    assert.deepEqual(w, { UnprocessedItems: {} });
    assert.equal((await client.send(new ScanCommand({ TableName: 'batch', Select: 'COUNT' }))).Count, 123);
  });

  it('ProjectionExpression: top-level and nested paths, list indexes, placeholders; AttributesToGet', async () => {
    await create({ TableName: 'proj' });
    const item = { pk: { S: 'p' }, a: { M: { b: { L: [{ S: 'x' }, { M: { c: { N: '1' }, d: { N: '2' } } }, { S: 'z' }] }, e: { S: 'e' } } }, f: { S: 'f' }, 'g.h': { S: 'dotted' } };
    await put('proj', item);
    const get = (body: object) => ok('GetItem', { TableName: 'proj', Key: { pk: { S: 'p' } }, ...body });
    assert.deepEqual((await get({ ProjectionExpression: 'a.b[1].c, f, a.b[2]' })).Item, { a: { M: { b: { L: [{ M: { c: { N: '1' } } }, { S: 'z' }] } } }, f: { S: 'f' } });
    assert.deepEqual((await get({ ProjectionExpression: '#gh, a.e', ExpressionAttributeNames: { '#gh': 'g.h' } })).Item, { 'g.h': { S: 'dotted' }, a: { M: { e: { S: 'e' } } } });
    assert.deepEqual((await get({ ProjectionExpression: 'nope, a.b[9]' })).Item, {});
    assert.deepEqual((await get({ AttributesToGet: ['f', 'pk'] })).Item, { f: { S: 'f' }, pk: { S: 'p' } });
    await rejects('GetItem', { TableName: 'proj', Key: { pk: { S: 'p' } }, ProjectionExpression: 'a, a.b' }, 'ValidationException', 'Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]');
    await rejects('GetItem', { TableName: 'proj', Key: { pk: { S: 'p' } }, ProjectionExpression: 'a.b[0], a.b.c' }, 'ValidationException', 'Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b, [0]], path two: [a, b, c]');
    await rejects('GetItem', { TableName: 'proj', Key: { pk: { S: 'p' } }, ProjectionExpression: 'f', AttributesToGet: ['f'] }, 'ValidationException', 'Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}');
    await rejects('GetItem', { TableName: 'proj', Key: { pk: { S: 'p' } }, ProjectionExpression: 'f', ExpressionAttributeNames: { '#x': 'x' } }, 'ValidationException', 'Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}');
  });

  // ---------------------------------------------------------------- query and scan

  it('Query: key conditions, order, Limit (evaluated items), filter, Select, pagination, Count/ScannedCount', async () => {
    await create({ TableName: 'qry', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] });
    const sks = ['-10', '-1.5', '0', '0.001', '2', '10', '100', '1e3', '12345678901234567890123456789012345678'];
    await batchPut('qry', sks.map((s, i) => ({ pk: { S: 'p' }, sk: { N: s }, odd: { BOOL: i % 2 === 1 } })));
    await put('qry', { pk: { S: 'other' }, sk: { N: '1' } });
    const query = (body: object) => ok('Query', { TableName: 'qry', ...body });
    const p = { ':p': { S: 'p' } };
    const all = await query({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: p });
    assert.deepEqual(all.Items.map((i: Item) => i.sk!.N), ['-10', '-1.5', '0', '0.001', '2', '10', '100', '1000', '12345678901234567890123456789012345678']);
    assert.deepEqual([all.Count, all.ScannedCount, all.LastEvaluatedKey], [9, 9, undefined]);
    const rev = await query({ KeyConditionExpression: 'pk = :p AND sk BETWEEN :a AND :b', ExpressionAttributeValues: { ...p, ':a': { N: '0' }, ':b': { N: '100' } }, ScanIndexForward: false });
    assert.deepEqual(rev.Items.map((i: Item) => i.sk!.N), ['100', '10', '2', '0.001', '0']);
    // Limit counts items evaluated before the filter.
    const lim = await query({ KeyConditionExpression: 'pk = :p AND sk > :z', FilterExpression: 'odd = :t', ExpressionAttributeValues: { ...p, ':z': { N: '0' }, ':t': { BOOL: true } }, Limit: 3 });
    assert.deepEqual([lim.Count, lim.ScannedCount, lim.LastEvaluatedKey], [2, 3, { pk: { S: 'p' }, sk: { N: '10' } }]);
    assert.deepEqual(lim.Items.map((i: Item) => i.sk!.N), ['0.001', '10']);
    // Paging with ExclusiveStartKey walks the same items as one query.
    const seen: string[] = [];
    let esk: Item | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await query({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: p, Limit: 2, ...(esk ? { ExclusiveStartKey: esk } : {}) });
      seen.push(...r.Items.map((i: Item) => i.sk!.N));
      esk = r.LastEvaluatedKey;
      if (!esk) break;
    }
    assert.deepEqual(seen, all.Items.map((i: Item) => i.sk!.N));
    // A Limit that exactly exhausts the range still reports LastEvaluatedKey (DynamoDB cannot know it was the end).
    assert.deepEqual((await query({ KeyConditionExpression: 'pk = :p AND sk >= :a', ExpressionAttributeValues: { ...p, ':a': { N: '1000' } }, Limit: 2 })).LastEvaluatedKey, { pk: { S: 'p' }, sk: { N: '12345678901234567890123456789012345678' } });
    // Select.
    assert.deepEqual(await query({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: p, Select: 'COUNT' }), { Count: 9, ScannedCount: 9 });
    assert.deepEqual((await query({ KeyConditionExpression: 'pk = :p AND sk = :s', ExpressionAttributeValues: { ...p, ':s': { N: '2' } }, Select: 'SPECIFIC_ATTRIBUTES', ProjectionExpression: 'odd' })).Items, [{ odd: { BOOL: false } }]);
    assert.deepEqual((await query({ KeyConditionExpression: 'pk = :p AND sk = :s', ExpressionAttributeValues: { ...p, ':s': { N: '2' } }, Select: 'ALL_ATTRIBUTES' })).Items, [{ pk: { S: 'p' }, sk: { N: '2' }, odd: { BOOL: false } }]);
    const kc = { TableName: 'qry', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: p };
    await rejects('Query', { ...kc, Select: 'ALL_PROJECTED_ATTRIBUTES' }, 'ValidationException', 'ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName');
    await rejects('Query', { ...kc, Select: 'COUNT', ProjectionExpression: 'odd' }, 'ValidationException', 'Cannot specify the ProjectionExpression when choosing to get only the Count');
    await rejects('Query', { ...kc, Select: 'ALL_ATTRIBUTES', ProjectionExpression: 'odd' }, 'ValidationException', 'Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES');
    await rejects('Query', { ...kc, Select: 'SPECIFIC_ATTRIBUTES' }, 'ValidationException', 'Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES');
    // Key condition errors.
    await rejects('Query', { TableName: 'qry', KeyConditionExpression: 'sk = :s', ExpressionAttributeValues: { ':s': { N: '1' } } }, 'ValidationException', 'Query condition missed key schema element: pk');
    await rejects('Query', { TableName: 'qry', KeyConditionExpression: 'pk = :p OR sk = :s', ExpressionAttributeValues: { ...p, ':s': { N: '1' } } }, 'ValidationException', 'Invalid operator used in KeyConditionExpression: OR');
    await rejects('Query', { TableName: 'qry', KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)', ExpressionAttributeValues: { ...p, ':s': { N: '1' } } }, 'ValidationException', 'Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N');
    await rejects('Query', { TableName: 'qry', KeyConditionExpression: 'pk = :p AND sk = :s', ExpressionAttributeValues: { ...p, ':s': { S: '1' } } }, 'ValidationException', 'One or more parameter values were invalid: Condition parameter type does not match schema type');
    await rejects('Query', { ...kc, FilterExpression: 'sk > :p' }, 'ValidationException', 'Filter Expression can only contain non-primary key attributes: Primary key attribute: sk');
    await rejects('Query', { TableName: 'qry' }, 'ValidationException', 'Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
    // ExclusiveStartKey must be inside the query.
    await rejects('Query', { ...kc, ExclusiveStartKey: { pk: { S: 'other' }, sk: { N: '1' } } }, 'ValidationException', 'The provided starting key is outside query boundaries based on provided conditions');
    await rejects('Query', { TableName: 'qry', KeyConditionExpression: 'pk = :p AND sk > :z', ExpressionAttributeValues: { ...p, ':z': { N: '5' } }, ExclusiveStartKey: { pk: { S: 'p' }, sk: { N: '2' } } }, 'ValidationException', 'The provided starting key does not match the range key predicate');
    await rejects('Query', { ...kc, ExclusiveStartKey: { pk: { S: 'p' } } }, 'ValidationException', 'The provided starting key is invalid');
  });

  it('Scan: filter, Limit, pagination, parallel segments partition the table', async () => {
    await create({ TableName: 'scn', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'N' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] });
    await batchPut('scn', Array.from({ length: 200 }, (_, i) => ({ pk: { N: String(i) }, even: { BOOL: i % 2 === 0 } })));
    const all = new Set<number>();
    for (let seg = 0; seg < 4; seg++) {
      let esk: Item | undefined;
      for (let page = 0; page < 100; page++) {
        const r = await ok('Scan', { TableName: 'scn', Segment: seg, TotalSegments: 4, Limit: 17, ...(esk ? { ExclusiveStartKey: esk } : {}) });
        for (const i of r.Items as Item[]) {
          const n = Number(i.pk!.N);
          assert.ok(!all.has(n), `item ${n} in two segments`);
          all.add(n);
        }
        esk = r.LastEvaluatedKey;
        if (!esk) break;
      }
    }
    assert.equal(all.size, 200);
    const f = await ok('Scan', { TableName: 'scn', FilterExpression: 'even = :t AND pk < :n', ExpressionAttributeValues: { ':t': { BOOL: true }, ':n': { N: '10' } } });
    assert.deepEqual([f.Count, f.ScannedCount], [5, 200]);
    await rejects('Scan', { TableName: 'scn', Segment: 4, TotalSegments: 4 }, 'ValidationException', 'The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is not less than TotalSegments: 4');
    await rejects('Scan', { TableName: 'scn', Segment: 1 }, 'ValidationException', 'The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
    await rejects('Scan', { TableName: 'scn', Select: 'ALL_PROJECTED_ATTRIBUTES' }, 'ValidationException', 'ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName');
    // 1 MB page: 30 items of 100 KB, filter keeps none; the page stops once 1 MB was read.
    await create({ TableName: 'mbs' });
    const pad = 'z'.repeat(100_000);
    await batchPut('mbs', Array.from({ length: 30 }, (_, i) => ({ pk: { S: `p${i}` }, pad: { S: pad } })));
    let scanned = 0;
    let pages = 0;
    let esk: Item | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await ok('Scan', { TableName: 'mbs', FilterExpression: 'attribute_exists(nothing)', ...(esk ? { ExclusiveStartKey: esk } : {}) });
      assert.equal(r.Count, 0);
      assert.ok(r.ScannedCount <= 11 && (r.LastEvaluatedKey || r.ScannedCount > 0), `page ${page}: ${r.ScannedCount}`);
      scanned += r.ScannedCount;
      pages++;
      esk = r.LastEvaluatedKey;
      if (!esk) break;
    }
    assert.equal(scanned, 30);
    assert.ok(pages >= 3, `30 items of 100 KB need at least 3 pages, got ${pages}`);
  });

  it('GSI and LSI reads: projections, sparse indexes, eventually consistent only on GSIs, Select on indexes', async () => {
    await create({
      TableName: 'idx', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'l', AttributeType: 'N' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [{ IndexName: 'gsk', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
      LocalSecondaryIndexes: [{ IndexName: 'lsi', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['inc'] } }],
    });
    await batchPut('idx', [
      { pk: { S: 'a' }, sk: { S: '1' }, g: { S: 'G' }, l: { N: '3' }, inc: { S: 'i1' }, other: { S: 'o1' } },
      { pk: { S: 'a' }, sk: { S: '2' }, l: { N: '1' }, inc: { S: 'i2' }, other: { S: 'o2' } },
      { pk: { S: 'a' }, sk: { S: '3' }, g: { S: 'G' }, other: { S: 'o3' } },
    ]);
    const g = await ok('Query', { TableName: 'idx', IndexName: 'gsk', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'G' } } });
    assert.equal(g.Count, 2, 'items without the index key are not in the (sparse) index');
    assert.deepEqual(g.Items.map((i: Item) => Object.keys(i).sort()), [['g', 'pk', 'sk'], ['g', 'pk', 'sk']]);
    await rejects('Query', { TableName: 'idx', IndexName: 'gsk', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'G' } }, ConsistentRead: true }, 'ValidationException', 'Consistent reads are not supported on global secondary indexes');
    await rejects('Scan', { TableName: 'idx', IndexName: 'gsk', ConsistentRead: true }, 'ValidationException', 'Consistent reads are not supported on global secondary indexes');
    await rejects('Query', { TableName: 'idx', IndexName: 'gsk', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'G' } }, Select: 'ALL_ATTRIBUTES' }, 'ValidationException', 'One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index gsk because its projection type is not ALL');
    await rejects('Query', { TableName: 'idx', IndexName: 'gsk', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: 'G' } }, ProjectionExpression: 'pk, #o, inc', ExpressionAttributeNames: { '#o': 'other' } }, 'ValidationException', 'One or more parameter values were invalid: Global secondary index gsk does not project [other, inc]');
    assert.equal((await ok('Scan', { TableName: 'idx', IndexName: 'gsk' })).Count, 2);
    // LSI: ordered by l; projected attributes by default, table attributes fetched when asked (consistent reads allowed).
    const l = await ok('Query', { TableName: 'idx', IndexName: 'lsi', KeyConditionExpression: 'pk = :a', ExpressionAttributeValues: { ':a': { S: 'a' } }, ConsistentRead: true });
    assert.deepEqual(l.Items, [{ pk: { S: 'a' }, sk: { S: '2' }, l: { N: '1' }, inc: { S: 'i2' } }, { pk: { S: 'a' }, sk: { S: '1' }, l: { N: '3' }, inc: { S: 'i1' } }]);
    const lAll = await ok('Query', { TableName: 'idx', IndexName: 'lsi', KeyConditionExpression: 'pk = :a', ExpressionAttributeValues: { ':a': { S: 'a' } }, Select: 'ALL_ATTRIBUTES' });
    assert.deepEqual(lAll.Items.map((i: Item) => i.other?.S), ['o2', 'o1']);
    const lesk = await ok('Query', { TableName: 'idx', IndexName: 'lsi', KeyConditionExpression: 'pk = :a', ExpressionAttributeValues: { ':a': { S: 'a' } }, Limit: 1 });
    assert.deepEqual(lesk.LastEvaluatedKey, { pk: { S: 'a' }, sk: { S: '2' }, l: { N: '1' } });
    const rest = await ok('Query', { TableName: 'idx', IndexName: 'lsi', KeyConditionExpression: 'pk = :a', ExpressionAttributeValues: { ':a': { S: 'a' } }, ExclusiveStartKey: lesk.LastEvaluatedKey });
    assert.deepEqual(rest.Items.map((i: Item) => i.sk!.S), ['1']);
  });

  // ---------------------------------------------------------------- expressions

  it('condition expressions: every comparator and function, AND/OR/NOT, parentheses, paths, IN up to 100', async () => {
    await create({ TableName: 'exq' });
    const item: Item = {
      pk: { S: 'e' }, n: { N: '5' }, s: { S: 'hello' }, b: { B: 'AQID' }, t: { BOOL: true }, z: { NULL: true },
      ss: { SS: ['a', 'b'] }, ns: { NS: ['1', '2'] }, bs: { BS: ['AA=='] }, l: { L: [{ S: 'x' }, { N: '7' }, { M: { deep: { S: 'd' } } }] },
      m: { M: { 'k.dot': { S: 'v' }, deeper: { M: { q: { N: '1' } } } } }, u: { S: 'héllo' },
    };
    await ok('PutItem', { TableName: 'exq', Item: item }); // raw: binaries given as base64 text
    const check = async (expr: string, values: Item | undefined, want: boolean, names?: Record<string, string>): Promise<void> => {
      // Evaluated against the stored item: a false condition is ConditionalCheckFailedException, a true one removes a scratch attribute that is not there.
      const u = await raw('UpdateItem', { TableName: 'exq', Key: { pk: { S: 'e' } }, UpdateExpression: 'REMOVE scratch', ConditionExpression: expr, ...(values ? { ExpressionAttributeValues: values } : {}), ...(names ? { ExpressionAttributeNames: names } : {}) });
      assert.equal(u.status === 200, want, `${expr} → ${JSON.stringify(u.json)}`);
      if (!want) assert.equal(u.json.__type, `${DDB}ConditionalCheckFailedException`);
    };
    const N = (n: string): AttributeValue => ({ N: n });
    const S = (s: string): AttributeValue => ({ S: s });
    await check('n = :v', { ':v': N('5.0') }, true);
    await check('n <> :v', { ':v': N('5') }, false);
    await check('n < :v AND n <= :w', { ':v': N('6'), ':w': N('5') }, true);
    await check('n > :v OR n >= :w', { ':v': N('5'), ':w': N('6') }, false);
    await check('s > :v', { ':v': S('hell') }, true);
    await check('b < :v', { ':v': { B: 'AQIE' } }, true);
    await check('n = :v', { ':v': S('5') }, false);
    await check('nothere <> :v', { ':v': N('1') }, true);
    await check('nothere = :v', { ':v': N('1') }, false);
    await check('n BETWEEN :a AND :b', { ':a': N('5'), ':b': N('9') }, true);
    await check('s BETWEEN :a AND :b', { ':a': S('a'), ':b': S('b') }, false);
    await check('n IN (:a, :b, :c)', { ':a': N('1'), ':b': S('5'), ':c': N('5') }, true);
    await check('NOT n IN (:a)', { ':a': N('5') }, false);
    await check('attribute_exists(m.deeper.q) AND attribute_not_exists(m.deeper.r)', undefined, true);
    await check('attribute_exists(l[2].deep) AND attribute_not_exists(l[3])', undefined, true);
    await check('attribute_exists(#k)', undefined, false, { '#k': 'k.dot' });
    await check('attribute_exists(m.#k)', undefined, true, { '#k': 'k.dot' });
    for (const [path, type] of [['n', 'N'], ['s', 'S'], ['b', 'B'], ['t', 'BOOL'], ['z', 'NULL'], ['ss', 'SS'], ['ns', 'NS'], ['bs', 'BS'], ['l', 'L'], ['m', 'M']]) {
      await check(`attribute_type(${path}, :t)`, { ':t': S(type!) }, true);
    }
    await check('attribute_type(n, :t)', { ':t': S('S') }, false);
    await check('begins_with(s, :p) AND begins_with(b, :q)', { ':p': S('he'), ':q': { B: 'AQ==' } }, true);
    await check('begins_with(n, :p)', { ':p': S('5') }, false);
    await check('contains(s, :a) AND contains(ss, :b) AND contains(ns, :c) AND contains(l, :d) AND contains(bs, :e)', { ':a': S('ell'), ':b': S('b'), ':c': N('2'), ':d': N('7'), ':e': { B: 'AA==' } }, true);
    await check('contains(ss, :a)', { ':a': S('c') }, false);
    await check('size(s) = :five AND size(ss) = :two AND size(l) = :three AND size(m) = :two AND size(b) = :three', { ':five': N('5'), ':two': N('2'), ':three': N('3') }, true);
    // size() of a string counts UTF-8 bytes (é is two).
    await check('size(u) = :six', { ':six': N('6') }, true);
    await check('size(n) = :one', { ':one': N('1') }, false);
    await check('(n = :a OR n = :b) AND NOT (s = :c)', { ':a': N('1'), ':b': N('5'), ':c': S('x') }, true);
    await check('n = :a OR n = :b AND s = :c', { ':a': N('5'), ':b': N('1'), ':c': S('x') }, true, undefined);
    const hundred: Item = {};
    for (let i = 0; i < 100; i++) hundred[`:v${i}`] = N(String(i));
    await check(`n IN (${Object.keys(hundred).join(',')})`, hundred, true);
    await rejects('UpdateItem', { TableName: 'exq', Key: { pk: S('e') }, UpdateExpression: 'REMOVE scratch', ConditionExpression: `n IN (${Object.keys(hundred).join(',')}, :x)`, ExpressionAttributeValues: { ...hundred, ':x': N('1') } }, 'ValidationException',
      'Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101');
  });

  it('expression validation: syntax, placeholders, reserved words, limits (4 KB, 300 operators, 32 levels), functions', async () => {
    const base = { TableName: 'exq', Key: { pk: { S: 'e' } }, UpdateExpression: 'REMOVE scratch' };
    const bad = (extra: object, message: string) => rejects('UpdateItem', { ...base, ...extra }, 'ValidationException', message);
    await bad({ ConditionExpression: 'n = ' }, 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "="');
    await bad({ ConditionExpression: 'n == :v', ExpressionAttributeValues: { ':v': { N: '1' } } }, 'Invalid ConditionExpression: Syntax error; token: "=", near: "=="');
    await bad({ ConditionExpression: 'name = :v', ExpressionAttributeValues: { ':v': { N: '1' } } }, 'Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name');
    await bad({ ConditionExpression: '#a = :v', ExpressionAttributeValues: { ':v': { N: '1' } } }, 'Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #a');
    await bad({ ConditionExpression: 'a = :v' }, 'Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v');
    await bad({ ConditionExpression: 'a = :v', ExpressionAttributeValues: { ':v': { N: '1' }, ':w': { N: '2' } } }, 'Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}');
    await bad({ ConditionExpression: 'a = :v', ExpressionAttributeValues: {} }, 'ExpressionAttributeValues must not be empty');
    await bad({ ConditionExpression: 'a = :v', ExpressionAttributeValues: { v: { N: '1' } } }, 'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"');
    await bad({ ConditionExpression: '((a = :v))', ExpressionAttributeValues: { ':v': { N: '1' } } }, 'Invalid ConditionExpression: The expression has redundant parentheses;');
    await bad({ ConditionExpression: 'foo(a)' }, 'Invalid ConditionExpression: Invalid function name; function: foo');
    await bad({ ConditionExpression: 'attribute_exists(a, b)' }, 'Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2');
    await bad({ ConditionExpression: 'size(a)' }, 'Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size');
    await bad({ ConditionExpression: 'a = a' }, 'Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]');
    await bad({ ConditionExpression: 'a BETWEEN :b AND :a', ExpressionAttributeValues: { ':a': { N: '1' }, ':b': { N: '2' } } }, 'Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}');
    await bad({ ConditionExpression: 'attribute_type(a, :t)', ExpressionAttributeValues: { ':t': { S: 'X' } } }, 'Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}');
    await bad({ ConditionExpression: '' }, 'Invalid ConditionExpression: The expression can not be empty;');
    const long = `a = :v${' '.repeat(4097)}`;
    await bad({ ConditionExpression: long, ExpressionAttributeValues: { ':v': { N: '1' } } }, `Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: ${long.length}`);
    const ops = Array.from({ length: 151 }, (_, i) => `a${i} = :v`).join(' AND ');
    await bad({ ConditionExpression: ops, ExpressionAttributeValues: { ':v': { N: '1' } } }, 'Invalid ConditionExpression: The expression contains too many operators; operator count: 301');
    const deep = `a${'.b'.repeat(32)}`;
    await bad({ ConditionExpression: `attribute_exists(${deep})` }, 'Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33');
    await bad({ ConditionExpression: 'a = :v', ExpressionAttributeValues: { ':v': { N: '1' } }, Expected: { a: { Exists: false } } }, 'Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {UpdateExpression, ConditionExpression}');
    await rejects('PutItem', { TableName: 'exq', Item: { pk: { S: 'e' } }, ExpressionAttributeValues: { ':v': { N: '1' } } }, 'ValidationException', 'ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null');
  });

  it('update expressions: SET (+, -, if_not_exists, list_append), REMOVE, ADD, DELETE, nested paths; their errors', async () => {
    await create({ TableName: 'upx' });
    const k = { pk: { S: 'u' } };
    await put('upx', { ...k, n: { N: '10' }, l: { L: [{ N: '1' }, { N: '2' }, { N: '3' }] }, m: { M: { a: { M: { b: { S: 'x' } } } } }, ss: { SS: ['a', 'b', 'c'] }, ns: { NS: ['1'] } });
    const up = async (expr: string, values?: Item, names?: Record<string, string>): Promise<Item> => (await ok('UpdateItem', { TableName: 'upx', Key: k, UpdateExpression: expr, ReturnValues: 'ALL_NEW', ...(values ? { ExpressionAttributeValues: values } : {}), ...(names ? { ExpressionAttributeNames: names } : {}) })).Attributes;
    let r = await up('SET n = n + :d, o = if_not_exists(o, :z) - :d, l = list_append(:pre, l), m.a.c = :s, m.#new = :s', { ':d': { N: '0.5' }, ':z': { N: '0' }, ':pre': { L: [{ N: '0' }] }, ':s': { S: 's' } }, { '#new': 'new' });
    assert.deepEqual([r.n, r.o, r.l, r.m], [{ N: '10.5' }, { N: '-0.5' }, { L: [{ N: '0' }, { N: '1' }, { N: '2' }, { N: '3' }] }, { M: { a: { M: { b: { S: 'x' }, c: { S: 's' } } }, new: { S: 's' } } }]);
    // Right-hand sides see the item before the update; list REMOVEs use the original indexes.
    r = await up('SET n = :one, p = n REMOVE l[0], l[2]', { ':one': { N: '1' } });
    assert.deepEqual([r.n, r.p, r.l], [{ N: '1' }, { N: '10.5' }, { L: [{ N: '1' }, { N: '3' }] }]);
    r = await up('SET l[9] = :x', { ':x': { S: 'end' } });
    assert.deepEqual(r.l, { L: [{ N: '1' }, { N: '3' }, { S: 'end' }] });
    r = await up('ADD n :d, ss :add, newset :ns, cnt :d DELETE ns :ns', { ':d': { N: '2' }, ':add': { SS: ['d', 'a'] }, ':ns': { NS: ['1'] } });
    assert.deepEqual([r.n, r.ss, r.newset, r.cnt, r.ns], [{ N: '3' }, { SS: ['a', 'b', 'c', 'd'] }, { NS: ['1'] }, { N: '2' }, undefined]);
    const bad = (expr: string, message: string, values?: Item) => rejects('UpdateItem', { TableName: 'upx', Key: k, UpdateExpression: expr, ...(values ? { ExpressionAttributeValues: values } : {}) }, 'ValidationException', message);
    await bad('SET a = :v, a = :v', 'Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]', { ':v': { N: '1' } });
    await bad('SET m.a = :v REMOVE m', 'Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m, a], path two: [m]', { ':v': { N: '1' } });
    await bad('SET a = :v SET b = :v', 'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;', { ':v': { N: '1' } });
    await bad('ADD n :v', 'Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING', { ':v': { S: 'x' } });
    await bad('DELETE ss :v', 'Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER', { ':v': { N: '1' } });
    await bad('SET n = n + :v', 'Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S', { ':v': { S: 'x' } });
    await bad('SET n = ss + :v', 'An operand in the update expression has an incorrect data type', { ':v': { N: '1' } });
    await bad('SET nope = nothere + :v', 'The provided expression refers to an attribute that does not exist in the item', { ':v': { N: '1' } });
    await bad('SET m.x.y = :v', 'The document path provided in the update expression is invalid for update', { ':v': { N: '1' } });
    await bad('SET n = :v', 'Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :v');
    await bad('SET n = size(l)', 'Invalid UpdateExpression: Invalid function name; function: size');
    await bad('ADD ss :v', 'An operand in the update expression has an incorrect data type', { ':v': { NS: ['1'] } });
    const many = Array.from({ length: 301 }, (_, i) => `a${i}=a${i}+:v`).join(',');
    await bad(`SET ${many}`, 'Invalid UpdateExpression: The expression contains too many operators; operator count: 301', { ':v': { N: '1' } });
    const after = (await ok('GetItem', { TableName: 'upx', Key: k })).Item;
    assert.deepEqual(after.n, { N: '3' }, 'failed updates change nothing');
  });

  it('legacy parameters: Expected, AttributeUpdates, KeyConditions, QueryFilter, ScanFilter, AttributesToGet, ConditionalOperator', async () => {
    await create({ TableName: 'leg', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] });
    await batchPut('leg', [1, 2, 3, 4].map((i) => ({ pk: { S: 'p' }, sk: { N: String(i) }, v: { S: `v${i}` }, ...(i % 2 ? { tags: { SS: ['odd'] } } : {}) })));
    const k = { pk: { S: 'p' }, sk: { N: '1' } };
    await ok('PutItem', { TableName: 'leg', Item: { ...k, v: { S: 'v1' }, c: { N: '1' } }, Expected: { v: { Value: { S: 'v1' } }, nope: { Exists: false } } });
    await rejects('PutItem', { TableName: 'leg', Item: k, Expected: { v: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'x' }] }, c: { ComparisonOperator: 'NOT_NULL' } }, ConditionalOperator: 'AND' }, 'ConditionalCheckFailedException', 'The conditional request failed');
    await ok('PutItem', { TableName: 'leg', Item: { ...k, v: { S: 'v1' }, c: { N: '1' } }, Expected: { v: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'x' }] }, c: { ComparisonOperator: 'NOT_NULL' } }, ConditionalOperator: 'OR' });
    await rejects('PutItem', { TableName: 'leg', Item: k, Expected: { a: { Exists: true } } }, 'ValidationException', 'One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a');
    await rejects('PutItem', { TableName: 'leg', Item: k, Expected: { a: { ComparisonOperator: 'EQ' } } }, 'ValidationException', 'One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a');
    await rejects('PutItem', { TableName: 'leg', Item: k, ConditionalOperator: 'OR' }, 'ValidationException', 'ConditionalOperator can only be used when Expected or KeyConditions or QueryFilter or ScanFilter is present');
    // AttributeUpdates: PUT, ADD (number, set, list), DELETE (attribute, set members).
    const u = await ok('UpdateItem', { TableName: 'leg', Key: k, ReturnValues: 'ALL_NEW', AttributeUpdates: { c: { Action: 'ADD', Value: { N: '2' } }, tags: { Action: 'ADD', Value: { SS: ['x'] } }, v: { Action: 'DELETE' }, w: { Value: { S: 'w' } }, li: { Action: 'ADD', Value: { L: [{ S: 'a' }] } } } });
    assert.deepEqual(u.Attributes, { ...k, c: { N: '3' }, tags: { SS: ['x'] }, w: { S: 'w' }, li: { L: [{ S: 'a' }] } });
    await rejects('UpdateItem', { TableName: 'leg', Key: k, AttributeUpdates: { c: { Action: 'ADD', Value: { S: 'x' } } } }, 'ValidationException', 'One or more parameter values were invalid: ADD action is not supported for the type S');
    await rejects('UpdateItem', { TableName: 'leg', Key: k, AttributeUpdates: { c: { Action: 'DELETE', Value: { N: '1' } } } }, 'ValidationException', 'One or more parameter values were invalid: DELETE action with value is not supported for the type N');
    await rejects('UpdateItem', { TableName: 'leg', Key: k, AttributeUpdates: { c: { Action: 'PUT' } } }, 'ValidationException', 'One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified');
    await rejects('UpdateItem', { TableName: 'leg', Key: k, AttributeUpdates: { c: { Value: { N: '1' } } }, UpdateExpression: 'SET c = :v', ExpressionAttributeValues: { ':v': { N: '1' } } }, 'ValidationException', 'Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}');
    // KeyConditions, QueryFilter (NOT_CONTAINS is false on a missing attribute), AttributesToGet.
    const q = await ok('Query', { TableName: 'leg', KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'p' }] }, sk: { ComparisonOperator: 'BETWEEN', AttributeValueList: [{ N: '2' }, { N: '4' }] } }, QueryFilter: { tags: { ComparisonOperator: 'NOT_CONTAINS', AttributeValueList: [{ S: 'zzz' }] } }, AttributesToGet: ['sk'] });
    assert.deepEqual(q.Items, [{ sk: { N: '3' } }]);
    assert.deepEqual([q.Count, q.ScannedCount], [1, 3]);
    await rejects('Query', { TableName: 'leg', KeyConditions: { pk: { ComparisonOperator: 'NE', AttributeValueList: [{ S: 'p' }] } } }, 'ValidationException', 'Attempted conditional constraint is not an indexable operation');
    await rejects('Query', { TableName: 'leg', KeyConditions: { pk: { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'p' }] } }, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'p' } } }, 'ValidationException', 'Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}');
    const s = await ok('Scan', { TableName: 'leg', ScanFilter: { v: { ComparisonOperator: 'IN', AttributeValueList: [{ S: 'v2' }, { S: 'v4' }] }, sk: { ComparisonOperator: 'GT', AttributeValueList: [{ N: '3' }] } }, ConditionalOperator: 'AND' });
    assert.deepEqual(s.Items.map((i: Item) => i.sk!.N), ['4']);
    await rejects('Scan', { TableName: 'leg', ScanFilter: { v: { ComparisonOperator: 'BETWEEN', AttributeValueList: [{ S: 'a' }] } } }, 'ValidationException', 'One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator');
    await rejects('Scan', { TableName: 'leg', ScanFilter: { v: { ComparisonOperator: 'LT', AttributeValueList: [{ SS: ['a'] }] } } }, 'ValidationException', 'One or more parameter values were invalid: ComparisonOperator LT is not valid for SS AttributeValue type');
  });

  // ---------------------------------------------------------------- types, order, limits

  it('types round-trip; numbers exact and normalised; range and precision errors', async () => {
    await create({ TableName: 'typ' });
    const item: Item = {
      pk: { S: 'all' }, s: { S: '' }, n: { N: '-000123.4500' }, b: { B: new Uint8Array(0) }, bool: { BOOL: false }, nul: { NULL: true },
      m: { M: { e: { S: '' }, l: { L: [] } } }, l: { L: [{ N: '1E+2' }, { NULL: true }] }, ss: { SS: ['', 'x'] }, ns: { NS: ['1', '1.5'] }, bs: { BS: [new Uint8Array([0]), new Uint8Array([255])] },
      big: { N: '99999999999999999999999999999999999999' }, small: { N: '-0.0000000000000000000000000000000000001' }, hi: { N: '9.9999999999999999999999999999999999999E+125' }, lo: { N: '1E-130' },
    };
    await client.send(new PutItemCommand({ TableName: 'typ', Item: item }));
    const got = (await client.send(new GetItemCommand({ TableName: 'typ', Key: { pk: { S: 'all' } } }))).Item!;
    assert.deepEqual([got.n?.N, got.l?.L?.[0]?.N, got.big?.N, got.small?.N], ['-123.45', '100', '99999999999999999999999999999999999999', '-0.0000000000000000000000000000000000001']);
    assert.equal(got.hi?.N, '99999999999999999999999999999999999999' + '0'.repeat(88));
    assert.equal(got.lo?.N, '0.' + '0'.repeat(129) + '1');
    assert.deepEqual([got.s?.S, got.b?.B?.length, got.bool?.BOOL, got.nul?.NULL, got.m?.M?.e?.S], ['', 0, false, true, '']);
    assert.deepEqual(new Set(got.ss?.SS), new Set(['', 'x']));
    const bad = (v: AttributeValue, message: string) => rejects('PutItem', { TableName: 'typ', Item: { pk: { S: 'x' }, v: JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x))) } }, 'ValidationException', message);
    await bad({ N: '1'.repeat(39) }, 'Attempting to store more than 38 significant digits in a Number');
    await bad({ N: '1E126' }, 'Number overflow. Attempting to store a number with magnitude larger than supported range');
    await bad({ N: '1E-131' }, 'Number underflow. Attempting to store a number with magnitude smaller than supported range');
    await bad({ N: 'abc' }, 'The parameter cannot be converted to a numeric value: abc');
    await bad({ SS: [] }, 'One or more parameter values were invalid: An string set  may not be empty');
    await bad({ NS: [] }, 'One or more parameter values were invalid: An number set  may not be empty');
    await bad({ BS: [] }, 'One or more parameter values were invalid: Binary sets should not be empty');
    await bad({ SS: ['a', 'a'] }, 'One or more parameter values were invalid: Input collection [a, a] contains duplicates.');
    await bad({ NS: ['1', '1.0'] }, 'Input collection contains duplicates');
    await bad({ NULL: false }, 'One or more parameter values were invalid: Null attribute value types must have the value of true');
    await bad({ S: 'a', N: '1' } as unknown as AttributeValue, 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
    await bad({} as AttributeValue, 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
    // Arithmetic stays exact.
    await put('typ', { pk: { S: 'calc' }, n: { N: '0.1' } });
    const r = await ok('UpdateItem', { TableName: 'typ', Key: { pk: { S: 'calc' } }, UpdateExpression: 'SET n = n + :a', ExpressionAttributeValues: { ':a': { N: '0.2' } }, ReturnValues: 'UPDATED_NEW' });
    assert.deepEqual(r.Attributes, { n: { N: '0.3' } });
    await rejects('UpdateItem', { TableName: 'typ', Key: { pk: { S: 'calc' } }, UpdateExpression: 'SET n = :a + :b', ExpressionAttributeValues: { ':a': { N: '9E125' }, ':b': { N: '9E125' } } }, 'ValidationException', 'Number overflow. Attempting to store a number with magnitude larger than supported range');
  });

  it('nesting: 32 levels accepted, 33 refused, in items and in expression values', async () => {
    const deep = (levels: number): AttributeValue => {
      let v: AttributeValue = { S: 'leaf' };
      for (let i = 0; i < levels; i++) v = { M: { n: v } };
      return v;
    };
    await ok('PutItem', { TableName: 'typ', Item: { pk: { S: 'deep' }, d: deep(31) } });
    const msg = 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit';
    await rejects('PutItem', { TableName: 'typ', Item: { pk: { S: 'deep2' }, d: deep(32) } }, 'ValidationException', msg);
    await rejects('UpdateItem', { TableName: 'typ', Key: { pk: { S: 'deep' } }, UpdateExpression: 'SET x = :d', ExpressionAttributeValues: { ':d': deep(32) } }, 'ValidationException', `ExpressionAttributeValues contains invalid value: ${msg} for key :d`);
  });

  it('sort order: N numerically, S by UTF-8 bytes, B as unsigned bytes', async () => {
    await create({ TableName: 'ords', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] });
    const strings = ['😀', 'é', 'a', 'Z', 'ab', '\uffff', 'a\u0000', 'A', '0', ' '];
    await batchPut('ords', strings.map((s) => ({ pk: { S: 'p' }, sk: { S: s } })));
    const qs = await ok('Query', { TableName: 'ords', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'p' } } });
    assert.deepEqual(qs.Items.map((i: Item) => i.sk!.S), [' ', '0', 'A', 'Z', 'a', 'a\u0000', 'ab', 'é', '\uffff', '😀']);
    const bq = await ok('Query', { TableName: 'ords', KeyConditionExpression: 'pk = :p AND begins_with(sk, :a)', ExpressionAttributeValues: { ':p': { S: 'p' }, ':a': { S: 'a' } } });
    assert.deepEqual(bq.Items.map((i: Item) => i.sk!.S), ['a', 'a\u0000', 'ab']);
    await create({ TableName: 'ordb', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'B' }, { AttributeName: 'sk', AttributeType: 'B' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] });
    const bins = [[0xff], [0x00], [0x7f], [0x80], [0x00, 0x00], [0x01]];
    await batchPut('ordb', bins.map((b) => ({ pk: { B: new Uint8Array([1]) }, sk: { B: new Uint8Array(b) } })));
    const qb = await client.send(new QueryCommand({ TableName: 'ordb', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { B: new Uint8Array([1]) } } }));
    assert.deepEqual(qb.Items?.map((i) => [...i.sk!.B!]), [[0x00], [0x00, 0x00], [0x01], [0x7f], [0x80], [0xff]]);
    const qr = await client.send(new QueryCommand({ TableName: 'ordb', KeyConditionExpression: 'pk = :p AND sk BETWEEN :a AND :b', ExpressionAttributeValues: { ':p': { B: new Uint8Array([1]) }, ':a': { B: new Uint8Array([0x01]) }, ':b': { B: new Uint8Array([0x80]) } }, ScanIndexForward: false }));
    assert.deepEqual(qr.Items?.map((i) => [...i.sk!.B!]), [[0x80], [0x7f], [0x01]]);
  });

  it('empty strings and binaries: allowed in non-key attributes, refused in table and index keys; size limits', async () => {
    await create({ TableName: 'lim', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'B' }, { AttributeName: 'g', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [{ IndexName: 'gsi', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }] });
    const sk = { B: 'AQ==' };
    await ok('PutItem', { TableName: 'lim', Item: { pk: { S: 'a' }, sk, e: { S: '' }, eb: { B: '' } } });
    await rejects('PutItem', { TableName: 'lim', Item: { pk: { S: '' }, sk } }, 'ValidationException', 'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk');
    await rejects('PutItem', { TableName: 'lim', Item: { pk: { S: 'a' }, sk: { B: '' } } }, 'ValidationException', 'One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: sk');
    await rejects('PutItem', { TableName: 'lim', Item: { pk: { S: 'a' }, sk, g: { S: '' } } }, 'ValidationException', 'One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: gsi, IndexKey: g');
    await rejects('PutItem', { TableName: 'lim', Item: { pk: { S: 'a' }, sk, g: { N: '1' } } }, 'ValidationException', 'One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: gsi');
    // A Key parameter's empty value is worded "were invalid:", an item's "are not valid." (dynalite's getItem suite, recorded on AWS).
    await rejects('GetItem', { TableName: 'lim', Key: { pk: { S: '' }, sk } }, 'ValidationException', 'One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty string value. Key: pk');
    // Key size limits: 2048 bytes hash, 1024 bytes range.
    await ok('PutItem', { TableName: 'lim', Item: { pk: { S: 'é'.repeat(1024) }, sk: { B: Buffer.alloc(1024).toString('base64') } } });
    await rejects('PutItem', { TableName: 'lim', Item: { pk: { S: 'x'.repeat(2049) }, sk } }, 'ValidationException', 'One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes');
    await rejects('PutItem', { TableName: 'lim', Item: { pk: { S: 'a' }, sk: { B: Buffer.alloc(1025).toString('base64') } } }, 'ValidationException', 'One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes');
    // Item size: 400 KB exactly is accepted, one byte more is refused (names count, numbers by their digits).
    const fixed = (2 + 1) + (2 + 1) + (1 + 3) + 1; // pk 'a', sk 1 byte, n 123 (3 bytes), the name 'p'
    const exact = { pk: { S: 'a' }, sk, n: { N: '123' }, p: { S: 'x'.repeat(409_600 - fixed) } };
    await ok('PutItem', { TableName: 'lim', Item: exact });
    await rejects('PutItem', { TableName: 'lim', Item: { ...exact, p: { S: 'x'.repeat(409_601 - fixed) } } }, 'ValidationException', 'Item size has exceeded the maximum allowed size');
    await rejects('UpdateItem', { TableName: 'lim', Key: { pk: { S: 'a' }, sk }, UpdateExpression: 'SET q = :q', ExpressionAttributeValues: { ':q': { S: 'xx' } } }, 'ValidationException', 'Item size to update has exceeded the maximum allowed size');
    // DescribeTable counts what is stored.
    const t = (await client.send(new DescribeTableCommand({ TableName: 'lim' }))).Table!;
    assert.equal(t.ItemCount, 2);
    assert.equal(t.TableSizeBytes, 409_600 + (2 + 2048 + 2 + 1024));
  });

  it('errors: exact __type prefixes and the "N validation errors detected" form', async () => {
    await rejects('PutItem', { Item: { pk: { S: 'x' } } }, 'ValidationException', "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null");
    await rejects('PutItem', { TableName: 'bad table!@#', Item: { pk: { S: 'x' } } }, 'ValidationException', "1 validation error detected: Value 'bad table!@#' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    await rejects('GetItem', { TableName: 'a'.repeat(256), Key: { pk: { S: 'x' } } }, 'ValidationException', `1 validation error detected: Value '${'a'.repeat(256)}' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255`);
    // Several model violations are reported together (in the member order AWS uses for these two).
    await rejects('PutItem', {}, 'ValidationException',
      "2 validation errors detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null; Value null at 'item' failed to satisfy constraint: Member must not be null");
    // DynamoDB's order interleaves presence checks with the rest: Scan checks totalSegments, tableName, segment, limit in that order.
    await rejects('Scan', { Limit: 0, Segment: -1, TotalSegments: 0 }, 'ValidationException',
      "4 validation errors detected: Value '0' at 'totalSegments' failed to satisfy constraint: Member must have value greater than or equal to 1; Value null at 'tableName' failed to satisfy constraint: Member must not be null; Value '-1' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0; Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
    await rejects('Query', { TableName: 'missing', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'x' } } }, 'ResourceNotFoundException', 'Requested resource not found');
    const r = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.GetItem', '{"TableName": 5}');
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'com.amazon.coral.service#SerializationException');
    const u = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.Nope', '{}');
    assert.equal(u.json.__type, 'com.amazon.coral.service#UnknownOperationException');
  });

  // ---------------------------------------------------------------- DocumentClient and CLI

  it('DocumentClient: native JS values, sets, numbers, updates, queries', async () => {
    await create({ TableName: 'docs', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] });
    await doc.send(new PutCommand({ TableName: 'docs', Item: { pk: 'u', sk: 1, name: 'Ann', tags: new Set(['a']), nums: new Set([1, 2]), nested: { list: [1, 'two', null, true, { x: 1.5 }] }, empty: '' } }));
    await doc.send(new UpdateCommand({ TableName: 'docs', Key: { pk: 'u', sk: 1 }, UpdateExpression: 'ADD tags :t SET nested.#l[1] = :v', ExpressionAttributeNames: { '#l': 'list' }, ExpressionAttributeValues: { ':t': new Set(['b']), ':v': 'TWO' } }));
    const g = await doc.send(new GetCommand({ TableName: 'docs', Key: { pk: 'u', sk: 1 }, ConsistentRead: true }));
    assert.deepEqual(g.Item, { pk: 'u', sk: 1, name: 'Ann', tags: new Set(['a', 'b']), nums: new Set([1, 2]), nested: { list: [1, 'TWO', null, true, { x: 1.5 }] }, empty: '' });
    await doc.send(new PutCommand({ TableName: 'docs', Item: { pk: 'u', sk: 2 } }));
    const q = await doc.send(new DocQueryCommand({ TableName: 'docs', KeyConditionExpression: 'pk = :p AND sk > :s', ExpressionAttributeValues: { ':p': 'u', ':s': 1 } }));
    assert.deepEqual(q.Items, [{ pk: 'u', sk: 2 }]);
    await assert.rejects(doc.send(new PutCommand({ TableName: 'docs', Item: { pk: 'u', sk: 2 }, ConditionExpression: 'attribute_not_exists(pk)' })), (e: unknown) => e instanceof ConditionalCheckFailedException);
  });

  it('AWS CLI v2: create, put, get, query, scan (auto-paginated), update, errors, delete', () => {
    const cli = (...args: string[]) => awsCli(cellar.endpoint, ['dynamodb', ...args]);
    let r = cli('create-table', '--table-name', 'cli', '--billing-mode', 'PAY_PER_REQUEST', '--attribute-definitions', 'AttributeName=pk,AttributeType=S', 'AttributeName=sk,AttributeType=N', '--key-schema', 'AttributeName=pk,KeyType=HASH', 'AttributeName=sk,KeyType=RANGE');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.TableDescription.TableStatus, 'CREATING');
    r = cli('wait', 'table-exists', '--table-name', 'cli');
    assert.equal(r.status, 0, r.stderr);
    for (let i = 0; i < 5; i++) assert.equal(cli('put-item', '--table-name', 'cli', '--item', JSON.stringify({ pk: { S: 'c' }, sk: { N: String(i) }, v: { S: `v${i}` } })).status, 0);
    r = cli('get-item', '--table-name', 'cli', '--key', '{"pk":{"S":"c"},"sk":{"N":"3"}}', '--return-consumed-capacity', 'TOTAL');
    assert.deepEqual(r.json, { Item: { pk: { S: 'c' }, sk: { N: '3' }, v: { S: 'v3' } }, ConsumedCapacity: { TableName: 'cli', CapacityUnits: 0.5, ReadCapacityUnits: 0.5 } });
    r = cli('query', '--table-name', 'cli', '--key-condition-expression', 'pk = :p AND sk >= :s', '--expression-attribute-values', '{":p":{"S":"c"},":s":{"N":"2"}}', '--no-scan-index-forward');
    assert.deepEqual(r.json.Items.map((i: Item) => i.sk!.N), ['4', '3', '2']);
    // The CLI pages by itself (page size 2 forces three requests).
    r = cli('scan', '--table-name', 'cli', '--page-size', '2');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.Count, 5);
    r = cli('update-item', '--table-name', 'cli', '--key', '{"pk":{"S":"c"},"sk":{"N":"0"}}', '--update-expression', 'SET v = :v', '--condition-expression', 'v = :old', '--expression-attribute-values', '{":v":{"S":"new"},":old":{"S":"nope"}}');
    assert.equal(r.status, 254);
    assert.match(r.stderr, /An error occurred \(ConditionalCheckFailedException\) when calling the UpdateItem operation: The conditional request failed/);
    r = cli('describe-table', '--table-name', 'nope');
    assert.equal(r.status, 254);
    assert.match(r.stderr, /An error occurred \(ResourceNotFoundException\) when calling the DescribeTable operation: Requested resource not found: Table: nope not found/);
    r = cli('delete-table', '--table-name', 'cli');
    assert.equal(r.json.TableDescription.TableStatus, 'DELETING');
    r = cli('wait', 'table-not-exists', '--table-name', 'cli');
    assert.equal(r.status, 0, r.stderr);
  });
});
