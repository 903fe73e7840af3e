/**
 * Unit tests for the PartiQL lexer, parser and planner: token positions, the statement grammar and its
 * refusals, statement prefixes (every prefix of a valid statement is refused cleanly, never with a crash),
 * and the plans: which statements become a Query, a Scan or a keyed item operation, and that every
 * expression a plan carries is one the DynamoDB expression parser accepts with its placeholders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyntaxProblem, tokenize } from '../../src/services/dynamodb/partiql/lexer.js';
import { parseStatement, Rejection } from '../../src/services/dynamodb/partiql/parser.js';
import { plan, type Plan, type TableSchema } from '../../src/services/dynamodb/partiql/planner.js';
import { checkUnused, newContext, parseCondition, parseProjection, parseUpdate } from '../../src/services/dynamodb/expressions/parser.js';
import { unnest } from '../../src/services/dynamodb/partiql/unnest.js';
import type { AttributeValue } from '../../src/services/dynamodb/attributes.js';
import { parameterNumberProblem } from '../../src/services/dynamodb/partiql/parameters.js';

const music: TableSchema = {
  name: 'Music',
  hash: { name: 'Artist', type: 'S' },
  range: { name: 'SongTitle', type: 'S' },
  indexes: new Map([['byYear', { global: true, hash: { name: 'Year', type: 'N' } }]]),
};
const schemaOf = (table: string): TableSchema => {
  if (table !== 'Music') throw new Error(`no table ${table}`);
  return music;
};
const planOf = (src: string, params: AttributeValue[] = [], use: 'statement' | 'batch' | 'transaction' = 'statement'): Plan => plan(parseStatement(src).statement, params, schemaOf, use);

/** Every expression of a plan parses with DynamoDB's own expression parser, and uses every placeholder. */
function checkExpressions(p: Plan): void {
  const input = p.input as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const ctx = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
  for (const label of ['KeyConditionExpression', 'FilterExpression', 'ConditionExpression'] as const) {
    if (input[label] !== undefined) parseCondition(input[label], label, ctx);
  }
  if (input.UpdateExpression !== undefined) parseUpdate(input.UpdateExpression, ctx);
  if (input.ProjectionExpression !== undefined) parseProjection(input.ProjectionExpression, ctx);
  checkUnused(ctx);
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SyntaxProblem) return `syntax: ${e.detail}`;
    if (e instanceof Rejection) return e.message;
    throw e;
  }
  throw new Error('expected a refusal');
}

test('lexer: tokens, positions across lines, quoting, comments, bags', () => {
  const t = tokenize(`SELECT "a""b", 'it''s' -- note\nFROM <<1.5e3, ?>> /* x */ WHERE x <> -2`);
  assert.deepEqual(t.map((x) => [x.kind, x.text]), [
    ['ident', 'SELECT'], ['qident', 'a"b'], ['punct', ','], ['string', "it's"], ['ident', 'FROM'], ['punct', '<<'], ['number', '1.5e3'], ['punct', ','],
    ['param', '?'], ['punct', '>>'], ['ident', 'WHERE'], ['ident', 'x'], ['punct', '<>'], ['punct', '-'], ['number', '2'], ['eof', ''],
  ]);
  const from = t[4]!;
  assert.deepEqual([from.line, from.col, from.length], [2, 1, 4]);
  assert.deepEqual([t[1]!.line, t[1]!.col, t[1]!.length], [1, 8, 6]);
  assert.equal(refusal(() => tokenize(`'open`)), 'syntax: Unterminated string literal');
  assert.equal(refusal(() => tokenize(`"open`)), 'syntax: Unterminated quoted identifier');
  // A character no token starts with, or a block comment left open: nothing after the colon, as DynamoDB answers.
  assert.equal(refusal(() => tokenize(`a # b`)), 'syntax: ');
  assert.equal(refusal(() => tokenize(`a /* b`)), 'syntax: ');
  // A number whose exponent or scale does not fit a 32-bit integer cannot be read either.
  for (const n of ['1e2147483648', '1e99999999999', '-1e-2147483649', '1.5e-2147483647']) assert.equal(refusal(() => tokenize(`a = ${n}`)), 'syntax: ', n);
  for (const n of ['1e2147483647', '1.5e-2147483646', '7.31e6', '.73e1']) assert.equal(tokenize(`a = ${n}`)[2]?.text, n);
});

