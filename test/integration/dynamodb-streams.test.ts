/**
 * DynamoDB Streams end to end, with @aws-sdk/client-dynamodb and @aws-sdk/client-dynamodb-streams:
 *  - given a table with a stream of each view type, when a scripted series of writes runs (insert, overwrite,
 *    an overwrite that changes nothing, updates, deletes, a delete of a missing item, a batch), then GetRecords
 *    returns exactly the expected records, in order, in AWS's format;
 *  - iterators of each type start where they should, and NextShardIterator chains through the shard;
 *  - given a writer acknowledging puts, when Cellar is killed -9 mid-stream and restarted, then the stream holds
 *    one record per acknowledged write (none lost, none duplicated) and an iterator from before the kill goes on;
 *  - a disabled stream stays readable (DISABLED, its shard closed) and a new one gets a new ARN;
 *  - StreamSpecification validation and the Streams API's errors;
 *  - with the server clock moved: iterators expire after 15 minutes, records and disabled streams after 24 hours.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchWriteItemCommand, CreateTableCommand, DeleteItemCommand, DeleteTableCommand, DescribeTableCommand, DynamoDBClient, ExecuteStatementCommand,
  PutItemCommand, ScanCommand, TransactWriteItemsCommand, UpdateItemCommand, UpdateTableCommand, UpdateTimeToLiveCommand, type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, ListStreamsCommand, type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { startAckingWriter } from '../helpers/acking-writer.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { advanceClock, tempDir, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

type Item = Record<string, AttributeValue>;
type ViewType = 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';
const VIEW_TYPES: ViewType[] = ['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES'];

const S = (s: string): AttributeValue => ({ S: s });
const KEY = (pk: string, sk: string): Item => ({ pk: S(pk), sk: S(sk) });

/** An item's size by DynamoDB's rules, for items of string attributes only. */
function size(item: Item | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v.S!), 0);
}

interface Expected {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  keys: Item;
  old?: Item;
  next?: Item;
}

