/**
 * Model-driven request fuzzing with fast-check, shared by the bounded fuzz test (test/integration/fuzz.test.ts) and
 * the long run (bench/fuzz.ts, 100,000 requests and more).
 *
 * For one operation of one service, `requestArbitrary` makes signed-request material from the operation's input
 * shape in the botocore model: mostly well-typed values (enums, lengths and ranges near their bounds, so requests
 * reach deep code), with mutations at every level — null anywhere, wrong JSON types, unknown members, huge strings
 * and numbers, deep nesting, lone surrogates, invalid UTF-8 — and damage to the serialized body itself (truncation,
 * stray bytes, non-UTF-8, non-objects). awsQuery requests are flattened as the SDKs flatten them, with their own
 * mutations (odd indices, bad percent-escapes, repeated and unknown parameters).
 *
 * `Fuzzer.send` sends one, and checks what every request must satisfy: no 5xx, and a refused request changes no
 * stored state (the state digest, /_cellar/state-digest, is the same before and after).
 */
import fc from 'fast-check';
import { cbor, tag } from '@smithy/core/cbor';
import type { ServiceModel, Shape } from '../../src/protocols/model.js';
import { send, signedRequest, type RawResponse } from './sign.js';

export interface FuzzRequest {
  /** The body as sent (a string or raw bytes), and headers beyond the signed ones. */
  body: string | Buffer;
  headers: Record<string, string>;
  /** Who signs it. */
  accessKeyId: string;
  region: string;
  /** The request path, when not `/` (RPC v2 CBOR's `/service/<S>/operation/<O>`). */
  path?: string;
}

const WEIRD_STRINGS = [
  '', ' ', 'a', '\u0000', '💥', '\ud800', '\udfff', '\ufffd', 'x'.repeat(3000), 'y'.repeat(70_000), '../../etc/passwd', '..', '/', '{"a":1}',
  'alias/aws/secretsmanager', 'arn:aws:kms:us-east-1:000000000000:key/x', 'arn:aws:secretsmanager:us-east-1:111111111111:secret:x-AbCdEf',
  'arn:aws:dynamodb:us-east-1:111111111111:table/fuzz_table', 'arn:aws:rds:us-east-1:000000000000:db:x', '-1', 'NaN', '<a>&amp;</a>', "'; DROP TABLE x; --",
  '#name', ':val', 'fuzz_table', 'fuzz/secret', 'alias/fuzz', 'default.postgres15', '%00', '\\', 'ÄÖÜ ß', '\u200b', 'a'.repeat(256), 'A'.repeat(1025),
];
const WEIRD_NUMBERS = [0, -1, 1, -0, 2 ** 31, 2 ** 31 - 1, 2 ** 53, -(2 ** 53), 2 ** 63, 1e308, -1e308, 5e-324, 0.5, 7, 30, 35, 100, 1025, 65_536, 1_000_000];
const JUNK: unknown[] = [null, true, false, 0, -1, 1.5, 'str', '', [], {}, [null], [1, 'a'], { x: { y: [] } }, { S: 'a', N: '1' }, { NULL: true }];

