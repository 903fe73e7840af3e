/**
 * @module services/kms/key-lifecycle
 * A key's life: created (symmetric keys only), described and listed, enabled and disabled, tagged, scheduled for
 * deletion after a waiting period and deleted when it ends (see `purge`), or brought back (disabled) before then.
 */
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import { Scope } from '../../core/scope.js';
import type * as api from '../../models/kms.js';
import type { KeyAccess } from './key-access.js';
import { checkPolicy } from './key-policies.js';
import { page } from './paging.js';
import { DAY_MS, type KeyRecord, type KmsTables } from './records.js';

const MAX_TAGS = 50;

function tagsFrom(tags: api.Tag[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags) {
    if (t.TagKey.startsWith('aws:')) throw new ServiceError('TagException', 'Tags beginning with aws: are reserved');
    out[t.TagKey] = t.TagValue;
  }
  if (Object.keys(out).length > MAX_TAGS) throw new ServiceError('TagException', `Too many tags: a key can have at most ${MAX_TAGS}`);
  return out;
}

function metadata(key: KeyRecord): api.KeyMetadata {
  return {
    AWSAccountId: key.accountId,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: new Date(key.createdMs),
    Enabled: key.state === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.state,
    ...(key.deletionMs !== undefined ? { DeletionDate: new Date(key.deletionMs), PendingDeletionWindowInDays: key.pendingWindowDays } : {}),
    Origin: 'AWS_KMS',
    KeyManager: key.keyManager,
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: key.multiRegion,
    ...(key.multiRegion ? { MultiRegionConfiguration: { MultiRegionKeyType: 'PRIMARY', PrimaryKey: { Arn: key.arn, Region: key.region }, ReplicaKeys: [] } } : {}),
    CurrentKeyMaterialId: key.materials[key.materials.length - 1]!.id,
  };
}

export class KeyLifecycle {
  constructor(private readonly t: KmsTables, private readonly access: KeyAccess, private readonly clock: Clock) {}

  /** A customer managed key that a management operation may change: found, allowed, and not pending deletion. */
  private changeableKey(ctx: RequestContext, keyId: string, op: string): KeyRecord {
    const key = this.access.keyFor(ctx, keyId);
    this.access.assertCustomerManaged(key, op);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    return key;
  }

