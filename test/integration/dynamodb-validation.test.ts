/**
 * DynamoDB's validation, table-driven: each row (dynamodb-validation-rows.ts, taken from dynalite's suite, whose
 * expectations were recorded against the live service) is one raw signed request to a real Cellar and the exact
 * error DynamoDB answers it with: HTTP 400, the full `__type`, the message to the character (a pattern only where
 * AWS's text carries something that varies, such as a Java object rendering; the exact set of constraint failures
 * for "N validation errors detected"). Raw requests, so that no SDK client-side check stands in between.
 *
 * The tables the rows name are dynalite's five test tables, created here with dynalite's definitions.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall } from '../helpers/sign.js';
import { validationRows, type ValidationRow } from './dynamodb-validation-rows.js';

const NAMESPACE: Record<string, string> = {
  ValidationException: 'com.amazon.coral.validate#',
  AccessDeniedException: 'com.amazon.coral.service#',
};
const DYNAMODB_NAMESPACE = 'com.amazonaws.dynamodb.v20120810#';

const throughput = { ReadCapacityUnits: 10, WriteCapacityUnits: 5 };
/** dynalite's test tables (test/helpers.js createTestTables), under the names the rows use. */
const TABLES = [
  {
    TableName: '__dynalite_test_1', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }],
    KeySchema: [{ KeyType: 'HASH', AttributeName: 'a' }], ProvisionedThroughput: throughput,
  },
  {
    TableName: '__dynalite_test_2', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'N' }],
    KeySchema: [{ KeyType: 'HASH', AttributeName: 'a' }], BillingMode: 'PAY_PER_REQUEST',
  },
  {
    TableName: '__dynalite_test_3',
    AttributeDefinitions: ['a', 'b', 'c', 'd'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [{ KeyType: 'HASH', AttributeName: 'a' }, { KeyType: 'RANGE', AttributeName: 'b' }],
    ProvisionedThroughput: throughput,
    LocalSecondaryIndexes: [
      { IndexName: 'index1', KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'c', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } },
      { IndexName: 'index2', KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'd', KeyType: 'RANGE' }], Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['c'] } },
    ],
    GlobalSecondaryIndexes: [
      { IndexName: 'index3', KeySchema: [{ AttributeName: 'c', KeyType: 'HASH' }], ProvisionedThroughput: throughput, Projection: { ProjectionType: 'ALL' } },
      {
        IndexName: 'index4', KeySchema: [{ AttributeName: 'c', KeyType: 'HASH' }, { AttributeName: 'd', KeyType: 'RANGE' }], ProvisionedThroughput: throughput,
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['e'] },
      },
    ],
  },
  {
    TableName: '__dynalite_test_4', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }, { AttributeName: 'b', AttributeType: 'N' }],
    KeySchema: [{ KeyType: 'HASH', AttributeName: 'a' }, { KeyType: 'RANGE', AttributeName: 'b' }], ProvisionedThroughput: throughput,
  },
  {
    TableName: '__dynalite_test_5', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }, { AttributeName: 'b', AttributeType: 'B' }],
    KeySchema: [{ KeyType: 'HASH', AttributeName: 'a' }, { KeyType: 'RANGE', AttributeName: 'b' }], ProvisionedThroughput: throughput,
  },
];

/** Why a message differs from the row's expectation, or undefined when it matches. */
function mismatch(expected: ValidationRow['message'], actual: unknown): string | undefined {
  if (typeof actual !== 'string') return `no message: ${JSON.stringify(actual)}`;
  if (typeof expected === 'string') return actual === expected ? undefined : `expected ${JSON.stringify(expected)}`;
  if (expected instanceof RegExp) return expected.test(actual) ? undefined : `expected to match ${String(expected)}`;
  const n = expected.errors.length;
  const head = `${n} validation error${n === 1 ? '' : 's'} detected: `;
  if (!actual.startsWith(head)) return `expected to start with ${JSON.stringify(head)}`;
  const parts = actual.slice(head.length).split('; ');
  if (parts.length !== n) return `expected ${n} constraint failures: ${JSON.stringify(expected.errors.map(String))}`;
  for (const e of expected.errors) {
    if (!parts.some((p) => (typeof e === 'string' ? p === e : e.test(p)))) return `missing ${JSON.stringify(String(e))}`;
  }
  return undefined;
}

