/**
 * Unit tests for the expression parsers, evaluator and update applier, including a seeded property test
 * comparing the evaluator against an independent model on random items and conditions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCondition, parseUpdate, parseProjection, newContext, checkUnused } from '../../src/services/dynamodb/expressions/parser.js';
import { evalCondition, project } from '../../src/services/dynamodb/expressions/evaluate.js';
import { applyUpdate } from '../../src/services/dynamodb/expressions/update.js';
import { isReservedWord, RESERVED_WORD_COUNT } from '../../src/services/dynamodb/expressions/reserved.js';
import type { AttributeValue, Item } from '../../src/services/dynamodb/attributes.js';
import { ServiceError } from '../../src/core/errors.js';
import { prng } from '../helpers/random.js';

function cond(src: string, values: Record<string, AttributeValue> = {}, names?: Record<string, string>) {
  return parseCondition(src, 'ConditionExpression', newContext(names, Object.keys(values).length ? values : undefined));
}
function err(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ServiceError, String(e));
    assert.equal(e.code, 'ValidationException');
    return e.message;
  }
  assert.fail('expected an error');
}

test('reserved words: the full list', () => {
  assert.equal(RESERVED_WORD_COUNT, 573);
  assert.ok(isReservedWord('status'));
  assert.ok(isReservedWord('Name'));
  assert.ok(!isReservedWord('id'));
});

test('syntax errors quote token and near text', () => {
  assert.equal(err(() => cond('a = ')), 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "="');
  assert.equal(err(() => cond('a == b')), 'Invalid ConditionExpression: Syntax error; token: "=", near: "=="');
  assert.equal(err(() => cond('attribute_exists(a) AND')), 'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "AND"');
  assert.equal(err(() => cond('a ! b')), 'Invalid ConditionExpression: Syntax error; token: "!", near: "a !"');
  assert.equal(err(() => cond('')), 'Invalid ConditionExpression: The expression can not be empty;');
  assert.equal(err(() => cond('x'.repeat(4097))), 'Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097');
});

test('semantic errors with AWS wording', () => {
  assert.equal(err(() => cond('status = :v', { ':v': { S: 'x' } })), 'Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status');
  assert.equal(err(() => cond('#s = :v', { ':v': { S: 'x' } })), 'Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #s');
  assert.equal(err(() => cond('a = :v')), 'Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v');
  assert.equal(err(() => cond('foo(a)')), 'Invalid ConditionExpression: Invalid function name; function: foo');
  assert.equal(err(() => cond('size(a)')), 'Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size');
  assert.equal(err(() => cond('attribute_exists(a) = :v', { ':v': { S: 'x' } })), 'Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists');
  assert.equal(err(() => cond('a = a')), 'Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]');
  assert.equal(err(() => cond('((a = b))')), 'Invalid ConditionExpression: The expression has redundant parentheses;');
  assert.equal(err(() => cond('begins_with(a, :n)', { ':n': { N: '1' } })), 'Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N');
  assert.equal(err(() => cond('attribute_type(a, :t)', { ':t': { S: 'X' } })), 'Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}');
  assert.equal(err(() => cond('a BETWEEN :b AND :a', { ':a': { N: '1' }, ':b': { N: '2' } })), 'Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:2}, upper bound operand: AttributeValue: {N:1}');
  assert.equal(err(() => cond('attribute_exists(a, b)')), 'Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2');
  const ctx = newContext({ '#a': 'a', '#unused': 'x' }, { ':v': { N: '1' }, ':w': { N: '2' } });
  parseCondition('#a = :v', 'ConditionExpression', ctx);
  assert.equal(err(() => checkUnused(ctx)), 'Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}');
  ctx.usedNames.add('#unused');
  assert.equal(err(() => checkUnused(ctx)), 'Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}');
});

test('IN allows at most 100 operands', () => {
  const values: Record<string, AttributeValue> = {};
  for (let i = 0; i < 101; i++) values[`:v${i}`] = { N: String(i) };
  const list = Object.keys(values);
  assert.doesNotThrow(() => cond(`a IN (${list.slice(0, 100).join(', ')})`, Object.fromEntries(list.slice(0, 100).map((k) => [k, values[k]!]))));
  assert.equal(err(() => cond(`a IN (${list.join(', ')})`, values)), 'Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101');
});

test('evaluation: comparisons, functions, precedence', () => {
  const item: Item = { a: { N: '5' }, s: { S: 'hello' }, ss: { SS: ['x', 'y'] }, l: { L: [{ N: '1' }, { S: 'z' }] }, m: { M: { k: { S: 'v' } } }, b: { BOOL: true } };
  const v = { ':n': { N: '5' }, ':m': { N: '10' }, ':s': { S: 'he' }, ':x': { S: 'x' }, ':z': { S: 'z' }, ':t': { S: 'SS' } };
  const check = (src: string, want: boolean, vals: Record<string, AttributeValue> = v) => {
    const ctx = newContext(undefined, vals);
    assert.equal(evalCondition(parseCondition(src, 'ConditionExpression', ctx), item), want, src);
  };
  check('a = :n', true);
  check('a < :m AND a >= :n', true);
  check('a BETWEEN :n AND :m', true);
  check('a IN (:m, :n)', true);
  check('begins_with(s, :s)', true);
  check('contains(ss, :x)', true);
  check('contains(l, :z)', true);
  check('contains(s, :s)', true);
  check('attribute_type(ss, :t)', true);
  check('size(s) = :n', true);
  check('size(l) < :n', true);
  check('m.k = :x', false);
  check('attribute_exists(m.k) AND attribute_not_exists(m.q)', true);
  check('NOT a = :n OR a = :n AND s = :x', false);
  check('(NOT a = :n OR a = :n) AND s = :x', false);
  check('absent <> :n', true);
  check('absent = :n', false);
  check('a > :s', false); // different types never order
  check('l[1] = :z', true);
});

test('update expressions: parse and apply', () => {
  const values: Record<string, AttributeValue> = { ':one': { N: '1' }, ':l': { L: [{ S: 'c' }] }, ':ss': { SS: ['b'] }, ':zero': { N: '0' }, ':v': { S: 'new' } };
  const ctx = newContext({ '#c': 'count' }, values);
  const actions = parseUpdate('SET #c = if_not_exists(#c, :zero) + :one, lst = list_append(lst, :l), m.k = :v REMOVE gone, lst2[0] ADD tags :ss DELETE del :ss', ctx, ['id']);
  checkUnused(ctx);
  const before: Item = { id: { S: '1' }, lst: { L: [{ S: 'a' }] }, m: { M: {} }, gone: { S: 'x' }, lst2: { L: [{ S: 'p' }, { S: 'q' }] }, tags: { SS: ['a'] }, del: { SS: ['b'] } };
  const after = applyUpdate(before, actions);
  assert.deepEqual(after, {
    id: { S: '1' }, count: { N: '1' }, lst: { L: [{ S: 'a' }, { S: 'c' }] }, m: { M: { k: { S: 'new' } } },
    lst2: { L: [{ S: 'q' }] }, tags: { SS: ['a', 'b'] },
  });
  assert.deepEqual(before.lst, { L: [{ S: 'a' }] }, 'input untouched');
});

test('update expression errors', () => {
  const v = { ':v': { S: 'x' }, ':n': { N: '1' } };
  const up = (src: string, vals: Record<string, AttributeValue> = v) => parseUpdate(src, newContext(undefined, vals), ['id']);
  assert.equal(err(() => up('SET a = :v SET b = :v')), 'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;');
  assert.equal(err(() => up('SET a = :v REMOVE a')), 'Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]');
  assert.equal(err(() => up('SET a.b = :v REMOVE a[0]')), 'Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]');
  assert.equal(err(() => up('ADD a :v')), 'Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING');
  assert.equal(err(() => up('SET id = :v')), 'One or more parameter values were invalid: Cannot update attribute id. This attribute is part of the key');
  assert.equal(err(() => up('SET a = :v +')), 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "+"');
  assert.equal(err(() => applyUpdate({ a: { S: 'x' } }, up('SET b = a + :n'))), 'An operand in the update expression has an incorrect data type');
  assert.equal(err(() => applyUpdate({}, up('SET a.b = :v'))), 'The document path provided in the update expression is invalid for update');
  assert.equal(err(() => applyUpdate({}, up('SET b = a + :n'))), 'The provided expression refers to an attribute that does not exist in the item');
});

test('projection keeps nested structure', () => {
  const ctx = newContext(undefined, undefined);
  const paths = parseProjection('a.b, l[2], l[0], c', ctx);
  const item: Item = { a: { M: { b: { N: '1' }, c: { N: '2' } } }, l: { L: [{ S: 'x' }, { S: 'y' }, { S: 'z' }] }, d: { S: 'no' } };
  assert.deepEqual(project(item, paths), { a: { M: { b: { N: '1' } } }, l: { L: [{ S: 'x' }, { S: 'z' }] } });
  assert.equal(err(() => parseProjection('a, a.b', newContext(undefined, undefined))), 'Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]');
});

// ---- property test: evaluator vs an independent model on random conditions ----


type ModelVal = { t: 'N'; v: number } | { t: 'S'; v: string };
type ModelCond = { op: 'cmp'; attr: string; cmp: string; val: ModelVal } | { op: 'and' | 'or'; l: ModelCond; r: ModelCond } | { op: 'not'; c: ModelCond } | { op: 'exists'; attr: string };

function modelEval(c: ModelCond, item: Record<string, ModelVal>): boolean {
  switch (c.op) {
    case 'and': return modelEval(c.l, item) && modelEval(c.r, item);
    case 'or': return modelEval(c.l, item) || modelEval(c.r, item);
    case 'not': return !modelEval(c.c, item);
    case 'exists': return c.attr in item;
    case 'cmp': {
      const a = item[c.attr];
      if (!a) return c.cmp === '<>';
      if (a.t !== c.val.t) return c.cmp === '<>';
      const d = a.t === 'N' ? a.v - (c.val.v as number) : a.v < (c.val.v as string) ? -1 : a.v > (c.val.v as string) ? 1 : 0;
      return { '=': d === 0, '<>': d !== 0, '<': d < 0, '<=': d <= 0, '>': d > 0, '>=': d >= 0 }[c.cmp]!;
    }
  }
}

test('property: condition evaluator agrees with a simple model', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  const rnd = prng(seed);
  const attrs = ['a', 'b', 'c'];
  const randVal = (): ModelVal => (rnd() < 0.5 ? { t: 'N', v: Math.floor(rnd() * 7) - 3 } : { t: 'S', v: 'xyz'.slice(0, Math.floor(rnd() * 4)) });
  for (let round = 0; round < 400; round++) {
    const values: Record<string, AttributeValue> = {};
    let nv = 0;
    const gen = (depth: number): [ModelCond, string] => {
      const r = rnd();
      if (depth > 3 || r < 0.4) {
        const attr = attrs[Math.floor(rnd() * attrs.length)]!;
        if (rnd() < 0.15) return [{ op: 'exists', attr }, `attribute_exists(${attr})`];
        const cmp = ['=', '<>', '<', '<=', '>', '>='][Math.floor(rnd() * 6)]!;
        const val = randVal();
        const name = `:v${nv++}`;
        values[name] = val.t === 'N' ? { N: String(val.v) } : { S: val.v as string };
        return [{ op: 'cmp', attr, cmp, val }, `${attr} ${cmp} ${name}`];
      }
      if (r < 0.55) {
        const [c, s] = gen(depth + 1);
        return [{ op: 'not', c }, `NOT (${s})`];
      }
      const [l, ls] = gen(depth + 1);
      const [rr, rs] = gen(depth + 1);
      const op = rnd() < 0.5 ? 'and' : 'or';
      return [{ op, l, r: rr }, `(${ls}) ${op.toUpperCase()} (${rs})`];
    };
    const [model, src] = gen(0);
    const ctx = newContext(undefined, Object.keys(values).length ? values : undefined);
    const parsed = parseCondition(src, 'FilterExpression', ctx);
    for (let k = 0; k < 5; k++) {
      const mItem: Record<string, ModelVal> = {};
      const item: Item = {};
      for (const a of attrs) {
        if (rnd() < 0.25) continue;
        const v = randVal();
        mItem[a] = v;
        item[a] = v.t === 'N' ? { N: String(v.v) } : { S: v.v as string };
      }
      assert.equal(evalCondition(parsed, item), modelEval(model, mItem), `seed=${seed} expr=${src} item=${JSON.stringify(item)}`);
    }
  }
});