  createKey(input: api.CreateKeyRequest, ctx: RequestContext): api.CreateKeyResponse {
    const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    if (input.KeySpec && input.CustomerMasterKeySpec) throw new ServiceError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.');
    if (spec !== 'SYMMETRIC_DEFAULT') throw new ServiceError('UnsupportedOperationException', `Cellar's KMS supports only SYMMETRIC_DEFAULT keys; ${spec} keys are not available.`);
    if (input.KeyUsage && input.KeyUsage !== 'ENCRYPT_DECRYPT') throw new ServiceError('ValidationException', `KeyUsage ${input.KeyUsage} is not compatible with KeySpec SYMMETRIC_DEFAULT`);
    if (input.Origin && input.Origin !== 'AWS_KMS') throw new ServiceError('UnsupportedOperationException', `Cellar's KMS supports only Origin AWS_KMS; ${input.Origin} is not available.`);
    if (input.CustomKeyStoreId) throw new ServiceError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreId} does not exist`);
    if (input.Policy !== undefined) checkPolicy(input.Policy, ctx, input.BypassPolicyLockoutSafetyCheck === true);
    const tags = tagsFrom(input.Tags ?? []);
    const key = this.access.newKey(ctx.scope, { description: input.Description ?? '', keyManager: 'CUSTOMER', multiRegion: input.MultiRegion, tags, ...(input.Policy ? { policy: input.Policy } : {}) });
    this.t.save(key);
    return { KeyMetadata: metadata(key) };
  }

  describeKey(input: api.DescribeKeyRequest, ctx: RequestContext): api.DescribeKeyResponse {
    return { KeyMetadata: metadata(this.access.findKey(ctx, input.KeyId, { action: 'kms:DescribeKey', createAwsManaged: true })) };
  }

  listKeys(input: api.ListKeysRequest, ctx: RequestContext): api.ListKeysResponse {
    const limit = input.Limit ?? 1000;
    const all = this.t.keys.list(ctx.scope).map(([, k]) => k);
    return page(all, input.Marker, limit, (k) => k.keyId, (k) => ({ KeyId: k.keyId, KeyArn: k.arn }), 'Keys');
  }

  updateKeyDescription(input: api.UpdateKeyDescriptionRequest, ctx: RequestContext): void {
    const key = this.changeableKey(ctx, input.KeyId, 'UpdateKeyDescription');
    key.description = input.Description;
    this.t.save(key);
  }

  enableKey(input: api.EnableKeyRequest, ctx: RequestContext): void {
    const key = this.changeableKey(ctx, input.KeyId, 'EnableKey');
    key.state = 'Enabled';
    this.t.save(key);
  }

  disableKey(input: api.DisableKeyRequest, ctx: RequestContext): void {
    const key = this.changeableKey(ctx, input.KeyId, 'DisableKey');
    key.state = 'Disabled';
    this.t.save(key);
  }

  scheduleKeyDeletion(input: api.ScheduleKeyDeletionRequest, ctx: RequestContext): api.ScheduleKeyDeletionResponse {
    const key = this.changeableKey(ctx, input.KeyId, 'ScheduleKeyDeletion');
    const days = input.PendingWindowInDays ?? 30;
    if (days < 7 || days > 30) throw new ServiceError('ValidationException', `1 validation error detected: Value '${days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`);
    key.state = 'PendingDeletion';
    key.pendingWindowDays = days;
    key.deletionMs = this.clock.now() + days * DAY_MS;
    this.t.save(key);
    return { KeyId: key.arn, DeletionDate: new Date(key.deletionMs), KeyState: 'PendingDeletion', PendingWindowInDays: days };
  }

  cancelKeyDeletion(input: api.CancelKeyDeletionRequest, ctx: RequestContext): api.CancelKeyDeletionResponse {
    const key = this.access.keyFor(ctx, input.KeyId);
    if (key.state !== 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
    // A key whose deletion is cancelled comes back disabled, as on AWS.
    key.state = 'Disabled';
    delete key.deletionMs;
    delete key.pendingWindowDays;
    this.t.save(key);
    return { KeyId: key.arn };
  }

  /** Deletes a key whose waiting period has ended, with its aliases and grants. */
  purge(key: KeyRecord): void {
    const scope = Scope.ofRecord(key);
    this.t.store.transaction(() => {
      this.t.keys.delete(scope, key.keyId);
      for (const [name, alias] of this.t.aliases.list(scope)) if (alias.targetKeyId === key.keyId) this.t.aliases.delete(scope, name);
      for (const [name] of this.t.grants.list(scope, `${key.keyId}/`)) this.t.grants.delete(scope, name);
    });
  }

  tagResource(input: api.TagResourceRequest, ctx: RequestContext): void {
    const key = this.changeableKey(ctx, input.KeyId, 'TagResource');
    const merged = { ...key.tags, ...tagsFrom(input.Tags) };
    if (Object.keys(merged).length > MAX_TAGS) throw new ServiceError('TagException', `Too many tags: a key can have at most ${MAX_TAGS}`);
    key.tags = merged;
    this.t.save(key);
  }

  untagResource(input: api.UntagResourceRequest, ctx: RequestContext): void {
    const key = this.changeableKey(ctx, input.KeyId, 'UntagResource');
    for (const k of input.TagKeys) delete key.tags[k];
    this.t.save(key);
  }

  listResourceTags(input: api.ListResourceTagsRequest, ctx: RequestContext): api.ListResourceTagsResponse {
    const key = this.access.keyFor(ctx, input.KeyId);
    const tags = Object.entries(key.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    return page(tags, input.Marker, input.Limit ?? 50, (t) => t.TagKey, (t) => t, 'Tags');
  }
}
