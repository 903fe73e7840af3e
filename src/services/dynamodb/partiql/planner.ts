/**
 * @module services/dynamodb/partiql/planner
 * Turns a parsed PartiQL statement into the DynamoDB item operation that serves it, as DynamoDB itself
 * does: the WHERE clause becomes expressions (every name and value behind a #n / :v placeholder, so no
 * reserved word or literal can break them), key equalities become the Key, and the rest becomes the
 * ConditionExpression or FilterExpression. A SELECT with an equality on the partition key (of the table,
 * or of the index named as "table"."index") and at most one supported sort key condition is a Query;
 * any other SELECT is a Scan with the whole WHERE clause as its filter.
 *
 * INSERT is a PutItem on condition that no item has the key; UPDATE is an UpdateItem on condition that the
 * item exists (plus the WHERE clause's other conditions); DELETE is a DeleteItem under the other
 * conditions; EXISTS(SELECT …) is a ConditionCheck. Pure: the statement, the parameters and the table's
 * key schema in, an operation out, or a Rejection with DynamoDB's message.
 */
import type { AttributeValue, Item } from '../attributes.js';
import type { DocPath, Expr, OrderBy, Returning, SelectStatement, Statement, TableRef, UpdateClause } from './ast.js';
import { Rejection } from './parser.js';
import { NUMBER_ERROR_MESSAGES, normalizeNumber } from '../numbers.js';
import { PARTIQL_MULTI_ATTRIBUTE_KEY_REFUSAL } from '../indexes/keys.js';
import type * as M from '../../../models/dynamodb.js';

type ReturnValues = NonNullable<M.UpdateItemInput['ReturnValues']>;

export type KeyType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  name: string;
  type: KeyType;
}

export interface KeySchema {
  hash: KeyAttribute;
  range?: KeyAttribute;
}

export interface TableSchema extends KeySchema {
  /** The table's name as stored (the statement may name it by ARN). */
  name: string;
  /** multi: the index key has several HASH or RANGE attributes (PartiQL refuses to read such an index). */
  indexes: Map<string, KeySchema & { global: boolean; multi?: boolean }>;
}

/** Which API carries the statement: their rules for reads differ. */
export type UseCase = 'statement' | 'batch' | 'transaction';

export interface Placeholders {
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
}

export interface ReadInput extends Placeholders {
  TableName: string;
  IndexName?: string;
  KeyConditionExpression?: string;
  FilterExpression?: string;
  ProjectionExpression?: string;
  ScanIndexForward?: boolean;
}

export interface GetInput extends Placeholders {
  TableName: string;
  Key: Item;
  ProjectionExpression?: string;
}

export interface PutInput extends Placeholders {
  TableName: string;
  Item: Item;
  ConditionExpression: string;
}

export interface UpdateInput extends Placeholders {
  TableName: string;
  Key: Item;
  UpdateExpression: string;
  ConditionExpression: string;
  ReturnValues?: ReturnValues;
}

export interface DeleteInput extends Placeholders {
  TableName: string;
  Key: Item;
  ConditionExpression?: string;
  ReturnValues?: ReturnValues;
}

export interface CheckInput extends Placeholders {
  TableName: string;
  Key: Item;
  ConditionExpression: string;
}

export type Plan =
  /** paths: the SELECT's projection, when it names attributes (the answer is unnested by them, see unnest.ts). */
  | { k: 'query'; input: ReadInput; paths?: DocPath[] }
  /** order: an ORDER BY the Scan cannot give (the page is sorted by it). */
  | { k: 'scan'; input: ReadInput; paths?: DocPath[]; order?: OrderBy[] }
  | { k: 'get'; input: GetInput; paths?: DocPath[] }
  | { k: 'put'; input: PutInput }
  | { k: 'update'; input: UpdateInput }
  | { k: 'delete'; input: DeleteInput }
  | { k: 'check'; input: CheckInput };

