/**
 * @module services/dynamodb/attributes
 * DynamoDB attribute values in their wire shape ({S: "x"}, {N: "1"}, {B: base64} …): validation with
 * AWS's messages, canonicalisation (numbers normalised, binaries re-encoded), size accounting exactly
 * as DynamoDB bills it, equality and ordering, and read/write capacity units.
 */
import { normalizeNumber, NUMBER_ERROR_MESSAGES, compareNumbers, numberSize } from './numbers.js';

export interface AttributeValue {
  S?: string;
  N?: string;
  B?: string;
  BOOL?: boolean;
  NULL?: boolean;
  M?: Record<string, AttributeValue>;
  L?: AttributeValue[];
  SS?: string[];
  NS?: string[];
  BS?: string[];
}
export type Item = Record<string, AttributeValue>;
export type AttrType = 'S' | 'N' | 'B' | 'BOOL' | 'NULL' | 'M' | 'L' | 'SS' | 'NS' | 'BS';

export const ATTR_TYPES: readonly AttrType[] = ['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS'];

export const MAX_ITEM_BYTES = 400 * 1024;
export const MAX_HASH_KEY_BYTES = 2048;
export const MAX_RANGE_KEY_BYTES = 1024;
/**
 * DynamoDB allows documents nested up to 32 levels deep, the attribute itself being level 1: a value
 * wrapped in 31 maps is accepted, in 32 refused (measured on AWS).
 */
export const MAX_NESTING_DEPTH = 32;
const NESTING_MESSAGE = 'Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit';

const INVALID = 'One or more parameter values were invalid: ';

/** The one type tag of a (valid) attribute value. */
export function typeOf(v: AttributeValue): AttrType {
  // The common case first: most values are S or N.
  if (v.S !== undefined) return 'S';
  if (v.N !== undefined) return 'N';
  for (const t of ATTR_TYPES) if ((v as Record<string, unknown>)[t] !== undefined) return t;
  throw new Error('attribute value without a type');
}

/**
 * Validates one value and canonicalises it in place (numbers normalised, binary base64 re-encoded).
 * Returns AWS's message for the first problem, or undefined.
 */
export function validateValue(v: unknown, depth = 0): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
  }
  if (depth >= MAX_NESTING_DEPTH) return NESTING_MESSAGE;
  const obj = v as Record<string, unknown>;
  let count = 0;
  let msg: string | undefined;
  for (const key in obj) {
    if (obj[key] === undefined || obj[key] === null) continue;
    if (!(ATTR_TYPES as readonly string[]).includes(key)) continue; // unknown members were dropped by the gateway
    count++;
    msg ??= validateTyped(key as AttrType, obj, depth);
  }
  if (count === 0) return 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
  if (msg) return msg;
  if (count > 1) return 'Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes';
  return undefined;
}

function validateTyped(type: AttrType, obj: Record<string, unknown>, depth: number): string | undefined {
  const val = obj[type];
  switch (type) {
    case 'S':
      return typeof val === 'string' ? undefined : 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
    case 'N': {
      if (typeof val !== 'string' || val === '') return 'The parameter cannot be converted to a numeric value';
      const n = normalizeNumber(val);
      if (n === 'invalid') return 'The parameter cannot be converted to a numeric value: ' + val;
      if (n === 'digits' || n === 'overflow' || n === 'underflow') return NUMBER_ERROR_MESSAGES[n];
      obj.N = n;
      return undefined;
    }
    case 'B':
      if (typeof val !== 'string') return INVALID + 'An AttributeValue may not contain a null or empty binary type.';
      obj.B = canonicalBase64(val);
      return undefined;
    case 'BOOL':
      return typeof val === 'boolean' ? undefined : 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
    case 'NULL':
      return val === true ? undefined : INVALID + 'Null attribute value types must have the value of true';
    case 'SS': {
      if (!Array.isArray(val) || val.length === 0) return INVALID + 'An string set  may not be empty';
      const seen = new Set<string>();
      for (const s of val) {
        if (typeof s !== 'string') return INVALID + 'An string set  may not be empty';
        if (seen.has(s)) return INVALID + 'Input collection [' + val.join(', ') + '] contains duplicates.';
        seen.add(s);
      }
      return undefined;
    }
    case 'NS': {
      if (!Array.isArray(val) || val.length === 0) return INVALID + 'An number set  may not be empty';
      const seen = new Set<string>();
      for (let i = 0; i < val.length; i++) {
        const s = val[i];
        if (typeof s !== 'string' || s === '') return 'The parameter cannot be converted to a numeric value';
        const n = normalizeNumber(s);
        if (n === 'invalid') return 'The parameter cannot be converted to a numeric value: ' + s;
        if (n === 'digits' || n === 'overflow' || n === 'underflow') return NUMBER_ERROR_MESSAGES[n];
        if (seen.has(n)) return 'Input collection contains duplicates';
        seen.add(n);
        val[i] = n;
      }
      return undefined;
    }
    case 'BS': {
      if (!Array.isArray(val) || val.length === 0) return INVALID + 'Binary sets should not be empty';
      const seen = new Set<string>();
      for (let i = 0; i < val.length; i++) {
        if (typeof val[i] !== 'string') return INVALID + 'Binary sets may not contain null or empty values';
        const b = canonicalBase64(val[i] as string);
        if (seen.has(b)) return INVALID + 'Input collection [' + val.join(', ') + ']of type BS contains duplicates.';
        seen.add(b);
        val[i] = b;
      }
      return undefined;
    }
    case 'M': {
      if (val === null || typeof val !== 'object' || Array.isArray(val)) return 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
      const m = val as Record<string, unknown>;
      for (const k in m) {
        const msg = validateValue(m[k], depth + 1);
        if (msg) return msg;
      }
      return undefined;
    }
    case 'L': {
      if (!Array.isArray(val)) return 'Supplied AttributeValue is empty, must contain exactly one of the supported datatypes';
      for (const e of val) {
        const msg = validateValue(e, depth + 1);
        if (msg) return msg;
      }
      return undefined;
    }
  }
}

