/**
 * @module services/secretsmanager/resource-policies
 * PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy and ValidateResourcePolicy: a secret's resource policy,
 * checked as AWS checks it (syntax, and BlockPublicPolicy's broad-access check, see policy.ts). access.ts evaluates
 * it on every request.
 */
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import type * as api from '../../models/secretsmanager.js';
import type { SecretAccess } from './access.js';
import { ERR } from './errors.js';
import { isPublic, syntaxProblems } from './policy.js';
import type { Replication } from './replication.js';

export class ResourcePolicies {
  constructor(private readonly access: SecretAccess, private readonly replication: Replication, private readonly clock: Clock) {}

  putResourcePolicy(input: api.PutResourcePolicyRequest, ctx: RequestContext): api.PutResourcePolicyResponse {
    const problems = syntaxProblems(input.ResourcePolicy);
    if (problems.length) throw new ServiceError('MalformedPolicyDocumentException', problems[0]!.message);
    if (input.BlockPublicPolicy && isPublic(input.ResourcePolicy)) {
      throw new ServiceError('PublicPolicyException', 'The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.');
    }
    const rec = this.access.findWritable(ctx, input.SecretId);
    rec.policy = input.ResourcePolicy;
    rec.lastChangedMs = this.clock.now();
    this.replication.commit(rec);
    return { ARN: rec.arn, Name: rec.name };
  }

  getResourcePolicy(input: api.GetResourcePolicyRequest, ctx: RequestContext): api.GetResourcePolicyResponse {
    const rec = this.access.find(ctx, input.SecretId);
    if (rec.deletedMs !== undefined) throw ERR.deleted();
    return { ARN: rec.arn, Name: rec.name, ...(rec.policy ? { ResourcePolicy: rec.policy } : {}) };
  }

  deleteResourcePolicy(input: api.DeleteResourcePolicyRequest, ctx: RequestContext): api.DeleteResourcePolicyResponse {
    const rec = this.access.findWritable(ctx, input.SecretId);
    if (rec.policy !== undefined) {
      delete rec.policy;
      rec.lastChangedMs = this.clock.now();
      this.replication.commit(rec);
    }
    return { ARN: rec.arn, Name: rec.name };
  }

  validateResourcePolicy(input: api.ValidateResourcePolicyRequest, ctx: RequestContext): api.ValidateResourcePolicyResponse {
    if (input.SecretId !== undefined) this.access.find(ctx, input.SecretId);
    const problems = syntaxProblems(input.ResourcePolicy);
    if (problems.length && problems[0]!.message.includes('not valid JSON')) throw new ServiceError('MalformedPolicyDocumentException', problems[0]!.message);
    if (!problems.length && isPublic(input.ResourcePolicy)) problems.push({ checkName: 'PUBLIC_ACCESS_CHECK', message: 'The resource policy grants broad access to the secret: a principal of "*" with no condition.' });
    return { PolicyValidationPassed: problems.length === 0, ValidationErrors: problems.map((p) => ({ CheckName: p.checkName, ErrorMessage: p.message })) };
  }
}