const RETURN_VALUES: Record<Returning, ReturnValues> = { 'ALL OLD': 'ALL_OLD', 'ALL NEW': 'ALL_NEW', 'MODIFIED OLD': 'UPDATED_OLD', 'MODIFIED NEW': 'UPDATED_NEW' };

const IS_TYPE_CODES: Record<string, string> = { BOOLEAN: 'BOOL', STRING: 'S', NUMERIC: 'N', BLOB: 'B', STRUCT: 'M', TUPLE: 'M', LIST: 'L' };

const CONDITION_FUNCTIONS = new Set(['begins_with', 'contains', 'attribute_exists', 'attribute_not_exists', 'attribute_type', 'size']);

export const MISMATCH_PARAMETERS = "Number of parameters in request and statement don't match.";
export const MANDATORY_KEY = 'Where clause does not contain a mandatory equality on all key attributes';

/** The table a statement names, and whether it names an index (for the checks made before any lookup). */
export function statementTarget(s: Statement): TableRef {
  switch (s.k) {
    case 'select': return s.from;
    case 'insert': return s.into;
    case 'update': return s.target;
    case 'delete': return s.from;
    case 'exists': return s.select.from;
  }
}

/** Collects the placeholders of one operation's expressions. */
class Placeholder {
  private readonly names = new Map<string, string>();
  private readonly values: Record<string, AttributeValue> = {};
  private valueCount = 0;

  name(n: string): string {
    let p = this.names.get(n);
    if (p === undefined) {
      p = `#n${this.names.size}`;
      this.names.set(n, p);
    }
    return p;
  }

  value(v: AttributeValue): string {
    const p = `:v${this.valueCount++}`;
    this.values[p] = v;
    return p;
  }

  path(path: DocPath): string {
    let out = this.name(path[0]);
    for (let i = 1; i < path.length; i++) {
      const step = path[i]!;
      out += typeof step === 'number' ? `[${step}]` : `.${this.name(step)}`;
    }
    return out;
  }

  into<T extends Placeholders>(input: T): T {
    if (this.names.size) input.ExpressionAttributeNames = Object.fromEntries([...this.names].map(([n, p]) => [p, n]));
    if (this.valueCount) input.ExpressionAttributeValues = this.values;
    return input;
  }
}

function isValueNode(e: Expr): boolean {
  return ['string', 'number', 'bool', 'null', 'param', 'list', 'bag', 'struct', 'ion', 'missing'].includes(e.k);
}

/** Converts statement values (literals and parameters) to attribute values. */
export class Values {
  constructor(private readonly params: readonly AttributeValue[]) {}

  /**
   * `under` names where a value sits as DynamoDB's tuple and type messages do (`[]`, `[key]`); `at` as its number
   * messages do (`root`, `root.key`, `root[1]`); an INSERT's item has each of its attributes at `root`.
   */
  of(e: Expr, under = '[]', at = 'root', attributesAtRoot = false): AttributeValue {
    switch (e.k) {
      case 'string': return { S: e.value };
      case 'number': return { N: numberLiteral(e.text, at) };
      case 'bool': return { BOOL: e.value };
      case 'null': return { NULL: true };
      case 'param': {
        const v = this.params[e.index];
        if (v === undefined) throw new Rejection(MISMATCH_PARAMETERS);
        return v;
      }
      case 'list': return { L: e.items.map((i, n) => this.of(i, under, `${at}[${n}]`)) };
      case 'bag': return this.bag(e.items, under);
      case 'struct': {
        const m: Item = {};
        for (const f of e.fields) {
          const key = f.key.k === 'string' ? f.key.value : f.key.k === 'param' ? this.of(f.key, under).S : undefined;
          if (key === undefined) throw new Rejection(`Tuple keys must be of type String. Actual type: ${describeNode(f.key)} under ${under}`);
          if (Object.prototype.hasOwnProperty.call(m, key)) throw new Rejection(`Duplicate keys in tuple. Key: ${key} under ${under}`);
          m[key] = this.of(f.value, `${under === '[]' ? '' : under}[${key}]`, attributesAtRoot ? 'root' : `${at}.${key}`);
        }
        return { M: m };
      }
      case 'missing': throw new Rejection('MISSING must be compared using IS operator');
      case 'ion': throw new Rejection(`Ion Literals are not supported: ${e.text} under key ${under}`);
      default: throw new Rejection(`Unsupported data type: ${describeNode(e)} under key ${under}`);
    }
  }

