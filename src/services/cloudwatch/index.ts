/**
 * @module services/cloudwatch/index
 * The CloudWatch service definition. The model is awsQueryCompatible and lists three protocols; Cellar serves all
 * three, chosen per request: Smithy RPC v2 CBOR (`/service/GraniteServiceVersion20100801/operation/<Op>`, what SDKs
 * that support it pick first), awsJson1_0 (X-Amz-Target GraniteServiceVersion20100801.<Op>, what SDK v3 speaks) and
 * awsQuery (what the AWS CLI v2.9 and older SDKs speak). Errors of the first two also carry `x-amzn-query-error`. Background work: alarm evaluation and the retention of the storage tiers.
 */
import { JsonProtocol } from '../../protocols/json.js';
import { loadModel } from '../../protocols/model.js';
import { QueryProtocol } from '../../protocols/query.js';
import { RpcV2CborProtocol } from '../../protocols/rpcv2cbor.js';
import type { JsonErrorStyle } from '../../protocols/types.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { periodic } from '../scheduler.js';
import { CloudWatchProvider } from './provider.js';

/** The model's namespace: error shape ids (`__type`) are `com.amazonaws.cloudwatch#<Shape>`. */
const NAMESPACE = 'com.amazonaws.cloudwatch';

/** The JSON protocols' error style, which RPC v2 CBOR shares. */
const ERROR_STYLE: JsonErrorStyle = {
  typePrefix: `${NAMESPACE}#`,
  validationTypePrefix: 'com.amazon.coral.validate#',
  messageKey: 'message',
  crc32: false,
  queryCompatible: { validationCode: 'ValidationError' },
};

/** How often alarms are looked at (each is evaluated once each time one of its periods completes). */
const ALARM_TICK_MS = 1000;
/** How often data past its retention is looked for, and how many keys one pass deletes at most. */
const PRUNE_INTERVAL_MS = 60_000;
const PRUNE_BUDGET = 20_000;

export function cloudwatchService(env: ServiceEnv): ServiceDefinition {
  const provider = new CloudWatchProvider(env.store, env.clock);
  const model = loadModel('cloudwatch');
  const pruner = periodic('cloudwatch retention', PRUNE_INTERVAL_MS, () => {
    const deleted = provider.prune(PRUNE_BUDGET);
    return deleted ? `forgot ${deleted} buckets and history items past their retention` : '';
  });
  const evaluator = periodic('cloudwatch alarms', ALARM_TICK_MS, () => provider.alarms.tick());
  return {
    id: 'cloudwatch',
    model,
    protocol: new JsonProtocol('awsJson1_0', ERROR_STYLE),
    queryProtocol: new QueryProtocol({ validationCode: 'ValidationError' }),
    // Served because the model lists it (its awsJson target prefix is the service shape's name).
    ...(model.metadata.protocols?.includes('smithy-rpc-v2-cbor') ? { cborProtocol: new RpcV2CborProtocol(model.metadata.targetPrefix!, NAMESPACE, ERROR_STYLE) } : {}),
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
