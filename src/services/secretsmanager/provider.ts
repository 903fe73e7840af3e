/**
 * @module services/secretsmanager/provider
 * AWS Secrets Manager: secrets with versions and staging labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING
 * moved as AWS moves them), ClientRequestToken idempotency, every value encrypted under its KMS key
 * (envelope encryption through KMS's in-process interface, bound to the secret by the encryption
 * context {SecretARN, SecretVersionId}), scheduled deletion and rotation that really happen (see
 * `tick`), resource policies, and replication to other regions of the same Cellar.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { backgroundContext, type RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { isAccountId, isRegionName, parseArn, PARTITION, Scope } from '../../core/scope.js';
import { evaluatePolicy, notAuthorizedMessage, requestKeys, resourceTagKeys } from '../../auth/policy.js';
import { log } from '../../core/log.js';
import { faultPoint } from '../../core/faults.js';
import type * as api from '../../models/secretsmanager.js';
import type { KmsCaller, KmsInternal } from '../kms/internal.js';
import type { ServiceEnv } from '../env.js';
import { randomPassword } from './password.js';
import { isPublic, syntaxProblems } from './policy.js';
import { type PendingRotation, type ReplicaState, type SealedValue, SecretRepository, type SecretRecord, secretKey, valueKey, type VersionMeta } from './records.js';
import { type BuiltinRotationHandler, type CallbackEnvironment, type InProcessSecretsManager, invokeStep, ROTATION_STEPS, RotationFunctions, type RotationStep, StepFailure } from './rotation.js';
import { DAY_MS, nextWindow, parseRotationRules, type Schedule, startOfUtcDay } from './schedule.js';

const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const PENDING = 'AWSPENDING';
const DEFAULT_KMS_KEY = 'alias/aws/secretsmanager';
const DEFAULT_RECOVERY_DAYS = 30;
/** AWS removes unlabeled versions beyond 100, but never one younger than a day. */
const PRUNE_ABOVE_VERSIONS = 100;
const PRUNE_MIN_AGE_MS = DAY_MS;
/** Cellar's hard stop for versions that cannot be pruned yet (AWS's version quota). */
const MAX_VERSIONS = 500;
const MAX_TAGS = 50;
const DEFAULT_PAGE = 100;
/** Per scheduler tick: bounds the work one tick may do. */
const MAX_DUE_PER_TICK = 100;
const MAX_CONCURRENT_ROTATIONS = 4;
/** While a rotation runs its due entry is pushed this far out, so one interrupted by a crash is resumed. */
const ROTATION_RESUME_AFTER_MS = 15 * 60_000;
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@!-]+$/; // '!' too, as AWS's own message says (RDS's secrets are rds!db-…)
const NAME_DELIMITERS = /[/_+=.@\- ]/;

const ERR = {
  notFound: () => new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret."),
  deleted: () => new ServiceError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion."),
  replica: () => new ServiceError('InvalidRequestException', "Operation not permitted on a replica secret. Call must be made in primary secret's region."),
  noVersionId: (id: string) => new ServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${id}`),
  noStage: (stage: string) => new ServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${stage}`),
  tokenInUse: (token: string, arn: string) => new ServiceError('ResourceExistsException', `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${arn}.`),
  needToken: () => new ServiceError('InvalidRequestException', 'You must provide a ClientRequestToken value. We recommend a UUID-type value.'),
  bothValues: () => new ServiceError('InvalidParameterException', "You can't specify both a binary secret value and a string secret value in the same secret."),
  badToken: () => new ServiceError('InvalidNextTokenException', 'The NextToken value is invalid.'),
};

interface SecretValue {
  bytes: Buffer;
  binary: boolean;
}

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

function blobBytes(v: api.Blob): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.from(v);
}

function valueOf(input: { SecretString?: string; SecretBinary?: api.Blob }): SecretValue | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) throw ERR.bothValues();
  if (input.SecretString !== undefined) return { bytes: Buffer.from(input.SecretString, 'utf8'), binary: false };
  if (input.SecretBinary !== undefined) return { bytes: blobBytes(input.SecretBinary), binary: true };
  return undefined;
}

function dateOrUndefined(ms: number | undefined): Date | undefined {
  return ms === undefined ? undefined : new Date(ms);
}

function versionWith(rec: SecretRecord, stage: string): VersionMeta | undefined {
  return Object.values(rec.versions).find((v) => v.stages.includes(stage));
}

/** Attaches stage to version `toId`, taking it from wherever it was; AWSCURRENT drags AWSPREVIOUS along as AWS does. */
function attachStage(rec: SecretRecord, stage: string, toId: string): void {
  const target = rec.versions[toId]!;
  const holder = versionWith(rec, stage);
  if (holder?.id === toId) return;
  if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
  if (stage === CURRENT && holder) {
    for (const v of Object.values(rec.versions)) v.stages = v.stages.filter((s) => s !== PREVIOUS);
    holder.stages.push(PREVIOUS);
  }
  target.stages.push(stage);
}

function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset }), 'utf8').toString('base64url');
}

function pageOffset(token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const o = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown }).o;
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch {
    // fall through
  }
  throw ERR.badToken();
}

/** AWS's list filters: prefix match on the whole value or on any word of it; a leading `!` negates. */
function prefixMatch(attribute: string | undefined, value: string, caseSensitive: boolean): boolean {
  if (attribute === undefined) return false;
  const a = caseSensitive ? attribute : attribute.toLowerCase();
  const v = caseSensitive ? value : value.toLowerCase();
  // A match may start at the beginning or at any word boundary (after a delimiter).
  for (let i = 0; i < a.length; i++) {
    if ((i === 0 || NAME_DELIMITERS.test(a[i - 1]!)) && a.startsWith(v, i)) return true;
  }
  return false;
}

function matchesFilters(rec: SecretRecord, filters: api.Filter[] | undefined): boolean {
  for (const f of filters ?? []) {
    const values = f.Values ?? [];
    const positive = values.filter((v) => !v.startsWith('!'));
    const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
    const attrs = (v: string): boolean => {
      switch (f.Key) {
        case 'name':
          return prefixMatch(rec.name, v, true);
        case 'description':
          return prefixMatch(rec.description, v, false);
        case 'tag-key':
          return rec.tags.some((t) => prefixMatch(t.Key, v, true));
        case 'tag-value':
          return rec.tags.some((t) => prefixMatch(t.Value, v, true));
        case 'primary-region':
          return prefixMatch(rec.primaryRegion ?? (rec.replicas.length ? rec.region : undefined), v, true);
        case 'owning-service':
          return prefixMatch(rec.owningService, v, true);
        case 'all':
          return v.split(/\s+/).filter(Boolean).every((word) =>
            [rec.name, rec.description, rec.primaryRegion, rec.owningService, ...rec.tags.flatMap((t) => [t.Key, t.Value])].some((a) => prefixMatch(a, word, false)),
          );
        default:
          return false;
      }
    };
    if (positive.length && !positive.some(attrs)) return false;
    if (negative.some(attrs)) return false;
  }
  return true;
}

