/**
 * @module services/dynamodb/tables/lifecycle
 * Table operations and their lifecycle: CreateTable, DescribeTable, ListTables, UpdateTable (with index backfills), DeleteTable (with the purge), tags, DescribeLimits and DescribeEndpoints.
 * Functions of the provider's state, called by the provider's operation methods.
 */
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../../core/context.js';
import { ServiceError, validationError } from '../../../core/errors.js';
import { log } from '../../../core/log.js';
import { faultPoint } from '../../../core/faults.js';
import { prefixEnd } from '../../../storage/store.js';
import { StreamChangeLog } from '../streams/change-log.js';
import { streamLabel } from '../streams/format.js';
import { checkCreateStreamSpec, checkUpdateStreamSpec } from '../streams/stream-spec.js';
import type { Item } from '../attributes.js';
import { itemValueJson, namespacePrefix } from '../keycodec.js';
import { checkGlobalIndexKeySchema, indexKeyViolation } from '../indexes/keys.js';
import { type AttributeDefinition, checkKeySchema, checkProjection, describe, describeCreated, describeDeleted, type IndexMeta, type KeySchemaElement, type Projection, raiseWarmThroughput, tableArn, type TableMeta, type Throughput } from './schema.js';
import { checkIndexUpdateCapacity } from '../request-rules.js';
import type * as M from '../../../models/dynamodb.js';
import type { TableCatalog, TableState } from './state.js';
import { BACKFILL_ATTEMPTS, checkTableName, inUse, INVALID, kmsKeyArn, notFound } from '../common.js';
import type { Answer, Request, Response } from '../shapes.js';