/** A JSON text nested `depth` levels deep (arrays or objects): the parsers' and validators' depth bounds. */
function deepText(depth: number, objects: boolean): string {
  return objects ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

class ValueArbitraries {
  private readonly memo = new Map<string, fc.Arbitrary<unknown>>();
  constructor(
    private readonly model: ServiceModel,
    /** Probability that a node is replaced by junk. */
    private readonly mutation: number,
  ) {}

  /** A value for `shapeName` at `depth`; undefined means "leave the member out". */
  of(shapeName: string, depth: number): fc.Arbitrary<unknown> {
    const key = `${shapeName}@${Math.min(depth, 6)}`;
    let arb = this.memo.get(key);
    if (!arb) {
      // Registered before it is built: recursive shapes (DynamoDB's AttributeValue) refer back to it lazily.
      this.memo.set(key, fc.constant(undefined));
      arb = this.build(this.model.shape(shapeName), shapeName, depth);
      if (this.mutation > 0) {
        const junk = fc.oneof(fc.constantFrom(...JUNK), fc.constantFrom(...WEIRD_STRINGS), fc.constantFrom(...WEIRD_NUMBERS));
        const weight = Math.max(1, Math.round(this.mutation * 100));
        arb = fc.oneof({ weight: 100 - weight, arbitrary: arb }, { weight, arbitrary: junk });
      }
      this.memo.set(key, arb);
    }
    return arb;
  }

  private build(s: Shape, name: string, depth: number): fc.Arbitrary<unknown> {
    switch (s.type) {
      case 'structure': {
        if (depth > 5) return fc.constant({});
        const members = Object.entries(s.members ?? {});
        const required = new Set(s.required ?? []);
        // DynamoDB's AttributeValue and other one-of structures: usually one member set, as real values have.
        const union = members.length > 4 && name === 'AttributeValue';
        const memberArbs = members.map(([m, ref]) => [m, fc.option(fc.constant(null).chain(() => this.of(ref.shape, depth + 1)), { freq: required.has(m) ? 12 : union ? 1 : 2, nil: undefined })] as const);
        const record = fc.tuple(...memberArbs.map(([, a]) => a)).map((values) => {
          const out: Record<string, unknown> = {};
          members.forEach(([m], i) => {
            if (values[i] !== undefined) out[m] = values[i];
          });
          return out;
        });
        if (union) {
          return fc.oneof(
            { weight: 6, arbitrary: fc.constantFrom(...members).chain(([m, ref]) => this.of(ref.shape, depth + 1).map((v) => ({ [m]: v }))) },
            { weight: 1, arbitrary: record },
          );
        }
        // Now and then, members the model does not have (AWS ignores them).
        const extra = fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('Unknown', 'extra', '__proto__', 'constructor'), fc.constantFrom(...JUNK), { maxKeys: 2 }) });
        return fc.tuple(record, extra).map(([r, x]) => (x ? { ...x, ...r } : r));
      }
      case 'list': {
        if (depth > 5) return fc.constant([]);
        const item = fc.constant(null).chain(() => this.of(s.member!.shape, depth + 1));
        const max = s.max !== undefined ? Math.min(s.max + 1, 6) : 4;
        return fc.oneof({ weight: 9, arbitrary: fc.array(item, { maxLength: max }) }, { weight: 1, arbitrary: fc.array(item, { minLength: s.max ?? 30, maxLength: (s.max ?? 30) + 2 }) });
      }
      case 'map': {
        if (depth > 5) return fc.constant({});
        const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...WEIRD_STRINGS.slice(0, 30)));
        return fc.dictionary(key, fc.constant(null).chain(() => this.of(s.value!.shape, depth + 1)), { maxKeys: 3 });
      }
      case 'string': {
        const options: fc.Arbitrary<unknown>[] = [fc.string({ maxLength: 24 }), fc.constantFrom(...WEIRD_STRINGS), fc.string({ unit: 'binary', maxLength: 12 })];
        if (s.min !== undefined || s.max !== undefined) {
          const lo = s.min ?? 0;
          const hi = Math.min(s.max ?? lo + 64, 70_000);
          options.push(fc.integer({ min: Math.max(0, lo - 1), max: hi + 1 }).map((n) => 'k'.repeat(n)));
        }
        if (s.enum) return fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...s.enum) }, { weight: 1, arbitrary: fc.oneof(...options) });
        // Strings the model's pattern accepts reach past validation; the others test it.
        const re = this.model.pattern(name);
        if (re) {
          try {
            // No filter on length: a pattern whose strings rarely fit would make the generator loop; the ones that
            // do not fit are simply more refused requests.
            const matching = fc.stringMatching(re, { size: 'xsmall' });
            return fc.oneof({ weight: 3, arbitrary: matching }, { weight: 1, arbitrary: fc.oneof(...options) });
          } catch {
            // a pattern fast-check cannot generate from: the plain options only
          }
        }
        return fc.oneof(...options);
      }
      case 'integer':
      case 'long':
      case 'double':
      case 'float': {
        const lo = s.min ?? -5;
        const hi = s.max ?? 1000;
        return fc.oneof({ weight: 3, arbitrary: fc.integer({ min: Math.max(-(2 ** 31), Math.floor(lo) - 1), max: Math.min(2 ** 31, Math.ceil(hi) + 1) }) }, { weight: 1, arbitrary: fc.constantFrom(...WEIRD_NUMBERS) }, { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) });
      }
      case 'boolean':
        return fc.boolean();
      case 'timestamp':
        return fc.oneof(fc.integer({ min: -1, max: 2 ** 33 }), fc.constantFrom('2024-01-01T00:00:00Z', 'not a date', 1e12));
      case 'blob':
        return fc.oneof(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')), fc.constantFrom('', '!!notbase64', 'AAA', 'A'.repeat(8000), 'QUJD\u0000'));
      default:
        return fc.constant(null);
    }
  }
}

