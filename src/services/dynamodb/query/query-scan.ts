/**
 * @module services/dynamodb/query/query-scan
 * Query and Scan: key conditions to store ranges, filters, projections, pagination; ranges are walked in bounded chunks, never loaded whole.
 * Functions of the provider's state, called by the provider's operation methods.
 */
import type { RequestContext } from '../../../core/context.js';
import { ServiceError, validationError } from '../../../core/errors.js';
import type { Store } from '../../../storage/store.js';
import { RawJson } from '../../../protocols/wirejson.js';
import { type AttributeValue, compareScalars, type Item, readUnits, validateValue } from '../attributes.js';
import type { Condition, Path } from '../expressions/ast.js';
import { evalCondition, project } from '../expressions/evaluate.js';
import { attributesToGet, checkStyleMix, comparison, filterToCondition, type LegacyCondition } from '../expressions/legacy.js';
import { checkPlaceholderMaps, checkUnused, type ExpressionContext, newContext, parseCondition, parseProjection } from '../expressions/parser.js';
import { bucketRange, ITEM_HEADER_BYTES, keyBody, type KeyType, namespacePrefix, segmentOf, textValueJson, textValueSize, withNamespace } from '../keycodec.js';
import { indexKeyBodyOf } from '../indexes/keys.js';
import { checkMultiQueryStart, type KeyCondition, multiKeyBounds, multiKeyRange, rangeBoundsOf, satisfiesKeyCondition } from '../indexes/query.js';
import type { KeyDef } from '../tables/schema.js';
import { checkQueryKey, conditionPaths, invalidKeyConditionOperator } from '../request-rules.js';
import type * as M from '../../../models/dynamodb.js';
import type { IndexState, ItemStore, TableState } from '../tables/state.js';
import { collectPathHeads, INVALID, MB, SCAN_CHUNK, storedItem } from '../common.js';
import type { Request, Response } from '../shapes.js';

/**
 * What the shared Query and Scan steps read: the members of both requests (each request carries only its own;
 * the members they share have the same shapes), and the answer both give (QueryOutput and ScanOutput have the same members).
 */
type ReadInput = Request<M.QueryInput & M.ScanInput>;
type ReadOutput = Response<M.QueryOutput & M.ScanOutput>;

