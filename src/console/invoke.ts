/**
 * @module console/invoke
 * Calls one operation of a service for the console, in a chosen account and region, the way the gateway would once
 * the caller is authenticated: the input is written in the service's own wire protocol and parsed back by it (so the
 * model's validation and the service's error wording apply), the provider's method runs with the account root's
 * context, and the answer comes back as the model's shape. Only the operations in READ_OPERATIONS can be called:
 * the console reads, it does not change anything.
 */
import { backgroundContext } from '../core/context.js';
import type { Clock } from '../core/clock.js';
import { ServiceError } from '../core/errors.js';
import type { Scope } from '../core/scope.js';
import type { WireRequest } from '../protocols/types.js';
import { methodName, type ServiceDefinition } from '../services/registry.js';

/** The operations the console may call, by the service's endpoint prefix. */
const READ_OPERATIONS: Record<string, ReadonlySet<string>> = {
  dynamodb: new Set(['ListTables', 'DescribeTable', 'Scan', 'Query']),
  rds: new Set(['DescribeDBInstances', 'DescribeEvents']),
  secretsmanager: new Set(['ListSecrets', 'GetSecretValue']),
  kms: new Set(['ListKeys', 'DescribeKey', 'ListAliases']),
  monitoring: new Set(['GetMetricData']),
};

type ProviderMethod = (input: unknown, ctx: unknown) => unknown;

export class ServiceCaller {
  private readonly byPrefix = new Map<string, ServiceDefinition>();

  constructor(
    services: readonly ServiceDefinition[],
    private readonly clock: Clock,
  ) {
    for (const s of services) {
      const prefix = s.model.metadata.endpointPrefix;
      // DynamoDB Streams shares DynamoDB's signing name, not its endpoint prefix; the first service of a prefix wins.
      if (!this.byPrefix.has(prefix)) this.byPrefix.set(prefix, s);
    }
  }

  /** Whether this Cellar serves the service (CloudWatch, for the graphs, may be absent). */
  serves(prefix: string): boolean {
    return this.byPrefix.has(prefix);
  }

  /**
   * Runs the operation and returns its answer. `Out` is the model's output shape of that operation: the provider's
   * methods answer exactly it (services/registry.ts), which is the one cast here. Failures are the service's own
   * ServiceErrors.
   */
  async call<Out>(prefix: string, operation: string, scope: Scope, input: Record<string, unknown>): Promise<Out> {
    const service = this.byPrefix.get(prefix);
    const op = service?.model.operations.get(operation);
    if (!service || !op || !READ_OPERATIONS[prefix]?.has(operation)) throw new Error(`the console does not call ${prefix} ${operation}`);
    if (service.ready) await service.ready;
    const method = (service.provider as Record<string, unknown>)[methodName(operation)];
    if (typeof method !== 'function') throw new ServiceError('NotImplemented', `Cellar does not implement ${service.model.metadata.serviceId} ${operation} yet`, { status: 501 });
    const parsed = service.protocol.parseInput(wireRequest(service, operation, input), service.model, op);
    const ctx = backgroundContext(scope, service.id, operation, this.clock);
    return (await (method as ProviderMethod).call(service.provider, parsed, ctx)) as Out;
  }
}

/** The request a client of the service would send for this input (its signature aside). */
function wireRequest(service: ServiceDefinition, operation: string, input: Record<string, unknown>): WireRequest {
  const { metadata } = service.model;
  if (service.protocol.name === 'awsQuery') {
    const params = new URLSearchParams({ Action: operation, Version: metadata.apiVersion });
    flattenQuery(input, '', params);
    return { method: 'POST', path: '/', query: new URLSearchParams(), headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: Buffer.from(params.toString(), 'utf8') };
  }
  const version = service.protocol.name === 'awsJson1_0' ? '1.0' : '1.1';
  // Timestamps as epoch seconds, as the JSON protocols send them (the replacer sees the Date before its toJSON text).
  const body = JSON.stringify(input, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : value;
  });
  return {
    method: 'POST',
    path: '/',
    query: new URLSearchParams(),
    headers: { 'x-amz-target': `${metadata.targetPrefix ?? ''}.${operation}`, 'content-type': `application/x-amz-json-${version}` },
    body: Buffer.from(body, 'utf8'),
  };
}

/** The awsQuery form of a value: `A.B=…`, lists as `A.member.N` (1-based), timestamps as ISO 8601. */
export function flattenQuery(value: unknown, prefix: string, out: URLSearchParams): void {
  if (value === undefined || value === null) return;
  if (value instanceof Date) out.set(prefix, value.toISOString());
  else if (Array.isArray(value)) value.forEach((v, i) => flattenQuery(v, `${prefix}.member.${i + 1}`, out));
  else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) flattenQuery(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, String(value));
}
