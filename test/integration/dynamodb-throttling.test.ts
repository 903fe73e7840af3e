/**
 * Provisioned-throughput enforcement through the SDK v3 against a real Cellar started with
 * dynamodb.enforceProvisionedThroughput (cellar.json) and metrics published every second:
 * - a 1-WCU table takes its 300 units of burst (30 puts of 10 KB), then refuses puts with
 *   ProvisionedThroughputExceededException (HTTP 400, AWS's message), and the refused item is not stored;
 * - BatchGetItem: keys beyond the read capacity come back in UnprocessedKeys, then reads (and a Query) are refused;
 * - BatchWriteItem: a batch larger than what is left is partly processed (the rest in UnprocessedItems, not stored); a
 *   batch of which nothing can be processed fails with ProvisionedThroughputExceededException;
 * - a GSI short of write capacity throttles writes to its well-provisioned table (the index's message);
 * - TransactWriteItems on the spent table is cancelled with a ThrottlingError reason for that action;
 * - on-demand tables are never throttled, and UpdateTable raising the capacity takes effect at once;
 * - WriteThrottleEvents per table and per GSI reach CloudWatch, and an alarm on ThrottledRequests (Sum > 0) goes to
 *   ALARM;
 * and, against a Cellar with the default settings, the same 1-WCU table never throttles.
 * SDK retries are off (maxAttempts 1): the SDK would otherwise retry the throttled calls.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateTableCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { advanceClock, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const TABLE_MESSAGE = 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.';
const INDEX_MESSAGE =
  'The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API.';

/** An item of `kb` write units: its attribute names and values add up to just under kb KiB. */
const item = (id: string, kb: number, extra: Record<string, AttributeValue> = {}): Record<string, AttributeValue> => ({ pk: { S: id }, data: { S: 'x'.repeat(kb * 1024 - 100) }, ...extra });

const provisioned = (TableName: string, read: number, write: number, more: Partial<CreateTableCommandInput> = {}): CreateTableCommandInput => ({
  TableName,
  AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(more.AttributeDefinitions ?? [])],
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  BillingMode: 'PROVISIONED',
  ProvisionedThroughput: { ReadCapacityUnits: read, WriteCapacityUnits: write },
  ...(more.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: more.GlobalSecondaryIndexes } : {}),
});

interface Throttled {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number };
  CancellationReasons?: Array<{ Code?: string; Message?: string }>;
  ThrottlingReasons?: Array<{ reason?: string; resource?: string }>;
}

/** Puts `kb`-unit items until one is refused (at most `limit`); answers how many went through and the refusal. */
async function putUntilThrottled(ddb: DynamoDBClient, table: string, kb: number, limit: number, extra: Record<string, AttributeValue> = {}): Promise<{ stored: number; refusal: Throttled | undefined; refusedId: string }> {
  for (let i = 0; i < limit; i++) {
    const id = `${table}-${i}`;
    try {
      await ddb.send(new PutItemCommand({ TableName: table, Item: item(id, kb, extra) }));
    } catch (e) {
      return { stored: i, refusal: e as Throttled, refusedId: id };
    }
  }
  return { stored: limit, refusal: undefined, refusedId: '' };
}

const stored = async (ddb: DynamoDBClient, table: string, id: string): Promise<boolean> =>
  (await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: id } }, ConsistentRead: true, ProjectionExpression: 'pk' }))).Item !== undefined;

