/**
 * @module services/secretsmanager/lifecycle
 * A secret's life: created (by a caller, or by another AWS service that owns it), updated, tagged, scheduled for
 * deletion after a recovery window (or deleted at once), and restored within that window.
 */
import { randomBytes } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type * as api from '../../models/secretsmanager.js';
import type { SecretAccess } from './access.js';
import { valueOf } from './envelope.js';
import { ERR } from './errors.js';
import type { SecretRecord, SecretRepository } from './records.js';
import type { Replication } from './replication.js';
import { DAY_MS } from './schedule.js';
import { CURRENT } from './staging-labels.js';
import type { SecretVersions } from './versions.js';

const DEFAULT_RECOVERY_DAYS = 30;
const MAX_TAGS = 50;
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@!-]+$/; // '!' too, as AWS's own message says (RDS's secrets are rds!db-…)

function newArn(accountId: string, region: string, name: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const suffix = [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
  return `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix}`;
}

export class SecretLifecycle {
  constructor(private readonly repo: SecretRepository, private readonly access: SecretAccess, private readonly versions: SecretVersions, private readonly replication: Replication, private readonly clock: Clock) {}

  /** CreateSecret; `owningService` when another AWS service creates a secret it owns (it may set `aws:` tags). */
  create(input: api.CreateSecretRequest, ctx: RequestContext, owningService: string | undefined): api.CreateSecretResponse {
    if (!NAME_PATTERN.test(input.Name)) throw new ServiceError('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
    const value = valueOf(input);
    if (value && input.ClientRequestToken === undefined) throw ERR.needToken();
    this.validateTags(input.Tags ?? [], owningService !== undefined);
    const replicaRequests = input.AddReplicaRegions ?? [];
    this.replication.validateRegions(ctx.scope.region, replicaRequests);
    const existing = this.repo.get(ctx.scope, input.Name);
    if (existing) {
      if (existing.deletedMs !== undefined) throw new ServiceError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
      // The same request again (same token, same value) is answered as the first one was.
      if (value && input.ClientRequestToken && this.versions.tokenVersion(existing, input.ClientRequestToken, value, ctx) === 'same') {
        return { ARN: existing.arn, Name: existing.name, VersionId: input.ClientRequestToken, ...(existing.replicas.length ? { ReplicationStatus: this.replication.status(existing) } : {}) };
      }
      throw new ServiceError('ResourceExistsException', `The operation failed because the secret ${input.Name} already exists.`);
    }
    const now = this.clock.now();
    const rec: SecretRecord = {
      arn: newArn(ctx.scope.accountId, ctx.scope.region, input.Name),
      name: input.Name,
      accountId: ctx.scope.accountId,
      region: ctx.scope.region,
      ...(input.Description !== undefined ? { description: input.Description } : {}),
      ...(input.KmsKeyId ? { kmsKeyId: input.KmsKeyId } : {}),
      ...(input.Type !== undefined ? { type: input.Type } : {}),
      ...(owningService ? { owningService } : {}),
      createdMs: now,
      lastChangedMs: now,
      tags: (input.Tags ?? []).map((t) => ({ Key: t.Key!, Value: t.Value ?? '' })),
      replicas: [],
      versions: {},
      dueKeys: [],
    };
    this.repo.store.transaction(() => {
      if (value) this.versions.putVersion(rec, input.ClientRequestToken!, value, [CURRENT], ctx);
      this.repo.save(rec);
      if (replicaRequests.length) this.replication.addReplicas(rec, replicaRequests, Boolean(input.ForceOverwriteReplicaSecret));
    });
    return { ARN: rec.arn, Name: rec.name, ...(value ? { VersionId: input.ClientRequestToken } : {}), ...(rec.replicas.length ? { ReplicationStatus: this.replication.status(rec) } : {}) };
  }

  updateSecret(input: api.UpdateSecretRequest, ctx: RequestContext): api.UpdateSecretResponse {
    const value = valueOf(input);
    if (value && input.ClientRequestToken === undefined) throw ERR.needToken();
    const rec = this.access.findWritable(ctx, input.SecretId);
    if (value && this.versions.tokenVersion(rec, input.ClientRequestToken!, value, ctx) === 'same') {
      return { ARN: rec.arn, Name: rec.name, VersionId: input.ClientRequestToken };
    }
    const now = this.clock.now();
    this.repo.store.transaction(() => {
      if (input.Description !== undefined) rec.description = input.Description;
      if (input.Type !== undefined) rec.type = input.Type;
      if (input.KmsKeyId !== undefined) {
        const newKey = input.KmsKeyId || undefined;
        if (newKey !== rec.kmsKeyId) this.versions.reencryptLabeled(rec, newKey, ctx);
      }
      if (value) this.versions.putVersion(rec, input.ClientRequestToken!, value, [CURRENT], ctx);
      rec.lastChangedMs = now;
      this.replication.commit(rec);
    });
    return { ARN: rec.arn, Name: rec.name, ...(value ? { VersionId: input.ClientRequestToken } : {}) };
  }

  deleteSecret(input: api.DeleteSecretRequest, ctx: RequestContext): api.DeleteSecretResponse {
    const force = Boolean(input.ForceDeleteWithoutRecovery);
    if (force && input.RecoveryWindowInDays !== undefined) throw new ServiceError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    const days = input.RecoveryWindowInDays ?? DEFAULT_RECOVERY_DAYS;
    if (!force && (days < 7 || days > 30)) throw new ServiceError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    const rec = this.access.find(ctx, input.SecretId);
    if (rec.primaryRegion) throw ERR.replica();
    if (rec.replicas.length) throw new ServiceError('InvalidRequestException', `You can't delete secret ${rec.name} because it is replicated to other Regions. Remove the replicas first with RemoveRegionsFromReplication.`);
    const now = this.clock.now();
    if (force) {
      this.repo.purge(rec);
      log('info', 'secret deleted', { secret: rec.arn, reason: 'ForceDeleteWithoutRecovery' });
      return { ARN: rec.arn, Name: rec.name, DeletionDate: new Date(now) };
    }
    if (rec.deletedMs !== undefined) throw ERR.deleted();
    rec.deletedMs = now;
    rec.deletionDueMs = now + days * DAY_MS;
    rec.lastChangedMs = now;
    this.repo.save(rec);
    return { ARN: rec.arn, Name: rec.name, DeletionDate: new Date(rec.deletionDueMs) };
  }

  restoreSecret(input: api.RestoreSecretRequest, ctx: RequestContext): api.RestoreSecretResponse {
    const rec = this.access.find(ctx, input.SecretId);
    if (rec.primaryRegion) throw ERR.replica();
    if (rec.deletedMs !== undefined) {
      delete rec.deletedMs;
      delete rec.deletionDueMs;
      rec.lastChangedMs = this.clock.now();
      this.repo.save(rec);
    }
    return { ARN: rec.arn, Name: rec.name };
  }

  /** `aws:` keys are reserved for AWS: only a service creating its own secret sets them. */
  private validateTags(tags: api.Tag[], allowAwsKeys = false): void {
    for (const t of tags) {
      if (t.Key === undefined) throw new ServiceError('InvalidParameterException', 'A tag must have a Key.');
      if (!allowAwsKeys && t.Key.toLowerCase().startsWith('aws:')) throw new ServiceError('InvalidParameterException', 'Tag keys beginning with aws: are reserved for AWS use.');
    }
    if (new Set(tags.map((t) => t.Key)).size > MAX_TAGS) throw new ServiceError('InvalidParameterException', `A secret can have at most ${MAX_TAGS} tags.`);
  }

  tagResource(input: api.TagResourceRequest, ctx: RequestContext): void {
    this.validateTags(input.Tags);
    const rec = this.access.findWritable(ctx, input.SecretId);
    const merged = new Map(rec.tags.map((t) => [t.Key!, t.Value ?? '']));
    for (const t of input.Tags) merged.set(t.Key!, t.Value ?? '');
    if (merged.size > MAX_TAGS) throw new ServiceError('InvalidParameterException', `A secret can have at most ${MAX_TAGS} tags.`);
    rec.tags = [...merged].map(([Key, Value]) => ({ Key, Value }));
    rec.lastChangedMs = this.clock.now();
    this.replication.commit(rec);
  }

  untagResource(input: api.UntagResourceRequest, ctx: RequestContext): void {
    const rec = this.access.findWritable(ctx, input.SecretId);
    const drop = new Set(input.TagKeys);
    rec.tags = rec.tags.filter((t) => !drop.has(t.Key!));
    rec.lastChangedMs = this.clock.now();
    this.replication.commit(rec);
  }
}
