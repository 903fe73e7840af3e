/** Unit tests for attribute validation, item size and capacity maths, and the ordered key codec. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateValue, itemSize, readUnits, writeUnits, valuesEqual, type AttributeValue } from '../../src/services/dynamodb/attributes.js';
import { orderedKeyBytes, keyBody, bucketRange, segmentOf, withNamespace } from '../../src/services/dynamodb/keycodec.js';

test('validation messages', () => {
  assert.equal(validateValue({}), 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes');
  assert.equal(validateValue({ S: 'a', N: '1' }), 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
  assert.equal(validateValue({ N: 'x' }), 'The parameter cannot be converted to a numeric value: x');
  assert.equal(validateValue({ N: '1'.repeat(39) }), 'Attempting to store more than 38 significant digits in a Number');
  assert.equal(validateValue({ SS: [] }), 'One or more parameter values were invalid: An string set  may not be empty');
  assert.equal(validateValue({ NS: [] }), 'One or more parameter values were invalid: An number set  may not be empty');
  assert.equal(validateValue({ SS: ['a', 'a'] }), 'One or more parameter values were invalid: Input collection [a, a] contains duplicates.');
  assert.equal(validateValue({ NS: ['1', '1.0'] }), 'Input collection contains duplicates');
  assert.equal(validateValue({ NULL: false }), 'One or more parameter values were invalid: Null attribute value types must have the value of true');
  assert.equal(validateValue({ S: '' }), undefined);
  assert.equal(validateValue({ M: { a: { L: [{ S: '' }, { N: '01' }] } } }), undefined);
  assert.equal(validateValue({ L: [{ N: 'bad' }] }), 'The parameter cannot be converted to a numeric value: bad');
});

test('validation canonicalises numbers in place', () => {
  const v: AttributeValue = { M: { n: { N: '1.50' }, s: { NS: ['1e1', '2'] } } };
  assert.equal(validateValue(v), undefined);
  assert.deepEqual(v, { M: { n: { N: '1.5' }, s: { NS: ['10', '2'] } } });
});

test('item size and capacity units', () => {
  assert.equal(itemSize({ id: { S: 'abc' } }), 5);
  assert.equal(itemSize({ a: { BOOL: true }, b: { NULL: true } }), 4);
  assert.equal(itemSize({ m: { M: { x: { S: 'y' } } } }), 1 + 3 + 1 + 1 + 1);
  assert.equal(itemSize({ l: { L: [{ S: 'ab' }] } }), 1 + 3 + 2 + 1);
  assert.equal(itemSize({ b: { B: Buffer.from('hello').toString('base64') } }), 6);
  assert.equal(itemSize({ u: { S: 'é' } }), 3);
  assert.equal(readUnits(0, true), 1);
  assert.equal(readUnits(0, false), 0.5);
  assert.equal(readUnits(4096, true), 1);
  assert.equal(readUnits(4097, true), 2);
  assert.equal(readUnits(4097, false), 1);
  assert.equal(writeUnits(1024), 1);
  assert.equal(writeUnits(1025), 2);
});

test('equality treats sets as sets', () => {
  assert.ok(valuesEqual({ SS: ['a', 'b'] }, { SS: ['b', 'a'] }));
  assert.ok(!valuesEqual({ SS: ['a'] }, { SS: ['a', 'b'] }));
  assert.ok(valuesEqual({ N: '1' }, { N: '1' }));
  assert.ok(!valuesEqual({ N: '1' }, { S: '1' }));
  assert.ok(valuesEqual({ M: { a: { L: [{ N: '1' }] } } }, { M: { a: { L: [{ N: '1' }] } } }));
});

test('ordered key bytes: strings by UTF-8 bytes, prefix-free with embedded zeros', () => {
  const strs = ['', 'a', 'a\u0000', 'a\u0000b', 'ab', 'b', 'é', '\u{1F600}'];
  const sorted = [...strs].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  const byKey = [...strs].sort((x, y) => Buffer.compare(orderedKeyBytes({ S: x }, 'S'), orderedKeyBytes({ S: y }, 'S')));
  assert.deepEqual(byKey, sorted);
  // a key followed by anything still sorts before a larger key
  const a = Buffer.concat([orderedKeyBytes({ S: 'a' }, 'S'), Buffer.from([0xff, 0xff])]);
  assert.ok(Buffer.compare(a, orderedKeyBytes({ S: 'a\u0000' }, 'S')) < 0);
});

test('segments partition the bucket space', () => {
  for (const total of [1, 2, 3, 7, 100, 1000]) {
    for (let s = 0; s < total; s++) {
      const r = bucketRange(5, s, total);
      assert.equal(segmentOf(r.gte, total), s, `total ${total} seg ${s}`);
    }
  }
  const k = withNamespace(9, keyBody({ S: 'hello' }, 'S'));
  const seg = segmentOf(k, 4);
  const r = bucketRange(9, seg, 4);
  assert.ok(Buffer.compare(k, r.gte) >= 0 && Buffer.compare(k, r.lt) < 0);
});
