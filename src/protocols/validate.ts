/**
 * @module protocols/validate
 * Validates a parsed request against its input shape the way AWS's front end does, producing AWS's
 * message: "2 validation errors detected: Value null at 'tableName' failed to satisfy constraint:
 * Member must not be null; Value 'x' at 'limit' failed to satisfy constraint: ...".
 *
 * Type errors (a string where a number belongs) are not validation errors on AWS: the JSON parser
 * rejects them as SerializationException before validation, so they are reported separately.
 */
import type { ServiceModel, Shape } from './model.js';

export interface ValidationProblem {
  path: string;
  value: unknown;
  constraint: string;
  /** The member is marked sensitive in the model: its value is never written into the message. */
  sensitive?: boolean;
}

export class TypeMismatch extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: unknown,
    /** The member is sensitive: its value must not be echoed in the error. */
    readonly sensitive = false,
    /** The parser's own words, when it says more than "can not be converted" (a blob that is not base64). */
    readonly detail?: string,
  ) {
    super(`${path}: expected ${expected}`);
  }
}

const BASE64_CHAR = /^[A-Za-z0-9+/]$/;
const BASE64_VALUE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Why a blob member's text is not base64, in the words of AWS's JSON front end (Coral), or undefined when it is:
 * length first ("Base64 encoded length is expected a multiple of 4 bytes but found: 5"), then the alphabet and the
 * padding, then bits left over in the last character (AWS's own spelling, "dectected"). A sensitive member's
 * character is not echoed.
 */
export function base64Problem(text: string, sensitive = false): string | undefined {
  if (text.length % 4 !== 0) return `Base64 encoded length is expected a multiple of 4 bytes but found: ${text.length}`;
  let end = text.length;
  for (let pads = 0; pads < 2 && end > 0 && text[end - 1] === '='; pads++) end--;
  for (let i = 0; i < end; i++) {
    const c = text[i]!;
    if (!BASE64_CHAR.test(c)) return sensitive ? 'Invalid Base64 character' : `Invalid Base64 character: '${c}'`;
  }
  const tail = end % 4;
  if (tail === 1) return 'Invalid last non-pad Base64 character dectected';
  if (tail !== 0) {
    const last = BASE64_VALUE.indexOf(text[end - 1]!);
    const unusedBits = tail === 2 ? 0b1111 : 0b11;
    if ((last & unusedBits) !== 0) return 'Invalid last non-pad Base64 character dectected';
  }
  return undefined;
}

/** AWS renders paths with lower-camel member names, and list items as `.N.member` (1-based). */
function memberPath(parent: string, name: string): string {
  const lc = name.charAt(0).toLowerCase() + name.slice(1);
  return parent ? `${parent}.${lc}` : lc;
}

function render(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `'[${value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')}]'`;
  if (typeof value === 'object') return `'${JSON.stringify(value)}'`;
  return `'${String(value)}'`;
}

export function formatProblems(problems: ValidationProblem[]): string {
  const n = problems.length;
  const head = `${n} validation error${n === 1 ? '' : 's'} detected: `;
  // AWS leaves a sensitive member's value out: "Value at 'plaintext' failed to satisfy constraint: ...".
  return head + problems.map((p) => `Value ${p.sensitive ? '' : render(p.value) + ' '}at '${p.path}' failed to satisfy constraint: ${p.constraint}`).join('; ');
}

// Deep enough for DynamoDB documents (32 levels, two shapes per level, inside request maps), so its own
// nesting limit and message apply; still a bound on recursion.
const MAX_DEPTH = 128;

/** Validates one value of one shape; see validateShape. */
type Validator = (value: unknown, path: string, problems: ValidationProblem[], depth: number) => void;

const compiled = new WeakMap<ServiceModel, Map<string, Validator>>();

/**
 * Walks value against shape; pushes constraint problems, throws TypeMismatch on wrong JSON types.
 * Unknown members are ignored, as AWS ignores them.
 *
 * Each shape is compiled once per model into a closure that knows its members, constraints and
 * lower-camel path names, and finds its children's closures on first use (shapes are recursive:
 * DynamoDB's AttributeValue holds maps and lists of itself). The walk, and so the order of problems
 * and which type mismatch is reported first, is exactly the generic walk's.
 */
export function validateShape(model: ServiceModel, shapeName: string, value: unknown, path: string, problems: ValidationProblem[], depth = 0): void {
  validatorFor(model, shapeName)(value, path, problems, depth);
}

function validatorFor(model: ServiceModel, shapeName: string): Validator {
  let byName = compiled.get(model);
  if (!byName) {
    byName = new Map();
    compiled.set(model, byName);
  }
  let v = byName.get(shapeName);
  if (!v) {
    v = compile(model, shapeName);
    byName.set(shapeName, v);
  }
  return v;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Unicode code points in s, counted only when the UTF-16 length cannot settle a min/max check. */
function needsCodePoints(shape: Shape, length: number): boolean {
  return (shape.max !== undefined && length > shape.max) || (shape.min !== undefined && length < 2 * shape.min);
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function compile(model: ServiceModel, shapeName: string): Validator {
  const shape: Shape = model.shape(shapeName);
  switch (shape.type) {
    case 'structure': {
      const requiredNames = new Set(shape.required ?? []);
      const required = (shape.required ?? []).map((name) => ({ name, lc: lowerFirst(name) }));
      const members = Object.entries(shape.members ?? {}).map(([name, ref]) => ({ name, lc: lowerFirst(name), shape: ref.shape, required: requiredNames.has(name), v: undefined as Validator | undefined }));
      const order = model.memberOrder[shapeName];
      if (order) {
        // The service's own order: each member is checked (for presence too) where that order puts it.
        const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
        members.sort((a, b) => rank(a.name) - rank(b.name));
      }
      return (value, path, problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeMismatch(path, 'structure', value);
        const obj = value as Record<string, unknown>;
        if (!order) {
          for (const req of required) {
            if (obj[req.name] === undefined || obj[req.name] === null) problems.push({ path: path ? `${path}.${req.lc}` : req.lc, value: null, constraint: 'Member must not be null' });
          }
        }
        for (const m of members) {
          const v = obj[m.name];
          if (v === undefined || v === null) {
            if (order && m.required) problems.push({ path: path ? `${path}.${m.lc}` : m.lc, value: null, constraint: 'Member must not be null' });
            // An explicit null means the member is absent, as AWS's JSON parsers read it.
            if (v === null) delete obj[m.name];
            continue;
          }
          (m.v ??= validatorFor(model, m.shape))(v, path ? `${path}.${m.lc}` : m.lc, problems, depth + 1);
        }
      };
    }
    case 'list': {
      const memberShape = shape.member!.shape;
      let member: Validator | undefined;
      return (value, path, problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value);
        if (!Array.isArray(value)) throw new TypeMismatch(path, 'list', value);
        checkLength(shape, value.length, value, path, problems);
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === null || item === undefined) {
            // A list cannot hold "absent": providers must never see a null item.
            problems.push({ path: `${path}.${i + 1}.member`, value: null, constraint: 'Member must not be null' });
            continue;
          }
          (member ??= validatorFor(model, memberShape))(item, `${path}.${i + 1}.member`, problems, depth + 1);
        }
      };
    }
    case 'map': {
      const keyShape = shape.key!.shape;
      const valueShape = shape.value!.shape;
      const nullableValue = model.nullableMapValues.has(valueShape);
      let key: Validator | undefined;
      let val: Validator | undefined;
      // Coral checks a list-valued map's value lengths on the map itself ("Map value must satisfy constraint: [...]",
      // the map shown as Java prints it) where the service's model says so; its values' members are checked as usual.
      const listValue = model.mapValueConstraints ? model.shape(valueShape) : undefined;
      const mapLevel = listValue?.type === 'list' && (listValue.min !== undefined || listValue.max !== undefined) ? listValue : undefined;
      const mapLevelMessage = mapLevel ? `Map value must satisfy constraint: [${[
        ...(mapLevel.max !== undefined ? [`Member must have length less than or equal to ${mapLevel.max}`] : []),
        ...(mapLevel.min !== undefined ? [`Member must have length greater than or equal to ${mapLevel.min}`] : []),
      ].join(', ')}]` : '';
      return (value, path, problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeMismatch(path, 'map', value);
        const obj = value as Record<string, unknown>;
        const keys = Object.keys(obj);
        checkLength(shape, keys.length, value, path, problems);
        if (!keys.length) return;
        if (mapLevel) {
          const outside = (v: unknown) => Array.isArray(v) && ((mapLevel.min !== undefined && v.length < mapLevel.min) || (mapLevel.max !== undefined && v.length > mapLevel.max));
          if (keys.some((k) => outside(obj[k]))) problems.push({ path, value: javaMap(obj), constraint: mapLevelMessage });
        }
        key ??= validatorFor(model, keyShape);
        const keyPath = `${path}.key`;
        for (const k of keys) {
          key(k, keyPath, problems, depth + 1);
          const v = obj[k];
          if (v !== null && v !== undefined && mapLevel && Array.isArray(v)) listMembers(model, mapLevel, v, `${path}.${k}.member`, problems, depth + 1);
          else if (v !== null && v !== undefined) (val ??= validatorFor(model, valueShape))(v, `${path}.${k}.member`, problems, depth + 1);
          // A map cannot hold "absent" either: a null value is refused here (as a list's null item is), unless the
          // service words that case itself (DynamoDB's "Supplied AttributeValue is empty").
          else if (!nullableValue) problems.push({ path: `${path}.${k}.member`, value: null, constraint: 'Member must not be null' });
        }
      };
    }
    case 'string': {
      const enumValues = shape.enum ? new Set(shape.enum) : undefined;
      const enumMessage = shape.enum ? `Member must satisfy enum value set: [${(model.enumOrder[shapeName] ?? shape.enum).join(', ')}]` : '';
      const re = shape.pattern ? model.pattern(shapeName) : null;
      const patternMessage = `Member must satisfy regular expression pattern: ${shape.pattern}`;
      const limited = shape.min !== undefined || shape.max !== undefined;
      const sensitive = shape.sensitive === true;
      return (value, path, problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value, sensitive);
        if (typeof value !== 'string') throw new TypeMismatch(path, 'string', value, sensitive);
        if (enumValues && !enumValues.has(value)) {
          problems.push({ path, value, constraint: enumMessage, sensitive });
          return;
        }
        if (limited && needsCodePoints(shape, value.length)) checkLength(shape, codePoints(value), value, path, problems, sensitive);
        if (re && !re.test(value)) problems.push({ path, value, constraint: patternMessage, sensitive });
      };
    }
    case 'integer':
    case 'long':
    case 'double':
    case 'float': {
      const integral = shape.type === 'integer' || shape.type === 'long';
      return (value, path, problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value);
        if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeMismatch(path, shape.type, value);
        if (integral && !Number.isInteger(value)) throw new TypeMismatch(path, shape.type, value);
        if (shape.min !== undefined && value < shape.min) problems.push({ path, value, constraint: `Member must have value greater than or equal to ${shape.min}` });
        if (shape.max !== undefined && value > shape.max) problems.push({ path, value, constraint: `Member must have value less than or equal to ${shape.max}` });
      };
    }
    case 'boolean':
      return (value, path, _problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value);
        if (typeof value !== 'boolean') throw new TypeMismatch(path, 'boolean', value);
      };
    case 'timestamp':
      return (value, path, _problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value);
        if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeMismatch(path, 'timestamp', value);
      };
    case 'blob': {
      const limited = shape.min !== undefined || shape.max !== undefined;
      const sensitive = shape.sensitive === true;
      return (value, path, problems, depth) => {
        if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value, sensitive);
        if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new TypeMismatch(path, 'blob', value, sensitive);
        if (typeof value === 'string') {
          const problem = base64Problem(value, sensitive);
          if (problem) throw new TypeMismatch(path, 'blob', value, sensitive, problem);
        }
        if (limited) checkLength(shape, typeof value === 'string' ? Buffer.byteLength(value, 'base64') : value.length, value, path, problems, sensitive);
      };
    }
    default:
      return () => undefined;
  }
}

