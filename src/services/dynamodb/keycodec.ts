/**
 * @module services/dynamodb/keycodec
 * Order-preserving binary keys for items and index entries, so that the store's memcmp order serves
 * Query range conditions, ScanIndexForward and paging without sorting in memory.
 *
 *   item key   = u32 table number | u16 bucket | u16 hash length | hash bytes | range (ordered, prefix-free)
 *   index key  = u32 index number | u16 bucket | u16 hash length | hash bytes | range (ordered) | item key minus its table number
 *
 * The bucket is a hash of the partition key's bytes: like DynamoDB's own partitioning it spreads a Scan
 * over partition keys in no meaningful order, and it lets a parallel Scan segment be one contiguous key
 * range (segment i of n covers buckets [i·65536/n, (i+1)·65536/n)). Hash key bytes are length-prefixed
 * (their order does not matter, only equality); range values use an ordered, prefix-free encoding:
 *   S, B: the bytes with 0x00 escaped as 0x00 0xFF, then the terminator 0x00 0x00
 *   N:    numbers.encodeNumberKey (sign, exponent, base-100 digits, terminator)
 * Prefix-freedom matters for index keys, where the item key follows the index range value.
 */
import type { AttributeValue } from './attributes.js';
import { encodeNumberKey, parseNumber } from './numbers.js';

export type KeyType = 'S' | 'N' | 'B';

export const BUCKETS = 65536;

/** The raw bytes of a key value (S as UTF-8, B decoded, N in its ordered encoding). */
export function rawKeyBytes(v: AttributeValue, type: KeyType): Buffer {
  if (type === 'S') return Buffer.from(v.S!, 'utf8');
  if (type === 'B') return Buffer.from(v.B!, 'base64');
  const n = parseNumber(v.N!);
  if (typeof n === 'string') throw new Error('invalid number in key');
  return encodeNumberKey(n);
}

/** Ordered, prefix-free bytes for a range key value. */
export function orderedKeyBytes(v: AttributeValue, type: KeyType): Buffer {
  if (type === 'N') return rawKeyBytes(v, 'N');
  return escapeBytes(rawKeyBytes(v, type), true);
}

/** 0x00 → 0x00 0xFF; with `terminate`, append 0x00 0x00 (sorts below any escaped continuation). */
export function escapeBytes(raw: Buffer, terminate: boolean): Buffer {
  let zeros = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] === 0) zeros++;
  const out = Buffer.allocUnsafe(raw.length + zeros + (terminate ? 2 : 0));
  let j = 0;
  for (let i = 0; i < raw.length; i++) {
    out[j++] = raw[i]!;
    if (raw[i] === 0) out[j++] = 0xff;
  }
  if (terminate) {
    out[j++] = 0;
    out[j++] = 0;
  }
  return out;
}

/** FNV-1a over the partition key bytes, folded to 16 bits. */
export function bucketOf(hashBytes: Buffer): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < hashBytes.length; i++) {
    h ^= hashBytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 16) ^ (h & 0xffff)) & 0xffff;
}

/** Everything of a key after the u32 namespace number: bucket, hash and (optionally) range. */
export function keyBody(hash: AttributeValue, hashType: KeyType, range?: AttributeValue, rangeType?: KeyType): Buffer {
  const hb = rawKeyBytes(hash, hashType);
  // Callers check DynamoDB's key limits (2,048 bytes) first; this bound only keeps the 16-bit length field honest.
  if (hb.length > 0xffff) throw new RangeError(`partition key of ${hb.length} bytes cannot be encoded`);
  const rb = range !== undefined && rangeType ? orderedKeyBytes(range, rangeType) : undefined;
  const out = Buffer.allocUnsafe(4 + hb.length + (rb ? rb.length : 0));
  out.writeUInt16BE(bucketOf(hb), 0);
  out.writeUInt16BE(hb.length, 2);
  hb.copy(out, 4);
  if (rb) rb.copy(out, 4 + hb.length);
  return out;
}

export function withNamespace(ns: number, ...parts: Buffer[]): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(ns, 0);
  return Buffer.concat([head, ...parts]);
}

export function namespacePrefix(ns: number): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(ns, 0);
  return head;
}

/** Key range of buckets [from, to) within a namespace, for parallel scan segments. */
export function bucketRange(ns: number, segment: number, totalSegments: number): { gte: Buffer; lt: Buffer } {
  const from = Math.floor((segment * BUCKETS) / totalSegments);
  const to = Math.floor(((segment + 1) * BUCKETS) / totalSegments);
  const gte = Buffer.allocUnsafe(6);
  gte.writeUInt32BE(ns, 0);
  gte.writeUInt16BE(from, 4);
  let lt: Buffer;
  if (to >= BUCKETS) {
    lt = namespacePrefix(ns + 1);
  } else {
    lt = Buffer.allocUnsafe(6);
    lt.writeUInt32BE(ns, 0);
    lt.writeUInt16BE(to, 4);
  }
  return { gte, lt };
}

/** Which segment of `totalSegments` a key (with namespace) falls in. */
export function segmentOf(key: Buffer, totalSegments: number): number {
  const bucket = key.readUInt16BE(4);
  // Inverse of bucketRange's floor(segment·BUCKETS/total) boundaries; bounded by totalSegments steps.
  let seg = Math.floor((bucket * totalSegments) / BUCKETS);
  while (seg + 1 < totalSegments && Math.floor(((seg + 1) * BUCKETS) / totalSegments) <= bucket) seg++;
  while (seg > 0 && Math.floor((seg * BUCKETS) / totalSegments) > bucket) seg--;
  return seg;
}

/** Item values are stored as u32 item size followed by the item's JSON (wire shape, canonical values). */
export function encodeItemValue(json: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(4 + Buffer.byteLength(json, 'utf8'));
  out.writeUInt32BE(size, 0);
  out.write(json, 4, 'utf8');
  return out;
}

export function itemValueSize(value: Buffer): number {
  return value.readUInt32BE(0);
}

export function itemValueJson(value: Buffer): string {
  return value.toString('utf8', 4);
}

/** Bytes before an item value's JSON: the u32 size. */
export const ITEM_HEADER_BYTES = 4;

/** An item value read as text (Keyspace.getText/scanText with ITEM_HEADER_BYTES): 8 hex digits of size, then the JSON. */
export function textValueSize(value: string): number {
  return Number.parseInt(value.slice(0, 8), 16);
}

export function textValueJson(value: string): string {
  return value.slice(8);
}