describe('DynamoDB validation: AWS order and messages, table-driven', () => {
  let cellar: CellarProcess;
  const call = (op: string, body: unknown) => jsonCall(cellar.endpoint, 'dynamodb', `DynamoDB_20120810.${op}`, JSON.stringify(body));
  let rows: ValidationRow[] = [];

  before(async () => {
    cellar = await startCellar({ args: ['--quiet'], inMemory: true });
    for (const t of TABLES) {
      const r = await call('CreateTable', t);
      assert.equal(r.status, 200, r.text);
    }
    const d = await call('DescribeTable', { TableName: TABLES[0]!.TableName });
    rows = validationRows(String(d.json.Table.TableArn).split(':')[4]!);
  });
  after(async () => {
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  const OPERATIONS = ['BatchGetItem', 'BatchWriteItem', 'CreateTable', 'DeleteItem', 'DeleteTable', 'DescribeTable', 'GetItem', 'ListTables', 'ListTagsOfResource',
    'PutItem', 'Query', 'Scan', 'TagResource', 'UntagResource', 'UpdateItem', 'UpdateTable'];
  for (const op of OPERATIONS) {
    it(`${op}: every row gets its error, status and message`, async () => {
      const mine = rows.filter((row) => row.op === op);
      const failures: string[] = [];
      for (const row of mine) {
        const r = await call(row.op, row.input);
        const body = (r.json ?? {}) as Record<string, unknown>;
        const type = NAMESPACE[row.error] ?? DYNAMODB_NAMESPACE;
        const message = row.error === 'AccessDeniedException' ? body.Message : body.message;
        const why = r.status !== 400 ? `status ${r.status}` : body.__type !== type + row.error ? `type ${String(body.__type)}` : mismatch(row.message, message);
        if (why) failures.push(`${row.from}\n    ${JSON.stringify(row.input).slice(0, 300)}\n    ${why}\n    got ${String(body.__type)}: ${String(message ?? r.text).slice(0, 600)}`);
      }
      assert.ok(mine.length > 0, `rows for ${op}`);
      assert.deepEqual(failures, [], `${failures.length} of ${mine.length} rows differ:\n${failures.join('\n')}`);
    });
  }
  // Beyond dynalite's rows: the cases around them that Cellar must also get right.

  const keyElement = (AttributeName: string, KeyType: string) => ({ AttributeName, KeyType });
  const defined = ['h', 'r', 'x', 'y'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' }));

  it('a table KeySchema has at most two elements; an LSI\'s too; a GSI\'s may have more (multi-attribute keys)', async () => {
    const table = await call('CreateTable', {
      TableName: 'three_key_table', AttributeDefinitions: defined.slice(0, 3), BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [keyElement('h', 'HASH'), keyElement('r', 'RANGE'), keyElement('x', 'RANGE')],
    });
    assert.equal(table.status, 400, table.text);
    assert.equal(table.json.__type, 'com.amazon.coral.validate#ValidationException');
    assert.match(table.json.message, /^1 validation error detected: Value '\[.+\]' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2$/);

    // AWS's text for an LSI is not recorded anywhere public; this is the same constraint, rendered at the LSI's path.
    const lsi = await call('CreateTable', {
      TableName: 'three_key_lsi', AttributeDefinitions: defined, BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [keyElement('h', 'HASH'), keyElement('r', 'RANGE')],
      LocalSecondaryIndexes: [{ IndexName: 'lsi', KeySchema: [keyElement('h', 'HASH'), keyElement('x', 'RANGE'), keyElement('y', 'RANGE')], Projection: { ProjectionType: 'ALL' } }],
    });
    assert.equal(lsi.status, 400, lsi.text);
    assert.match(lsi.json.message, /^1 validation error detected: Value '\[.+\]' at 'localSecondaryIndexes\.1\.member\.keySchema' failed to satisfy constraint: Member must have length less than or equal to 2$/);
    for (const name of ['three_key_table', 'three_key_lsi']) {
      const d = await call('DescribeTable', { TableName: name });
      assert.equal(d.status, 400, `${name} was not created`);
      assert.match(String(d.json.__type), /ResourceNotFoundException$/);
    }

    const gsi = await call('CreateTable', {
      TableName: 'three_key_gsi', AttributeDefinitions: defined, BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [keyElement('h', 'HASH')],
      GlobalSecondaryIndexes: [{ IndexName: 'gsi', KeySchema: [keyElement('r', 'HASH'), keyElement('x', 'HASH'), keyElement('y', 'RANGE')], Projection: { ProjectionType: 'ALL' } }],
    });
    assert.equal(gsi.status, 200, gsi.text);
    assert.equal(gsi.json.TableDescription.GlobalSecondaryIndexes[0].KeySchema.length, 3);
    assert.equal((await call('DeleteTable', { TableName: 'three_key_gsi' })).status, 200);
  });

  it('a parenthesized path goes on as a path: (b.c).d reads b.c.d', async () => {
    const TableName = TABLES[0]!.TableName;
    const item = { a: { S: 'grouped-path' }, b: { M: { c: { M: { d: { S: 'deep' } } } } } };
    assert.equal((await call('PutItem', { TableName, Item: item })).status, 200);
    const r = await call('Scan', { TableName, FilterExpression: '(b.c).d = :v AND a = :a', ExpressionAttributeValues: { ':v': { S: 'deep' }, ':a': { S: 'grouped-path' } } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.Items, [item]);
    const listStep = await call('Scan', { TableName, FilterExpression: '(b).c.d = :v', ExpressionAttributeValues: { ':v': { S: 'deep' } } });
    assert.equal(listStep.status, 200, listStep.text);
    assert.equal(listStep.json.Count, 1);
  });

  it('UpdateItem refuses a write of the wrong type to an index key before reading the item, and changes nothing', async () => {
    const TableName = '__dynalite_test_3';
    const Key = { a: { S: 'typed-index' }, b: { S: 'key' } };
    assert.equal((await call('PutItem', { TableName, Item: { ...Key, c: { S: 'before' } } })).status, 200);
    for (const UpdateExpression of ['SET c = :n', 'SET c = if_not_exists(c, :n)', 'SET c = c + :n', 'ADD c :n']) {
      const r = await call('UpdateItem', { TableName, Key, UpdateExpression, ExpressionAttributeValues: { ':n': { N: '1' } } });
      assert.equal(r.status, 400, `${UpdateExpression}: ${r.text}`);
      assert.match(r.json.message, /^One or more parameter values were invalid: Type mismatch for Index Key c Expected: S Actual: N IndexName: index\d$/, UpdateExpression);
    }
    const g = await call('GetItem', { TableName, Key, ConsistentRead: true });
    assert.deepEqual(g.json.Item, { ...Key, c: { S: 'before' } });
    const ok = await call('UpdateItem', { TableName, Key, UpdateExpression: 'SET c = if_not_exists(c, :s)', ExpressionAttributeValues: { ':s': { S: 'fallback' } }, ReturnValues: 'ALL_NEW' });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.Attributes.c, { S: 'before' });
  });
});
