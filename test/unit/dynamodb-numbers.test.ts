/**
 * Unit tests for DynamoDB numbers: normalisation, limits, ordering of the key encoding (including a
 * seeded property test against an independent BigInt-based model).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeNumber, parseNumber, encodeNumberKey, decodeNumberKey, compareNumbers, addNumbers, numberSize, formatNumber } from '../../src/services/dynamodb/numbers.js';
import { prng } from '../helpers/random.js';

test('normalises as DynamoDB returns numbers', () => {
  const cases: [string, string][] = [
    ['1.0', '1'], ['-0', '0'], ['1e2', '100'], ['0.000', '0'], ['+5', '5'], ['00012.3400', '12.34'],
    ['-1.50E-3', '-0.0015'], ['1E+125', '1' + '0'.repeat(125)], ['.5', '0.5'], ['5.', '5'], ['1E-130', '0.' + '0'.repeat(129) + '1'],
    ['123456789012345678901234567890123456780000', '123456789012345678901234567890123456780000'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeNumber(input), want, input);
});

test('rejects what DynamoDB rejects', () => {
  assert.equal(normalizeNumber('abc'), 'invalid');
  assert.equal(normalizeNumber(''), 'invalid');
  assert.equal(normalizeNumber('1e'), 'invalid');
  assert.equal(normalizeNumber('Infinity'), 'invalid');
  assert.equal(normalizeNumber('NaN'), 'invalid');
  assert.equal(normalizeNumber('0x10'), 'invalid');
  assert.equal(normalizeNumber(' 1'), 'invalid');
  assert.equal(normalizeNumber('1'.repeat(39)), 'digits');
  assert.equal(normalizeNumber('1'.repeat(38)), '1'.repeat(38));
  assert.equal(normalizeNumber('1E126'), 'overflow');
  assert.equal(normalizeNumber('9.9999999999999999999999999999999999999E+125'), '99999999999999999999999999999999999999' + '0'.repeat(88));
  assert.equal(normalizeNumber('1E-131'), 'underflow');
  assert.equal(normalizeNumber('0E999999'), '0');
});

test('arithmetic is exact and validated', () => {
  assert.equal(addNumbers('0.1', '0.2'), '0.3');
  assert.equal(addNumbers('5', '7', true), '-2');
  assert.equal(addNumbers('1E125', '9E125'), 'overflow');
  assert.equal(addNumbers('1' + '0'.repeat(37), '0.1'), 'digits');
});

test('number sizes match the figures measured against AWS (400 KB gate, to the byte)', () => {
  // [literal, bytes]: measured on AWS by accepting an item of exactly 409,600 bytes and refusing one a byte over.
  const measured: [string, number][] = [
    ['0', 1], ['1', 2], ['12', 2], ['123', 3], ['1234', 3], ['12345678901234567890123456789012345678', 20],
    ['0042', 2], ['100', 2], ['1010', 3], ['0.0000001', 2], ['1E125', 2], ['1E-100', 2], ['1.5', 3], ['15', 2],
    ['1.2', 3], ['1.200', 3], ['1.234', 4], ['3.14159', 5], ['123456', 4], ['100.5', 4], ['0.15', 2], ['-42', 3], ['-0', 1],
  ];
  for (const [literal, bytes] of measured) assert.equal(numberSize(literal), bytes, literal);
});

// Independent model: exact rationals as BigInt numerator over 10^scale.
function toRational(s: string): { n: bigint; scale: number } {
  const p = parseNumber(s);
  if (typeof p === 'string') throw new Error('bad');
  if (p.digits === '') return { n: 0n, scale: 0 };
  const scale = Math.max(0, p.digits.length - 1 - p.exp);
  let n = BigInt(p.digits) * 10n ** BigInt(Math.max(0, p.exp - (p.digits.length - 1)));
  if (p.neg) n = -n;
  return { n, scale };
}
function modelCompare(a: string, b: string): number {
  const x = toRational(a);
  const y = toRational(b);
  const s = Math.max(x.scale, y.scale);
  const xn = x.n * 10n ** BigInt(s - x.scale);
  const yn = y.n * 10n ** BigInt(s - y.scale);
  return xn < yn ? -1 : xn > yn ? 1 : 0;
}


function randomNumber(rnd: () => number): string {
  const len = 1 + Math.floor(rnd() * 38);
  let digits = '';
  for (let i = 0; i < len; i++) digits += String(Math.floor(rnd() * 10));
  const exp = Math.floor(rnd() * 60) - 30;
  const sign = rnd() < 0.4 ? '-' : '';
  return rnd() < 0.05 ? '0' : `${sign}${digits}E${exp}`;
}

test('property: key encoding order == numeric order == model order', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  const rnd = prng(seed);
  for (let i = 0; i < 3000; i++) {
    const a = normalizeNumber(randomNumber(rnd));
    const b = normalizeNumber(randomNumber(rnd));
    if (typeof a !== 'string' || a.length > 200 || typeof b !== 'string') continue;
    if (a === 'invalid' || a === 'digits' || a === 'overflow' || a === 'underflow') continue;
    if (b === 'invalid' || b === 'digits' || b === 'overflow' || b === 'underflow') continue;
    const want = modelCompare(a, b);
    const pa = parseNumber(a);
    const pb = parseNumber(b);
    assert.ok(typeof pa !== 'string' && typeof pb !== 'string');
    const ea = encodeNumberKey(pa);
    const eb = encodeNumberKey(pb);
    assert.equal(Math.sign(Buffer.compare(ea, eb)), want, `seed=${seed} a=${a} b=${b}`);
    assert.equal(compareNumbers(a, b), want, `seed=${seed} a=${a} b=${b}`);
    assert.equal(formatNumber(decodeNumberKey(ea, 0).num), a, `seed=${seed} roundtrip ${a}`);
    // prefix-freedom: appending bytes must not change the order between different numbers
    if (want !== 0) assert.equal(Math.sign(Buffer.compare(Buffer.concat([ea, Buffer.from([0xff])]), Buffer.concat([eb, Buffer.from([0x00])]))), want, `seed=${seed}`);
  }
});