test('parser: each statement kind', () => {
  assert.deepEqual(parseStatement(`SELECT a, "b".c[2], d['e'] FROM "Music"."byYear" WHERE x = ? AND y = ?`), {
    params: 2,
    statement: {
      k: 'select', projection: [['a'], ['b', 'c', 2], ['d', 'e']], from: { table: 'Music', index: 'byYear', at: { line: 1, col: 33, length: 16 } },
      where: { k: 'and', l: { k: 'cmp', op: '=', l: { k: 'path', path: ['x'] }, r: { k: 'param', index: 0 } }, r: { k: 'cmp', op: '=', l: { k: 'path', path: ['y'] }, r: { k: 'param', index: 1 } } },
    },
  });
  assert.deepEqual(parseStatement(`insert into Music value {'Artist': 'A', 'n': -1}`).statement, {
    k: 'insert', into: { table: 'Music', at: { line: 1, col: 13, length: 5 } },
    value: { k: 'struct', fields: [{ key: { k: 'string', value: 'Artist' }, value: { k: 'string', value: 'A' } }, { key: { k: 'string', value: 'n' }, value: { k: 'number', text: '-1' } }] },
  });
  const u = parseStatement(`UPDATE Music SET a = a + 1, b = 'x' REMOVE c SET d = list_append(d, [1]) WHERE Artist = 'A' RETURNING MODIFIED NEW *`).statement;
  assert.equal(u.k, 'update');
  if (u.k === 'update') {
    assert.deepEqual(u.clauses.map((c) => [c.k, c.path]), [['set', ['a']], ['set', ['b']], ['remove', ['c']], ['set', ['d']]]);
    assert.equal(u.returning, 'MODIFIED NEW');
  }
  const d = parseStatement(`DELETE FROM Music WHERE Artist = 'A' RETURNING ALL OLD *;`).statement;
  assert.deepEqual(d.k === 'delete' ? d.returning : undefined, 'ALL OLD');
  assert.equal(parseStatement(`EXISTS(SELECT * FROM Music WHERE Artist = 'A' AND x IS MISSING)`).statement.k, 'exists');
  // Keywords quoted are names; after a dot or in a function call they are no bare name.
  const q = parseStatement(`SELECT "new", "all".key FROM "user" WHERE "old" = 1 AND size("count") > 0`).statement;
  assert.deepEqual(q.k === 'select' ? [q.projection, q.from.table] : undefined, [[['new'], ['all', 'key']], 'user']);
});

test('parser: precedence and predicates', () => {
  const where = (src: string) => {
    const s = parseStatement(`SELECT * FROM Music WHERE ${src}`).statement;
    return s.k === 'select' ? s.where : undefined;
  };
  assert.deepEqual(where(`a = 1 OR b = 2 AND NOT c = 3`), {
    k: 'or', l: { k: 'cmp', op: '=', l: { k: 'path', path: ['a'] }, r: { k: 'number', text: '1' } },
    r: { k: 'and', l: { k: 'cmp', op: '=', l: { k: 'path', path: ['b'] }, r: { k: 'number', text: '2' } }, r: { k: 'not', e: { k: 'cmp', op: '=', l: { k: 'path', path: ['c'] }, r: { k: 'number', text: '3' } } } },
  });
  assert.deepEqual(where(`a NOT IN ('x', 'y')`), { k: 'not', e: { k: 'in', v: { k: 'path', path: ['a'] }, list: [{ k: 'string', value: 'x' }, { k: 'string', value: 'y' }] } });
  assert.deepEqual(where(`a IS NOT MISSING`), { k: 'is', e: { k: 'path', path: ['a'] }, type: 'MISSING', negated: true });
  assert.deepEqual(where(`a BETWEEN 1 AND 2 AND b != 3`), {
    k: 'and', l: { k: 'between', v: { k: 'path', path: ['a'] }, lo: { k: 'number', text: '1' }, hi: { k: 'number', text: '2' } },
    r: { k: 'cmp', op: '<>', l: { k: 'path', path: ['b'] }, r: { k: 'number', text: '3' } },
  });
  assert.deepEqual(where(`begins_with(a, 'p')`), { k: 'call', name: 'begins_with', args: [{ k: 'path', path: ['a'] }, { k: 'string', value: 'p' }] });
});

