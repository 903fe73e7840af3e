/**
 * @module services/secretsmanager/provider
 * AWS Secrets Manager: secrets with versions and staging labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING
 * moved as AWS moves them), ClientRequestToken idempotency, every value encrypted under its KMS key
 * (envelope encryption through KMS's in-process interface, bound to the secret by the encryption
 * context {SecretARN, SecretVersionId}), scheduled deletion and rotation that really happen (see
 * `tick`), resource policies, and replication to other regions of the same Cellar.
 *
 * This class is the map of the service: each operation is handed to the module of its concern.
 *   access.ts             SecretId → secret, and the resource policy's say on each request
 *   envelope.ts           values sealed under KMS data keys
 *   lifecycle.ts          create, update, tag, delete, restore
 *   versions.ts           values and versions: get, put, staging labels
 *   listing.ts            describe, list, batch get
 *   replication.ts        replicas in other regions, kept in line with their primary
 *   resource-policies.ts  the resource policy operations
 *   rotation-runs.ts      rotations started, run, retried, cancelled (rotation.ts: the functions they call)
 */
import { type RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { faultPoint } from '../../core/faults.js';
import { log } from '../../core/log.js';
import type * as api from '../../models/secretsmanager.js';
import type { ServiceEnv } from '../env.js';
import { SecretAccess } from './access.js';
import { Envelope } from './envelope.js';
import { SecretLifecycle } from './lifecycle.js';
import { SecretListing } from './listing.js';
import { randomPassword } from './password.js';
import { type SecretRecord, SecretRepository } from './records.js';
import { Replication } from './replication.js';
import { ResourcePolicies } from './resource-policies.js';
import { type BuiltinRotationHandler, type InProcessSecretsManager, RotationFunctions } from './rotation.js';
import { RotationRuns } from './rotation-runs.js';
import { SecretVersions } from './versions.js';

/** Per scheduler tick: bounds the work one tick may do. */
const MAX_DUE_PER_TICK = 100;

export interface SecretsManagerInternal {
  /** Makes a rotation function ARN (or bare function name) run in-process. Used by RDS for managed master passwords. */
  registerBuiltinRotation(arnOrName: string, handler: BuiltinRotationHandler): void;
  /**
   * CreateSecret on behalf of another service: the secret reports that service as OwningService, and may carry the
   * `aws:` tags AWS services set on the secrets they own (e.g. `aws:rds:primaryDBInstanceArn`).
   */
  createSecretOwnedBy(ctx: RequestContext, owningService: string, input: api.CreateSecretRequest): Promise<api.CreateSecretResponse>;
  /**
   * Turns on managed rotation for a secret the service owns: its built-in function (registered with
   * registerBuiltinRotation) on `rules`, first rotation at the first window; nothing runs now.
   */
  enableManagedRotation(ctx: RequestContext, owningService: string, secretId: string, lambdaArn: string, rules: api.RotationRulesType): void;
  /** Deletes a secret the service owns at once (no recovery window), as AWS services delete their own secrets. */
  deleteOwnedSecret(ctx: RequestContext, owningService: string, secretId: string): void;
  /** DescribeSecret, or undefined when there is no such secret. */
  describe(ctx: RequestContext, secretId: string): api.DescribeSecretResponse | undefined;
  /** RotateSecret now with the configured function (what RDS's RotateMasterUserPassword does). */
  rotateNow(ctx: RequestContext, secretId: string): api.RotateSecretResponse;
  /** UpdateSecret's KmsKeyId: re-encrypts the labelled versions under another key. */
  changeKmsKey(ctx: RequestContext, secretId: string, kmsKeyId: string): void;
}

export class SecretsManagerProvider implements Partial<api.SecretsManagerApi> {
  readonly repo: SecretRepository;
  readonly functions: RotationFunctions;
  readonly internal: SecretsManagerInternal;
  private readonly envelope: Envelope;
  private readonly access: SecretAccess;
  private readonly lifecycle: SecretLifecycle;
  private readonly versions: SecretVersions;
  private readonly listing: SecretListing;
  private readonly replication: Replication;
  private readonly policies: ResourcePolicies;
  private readonly rotations: RotationRuns;

  constructor(private readonly env: ServiceEnv) {
    this.repo = new SecretRepository(env.store);
    this.functions = new RotationFunctions(env.config.rotationFunctions ?? {});
    const envelope = new Envelope(env, this.repo);
    this.envelope = envelope;
    this.access = new SecretAccess(this.repo);
    this.replication = new Replication(this.repo, envelope, this.access, env.clock);
    this.versions = new SecretVersions(this.repo, envelope, this.access, this.replication, env.clock);
    this.lifecycle = new SecretLifecycle(this.repo, this.access, this.versions, this.replication, env.clock);
    this.listing = new SecretListing(this.repo, this.access, this.replication, this.versions);
    this.policies = new ResourcePolicies(this.access, this.replication, env.clock);
    this.rotations = new RotationRuns(env, this.repo, this.functions, this.access, this.replication, (rec) => this.inProcessClient(rec));
    this.internal = {
      registerBuiltinRotation: (arnOrName, handler) => this.functions.register(arnOrName, handler),
      createSecretOwnedBy: async (ctx, owningService, input) => this.lifecycle.create(input, ctx, owningService),
      enableManagedRotation: (ctx, owningService, secretId, lambdaArn, rules) => this.rotations.enableManaged(ctx, owningService, secretId, lambdaArn, rules),
      deleteOwnedSecret: (ctx, owningService, secretId) => {
        const rec = this.access.ownedBy(ctx, owningService, secretId);
        if (rec) this.deleteSecret({ SecretId: rec.arn, ForceDeleteWithoutRecovery: true }, ctx);
      },
      describe: (ctx, secretId) => {
        try {
          return this.describeSecret({ SecretId: secretId }, ctx);
        } catch (e) {
          if (e instanceof ServiceError && e.code === 'ResourceNotFoundException') return undefined;
          throw e;
        }
      },
      rotateNow: (ctx, secretId) => this.rotateSecret({ SecretId: secretId }, ctx),
      changeKmsKey: (ctx, secretId, kmsKeyId) => void this.updateSecret({ SecretId: secretId, KmsKeyId: kmsKeyId }, ctx),
    };
  }

  /** Secrets Manager as a built-in rotation function sees it: the operations it calls, acting as the secret's owner. */
  private inProcessClient(rec: SecretRecord): InProcessSecretsManager {
    const ctx = (op: string) => this.envelope.ownerCtx(rec, op);
    return {
      describeSecret: async (i) => this.describeSecret(i, ctx('DescribeSecret')),
      getSecretValue: async (i) => this.getSecretValue(i, ctx('GetSecretValue')),
      putSecretValue: async (i) => this.putSecretValue(i, ctx('PutSecretValue')),
      updateSecretVersionStage: async (i) => this.updateSecretVersionStage(i, ctx('UpdateSecretVersionStage')),
      getRandomPassword: async (i) => this.getRandomPassword(i),
    };
  }

  // ---- lifecycle (lifecycle.ts) ------------------------------------------------------------------

  createSecret(input: api.CreateSecretRequest, ctx: RequestContext): api.CreateSecretResponse {
    return this.lifecycle.create(input, ctx, undefined);
  }

  updateSecret(input: api.UpdateSecretRequest, ctx: RequestContext): api.UpdateSecretResponse {
    return this.lifecycle.updateSecret(input, ctx);
  }

  deleteSecret(input: api.DeleteSecretRequest, ctx: RequestContext): api.DeleteSecretResponse {
    return this.lifecycle.deleteSecret(input, ctx);
  }

  restoreSecret(input: api.RestoreSecretRequest, ctx: RequestContext): api.RestoreSecretResponse {
    return this.lifecycle.restoreSecret(input, ctx);
  }

  tagResource(input: api.TagResourceRequest, ctx: RequestContext): void {
    this.lifecycle.tagResource(input, ctx);
  }

  untagResource(input: api.UntagResourceRequest, ctx: RequestContext): void {
    this.lifecycle.untagResource(input, ctx);
  }

  // ---- values and versions (versions.ts) ---------------------------------------------------------

  getSecretValue(input: api.GetSecretValueRequest, ctx: RequestContext): api.GetSecretValueResponse {
    return this.versions.getSecretValue(input, ctx);
  }

  putSecretValue(input: api.PutSecretValueRequest, ctx: RequestContext): api.PutSecretValueResponse {
    return this.versions.putSecretValue(input, ctx);
  }

  updateSecretVersionStage(input: api.UpdateSecretVersionStageRequest, ctx: RequestContext): api.UpdateSecretVersionStageResponse {
    return this.versions.updateSecretVersionStage(input, ctx);
  }

  getRandomPassword(input: api.GetRandomPasswordRequest): api.GetRandomPasswordResponse {
    return { RandomPassword: randomPassword(input) };
  }

  // ---- describe and list (listing.ts) ------------------------------------------------------------

  describeSecret(input: api.DescribeSecretRequest, ctx: RequestContext): api.DescribeSecretResponse {
    return this.listing.describeSecret(input, ctx);
  }

  listSecrets(input: api.ListSecretsRequest, ctx: RequestContext): api.ListSecretsResponse {
    return this.listing.listSecrets(input, ctx);
  }

  listSecretVersionIds(input: api.ListSecretVersionIdsRequest, ctx: RequestContext): api.ListSecretVersionIdsResponse {
    return this.listing.listSecretVersionIds(input, ctx);
  }

  batchGetSecretValue(input: api.BatchGetSecretValueRequest, ctx: RequestContext): api.BatchGetSecretValueResponse {
    return this.listing.batchGetSecretValue(input, ctx);
  }

  // ---- resource policies (resource-policies.ts) --------------------------------------------------

  putResourcePolicy(input: api.PutResourcePolicyRequest, ctx: RequestContext): api.PutResourcePolicyResponse {
    return this.policies.putResourcePolicy(input, ctx);
  }

  getResourcePolicy(input: api.GetResourcePolicyRequest, ctx: RequestContext): api.GetResourcePolicyResponse {
    return this.policies.getResourcePolicy(input, ctx);
  }

  deleteResourcePolicy(input: api.DeleteResourcePolicyRequest, ctx: RequestContext): api.DeleteResourcePolicyResponse {
    return this.policies.deleteResourcePolicy(input, ctx);
  }

  validateResourcePolicy(input: api.ValidateResourcePolicyRequest, ctx: RequestContext): api.ValidateResourcePolicyResponse {
    return this.policies.validateResourcePolicy(input, ctx);
  }

  // ---- replication (replication.ts) --------------------------------------------------------------

  replicateSecretToRegions(input: api.ReplicateSecretToRegionsRequest, ctx: RequestContext): api.ReplicateSecretToRegionsResponse {
    return this.replication.replicateSecretToRegions(input, ctx);
  }

  removeRegionsFromReplication(input: api.RemoveRegionsFromReplicationRequest, ctx: RequestContext): api.RemoveRegionsFromReplicationResponse {
    return this.replication.removeRegionsFromReplication(input, ctx);
  }

  stopReplicationToReplica(input: api.StopReplicationToReplicaRequest, ctx: RequestContext): api.StopReplicationToReplicaResponse {
    return this.replication.stopReplicationToReplica(input, ctx);
  }

  // ---- rotation (rotation-runs.ts) ---------------------------------------------------------------

  rotateSecret(input: api.RotateSecretRequest, ctx: RequestContext): api.RotateSecretResponse {
    return this.rotations.rotateSecret(input, ctx);
  }

  cancelRotateSecret(input: api.CancelRotateSecretRequest, ctx: RequestContext): api.CancelRotateSecretResponse {
    return this.rotations.cancelRotateSecret(input, ctx);
  }

  // ---- the scheduler -----------------------------------------------------------------------------

  /**
   * One pass of the scheduler: carries out deletions whose recovery window has ended and starts
   * rotations whose window has opened. Bounded per pass; called on a timer and once at start, which
   * catches up on whatever fell due while Cellar was down. Returns a sentence saying what it did.
   */
  tick(): string {
    faultPoint('secretsmanager.tick');
    const now = this.env.clock.now();
    let deleted = 0;
    let rotations = 0;
    for (const due of this.repo.dueBefore(now, MAX_DUE_PER_TICK)) {
      const rec = this.repo.byStoreKey(due.key);
      if (!rec) {
        this.repo.dropDue(due.indexKey);
        continue;
      }
      if (due.kind === 'delete') {
        if (rec.deletionDueMs !== undefined && rec.deletionDueMs <= now) {
          this.repo.purge(rec);
          log('info', 'secret deleted', { secret: rec.arn, reason: 'recovery window ended', deletedDate: new Date(rec.deletedMs ?? now).toISOString() });
          deleted++;
        } else this.repo.dropDue(due.indexKey);
      } else if (this.rotations.mayStart(due.key)) {
        this.rotations.startScheduled(due.key);
        rotations++;
      }
    }
    return deleted || rotations ? `deleted ${deleted} secret(s) whose recovery window ended; started ${rotations} rotation(s)` : 'nothing due';
  }

  /** At start: rotations that were running when Cellar stopped are run again, as a Lambda retry would. */
  resumeInterrupted(): number {
    return this.rotations.resumeInterrupted();
  }

  health(): Record<string, unknown> {
    return { rotationsRunning: this.rotations.running };
  }
}