async function expectError(p: Promise<unknown>, name: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.equal(e.name, name, `${e.name}: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

function createTable(ddb: DynamoDBClient, name: string, viewType?: ViewType) {
  return ddb.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    ...(viewType ? { StreamSpecification: { StreamEnabled: true, StreamViewType: viewType } } : {}),
  }));
}

async function shardOf(streams: DynamoDBStreamsClient, arn: string): Promise<string> {
  const d = await streams.send(new DescribeStreamCommand({ StreamArn: arn }));
  return d.StreamDescription!.Shards![0]!.ShardId!;
}

/** Every record from an iterator on, following NextShardIterator until a read returns nothing. */
async function readAll(streams: DynamoDBStreamsClient, iterator: string, limit?: number): Promise<{ records: StreamRecord[]; next: string | undefined }> {
  const records: StreamRecord[] = [];
  let it: string | undefined = iterator;
  for (let i = 0; it && i < 1000; i++) {
    const r: { Records?: StreamRecord[]; NextShardIterator?: string } = await streams.send(new GetRecordsCommand({ ShardIterator: it, ...(limit ? { Limit: limit } : {}) }));
    records.push(...r.Records!);
    if (r.Records!.length === 0) return { records, next: r.NextShardIterator };
    it = r.NextShardIterator;
  }
  return { records, next: it };
}

async function iterator(streams: DynamoDBStreamsClient, arn: string, type: 'TRIM_HORIZON' | 'LATEST' | 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER', seq?: string): Promise<string> {
  const shard = await shardOf(streams, arn);
  const r = await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: type, ...(seq ? { SequenceNumber: seq } : {}) }));
  return r.ShardIterator!;
}

/** Every record of a stream, shard after shard (oldest first), each from TRIM_HORIZON. */
async function readStream(streams: DynamoDBStreamsClient, arn: string): Promise<StreamRecord[]> {
  const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards!;
  const out: StreamRecord[] = [];
  for (const shard of shards) {
    const it = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator!;
    out.push(...(await readAll(streams, it)).records);
  }
  return out;
}

/** Runs the scripted writes on a table; returns the records they must make. */
async function scriptedWrites(ddb: DynamoDBClient, table: string): Promise<Expected[]> {
  const a1 = { ...KEY('a', '1'), v: S('one') };
  const a1b = { ...KEY('a', '1'), v: S('two'), w: S('x') };
  const out: Expected[] = [];
  await ddb.send(new PutItemCommand({ TableName: table, Item: a1 }));
  out.push({ eventName: 'INSERT', keys: KEY('a', '1'), next: a1 });
  await ddb.send(new PutItemCommand({ TableName: table, Item: a1b }));
  out.push({ eventName: 'MODIFY', keys: KEY('a', '1'), old: a1, next: a1b });
  // The same item again, its attributes in another order: nothing changes, no record.
  await ddb.send(new PutItemCommand({ TableName: table, Item: { w: S('x'), sk: S('1'), v: S('two'), pk: S('a') } }));
  await ddb.send(new UpdateItemCommand({ TableName: table, Key: KEY('a', '1'), UpdateExpression: 'SET v = :v REMOVE w', ExpressionAttributeValues: { ':v': S('three') } }));
  const a1c = { ...KEY('a', '1'), v: S('three') };
  out.push({ eventName: 'MODIFY', keys: KEY('a', '1'), old: a1b, next: a1c });
  // An update that sets what is already there: no record.
  await ddb.send(new UpdateItemCommand({ TableName: table, Key: KEY('a', '1'), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': S('three') } }));
  // An update of a missing item creates it: INSERT.
  await ddb.send(new UpdateItemCommand({ TableName: table, Key: KEY('e', '5'), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': S('new') } }));
  out.push({ eventName: 'INSERT', keys: KEY('e', '5'), next: { ...KEY('e', '5'), v: S('new') } });
  await ddb.send(new DeleteItemCommand({ TableName: table, Key: KEY('a', '1') }));
  out.push({ eventName: 'REMOVE', keys: KEY('a', '1'), old: a1c });
  // Deleting a missing item changes nothing: no record.
  await ddb.send(new DeleteItemCommand({ TableName: table, Key: KEY('a', '1') }));
  const b2 = { ...KEY('b', '2'), v: S('bee') };
  const c3 = { ...KEY('c', '3'), v: S('sea') };
  await ddb.send(new BatchWriteItemCommand({
    RequestItems: { [table]: [{ PutRequest: { Item: b2 } }, { PutRequest: { Item: c3 } }, { DeleteRequest: { Key: KEY('d', '4') } }, { DeleteRequest: { Key: KEY('e', '5') } }] },
  }));
  out.push({ eventName: 'INSERT', keys: KEY('b', '2'), next: b2 });
  out.push({ eventName: 'INSERT', keys: KEY('c', '3'), next: c3 });
  out.push({ eventName: 'REMOVE', keys: KEY('e', '5'), old: { ...KEY('e', '5'), v: S('new') } });
  return out;
}

function checkRecords(records: StreamRecord[], expected: Expected[], viewType: ViewType, window: { fromMs: number; toMs: number }): void {
  assert.equal(records.length, expected.length, JSON.stringify(records.map((r) => [r.eventName, r.dynamodb?.Keys])));
  let lastSeq = -1n;
  const ids = new Set<string>();
  records.forEach((r, i) => {
    const e = expected[i]!;
    const withNew = viewType === 'NEW_IMAGE' || viewType === 'NEW_AND_OLD_IMAGES';
    const withOld = viewType === 'OLD_IMAGE' || viewType === 'NEW_AND_OLD_IMAGES';
    const newImage = withNew ? e.next : undefined;
    const oldImage = withOld ? e.old : undefined;
    assert.match(r.eventID!, /^[0-9a-f]{32}$/);
    assert.ok(!ids.has(r.eventID!), 'eventIDs are unique');
    ids.add(r.eventID!);
    assert.equal(r.userIdentity, undefined);
    const seq = r.dynamodb!.SequenceNumber!;
    assert.match(seq, /^\d{21,40}$/);
    assert.ok(BigInt(seq) > lastSeq, 'sequence numbers increase');
    lastSeq = BigInt(seq);
    const when = r.dynamodb!.ApproximateCreationDateTime!;
    assert.ok(when instanceof Date && when.getTime() % 1000 === 0, 'whole seconds');
    assert.ok(when.getTime() >= Math.floor(window.fromMs / 1000) * 1000 && when.getTime() <= window.toMs, `${when.toISOString()} in the write window`);
    assert.deepEqual(
      { ...r, dynamodb: { ...r.dynamodb, ApproximateCreationDateTime: undefined, SequenceNumber: undefined }, eventID: undefined },
      {
        eventID: undefined,
        eventName: e.eventName,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        dynamodb: {
          ApproximateCreationDateTime: undefined,
          Keys: e.keys,
          ...(newImage ? { NewImage: newImage } : {}),
          ...(oldImage ? { OldImage: oldImage } : {}),
          SequenceNumber: undefined,
          SizeBytes: size(e.keys) + size(newImage) + size(oldImage),
          StreamViewType: viewType,
        },
      },
      `record ${i} (${viewType})`,
    );
  });
}

describe('DynamoDB Streams', () => {
  let cellar: CellarProcess;
  let ddb: DynamoDBClient;
  let streams: DynamoDBStreamsClient;
  const connect = () => {
    ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    streams = new DynamoDBStreamsClient(sdkConfig(cellar.endpoint));
  };
  /** kill -9 of Cellar under a writer, then a restart on the same data and new clients. */
  const killAndRestart = async (writerDone: Promise<void>): Promise<void> => {
    await cellar.kill9();
    await writerDone;
    ddb.destroy();
    streams.destroy();
    cellar = await cellar.restart();
    connect();
  };

  before(async () => {
    // Time to Live sweeps every 100 ms here, so its deletes reach the stream at once.
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ dynamodb: { ttlSweepIntervalMs: 100, ttlChangeIntervalMs: 0 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    connect();
  });

  after(async () => {
    ddb?.destroy();
    streams?.destroy();
    if (cellar) {
      await cellar.stop();
      removeDir(cellar.dataDir);
    }
  });

  it('given a stream of each view type, a scripted series of writes makes exactly the expected records', async () => {
    for (const viewType of VIEW_TYPES) {
      const table = `script_${viewType.toLowerCase()}`;
      const created = (await createTable(ddb, table, viewType)).TableDescription!;
      assert.deepEqual(created.StreamSpecification, { StreamEnabled: true, StreamViewType: viewType });
      assert.match(created.LatestStreamLabel!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$/);
      assert.equal(created.LatestStreamArn, `${created.TableArn}/stream/${created.LatestStreamLabel}`);
      const fromMs = Date.now();
      const expected = await scriptedWrites(ddb, table);
      const toMs = Date.now();
      const { records } = await readAll(streams, await iterator(streams, created.LatestStreamArn!, 'TRIM_HORIZON'));
      checkRecords(records, expected, viewType, { fromMs, toMs });
      const described = (await ddb.send(new DescribeTableCommand({ TableName: table }))).Table!;
      assert.equal(described.LatestStreamArn, created.LatestStreamArn);
      assert.equal(described.LatestStreamLabel, created.LatestStreamLabel);
    }
  });

  it('PartiQL writes and Time to Live deletes reach the stream; TTL deletes are marked as the service\'s', async () => {
    const arn = (await createTable(ddb, 'other_paths', 'NEW_AND_OLD_IMAGES')).TableDescription!.LatestStreamArn!;
    const latest = await iterator(streams, arn, 'LATEST');
    await ddb.send(new ExecuteStatementCommand({ Statement: `INSERT INTO "other_paths" VALUE {'pk': 'p', 'sk': '1', 'v': 'one'}` }));
    await ddb.send(new ExecuteStatementCommand({ Statement: `UPDATE "other_paths" SET v = 'two' WHERE pk = 'p' AND sk = '1'` }));
    await ddb.send(new ExecuteStatementCommand({ Statement: `DELETE FROM "other_paths" WHERE pk = 'p' AND sk = '1'` }));
    await ddb.send(new UpdateTimeToLiveCommand({ TableName: 'other_paths', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expires' } }));
    const expired = { ...KEY('t', '1'), expires: { N: String(Math.floor(Date.now() / 1000) - 60) } };
    await ddb.send(new PutItemCommand({ TableName: 'other_paths', Item: expired }));
    let records: StreamRecord[] = [];
    await waitFor(async () => {
      records = (await readAll(streams, latest)).records;
      return records.length >= 5;
    }, 'the TTL delete in the stream', 15_000, 100);
    assert.deepEqual(records.map((r) => [r.eventName, r.dynamodb!.Keys!.pk!.S, r.dynamodb!.OldImage?.v?.S, r.dynamodb!.NewImage?.v?.S]), [
      ['INSERT', 'p', undefined, 'one'],
      ['MODIFY', 'p', 'one', 'two'],
      ['REMOVE', 'p', 'two', undefined],
      ['INSERT', 't', undefined, undefined],
      ['REMOVE', 't', undefined, undefined],
    ]);
    assert.ok(records.slice(0, 4).every((r) => r.userIdentity === undefined), 'callers\' writes carry no userIdentity');
    assert.deepEqual(records[4]!.userIdentity, { PrincipalId: 'dynamodb.amazonaws.com', Type: 'Service' });
    assert.deepEqual(records[4]!.dynamodb!.OldImage, expired);
  });

  it('a transaction makes one record per item it changes, and a cancelled one makes none', async () => {
    const arn = (await createTable(ddb, 'transacted', 'NEW_AND_OLD_IMAGES')).TableDescription!.LatestStreamArn!;
    await ddb.send(new PutItemCommand({ TableName: 'transacted', Item: { ...KEY('u', '1'), v: S('old') } }));
    await ddb.send(new PutItemCommand({ TableName: 'transacted', Item: { ...KEY('d', '1'), v: S('doomed') } }));
    await ddb.send(new PutItemCommand({ TableName: 'transacted', Item: { ...KEY('c', '1'), v: S('checked') } }));
    const latest = await iterator(streams, arn, 'LATEST');
    await ddb.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: 'transacted', Item: { ...KEY('p', '1'), v: S('put') } } },
        { Update: { TableName: 'transacted', Key: KEY('u', '1'), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': S('new') } } },
        { Delete: { TableName: 'transacted', Key: KEY('d', '1') } },
        { ConditionCheck: { TableName: 'transacted', Key: KEY('c', '1'), ConditionExpression: 'attribute_exists(pk)' } },
      ],
    }));
    await assert.rejects(ddb.send(new TransactWriteItemsCommand({
      TransactItems: [
        { Put: { TableName: 'transacted', Item: { ...KEY('never', '1'), v: S('x') } } },
        { ConditionCheck: { TableName: 'transacted', Key: KEY('c', '1'), ConditionExpression: 'attribute_not_exists(pk)' } },
      ],
    })), (e: Error) => e.name === 'TransactionCanceledException');
    const records = (await readAll(streams, latest)).records;
    const seen = records.map((r) => [r.eventName, r.dynamodb!.Keys!.pk!.S, r.dynamodb!.OldImage?.v?.S, r.dynamodb!.NewImage?.v?.S]);
    seen.sort((x, y) => String(x[1]).localeCompare(String(y[1])));
    assert.deepEqual(seen, [
      ['REMOVE', 'd', 'doomed', undefined],
      ['INSERT', 'p', undefined, 'put'],
      ['MODIFY', 'u', 'old', 'new'],
    ]);
  });

  it('DescribeStream and ListStreams describe the stream as AWS does', async () => {
    const created = (await createTable(ddb, 'described', 'NEW_IMAGE')).TableDescription!;
    const arn = created.LatestStreamArn!;
    const d = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!;
    assert.equal(d.StreamArn, arn);
    assert.equal(d.StreamLabel, created.LatestStreamLabel);
    assert.equal(d.StreamStatus, 'ENABLED');
    assert.equal(d.StreamViewType, 'NEW_IMAGE');
    assert.equal(d.TableName, 'described');
    assert.deepEqual(d.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    assert.ok(d.CreationRequestDateTime instanceof Date);
    assert.equal(d.Shards!.length, 1);
    assert.match(d.Shards![0]!.ShardId!, /^shardId-\d{20}-[0-9a-f]{8}$/);
    assert.match(d.Shards![0]!.SequenceNumberRange!.StartingSequenceNumber!, /^\d{21}$/);
    assert.equal(d.Shards![0]!.SequenceNumberRange!.EndingSequenceNumber, undefined);
    assert.equal(d.LastEvaluatedShardId, undefined);
    const after = await streams.send(new DescribeStreamCommand({ StreamArn: arn, ExclusiveStartShardId: d.Shards![0]!.ShardId! }));
    assert.deepEqual(after.StreamDescription!.Shards, []);

    const mine = await streams.send(new ListStreamsCommand({ TableName: 'described' }));
    assert.deepEqual(mine.Streams, [{ StreamArn: arn, TableName: 'described', StreamLabel: created.LatestStreamLabel }]);
    // Paging through every stream of the account and region, one at a time, visits each once.
    const seen: string[] = [];
    let start: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await streams.send(new ListStreamsCommand({ Limit: 1, ...(start ? { ExclusiveStartStreamArn: start } : {}) }));
      seen.push(...page.Streams!.map((s) => s.StreamArn!));
      start = page.LastEvaluatedStreamArn;
      if (!start) break;
    }
    const all = (await streams.send(new ListStreamsCommand({}))).Streams!.map((s) => s.StreamArn!);
    assert.deepEqual(seen, all);
    assert.equal(new Set(all).size, all.length);
    assert.ok(all.includes(arn));
    // A table without a stream has none.
    await createTable(ddb, 'streamless');
    assert.deepEqual((await streams.send(new ListStreamsCommand({ TableName: 'streamless' }))).Streams, []);
  });

  it('iterators of each type start where they should, and NextShardIterator chains through the shard', async () => {
    const arn = (await createTable(ddb, 'iterators', 'KEYS_ONLY')).TableDescription!.LatestStreamArn!;
    const latestBefore = await iterator(streams, arn, 'LATEST');
    for (let i = 0; i < 5; i++) await ddb.send(new PutItemCommand({ TableName: 'iterators', Item: KEY(`k${i}`, '0') }));
    const all = (await readAll(streams, await iterator(streams, arn, 'TRIM_HORIZON'))).records;
    assert.deepEqual(all.map((r) => r.dynamodb!.Keys!.pk!.S), ['k0', 'k1', 'k2', 'k3', 'k4']);
    const seq2 = all[2]!.dynamodb!.SequenceNumber!;
    const at = (await readAll(streams, await iterator(streams, arn, 'AT_SEQUENCE_NUMBER', seq2))).records;
    assert.deepEqual(at.map((r) => r.dynamodb!.Keys!.pk!.S), ['k2', 'k3', 'k4']);
    const afterSeq = (await readAll(streams, await iterator(streams, arn, 'AFTER_SEQUENCE_NUMBER', seq2))).records;
    assert.deepEqual(afterSeq.map((r) => r.dynamodb!.Keys!.pk!.S), ['k3', 'k4']);
    // LATEST taken before the writes reads them all; taken now, only what comes next.
    assert.equal((await readAll(streams, latestBefore)).records.length, 5);
    const latest = await iterator(streams, arn, 'LATEST');
    const empty = await streams.send(new GetRecordsCommand({ ShardIterator: latest }));
    assert.deepEqual(empty.Records, []);
    assert.ok(empty.NextShardIterator, 'an open shard always has a next iterator');
    await ddb.send(new PutItemCommand({ TableName: 'iterators', Item: KEY('k5', '0') }));
    const fresh = await streams.send(new GetRecordsCommand({ ShardIterator: empty.NextShardIterator! }));
    assert.deepEqual(fresh.Records!.map((r) => r.dynamodb!.Keys!.pk!.S), ['k5']);
    // One record at a time, through NextShardIterator.
    const oneByOne = await readAll(streams, await iterator(streams, arn, 'TRIM_HORIZON'), 1);
    assert.deepEqual(oneByOne.records.map((r) => r.dynamodb!.Keys!.pk!.S), ['k0', 'k1', 'k2', 'k3', 'k4', 'k5']);
    // The shard's starting sequence number is a valid AT_SEQUENCE_NUMBER: it reads from the start.
    const d = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!;
    const fromStart = (await readAll(streams, await iterator(streams, arn, 'AT_SEQUENCE_NUMBER', d.Shards![0]!.SequenceNumberRange!.StartingSequenceNumber!))).records;
    assert.equal(fromStart.length, 6);
  });

  it('given a disabled stream, it stays readable as DISABLED with a closed shard, and enabling again makes a new stream', async () => {
    const first = (await createTable(ddb, 'toggled', 'NEW_AND_OLD_IMAGES')).TableDescription!;
    await ddb.send(new PutItemCommand({ TableName: 'toggled', Item: KEY('before', '0') }));
    const disabled = (await ddb.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: false } }))).TableDescription!;
    assert.equal(disabled.StreamSpecification, undefined);
    assert.equal(disabled.LatestStreamArn, first.LatestStreamArn);
    await ddb.send(new PutItemCommand({ TableName: 'toggled', Item: KEY('while-disabled', '0') }));
    const d = (await streams.send(new DescribeStreamCommand({ StreamArn: first.LatestStreamArn! }))).StreamDescription!;
    assert.equal(d.StreamStatus, 'DISABLED');
    const range = d.Shards![0]!.SequenceNumberRange!;
    assert.ok(range.EndingSequenceNumber && BigInt(range.EndingSequenceNumber) >= BigInt(range.StartingSequenceNumber!));
    // The closed shard reads to its end, then has no next iterator.
    const r = await streams.send(new GetRecordsCommand({ ShardIterator: await iterator(streams, first.LatestStreamArn!, 'TRIM_HORIZON') }));
    assert.deepEqual(r.Records!.map((x) => x.dynamodb!.Keys!.pk!.S), ['before']);
    assert.equal(r.NextShardIterator, undefined);

    await new Promise((res) => setTimeout(res, 5));
    const second = (await ddb.send(new UpdateTableCommand({ TableName: 'toggled', StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' } }))).TableDescription!;
    assert.deepEqual(second.StreamSpecification, { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' });
    assert.notEqual(second.LatestStreamArn, first.LatestStreamArn);
    assert.ok(second.LatestStreamLabel! > first.LatestStreamLabel!);
    await ddb.send(new PutItemCommand({ TableName: 'toggled', Item: KEY('after', '0') }));
    const listed = (await streams.send(new ListStreamsCommand({ TableName: 'toggled' }))).Streams!.map((s) => s.StreamArn);
    assert.deepEqual(listed, [first.LatestStreamArn, second.LatestStreamArn]);
    const now = await readAll(streams, await iterator(streams, second.LatestStreamArn!, 'TRIM_HORIZON'));
    assert.deepEqual(now.records.map((x) => [x.eventName, x.dynamodb!.Keys!.pk!.S, x.dynamodb!.StreamViewType, x.dynamodb!.NewImage]), [['INSERT', 'after', 'KEYS_ONLY', undefined]]);
    // The old stream still holds only its own record.
    assert.equal((await readAll(streams, await iterator(streams, first.LatestStreamArn!, 'TRIM_HORIZON'))).records.length, 1);

    // Deleting the table disables its stream, which stays readable.
    await ddb.send(new DeleteTableCommand({ TableName: 'toggled' }));
    await waitFor(async () => (await ddb.send(new DescribeTableCommand({ TableName: 'toggled' })).then(() => false, () => true)), 'table gone');
    const gone = (await streams.send(new DescribeStreamCommand({ StreamArn: second.LatestStreamArn! }))).StreamDescription!;
    assert.equal(gone.StreamStatus, 'DISABLED');
    assert.equal((await readAll(streams, await iterator(streams, second.LatestStreamArn!, 'TRIM_HORIZON'))).records.length, 1);
    assert.equal((await streams.send(new ListStreamsCommand({ TableName: 'toggled' }))).Streams!.length, 2);
  });

  it('StreamSpecification is validated with AWS messages, and refused requests change nothing', async () => {
    const bad = (spec: { StreamEnabled: boolean; StreamViewType?: ViewType }) => ddb.send(new CreateTableCommand({
      TableName: 'never', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], StreamSpecification: spec,
    }));
    await expectError(bad({ StreamEnabled: true }), 'ValidationException', 'One or more parameter values were invalid: Table is being created with a stream enabled, UpdateViewType is required');
    await expectError(bad({ StreamEnabled: false, StreamViewType: 'KEYS_ONLY' }), 'ValidationException', 'One or more parameter values were invalid: Table is being created with a stream disabled, UpdateViewType should not be specified');
    await expectError(ddb.send(new DescribeTableCommand({ TableName: 'never' })), 'ResourceNotFoundException');

    await createTable(ddb, 'validated', 'KEYS_ONLY');
    const update = (spec: { StreamEnabled: boolean; StreamViewType?: ViewType }) => ddb.send(new UpdateTableCommand({ TableName: 'validated', StreamSpecification: spec }));
    await expectError(update({ StreamEnabled: true, StreamViewType: 'KEYS_ONLY' }), 'ValidationException', 'Table already has an enabled stream: TableName: validated');
    await expectError(update({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' }), 'ValidationException', 'Table already has an enabled stream: TableName: validated');
    await expectError(update({ StreamEnabled: true }), 'ValidationException', 'One or more parameter values were invalid: If stream is being enabled then UpdateViewType is required');
    await expectError(update({ StreamEnabled: false, StreamViewType: 'KEYS_ONLY' }), 'ValidationException', 'One or more parameter values were invalid: If stream is being disabled, then UpdateViewType must not be specified');
    await expectError(ddb.send(new UpdateTableCommand({
      TableName: 'validated', StreamSpecification: { StreamEnabled: false }, AttributeDefinitions: [{ AttributeName: 'g', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'by_g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } } }],
    })), 'ValidationException', 'One or more parameter values were invalid: You cannot create or delete index while changing stream status');
    assert.equal((await ddb.send(new DescribeTableCommand({ TableName: 'validated' }))).Table!.StreamSpecification?.StreamViewType, 'KEYS_ONLY');
    await ddb.send(new UpdateTableCommand({ TableName: 'validated', StreamSpecification: { StreamEnabled: false } }));
    await waitFor(async () => (await ddb.send(new DescribeTableCommand({ TableName: 'validated' }))).Table!.TableStatus === 'ACTIVE', 'table active');
    await expectError(update({ StreamEnabled: false }), 'ValidationException', 'Table has no stream to disable: TableName: validated');
  });

  it('the Streams API refuses what AWS refuses', async () => {
    const created = (await createTable(ddb, 'errors', 'KEYS_ONLY')).TableDescription!;
    const arn = created.LatestStreamArn!;
    const shard = await shardOf(streams, arn);
    await expectError(streams.send(new DescribeStreamCommand({ StreamArn: 'arn:aws:dynamodb:us-east-1:000000000000:not-a-stream-at-all' })), 'ValidationException', 'Invalid StreamArn');
    await expectError(streams.send(new DescribeStreamCommand({ StreamArn: `${created.TableArn}/stream/2000-01-01T00:00:00.000` })), 'ResourceNotFoundException');
    await expectError(streams.send(new DescribeStreamCommand({ StreamArn: arn, Limit: 101 })), 'ValidationException', "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100");
    await expectError(streams.send(new ListStreamsCommand({ TableName: 'no_such_table' })), 'ResourceNotFoundException', 'Requested resource not found: Table: no_such_table not found');
    await expectError(streams.send(new ListStreamsCommand({ Limit: 101 })), 'ValidationException');
    await expectError(streams.send(new ListStreamsCommand({ ExclusiveStartStreamArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/x' })), 'ValidationException', 'Invalid StreamArn');
    await expectError(streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: 'shardId-00000000000000000000-00000000', ShardIteratorType: 'LATEST' })), 'ResourceNotFoundException');
    await expectError(streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER' })), 'ValidationException');
    await expectError(streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER' })), 'ValidationException');
    await expectError(streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: 'LATEST', SequenceNumber: '000000000000000000001' })), 'ValidationException');
    await expectError(streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: 'x'.repeat(25) })), 'ValidationException');
    await expectError(streams.send(new GetRecordsCommand({ ShardIterator: 'not-an-iterator-at-all' })), 'ValidationException');
    const it1 = await iterator(streams, arn, 'LATEST');
    // A mangled iterator is refused, not read from an arbitrary place.
    await expectError(streams.send(new GetRecordsCommand({ ShardIterator: it1.slice(0, -3) + (it1.endsWith('AAA') ? 'BBB' : 'AAA') })), 'ValidationException');
    await expectError(streams.send(new GetRecordsCommand({ ShardIterator: it1, Limit: 1001 })), 'ValidationException', "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000");
    // Another account's stream: refused as DynamoDB refuses it without a resource policy.
    const other = new DynamoDBStreamsClient(sdkConfig(cellar.endpoint, { accessKeyId: '222222222222', secretAccessKey: 'x' }));
    try {
      await expectError(other.send(new DescribeStreamCommand({ StreamArn: arn })), 'AccessDeniedException');
      await expectError(other.send(new GetRecordsCommand({ ShardIterator: it1 })), 'AccessDeniedException');
      assert.ok(!(await other.send(new ListStreamsCommand({}))).Streams!.some((s) => s.TableName === 'errors'));
    } finally {
      other.destroy();
    }
  });

  it('given a writer acknowledging puts, when Cellar is killed -9 mid-stream, then the stream has every acknowledged write once', async () => {
    const arn = (await createTable(ddb, 'durable_stream', 'NEW_IMAGE')).TableDescription!.LatestStreamArn!;
    await ddb.send(new PutItemCommand({ TableName: 'durable_stream', Item: KEY('first', '0') }));
    const beforeKill = await readAll(streams, await iterator(streams, arn, 'TRIM_HORIZON'));
    assert.equal(beforeKill.records.length, 1);
    const { acked, done: writerDone } = startAckingWriter(cellar.endpoint, 'durable_stream', { pk: { S: 'w%I%' }, sk: { S: '0' }, pad: { S: 'x'.repeat(100) } });
    await waitFor(() => acked.length >= 200, '200 acknowledged writes', 30_000);
    await killAndRestart(writerDone);
    const all = (await readAll(streams, await iterator(streams, arn, 'TRIM_HORIZON'))).records;
    const keys = all.map((r) => r.dynamodb!.Keys!.pk!.S!);
    assert.equal(keys[0], 'first');
    assert.equal(new Set(keys).size, keys.length, 'no write has two records');
    const missing = acked.filter((k) => !keys.includes(k));
    assert.deepEqual(missing, [], 'every acknowledged write has its record');
    // At most the one write in flight at the kill may have committed unacknowledged.
    assert.ok(keys.length - 1 <= acked.length + 1, `${keys.length - 1} records for ${acked.length} acknowledged writes`);
    assert.ok(all.every((r) => r.eventName === 'INSERT'));
    // The iterator handed out before the kill goes on from where it was, and new writes come after.
    await ddb.send(new PutItemCommand({ TableName: 'durable_stream', Item: KEY('after-restart', '0') }));
    const resumed = (await readAll(streams, beforeKill.next!)).records;
    assert.deepEqual(resumed.map((r) => r.dynamodb!.Keys!.pk!.S), [...keys.slice(1), 'after-restart']);
    const seqs = [...all, resumed[resumed.length - 1]!].map((r) => BigInt(r.dynamodb!.SequenceNumber!));
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), 'sequence numbers keep increasing across the restart');
  });

  it('given a writer of PutItem, UpdateItem, TransactWriteItems and BatchWriteItem, when Cellar is killed -9, then every record survives with its item and none without', async () => {
    const table = 'durable_mixed';
    const arn = (await createTable(ddb, table, 'NEW_AND_OLD_IMAGES')).TableDescription!.LatestStreamArn!;
    const pad = S('y'.repeat(100));
    const { acked, ackedRequests, done: writerDone } = startAckingWriter(cellar.endpoint, table, { pk: { S: 'm%I%' }, sk: { S: '0' }, pad }, { mode: 'mixed', keyNames: ['pk', 'sk'] });
    // Enough requests that each of the four kinds ran many times, and the kill lands on any of them.
    await waitFor(() => ackedRequests.length >= 200, '200 acknowledged requests', 30_000);
    await killAndRestart(writerDone);
    const records = (await readAll(streams, await iterator(streams, arn, 'TRIM_HORIZON'))).records;
    const recorded = records.map((r) => r.dynamodb!.Keys!.pk!.S!);
    assert.equal(new Set(recorded).size, recorded.length, 'no write has two records');
    assert.ok(records.every((r) => r.eventName === 'INSERT' && r.dynamodb!.OldImage === undefined));
    const stored = new Map<string, Item>();
    let startKey: Item | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: table, ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
      for (const item of page.Items ?? []) stored.set(item.pk!.S!, item);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // Each record came with its item and each item with its record: the item is the record's NewImage.
    assert.deepEqual([...stored.keys()].sort(), [...recorded].sort(), 'the items stored are exactly the items recorded');
    for (const r of records) assert.deepEqual(r.dynamodb!.NewImage, stored.get(r.dynamodb!.Keys!.pk!.S!), `${r.dynamodb!.Keys!.pk!.S} is its record's NewImage`);
    assert.deepEqual(acked.filter((k) => !stored.has(k)), [], 'every acknowledged item survived, with its record');
    // Each of the four paths was acknowledged before the kill, so each was cut by it or survived it.
    for (const suffix of ['', 'u', 'ta', 'ba']) assert.ok(ackedRequests.some((keys) => keys[0]!.replace(/^m\d+/, '') === suffix), `requests ending in '${suffix}' were acknowledged`);
    // At most one request was in flight at the kill, and it committed whole or not at all: a transaction's three
    // items and a batch's two are all there or none is.
    const requestOf = (k: string): string => k.replace(/^(m\d+).*$/, '$1');
    const ackedNames = new Set(ackedRequests.map((keys) => requestOf(keys[0]!)));
    const unacked = [...new Set(recorded.map(requestOf))].filter((name) => !ackedNames.has(name));
    assert.ok(unacked.length <= 1, `unacknowledged requests that committed: ${unacked.join(', ')}`);
    for (const name of unacked) {
      const n = Number(name.slice(1));
      const expected = [[name], [`${name}u`], [`${name}ta`, `${name}tb`, `${name}tc`], [`${name}ba`, `${name}bb`]][n % 4]!;
      assert.deepEqual(recorded.filter((k) => requestOf(k) === name).sort(), expected.sort(), `request ${name} committed whole`);
    }
    for (const keys of ackedRequests.filter((ks) => ks.length > 1)) {
      assert.ok(keys.every((k) => stored.has(k)), `request ${requestOf(keys[0]!)} committed whole`);
    }
  });
});


