/**
 * @module services/dynamodb/streams/change-log
 * The table's ordered change log, the source of DynamoDB Streams records: a write observer that, inside
 * the store transaction of each item write, appends one record per change to the table's log, and the
 * streams themselves (one per enabling of a table's stream, kept 24 hours after it is disabled).
 *
 * Records live in their own keyspace, keyed by the table's namespace and the record's sequence number,
 * so a table's records read in order with one range scan, and commit or roll back with the item write:
 * nothing acknowledged is lost at a kill -9, nothing rolled back is ever read. A stream is the range of
 * sequence numbers between its enabling and its disabling, cut into shards: a new shard opens (the old one
 * closes, as its parent) at the first write four hours after the open shard was opened, as on AWS.
 */
import type { Clock } from '../../../core/clock.js';
import { faultPoint } from '../../../core/faults.js';
import { Scope } from '../../../core/scope.js';
import { ScopedTable, type Keyspace, type Store } from '../../../storage/store.js';
import { encodeItemValue, ITEM_HEADER_BYTES, itemValueJson, namespacePrefix } from '../keycodec.js';
import type { ItemChange, WriteObserver, WriteOptions } from '../tables/state.js';
import { tableArn, type KeySchemaElement, type TableMeta } from '../tables/schema.js';
import {
  encodeRecord, recordEventId, recordText, RETENTION_MS, SEQUENCE_PER_MS, sequenceOfKey, shardId, streamArn, streamLabel, writeSequence,
  type Image, type StreamViewType,
} from './format.js';
import type { StreamSpecificationInput } from './stream-spec.js';

/** One shard of a stream: its records have sequence numbers above startSeq, up to endSeq once closed. */
export interface ShardMeta {
  id: string;
  createdMs: number;
  startSeq: number;
  endSeq?: number;
  parentId?: string;
}

/** How long a shard takes writes before the next write opens a new one (AWS: about four hours). */
export const SHARD_LIFETIME_MS = 4 * 60 * 60 * 1000;

/** One stream of one table: what DescribeStream reports, and the sequence range its records hold. */
export interface StreamMeta {
  accountId: string;
  region: string;
  tableName: string;
  /** The table's item namespace: its records are keyed under it. */
  tableNs: number;
  label: string;
  viewType: StreamViewType;
  keySchema: KeySchemaElement[];
  createdMs: number;
  /** The first shard's id (the only one for streams written before shards rolled over). */
  shardId: string;
  /** The stream's shards, oldest first; absent for a stream that only ever had the first. */
  shards?: ShardMeta[];
  /** Records of this stream have sequence numbers above this. */
  startSeq: number;
  /** Set when the stream was disabled (or its table deleted). */
  disabledMs?: number;
  /** The last sequence number handed out while the stream was enabled. */
  endSeq?: number;
  /** The highest sequence number of this stream removed by retention. */
  trimmedSeq?: number;
}

/** A stream's shards, oldest first: the last is open while the stream is enabled. */
export function shardsOf(s: StreamMeta): ShardMeta[] {
  const shards = s.shards ?? [{ id: s.shardId, createdMs: s.createdMs, startSeq: s.startSeq }];
  if (s.endSeq === undefined) return shards;
  // A disabled stream's last shard is closed where the stream ended.
  return shards.map((x, i) => (i === shards.length - 1 && x.endSeq === undefined ? { ...x, endSeq: s.endSeq } : x));
}

export function metaArn(s: StreamMeta): string {
  return streamArn(tableArn({ accountId: s.accountId, region: s.region, name: s.tableName }), s.label);
}

/** Records removed per step of the retention job, and per stream read. */
const TRIM_BATCH = 1000;

export class StreamChangeLog implements WriteObserver {
  private readonly records: Keyspace;
  private readonly streams: ScopedTable<StreamMeta>;
  /** The last sequence number handed out, by table namespace (read from the log once per process). */
  private readonly lastSeq = new Map<number, number>();
  /** When the open shard of each table's current stream was opened (known once its metadata is stored). */
  private readonly openShardMs = new Map<number, number>();

  constructor(
    private readonly store: Store,
    readonly clock: Clock,
  ) {
    this.records = store.keyspace('ddb_stream_records');
    this.streams = new ScopedTable<StreamMeta>(store.keyspace('ddb_streams'));
  }

