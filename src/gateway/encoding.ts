/**
 * @module gateway/encoding
 * Content codings, as DynamoDB handles them (the same for every service Cellar serves):
 *   - a request body may be gzip-compressed (`Content-Encoding: gzip`, which the SDKs' request compression sends);
 *     it is decompressed after the signature has been checked over the bytes as sent, and its decompressed size is
 *     bounded. Any other coding is refused, and so is a body that is not valid gzip.
 *   - an answer of ACCEPT_THRESHOLD_BYTES or more is compressed with gzip or deflate when `Accept-Encoding` asks for
 *     one, chosen as DynamoDB chooses (highest quality, then the order listed, gzip for `*`); a DynamoDB
 *     `x-amz-crc32` is then the checksum of the compressed bytes, as the SDKs expect.
 * The rules are those ScyllaDB Alternator's suite checks against DynamoDB (test_compressed_request.py,
 * test_compressed_response.py), except one: DynamoDB answers an unknown coding or broken gzip with a 500
 * InternalServerError; Cellar answers 400 SerializationException (no request may produce a 500, and a 500 makes the
 * SDKs retry a request that cannot succeed).
 */
import { crc32, deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { ServiceError } from '../core/errors.js';
import type { WireRequest, WireResponse } from '../protocols/types.js';

/** DynamoDB compresses answers of 4 KiB and more (smaller ones are sent as they are). */
export const COMPRESS_THRESHOLD_BYTES = 4096;

type Coding = 'gzip' | 'deflate';
const TOKEN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/**
 * The coding an `Accept-Encoding` value asks for, of the two DynamoDB offers, or undefined for none. Entries that
 * are not well-formed tokens are ignored; a quality value is the entry's first `q`, clamped to [0, 1], a negative
 * one counting as 0 and an unreadable one as 1; `*` stands for every coding not named; a coding named more than
 * once takes its highest quality; `identity` plays no part.
 */
export function chooseCoding(accept: string): Coding | undefined {
  const named = new Map<string, { q: number; position: number }>();
  let wildcard: number | undefined;
  let position = 0;
  for (const entry of accept.split(',')) {
    const [rawToken, ...params] = entry.split(';');
    const token = rawToken!.trim().toLowerCase();
    if (!token || !TOKEN.test(token)) continue;
    let q = 1;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'q') continue;
      q = quality(p.slice(eq + 1).trim());
      break;
    }
    if (token === '*') wildcard = Math.max(wildcard ?? 0, q);
    else {
      const prev = named.get(token);
      if (!prev) named.set(token, { q, position: position++ });
      else prev.q = Math.max(prev.q, q);
    }
  }
  let best: { coding: Coding; q: number; explicit: boolean; position: number } | undefined;
  for (const coding of ['gzip', 'deflate'] as const) {
    const n = named.get(coding);
    const candidate = n ? { coding, q: n.q, explicit: true, position: n.position } : wildcard !== undefined ? { coding, q: wildcard, explicit: false, position: Infinity } : undefined;
    if (!candidate || candidate.q <= 0) continue;
    if (!best || candidate.q > best.q || (candidate.q === best.q && candidate.explicit && (!best.explicit || candidate.position < best.position))) best = candidate;
  }
  return best?.coding;
}

function quality(text: string): number {
  if (text.startsWith('-')) return 0;
  const q = Number(text);
  if (text === '' || Number.isNaN(q)) return 1;
  return Math.min(1, Math.max(0, q));
}

/** The answer compressed as the request's `Accept-Encoding` asks, when it is large enough to be worth it. */
export function compressResponse(req: WireRequest, res: WireResponse): WireResponse {
  const accept = req.headers['accept-encoding'];
  // A streamed answer (server-sent events) goes as it is written.
  if (accept === undefined || res.stream || res.headers['content-encoding'] !== undefined) return res;
  const length = typeof res.body === 'string' ? Buffer.byteLength(res.body, 'utf8') : res.body.length;
  if (length < COMPRESS_THRESHOLD_BYTES) return res;
  const coding = chooseCoding(accept);
  if (!coding) return res;
  const body = coding === 'gzip' ? gzipSync(res.body) : deflateSync(res.body);
  const headers: Record<string, string> = { ...res.headers, 'content-encoding': coding };
  if (headers['x-amz-crc32'] !== undefined) headers['x-amz-crc32'] = String(crc32(body) >>> 0);
  return { status: res.status, headers, body };
}

/**
 * The request's body with its content coding undone: gzip (one or more members) up to maxBytes decompressed
 * (413 past it), `identity` or none as it is. Anything else is refused.
 */
export function decodedBody(req: WireRequest, maxBytes: number): Buffer {
  const coding = req.headers['content-encoding'];
  if (coding === undefined) return req.body;
  const name = coding.trim().toLowerCase();
  if (name === '' || name === 'identity') return req.body;
  if (name !== 'gzip') throw new ServiceError('SerializationException', `Unsupported Content-Encoding: ${coding.slice(0, 64)}`);
  try {
    return gunzipSync(req.body, { maxOutputLength: maxBytes });
  } catch (e) {
    if (e instanceof RangeError || (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ServiceError('RequestEntityTooLarge', 'Request entity too large', { status: 413 });
    }
    throw new ServiceError('SerializationException', 'The request body is not valid gzip');
  }
}