export function createTable(provider: TableCatalog, input: Request<M.CreateTableInput>, ctx: RequestContext): Response<M.CreateTableOutput> {
  const name: string = provider.tableName(ctx, input.TableName);
  checkTableName(name);
  const keySchema: KeySchemaElement[] = input.KeySchema ?? [];
  const defs: AttributeDefinition[] = input.AttributeDefinitions ?? [];
  checkKeySchema(keySchema);
  const defined = new Set<string>();
  for (const d of defs) {
    // AWS's text for this case, reported without the usual "parameter values" prefix.
    if (defined.has(d.AttributeName)) throw validationError(`Attribute Name is duplicated: ${d.AttributeName}`);
    defined.add(d.AttributeName);
  }
  const lsis: Request<M.LocalSecondaryIndex>[] = input.LocalSecondaryIndexes ?? [];
  const gsis: Request<M.GlobalSecondaryIndex>[] = input.GlobalSecondaryIndexes ?? [];
  const billingMode: 'PROVISIONED' | 'PAY_PER_REQUEST' = input.BillingMode ?? 'PROVISIONED';
  const throughput: Throughput | undefined = input.ProvisionedThroughput;
  if (billingMode === 'PROVISIONED' && !throughput) {
    throw validationError(`${INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED`);
  }
  if (billingMode === 'PAY_PER_REQUEST' && throughput) {
    throw validationError(`${INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST`);
  }
  const used = new Set<string>(keySchema.map((k) => k.AttributeName));
  const allSchemas = [keySchema, ...lsis.map((l) => l.KeySchema), ...gsis.map((g) => g.KeySchema)];
  for (const s of allSchemas) {
    // AWS lists the whole key schema (not only the undefined names), unquoted.
    if (s.some((k) => !defined.has(k.AttributeName))) {
      throw validationError(`${INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [${s.map((k) => k.AttributeName).join(', ')}], AttributeDefinitions: [${defs.map((d) => d.AttributeName).join(', ')}]`);
    }
  }
  const names = new Set<string>();
  const indexes: IndexMeta[] = [];
  const now = ctx.clock.now();
  if (lsis.length) {
    if (keySchema.length < 2) throw validationError(`${INVALID}Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex`);
    if (lsis.length > 5) throw validationError(`${INVALID}Number of LocalSecondaryIndexes exceeds per-table limit of 5`);
  }
  if (gsis.length > 20) throw validationError(`${INVALID}GlobalSecondaryIndex count exceeds the per-table limit of 20`);
  for (const l of lsis) {
    const ks: KeySchemaElement[] = l.KeySchema;
    checkKeySchema(ks);
    if (names.has(l.IndexName)) throw validationError(`${INVALID}Duplicate index name: ${l.IndexName}`);
    names.add(l.IndexName);
    if (ks.length < 2) throw validationError(`${INVALID}Index KeySchema does not have a range key for index: ${l.IndexName}`);
    if (ks[0]!.AttributeName !== keySchema[0]!.AttributeName) {
      throw validationError(`${INVALID}Index KeySchema does not have the same leading hash key as table KeySchema for index: ${l.IndexName}. index hash key: ${ks[0]!.AttributeName}, table hash key: ${keySchema[0]!.AttributeName}`);
    }
    checkProjection(l.Projection, l.IndexName);
    ks.forEach((k) => used.add(k.AttributeName));
    indexes.push({ ns: 0, name: l.IndexName, global: false, keySchema: ks, projection: l.Projection, status: 'ACTIVE', backfilling: false, readyAtMs: now, throughput: undefined });
  }
  for (const g of gsis) {
    const ks: KeySchemaElement[] = g.KeySchema;
    checkGlobalIndexKeySchema(ks);
    if (names.has(g.IndexName)) throw validationError(`${INVALID}Duplicate index name: ${g.IndexName}`);
    names.add(g.IndexName);
    checkProjection(g.Projection, g.IndexName);
    if (billingMode === 'PROVISIONED' && !g.ProvisionedThroughput) throw validationError(`${INVALID}ProvisionedThroughput must be specified for index: ${g.IndexName}`);
    if (billingMode === 'PAY_PER_REQUEST' && g.ProvisionedThroughput) {
      throw validationError(`${INVALID}ProvisionedThroughput should not be specified for index: ${g.IndexName} when BillingMode is PAY_PER_REQUEST`);
    }
    ks.forEach((k) => used.add(k.AttributeName));
    indexes.push({ ns: 0, name: g.IndexName, global: true, keySchema: ks, projection: g.Projection, status: 'CREATING', backfilling: false, readyAtMs: now + provider.createDelayMs, throughput: g.ProvisionedThroughput });
  }
  if (used.size !== defined.size || [...defined].some((d) => !used.has(d))) {
    throw validationError(`${INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions`);
  }
  checkCreateStreamSpec(input.StreamSpecification);
  if (provider.lookup(ctx, name)) throw inUse(`Table already exists: ${name}`);
  const meta: TableMeta = {
    ns: 0,
    name,
    accountId: ctx.scope.accountId,
    region: ctx.scope.region,
    tableId: randomUUID(),
    createdMs: now,
    status: 'CREATING',
    readyAtMs: now + provider.createDelayMs,
    keySchema,
    attributeDefinitions: defs,
    billingMode,
    billingModeChangedMs: billingMode === 'PAY_PER_REQUEST' ? now : undefined,
    throughput: throughput ?? {},
    lastIncreaseMs: undefined,
    lastDecreaseMs: undefined,
    decreasesToday: 0,
    indexes,
    deletionProtection: input.DeletionProtectionEnabled === true,
    tableClass: input.TableClass,
    stream: input.StreamSpecification,
    ...(input.StreamSpecification?.StreamEnabled ? { streamLabel: streamLabel(now) } : {}),
    ...(input.SSESpecification?.Enabled ? { sse: { kmsKeyArn: kmsKeyArn(input.SSESpecification.KMSMasterKeyId, ctx) } } : {}),
    tags: {},
  };
  for (const t of input.Tags ?? []) meta.tags[t.Key] = t.Value;
  raiseWarmThroughput(meta);
  provider.store.transaction(() => {
    meta.ns = provider.nextNamespace();
    for (const i of meta.indexes) i.ns = provider.nextNamespace();
    provider.streams.tableCreated(meta); // may move the stream's label on (see StreamChangeLog.openStream)
    provider.saveMeta(meta);
  });
  const state = provider.buildState(meta);
  provider.cache(provider.metaKey(ctx.scope, name), state);
  const desc = describeCreated(meta, state.stats, state.indexStats);
  if (provider.createDelayMs === 0) {
    // Reported as CREATING once, as AWS does; ACTIVE from the next request on.
    meta.status = 'ACTIVE';
    for (const i of meta.indexes) i.status = 'ACTIVE';
    provider.saveMeta(meta);
  }
  return { TableDescription: desc };
}

