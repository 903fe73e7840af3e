/**
 * gateway/encoding: which coding an Accept-Encoding value gets, case by case as DynamoDB chose them in ScyllaDB
 * Alternator's suite (test_compressed_response.py, run against DynamoDB); the compressed answer's checksum; and the
 * request side (gzip undone, bounded; other codings refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32, gunzipSync, gzipSync } from 'node:zlib';
import { ServiceError } from '../../src/core/errors.js';
import { chooseCoding, compressResponse, COMPRESS_THRESHOLD_BYTES, decodedBody } from '../../src/gateway/encoding.js';
import type { WireRequest } from '../../src/protocols/types.js';

test('Accept-Encoding: the coding DynamoDB picks for each value', () => {
  const cases: [string, string | undefined][] = [
    ['gzip', 'gzip'], ['deflate', 'deflate'], ['identity', undefined], ['', undefined],
    ['br', undefined], ['zstd', undefined], ['compress', undefined], ['x-gzip', undefined],
    ['gzip, deflate', 'gzip'], ['br, identity, deflate, gzip', 'deflate'], ['GZIP, identity', 'gzip'], ['dog, gzip ,, cat', 'gzip'],
    ['gzip;q=0.8, deflate;q=0.5', 'gzip'], ['br, gzip;q=0, deflate; q = 0.5 , identity;q=0', 'deflate'],
    ['*', 'gzip'], ['*, deflate;q=0.5', 'gzip'], ['*, deflate', 'deflate'], ['*, identity', 'gzip'], ['*, gzip;q=0.5', 'deflate'],
    ['gzip ;q=0', undefined], ['identity;q=0', undefined], ['*;q=0', undefined], ['*;q=0.5,identity', 'gzip'],
    ['gzip;q=0.5,identity;q=0.8', 'gzip'], ['br;q=0.8,identity;q=0.5,*;q=0', undefined],
    ['"gzip"', undefined], ['gzip br', undefined], ['gzip:q=1', undefined],
    ['deflate;q=0.5, gzip;q=31', 'gzip'], ['gzip;q=31,deflate;q=51', 'gzip'], ['deflate;q=0.5, gzip;q=0.2', 'deflate'],
    ['deflate;q=0.5, gzip;q=1;q=0.2', 'gzip'], ['deflate;q=0.5,gzip;q=0.', 'deflate'], ['deflate;q=0.5,gzip;q=0.x', 'gzip'],
    ['deflate;q=-0.5,gzip;q=0.2', 'gzip'], ['gzip;nq=1;q=0 ', undefined], ['gzip;q=0, gzip;q=1, gzip;q=0', 'gzip'],
    ['br,identity;q=0.5,gzip;q=0.0001', 'gzip'],
  ];
  for (const [accept, expected] of cases) assert.equal(chooseCoding(accept), expected, JSON.stringify(accept));
});

function request(headers: Record<string, string>, body: Buffer = Buffer.alloc(0)): WireRequest {
  return { method: 'POST', path: '/', query: new URLSearchParams(), headers, body };
}

test('a compressed answer carries Content-Encoding and the checksum of its compressed bytes; small ones are left alone', () => {
  const big = JSON.stringify({ Items: [{ x: { S: 'x'.repeat(COMPRESS_THRESHOLD_BYTES) } }] });
  const res = compressResponse(request({ 'accept-encoding': 'gzip' }), { status: 200, headers: { 'x-amz-crc32': '1' }, body: big });
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.equal(res.headers['x-amz-crc32'], String(crc32(res.body as Buffer) >>> 0));
  assert.equal(gunzipSync(res.body as Buffer).toString('utf8'), big);
  const small = { status: 200, headers: {}, body: 'x'.repeat(COMPRESS_THRESHOLD_BYTES - 1) };
  assert.equal(compressResponse(request({ 'accept-encoding': 'gzip' }), small), small);
  const exactly = compressResponse(request({ 'accept-encoding': 'gzip' }), { status: 200, headers: {}, body: 'x'.repeat(COMPRESS_THRESHOLD_BYTES) });
  assert.equal(exactly.headers['content-encoding'], 'gzip');
});

test('a request body: gzip is undone (several members too), bounded; other codings and broken gzip are refused', () => {
  const json = Buffer.from('{"TableName":"t"}');
  assert.deepEqual(decodedBody(request({ 'content-encoding': 'gzip' }, gzipSync(json)), 1024), json);
  assert.deepEqual(decodedBody(request({ 'content-encoding': 'GZIP' }, Buffer.concat([gzipSync(json.subarray(0, 5)), gzipSync(json.subarray(5))])), 1024), json);
  assert.equal(decodedBody(request({}, json), 1024), json);
  assert.equal(decodedBody(request({ 'content-encoding': 'identity' }, json), 1024), json);
  const refused = (headers: Record<string, string>, body: Buffer, code: string, status: number) => {
    assert.throws(() => decodedBody(request(headers, body), 1024), (e: unknown) => e instanceof ServiceError && e.code === code && e.status === status);
  };
  refused({ 'content-encoding': 'garbage' }, json, 'SerializationException', 400);
  refused({ 'content-encoding': 'br' }, json, 'SerializationException', 400);
  refused({ 'content-encoding': 'gzip' }, json, 'SerializationException', 400);
  refused({ 'content-encoding': 'gzip' }, Buffer.alloc(0), 'SerializationException', 400);
  refused({ 'content-encoding': 'gzip' }, gzipSync(json).subarray(0, -1), 'SerializationException', 400);
  refused({ 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(2048, 0x20)), 'RequestEntityTooLarge', 413);
});
