/**
 * @module services/dynamodb/request-rules
 * The checks DynamoDB makes on a request after its shape is valid and before it looks up any table, in DynamoDB's
 * own order: which problem a request with several gets reported for is part of the API (SDK retries, tools and
 * tests match on it). The order and texts follow dynalite's validation tables, which were written against the live
 * service, and its test suite (test/integration/dynamodb-validation.test.ts replays those cases).
 *
 * Each rule throws the first problem as a ValidationException and changes nothing; the provider then makes the
 * checks that need the table (key schema, indexes, key attributes in updates) as before.
 */
import { validationError } from '../../core/errors.js';
import { type AttributeValue, compareScalars, itemSize, MAX_ITEM_BYTES, typeOf, validateValue } from './attributes.js';
import { checkStyleMix, comparison, type LegacyCondition, type LegacyUpdate } from './expressions/legacy.js';
import type { Condition, Operand, Path, SetValue, UpdateAction } from './expressions/ast.js';
import { checkGlobalIndexKeySchema } from './indexes/keys.js';
import { checkPlaceholderMaps, checkUnused, newContext, parseCondition, parseProjection, parseUpdate } from './expressions/parser.js';

type Input = Record<string, unknown>;
type AttributeMap = Record<string, unknown>;

const INVALID = 'One or more parameter values were invalid: ';
/** The largest provisioned capacity DynamoDB accepts before it says the value is out of bounds. */
const MAX_CAPACITY_UNITS = 1_000_000_000_000;

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

function checkValues(map: unknown, wrap: (msg: string) => string = (m) => m): void {
  if (!map || typeof map !== 'object') return;
  for (const v of Object.values(map as AttributeMap)) {
    const msg = validateValue(v);
    if (msg) throw validationError(wrap(msg));
  }
}

function checkNoDuplicateNames(names: unknown): void {
  if (!Array.isArray(names)) return;
  const seen = new Set<unknown>();
  for (const n of names) {
    if (seen.has(n)) throw validationError(`${INVALID}Duplicate value in attribute name: ${String(n)}`);
    seen.add(n);
  }
}

/** An ExclusiveStartKey's values; DynamoDB prefixes only some of the value messages with "starting key". */
function checkStartKeyValues(esk: unknown): void {
  checkValues(esk, (msg) => (/contains duplicates|number set|numeric value|significant digits|number with magnitude/.test(msg) ? msg : `The provided starting key is invalid: ${msg}`));
}

/** QueryFilter, ScanFilter, KeyConditions: each condition's values, argument count, types and BETWEEN's bounds. */
function checkConditions(conditions: unknown): void {
  if (!conditions || typeof conditions !== 'object') return;
  for (const [attr, c] of Object.entries(conditions as Record<string, LegacyCondition>)) {
    comparison(attr, c.ComparisonOperator ?? '', c.AttributeValueList ?? []);
  }
}

const ARGUMENTS: Record<string, (n: number) => boolean> = {
  EQ: (n) => n === 1, NE: (n) => n === 1, LE: (n) => n === 1, LT: (n) => n === 1, GE: (n) => n === 1, GT: (n) => n === 1,
  CONTAINS: (n) => n === 1, NOT_CONTAINS: (n) => n === 1, BEGINS_WITH: (n) => n === 1,
  NULL: (n) => n === 0, NOT_NULL: (n) => n === 0, IN: (n) => n > 0, BETWEEN: (n) => n === 2,
};

