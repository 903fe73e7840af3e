/**
 * @module services/dynamodb/expressions/legacy
 * The pre-expression parameters (AttributesToGet, KeyConditions, QueryFilter, ScanFilter, Expected,
 * AttributeUpdates, ConditionalOperator) translated to the same trees the expression parsers build,
 * with DynamoDB's validation of each, and the check that a request does not mix both styles.
 */
import { validationError } from '../../../core/errors.js';
import { type AttributeValue, typeOf, validateValue, compareScalars } from '../attributes.js';
import type { CmpOp, Condition, Path, UpdateAction } from './ast.js';

const INVALID = 'One or more parameter values were invalid: ';

export interface LegacyCondition {
  ComparisonOperator?: string;
  AttributeValueList?: AttributeValue[];
  Value?: AttributeValue;
  Exists?: boolean;
}

const ARG_COUNTS: Record<string, [number, number]> = {
  EQ: [1, 1], NE: [1, 1], LE: [1, 1], LT: [1, 1], GE: [1, 1], GT: [1, 1],
  CONTAINS: [1, 1], NOT_CONTAINS: [1, 1], BEGINS_WITH: [1, 1],
  NULL: [0, 0], NOT_NULL: [0, 0], IN: [1, Number.MAX_SAFE_INTEGER], BETWEEN: [2, 2],
};
const ALLOWED_TYPES: Record<string, string[]> = {
  EQ: ['S', 'N', 'B', 'SS', 'NS', 'BS', 'BOOL', 'NULL', 'L', 'M'],
  NE: ['S', 'N', 'B', 'SS', 'NS', 'BS', 'BOOL', 'NULL', 'L', 'M'],
  LE: ['S', 'N', 'B'], LT: ['S', 'N', 'B'], GE: ['S', 'N', 'B'], GT: ['S', 'N', 'B'],
  CONTAINS: ['S', 'N', 'B'], NOT_CONTAINS: ['S', 'N', 'B'], BEGINS_WITH: ['S', 'B'],
  IN: ['S', 'N', 'B'], BETWEEN: ['S', 'N', 'B'],
};

/** One attribute's ComparisonOperator + values as a condition tree; validates as DynamoDB does. */
export function comparison(attr: string, op: string, values: AttributeValue[]): Condition {
  for (const v of values) {
    const msg = validateValue(v);
    if (msg) throw validationError(msg);
  }
  const counts = ARG_COUNTS[op];
  if (!counts || values.length < counts[0] || values.length > counts[1]) {
    throw validationError(`${INVALID}Invalid number of argument(s) for the ${op} ComparisonOperator`);
  }
  if (values.length > 1) {
    const t = typeOf(values[0]!);
    if (values.some((v) => typeOf(v) !== t)) throw validationError(`${INVALID}AttributeValues inside AttributeValueList must be of same type`);
  }
  const allowed = ALLOWED_TYPES[op];
  if (allowed) {
    for (const v of values) {
      const t = typeOf(v);
      if (!allowed.includes(t)) throw validationError(`${INVALID}ComparisonOperator ${op} is not valid for ${t} AttributeValue type`);
    }
  }
  const path: Path = [attr];
  const p = { k: 'path' as const, path };
  const val = (i: number) => ({ k: 'value' as const, value: values[i]! });
  const cmp = (o: CmpOp): Condition => ({ k: 'cmp', op: o, l: p, r: val(0) });
  switch (op) {
    case 'EQ': return cmp('=');
    case 'NE': return cmp('<>');
    case 'LE': return cmp('<=');
    case 'LT': return cmp('<');
    case 'GE': return cmp('>=');
    case 'GT': return cmp('>');
    case 'NULL': return { k: 'not_exists', path };
    case 'NOT_NULL': return { k: 'exists', path };
    case 'CONTAINS': return { k: 'contains', v: p, needle: val(0) };
    // A missing attribute neither contains nor lacks the value: NOT_CONTAINS is false there (as on AWS).
    case 'NOT_CONTAINS': return { k: 'and', l: { k: 'exists', path }, r: { k: 'not', c: { k: 'contains', v: p, needle: val(0) } } };
    case 'BEGINS_WITH': return { k: 'begins_with', v: p, prefix: val(0) };
    case 'IN': return { k: 'in', v: p, list: values.map((_, i) => val(i)) };
    default: {
      const c = compareScalars(values[0]!, values[1]!);
      if (c !== undefined && c > 0) throw validationError('The BETWEEN condition was provided a range where the lower bound is greater than the upper bound');
      return { k: 'between', v: p, lo: val(0), hi: val(1) };
    }
  }
}

function combine(conds: Condition[], operator: string | undefined): Condition {
  if (conds.length === 0) return { k: 'true' };
  const kind = operator === 'OR' ? 'or' : 'and';
  return conds.reduce((l, r) => ({ k: kind, l, r }));
}

/** QueryFilter / ScanFilter. */
export function filterToCondition(filter: Record<string, LegacyCondition>, operator: string | undefined): Condition {
  const conds = Object.keys(filter).map((attr) => {
    const c = filter[attr]!;
    return comparison(attr, c.ComparisonOperator ?? '', c.AttributeValueList ?? []);
  });
  return combine(conds, operator);
}

