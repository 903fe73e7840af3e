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
}

export class TypeMismatch extends Error {
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: unknown,
  ) {
    super(`${path}: expected ${expected}`);
  }
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
  return head + problems.map((p) => `Value ${render(p.value)} at '${p.path}' failed to satisfy constraint: ${p.constraint}`).join('; ');
}

// Deep enough for DynamoDB documents (32 levels, two shapes per level, inside request maps), so its own
// nesting limit and message apply; still a bound on recursion.
const MAX_DEPTH = 128;

/**
 * Walks value against shape; pushes constraint problems, throws TypeMismatch on wrong JSON types.
 * Unknown members are ignored, as AWS ignores them.
 */
export function validateShape(model: ServiceModel, shapeName: string, value: unknown, path: string, problems: ValidationProblem[], depth = 0): void {
  if (depth > MAX_DEPTH) throw new TypeMismatch(path, 'a shallower document', value);
  const shape: Shape = model.shape(shapeName);
  switch (shape.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeMismatch(path, 'structure', value);
      const obj = value as Record<string, unknown>;
      for (const req of shape.required ?? []) {
        if (obj[req] === undefined || obj[req] === null) problems.push({ path: memberPath(path, req), value: null, constraint: 'Member must not be null' });
      }
      for (const [name, ref] of Object.entries(shape.members ?? {})) {
        const v = obj[name];
        if (v === null) {
          // An explicit null means the member is absent, as AWS's JSON parsers read it.
          delete obj[name];
          continue;
        }
        if (v === undefined) continue;
        validateShape(model, ref.shape, v, memberPath(path, name), problems, depth + 1);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) throw new TypeMismatch(path, 'list', value);
      checkLength(shape, value.length, value, path, problems);
      value.forEach((item, i) => {
        if (item === null || item === undefined) {
          // A list cannot hold "absent": providers must never see a null item.
          problems.push({ path: `${path}.${i + 1}.member`, value: null, constraint: 'Member must not be null' });
          return;
        }
        validateShape(model, shape.member!.shape, item, `${path}.${i + 1}.member`, problems, depth + 1);
      });
      return;
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeMismatch(path, 'map', value);
      const entries = Object.entries(value as Record<string, unknown>);
      checkLength(shape, entries.length, value, path, problems);
      for (const [k, v] of entries) {
        validateShape(model, shape.key!.shape, k, `${path}.key`, problems, depth + 1);
        if (v !== null && v !== undefined) validateShape(model, shape.value!.shape, v, `${path}.${k}.member`, problems, depth + 1);
      }
      return;
    }
    case 'string': {
      if (typeof value !== 'string') throw new TypeMismatch(path, 'string', value);
      if (shape.enum && !shape.enum.includes(value)) {
        problems.push({ path, value, constraint: `Member must satisfy enum value set: [${shape.enum.join(', ')}]` });
        return;
      }
      checkLength(shape, [...value].length, value, path, problems);
      const re = shape.pattern ? model.pattern(shapeName) : null;
      if (re && !re.test(value)) problems.push({ path, value, constraint: `Member must satisfy regular expression pattern: ${shape.pattern}` });
      return;
    }
    case 'integer':
    case 'long':
    case 'double':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeMismatch(path, shape.type, value);
      if ((shape.type === 'integer' || shape.type === 'long') && !Number.isInteger(value)) throw new TypeMismatch(path, shape.type, value);
      if (shape.min !== undefined && value < shape.min) problems.push({ path, value, constraint: `Member must have value greater than or equal to ${shape.min}` });
      if (shape.max !== undefined && value > shape.max) problems.push({ path, value, constraint: `Member must have value less than or equal to ${shape.max}` });
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new TypeMismatch(path, 'boolean', value);
      return;
    case 'timestamp':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeMismatch(path, 'timestamp', value);
      return;
    case 'blob': {
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new TypeMismatch(path, 'blob', value);
      const len = typeof value === 'string' ? Buffer.byteLength(value, 'base64') : value.length;
      checkLength(shape, len, value, path, problems);
      return;
    }
  }
}

function checkLength(shape: Shape, length: number, value: unknown, path: string, problems: ValidationProblem[]): void {
  if (shape.min !== undefined && length < shape.min) problems.push({ path, value, constraint: `Member must have length greater than or equal to ${shape.min}` });
  if (shape.max !== undefined && length > shape.max) problems.push({ path, value, constraint: `Member must have length less than or equal to ${shape.max}` });
}
