/** KMS service definition: awsJson1_1 (target prefix TrentService), with a scheduler for rotation and deletion. */
import { loadModel } from '../../protocols/model.js';
import { JsonProtocol } from '../../protocols/json.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { periodic } from '../scheduler.js';
import { KmsProvider } from './provider.js';

/** How often due rotations and deletions are looked for. */
const SCHEDULER_INTERVAL_MS = 1000;

export function kmsService(env: ServiceEnv): ServiceDefinition {
  const model = loadModel('kms');
  const provider = new KmsProvider(env.store, env.box, env.clock, model);
  const scheduler = periodic('kms', SCHEDULER_INTERVAL_MS, () => provider.tick());
  return {
    id: 'kms',
    model,
    protocol: new JsonProtocol('awsJson1_1', { typePrefix: '', validationTypePrefix: '', messageKey: 'message', crc32: false }),
    provider,
    authStyle: 'json',
    stateKeyspaces: ['kms_'],
    // The first tick catches up on what fell due while Cellar was down.
    start: () => scheduler.start(),
    stop: () => scheduler.stop(),
  };
}