export function query(provider: ItemStore, input: Request<M.QueryInput>, ctx: RequestContext): Response<M.QueryOutput> {
  checkStyleMix(input, ['ProjectionExpression', 'FilterExpression', 'KeyConditionExpression'], ['AttributesToGet', 'QueryFilter', 'ConditionalOperator', 'KeyConditions']);
  if (input.KeyConditions === undefined && input.KeyConditionExpression === undefined) {
    throw validationError('Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.');
  }
  checkPlaceholderMaps(input.ExpressionAttributeNames, input.ExpressionAttributeValues, validateValue);
  const ectx = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
  let keyCond: Condition;
  if (input.KeyConditionExpression !== undefined) keyCond = parseCondition(input.KeyConditionExpression, 'KeyConditionExpression', ectx);
  else {
    const kc: Record<string, LegacyCondition> = input.KeyConditions!;
    const conds = Object.keys(kc).map((a) => comparison(a, kc[a]!.ComparisonOperator ?? '', kc[a]!.AttributeValueList ?? []));
    keyCond = conds.length ? conds.reduce((l, r) => ({ k: 'and', l, r })) : { k: 'true' };
  }
  const { filter, paths } = readExpressions(provider, input, ectx, 'QueryFilter');
  checkUnused(ectx);
  const t = provider.active(ctx, input.TableName);
  const { target, key } = findTarget(provider, t, input);
  if (!target?.ikey.multi) {
    // DynamoDB's walk of the key attributes, start key and conditions interleaved (request-rules.ts).
    const queried = [{ name: key.hashName, type: key.hashType as string }, ...(key.rangeName ? [{ name: key.rangeName, type: key.rangeType as string }] : [])];
    checkQueryKey(input, queried, [...new Set([...t.keyAttrs, ...queried.map((a) => a.name)])], (name, v, isHash) => provider.checkKeyValue(name, v, isHash));
  }
  if (input.KeyConditions !== undefined) {
    for (const a of Object.keys(input.KeyConditions)) {
      if (['NULL', 'NOT_NULL', 'NE', 'CONTAINS', 'NOT_CONTAINS', 'IN'].includes(input.KeyConditions[a]!.ComparisonOperator)) {
        throw validationError('Attempted conditional constraint is not an indexable operation');
      }
    }
  }
  const ns = target ? target.meta.ns : t.meta.ns;
  let bounds: { gte?: Buffer; gt?: Buffer; lt?: Buffer; lte?: Buffer };
  if (target?.ikey.multi) {
    // A key of several HASH or RANGE attributes (indexes/query.ts).
    const q = multiKeyRange(keyConditionParts(provider, keyCond), target.ikey);
    if (input.ExclusiveStartKey) {
      startKey(provider, t, target, input.ExclusiveStartKey, 'Query');
      checkMultiQueryStart(input.ExclusiveStartKey, target.ikey, q);
    }
    bounds = multiKeyBounds(ns, q, target.ikey);
  } else {
    const range = keyConditionRange(provider, keyCond, key, input.KeyConditionExpression !== undefined);
    if (input.ExclusiveStartKey) {
      startKey(provider, t, target, input.ExclusiveStartKey, 'Query');
      checkQueryStart(provider, input.ExclusiveStartKey, key, range);
    }
    bounds = rangeBounds(provider, withNamespace(ns, keyBody(range.hash, key.hashType)), range, key);
  }
  if (paths) provider.checkKeyPaths(t, paths);
  if (filter) {
    // A Query filters after the key condition: filtering on the queried key attributes is refused.
    const heads = new Set<string>();
    collectPathHeads(filter, heads);
    for (const k of target ? target.ikey.parts.map((p) => p.name) : t.keyAttrs) {
      if (heads.has(k)) {
        throw validationError(`${input.QueryFilter !== undefined ? 'QueryFilter' : 'Filter Expression'} can only contain non-primary key attributes: Primary key attribute: ${k}`);
      }
    }
  }
  if (target) checkTargetProjection(provider, target, input, paths);
  if (filter) provider.checkKeyPaths(t, conditionPaths(filter));
  // Once the request is valid: a refused read is answered after every check, and reads nothing.
  provider.throughput?.admitRead(t, target?.meta.name);
  return walk(provider, t, target, input, bounds, filter, paths, input.ScanIndexForward === false, undefined, ctx);
}

export function scan(provider: ItemStore, input: Request<M.ScanInput>, ctx: RequestContext): Response<M.ScanOutput> {
  checkStyleMix(input, ['ProjectionExpression', 'FilterExpression'], ['AttributesToGet', 'ScanFilter', 'ConditionalOperator']);
  const segment: number | undefined = input.Segment;
  const totalSegments: number | undefined = input.TotalSegments;
  if (segment !== undefined && totalSegments === undefined) {
    throw validationError('The TotalSegments parameter is required but was not present in the request when Segment parameter is present');
  }
  if (totalSegments !== undefined && segment === undefined) {
    throw validationError('The Segment parameter is required but was not present in the request when parameter TotalSegments is present');
  }
  if (segment !== undefined && totalSegments !== undefined && segment >= totalSegments) {
    throw validationError(`The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: ${segment} is not less than TotalSegments: ${totalSegments}`);
  }
  checkPlaceholderMaps(input.ExpressionAttributeNames, input.ExpressionAttributeValues, validateValue);
  const ectx = newContext(input.ExpressionAttributeNames, input.ExpressionAttributeValues);
  const { filter, paths } = readExpressions(provider, input, ectx, 'ScanFilter');
  checkUnused(ectx);
  const t = provider.active(ctx, input.TableName);
  // DynamoDB's order: the index, the start key, what the index projects, then paths into key attributes.
  const { target } = findTarget(provider, t, input);
  // The index's part of a start key is checked before the projection, the table's part after it.
  if (input.ExclusiveStartKey) startKey(provider, t, target, input.ExclusiveStartKey, 'Scan', () => target && checkTargetProjection(provider, target, input, paths));
  else if (target) checkTargetProjection(provider, target, input, paths);
  if (paths) provider.checkKeyPaths(t, paths);
  if (filter) provider.checkKeyPaths(t, conditionPaths(filter));
  const ns = target ? target.meta.ns : t.meta.ns;
  let bounds: { gte: Buffer; lt: Buffer };
  if (totalSegments !== undefined) bounds = bucketRange(ns, segment!, totalSegments);
  else bounds = { gte: namespacePrefix(ns), lt: namespacePrefix(ns + 1) };
  provider.throughput?.admitRead(t, target?.meta.name);
  return walk(provider, t, target, input, bounds, filter, paths, false, totalSegments !== undefined ? { segment: segment!, total: totalSegments } : undefined, ctx);
}

