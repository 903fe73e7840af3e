/**
 * DynamoDB Streams, the pure parts: labels, ARNs, shard ids, sequence numbers, iterators, the record built
 * from one change, StreamSpecification's validation; and the change log driven through the provider on an
 * in-memory store (records commit with the write, a refused write makes none, numbers go on after a restart).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import type { RequestContext } from '../../src/core/context.js';
import { ServiceError } from '../../src/core/errors.js';
import { Scope } from '../../src/core/scope.js';
import { itemSize, type Item } from '../../src/services/dynamodb/attributes.js';
import { DynamoDBProvider } from '../../src/services/dynamodb/provider.js';
import { shardsOf } from '../../src/services/dynamodb/streams/change-log.js';
import {
  decodeIterator, encodeIterator, encodeRecord, formatSequence, iteratorStreamArn, parseSequence, parseStreamArn, recordEventId, recordJson, recordText, sequenceKey, shardId, streamLabel,
  type Image, type RecordInput, type StreamRecordWire,
} from '../../src/services/dynamodb/streams/format.js';
import { checkCreateStreamSpec, checkUpdateStreamSpec } from '../../src/services/dynamodb/streams/stream-spec.js';
import { SqliteStore } from '../../src/storage/sqlite.js';

const ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2026-12-06T23:59:59.123';

function throwsValidation(fn: () => void, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ServiceError && e.code === 'ValidationException' && e.message === message);
}

describe('stream names and numbers', () => {
  it('a label is the ISO time with milliseconds and no zone; the ARN parses back', () => {
    assert.equal(streamLabel(Date.UTC(2026, 11, 6, 23, 59, 59, 123)), '2026-12-06T23:59:59.123');
    assert.deepEqual(parseStreamArn(ARN), { partition: 'aws', region: 'us-east-1', accountId: '000000000000', tableName: 'orders', label: '2026-12-06T23:59:59.123' });
    for (const bad of ['arn:aws:dynamodb:us-east-1:000000000000:table/orders', 'arn:aws:dynamodb:us-east-1:0000:table/orders/stream/2026-12-06T23:59:59.123', `${ARN}x`, 'orders', `arn:aws:kms:us-east-1:000000000000:table/orders/stream/2026-12-06T23:59:59.123`]) {
      assert.equal(parseStreamArn(bad), undefined, bad);
    }
  });

  it('a shard id is shardId-<20 digits>-<8 hex>, stable per stream and distinct between streams', () => {
    const id = shardId(1_796_000_000_123, ARN);
    assert.match(id, /^shardId-00000001796000000123-[0-9a-f]{8}$/);
    assert.equal(shardId(1_796_000_000_123, ARN), id);
    assert.notEqual(shardId(1_796_000_000_123, ARN.replace('orders', 'other')), id);
    assert.ok(id.length >= 28 && id.length <= 65);
  });

  it('sequence numbers are 21-digit decimals that round-trip and sort as their keys do', () => {
    const seqs = [1, 999, 1000, 1_796_000_000_123_000, 1_796_000_000_123_001, Number.MAX_SAFE_INTEGER];
    for (const n of seqs) {
      assert.match(formatSequence(n), /^\d{21}$/);
      assert.equal(parseSequence(formatSequence(n)), n);
    }
    const keys = seqs.map(sequenceKey);
    for (let i = 1; i < keys.length; i++) assert.ok(Buffer.compare(keys[i - 1]!, keys[i]!) < 0);
    assert.equal(parseSequence('12345678901234567890'), undefined, '20 digits');
    assert.equal(parseSequence('00000000000000000000x'), undefined);
    assert.equal(parseSequence('9'.repeat(40)), Number.MAX_SAFE_INTEGER, 'beyond every number handed out');
  });

  it('an iterator round-trips, names its stream, and any change to it is refused', () => {
    const p = { streamArn: ARN, shardId: shardId(1, ARN), after: 1_796_000_000_123_000, issuedMs: 1_796_000_000_999 };
    const it1 = encodeIterator(p);
    assert.ok(it1.startsWith(`${ARN}|1|`));
    assert.ok(it1.length <= 2048);
    assert.deepEqual(decodeIterator(it1), p);
    assert.equal(iteratorStreamArn(it1), ARN);
    for (let i = ARN.length + 3; i < it1.length; i++) {
      const c = it1[i] === 'A' ? 'B' : 'A';
      assert.equal(decodeIterator(it1.slice(0, i) + c + it1.slice(i + 1)), undefined, `changed at ${i}`);
    }
    assert.equal(decodeIterator(it1.replace('orders', 'others')), undefined, 'another stream');
    assert.equal(decodeIterator('garbage'), undefined);
    assert.equal(iteratorStreamArn('garbage'), undefined);
  });
});

describe('the record of one change', () => {
  const keyNames = ['pk', 'sk'];
  const image = (item: Item | undefined): Image | undefined => item && { json: JSON.stringify(item), size: itemSize(item), bytes: () => Buffer.from(JSON.stringify(item)), item: () => item };
  const base = (old: Item | undefined, next: Item | undefined, viewType: RecordInput['viewType'] = 'NEW_AND_OLD_IMAGES'): RecordInput => ({
    eventID: 'e'.repeat(32), region: 'eu-west-1', keyNames, old: image(old), next: image(next), viewType, seq: 5, nowMs: 1_796_000_000_999, byService: false,
  });
  const buildRecord = (r: RecordInput): StreamRecordWire | undefined => {
    const text = recordJson(r);
    return text === undefined ? undefined : (JSON.parse(text) as StreamRecordWire);
  };
  const a = { pk: { S: 'a' }, sk: { S: '1' }, v: { S: 'one' } };
  const b = { pk: { S: 'a' }, sk: { S: '1' }, v: { S: 'two' }, w: { N: '1' } };

  it('INSERT, MODIFY and REMOVE carry the images their view type asks for, and SizeBytes counts what is carried', () => {
    const keys = { pk: { S: 'a' }, sk: { S: '1' } };
    const keySize = 2 + 1 + 2 + 1;
    const aSize = keySize + 1 + 3;
    const bSize = keySize + 1 + 3 + 1 + 2; // N '1': one byte of digits plus one
    const cases: Array<[RecordInput['viewType'], Item | undefined, Item | undefined, string, boolean, boolean, number]> = [
      ['KEYS_ONLY', undefined, a, 'INSERT', false, false, keySize],
      ['NEW_IMAGE', undefined, a, 'INSERT', true, false, keySize + aSize],
      ['OLD_IMAGE', undefined, a, 'INSERT', false, false, keySize],
      ['NEW_AND_OLD_IMAGES', a, b, 'MODIFY', true, true, keySize + aSize + bSize],
      ['OLD_IMAGE', a, b, 'MODIFY', false, true, keySize + aSize],
      ['NEW_IMAGE', a, undefined, 'REMOVE', false, false, keySize],
      ['NEW_AND_OLD_IMAGES', a, undefined, 'REMOVE', false, true, keySize + aSize],
    ];
    for (const [viewType, old, next, eventName, withNew, withOld, sizeBytes] of cases) {
      const r = buildRecord(base(old, next, viewType))!;
      const what = `${viewType} ${eventName}`;
      assert.equal(r.eventName, eventName, what);
      assert.deepEqual(r.dynamodb.Keys, keys, what);
      assert.deepEqual(r.dynamodb.NewImage, withNew ? next : undefined, what);
      assert.deepEqual(r.dynamodb.OldImage, withOld ? old : undefined, what);
      assert.equal(r.dynamodb.SizeBytes, sizeBytes, what);
      assert.equal(r.dynamodb.StreamViewType, viewType);
      assert.equal(r.dynamodb.SequenceNumber, '000000000000000000005');
      assert.equal(r.dynamodb.ApproximateCreationDateTime, 1_796_000_000, 'seconds, rounded down');
      assert.equal(r.eventVersion, '1.1');
      assert.equal(r.eventSource, 'aws:dynamodb');
      assert.equal(r.awsRegion, 'eu-west-1');
      assert.equal(r.userIdentity, undefined);
    }
  });

  it('a change that changes nothing makes no record: same item in another order, equal numbers, sets in another order; nothing deleted', () => {
    assert.equal(buildRecord(base(undefined, undefined)), undefined);
    assert.equal(buildRecord(base(a, { v: { S: 'one' }, sk: { S: '1' }, pk: { S: 'a' } })), undefined);
    const withSet = { ...a, n: { N: '1.50' }, s: { SS: ['x', 'y'] }, m: { M: { p: { S: '1' }, q: { L: [{ N: '2' }] } } } };
    const same = { ...a, n: { N: '1.5' }, s: { SS: ['y', 'x'] }, m: { M: { q: { L: [{ N: '2.0' }] }, p: { S: '1' } } } };
    assert.equal(buildRecord(base(withSet, same)), undefined);
    // A list's order matters, and a removed attribute is a change.
    assert.ok(buildRecord(base({ ...a, l: { L: [{ S: '1' }, { S: '2' }] } }, { ...a, l: { L: [{ S: '2' }, { S: '1' }] } })));
    assert.ok(buildRecord(base(b, a)));
  });

  it('is stored compactly (the images as they are, no wire JSON around them) and made into wire JSON at read', () => {
    const input = base(a, b);
    const stored = encodeRecord(input)!;
    assert.ok(stored.length < JSON.stringify(a).length + JSON.stringify(b).length + 20, `${stored.length} bytes`);
    assert.deepEqual(JSON.parse(recordText(stored, input)), buildRecord(input));
    // KEYS_ONLY carries the keys alone; a delete's keys come from the old image.
    const keysOnly = encodeRecord(base(a, undefined, 'KEYS_ONLY'))!;
    assert.ok(!keysOnly.includes('one'), 'no attribute outside the key');
    assert.deepEqual((JSON.parse(recordText(keysOnly, input)) as StreamRecordWire).dynamodb.Keys, { pk: { S: 'a' }, sk: { S: '1' } });
  });

  it('a record stored as wire JSON by an earlier version is read as it is', () => {
    const legacy = recordJson(base(undefined, a))!.replace('"eventID":"eeee', '"eventID":"ffff');
    assert.equal(recordText(Buffer.from(legacy), { seq: 9, region: 'us-east-1', keyNames, eventID: 'x' }), legacy);
  });

  it('an eventID is 32 hex digits, the same at every read, distinct between sequence numbers and tables', () => {
    assert.match(recordEventId(7, 1_796_000_000_123_000), /^[0-9a-f]{32}$/);
    assert.equal(recordEventId(7, 1_796_000_000_123_000), recordEventId(7, 1_796_000_000_123_000));
    assert.notEqual(recordEventId(7, 1_796_000_000_123_000), recordEventId(7, 1_796_000_000_123_001));
    assert.notEqual(recordEventId(7, 1_796_000_000_123_000), recordEventId(8, 1_796_000_000_123_000));
  });

  it("a delete by Time to Live is marked as the service's", () => {
    const r = buildRecord({ ...base(a, undefined), byService: true })!;
    assert.deepEqual(r.userIdentity, { PrincipalId: 'dynamodb.amazonaws.com', Type: 'Service' });
  });
});

describe('StreamSpecification', () => {
  it('CreateTable: an enabled stream needs a view type, a disabled one must not have one', () => {
    checkCreateStreamSpec(undefined);
    checkCreateStreamSpec({ StreamEnabled: false });
    checkCreateStreamSpec({ StreamEnabled: true, StreamViewType: 'KEYS_ONLY' });
    throwsValidation(() => checkCreateStreamSpec({ StreamEnabled: true }), 'One or more parameter values were invalid: Table is being created with a stream enabled, UpdateViewType is required');
    throwsValidation(() => checkCreateStreamSpec({ StreamEnabled: false, StreamViewType: 'NEW_IMAGE' }), 'One or more parameter values were invalid: Table is being created with a stream disabled, UpdateViewType should not be specified');
  });

  it("UpdateTable: the view type's rule first, then index changes, then the table's state", () => {
    checkUpdateStreamSpec(undefined, 't', true, true);
    checkUpdateStreamSpec({ StreamEnabled: true, StreamViewType: 'OLD_IMAGE' }, 't', false, false);
    checkUpdateStreamSpec({ StreamEnabled: false }, 't', true, false);
    throwsValidation(() => checkUpdateStreamSpec({ StreamEnabled: true }, 't', true, true), 'One or more parameter values were invalid: If stream is being enabled then UpdateViewType is required');
    throwsValidation(() => checkUpdateStreamSpec({ StreamEnabled: false, StreamViewType: 'OLD_IMAGE' }, 't', false, true), 'One or more parameter values were invalid: If stream is being disabled, then UpdateViewType must not be specified');
    throwsValidation(() => checkUpdateStreamSpec({ StreamEnabled: true, StreamViewType: 'OLD_IMAGE' }, 't', true, true), 'One or more parameter values were invalid: You cannot create or delete index while changing stream status');
    throwsValidation(() => checkUpdateStreamSpec({ StreamEnabled: true, StreamViewType: 'OLD_IMAGE' }, 'orders', true, false), 'Table already has an enabled stream: TableName: orders');
    throwsValidation(() => checkUpdateStreamSpec({ StreamEnabled: false }, 'orders', false, false), 'Table has no stream to disable: TableName: orders');
  });
});

describe('the change log, through the provider', () => {
  function setup() {
    const store = new SqliteStore({ path: ':memory:' });
    const clock = new ManualClock();
    const ddb = new DynamoDBProvider(store, { clock });
    const ctx: RequestContext = {
      scope: Scope.ofCaller('000000000000', 'us-east-1'), requestId: 'r', accessKeyId: 'AKID', callerArn: 'arn:aws:iam::000000000000:root',
      service: 'dynamodb', operation: 'x', clock,
    };
    ddb.createTable({
      TableName: 'logged', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }, ctx);
    return { store, clock, ddb, ctx };
  }

  it('records commit with the write; a refused write makes none; sequence numbers go on above the old ones after a restart', () => {
    const { store, clock, ddb, ctx } = setup();
    const [stream] = ddb.streams.list(ctx.scope, 'logged');
    assert.ok(stream);
    ddb.putItem({ TableName: 'logged', Item: { pk: { S: 'a' }, v: { N: '1' } } }, ctx);
    assert.throws(() => ddb.putItem({ TableName: 'logged', Item: { pk: { S: 'a' }, v: { N: '2' } }, ConditionExpression: 'attribute_not_exists(pk)' }, ctx), (e: unknown) => e instanceof ServiceError && e.code === 'ConditionalCheckFailedException');
    ddb.deleteItem({ TableName: 'logged', Key: { pk: { S: 'a' } } }, ctx);
    const first = { ...ddb.streams.read(stream, shardsOf(stream)[0]!, 0, 100, 1 << 20), records: ddb.streams.read(stream, shardsOf(stream)[0]!, 0, 100, 1 << 20).records.map((r) => JSON.parse(r) as StreamRecordWire) };
    assert.deepEqual(first.records.map((r) => r.eventName), ['INSERT', 'REMOVE']);
    assert.equal(first.more, false);
    const lastSeq = BigInt(first.records[1]!.dynamodb.SequenceNumber);
    // The clock went back an hour, and a new provider (a restart) on the same store writes again.
    clock.advance(-3600_000);
    const again = new DynamoDBProvider(store, { clock });
    again.putItem({ TableName: 'logged', Item: { pk: { S: 'b' } } }, ctx);
    const after = again.streams.read(stream, shardsOf(stream)[0]!, 0, 100, 1 << 20).records.map((r) => JSON.parse(r) as StreamRecordWire);
    assert.equal(after.length, 3);
    assert.ok(BigInt(after[2]!.dynamodb.SequenceNumber) > lastSeq);
    // Limit and more: one at a time.
    const one = again.streams.read(stream, shardsOf(stream)[0]!, 0, 1, 1 << 20);
    assert.equal(one.records.length, 1);
    assert.equal(one.more, true);
    ddb.close();
    again.close();
    store.close();
  });

  it('a table deleted and created again in the same millisecond gets a stream of its own', async () => {
    const { store, ddb, ctx } = setup();
    ddb.putItem({ TableName: 'logged', Item: { pk: { S: 'first' } } }, ctx);
    ddb.deleteTable({ TableName: 'logged' }, ctx);
    await new Promise((r) => setTimeout(r, 20)); // the purge runs on the next turn
    // The clock has not moved: the new stream's label would be the old one's.
    const created = ddb.createTable({
      TableName: 'logged', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
    }, ctx) as { TableDescription: { LatestStreamLabel: string } };
    ddb.putItem({ TableName: 'logged', Item: { pk: { S: 'second' } } }, ctx);
    const [old, fresh] = ddb.streams.list(ctx.scope, 'logged');
    assert.ok(old && fresh);
    assert.notEqual(old.label, fresh.label);
    assert.equal(fresh.label, created.TableDescription.LatestStreamLabel);
    assert.equal(old.disabledMs !== undefined, true);
    const keysOf = (s: typeof old) => ddb.streams.read(s, shardsOf(s)[0]!, 0, 10, 1 << 20).records.map((r) => (JSON.parse(r) as StreamRecordWire).dynamodb.Keys.pk!.S);
    assert.deepEqual(keysOf(old), ['first']);
    assert.deepEqual(keysOf(fresh), ['second']);
    ddb.close();
    store.close();
  });
});