  // ------------------------------------------------------------------ the write observer

  onChange(change: ItemChange, options: WriteOptions, storedValue: Buffer | undefined): void {
    const meta = change.table.meta;
    if (!meta.stream?.StreamEnabled || !meta.streamLabel) return;
    const stored = change.stored;
    const nextItem = change.next;
    if (!stored && !nextItem) return;
    let openedMs = this.openShardMs.get(meta.ns);
    if (openedMs === undefined) openedMs = this.ensureStream(meta, options.nowMs);
    if (options.nowMs - openedMs >= SHARD_LIFETIME_MS) this.rollShard(meta, options.nowMs);
    const old: Image | undefined = stored && { json: stored.json, size: stored.size, bytes: () => Buffer.from(stored.json, 'utf8'), item: () => stored.item };
    let next: Image | undefined;
    if (nextItem) {
      // The new item's JSON is the one the item write just stored: its bytes are spliced in, its text made only if the
      // sizes of old and new cannot tell a change.
      const value = storedValue ?? encodeItemValue(JSON.stringify(nextItem), change.nextSize);
      let nextJson: string | undefined;
      next = { get json() { return (nextJson ??= itemValueJson(value)); }, size: change.nextSize, bytes: () => value.subarray(ITEM_HEADER_BYTES), item: () => nextItem };
    }
    const record = encodeRecord({ keyNames: change.table.keyAttrs, old, next, viewType: meta.stream.StreamViewType as StreamViewType, nowMs: options.nowMs, byService: options.origin === 'ttl' });
    if (record === undefined) return; // nothing changed: no record
    this.records.put(this.recordKey(meta.ns, this.nextSeq(meta, options.nowMs)), record);
  }

  private recordKey(ns: number, seq: number): Buffer {
    const key = Buffer.allocUnsafe(12);
    key.writeUInt32BE(ns, 0);
    writeSequence(key, seq, 4);
    return key;
  }

  /**
   * The next sequence number of a table's log: above every one handed out before (read from the log and
   * the table's streams after a restart), and at least the write time in ms × 1000.
   */
  private nextSeq(meta: TableMeta, nowMs: number): number {
    let last = this.lastSeq.get(meta.ns);
    if (last === undefined) last = this.storedLastSeq(meta);
    const seq = Math.max(last + 1, Math.floor(nowMs) * SEQUENCE_PER_MS);
    this.lastSeq.set(meta.ns, seq);
    return seq;
  }

  private storedLastSeq(meta: Pick<TableMeta, 'ns' | 'accountId' | 'region' | 'name'>): number {
    let last = 0;
    const prefix = namespacePrefix(meta.ns);
    for (const [k] of this.records.scan({ gte: prefix, lt: namespacePrefix(meta.ns + 1), reverse: true, limit: 1 })) last = sequenceOfKey(k, 4);
    for (const [, s] of this.streams.list(Scope.ofRecord(meta), `${meta.name}/`)) {
      if (s.tableNs === meta.ns) last = Math.max(last, s.startSeq, s.endSeq ?? 0);
    }
    return last;
  }

  /** The last sequence number handed out in a stream (for LATEST iterators on its open shard). */
  currentSeq(s: StreamMeta): number {
    if (s.endSeq !== undefined) return s.endSeq;
    const last = this.lastSeq.get(s.tableNs) ?? this.storedLastSeq({ ns: s.tableNs, accountId: s.accountId, region: s.region, name: s.tableName });
    return Math.max(last, s.startSeq);
  }

  // ------------------------------------------------------------------ the table's lifecycle (inside its store transaction)

  /** CreateTable: a table created with its stream enabled has its first stream. */
  tableCreated(meta: TableMeta): void {
    if (meta.stream?.StreamEnabled && meta.streamLabel) this.openStream(meta, meta.createdMs);
  }

  /**
   * The label a stream enabled now gets: the time, or a millisecond after the table's last stream's label
   * if that is not earlier (so two streams of one table never share an ARN, even if the clock went back).
   */
  labelFor(meta: Pick<TableMeta, 'streamLabel'>, nowMs: number): string {
    const label = streamLabel(nowMs);
    if (!meta.streamLabel || label > meta.streamLabel) return label;
    return streamLabel(Date.parse(`${meta.streamLabel}Z`) + 1);
  }