  private bag(items: Expr[], under: string): AttributeValue {
    if (items.length === 0) throw new Rejection('Empty bags are not supported');
    const values = items.map((i) => this.of(i, under));
    if (values.every((v) => v.S !== undefined)) return { SS: values.map((v) => v.S!) };
    if (values.every((v) => v.N !== undefined)) return { NS: values.map((v) => v.N!) };
    throw new Rejection('Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags');
  }
}

/**
 * A number literal DynamoDB can store: one out of its range is refused with the number's message and where the literal
 * sits (`… under root`, `… under root.m[1]`), as DynamoDB answers a statement (paritysuite's captures of AWS).
 */
function numberLiteral(text: string, at: string): string {
  const n = normalizeNumber(text);
  if (n === 'digits' || n === 'overflow' || n === 'underflow') throw new Rejection(`${NUMBER_ERROR_MESSAGES[n]} under ${at}`);
  return text;
}

function describeNode(e: Expr): string {
  switch (e.k) {
    case 'path': return e.path.length > 1 ? 'PATH' : e.path[0];
    case 'call': return e.name;
    case 'param': return 'PARAMETER';
    case 'struct': return 'STRUCT';
    case 'list': return 'LIST';
    case 'bag': return 'BAG';
    case 'missing': return 'MISSING';
    case 'cmp': return e.op;
    case 'arith': return e.op;
    default: return e.k.toUpperCase();
  }
}

/** Emits DynamoDB expression text for PartiQL conditions and update values. */
class Emitter {
  constructor(readonly ph: Placeholder, private readonly values: Values) {}

  operand(e: Expr): string {
    if (e.k === 'path') return this.ph.path(e.path);
    if (e.k === 'call' && e.name === 'size') {
      if (e.args.length !== 1 || e.args[0]!.k !== 'path') throw new Rejection('Incorrect number of operands for operator or function; operator or function: size, number of operands: ' + e.args.length);
      return `size(${this.ph.path(e.args[0].path)})`;
    }
    if (isValueNode(e)) return this.ph.value(this.values.of(e));
    if (e.k === 'call') throw this.unknownFunction(e.name);
    throw new Rejection(`Unsupported operator in Condition Expression. Operator: ${describeNode(e)}`);
  }

  private unknownFunction(name: string): Rejection {
    return new Rejection(CONDITION_FUNCTIONS.has(name) ? `Unsupported function in Condition Expression: ${name}` : `Unrecognized function: ${name}`);
  }

