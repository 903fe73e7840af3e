/** Metric math (services/cloudwatch/math.ts) and the storage tiers' roll-up (services/cloudwatch/aggregate.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, fill, MathError, parseExpression, references, type MathValue, type Series } from '../../src/services/cloudwatch/math.js';
import { aggregateOfValues, bucketStart, mergeAggregates, percentile, statistic, tierForQuery, tiersFor, TIERS } from '../../src/services/cloudwatch/aggregate.js';

const T0 = Date.UTC(2026, 0, 1);
const series = (id: string, points: Array<[number, number]>, periodSec = 60): Series => ({ id, label: id, timestamps: points.map(([m]) => T0 + m * 60_000), values: points.map(([, v]) => v), periodSec });

function run(expr: string, vars: Record<string, Series>, gridMinutes = 0): MathValue {
  const metrics = Object.values(vars);
  return evaluate(parseExpression(expr), {
    id: 'e',
    lookup: (id) => (vars[id] ? { kind: 'series', series: vars[id]! } : undefined),
    metrics: () => metrics,
    grid: (p) => Array.from({ length: gridMinutes }, (_, i) => T0 + i * p * 1000),
  });
}
const values = (v: MathValue) => (v.kind === 'series' ? v.series.values : v.kind === 'scalar' ? v.value : v.items.map((s) => s.values));

describe('metric math', () => {
  const a = series('a', [[0, 10], [1, 20], [2, 30]]);
  const b = series('b', [[0, 1], [2, 3], [3, 4]]);

  it('respects precedence and associativity, and joins series on shared timestamps', () => {
    assert.equal(values(run('1 + 2 * 3 ^ 2', {})), 19);
    assert.equal(values(run('(1 + 2) * 3', {})), 9);
    assert.equal(values(run('10 - 4 - 3', {})), 3);
    assert.equal(values(run('-2 ^ 2', {})), -4);
    assert.equal(values(run('2 ^ 3 ^ 2', {})), 512);
    assert.deepEqual(values(run('a + b', { a, b })), [11, 33]);
    assert.deepEqual(values(run('a / 10', { a })), [1, 2, 3]);
    assert.deepEqual(values(run('100 - a', { a })), [90, 80, 70]);
  });

  it('drops points that are not finite (division by zero)', () => {
    const z = series('z', [[0, 0], [1, 2], [2, 0]]);
    const r = run('a / z', { a, z });
    assert.deepEqual(values(r), [10]);
    assert.deepEqual(r.kind === 'series' && r.series.timestamps, [T0 + 60_000]);
  });

  it('reduces a series to a scalar and an array to a series', () => {
    assert.equal(values(run('SUM(a)', { a })), 60);
    assert.equal(values(run('AVG(a)', { a })), 20);
    assert.equal(values(run('MIN(a)', { a })), 10);
    assert.equal(values(run('MAX(a)', { a })), 30);
    assert.equal(values(run('STDDEV(a)', { a })), Math.sqrt(200 / 3));
    assert.deepEqual(values(run('SUM(METRICS())', { a, b })), [11, 20, 33, 4]);
    assert.deepEqual(values(run('MAX(METRICS())', { a, b })), [10, 20, 30, 4]);
    assert.deepEqual(values(run('AVG(METRICS("a"))', { a, b })), [10, 20, 30]);
    assert.deepEqual(values(run('METRICS() * 2', { a, b })), [[20, 40, 60], [2, 6, 8]]);
  });

  it('RATE, DIFF, DIFF_TIME, RUNNING_SUM, PERIOD and elementwise functions', () => {
    const c = series('c', [[0, 10], [1, 70], [3, 190]]);
    assert.deepEqual(values(run('DIFF(c)', { c })), [60, 120]);
    assert.deepEqual(values(run('RATE(c)', { c })), [1, 1]);
    assert.deepEqual(values(run('DIFF_TIME(c)', { c })), [60, 120]);
    assert.deepEqual(values(run('RUNNING_SUM(c)', { c })), [10, 80, 270]);
    assert.equal(values(run('PERIOD(c)', { c })), 60);
    assert.deepEqual(values(run('ABS(0 - c)', { c })), [10, 70, 190]);
    assert.deepEqual(values(run('CEIL(c / 100)', { c })), [1, 1, 2]);
    assert.deepEqual(values(run('FLOOR(c / 100)', { c })), [0, 0, 1]);
  });

  it('FILL fills the grid with a number, the previous value or a straight line', () => {
    const gap = series('g', [[0, 10], [3, 40]]);
    const grid = [0, 1, 2, 3, 4].map((m) => T0 + m * 60_000);
    assert.deepEqual(fill(gap, grid, 0).values, [10, 0, 0, 40, 0]);
    assert.deepEqual(fill(gap, grid, 'REPEAT').values, [10, 10, 10, 40, 40]);
    assert.deepEqual(fill(gap, grid, 'LINEAR').values, [10, 20, 30, 40]);
    assert.deepEqual(values(run('FILL(g, 5)', { g: gap }, 4)), [10, 5, 5, 40]);
    assert.deepEqual(values(run('FILL(g, REPEAT)', { g: gap }, 4)), [10, 10, 10, 40]);
  });

  it('names what is wrong with a malformed expression', () => {
    for (const [expr, message] of [
      ['a +', /ends unexpectedly/],
      ['(a', /expected '\)'/],
      ['a $ b', /unexpected character '\$'/],
      ['FOO(a)', /Unrecognized function FOO/],
      ['zz * 2', /Unrecognized metric or expression id zz/],
      ['METRICS() + METRICS()', /two arrays/],
      ['RATE(3)', /RATE takes a time series/],
      ['a b', /unexpected 'b'/],
      ['"x"', /string/],
    ] as const) {
      assert.throws(() => run(expr, { a }), (e: unknown) => e instanceof MathError && message.test(e.message), expr);
    }
    assert.throws(() => parseExpression('('.repeat(100) + '1' + ')'.repeat(100)), MathError);
    assert.throws(() => parseExpression('1+'.repeat(1100) + '1'), MathError);
  });

  it('lists the ids an expression reads', () => {
    assert.deepEqual([...references(parseExpression('a + SUM(METRICS()) / b'))].sort(), ['*', 'a', 'b']);
    assert.deepEqual([...references(parseExpression('FILL(a, REPEAT) + FILL(b, LINEAR) + FILL(c, d)'))].sort(), ['a', 'b', 'c', 'd']);
  });
});

describe('storage tiers and roll-up', () => {
  it('a datum goes to every tier its resolution allows', () => {
    assert.deepEqual(tiersFor(1).map((t) => t.resolutionSec), [1, 60, 300, 3600]);
    assert.deepEqual(tiersFor(60).map((t) => t.resolutionSec), [60, 300, 3600]);
    assert.deepEqual(TIERS.map((t) => t.retentionMs / 3_600_000), [3, 15 * 24, 63 * 24, 455 * 24]);
  });

  it('a query reads the finest tier that still holds its start and fits its period', () => {
    const now = T0;
    const ago = (h: number) => now - h * 3_600_000;
    assert.equal(tierForQuery(ago(1), now, 1).resolutionSec, 1);
    assert.equal(tierForQuery(ago(1), now, 60).resolutionSec, 60);
    assert.equal(tierForQuery(ago(1), now, 300).resolutionSec, 60);
    assert.equal(tierForQuery(ago(4), now, 1).resolutionSec, 60);
    assert.equal(tierForQuery(ago(16 * 24), now, 60).resolutionSec, 300);
    assert.equal(tierForQuery(ago(64 * 24), now, 300).resolutionSec, 3600);
    assert.equal(tierForQuery(ago(500 * 24), now, 3600).resolutionSec, 3600);
  });

  it('aggregates merge exactly, and percentiles come from the distribution while it is small', () => {
    const x = aggregateOfValues([1, 2, 3], [1, 1, 2])!;
    assert.deepEqual({ n: x.n, sum: x.sum, min: x.min, max: x.max }, { n: 4, sum: 9, min: 1, max: 3 });
    const y = aggregateOfValues([10], undefined)!;
    const m = mergeAggregates(x, y);
    assert.deepEqual([statistic(m, 'SampleCount'), statistic(m, 'Sum'), statistic(m, 'Average'), statistic(m, 'Minimum'), statistic(m, 'Maximum')], [5, 19, 3.8, 1, 10]);
    assert.equal(statistic(m, 'p50'), 3);
    assert.equal(statistic(m, 'p100'), 10);
    assert.equal(statistic(m, 'p0'), 1);
    assert.equal(percentile([[5, 1]], 99.9), 5);
    // A statistic set has no distribution, and neither has what it merges into.
    const merged = mergeAggregates(m, { n: 1, sum: 1, min: 1, max: 1 });
    assert.equal(statistic(merged, 'p50'), undefined);
    assert.equal(aggregateOfValues([1, 2], [0, 0]), undefined);
    const wide = aggregateOfValues(Array.from({ length: 400 }, (_, i) => i), undefined)!;
    assert.equal(wide.d, undefined);
    assert.equal(wide.n, 400);
  });

  it('buckets align to their width', () => {
    assert.equal(bucketStart(T0 + 61_500, 60), T0 + 60_000);
    assert.equal(bucketStart(T0 + 61_500, 1), T0 + 61_000);
    assert.equal(bucketStart(T0 + 3_599_999, 3600), T0);
  });
});
