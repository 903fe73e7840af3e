/**
 * @module observability/request-meter
 * What the gateway records about each answered request, and what it becomes each period:
 * - Prometheus: `cellar_requests_total` and `cellar_request_duration_seconds` per service and operation;
 * - AWS/DynamoDB: SuccessfulRequestLatency, ThrottledRequests, SystemErrors and ConditionalCheckFailedRequests per
 *   TableName and Operation, UserErrors per account and region (DynamoDB and DynamoDB Streams);
 * - AWS/Usage: CallCount per Service, Type (API), Resource (the operation) and Class (None), for the services whose
 *   API calls AWS counts there (Secrets Manager, KMS).
 *
 * `bind` is called once per service and operation (the gateway caches its answer); `record` then does a few map
 * lookups and additions, with no allocation once a table or account has been seen.
 */
import { Scope } from '../core/scope.js';
import { HistogramChild, RequestCounts, requestCounts, requestDuration } from './measures.js';
import { PeriodStats } from './stats.js';
import type { MetricDatum, ScopedMetrics } from './types.js';

/** The AWS/Usage `Service` dimension of each service whose calls AWS counts there. */
const USAGE_SERVICES: Readonly<Record<string, string>> = { secretsmanager: 'Secrets Manager', kms: 'KMS' };

/** DynamoDB errors AWS counts in metrics of their own, not in UserErrors. */
const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);
const CONDITIONAL = 'ConditionalCheckFailedException';
const TRANSACTION_CONFLICT = 'TransactionConflictException';

export class OperationMeter {
  constructor(
    readonly service: string,
    readonly operation: string,
    readonly duration: HistogramChild,
    readonly counts: RequestCounts,
    /** `dynamodb` / `streams`: DynamoDB's per-table metrics; a name: counted in AWS/Usage as that service. */
    readonly kind: 'dynamodb' | 'streams' | 'other',
    readonly usageService: string | undefined,
  ) {}
}

class TableOperationStats {
  readonly latencyMs = new PeriodStats();
  throttled = 0;
  systemErrors = 0;
  conditionalFailed = 0;
  transactionConflicts = 0;
}

class AccountRegionStats {
  userErrors = 0;
  /** Table → operation → stats. */
  readonly tables = new Map<string, Map<string, TableOperationStats>>();
  /** Usage service → operation → calls. */
  readonly usage = new Map<string, Map<string, number>>();
}

export class RequestMeter {
  private readonly operations = new Map<string, Map<string, OperationMeter>>();
  private readonly accounts = new Map<string, Map<string, AccountRegionStats>>();

  bind(service: string, operation: string): OperationMeter {
    let byOp = this.operations.get(service);
    if (!byOp) {
      byOp = new Map();
      this.operations.set(service, byOp);
    }
    let m = byOp.get(operation);
    if (!m) {
      const labels = { service, operation };
      const kind = service === 'dynamodb' ? 'dynamodb' : service === 'dynamodbstreams' ? 'streams' : 'other';
      m = new OperationMeter(service, operation, requestDuration.child(labels), requestCounts.child(labels), kind, USAGE_SERVICES[service]);
      byOp.set(operation, m);
    }
    return m;
  }

  /**
   * One answered request. `accountId`/`region` are undefined when the caller was not authenticated (no account to
   * publish into); `input` is the parsed request, when parsing got that far.
   */
  record(m: OperationMeter, status: number, errorCode: string | undefined, latencyMs: number, accountId: string | undefined, region: string | undefined, input: unknown): void {
    m.duration.observe(latencyMs / 1000);
    if (status < 400) m.counts.success++;
    else if (status < 500) m.counts.clientError++;
    else m.counts.serverError++;
    if (accountId === undefined || region === undefined) return;
    if (m.kind === 'other') {
      if (m.usageService !== undefined) {
        const usage = this.stats(accountId, region).usage;
        let byOp = usage.get(m.usageService);
        if (!byOp) usage.set(m.usageService, (byOp = new Map()));
        byOp.set(m.operation, (byOp.get(m.operation) ?? 0) + 1);
      }
      return;
    }
    const isUserError = status >= 400 && status < 500 && errorCode !== undefined && !THROTTLING.has(errorCode) && errorCode !== CONDITIONAL && errorCode !== TRANSACTION_CONFLICT;
    if (isUserError) this.stats(accountId, region).userErrors++;
    if (m.kind !== 'dynamodb' || input === null || typeof input !== 'object') return;
    if (isUserError) return;
    const req = input as DynamoDBTables;
    if (typeof req.TableName === 'string') this.recordTable(accountId, region, req.TableName, m.operation, status, errorCode, latencyMs);
    else if (req.RequestItems !== null && typeof req.RequestItems === 'object') {
      for (const table in req.RequestItems) this.recordTable(accountId, region, table, m.operation, status, errorCode, latencyMs);
    } else if (Array.isArray(req.TransactItems)) {
      const seen = new Set<string>();
      for (const item of req.TransactItems) {
        const action = item && typeof item === 'object' ? (item.Put ?? item.Update ?? item.Delete ?? item.ConditionCheck ?? item.Get) : undefined;
        const table = action?.TableName;
        if (typeof table !== 'string' || seen.has(table)) continue;
        seen.add(table);
        this.recordTable(accountId, region, table, m.operation, status, errorCode, latencyMs);
      }
    }
  }