  condition(e: Expr): string {
    switch (e.k) {
      case 'and': return `(${this.condition(e.l)} AND ${this.condition(e.r)})`;
      case 'or': return `(${this.condition(e.l)} OR ${this.condition(e.r)})`;
      case 'not': return `(NOT ${this.condition(e.e)})`;
      case 'cmp': return `${this.operand(e.l)} ${e.op} ${this.operand(e.r)}`;
      case 'between': return `${this.operand(e.v)} BETWEEN ${this.operand(e.lo)} AND ${this.operand(e.hi)}`;
      case 'in': {
        // The right side is a sequence: (a, b), [a, b] or <<a, b>>.
        const list = Array.isArray(e.list) ? e.list : e.list.k === 'list' || e.list.k === 'bag' ? e.list.items : undefined;
        if (!list || list.length === 0 || e.v.k !== 'path') {
          throw new Rejection('IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member');
        }
        return `${this.operand(e.v)} IN (${list.map((x) => this.operand(x)).join(', ')})`;
      }
      case 'is': {
        if (e.e.k !== 'path') throw new Rejection('The left hand side argument to IS must be a Variable Reference, Literal, or Path');
        const p = this.ph.path(e.e.path);
        let out: string;
        if (e.type === 'MISSING') return e.negated ? `attribute_exists(${p})` : `attribute_not_exists(${p})`;
        if (e.type === 'NULL') out = `${p} = ${this.ph.value({ NULL: true })}`;
        else out = `attribute_type(${p}, ${this.ph.value({ S: IS_TYPE_CODES[e.type]! })})`;
        return e.negated ? `(NOT ${out})` : out;
      }
      case 'call': {
        const arity: Record<string, number> = { begins_with: 2, contains: 2, attribute_exists: 1, attribute_not_exists: 1, attribute_type: 2 };
        const n = arity[e.name];
        if (n === undefined) throw this.unknownFunction(e.name);
        if (e.args.length !== n) throw new Rejection(`Incorrect number of operands for operator or function; operator or function: ${e.name}, number of operands: ${e.args.length}`);
        if (n === 1 || e.name === 'attribute_type') {
          if (e.args[0]!.k !== 'path') throw new Rejection(`Operator or function requires a document path; operator or function: ${e.name}`);
        }
        return `${e.name}(${e.args.map((a) => this.operand(a)).join(', ')})`;
      }
      case 'path':
      case 'string': case 'number': case 'bool': case 'null': case 'param': case 'list': case 'bag': case 'struct': case 'ion':
        throw new Rejection('WHERE clause must contain an expression that resolves to a boolean');
      case 'missing':
        throw new Rejection('MISSING must be compared using IS operator');
      default:
        throw new Rejection(`Unsupported operator in Condition Expression. Operator: ${describeNode(e)}`);
    }
  }

  /** The value of a SET: a value, a path, +/- of those, or list_append / if_not_exists. */
  setValue(e: Expr): string {
    switch (e.k) {
      case 'path': return this.ph.path(e.path);
      case 'arith':
        if (e.op !== '+' && e.op !== '-') throw new Rejection(`Unsupported operator in Update Expression. Operator: ${e.op}`);
        return `${this.setValue(e.l)} ${e.op} ${this.setValue(e.r)}`;
      case 'is': throw new Rejection('IS operator is not supported in update expressions');
      case 'call':
        if (e.name === 'list_append' && e.args.length === 2) return `list_append(${this.setValue(e.args[0]!)}, ${this.setValue(e.args[1]!)})`;
        if (e.name === 'if_not_exists' && e.args.length === 2 && e.args[0]!.k === 'path') return `if_not_exists(${this.ph.path(e.args[0].path)}, ${this.setValue(e.args[1]!)})`;
        if (e.name === 'list_append' || e.name === 'if_not_exists') {
          throw new Rejection(`Incorrect number of operands for operator or function; operator or function: ${e.name}, number of operands: ${e.args.length}`);
        }
        throw new Rejection(`Unrecognized function: ${e.name}`);
      default:
        if (isValueNode(e)) return this.ph.value(this.values.of(e));
        throw new Rejection(`Unsupported operator in Update Expression. Operator: ${describeNode(e)}`);
    }
  }
}

/** The conjuncts of an AND chain. */
function conjuncts(e: Expr | undefined, out: Expr[] = []): Expr[] {
  if (!e) return out;
  if (e.k === 'and') {
    conjuncts(e.l, out);
    conjuncts(e.r, out);
  } else out.push(e);
  return out;
}

function andAll(parts: Expr[]): Expr | undefined {
  return parts.length ? parts.reduce((l, r) => ({ k: 'and', l, r })) : undefined;
}

function topName(e: Expr): string | undefined {
  return e.k === 'path' && e.path.length === 1 ? e.path[0] : undefined;
}

/** `key = value` (either way round) on one of the named top-level attributes. */
function keyEquality(e: Expr, names: string[]): { name: string; value: Expr } | undefined {
  if (e.k !== 'cmp' || e.op !== '=') return undefined;
  const l = topName(e.l);
  const r = topName(e.r);
  if (l !== undefined && names.includes(l) && isValueNode(e.r)) return { name: l, value: e.r };
  if (r !== undefined && names.includes(r) && isValueNode(e.l)) return { name: r, value: e.l };
  return undefined;
}

