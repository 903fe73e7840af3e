import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RawJson, stringifyWire } from '../../src/protocols/wirejson.js';

/** What the JSON protocols wrote before stringifyWire: JSON.stringify with this replacer. */
function replacer(this: any, key: string, value: unknown): unknown {
  const original = this[key];
  if (original instanceof Uint8Array) return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
  if (original instanceof Date) return original.getTime() / 1000;
  return value;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => ((a = (a * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function randomValue(r: () => number, depth: number): unknown {
  const pick = Math.floor(r() * (depth > 4 ? 9 : 13));
  switch (pick) {
    case 0: return null;
    case 1: return undefined;
    case 2: return r() < 0.5;
    case 3: return [0, -0, 1.5, -1e21, 1e300 * 10, NaN, 123456789][Math.floor(r() * 7)];
    case 4: return ['', 'a"b\\c', '\u0000\u001f', 'é€😀', '\ud800 lone', '</script>'][Math.floor(r() * 6)];
    case 5: return new Date(Math.floor(r() * 2e12));
    case 6: return Buffer.from([1, 2, 3, Math.floor(r() * 256)]);
    case 7: return new Uint8Array([9, 8, 7]).subarray(1);
    case 8: return () => 1;
    default: {
      if (pick % 2 === 0) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
      const o: Record<string, unknown> = {};
      for (const k of ['b', 'a', '10', '2', 'x y', '__type'].slice(0, Math.floor(r() * 6))) o[k] = randomValue(r, depth + 1);
      return o;
    }
  }
}

describe('stringifyWire', () => {
  it('writes what JSON.stringify with the wire replacer writes, on random values', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const r = rng(seed);
    for (let i = 0; i < 3000; i++) {
      const v = randomValue(r, 0);
      assert.equal(stringifyWire(v), JSON.stringify(v, replacer) ?? 'undefined', `seed ${seed}, value ${i}`);
    }
  });

  it('splices RawJson text where it stands, in objects and arrays', () => {
    const item = { pk: { S: 'a' }, n: { N: '1' } };
    const text = JSON.stringify(item);
    assert.equal(stringifyWire({ Item: new RawJson(text), Count: 1 }), JSON.stringify({ Item: item, Count: 1 }));
    assert.equal(stringifyWire({ Items: [new RawJson(text), new RawJson(text)] }), JSON.stringify({ Items: [item, item] }));
  });
});