/** Expected (PutItem/UpdateItem/DeleteItem). */
export function expectedToCondition(expected: Record<string, LegacyCondition>, operator: string | undefined): Condition {
  const conds: Condition[] = [];
  for (const attr of Object.keys(expected)) {
    const c = expected[attr]!;
    if (c.AttributeValueList !== undefined && c.Value !== undefined) {
      throw validationError(`${INVALID}Value and AttributeValueList cannot be used together for Attribute: ${attr}`);
    }
    if (c.ComparisonOperator !== undefined) {
      if (c.Exists !== undefined) throw validationError(`${INVALID}Exists and ComparisonOperator cannot be used together for Attribute: ${attr}`);
      const op = c.ComparisonOperator;
      if (op !== 'NULL' && op !== 'NOT_NULL' && c.AttributeValueList === undefined && c.Value === undefined) {
        throw validationError(`${INVALID}Value or AttributeValueList must be used with ComparisonOperator: ${op} for Attribute: ${attr}`);
      }
      conds.push(comparison(attr, op, c.AttributeValueList ?? (c.Value ? [c.Value] : [])));
      continue;
    }
    if (c.AttributeValueList !== undefined) {
      throw validationError(`${INVALID}AttributeValueList can only be used with a ComparisonOperator for Attribute: ${attr}`);
    }
    const exists = c.Exists === undefined || c.Exists;
    if (exists && c.Value === undefined) {
      throw validationError(`${INVALID}Value must be provided when Exists is ${c.Exists === undefined ? 'null' : String(c.Exists)} for Attribute: ${attr}`);
    }
    if (!exists && c.Value !== undefined) throw validationError(`${INVALID}Value cannot be used when Exists is false for Attribute: ${attr}`);
    if (c.Value !== undefined) {
      const msg = validateValue(c.Value);
      if (msg) throw validationError(msg);
      conds.push({ k: 'cmp', op: '=', l: { k: 'path', path: [attr] }, r: { k: 'value', value: c.Value } });
    } else {
      conds.push({ k: 'not_exists', path: [attr] });
    }
  }
  return combine(conds, operator);
}

/** AttributesToGet as projection paths. */
export function attributesToGet(names: string[]): Path[] {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw validationError(`${INVALID}Duplicate value in attribute name: ${n}`);
    seen.add(n);
  }
  return names.map((n) => [n]);
}

export interface LegacyUpdate {
  Action?: string;
  Value?: AttributeValue;
}

/** AttributeUpdates as update actions. */
export function attributeUpdatesToActions(updates: Record<string, LegacyUpdate>, keyAttributes: readonly string[]): UpdateAction[] {
  const actions: UpdateAction[] = [];
  for (const attr of Object.keys(updates)) {
    const u = updates[attr]!;
    const action = u.Action ?? 'PUT';
    if (u.Value !== undefined) {
      const msg = validateValue(u.Value);
      if (msg) throw validationError(msg);
    }
    if (keyAttributes.includes(attr)) throw validationError(`${INVALID}Cannot update attribute ${attr}. This attribute is part of the key`);
    if (action === 'PUT') {
      if (u.Value === undefined) throw validationError(`${INVALID}Only DELETE action is allowed when no attribute value is specified`);
      actions.push({ k: 'set', path: [attr], value: { k: 'value', value: u.Value } });
    } else if (action === 'DELETE') {
      if (u.Value === undefined) actions.push({ k: 'remove', path: [attr] });
      else {
        const t = typeOf(u.Value);
        if (t !== 'SS' && t !== 'NS' && t !== 'BS') throw validationError(`${INVALID}DELETE action with value is not supported for the type ${t}`);
        actions.push({ k: 'delete', path: [attr], value: u.Value });
      }
    } else {
      if (u.Value === undefined) throw validationError(`${INVALID}Only DELETE action is allowed when no attribute value is specified`);
      const t = typeOf(u.Value);
      if (t !== 'N' && t !== 'SS' && t !== 'NS' && t !== 'BS' && t !== 'L') throw validationError(`${INVALID}ADD action is not supported for the type ${t}`);
      if (t === 'L') {
        // Legacy ADD appends to a list (or creates it).
        actions.push({ k: 'set', path: [attr], value: { k: 'list_append', a: { k: 'if_not_exists', path: [attr], fallback: { k: 'value', value: { L: [] } } }, b: { k: 'value', value: u.Value } } });
      } else actions.push({ k: 'add', path: [attr], value: u.Value });
    }
  }
  return actions;
}

/**
 * Rejects requests that mix expression and non-expression parameters, and placeholder maps without
 * any expression, with DynamoDB's messages.
 */
export function checkStyleMix(input: Record<string, unknown>, expressionParams: string[], legacyParams: string[]): void {
  const usedExpr = expressionParams.filter((p) => input[p] !== undefined && input[p] !== null);
  // KeyConditions alone (without KeyConditionExpression) may go with the other expressions, as on AWS.
  const keyConditionsAlone = input.KeyConditions !== undefined && input.KeyConditions !== null && (input.KeyConditionExpression === undefined || input.KeyConditionExpression === null);
  const usedLegacy = legacyParams.filter((p) => input[p] !== undefined && input[p] !== null && !(p === 'KeyConditions' && keyConditionsAlone));
  if (usedExpr.length && usedLegacy.length) {
    throw validationError(`Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {${usedLegacy.join(', ')}} Expression parameters: {${usedExpr.join(', ')}}`);
  }
  if (input.ExpressionAttributeNames !== undefined && input.ExpressionAttributeNames !== null && usedExpr.length === 0) {
    throw validationError('ExpressionAttributeNames can only be specified when using expressions');
  }
  const valueExprs = expressionParams.filter((p) => p !== 'ProjectionExpression');
  if (input.ExpressionAttributeValues !== undefined && input.ExpressionAttributeValues !== null && valueExprs.every((p) => input[p] === undefined || input[p] === null)) {
    throw validationError(`ExpressionAttributeValues can only be specified when using expressions: ${valueExprs.join(' and ')} ${valueExprs.length > 1 ? 'are' : 'is'} null`);
  }
}
