/**
 * @module services/dynamodb/streams/format
 * The wire formats of DynamoDB Streams, as pure functions: stream labels and ARNs, shard ids,
 * sequence numbers, shard iterators, and the stream record built from one item change (images per
 * view type, SizeBytes, whether the change changed anything at all).
 */
import { createHash } from 'node:crypto';
import { itemSize, valuesEqual, type Item } from '../attributes.js';

export type StreamViewType = 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES';
export const STREAM_VIEW_TYPES: readonly StreamViewType[] = ['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES'];

/** How long a record stays readable, and a disabled stream listed. */
export const RETENTION_MS = 24 * 60 * 60 * 1000;
/** How long a shard iterator may be used after it was handed out. */
export const ITERATOR_LIFETIME_MS = 15 * 60 * 1000;

/**
 * A stream's label: the time streams were enabled, ISO 8601 with milliseconds and no zone, as AWS
 * writes it (`2026-12-06T23:59:59.123`).
 */
export function streamLabel(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '');
}

export function streamArn(tableArn: string, label: string): string {
  return `${tableArn}/stream/${label}`;
}

export interface ParsedStreamArn {
  partition: string;
  region: string;
  accountId: string;
  tableName: string;
  label: string;
}

const STREAM_ARN = /^arn:([a-z-]+):dynamodb:([a-z0-9-]+):(\d{12}):table\/([a-zA-Z0-9_.-]{3,255})\/stream\/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})$/;

/** A stream ARN's parts, or undefined when the text is not one. */
export function parseStreamArn(arn: string): ParsedStreamArn | undefined {
  const m = STREAM_ARN.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, region: m[2]!, accountId: m[3]!, tableName: m[4]!, label: m[5]! };
}

/**
 * A shard id as AWS forms it: `shardId-` then the shard's creation time in ms, 20 digits, then 8 hex
 * digits (here derived from the stream ARN, so the id is stable and distinct per stream).
 */
export function shardId(createdMs: number, streamArnText: string): string {
  const suffix = createHash('sha256').update(streamArnText).digest('hex').slice(0, 8);
  return `shardId-${String(Math.max(0, Math.floor(createdMs))).padStart(20, '0')}-${suffix}`;
}

// ------------------------------------------------------------------ sequence numbers

/**
 * A sequence number is kept as a safe integer: the write time in ms times 1000 plus a counter, so
 * numbers grow with time and stay ordered across restarts. On the wire it is a decimal string of 21
 * digits, as AWS's are (the model allows 21 to 40).
 */
export const SEQUENCE_PER_MS = 1000;

export function formatSequence(seq: number): string {
  return String(seq).padStart(21, '0');
}

/** A sequence number from the wire, or undefined when it is not a decimal number of 21 to 40 digits. */
export function parseSequence(text: string): number | undefined {
  if (!/^\d{21,40}$/.test(text)) return undefined;
  const n = BigInt(text);
  // Past every number Cellar hands out: treated as the largest, so it reads nothing.
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** The store key suffix of a sequence number: 8 bytes, big-endian, so keys sort as numbers. */
export function sequenceKey(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeSequence(b, seq, 0);
  return b;
}

/** Writes a sequence number (a safe integer, so below 2^53) as 8 big-endian bytes, without a BigInt. */
export function writeSequence(b: Buffer, seq: number, offset: number): void {
  b.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), offset);
  b.writeUInt32BE(seq >>> 0, offset + 4);
}

export function sequenceOfKey(key: Buffer, offset: number): number {
  return Number(key.readBigUInt64BE(offset));
}

// ------------------------------------------------------------------ shard iterators

/** What a shard iterator stands for: a position in one shard of one stream, handed out at a time. */
export interface IteratorPosition {
  streamArn: string;
  shardId: string;
  /** The next record read is the first with a sequence number above this. */
  after: number;
  issuedMs: number;
}

function checksum(body: string): string {
  return createHash('sha256').update(body).digest('base64url').slice(0, 16);
}

/**
 * An iterator as AWS shapes it, `<stream ARN>|1|<opaque>`; the opaque part carries the shard, the
 * position and the time it was handed out, with a checksum so a mangled iterator is refused rather
 * than read from an arbitrary place.
 */
export function encodeIterator(p: IteratorPosition): string {
  const body = Buffer.from(JSON.stringify([p.shardId, p.after, p.issuedMs])).toString('base64url');
  return `${p.streamArn}|1|${body}.${checksum(`${p.streamArn}|${body}`)}`;
}

