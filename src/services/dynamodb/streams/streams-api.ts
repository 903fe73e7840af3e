/**
 * @module services/dynamodb/streams/streams-api
 * The DynamoDB Streams API (ListStreams, DescribeStream, GetShardIterator, GetRecords) over the change
 * log. Every stream is reached through the caller's scope: another account's stream ARN is refused as
 * DynamoDB refuses it without a resource policy, another region's is not found.
 */
import { notAuthorizedMessage } from '../../../auth/policy.js';
import type { RequestContext } from '../../../core/context.js';
import { ServiceError, validationError } from '../../../core/errors.js';
import { PARTITION } from '../../../core/scope.js';
import { RawJson } from '../../../protocols/wirejson.js';
import type {
  DescribeStreamInput, DescribeStreamOutput, DynamoDBStreamsApi, GetRecordsInput, GetRecordsOutput, GetShardIteratorInput,
  GetShardIteratorOutput, ListStreamsInput, ListStreamsOutput, Record as StreamsRecord, Shard, StreamDescription,
} from '../../../models/dynamodbstreams.js';
import { metaArn, shardsOf, type ShardMeta, type StreamChangeLog, type StreamMeta } from './change-log.js';
import {
  decodeIterator, encodeIterator, formatSequence, ITERATOR_LIFETIME_MS, iteratorStreamArn, parseSequence, parseStreamArn, RETENTION_MS, type IteratorPosition,
  type StreamRecordWire,
} from './format.js';

/** GetRecords returns at most this many bytes of records (AWS: 1 MB), and at most 1000 records. */
const MAX_RECORD_BYTES = 1024 * 1024;
const MAX_RECORDS = 1000;
const MAX_LIST = 100;

function notFound(message: string): ServiceError {
  return new ServiceError('ResourceNotFoundException', `Requested resource not found: ${message}`);
}

