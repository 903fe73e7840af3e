/**
 * @module services/index
 * Every service Cellar serves, in the order they are built (a service may use those before it).
 */
import type { ServiceEnv } from './env.js';
import type { ServiceDefinition } from './registry.js';
import { dynamodbService } from './dynamodb/index.js';
import { kmsService } from './kms/index.js';
import { secretsManagerService } from './secretsmanager/index.js';
import { stsService } from './sts/index.js';

export const SERVICE_FACTORIES: Array<(env: ServiceEnv) => ServiceDefinition> = [stsService, kmsService, secretsManagerService, dynamodbService];