export function readExpressions(provider: ItemStore, input: ReadInput, ectx: ExpressionContext, legacyFilter: 'QueryFilter' | 'ScanFilter'): { filter: Condition | undefined; paths: Path[] | undefined } {
  let filter: Condition | undefined;
  let paths: Path[] | undefined;
  if (input.FilterExpression !== undefined) filter = parseCondition(input.FilterExpression, 'FilterExpression', ectx);
  else if (input[legacyFilter] !== undefined) filter = filterToCondition(input[legacyFilter], input.ConditionalOperator);
  if (input.ConditionalOperator !== undefined && input[legacyFilter] === undefined && input.KeyConditions === undefined) {
    throw validationError('ConditionalOperator can only be used when Expected or KeyConditions or QueryFilter or ScanFilter is present');
  }
  if (input.ProjectionExpression !== undefined) paths = parseProjection(input.ProjectionExpression, ectx);
  else if (input.AttributesToGet !== undefined) paths = attributesToGet(input.AttributesToGet);
  // Select against the projection parameters, with AWS's messages (no "parameter values" prefix).
  const select: string | undefined = input.Select;
  const what = input.AttributesToGet !== undefined ? 'AttributesToGet' : 'ProjectionExpression';
  switch (select) {
    case 'ALL_ATTRIBUTES':
    case 'ALL_PROJECTED_ATTRIBUTES':
      if (paths) throw validationError(`Cannot specify the ${what} when choosing to get ${select}`);
      // AWS says "Querying" here on Scan too.
      if (select === 'ALL_PROJECTED_ATTRIBUTES' && input.IndexName === undefined) {
        throw validationError('ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName');
      }
      break;
    case 'COUNT':
      if (paths) throw validationError(`Cannot specify the ${what} when choosing to get only the Count`);
      break;
    case 'SPECIFIC_ATTRIBUTES':
      if (!paths) throw validationError('Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES');
      break;
  }
  return { filter, paths };
}

/** The index a read names (or the table), with the checks DynamoDB makes as soon as it has found it. */
export function findTarget(provider: ItemStore, t: TableState, input: ReadInput): { target: IndexState | undefined; key: KeyDef } {
  if (input.IndexName === undefined) return { target: undefined, key: t.key };
  const idx = t.indexes.find((i) => i.meta.name === input.IndexName);
  if (!idx) throw validationError(`The table does not have the specified index: ${input.IndexName}`);
  if (idx.meta.global && input.ConsistentRead === true) throw validationError('Consistent reads are not supported on global secondary indexes');
  if (idx.meta.status === 'CREATING' && idx.meta.backfilling) throw validationError(`Cannot read from backfilling global secondary index: ${idx.meta.name}`);
  return { target: idx, key: idx.key };
}

/** What a read of a GSI may ask for: not ALL_ATTRIBUTES, nor paths it does not project, unless it projects ALL. */
export function checkTargetProjection(provider: ItemStore, idx: IndexState, input: ReadInput, paths: Path[] | undefined): void {
  if (idx.meta.global && input.Select === 'ALL_ATTRIBUTES' && idx.projected !== 'ALL') {
    throw validationError(`${INVALID}Select type ALL_ATTRIBUTES is not supported for global secondary index ${idx.meta.name} because its projection type is not ALL`);
  }
  if (idx.meta.global && paths && idx.projected !== 'ALL') {
    // A GSI cannot fetch from the table: every projected path must be in the index. AWS names the
    // missing attributes as a bracketed list ("... does not project [a, b]").
    const missing = [...new Set(paths.map((p) => String(p[0])).filter((name) => !(idx.projected as Set<string>).has(name)))];
    if (missing.length > 0) throw validationError(`${INVALID}Global secondary index ${idx.meta.name} does not project [${missing.join(', ')}]`);
  }
}

