/** DynamoDB service definition: awsJson1_0 (target prefix DynamoDB_20120810), x-amz-crc32 on responses. */
import { loadModel } from '../../protocols/model.js';
import { JsonProtocol } from '../../protocols/json.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { DynamoDBProvider } from './provider.js';
import { ENUM_ORDER, validationOrder } from './validation-order.js';
import { precheck, withRequestRules } from './request-rules.js';

export function dynamodbService(env: ServiceEnv): ServiceDefinition {
  const settings = env.config.dynamodb ?? {}; // checked by config.ts
  const provider = new DynamoDBProvider(env.store, {
    clock: env.clock,
    ...(settings.backfillBatch !== undefined ? { backfillBatch: settings.backfillBatch } : {}),
    timeToLive: {
      ...(settings.backfillBatch !== undefined ? { walkBatch: settings.backfillBatch } : {}),
      ...(settings.ttlSweepIntervalMs !== undefined ? { sweepIntervalMs: settings.ttlSweepIntervalMs } : {}),
      ...(settings.ttlChangeIntervalMs !== undefined ? { changeIntervalMs: settings.ttlChangeIntervalMs } : {}),
    },
  });
  const model = loadModel('dynamodb');
  model.memberOrder = validationOrder();
  model.nullableMapValues = new Set(['AttributeValue']);
  model.precheck = precheck;
  model.enumOrder = ENUM_ORDER;
  model.mapValueConstraints = true;
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
    stop() {
      provider.close();
    },
  };
}
