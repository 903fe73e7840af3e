/**
 * @module observability/dynamodb-capacity
 * DynamoDB's capacity metrics: the units each request consumed (ConsumedRead/WriteCapacityUnits per TableName, and
 * per TableName and GlobalSecondaryIndexName for an index's own units), recorded by the provider whether or not the
 * caller asked for ReturnConsumedCapacity, and the provisioned units of provisioned tables and their global
 * secondary indexes, sampled once per period. With provisioned-throughput enforcement on, also the throttle events
 * (Read/WriteThrottleEvents per TableName, and per TableName and GlobalSecondaryIndexName for an index's own).
 *
 * A statistic set per period: SampleCount is the number of requests, Sum the units, as CloudWatch reports them
 * (Sum over a minute is the minute's consumption).
 */
import { Scope } from '../core/scope.js';
import { PeriodStats } from './stats.js';
import type { MetricDatum, ScopedMetrics } from './types.js';

/** The parts of a DynamoDB table's state the meter reads (services/dynamodb/provider.ts TableState). */
export interface MeteredTable {
  meta: {
    name: string;
    accountId: string;
    region: string;
    status: string;
    billingMode: string;
    throughput: { ReadCapacityUnits?: number; WriteCapacityUnits?: number };
    indexes: ReadonlyArray<{ name: string; global: boolean; status: string; throughput: { ReadCapacityUnits?: number; WriteCapacityUnits?: number } | undefined }>;
  };
}

class TableCapacity {
  readonly read = new PeriodStats();
  readonly write = new PeriodStats();
  /** Global secondary index → its own read and write units. */
  readonly indexes = new Map<string, { read: PeriodStats; write: PeriodStats }>();
  /** Requests (or batch items) refused for want of the table's own capacity. */
  readThrottles = 0;
  writeThrottles = 0;
  /** Global secondary index → requests refused for want of its capacity. */
  readonly indexThrottles = new Map<string, { read: number; write: number }>();
}

/** What the DynamoDB provider calls (DynamoDBProvider.capacityMeter). */
export interface CapacityRecorder {
  read(t: MeteredTable, units: number, indexName: string | undefined): void;
  write(t: MeteredTable, tableUnits: number, indexUnits: ReadonlyMap<string, number> | undefined): void;
}

export class CapacityMeter implements CapacityRecorder {
  /** account → region → table. */
  private readonly accounts = new Map<string, Map<string, Map<string, TableCapacity>>>();

  read(t: MeteredTable, units: number, indexName: string | undefined): void {
    const c = this.table(t);
    if (indexName !== undefined && isGlobal(t, indexName)) this.index(c, indexName).read.add(units);
    else c.read.add(units);
  }

  write(t: MeteredTable, tableUnits: number, indexUnits: ReadonlyMap<string, number> | undefined): void {
    const c = this.table(t);
    let local = 0;
    if (indexUnits) {
      for (const [name, units] of indexUnits) {
        // A global index's writes are its own capacity; a local index's count against the table (as AWS reports them).
        if (isGlobal(t, name)) this.index(c, name).write.add(units);
        else local += units;
      }
    }
    c.write.add(tableUnits + local);
  }

  /** One request (or batch item) refused by provisioned-throughput enforcement (services/dynamodb/throughput). */
  throttled(t: MeteredTable, access: 'read' | 'write', indexName: string | undefined): void {
    const c = this.table(t);
    if (indexName === undefined) {
      if (access === 'read') c.readThrottles++;
      else c.writeThrottles++;
      return;
    }
    let i = c.indexThrottles.get(indexName);
    if (!i) c.indexThrottles.set(indexName, (i = { read: 0, write: 0 }));
    i[access]++;
  }

  private table(t: MeteredTable): TableCapacity {
    const { accountId, region, name } = t.meta;
    let byRegion = this.accounts.get(accountId);
    if (!byRegion) this.accounts.set(accountId, (byRegion = new Map()));
    let tables = byRegion.get(region);
    if (!tables) byRegion.set(region, (tables = new Map()));
    let c = tables.get(name);
    if (!c) tables.set(name, (c = new TableCapacity()));
    return c;
  }

  private index(c: TableCapacity, name: string): { read: PeriodStats; write: PeriodStats } {
    let i = c.indexes.get(name);
    if (!i) c.indexes.set(name, (i = { read: new PeriodStats(), write: new PeriodStats() }));
    return i;
  }

