/**
 * Provisioned-throughput enforcement, as pure modules driven by a hand-moved clock: the token bucket's arithmetic
 * (refill, 300 s of burst, debt, rate changes) and the enforcer's decisions per table and global secondary index,
 * its throttle events into the CapacityMeter, and the config setting.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { ServiceError } from '../../src/core/errors.js';
import { loadConfig } from '../../src/config.js';
import { CapacityMeter } from '../../src/observability/dynamodb-capacity.js';
import { BURST_SECONDS, TokenBucket } from '../../src/services/dynamodb/throughput/token-bucket.js';
import { INDEX_THROTTLED_MESSAGE, TABLE_THROTTLED_MESSAGE, ThroughputEnforcer, type ThrottledTable } from '../../src/services/dynamodb/throughput/enforcer.js';

describe('TokenBucket', () => {
  it('starts full with 300 seconds of its rate, and never holds more', () => {
    const b = new TokenBucket(2, 1_000);
    assert.equal(BURST_SECONDS, 300);
    assert.equal(b.capacity, 600);
    assert.equal(b.available(1_000), 600);
    assert.equal(b.available(1_000 + 3_600_000), 600, 'an idle hour saves no more than the burst');
  });

  it('is refilled at its rate per second, in fractions', () => {
    const b = new TokenBucket(1, 0);
    b.take(300, 0);
    assert.equal(b.available(0), 0);
    assert.equal(b.admits(0), false, 'an empty bucket admits nothing');
    assert.equal(b.available(500), 0.5);
    assert.equal(b.admits(500), true);
    assert.equal(b.available(10_000), 10);
  });

  it('goes into debt when a request consumed more than was left, and repays it at its rate', () => {
    const b = new TokenBucket(1, 0);
    b.take(299, 0);
    assert.equal(b.admits(0), true);
    b.take(10, 0);
    assert.equal(b.available(0), -9);
    assert.equal(b.admits(8_000), false);
    assert.equal(b.available(9_000), 0);
    assert.equal(b.admits(9_001), true);
  });

  it('a clock that steps back refills nothing and takes nothing back', () => {
    const b = new TokenBucket(1, 10_000);
    b.take(300, 10_000);
    assert.equal(b.available(5_000), 0);
    assert.equal(b.available(11_000), 1);
  });

  it('a new rate applies from now on: saved units stay, up to the new capacity', () => {
    const b = new TokenBucket(10, 0);
    b.take(2_000, 0); // 1000 left of 3000
    b.setRate(1, 0);
    assert.equal(b.available(0), 300, 'clamped to the smaller burst');
    b.take(300, 0);
    b.setRate(5, 1_000); // one second at the old rate first
    assert.equal(b.available(1_000), 1);
    assert.equal(b.available(2_000), 6);
  });
});

describe('ThroughputEnforcer', () => {
  const table = (over: Partial<ThrottledTable['meta']> = {}): ThrottledTable => ({
    meta: {
      ns: 7,
      name: 'orders',
      accountId: '000000000000',
      region: 'us-east-1',
      status: 'ACTIVE',
      billingMode: 'PROVISIONED',
      throughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 1 },
      indexes: [
        { name: 'byCustomer', global: true, status: 'ACTIVE', throughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } },
        { name: 'local', global: false, status: 'ACTIVE', throughput: undefined },
      ],
      ...over,
    },
  });
  const refusedWith = (fn: () => void, message: string, reason: string, resource: string) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ServiceError);
      assert.equal(e.code, 'ProvisionedThroughputExceededException');
      assert.equal(e.status, 400);
      assert.equal(e.message, message);
      assert.deepEqual(e.fields, { ThrottlingReasons: [{ reason, resource }] });
      return true;
    });
  const ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/orders';

  it('admits writes until the table burst is spent, then refuses them; time refills it', () => {
    const clock = new ManualClock({ now: () => 0 });
    const e = new ThroughputEnforcer(clock);
    const t = table();
    for (let i = 0; i < 30; i++) {
      e.admitWrite(t);
      e.write(t, 10, undefined);
    }
    refusedWith(() => e.admitWrite(t), TABLE_THROTTLED_MESSAGE, 'TableWriteProvisionedThroughputExceeded', ARN);
    e.admitRead(t); // reads have their own bucket
    clock.advance(1_000);
    e.admitWrite(t);
  });

  it('a local index writes against the table; a GSI short of write capacity throttles writes to its table', () => {
    const clock = new ManualClock({ now: () => 0 });
    const e = new ThroughputEnforcer(clock);
    const t = table({ throughput: { ReadCapacityUnits: 100, WriteCapacityUnits: 100 } });
    e.write(t, 1, new Map([['byCustomer', 300], ['local', 5]]));
    refusedWith(() => e.admitWrite(t), INDEX_THROTTLED_MESSAGE, 'IndexWriteProvisionedThroughputExceeded', `${ARN}/index/byCustomer`);
    assert.equal(e.refuseWrite(t)?.indexName, 'byCustomer');
  });

  it('reads of a GSI take its own capacity; of a local index, the table\'s', () => {
    const clock = new ManualClock({ now: () => 0 });
    const e = new ThroughputEnforcer(clock);
    const t = table();
    e.read(t, 300, 'byCustomer');
    refusedWith(() => e.admitRead(t, 'byCustomer'), INDEX_THROTTLED_MESSAGE, 'IndexReadProvisionedThroughputExceeded', `${ARN}/index/byCustomer`);
    e.admitRead(t);
    e.read(t, 600, 'local');
    refusedWith(() => e.admitRead(t, 'local'), TABLE_THROTTLED_MESSAGE, 'TableReadProvisionedThroughputExceeded', ARN);
  });

  it('counts what a batch has promised before refusing', () => {
    const e = new ThroughputEnforcer(new ManualClock({ now: () => 0 }));
    const t = table();
    assert.equal(e.refuseWrite(t, 299.5), undefined);
    assert.deepEqual(e.refuseWrite(t, 300), { access: 'write', indexName: undefined });
  });

  it('on-demand tables are never throttled, and switching billing mode or capacity applies at once', () => {
    const clock = new ManualClock({ now: () => 0 });
    const e = new ThroughputEnforcer(clock);
    const onDemand = table({ billingMode: 'PAY_PER_REQUEST', throughput: { ReadCapacityUnits: 0, WriteCapacityUnits: 0 } });
    e.write(onDemand, 1_000_000, undefined);
    e.admitWrite(onDemand);
    assert.equal(e.size, 0, 'no buckets are kept for an on-demand table');
    const t = table();
    e.write(t, 300, undefined);
    assert.ok(e.refuseWrite(t));
    // UpdateTable raises the write capacity: one second later, 50 units are back.
    t.meta.throughput = { ReadCapacityUnits: 2, WriteCapacityUnits: 50 };
    clock.advance(1_000);
    e.admitWrite(t);
    t.meta.billingMode = 'PAY_PER_REQUEST';
    e.write(t, 1_000_000, undefined);
    e.admitWrite(t);
    t.meta.billingMode = 'PROVISIONED';
    e.admitWrite(t);
  });

  it('forgets a purged table, and a namespace reused by another table gets fresh buckets', () => {
    const e = new ThroughputEnforcer(new ManualClock({ now: () => 0 }));
    const t = table();
    e.write(t, 300, undefined);
    assert.ok(e.refuseWrite(t));
    e.forget(t.meta.ns);
    assert.equal(e.size, 0);
    e.admitWrite(t);
    e.write(t, 300, undefined);
    e.admitWrite(table({ name: 'other' }));
  });

  it('a dropped GSI no longer holds back writes', () => {
    const e = new ThroughputEnforcer(new ManualClock({ now: () => 0 }));
    const t = table({ throughput: { ReadCapacityUnits: 100, WriteCapacityUnits: 100 } });
    e.write(t, 1, new Map([['byCustomer', 300]]));
    assert.ok(e.refuseWrite(t));
    t.meta.indexes = t.meta.indexes.filter((i) => i.name !== 'byCustomer');
    e.admitWrite(t);
  });

  it('counts each refusal as a throttle event, published per table and per GSI', () => {
    const e = new ThroughputEnforcer(new ManualClock({ now: () => 0 }));
    const meter = new CapacityMeter();
    e.events = meter;
    const t = table();
    e.write(t, 300, undefined);
    e.read(t, 600, undefined);
    e.read(t, 300, 'byCustomer');
    assert.ok(e.refuseWrite(t));
    assert.ok(e.refuseWrite(t));
    assert.ok(e.refuseRead(t));
    assert.ok(e.refuseRead(t, 'byCustomer'));
    const datums = meter.takePeriod(new Date(0), []).flatMap((b) => b.datums);
    const value = (metric: string, index?: string) =>
      datums.find((d) => d.MetricName === metric && d.Dimensions!.some((x) => x.Name === 'TableName' && x.Value === 'orders') && (index === undefined ? d.Dimensions!.length === 1 : d.Dimensions!.some((x) => x.Name === 'GlobalSecondaryIndexName' && x.Value === index)))?.Value;
    assert.equal(value('WriteThrottleEvents'), 2);
    assert.equal(value('ReadThrottleEvents'), 1);
    assert.equal(value('ReadThrottleEvents', 'byCustomer'), 1);
    assert.equal(value('WriteThrottleEvents', 'byCustomer'), undefined);
  });
});

describe('setting dynamodb.enforceProvisionedThroughput', () => {
  it('is off unless set; the environment switches it; a non-boolean is refused', () => {
    const saved = process.env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT;
    try {
      delete process.env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT;
      assert.equal(loadConfig({ inMemory: true }).dynamodb?.enforceProvisionedThroughput, undefined);
      assert.equal(loadConfig({ inMemory: true, dynamodb: { enforceProvisionedThroughput: true } }).dynamodb?.enforceProvisionedThroughput, true);
      process.env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT = 'on';
      assert.equal(loadConfig({ inMemory: true }).dynamodb?.enforceProvisionedThroughput, true);
      process.env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT = 'maybe';
      assert.throws(() => loadConfig({ inMemory: true }), /CELLAR_DYNAMODB_ENFORCE_THROUGHPUT must be on or off/);
      delete process.env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT;
      assert.throws(() => loadConfig({ inMemory: true, dynamodb: { enforceProvisionedThroughput: 'yes' as unknown as boolean } }), /setting dynamodb.enforceProvisionedThroughput must be true or false/);
    } finally {
      if (saved === undefined) delete process.env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT;
      else process.env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT = saved;
    }
  });
});
