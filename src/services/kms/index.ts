/** KMS service definition: awsJson1_1 (target prefix TrentService), with a scheduler for rotation and deletion. */
import { loadModel } from '../../protocols/model.js';
import { JsonProtocol } from '../../protocols/json.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { KmsProvider } from './provider.js';

/** How often due rotations and deletions are looked for. */
const SCHEDULER_INTERVAL_MS = 1000;

export function kmsService(env: ServiceEnv): ServiceDefinition {
  const provider = new KmsProvider(env.store, env.box, env.clock);
  let timer: NodeJS.Timeout | undefined;
  return {
    id: 'kms',
    model: loadModel('kms'),
    protocol: new JsonProtocol('awsJson1_1', { typePrefix: '', validationTypePrefix: '', messageKey: 'message', crc32: false }),
    provider,
    authStyle: 'json',
    start() {
      provider.logTick(); // catch up on what fell due while Cellar was down
      timer = setInterval(() => provider.logTick(), SCHEDULER_INTERVAL_MS);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