  private recordTable(accountId: string, region: string, table: string, operation: string, status: number, errorCode: string | undefined, latencyMs: number): void {
    const tables = this.stats(accountId, region).tables;
    let byOp = tables.get(table);
    if (!byOp) {
      // Bounded by what a request can name: table names that do not exist still cost an entry until the period ends.
      tables.set(table, (byOp = new Map()));
    }
    let s = byOp.get(operation);
    if (!s) byOp.set(operation, (s = new TableOperationStats()));
    if (status < 400) s.latencyMs.add(latencyMs);
    else if (status >= 500) s.systemErrors++;
    else if (errorCode !== undefined && THROTTLING.has(errorCode)) s.throttled++;
    else if (errorCode === CONDITIONAL) s.conditionalFailed++;
    else if (errorCode === TRANSACTION_CONFLICT) s.transactionConflicts++;
  }

  private stats(accountId: string, region: string): AccountRegionStats {
    let byRegion = this.accounts.get(accountId);
    if (!byRegion) this.accounts.set(accountId, (byRegion = new Map()));
    let s = byRegion.get(region);
    if (!s) byRegion.set(region, (s = new AccountRegionStats()));
    return s;
  }

  /** The period's AWS/DynamoDB and AWS/Usage data points, per account and region; starts the next period empty. */
  takePeriod(timestamp: Date): ScopedMetrics[] {
    const out: ScopedMetrics[] = [];
    const accounts = [...this.accounts];
    this.accounts.clear();
    for (const [accountId, byRegion] of accounts) {
      for (const [region, s] of byRegion) {
        const scope = Scope.ofCaller(accountId, region);
        const ddb: MetricDatum[] = [];
        if (s.userErrors > 0) ddb.push({ MetricName: 'UserErrors', Timestamp: timestamp, Value: s.userErrors, Unit: 'Count' });
        for (const [table, byOp] of s.tables) {
          for (const [operation, t] of byOp) {
            const Dimensions = [
              { Name: 'TableName', Value: table },
              { Name: 'Operation', Value: operation },
            ];
            const latency = t.latencyMs.take();
            if (latency) ddb.push({ MetricName: 'SuccessfulRequestLatency', Dimensions, Timestamp: timestamp, StatisticValues: latency, Unit: 'Milliseconds' });
            if (t.throttled) ddb.push({ MetricName: 'ThrottledRequests', Dimensions, Timestamp: timestamp, Value: t.throttled, Unit: 'Count' });
            if (t.systemErrors) ddb.push({ MetricName: 'SystemErrors', Dimensions, Timestamp: timestamp, Value: t.systemErrors, Unit: 'Count' });
            // AWS publishes these two per table only.
            if (t.conditionalFailed) ddb.push({ MetricName: 'ConditionalCheckFailedRequests', Dimensions: [Dimensions[0]!], Timestamp: timestamp, Value: t.conditionalFailed, Unit: 'Count' });
            if (t.transactionConflicts) ddb.push({ MetricName: 'TransactionConflict', Dimensions: [Dimensions[0]!], Timestamp: timestamp, Value: t.transactionConflicts, Unit: 'Count' });
          }
        }
        if (ddb.length) out.push({ scope, namespace: 'AWS/DynamoDB', datums: ddb });
        const usage: MetricDatum[] = [];
        for (const [service, byOp] of s.usage) {
          for (const [operation, calls] of byOp) {
            usage.push({
              MetricName: 'CallCount',
              Dimensions: [
                { Name: 'Service', Value: service },
                { Name: 'Type', Value: 'API' },
                { Name: 'Resource', Value: operation },
                { Name: 'Class', Value: 'None' },
              ],
              Timestamp: timestamp,
              Value: calls,
              Unit: 'None',
            });
          }
        }
        if (usage.length) out.push({ scope, namespace: 'AWS/Usage', datums: usage });
      }
    }
    return out;
  }
}

interface DynamoDBTables {
  TableName?: unknown;
  RequestItems?: Record<string, unknown> | null;
  TransactItems?: Array<Partial<Record<'Put' | 'Update' | 'Delete' | 'ConditionCheck' | 'Get', { TableName?: unknown }>> | null>;
}
