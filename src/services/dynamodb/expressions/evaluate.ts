/**
 * @module services/dynamodb/expressions/evaluate
 * Evaluates condition trees against an item, with DynamoDB's type rules: ordering comparisons only
 * between two values of the same scalar type (S, N, B), equality across every type (sets compare as
 * sets), a missing attribute making every comparison false except `<>`, and functions that are simply
 * false on an operand of the wrong type at run time.
 */
import { type AttributeValue, type Item, compareScalars, setKeys, typeOf, valuesEqual, canonicalBase64 } from '../attributes.js';
import type { Condition, Operand, Path } from './ast.js';

/** The value at a document path, or undefined when any step is missing or of the wrong kind. */
export function resolvePath(item: Item, path: Path): AttributeValue | undefined {
  let cur: AttributeValue | undefined = item[path[0] as string];
  for (let i = 1; i < path.length && cur !== undefined; i++) {
    const el = path[i]!;
    if (typeof el === 'number') cur = cur.L ? cur.L[el] : undefined;
    else cur = cur.M ? (Object.prototype.hasOwnProperty.call(cur.M, el) ? cur.M[el] : undefined) : undefined;
  }
  return cur;
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function evalOperand(op: Operand, item: Item): AttributeValue | undefined {
  switch (op.k) {
    case 'value':
      return op.value;
    case 'path':
      return resolvePath(item, op.path);
    case 'size': {
      const v = evalOperand(op.arg, item);
      if (!v) return undefined;
      let n: number | undefined;
      if (v.S !== undefined) n = utf8Bytes(v.S);
      else if (v.B !== undefined) n = Buffer.from(v.B, 'base64').length;
      else if (v.SS) n = v.SS.length;
      else if (v.NS) n = v.NS.length;
      else if (v.BS) n = v.BS.length;
      else if (v.L) n = v.L.length;
      else if (v.M) n = Object.keys(v.M).length;
      return n === undefined ? undefined : { N: String(n) };
    }
  }
}

function compare(op: string, a: AttributeValue | undefined, b: AttributeValue | undefined): boolean {
  if (op === '<>') return !a || !b || !valuesEqual(a, b);
  if (!a || !b) return false;
  if (op === '=') return valuesEqual(a, b);
  const c = compareScalars(a, b);
  if (c === undefined) return false;
  switch (op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    default:
      return c >= 0;
  }
}

function beginsWith(v: AttributeValue | undefined, p: AttributeValue | undefined): boolean {
  if (!v || !p) return false;
  if (v.S !== undefined && p.S !== undefined) return v.S.startsWith(p.S);
  if (v.B !== undefined && p.B !== undefined) {
    const a = Buffer.from(v.B, 'base64');
    const b = Buffer.from(p.B, 'base64');
    return a.length >= b.length && a.subarray(0, b.length).equals(b);
  }
  return false;
}

function contains(v: AttributeValue | undefined, n: AttributeValue | undefined): boolean {
  if (!v || !n) return false;
  if (v.S !== undefined) return n.S !== undefined && v.S.includes(n.S);
  if (v.B !== undefined) return n.B !== undefined && Buffer.from(v.B, 'base64').includes(Buffer.from(n.B, 'base64'));
  if (v.SS) return n.S !== undefined && v.SS.includes(n.S);
  if (v.NS) return n.N !== undefined && setKeys(v).has(n.N);
  if (v.BS) return n.B !== undefined && setKeys(v).has(canonicalBase64(n.B));
  if (v.L) return v.L.some((e) => valuesEqual(e, n));
  return false;
}

export function evalCondition(c: Condition, item: Item): boolean {
  switch (c.k) {
    case 'true':
      return true;
    case 'and':
      return evalCondition(c.l, item) && evalCondition(c.r, item);
    case 'or':
      return evalCondition(c.l, item) || evalCondition(c.r, item);
    case 'not':
      return !evalCondition(c.c, item);
    case 'cmp':
      return compare(c.op, evalOperand(c.l, item), evalOperand(c.r, item));
    case 'between': {
      const v = evalOperand(c.v, item);
      const lo = evalOperand(c.lo, item);
      const hi = evalOperand(c.hi, item);
      if (!v || !lo || !hi) return false;
      const a = compareScalars(v, lo);
      const b = compareScalars(v, hi);
      return a !== undefined && b !== undefined && a >= 0 && b <= 0;
    }
    case 'in': {
      const v = evalOperand(c.v, item);
      if (!v) return false;
      return c.list.some((o) => {
        const x = evalOperand(o, item);
        return x !== undefined && valuesEqual(v, x);
      });
    }
    case 'exists':
      return resolvePath(item, c.path) !== undefined;
    case 'not_exists':
      return resolvePath(item, c.path) === undefined;
    case 'type': {
      const v = resolvePath(item, c.path);
      const t = evalOperand(c.type, item);
      return v !== undefined && t?.S !== undefined && typeOf(v) === t.S;
    }
    case 'begins_with':
      return beginsWith(evalOperand(c.v, item), evalOperand(c.prefix, item));
    case 'contains':
      return contains(evalOperand(c.v, item), evalOperand(c.needle, item));
  }
}

/**
 * Keeps only the projected paths of an item (ProjectionExpression / AttributesToGet). Nested paths
 * keep their enclosing maps and lists, with list elements compacted in index order as DynamoDB does.
 */
export function project(item: Item, paths: Path[]): Item {
  const out: Item = {};
  for (const path of paths) {
    const v = resolvePath(item, path);
    if (v === undefined) continue;
    if (path.length === 1) {
      out[path[0] as string] = v;
      continue;
    }
    mergeProjected(out, path, v);
  }
  return compactLists(out);
}

// Sparse list slots are marked by index while projecting, then compacted.
type Sparse = { __sparse: Map<number, AttributeValue> };

function mergeProjected(out: Item, path: Path, v: AttributeValue): void {
  let container: Record<string, AttributeValue> | Map<number, AttributeValue> = out;
  for (let i = 0; i < path.length; i++) {
    const el = path[i]!;
    const last = i === path.length - 1;
    const nextEl = path[i + 1];
    const make = (): AttributeValue => (typeof nextEl === 'number' ? ({ L: [], __sparse: new Map() } as unknown as AttributeValue) : { M: {} });
    if (container instanceof Map) {
      const idx = el as number;
      if (last) {
        container.set(idx, v);
        return;
      }
      let child: AttributeValue | undefined = container.get(idx);
      if (!child) {
        child = make();
        container.set(idx, child);
      }
      container = (child as unknown as Sparse).__sparse ?? child.M!;
    } else {
      const name = el as string;
      if (last) {
        container[name] = v;
        return;
      }
      let child: AttributeValue | undefined = container[name];
      if (!child) {
        child = make();
        container[name] = child;
      }
      container = (child as unknown as Sparse).__sparse ?? child.M!;
    }
  }
}

function compactLists(item: Item): Item {
  const fix = (v: AttributeValue): AttributeValue => {
    const sparse = (v as unknown as Partial<Sparse>).__sparse;
    if (sparse) {
      const keys = [...sparse.keys()].sort((a, b) => a - b);
      return { L: keys.map((k) => fix(sparse.get(k)!)) };
    }
    if (v.M && Object.getPrototypeOf(v) === Object.prototype) {
      const m: Record<string, AttributeValue> = {};
      for (const k in v.M) m[k] = fix(v.M[k]!);
      return { M: m };
    }
    return v;
  };
  const out: Item = {};
  for (const k in item) out[k] = fix(item[k]!);
  return out;
}