/** Byte- and text-level damage to a serialized JSON body. */
const JSON_DAMAGE: fc.Arbitrary<(text: string) => string | Buffer> = fc.oneof(
  fc.nat().map((n) => (t: string) => t.slice(0, n % (t.length + 1))),
  fc.tuple(fc.nat(), fc.constantFrom('{', '}', '"', '\\', '\u0000', ',', ']', 'null', '\\ud800', '\\udc00x', '\\u00', '\uffff')).map(([n, c]) => (t: string) => t.slice(0, n % (t.length + 1)) + c + t.slice(n % (t.length + 1))),
  fc.tuple(fc.nat(), fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80])).map(([n, bytes]) => (t: string) => {
    const b = Buffer.from(t, 'utf8');
    const i = n % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), Buffer.from(bytes), b.subarray(i)]);
  }),
  fc.uint8Array({ maxLength: 64 }).map((b) => () => Buffer.from(b)),
  fc.constantFrom(() => '', () => 'null', () => '[]', () => '12', () => '"text"', () => deepText(100_000, false), () => deepText(5000, true), () => '{"a":' + deepText(3000, false) + '}'),
);

/**
 * A generated value as an RPC v2 CBOR body: timestamps as tag 1 and base64 blobs as byte strings where `typed` (else as
 * generated, which the server must refuse), by @smithy/core's codec; a value it cannot write is sent as an empty map.
 */
function cborBody(model: ServiceModel, shapeName: string | undefined, value: unknown, typed: boolean): Buffer {
  const walk = (name: string | undefined, v: unknown, depth: number): unknown => {
    const shape = name ? model.shapes[name] : undefined;
    if (v === undefined || v === null || depth > 40) return v;
    if (typed && shape?.type === 'timestamp' && typeof v === 'number') return tag({ tag: 1, value: v });
    if (typed && shape?.type === 'blob' && typeof v === 'string') return Buffer.from(v, 'base64');
    if (Array.isArray(v)) return v.map((x) => walk(shape?.type === 'list' ? shape.member!.shape : undefined, x, depth + 1));
    if (typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(shape?.type === 'structure' ? shape.members?.[k]?.shape : shape?.type === 'map' ? shape.value!.shape : undefined, x, depth + 1);
      return out;
    }
    return v;
  };
  try {
    return Buffer.from(cbor.serialize(walk(shapeName, value, 0)));
  } catch {
    return Buffer.from([0xa0]);
  }
}

/** Byte-level damage to a CBOR body, and bodies no encoder writes (deep nesting, huge declared lengths, bignums). */
const CBOR_DAMAGE: fc.Arbitrary<(bytes: Buffer) => Buffer> = fc.oneof(
  fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % (b.length + 1))),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([n, byte]) => (b: Buffer) => {
    const i = n % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
  }),
  fc.uint8Array({ maxLength: 64 }).map((u) => () => Buffer.from(u)),
  fc.constantFrom(
    () => Buffer.concat([Buffer.alloc(100_000, 0x81), Buffer.from([0x00])]),
    () => Buffer.concat([Buffer.alloc(50_000, 0x9f)]),
    () => Buffer.from('9bffffffffffffffff', 'hex'),
    () => Buffer.from('bb00000000ffffffff', 'hex'),
    () => Buffer.concat([Buffer.from('a1694e616d657370616365c25a00100000', 'hex'), Buffer.alloc(1 << 20, 0xff)]),
    () => Buffer.from('a1695f5f70726f746f5f5fa0', 'hex'),
    () => Buffer.from('a16161c1fb7ff8000000000000', 'hex'),
    () => Buffer.from('a0a0', 'hex'),
    () => Buffer.from('bf01ff', 'hex'),
    () => Buffer.from('7f6161ff', 'hex'),
  ),
);

