/**
 * Sends random and mutated request bodies to every operation Cellar serves (as /_cellar/health lists
 * them) and checks that none gets a 5xx and the server goes on serving. Inputs are generated from each
 * operation's model shape, then mutated (wrong types, missing members, extreme values, broken bytes).
 * The seed is printed on failure; rerun with FUZZ_SEED=<seed> to replay.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, type ServiceModel } from '../../src/protocols/model.js';
import { removeDir, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall, queryCall } from '../helpers/sign.js';
import { prng } from '../helpers/random.js';

const ITERATIONS_PER_OPERATION = Number(process.env.FUZZ_ITERATIONS ?? 12);
/** Operations that would start real engine processes when handed a valid input: fuzzed only with broken input. */
const HEAVY = /^(Create|Restore|Start|Reboot|Promote|Failover|Modify|Copy|Purchase|Increase|Decrease|Test)/;


const WEIRD_STRINGS = ['', ' ', 'a', '\u0000', '💥', 'x'.repeat(3000), '../../etc/passwd', '{"a":1}', 'alias/aws/x', 'arn:aws:kms:us-east-1:000000000000:key/x', '-1', 'NaN', '<a>&amp;</a>', "'; DROP TABLE x; --", '#name', ':val'];
const WEIRD_NUMBERS = [0, -1, 1, 2 ** 31, -(2 ** 53), 1e308, 0.5, 7, 30, 1025];

class Generator {
  constructor(
    private readonly model: ServiceModel,
    private readonly rnd: () => number,
  ) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }

  /** A value for the shape; with probability `mutate` per node, a value of the wrong kind. */
  value(shapeName: string, depth: number, mutate: number): unknown {
    if (this.rnd() < mutate) return this.pick<unknown>([null, true, 12, 'str', [], {}, [1, 'a'], { x: { y: [] } }, ...WEIRD_STRINGS.slice(0, 4)]);
    const s = this.model.shape(shapeName);
    if (depth > 6) return undefined;
    switch (s.type) {
      case 'structure': {
        const out: Record<string, unknown> = {};
        for (const [name, ref] of Object.entries(s.members ?? {})) {
          const required = s.required?.includes(name);
          if (required ? this.rnd() < 0.9 : this.rnd() < 0.4) {
            const v = this.value(ref.shape, depth + 1, mutate);
            if (v !== undefined) out[name] = v;
          }
        }
        return out;
      }
      case 'list': {
        const n = Math.floor(this.rnd() * 4);
        return Array.from({ length: n }, () => this.value(s.member!.shape, depth + 1, mutate)).filter((v) => v !== undefined);
      }
      case 'map': {
        const out: Record<string, unknown> = {};
        const n = Math.floor(this.rnd() * 3);
        for (let i = 0; i < n; i++) out[this.pick(WEIRD_STRINGS.slice(0, 12)) + i] = this.value(s.value!.shape, depth + 1, mutate);
        return out;
      }
      case 'string':
        return s.enum && this.rnd() < 0.7 ? this.pick(s.enum) : this.pick(WEIRD_STRINGS);
      case 'integer':
      case 'long':
      case 'double':
      case 'float':
        return this.pick(WEIRD_NUMBERS);
      case 'boolean':
        return this.rnd() < 0.5;
      case 'timestamp':
        return this.pick([0, 1700000000, -5, 1e12]);
      case 'blob':
        return this.pick(['', 'aGVsbG8=', '!!notbase64', 'A'.repeat(8000)]);
      default:
        return null;
    }
  }

  /** Flattens a value into awsQuery parameters (roughly as the SDKs do; wrong shapes included on purpose). */
  flatten(value: unknown, prefix: string, out: Record<string, string>): void {
    if (Array.isArray(value)) value.forEach((v, i) => this.flatten(v, `${prefix}.member.${i + 1}`, out));
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) this.flatten(v, prefix ? `${prefix}.${k}` : k, out);
    else if (value !== undefined) out[prefix || 'X'] = String(value);
  }

  /** Byte-level damage to a serialized body. */
  damage(text: string): string {
    const r = this.rnd();
    if (r < 0.3) return text.slice(0, Math.floor(this.rnd() * text.length));
    if (r < 0.6) {
      const i = Math.floor(this.rnd() * (text.length + 1));
      return text.slice(0, i) + this.pick(['{', '}', '"', '\\', '\u0000', ',', ']', 'null', '\uffff']) + text.slice(i);
    }
    return Buffer.from(Array.from({ length: Math.floor(this.rnd() * 64) }, () => Math.floor(this.rnd() * 256))).toString('latin1');
  }
}

describe('fuzz: random and mutated bodies to every served operation', () => {
  let cellar: CellarProcess;
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it(`finds no 5xx and no crash (seed ${seed})`, async () => {
    const rnd = prng(seed);
    const health = (await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as any;
    const failures: string[] = [];
    let sent = 0;
    for (const [id, svc] of Object.entries<any>(health.services)) {
      const model = loadModel(id);
      const gen = new Generator(model, rnd);
      for (const op of svc.operations as string[]) {
        const operation = model.operations.get(op)!;
        for (let i = 0; i < ITERATIONS_PER_OPERATION; i++) {
          const heavy = HEAVY.test(op) && (id === 'rds' || id === 'elasticache');
          const mutate = heavy ? 1 : this_mutation(i);
          const input = operation.input ? gen.value(operation.input.shape, 0, mutate) : {};
          let status: number;
          let detail: string;
          if (svc.protocol === 'awsQuery') {
            const params: Record<string, string> = { Action: op, Version: model.metadata.apiVersion };
            gen.flatten(input, '', params);
            if (heavy) params[Object.keys(params)[2] ?? 'Bogus'] = '';
            const r = await queryCall(cellar.endpoint, model.signingName, params);
            status = r.status;
            detail = r.text.slice(0, 300);
          } else {
            let body = JSON.stringify(input);
            if (i % 4 === 3) body = gen.damage(body);
            const r = await jsonCall(cellar.endpoint, model.signingName, `${model.metadata.targetPrefix}.${op}`, body);
            status = r.status;
            detail = r.text.slice(0, 300);
          }
          sent++;
          if (status >= 500) failures.push(`${id} ${op} -> ${status}: ${detail}`);
        }
      }
    }
    const alive = await fetch(`${cellar.endpoint}/_cellar/health`);
    assert.equal(alive.status, 200, 'server still serving');
    assert.equal(cellar.proc.exitCode, null, 'server did not exit');
    assert.ok(sent > 100, `sent ${sent} requests`);
    const stacks = cellar.output.filter((l) => l.includes('unhandled error')).slice(0, 5);
    assert.deepEqual(failures.slice(0, 20), [], `seed ${seed}: ${failures.length} request(s) got a 5xx\n${stacks.join('\n')}`);
  });
});

/** The first iterations send well-typed input (to reach deep code), later ones more and more broken input. */
function this_mutation(i: number): number {
  return i < 4 ? 0 : i < 8 ? 0.1 : 0.4;
}