test('parser: refusals with DynamoDB messages', () => {
  const cases: [string, string][] = [
    [`SLECT * FROM Music`, 'syntax: Expected data manipulation'],
    [``, 'syntax: Unexpected end of statement'],
    [`SELECT * FROM Music m`, 'Aliasing is not supported'],
    [`SELECT a AS b FROM Music`, 'Aliasing is not supported'],
    [`SELECT *, a FROM Music`, "Other attributes should not be present in the projection when '*' is used."],
    [`SELECT count(a) FROM Music`, 'Unexpected path component at 1:8:5'],
    [`SELECT DISTINCT a FROM Music`, 'Unsupported token in expression: DISTINCT'],
    [`SELECT VALUE a FROM Music`, "Select projection doesn't support value or pivot keywords"],
    [`SELECT * FROM a.b.c`, 'A path may contain at most 2 components in the FROM clause'],
    [`SELECT * FROM ab`, "Table name should be within the length [3, 255] and only contain 'a-z', 'A-Z', '0-9', '-', '_', '.'."],
    [`INSERT INTO Music.idx VALUE {'a': 1}`, 'FROM clause may only contain a single table name in data manipulation statements at 1:13:9'],
    [`INSERT INTO Music VALUES ('a')`, 'Unsupported operation: Inserting multiple items in a single statement is not supported, use "INSERT INTO tableName VALUE item" instead'],
    [`INSERT INTO Music VALUE {'a': 1} RETURNING ALL OLD *`, 'RETURNING is not supported in INSERT'],
    [`DELETE FROM Music WHERE a = 1 RETURNING ALL OLD a`, "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause"],
    [`SELECT * FROM Music WHERE a IS DATE`, 'Unsupported data type for IS operator: DATE. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]'],
    [`SELECT * FROM Music WHERE a[*].b = 1`, 'Wildcard path component like a[*].b are not supported'],
    [`SELECT * FROM Music; DELETE FROM Music WHERE a = 1`, 'Only one operation is allowed in a statement.'],
    // A token left after a complete statement (DynamoDB's answers, captured by paritysuite's conformance suite).
    [`SELECT * FROM Music WHERE a = 1 b`, 'syntax: Unexpected token after expression'],
    [`SELECT * FROM Music WHERE a = 1)`, 'syntax: Unexpected token after expression'],
    [`DELETE FROM Music WHERE a = 1 ORDER BY a`, 'syntax: Unexpected token after expression'],
    [`SELECT * FROM Music ORDER BY a WHERE a = 1`, 'syntax: Unexpected token after expression'],
    [`INSERT INTO "Music" t VALUE {'a': 1}`, 'syntax: Unexpected token after expression'],
    [`UPDATE "Music" t SET a = 3 WHERE pk = 'x'`, 'Aliasing is not supported'],
    // PartiQL's keywords (partiql-lang-kotlin's lexer: SQL-92's and PartiQL's, RETURNING's ALL/NEW/OLD among them) are
    // never bare names: neither attributes nor tables.
    [`SELECT new FROM Music`, 'syntax: Unexpected keyword: new at 1:8'],
    [`SELECT * FROM Music WHERE ALL = 1`, 'syntax: Unexpected keyword: ALL at 1:27'],
    [`SELECT * FROM Music WHERE a = 1 AND Key = 2`, 'syntax: Unexpected keyword: Key at 1:37'],
    [`UPDATE Music REMOVE old WHERE a = 1`, 'syntax: Unexpected keyword: old at 1:21'],
    [`UPDATE Music SET count = 1 WHERE a = 1`, 'syntax: Unexpected keyword: count at 1:18'],
    [`SELECT * FROM Music ORDER BY modified`, 'syntax: Unexpected keyword: modified at 1:30'],
    [`SELECT * FROM user`, 'syntax: Unexpected keyword: user at 1:15'],
  ];
  for (const [src, message] of cases) assert.equal(refusal(() => parseStatement(src)), message, src);
  assert.equal(refusal(() => parseStatement(`SELECT * FROM Music WHERE ${'('.repeat(200)}a = 1${')'.repeat(200)}`)), 'syntax: Statement is nested too deeply');
});