function limitAbove(value: number, max: number): ServiceError {
  return validationError(`1 validation error detected: Value '${value}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
}

export class DynamoDBStreamsProvider implements DynamoDBStreamsApi {
  constructor(
    private readonly log: StreamChangeLog,
    /** Whether a table exists in the caller's scope (ListStreams of an unknown table is not found). */
    private readonly tableExists: (ctx: RequestContext, name: string) => boolean,
  ) {}

  /** The stream an ARN names, in the caller's scope; a stream disabled for 24 hours is gone. */
  private resolve(ctx: RequestContext, arn: string): StreamMeta {
    const parsed = parseStreamArn(arn);
    if (!parsed || parsed.partition !== PARTITION) throw validationError('Invalid StreamArn');
    if (parsed.accountId !== ctx.scope.accountId) {
      throw new ServiceError('AccessDeniedException', notAuthorizedMessage(ctx.callerArn || `arn:aws:iam::${ctx.scope.accountId}:root`, `dynamodb:${ctx.operation}`, arn, 'no-policy'));
    }
    const s = parsed.region === ctx.scope.region ? this.log.stream(ctx.scope, parsed.tableName, parsed.label) : undefined;
    if (!s || this.gone(s, ctx.clock.now())) throw notFound(`Stream: ${arn} not found`);
    return s;
  }

  private gone(s: StreamMeta, nowMs: number): boolean {
    return s.disabledMs !== undefined && s.disabledMs + RETENTION_MS <= nowMs;
  }

  listStreams(input: ListStreamsInput, ctx: RequestContext): ListStreamsOutput {
    const limit = input.Limit ?? MAX_LIST;
    if (limit > MAX_LIST) throw limitAbove(limit, MAX_LIST);
    let start: string | undefined;
    if (input.ExclusiveStartStreamArn !== undefined) {
      const p = parseStreamArn(input.ExclusiveStartStreamArn);
      if (!p || p.partition !== PARTITION) throw validationError('Invalid StreamArn');
      start = `${p.tableName}/${p.label}`;
    }
    const now = ctx.clock.now();
    const all = this.log.list(ctx.scope, input.TableName).filter((s) => !this.gone(s, now));
    if (input.TableName !== undefined && all.length === 0 && !this.tableExists(ctx, input.TableName)) {
      throw notFound(`Table: ${input.TableName} not found`);
    }
    const after = start === undefined ? all : all.filter((s) => `${s.tableName}/${s.label}` > start!);
    const page = after.slice(0, limit);
    const out: ListStreamsOutput = { Streams: page.map((s) => ({ StreamArn: metaArn(s), TableName: s.tableName, StreamLabel: s.label })) };
    if (after.length > limit) out.LastEvaluatedStreamArn = metaArn(page[page.length - 1]!);
    return out;
  }

  describeStream(input: DescribeStreamInput, ctx: RequestContext): DescribeStreamOutput {
    const limit = input.Limit ?? MAX_LIST;
    if (limit > MAX_LIST) throw limitAbove(limit, MAX_LIST);
    const s = this.resolve(ctx, input.StreamArn);
    this.log.trim(s, ctx.clock.now());
    // Shard ids start with their creation time, so id order is the order they were opened in.
    let shards = shardsOf(s);
    if (input.ShardFilter?.Type === 'CHILD_SHARDS') shards = shards.filter((x) => x.parentId === input.ShardFilter!.ShardId);
    if (input.ExclusiveStartShardId !== undefined) shards = shards.filter((x) => x.id > input.ExclusiveStartShardId!);
    const page = shards.slice(0, limit);
    const description: StreamDescription = {
      StreamArn: metaArn(s),
      StreamLabel: s.label,
      StreamStatus: s.disabledMs !== undefined ? 'DISABLED' : 'ENABLED',
      StreamViewType: s.viewType,
      CreationRequestDateTime: new Date(s.createdMs),
      TableName: s.tableName,
      KeySchema: s.keySchema,
      Shards: page.map((x) => {
        const shard: Shard = { ShardId: x.id, SequenceNumberRange: { StartingSequenceNumber: formatSequence(x.startSeq) } };
        if (x.endSeq !== undefined) shard.SequenceNumberRange!.EndingSequenceNumber = formatSequence(x.endSeq);
        if (x.parentId !== undefined) shard.ParentShardId = x.parentId;
        return shard;
      }),
    };
    if (shards.length > limit) description.LastEvaluatedShardId = page[page.length - 1]!.id;
    return { StreamDescription: description };
  }

  private shard(s: StreamMeta, id: string, arn: string): ShardMeta {
    const shard = shardsOf(s).find((x) => x.id === id);
    if (!shard) throw notFound(`Shard: ${id} in Stream: ${arn} not found`);
    return shard;
  }

  getShardIterator(input: GetShardIteratorInput, ctx: RequestContext): GetShardIteratorOutput {
    const s = this.resolve(ctx, input.StreamArn);
    const now = ctx.clock.now();
    this.log.trim(s, now);
    const shard = this.shard(s, input.ShardId, input.StreamArn);
    const type = input.ShardIteratorType;
    const positional = type === 'AT_SEQUENCE_NUMBER' || type === 'AFTER_SEQUENCE_NUMBER';
    if (positional && input.SequenceNumber === undefined) throw validationError(`SequenceNumber is required for ShardIteratorType ${type}`);
    if (!positional && input.SequenceNumber !== undefined) throw validationError(`SequenceNumber must not be specified for ShardIteratorType ${type}`);
    let after: number;
    if (type === 'TRIM_HORIZON') after = Math.max(shard.startSeq, s.trimmedSeq ?? 0);
    else if (type === 'LATEST') after = shard.endSeq ?? this.log.currentSeq(s);
    else {
      const seq = parseSequence(input.SequenceNumber!);
      if (seq === undefined) throw validationError(`Invalid SequenceNumber: ${input.SequenceNumber}`);
      after = type === 'AT_SEQUENCE_NUMBER' ? seq - 1 : seq;
      if (after < (s.trimmedSeq ?? 0)) throw new ServiceError('TrimmedDataAccessException', 'The data you are trying to access has been trimmed');
    }
    return { ShardIterator: encodeIterator({ streamArn: metaArn(s), shardId: shard.id, after, issuedMs: now }) };
  }

  getRecords(input: GetRecordsInput, ctx: RequestContext): GetRecordsOutput {
    const limit = input.Limit ?? MAX_RECORDS;
    if (limit > MAX_RECORDS) throw limitAbove(limit, MAX_RECORDS);
    // The stream first (the caller's scope decides whether it exists for them), then the position in it.
    const arn = iteratorStreamArn(input.ShardIterator);
    if (arn === undefined || !parseStreamArn(arn)) throw validationError('Invalid ShardIterator');
    const s = this.resolve(ctx, arn);
    const position: IteratorPosition | undefined = decodeIterator(input.ShardIterator);
    if (!position) throw validationError('Invalid ShardIterator');
    const now = ctx.clock.now();
    if (now - position.issuedMs > ITERATOR_LIFETIME_MS) throw new ServiceError('ExpiredIteratorException', 'Shard iterator has expired');
    this.log.trim(s, now);
    const shard = this.shard(s, position.shardId, arn);
    if (position.after < (s.trimmedSeq ?? 0)) throw new ServiceError('TrimmedDataAccessException', 'The data you are trying to access has been trimmed');
    const { records, last, more } = this.log.read(s, shard, position.after, limit, MAX_RECORD_BYTES);
    // The JSON serializer splices records in as stored; other callers get them parsed.
    const wire = records.map((r) => (ctx.rawJson ? new RawJson(r) : (JSON.parse(r) as StreamRecordWire)));
    const out: GetRecordsOutput = { Records: wire as unknown as StreamsRecord[] };
    // A closed shard (its stream disabled, or its child opened) read to its end has no next iterator.
    if (shard.endSeq === undefined || more) out.NextShardIterator = encodeIterator({ streamArn: arn, shardId: shard.id, after: last, issuedMs: now });
    return out;
  }
}