/** Expected (PutItem, UpdateItem, DeleteItem), in DynamoDB's order of checks. */
function checkExpected(expected: unknown): void {
  if (!expected || typeof expected !== 'object') return;
  for (const [attr, c] of Object.entries(expected as Record<string, LegacyCondition>)) {
    if (c.AttributeValueList !== undefined && c.Value !== undefined) throw validationError(`${INVALID}Value and AttributeValueList cannot be used together for Attribute: ${attr}`);
    if (c.ComparisonOperator !== undefined) {
      const op = c.ComparisonOperator;
      if (c.Exists !== undefined) throw validationError(`${INVALID}Exists and ComparisonOperator cannot be used together for Attribute: ${attr}`);
      if (op !== 'NULL' && op !== 'NOT_NULL' && c.AttributeValueList === undefined && c.Value === undefined) {
        throw validationError(`${INVALID}Value or AttributeValueList must be used with ComparisonOperator: ${op} for Attribute: ${attr}`);
      }
      const values = c.AttributeValueList ?? (c.Value ? [c.Value] : []);
      if (!ARGUMENTS[op]?.(values.length)) throw validationError(`${INVALID}Invalid number of argument(s) for the ${op} ComparisonOperator`);
      if (c.AttributeValueList?.length) {
        const type = Object.keys(c.AttributeValueList[0]!)[0];
        if (c.AttributeValueList.some((v) => Object.keys(v)[0] !== type)) throw validationError(`${INVALID}AttributeValues inside AttributeValueList must be of same type`);
        if (op === 'BETWEEN') {
          const order = compareScalars(c.AttributeValueList[0]!, c.AttributeValueList[1]!);
          if (order !== undefined && order > 0) throw validationError('The BETWEEN condition was provided a range where the lower bound is greater than the upper bound');
        }
      }
    } else if (c.AttributeValueList !== undefined) {
      throw validationError(`${INVALID}AttributeValueList can only be used with a ComparisonOperator for Attribute: ${attr}`);
    } else {
      const exists = c.Exists === undefined || c.Exists;
      if (exists && c.Value === undefined) throw validationError(`${INVALID}Value must be provided when Exists is ${c.Exists === undefined ? 'null' : String(c.Exists)} for Attribute: ${attr}`);
      if (!exists && c.Value !== undefined) throw validationError(`${INVALID}Value cannot be used when Exists is false for Attribute: ${attr}`);
      if (c.Value !== undefined) {
        const msg = validateValue(c.Value);
        if (msg) throw validationError(msg);
      }
    }
  }
}

/**
 * The placeholder maps, then each expression parsed in DynamoDB's order (update, condition, key condition, filter,
 * projection), then unused placeholders. Key attributes are not known here: the provider parses an UpdateExpression
 * again with them.
 */
function checkExpressions(input: Input): Condition | undefined {
  const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
  const values = input.ExpressionAttributeValues as Record<string, AttributeValue> | undefined;
  checkPlaceholderMaps(names, values, validateValue);
  const ctx = newContext(names, values);
  if (typeof input.UpdateExpression === 'string') parseUpdate(input.UpdateExpression, ctx, []);
  if (typeof input.ConditionExpression === 'string') parseCondition(input.ConditionExpression, 'ConditionExpression', ctx);
  const keyCondition = typeof input.KeyConditionExpression === 'string' ? parseCondition(input.KeyConditionExpression, 'KeyConditionExpression', ctx) : undefined;
  if (typeof input.FilterExpression === 'string') parseCondition(input.FilterExpression, 'FilterExpression', ctx);
  if (typeof input.ProjectionExpression === 'string') parseProjection(input.ProjectionExpression, ctx);
  checkUnused(ctx);
  return keyCondition;
}

/** DynamoDB's text for a condition kind a KeyConditionExpression may not use, or undefined. */
export function invalidKeyConditionOperator(c: Condition): string | undefined {
  const name = c.k === 'or' || c.k === 'not' || c.k === 'in' ? c.k.toUpperCase()
    : c.k === 'exists' ? 'attribute_exists' : c.k === 'not_exists' ? 'attribute_not_exists' : c.k === 'type' ? 'attribute_type' : c.k === 'contains' ? 'contains' : undefined;
  return name === undefined ? undefined : `Invalid operator used in KeyConditionExpression: ${name}`;
}

/**
 * A KeyConditionExpression's shape, before any table is known: only AND, comparisons (not <>), BETWEEN and
 * begins_with, each on one top-level attribute, one condition per attribute. Walked as DynamoDB walks it (each node
 * before its operands, operands left to right). Returns how many key attributes it names.
 */
