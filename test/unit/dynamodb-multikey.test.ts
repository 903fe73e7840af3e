/**
 * Unit tests of the pure parts of multi-attribute index keys (services/dynamodb/indexes): the GSI key
 * schema rules, which items an index holds, the write-time checks of index key values, the store key
 * order, and the Query rules for a key of several attributes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/core/errors.js';
import type { AttributeValue, Item } from '../../src/services/dynamodb/attributes.js';
import { keyBody } from '../../src/services/dynamodb/keycodec.js';
import {
  checkGlobalIndexKeySchema, checkIndexKeyValues, indexKeyBodyOf, indexKeyOf, indexKeyViolation, itemIndexKeyBody, type IndexKey,
} from '../../src/services/dynamodb/indexes/keys.js';
import { checkMultiQueryStart, type KeyCondition, multiKeyBounds, multiKeyRange } from '../../src/services/dynamodb/indexes/query.js';

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: string): AttributeValue => ({ N: n });

function throwsValidation(fn: () => unknown, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ServiceError, `expected a ServiceError, got ${String(e)}`);
    assert.equal(e.code, 'ValidationException');
    assert.equal(e.message, message);
    return true;
  });
}

const hash = (n: string) => ({ AttributeName: n, KeyType: 'HASH' });
const range = (n: string) => ({ AttributeName: n, KeyType: 'RANGE' });
const defs = (spec: Record<string, string>) => Object.entries(spec).map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));

/** h1, h2 (S, N) HASH; r1, r2, r3 (S, N, S) RANGE. */
const KEY: IndexKey = indexKeyOf([hash('h1'), hash('h2'), range('r1'), range('r2'), range('r3')], defs({ h1: 'S', h2: 'N', r1: 'S', r2: 'N', r3: 'S' }));
const INVALID = 'One or more parameter values were invalid: ';