test('every prefix of a valid statement parses or is refused cleanly', () => {
  const statements = [
    `SELECT a.b[1], "c" FROM "Music"."byYear" WHERE Year = ? AND NOT (x IN (1, 2) OR begins_with(y, 'p')) ORDER BY Year DESC`,
    `INSERT INTO Music VALUE {'Artist': 'A', 'list': [1, {'m': <<'x'>>}], 'p': ?}`,
    `UPDATE Music SET a = a + 1, b = set_add(b, <<1>>) REMOVE c WHERE Artist = 'A' AND SongTitle = 'S' AND d IS NOT NULL RETURNING ALL NEW *`,
    `DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'S' AND v BETWEEN 1 AND 9 RETURNING ALL OLD *`,
  ];
  for (const s of statements) {
    parseStatement(s);
    for (let i = 0; i < s.length; i++) {
      try {
        parseStatement(s.slice(0, i));
      } catch (e) {
        assert.ok(e instanceof SyntaxProblem || e instanceof Rejection, `${s.slice(0, i)}: ${String(e)}`);
      }
    }
  }
});

test('planner: SELECT is a Query when the partition key is pinned, a Scan otherwise', () => {
  const q = planOf(`SELECT * FROM Music WHERE Artist = 'A' AND SongTitle > 'M' AND Plays >= 10`);
  assert.equal(q.k, 'query');
  assert.deepEqual(q.input, {
    TableName: 'Music', KeyConditionExpression: '#n0 = :v0 AND #n1 > :v1', FilterExpression: '#n2 >= :v2',
    ExpressionAttributeNames: { '#n0': 'Artist', '#n1': 'SongTitle', '#n2': 'Plays' }, ExpressionAttributeValues: { ':v0': { S: 'A' }, ':v1': { S: 'M' }, ':v2': { N: '10' } },
  });
  checkExpressions(q);
  const flipped = planOf(`SELECT Artist FROM Music WHERE 'A' = Artist AND 'M' < SongTitle ORDER BY SongTitle DESC`);
  assert.deepEqual([flipped.k, (flipped.input as { KeyConditionExpression?: string }).KeyConditionExpression, (flipped.input as { ScanIndexForward?: boolean }).ScanIndexForward], ['query', '#n0 = :v0 AND #n1 > :v1', false]);
  for (const [where, kind] of [
    [`SongTitle = 'S'`, 'scan'],
    [`Artist = 'A' OR Artist = 'B'`, 'scan'],
    [`Artist IN ('A', 'B')`, 'scan'],
    [`Artist IN ['A', 'B'] OR x IN <<1, 2>>`, 'scan'],
    [`Artist > 'A'`, 'scan'],
    [`Artist = 'A' AND SongTitle <> 'S'`, 'scan'],
    [`Artist = 'A' AND SongTitle > 'A' AND SongTitle < 'Z'`, 'scan'],
    [`Artist = 'A' AND (SongTitle = 'S' OR x = 1)`, 'scan'],
    [`Artist = 'A' AND SongTitle BETWEEN 'A' AND 'M'`, 'query'],
    [`Artist = 'A' AND begins_with(SongTitle, 'Lo')`, 'query'],
    [`Artist = 'A' AND x.y[0] IS MISSING AND size(z) > 2 AND attribute_type(w, 'S') AND contains(t, 'q') AND v IS NULL AND u IS STRING`, 'query'],
  ] as const) {
    const p = planOf(`SELECT * FROM Music WHERE ${where}`);
    assert.equal(p.k, kind, where);
    checkExpressions(p);
  }
  const idx = planOf(`SELECT * FROM "Music"."byYear" WHERE "Year" = 2000`);
  assert.deepEqual([idx.k, (idx.input as { IndexName?: string }).IndexName], ['query', 'byYear']);
  assert.equal(refusal(() => planOf(`SELECT * FROM Music.nope WHERE x = 1`)), 'The table does not have the specified index');
  assert.equal(refusal(() => planOf(`SELECT * FROM Music WHERE Artist = 1`)), "Key attribute's data type should match its data type in table's schema: Key Artist");
  assert.equal(refusal(() => planOf(`SELECT * FROM Music WHERE Artist = ?`)), "Number of parameters in request and statement don't match.");
  assert.equal(refusal(() => planOf(`SELECT * FROM Music ORDER BY Artist`)), 'Must have WHERE clause in the statement when using ORDER BY clause.');
  assert.equal(refusal(() => planOf(`SELECT * FROM Music WHERE x = 1 ORDER BY Artist`)), 'Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.');
  assert.equal(refusal(() => planOf(`SELECT * FROM Music WHERE Artist = 'A' OR x = 1 ORDER BY Artist`)), 'Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.');
  const ordered = planOf(`SELECT * FROM Music WHERE Artist = 'A' AND SongTitle <> 'B' ORDER BY SongTitle DESC`);
  assert.deepEqual([ordered.k, ordered.k === 'scan' ? ordered.order : undefined], ['scan', [{ path: ['SongTitle'], descending: true }]]);
  assert.equal(refusal(() => planOf(`SELECT * FROM Music WHERE Artist = 'A' ORDER BY x`)), 'Variable reference x in ORDER BY clause must be part of the primary key');
});