function sameValue(a: AttributeValue, b: AttributeValue): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function mentions(e: Expr, names: Set<string>): boolean {
  switch (e.k) {
    case 'path': return names.has(e.path[0]);
    case 'and': case 'or': case 'cmp': case 'arith': return mentions(e.l, names) || mentions(e.r, names);
    case 'not': case 'neg': return mentions(e.e, names);
    case 'is': return mentions(e.e, names);
    case 'between': return mentions(e.v, names) || mentions(e.lo, names) || mentions(e.hi, names);
    case 'in': return mentions(e.v, names) || (Array.isArray(e.list) ? e.list.some((x) => mentions(x, names)) : mentions(e.list, names));
    case 'call': return e.args.some((a) => mentions(a, names));
    default: return false;
  }
}

function checkKeyValue(name: string, v: AttributeValue, type: KeyType): void {
  const actual = Object.keys(v)[0] ?? '';
  if (actual !== 'S' && actual !== 'N' && actual !== 'B') throw new Rejection(`Key value must be of type S, N, or B. Key name: ${name}, Key type: ${actual}`);
  if (actual !== type) throw new Rejection(`Key attribute's data type should match its data type in table's schema: Key ${name}`);
}

/** Splits a DML WHERE clause into the item's key (every key attribute by equality) and the remaining condition. */
function dmlKey(where: Expr | undefined, schema: KeySchema, values: Values, message = MANDATORY_KEY): { key: Item; rest: Expr[] } {
  const names = [schema.hash.name, ...(schema.range ? [schema.range.name] : [])];
  const key: Item = {};
  const rest: Expr[] = [];
  for (const c of conjuncts(where)) {
    const eq = keyEquality(c, names);
    if (!eq) {
      rest.push(c);
      continue;
    }
    const v = values.of(eq.value);
    const prior = key[eq.name];
    if (prior && !sameValue(prior, v)) throw new Rejection(`Multiple conditions on same key ${eq.name}. Only single item Update/Insert/Delete are supported`);
    key[eq.name] = v;
  }
  if (!names.every((n) => key[n] !== undefined)) throw new Rejection(message);
  checkKeyValue(schema.hash.name, key[schema.hash.name]!, schema.hash.type);
  if (schema.range) checkKeyValue(schema.range.name, key[schema.range.name]!, schema.range.type);
  return { key, rest };
}

interface KeyCondition {
  hash: AttributeValue;
  range?: { op: string; values: AttributeValue[] };
  rest: Expr[];
}

/**
 * The key condition of a SELECT on a key schema, or undefined when it is not a Query (no single equality on the
 * partition key, or a sort key condition a Query cannot take): DynamoDB then scans with the whole clause.
 */
function selectKeyCondition(where: Expr | undefined, schema: KeySchema, values: Values): KeyCondition | undefined {
  let hash: AttributeValue | undefined;
  let range: KeyCondition['range'];
  const rest: Expr[] = [];
  const hashName = schema.hash.name;
  const rangeName = schema.range?.name;
  const flip: Record<string, string> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
  for (const c of conjuncts(where)) {
    if (c.k === 'cmp') {
      const lName = topName(c.l);
      const rName = topName(c.r);
      const name = lName !== undefined && isValueNode(c.r) ? lName : rName !== undefined && isValueNode(c.l) ? rName : undefined;
      if (name === hashName) {
        if (c.op !== '=') return undefined;
        const v = values.of(name === lName ? c.r : c.l);
        if (hash && !sameValue(hash, v)) return undefined;
        hash = v;
        continue;
      }
      if (name !== undefined && name === rangeName) {
        if (c.op === '<>' || range) return undefined;
        range = { op: name === lName ? c.op : flip[c.op]!, values: [values.of(name === lName ? c.r : c.l)] };
        continue;
      }
    } else if (c.k === 'between' && rangeName !== undefined && topName(c.v) === rangeName && isValueNode(c.lo) && isValueNode(c.hi)) {
      if (range) return undefined;
      range = { op: 'BETWEEN', values: [values.of(c.lo), values.of(c.hi)] };
      continue;
    } else if (c.k === 'call' && c.name === 'begins_with' && c.args.length === 2 && rangeName !== undefined && topName(c.args[0]!) === rangeName && isValueNode(c.args[1]!)) {
      if (range) return undefined;
      range = { op: 'BEGINS_WITH', values: [values.of(c.args[1]!)] };
      continue;
    } else if (c.k === 'not' && mentions(c, new Set([hashName]))) {
      return undefined;
    }
    rest.push(c);
  }
  if (hash === undefined) return undefined;
  // A Query's filter may not name the key it queries by: such a statement is served by a Scan instead.
  if (rest.some((r) => mentions(r, new Set([hashName, ...(rangeName ? [rangeName] : [])])))) return undefined;
  return { hash, ...(range ? { range } : {}), rest };
}