/** A map as Java's AbstractMap.toString prints it ("{a=[...], b=[...]}"), lists as Java's lists, members as JSON. */
function javaMap(obj: Record<string, unknown>): string {
  const show = (v: unknown): string => (Array.isArray(v) ? `[${v.map(show).join(', ')}]` : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  return `{${Object.entries(obj).map(([k, v]) => `${k}=${show(v)}`).join(', ')}}`;
}

/** A list's members, without the list's own length check (made on the map holding it). */
function listMembers(model: ServiceModel, list: Shape, items: unknown[], path: string, problems: ValidationProblem[], depth: number): void {
  const member = validatorFor(model, list.member!.shape);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === null || item === undefined) problems.push({ path: `${path}.${i + 1}.member`, value: null, constraint: 'Member must not be null' });
    else member(item, `${path}.${i + 1}.member`, problems, depth + 1);
  }
}

function checkLength(shape: Shape, length: number, value: unknown, path: string, problems: ValidationProblem[], sensitive = false): void {
  if (shape.min !== undefined && length < shape.min) problems.push({ path, value, constraint: `Member must have length greater than or equal to ${shape.min}`, sensitive });
  if (shape.max !== undefined && length > shape.max) problems.push({ path, value, constraint: `Member must have length less than or equal to ${shape.max}`, sensitive });
}
