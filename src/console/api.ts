/**
 * @module console/api
 * What the console's pages read: the resources of every account and region, a DynamoDB table's items (scan or
 * query), an RDS instance with its events and CloudWatch metrics, a secret's value when asked for. Each answer is
 * built from the services' own read operations (console/invoke.ts), in the scope the page names; nothing here
 * writes. Every list is bounded (MAX_PER_SERVICE, MAX_ITEMS_PER_PAGE, MAX_POINTS).
 */
import { ServiceError } from '../core/errors.js';
import { Scope, isAccountId, isRegionName } from '../core/scope.js';
import type * as ddb from '../models/dynamodb.js';
import type * as kms from '../models/kms.js';
import type * as rds from '../models/rds.js';
import type * as sm from '../models/secretsmanager.js';
import type { Store } from '../storage/store.js';
import type { ServiceCaller } from './invoke.js';
import { scopesWithResources } from './scopes.js';

/** At most this many resources of one service in one scope are listed. */
const MAX_PER_SERVICE = 500;
const MAX_ITEMS_PER_PAGE = 200;
/** The graphs' resolution: the period grows with the range so that a series has at most this many points. */
const MAX_POINTS = 1440;
/** The longest range a graph may show: CloudWatch keeps one-hour data for 455 days. */
const MAX_RANGE_SECONDS = 455 * 86400;
/** The AWS/RDS metrics the instance page draws, per DB instance (CloudWatch's names and units). */
export const RDS_METRICS = ['DatabaseConnections', 'CPUUtilization', 'FreeableMemory', 'FreeStorageSpace', 'ReadIOPS', 'WriteIOPS', 'ReadLatency', 'WriteLatency', 'ReplicaLag'] as const;

/** A request's mistake: answered 400 with this message. */
export class BadConsoleRequest extends Error {}

export interface Resource {
  service: 'dynamodb' | 'rds' | 'secretsmanager' | 'kms';
  type: string;
  name: string;
  arn?: string;
  status?: string;
  endpoint?: string;
  detail?: string;
}

export interface ScopeResources {
  account: string;
  region: string;
  resources: Resource[];
  /** Services whose listing failed, with why (the others are still shown). */
  errors: Array<{ service: string; message: string }>;
}

export interface MetricSeries {
  metric: string;
  timestamps: number[];
  values: number[];
}

export class ConsoleApi {
  constructor(
    private readonly store: Store,
    private readonly caller: ServiceCaller,
    private readonly endpoint: () => string | undefined,
  ) {}

  /** The scope a request names with `account` and `region`. */
  scopeOf(params: URLSearchParams): Scope {
    const account = params.get('account') ?? '';
    const region = params.get('region') ?? '';
    if (!isAccountId(account)) throw new BadConsoleRequest('account must be a 12-digit account id');
    if (!isRegionName(region)) throw new BadConsoleRequest('region must be a region name such as us-east-1');
    // The console's caller is the loopback user, who may act as any account's root (console/guard.ts).
    return Scope.ofCaller(account, region);
  }

  async resources(): Promise<{ scopes: ScopeResources[]; truncated: boolean }> {
    const { scopes, truncated } = scopesWithResources(this.store);
    const out: ScopeResources[] = [];
    for (const s of scopes) {
      const scope = Scope.ofCaller(s.account, s.region);
      const entry: ScopeResources = { account: s.account, region: s.region, resources: [], errors: [] };
      const listers: Array<[string, () => Promise<Resource[]>]> = [
        ['dynamodb', () => this.tables(scope)],
        ['rds', () => this.instances(scope)],
        ['secretsmanager', () => this.secrets(scope)],
        ['kms', () => this.keys(scope)],
      ];
      for (const [service, list] of listers) {
        try {
          entry.resources.push(...(await list()));
        } catch (e) {
          entry.errors.push({ service, message: e instanceof Error ? e.message : String(e) });
        }
      }
      out.push(entry);
    }
    return { scopes: out, truncated };
  }

