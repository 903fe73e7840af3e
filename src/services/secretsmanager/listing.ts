/**
 * @module services/secretsmanager/listing
 * What callers read about secrets without changing them: DescribeSecret, ListSecrets, ListSecretVersionIds and
 * BatchGetSecretValue, in AWS's output shapes, paged and filtered as AWS pages and filters them.
 */
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import type * as api from '../../models/secretsmanager.js';
import type { SecretAccess } from './access.js';
import { matchesFilters, pageOffset, pageToken } from './list-filters.js';
import type { SecretRecord, SecretRepository } from './records.js';
import type { Replication } from './replication.js';
import type { SecretVersions } from './versions.js';

const DEFAULT_PAGE = 100;
/** BatchGetSecretValue's page when it lists by Filters. */
const DEFAULT_BATCH_PAGE = 20;

export class SecretListing {
  constructor(private readonly repo: SecretRepository, private readonly access: SecretAccess, private readonly replication: Replication, private readonly versions: SecretVersions) {}

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
      ...(rec.replicas.length ? { ReplicationStatus: this.replication.status(rec) } : {}),
    };
  }

  describeSecret(input: api.DescribeSecretRequest, ctx: RequestContext): api.DescribeSecretResponse {
    const rec = this.access.find(ctx, input.SecretId);
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
    const rec = this.access.find(ctx, input.SecretId);
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
        values.push(this.versions.readValue(get(), undefined, undefined, ctx));
      } catch (e) {
        if (!(e instanceof ServiceError)) throw e;
        errors.push({ SecretId: secretId, ErrorCode: e.code, Message: e.message });
      }
    };
    if (byIds) {
      if (input.MaxResults !== undefined) throw new ServiceError('InvalidParameterException', 'MaxResults can only be used with Filters.');
      for (const id of input.SecretIdList!) attempt(id, () => this.access.find(ctx, id, read));
      return { SecretValues: values, Errors: errors };
    }
    const matching = this.repo.list(ctx.scope).filter((r) => r.deletedMs === undefined && matchesFilters(r, input.Filters)).sort((a, b) => a.createdMs - b.createdMs || a.name.localeCompare(b.name));
    const offset = pageOffset(input.NextToken);
    const limit = input.MaxResults ?? DEFAULT_BATCH_PAGE;
    for (const rec of matching.slice(offset, offset + limit)) {
      attempt(rec.arn, () => {
        this.access.authorize(ctx, rec, read);
        return rec;
      });
    }
    return { SecretValues: values, Errors: errors, ...(offset + limit < matching.length ? { NextToken: pageToken(offset + limit) } : {}) };
  }
}