export function describeTable(provider: TableCatalog, input: Request<M.DescribeTableInput>, ctx: RequestContext): Answer<Response<M.DescribeTableOutput>> {
  const t = provider.lookup(ctx, input.TableName);
  if (!t) throw provider.tableNotFound(input.TableName);
  const recount = provider.counters.pendingRecount(t);
  if (recount) return recount.then(() => describeTable(provider, input, ctx));
  // The in-memory counters include the open write group: commit it before showing them.
  provider.store.sync();
  return { Table: describe(t.meta, t.stats, t.indexStats) };
}

export function listTables(provider: TableCatalog, input: Request<M.ListTablesInput>, ctx: RequestContext): Response<M.ListTablesOutput> {
  const limit: number = input.Limit ?? 100;
  const start: string | undefined = input.ExclusiveStartTableName;
  const prefix = Buffer.from(provider.metaKey(ctx.scope, ''));
  const from = start !== undefined ? Buffer.from(provider.metaKey(ctx.scope, start)) : undefined;
  const end = prefixEnd(prefix);
  const names: string[] = [];
  let more = false;
  for (const [k] of provider.meta.scan({ ...(from ? { gt: from } : { gte: prefix }), ...(end ? { lt: end } : {}), limit: limit + 1 })) {
    if (names.length === limit) {
      more = true;
      break;
    }
    names.push(k.subarray(prefix.length).toString('utf8'));
  }
  // Names compare as UTF-8 bytes in the store, which for the allowed characters is their sorted order.
  const out: Response<M.ListTablesOutput> = { TableNames: names };
  if (more) out.LastEvaluatedTableName = names[names.length - 1];
  return out;
}

export function deleteTable(provider: TableCatalog, input: Request<M.DeleteTableInput>, ctx: RequestContext): Response<M.DeleteTableOutput> {
  const name: string = provider.tableName(ctx, input.TableName);
  const t = provider.lookup(ctx, name);
  if (!t) throw provider.tableNotFound(name);
  if (t.meta.status === 'CREATING' || t.meta.status === 'UPDATING') {
    throw inUse(`Attempt to change a resource which is still in use: Table is being ${t.meta.status === 'CREATING' ? 'created' : 'updated'}: ${name}`);
  }
  if (t.meta.deletionProtection) {
    throw validationError('Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.');
  }
  // AWS answers DELETING and removes the table in the background; DescribeTable shows DELETING until
  // then, data operations already find no table. A second DeleteTable meanwhile is not an error.
  if (t.meta.status !== 'DELETING') {
    t.meta.status = 'DELETING';
    provider.store.transaction(() => {
      provider.saveMeta(t.meta);
      // The table's stream is disabled with it, and stays readable for 24 hours.
      provider.streams.tableDeleted(t.meta, ctx.clock.now());
    });
    schedulePurge(provider, provider.metaKey(ctx.scope, name));
  }
  return { TableDescription: describeDeleted(t.meta, t.stats) };
}

/** Removes a DELETING table's items, index entries, counters and metadata (after deleteDelayMs). */
export function schedulePurge(provider: TableCatalog, tableKey: string): void {
  if (provider.closed) return;
  const run = (): void => {
    provider.timers.delete(handle);
    // Background work: a failure is logged and the table stays DELETING (retried at the next start), never fatal.
    try {
      faultPoint('dynamodb.purge');
      const raw = provider.meta.get(Buffer.from(tableKey));
      if (!raw) return;
      const meta = JSON.parse(raw.toString('utf8')) as TableMeta;
      if (meta.status !== 'DELETING') return;
      provider.store.transaction(() => {
        provider.items.deletePrefix(namespacePrefix(meta.ns));
        for (const i of meta.indexes) provider.items.deletePrefix(namespacePrefix(i.ns));
        provider.counters.forget(meta);
        for (const o of provider.writeObservers) o.onTablePurged?.(meta);
        provider.meta.delete(Buffer.from(tableKey));
      });
      provider.tables.delete(tableKey);
    } catch (e) {
      log('error', 'dynamodb table deletion failed; retried at the next start', { table: tableKey.replace(/\u0000/g, '/'), error: (e as Error).message });
    }
  };
  const handle: NodeJS.Timeout | NodeJS.Immediate = provider.deleteDelayMs > 0 ? setTimeout(run, provider.deleteDelayMs) : setImmediate(run);
  provider.timers.add(handle);
}

