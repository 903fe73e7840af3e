/**
 * @module services/dynamodb/tables/schema
 * Table and index metadata: the persisted shape, the in-memory view the hot path uses (key names and
 * types resolved once), CreateTable's semantic validation with AWS's messages, and the
 * TableDescription wire shape.
 */
import { validationError } from '../../../core/errors.js';
import type { KeyType } from '../keycodec.js';
import type * as M from '../../../models/dynamodb.js';
import type { Response } from '../shapes.js';

export interface KeySchemaElement {
  AttributeName: string;
  KeyType: 'HASH' | 'RANGE';
}
export interface AttributeDefinition {
  AttributeName: string;
  AttributeType: KeyType;
}
export interface Projection {
  ProjectionType?: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  NonKeyAttributes?: string[];
}
export interface Throughput {
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

export interface IndexMeta {
  ns: number;
  name: string;
  global: boolean;
  keySchema: KeySchemaElement[];
  projection: Projection;
  status: 'CREATING' | 'ACTIVE' | 'DELETING' | 'UPDATING';
  /** While CREATING: true until the backfill has copied every existing item. */
  backfilling: boolean;
  readyAtMs: number;
  throughput: Throughput | undefined;
}

/** Time to Live as stored with a table's metadata (TableMeta.timeToLive); absent until TTL is first enabled. */
export interface TimeToLiveMeta {
  enabled: boolean;
  /** The TTL attribute while enabled. */
  attributeName: string | undefined;
  /** When UpdateTimeToLive last changed the setting: the next change must wait the change interval. */
  changedAtMs: number;
  /**
   * A walk over the table's items in progress, persisted so a restart resumes it: adding the entries of
   * `attributeName` to the expiry index (after TTL is enabled on a table with items) or removing them
   * (after it is disabled). `afterHex` is the store key of the last item done.
   */
  walk?: { attributeName: string; adding: boolean; afterHex?: string };
}

export interface TableMeta {
  ns: number;
  name: string;
  accountId: string;
  region: string;
  tableId: string;
  createdMs: number;
  status: 'CREATING' | 'ACTIVE' | 'DELETING' | 'UPDATING';
  readyAtMs: number;
  keySchema: KeySchemaElement[];
  attributeDefinitions: AttributeDefinition[];
  billingMode: 'PROVISIONED' | 'PAY_PER_REQUEST';
  billingModeChangedMs: number | undefined;
  throughput: Throughput;
  lastIncreaseMs: number | undefined;
  lastDecreaseMs: number | undefined;
  decreasesToday: number;
  indexes: IndexMeta[];
  deletionProtection: boolean;
  tableClass: M.TableClassSummary['TableClass'];
  stream: M.StreamSpecification | undefined;
  /** When streams were last enabled: names the stream (LatestStreamLabel / LatestStreamArn). */
  streamLabel?: string;
  /** The highest warm throughput the table has had (WarmThroughput never decreases); absent on older records. */
  warm?: { read: number; write: number };
  /** Present when SSESpecification.Enabled was true: server-side encryption with a KMS key. */
  sse?: { kmsKeyArn: string };
  tags: Record<string, string>;
  /** Time to Live (ttl/expiry-index.ts); absent until it is first enabled. */
  timeToLive?: TimeToLiveMeta;
}

/** Resolved key schema of a table or an index. */
export interface KeyDef {
  hashName: string;
  hashType: KeyType;
  rangeName: string | undefined;
  rangeType: KeyType | undefined;
}

export function keyDefOf(schema: KeySchemaElement[], defs: AttributeDefinition[]): KeyDef {
  const typeOfAttr = (name: string): KeyType => defs.find((d) => d.AttributeName === name)!.AttributeType;
  const hash = schema.find((k) => k.KeyType === 'HASH')!;
  const range = schema.find((k) => k.KeyType === 'RANGE');
  return {
    hashName: hash.AttributeName,
    hashType: typeOfAttr(hash.AttributeName),
    rangeName: range?.AttributeName,
    rangeType: range ? typeOfAttr(range.AttributeName) : undefined,
  };
}

const INVALID = 'One or more parameter values were invalid: ';

/** Checks a KeySchema's shape (HASH first, optional distinct RANGE second). */
export function checkKeySchema(schema: KeySchemaElement[], what = 'KeySchema'): void {
  if (schema[0]?.KeyType !== 'HASH') throw validationError(`Invalid ${what}: The first KeySchemaElement is not a HASH key type`);
  if (schema.length > 1 && schema[1]!.KeyType !== 'RANGE') throw validationError(`Invalid ${what}: The second KeySchemaElement is not a RANGE key type`);
  if (schema.length > 1 && schema[0]!.AttributeName === schema[1]!.AttributeName) {
    throw validationError(`Both the Hash Key and the Range Key element in the ${what} have the same name`);
  }
}

export function checkProjection(p: Projection | undefined, indexName: string): void {
  if (!p || !p.ProjectionType) throw validationError(`${INVALID}Unknown ProjectionType: null`);
  if (p.ProjectionType === 'INCLUDE') {
    if (!p.NonKeyAttributes || p.NonKeyAttributes.length === 0) {
      throw validationError(`${INVALID}ProjectionType is INCLUDE, but NonKeyAttributes is not specified`);
    }
  } else if (p.NonKeyAttributes !== undefined) {
    throw validationError(`${INVALID}ProjectionType is ${p.ProjectionType}, but NonKeyAttributes is specified`);
  }
  void indexName;
}

/** The attribute names an index entry carries. */
export function projectedNames(index: IndexMeta, table: KeyDef): Set<string> | 'ALL' {
  if (index.projection.ProjectionType === 'ALL') return 'ALL';
  // Every key attribute of the index (a GSI key may have several HASH and RANGE attributes) and of the table.
  const names = new Set<string>([table.hashName, ...index.keySchema.map((k) => k.AttributeName)]);
  if (table.rangeName) names.add(table.rangeName);
  if (index.projection.ProjectionType === 'INCLUDE') for (const n of index.projection.NonKeyAttributes ?? []) names.add(n);
  return names;
}

function seconds(ms: number): number {
  return ms / 1000;
}

export function tableArn(meta: Pick<TableMeta, 'accountId' | 'region' | 'name'>): string {
  return `arn:aws:dynamodb:${meta.region}:${meta.accountId}:table/${meta.name}`;
}

/** What a new on-demand table (or index) is warmed to, and stays warmed to at least once it has been on demand. */
const ON_DEMAND_WARM = { read: 12000, write: 4000 };

/** The table's warm throughput now: on demand (now or ever) at least 12000/4000, provisioned at least its capacity, never lower than before. */
function currentWarm(meta: TableMeta): { read: number; write: number } {
  const everOnDemand = meta.billingMode === 'PAY_PER_REQUEST' || meta.billingModeChangedMs !== undefined;
  const floor = everOnDemand ? ON_DEMAND_WARM : { read: 1, write: 1 };
  const provisioned = meta.billingMode === 'PROVISIONED';
  return {
    read: Math.max(floor.read, meta.warm?.read ?? 0, provisioned ? (meta.throughput.ReadCapacityUnits ?? 0) : 0),
    write: Math.max(floor.write, meta.warm?.write ?? 0, provisioned ? (meta.throughput.WriteCapacityUnits ?? 0) : 0),
  };
}

/**
 * Records the table's warm throughput after a create or an update, before its metadata is saved. As AWS reports it:
 * 12000 read and 4000 write units per second for an on-demand table (kept after a switch back to provisioned), the
 * highest capacity ever provisioned otherwise; it never decreases.
 */
export function raiseWarmThroughput(meta: TableMeta): void {
  meta.warm = currentWarm(meta);
}

/** A TableDescription as the table operations answer it (timestamps in epoch seconds). */
export type TableDescription = Response<M.TableDescription>;

export interface Stats {
  count: number;
  bytes: number;
}

/** The TableDescription shape DescribeTable, CreateTable, UpdateTable and DeleteTable return. */
export function describe(meta: TableMeta, stats: Stats, indexStats: Map<number, Stats>): TableDescription {
  const arn = tableArn(meta);
  const provisioned = meta.billingMode === 'PROVISIONED';
  const throughput = (t: Throughput | undefined, withDates: boolean): Response<M.ProvisionedThroughputDescription> => {
    const out: Response<M.ProvisionedThroughputDescription> = {};
    if (withDates && meta.lastIncreaseMs) out.LastIncreaseDateTime = seconds(meta.lastIncreaseMs);
    if (withDates && meta.lastDecreaseMs) out.LastDecreaseDateTime = seconds(meta.lastDecreaseMs);
    out.NumberOfDecreasesToday = withDates ? meta.decreasesToday : 0;
    out.ReadCapacityUnits = provisioned ? (t?.ReadCapacityUnits ?? 0) : 0;
    out.WriteCapacityUnits = provisioned ? (t?.WriteCapacityUnits ?? 0) : 0;
    return out;
  };
  const desc: TableDescription = {
    AttributeDefinitions: meta.attributeDefinitions,
    TableName: meta.name,
    KeySchema: meta.keySchema,
    TableStatus: meta.status,
    CreationDateTime: seconds(meta.createdMs),
    ProvisionedThroughput: throughput(meta.throughput, true),
    TableSizeBytes: stats.bytes,
    ItemCount: stats.count,
    TableArn: arn,
    TableId: meta.tableId,
  };
  if (meta.billingMode === 'PAY_PER_REQUEST' || meta.billingModeChangedMs) {
    desc.BillingModeSummary = {
      BillingMode: meta.billingMode,
      ...(meta.billingMode === 'PAY_PER_REQUEST' ? { LastUpdateToPayPerRequestDateTime: seconds(meta.billingModeChangedMs ?? meta.createdMs) } : {}),
    };
  }
  // "If the table is in the DELETING state, no information about indexes will be returned." (API reference)
  const deleting = meta.status === 'DELETING';
  const lsis = deleting ? [] : meta.indexes.filter((i) => !i.global);
  const gsis = deleting ? [] : meta.indexes.filter((i) => i.global);
  if (lsis.length) {
    desc.LocalSecondaryIndexes = lsis.map((i) => {
      const s = indexStats.get(i.ns) ?? { count: 0, bytes: 0 };
      return { IndexName: i.name, KeySchema: i.keySchema, Projection: i.projection, IndexSizeBytes: s.bytes, ItemCount: s.count, IndexArn: `${arn}/index/${i.name}` };
    });
  }
  if (gsis.length) {
    desc.GlobalSecondaryIndexes = gsis.map((i) => {
      const s = indexStats.get(i.ns) ?? { count: 0, bytes: 0 };
      const g: Response<M.GlobalSecondaryIndexDescription> = {
        IndexName: i.name,
        KeySchema: i.keySchema,
        Projection: i.projection,
        IndexStatus: i.status,
      };
      if (i.status === 'CREATING') g.Backfilling = i.backfilling;
      g.ProvisionedThroughput = { NumberOfDecreasesToday: 0, ReadCapacityUnits: provisioned ? (i.throughput?.ReadCapacityUnits ?? 0) : 0, WriteCapacityUnits: provisioned ? (i.throughput?.WriteCapacityUnits ?? 0) : 0 };
      g.IndexSizeBytes = s.bytes;
      g.ItemCount = s.count;
      g.IndexArn = `${arn}/index/${i.name}`;
      g.WarmThroughput = {
        ReadUnitsPerSecond: provisioned ? (i.throughput?.ReadCapacityUnits ?? 1) : ON_DEMAND_WARM.read,
        WriteUnitsPerSecond: provisioned ? (i.throughput?.WriteCapacityUnits ?? 1) : ON_DEMAND_WARM.write,
        Status: i.status,
      };
      return g;
    });
  }
  if (meta.stream?.StreamEnabled) desc.StreamSpecification = meta.stream;
  // The latest stream is named even once disabled: it stays readable (DISABLED) for 24 hours.
  if (meta.streamLabel) {
    desc.LatestStreamLabel = meta.streamLabel;
    desc.LatestStreamArn = `${arn}/stream/${meta.streamLabel}`;
  }
  // Tables encrypted with an AWS owned key (the default) have no SSEDescription, as on AWS.
  if (meta.sse) desc.SSEDescription = { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: meta.sse.kmsKeyArn };
  if (meta.tableClass) desc.TableClassSummary = { TableClass: meta.tableClass };
  desc.DeletionProtectionEnabled = meta.deletionProtection;
  // Always present on AWS; Terraform waits for its Status to be ACTIVE after every create and update.
  const warm = currentWarm(meta);
  desc.WarmThroughput = { ReadUnitsPerSecond: warm.read, WriteUnitsPerSecond: warm.write, Status: meta.status === 'CREATING' || meta.status === 'DELETING' ? meta.status : 'ACTIVE' };
  return desc;
}

/**
 * CreateTable's TableDescription: DescribeTable's without the warm throughput and without the billing summary's
 * LastUpdateToPayPerRequestDateTime, both of which DescribeTable shows from then on (as AWS answers).
 */
export function describeCreated(meta: TableMeta, stats: Stats, indexStats: Map<number, Stats>): TableDescription {
  const desc = describe(meta, stats, indexStats);
  delete desc.WarmThroughput;
  if (desc.BillingModeSummary) desc.BillingModeSummary = { BillingMode: meta.billingMode };
  return desc;
}

/** Members of a TableDescription that DeleteTable's answer leaves out: the schema, the indexes, and the warm throughput. */
const NOT_IN_DELETE_ANSWER: readonly (keyof TableDescription)[] = ['AttributeDefinitions', 'KeySchema', 'CreationDateTime', 'LocalSecondaryIndexes', 'GlobalSecondaryIndexes', 'WarmThroughput'];

/**
 * DeleteTable's TableDescription: the table's name, status (DELETING), throughput (NumberOfDecreasesToday and the
 * capacity units only), size, count, ARN and id, with its billing, stream, encryption and deletion-protection
 * settings, and no schema or indexes (the API reference's example answer, and its rule that a DELETING table
 * reports no indexes).
 */
export function describeDeleted(meta: TableMeta, stats: Stats): TableDescription {
  const desc = describe(meta, stats, new Map());
  for (const k of NOT_IN_DELETE_ANSWER) delete desc[k];
  const pt = desc.ProvisionedThroughput!;
  desc.ProvisionedThroughput = { NumberOfDecreasesToday: pt.NumberOfDecreasesToday, ReadCapacityUnits: pt.ReadCapacityUnits, WriteCapacityUnits: pt.WriteCapacityUnits };
  return desc;
}
