import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { HmacSha256, NodeSha256 } from '../../src/auth/hash.js';
import { Authenticator, parseSignature } from '../../src/auth/sigv4.js';
import { CredentialStore } from '../../src/auth/credentials.js';
import { SecretBox } from '../../src/crypto/rootkey.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { JsonTable } from '../../src/storage/store.js';
import type { WireRequest } from '../../src/protocols/types.js';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => ((a = (a * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('SigV4 fast path', () => {
  const store = new SqliteStore({ path: ':memory:' });
  const creds = new CredentialStore([{ accessKeyId: 'AKIDFAST', secretAccessKey: 'fast-secret' }], new JsonTable(store.keyspace('c')), new SecretBox(randomBytes(32)));
  const auth = new Authenticator(creds, { strict: false, now: Date.now });

  it('computes the same signature as @smithy/signature-v4 and accepts what the SDK signer produces, on random requests', async () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const r = rng(seed);
    for (let i = 0; i < 300; i++) {
      const service = ['dynamodb', 'kms', 'secretsmanager', 'sts'][Math.floor(r() * 4)]!;
      const region = ['us-east-1', 'eu-west-3', 'ap-south-1'][Math.floor(r() * 3)]!;
      const body = r() < 0.1 ? '' : JSON.stringify({ v: randomBytes(Math.floor(r() * 200)).toString('base64'), s: '  spaced   value  ' });
      const extra: Record<string, string> = {};
      if (r() < 0.5) extra['x-amz-target'] = `T.Op${i}`;
      if (r() < 0.3) extra['x-amz-user-agent'] = `  aws-sdk   ${i}  `;
      if (r() < 0.3) extra['x-amz-content-sha256'] = require_sha(body);
      const signer = new SignatureV4({ credentials: { accessKeyId: 'AKIDFAST', secretAccessKey: 'fast-secret' }, region, service, sha256: NodeSha256 });
      const date = new Date(Date.UTC(2026, Math.floor(r() * 12), 1 + Math.floor(r() * 27), Math.floor(r() * 24), Math.floor(r() * 60), Math.floor(r() * 60)));
      const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: 'localhost', port: 4566, path: '/', headers: { host: 'localhost:4566', 'content-type': 'application/x-amz-json-1.0', ...extra }, body }), { signingDate: date });
      const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
      const wire: WireRequest = { method: 'POST', path: '/', query: new URLSearchParams(), headers, body: Buffer.from(body) };
      const sig = parseSignature(wire)!;
      const cred = creds.lookup('AKIDFAST')!;
      const fast = auth.fastSignature(wire, sig, cred);
      const general = await auth.computeSignature(wire, sig, cred);
      assert.equal(fast, general, `seed ${seed}, request ${i}`);
      assert.equal(fast, sig.signature, `seed ${seed}, request ${i}: the SDK's own signature`);
      const caller = await auth.authenticate(wire);
      assert.equal(caller.verified, true);
    }
  });

  it('is not used for presigned requests or paths other than /', () => {
    const wire: WireRequest = { method: 'GET', path: '/x', query: new URLSearchParams('a=b'), headers: {}, body: Buffer.alloc(0) };
    assert.equal(auth.fastSignature(wire, { accessKeyId: 'AKIDFAST', date: '20260101', region: 'us-east-1', service: 'sts', signedHeaders: ['host'], signature: '', amzDate: '20260101T000000Z', presigned: false }, creds.lookup('AKIDFAST')!), undefined);
  });
});

function require_sha(body: string): string {
  const h = new NodeSha256();
  h.update(body);
  return Buffer.from(h.digestSync()).toString('hex');
}

describe('HmacSha256', () => {
  it('agrees with createHmac for keys shorter than, equal to and longer than a block, on ASCII, non-ASCII and long messages', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100000);
    const r = rng(seed);
    for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyLength);
      const hmac = new HmacSha256(key);
      for (let i = 0; i < 40; i++) {
        const length = Math.floor(r() * (i % 5 === 0 ? 5000 : 300));
        let message = '';
        for (let j = 0; j < length; j++) message += String.fromCharCode(r() < 0.9 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0xd7ff));
        assert.equal(hmac.hex(message), createHmac('sha256', key).update(message).digest('hex'), `seed ${seed}, key length ${keyLength}, message length ${length}`);
      }
    }
  });
});