describe('GSI KeySchema rules', () => {
  it('accepts four HASH and four RANGE attributes', () => {
    checkGlobalIndexKeySchema([hash('a'), hash('b'), hash('c'), hash('d'), range('e'), range('f'), range('g'), range('h')]);
  });

  it('accepts one HASH attribute alone and one HASH with one RANGE', () => {
    checkGlobalIndexKeySchema([hash('a')]);
    checkGlobalIndexKeySchema([hash('a'), range('b')]);
  });

  it('refuses a first element that is not HASH', () => {
    throwsValidation(() => checkGlobalIndexKeySchema([range('a'), hash('b')]), 'Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
  });

  it('refuses a HASH element after a RANGE element', () => {
    throwsValidation(() => checkGlobalIndexKeySchema([hash('a'), range('b'), hash('c')]), `${INVALID}All HASH key attributes must precede RANGE key attributes in the KeySchema`);
  });

  it('refuses five HASH attributes', () => {
    throwsValidation(() => checkGlobalIndexKeySchema(['a', 'b', 'c', 'd', 'e'].map(hash)), `${INVALID}The KeySchema exceeds the maximum allowed number of HASH key attributes`);
  });

  it('refuses five RANGE attributes', () => {
    throwsValidation(() => checkGlobalIndexKeySchema([hash('h'), ...['a', 'b', 'c', 'd', 'e'].map(range)]), `${INVALID}The KeySchema exceeds the maximum allowed number of RANGE key attributes`);
  });

  it('refuses an attribute named twice', () => {
    throwsValidation(() => checkGlobalIndexKeySchema([hash('a'), hash('b'), range('a')]), 'The KeySchema contains multiple key attributes with the same name');
    throwsValidation(() => checkGlobalIndexKeySchema([hash('a'), range('a')]), 'Both the Hash Key and the Range Key element in the KeySchema have the same name');
  });
});

describe('which items an index holds', () => {
  const full: Item = { h1: S('t'), h2: N('1'), r1: S('a'), r2: N('2'), r3: S('x') };

  it('an item with every key attribute is in the index', () => {
    assert.ok(itemIndexKeyBody(full, KEY));
  });

  it('an item missing any one key attribute is not', () => {
    for (const name of ['h1', 'h2', 'r1', 'r2', 'r3']) {
      const item = { ...full };
      delete item[name];
      assert.equal(itemIndexKeyBody(item, KEY), undefined, name);
    }
  });

  it('an item with a key attribute of another type is not', () => {
    assert.equal(itemIndexKeyBody({ ...full, r2: S('2') }, KEY), undefined);
  });

  it('an item whose key value is over the size limit is not (backfill leaves it out)', () => {
    assert.equal(itemIndexKeyBody({ ...full, h1: S('x'.repeat(2049)) }, KEY), undefined);
    assert.equal(itemIndexKeyBody({ ...full, r3: S('x'.repeat(1025)) }, KEY), undefined);
    assert.ok(itemIndexKeyBody({ ...full, h1: S('x'.repeat(2048)), r3: S('x'.repeat(1024)) }, KEY));
  });

  it('a present key value the index cannot hold is an index key violation; an absent one is not', () => {
    assert.equal(indexKeyViolation({ ...full, r2: S('2') }, KEY), true);
    assert.equal(indexKeyViolation({ ...full, h1: S('x'.repeat(2049)) }, KEY), true);
    assert.equal(indexKeyViolation({ ...full, r3: S('') }, KEY), true);
    const missing = { ...full };
    delete missing.r1;
    assert.equal(indexKeyViolation(missing, KEY), false);
    assert.equal(indexKeyViolation(full, KEY), false);
  });

  it('a single-attribute index key keeps the encoding every index has had', () => {
    const single = indexKeyOf([hash('g'), range('s')], defs({ g: 'S', s: 'N' }));
    assert.deepEqual(itemIndexKeyBody({ g: S('x'), s: N('5') }, single), keyBody(S('x'), 'S', N('5'), 'N'));
  });
});

describe('store key order of a multi-attribute key', () => {
  const body = (h1: string, h2: string, r1: string, r2: string, r3: string): Buffer =>
    indexKeyBodyOf({ h1: S(h1), h2: N(h2), r1: S(r1), r2: N(r2), r3: S(r3) }, KEY);

  it('orders by the RANGE attributes in key schema order, each by its own type', () => {
    const sorted = [
      body('t', '1', 'a', '-5', 'z'),
      body('t', '1', 'a', '2', 'a'),
      body('t', '1', 'a', '10', 'a'),
      body('t', '1', 'a', '10', 'ab'),
      body('t', '1', 'ab', '1', 'a'),
      body('t', '1', 'b', '0', ''),
    ];
    const shuffled = [...sorted].reverse();
    shuffled.sort(Buffer.compare);
    assert.deepEqual(shuffled, sorted);
  });

  it('partition values that concatenate alike are different partitions', () => {
    const two = indexKeyOf([hash('a'), hash('b')], defs({ a: 'S', b: 'S' }));
    const x = indexKeyBodyOf({ a: S('ab'), b: S('c') }, two);
    const y = indexKeyBodyOf({ a: S('a'), b: S('bc') }, two);
    assert.notDeepEqual(x, y);
  });
});

describe('write-time checks of index key values', () => {
  const indexes = [{ meta: { name: 'gsi' }, ikey: KEY }];

  it('a value of another type is refused with the index named', () => {
    throwsValidation(() => checkIndexKeyValues(indexes, { r2: S('x') }), `${INVALID}Type mismatch for Index Key r2 Expected: N Actual: S IndexName: gsi`);
  });

  it('an empty string is refused', () => {
    throwsValidation(() => checkIndexKeyValues(indexes, { r3: S('') }),
      'One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: gsi, IndexKey: r3');
  });

  it('an UpdateItem that empties an index key gets UpdateItem\'s message', () => {
    throwsValidation(() => checkIndexKeyValues(indexes, { r3: S('') }, 'update'),
      'One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty string value.');
  });

  it('a partition key value over 2,048 bytes is refused', () => {
    throwsValidation(() => checkIndexKeyValues(indexes, { h1: S('é'.repeat(1025)) }), `${INVALID}Size limit exceeded for Index Key h1 Actual Size: 2050 bytes Max Size: 2048 bytes IndexName: gsi`);
  });

  it('a sort key value over 1,024 bytes is refused', () => {
    throwsValidation(() => checkIndexKeyValues(indexes, { r1: S('x'.repeat(1025)) }), `${INVALID}Size limit exceeded for Index Key r1 Actual Size: 1025 bytes Max Size: 1024 bytes IndexName: gsi`);
  });

  it('values at the limits and absent attributes are accepted', () => {
    checkIndexKeyValues(indexes, { h1: S('x'.repeat(2048)), r1: S('y'.repeat(1024)) });
    checkIndexKeyValues(indexes, {});
  });
});

describe('Query rules for a multi-attribute key', () => {
  const conds = (spec: Record<string, [string, ...AttributeValue[]]>): Map<string, KeyCondition> =>
    new Map(Object.entries(spec).map(([k, [op, ...values]]) => [k, { op, values }]));
  const H = { h1: ['=', S('t')], h2: ['=', N('1')] } as Record<string, [string, ...AttributeValue[]]>;
  const RULE = (a: string, b: string) => `RANGE key attributes ${a} must have equality conditions specified in the query because a condition is present on key attribute ${b}`;

  it('every HASH attribute must be given', () => {
    throwsValidation(() => multiKeyRange(conds({ h1: ['=', S('t')] }), KEY), 'Query condition missed key schema element: h2');
  });

  it('HASH attributes take only equality', () => {
    throwsValidation(() => multiKeyRange(conds({ ...H, h2: ['>', N('1')] }), KEY), 'Query key condition not supported');
  });

  it('an attribute outside the key is refused', () => {
    throwsValidation(() => multiKeyRange(conds({ ...H, other: ['=', S('x')] }), KEY), 'Query key condition not supported');
  });

  it('a gap in the RANGE attributes is refused, naming the missing one and the next one given', () => {
    throwsValidation(() => multiKeyRange(conds({ ...H, r1: ['=', S('a')], r3: ['=', S('x')] }), KEY), RULE('r2', 'r3'));
    throwsValidation(() => multiKeyRange(conds({ ...H, r2: ['=', N('1')] }), KEY), RULE('r1', 'r2'));
  });

  it('a range condition before the last RANGE attribute given is refused', () => {
    throwsValidation(() => multiKeyRange(conds({ ...H, r1: ['>', S('a')], r2: ['=', N('1')] }), KEY), RULE('r1', 'r2'));
  });

  it('a value of the wrong type is refused', () => {
    throwsValidation(() => multiKeyRange(conds({ ...H, r1: ['=', S('a')], r2: ['<', S('1')] }), KEY), `${INVALID}Condition parameter type does not match schema type`);
    throwsValidation(() => multiKeyRange(conds({ ...H, r1: ['=', S('a')], r2: ['BEGINS_WITH', N('1')] }), KEY), `${INVALID}Condition parameter type does not match schema type`);
  });

  it('equalities then one range condition select one contiguous key range', () => {
    const q = multiKeyRange(conds({ ...H, r1: ['=', S('a')], r2: ['BETWEEN', N('2'), N('10')] }), KEY);
    assert.equal(q.equal.length, 1);
    assert.equal(q.last?.part.name, 'r2');
    const b = multiKeyBounds(7, q, KEY);
    const key = (r2: string, r3: string): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 7]), indexKeyBodyOf({ h1: S('t'), h2: N('1'), r1: S('a'), r2: N(r2), r3: S(r3) }, KEY), Buffer.from([1])]);
    const inside = (k: Buffer): boolean => Buffer.compare(k, b.gte!) >= 0 && Buffer.compare(k, b.lt!) < 0;
    assert.ok(inside(key('2', '')));
    assert.ok(inside(key('10', 'zzz')));
    assert.ok(!inside(key('1.9', 'a')));
    assert.ok(!inside(key('10.1', 'a')));
  });

  it('an ExclusiveStartKey outside the conditions is refused', () => {
    const q = multiKeyRange(conds({ ...H, r1: ['=', S('a')] }), KEY);
    const esk = { h1: S('t'), h2: N('1'), r1: S('a'), r2: N('1'), r3: S('x') };
    checkMultiQueryStart(esk, KEY, q);
    throwsValidation(() => checkMultiQueryStart({ ...esk, r1: S('b') }, KEY, q), 'The provided starting key does not match the range key predicate');
    const partitionOnly = multiKeyRange(conds(H), KEY);
    throwsValidation(() => checkMultiQueryStart({ ...esk, h2: N('2') }, KEY, partitionOnly), 'The provided starting key is outside query boundaries based on provided conditions');
  });
});