  /** UpdateTable with a StreamSpecification (already validated against the table's state). */
  streamUpdated(meta: TableMeta, spec: StreamSpecificationInput, nowMs: number): void {
    if (spec.StreamEnabled) {
      meta.streamLabel = this.labelFor(meta, nowMs);
      meta.stream = { StreamEnabled: true, StreamViewType: spec.StreamViewType! };
      this.openStream(meta, nowMs);
    } else {
      this.closeStream(meta, nowMs);
      meta.stream = { StreamEnabled: false };
    }
  }

  /** DeleteTable: the table's stream is disabled, and stays readable for 24 hours. */
  tableDeleted(meta: TableMeta, nowMs: number): void {
    if (meta.stream?.StreamEnabled) this.closeStream(meta, nowMs);
  }

  /**
   * Opens the table's stream under meta.streamLabel. A stream of an earlier table of the same name may hold
   * that label still (deleted and created again within a millisecond): the label then moves on a millisecond
   * at a time, so no stream is ever overwritten.
   */
  private openStream(meta: TableMeta, nowMs: number): void {
    const scope = Scope.ofRecord(meta);
    let label = meta.streamLabel!;
    for (let i = 0; i < 1000 && this.streams.get(scope, `${meta.name}/${label}`); i++) label = streamLabel(Date.parse(`${label}Z`) + 1);
    meta.streamLabel = label;
    const arn = streamArn(tableArn(meta), label);
    const s: StreamMeta = {
      accountId: meta.accountId,
      region: meta.region,
      tableName: meta.name,
      tableNs: meta.ns,
      label,
      viewType: meta.stream!.StreamViewType as StreamViewType,
      keySchema: meta.keySchema,
      createdMs: nowMs,
      shardId: shardId(nowMs, arn),
      startSeq: this.nextSeq(meta, nowMs),
    };
    this.streams.put(scope, `${meta.name}/${label}`, s);
    this.openShardMs.set(meta.ns, nowMs);
  }

  /** Closes the open shard of the table's stream and opens its child (in the write's transaction). */
  private rollShard(meta: TableMeta, nowMs: number): void {
    const scope = Scope.ofRecord(meta);
    const name = `${meta.name}/${meta.streamLabel}`;
    const s = this.streams.get(scope, name);
    if (!s || s.disabledMs !== undefined) return;
    const shards = shardsOf(s);
    const open = shards[shards.length - 1]!;
    open.endSeq = this.currentSeq(s);
    const arn = metaArn(s);
    shards.push({ id: shardId(nowMs, `${arn}#${shards.length}`), createdMs: nowMs, startSeq: this.nextSeq(meta, nowMs), parentId: open.id });
    s.shards = shards;
    this.streams.put(scope, name, s);
    this.openShardMs.set(meta.ns, nowMs);
  }

  private closeStream(meta: TableMeta, nowMs: number): void {
    if (!meta.streamLabel) return;
    const scope = Scope.ofRecord(meta);
    const name = `${meta.name}/${meta.streamLabel}`;
    const s = this.streams.get(scope, name);
    if (!s || s.disabledMs !== undefined) return;
    s.disabledMs = nowMs;
    s.endSeq = this.currentSeq(s);
    this.streams.put(scope, name, s);
    this.openShardMs.delete(meta.ns);
  }

  /** A table whose stream was enabled before streams were kept (an older data directory) gets its stream's metadata. */
  private ensureStream(meta: TableMeta, nowMs: number): number {
    const s = this.streams.get(Scope.ofRecord(meta), `${meta.name}/${meta.streamLabel}`);
    if (!s) {
      this.openStream(meta, nowMs);
      return nowMs;
    }
    const shards = shardsOf(s);
    const openedMs = shards[shards.length - 1]!.createdMs;
    this.openShardMs.set(meta.ns, openedMs);
    return openedMs;
  }

  // ------------------------------------------------------------------ reading

  stream(scope: Scope, tableName: string, label: string): StreamMeta | undefined {
    return this.streams.get(scope, `${tableName}/${label}`);
  }