/** Turns a key condition into the hash value and an optional range predicate, with AWS's checks. */
export function keyConditionRange(provider: ItemStore, cond: Condition, key: KeyDef, isExpression: boolean): { hash: AttributeValue; op?: string; values?: AttributeValue[] } {
  const found = keyConditionParts(provider, cond);
  const bad = (m: string): ServiceError => validationError(m);
  if (!isExpression && (found.size < 1 || found.size > 2)) throw bad('Conditions can be of length 1 or 2 only');
  const h = found.get(key.hashName);
  if (!h) throw bad(`Query condition missed key schema element: ${key.hashName}`);
  for (const name of found.keys()) {
    if (name !== key.hashName && name !== key.rangeName) throw bad('Query key condition not supported');
  }
  if (h.op !== '=') throw bad('Query key condition not supported');
  const typeOk = (v: AttributeValue, type: KeyType): boolean => v[type] !== undefined;
  if (!typeOk(h.values[0]!, key.hashType)) throw bad(`${INVALID}Condition parameter type does not match schema type`);
  const r = key.rangeName ? found.get(key.rangeName) : undefined;
  if (r && !r.values.every((v) => typeOk(v, key.rangeType!))) throw bad(`${INVALID}Condition parameter type does not match schema type`);
  if (r?.op === 'BEGINS_WITH' && key.rangeType === 'N') throw bad(`${INVALID}Condition parameter type does not match schema type`);
  // A value no key can hold matches nothing on AWS either: it is refused with the key size messages.
  provider.checkKeySize(h.values[0]!, true);
  for (const v of r?.values ?? []) provider.checkKeySize(v, false);
  return { hash: h.values[0]!, ...(r ? { op: r.op, values: r.values } : {}) };
}

/** The conditions of a key condition by attribute name, with AWS's checks of each one's form. */
export function keyConditionParts(provider: ItemStore, cond: Condition): Map<string, KeyCondition> {
  const parts: Condition[] = [];
  const flatten = (c: Condition): void => {
    if (c.k === 'and') {
      flatten(c.l);
      flatten(c.r);
    } else parts.push(c);
  };
  flatten(cond);
  const bad = (m: string): ServiceError => validationError(m);
  const found = new Map<string, KeyCondition>();
  for (const c of parts) {
    let attr: string | undefined;
    let op: string;
    let values: AttributeValue[];
    const single = (o: { k: string; path?: Path; value?: AttributeValue }): void => {
      if (o.k !== 'path') return;
      if (attr !== undefined) throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
      if (o.path!.length > 1) throw bad('KeyConditionExpressions cannot have conditions on nested attributes');
      attr = o.path![0] as string;
    };
    const operator = invalidKeyConditionOperator(c);
    if (operator) throw bad(operator);
    switch (c.k) {
      case 'true': continue;
      case 'cmp': {
        if (c.op === '<>') throw bad('Invalid operator used in KeyConditionExpression: <>');
        if (c.l.k === 'size' || c.r.k === 'size') throw bad('KeyConditionExpressions cannot contain nested operations');
        single(c.l);
        single(c.r);
        if (attr === undefined) throw bad('Invalid condition in KeyConditionExpression: No key attribute specified');
        const flip: Record<string, string> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
        op = c.l.k === 'path' ? c.op : flip[c.op]!;
        values = [(c.l.k === 'path' ? c.r : c.l) as { k: 'value'; value: AttributeValue }].map((o) => o.value);
        if (c.l.k === 'path' && c.r.k === 'path') throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
        break;
      }
      case 'between': {
        if (c.v.k !== 'path') throw bad('Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand');
        single(c.v);
        if (c.lo.k !== 'value' || c.hi.k !== 'value') throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
        op = 'BETWEEN';
        values = [c.lo.value, c.hi.value];
        break;
      }
      case 'begins_with': {
        if (c.v.k !== 'path') throw bad('Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand');
        single(c.v);
        if (c.prefix.k !== 'value') throw bad('Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition');
        op = 'BEGINS_WITH';
        values = [c.prefix.value];
        break;
      }
      default:
        throw bad('Query key condition not supported');
    }
    if (found.has(attr!)) throw bad('KeyConditionExpressions must only contain one condition per key');
    found.set(attr!, { op, values });
  }
  return found;
}

