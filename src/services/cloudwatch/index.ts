/**
 * @module services/cloudwatch/index
 * The CloudWatch service definition. The model is awsQueryCompatible and lists three protocols; Cellar serves two:
 * awsJson1_0 (target prefix GraniteServiceVersion20100801, what SDK v3 speaks; errors also carry
 * `x-amzn-query-error`) and awsQuery (what the AWS CLI v2.9 and older SDKs speak), chosen per request (a request
 * with X-Amz-Target is JSON). Background work: alarm evaluation and the retention of the storage tiers.
 */
import { JsonProtocol } from '../../protocols/json.js';
import { loadModel } from '../../protocols/model.js';
import { QueryProtocol } from '../../protocols/query.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { periodic } from '../scheduler.js';
import { CloudWatchProvider } from './provider.js';

/** How often alarms are looked at (each is evaluated once each time one of its periods completes). */
const ALARM_TICK_MS = 1000;
/** How often data past its retention is looked for, and how many keys one pass deletes at most. */
const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_BUDGET = 20_000;

export function cloudwatchService(env: ServiceEnv): ServiceDefinition {
  const provider = new CloudWatchProvider(env.store, env.clock);
  const pruner = periodic('cloudwatch retention', PRUNE_INTERVAL_MS, () => {
    const deleted = provider.prune(PRUNE_BUDGET);
    return deleted ? `forgot ${deleted} buckets and history items past their retention` : '';
  });
  const evaluator = periodic('cloudwatch alarms', ALARM_TICK_MS, () => provider.alarms.tick());
  return {
    id: 'cloudwatch',
    model: loadModel('cloudwatch'),
    protocol: new JsonProtocol('awsJson1_0', {
      typePrefix: 'com.amazonaws.cloudwatch#',
      validationTypePrefix: 'com.amazon.coral.validate#',
      messageKey: 'message',
      crc32: false,
      queryCompatible: { validationCode: 'ValidationError' },
    }),
    queryProtocol: new QueryProtocol({ validationCode: 'ValidationError' }),
    provider,
    authStyle: 'json',
    stateKeyspaces: ['cw_'],
    start: () => {
      pruner.start();
      evaluator.start();
    },
    stop: () => {
      evaluator.stop();
      pruner.stop();
    },
  };
}