  private async tables(scope: Scope): Promise<Resource[]> {
    const names: string[] = [];
    let start: string | undefined;
    do {
      const page = await this.caller.call<ddb.ListTablesOutput>('dynamodb', 'ListTables', scope, { Limit: 100, ...(start ? { ExclusiveStartTableName: start } : {}) });
      names.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start && names.length < MAX_PER_SERVICE);
    const out: Resource[] = [];
    for (const name of names.slice(0, MAX_PER_SERVICE)) {
      const t = (await this.caller.call<ddb.DescribeTableOutput>('dynamodb', 'DescribeTable', scope, { TableName: name })).Table;
      out.push({ service: 'dynamodb', type: 'table', name, arn: t?.TableArn, status: t?.TableStatus, endpoint: this.endpoint(), detail: `${t?.ItemCount ?? 0} items` });
    }
    return out;
  }

  private async instances(scope: Scope): Promise<Resource[]> {
    const out: Resource[] = [];
    let marker: string | undefined;
    do {
      const page = await this.caller.call<rds.DBInstanceMessage>('rds', 'DescribeDBInstances', scope, { MaxRecords: 100, ...(marker ? { Marker: marker } : {}) });
      for (const i of page.DBInstances ?? []) {
        out.push({
          service: 'rds',
          type: 'db-instance',
          name: i.DBInstanceIdentifier ?? '',
          arn: i.DBInstanceArn,
          status: i.DBInstanceStatus,
          endpoint: i.Endpoint?.Address ? `${i.Endpoint.Address}:${i.Endpoint.Port ?? ''}` : undefined,
          detail: `${i.Engine ?? ''} ${i.EngineVersion ?? ''}`.trim(),
        });
      }
      marker = page.Marker;
    } while (marker && out.length < MAX_PER_SERVICE);
    return out;
  }

  private async secrets(scope: Scope): Promise<Resource[]> {
    const out: Resource[] = [];
    let token: string | undefined;
    do {
      const page = await this.caller.call<sm.ListSecretsResponse>('secretsmanager', 'ListSecrets', scope, { MaxResults: 100, ...(token ? { NextToken: token } : {}) });
      for (const s of page.SecretList ?? []) {
        out.push({ service: 'secretsmanager', type: 'secret', name: s.Name ?? '', arn: s.ARN, status: s.DeletedDate ? 'scheduled for deletion' : s.RotationEnabled ? 'rotating' : 'active', endpoint: this.endpoint(), detail: s.Description });
      }
      token = page.NextToken;
    } while (token && out.length < MAX_PER_SERVICE);
    return out;
  }