function projectionOf(select: SelectStatement, ph: Placeholder): string | undefined {
  if (select.projection === '*') return undefined;
  return select.projection.map((p) => ph.path(p)).join(', ');
}

function pathsOf(select: SelectStatement): { paths?: DocPath[] } {
  return select.projection === '*' ? {} : { paths: select.projection };
}

function readSchema(schema: TableSchema, index: string | undefined): KeySchema {
  if (index === undefined) return schema;
  const idx = schema.indexes.get(index);
  if (!idx) throw new Rejection('The table does not have the specified index');
  return idx;
}

function planSelect(s: SelectStatement, schema: TableSchema, values: Values, use: UseCase): Plan {
  const index = s.from.index;
  // AWS refuses a read of a multi-attribute key index ahead of every rule on the statement's form.
  if (index !== undefined && schema.indexes.get(index)?.multi) throw new Rejection(PARTIQL_MULTI_ATTRIBUTE_KEY_REFUSAL);
  if (use !== 'statement') {
    if (index !== undefined && use === 'transaction') throw new Rejection('Reads on indices are not supported within transactions.');
    const message = use === 'transaction'
      ? 'Select statements within ExecuteTransaction must specify the primary key in the where clause.'
      : 'Select statements within BatchExecuteStatement must specify the primary key in the where clause.';
    if (index !== undefined) throw new Rejection(message);
    let found: { key: Item; rest: Expr[] };
    try {
      found = dmlKey(s.where, schema, values, message);
    } catch (e) {
      if (e instanceof Rejection && e.message.startsWith('Key attribute')) throw e;
      throw new Rejection(message);
    }
    if (found.rest.length) throw new Rejection(message);
    const ph = new Placeholder();
    const projection = projectionOf(s, ph);
    return { k: 'get', input: ph.into<GetInput>({ TableName: schema.name, Key: found.key, ...(projection ? { ProjectionExpression: projection } : {}) }), ...pathsOf(s) };
  }
  const keySchema = readSchema(schema, index);
  const ph = new Placeholder();
  const emit = new Emitter(ph, values);
  const base: ReadInput = { TableName: schema.name, ...(index !== undefined ? { IndexName: index } : {}) };
  const kc = selectKeyCondition(s.where, keySchema, values);
  if (s.orderBy) checkOrderBy(s, keySchema);
  if (kc) {
    checkKeyValue(keySchema.hash.name, kc.hash, keySchema.hash.type);
    let keyCondition = `${ph.name(keySchema.hash.name)} = ${ph.value(kc.hash)}`;
    if (kc.range) {
      const r = ph.name(keySchema.range!.name);
      for (const v of kc.range.values) checkKeyValue(keySchema.range!.name, v, keySchema.range!.type);
      const vs = kc.range.values.map((v) => ph.value(v));
      if (kc.range.op === 'BETWEEN') keyCondition += ` AND ${r} BETWEEN ${vs[0]} AND ${vs[1]}`;
      else if (kc.range.op === 'BEGINS_WITH') keyCondition += ` AND begins_with(${r}, ${vs[0]})`;
      else keyCondition += ` AND ${r} ${kc.range.op} ${vs[0]}`;
    }
    const filter = andAll(kc.rest);
    const input: ReadInput = { ...base, KeyConditionExpression: keyCondition };
    if (filter) input.FilterExpression = emit.condition(filter);
    const projection = projectionOf(s, ph);
    if (projection) input.ProjectionExpression = projection;
    const rangeOrder = s.orderBy?.find((o) => o.path.length === 1 && o.path[0] === keySchema.range?.name) ?? s.orderBy?.[0];
    if (rangeOrder?.descending) input.ScanIndexForward = false;
    return { k: 'query', input: ph.into(input), ...pathsOf(s) };
  }
  const input: ReadInput = { ...base };
  if (s.where) input.FilterExpression = emit.condition(s.where);
  const projection = projectionOf(s, ph);
  if (projection) input.ProjectionExpression = projection;
  return { k: 'scan', input: ph.into(input), ...pathsOf(s), ...(s.orderBy ? { order: s.orderBy } : {}) };
}