describe('DynamoDB provisioned-throughput enforcement (dynamodb.enforceProvisionedThroughput on)', () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let ddb: DynamoDBClient;
  let cw: CloudWatchClient;
  const startedAt = new Date(Date.now() - 60_000);

  before(async () => {
    dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ dynamodb: { enforceProvisionedThroughput: true }, metrics: { periodMs: 1000 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    cw = new CloudWatchClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(dataDir);
  });

  it('a 1-WCU table takes its 300 units of burst, then refuses writes with AWS error, storing nothing', async () => {
    await ddb.send(new CreateTableCommand(provisioned('burst', 1, 1)));
    const { stored: n, refusal, refusedId } = await putUntilThrottled(ddb, 'burst', 10, 40);
    assert.ok(refusal, 'a put was refused');
    // 300 units of burst and what one unit a second refilled while the puts ran: 30 puts of 10 units, a few more at most.
    assert.ok(n >= 30 && n <= 33, `${n} puts of 10 units went through before the first refusal`);
    assert.equal(refusal.name, 'ProvisionedThroughputExceededException');
    assert.equal(refusal.message, TABLE_MESSAGE);
    assert.equal(refusal.$metadata.httpStatusCode, 400);
    assert.deepEqual(refusal.ThrottlingReasons, [{ reason: 'TableWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/burst' }]);
    assert.equal(await stored(ddb, 'burst', refusedId), false, 'the refused item is not stored');
    assert.equal(await stored(ddb, 'burst', 'burst-0'), true);
  });

  it('BatchWriteItem: a batch of which nothing can be processed fails; a larger batch than what is left is partly processed', async () => {
    const puts = (table: string, prefix: string, count: number, kb: number): WriteRequest[] => Array.from({ length: count }, (_, i) => ({ PutRequest: { Item: item(`${prefix}-${i}`, kb) } }));
    await assert.rejects(ddb.send(new BatchWriteItemCommand({ RequestItems: { burst: puts('burst', 'batch', 5, 1) } })), (e: Throttled) => {
      assert.equal(e.name, 'ProvisionedThroughputExceededException');
      assert.equal(e.message, TABLE_MESSAGE);
      return true;
    });
    assert.equal(await stored(ddb, 'burst', 'batch-0'), false);
    // A fresh 1-WCU table: 300 units of burst take about 15 puts of 20 units; the rest come back unprocessed.
    await ddb.send(new CreateTableCommand(provisioned('batched', 1, 1)));
    const out = await ddb.send(new BatchWriteItemCommand({ RequestItems: { batched: puts('batched', 'b', 25, 20) } }));
    const unprocessed = out.UnprocessedItems?.['batched'] ?? [];
    assert.ok(unprocessed.length >= 8 && unprocessed.length <= 10, `${unprocessed.length} of 25 unprocessed`);
    const unprocessedIds = new Set(unprocessed.map((w) => w.PutRequest!.Item!['pk']!.S!));
    for (let i = 0; i < 25; i++) assert.equal(await stored(ddb, 'batched', `b-${i}`), !unprocessedIds.has(`b-${i}`), `b-${i}`);
    assert.equal(unprocessed[0]!.PutRequest!.Item!['data']!.S!.length, 20 * 1024 - 100, 'an unprocessed item comes back whole');
  });

  it('BatchGetItem: keys beyond the read capacity come back in UnprocessedKeys; then reads are refused', async () => {
    await ddb.send(new CreateTableCommand(provisioned('reads', 1, 1000)));
    const keys = Array.from({ length: 100 }, (_, i) => ({ pk: { S: `r-${i}` } }));
    for (let i = 0; i < 100; i += 25) {
      await ddb.send(new BatchWriteItemCommand({ RequestItems: { reads: keys.slice(i, i + 25).map((k) => ({ PutRequest: { Item: item(k.pk.S, 20) } })) } }));
    }
    // 300 units of burst; a strongly consistent read of 20 KB costs 5: about 60 of the 100 keys are read.
    const out = await ddb.send(new BatchGetItemCommand({ RequestItems: { reads: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'pk' } } }));
    const got = out.Responses?.['reads']?.length ?? 0;
    const unprocessed = out.UnprocessedKeys?.['reads']?.Keys ?? [];
    assert.ok(got >= 60 && got <= 62, `${got} keys read`);
    assert.equal(got + unprocessed.length, 100);
    assert.equal(out.UnprocessedKeys?.['reads']?.ConsistentRead, true, 'unprocessed keys keep their request parameters');
    // What one unit a second refilled since may admit a key or two more (and put the table in debt); then none.
    let refused: Throttled | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      await ddb.send(new BatchGetItemCommand({ RequestItems: { reads: { Keys: keys.slice(0, 10), ConsistentRead: true } } })).catch((e: Throttled) => (refused = e));
    }
    assert.equal(refused?.name, 'ProvisionedThroughputExceededException', 'a batch of which no key can be read fails');
    await assert.rejects(ddb.send(new QueryCommand({ TableName: 'reads', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'r-1' } } })), (e: Throttled) => {
      assert.equal(e.name, 'ProvisionedThroughputExceededException');
      assert.equal(e.message, TABLE_MESSAGE);
      assert.equal(e.ThrottlingReasons?.[0]?.reason, 'TableReadProvisionedThroughputExceeded');
      return true;
    });
  });

  it('a GSI short of write capacity throttles writes to its table (back-pressure), with the index message', async () => {
    await ddb.send(
      new CreateTableCommand(
        provisioned('wide', 100, 100, {
          AttributeDefinitions: [{ AttributeName: 'owner', AttributeType: 'S' }],
          GlobalSecondaryIndexes: [{ IndexName: 'byOwner', KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' }, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }],
        }),
      ),
    );
    const { stored: n, refusal, refusedId } = await putUntilThrottled(ddb, 'wide', 10, 40, { owner: { S: 'alice' } });
    assert.ok(refusal, 'a put was refused though the table has 30000 units of burst');
    assert.ok(n >= 30 && n <= 33, `${n} puts went through`);
    assert.equal(refusal.name, 'ProvisionedThroughputExceededException');
    assert.equal(refusal.message, INDEX_MESSAGE);
    assert.deepEqual(refusal.ThrottlingReasons, [{ reason: 'IndexWriteProvisionedThroughputExceeded', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/wide/index/byOwner' }]);
    assert.equal(await stored(ddb, 'wide', refusedId), false);
  });

  it('TransactWriteItems touching a spent table is cancelled with ThrottlingError on that action', async () => {
    await ddb.send(new CreateTableCommand({ TableName: 'ondemand', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    await assert.rejects(
      ddb.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'burst', Item: item('tx-1', 1) } }, { Put: { TableName: 'ondemand', Item: item('tx-2', 1) } }] })),
      (e: Throttled) => {
        assert.equal(e.name, 'TransactionCanceledException');
        assert.deepEqual(e.CancellationReasons, [{ Code: 'ThrottlingError', Message: TABLE_MESSAGE }, { Code: 'None' }]);
        return true;
      },
    );
    assert.equal(await stored(ddb, 'ondemand', 'tx-2'), false, 'nothing of a cancelled transaction is written');
  });

  it('on-demand tables are never throttled; UpdateTable raising capacity takes effect at once', async () => {
    const { refusal } = await putUntilThrottled(ddb, 'ondemand', 10, 40);
    assert.equal(refusal, undefined, 'an on-demand table took 400 units at once');
    await ddb.send(new UpdateTableCommand({ TableName: 'burst', ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1000 } }));
    // The debt left is at most one put's 10 units; at 1000 units a second it is repaid within milliseconds.
    await waitFor(async () => ddb.send(new PutItemCommand({ TableName: 'burst', Item: item('after-update', 10) })).then(() => true), 'a put after raising the capacity', 5_000, 20);
    assert.equal(await stored(ddb, 'burst', 'after-update'), true);
    await ddb.send(new UpdateTableCommand({ TableName: 'burst', ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }));
  });

  it('throttle events reach CloudWatch, and an alarm on ThrottledRequests goes to ALARM', async () => {
    const sum = async (metric: string, dims: Record<string, string>): Promise<number> => {
      const out = await cw.send(
        new GetMetricDataCommand({
          MetricDataQueries: [{ Id: 'm', MetricStat: { Metric: { Namespace: 'AWS/DynamoDB', MetricName: metric, Dimensions: Object.entries(dims).map(([Name, Value]) => ({ Name, Value })) }, Period: 60, Stat: 'Sum' } }],
          StartTime: startedAt,
          EndTime: new Date(Date.now() + 600_000),
        }),
      );
      return (out.MetricDataResults?.[0]?.Values ?? []).reduce((a, b) => a + b, 0);
    };
    // Metrics are published every second: wait for the period that saw the refusals.
    await waitFor(async () => (await sum('ThrottledRequests', { TableName: 'burst', Operation: 'PutItem' })) >= 1, 'ThrottledRequests of PutItem', 15_000, 200);
    await waitFor(async () => (await sum('ThrottledRequests', { TableName: 'burst', Operation: 'BatchWriteItem' })) >= 1, 'ThrottledRequests of BatchWriteItem', 15_000, 200);
    // The refused put, the refused batch's 5 items, the transaction's action; the partly processed batch's items.
    assert.ok((await sum('WriteThrottleEvents', { TableName: 'burst' })) >= 7);
    assert.ok((await sum('WriteThrottleEvents', { TableName: 'batched' })) >= 8);
    assert.ok((await sum('WriteThrottleEvents', { TableName: 'wide', GlobalSecondaryIndexName: 'byOwner' })) >= 1);
    assert.ok((await sum('ReadThrottleEvents', { TableName: 'reads' })) >= 49, 'each unprocessed key, the refused batch\'s and the query');
    assert.ok((await sum('ThrottledRequests', { TableName: 'reads', Operation: 'Query' })) >= 1);
    assert.equal(await sum('ThrottledRequests', { TableName: 'ondemand', Operation: 'PutItem' }), 0);

    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: 'burst-throttled',
        Namespace: 'AWS/DynamoDB',
        MetricName: 'ThrottledRequests',
        Dimensions: [{ Name: 'TableName', Value: 'burst' }, { Name: 'Operation', Value: 'PutItem' }],
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    // Alarms evaluate complete periods: move the server's clock past the minute of the refusals.
    await advanceClock(cellar.endpoint, 60_000);
    const alarm = await waitFor(async () => {
      const a = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['burst-throttled'] }))).MetricAlarms![0]!;
      return a.StateValue === 'ALARM' ? a : undefined;
    }, 'burst-throttled in ALARM', 15_000, 200);
    assert.match(alarm!.StateReason!, /^Threshold Crossed: 1 out of the last 2 datapoints \[\d+\.0 /);
  });
});

describe('DynamoDB with the default settings never throttles (DynamoDB Local behaviour)', () => {
  let cellar: CellarProcess;
  let ddb: DynamoDBClient;
  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'], env: { CELLAR_DYNAMODB_ENFORCE_THROUGHPUT: '' } });
    ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
  });

  it('a 1-WCU table takes 400 units of puts and a 500-unit batch at once', async () => {
    await ddb.send(new CreateTableCommand(provisioned('small', 1, 1)));
    const { stored: n, refusal } = await putUntilThrottled(ddb, 'small', 10, 40);
    assert.equal(refusal, undefined);
    assert.equal(n, 40);
    const out = await ddb.send(new BatchWriteItemCommand({ RequestItems: { small: Array.from({ length: 25 }, (_, i) => ({ PutRequest: { Item: item(`b-${i}`, 20) } })) } }));
    assert.deepEqual(out.UnprocessedItems, {});
  });
});