test('planner: writes become keyed item operations with their conditions', () => {
  const put = planOf(`INSERT INTO Music VALUE {'Artist': ?, 'SongTitle': 'S', 'Tags': <<'a', 'b'>>}`, [{ S: 'A' }]);
  assert.deepEqual(put, { k: 'put', input: { TableName: 'Music', Item: { Artist: { S: 'A' }, SongTitle: { S: 'S' }, Tags: { SS: ['a', 'b'] } }, ConditionExpression: 'attribute_not_exists(#n0)', ExpressionAttributeNames: { '#n0': 'Artist' } } });
  checkExpressions(put);
  const upd = planOf(`UPDATE Music SET Plays = Plays + 1 REMOVE "Old" SET Tags = set_delete(Tags, <<'a'>>) WHERE Artist = 'A' AND SongTitle = 'S' AND Plays < 5 RETURNING ALL NEW *`);
  assert.equal(upd.k, 'update');
  assert.deepEqual(upd.input, {
    TableName: 'Music', Key: { Artist: { S: 'A' }, SongTitle: { S: 'S' } }, UpdateExpression: 'SET #n0 = #n0 + :v0 REMOVE #n1 DELETE #n2 :v1',
    ConditionExpression: 'attribute_exists(#n3) AND #n0 < :v2', ReturnValues: 'ALL_NEW',
    ExpressionAttributeNames: { '#n0': 'Plays', '#n1': 'Old', '#n2': 'Tags', '#n3': 'Artist' }, ExpressionAttributeValues: { ':v0': { N: '1' }, ':v1': { SS: ['a'] }, ':v2': { N: '5' } },
  });
  checkExpressions(upd);
  const del = planOf(`DELETE FROM Music WHERE SongTitle = 'S' AND Artist = 'A'`);
  assert.deepEqual(del, { k: 'delete', input: { TableName: 'Music', Key: { SongTitle: { S: 'S' }, Artist: { S: 'A' } } } });
  const check = planOf(`EXISTS(SELECT * FROM Music WHERE Artist = 'A' AND SongTitle = 'S' AND Awards IS MISSING)`, [], 'transaction');
  assert.deepEqual(check.k, 'check');
  checkExpressions(check);
  const get = planOf(`SELECT a FROM Music WHERE Artist = 'A' AND SongTitle = 'S'`, [], 'batch');
  assert.deepEqual(get, { k: 'get', input: { TableName: 'Music', Key: { Artist: { S: 'A' }, SongTitle: { S: 'S' } }, ProjectionExpression: '#n0', ExpressionAttributeNames: { '#n0': 'a' } }, paths: [['a']] });
  const refusals: [string, string, ('statement' | 'batch' | 'transaction')?][] = [
    [`UPDATE Music SET a = 1 WHERE Artist = 'A'`, 'Where clause does not contain a mandatory equality on all key attributes'],
    [`DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'S' AND Artist = 'B'`, 'Multiple conditions on same key Artist. Only single item Update/Insert/Delete are supported'],
    [`DELETE FROM Music WHERE Artist = <<'A'>> AND SongTitle = 'S'`, 'Key value must be of type S, N, or B. Key name: Artist, Key type: SS'],
    [`DELETE FROM Music WHERE Artist = 'A' AND SongTitle = 'S' RETURNING ALL NEW *`, 'Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL OLD * is allowed in DELETE statements.'],
    [`UPDATE Music.byYear SET a = 1 WHERE Artist = 'A' AND SongTitle = 'S'`, 'This operation is not supported on an index'],
    [`UPDATE Music SET a = a * 2 WHERE Artist = 'A' AND SongTitle = 'S'`, 'Unsupported operator in Update Expression. Operator: *'],
    [`UPDATE Music SET a = set_add(b, <<1>>) WHERE Artist = 'A' AND SongTitle = 'S'`, 'The first argument to SET_ADD must equal the assignment value'],
    [`UPDATE Music SET a = set_add(a, [1]) WHERE Artist = 'A' AND SongTitle = 'S'`, 'The second argument to SET_ADD must be a value with type SET'],
    [`INSERT INTO Music VALUE [1]`, 'Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.'],
    [`INSERT INTO Music VALUE {'Artist': 'A', 'SongTitle': 'S', 'Artist': 'B'}`, 'Duplicate keys in tuple. Key: Artist under []'],
    [`EXISTS(SELECT * FROM Music WHERE Artist = 'A' AND SongTitle = 'S')`, 'EXISTS() must contain a single item read with additional condition', 'transaction'],
    [`EXISTS(SELECT * FROM Music WHERE Artist = 'A' AND x = 1)`, 'EXISTS can only be used in ExecuteTransaction write requests.'],
    [`SELECT * FROM Music WHERE Artist = 'A'`, 'Select statements within BatchExecuteStatement must specify the primary key in the where clause.', 'batch'],
    [`SELECT * FROM Music WHERE Artist = 'A' AND SongTitle = 'S' AND x = 1`, 'Select statements within ExecuteTransaction must specify the primary key in the where clause.', 'transaction'],
    [`SELECT * FROM Music.byYear WHERE Year = 1`, 'Reads on indices are not supported within transactions.', 'transaction'],
    [`SELECT * FROM Music WHERE a IN 'x'`, 'IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member'],
    [`SELECT * FROM Music WHERE a IN ()`, 'IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member'],
    [`SELECT * FROM Music WHERE a = MISSING`, 'MISSING must be compared using IS operator'],
    [`SELECT * FROM Music WHERE frob(a)`, 'Unrecognized function: frob'],
    [`SELECT * FROM Music WHERE a`, 'WHERE clause must contain an expression that resolves to a boolean'],
  ];
  for (const [src, message, use] of refusals) assert.equal(refusal(() => planOf(src, [], use)), message, src);
});

