/**
 * PartiQL for DynamoDB, end to end: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction through
 * the official SDK v3 client (and raw signed calls where the exact `__type` and message bytes matter)
 * against one real Cellar. Messages are DynamoDB's (see docs/dynamodb.md for their sources).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, ExecuteStatementCommand, BatchExecuteStatementCommand, ExecuteTransactionCommand, QueryCommand, PutItemCommand,
  GetItemCommand, TransactionCanceledException, type AttributeValue, type CreateTableCommandInput, type ExecuteStatementCommandInput,
} from '@aws-sdk/client-dynamodb';
import { advanceClock, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall } from '../helpers/sign.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const VALIDATION = 'com.amazon.coral.validate#ValidationException';
const DDB = 'com.amazonaws.dynamodb.v20120810#';
const WELL_FORMED = "Statement wasn't well formed, can't be processed: ";

describe('DynamoDB PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction)', () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;

  const raw = async (op: string, body: unknown): Promise<{ status: number; json: Json }> => {
    const r = await jsonCall(cellar.endpoint, 'dynamodb', `DynamoDB_20120810.${op}`, JSON.stringify(body));
    return { status: r.status, json: r.json as Json };
  };
  /** The exact error of a raw call: HTTP 400, full `__type`, exact message (in the member its model shape names: `message` or `Message`). */
  const rejects = async (op: string, body: unknown, type: string, message: string): Promise<Json> => {
    const r = await raw(op, body);
    assert.deepEqual({ status: r.status, type: r.json?.__type, message: r.json?.message ?? r.json?.Message }, { status: 400, type: type === 'ValidationException' ? VALIDATION : DDB + type, message }, `${op} ${JSON.stringify(body).slice(0, 300)}`);
    return r.json;
  };
  const stmt = async (Statement: string, extra: Partial<ExecuteStatementCommandInput> = {}) => client.send(new ExecuteStatementCommand({ Statement, ...extra }));
  const fails = (Statement: string, type: string, message: string, extra: Json = {}) => rejects('ExecuteStatement', { Statement, ...extra }, type, message);
  const create = async (input: Partial<CreateTableCommandInput> & { TableName: string }): Promise<void> => {
    await client.send(new CreateTableCommand({ BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], ...input } as CreateTableCommandInput));
    await waitFor(async () => (await client.send(new DescribeTableCommand({ TableName: input.TableName }))).Table?.TableStatus === 'ACTIVE', `${input.TableName} ACTIVE`);
  };
  const get = async (TableName: string, Key: Record<string, AttributeValue>) => (await client.send(new GetItemCommand({ TableName, Key, ConsistentRead: true }))).Item;

  before(async () => {
    cellar = await startCellar({ args: ['--quiet'] });
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await create({
      TableName: 'music',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, { AttributeName: 'color', AttributeType: 'S' }, { AttributeName: 'rank', AttributeType: 'N' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [{ IndexName: 'byColor', KeySchema: [{ AttributeName: 'color', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
      LocalSecondaryIndexes: [{ IndexName: 'byRank', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'rank', KeyType: 'RANGE' }], Projection: { ProjectionType: 'ALL' } }],
    });
    await create({ TableName: 'hashed' });
  });
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  it('INSERT stores the item (literals, parameters, sets, maps, lists) and a second INSERT of the key is DuplicateItemException', async () => {
    const out = await stmt(`INSERT INTO hashed VALUE {'pk': 'a', 'n': 1.5, 'neg': -2, 'b': true, 'z': null, 'ss': <<'x', 'y'>>, 'ns': <<1, 2>>, 'm': {'in': [1, 'two', {'deep': 'v'}]}, 'p': ?, 'it''s': 'q'}`,
      { Parameters: [{ B: Buffer.from([1, 2, 3]) }] });
    assert.deepEqual(out.Items, []);
    const item = await get('hashed', { pk: { S: 'a' } });
    assert.deepEqual(item, {
      pk: { S: 'a' }, n: { N: '1.5' }, neg: { N: '-2' }, b: { BOOL: true }, z: { NULL: true }, ss: { SS: ['x', 'y'] }, ns: { NS: ['1', '2'] },
      m: { M: { in: { L: [{ N: '1' }, { S: 'two' }, { M: { deep: { S: 'v' } } }] } } }, p: { B: new Uint8Array([1, 2, 3]) }, "it's": { S: 'q' },
    });
    await fails(`INSERT INTO hashed VALUE {'pk': 'a'}`, 'DuplicateItemException', 'Duplicate primary key exists in table');
    await fails(`INSERT INTO "hashed" VALUE {'other': 'a'}`, 'ValidationException', 'Key attribute should be present in the item: Key pk');
    await fails(`INSERT INTO hashed VALUE {'pk': 1}`, 'ValidationException', "Key attribute's data type should match its data type in table's schema: Key pk");
    await fails(`INSERT INTO hashed VALUE {'pk': ?}`, 'ValidationException', "Number of parameters in request and statement don't match.");
    await fails(`INSERT INTO hashed VALUE {'pk': 'b', 'n': ?}`, 'ValidationException', 'The parameter cannot be converted to a numeric value: abc', { Parameters: [{ N: 'abc' }] });
    await fails(`INSERT INTO "music"."byColor" VALUE {'pk': 'a'}`, 'ValidationException', 'FROM clause may only contain a single table name in data manipulation statements at 1:13:17');
    await fails(`INSERT INTO hashed VALUE {'pk': 'b', 'e': <<>>}`, 'ValidationException', 'Empty bags are not supported');
    await fails(`INSERT INTO hashed VALUE {'pk': 'b', 'e': <<1, 'a'>>}`, 'ValidationException', 'Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags');
    await fails(`INSERT INTO nope VALUE {'pk': 'b'}`, 'ResourceNotFoundException', 'Requested resource not found');
    assert.equal(await get('hashed', { pk: { S: 'b' } }), undefined, 'refused INSERTs store nothing');
  });

  it('SELECT by key, by key condition (Query) and by filter (Scan), with projections, nested paths and functions', async () => {
    for (let sk = 1; sk <= 5; sk++) {
      await stmt(`INSERT INTO music VALUE {'pk': 'p', 'sk': ${sk}, 'color': '${sk % 2 ? 'red' : 'blue'}', 'rank': ${10 - sk}, 'name': 'n${sk}', 'info': {'tags': ['t${sk}'], 'size': ${sk * 10}}}`);
    }
    await stmt(`INSERT INTO music VALUE {'pk': 'q', 'sk': 1, 'color': 'red', 'name': 'other'}`);
    const one = await stmt(`SELECT * FROM music WHERE pk = 'p' AND sk = 3`);
    assert.equal(one.Items?.length, 1);
    assert.equal(one.Items?.[0]?.name?.S, 'n3');
    const range = await stmt(`SELECT sk FROM "music" WHERE "pk" = ? AND sk > 2`, { Parameters: [{ S: 'p' }] });
    assert.deepEqual(range.Items, [{ sk: { N: '3' } }, { sk: { N: '4' } }, { sk: { N: '5' } }]);
    const between = await stmt(`SELECT sk, info.tags[0] FROM music WHERE pk = 'p' AND sk BETWEEN 2 AND 3`);
    // Nested paths answer with their leaves, named by the last map key (list indexes appended).
    assert.deepEqual(between.Items, [{ sk: { N: '2' }, 'tags[0]': { S: 't2' } }, { sk: { N: '3' }, 'tags[0]': { S: 't3' } }]);
    const leaves = await stmt(`SELECT info.size, info.tags FROM music WHERE pk = 'p' AND sk = 4`);
    assert.deepEqual(leaves.Items, [{ size: { N: '40' }, tags: { L: [{ S: 't4' }] } }]);
    const desc = await stmt(`SELECT sk FROM music WHERE pk = 'p' AND sk < 3 ORDER BY sk DESC`);
    assert.deepEqual(desc.Items, [{ sk: { N: '2' } }, { sk: { N: '1' } }]);
    const descScan = await stmt(`SELECT sk FROM music WHERE pk = 'p' AND sk <> 3 ORDER BY sk DESC`);
    assert.deepEqual(descScan.Items, [{ sk: { N: '5' } }, { sk: { N: '4' } }, { sk: { N: '2' } }, { sk: { N: '1' } }]);
    const filtered = await stmt(`SELECT sk FROM music WHERE pk = 'p' AND info.size >= 30 AND color = 'red'`);
    assert.deepEqual(filtered.Items, [{ sk: { N: '3' } }, { sk: { N: '5' } }]);
    const scan = await stmt(`SELECT pk, sk FROM music WHERE name IN ('n2', 'other') OR (begins_with(name, 'n4') AND NOT contains(info.tags, 'zz'))`);
    assert.deepEqual(new Set(scan.Items?.map((i) => `${i.pk?.S}${i.sk?.N}`)), new Set(['p2', 'p4', 'q1']));
    const missing = await stmt(`SELECT pk FROM music WHERE info IS MISSING`);
    assert.deepEqual(missing.Items, [{ pk: { S: 'q' } }]);
    const typed = await stmt(`SELECT sk FROM music WHERE pk = 'p' AND info.size IS NUMERIC AND size(name) = 2 AND attribute_type(color, 'S') AND info IS NOT MISSING AND sk <> 1`);
    assert.deepEqual(typed.Items?.map((i) => i.sk?.N), ['2', '3', '4', '5']);
    const none = await stmt(`SELECT * FROM music WHERE pk = 'nobody'`);
    assert.deepEqual(none.Items, []);
    await fails(`SELECT * FROM music WHERE pk = 1`, 'ValidationException', "Key attribute's data type should match its data type in table's schema: Key pk");
  });

  it('SELECT from an index ("table"."index"), with its own key conditions, and the index errors', async () => {
    const red = await stmt(`SELECT pk, sk FROM "music"."byColor" WHERE color = 'red'`);
    assert.deepEqual(new Set(red.Items?.map((i) => `${i.pk?.S}${i.sk?.N}`)), new Set(['p1', 'p3', 'p5', 'q1']));
    const byRank = await stmt(`SELECT sk FROM music.byRank WHERE pk = 'p' AND rank <= 6`, { ConsistentRead: true });
    assert.deepEqual(byRank.Items, [{ sk: { N: '5' } }, { sk: { N: '4' } }]);
    await create({
      TableName: 'multikey', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'a', AttributeType: 'S' }, { AttributeName: 'b', AttributeType: 'N' }],
      GlobalSecondaryIndexes: [{ IndexName: 'byAB', KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
    });
    await client.send(new PutItemCommand({ TableName: 'multikey', Item: { pk: { S: 'm1' }, a: { S: 'x' }, b: { N: '1' } } }));
    await fails(`SELECT pk FROM multikey.byAB WHERE a = 'x' AND b = 1`, 'ValidationException', 'PartiQL statements cannot be executed on tables with multi-attribute HASH keys or multi-attribute RANGE keys.');
    await fails(`SELECT * FROM "music"."nope" WHERE color = 'red'`, 'ValidationException', 'The table does not have the specified index');
    await fails(`SELECT * FROM "music"."byColor" WHERE color = 'red'`, 'ValidationException', 'Strongly consistent read is not supported on Global Secondary Indexes', { ConsistentRead: true });
    await fails(`UPDATE "music"."byColor" SET x = 1 WHERE pk = 'p' AND sk = 1`, 'ValidationException', 'This operation is not supported on an index');
    await fails(`DELETE FROM "music"."byColor" WHERE pk = 'p' AND sk = 1`, 'ValidationException', 'This operation is not supported on an index');
  });

  it('Limit and NextToken page through every item; a token belongs to its statement and expires after an hour', async () => {
    for (let i = 0; i < 7; i++) await stmt(`INSERT INTO hashed VALUE {'pk': 'page${i}', 'kind': 'page'}`);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await stmt(`SELECT pk FROM hashed WHERE kind = 'page'`, { Limit: 3, ...(token ? { NextToken: token } : {}) });
      seen.push(...(out.Items ?? []).map((i) => i.pk!.S!));
      token = out.NextToken;
      assert.ok(++pages < 20, 'pagination ends');
    } while (token);
    assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4, 5, 6].map((i) => `page${i}`));
    const first = await stmt(`SELECT pk FROM hashed WHERE kind = ?`, { Limit: 2, Parameters: [{ S: 'page' }] });
    assert.ok(first.NextToken);
    await fails(`SELECT pk FROM hashed WHERE kind = ?`, 'ValidationException', 'NextToken does not match request', { Parameters: [{ S: 'other' }], NextToken: first.NextToken });
    await fails(`SELECT * FROM hashed`, 'ValidationException', 'NextToken does not match request', { NextToken: first.NextToken });
    await fails(`SELECT pk FROM hashed`, 'ValidationException', 'Invalid NextToken', { NextToken: 'not-a-token' });
    const again = await stmt(`SELECT pk FROM hashed WHERE kind = ?`, { Limit: 2, Parameters: [{ S: 'page' }], NextToken: first.NextToken });
    assert.equal(again.Items?.length, 2);
    assert.notDeepEqual(again.Items, first.Items);
    await advanceClock(cellar.endpoint, 60 * 60 * 1000);
    await fails(`SELECT pk FROM hashed WHERE kind = ?`, 'ValidationException', 'Given NextToken has already expired', { Parameters: [{ S: 'page' }], NextToken: first.NextToken });
  });

  it('UPDATE sets and removes attributes of an existing item, under its extra conditions, with RETURNING', async () => {
    await stmt(`INSERT INTO hashed VALUE {'pk': 'u', 'count': 1, 'tags': <<'a'>>, 'list': [1], 'gone': 'x'}`);
    const none = await stmt(`UPDATE hashed SET "count" = "count" + 2 SET "list" = list_append("list", [2]) REMOVE gone SET tags = set_add(tags, <<'b'>>), fresh = 'f' WHERE pk = 'u'`);
    assert.deepEqual(none.Items, []);
    assert.deepEqual(await get('hashed', { pk: { S: 'u' } }), { pk: { S: 'u' }, count: { N: '3' }, tags: { SS: ['a', 'b'] }, list: { L: [{ N: '1' }, { N: '2' }] }, fresh: { S: 'f' } });
    const allNew = await stmt(`UPDATE hashed SET "count" = 10 WHERE pk = 'u' AND "count" = 3 RETURNING ALL NEW *`);
    assert.equal(allNew.Items?.[0]?.count?.N, '10');
    assert.equal(allNew.Items?.[0]?.fresh?.S, 'f');
    const modifiedOld = await stmt(`UPDATE hashed SET "count" = 11 WHERE pk = 'u' RETURNING MODIFIED OLD *`);
    assert.deepEqual(modifiedOld.Items, [{ count: { N: '10' } }]);
    await fails(`UPDATE hashed SET "count" = 0 WHERE pk = 'u' AND "count" = 99`, 'ConditionalCheckFailedException', 'The conditional request failed');
    const withItem = await fails(`UPDATE hashed SET "count" = 0 WHERE pk = 'u' AND "count" = 99`, 'ConditionalCheckFailedException', 'The conditional request failed', { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' });
    assert.equal(withItem.Item?.count?.N, '11');
    await fails(`UPDATE hashed SET "count" = 0 WHERE pk = 'ghost'`, 'ConditionalCheckFailedException', 'The conditional request failed');
    assert.equal(await get('hashed', { pk: { S: 'ghost' } }), undefined, 'UPDATE never creates an item');
    await fails(`UPDATE hashed SET "count" = 0 WHERE "count" = 11`, 'ValidationException', 'Where clause does not contain a mandatory equality on all key attributes');
    await fails(`UPDATE hashed SET "count" = 0 WHERE pk = 'u' OR pk = 'v'`, 'ValidationException', 'Where clause does not contain a mandatory equality on all key attributes');
    await fails(`UPDATE hashed SET "count" = 0 WHERE pk = 'u' AND pk = 'v'`, 'ValidationException', 'Multiple conditions on same key pk. Only single item Update/Insert/Delete are supported');
    await fails(`UPDATE music SET "count" = 0 WHERE pk = 'p'`, 'ValidationException', 'Where clause does not contain a mandatory equality on all key attributes');
    await fails(`UPDATE hashed SET x = 1 WHERE pk = 1`, 'ValidationException', "Key attribute's data type should match its data type in table's schema: Key pk");
    assert.equal((await get('hashed', { pk: { S: 'u' } }))?.count?.N, '11', 'refused UPDATEs change nothing');
  });

  it('DELETE removes the item (RETURNING ALL OLD only), under its extra conditions; a missing item is not an error', async () => {
    await stmt(`INSERT INTO hashed VALUE {'pk': 'd', 'v': 1}`);
    await fails(`DELETE FROM hashed WHERE pk = 'd' AND v = 2`, 'ConditionalCheckFailedException', 'The conditional request failed');
    await fails(`DELETE FROM hashed WHERE pk = 'd' RETURNING ALL NEW *`, 'ValidationException', 'Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL OLD * is allowed in DELETE statements.');
    await fails(`DELETE FROM hashed WHERE pk = 'd' RETURNING MODIFIED OLD *`, 'ValidationException', 'Invalid returning clause: RETURNING MODIFIED OLD *. Only RETURNING ALL OLD * is allowed in DELETE statements.');
    const out = await stmt(`DELETE FROM hashed WHERE pk = 'd' AND v = 1 RETURNING ALL OLD *`);
    assert.deepEqual(out.Items, [{ pk: { S: 'd' }, v: { N: '1' } }]);
    assert.equal(await get('hashed', { pk: { S: 'd' } }), undefined);
    assert.deepEqual((await stmt(`DELETE FROM hashed WHERE pk = 'd'`)).Items, []);
    await fails(`DELETE FROM hashed`, 'ValidationException', 'Where clause does not contain a mandatory equality on all key attributes');
  });

  it('statements DynamoDB cannot read are refused with its messages', async () => {
    await fails(`SLECT * FROM hashed`, 'ValidationException', `${WELL_FORMED}Expected data manipulation`);
    await fails(`SELECT * FROM hashed AS t`, 'ValidationException', 'Aliasing is not supported');
    await fails(`SELECT *, pk FROM hashed`, 'ValidationException', "Other attributes should not be present in the projection when '*' is used.");
    await fails(`SELECT COUNT(*) FROM hashed`, 'ValidationException', 'Unexpected path component at 1:8:5');
    await fails(`SELECT * FROM a.b.c`, 'ValidationException', 'A path may contain at most 2 components in the FROM clause');
    await fails(`SELECT * FROM hashed WHERE pk = ?`, 'ValidationException', "Number of parameters in request and statement don't match.");
    // An empty Parameters list is refused by the model's constraint (AWS's answer, as recorded by LocalStack's
    // snapshot test test_dynamodb_execute_statement_empy_parameter), in each of the three operations.
    const EMPTY = "failed to satisfy constraint: Member must have length greater than or equal to 1";
    await fails(`SELECT * FROM hashed`, 'ValidationException', `1 validation error detected: Value '[]' at 'parameters' ${EMPTY}`, { Parameters: [] });
    await rejects('BatchExecuteStatement', { Statements: [{ Statement: `SELECT * FROM hashed WHERE pk = 'a'`, Parameters: [] }] }, 'ValidationException',
      `1 validation error detected: Value '[]' at 'statements.1.member.parameters' ${EMPTY}`);
    await rejects('ExecuteTransaction', { TransactStatements: [{ Statement: `SELECT * FROM hashed WHERE pk = 'a'`, Parameters: [] }] }, 'ValidationException',
      `1 validation error detected: Value '[]' at 'transactStatements.1.member.parameters' ${EMPTY}`);
    // Grammar refusals as DynamoDB words them (paritysuite's conformance suite, captured on AWS): a token after a
    // complete statement, a character no token starts with, a number BigDecimal cannot read; an INSERT's alias is a leftover.
    await fails(`SELECT * FROM hashed WHERE pk = 'a' foo`, 'ValidationException', `${WELL_FORMED}Unexpected token after expression`);
    await fails(`DELETE FROM hashed WHERE pk = 'a' ORDER BY pk`, 'ValidationException', `${WELL_FORMED}Unexpected token after expression`);
    await fails(`INSERT INTO "hashed" t VALUE {'pk': 'x'}`, 'ValidationException', `${WELL_FORMED}Unexpected token after expression`);
    await fails(`SELECT * FROM hashed WHERE pk = 'a' # note`, 'ValidationException', WELL_FORMED);
    await fails(`SELECT * FROM hashed WHERE pk = 'a' /* note`, 'ValidationException', WELL_FORMED);
    await fails(`SELECT * FROM hashed WHERE n = 1e2147483648`, 'ValidationException', WELL_FORMED);
    await fails(`SELECT * FROM hashed WHERE n = 1.5e-2147483647`, 'ValidationException', WELL_FORMED);
    // A number literal out of DynamoDB's range names where it sits; an INSERT's attributes are each at root.
    const OVER = 'Number overflow. Attempting to store a number with magnitude larger than supported range';
    await fails(`SELECT * FROM hashed WHERE pk = 'a' AND n = 1e126`, 'ValidationException', `${OVER} under root`);
    await fails(`SELECT * FROM hashed WHERE pk = 'a' AND n = 123456789012345678901234567890123456789`, 'ValidationException', 'Attempting to store more than 38 significant digits in a Number under root');
    await fails(`UPDATE hashed SET n = 1e-131 WHERE pk = 'a'`, 'ValidationException', 'Number underflow. Attempting to store a number with magnitude smaller than supported range under root');
    await fails(`INSERT INTO hashed VALUE {'pk': 'n1', 'n': 1e126}`, 'ValidationException', `${OVER} under root`);
    await fails(`INSERT INTO hashed VALUE {'pk': 'n1', 'm': {'x': 1e126}}`, 'ValidationException', `${OVER} under root.x`);
    await fails(`INSERT INTO hashed VALUE {'pk': 'n1', 'l': [1, 1e126]}`, 'ValidationException', `${OVER} under root[1]`);
    assert.equal(await get('hashed', { pk: { S: 'n1' } }), undefined, 'refused INSERTs store nothing');
    // A number parameter is read as BigDecimal reads it first: an exponent beyond 32 bits cannot be converted, in every
    // position and every operation; 1e2147483647 wraps to an underflow; too deep a value before it is the nesting.
    const UNCONVERTIBLE = 'The parameter cannot be converted to a numeric value: 1e99999999999';
    const huge: AttributeValue = { N: '1e99999999999' };
    for (const position of [`SELECT * FROM hashed WHERE pk = 'a' AND n = ?`, `INSERT INTO hashed VALUE {'pk': 'n2', 'n': ?}`, `UPDATE hashed SET n = ? WHERE pk = 'a'`]) {
      await fails(position, 'ValidationException', UNCONVERTIBLE, { Parameters: [huge] });
    }
    await fails(`SELECT * FROM hashed WHERE pk = 'a' AND n = ?`, 'ValidationException', 'Number underflow. Attempting to store a number with magnitude smaller than supported range', { Parameters: [{ N: '1e2147483647' }] });
    await fails(`SELECT * FROM hashed WHERE pk = 'a' AND n = ?`, 'ValidationException', UNCONVERTIBLE, { Parameters: [{ NS: ['1', '1e99999999999'] }] });
    let deep: AttributeValue = { S: 'leaf' };
    for (let i = 0; i < 40; i++) deep = { M: { n: deep } };
    const NEST = 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit';
    await fails(`SELECT * FROM hashed WHERE pk = 'a' AND x = ? AND y = ?`, 'ValidationException', NEST, { Parameters: [deep, huge] });
    await fails(`SELECT * FROM hashed WHERE pk = 'a' AND x = ? AND y = ?`, 'ValidationException', UNCONVERTIBLE, { Parameters: [huge, deep] });
    await rejects('ExecuteTransaction', { TransactStatements: [{ Statement: `UPDATE hashed SET n = ? WHERE pk = 'a'`, Parameters: [huge] }] }, 'ValidationException', UNCONVERTIBLE);
    const batch = await client.send(new BatchExecuteStatementCommand({ Statements: [{ Statement: `SELECT * FROM hashed WHERE pk = 'a' AND n = ?`, Parameters: [huge] }] }));
    assert.deepEqual(batch.Responses?.map((r) => r.Error), [{ Code: 'ValidationError', Message: UNCONVERTIBLE }]);
    assert.equal(await get('hashed', { pk: { S: 'n2' } }), undefined, 'refused INSERTs store nothing');
    // PartiQL's keywords (RETURNING's ALL, NEW, OLD among them) are no bare attribute or table names; quoted they are.
    await fails(`SELECT new FROM hashed`, 'ValidationException', `${WELL_FORMED}Unexpected keyword: new at 1:8`);
    await fails(`SELECT * FROM hashed WHERE pk = 'a' AND all = 1`, 'ValidationException', `${WELL_FORMED}Unexpected keyword: all at 1:41`);
    await fails(`UPDATE hashed REMOVE old WHERE pk = 'a'`, 'ValidationException', `${WELL_FORMED}Unexpected keyword: old at 1:22`);
    await fails(`SELECT * FROM "hashed" WHERE pk = 'a' AND key = 1`, 'ValidationException', `${WELL_FORMED}Unexpected keyword: key at 1:43`);
    assert.deepEqual((await stmt(`SELECT "new", "all", "old" FROM hashed WHERE pk = 'none'`)).Items, []);
    await fails(`SELECT * FROM hashed WHERE pk = MISSING`, 'ValidationException', 'MISSING must be compared using IS operator');
    await fails(`SELECT * FROM hashed WHERE nofn(pk)`, 'ValidationException', 'Unrecognized function: nofn');
    await fails(`SELECT * FROM hashed WHERE pk IS DATE`, 'ValidationException', 'Unsupported data type for IS operator: DATE. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]');
    await fails(`SELECT * FROM nope`, 'ResourceNotFoundException', 'Requested resource not found');
    await fails(`EXISTS(SELECT * FROM hashed WHERE pk = 'a' AND n = 1)`, 'ValidationException', 'EXISTS can only be used in ExecuteTransaction write requests.');
    await fails(`SELECT * FROM hashed WHERE pk = 'a'; SELECT * FROM hashed`, 'ValidationException', 'Only one operation is allowed in a statement.');
    await fails(`UPDATE hashed SET a = 1 WHERE pk = 'a' AND 'x`, 'ValidationException', `${WELL_FORMED}Unterminated string literal`);
    await fails(`SELECT * FROM hashed`, 'ValidationException', "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", { Limit: 0 });
    await rejects('ExecuteStatement', { Statement: '' }, 'ValidationException', "1 validation error detected: Value '' at 'statement' failed to satisfy constraint: Member must have length greater than or equal to 1");
    await rejects('BatchExecuteStatement', { Statements: [] }, 'ValidationException', "1 validation error detected: Value '[]' at 'statements' failed to satisfy constraint: Member must have length greater than or equal to 1");
  });

  it('writes go through the one write path: indexes, counters and capacity see them', async () => {
    const put = await stmt(`INSERT INTO music VALUE {'pk': 'w', 'sk': 1, 'color': 'green'}`, { ReturnConsumedCapacity: 'INDEXES' });
    assert.deepEqual(put.ConsumedCapacity, { TableName: 'music', CapacityUnits: 2, WriteCapacityUnits: 2, Table: { CapacityUnits: 1, WriteCapacityUnits: 1 }, GlobalSecondaryIndexes: { byColor: { CapacityUnits: 1, WriteCapacityUnits: 1 } } });
    const green = await client.send(new QueryCommand({ TableName: 'music', IndexName: 'byColor', KeyConditionExpression: 'color = :c', ExpressionAttributeValues: { ':c': { S: 'green' } } }));
    assert.deepEqual(green.Items?.map((i) => i.pk?.S), ['w']);
    await stmt(`UPDATE music SET color = 'teal' WHERE pk = 'w' AND sk = 1`);
    const teal = await stmt(`SELECT pk FROM music.byColor WHERE color = 'teal'`);
    assert.deepEqual(teal.Items, [{ pk: { S: 'w' } }]);
    assert.deepEqual((await stmt(`SELECT pk FROM music.byColor WHERE color = 'green'`)).Items, []);
    await stmt(`DELETE FROM music WHERE pk = 'w' AND sk = 1`);
    assert.deepEqual((await stmt(`SELECT pk FROM music.byColor WHERE color = 'teal'`)).Items, []);
    const read = await stmt(`SELECT * FROM music WHERE pk = 'p' AND sk = 1`, { ReturnConsumedCapacity: 'TOTAL', ConsistentRead: true });
    assert.deepEqual(read.ConsumedCapacity, { TableName: 'music', CapacityUnits: 1, ReadCapacityUnits: 1 });
  });

  it('BatchExecuteStatement: reads by key, writes with per-statement errors, and the whole-batch refusals', async () => {
    await stmt(`INSERT INTO hashed VALUE {'pk': 'b1', 'v': 1}`);
    const reads = await client.send(new BatchExecuteStatementCommand({
      Statements: [
        { Statement: `SELECT * FROM hashed WHERE pk = 'b1'` },
        { Statement: `SELECT v FROM hashed WHERE pk = ?`, Parameters: [{ S: 'none' }] },
        { Statement: `SELECT * FROM hashed WHERE v = 1` },
        { Statement: `SLECT * FROM hashed` },
        { Statement: `SELECT * FROM nope WHERE pk = 'x'` },
      ],
      ReturnConsumedCapacity: 'TOTAL',
    }));
    assert.deepEqual(reads.Responses, [
      { TableName: 'hashed', Item: { pk: { S: 'b1' }, v: { N: '1' } } },
      { TableName: 'hashed' },
      { Error: { Code: 'ValidationError', Message: 'Select statements within BatchExecuteStatement must specify the primary key in the where clause.' } },
      { Error: { Code: 'ValidationError', Message: `${WELL_FORMED}Expected data manipulation` } },
      { Error: { Code: 'ResourceNotFound', Message: 'Requested resource not found' } },
    ]);
    assert.deepEqual(reads.ConsumedCapacity, [{ TableName: 'hashed', CapacityUnits: 1, ReadCapacityUnits: 1 }]);
    const writes = await client.send(new BatchExecuteStatementCommand({
      Statements: [
        { Statement: `INSERT INTO hashed VALUE {'pk': 'b2'}` },
        { Statement: `INSERT INTO hashed VALUE {'pk': 'b1'}` },
        { Statement: `UPDATE hashed SET v = 2 WHERE pk = 'b1' AND v = 5`, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' },
        { Statement: `DELETE FROM hashed WHERE pk = 'b3'` },
        { Statement: `UPDATE hashed SET v = 3 WHERE pk = 'b4'` },
      ],
    }));
    assert.deepEqual(writes.Responses, [
      { TableName: 'hashed' },
      { TableName: 'hashed', Error: { Code: 'DuplicateItem', Message: 'Duplicate primary key exists in table' } },
      { TableName: 'hashed', Error: { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 'b1' }, v: { N: '1' } } } },
      { TableName: 'hashed' },
      { TableName: 'hashed', Error: { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' } },
    ]);
    assert.ok(await get('hashed', { pk: { S: 'b2' } }));
    await rejects('BatchExecuteStatement', { Statements: [{ Statement: `SELECT * FROM hashed WHERE pk = 'b1'` }, { Statement: `DELETE FROM hashed WHERE pk = 'b2'` }] },
      'ValidationException', 'Read and write requests together in the same batch is not supported.');
    await rejects('BatchExecuteStatement', { Statements: [{ Statement: `SELECT * FROM hashed WHERE pk = 'b1'` }, { Statement: `SELECT v FROM hashed WHERE pk = 'b1'` }] },
      'ValidationException', 'Provided list of item keys contains duplicates');
    assert.ok(await get('hashed', { pk: { S: 'b2' } }), 'a refused batch runs nothing');
  });
  it('ExecuteTransaction: all-or-nothing writes (INSERT, UPDATE, DELETE, EXISTS) with cancellation reasons in statement order', async () => {
    await stmt(`INSERT INTO hashed VALUE {'pk': 't1', 'n': 1}`);
    await stmt(`INSERT INTO hashed VALUE {'pk': 't2', 'n': 2}`);
    const ok = await client.send(new ExecuteTransactionCommand({
      TransactStatements: [
        { Statement: `EXISTS(SELECT * FROM hashed WHERE pk = 't1' AND n = 1)` },
        { Statement: `INSERT INTO hashed VALUE {'pk': ?, 'n': 3}`, Parameters: [{ S: 't3' }] },
        { Statement: `UPDATE hashed SET n = n + 10 WHERE pk = 't2'` },
        { Statement: `DELETE FROM hashed WHERE pk = 't4'` },
      ],
      ReturnConsumedCapacity: 'TOTAL',
    }));
    // Two units per item; the EXISTS (a ConditionCheck) is charged as a read.
    assert.deepEqual(ok.ConsumedCapacity, [{ TableName: 'hashed', CapacityUnits: 8, ReadCapacityUnits: 2, WriteCapacityUnits: 6 }]);
    assert.equal((await get('hashed', { pk: { S: 't2' } }))?.n?.N, '12');
    assert.equal((await get('hashed', { pk: { S: 't3' } }))?.n?.N, '3');
    const cancelled = await client.send(new ExecuteTransactionCommand({
      TransactStatements: [
        { Statement: `UPDATE hashed SET n = 100 WHERE pk = 't2'` },
        { Statement: `INSERT INTO hashed VALUE {'pk': 't3'}` },
        { Statement: `EXISTS(SELECT * FROM hashed WHERE pk = 't1' AND n = 5)`, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' },
        { Statement: `UPDATE hashed SET n = 1 WHERE pk = 'ghost'` },
      ],
    })).then(() => undefined, (e: unknown) => e);
    assert.ok(cancelled instanceof TransactionCanceledException, String(cancelled));
    assert.equal(cancelled.message, 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, DuplicateItem, ConditionalCheckFailed, ConditionalCheckFailed]');
    assert.deepEqual(cancelled.CancellationReasons, [
      { Code: 'None' },
      { Code: 'DuplicateItem', Message: 'Duplicate primary key exists in table' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: { pk: { S: 't1' }, n: { N: '1' } } },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
    ]);
    assert.equal((await get('hashed', { pk: { S: 't2' } }))?.n?.N, '12', 'a cancelled transaction changes nothing');
    assert.equal(await get('hashed', { pk: { S: 'ghost' } }), undefined);
    // A ClientRequestToken makes the transaction idempotent: a repeat applies nothing, other statements are refused.
    const once = { TransactStatements: [{ Statement: `UPDATE hashed SET n = n + 1 WHERE pk = 't1'` }], ClientRequestToken: 'partiql-token-1' };
    await client.send(new ExecuteTransactionCommand(once));
    await client.send(new ExecuteTransactionCommand(once));
    assert.equal((await get('hashed', { pk: { S: 't1' } }))?.n?.N, '2');
    // The mismatch carries no message (as TransactWriteItems answers it, see transactions/cancellation.ts).
    const mismatch = await raw('ExecuteTransaction', { ...once, TransactStatements: [{ Statement: `UPDATE hashed SET n = n + 5 WHERE pk = 't1'` }] });
    assert.deepEqual([mismatch.status, mismatch.json], [400, { __type: `${DDB}IdempotentParameterMismatchException` }]);
    assert.equal((await get('hashed', { pk: { S: 't1' } }))?.n?.N, '2');
  });

  it('ExecuteTransaction: reads by key, and the refusals of mixed, index, keyless and RETURNING statements', async () => {
    const reads = await client.send(new ExecuteTransactionCommand({
      TransactStatements: [
        { Statement: `SELECT n FROM hashed WHERE pk = 't2'` },
        { Statement: `SELECT * FROM hashed WHERE pk = 'nobody'` },
        { Statement: `SELECT * FROM music WHERE pk = 'p' AND sk = 2` },
      ],
    }));
    assert.equal(reads.Responses?.length, 3);
    assert.deepEqual(reads.Responses?.[0], { Item: { n: { N: '12' } } });
    assert.deepEqual(reads.Responses?.[1], {});
    assert.equal(reads.Responses?.[2]?.Item?.name?.S, 'n2');
    const tx = (statements: string[]) => ({ TransactStatements: statements.map((Statement) => ({ Statement })) });
    await rejects('ExecuteTransaction', tx([`SELECT * FROM hashed WHERE pk = 't1'`, `DELETE FROM hashed WHERE pk = 't2'`]), 'ValidationException',
      'ExecuteTransaction API does not support both read and write operations in the same request.');
    await rejects('ExecuteTransaction', tx([`SELECT * FROM "music"."byColor" WHERE color = 'red'`]), 'ValidationException', 'Reads on indices are not supported within transactions.');
    await rejects('ExecuteTransaction', tx([`SELECT * FROM hashed WHERE n = 1`]), 'ValidationException', 'Select statements within ExecuteTransaction must specify the primary key in the where clause.');
    await rejects('ExecuteTransaction', tx([`DELETE FROM hashed WHERE pk = 't1'`, `DELETE FROM hashed WHERE pk = 't2' RETURNING ALL OLD *`]), 'ValidationException',
      'Validation failed in TransactStatements[1]: RETURNING clause is not supported in ExecuteTransaction.');
    await rejects('ExecuteTransaction', tx([`EXISTS(SELECT * FROM hashed WHERE pk = 't1')`]), 'ValidationException', 'EXISTS() must contain a single item read with additional condition');
    await rejects('ExecuteTransaction', tx([`UPDATE hashed SET n = 1 WHERE pk = 't1'`, `DELETE FROM hashed WHERE pk = 't1'`]), 'ValidationException',
      'Transaction request cannot include multiple operations on one item');
    assert.ok(await get('hashed', { pk: { S: 't1' } }), 'refused transactions change nothing');
  });
});