/** The stream ARN an iterator names (checked against the caller's scope before the rest is read). */
export function iteratorStreamArn(text: string): string | undefined {
  const bar = text.indexOf('|1|');
  return bar < 0 ? undefined : text.slice(0, bar);
}

/** The position an iterator names, or undefined when the text is not an iterator Cellar handed out. */
export function decodeIterator(text: string): IteratorPosition | undefined {
  const arn = iteratorStreamArn(text);
  if (arn === undefined) return undefined;
  const rest = text.slice(arn.length + 3);
  const dot = rest.lastIndexOf('.');
  if (dot < 0) return undefined;
  const body = rest.slice(0, dot);
  if (checksum(`${arn}|${body}`) !== rest.slice(dot + 1)) return undefined;
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parts) || parts.length !== 3) return undefined;
  const [shard, after, issuedMs] = parts as unknown[];
  if (typeof shard !== 'string' || !Number.isSafeInteger(after) || !Number.isSafeInteger(issuedMs)) return undefined;
  return { streamArn: arn, shardId: shard, after: after as number, issuedMs: issuedMs as number };
}

// ------------------------------------------------------------------ records

export type EventName = 'INSERT' | 'MODIFY' | 'REMOVE';

/** A stream record as GetRecords returns it (the Record shape of the Streams model). */
export interface StreamRecordWire {
  eventID: string;
  eventName: EventName;
  eventVersion: '1.1';
  eventSource: 'aws:dynamodb';
  awsRegion: string;
  dynamodb: {
    ApproximateCreationDateTime: number;
    Keys: Item;
    NewImage?: Item;
    OldImage?: Item;
    SequenceNumber: string;
    SizeBytes: number;
    StreamViewType: StreamViewType;
  };
  userIdentity?: { PrincipalId: string; Type: string };
}

/** Whether two items hold the same attributes and values (map members and set elements in any order). */
export function itemsEqual(a: Item, b: Item): boolean {
  const names = Object.keys(a);
  if (names.length !== Object.keys(b).length) return false;
  for (const n of names) {
    const other = b[n];
    if (other === undefined || !valuesEqual(a[n]!, other)) return false;
  }
  return true;
}

/**
 * An item image as the write path holds it: its size, its JSON as text or as UTF-8 bytes (whichever the write path
 * already has; the other is made only when asked for), and the parsed item, asked for only when needed.
 */
export interface Image {
  readonly json: string;
  readonly size: number;
  /** The JSON as UTF-8 bytes (for a new item: the bytes the item write stored, not encoded again). */
  bytes(): Buffer;
  item(): Item;
}

/** Two images of the same item: equal sizes first (cheap), then the same text, then the values. */
export function sameItem(a: Image, b: Image): boolean {
  return a.size === b.size && (a.json === b.json || itemsEqual(a.item(), b.item()));
}

export interface RecordInput {
  eventID: string;
  region: string;
  keyNames: readonly string[];
  old: Image | undefined;
  /** Undefined when the item was deleted. */
  next: Image | undefined;
  viewType: StreamViewType;
  seq: number;
  nowMs: number;
  /** A delete made by Time to Live: AWS marks the record as the service's own. */
  byService: boolean;
}

const SERVICE_IDENTITY = ',"userIdentity":{"PrincipalId":"dynamodb.amazonaws.com","Type":"Service"}';

// ------------------------------------------------------------------ the stored form of a record

/**
 * A record is stored compactly, as the write path holds it, and made into its wire JSON only when GetRecords reads it:
 *
 *   u8 format (1) | u8 event (0 INSERT, 1 MODIFY, 2 REMOVE) | u8 view type (index in STREAM_VIEW_TYPES) | u8 flags
 *   | u32 ApproximateCreationDateTime (s) | u32 bytes of the images carried (DynamoDB's item-size rules)
 *   | u32 length of the first part | parts
 *
 * The parts are the new image's JSON (flag NEW), then the old image's (flag OLD), or, when the record carries neither,
 * the keys' JSON (flag KEYS). The new image's bytes are the ones the item write just stored. The keys of a record
 * with an image are read from it; its sequence number is its store key; its eventID is derived from the table and
 * the sequence number (recordEventId). Records stored before this format (their wire JSON, starting with `{`) are
 * read as they are.
 */
const RECORD_FORMAT = 1;
const RECORD_HEADER_BYTES = 16;
const FLAG_BY_SERVICE = 1;
const FLAG_NEW = 2;
const FLAG_OLD = 4;
const FLAG_KEYS = 8;
const EVENT_NAMES: readonly EventName[] = ['INSERT', 'MODIFY', 'REMOVE'];

