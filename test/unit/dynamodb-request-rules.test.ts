/**
 * request-rules.ts as a pure module: the order of DynamoDB's pre-lookup checks, the Query key walk, key attribute
 * paths, and the wrapper the gateway calls (rules first, then the provider; the provider's other members reachable).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/core/errors.js';
import { checkKeyPaths, checkQueryKey, precheck, requestRules, withRequestRules } from '../../src/services/dynamodb/request-rules.js';

function refuses(fn: () => void, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ServiceError && e.code === 'ValidationException' && e.message === message);
}

describe('DynamoDB request rules', () => {
  it('Query: the first problem in DynamoDB order wins', () => {
    // The QueryFilter's argument count is checked before the missing key condition.
    refuses(() => requestRules.query!({ TableName: 't', QueryFilter: { a: { ComparisonOperator: 'EQ' } } }),
      'One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator');
    refuses(() => requestRules.query!({ TableName: 't' }), 'Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
    refuses(() => requestRules.query!({ TableName: 't', KeyConditionExpression: 'a > b and size(b) > c or a > c' }), 'Invalid operator used in KeyConditionExpression: OR');
    refuses(() => requestRules.query!({ TableName: 't', KeyConditionExpression: 'a > size(b)' }), 'KeyConditionExpressions cannot contain nested operations');
    refuses(() => requestRules.query!({ TableName: 't', KeyConditions: {} }), 'Conditions can be of length 1 or 2 only');
    // An index's key may name up to eight attributes (multi-attribute GSI keys).
    const eq = { ComparisonOperator: 'EQ', AttributeValueList: [{ S: 'x' }] };
    assert.doesNotThrow(() => requestRules.query!({ TableName: 't', IndexName: 'i', KeyConditions: { a: eq, b: eq, c: eq } }));
  });

  it('expressions: the first comparison with a problem reports its own, whatever later comparisons hold', () => {
    refuses(() => requestRules.scan!({ TableName: 't', FilterExpression: 'a = a AND #a = b AND :views > a', ExpressionAttributeNames: { '#a': 'a' } }),
      'Invalid FilterExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]');
    refuses(() => requestRules.scan!({ TableName: 't', FilterExpression: ':views > a AND a = a' }),
      'Invalid FilterExpression: An expression attribute value used in expression is not defined; attribute value: :views');
  });

  it('Scan: Segment and TotalSegments are tested for truth, as DynamoDB does', () => {
    assert.doesNotThrow(() => requestRules.scan!({ TableName: 't', Segment: 0 }));
    refuses(() => requestRules.scan!({ TableName: 't', Segment: 1 }), 'The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
    refuses(() => requestRules.scan!({ TableName: 't', Segment: 2, TotalSegments: 2 }), 'The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 2 is not less than TotalSegments: 2');
  });

  it('CreateTable: billing, key schema, then indexes', () => {
    const base = { TableName: 't', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'a', AttributeType: 'S' }] };
    refuses(() => requestRules.createTable!({ ...base, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 }, KeySchema: [{ AttributeName: 'z', KeyType: 'HASH' }] }),
      'One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST');
    refuses(() => requestRules.createTable!({ ...base, KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }, { AttributeName: 'b', KeyType: 'RANGE' }] }),
      'Invalid KeySchema: Some index key attribute have no definition');
    refuses(() => requestRules.createTable!({ ...base, KeySchema: [{ AttributeName: 'a', KeyType: 'HASH' }], LocalSecondaryIndexes: [] }),
      'One or more parameter values were invalid: List of LocalSecondaryIndexes is empty');
  });

  it('the table operations word a missing or mis-sized TableName before the constraint list', () => {
    refuses(() => precheck('DescribeTable', {}), "The parameter 'TableName' is required but was not present in the request");
    refuses(() => precheck('DeleteTable', { TableName: 'ab' }), 'TableName must be at least 3 characters long and at most 255 characters long');
    assert.doesNotThrow(() => precheck('GetItem', {}));
    assert.doesNotThrow(() => precheck('DescribeTable', { TableName: 'arn:aws:dynamodb:us-east-1:000000000000:table/t' }));
  });

  it('Query key walk: start key, then each key attribute in turn', () => {
    const key = [{ name: 'a', type: 'S' }, { name: 'b', type: 'N' }];
    const noCheck = () => undefined;
    const eq = (v: unknown) => ({ ComparisonOperator: 'EQ', AttributeValueList: [v] });
    refuses(() => checkQueryKey({ KeyConditions: { a: eq({ S: 'x' }) }, ExclusiveStartKey: { a: { S: 'x' } } }, key, ['a', 'b'], noCheck), 'The provided starting key is invalid');
    refuses(() => checkQueryKey({ KeyConditions: { a: eq({ S: 'x' }) }, ExclusiveStartKey: { a: { N: '1' }, b: { N: '1' } } }, key, ['a', 'b'], noCheck), 'The provided key element does not match the schema');
    refuses(() => checkQueryKey({ KeyConditions: { b: eq({ N: '1' }) } }, key, ['a', 'b'], noCheck), 'Query condition missed key schema element: a');
    refuses(() => checkQueryKey({ KeyConditions: { a: { ComparisonOperator: 'NULL' } } }, key, ['a', 'b'], noCheck), 'Attempted conditional constraint is not an indexable operation');
    refuses(() => checkQueryKey({ KeyConditionExpression: 'a = :v', ExpressionAttributeValues: { ':v': { N: '1' } } }, key, ['a', 'b'], noCheck),
      'One or more parameter values were invalid: Condition parameter type does not match schema type');
    refuses(() => checkQueryKey({ KeyConditionExpression: ':v < a', ExpressionAttributeValues: { ':v': { S: '1' } } }, key, ['a', 'b'], noCheck), 'Query key condition not supported');
    assert.doesNotThrow(() => checkQueryKey({ KeyConditionExpression: 'a = :v AND b > :n', ExpressionAttributeValues: { ':v': { S: '1' }, ':n': { N: '1' } } }, key, ['a', 'b'], noCheck));
  });

  it('paths into key attributes: the table key first, then index keys', () => {
    refuses(() => checkKeyPaths([['a', 'b']], ['a'], ['d']), "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: a");
    refuses(() => checkKeyPaths([['x'], ['d', 0]], ['a'], ['d']), "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: d");
    assert.doesNotThrow(() => checkKeyPaths([['a'], ['x', 'y']], ['a'], ['d']));
  });

  it('the wrapper runs the rules, then the provider method with the provider as this; other members read through', () => {
    class Provider {
      readonly log = { entries: 3 };
      calls = 0;
      getItem(input: unknown): unknown {
        this.calls++;
        return input;
      }
      describeLimits(): number {
        return this.calls;
      }
    }
    const p = new Provider();
    const w = withRequestRules(p);
    refuses(() => w.getItem({ TableName: 't', Key: { a: { S: 'x' } }, AttributesToGet: ['a', 'a'] }), 'One or more parameter values were invalid: Duplicate value in attribute name: a');
    assert.equal(p.calls, 0, 'a refused request does not reach the provider');
    const ok = { TableName: 't', Key: { a: { S: 'x' } } };
    assert.equal(w.getItem(ok), ok);
    assert.equal(w.describeLimits(), 1);
    assert.equal(w.log.entries, 3);
  });
});