/** Whether every way the clause can hold names the partition key (an OR needs it on both sides). */
function pinsHash(e: Expr, hash: string): boolean {
  switch (e.k) {
    case 'and': return pinsHash(e.l, hash) || pinsHash(e.r, hash);
    case 'or': return pinsHash(e.l, hash) && pinsHash(e.r, hash);
    case 'cmp': return (topName(e.l) === hash && isValueNode(e.r)) || (topName(e.r) === hash && isValueNode(e.l));
    case 'between': return topName(e.v) === hash;
    case 'in': return topName(e.v) === hash;
    case 'call': return e.args.length > 1 && topName(e.args[0]!) === hash;
    default: return false;
  }
}

function checkOrderBy(s: SelectStatement, schema: KeySchema): void {
  if (!s.where) throw new Rejection('Must have WHERE clause in the statement when using ORDER BY clause.');
  if (!pinsHash(s.where, schema.hash.name)) throw new Rejection('Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.');
  const keys = [schema.hash.name, ...(schema.range ? [schema.range.name] : [])];
  for (const o of s.orderBy ?? []) {
    if (o.path.length !== 1 || !keys.includes(o.path[0])) {
      throw new Rejection(`Variable reference ${o.path.join('.')} in ORDER BY clause must be part of the primary key`);
    }
  }
}

function updateExpression(clauses: UpdateClause[], emit: Emitter, values: Values): string {
  const groups: Record<'SET' | 'REMOVE' | 'ADD' | 'DELETE', string[]> = { SET: [], REMOVE: [], ADD: [], DELETE: [] };
  for (const c of clauses) {
    const target = emit.ph.path(c.path);
    if (c.k === 'remove') {
      groups.REMOVE.push(target);
      continue;
    }
    const v = c.value;
    if (v.k === 'call' && (v.name === 'set_add' || v.name === 'set_delete')) {
      const which = v.name === 'set_add' ? 'ADD' : 'DELETE';
      if (v.args.length !== 2) throw new Rejection(`SET_${which} must have exactly two arguments`);
      const first = v.args[0]!;
      if (first.k !== 'path' || JSON.stringify(first.path) !== JSON.stringify(c.path)) throw new Rejection(`The first argument to SET_${which} must equal the assignment value`);
      const second = v.args[1]!;
      const set = isValueNode(second) ? values.of(second) : undefined;
      if (!set || (set.SS === undefined && set.NS === undefined && set.BS === undefined)) throw new Rejection(`The second argument to SET_${which} must be a value with type SET`);
      groups[which].push(`${target} ${emit.ph.value(set)}`);
      continue;
    }
    groups.SET.push(`${target} = ${emit.setValue(v)}`);
  }
  return (Object.keys(groups) as (keyof typeof groups)[]).filter((g) => groups[g].length).map((g) => `${g} ${groups[g].join(', ')}`).join(' ');
}

