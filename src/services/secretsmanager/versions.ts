/**
 * @module services/secretsmanager/versions
 * A secret's versions and their values: writing a version (ClientRequestToken idempotency, staging labels, pruning
 * as AWS prunes), reading one by id or label, moving labels, and re-encrypting the labelled versions under another
 * key.
 */
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import type * as api from '../../models/secretsmanager.js';
import type { SecretAccess } from './access.js';
import { type Envelope, type SecretValue, valueOf } from './envelope.js';
import { ERR } from './errors.js';
import { type SealedValue, type SecretRecord, type SecretRepository, valueKey, type VersionMeta } from './records.js';
import type { Replication } from './replication.js';
import { DAY_MS, scheduleNextRotation, startOfUtcDay } from './schedule.js';
import { attachStage, CURRENT, PENDING, PREVIOUS, versionWith } from './staging-labels.js';

/** AWS removes unlabeled versions beyond 100, but never one younger than a day. */
const PRUNE_ABOVE_VERSIONS = 100;
const PRUNE_MIN_AGE_MS = DAY_MS;
/** Cellar's hard stop for versions that cannot be pruned yet (AWS's version quota). */
const MAX_VERSIONS = 500;
/** AWS's quota of staging labels on one version. */
const MAX_STAGES_PER_VERSION = 20;

export class SecretVersions {
  constructor(private readonly repo: SecretRepository, private readonly envelope: Envelope, private readonly access: SecretAccess, private readonly replication: Replication, private readonly clock: Clock) {}

  /**
   * What an existing version with id `token` means for a write: the same value again is a no-op
   * ('same'), an empty placeholder (a rotation's AWSPENDING) is filled in ('fill'), anything else
   * is refused as AWS refuses it.
   */
  tokenVersion(rec: SecretRecord, token: string, value: SecretValue, ctx: RequestContext): 'same' | 'fill' | undefined {
    const existing = rec.versions[token];
    if (!existing) return undefined;
    if (!existing.kmsKeyArn) return 'fill';
    const stored = this.envelope.open(rec, token, ctx);
    if (stored && stored.binary === value.binary && stored.bytes.equals(value.bytes)) return 'same';
    throw ERR.tokenInUse(token, rec.arn);
  }

  /** Writes a version's value and attaches its stages, then prunes deprecated versions as AWS does. */
  putVersion(rec: SecretRecord, versionId: string, value: SecretValue, stages: string[], ctx: RequestContext): void {
    const now = this.clock.now();
    const isNew = !rec.versions[versionId];
    if (isNew && Object.keys(rec.versions).length >= MAX_VERSIONS) {
      this.pruneVersions(rec, now);
      if (Object.keys(rec.versions).length >= MAX_VERSIONS) throw new ServiceError('LimitExceededException', `You have exceeded the maximum number of versions (${MAX_VERSIONS}) for this secret.`);
    }
    const sealed = this.envelope.seal(rec, versionId, value, rec.kmsKeyId, ctx);
    this.repo.values.put(valueKey(rec.arn, versionId), sealed);
    const meta: VersionMeta = rec.versions[versionId] ?? { id: versionId, stages: [], createdMs: now };
    meta.kmsKeyArn = sealed.keyArn;
    rec.versions[versionId] = meta;
    for (const stage of stages) attachStage(rec, stage, versionId);
    rec.lastChangedMs = now;
    // A manual change while rotation is on counts as a rotation for the next date, as AWS documents.
    if (rec.rotation?.enabled && !rec.rotation.pending && stages.includes(CURRENT)) scheduleNextRotation(rec.rotation, now);
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

  /** A new KMS key re-encrypts the versions that carry AWSCURRENT, AWSPENDING or AWSPREVIOUS, as AWS does. */
  reencryptLabeled(rec: SecretRecord, kmsKeyId: string | undefined, ctx: RequestContext): void {
    const resealed: Array<[VersionMeta, SealedValue]> = [];
    for (const v of Object.values(rec.versions)) {
      if (!v.kmsKeyArn || !v.stages.some((s) => s === CURRENT || s === PENDING || s === PREVIOUS)) continue;
      const value = this.envelope.open(rec, v.id, ctx);
      if (value) resealed.push([v, this.envelope.seal(rec, v.id, value, kmsKeyId, ctx)]);
    }
    for (const [v, sealed] of resealed) {
      this.repo.values.put(valueKey(rec.arn, v.id), sealed);
      v.kmsKeyArn = sealed.keyArn;
    }
    if (kmsKeyId) rec.kmsKeyId = kmsKeyId;
    else delete rec.kmsKeyId;
  }

  /** Records a read: AWS keeps access dates to the day, so the record is written at most once a day per version. */
  private touch(rec: SecretRecord, versionId: string): void {
    const day = startOfUtcDay(this.clock.now());
    const v = rec.versions[versionId]!;
    if (rec.lastAccessedDayMs === day && v.lastAccessedDayMs === day) return;
    rec.lastAccessedDayMs = day;
    v.lastAccessedDayMs = day;
    this.repo.save(rec);
  }

  getSecretValue(input: api.GetSecretValueRequest, ctx: RequestContext): api.GetSecretValueResponse {
    const rec = this.access.find(ctx, input.SecretId);
    return this.readValue(rec, input.VersionId, input.VersionStage, ctx);
  }

  /** GetSecretValue of a secret already found: by version id, by staging label, or AWSCURRENT. */
  readValue(rec: SecretRecord, versionId: string | undefined, versionStage: string | undefined, ctx: RequestContext): api.GetSecretValueResponse {
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
    const value = this.envelope.open(rec, version.id, ctx);
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

  putSecretValue(input: api.PutSecretValueRequest, ctx: RequestContext): api.PutSecretValueResponse {
    const value = valueOf(input);
    if (!value) throw new ServiceError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    if (input.ClientRequestToken === undefined) throw ERR.needToken();
    const rec = this.access.findWritable(ctx, input.SecretId);
    const stages = input.VersionStages ?? [CURRENT];
    const token = input.ClientRequestToken;
    if (this.tokenVersion(rec, token, value, ctx) === 'same') {
      return { ARN: rec.arn, Name: rec.name, VersionId: token, VersionStages: [...rec.versions[token]!.stages] };
    }
    this.repo.store.transaction(() => {
      this.putVersion(rec, token, value, stages, ctx);
      this.replication.commit(rec);
    });
    return { ARN: rec.arn, Name: rec.name, VersionId: token, VersionStages: [...rec.versions[token]!.stages] };
  }

  updateSecretVersionStage(input: api.UpdateSecretVersionStageRequest, ctx: RequestContext): api.UpdateSecretVersionStageResponse {
    const rec = this.access.findWritable(ctx, input.SecretId);
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
    if (moveTo !== undefined && rec.versions[moveTo]!.stages.length >= MAX_STAGES_PER_VERSION && !rec.versions[moveTo]!.stages.includes(stage)) {
      throw new ServiceError('LimitExceededException', `A version of a secret can have at most ${MAX_STAGES_PER_VERSION} staging labels.`);
    }
    this.repo.store.transaction(() => {
      if (moveTo !== undefined) attachStage(rec, stage, moveTo);
      else if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
      rec.lastChangedMs = this.clock.now();
      // finishSecret moving AWSCURRENT to the pending version is what completes a rotation.
      this.replication.commit(rec);
    });
    return { ARN: rec.arn, Name: rec.name };
  }
}