  private async keys(scope: Scope): Promise<Resource[]> {
    const aliases = new Map<string, string[]>();
    let marker: string | undefined;
    do {
      const page = await this.caller.call<kms.ListAliasesResponse>('kms', 'ListAliases', scope, { Limit: 100, ...(marker ? { Marker: marker } : {}) });
      for (const a of page.Aliases ?? []) {
        if (a.TargetKeyId && a.AliasName) aliases.set(a.TargetKeyId, [...(aliases.get(a.TargetKeyId) ?? []), a.AliasName]);
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker && aliases.size < MAX_PER_SERVICE);
    const out: Resource[] = [];
    marker = undefined;
    do {
      const page: kms.ListKeysResponse = await this.caller.call<kms.ListKeysResponse>('kms', 'ListKeys', scope, { Limit: 100, ...(marker ? { Marker: marker } : {}) });
      for (const k of page.Keys ?? []) {
        if (!k.KeyId) continue;
        const meta = (await this.caller.call<kms.DescribeKeyResponse>('kms', 'DescribeKey', scope, { KeyId: k.KeyId })).KeyMetadata;
        const named = aliases.get(k.KeyId)?.join(', ');
        out.push({
          service: 'kms',
          type: 'key',
          name: k.KeyId,
          arn: k.KeyArn,
          status: meta?.KeyState,
          endpoint: this.endpoint(),
          detail: [named, meta?.KeyManager, meta?.KeySpec, meta?.KeyUsage, meta?.Description].filter((x) => x).join(' · '),
        });
      }
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker && out.length < MAX_PER_SERVICE);
    return out;
  }

  /** A page of a table's items: a scan, or a query on the partition key (and optionally the sort key). */
  async items(params: URLSearchParams): Promise<{ items: ddb.ScanOutput['Items']; next: string | undefined; scannedCount: number | undefined; keySchema: ddb.KeySchemaElement[] }> {
    const scope = this.scopeOf(params);
    const table = params.get('table') ?? '';
    const limit = Number(params.get('limit') ?? 25);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ITEMS_PER_PAGE) throw new BadConsoleRequest(`limit must be between 1 and ${MAX_ITEMS_PER_PAGE}`);
    const described = (await this.caller.call<ddb.DescribeTableOutput>('dynamodb', 'DescribeTable', scope, { TableName: table })).Table;
    const keySchema = described?.KeySchema ?? [];
    const input: Record<string, unknown> = { TableName: table, Limit: limit };
    const start = params.get('start');
    if (start) input.ExclusiveStartKey = decodeStartKey(start);
    const mode = params.get('mode') ?? 'scan';
    let operation: 'Scan' | 'Query';
    if (mode === 'scan') operation = 'Scan';
    else if (mode === 'query') {
      operation = 'Query';
      Object.assign(input, keyCondition(params, keySchema, described?.AttributeDefinitions ?? []));
    } else throw new BadConsoleRequest('mode must be scan or query');
    const page = await this.caller.call<ddb.ScanOutput>('dynamodb', operation, scope, input);
    return { items: page.Items ?? [], next: page.LastEvaluatedKey ? encodeStartKey(page.LastEvaluatedKey) : undefined, scannedCount: page.ScannedCount, keySchema };
  }

  /** An instance's description and its events of the last 14 days (all RDS keeps). */
  async instance(params: URLSearchParams): Promise<{ instance: rds.DBInstance | undefined; events: rds.Event[] }> {
    const scope = this.scopeOf(params);
    const id = params.get('id') ?? '';
    const described = await this.caller.call<rds.DBInstanceMessage>('rds', 'DescribeDBInstances', scope, { DBInstanceIdentifier: id });
    const events = await this.caller.call<rds.EventsMessage>('rds', 'DescribeEvents', scope, { SourceIdentifier: id, SourceType: 'db-instance', Duration: 20160, MaxRecords: 100 });
    return { instance: described.DBInstances?.[0], events: (events.Events ?? []).reverse() };
  }

  /**
   * An instance's AWS/RDS metrics over [start, end] (epoch seconds), from CloudWatch's GetMetricData. `available` is
   * false when this Cellar serves no CloudWatch.
   */
  async metrics(params: URLSearchParams): Promise<{ available: boolean; period: number; series: MetricSeries[] }> {
    const scope = this.scopeOf(params);
    const id = params.get('id') ?? '';
    const end = Number(params.get('end'));
    const start = Number(params.get('start'));
    if (!Number.isFinite(start) || !Number.isFinite(end) || start >= end) throw new BadConsoleRequest('start and end must be epoch seconds, start before end');
    if (end - start > MAX_RANGE_SECONDS) throw new BadConsoleRequest('the range may be at most 455 days');
    const period = Math.max(60, Math.ceil((end - start) / MAX_POINTS / 60) * 60);
    if (!this.caller.serves('monitoring')) return { available: false, period, series: [] };
    const queries = RDS_METRICS.map((metric, i) => ({
      Id: `m${i}`,
      Label: metric,
      MetricStat: { Metric: { Namespace: 'AWS/RDS', MetricName: metric, Dimensions: [{ Name: 'DBInstanceIdentifier', Value: id }] }, Period: period, Stat: 'Average' },
      ReturnData: true,
    }));
    const byId = new Map<string, MetricSeries>(RDS_METRICS.map((metric, i) => [`m${i}`, { metric, timestamps: [], values: [] }]));
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await this.caller.call<MetricDataPage>('monitoring', 'GetMetricData', scope, {
        MetricDataQueries: queries,
        StartTime: new Date(start * 1000),
        EndTime: new Date(end * 1000),
        ScanBy: 'TimestampAscending',
        ...(token ? { NextToken: token } : {}),
      });
      for (const r of page.MetricDataResults ?? []) {
        const s = r.Id ? byId.get(r.Id) : undefined;
        if (!s) continue;
        for (const t of r.Timestamps ?? []) s.timestamps.push(Math.floor(new Date(t).getTime() / 1000));
        s.values.push(...(r.Values ?? []));
      }
      token = page.NextToken;
    } while (token && ++pages < 20);
    for (const s of byId.values()) sortSeries(s);
    return { available: true, period, series: [...byId.values()] };
  }

  /** A secret's current value: asked for one secret at a time, by the page's "show" button. */
  async secretValue(params: URLSearchParams): Promise<{ name: string | undefined; versionId: string | undefined; secretString: string | undefined; secretBinary: string | undefined }> {
    const scope = this.scopeOf(params);
    const id = params.get('id') ?? '';
    const v = await this.caller.call<sm.GetSecretValueResponse>('secretsmanager', 'GetSecretValue', scope, { SecretId: id });
    const binary = v.SecretBinary as unknown;
    return { name: v.Name, versionId: v.VersionId, secretString: v.SecretString, secretBinary: binary instanceof Uint8Array ? Buffer.from(binary).toString('base64') : undefined };
  }
}