/** awsQuery parameters flattened as the SDKs flatten them (list members `.member.N` or their location name). */
function flatten(model: ServiceModel, shapeName: string | undefined, value: unknown, prefix: string, out: Array<[string, string]>): void {
  const shape = shapeName ? model.shapes[shapeName] : undefined;
  if (Array.isArray(value)) {
    const memberName = shape?.type === 'list' ? (shape.member!.locationName ?? 'member') : 'member';
    value.forEach((v, i) => flatten(model, shape?.type === 'list' ? shape.member!.shape : undefined, v, `${prefix}.${memberName}.${i + 1}`, out));
  } else if (value !== null && typeof value === 'object') {
    if (shape?.type === 'map') {
      Object.entries(value).forEach(([k, v], i) => {
        out.push([`${prefix}.entry.${i + 1}.key`, k]);
        flatten(model, shape.value!.shape, v, `${prefix}.entry.${i + 1}.value`, out);
      });
    } else {
      for (const [k, v] of Object.entries(value)) {
        const ref = shape?.type === 'structure' ? shape.members?.[k] : undefined;
        flatten(model, ref?.shape, v, prefix ? `${prefix}.${ref?.locationName ?? k}` : (ref?.locationName ?? k), out);
      }
    }
  } else if (value !== undefined) out.push([prefix || 'X', String(value)]);
}

const QUERY_DAMAGE: fc.Arbitrary<(pairs: Array<[string, string]>) => string> = fc.oneof(
  { weight: 6, arbitrary: fc.constant((pairs: Array<[string, string]>) => new URLSearchParams(pairs).toString()) },
  { weight: 1, arbitrary: fc.constantFrom('%ff', '%', '%zz', '%ed%a0%80', '%c3').map((bad) => (pairs: Array<[string, string]>) => new URLSearchParams(pairs).toString() + `&Bogus=${bad}`) },
  { weight: 1, arbitrary: fc.constantFrom('Tags.member.99999999999.Key=x', 'Filters.Filter.0.Name=x', 'Action=DescribeDBInstances', 'a.b.c.d.e.f.g.h.i.j.k.l=1', '=').map((extra) => (pairs: Array<[string, string]>) => new URLSearchParams(pairs).toString() + '&' + extra) },
);

export interface OperationTarget {
  serviceId: string;
  model: ServiceModel;
  operation: string;
  protocol: 'awsJson1_0' | 'awsJson1_1' | 'awsQuery' | 'rpcv2Cbor';
  /** Members forced into every request (keeps an operation that would start engines refused). */
  forced?: Record<string, unknown>;
}

/** Signed-request material for one operation: mutated model values, sometimes a damaged body. */
export function requestArbitrary(t: OperationTarget, mutation = 0.04): fc.Arbitrary<FuzzRequest> {
  const op = t.model.operations.get(t.operation)!;
  // Half the requests well-typed throughout (they reach the deepest code), half with mutations at every level.
  const clean = new ValueArbitraries(t.model, 0);
  const mutated = new ValueArbitraries(t.model, mutation);
  const input = op.input ? fc.oneof(clean.of(op.input.shape, 0), mutated.of(op.input.shape, 0)) : fc.constant({});
  const who = fc.record({ accessKeyId: fc.constantFrom('test', '000000000000', '111111111111', '222222222222'), region: fc.constantFrom('us-east-1', 'us-east-1', 'eu-west-1') });
  if (t.protocol === 'awsQuery') {
    return fc.tuple(input, QUERY_DAMAGE, who).map(([value, damage, w]) => {
      const pairs: Array<[string, string]> = [['Action', t.operation], ['Version', t.model.metadata.apiVersion]];
      flatten(t.model, op.input?.shape, typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, ...(t.forced ?? {}) } : (t.forced ?? value), '', pairs);
      return { body: damage(pairs), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, ...w };
    });
  }
  if (t.protocol === 'rpcv2Cbor') {
    // The service shape's name is the awsJson target prefix (CloudWatch: GraniteServiceVersion20100801).
    const path = `/service/${t.model.metadata.targetPrefix}/operation/${t.operation}`;
    const damaged = fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: CBOR_DAMAGE });
    return fc.tuple(input, fc.boolean(), damaged, who).map(([value, tagged, damage, w]) => {
      const merged = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, ...(t.forced ?? {}) } : value;
      const bytes = cborBody(t.model, op.input?.shape, merged, tagged);
      return { body: damage ? damage(bytes) : bytes, headers: { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor' }, path, ...w };
    });
  }
  const target = `${t.model.metadata.targetPrefix}.${t.operation}`;
  const contentType = t.protocol === 'awsJson1_0' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
  // One body in eight damaged after serialization.
  const damaged = fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: JSON_DAMAGE });
  return fc.tuple(input, damaged, who).map(([value, damage, w]) => {
    const merged = typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...value, ...(t.forced ?? {}) } : value;
    const text = JSON.stringify(merged ?? null);
    return { body: damage ? damage(text) : text, headers: { 'content-type': contentType, 'x-amz-target': target }, ...w };
  });
}