/** Store key bounds for a partition and an optional range predicate. */
export function rangeBounds(provider: ItemStore, prefix: Buffer, range: { op?: string; values?: AttributeValue[] }, key: KeyDef): { gte?: Buffer; gt?: Buffer; lt?: Buffer; lte?: Buffer } {
  return rangeBoundsOf(prefix, range, key.rangeType);
}

/**
 * The store key an ExclusiveStartKey stands for (table key, or index key + table key), checked with
 * AWS's messages: a wrong attribute count or a missing index key attribute is "The provided starting
 * key is invalid" (a Scan of the table itself adds the schema message), a wrong index key type is the
 * bare schema message, and a wrong table key is prefixed.
 */
export function startKey(provider: ItemStore, t: TableState, target: IndexState | undefined, esk: Item, op: 'Query' | 'Scan', afterIndexPart?: () => void): Buffer {
  const bare = 'The provided starting key is invalid';
  const schema = 'The provided key element does not match the schema';
  for (const n in esk) {
    const msg = validateValue(esk[n]);
    if (msg) throw validationError(/contains duplicates|number set|numeric value|significant digits|number with magnitude/.test(msg) ? msg : `${bare}: ${msg}`);
  }
  const need = new Set(t.keyAttrs);
  if (target) for (const p of target.ikey.parts) need.add(p.name);
  if (Object.keys(esk).length !== need.size) throw validationError(op === 'Scan' && !target ? `${bare}: ${schema}` : bare);
  if (target) {
    for (const p of target.ikey.parts) {
      const v = esk[p.name];
      if (!v) throw validationError(bare);
      if (v[p.type] === undefined) throw validationError(schema);
    }
  }
  afterIndexPart?.();
  const get = (name: string, type: KeyType, isHash: boolean): AttributeValue => {
    const v = esk[name];
    if (!v || v[type] === undefined) throw validationError(`${bare}: ${schema}`);
    provider.checkKeySize(v, isHash);
    return v;
  };
  const tk = t.key;
  const body = keyBody(get(tk.hashName, tk.hashType, true), tk.hashType, tk.rangeName ? get(tk.rangeName, tk.rangeType!, false) : undefined, tk.rangeType);
  if (!target) return withNamespace(t.meta.ns, body);
  const values: Record<string, AttributeValue> = {};
  for (const p of target.ikey.parts) values[p.name] = get(p.name, p.type, p.isHash);
  return withNamespace(target.meta.ns, indexKeyBodyOf(values, target.ikey), body);
}

/**
 * A Query's ExclusiveStartKey must lie in the queried partition and satisfy the range condition, with
 * AWS's (distinct) messages for each case.
 */
export function checkQueryStart(provider: ItemStore, esk: Item, key: KeyDef, range: { hash: AttributeValue; op?: string; values?: AttributeValue[] }): void {
  const h = esk[key.hashName]!;
  const samePartition = compareScalars(h, range.hash) === 0;
  if (!range.op) {
    if (!samePartition) throw validationError('The provided starting key is outside query boundaries based on provided conditions');
    return;
  }
  const ok = satisfiesKeyCondition(esk[key.rangeName!]!, { op: range.op, values: range.values! });
  if (!ok) throw validationError('The provided starting key does not match the range key predicate');
  if (!samePartition) throw validationError('The query can return at most one row and cannot be restarted');
}

/**
 * The common Query/Scan loop: walks store keys in order (or reverse) in bounded chunks, counts every
 * evaluated item against Limit and the 1 MB page, applies the filter, projects, and reports where it
 * stopped as LastEvaluatedKey.
 */