export class SecretsManagerProvider implements Partial<api.SecretsManagerApi> {
  readonly repo: SecretRepository;
  readonly functions: RotationFunctions;
  readonly internal: SecretsManagerInternal;
  /** Secrets (by store key) whose rotation is running in this process. */
  private readonly rotating = new Set<string>();
  constructor(private readonly env: ServiceEnv) {
    this.repo = new SecretRepository(env.store);
    this.functions = new RotationFunctions(env.config.rotationFunctions ?? {});
    this.internal = {
      registerBuiltinRotation: (arnOrName, handler) => this.functions.register(arnOrName, handler),
      createSecretOwnedBy: async (ctx, owningService, input) => this.create(input, ctx, owningService),
      enableManagedRotation: (ctx, owningService, secretId, lambdaArn, rules) => this.enableManagedRotation(ctx, owningService, secretId, lambdaArn, rules),
      deleteOwnedSecret: (ctx, owningService, secretId) => {
        const rec = this.ownedBy(ctx, owningService, secretId);
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

  /** The secret if it exists and `owningService` owns it; a secret owned by someone else is never touched. */
  private ownedBy(ctx: RequestContext, owningService: string, secretId: string): SecretRecord | undefined {
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

  private enableManagedRotation(ctx: RequestContext, owningService: string, secretId: string, lambdaArn: string, rules: api.RotationRulesType): void {
    const rec = this.ownedBy(ctx, owningService, secretId);
    if (!rec) throw ERR.notFound();
    if (!this.functions.resolve(lambdaArn)) throw new Error(`rotation function ${lambdaArn} is not registered`);
    if (!parseRotationRules(rules)) throw new ServiceError('InvalidParameterException', 'The rotation schedule is invalid.');
    this.repo.store.transaction(() => {
      rec.rotation = { ...(rec.rotation ?? {}), enabled: true, managed: true, lambdaArn, rules: { ...rules } };
      this.scheduleNext(rec, this.now());
      rec.lastChangedMs = this.now();
      this.commit(rec);
    });
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private kms(): KmsInternal {
    const svc = this.env.built.get('kms');
    if (!svc) throw new Error('Secrets Manager needs KMS, which is not built');
    return (svc.provider as unknown as { internal: KmsInternal }).internal;
  }

  private now(): number {
    return this.env.clock.now();
  }

  /** A context acting in the secret's own account and region (for KMS and background work). */
  private ownerCtx(rec: SecretRecord, operation = 'Background'): RequestContext {
    return backgroundContext(Scope.ofRecord(rec), 'secretsmanager', operation, this.env.clock);
  }

  /**
   * Who KMS sees using the secret's key: the caller, through Secrets Manager (kms:ViaService), as AWS's envelope
   * encryption does; so a caller from another account needs the key policy's permission too, and the AWS managed
   * key aws/secretsmanager (whose policy admits only its own account) cannot serve another account's caller.
   */
  private kmsCaller(rec: SecretRecord, ctx: RequestContext | undefined): KmsCaller {
    return {
      accountId: ctx?.scope.accountId ?? rec.accountId,
      arn: ctx?.callerArn || `arn:aws:iam::${ctx?.scope.accountId ?? rec.accountId}:root`,
      viaService: `secretsmanager.${rec.region}.amazonaws.com`,
    };
  }

  private kmsFailure(kind: 'EncryptionFailure' | 'DecryptionFailure', e: unknown): unknown {
    if (!(e instanceof ServiceError)) return e;
    if (e.code === 'AccessDeniedException') return new ServiceError('AccessDeniedException', 'Access to KMS is not allowed');
    const verb = kind === 'EncryptionFailure' ? 'encrypt' : 'decrypt';
    return new ServiceError(kind, `Secrets Manager can't ${verb} the secret value: ${e.message} (Service: AWSKMS; Status Code: ${e.status}; Error Code: ${e.code}; Request ID: ${randomUUID()}; Proxy: null)`);
  }

  /** Envelope encryption: a fresh KMS data key per version, bound to the secret and version by the encryption context. */
  private seal(rec: SecretRecord, versionId: string, value: SecretValue, kmsKeyId = rec.kmsKeyId, ctx?: RequestContext): SealedValue {
    const ec = { SecretARN: rec.arn, SecretVersionId: versionId };
    let dk: ReturnType<KmsInternal['generateDataKey']>;
    try {
      dk = this.kms().generateDataKey(this.ownerCtx(rec), kmsKeyId || DEFAULT_KMS_KEY, ec, this.kmsCaller(rec, ctx));
    } catch (e) {
      throw this.kmsFailure('EncryptionFailure', e);
    }
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dk.plaintext, iv);
    cipher.setAAD(Buffer.from(`${rec.arn}|${versionId}`, 'utf8'));
    const body = Buffer.concat([cipher.update(value.bytes), cipher.final()]);
    dk.plaintext.fill(0);
    return { keyArn: dk.keyArn, dataKey: dk.ciphertextBlob.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), body: body.toString('base64'), binary: value.binary };
  }

  private open(rec: SecretRecord, versionId: string, ctx?: RequestContext): SecretValue | undefined {
    const sealed = this.repo.values.get(valueKey(rec.arn, versionId));
    if (!sealed) return undefined;
    let dataKey: Buffer;
    try {
      dataKey = this.kms().decrypt(this.ownerCtx(rec), Buffer.from(sealed.dataKey, 'base64'), { SecretARN: rec.arn, SecretVersionId: versionId }, this.kmsCaller(rec, ctx)).plaintext;
    } catch (e) {
      throw this.kmsFailure('DecryptionFailure', e);
    }
    const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(`${rec.arn}|${versionId}`, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const bytes = Buffer.concat([decipher.update(Buffer.from(sealed.body, 'base64')), decipher.final()]);
    dataKey.fill(0);
    return { bytes, binary: sealed.binary };
  }

  /**
   * Finds a secret by name, full ARN or partial ARN (the ARN without its `-xxxxxx` suffix), in the caller's scope or,
   * by ARN, in another account's, and checks that the caller may perform `action` on it (authorize): by default the
   * request's own operation; BatchGetSecretValue asks for secretsmanager:GetSecretValue on each secret, as AWS does.
   */
  private find(ctx: RequestContext, secretId: string, action = `secretsmanager:${ctx.operation}`): SecretRecord {
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

  /**
   * The resource policy's say on this request: across accounts the policy must allow the caller the action; within
   * the account (where Cellar models IAM as allowing everything) only an explicit Deny refuses. Calls made by other
   * services in-process (RDS managing its own secret) and by background work carry no Secrets Manager operation and
   * act for the owner.
   */
  private authorize(ctx: RequestContext, rec: SecretRecord, action = `secretsmanager:${ctx.operation}`): void {
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

  /** A secret that may be changed: not scheduled for deletion, not a replica. */
  private findWritable(ctx: RequestContext, secretId: string): SecretRecord {
    const rec = this.find(ctx, secretId);
    if (rec.primaryRegion) throw ERR.replica();
    if (rec.deletedMs !== undefined) throw ERR.deleted();
    return rec;
  }

  /** Saves a primary and brings its replicas in line with it. */
  private commit(rec: SecretRecord): void {
    this.repo.store.transaction(() => {
      this.repo.save(rec);
      this.syncReplicas(rec);
    });
  }

  private newArn(accountId: string, region: string, name: string): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const suffix = [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
    return `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix}`;
  }

  /**
   * What an existing version with id `token` means for a write: the same value again is a no-op
   * ('same'), an empty placeholder (a rotation's AWSPENDING) is filled in ('fill'), anything else
   * is refused as AWS refuses it.
   */
  private tokenVersion(rec: SecretRecord, token: string, value: SecretValue, ctx: RequestContext): 'same' | 'fill' | undefined {
    const existing = rec.versions[token];
    if (!existing) return undefined;
    if (!existing.kmsKeyArn) return 'fill';
    const stored = this.open(rec, token, ctx);
    if (stored && stored.binary === value.binary && stored.bytes.equals(value.bytes)) return 'same';
    throw ERR.tokenInUse(token, rec.arn);
  }

  /** Writes a version's value and attaches its stages, then prunes deprecated versions as AWS does. */
  private putVersion(rec: SecretRecord, versionId: string, value: SecretValue, stages: string[], ctx: RequestContext): void {
    const now = this.now();
    const isNew = !rec.versions[versionId];
    if (isNew && Object.keys(rec.versions).length >= MAX_VERSIONS) {
      this.pruneVersions(rec, now);
      if (Object.keys(rec.versions).length >= MAX_VERSIONS) throw new ServiceError('LimitExceededException', `You have exceeded the maximum number of versions (${MAX_VERSIONS}) for this secret.`);
    }
    const sealed = this.seal(rec, versionId, value, rec.kmsKeyId, ctx);
    this.repo.values.put(valueKey(rec.arn, versionId), sealed);
    const meta: VersionMeta = rec.versions[versionId] ?? { id: versionId, stages: [], createdMs: now };
    meta.kmsKeyArn = sealed.keyArn;
    rec.versions[versionId] = meta;
    for (const stage of stages) attachStage(rec, stage, versionId);
    rec.lastChangedMs = now;
    // A manual change while rotation is on counts as a rotation for the next date, as AWS documents.
    if (rec.rotation?.enabled && !rec.rotation.pending && stages.includes(CURRENT)) this.scheduleNext(rec, now);
    this.pruneVersions(rec, now);
  }

  private pruneVersions(rec: SecretRecord, now: number): void {
    const ids = Object.keys(rec.versions);
    if (ids.length <= PRUNE_ABOVE_VERSIONS) return;
    const deprecated = Object.values(rec.versions)
      .filter((v) => v.stages.length === 0 && now - v.createdMs >= PRUNE_MIN_AGE_MS)
      .sort((a, b) => a.createdMs - b.createdMs);
    let excess = ids.length - PRUNE_ABOVE_VERSIONS;
    for (const v of deprecated) {
      if (excess-- <= 0) break;
      delete rec.versions[v.id];
      this.repo.values.delete(valueKey(rec.arn, v.id));
    }
  }

  private scheduleNext(rec: SecretRecord, baseMs: number): void {
    const rotation = rec.rotation!;
    rotation.baseMs = baseMs;
    const schedule = parseRotationRules(rotation.rules);
    if (!rotation.enabled || !schedule) {
      rotation.nextStartMs = undefined;
      rotation.nextReportedMs = undefined;
      return;
    }
    const w = nextWindow(schedule, baseMs);
    rotation.nextStartMs = w.startMs;
    rotation.nextReportedMs = w.reportedMs;
  }

  // ---- output shapes ---------------------------------------------------------------------------

  private stagesMap(rec: SecretRecord): Record<string, string[]> | undefined {
    const labeled = Object.values(rec.versions).filter((v) => v.stages.length > 0);
    return labeled.length ? Object.fromEntries(labeled.map((v) => [v.id, [...v.stages]])) : undefined;
  }

  private summary(rec: SecretRecord): api.DescribeSecretResponse {
    const r = rec.rotation;
    return {
      ARN: rec.arn,
      Name: rec.name,
      ...(rec.type !== undefined ? { Type: rec.type } : {}),
      ...(rec.description !== undefined ? { Description: rec.description } : {}),
      ...(rec.kmsKeyId ? { KmsKeyId: rec.kmsKeyId } : {}),
      ...(r
        ? {
            RotationEnabled: r.enabled,
            ...(r.lambdaArn && !r.managed ? { RotationLambdaARN: r.lambdaArn } : {}),
            ...(r.rules ? { RotationRules: r.rules } : {}),
            ...(r.lastRotatedMs !== undefined ? { LastRotatedDate: new Date(r.lastRotatedMs) } : {}),
            ...(r.enabled && r.nextReportedMs !== undefined ? { NextRotationDate: new Date(r.nextReportedMs) } : {}),
          }
        : {}),
      LastChangedDate: new Date(rec.lastChangedMs),
      ...(rec.lastAccessedDayMs !== undefined ? { LastAccessedDate: new Date(rec.lastAccessedDayMs) } : {}),
      ...(rec.deletedMs !== undefined ? { DeletedDate: new Date(rec.deletedMs) } : {}),
      ...(rec.tags.length ? { Tags: rec.tags.map((t) => ({ ...t })) } : {}),
      ...(rec.owningService ? { OwningService: rec.owningService } : {}),
      CreatedDate: new Date(rec.createdMs),
      ...(rec.primaryRegion ? { PrimaryRegion: rec.primaryRegion } : rec.replicas.length ? { PrimaryRegion: rec.region } : {}),
      ...(rec.replicas.length ? { ReplicationStatus: this.replicationStatus(rec) } : {}),
    };
  }

  private replicationStatus(rec: SecretRecord): api.ReplicationStatusType[] {
    return rec.replicas.map((r) => {
      const replica = r.Status === 'InSync' ? this.repo.get(Scope.ofRecord(rec).otherRegion(r.Region), rec.name) : undefined;
      return { ...r, ...(replica?.lastAccessedDayMs !== undefined ? { LastAccessedDate: new Date(replica.lastAccessedDayMs) } : {}) };
    });
  }

  /** Records a read: AWS keeps access dates to the day, so the record is written at most once a day per version. */
  private touch(rec: SecretRecord, versionId: string): void {
    const day = startOfUtcDay(this.now());
    const v = rec.versions[versionId]!;
    if (rec.lastAccessedDayMs === day && v.lastAccessedDayMs === day) return;
    rec.lastAccessedDayMs = day;
    v.lastAccessedDayMs = day;
    this.repo.save(rec);
  }

  // ---- create, read, update --------------------------------------------------------------------

  createSecret(input: api.CreateSecretRequest, ctx: RequestContext): api.CreateSecretResponse {
    return this.create(input, ctx, undefined);
  }

  private create(input: api.CreateSecretRequest, ctx: RequestContext, owningService: string | undefined): api.CreateSecretResponse {
    if (!NAME_PATTERN.test(input.Name)) throw new ServiceError('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!');
    const value = valueOf(input);
    if (value && input.ClientRequestToken === undefined) throw ERR.needToken();
    this.validateTags(input.Tags ?? [], owningService !== undefined);
    const replicaRequests = input.AddReplicaRegions ?? [];
    this.validateReplicaRegions(ctx.scope.region, replicaRequests);
    const existing = this.repo.get(ctx.scope, input.Name);
    if (existing) {
      if (existing.deletedMs !== undefined) throw new ServiceError('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
      // The same request again (same token, same value) is answered as the first one was.
      if (value && input.ClientRequestToken && this.tokenVersion(existing, input.ClientRequestToken, value, ctx) === 'same') {
        return { ARN: existing.arn, Name: existing.name, VersionId: input.ClientRequestToken, ...(existing.replicas.length ? { ReplicationStatus: this.replicationStatus(existing) } : {}) };
      }
      throw new ServiceError('ResourceExistsException', `The operation failed because the secret ${input.Name} already exists.`);
    }
    const now = this.now();
    const rec: SecretRecord = {
      arn: this.newArn(ctx.scope.accountId, ctx.scope.region, input.Name),
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
      if (value) this.putVersion(rec, input.ClientRequestToken!, value, [CURRENT], ctx);
      this.repo.save(rec);
      if (replicaRequests.length) this.addReplicas(rec, replicaRequests, Boolean(input.ForceOverwriteReplicaSecret));
    });
    return { ARN: rec.arn, Name: rec.name, ...(value ? { VersionId: input.ClientRequestToken } : {}), ...(rec.replicas.length ? { ReplicationStatus: this.replicationStatus(rec) } : {}) };
  }

  getSecretValue(input: api.GetSecretValueRequest, ctx: RequestContext): api.GetSecretValueResponse {
    const rec = this.find(ctx, input.SecretId);
    return this.readValue(rec, input.VersionId, input.VersionStage, ctx);
  }

  private readValue(rec: SecretRecord, versionId: string | undefined, versionStage: string | undefined, ctx: RequestContext): api.GetSecretValueResponse {
    if (rec.deletedMs !== undefined) throw ERR.deleted();
    let version: VersionMeta | undefined;
    if (versionId !== undefined) {
      version = rec.versions[versionId];
      if (!version) throw ERR.noVersionId(versionId);
      if (versionStage !== undefined && !version.stages.includes(versionStage)) throw new ServiceError('InvalidRequestException', 'You provided a VersionStage that is not associated to the provided VersionId.');
    } else {
      version = versionWith(rec, versionStage ?? CURRENT);
      if (!version) throw ERR.noStage(versionStage ?? CURRENT);
    }
    const value = this.open(rec, version.id, ctx);
    if (!value) throw versionId !== undefined ? ERR.noVersionId(versionId) : ERR.noStage(versionStage ?? CURRENT);
    this.touch(rec, version.id);
    return {
      ARN: rec.arn,
      Name: rec.name,
      VersionId: version.id,
      ...(value.binary ? { SecretBinary: value.bytes } : { SecretString: value.bytes.toString('utf8') }),
      VersionStages: [...version.stages],
      CreatedDate: new Date(version.createdMs),
    };
  }

  /**
   * BatchGetSecretValue: secretsmanager:BatchGetSecretValue (an identity permission, no resource type: Cellar's IAM
   * allows it) and secretsmanager:GetSecretValue on each secret, which each secret's resource policy decides, then
   * kms:Decrypt on its key through Secrets Manager. A secret the caller may not read is an entry in Errors
   * (AccessDeniedException), by SecretIdList or by Filters, as the API reference says.
   */
  batchGetSecretValue(input: api.BatchGetSecretValueRequest, ctx: RequestContext): api.BatchGetSecretValueResponse {
    const byIds = input.SecretIdList !== undefined;
    if (byIds === (input.Filters !== undefined)) throw new ServiceError('InvalidParameterException', 'Either SecretIdList or Filters must be provided, but not both.');
    const read = 'secretsmanager:GetSecretValue';
    const values: api.SecretValueEntry[] = [];
    const errors: api.APIErrorType[] = [];
    const attempt = (secretId: string, get: () => SecretRecord): void => {
      try {
        values.push(this.readValue(get(), undefined, undefined, ctx));
      } catch (e) {
        if (!(e instanceof ServiceError)) throw e;
        errors.push({ SecretId: secretId, ErrorCode: e.code, Message: e.message });
      }
    };
    if (byIds) {
      if (input.MaxResults !== undefined) throw new ServiceError('InvalidParameterException', 'MaxResults can only be used with Filters.');
      for (const id of input.SecretIdList!) attempt(id, () => this.find(ctx, id, read));
      return { SecretValues: values, Errors: errors };
    }
    const matching = this.repo.list(ctx.scope).filter((r) => r.deletedMs === undefined && matchesFilters(r, input.Filters)).sort((a, b) => a.createdMs - b.createdMs || a.name.localeCompare(b.name));
    const offset = pageOffset(input.NextToken);
    const limit = input.MaxResults ?? 20;
    for (const rec of matching.slice(offset, offset + limit)) {
      attempt(rec.arn, () => {
        this.authorize(ctx, rec, read);
        return rec;
      });
    }
    return { SecretValues: values, Errors: errors, ...(offset + limit < matching.length ? { NextToken: pageToken(offset + limit) } : {}) };
  }

  putSecretValue(input: api.PutSecretValueRequest, ctx: RequestContext): api.PutSecretValueResponse {
    const value = valueOf(input);
    if (!value) throw new ServiceError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    if (input.ClientRequestToken === undefined) throw ERR.needToken();
    const rec = this.findWritable(ctx, input.SecretId);
    const stages = input.VersionStages ?? [CURRENT];
    const token = input.ClientRequestToken;
    if (this.tokenVersion(rec, token, value, ctx) === 'same') {
      return { ARN: rec.arn, Name: rec.name, VersionId: token, VersionStages: [...rec.versions[token]!.stages] };
    }
    this.repo.store.transaction(() => {
      this.putVersion(rec, token, value, stages, ctx);
      this.commit(rec);
    });
    return { ARN: rec.arn, Name: rec.name, VersionId: token, VersionStages: [...rec.versions[token]!.stages] };
  }

  updateSecret(input: api.UpdateSecretRequest, ctx: RequestContext): api.UpdateSecretResponse {
    const value = valueOf(input);
    if (value && input.ClientRequestToken === undefined) throw ERR.needToken();
    const rec = this.findWritable(ctx, input.SecretId);
    if (value && this.tokenVersion(rec, input.ClientRequestToken!, value, ctx) === 'same') {
      return { ARN: rec.arn, Name: rec.name, VersionId: input.ClientRequestToken };
    }
    const now = this.now();
    this.repo.store.transaction(() => {
      if (input.Description !== undefined) rec.description = input.Description;
      if (input.Type !== undefined) rec.type = input.Type;
      if (input.KmsKeyId !== undefined) {
        const newKey = input.KmsKeyId || undefined;
        if (newKey !== rec.kmsKeyId) this.reencryptLabeled(rec, newKey, ctx);
      }
      if (value) this.putVersion(rec, input.ClientRequestToken!, value, [CURRENT], ctx);
      rec.lastChangedMs = now;
      this.commit(rec);
    });
    return { ARN: rec.arn, Name: rec.name, ...(value ? { VersionId: input.ClientRequestToken } : {}) };
  }

  /** A new KMS key re-encrypts the versions that carry AWSCURRENT, AWSPENDING or AWSPREVIOUS, as AWS does. */
  private reencryptLabeled(rec: SecretRecord, kmsKeyId: string | undefined, ctx: RequestContext): void {
    const resealed: Array<[VersionMeta, SealedValue]> = [];
    for (const v of Object.values(rec.versions)) {
      if (!v.kmsKeyArn || !v.stages.some((s) => s === CURRENT || s === PENDING || s === PREVIOUS)) continue;
      const value = this.open(rec, v.id, ctx);
      if (value) resealed.push([v, this.seal(rec, v.id, value, kmsKeyId, ctx)]);
    }
    for (const [v, sealed] of resealed) {
      this.repo.values.put(valueKey(rec.arn, v.id), sealed);
      v.kmsKeyArn = sealed.keyArn;
    }
    if (kmsKeyId) rec.kmsKeyId = kmsKeyId;
    else delete rec.kmsKeyId;
  }

  describeSecret(input: api.DescribeSecretRequest, ctx: RequestContext): api.DescribeSecretResponse {
    const rec = this.find(ctx, input.SecretId);
    const stages = this.stagesMap(rec);
    return { ...this.summary(rec), ...(stages ? { VersionIdsToStages: stages } : {}) };
  }

  listSecrets(input: api.ListSecretsRequest, ctx: RequestContext): api.ListSecretsResponse {
    const sortBy = input.SortBy ?? 'created-date';
    const direction = (input.SortOrder ?? 'desc') === 'asc' ? 1 : -1;
    const keyOf = (r: SecretRecord): number | string => {
      switch (sortBy) {
        case 'name':
          return r.name;
        case 'last-accessed-date':
          return r.lastAccessedDayMs ?? 0;
        case 'last-changed-date':
          return r.lastChangedMs;
        default:
          return r.createdMs;
      }
    };
    const matching = this.repo
      .list(ctx.scope)
      .filter((r) => (input.IncludePlannedDeletion || r.deletedMs === undefined) && matchesFilters(r, input.Filters))
      .sort((a, b) => {
        const ka = keyOf(a);
        const kb = keyOf(b);
        const c = ka < kb ? -1 : ka > kb ? 1 : 0;
        return c * direction || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      });
    const offset = pageOffset(input.NextToken);
    const limit = input.MaxResults ?? DEFAULT_PAGE;
    const page = matching.slice(offset, offset + limit).map((rec): api.SecretListEntry => {
      const stages = this.stagesMap(rec);
      const { ReplicationStatus: _replication, ...entry } = this.summary(rec);
      return { ...entry, ...(stages ? { SecretVersionsToStages: stages } : {}) };
    });
    return { SecretList: page, ...(offset + limit < matching.length ? { NextToken: pageToken(offset + limit) } : {}) };
  }

  listSecretVersionIds(input: api.ListSecretVersionIdsRequest, ctx: RequestContext): api.ListSecretVersionIdsResponse {
    const rec = this.find(ctx, input.SecretId);
    const versions = Object.values(rec.versions)
      .filter((v) => input.IncludeDeprecated || v.stages.length > 0)
      .sort((a, b) => b.createdMs - a.createdMs || (a.id < b.id ? -1 : 1));
    const offset = pageOffset(input.NextToken);
    const limit = input.MaxResults ?? DEFAULT_PAGE;
    return {
      Versions: versions.slice(offset, offset + limit).map((v) => ({
        VersionId: v.id,
        VersionStages: [...v.stages],
        ...(v.lastAccessedDayMs !== undefined ? { LastAccessedDate: new Date(v.lastAccessedDayMs) } : {}),
        CreatedDate: new Date(v.createdMs),
        ...(v.kmsKeyArn ? { KmsKeyIds: [rec.kmsKeyId ? v.kmsKeyArn : 'DefaultEncryptionKey'] } : {}),
      })),
      ...(offset + limit < versions.length ? { NextToken: pageToken(offset + limit) } : {}),
      ARN: rec.arn,
      Name: rec.name,
    };
  }

  updateSecretVersionStage(input: api.UpdateSecretVersionStageRequest, ctx: RequestContext): api.UpdateSecretVersionStageResponse {
    const rec = this.findWritable(ctx, input.SecretId);
    const stage = input.VersionStage;
    const holder = versionWith(rec, stage);
    const { MoveToVersionId: moveTo, RemoveFromVersionId: removeFrom } = input;
    if (moveTo !== undefined && !rec.versions[moveTo]) throw ERR.noVersionId(moveTo);
    if (removeFrom !== undefined && !rec.versions[removeFrom]) throw ERR.noVersionId(removeFrom);
    if (holder && moveTo !== undefined && holder.id !== moveTo && removeFrom === undefined) {
      throw new ServiceError('InvalidParameterException', `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`);
    }
    if (removeFrom !== undefined && holder?.id !== removeFrom) {
      throw new ServiceError('InvalidParameterException', `The staging label ${stage} is not attached to version ${removeFrom}, so you can't remove it from that version.`);
    }
    if (stage === CURRENT && moveTo === undefined && removeFrom !== undefined) {
      throw new ServiceError('InvalidParameterException', `You can only move staging label ${CURRENT} to a different secret version. It can't be completely removed.`);
    }
    if (moveTo !== undefined && rec.versions[moveTo]!.stages.length >= 20 && !rec.versions[moveTo]!.stages.includes(stage)) {
      throw new ServiceError('LimitExceededException', 'A version of a secret can have at most 20 staging labels.');
    }
    this.repo.store.transaction(() => {
      if (moveTo !== undefined) attachStage(rec, stage, moveTo);
      else if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
      rec.lastChangedMs = this.now();
      // finishSecret moving AWSCURRENT to the pending version is what completes a rotation.
      this.commit(rec);
    });
    return { ARN: rec.arn, Name: rec.name };
  }

  // ---- deletion --------------------------------------------------------------------------------

  deleteSecret(input: api.DeleteSecretRequest, ctx: RequestContext): api.DeleteSecretResponse {
    const force = Boolean(input.ForceDeleteWithoutRecovery);
    if (force && input.RecoveryWindowInDays !== undefined) throw new ServiceError('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    const days = input.RecoveryWindowInDays ?? DEFAULT_RECOVERY_DAYS;
    if (!force && (days < 7 || days > 30)) throw new ServiceError('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    const rec = this.find(ctx, input.SecretId);
    if (rec.primaryRegion) throw ERR.replica();
    if (rec.replicas.length) throw new ServiceError('InvalidRequestException', `You can't delete secret ${rec.name} because it is replicated to other Regions. Remove the replicas first with RemoveRegionsFromReplication.`);
    const now = this.now();
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
    const rec = this.find(ctx, input.SecretId);
    if (rec.primaryRegion) throw ERR.replica();
    if (rec.deletedMs !== undefined) {
      delete rec.deletedMs;
      delete rec.deletionDueMs;
      rec.lastChangedMs = this.now();
      this.repo.save(rec);
    }
    return { ARN: rec.arn, Name: rec.name };
  }

  // ---- tags ------------------------------------------------------------------------------------

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
    const rec = this.findWritable(ctx, input.SecretId);
    const merged = new Map(rec.tags.map((t) => [t.Key!, t.Value ?? '']));
    for (const t of input.Tags) merged.set(t.Key!, t.Value ?? '');
    if (merged.size > MAX_TAGS) throw new ServiceError('InvalidParameterException', `A secret can have at most ${MAX_TAGS} tags.`);
    rec.tags = [...merged].map(([Key, Value]) => ({ Key, Value }));
    rec.lastChangedMs = this.now();
    this.commit(rec);
  }

  untagResource(input: api.UntagResourceRequest, ctx: RequestContext): void {
    const rec = this.findWritable(ctx, input.SecretId);
    const drop = new Set(input.TagKeys);
    rec.tags = rec.tags.filter((t) => !drop.has(t.Key!));
    rec.lastChangedMs = this.now();
    this.commit(rec);
  }

  // ---- resource policies -----------------------------------------------------------------------

  putResourcePolicy(input: api.PutResourcePolicyRequest, ctx: RequestContext): api.PutResourcePolicyResponse {
    const problems = syntaxProblems(input.ResourcePolicy);
    if (problems.length) throw new ServiceError('MalformedPolicyDocumentException', problems[0]!.message);
    if (input.BlockPublicPolicy && isPublic(input.ResourcePolicy)) {
      throw new ServiceError('PublicPolicyException', 'The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to the secret.');
    }
    const rec = this.findWritable(ctx, input.SecretId);
    rec.policy = input.ResourcePolicy;
    rec.lastChangedMs = this.now();
    this.commit(rec);
    return { ARN: rec.arn, Name: rec.name };
  }

  getResourcePolicy(input: api.GetResourcePolicyRequest, ctx: RequestContext): api.GetResourcePolicyResponse {
    const rec = this.find(ctx, input.SecretId);
    if (rec.deletedMs !== undefined) throw ERR.deleted();
    return { ARN: rec.arn, Name: rec.name, ...(rec.policy ? { ResourcePolicy: rec.policy } : {}) };
  }

  deleteResourcePolicy(input: api.DeleteResourcePolicyRequest, ctx: RequestContext): api.DeleteResourcePolicyResponse {
    const rec = this.findWritable(ctx, input.SecretId);
    if (rec.policy !== undefined) {
      delete rec.policy;
      rec.lastChangedMs = this.now();
      this.commit(rec);
    }
    return { ARN: rec.arn, Name: rec.name };
  }

  validateResourcePolicy(input: api.ValidateResourcePolicyRequest, ctx: RequestContext): api.ValidateResourcePolicyResponse {
    if (input.SecretId !== undefined) this.find(ctx, input.SecretId);
    const problems = syntaxProblems(input.ResourcePolicy);
    if (problems.length && problems[0]!.message.includes('not valid JSON')) throw new ServiceError('MalformedPolicyDocumentException', problems[0]!.message);
    if (!problems.length && isPublic(input.ResourcePolicy)) problems.push({ checkName: 'PUBLIC_ACCESS_CHECK', message: 'The resource policy grants broad access to the secret: a principal of "*" with no condition.' });
    return { PolicyValidationPassed: problems.length === 0, ValidationErrors: problems.map((p) => ({ CheckName: p.checkName, ErrorMessage: p.message })) };
  }

  getRandomPassword(input: api.GetRandomPasswordRequest): api.GetRandomPasswordResponse {
    return { RandomPassword: randomPassword(input) };
  }

  // ---- replication -----------------------------------------------------------------------------

  private validateReplicaRegions(primaryRegion: string, requests: api.ReplicaRegionType[]): void {
    const seen = new Set<string>();
    for (const r of requests) {
      // A region names state (core/scope.ts): only a well-formed region name is a replica region.
      if (!r.Region || !isRegionName(r.Region) || r.Region === primaryRegion || seen.has(r.Region)) throw new ServiceError('InvalidParameterException', 'Invalid replica region.');
      seen.add(r.Region);
    }
  }

  /** Creates replicas in other regions of this Cellar; a name taken there fails that replica unless ForceOverwriteReplicaSecret. */
  private addReplicas(rec: SecretRecord, requests: api.ReplicaRegionType[], force: boolean): void {
    for (const req of requests) {
      const region = req.Region!;
      const state: ReplicaState = { Region: region, KmsKeyId: req.KmsKeyId || DEFAULT_KMS_KEY, Status: 'InSync', StatusMessage: 'Replication succeeded' };
      const taken = this.repo.get(Scope.ofRecord(rec).otherRegion(region), rec.name);
      if (taken && !(taken.primaryRegion === rec.region && taken.arn.endsWith(rec.arn.slice(-7)))) {
        if (!force) {
          state.Status = 'Failed';
          state.StatusMessage = `Replication failed: Secret name ${rec.name} already exists in region ${region}.`;
        } else {
          this.repo.purge(taken);
        }
      }
      rec.replicas = [...rec.replicas.filter((r) => r.Region !== region), state];
    }
    this.repo.save(rec);
    this.syncReplicas(rec);
  }

  /** Copies a primary into each in-sync replica: metadata as is, values re-encrypted under the replica region's key. */
  private syncReplicas(rec: SecretRecord): void {
    for (const state of rec.replicas) {
      if (state.Status !== 'InSync') continue;
      const replicaArn = rec.arn.replace(`:secretsmanager:${rec.region}:`, `:secretsmanager:${state.Region}:`);
      const existing = this.repo.get(Scope.ofRecord(rec).otherRegion(state.Region), rec.name);
      const replica: SecretRecord = {
        ...structuredClone(rec),
        arn: replicaArn,
        region: state.Region,
        primaryRegion: rec.region,
        replicas: [],
        kmsKeyId: state.KmsKeyId === DEFAULT_KMS_KEY ? undefined : state.KmsKeyId,
        versions: {},
        dueKeys: existing?.dueKeys ?? [],
        ...(existing?.lastAccessedDayMs !== undefined ? { lastAccessedDayMs: existing.lastAccessedDayMs } : {}),
      };
      delete replica.rotation;
      if (replica.kmsKeyId === undefined) delete replica.kmsKeyId;
      for (const v of Object.values(rec.versions)) {
        const had = existing?.versions[v.id];
        const meta: VersionMeta = { ...v, stages: [...v.stages] };
        if (had?.lastAccessedDayMs !== undefined) meta.lastAccessedDayMs = had.lastAccessedDayMs;
        if (v.kmsKeyArn && !had?.kmsKeyArn) {
          const value = this.open(rec, v.id);
          if (value) {
            const sealed = this.seal(replica, v.id, value);
            this.repo.values.put(valueKey(replicaArn, v.id), sealed);
            meta.kmsKeyArn = sealed.keyArn;
          }
        } else if (had?.kmsKeyArn) {
          meta.kmsKeyArn = had.kmsKeyArn;
        }
        replica.versions[v.id] = meta;
      }
      for (const id of Object.keys(existing?.versions ?? {})) if (!rec.versions[id]) this.repo.values.delete(valueKey(replicaArn, id));
      this.repo.save(replica);
    }
  }

  replicateSecretToRegions(input: api.ReplicateSecretToRegionsRequest, ctx: RequestContext): api.ReplicateSecretToRegionsResponse {
    const rec = this.findWritable(ctx, input.SecretId);
    this.validateReplicaRegions(rec.region, input.AddReplicaRegions);
    this.repo.store.transaction(() => this.addReplicas(rec, input.AddReplicaRegions, Boolean(input.ForceOverwriteReplicaSecret)));
    return { ARN: rec.arn, ReplicationStatus: this.replicationStatus(rec) };
  }

  removeRegionsFromReplication(input: api.RemoveRegionsFromReplicationRequest, ctx: RequestContext): api.RemoveRegionsFromReplicationResponse {
    const rec = this.findWritable(ctx, input.SecretId);
    const remove = new Set(input.RemoveReplicaRegions);
    for (const region of remove) {
      if (!rec.replicas.some((r) => r.Region === region)) throw new ServiceError('InvalidParameterException', `The secret isn't replicated to Region ${region}.`);
    }
    this.repo.store.transaction(() => {
      for (const region of remove) {
        const state = rec.replicas.find((r) => r.Region === region)!;
        const replica = state.Status === 'InSync' ? this.repo.get(Scope.ofRecord(rec).otherRegion(region), rec.name) : undefined;
        if (replica?.primaryRegion === rec.region) this.repo.purge(replica);
      }
      rec.replicas = rec.replicas.filter((r) => !remove.has(r.Region));
      rec.lastChangedMs = this.now();
      this.repo.save(rec);
    });
    return { ARN: rec.arn, ReplicationStatus: this.replicationStatus(rec) };
  }

  stopReplicationToReplica(input: api.StopReplicationToReplicaRequest, ctx: RequestContext): api.StopReplicationToReplicaResponse {
    const replica = this.find(ctx, input.SecretId);
    if (!replica.primaryRegion) throw new ServiceError('InvalidRequestException', 'StopReplicationToReplica can only be called on a replica secret, in its own Region.');
    this.repo.store.transaction(() => {
      const primary = this.repo.get(Scope.ofRecord(replica).otherRegion(replica.primaryRegion!), replica.name);
      if (primary) {
        primary.replicas = primary.replicas.filter((r) => r.Region !== replica.region);
        this.repo.save(primary);
      }
      delete replica.primaryRegion;
      replica.lastChangedMs = this.now();
      this.repo.save(replica);
    });
    return { ARN: replica.arn };
  }

  // ---- rotation --------------------------------------------------------------------------------

  rotateSecret(input: api.RotateSecretRequest, ctx: RequestContext): api.RotateSecretResponse {
    const rec = this.findWritable(ctx, input.SecretId);
    const schedule: Schedule | undefined = parseRotationRules(input.RotationRules);
    const lambdaArn = input.RotationLambdaARN || rec.rotation?.lambdaArn;
    if (!lambdaArn) throw new ServiceError('InvalidRequestException', 'No Lambda rotation function ARN is associated with this secret.');
    if (!this.functions.resolve(lambdaArn)) {
      throw new ServiceError('AccessDeniedException', 'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.');
    }
    const key = secretKey(rec);
    const pendingVersion = versionWith(rec, PENDING);
    const current = versionWith(rec, CURRENT);
    const token = input.ClientRequestToken ?? randomUUID();
    if (pendingVersion && pendingVersion.id !== current?.id && pendingVersion.id !== token) {
      // AWS refuses a new rotation while one is unfinished, and tries the unfinished one again.
      this.reattempt(key);
      throw new ServiceError('InvalidRequestException', "A previous rotation isn't complete. That rotation will be reattempted.");
    }
    if (rec.versions[token] && rec.versions[token] !== pendingVersion) throw ERR.tokenInUse(token, rec.arn);
    if (this.rotating.has(key)) throw new ServiceError('InvalidRequestException', "A previous rotation isn't complete. That rotation will be reattempted.");
    const now = this.now();
    const immediately = input.RotateImmediately ?? true;
    this.repo.store.transaction(() => {
      rec.rotation = {
        ...(rec.rotation ?? {}),
        enabled: true,
        lambdaArn,
        ...(input.RotationRules && schedule ? { rules: { ...input.RotationRules } } : {}),
      };
      delete rec.rotation.lastFailure;
      if (!rec.versions[token]) rec.versions[token] = { id: token, stages: [], createdMs: now };
      attachStage(rec, PENDING, token);
      rec.rotation.pending = { token, rotationToken: randomUUID(), immediately, startedMs: now, state: 'running' };
      // The first window is counted from now when not rotating now, otherwise from the rotation's end.
      this.scheduleNext(rec, now);
      if (rec.rotation.nextStartMs !== undefined) rec.rotation.nextStartMs = Math.max(rec.rotation.nextStartMs, now + ROTATION_RESUME_AFTER_MS);
      rec.lastChangedMs = now;
      this.commit(rec);
    });
    void this.runRotation(key);
    return { ARN: rec.arn, Name: rec.name, VersionId: token };
  }

  cancelRotateSecret(input: api.CancelRotateSecretRequest, ctx: RequestContext): api.CancelRotateSecretResponse {
    const rec = this.findWritable(ctx, input.SecretId);
    if (!rec.rotation?.lambdaArn) {
      throw new ServiceError('InvalidRequestException', "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.");
    }
    const pending = rec.rotation.pending;
    rec.rotation.enabled = false;
    delete rec.rotation.pending;
    delete rec.rotation.nextStartMs;
    delete rec.rotation.nextReportedMs;
    rec.lastChangedMs = this.now();
    this.commit(rec);
    return { ARN: rec.arn, Name: rec.name, ...(pending ? { VersionId: pending.token } : {}) };
  }

  /** Starts the unfinished rotation again with its own token (after a failure, a crash, or a refused RotateSecret). */
  private reattempt(key: string): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation?.enabled || this.rotating.has(key) || rec.deletedMs !== undefined) return;
    const current = versionWith(rec, CURRENT);
    const pendingVersion = versionWith(rec, PENDING);
    if (!pendingVersion || pendingVersion.id === current?.id) return;
    const now = this.now();
    rec.rotation.pending = { token: pendingVersion.id, rotationToken: rec.rotation.pending?.rotationToken ?? randomUUID(), immediately: true, startedMs: now, state: 'running' };
    rec.rotation.nextStartMs = now + ROTATION_RESUME_AFTER_MS;
    this.repo.save(rec);
    void this.runRotation(key);
  }

  /** A scheduled rotation: a new AWSPENDING placeholder with a fresh token, then the four steps. */
  private startScheduledRotation(key: string): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation?.enabled || rec.deletedMs !== undefined || rec.primaryRegion || this.rotating.has(key)) return;
    const pendingVersion = versionWith(rec, PENDING);
    const current = versionWith(rec, CURRENT);
    if (pendingVersion && pendingVersion.id !== current?.id) {
      this.reattempt(key);
      return;
    }
    const now = this.now();
    const token = randomUUID();
    rec.versions[token] = { id: token, stages: [], createdMs: now };
    attachStage(rec, PENDING, token);
    rec.rotation.pending = { token, rotationToken: randomUUID(), immediately: true, startedMs: now, state: 'running' };
    rec.rotation.nextStartMs = now + ROTATION_RESUME_AFTER_MS;
    this.repo.save(rec);
    void this.runRotation(key);
  }

  private callbackFor(rec: SecretRecord, functionName: string, timeoutMs: number): CallbackEnvironment {
    const accessKeyId = 'ASIA' + randomBytes(10).toString('hex').toUpperCase().slice(0, 16);
    const secretAccessKey = randomBytes(30).toString('base64');
    const sessionToken = randomBytes(64).toString('base64');
    this.env.credentials.addTemporary({
      accessKeyId,
      secretAccessKey,
      sessionToken,
      accountId: rec.accountId,
      arn: `arn:aws:sts::${rec.accountId}:assumed-role/cellar-secretsmanager-rotation/${functionName}`,
      userId: `AROACELLARROTATION:${functionName}`,
      expiresAtMs: this.now() + timeoutMs + 60_000,
    });
    return { endpoint: this.env.endpoint ?? `http://127.0.0.1:${this.env.config.port}`, region: rec.region, accessKeyId, secretAccessKey, sessionToken };
  }

  private inProcessClient(rec: SecretRecord): InProcessSecretsManager {
    const ctx = (op: string) => this.ownerCtx(rec, op);
    return {
      describeSecret: async (i) => this.describeSecret(i, ctx('DescribeSecret')),
      getSecretValue: async (i) => this.getSecretValue(i, ctx('GetSecretValue')),
      putSecretValue: async (i) => this.putSecretValue(i, ctx('PutSecretValue')),
      updateSecretVersionStage: async (i) => this.updateSecretVersionStage(i, ctx('UpdateSecretVersionStage')),
      getRandomPassword: async (i) => this.getRandomPassword(i),
    };
  }

  /** Runs the pending rotation of one secret to its end: success moves the schedule on, a failed step is recorded. */
  private async runRotation(key: string): Promise<void> {
    if (this.rotating.has(key) || this.rotating.size >= MAX_CONCURRENT_ROTATIONS) return;
    this.rotating.add(key);
    let pending: PendingRotation | undefined;
    try {
      const rec = this.repo.byStoreKey(key);
      pending = rec?.rotation?.pending;
      if (!rec || !pending || !rec.rotation?.lambdaArn) return;
      const fn = this.functions.resolve(rec.rotation.lambdaArn);
      const steps: readonly RotationStep[] = pending.immediately ? ROTATION_STEPS : ['testSecret'];
      log('info', 'rotation started', { secret: rec.arn, token: pending.token, function: rec.rotation.lambdaArn, steps: steps.join(',') });
      for (const step of steps) {
        if (!fn) {
          this.recordFailure(key, pending, step, `rotation function ${rec.rotation.lambdaArn} is not configured`);
          return;
        }
        const event = { Step: step, SecretId: rec.arn, ClientRequestToken: pending.token, RotationToken: pending.rotationToken };
        faultPoint('secretsmanager.rotation');
        try {
          await invokeStep(fn, event, () => this.inProcessClient(rec), () => this.callbackFor(rec, fn.name, fn.timeoutMs));
        } catch (e) {
          this.recordFailure(key, pending, step, e instanceof StepFailure ? e.message : String(e));
          return;
        }
        // Cancelled (CancelRotateSecret) or deleted while the step ran: stop here.
        const now = this.repo.byStoreKey(key);
        if (!now?.rotation?.pending || now.rotation.pending.token !== pending.token) return;
      }
      this.completeRotation(key, pending);
    } catch (e) {
      // Background work: an unexpected failure (a store error, say) fails this rotation as a failed step would,
      // never the process; the schedule tries it again.
      const message = e instanceof Error ? e.message : String(e);
      log('error', 'rotation failed unexpectedly', { secret: key, error: message });
      try {
        if (pending) this.recordFailure(key, pending, 'rotation', message);
      } catch {
        // the record stays as it was: the rotation is resumed at the next start
      }
    } finally {
      this.rotating.delete(key);
    }
  }

  private completeRotation(key: string, pending: PendingRotation): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation) return;
    const now = this.now();
    if (pending.immediately) {
      if (versionWith(rec, CURRENT)?.id !== pending.token) {
        this.recordFailure(key, pending, 'finishSecret', `finishSecret did not attach ${CURRENT} to version ${pending.token}`);
        return;
      }
      rec.rotation.lastRotatedMs = now;
      rec.lastChangedMs = now;
    } else {
      // RotateImmediately=false only tests the function: the placeholder version goes away again.
      const placeholder = rec.versions[pending.token];
      if (placeholder && !placeholder.kmsKeyArn) delete rec.versions[pending.token];
      else if (placeholder) placeholder.stages = placeholder.stages.filter((s) => s !== PENDING);
    }
    delete rec.rotation.pending;
    delete rec.rotation.lastFailure;
    this.scheduleNext(rec, pending.immediately ? now : (rec.rotation.baseMs ?? now));
    this.commit(rec);
    log('info', 'rotation succeeded', { secret: rec.arn, token: pending.token, testOnly: !pending.immediately });
  }

  /** A failed step leaves AWSCURRENT alone and AWSPENDING where it is, as AWS does; the next window tries again. */
  private recordFailure(key: string, pending: PendingRotation, step: string, message: string): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation) return;
    const now = this.now();
    rec.rotation.lastFailure = { step, message, atMs: now };
    if (rec.rotation.pending?.token === pending.token) rec.rotation.pending = { ...rec.rotation.pending, state: 'failed' };
    this.scheduleNext(rec, now);
    this.commit(rec);
    log('warn', 'rotation failed', { secret: rec.arn, token: pending.token, step, error: message.slice(0, 500) });
  }

  // ---- the scheduler ---------------------------------------------------------------------------

  /**
   * One pass of the scheduler: carries out deletions whose recovery window has ended and starts
   * rotations whose window has opened. Bounded per pass; called on a timer and once at start, which
   * catches up on whatever fell due while Cellar was down. Returns a sentence saying what it did.
   */
  tick(): string {
    faultPoint('secretsmanager.tick');
    const now = this.now();
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
      } else if (this.rotating.size < MAX_CONCURRENT_ROTATIONS && !this.rotating.has(due.key)) {
        this.startScheduledRotation(due.key);
        rotations++;
      }
    }
    return deleted || rotations ? `deleted ${deleted} secret(s) whose recovery window ended; started ${rotations} rotation(s)` : 'nothing due';
  }

  /** At start: rotations that were running when Cellar stopped are run again, as a Lambda retry would. */
  resumeInterrupted(): number {
    let resumed = 0;
    for (const rec of this.repo.all()) {
      if (rec.rotation?.pending?.state === 'running' && resumed < MAX_CONCURRENT_ROTATIONS) {
        const key = secretKey(rec);
        if (rec.rotation.pending.immediately) this.reattempt(key);
        else void this.runRotation(key);
        resumed++;
      }
    }
    return resumed;
  }

  health(): Record<string, unknown> {
    return { rotationsRunning: this.rotating.size };
  }
}