export function updateTable(provider: TableCatalog, input: Request<M.UpdateTableInput>, ctx: RequestContext): Response<M.UpdateTableOutput> {
  const name: string = provider.tableName(ctx, input.TableName);
  const t = provider.lookup(ctx, name);
  if (!t) throw provider.tableNotFound(name);
  checkIndexUpdateCapacity(input);
  const m = t.meta;
  const updates: Request<M.GlobalSecondaryIndexUpdate>[] = input.GlobalSecondaryIndexUpdates ?? [];
  const hasAny = input.ProvisionedThroughput || input.BillingMode || updates.length || input.DeletionProtectionEnabled !== undefined ||
    input.StreamSpecification || input.TableClass || input.SSESpecification || input.ReplicaUpdates;
  if (!hasAny) {
    throw validationError('At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required');
  }
  if (m.status !== 'ACTIVE') throw inUse(`Attempt to change a resource which is still in use: Table is being ${m.status === 'CREATING' ? 'created' : m.status === 'DELETING' ? 'deleted' : 'updated'}: ${name}`);
  const creates = updates.filter((u) => u.Create);
  const deletes = updates.filter((u) => u.Delete);
  if (creates.length + deletes.length > 1) throw validationError(`${INVALID}Only 1 online index can be created or deleted simultaneously per table`);
  checkUpdateStreamSpec(input.StreamSpecification, name, m.stream?.StreamEnabled === true, creates.length + deletes.length > 0);
  const now = ctx.clock.now();
  const billing: 'PROVISIONED' | 'PAY_PER_REQUEST' = input.BillingMode ?? m.billingMode;
  if (input.ProvisionedThroughput && billing === 'PAY_PER_REQUEST') {
    throw validationError(`${INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST`);
  }
  if (billing === 'PROVISIONED' && m.billingMode === 'PAY_PER_REQUEST' && !input.ProvisionedThroughput) {
    throw validationError(`${INVALID}ProvisionedThroughput must be specified when BillingMode is PROVISIONED`);
  }
  const pt: Throughput | undefined = input.ProvisionedThroughput;
  if (pt && m.billingMode === 'PROVISIONED' && billing === 'PROVISIONED' && pt.ReadCapacityUnits === m.throughput.ReadCapacityUnits && pt.WriteCapacityUnits === m.throughput.WriteCapacityUnits && !updates.length) {
    throw validationError(`The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: ${m.throughput.ReadCapacityUnits}. Requested ReadCapacityUnits: ${pt.ReadCapacityUnits}. Current WriteCapacityUnits provisioned for the table: ${m.throughput.WriteCapacityUnits}. Requested WriteCapacityUnits: ${pt.WriteCapacityUnits}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.`);
  }
  // Validate everything before changing anything.
  const newDefs = [...m.attributeDefinitions];
  for (const d of input.AttributeDefinitions ?? []) {
    const existing = newDefs.find((x) => x.AttributeName === d.AttributeName);
    if (existing && existing.AttributeType !== d.AttributeType) {
      throw validationError(`${INVALID}Cannot change the type of existing attribute definition: ${d.AttributeName}`);
    }
    if (!existing) newDefs.push(d);
  }
  for (const u of creates) {
    const c = u.Create!;
    const ks: KeySchemaElement[] = c.KeySchema;
    checkGlobalIndexKeySchema(ks);
    if (m.indexes.some((i) => i.name === c.IndexName)) throw validationError(`${INVALID}Attempting to create an index which already exists`);
    const missing = ks.map((k) => k.AttributeName).filter((n) => !newDefs.some((d) => d.AttributeName === n));
    if (missing.length) {
      throw validationError(`${INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [${missing.join(', ')}], AttributeDefinitions: [${newDefs.map((d) => d.AttributeName).join(', ')}]`);
    }
    checkProjection(c.Projection, c.IndexName);
    if (billing === 'PROVISIONED' && !c.ProvisionedThroughput) throw validationError(`${INVALID}ProvisionedThroughput must be specified for index: ${c.IndexName}`);
    if (m.indexes.filter((i) => i.global).length >= 20) throw new ServiceError('LimitExceededException', 'Subscriber limit exceeded: The number of global secondary indexes exceeds the limit of 20');
  }
  for (const u of deletes) {
    const idx = m.indexes.find((i) => i.global && i.name === u.Delete!.IndexName);
    if (!idx) throw new ServiceError('ResourceNotFoundException', `Requested resource not found: Requested index ${u.Delete!.IndexName} not found`);
  }
  for (const u of updates.filter((x) => x.Update)) {
    const idx = m.indexes.find((i) => i.global && i.name === u.Update!.IndexName);
    if (!idx) throw new ServiceError('ResourceNotFoundException', `Requested resource not found: Requested index ${u.Update!.IndexName} not found`);
  }
  let startBackfill: IndexMeta | undefined;
  let dropped: IndexMeta | undefined;
  provider.store.transaction(() => {
    if (pt) {
      const oldR = m.throughput.ReadCapacityUnits ?? 0;
      const oldW = m.throughput.WriteCapacityUnits ?? 0;
      if ((pt.ReadCapacityUnits ?? 0) > oldR || (pt.WriteCapacityUnits ?? 0) > oldW) m.lastIncreaseMs = now;
      if ((pt.ReadCapacityUnits ?? 0) < oldR || (pt.WriteCapacityUnits ?? 0) < oldW) {
        m.lastDecreaseMs = now;
        m.decreasesToday++;
      }
      m.throughput = { ReadCapacityUnits: pt.ReadCapacityUnits, WriteCapacityUnits: pt.WriteCapacityUnits };
    }
    if (billing !== m.billingMode) {
      m.billingMode = billing;
      m.billingModeChangedMs = now;
    }
    if (input.DeletionProtectionEnabled !== undefined) m.deletionProtection = input.DeletionProtectionEnabled;
    if (input.TableClass) m.tableClass = input.TableClass;
    if (input.StreamSpecification) provider.streams.streamUpdated(m, input.StreamSpecification, now);
    if (input.SSESpecification) {
      if (input.SSESpecification.Enabled) m.sse = { kmsKeyArn: kmsKeyArn(input.SSESpecification.KMSMasterKeyId, ctx) };
      else delete m.sse;
    }
    m.attributeDefinitions = newDefs;
    for (const u of updates.filter((x) => x.Update)) {
      const idx = m.indexes.find((i) => i.global && i.name === u.Update!.IndexName)!;
      idx.throughput = u.Update!.ProvisionedThroughput ?? idx.throughput;
    }
    for (const u of creates) {
      const c = u.Create!;
      const idx: IndexMeta = {
        ns: provider.nextNamespace(), name: c.IndexName, global: true, keySchema: c.KeySchema, projection: c.Projection,
        status: 'CREATING', backfilling: true, readyAtMs: now + provider.createDelayMs, throughput: c.ProvisionedThroughput,
      };
      m.indexes.push(idx);
      startBackfill = idx;
    }
    for (const u of deletes) {
      dropped = m.indexes.find((i) => i.global && i.name === u.Delete!.IndexName)!;
      m.indexes = m.indexes.filter((i) => i !== dropped);
      provider.items.deletePrefix(namespacePrefix(dropped.ns));
    }
    m.status = 'UPDATING';
    m.readyAtMs = now + provider.updateDelayMs;
    raiseWarmThroughput(m);
    provider.saveMeta(m);
  });
  const key = provider.metaKey(ctx.scope, name);
  const state = provider.buildState(m, t);
  if (dropped) state.indexStats.delete(dropped.ns);
  provider.cache(key, state);
  const out = describe(m, state.stats, state.indexStats);
  if (dropped) {
    const arn = tableArn(m);
    const gs = out.GlobalSecondaryIndexes ?? [];
    gs.push({ IndexName: dropped.name, KeySchema: dropped.keySchema, Projection: dropped.projection, IndexStatus: 'DELETING', ProvisionedThroughput: { NumberOfDecreasesToday: 0, ReadCapacityUnits: 0, WriteCapacityUnits: 0 }, IndexSizeBytes: 0, ItemCount: 0, IndexArn: `${arn}/index/${dropped.name}` });
    out.GlobalSecondaryIndexes = gs;
    provider.counters.persist(state);
  }
  if (startBackfill) scheduleBackfill(provider, key, startBackfill.ns, undefined);
  return { TableDescription: out };
}