  /** The scope's streams in key order (table name, then label), optionally of one table. */
  list(scope: Scope, tableName?: string): StreamMeta[] {
    return this.streams.list(scope, tableName !== undefined ? `${tableName}/` : '').map(([, s]) => s);
  }

  /**
   * Records of a shard above `after` (as JSON text), in order, up to `limit` records or about `maxBytes`
   * of them; `more` tells whether the shard holds further records now.
   */
  read(s: StreamMeta, shard: ShardMeta, after: number, limit: number, maxBytes: number): { records: string[]; last: number; more: boolean } {
    const upper = shard.endSeq !== undefined ? { lte: this.recordKey(s.tableNs, shard.endSeq) } : { lt: namespacePrefix(s.tableNs + 1) };
    const records: string[] = [];
    let last = after;
    let bytes = 0;
    let more = false;
    const keyNames = s.keySchema.map((k) => k.AttributeName);
    for (const [k, v] of this.records.scan({ gt: this.recordKey(s.tableNs, Math.max(after, shard.startSeq)), ...upper, limit: limit + 1 })) {
      if (records.length === limit || bytes >= maxBytes) {
        more = true;
        break;
      }
      const seq = sequenceOfKey(k, 4);
      const text = recordText(v, { seq, region: s.region, keyNames, eventID: recordEventId(s.tableNs, seq) });
      records.push(text);
      last = seq;
      bytes += text.length;
    }
    return { records, last, more };
  }

  // ------------------------------------------------------------------ retention

  /**
   * Removes a stream's records older than 24 hours (at most `budget` of them), and a stream disabled
   * for 24 hours with all its records. Returns how many records it removed.
   */
  trim(s: StreamMeta, nowMs: number, budget = TRIM_BATCH): number {
    const scope = Scope.ofRecord(s);
    const name = `${s.tableName}/${s.label}`;
    const expired = s.disabledMs !== undefined && s.disabledMs + RETENTION_MS <= nowMs;
    const cutoff = expired ? Number.MAX_SAFE_INTEGER : (nowMs - RETENTION_MS) * SEQUENCE_PER_MS;
    const from = Math.max(s.startSeq, s.trimmedSeq ?? 0);
    const upperSeq = Math.min(cutoff - 1, s.endSeq ?? Number.MAX_SAFE_INTEGER);
    const keys: Buffer[] = [];
    if (upperSeq > from) {
      // Keys are read first and deleted after: a scan must not run while its keyspace is written.
      for (const [k] of this.records.scan({ gt: this.recordKey(s.tableNs, from), lte: this.recordKey(s.tableNs, upperSeq), limit: budget })) keys.push(k);
    }
    // A shard closed (its child opened) 24 hours ago is gone, as its records are.
    const shards = shardsOf(s);
    const kept = shards.filter((x, i) => i === shards.length - 1 || shards[i + 1]!.createdMs + RETENTION_MS > nowMs);
    const dropShards = kept.length < shards.length;
    if (keys.length === 0 && !expired && !dropShards) return 0;
    this.store.transaction(() => {
      if (keys.length) this.records.write(keys.map((key) => ({ key, value: undefined })));
      if (expired && keys.length < budget) {
        this.streams.delete(scope, name);
        return;
      }
      if (keys.length) s.trimmedSeq = sequenceOfKey(keys[keys.length - 1]!, 4);
      if (dropShards) s.shards = kept;
      this.streams.put(scope, name, s);
    });
    return keys.length;
  }

  /** One step of the retention job over every stream of every scope: bounded by `budget` records. */
  trimAll(nowMs: number, budget = 10 * TRIM_BATCH): string {
    faultPoint('dynamodb.streams.trim');
    let removed = 0;
    let dropped = 0;
    for (const [, s] of this.streams.everyScope()) {
      if (removed >= budget) break;
      const wasExpired = s.disabledMs !== undefined && s.disabledMs + RETENTION_MS <= nowMs;
      const n = this.trim(s, nowMs, Math.min(TRIM_BATCH, budget - removed));
      removed += n;
      if (wasExpired && !this.streams.get(Scope.ofRecord(s), `${s.tableName}/${s.label}`)) dropped++;
    }
    return removed || dropped ? `removed ${removed} stream records older than 24 hours and ${dropped} streams disabled for 24 hours` : '';
  }
}