/**
 * Plans one statement. `schema` answers for the table the statement names (it throws when there is none).
 * Throws Rejection with DynamoDB's message for statements DynamoDB refuses.
 */
export function plan(s: Statement, params: readonly AttributeValue[], schemaOf: (table: string) => TableSchema, use: UseCase): Plan {
  const values = new Values(params);
  const target = statementTarget(s);
  if (s.k !== 'select' && s.k !== 'exists' && target.index !== undefined) throw new Rejection('This operation is not supported on an index');
  if (s.k === 'exists') {
    if (use !== 'transaction') throw new Rejection('EXISTS can only be used in ExecuteTransaction write requests.');
    if (target.index !== undefined) throw new Rejection('Operations on indices are not supported in transactions');
  }
  const schema = schemaOf(target.table);
  const ph = new Placeholder();
  const emit = new Emitter(ph, values);
  const keyNames = [schema.hash.name, ...(schema.range ? [schema.range.name] : [])];
  switch (s.k) {
    case 'select':
      return planSelect(s, schema, values, use);
    case 'insert': {
      const item = values.of(s.value, '[]', 'root', true);
      if (item.M === undefined) throw new Rejection('Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.');
      for (const k of [schema.hash, ...(schema.range ? [schema.range] : [])]) {
        const v = item.M[k.name];
        if (!v) throw new Rejection(`Key attribute should be present in the item: Key ${k.name}`);
        if (Object.keys(v)[0] !== k.type) throw new Rejection(`Key attribute's data type should match its data type in table's schema: Key ${k.name}`);
      }
      return { k: 'put', input: ph.into<PutInput>({ TableName: schema.name, Item: item.M, ConditionExpression: `attribute_not_exists(${ph.name(schema.hash.name)})` }) };
    }
    case 'update': {
      const { key, rest } = dmlKey(s.where, schema, values);
      const update = updateExpression(s.clauses, emit, values);
      const exists = `attribute_exists(${ph.name(schema.hash.name)})`;
      const extra = andAll(rest);
      const input: UpdateInput = { TableName: schema.name, Key: key, UpdateExpression: update, ConditionExpression: extra ? `${exists} AND ${emit.condition(extra)}` : exists };
      if (s.returning) input.ReturnValues = RETURN_VALUES[s.returning];
      return { k: 'update', input: ph.into(input) };
    }
    case 'delete': {
      if (s.returning && s.returning !== 'ALL OLD') {
        throw new Rejection(`Invalid returning clause: RETURNING ${s.returning} *. Only RETURNING ALL OLD * is allowed in DELETE statements.`);
      }
      const { key, rest } = dmlKey(s.where, schema, values);
      const extra = andAll(rest);
      const input: DeleteInput = { TableName: schema.name, Key: key };
      if (extra) input.ConditionExpression = emit.condition(extra);
      if (s.returning) input.ReturnValues = 'ALL_OLD';
      return { k: 'delete', input: ph.into(input) };
    }
    case 'exists': {
      const message = 'EXISTS() must contain a single item read with additional condition';
      if (!s.select.where) throw new Rejection(message);
      const key: Item = {};
      const rest: Expr[] = [];
      for (const c of conjuncts(s.select.where)) {
        const eq = keyEquality(c, keyNames);
        if (eq && key[eq.name] === undefined) key[eq.name] = values.of(eq.value);
        else rest.push(c);
      }
      if (!keyNames.every((n) => key[n] !== undefined) || rest.length === 0) throw new Rejection(message);
      checkKeyValue(schema.hash.name, key[schema.hash.name]!, schema.hash.type);
      if (schema.range) checkKeyValue(schema.range.name, key[schema.range.name]!, schema.range.type);
      return { k: 'check', input: ph.into<CheckInput>({ TableName: schema.name, Key: key, ConditionExpression: emit.condition(andAll(rest)!) }) };
    }
  }
}

/** Whether a statement reads (SELECT) rather than writes; EXISTS counts as a write, as DynamoDB counts it. */
export function isRead(s: Statement): boolean {
  return s.k === 'select';
}