/** GetMetricData's answer, as far as the console reads it (CloudWatch's model may not be in this Cellar). */
interface MetricDataPage {
  MetricDataResults?: Array<{ Id?: string; Timestamps?: Array<Date | number | string>; Values?: number[] }>;
  NextToken?: string;
}

function sortSeries(s: MetricSeries): void {
  const order = s.timestamps.map((_, i) => i).sort((a, b) => s.timestamps[a]! - s.timestamps[b]!);
  s.timestamps = order.map((i) => s.timestamps[i]!);
  s.values = order.map((i) => s.values[i]!);
}

/** A query's key condition from the page's fields: the partition key equals `pk`; the sort key equals or begins with `sk`. */
function keyCondition(params: URLSearchParams, keySchema: ddb.KeySchemaElement[], definitions: ddb.AttributeDefinition[]): Record<string, unknown> {
  const hash = keySchema.find((k) => k.KeyType === 'HASH')?.AttributeName;
  const range = keySchema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
  const pk = params.get('pk');
  if (!hash || pk === null || pk === '') throw new BadConsoleRequest('a query needs the partition key value');
  const typed = (name: string, text: string) => {
    const type = definitions.find((d) => d.AttributeName === name)?.AttributeType ?? 'S';
    return { [type]: text };
  };
  let expression = '#pk = :pk';
  const names: Record<string, string> = { '#pk': hash };
  const values: Record<string, unknown> = { ':pk': typed(hash, pk) };
  const sk = params.get('sk');
  if (range && sk) {
    const op = params.get('skOp') ?? 'eq';
    if (op === 'eq') expression += ' AND #sk = :sk';
    else if (op === 'begins') expression += ' AND begins_with(#sk, :sk)';
    else throw new BadConsoleRequest('skOp must be eq or begins');
    names['#sk'] = range;
    values[':sk'] = typed(range, sk);
  }
  return { KeyConditionExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

/** LastEvaluatedKey, as an opaque page token for the next request (base64url of its JSON). */
function encodeStartKey(key: unknown): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeStartKey(token: string): unknown {
  try {
    if (token.length > 8192) throw new Error('too long');
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new BadConsoleRequest('start is not a page token this console gave');
  }
}

/** How a failure is answered to the page: the service's own code and message, or the console's 400. */
export function failureOf(e: unknown): { status: number; code: string; message: string } | undefined {
  if (e instanceof BadConsoleRequest) return { status: 400, code: 'BadRequest', message: e.message };
  if (e instanceof ServiceError) return { status: e.status, code: e.code, message: e.message };
  return undefined;
}