/** Base64 as DynamoDB returns it: the canonical encoding of the decoded bytes. */
export function canonicalBase64(b64: string): string {
  return Buffer.from(b64, 'base64').toString('base64');
}

/** Validates every attribute of an item (names must be non-empty; values as validateValue). */
export function validateItemValues(item: Record<string, unknown>): string | undefined {
  for (const name in item) {
    const msg = validateValue(item[name]);
    if (msg) return msg;
  }
  return undefined;
}

function utf8Length(s: string): number {
  // Fast path for ASCII, which is most attribute names and many values.
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? s.length : Buffer.byteLength(s, 'utf8');
}

function base64Length(b64: string): number {
  let pad = 0;
  if (b64.endsWith('==')) pad = 2;
  else if (b64.endsWith('=')) pad = 1;
  return Math.floor((b64.length * 3) / 4) - pad;
}

/** Size in bytes of one value as DynamoDB counts it. */
export function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8Length(v.S);
  if (v.N !== undefined) return numberSize(v.N);
  if (v.B !== undefined) return base64Length(v.B);
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) {
    let n = 0;
    for (const s of v.SS) n += utf8Length(s);
    return n;
  }
  if (v.NS !== undefined) {
    let n = 0;
    for (const s of v.NS) n += numberSize(s);
    return n;
  }
  if (v.BS !== undefined) {
    let n = 0;
    for (const s of v.BS) n += base64Length(s);
    return n;
  }
  // Documents: 3 bytes of overhead, plus one byte per element, plus the elements (and map keys).
  if (v.M !== undefined) {
    let n = 3;
    for (const k in v.M) n += utf8Length(k) + valueSize(v.M[k]!) + 1;
    return n;
  }
  if (v.L !== undefined) {
    let n = 3;
    for (const e of v.L) n += valueSize(e) + 1;
    return n;
  }
  return 0;
}

/** Item size: attribute name lengths plus value sizes. */
export function itemSize(item: Item): number {
  let n = 0;
  for (const k in item) n += utf8Length(k) + valueSize(item[k]!);
  return n;
}

/** Bytes of a key attribute value for the key-size limits (S: UTF-8, B: bytes, N: not limited here). */
export function keyValueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return utf8Length(v.S);
  if (v.B !== undefined) return base64Length(v.B);
  return 0;
}

function bytesOf(b64: string): Buffer {
  return Buffer.from(b64, 'base64');
}

/** Deep equality with set semantics for SS/NS/BS (order-insensitive). */
export function valuesEqual(a: AttributeValue, b: AttributeValue): boolean {
  const ta = typeOf(a);
  if (ta !== typeOf(b)) return false;
  switch (ta) {
    case 'S':
      return a.S === b.S;
    case 'N':
      return a.N === b.N || compareNumbers(a.N!, b.N!) === 0;
    case 'B':
      return bytesOf(a.B!).equals(bytesOf(b.B!));
    case 'BOOL':
      return a.BOOL === b.BOOL;
    case 'NULL':
      return true;
    case 'SS':
    case 'NS':
    case 'BS': {
      const x = setKeys(a);
      const y = setKeys(b);
      if (x.size !== y.size) return false;
      for (const k of x) if (!y.has(k)) return false;
      return true;
    }
    case 'L': {
      const x = a.L!;
      const y = b.L!;
      if (x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (!valuesEqual(x[i]!, y[i]!)) return false;
      return true;
    }
    case 'M': {
      const x = a.M!;
      const y = b.M!;
      const kx = Object.keys(x);
      if (kx.length !== Object.keys(y).length) return false;
      for (const k of kx) if (!(k in y) || !valuesEqual(x[k]!, y[k]!)) return false;
      return true;
    }
  }
}

/** Members of a set as comparable strings (numbers normalised, binaries canonical base64). */
export function setKeys(v: AttributeValue): Set<string> {
  if (v.SS) return new Set(v.SS);
  if (v.NS) return new Set(v.NS.map((n) => normalizeNumber(n)));
  if (v.BS) return new Set(v.BS.map(canonicalBase64));
  return new Set();
}

/** Order of two scalar values of the same type S, N or B; undefined when not comparable. */
export function compareScalars(a: AttributeValue, b: AttributeValue): number | undefined {
  if (a.S !== undefined && b.S !== undefined) return compareUtf8(a.S, b.S);
  if (a.N !== undefined && b.N !== undefined) return compareNumbers(a.N, b.N);
  if (a.B !== undefined && b.B !== undefined) return Buffer.compare(bytesOf(a.B), bytesOf(b.B));
  return undefined;
}

/** DynamoDB orders strings by their UTF-8 bytes (not UTF-16 code units). */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Read capacity units for reading `bytes` (4 KB units; half when eventually consistent); 0 bytes still costs one unit. */
export function readUnits(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return consistent ? units : units / 2;
}

/** Write capacity units for writing `bytes` (1 KB units, at least one). */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024));
}

/** A deep copy, so stored items never alias request objects. */
export function cloneValue(v: AttributeValue): AttributeValue {
  return JSON.parse(JSON.stringify(v)) as AttributeValue;
}
