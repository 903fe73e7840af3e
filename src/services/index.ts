/**
 * @module services/index
 * Every service Cellar serves, in the order they are built (a service may use those before it:
 * Secrets Manager uses KMS; DynamoDB Streams reads DynamoDB's change log; RDS uses KMS and Secrets Manager).
 * CloudWatch uses none and comes early, so every service built after it can publish its metrics through it
 * (`provider.internal`, services/cloudwatch/internal.ts).
 */
import type { ServiceEnv } from './env.js';
import type { ServiceDefinition } from './registry.js';
import { cloudwatchService } from './cloudwatch/index.js';
import { dynamodbService } from './dynamodb/index.js';
import { dynamodbStreamsService } from './dynamodbstreams/index.js';
import { kmsService } from './kms/index.js';
import { rdsService } from './rds/index.js';
import { secretsManagerService } from './secretsmanager/index.js';
import { stsService } from './sts/index.js';

/** A factory may be async (RDS finds its engine user and installed engines before it serves). */
export const SERVICE_FACTORIES: Array<(env: ServiceEnv) => ServiceDefinition | Promise<ServiceDefinition>> = [stsService, cloudwatchService, kmsService, secretsManagerService, dynamodbService, dynamodbStreamsService, rdsService];
