/**
 * DynamoDB Streams service definition: awsJson1_0 (target prefix DynamoDBStreams_20120810), signed as
 * `dynamodb`. It serves the streams DynamoDB's change log keeps (services/dynamodb/streams/), and runs
 * the job that removes records older than 24 hours.
 */
import { loadModel } from '../../protocols/model.js';
import { JsonProtocol } from '../../protocols/json.js';
import type { DynamoDBProvider } from '../dynamodb/provider.js';
import { DynamoDBStreamsProvider } from '../dynamodb/streams/streams-api.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { periodic } from '../scheduler.js';

/** How often the retention job runs; each run removes a bounded number of records. */
const RETENTION_INTERVAL_MS = 60_000;

export function dynamodbStreamsService(env: ServiceEnv): ServiceDefinition {
  const dynamodb = env.built.get('dynamodb');
  if (!dynamodb) throw new Error('DynamoDB Streams needs DynamoDB, built before it');
  // DynamoDB's provider as served (its methods, bound): the change log and table lookups are reached through methods.
  const tables = dynamodb.provider as DynamoDBProvider;
  const log = tables.changeLog();
  const provider = new DynamoDBStreamsProvider(log, (ctx, name) => tables.lookup(ctx, name) !== undefined);
  const retention = periodic('dynamodb streams retention', RETENTION_INTERVAL_MS, () => log.trimAll(env.clock.now()));
  return {
    id: 'dynamodbstreams',
    model: loadModel('dynamodbstreams'),
    protocol: new JsonProtocol('awsJson1_0', {
      typePrefix: 'com.amazonaws.dynamodb.v20120810#',
      validationTypePrefix: 'com.amazon.coral.validate#',
      messageKey: 'message',
      crc32: false,
    }),
    provider,
    authStyle: 'json',
    // Its records are DynamoDB's change log (ddb_ keyspaces): a reset of DynamoDB clears them.
    dependsOn: ['dynamodb'],
    start() {
      retention.start();
    },
    stop() {
      retention.stop();
    },
  };
}
