/**
 * DynamoDB Time to Live against a running Cellar, with @aws-sdk/client-dynamodb:
 *  - UpdateTimeToLive echoes the specification and DescribeTimeToLive shows ENABLED with the attribute, DISABLED
 *    without one; each refusal in AWS's words (already enabled, already disabled, another attribute, a second change
 *    within the change interval, a missing table), and a refusal changes nothing;
 *  - given a short sweep interval, an item whose TTL passes is deleted within the interval, from the table and
 *    its indexes, with the table's counters following; an item that expired but is not deleted yet is still read;
 *  - every write path (item operations, batches, transactions, PartiQL) keeps the expiry index;
 *  - values more than five years in the past, and TTL attributes that are not Numbers, are ignored;
 *  - enabling TTL on a table that already holds items (more than one walk step) expires them too;
 *  - expiry entries and the TTL setting survive a kill -9 and restart, and disabling TTL stops expiry.
 * Time is moved with the server's clock (/_cellar/clock), never waited out, except for the sweep itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DynamoDBClient, CreateTableCommand, DeleteTableCommand, DescribeTableCommand, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand,
  QueryCommand, ScanCommand, UpdateItemCommand, UpdateTimeToLiveCommand, BatchWriteItemCommand, TransactWriteItemsCommand, ExecuteStatementCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { advanceClock, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const SWEEP_MS = 100;
const HOUR_MS = 3_600_000;
const YEAR_S = 365 * 24 * 3600;

function dataDirWith(config: object): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'cellar.json'), JSON.stringify(config));
  return dir;
}

async function serverNowSeconds(endpoint: string): Promise<number> {
  const res = await fetch(`${endpoint}/_cellar/clock`, { method: 'POST', body: JSON.stringify({ advanceMs: 0 }) });
  const body = (await res.json()) as { now: string };
  return Math.floor(Date.parse(body.now) / 1000);
}

async function createTable(ddb: DynamoDBClient, name: string): Promise<void> {
  await ddb.send(new CreateTableCommand({
    TableName: name, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [{ IndexName: 'by_g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
  }));
}

async function refusal(p: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  assert.fail('the request succeeded');
}

const get = async (ddb: DynamoDBClient, table: string, pk: string) => (await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;
const byG = async (ddb: DynamoDBClient, table: string, g: string) =>
  (await ddb.send(new QueryCommand({ TableName: table, IndexName: 'by_g', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: g } } }))).Items!.map((i) => i.pk!.S).sort();
const describeTtl = async (ddb: DynamoDBClient, table: string) => (await ddb.send(new DescribeTimeToLiveCommand({ TableName: table }))).TimeToLiveDescription;
const enable = (ddb: DynamoDBClient, table: string, attr = 'expires') => ddb.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { Enabled: true, AttributeName: attr } }));
const disable = (ddb: DynamoDBClient, table: string, attr = 'expires') => ddb.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { Enabled: false, AttributeName: attr } }));

describe('DynamoDB Time to Live', () => {
  describe('UpdateTimeToLive and DescribeTimeToLive (AWS default change interval)', () => {
    let cellar: CellarProcess;
    let ddb: DynamoDBClient;
    before(async () => {
      cellar = await startCellar({ args: ['--quiet'] });
      ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
      await createTable(ddb, 'settings');
    });
    after(async () => {
      ddb.destroy();
      await cellar.stop();
      removeDir(cellar.dataDir);
    });

    it('a new table is DISABLED with no attribute', async () => {
      assert.deepEqual(await describeTtl(ddb, 'settings'), { TimeToLiveStatus: 'DISABLED' });
    });

    it('disabling a table that never had TTL is refused as already disabled', async () => {
      const e = await refusal(disable(ddb, 'settings'));
      assert.deepEqual(e, { name: 'ValidationException', message: 'TimeToLive is already disabled', status: 400 });
      assert.deepEqual(await describeTtl(ddb, 'settings'), { TimeToLiveStatus: 'DISABLED' });
    });

    it('enabling echoes the specification; Describe shows ENABLED with the attribute; by ARN too', async () => {
      const out = await enable(ddb, 'settings');
      assert.deepEqual(out.TimeToLiveSpecification, { Enabled: true, AttributeName: 'expires' });
      assert.deepEqual(await describeTtl(ddb, 'settings'), { TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' });
      const arn = (await ddb.send(new DescribeTableCommand({ TableName: 'settings' }))).Table!.TableArn!;
      assert.deepEqual(await describeTtl(ddb, arn), { TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' });
    });

    it('enabling again, or on another attribute, is refused for its content before the change interval', async () => {
      assert.deepEqual(await refusal(enable(ddb, 'settings')), { name: 'ValidationException', message: 'TimeToLive is already enabled', status: 400 });
      assert.deepEqual(await refusal(enable(ddb, 'settings', 'other')), { name: 'ValidationException', message: 'TimeToLive is active on a different AttributeName: current AttributeName is expires', status: 400 });
      assert.deepEqual(await refusal(disable(ddb, 'settings', 'other')), { name: 'ValidationException', message: 'TimeToLive is active on a different AttributeName: current AttributeName is expires', status: 400 });
    });

    it('a second change within the hour is refused, and allowed once the hour has passed', async () => {
      assert.deepEqual(await refusal(disable(ddb, 'settings')), { name: 'ValidationException', message: 'Time to live has been modified multiple times within a fixed interval', status: 400 });
      assert.deepEqual(await describeTtl(ddb, 'settings'), { TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' });
      await advanceClock(cellar.endpoint, HOUR_MS - 60_000);
      await refusal(disable(ddb, 'settings'));
      await advanceClock(cellar.endpoint, 60_000);
      const out = await disable(ddb, 'settings');
      assert.deepEqual(out.TimeToLiveSpecification, { Enabled: false, AttributeName: 'expires' });
      assert.deepEqual(await describeTtl(ddb, 'settings'), { TimeToLiveStatus: 'DISABLED' });
      // A new interval starts with the disable.
      assert.deepEqual(await refusal(enable(ddb, 'settings', 'other')), { name: 'ValidationException', message: 'Time to live has been modified multiple times within a fixed interval', status: 400 });
      await advanceClock(cellar.endpoint, HOUR_MS);
      await enable(ddb, 'settings', 'other');
      assert.deepEqual(await describeTtl(ddb, 'settings'), { TimeToLiveStatus: 'ENABLED', AttributeName: 'other' });
    });

    it('a missing table is ResourceNotFoundException for both operations', async () => {
      const expected = { name: 'ResourceNotFoundException', message: 'Requested resource not found: Table: nothing-here not found', status: 400 };
      assert.deepEqual(await refusal(enable(ddb, 'nothing-here')), expected);
      assert.deepEqual(await refusal(ddb.send(new DescribeTimeToLiveCommand({ TableName: 'nothing-here' }))), expected);
    });

    it('a specification with a member missing or too long is refused by validation', async () => {
      const missing = await refusal(ddb.send(new UpdateTimeToLiveCommand({ TableName: 'settings', TimeToLiveSpecification: { Enabled: true } as never })));
      assert.equal(missing.name, 'ValidationException');
      assert.match(missing.message, /timeToLiveSpecification\.attributeName/);
      const long = await refusal(enable(ddb, 'settings', 'a'.repeat(256)));
      assert.equal(long.name, 'ValidationException');
      assert.match(long.message, /Member must have length less than or equal to 255/);
    });
  });

  describe('expiry', () => {
    let cellar: CellarProcess;
    let ddb: DynamoDBClient;
    before(async () => {
      cellar = await startCellar({ dataDir: dataDirWith({ dynamodb: { ttlSweepIntervalMs: SWEEP_MS, ttlChangeIntervalMs: 0, backfillBatch: 10 } }), args: ['--quiet'] });
      ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    });
    after(async () => {
      ddb.destroy();
      await cellar.kill9();
      removeDir(cellar.dataDir);
    });

    it('an item whose time passes is deleted within the sweep interval, from the table and its index; the others stay', async () => {
      await createTable(ddb, 'sessions');
      await enable(ddb, 'sessions');
      const now = await serverNowSeconds(cellar.endpoint);
      const put = (pk: string, extra: Record<string, AttributeValue>) => ddb.send(new PutItemCommand({ TableName: 'sessions', Item: { pk: { S: pk }, g: { S: 'grp' }, ...extra } }));
      await put('soon', { expires: { N: String(now + 120) } });
      await put('later', { expires: { N: String(now + 10 * 3600) } });
      await put('never', {});
      await put('fraction', { expires: { N: `${now + 120}.5` } });
      // Not yet due: still there after several sweeps.
      await new Promise((r) => setTimeout(r, SWEEP_MS * 5));
      assert.deepEqual(await byG(ddb, 'sessions', 'grp'), ['fraction', 'later', 'never', 'soon']);
      await advanceClock(cellar.endpoint, 200_000);
      await waitFor(async () => (await get(ddb, 'sessions', 'soon')) === undefined && (await get(ddb, 'sessions', 'fraction')) === undefined, 'the expired items to go', 5_000, 20);
      assert.deepEqual(await byG(ddb, 'sessions', 'grp'), ['later', 'never']);
      const table = (await ddb.send(new DescribeTableCommand({ TableName: 'sessions' }))).Table!;
      assert.equal(table.ItemCount, 2);
      assert.equal(table.GlobalSecondaryIndexes![0]!.ItemCount, 2);
    });

    it('every write path keeps the expiry index: PutItem, UpdateItem, BatchWriteItem, TransactWriteItems and PartiQL INSERT', async () => {
      await createTable(ddb, 'paths');
      await enable(ddb, 'paths');
      const now = await serverNowSeconds(cellar.endpoint);
      const item = (pk: string) => ({ pk: { S: pk }, g: { S: 'paths' }, expires: { N: String(now + 300) } });
      await ddb.send(new PutItemCommand({ TableName: 'paths', Item: item('put') }));
      await ddb.send(new UpdateItemCommand({ TableName: 'paths', Key: { pk: { S: 'update' } }, UpdateExpression: 'SET g = :g, expires = :e', ExpressionAttributeValues: { ':g': { S: 'paths' }, ':e': { N: String(now + 300) } } }));
      await ddb.send(new BatchWriteItemCommand({ RequestItems: { paths: [{ PutRequest: { Item: item('batch') } }] } }));
      await ddb.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'paths', Item: item('transaction') } }] }));
      await ddb.send(new ExecuteStatementCommand({ Statement: `INSERT INTO "paths" VALUE {'pk': 'partiql', 'g': 'paths', 'expires': ${now + 300}}` }));
      await ddb.send(new PutItemCommand({ TableName: 'paths', Item: { pk: { S: 'stays' }, g: { S: 'paths' } } }));
      assert.deepEqual(await byG(ddb, 'paths', 'paths'), ['batch', 'partiql', 'put', 'stays', 'transaction', 'update']);
      await advanceClock(cellar.endpoint, 600_000);
      await waitFor(async () => (await byG(ddb, 'paths', 'paths')).length === 1, 'the items of every write path to expire', 5_000, 20);
      assert.deepEqual(await byG(ddb, 'paths', 'paths'), ['stays']);
    });

    it('an item updated to a later time before it is swept is kept; one whose TTL attribute is removed is kept', async () => {
      await createTable(ddb, 'renewed');
      await enable(ddb, 'renewed');
      const now = await serverNowSeconds(cellar.endpoint);
      await ddb.send(new PutItemCommand({ TableName: 'renewed', Item: { pk: { S: 'a' }, expires: { N: String(now + 60) } } }));
      await ddb.send(new PutItemCommand({ TableName: 'renewed', Item: { pk: { S: 'b' }, expires: { N: String(now + 60) } } }));
      await ddb.send(new UpdateItemCommand({ TableName: 'renewed', Key: { pk: { S: 'a' } }, UpdateExpression: 'SET expires = :e', ExpressionAttributeValues: { ':e': { N: String(now + 7200) } } }));
      await ddb.send(new UpdateItemCommand({ TableName: 'renewed', Key: { pk: { S: 'b' } }, UpdateExpression: 'REMOVE expires' }));
      await advanceClock(cellar.endpoint, 120_000);
      await new Promise((r) => setTimeout(r, SWEEP_MS * 6));
      assert.ok(await get(ddb, 'renewed', 'a'));
      assert.ok(await get(ddb, 'renewed', 'b'));
      await advanceClock(cellar.endpoint, 7200_000);
      await waitFor(async () => (await get(ddb, 'renewed', 'a')) === undefined, 'the renewed item to expire at its new time', 5_000, 20);
      assert.ok(await get(ddb, 'renewed', 'b'));
    });

    it('values more than five years in the past and TTL attributes that are not Numbers are ignored', async () => {
      await createTable(ddb, 'odd');
      await enable(ddb, 'odd');
      const now = await serverNowSeconds(cellar.endpoint);
      const items: Record<string, AttributeValue>[] = [
        { pk: { S: 'ancient' }, expires: { N: String(now - 6 * YEAR_S) } },
        { pk: { S: 'four-years-ago' }, expires: { N: String(now - 4 * YEAR_S) } },
        { pk: { S: 'string' }, expires: { S: String(now - 100) } },
        { pk: { S: 'set' }, expires: { NS: [String(now - 100)] } },
        { pk: { S: 'nested' }, inner: { M: { expires: { N: String(now - 100) } } } },
        { pk: { S: 'millis' }, expires: { N: String((now + 600) * 1000) } },
      ];
      for (const Item of items) await ddb.send(new PutItemCommand({ TableName: 'odd', Item }));
      await waitFor(async () => (await get(ddb, 'odd', 'four-years-ago')) === undefined, 'the four-year-old item to go', 5_000, 20);
      await advanceClock(cellar.endpoint, 3_600_000);
      await new Promise((r) => setTimeout(r, SWEEP_MS * 6));
      const left = (await ddb.send(new ScanCommand({ TableName: 'odd' }))).Items!.map((i) => i.pk!.S).sort();
      assert.deepEqual(left, ['ancient', 'millis', 'nested', 'set', 'string']);
    });

    it('an expired item not yet deleted is still returned by reads (AWS: visible until the background process deletes it)', async () => {
      await createTable(ddb, 'pending');
      const now = await serverNowSeconds(cellar.endpoint);
      // TTL is off: nothing deletes it, and it stays readable although its time has passed.
      await ddb.send(new PutItemCommand({ TableName: 'pending', Item: { pk: { S: 'past' }, expires: { N: String(now - 60) } } }));
      await new Promise((r) => setTimeout(r, SWEEP_MS * 4));
      assert.ok(await get(ddb, 'pending', 'past'));
      // Turned on, the item already in the table is found by the walk and swept.
      await enable(ddb, 'pending');
      await waitFor(async () => (await get(ddb, 'pending', 'past')) === undefined, 'the past item to be swept once TTL is on', 5_000, 20);
    });

    it('enabling TTL on a table with existing items (several walk steps) expires them; disabling stops expiry', async () => {
      await createTable(ddb, 'existing');
      const now = await serverNowSeconds(cellar.endpoint);
      const requests = Array.from({ length: 45 }, (_, i) => ({ PutRequest: { Item: { pk: { S: `i${String(i).padStart(2, '0')}` }, g: { S: i % 2 ? 'odd' : 'even' }, expires: { N: String(now + (i < 30 ? 100 : 100_000)) } } } }));
      for (let i = 0; i < requests.length; i += 25) await ddb.send(new BatchWriteItemCommand({ RequestItems: { existing: requests.slice(i, i + 25) } }));
      await enable(ddb, 'existing');
      await advanceClock(cellar.endpoint, 200_000);
      await waitFor(async () => (await ddb.send(new ScanCommand({ TableName: 'existing', Select: 'COUNT' }))).Count === 15, 'the 30 expired items to go', 10_000, 20);
      assert.equal((await byG(ddb, 'existing', 'odd')).length + (await byG(ddb, 'existing', 'even')).length, 15);
      await disable(ddb, 'existing');
      assert.deepEqual(await describeTtl(ddb, 'existing'), { TimeToLiveStatus: 'DISABLED' });
      await advanceClock(cellar.endpoint, 200_000 * 1000);
      await new Promise((r) => setTimeout(r, SWEEP_MS * 6));
      assert.equal((await ddb.send(new ScanCommand({ TableName: 'existing', Select: 'COUNT' }))).Count, 15, 'TTL off: nothing more is deleted');
    });

    it('a table deleted and created again under the same name does not inherit the old expiry entries', async () => {
      await createTable(ddb, 'again');
      await enable(ddb, 'again');
      const now = await serverNowSeconds(cellar.endpoint);
      await ddb.send(new PutItemCommand({ TableName: 'again', Item: { pk: { S: 'x' }, expires: { N: String(now + 300) } } }));
      await ddb.send(new DeleteTableCommand({ TableName: 'again' }));
      await waitFor(async () => (await refusal(ddb.send(new DescribeTableCommand({ TableName: 'again' })))).name === 'ResourceNotFoundException', 'the table to go');
      await createTable(ddb, 'again');
      await ddb.send(new PutItemCommand({ TableName: 'again', Item: { pk: { S: 'x' }, expires: { N: String(now + 300) } } }));
      await advanceClock(cellar.endpoint, 600_000);
      await new Promise((r) => setTimeout(r, SWEEP_MS * 6));
      assert.ok(await get(ddb, 'again', 'x'), 'TTL is off on the new table');
      assert.deepEqual(await describeTtl(ddb, 'again'), { TimeToLiveStatus: 'DISABLED' });
    });
  });

  it('the TTL setting and pending expiries survive kill -9 and restart', async () => {
    const dir = dataDirWith({ dynamodb: { ttlSweepIntervalMs: SWEEP_MS, ttlChangeIntervalMs: 0 } });
    let cellar = await startCellar({ dataDir: dir, args: ['--quiet'] });
    let ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    try {
      await createTable(ddb, 'durable');
      await enable(ddb, 'durable');
      const now = await serverNowSeconds(cellar.endpoint);
      await ddb.send(new PutItemCommand({ TableName: 'durable', Item: { pk: { S: 'due' }, g: { S: 'grp' }, expires: { N: String(now + 300) } } }));
      await ddb.send(new PutItemCommand({ TableName: 'durable', Item: { pk: { S: 'kept' }, g: { S: 'grp' }, expires: { N: String(now + 10 * YEAR_S) } } }));
      await cellar.kill9();
      ddb.destroy();
      cellar = await startCellar({ dataDir: dir, args: ['--quiet'] });
      ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
      assert.deepEqual(await describeTtl(ddb, 'durable'), { TimeToLiveStatus: 'ENABLED', AttributeName: 'expires' });
      assert.ok(await get(ddb, 'durable', 'due'));
      await advanceClock(cellar.endpoint, 600_000);
      await waitFor(async () => (await get(ddb, 'durable', 'due')) === undefined, 'the item to expire after the restart', 5_000, 20);
      assert.deepEqual(await byG(ddb, 'durable', 'grp'), ['kept']);
    } finally {
      ddb.destroy();
      await cellar.kill9();
      removeDir(dir);
    }
  });
});