describe('DynamoDB Streams over time (the server clock moved)', () => {
  let cellar: CellarProcess;
  let ddb: DynamoDBClient;
  let streams: DynamoDBStreamsClient;

  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
    ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    streams = new DynamoDBStreamsClient(sdkConfig(cellar.endpoint));
  });

  after(async () => {
    ddb?.destroy();
    streams?.destroy();
    await cellar?.stop();
  });

  it('an iterator expires 15 minutes after it was handed out; NextShardIterator starts a new 15 minutes', async () => {
    const arn = (await createTable(ddb, 'expiring', 'KEYS_ONLY')).TableDescription!.LatestStreamArn!;
    const it1 = await iterator(streams, arn, 'TRIM_HORIZON');
    await advanceClock(cellar.endpoint, 14 * 60_000);
    const r = await streams.send(new GetRecordsCommand({ ShardIterator: it1 }));
    await advanceClock(cellar.endpoint, 2 * 60_000);
    await expectError(streams.send(new GetRecordsCommand({ ShardIterator: it1 })), 'ExpiredIteratorException');
    // The next iterator was handed out 2 minutes ago: still good.
    await streams.send(new GetRecordsCommand({ ShardIterator: r.NextShardIterator! }));
  });

  it('a write four hours after its shard opened opens a child shard; the parent closes, and goes 24 hours later', async () => {
    const arn = (await createTable(ddb, 'rolling', 'KEYS_ONLY')).TableDescription!.LatestStreamArn!;
    await ddb.send(new PutItemCommand({ TableName: 'rolling', Item: KEY('a', '0') }));
    const first = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards!;
    assert.equal(first.length, 1);
    await advanceClock(cellar.endpoint, 4 * 3600_000 + 60_000);
    await ddb.send(new PutItemCommand({ TableName: 'rolling', Item: KEY('b', '0') }));
    await ddb.send(new PutItemCommand({ TableName: 'rolling', Item: KEY('c', '0') }));
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards!;
    assert.equal(shards.length, 2);
    const [parent, child] = shards as [typeof shards[0], typeof shards[0]];
    assert.equal(parent.ShardId, first[0]!.ShardId);
    assert.equal(child.ParentShardId, parent.ShardId);
    assert.match(child.ShardId!, /^shardId-\d{20}-[0-9a-f]{8}$/);
    assert.ok(child.ShardId! > parent.ShardId!);
    assert.ok(parent.SequenceNumberRange!.EndingSequenceNumber, 'the parent is closed');
    assert.equal(child.SequenceNumberRange!.EndingSequenceNumber, undefined);
    assert.ok(BigInt(child.SequenceNumberRange!.StartingSequenceNumber!) > BigInt(parent.SequenceNumberRange!.EndingSequenceNumber!));
    // The parent reads to its end and then has no next iterator; LATEST on it is its end.
    const fromParent = await streams.send(new GetRecordsCommand({ ShardIterator: await iterator(streams, arn, 'TRIM_HORIZON') }));
    assert.deepEqual(fromParent.Records!.map((r) => r.dynamodb!.Keys!.pk!.S), ['a']);
    assert.equal(fromParent.NextShardIterator, undefined);
    const parentLatest = (await streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: parent.ShardId!, ShardIteratorType: 'LATEST' }))).ShardIterator!;
    const late = await streams.send(new GetRecordsCommand({ ShardIterator: parentLatest }));
    assert.deepEqual(late.Records, []);
    assert.equal(late.NextShardIterator, undefined);
    assert.deepEqual((await readStream(streams, arn)).map((r) => r.dynamodb!.Keys!.pk!.S), ['a', 'b', 'c']);
    // Paging and the child filter.
    const page = (await streams.send(new DescribeStreamCommand({ StreamArn: arn, Limit: 1 }))).StreamDescription!;
    assert.deepEqual(page.Shards!.map((x) => x.ShardId), [parent.ShardId]);
    assert.equal(page.LastEvaluatedShardId, parent.ShardId);
    const next = (await streams.send(new DescribeStreamCommand({ StreamArn: arn, ExclusiveStartShardId: page.LastEvaluatedShardId! }))).StreamDescription!;
    assert.deepEqual(next.Shards!.map((x) => x.ShardId), [child.ShardId]);
    assert.equal(next.LastEvaluatedShardId, undefined);
    const children = (await streams.send(new DescribeStreamCommand({ StreamArn: arn, ShardFilter: { Type: 'CHILD_SHARDS', ShardId: parent.ShardId! } }))).StreamDescription!;
    assert.deepEqual(children.Shards!.map((x) => x.ShardId), [child.ShardId]);
    // 24 hours after it closed, the parent is gone with its record.
    await advanceClock(cellar.endpoint, 24 * 3600_000);
    await ddb.send(new PutItemCommand({ TableName: 'rolling', Item: KEY('d', '0') }));
    const later = (await streams.send(new DescribeStreamCommand({ StreamArn: arn }))).StreamDescription!.Shards!;
    assert.ok(!later.some((x) => x.ShardId === parent.ShardId));
    await expectError(streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: parent.ShardId!, ShardIteratorType: 'TRIM_HORIZON' })), 'ResourceNotFoundException');
    assert.deepEqual((await readStream(streams, arn)).map((r) => r.dynamodb!.Keys!.pk!.S), ['d']);
  });

  it('records older than 24 hours are trimmed, and a stream disabled 24 hours ago is gone', async () => {
    const created = (await createTable(ddb, 'retained', 'KEYS_ONLY')).TableDescription!;
    const arn = created.LatestStreamArn!;
    await ddb.send(new PutItemCommand({ TableName: 'retained', Item: KEY('old', '0') }));
    const old = (await readAll(streams, await iterator(streams, arn, 'TRIM_HORIZON'))).records;
    assert.equal(old.length, 1);
    const oldSeq = old[0]!.dynamodb!.SequenceNumber!;
    await advanceClock(cellar.endpoint, 23 * 3600_000);
    await ddb.send(new PutItemCommand({ TableName: 'retained', Item: KEY('young', '0') }));
    await advanceClock(cellar.endpoint, 2 * 3600_000);
    // The first record is 25 hours old, the second 2: only the second is left.
    const left = await readStream(streams, arn);
    assert.deepEqual(left.map((r) => r.dynamodb!.Keys!.pk!.S), ['young']);
    await expectError(streams.send(new GetShardIteratorCommand({ StreamArn: arn, ShardId: await shardOf(streams, arn), ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: oldSeq })), 'TrimmedDataAccessException');
    // Disabled, the stream is listed for 24 hours, then gone with its records.
    await ddb.send(new UpdateTableCommand({ TableName: 'retained', StreamSpecification: { StreamEnabled: false } }));
    await advanceClock(cellar.endpoint, 23 * 3600_000);
    assert.equal((await streams.send(new ListStreamsCommand({ TableName: 'retained' }))).Streams!.length, 1);
    await advanceClock(cellar.endpoint, 2 * 3600_000);
    assert.deepEqual((await streams.send(new ListStreamsCommand({ TableName: 'retained' }))).Streams, []);
    await expectError(streams.send(new DescribeStreamCommand({ StreamArn: arn })), 'ResourceNotFoundException');
  });

  it('given the retention job failing at every run, the server goes on serving and reads still skip expired records', async () => {
    const failing = await startCellar({ inMemory: true, env: { CELLAR_FAULTS: 'dynamodb.streams.trim@1+=throw' } });
    const fddb = new DynamoDBClient(sdkConfig(failing.endpoint));
    const fstreams = new DynamoDBStreamsClient(sdkConfig(failing.endpoint));
    try {
      await waitFor(() => failing.output.some((l) => l.includes('dynamodb streams retention scheduler failed')), 'the failed run logged');
      const arn = (await createTable(fddb, 'failing', 'KEYS_ONLY')).TableDescription!.LatestStreamArn!;
      await fddb.send(new PutItemCommand({ TableName: 'failing', Item: KEY('old', '0') }));
      await advanceClock(failing.endpoint, 25 * 3600_000);
      await fddb.send(new PutItemCommand({ TableName: 'failing', Item: KEY('new', '0') }));
      const left = await readStream(fstreams, arn);
      assert.deepEqual(left.map((r) => r.dynamodb!.Keys!.pk!.S), ['new']);
    } finally {
      fddb.destroy();
      fstreams.destroy();
      await failing.stop();
    }
  });
});
