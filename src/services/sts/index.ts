/** STS service definition: awsQuery, with the web-identity and SAML operations that AWS serves unsigned. */
import { loadModel } from '../../protocols/model.js';
import { QueryProtocol } from '../../protocols/query.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { StsProvider } from './provider.js';

export function stsService(env: ServiceEnv): ServiceDefinition {
  return {
    id: 'sts',
    model: loadModel('sts'),
    protocol: new QueryProtocol({ validationCode: 'ValidationError' }),
    provider: new StsProvider(env.credentials, { strict: env.config.strict, roleTrust: env.config.roleTrust ?? [] }),
    authStyle: 'query',
    // Temporary credentials issued by AssumeRole and GetSessionToken (the configured keys live in the config).
    stateKeyspaces: ['sts_'],
    unsignedOperations: new Set(['AssumeRoleWithWebIdentity', 'AssumeRoleWithSAML']),
  };
}
