/**
 * @module core/context
 * What a provider knows about the request it serves. Providers never see HTTP.
 */
import type { Clock } from './clock.js';

export interface RequestContext {
  /** 12-digit AWS account id the caller's credentials map to. */
  accountId: string;
  region: string;
  requestId: string;
  /** Access key id that signed the request. */
  accessKeyId: string;
  /** ARN of the caller (an IAM user/root or an assumed-role session). */
  callerArn: string;
  /** The signing service name / the service id the request was routed to. */
  service: string;
  operation: string;
  clock: Clock;
  /**
   * The result goes straight to a JSON serializer that writes RawJson values (protocols/wirejson.ts)
   * as they are, so a provider may return JSON text it already holds instead of parsed objects.
   * Absent when a caller (a test, another service) wants plain values.
   */
  rawJson?: boolean;
}

/** Partition for ARNs; Cellar always answers as the commercial `aws` partition. */
export const PARTITION = 'aws';

export function arn(ctx: Pick<RequestContext, 'accountId' | 'region'>, service: string, resource: string, global = false): string {
  return `arn:${PARTITION}:${service}:${global ? '' : ctx.region}:${ctx.accountId}:${resource}`;
}