function keysOf(item: Item, keyNames: readonly string[]): Item {
  const keys: Item = {};
  for (const k of keyNames) if (item[k] !== undefined) keys[k] = item[k]!;
  return keys;
}

/**
 * The stored record of one change, or undefined when the change changed nothing (a delete of a missing item, a put or
 * update that leaves the item as it was): DynamoDB writes no record for those.
 */
export function encodeRecord(r: Omit<RecordInput, 'eventID' | 'region' | 'seq'>): Buffer | undefined {
  const { old, next } = r;
  if (!old && !next) return undefined;
  if (old && next && sameItem(old, next)) return undefined;
  const event = !old ? 0 : !next ? 2 : 1;
  const withNew = next !== undefined && (r.viewType === 'NEW_IMAGE' || r.viewType === 'NEW_AND_OLD_IMAGES');
  const withOld = old !== undefined && (r.viewType === 'OLD_IMAGE' || r.viewType === 'NEW_AND_OLD_IMAGES');
  const first = withNew ? next.bytes() : withOld ? old.bytes() : Buffer.from(JSON.stringify(keysOf((next ?? old)!.item(), r.keyNames)), 'utf8');
  const second = withNew && withOld ? old.bytes() : undefined;
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + first.length + (second?.length ?? 0));
  out[0] = RECORD_FORMAT;
  out[1] = event;
  out[2] = STREAM_VIEW_TYPES.indexOf(r.viewType);
  out[3] = (r.byService ? FLAG_BY_SERVICE : 0) | (withNew ? FLAG_NEW : 0) | (withOld ? FLAG_OLD : 0) | (withNew || withOld ? 0 : FLAG_KEYS);
  out.writeUInt32BE(Math.floor(r.nowMs / 1000), 4);
  out.writeUInt32BE((withNew ? next.size : 0) + (withOld ? old.size : 0), 8);
  out.writeUInt32BE(first.length, 12);
  first.copy(out, RECORD_HEADER_BYTES);
  if (second) second.copy(out, RECORD_HEADER_BYTES + first.length);
  return out;
}

/** A record's eventID: 32 hex digits, the same at every read, distinct for every table's every sequence number. */
export function recordEventId(tableNs: number, seq: number): string {
  return createHash('md5').update(`${tableNs}/${seq}`).digest('hex');
}

/** What a stored record's wire JSON needs besides the stored bytes. */
export interface RecordContext {
  seq: number;
  region: string;
  keyNames: readonly string[];
  eventID: string;
}

/** A stored record as GetRecords returns it (JSON text). */
export function recordText(stored: Buffer, c: RecordContext): string {
  if (stored[0] !== RECORD_FORMAT) return stored.toString('utf8'); // stored as wire JSON by an earlier version
  const flags = stored[3]!;
  const firstEnd = RECORD_HEADER_BYTES + stored.readUInt32BE(12);
  const first = stored.toString('utf8', RECORD_HEADER_BYTES, firstEnd);
  const newJson = flags & FLAG_NEW ? first : undefined;
  const oldJson = flags & FLAG_OLD ? (newJson !== undefined ? stored.toString('utf8', firstEnd) : first) : undefined;
  const keys = keysOf(JSON.parse(first) as Item, c.keyNames);
  // SizeBytes counts what the record carries, by DynamoDB's item-size rules (the keys alone for KEYS_ONLY).
  const size = itemSize(keys) + stored.readUInt32BE(8);
  const viewType = STREAM_VIEW_TYPES[stored[2]!]!;
  let body = `{"ApproximateCreationDateTime":${stored.readUInt32BE(4)},"Keys":${JSON.stringify(keys)}`;
  if (newJson !== undefined) body += `,"NewImage":${newJson}`;
  if (oldJson !== undefined) body += `,"OldImage":${oldJson}`;
  body += `,"SequenceNumber":"${formatSequence(c.seq)}","SizeBytes":${size},"StreamViewType":"${viewType}"}`;
  const identity = flags & FLAG_BY_SERVICE ? SERVICE_IDENTITY : '';
  return `{"eventID":"${c.eventID}","eventName":"${EVENT_NAMES[stored[1]!]!}","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":${JSON.stringify(c.region)},"dynamodb":${body}${identity}}`;
}

/** The record of one change as JSON text, or undefined when the change changed nothing: encodeRecord, then recordText. */
export function recordJson(r: RecordInput): string | undefined {
  const stored = encodeRecord(r);
  return stored && recordText(stored, r);
}
