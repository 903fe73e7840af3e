import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AuthError, parseSignature } from '../../src/auth/sigv4.js';
import { SecretBox } from '../../src/crypto/rootkey.js';
import { contextAad, decodeCiphertext, encodeCiphertext } from '../../src/services/kms/ciphertext.js';
import type { WireRequest } from '../../src/protocols/types.js';

const req = (headers: Record<string, string>, query = ''): WireRequest => ({ method: 'POST', path: '/', query: new URLSearchParams(query), headers, body: Buffer.alloc(0) });

describe('SigV4 parsing', () => {
  it('reads the Authorization header', () => {
    const sig = parseSignature(req({ authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261125/eu-west-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`, 'x-amz-date': '20261125T101010Z' }))!;
    assert.equal(sig.accessKeyId, 'AKID');
    assert.equal(sig.region, 'eu-west-1');
    assert.equal(sig.service, 'dynamodb');
    assert.deepEqual(sig.signedHeaders, ['host', 'x-amz-date']);
  });
  it('refuses a header missing parts, naming them', () => {
    assert.throws(() => parseSignature(req({ authorization: 'AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/kms/aws4_request', 'x-amz-date': '20261125T101010Z' })), (e: any) => e instanceof AuthError && e.kind === 'incomplete' && /'Signature'/.test(e.message) && /'SignedHeaders'/.test(e.message));
  });
  it('refuses a bad credential scope and a missing date', () => {
    assert.throws(() => parseSignature(req({ authorization: `AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=${'a'.repeat(64)}`, 'x-amz-date': '20261125T101010Z' })), AuthError);
    assert.throws(() => parseSignature(req({ authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=${'a'.repeat(64)}` })), AuthError);
  });
  it('reads presigned query parameters', () => {
    const sig = parseSignature(req({}, `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261125%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20261125T101010Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=${'b'.repeat(64)}`))!;
    assert.equal(sig.presigned, true);
    assert.equal(sig.expiresS, 60);
  });
  it('no signature at all is undefined (the caller answers MissingAuthenticationToken)', () => {
    assert.equal(parseSignature(req({})), undefined);
  });
});

describe('secret sealing', () => {
  it('round-trips, and refuses a wrong AAD, a wrong key or a flipped bit', () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal('hunter2', 'arn:a');
    assert.equal(box.open(sealed, 'arn:a').toString(), 'hunter2');
    assert.ok(!sealed.includes(Buffer.from('hunter2')));
    assert.throws(() => box.open(sealed, 'arn:b'));
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'arn:a'));
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1]! ^= 1;
    assert.throws(() => box.open(flipped, 'arn:a'));
  });
});

describe('KMS ciphertext blob', () => {
  it('encodes and decodes; anything else is not a blob', () => {
    const parts = { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab', accountId: '123456789012', region: 'eu-west-3', materialIndex: 3, iv: randomBytes(12), tag: randomBytes(16), body: randomBytes(20) };
    const blob = encodeCiphertext(parts);
    assert.deepEqual(decodeCiphertext(blob), parts);
    for (let i = 0; i < blob.length; i++) {
      const cut = decodeCiphertext(blob.subarray(0, i));
      assert.ok(cut === undefined || cut.body.length < parts.body.length);
    }
    assert.equal(decodeCiphertext(Buffer.from('not a blob at all')), undefined);
  });
  it('the encryption context AAD ignores pair order and cannot be confused by concatenation', () => {
    assert.deepEqual(contextAad({ a: '1', b: '2' }), contextAad({ b: '2', a: '1' }));
    assert.notDeepEqual(contextAad({ ab: 'c' }), contextAad({ a: 'bc' }));
    assert.equal(contextAad(undefined).length, 0);
  });
});
