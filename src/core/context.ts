/**
 * @module core/context
 * What a provider knows about the request it serves. Providers never see HTTP.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import type { Scope } from './scope.js';

export interface RequestContext {
  /**
   * The caller's account and region: every state access goes through it (see core/scope.ts). Made by the gateway
   * from the authenticated request, or by `backgroundContext` for work acting for a stored resource.
   */
  scope: Scope;
  requestId: string;
  /** Access key id that signed the request. */
  accessKeyId: string;
  /** ARN of the caller (an IAM user/root or an assumed-role session): what resource policies are matched against. */
  callerArn: string;
  /** The signing service name / the service id the request was routed to. */
  service: string;
  operation: string;
  clock: Clock;
  /** The Host the client addressed (host[:port]), when it sent a well-formed one: where it reached Cellar. */
  host?: string;
  /**
   * The result goes straight to a JSON serializer that writes RawJson values (protocols/wirejson.ts)
   * as they are, so a provider may return JSON text it already holds instead of parsed objects.
   * Absent when a caller (a test, another service) wants plain values.
   */
  rawJson?: boolean;
}

/** A context for work a service does on its own (schedules, rotations, reconciles) in a resource's scope, as its account's root. */
export function backgroundContext(scope: Scope, service: string, operation: string, clock: Clock): RequestContext {
  return {
    scope,
    requestId: randomUUID(),
    accessKeyId: '',
    callerArn: `arn:aws:iam::${scope.accountId}:root`,
    service,
    operation,
    clock,
  };
}