function checkKeyConditionShape(condition: Condition): number {
  const named = new Set<string>();
  const bad = (message: string) => validationError(message);
  const operands = (list: Operand[]): void => {
    let name: string | undefined;
    for (const o of list) {
      if (o.k === 'path') {
        if (name !== undefined) throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
        if (o.path.length > 1) throw bad('KeyConditionExpressions cannot have conditions on nested attributes');
        name = String(o.path[0]);
      } else if (o.k === 'size') throw bad('KeyConditionExpressions cannot contain nested operations');
    }
    if (name === undefined) throw bad('Invalid condition in KeyConditionExpression: No key attribute specified');
    if (named.has(name)) throw bad('KeyConditionExpressions must only contain one condition per key');
    named.add(name);
  };
  const walk = (c: Condition): void => {
    const operator = invalidKeyConditionOperator(c);
    if (operator) throw bad(operator);
    switch (c.k) {
      case 'and':
        walk(c.l);
        walk(c.r);
        return;
      case 'cmp':
        if (c.op === '<>') throw bad('Invalid operator used in KeyConditionExpression: <>');
        operands([c.l, c.r]);
        return;
      case 'between':
        if (c.v.k !== 'path') throw bad('Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand');
        operands([c.v, c.lo, c.hi]);
        return;
      case 'begins_with':
        if (c.v.k !== 'path') throw bad('Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand');
        operands([c.v, c.prefix]);
        return;
      case 'true':
        return;
    }
  };
  walk(condition);
  return named.size;
}

function checkItemSize(item: unknown): void {
  if (item && typeof item === 'object' && itemSize(item as Record<string, AttributeValue>) > MAX_ITEM_BYTES) {
    throw validationError('Item size has exceeded the maximum allowed size');
  }
}

function checkAttributeUpdates(updates: unknown): void {
  if (!updates || typeof updates !== 'object') return;
  for (const u of Object.values(updates as Record<string, LegacyUpdate>)) {
    if (u.Value !== undefined) {
      const msg = validateValue(u.Value);
      if (msg) throw validationError(msg);
    }
    if (u.Value === undefined && u.Action !== 'DELETE') throw validationError(`${INVALID}Only DELETE action is allowed when no attribute value is specified`);
    if (u.Value !== undefined && u.Action === 'DELETE') {
      const t = typeOf(u.Value);
      if (t !== 'SS' && t !== 'NS' && t !== 'BS') throw validationError(`${INVALID}DELETE action with value is not supported for the type ${t}`);
    }
    if (u.Value !== undefined && u.Action === 'ADD') {
      const t = typeOf(u.Value);
      if (t !== 'L' && t !== 'SS' && t !== 'NS' && t !== 'BS' && t !== 'N') throw validationError(`${INVALID}ADD action is not supported for the type ${t}`);
    }
  }
}

// ---------------------------------------------------------------- item operations

function getItem(input: Input): void {
  checkStyleMix(input, ['ProjectionExpression'], ['AttributesToGet']);
  checkValues(input.Key);
  checkNoDuplicateNames(input.AttributesToGet);
  checkExpressions(input);
}

function putItem(input: Input): void {
  checkStyleMix(input, ['ConditionExpression'], ['Expected']);
  checkValues(input.Item);
  const rv = input.ReturnValues;
  if (present(rv) && rv !== 'ALL_OLD' && rv !== 'NONE') throw validationError('ReturnValues can only be ALL_OLD or NONE');
  checkItemSize(input.Item);
  checkExpected(input.Expected);
  checkExpressions(input);
}

function deleteItem(input: Input): void {
  checkStyleMix(input, ['ConditionExpression'], ['Expected']);
  checkValues(input.Key);
  checkExpected(input.Expected);
  checkExpressions(input);
}

function updateItem(input: Input): void {
  checkStyleMix(input, ['UpdateExpression', 'ConditionExpression'], ['AttributeUpdates', 'Expected']);
  checkValues(input.Key);
  checkAttributeUpdates(input.AttributeUpdates);
  checkExpected(input.Expected);
  checkExpressions(input);
}