export interface Outcome {
  status: number;
  /** Set when the request broke a rule: a 5xx, or a refused request that changed stored state. */
  violation?: string;
}

/** Sends fuzz requests to one Cellar and checks each one's outcome. */
export class Fuzzer {
  readonly counts = new Map<number, number>();
  readonly byService = new Map<string, Map<number, number>>();
  constructor(
    private readonly endpoint: string,
    /** Compare the state digest around refused requests (one extra request before and after each). */
    private readonly checkState = true,
  ) {}

  async digest(): Promise<string> {
    const r = await fetch(`${this.endpoint}/_cellar/state-digest`);
    if (r.status !== 200) throw new Error(`state digest: HTTP ${r.status}`);
    return ((await r.json()) as { digest: string }).digest;
  }

  async send(t: OperationTarget, req: FuzzRequest): Promise<Outcome> {
    const before = this.checkState ? await this.digest() : '';
    let r: RawResponse;
    try {
      // `test` is a key Cellar knows (its secret is `test`, and its signatures are verified); the others are not.
      r = await send(await signedRequest(this.endpoint, req.body, { service: t.model.signingName, headers: req.headers, accessKeyId: req.accessKeyId, secretAccessKey: req.accessKeyId === 'test' ? 'test' : 'fuzz', region: req.region, ...(req.path ? { path: req.path } : {}) }));
    } catch (e) {
      return { status: 0, violation: `${t.serviceId} ${t.operation}: no answer (${(e as Error).message})` };
    }
    this.counts.set(r.status, (this.counts.get(r.status) ?? 0) + 1);
    const svc = this.byService.get(t.serviceId) ?? new Map<number, number>();
    svc.set(r.status, (svc.get(r.status) ?? 0) + 1);
    this.byService.set(t.serviceId, svc);
    if (r.status >= 500) return { status: r.status, violation: `${t.serviceId} ${t.operation} -> HTTP ${r.status}: ${r.text.slice(0, 300)}` };
    if (this.checkState && r.status >= 400) {
      const after = await this.digest();
      if (after !== before) return { status: r.status, violation: `${t.serviceId} ${t.operation} refused (HTTP ${r.status} ${r.text.slice(0, 200)}) but stored state changed` };
    }
    return { status: r.status };
  }
}

/** The operations a Cellar serves, as it lists them, with their models. */
export async function servedTargets(endpoint: string, loadModel: (id: string) => ServiceModel): Promise<OperationTarget[]> {
  const health = (await (await fetch(`${endpoint}/_cellar/health`)).json()) as { services: Record<string, { protocol: OperationTarget['protocol']; protocols?: Array<OperationTarget['protocol']>; operations: string[] }> };
  const out: OperationTarget[] = [];
  for (const [id, svc] of Object.entries(health.services)) {
    const model = loadModel(id);
    for (const op of svc.operations) {
      // Operations that would start real engines given valid input are fuzzed with one member that is always
      // refused, so a lucky valid request cannot start a database in the middle of a fuzz run.
      const forced = id === 'rds' && /^(CreateDBInstance|RestoreDBInstance|CreateDBInstanceReadReplica)/.test(op) ? { DBInstanceIdentifier: 'fuzz--refused' } : undefined;
      // Every protocol the service answers (CloudWatch: awsJson1_0, RPC v2 CBOR, awsQuery), each fuzzed on its own.
      for (const protocol of svc.protocols ?? [svc.protocol]) out.push({ serviceId: id, model, operation: op, protocol, ...(forced ? { forced } : {}) });
    }
  }
  return out;
}
