/**
 * @module services/secretsmanager/access
 * From a request's SecretId to the secret, and whether the caller may act on it: a secret is named by name, full ARN
 * or partial ARN, in the caller's account or (by ARN) another's, and its resource policy has its say on every
 * request as AWS's does.
 */
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { isAccountId, parseArn, PARTITION, Scope } from '../../core/scope.js';
import { evaluatePolicy, notAuthorizedMessage, requestKeys, resourceTagKeys } from '../../auth/policy.js';
import { ERR } from './errors.js';
import type { SecretRecord, SecretRepository } from './records.js';

export class SecretAccess {
  constructor(private readonly repo: SecretRepository) {}

  /**
   * Finds a secret by name, full ARN or partial ARN (the ARN without its `-xxxxxx` suffix), in the caller's scope or,
   * by ARN, in another account's, and checks that the caller may perform `action` on it (authorize): by default the
   * request's own operation; BatchGetSecretValue asks for secretsmanager:GetSecretValue on each secret, as AWS does.
   */
  find(ctx: RequestContext, secretId: string, action = `secretsmanager:${ctx.operation}`): SecretRecord {
    if (!secretId.startsWith('arn:')) {
      const rec = this.repo.get(ctx.scope, secretId);
      if (!rec) throw ERR.notFound();
      this.authorize(ctx, rec, action);
      return rec;
    }
    const arn = parseArn(secretId);
    // The ARN must name a secret of this partition and of the caller's region: other regions are other services.
    if (!arn || arn.partition !== PARTITION || arn.service !== 'secretsmanager' || arn.region !== ctx.scope.region || !isAccountId(arn.accountId) || !arn.resource.startsWith('secret:')) throw ERR.notFound();
    const own = arn.accountId === ctx.scope.accountId;
    const scope = own ? ctx.scope : Scope.crossAccount(arn);
    const resource = arn.resource.slice('secret:'.length);
    let rec: SecretRecord | undefined;
    if (/-[A-Za-z0-9]{6}$/.test(resource)) {
      const full = this.repo.get(scope, resource.slice(0, -7));
      if (full && full.arn === secretId) rec = full;
    }
    rec ??= this.repo.get(scope, resource);
    if (!rec) {
      // Another account's secret that does not exist has no policy that could allow the caller: denied, as on AWS,
      // which never tells another account whether a secret exists.
      if (!own) throw this.denied(ctx, secretId, 'no-policy', action);
      throw ERR.notFound();
    }
    this.authorize(ctx, rec, action);
    return rec;
  }

  /** A secret that may be changed: not scheduled for deletion, not a replica. */
  findWritable(ctx: RequestContext, secretId: string): SecretRecord {
    const rec = this.find(ctx, secretId);
    if (rec.primaryRegion) throw ERR.replica();
    if (rec.deletedMs !== undefined) throw ERR.deleted();
    return rec;
  }

  /** The secret if it exists and `owningService` owns it; a secret owned by someone else is never touched. */
  ownedBy(ctx: RequestContext, owningService: string, secretId: string): SecretRecord | undefined {
    let rec: SecretRecord;
    try {
      rec = this.find(ctx, secretId);
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'ResourceNotFoundException') return undefined;
      throw e;
    }
    if (rec.owningService !== owningService) throw new Error(`secret ${rec.arn} is not owned by ${owningService}`);
    return rec;
  }

  /**
   * The resource policy's say on this request: across accounts the policy must allow the caller the action; within
   * the account (where Cellar models IAM as allowing everything) only an explicit Deny refuses. Calls made by other
   * services in-process (RDS managing its own secret) and by background work carry no Secrets Manager operation and
   * act for the owner.
   */
  authorize(ctx: RequestContext, rec: SecretRecord, action = `secretsmanager:${ctx.operation}`): void {
    if (ctx.service !== 'secretsmanager' || ctx.operation === 'Background') return;
    const own = ctx.scope.accountId === rec.accountId;
    const decision = evaluatePolicy(rec.policy, {
      principal: { accountId: ctx.scope.accountId, arn: ctx.callerArn },
      action,
      resource: rec.arn,
      context: {
        ...requestKeys(ctx.clock.now(), rec.region),
        ...resourceTagKeys(rec.tags, 'secretsmanager'),
        'aws:ResourceAccount': rec.accountId,
        'secretsmanager:SecretId': rec.arn,
        'secretsmanager:SecretPrimaryRegion': rec.primaryRegion ?? rec.region,
        ...(rec.rotation?.lambdaArn ? { 'secretsmanager:resource/AllowRotationLambdaArn': rec.rotation.lambdaArn } : {}),
      },
    });
    if (decision === 'deny') throw this.denied(ctx, rec.arn, 'explicit-deny', action);
    if (!own && decision !== 'allow') throw this.denied(ctx, rec.arn, 'no-policy', action);
  }

  private denied(ctx: RequestContext, resource: string, reason: 'no-policy' | 'explicit-deny', action = `secretsmanager:${ctx.operation}`): ServiceError {
    return new ServiceError('AccessDeniedException', notAuthorizedMessage(ctx.callerArn || `arn:aws:iam::${ctx.scope.accountId}:root`, action, resource, reason));
  }
}