test('unnest: a SELECT of nested paths answers with its leaves', () => {
  const projected = { a: { M: { b: { S: 'x' }, c: { L: [{ N: '1' }, { N: '3' }] } } }, top: { S: 't' }, l: { L: [{ M: { k: { S: 'v' } } }] } };
  assert.deepEqual(unnest(projected, [['a', 'b'], ['a', 'c', 0], ['a', 'c', 2], ['top'], ['l', 4, 'k']]), {
    b: { S: 'x' }, 'c[0]': { N: '1' }, 'c[2]': { N: '3' }, top: { S: 't' }, k: { S: 'v' },
  });
  assert.deepEqual(unnest({ a: { S: '1' } }, [['a'], ['missing']]), { a: { S: '1' } });
  assert.deepEqual(unnest({}, [['a', 'b']]), {});
});

test('parameters: numbers that only the PartiQL front end refuses, the first in document order', () => {
  const UNCONVERTIBLE = 'The parameter cannot be converted to a numeric value';
  const UNDERFLOW = 'Number underflow. Attempting to store a number with magnitude smaller than supported range';
  for (const n of ['1e99999999999', '-1e99999999999', '1e-99999999999', '1e2147483648', '1e-2147483648']) {
    assert.equal(parameterNumberProblem({ N: n }), `${UNCONVERTIBLE}: ${n}`, n);
  }
  assert.equal(parameterNumberProblem({ N: '1e2147483647' }), UNDERFLOW);
  for (const n of ['1', '-1.5e3', '1e126', '', 'abc']) assert.equal(parameterNumberProblem({ N: n }), undefined, n); // the rest is validateValue's
  assert.equal(parameterNumberProblem({ L: [{ N: '1' }, { N: '1e99999999999' }] }), `${UNCONVERTIBLE}: 1e99999999999`);
  assert.equal(parameterNumberProblem({ M: { x: { N: '1e99999999999' } } }), `${UNCONVERTIBLE}: 1e99999999999`);
  assert.equal(parameterNumberProblem({ NS: ['1', '1e99999999999'] }), `${UNCONVERTIBLE}: 1e99999999999`);
  const deep = (depth: number, leaf: object): object => (depth === 0 ? leaf : { M: { n: deep(depth - 1, leaf) } });
  // Too deep before the number: nothing here, validateValue reports the nesting.
  assert.equal(parameterNumberProblem(deep(40, { N: '1e99999999999' })), undefined);
  assert.equal(parameterNumberProblem({ M: { d: deep(40, { S: 'x' }), bad: { N: '1e99999999999' } } }), undefined);
  assert.equal(parameterNumberProblem({ M: { bad: { N: '1e99999999999' }, d: deep(40, { S: 'x' }) } }), `${UNCONVERTIBLE}: 1e99999999999`);
});