/**
 * Resumes backfills and table deletions interrupted by a restart. Runs in the constructor, so it must never throw:
 * a metadata record that cannot be read is logged and left alone, and the server serves the other tables.
 */
export function resumeBackfills(provider: TableCatalog): void {
  const prefix = Buffer.from('t\u0000');
  const end = prefixEnd(prefix);
  const pending: [string, number][] = [];
  const deleting: string[] = [];
  try {
    for (const [k, v] of provider.meta.scan({ gte: prefix, ...(end ? { lt: end } : {}) })) {
      let meta: TableMeta;
      try {
        meta = JSON.parse(v.toString('utf8')) as TableMeta;
      } catch (e) {
        log('error', 'dynamodb table metadata unreadable; table left alone', { table: k.toString('utf8').replace(/\u0000/g, '/'), error: (e as Error).message });
        continue;
      }
      if (meta.status === 'DELETING') deleting.push(k.toString('utf8'));
      else for (const i of meta.indexes ?? []) if (i.backfilling) pending.push([k.toString('utf8'), i.ns]);
    }
  } catch (e) {
    log('error', 'dynamodb could not look for interrupted background work', { error: (e as Error).message });
  }
  // A DeleteTable acknowledged before a crash still completes.
  for (const key of deleting) schedulePurge(provider, key);
  for (const [key, ns] of pending) scheduleBackfill(provider, key, ns, undefined);
}

