/**
 * The compiled validator (protocols/validate.ts) against the generic shape walk it replaced, kept here
 * as the reference: on random and mutated inputs for every DynamoDB and KMS input shape, both must
 * report the same problems in the same order, throw the same type mismatch, and drop the same
 * explicit nulls. Replay a failure with SEED=<seed>.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, type ServiceModel, type Shape } from '../../src/protocols/model.js';
import { base64Problem, TypeMismatch, validateShape, type ValidationProblem } from '../../src/protocols/validate.js';

function memberPath(parent: string, name: string): string {
  const lc = name.charAt(0).toLowerCase() + name.slice(1);
  return parent ? `${parent}.${lc}` : lc;
}

const MAX_DEPTH = 64;

/**
 * Walks value against shape; pushes constraint problems, throws TypeMismatch on wrong JSON types.
 * Unknown members are ignored, as AWS ignores them.
 */
function referenceValidate(model: ServiceModel, shapeName: string, value: unknown, path: string, problems: ValidationProblem[], depth = 0): void {
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
        referenceValidate(model, ref.shape, v, memberPath(path, name), problems, depth + 1);
      }
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) throw new TypeMismatch(path, 'list', value);
      checkLength(shape, value.length, value, path, problems);
      value.forEach((item, i) => {
        if (item === null || item === undefined) {
          problems.push({ path: `${path}.${i + 1}.member`, value: null, constraint: 'Member must not be null' });
          return;
        }
        referenceValidate(model, shape.member!.shape, item, `${path}.${i + 1}.member`, problems, depth + 1);
      });
      return;
    }
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeMismatch(path, 'map', value);
      const entries = Object.entries(value as Record<string, unknown>);
      checkLength(shape, entries.length, value, path, problems);
      for (const [k, v] of entries) {
        referenceValidate(model, shape.key!.shape, k, `${path}.key`, problems, depth + 1);
        if (v !== null && v !== undefined) referenceValidate(model, shape.value!.shape, v, `${path}.${k}.member`, problems, depth + 1);
        else if (!model.nullableMapValues.has(shape.value!.shape)) problems.push({ path: `${path}.${k}.member`, value: null, constraint: 'Member must not be null' });
      }
      return;
    }
    case 'string': {
      const sensitive = shape.sensitive === true;
      if (typeof value !== 'string') throw new TypeMismatch(path, 'string', value, sensitive);
      if (shape.enum && !shape.enum.includes(value)) {
        problems.push({ path, value, constraint: `Member must satisfy enum value set: [${shape.enum.join(', ')}]`, sensitive });
        return;
      }
      checkLength(shape, [...value].length, value, path, problems, sensitive);
      const re = shape.pattern ? model.pattern(shapeName) : null;
      if (re && !re.test(value)) problems.push({ path, value, constraint: `Member must satisfy regular expression pattern: ${shape.pattern}`, sensitive });
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
      const sensitive = shape.sensitive === true;
      if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw new TypeMismatch(path, 'blob', value, sensitive);
      // Text that is not base64 is the parser's to refuse (SerializationException), as AWS's front end does.
      const notBase64 = typeof value === 'string' ? base64Problem(value, sensitive) : undefined;
      if (notBase64) throw new TypeMismatch(path, 'blob', value, sensitive, notBase64);
      const len = typeof value === 'string' ? Buffer.byteLength(value, 'base64') : value.length;
      checkLength(shape, len, value, path, problems, sensitive);
      return;
    }
  }
}

function checkLength(shape: Shape, length: number, value: unknown, path: string, problems: ValidationProblem[], sensitive = false): void {
  if (shape.min !== undefined && length < shape.min) problems.push({ path, value, constraint: `Member must have length greater than or equal to ${shape.min}`, sensitive });
  if (shape.max !== undefined && length > shape.max) problems.push({ path, value, constraint: `Member must have length less than or equal to ${shape.max}`, sensitive });
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => ((a = (a * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const ODD: unknown[] = [null, true, 12, 1.5, -3, 'str', '', '💥x', 'x'.repeat(70), [], {}, [null, 'a'], { x: { y: [] } }, { S: 'a', N: '1' }];

function generate(model: ServiceModel, shapeName: string, r: () => number, depth: number): unknown {
  if (r() < 0.06) return ODD[Math.floor(r() * ODD.length)];
  const s = model.shape(shapeName);
  if (depth > 7) return undefined;
  switch (s.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      const names = Object.keys(s.members ?? {});
      // DynamoDB's AttributeValue: usually one member, as a real value has.
      const union = names.includes('NULL') && names.includes('BOOL');
      for (const name of names) {
        if (r() < (union ? 0.12 : s.required?.includes(name) ? 0.9 : 0.4)) {
          const v = r() < 0.05 ? null : generate(model, s.members![name]!.shape, r, depth + 1);
          if (v !== undefined) out[name] = v;
        }
      }
      return out;
    }
    case 'list':
      return Array.from({ length: Math.floor(r() * 4) }, () => generate(model, s.member!.shape, r, depth + 1));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(r() * 4); i > 0; i--) out[['a', 'B1', '', '#n', ':v', 'x'.repeat(300)][Math.floor(r() * 6)]!] = generate(model, s.value!.shape, r, depth + 1);
      return out;
    }
    case 'string':
      if (s.enum && r() < 0.7) return s.enum[Math.floor(r() * s.enum.length)];
      return ['', 'a', 'abc', 'tbl_1', 'x'.repeat(s.max !== undefined ? s.max + Math.floor(r() * 2) : 10), '😀'.repeat(2), 'bad name!'][Math.floor(r() * 7)];
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
      return [0, 1, -1, 5, 1e9, 0.5][Math.floor(r() * 6)];
    case 'boolean':
      return r() < 0.5;
    case 'blob':
      return ['', 'AAEC', 'x'.repeat(8)][Math.floor(r() * 3)];
    default:
      return undefined;
  }
}

type Outcome = { problems: ValidationProblem[]; mismatch?: [string, string]; input: string };

function run(fn: typeof validateShape, model: ServiceModel, shape: string, input: unknown): Outcome {
  const problems: ValidationProblem[] = [];
  let mismatch: [string, string] | undefined;
  try {
    fn(model, shape, input, '', problems);
  } catch (e) {
    if (!(e instanceof TypeMismatch)) throw e;
    mismatch = [e.path, e.expected];
  }
  return { problems, ...(mismatch ? { mismatch } : {}), input: JSON.stringify(input) };
}

describe('compiled validator', () => {
  it('agrees with the generic shape walk on random inputs of every DynamoDB and KMS operation', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const r = rng(seed);
    for (const id of ['dynamodb', 'kms']) {
      const model = loadModel(id);
      for (const op of model.operations.values()) {
        if (!op.input) continue;
        for (let i = 0; i < 25; i++) {
          const input = generate(model, op.input.shape, r, 0);
          const copy = structuredClone(input);
          const expected = run(referenceValidate as typeof validateShape, model, op.input.shape, copy);
          const actual = run(validateShape, model, op.input.shape, input);
          assert.deepEqual(actual, expected, `seed ${seed}, ${id} ${op.name} #${i}: ${expected.input}`);
        }
      }
    }
  });
});
