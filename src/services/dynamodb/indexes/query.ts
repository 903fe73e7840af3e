/**
 * @module services/dynamodb/indexes/query
 * Query key conditions as store key ranges, and their rules for an index key of several attributes.
 *
 * A Query on a multi-attribute key must give an equality for every HASH attribute, and conditions on a
 * prefix of the RANGE attributes in key schema order with no gap: every RANGE attribute before the last
 * one named has an equality, the last may have any key condition (=, <, <=, >, >=, BETWEEN,
 * begins_with). The clauses may be written in any order. AWS reports a gap, or a range condition
 * before the last attribute named, as "RANGE key attributes <a> must have equality conditions specified
 * in the query because a condition is present on key attribute <b>" (verified against AWS by public
 * conformance suites). Matching entries are one contiguous store key range: the partition, the
 * equalities' encodings, then the last condition's bounds within them.
 */
import { ServiceError, validationError } from '../../../core/errors.js';
import { prefixEnd } from '../../../storage/store.js';
import { type AttributeValue, compareScalars, keyValueBytes, MAX_HASH_KEY_BYTES, MAX_RANGE_KEY_BYTES } from '../attributes.js';
import { evalCondition } from '../expressions/evaluate.js';
import { escapeBytes, orderedKeyBytes, rawKeyBytes, withNamespace, type KeyType } from '../keycodec.js';
import { type IndexKey, type KeyPart, partitionBytes, rangeBytes } from './keys.js';

const INVALID = 'One or more parameter values were invalid: ';

/** One key attribute's condition, as parsed from KeyConditionExpression or KeyConditions. */
export interface KeyCondition {
  op: string;
  values: AttributeValue[];
}

/** A store key range: a lower and an upper bound, each inclusive or not. */
export interface KeyBounds {
  gte?: Buffer;
  gt?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
}

/** AWS's message when a key value exceeds DynamoDB's key size limits (table keys and key condition values); undefined when it fits. */
export function keySizeProblem(v: AttributeValue, isHash: boolean): string | undefined {
  const bytes = keyValueBytes(v);
  if (isHash && bytes > MAX_HASH_KEY_BYTES) return `${INVALID}Size of hashkey has exceeded the maximum size limit of2048 bytes`;
  if (!isHash && bytes > MAX_RANGE_KEY_BYTES) return `${INVALID}Aggregated size of all range keys has exceeded the size limit of 1024 bytes`;
  return undefined;
}

/**
 * Store key bounds, within the entries that start with prefix, for an optional condition on the sort
 * key value that follows the prefix (whose ordered encoding is prefix-free, so whatever follows it in
 * the store key does not matter).
 */
export function rangeBoundsOf(prefix: Buffer, range: { op?: string; values?: AttributeValue[] }, type: KeyType | undefined): KeyBounds {
  const end = prefixEnd(prefix)!;
  if (!range.op) return { gte: prefix, lt: end };
  const enc = (v: AttributeValue): Buffer => Buffer.concat([prefix, orderedKeyBytes(v, type!)]);
  const after = (v: AttributeValue): Buffer => prefixEnd(enc(v)) ?? end;
  const v0 = range.values![0]!;
  switch (range.op) {
    case '=':
      return { gte: enc(v0), lt: after(v0) };
    case '<':
      return { gte: prefix, lt: enc(v0) };
    case '<=':
      return { gte: prefix, lt: after(v0) };
    case '>':
      return { gte: after(v0), lt: end };
    case '>=':
      return { gte: enc(v0), lt: end };
    case 'BETWEEN':
      return { gte: enc(v0), lt: after(range.values![1]!) };
    default: {
      // begins_with: every value with this prefix has an encoding starting with the escaped prefix.
      const p = Buffer.concat([prefix, escapeBytes(rawKeyBytes(v0, type!), false)]);
      return { gte: p, lt: prefixEnd(p) ?? end };
    }
  }
}

/** Whether a sort key value satisfies a key condition (for ExclusiveStartKey checks). */
export function satisfiesKeyCondition(v: AttributeValue, cond: KeyCondition): boolean {
  const c = (i: number): number => compareScalars(v, cond.values[i]!) ?? Number.NaN;
  switch (cond.op) {
    case '=': return c(0) === 0;
    case '<': return c(0) < 0;
    case '<=': return c(0) <= 0;
    case '>': return c(0) > 0;
    case '>=': return c(0) >= 0;
    case 'BETWEEN': return c(0) >= 0 && c(1) <= 0;
    default: return evalCondition({ k: 'begins_with', v: { k: 'value', value: v }, prefix: { k: 'value', value: cond.values[0]! } }, {});
  }
}