  /**
   * The period's consumed units, and the provisioned units of `tables` (the tables the provider holds), per account
   * and region; starts the next period empty.
   */
  takePeriod(timestamp: Date, tables: Iterable<MeteredTable>): ScopedMetrics[] {
    const byScope = new Map<string, { scope: Scope; datums: MetricDatum[] }>();
    const datumsOf = (accountId: string, region: string): MetricDatum[] => {
      const key = `${accountId}/${region}`;
      let e = byScope.get(key);
      if (!e) byScope.set(key, (e = { scope: Scope.ofCaller(accountId, region), datums: [] }));
      return e.datums;
    };
    const consumed = [...this.accounts];
    this.accounts.clear();
    for (const [accountId, byRegion] of consumed) {
      for (const [region, byTable] of byRegion) {
        const datums = datumsOf(accountId, region);
        for (const [name, c] of byTable) {
          const table = [{ Name: 'TableName', Value: name }];
          pushSet(datums, 'ConsumedReadCapacityUnits', table, c.read, timestamp);
          pushSet(datums, 'ConsumedWriteCapacityUnits', table, c.write, timestamp);
          for (const [index, u] of c.indexes) {
            const dims = [...table, { Name: 'GlobalSecondaryIndexName', Value: index }];
            pushSet(datums, 'ConsumedReadCapacityUnits', dims, u.read, timestamp);
            pushSet(datums, 'ConsumedWriteCapacityUnits', dims, u.write, timestamp);
          }
          pushCount(datums, 'ReadThrottleEvents', table, c.readThrottles, timestamp);
          pushCount(datums, 'WriteThrottleEvents', table, c.writeThrottles, timestamp);
          for (const [index, n] of c.indexThrottles) {
            const dims = [...table, { Name: 'GlobalSecondaryIndexName', Value: index }];
            pushCount(datums, 'ReadThrottleEvents', dims, n.read, timestamp);
            pushCount(datums, 'WriteThrottleEvents', dims, n.write, timestamp);
          }
        }
      }
    }
    for (const t of tables) {
      const m = t.meta;
      if (m.billingMode !== 'PROVISIONED' || m.status === 'CREATING' || m.status === 'DELETING') continue;
      const datums = datumsOf(m.accountId, m.region);
      const table = [{ Name: 'TableName', Value: m.name }];
      pushProvisioned(datums, table, m.throughput, timestamp);
      for (const i of m.indexes) {
        if (i.global && i.throughput && i.status === 'ACTIVE') pushProvisioned(datums, [...table, { Name: 'GlobalSecondaryIndexName', Value: i.name }], i.throughput, timestamp);
      }
    }
    return [...byScope.values()].filter((e) => e.datums.length > 0).map((e) => ({ scope: e.scope, namespace: 'AWS/DynamoDB', datums: e.datums }));
  }
}

function isGlobal(t: MeteredTable, indexName: string): boolean {
  for (const i of t.meta.indexes) if (i.name === indexName) return i.global;
  return false;
}

function pushSet(datums: MetricDatum[], metric: string, dims: MetricDatum['Dimensions'], stats: PeriodStats, timestamp: Date): void {
  const set = stats.take();
  if (set) datums.push({ MetricName: metric, Dimensions: dims!, Timestamp: timestamp, StatisticValues: set, Unit: 'Count' });
}

function pushCount(datums: MetricDatum[], metric: string, dims: MetricDatum['Dimensions'], count: number, timestamp: Date): void {
  if (count > 0) datums.push({ MetricName: metric, Dimensions: dims!, Timestamp: timestamp, Value: count, Unit: 'Count' });
}

/** Both recorders, in order (consumed capacity into the metrics and into the throughput buckets). */
export function bothRecorders(first: CapacityRecorder, second: CapacityRecorder): CapacityRecorder {
  return {
    read(t, units, indexName) {
      first.read(t, units, indexName);
      second.read(t, units, indexName);
    },
    write(t, tableUnits, indexUnits) {
      first.write(t, tableUnits, indexUnits);
      second.write(t, tableUnits, indexUnits);
    },
  };
}

function pushProvisioned(datums: MetricDatum[], dims: MetricDatum['Dimensions'], throughput: { ReadCapacityUnits?: number; WriteCapacityUnits?: number }, timestamp: Date): void {
  if (throughput.ReadCapacityUnits !== undefined) datums.push({ MetricName: 'ProvisionedReadCapacityUnits', Dimensions: dims!, Timestamp: timestamp, Value: throughput.ReadCapacityUnits, Unit: 'Count' });
  if (throughput.WriteCapacityUnits !== undefined) datums.push({ MetricName: 'ProvisionedWriteCapacityUnits', Dimensions: dims!, Timestamp: timestamp, Value: throughput.WriteCapacityUnits, Unit: 'Count' });
}
