/**
 * CloudWatch's storage: datums roll up into every tier at once, each tier forgets what is past its retention, a metric
 * whose data is all gone leaves ListMetrics' records, and scopes never see each other's points. And the alarm rules:
 * what an alarm decides from its evaluation range.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { Scope } from '../../src/core/scope.js';
import { MetricSeries } from '../../src/services/cloudwatch/series.js';
import { aggregateOfValues, TIERS } from '../../src/services/cloudwatch/aggregate.js';
import { decide, type EvaluationSettings } from '../../src/services/cloudwatch/alarm-rules.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const A = Scope.ofCaller('111111111111', 'us-east-1');
const B = Scope.ofCaller('222222222222', 'us-east-1');

function fresh(): MetricSeries {
  return new MetricSeries(new SqliteStore({ path: ':memory:' }));
}

describe('metric storage tiers', () => {
  it('a high-resolution datum is in all four tiers, a standard one in three, each bucket aligned to its tier', () => {
    const s = fresh();
    const t = Date.UTC(2026, 0, 1, 10, 7, 31, 500);
    s.add(A, 'N', 'hi', [], [{ timestampMs: t, unit: 'Count', storageResolutionSec: 1, aggregate: aggregateOfValues([2], undefined)! }], t);
    s.add(A, 'N', 'std', [], [{ timestampMs: t, unit: 'Count', storageResolutionSec: 60, aggregate: aggregateOfValues([3], undefined)! }], t);
    const hi = s.find(A, 'N', 'hi', [])!;
    const std = s.find(A, 'N', 'std', [])!;
    const starts = (rec: typeof hi) => TIERS.map((tier) => s.read(A, rec, tier, t - DAY, t + DAY).map((b) => b.startMs));
    assert.deepEqual(starts(hi), [[Date.UTC(2026, 0, 1, 10, 7, 31)], [Date.UTC(2026, 0, 1, 10, 7)], [Date.UTC(2026, 0, 1, 10, 5)], [Date.UTC(2026, 0, 1, 10)]]);
    assert.deepEqual(starts(std), [[], [Date.UTC(2026, 0, 1, 10, 7)], [Date.UTC(2026, 0, 1, 10, 5)], [Date.UTC(2026, 0, 1, 10)]]);
  });

  it('datums of one bucket merge per unit; coarser tiers hold the roll-up of finer ones', () => {
    const s = fresh();
    const t = Date.UTC(2026, 0, 1, 10, 0, 0);
    const put = (offsetMs: number, v: number, unit = 'Count') => s.add(A, 'N', 'm', [], [{ timestampMs: t + offsetMs, unit, storageResolutionSec: 60, aggregate: aggregateOfValues([v], undefined)! }], t + offsetMs);
    put(0, 1);
    put(30_000, 2);
    put(90_000, 4);
    put(120_000, 8, 'Seconds');
    const rec = s.find(A, 'N', 'm', [])!;
    const minute = s.read(A, rec, TIERS[1]!, t, t + HOUR);
    assert.deepEqual(minute.map((b) => [b.startMs - t, b.byUnit.Count?.sum, b.byUnit.Seconds?.sum]), [[0, 3, undefined], [60_000, 4, undefined], [120_000, undefined, 8]]);
    const five = s.read(A, rec, TIERS[2]!, t, t + HOUR);
    assert.deepEqual(five.map((b) => [b.byUnit.Count!.n, b.byUnit.Count!.sum, b.byUnit.Count!.min, b.byUnit.Count!.max, b.byUnit.Seconds!.sum]), [[3, 7, 1, 4, 8]]);
  });

  it('prune forgets each tier past its retention, within its budget, then the metric record', () => {
    const s = fresh();
    const t0 = Date.UTC(2026, 0, 1);
    s.add(A, 'N', 'old', [{ Name: 'd', Value: 'x' }], [{ timestampMs: t0, unit: 'None', storageResolutionSec: 1, aggregate: aggregateOfValues([1], undefined)! }], t0);
    const rec = s.find(A, 'N', 'old', [{ Name: 'd', Value: 'x' }])!;
    const held = (now: number) => TIERS.map((tier) => s.read(A, rec, tier, 0, now + DAY).length);
    assert.deepEqual(held(t0), [1, 1, 1, 1]);
    assert.equal(s.prune(t0 + 2 * HOUR, 100), 0);
    assert.equal(s.prune(t0 + 4 * HOUR, 100), 1);
    assert.deepEqual(held(t0), [0, 1, 1, 1]);
    assert.equal(s.prune(t0 + 16 * DAY, 100), 1);
    assert.deepEqual(held(t0), [0, 0, 1, 1]);
    assert.equal(s.prune(t0 + 64 * DAY, 100), 1);
    assert.deepEqual(held(t0), [0, 0, 0, 1]);
    assert.ok(s.find(A, 'N', 'old', [{ Name: 'd', Value: 'x' }]));
    // The last tier goes after 455 days, and the record with it.
    assert.equal(s.prune(t0 + 456 * DAY, 100), 2);
    assert.equal(s.find(A, 'N', 'old', [{ Name: 'd', Value: 'x' }]), undefined);
    // A budget bounds one pass.
    for (let i = 0; i < 10; i++) s.add(A, 'N', 'many', [], [{ timestampMs: t0 + i * 1000, unit: 'None', storageResolutionSec: 1, aggregate: aggregateOfValues([1], undefined)! }], t0 + i * 1000);
    assert.equal(s.prune(t0 + 4 * HOUR, 4), 4);
    assert.equal(s.prune(t0 + 4 * HOUR, 100), 6);
  });

  it('one scope never reads another scope\'s points or records', () => {
    const s = fresh();
    const t = Date.UTC(2026, 0, 1);
    s.add(A, 'N', 'm', [], [{ timestampMs: t, unit: 'None', storageResolutionSec: 60, aggregate: aggregateOfValues([5], undefined)! }], t);
    assert.equal(s.find(B, 'N', 'm', []), undefined);
    const recA = s.find(A, 'N', 'm', [])!;
    // Even handed A's record, B's scope reads nothing: the key range is B's.
    assert.deepEqual(s.read(B, recA, TIERS[1]!, 0, t + DAY), []);
    assert.deepEqual(s.metrics.list(B), []);
  });
});

describe('alarm rules', () => {
  const T = Date.UTC(2026, 0, 1, 12);
  const settings = (over: Partial<EvaluationSettings> = {}): EvaluationSettings => ({ comparisonOperator: 'GreaterThanThreshold', threshold: 10, evaluationPeriods: 3, datapointsToAlarm: 2, treatMissingData: 'missing', statistic: 'Average', periodSec: 60, ...over });
  const slots = (...vs: Array<number | undefined>) => vs.map((value, i) => ({ timestampMs: T + i * 60_000, value }));

  it('M of N breaching periods go to ALARM; fewer to OK', () => {
    assert.equal(decide(slots(11, 5, 12), settings(), 'OK', T).state, 'ALARM');
    assert.equal(decide(slots(11, 5, 9), settings(), 'ALARM', T).state, 'OK');
    assert.equal(decide(slots(10, 10, 10), settings(), 'OK', T).state, 'OK');
    assert.equal(decide(slots(10, 10, 9), settings({ comparisonOperator: 'GreaterThanOrEqualToThreshold' }), 'OK', T).state, 'ALARM');
    assert.equal(decide(slots(1, 2, 30), settings({ comparisonOperator: 'LessThanThreshold' }), 'OK', T).state, 'ALARM');
    assert.equal(decide(slots(10, 11, 30), settings({ comparisonOperator: 'LessThanOrEqualToThreshold' }), 'ALARM', T).state, 'OK');
  });

  it('missing periods: missing and ignore evaluate what is there; breaching and notBreaching count them', () => {
    assert.equal(decide(slots(11, undefined, undefined), settings(), 'OK', T).state, 'OK');
    assert.equal(decide(slots(11, undefined, undefined), settings({ treatMissingData: 'breaching' }), 'OK', T).state, 'ALARM');
    assert.equal(decide(slots(11, undefined, 12), settings({ treatMissingData: 'notBreaching' }), 'OK', T).state, 'ALARM');
    assert.equal(decide(slots(undefined, undefined, undefined), settings(), 'OK', T).state, 'INSUFFICIENT_DATA');
    assert.equal(decide(slots(undefined, undefined, undefined), settings({ treatMissingData: 'ignore' }), 'ALARM', T).state, 'ALARM');
    assert.equal(decide(slots(undefined, undefined, undefined), settings({ treatMissingData: 'breaching' }), 'OK', T).state, 'ALARM');
    assert.equal(decide(slots(undefined, undefined, undefined), settings({ treatMissingData: 'notBreaching' }), 'ALARM', T).state, 'OK');
  });

  it('words its reason as CloudWatch does, newest datapoint first', () => {
    const d = decide(slots(11, 5, 12.5), settings(), 'OK', T);
    assert.equal(d.reason, 'Threshold Crossed: 2 out of the last 3 datapoints [12.5 (01/01/26 12:02:00), 11.0 (01/01/26 12:00:00)] were greater than the threshold (10.0) (minimum 2 datapoints for OK -> ALARM transition).');
    const data = JSON.parse(d.reasonData);
    assert.deepEqual(data.recentDatapoints, [12.5, 5, 11]);
    assert.equal(data.statistic, 'Average');
    assert.equal(data.period, 60);
  });
});
