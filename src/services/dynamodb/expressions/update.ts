/**
 * @module services/dynamodb/expressions/update
 * Applies UpdateExpression actions (or translated AttributeUpdates) to an item. Every right-hand side
 * is evaluated against the item as it was before the update, as DynamoDB does; then SET, REMOVE, ADD
 * and DELETE are applied. List removals run from the highest index down so that indexes refer to the
 * original list.
 */
import { validationError } from '../../../core/errors.js';
import { type AttributeValue, type Item, cloneValue, setKeys, typeOf, canonicalBase64 } from '../attributes.js';
import { addNumbers, NUMBER_ERROR_MESSAGES } from '../numbers.js';
import type { Path, SetValue, UpdateAction } from './ast.js';
import { resolvePath } from './evaluate.js';

const BAD_TYPE = 'An operand in the update expression has an incorrect data type';
const BAD_PATH = 'The document path provided in the update expression is invalid for update';
const MISSING = 'The provided expression refers to an attribute that does not exist in the item';

function arith(a: AttributeValue, b: AttributeValue, subtract: boolean): AttributeValue {
  if (a.N === undefined || b.N === undefined) throw validationError(BAD_TYPE);
  const r = addNumbers(a.N, b.N, subtract);
  if (r === 'invalid') throw validationError(BAD_TYPE);
  if (r === 'digits' || r === 'overflow' || r === 'underflow') throw validationError(NUMBER_ERROR_MESSAGES[r]);
  return { N: r };
}

function evalSetValue(v: SetValue, item: Item): AttributeValue {
  switch (v.k) {
    case 'value':
      return v.value;
    case 'path': {
      const r = resolvePath(item, v.path);
      if (!r) throw validationError(MISSING);
      return r;
    }
    case 'size':
      throw validationError(BAD_TYPE); // not reachable from the update grammar
    case 'if_not_exists':
      return resolvePath(item, v.path) ?? evalSetValue(v.fallback, item);
    case 'list_append': {
      const a = evalSetValue(v.a, item);
      const b = evalSetValue(v.b, item);
      if (!a.L || !b.L) throw validationError(BAD_TYPE);
      return { L: [...a.L, ...b.L] };
    }
    case 'plus':
    case 'minus':
      return arith(evalSetValue(v.a, item), evalSetValue(v.b, item), v.k === 'minus');
  }
}

/** The container holding the last path element, or undefined if the path cannot be reached. */
function parentOf(item: Item, path: Path): AttributeValue | Item | undefined {
  if (path.length === 1) return item;
  const parent = resolvePath(item, path.slice(0, -1));
  return parent;
}

function setAt(item: Item, path: Path, value: AttributeValue): void {
  const last = path[path.length - 1]!;
  if (path.length === 1) {
    item[last as string] = value;
    return;
  }
  const parent = parentOf(item, path) as AttributeValue | undefined;
  if (!parent) throw validationError(BAD_PATH);
  if (typeof last === 'number') {
    if (!parent.L) throw validationError(BAD_PATH);
    if (last >= parent.L.length) parent.L.push(value);
    else parent.L[last] = value;
  } else {
    if (!parent.M) throw validationError(BAD_PATH);
    parent.M[last] = value;
  }
}

function removeAt(item: Item, path: Path): void {
  const last = path[path.length - 1]!;
  if (path.length === 1) {
    delete item[last as string];
    return;
  }
  const parent = parentOf(item, path) as AttributeValue | undefined;
  if (!parent) return;
  if (typeof last === 'number') {
    if (!parent.L) throw validationError(BAD_PATH);
    if (last < parent.L.length) parent.L.splice(last, 1);
  } else {
    if (!parent.M) throw validationError(BAD_PATH);
    delete parent.M[last];
  }
}

function checkReachable(item: Item, path: Path): void {
  if (path.length === 1) return;
  const parent = parentOf(item, path) as AttributeValue | undefined;
  const last = path[path.length - 1];
  if (!parent || (typeof last === 'number' ? !parent.L : !parent.M)) throw validationError(BAD_PATH);
}

function addTo(existing: AttributeValue | undefined, v: AttributeValue): AttributeValue {
  const t = typeOf(v);
  if (!existing) {
    if (t !== 'N' && t !== 'SS' && t !== 'NS' && t !== 'BS') throw validationError(BAD_TYPE);
    return v;
  }
  if (t === 'N') return arith(existing, v, false);
  if (typeOf(existing) !== t) throw validationError(BAD_TYPE);
  if (t === 'SS') {
    const s = new Set(existing.SS);
    for (const x of v.SS!) s.add(x);
    return { SS: [...s] };
  }
  const have = setKeys(existing);
  const list = t === 'NS' ? [...existing.NS!] : [...existing.BS!];
  for (const x of t === 'NS' ? v.NS! : v.BS!) {
    const key = t === 'BS' ? canonicalBase64(x) : x;
    if (!have.has(key)) {
      have.add(key);
      list.push(x);
    }
  }
  return t === 'NS' ? { NS: list } : { BS: list };
}

function deleteFrom(existing: AttributeValue, v: AttributeValue): AttributeValue | undefined {
  const t = typeOf(v);
  if (t !== 'SS' && t !== 'NS' && t !== 'BS') throw validationError(BAD_TYPE);
  if (typeOf(existing) !== t) throw validationError(BAD_TYPE);
  const drop = setKeys(v);
  const members = (t === 'SS' ? existing.SS! : t === 'NS' ? existing.NS! : existing.BS!).filter((x) => !drop.has(t === 'BS' ? canonicalBase64(x) : x));
  if (members.length === 0) return undefined;
  return t === 'SS' ? { SS: members } : t === 'NS' ? { NS: members } : { BS: members };
}

/** Returns the updated copy of `item` (which is not modified). Throws ValidationException on type errors. */
export function applyUpdate(item: Item, actions: UpdateAction[]): Item {
  const out: Item = {};
  for (const k in item) out[k] = cloneValue(item[k]!);
  // Right-hand sides see the item before any action ran.
  const sets: { path: Path; value: AttributeValue }[] = [];
  for (const a of actions) if (a.k === 'set') sets.push({ path: a.path, value: cloneValue(evalSetValue(a.value, item)) });
  for (const s of sets) setAt(out, s.path, s.value);
  const removes = actions.filter((a) => a.k === 'remove');
  // Highest list index first so earlier indexes stay valid.
  removes.sort((x, y) => {
    const a = x.path[x.path.length - 1];
    const b = y.path[y.path.length - 1];
    return typeof a === 'number' && typeof b === 'number' ? b - a : 0;
  });
  for (const r of removes) removeAt(out, r.path);
  for (const a of actions) {
    if (a.k === 'add') {
      checkReachable(out, a.path);
      setAt(out, a.path, addTo(resolvePath(out, a.path), cloneValue(a.value)));
    } else if (a.k === 'delete') {
      checkReachable(out, a.path);
      const existing = resolvePath(out, a.path);
      if (!existing) continue;
      const next = deleteFrom(existing, a.value);
      if (next) setAt(out, a.path, next);
      else removeAt(out, a.path);
    }
  }
  return out;
}

/** Top-level attribute names an update touched (for UPDATED_OLD / UPDATED_NEW). */
export function updatedTopLevel(actions: UpdateAction[]): Set<string> {
  return new Set(actions.map((a) => a.path[0] as string));
}
