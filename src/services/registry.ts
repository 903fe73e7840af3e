/**
 * @module services/registry
 * What the gateway needs to know about each service: its model, its wire protocol, its provider and
 * any background work it runs. Adding a service means adding a definition here, nothing in the gateway.
 */
import type { ServiceModel } from '../protocols/model.js';
import type { RpcV2CborProtocol } from '../protocols/rpcv2cbor.js';
import type { Protocol } from '../protocols/types.js';
import type { MetricSampler } from '../observability/types.js';

/** A provider has one method per operation it serves, named after the operation in lowerCamelCase. */
export type Provider = object;

export interface ServiceDefinition {
  /** Model id (file name under src/models), e.g. `dynamodb`. */
  id: string;
  model: ServiceModel;
  protocol: Protocol;
  /**
   * The awsQuery twin of a JSON-protocol service whose model lists both (CloudWatch: recent SDKs speak awsJson1_0,
   * the AWS CLI v2.9 and older SDKs awsQuery): requests with no X-Amz-Target are parsed and answered by it.
   */
  queryProtocol?: Protocol;
  /**
   * The Smithy RPC v2 CBOR twin of a JSON-protocol service whose model lists `smithy-rpc-v2-cbor` (CloudWatch: what
   * SDKs that support it pick first): requests to `/service/<Service>/operation/<Op>` are parsed and answered by it.
   */
  cborProtocol?: RpcV2CborProtocol;
  provider: Provider;
  /** How this service words authentication failures: JSON services and query services differ. */
  authStyle: 'json' | 'query';
  /**
   * How an operation of the model that Cellar does not serve yet is answered. `not-implemented` (the default): 501
   * NotImplemented naming it. `unknown-operation`: as the service answers an operation it does not know (DynamoDB's
   * 400 UnknownOperationException with no message), which tools probing for optional features tolerate (Terraform
   * reads DescribeContinuousBackups and accepts UnknownOperationException, as DynamoDB Local answers it).
   */
  unservedOperations?: 'not-implemented' | 'unknown-operation';
  /** The service's own largest request body (DynamoDB: 16 MB), when smaller than the gateway's: larger ones are 413. */
  maxBodyBytes?: number;
  /** The service's answer to an unsigned `GET /` with no query string (DynamoDB's health check). */
  healthCheck?(region: string): { body: string; headers: Record<string, string> };
  /** Operations AWS serves without a signature (STS AssumeRoleWithWebIdentity, for example). */
  unsignedOperations?: ReadonlySet<string>;
  /**
   * Set when the service finishes setting itself up after Cellar starts serving (RDS finds its engines):
   * its requests wait for it, other services' requests do not.
   */
  ready?: Promise<void>;
  /** Background work (schedulers, supervisors): started after the server listens, stopped after its requests drain. */
  start?(): void | Promise<void>;
  stop?(): void | Promise<void>;
  /** Cellar's stop is being hurried (a second signal): a stop in progress, or the next one, finishes fast. */
  hurry?(): void;
  /**
   * Services this one holds references into (Secrets Manager into KMS, RDS into both, DynamoDB Streams into DynamoDB):
   * a reset that rebuilds one of them rebuilds this one too (lifecycle/reset.ts).
   */
  dependsOn?: readonly string[];
  /** Prefixes of the store keyspaces this service owns: a reset of the service clears every keyspace they begin. */
  stateKeyspaces?: readonly string[];
  /** Files and directories the service keeps outside the store (engine data): a reset removes them once it stopped. */
  stateFiles?(): string[];
  /** State reported by /_cellar/health. */
  health?(): Record<string, unknown>;
  /** Measurements the service publishes into CloudWatch each period (AWS/RDS from the engines; observability/). */
  metrics?: MetricSampler;
}

export function methodName(operation: string): string {
  return operation.charAt(0).toLowerCase() + operation.slice(1);
}