/** A validated Query on a multi-attribute index key. */
export interface MultiKeyRange {
  /** The HASH attributes' values, in key schema order. */
  hash: AttributeValue[];
  /** Equalities on the first RANGE attributes, in key schema order. */
  equal: AttributeValue[];
  /** The condition on the last RANGE attribute named, when there is one after the equalities. */
  last?: { part: KeyPart; cond: KeyCondition };
}

/**
 * Checks the conditions of a Query on a multi-attribute index key (attribute name → condition) and
 * returns what they select. Order of the checks: every HASH attribute present, no other attribute,
 * HASH equalities, the RANGE prefix rule, then the values' types and sizes.
 */
export function multiKeyRange(found: Map<string, KeyCondition>, key: IndexKey): MultiKeyRange {
  const bad = (m: string): ServiceError => validationError(m);
  for (const part of key.hash) if (!found.has(part.name)) throw bad(`Query condition missed key schema element: ${part.name}`);
  for (const name of found.keys()) if (!key.parts.some((p) => p.name === name)) throw bad('Query key condition not supported');
  for (const part of key.hash) if (found.get(part.name)!.op !== '=') throw bad('Query key condition not supported');
  const range = key.range;
  for (let i = 0; i < range.length; i++) {
    const cond = found.get(range[i]!.name);
    if (cond?.op === '=') continue;
    const later = range.slice(i + 1).find((p) => found.has(p.name));
    if (later) {
      throw bad(`RANGE key attributes ${range[i]!.name} must have equality conditions specified in the query because a condition is present on key attribute ${later.name}`);
    }
  }
  const named = range.filter((p) => found.has(p.name));
  const out: MultiKeyRange = { hash: key.hash.map((p) => found.get(p.name)!.values[0]!), equal: [] };
  const typeMismatch = (): ServiceError => bad(`${INVALID}Condition parameter type does not match schema type`);
  for (let i = 0; i < key.hash.length; i++) if ((out.hash[i] as Record<string, unknown>)[key.hash[i]!.type] === undefined) throw typeMismatch();
  named.forEach((part, i) => {
    const cond = found.get(part.name)!;
    if (!cond.values.every((v) => (v as Record<string, unknown>)[part.type] !== undefined)) throw typeMismatch();
    if (cond.op === 'BEGINS_WITH' && part.type === 'N') throw typeMismatch();
    if (i < named.length - 1 || (cond.op === '=' && named.length === range.length)) out.equal.push(cond.values[0]!);
    else out.last = { part, cond };
  });
  // A value no key can hold matches nothing on AWS either: it is refused with the key size messages.
  for (const v of out.hash) {
    const m = keySizeProblem(v, true);
    if (m) throw bad(m);
  }
  for (const part of named) {
    for (const v of found.get(part.name)!.values) {
      const m = keySizeProblem(v, false);
      if (m) throw bad(m);
    }
  }
  return out;
}

/** The store key range of a multi-attribute index Query, in the index's namespace. */
export function multiKeyBounds(ns: number, q: MultiKeyRange, key: IndexKey): KeyBounds {
  const prefix = withNamespace(ns, partitionBytes(q.hash, key), rangeBytes(q.equal, key.range));
  return q.last ? rangeBoundsOf(prefix, q.last.cond, q.last.part.type) : rangeBoundsOf(prefix, {}, undefined);
}

/**
 * A multi-attribute index Query's ExclusiveStartKey must lie within its conditions, with the messages
 * AWS gives for a single-attribute key: outside the partition with no sort key condition, not matching
 * the sort key conditions, or in another partition.
 */
export function checkMultiQueryStart(esk: Record<string, AttributeValue>, key: IndexKey, q: MultiKeyRange): void {
  const samePartition = key.hash.every((p, i) => compareScalars(esk[p.name]!, q.hash[i]!) === 0);
  if (q.equal.length === 0 && !q.last) {
    if (!samePartition) throw validationError('The provided starting key is outside query boundaries based on provided conditions');
    return;
  }
  const equalOk = q.equal.every((v, i) => compareScalars(esk[key.range[i]!.name]!, v) === 0);
  const lastOk = !q.last || satisfiesKeyCondition(esk[q.last.part.name]!, q.last.cond);
  if (!equalOk || !lastOk) throw validationError('The provided starting key does not match the range key predicate');
  if (!samePartition) throw validationError('The query can return at most one row and cannot be restarted');
}