function batchGetItem(input: Input): void {
  let requested = 0;
  for (const request of Object.values((input.RequestItems ?? {}) as Record<string, Input>)) {
    checkStyleMix(request, ['ProjectionExpression'], ['AttributesToGet']);
    checkNoDuplicateNames(request.AttributesToGet);
    checkExpressions(request);
    const seen = new Set<string>();
    for (const key of (request.Keys ?? []) as AttributeMap[]) {
      checkValues(key);
      const text = Object.keys(key).sort().map((k) => JSON.stringify(key[k])).join('/');
      if (seen.has(text)) throw validationError('Provided list of item keys contains duplicates');
      seen.add(text);
      if (++requested > 100) throw validationError('Too many items requested for the BatchGetItem call');
    }
  }
}

function batchWriteItem(input: Input): void {
  for (const requests of Object.values((input.RequestItems ?? {}) as Record<string, Input[]>)) {
    if (requests.some((r) => Object.keys(r).length === 0)) {
      throw validationError('Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes');
    }
    for (const r of requests) {
      const put = r.PutRequest as Input | undefined;
      const del = r.DeleteRequest as Input | undefined;
      if (put) {
        checkValues(put.Item);
        checkItemSize(put.Item);
      } else if (del) checkValues(del.Key);
    }
  }
}

// ---------------------------------------------------------------- query and scan