export function walk(provider: ItemStore, t: TableState, target: IndexState | undefined, input: ReadInput, bounds: { gte?: Buffer; gt?: Buffer; lt?: Buffer; lte?: Buffer }, filter: Condition | undefined, paths: Path[] | undefined, reverse: boolean, segment: { segment: number; total: number } | undefined, ctx: RequestContext): ReadOutput {
  const limit: number = input.Limit ?? Number.MAX_SAFE_INTEGER;
  const select: string = input.Select ?? (paths ? 'SPECIFIC_ATTRIBUTES' : target ? 'ALL_PROJECTED_ATTRIBUTES' : 'ALL_ATTRIBUTES');
  const consistent = input.ConsistentRead === true;
  const lo: { gte?: Buffer; gt?: Buffer } = bounds.gt ? { gt: bounds.gt } : { gte: bounds.gte! };
  const hi: { lt?: Buffer; lte?: Buffer } = bounds.lte ? { lte: bounds.lte } : { lt: bounds.lt! };
  if (input.ExclusiveStartKey) {
    const sk = startKey(provider, t, target, input.ExclusiveStartKey, input.KeyConditionExpression === undefined && input.KeyConditions === undefined ? 'Scan' : 'Query');
    if (segment && segmentOf(sk, segment.total) !== segment.segment) {
      throw validationError(`The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: ${segment.total} Segment: ${segment.segment}`);
    }
    if (reverse) {
      delete hi.lte;
      if (!hi.lt || Buffer.compare(sk, hi.lt) < 0) hi.lt = sk;
    } else {
      delete lo.gte;
      lo.gt = sk;
    }
  }
  const items: (Item | RawJson)[] = [];
  let scanned = 0;
  let count = 0;
  let bytes = 0;
  let last: string | undefined;
  let stopped = false;
  // LSI reads of attributes outside the projection fetch the table item (and pay for it).
  const fetch = target !== undefined && !target.meta.global && target.projected !== 'ALL' && needsFetch(provider, select, paths, target);
  // The loop ends when the range is exhausted, Limit items were evaluated, or 1 MB was read; each
  // chunk advances the cursor past the entries it read.
  for (;;) {
    const want = Math.min(SCAN_CHUNK, limit - scanned);
    if (want <= 0) {
      stopped = true;
      break;
    }
    const chunk = provider.items.scanText({ ...lo, ...hi, reverse, limit: want }, ITEM_HEADER_BYTES);
    for (const v of chunk) {
      const size = textValueSize(v);
      const json = textValueJson(v);
      scanned++;
      bytes += size;
      last = json;
      if (!fetch && !filter && !paths) {
        // The entry as stored is the answer.
        count++;
        if (select !== 'COUNT') items.push(storedItem(json, ctx));
      } else {
        let item = JSON.parse(json) as Item;
        if (fetch) {
          const tk = t.key;
          const base = provider.readItem(withNamespace(t.meta.ns, keyBody(item[tk.hashName]!, tk.hashType, tk.rangeName ? item[tk.rangeName] : undefined, tk.rangeType)));
          if (base) {
            item = base.item;
            bytes += base.size;
          }
        }
        if (!filter || evalCondition(filter, item)) {
          count++;
          if (select !== 'COUNT') items.push(paths ? project(item, paths) : item);
        }
      }
      if (bytes >= MB) {
        stopped = true;
        break;
      }
    }
    if (stopped) break;
    if (chunk.length < want) break;
    // The next chunk starts after the last entry read: its store key, rebuilt from its key
    // attributes exactly as an ExclusiveStartKey would be.
    const k = startKey(provider, t, target, keyOf(provider, JSON.parse(last!) as Item, t, target), 'Scan');
    if (reverse) hi.lt = k;
    else {
      delete lo.gte;
      lo.gt = k;
    }
  }
  if (scanned >= limit) stopped = true;
  const out: ReadOutput = {};
  if (select !== 'COUNT') out.Items = items;
  out.Count = count;
  out.ScannedCount = scanned;
  if (stopped && last) out.LastEvaluatedKey = keyOf(provider, JSON.parse(last) as Item, t, target);
  // Called whatever the mode: the metrics count every request's units (it answers undefined for NONE).
  const cc = provider.readCapacity(t, input.ReturnConsumedCapacity, readUnits(bytes, consistent), target?.meta.name);
  if (cc) out.ConsumedCapacity = cc;
  return out;
}

export function needsFetch(provider: ItemStore, select: string, paths: Path[] | undefined, idx: IndexState): boolean {
  if (select === 'ALL_ATTRIBUTES') return true;
  if (select === 'SPECIFIC_ATTRIBUTES' && paths && idx.projected !== 'ALL') {
    const projected = idx.projected;
    return paths.some((p) => !projected.has(p[0] as string));
  }
  return false;
}

export function keyOf(provider: ItemStore, item: Item, t: TableState, target: IndexState | undefined): Item {
  const out: Item = {};
  for (const n of t.keyAttrs) if (item[n]) out[n] = item[n];
  if (target) for (const p of target.ikey.parts) if (item[p.name]) out[p.name] = item[p.name]!;
  return out;
}
