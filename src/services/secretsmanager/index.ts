/**
 * Secrets Manager service definition: awsJson1_1 (target prefix `secretsmanager`, errors carry
 * `Message`), built after KMS, which it encrypts every value with. Its scheduler carries out
 * deletions and rotations when they fall due, and catches up at start on what fell due while
 * Cellar was down.
 */
import { log } from '../../core/log.js';
import { JsonProtocol } from '../../protocols/json.js';
import { loadModel } from '../../protocols/model.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { periodic } from '../scheduler.js';
import { SecretsManagerProvider } from './provider.js';

/** How often due deletions and rotations are looked for. */
const SCHEDULER_INTERVAL_MS = 500;

export function secretsManagerService(env: ServiceEnv): ServiceDefinition {
  if (!env.built.has('kms')) throw new Error('Secrets Manager must be built after KMS');
  const provider = new SecretsManagerProvider(env);
  const scheduler = periodic('secretsmanager', SCHEDULER_INTERVAL_MS, () => {
    const decided = provider.tick();
    return decided === 'nothing due' ? '' : decided;
  });
  return {
    id: 'secretsmanager',
    model: loadModel('secretsmanager'),
    protocol: new JsonProtocol('awsJson1_1', { typePrefix: '', validationTypePrefix: '', messageKey: 'Message', crc32: false }),
    provider,
    authStyle: 'json',
    dependsOn: ['kms'],
    stateKeyspaces: ['sm_'],
    start() {
      const resumed = provider.resumeInterrupted();
      if (resumed) log('info', 'secretsmanager resumed interrupted rotations', { resumed });
      scheduler.start();
    },
    stop: () => scheduler.stop(),
    health: () => provider.health(),
  };
}
