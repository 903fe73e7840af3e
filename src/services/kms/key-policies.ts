/**
 * @module services/kms/key-policies
 * GetKeyPolicy, PutKeyPolicy and ListKeyPolicies, and the checks a new key policy passes: a JSON policy document
 * that (unless the caller bypasses it, as AWS allows) lets the caller change it again later. key-access.ts evaluates
 * the policy on every request.
 */
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { evaluatePolicy } from '../../auth/policy.js';
import type * as api from '../../models/kms.js';
import { type KeyAccess, requester } from './key-access.js';
import { page } from './paging.js';
import type { KmsTables } from './records.js';

/**
 * A key policy must be a JSON policy document, and (unless the caller bypasses the check, as AWS allows) must let
 * the caller change it again later: KMS's lockout safety check.
 */
export function checkPolicy(policy: string, ctx: RequestContext, bypassLockoutCheck: boolean, keyArn = ctx.scope.arn('kms', 'key/*')): void {
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    throw new ServiceError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('Statement' in doc)) {
    throw new ServiceError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }
  if (bypassLockoutCheck) return;
  const caller = requester(ctx);
  const decision = evaluatePolicy(policy, { principal: { accountId: caller.accountId, arn: caller.arn }, action: 'kms:PutKeyPolicy', resource: keyArn, context: { 'kms:CallerAccount': caller.accountId } });
  if (decision !== 'allow') throw new ServiceError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
}

export class KeyPolicies {
  constructor(private readonly t: KmsTables, private readonly access: KeyAccess) {}

  getKeyPolicy(input: api.GetKeyPolicyRequest, ctx: RequestContext): api.GetKeyPolicyResponse {
    const key = this.access.keyFor(ctx, input.KeyId);
    const name = input.PolicyName ?? 'default';
    const policy = name === 'default' ? this.access.policyOf(key) : key.policies[name];
    if (policy === undefined) throw new ServiceError('NotFoundException', `No such policy exists`);
    return { Policy: policy, PolicyName: name };
  }

  putKeyPolicy(input: api.PutKeyPolicyRequest, ctx: RequestContext): void {
    const key = this.access.keyFor(ctx, input.KeyId);
    this.access.assertCustomerManaged(key, 'PutKeyPolicy');
    checkPolicy(input.Policy, ctx, input.BypassPolicyLockoutSafetyCheck === true, key.arn);
    key.policies[input.PolicyName ?? 'default'] = input.Policy;
    this.t.save(key);
  }

  listKeyPolicies(input: api.ListKeyPoliciesRequest, ctx: RequestContext): api.ListKeyPoliciesResponse {
    const key = this.access.keyFor(ctx, input.KeyId);
    return page(Object.keys(key.policies), input.Marker, input.Limit ?? 100, (n) => n, (n) => n, 'PolicyNames');
  }
}