/**
 * Copies existing items into a new GSI in bounded batches, one per event-loop turn, so requests keep
 * being served. Writes that happen meanwhile maintain the index themselves (it is in the table's index
 * list from the start), and each batch reads current items, so the result is exact. Items whose index key
 * breaks the key limits are left out of the index, as AWS's backfill leaves them (indexEntry).
 *
 * The work is background work: a step that throws is retried (BACKFILL_ATTEMPTS, with a growing pause) and then
 * fails the index's creation, which removes the index (DynamoDB has no FAILED index status): never the process,
 * and, since the index is gone from the stored metadata, never the next start either.
 */
export function scheduleBackfill(provider: TableCatalog, tableKey: string, indexNs: number, after: Buffer | undefined, attempt = 1): void {
  if (provider.closed) return;
  const run = (): void => {
    provider.timers.delete(handle);
    let table: TableState | undefined;
    try {
      faultPoint('dynamodb.backfill');
      table = provider.tables.get(tableKey) ?? provider.load(tableKey);
      if (!table) return;
      const t = table;
      const idx = t.indexes.find((i) => i.meta.ns === indexNs);
      if (!idx || !idx.meta.backfilling) return;
      const prefix = namespacePrefix(t.meta.ns);
      const end = prefixEnd(prefix)!;
      const batch = [...provider.items.scan({ ...(after ? { gt: after } : { gte: prefix }), lt: end, limit: provider.backfillBatch })];
      let violations = 0;
      provider.store.transaction(() => {
        if (!t.indexStats.has(indexNs)) t.indexStats.set(indexNs, { count: 0, bytes: 0 });
        for (const [k, v] of batch) {
          const item = JSON.parse(itemValueJson(v)) as Item;
          const entry = provider.indexEntry(t, idx, item, k.subarray(4));
          if (!entry) {
            if (indexKeyViolation(item, idx.ikey)) violations++;
            continue;
          }
          if (provider.items.get(entry.key) === undefined) provider.addStats(t, indexNs, entry.key, 1, entry.size);
          provider.items.put(entry.key, entry.value);
        }
        if (batch.length < provider.backfillBatch) {
          idx.meta.backfilling = false;
          provider.saveMeta(t.meta);
        }
        provider.counters.persist(t);
      });
      if (violations > 0) {
        // AWS reports these as index key violations (its violation detector); here the log says how many were left out.
        log('warn', 'dynamodb index backfill left out items whose index key values the index cannot hold', { table: t.meta.name, index: idx.meta.name, items: violations });
      }
      if (idx.meta.backfilling) scheduleBackfill(provider, tableKey, indexNs, batch[batch.length - 1]![0]);
    } catch (e) {
      // The batch's counter changes may be in memory without their commit: count again from what is stored.
      if (table) {
        try {
          provider.counters.recount(table);
        } catch {
          // the stored record stays dirty; the next start recounts
        }
      }
      if (attempt < BACKFILL_ATTEMPTS) {
        log('warn', 'dynamodb index backfill step failed; retrying', { table: tableKey.replace(/\u0000/g, '/'), attempt, error: (e as Error).message });
        scheduleBackfill(provider, tableKey, indexNs, after, attempt + 1);
      } else failBackfill(provider, tableKey, indexNs, e);
    }
  };
  const handle: NodeJS.Timeout | NodeJS.Immediate = attempt === 1 ? setImmediate(run) : setTimeout(run, 100 * 2 ** attempt);
  provider.timers.add(handle);
}