function query(input: Input): void {
  checkStyleMix(input, ['ProjectionExpression', 'FilterExpression', 'KeyConditionExpression'], ['AttributesToGet', 'QueryFilter', 'ConditionalOperator', 'KeyConditions']);
  checkConditions(input.QueryFilter);
  checkNoDuplicateNames(input.AttributesToGet);
  checkStartKeyValues(input.ExclusiveStartKey);
  if (!present(input.KeyConditions) && !present(input.KeyConditionExpression)) {
    throw validationError('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
  }
  const keyCondition = checkExpressions(input);
  const conditions = keyCondition ? checkKeyConditionShape(keyCondition) : Object.keys((input.KeyConditions ?? {}) as object).length;
  checkConditions(input.KeyConditions);
  // A global index's key may have up to four HASH and four RANGE attributes: the index module counts those.
  const most = present(input.IndexName) ? 8 : 2;
  if (conditions < 1 || conditions > most) throw validationError('Conditions can be of length 1 or 2 only');
}

function scan(input: Input): void {
  checkStyleMix(input, ['ProjectionExpression', 'FilterExpression'], ['AttributesToGet', 'ScanFilter', 'ConditionalOperator']);
  checkNoDuplicateNames(input.AttributesToGet);
  checkConditions(input.ScanFilter);
  checkStartKeyValues(input.ExclusiveStartKey);
  const segment = input.Segment as number | undefined;
  const total = input.TotalSegments as number | undefined;
  // DynamoDB tests Segment and TotalSegments for truth here: a Segment of 0 alone is not refused.
  if (segment && !present(total)) throw validationError('The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
  if (total) {
    if (!present(segment)) throw validationError('The Segment parameter is required but was not present in the request when parameter TotalSegments is present');
    if (segment! >= total) throw validationError(`The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: ${segment} is not less than TotalSegments: ${total}`);
  }
  checkExpressions(input);
}

// ---------------------------------------------------------------- tables

/** The table operations that word a missing or mis-sized TableName themselves, before any constraint problem. */
const TABLE_OPERATIONS = new Set(['CreateTable', 'DeleteTable', 'DescribeTable', 'UpdateTable', 'DescribeTimeToLive']);

/** Runs where the protocol calls ServiceModel.precheck: after the JSON types, before the constraint list. */
export function precheck(operation: string, input: Input): void {
  if (!TABLE_OPERATIONS.has(operation)) return;
  const name = input.TableName;
  if (!present(name)) throw validationError("The parameter 'TableName' is required but was not present in the request");
  if (typeof name === 'string' && !name.startsWith('arn:') && (name.length < 3 || name.length > 255)) {
    throw validationError('TableName must be at least 3 characters long and at most 255 characters long');
  }
}

function checkThroughputBounds(pt: unknown): void {
  if (!pt || typeof pt !== 'object') return;
  for (const name of ['ReadCapacityUnits', 'WriteCapacityUnits']) {
    const units = (pt as Input)[name];
    if (typeof units === 'number' && units > MAX_CAPACITY_UNITS) throw validationError(`Given value ${units} for ${name} is out of bounds`);
  }
}

interface KeyElement {
  AttributeName: string;
  KeyType: string;
}
interface IndexInput {
  IndexName: string;
  KeySchema: KeyElement[];
  Projection: { ProjectionType?: string; NonKeyAttributes?: string[] };
  ProvisionedThroughput?: Input;
}

function undefinedKeys(keys: string[], defined: string[]): ValidationErrorText | undefined {
  if (keys.some((k) => !defined.includes(k))) {
    return `${INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [${keys.join(', ')}], AttributeDefinitions: [${defined.join(', ')}]`;
  }
  return undefined;
}
type ValidationErrorText = string;

/** An index's key schema and projection, as CreateTable checks each LSI and GSI (in this order). */
function checkIndex(index: IndexInput, defined: string[], names: Set<string>, lsi: { tableHash: string } | undefined, payPerRequest: boolean): void {
  const schema = index.KeySchema;
  const undefinedText = undefinedKeys(schema.map((k) => k.AttributeName), defined);
  if (undefinedText) throw validationError(undefinedText);
  if (lsi) {
    if (schema[1] && schema[0]!.AttributeName === schema[1].AttributeName) throw validationError('Both the Hash Key and the Range Key element in the KeySchema have the same name');
    if (schema[0]!.KeyType !== 'HASH') throw validationError('Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
    if (schema[1] && schema[1].KeyType !== 'RANGE') throw validationError('Invalid KeySchema: The second KeySchemaElement is not a RANGE key type');
  } else {
    // A GSI's key may have up to four HASH and four RANGE attributes (multi-attribute keys): the index module's rules.
    checkGlobalIndexKeySchema(schema);
  }
  if (lsi) {
    if (schema.length !== 2) throw validationError(`${INVALID}Index KeySchema does not have a range key for index: ${index.IndexName}`);
    const hash = schema[0]!.AttributeName;
    if (hash !== lsi.tableHash) {
      throw validationError(`${INVALID}Index KeySchema does not have the same leading hash key as table KeySchema for index: ${index.IndexName}. index hash key: ${hash}, table hash key: ${lsi.tableHash}`);
    }
  }
  const type = index.Projection.ProjectionType;
  if (!present(type)) throw validationError(`${INVALID}Unknown ProjectionType: null`);
  if (index.Projection.NonKeyAttributes && type !== 'INCLUDE') throw validationError(`${INVALID}ProjectionType is ${type}, but NonKeyAttributes is specified`);
  if (!lsi && payPerRequest && index.ProvisionedThroughput) {
    throw validationError(`${INVALID}ProvisionedThroughput should not be specified for index: ${index.IndexName} when BillingMode is PAY_PER_REQUEST`);
  }
  if (names.has(index.IndexName)) throw validationError(`${INVALID}Duplicate index name: ${index.IndexName}`);
  names.add(index.IndexName);
}

function createTable(input: Input): void {
  const seen = new Set<string>();
  for (const d of (input.AttributeDefinitions ?? []) as { AttributeName: string }[]) {
    // AWS's words for this case, without the usual "parameter values" prefix.
    if (seen.has(d.AttributeName)) throw validationError(`Attribute Name is duplicated: ${d.AttributeName}`);
    seen.add(d.AttributeName);
  }
  const payPerRequest = input.BillingMode === 'PAY_PER_REQUEST';
  const pt = input.ProvisionedThroughput as Input | undefined;
  if (payPerRequest) {
    if (pt) throw validationError(`${INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST`);
  } else {
    if (!pt || !pt.ReadCapacityUnits || !pt.WriteCapacityUnits) {
      throw validationError(`${INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED`);
    }
    checkThroughputBounds(pt);
  }
  const defined = ((input.AttributeDefinitions ?? []) as { AttributeName: string }[]).map((d) => d.AttributeName);
  const schema = (input.KeySchema ?? []) as KeyElement[];
  const keys = schema.map((k) => k.AttributeName);
  if (keys.length > defined.length) throw validationError('Invalid KeySchema: Some index key attribute have no definition');
  const undefinedText = undefinedKeys(keys, defined);
  if (undefinedText) throw validationError(undefinedText);
  if (keys[0] === keys[1]) throw validationError('Both the Hash Key and the Range Key element in the KeySchema have the same name');
  if (schema[0]?.KeyType !== 'HASH') throw validationError('Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
  if (schema[1] && schema[1].KeyType !== 'RANGE') throw validationError('Invalid KeySchema: The second KeySchemaElement is not a RANGE key type');
  const lsis = input.LocalSecondaryIndexes as IndexInput[] | undefined;
  const gsis = input.GlobalSecondaryIndexes as IndexInput[] | undefined;
  if (!lsis && !gsis && schema.length !== defined.length) {
    throw validationError(`${INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions`);
  }
  const names = new Set<string>();
  if (lsis) {
    if (lsis.length === 0) throw validationError(`${INVALID}List of LocalSecondaryIndexes is empty`);
    if (schema.length !== 2) throw validationError(`${INVALID}Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex`);
    for (const l of lsis) checkIndex(l, defined, names, { tableHash: keys[0]! }, payPerRequest);
    if (lsis.length > 5) throw validationError(`${INVALID}Number of LocalSecondaryIndexes exceeds per-table limit of 5`);
  }
  if (gsis) {
    if (gsis.length === 0) throw validationError(`${INVALID}List of GlobalSecondaryIndexes is empty`);
    for (const g of gsis) checkIndex(g, defined, names, undefined, payPerRequest);
    if (gsis.length > 20) throw validationError(`${INVALID}GlobalSecondaryIndex count exceeds the per-table limit of 20`);
  }
}

/**
 * Once UpdateTable has found the table: an index Update asking for capacity beyond DynamoDB's bounds is blocked, in
 * DynamoDB's words, before the index is looked up (dynalite's suite, recorded on AWS).
 */
export function checkIndexUpdateCapacity(input: Input): void {
  for (const u of (input.GlobalSecondaryIndexUpdates ?? []) as Input[]) {
    const pt = (u.Update as Input | undefined)?.ProvisionedThroughput as Input | undefined;
    if (!pt) continue;
    if ((pt.ReadCapacityUnits as number) > MAX_CAPACITY_UNITS || (pt.WriteCapacityUnits as number) > MAX_CAPACITY_UNITS) {
      throw validationError('This operation cannot be performed with given input values. Please contact DynamoDB service team for more info: Action Blocked: IndexUpdate');
    }
  }
}

function updateTable(input: Input): void {
  const updates = input.GlobalSecondaryIndexUpdates as Input[] | undefined;
  // ReplicaUpdates, DeletionProtectionEnabled, TableClass and the rest are changes too (newer members than the text).
  const changes = ['ProvisionedThroughput', 'BillingMode', 'StreamSpecification', 'SSESpecification', 'ReplicaUpdates', 'DeletionProtectionEnabled', 'TableClass',
    'OnDemandThroughput', 'WarmThroughput', 'MultiRegionConsistency', 'GlobalTableWitnessUpdates'];
  if (!changes.some((c) => present(input[c])) && !updates?.length) {
    throw validationError('At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required');
  }
  if (input.BillingMode === 'PROVISIONED' && !input.ProvisionedThroughput) {
    throw validationError(`${INVALID}ProvisionedThroughput must be specified when BillingMode is PROVISIONED`);
  }
  checkThroughputBounds(input.ProvisionedThroughput);
  const names = new Set<string>();
  for (const u of updates ?? []) {
    const action = (u.Update ?? u.Create ?? u.Delete) as { IndexName?: string } | undefined;
    if (!action) {
      throw validationError(`${INVALID}One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null`);
    }
    const name = action.IndexName ?? '';
    if (names.has(name)) throw validationError(`${INVALID}Only one global secondary index update per index is allowed simultaneously. Index: ${name}`);
    names.add(name);
  }
}

/** One key attribute of the queried table or index: its name and its scalar type. */
export interface QueryKeyAttribute {
  name: string;
  type: string;
}

/** A Query's key conditions as comparison operators and values, from KeyConditions or a KeyConditionExpression. */
function keyConditionsOf(input: Input): Map<string, { op: string; values: AttributeValue[] }> {
  const out = new Map<string, { op: string; values: AttributeValue[] }>();
  if (typeof input.KeyConditionExpression !== 'string') {
    for (const [name, c] of Object.entries((input.KeyConditions ?? {}) as Record<string, LegacyCondition>)) out.set(name, { op: c.ComparisonOperator ?? '', values: c.AttributeValueList ?? [] });
    return out;
  }
  const ctx = newContext(input.ExpressionAttributeNames as Record<string, string> | undefined, input.ExpressionAttributeValues as Record<string, AttributeValue> | undefined);
  const flip: Record<string, string> = { '=': 'EQ', '<': 'GT', '<=': 'GE', '>': 'LT', '>=': 'LE' };
  const same: Record<string, string> = { '=': 'EQ', '<': 'LT', '<=': 'LE', '>': 'GT', '>=': 'GE' };
  const walk = (c: Condition): void => {
    const value = (o: Operand): AttributeValue[] => (o.k === 'value' ? [o.value] : []);
    if (c.k === 'and') {
      walk(c.l);
      walk(c.r);
    } else if (c.k === 'cmp' && c.l.k === 'path') out.set(String(c.l.path[0]), { op: same[c.op] ?? c.op, values: value(c.r) });
    else if (c.k === 'cmp' && c.r.k === 'path') out.set(String(c.r.path[0]), { op: flip[c.op] ?? c.op, values: value(c.l) });
    else if (c.k === 'between' && c.v.k === 'path') out.set(String(c.v.path[0]), { op: 'BETWEEN', values: [...value(c.lo), ...value(c.hi)] });
    else if (c.k === 'begins_with' && c.v.k === 'path') out.set(String(c.v.path[0]), { op: 'BEGINS_WITH', values: value(c.prefix) });
  };
  const condition = parseCondition(input.KeyConditionExpression, 'KeyConditionExpression', ctx);
  // Made already when the request came through the rules; again here for callers of the provider itself.
  checkKeyConditionShape(condition);
  walk(condition);
  return out;
}

/**
 * A Query's key conditions and ExclusiveStartKey against the queried key, once the table is known, as DynamoDB walks
 * them: the start key's size, then each key attribute in turn (HASH, then RANGE), its start-key value first and its
 * condition after. `startKeyNames` are the table's key attributes and the index's (a start key holds both).
 */
export function checkQueryKey(input: Input, key: QueryKeyAttribute[], startKeyNames: readonly string[], checkKeyValue: (name: string, v: AttributeValue, isHash: boolean) => void): void {
  const esk = input.ExclusiveStartKey as Record<string, AttributeValue> | undefined;
  if (esk && Object.keys(esk).length !== startKeyNames.length) throw validationError('The provided starting key is invalid');
  const conditions = keyConditionsOf(input);
  for (let i = 0; i < key.length; i++) {
    const { name, type } = key[i]!;
    const isHash = i === 0;
    if (esk) {
      const v = esk[name];
      if (!v) throw validationError('The provided starting key is invalid');
      if ((v as Record<string, unknown>)[type] === undefined) throw validationError('The provided key element does not match the schema');
      checkKeyValue(name, v, isHash);
    }
    if (isHash && key.length === 1 && conditions.size > 1) throw validationError('Query key condition not supported');
    const c = conditions.get(name);
    if (!c) {
      if (isHash || conditions.size > 1) throw validationError(`Query condition missed key schema element: ${name}`);
      continue;
    }
    if (['NULL', 'NOT_NULL', 'NE', 'CONTAINS', 'NOT_CONTAINS', 'IN'].includes(c.op)) throw validationError('Attempted conditional constraint is not an indexable operation');
    if (c.values.some((v) => (v as Record<string, unknown>)[type] === undefined)) throw validationError(`${INVALID}Condition parameter type does not match schema type`);
    if (isHash && c.op !== 'EQ') throw validationError('Query key condition not supported');
  }
}

// ---------------------------------------------------------------- key attribute paths

/** Every document path a condition reads. */
export function conditionPaths(c: Condition, out: Path[] = []): Path[] {
  const operand = (o: Operand): void => {
    if (o.k === 'path') out.push(o.path);
    else if (o.k === 'size') operand(o.arg);
  };
  switch (c.k) {
    case 'and': case 'or': conditionPaths(c.l, out); conditionPaths(c.r, out); break;
    case 'not': conditionPaths(c.c, out); break;
    case 'cmp': operand(c.l); operand(c.r); break;
    case 'between': operand(c.v); operand(c.lo); operand(c.hi); break;
    case 'in': operand(c.v); c.list.forEach(operand); break;
    case 'exists': case 'not_exists': out.push(c.path); break;
    case 'type': out.push(c.path); operand(c.type); break;
    case 'begins_with': operand(c.v); operand(c.prefix); break;
    case 'contains': operand(c.v); operand(c.needle); break;
    case 'true': break;
  }
  return out;
}

/** Every document path an update writes or reads. */
export function updatePaths(actions: readonly UpdateAction[]): Path[] {
  const out: Path[] = [];
  const value = (v: SetValue): void => {
    switch (v.k) {
      case 'path': out.push(v.path); break;
      case 'size': value(v.arg); break;
      case 'if_not_exists': out.push(v.path); value(v.fallback); break;
      case 'list_append': case 'plus': case 'minus': value(v.a); value(v.b); break;
      case 'value': break;
    }
  };
  for (const a of actions) {
    out.push(a.path);
    if (a.k === 'set') value(a.value);
  }
  return out;
}

/**
 * Key attributes are scalars: a path into one (a.b, a[0]) is refused, the table's key attributes first, then each
 * index's, in DynamoDB's words.
 */
export function checkKeyPaths(paths: readonly Path[], tableKeys: readonly string[], indexKeys: readonly string[]): void {
  const nested = new Set(paths.filter((p) => p.length > 1).map((p) => String(p[0])));
  if (nested.size === 0) return;
  const scalars = "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed";
  for (const k of tableKeys) if (nested.has(k)) throw validationError(`${scalars}: Key: ${k}`);
  for (const k of indexKeys) if (nested.has(k)) throw validationError(`${scalars}: IndexKey: ${k}`);
}

// ---------------------------------------------------------------- tags

/** A well-formed table ARN: only then does DynamoDB look at the tag list (a malformed one is refused by the provider). */
const TABLE_ARN = /^arn:aws:dynamodb:.+:\d+:table\/[^/]{2}[^/]+$/;

function tagResource(input: Input): void {
  if (typeof input.ResourceArn === 'string' && TABLE_ARN.test(input.ResourceArn) && Array.isArray(input.Tags) && input.Tags.length === 0) {
    throw validationError('Atleast one Tag needs to be provided as Input.');
  }
}

function untagResource(input: Input): void {
  if (typeof input.ResourceArn === 'string' && TABLE_ARN.test(input.ResourceArn) && Array.isArray(input.TagKeys) && input.TagKeys.length === 0) {
    throw validationError('Atleast one Tag Key needs to be provided as Input.');
  }
}

export const requestRules: Readonly<Record<string, (input: Input) => void>> = {
  getItem, putItem, deleteItem, updateItem, batchGetItem, batchWriteItem, query, scan, createTable, updateTable, tagResource, untagResource,
};

/**
 * The provider as the gateway calls it: each operation with rules checks them first, then runs the provider's own
 * method; every other method is the provider's. Methods are looked up once, here, so the request path pays nothing
 * for operations without rules.
 */
export function withRequestRules<P extends object>(provider: P): P {
  // The provider's other members (its change log, which DynamoDB Streams reads) stay reachable through the prototype.
  const wrapped = Object.create(provider) as Record<string, unknown>;
  const methods = provider as unknown as Record<string, unknown>;
  for (let proto: object | null = provider; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const fn = methods[name];
      if (name === 'constructor' || Object.hasOwn(wrapped, name) || typeof fn !== 'function') continue;
      const method = fn as (input: unknown, ctx: unknown) => unknown;
      const rule = Object.hasOwn(requestRules, name) ? requestRules[name] : undefined;
      wrapped[name] = rule
        ? (input: unknown, ctx: unknown) => {
          if (input && typeof input === 'object') rule(input as Input);
          return method.call(provider, input, ctx);
        }
        : method.bind(provider);
    }
  }
  return wrapped as P;
}
