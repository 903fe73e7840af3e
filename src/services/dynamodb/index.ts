/** DynamoDB service definition: awsJson1_0 (target prefix DynamoDB_20120810), x-amz-crc32 on responses. */
import { crc32 } from 'node:zlib';
import { loadModel, type ServiceModel } from '../../protocols/model.js';
import { JsonProtocol } from '../../protocols/json.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { DynamoDBProvider } from './provider.js';
import { ENUM_ORDER, validationOrder } from './validation-order.js';
import { precheck, withRequestRules } from './request-rules.js';
import { bothRecorders, CapacityMeter } from '../../observability/dynamodb-capacity.js';
import { ThroughputEnforcer } from './throughput/enforcer.js';
import type { MetricSampler } from '../../observability/types.js';

/** DynamoDB's largest request body: 16 MB (a larger one is 413). */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

/**
 * A table's and a local secondary index's KeySchema hold at most two elements (one HASH, one RANGE). Today's model
 * dropped the list's maximum when global secondary indexes took multi-attribute keys, but only GSIs did: DynamoDB
 * still lists "Member must have length less than or equal to 2" for a table's keySchema (dynalite's createTable
 * suite, recorded on AWS) and the AWS API reference keeps "Maximum number of 2 items" on LocalSecondaryIndex. Those
 * two members get their own copy of the shape, with that maximum; GSI key schemas keep the model's.
 */
function limitTableAndLocalKeySchemas(model: ServiceModel): void {
  const shapes = model.shapes;
  const keySchema = shapes['KeySchema'];
  if (!keySchema || shapes[TWO_ELEMENT_KEY_SCHEMA]) return;
  shapes[TWO_ELEMENT_KEY_SCHEMA] = { ...keySchema, max: 2 };
  for (const owner of ['CreateTableInput', 'LocalSecondaryIndex']) {
    const member = shapes[owner]?.members?.['KeySchema'];
    if (member) shapes[owner]!.members!['KeySchema'] = { ...member, shape: TWO_ELEMENT_KEY_SCHEMA };
  }
}
const TWO_ELEMENT_KEY_SCHEMA = 'KeySchema$TwoElements';

export function dynamodbService(env: ServiceEnv): ServiceDefinition {
  const settings = env.config.dynamodb ?? {}; // checked by config.ts
  // DescribeEndpoints answers with the Host the client used; without one, the address Cellar listens on.
  const endpointAddress = (): string => (env.endpoint ? new URL(env.endpoint).host : 'localhost:4566');
  const provider = new DynamoDBProvider(env.store, {
    clock: env.clock,
    endpointAddress,
    ...(settings.backfillBatch !== undefined ? { backfillBatch: settings.backfillBatch } : {}),
    timeToLive: {
      ...(settings.backfillBatch !== undefined ? { walkBatch: settings.backfillBatch } : {}),
      ...(settings.ttlSweepIntervalMs !== undefined ? { sweepIntervalMs: settings.ttlSweepIntervalMs } : {}),
      ...(settings.ttlChangeIntervalMs !== undefined ? { changeIntervalMs: settings.ttlChangeIntervalMs } : {}),
    },
  });
  if (settings.enforceProvisionedThroughput === true) enforceThroughput(provider);
  const model = loadModel('dynamodb');
  model.memberOrder = validationOrder();
  model.nullableMapValues = new Set(['AttributeValue']);
  model.precheck = precheck;
  model.enumOrder = ENUM_ORDER;
  model.mapValueConstraints = true;
  model.maxValidationProblems = 10;
  limitTableAndLocalKeySchemas(model);
  return {
    id: 'dynamodb',
    model,
    protocol: new JsonProtocol('awsJson1_0', {
      typePrefix: 'com.amazonaws.dynamodb.v20120810#',
      validationTypePrefix: 'com.amazon.coral.validate#',
      messageKey: 'message',
      crc32: true,
    }),
    provider: withRequestRules(provider),
    authStyle: 'json',
    // Tables, items, indexes, streams' change records, TTL settings and transaction tokens.
    stateKeyspaces: ['ddb_'],
    unservedOperations: 'unknown-operation',
    maxBodyBytes: MAX_REQUEST_BYTES,
    healthCheck: (region) => {
      // DynamoDB's endpoint answers `GET /` with this line (the trailing space is DynamoDB's).
      const body = `healthy: dynamodb.${region}.amazonaws.com `;
      return { body, headers: { 'x-amz-crc32': String(crc32(body) >>> 0) } };
    },
    stop() {
      provider.close();
    },
    ...(env.config.metrics.enabled ? { metrics: capacityMetrics(provider) } : {}),
  };
}

/** Provisioned-throughput enforcement: the enforcer takes every request's consumed units, and forgets purged tables. */
function enforceThroughput(provider: DynamoDBProvider): void {
  const enforcer = new ThroughputEnforcer(provider.clock);
  provider.throughput = enforcer;
  provider.capacityMeter = enforcer;
  provider.addWriteObserver({ onChange() {}, onTablePurged: (meta) => enforcer.forget(meta.ns) });
}

/**
 * ConsumedRead/WriteCapacityUnits of every request, the provisioned units of the tables, and (with enforcement on)
 * the throttle events, each period (AWS/DynamoDB).
 */
function capacityMetrics(provider: DynamoDBProvider): MetricSampler {
  const meter = new CapacityMeter();
  const enforcer = provider.throughput;
  if (enforcer) enforcer.events = meter;
  provider.capacityMeter = enforcer ? bothRecorders(meter, enforcer) : meter;
  return { sample: async (_periodMs, timestamp) => meter.takePeriod(timestamp, provider.tables.values()) };
}