/** A GSI whose backfill cannot finish: its creation fails, so the index and its entries go. */
export function failBackfill(provider: TableCatalog, tableKey: string, indexNs: number, cause: unknown): void {
  try {
    const raw = provider.meta.get(Buffer.from(tableKey));
    if (!raw) return;
    const meta = JSON.parse(raw.toString('utf8')) as TableMeta;
    const failed = meta.indexes.find((i) => i.ns === indexNs);
    if (!failed) return;
    meta.indexes = meta.indexes.filter((i) => i.ns !== indexNs);
    provider.store.transaction(() => {
      provider.items.deletePrefix(namespacePrefix(indexNs));
      provider.saveMeta(meta);
    });
    const prev = provider.tables.get(tableKey);
    const state = provider.buildState(meta, prev);
    state.indexStats.delete(indexNs);
    provider.cache(tableKey, state);
    log('error', 'dynamodb global secondary index creation failed; index removed', { table: meta.name, account: meta.accountId, region: meta.region, index: failed.name, error: cause instanceof Error ? cause.message : String(cause) });
  } catch (e) {
    log('error', 'dynamodb could not record a failed index creation', { table: tableKey.replace(/\u0000/g, '/'), error: (e as Error).message });
  }
}

export function describeLimits(provider: TableCatalog, _input: Request<M.DescribeLimitsInput>, _ctx: RequestContext): Response<M.DescribeLimitsOutput> {
  return { AccountMaxReadCapacityUnits: 80000, AccountMaxWriteCapacityUnits: 80000, TableMaxReadCapacityUnits: 40000, TableMaxWriteCapacityUnits: 40000 };
}

/** The address the client reached Cellar at (its Host header), so a client that follows it comes back here. */
export function describeEndpoints(provider: TableCatalog, _input: Request<M.DescribeEndpointsRequest>, ctx: RequestContext): Response<M.DescribeEndpointsResponse> {
  return { Endpoints: [{ Address: ctx.host ?? provider.endpointAddress(), CachePeriodInMinutes: 1440 }] };
}

/** The table a tag operation's ResourceArn names; notFound is the operation's own text when there is none. */
export function tableByArn(provider: TableCatalog, arn: string, ctx: RequestContext, notFound = `Requested resource not found: ResourcArn: ${arn} not found`): TableState {
  if (!arn.startsWith('arn:')) throw validationError(`Invalid TableArn: Invalid ResourceArn provided as input ${arn}`);
  const name = provider.tableName(ctx, arn);
  const t = provider.lookup(ctx, name);
  if (!t) throw new ServiceError('ResourceNotFoundException', notFound);
  return t;
}

export function tagResource(provider: TableCatalog, input: Request<M.TagResourceInput>, ctx: RequestContext): Record<string, never> {
  const t = tableByArn(provider, input.ResourceArn, ctx);
  const tags = input.Tags ?? [];
  if (Object.keys(t.meta.tags).length + tags.filter((x) => !(x.Key in t.meta.tags)).length > 50) {
    throw new ServiceError('LimitExceededException', 'Subscriber limit exceeded: The number of tags on the resource exceeds the limit of 50');
  }
  for (const tag of tags) t.meta.tags[tag.Key] = tag.Value;
  provider.saveMeta(t.meta);
  return {};
}

export function untagResource(provider: TableCatalog, input: Request<M.UntagResourceInput>, ctx: RequestContext): Record<string, never> {
  // UntagResource alone says only "Requested resource not found" (dynalite's suite, recorded on AWS).
  const t = tableByArn(provider, input.ResourceArn, ctx, 'Requested resource not found');
  for (const k of input.TagKeys ?? []) delete t.meta.tags[k];
  provider.saveMeta(t.meta);
  return {};
}

export function listTagsOfResource(provider: TableCatalog, input: Request<M.ListTagsOfResourceInput>, ctx: RequestContext): Response<M.ListTagsOfResourceOutput> {
  const t = tableByArn(provider, input.ResourceArn, ctx);
  const keys = Object.keys(t.meta.tags).sort();
  const start = input.NextToken ? Number.parseInt(String(input.NextToken), 10) || 0 : 0;
  const page = keys.slice(start, start + 10);
  const out: Response<M.ListTagsOfResourceOutput> = { Tags: page.map((k) => ({ Key: k, Value: t.meta.tags[k] })) };
  if (start + 10 < keys.length) out.NextToken = String(start + 10);
  return out;
}
