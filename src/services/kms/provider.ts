/**
 * @module services/kms/provider
 * AWS KMS for symmetric keys: real AES-256-GCM under per-key material that is kept sealed by the root
 * key (never in plaintext on disk). Key states, aliases, rotation (automatic and on demand; older
 * material still decrypts), scheduled deletion that really happens, tags, key policies and grants.
 *
 * Who may use a key is decided as KMS decides it: the key policy (for AWS managed keys, the policy AWS gives
 * them: use only through their service, by their own account) and the key's grants. Every operation on a key
 * is checked against them, for the key's own account too (a policy that leaves the account out locks it out, as
 * on AWS). Another account reaches a key only by its key ARN — never by an alias — and only with the operations
 * the API reference marks "Cross-account use: Yes" (kept in the model by the generator as `crossAccount`).
 *
 * This class is the map of the service: each operation is handed to the module of its concern.
 *   key-access.ts     finding a key and deciding who may use it (key policy, then grants)
 *   key-lifecycle.ts  create, describe, list, enable, disable, tag, schedule and cancel deletion
 *   cryptography.ts   encrypt, decrypt, re-encrypt, data keys, random bytes
 *   key-rotation.ts   automatic and on-demand rotation
 *   grants.ts         create, list, revoke and retire grants
 *   aliases.ts        create, update, delete and list aliases
 *   key-policies.ts   get, put and list key policies
 */
import { randomBytes } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { faultPoint } from '../../core/faults.js';
import type { Clock } from '../../core/clock.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import type { ServiceModel } from '../../protocols/model.js';
import type { Store } from '../../storage/store.js';
import type * as api from '../../models/kms.js';
import { Aliases } from './aliases.js';
import { Cryptography } from './cryptography.js';
import { Grants } from './grants.js';
import type { KmsCaller, KmsInternal } from './internal.js';
import { KeyAccess, requester } from './key-access.js';
import { KeyLifecycle } from './key-lifecycle.js';
import { KeyMaterial } from './key-material.js';
import { KeyPolicies } from './key-policies.js';
import { KeyRotation } from './key-rotation.js';
import { type KeyRecord, KmsTables } from './records.js';

export { atLeastAsStrict } from './grant-constraints.js';

export class KmsProvider implements Partial<api.KMSApi> {
  readonly internal: KmsInternal;
  private readonly t: KmsTables;
  private readonly access: KeyAccess;
  private readonly lifecycle: KeyLifecycle;
  private readonly crypto: Cryptography;
  private readonly rotation: KeyRotation;
  private readonly grants: Grants;
  private readonly aliases: Aliases;
  private readonly policies: KeyPolicies;

  constructor(
    store: Store,
    box: SecretBox,
    private readonly clock: Clock,
    model?: ServiceModel,
  ) {
    this.t = new KmsTables(store);
    const material = new KeyMaterial(box);
    this.access = new KeyAccess(this.t, material, clock, model);
    this.lifecycle = new KeyLifecycle(this.t, this.access, clock);
    this.crypto = new Cryptography(this.t, this.access, material);
    this.rotation = new KeyRotation(this.t, this.access, material, clock);
    this.grants = new Grants(this.t, this.access, clock);
    this.aliases = new Aliases(this.t, this.access, clock);
    this.policies = new KeyPolicies(this.t, this.access);
    const access = this.access;
    const crypto = this.crypto;
    this.internal = {
      resolveKeyArn: (ctx, keyId, forService) => {
        const caller: KmsCaller = forService ? { ...requester(ctx), viaService: forService.viaService } : requester(ctx);
        const key = access.findKey(ctx, keyId, { action: 'kms:DescribeKey', caller, crossAccount: true, createAwsManaged: true });
        if (forService) {
          access.authorize(key, 'kms:CreateGrant', caller, {
            childGrant: { operations: ['Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant', 'RetireGrant', 'DescribeKey'], granteePrincipal: forService.viaService },
          });
        }
        access.assertUsable(key);
        return key.arn;
      },
      encrypt: (ctx, keyId, plaintext, ec, caller) => {
        const key = access.usableKey(ctx, keyId, 'kms:Encrypt', ec, caller ?? requester(ctx));
        return { ciphertextBlob: crypto.seal(key, plaintext, ec), keyArn: key.arn };
      },
      decrypt: (ctx, blob, ec, caller) => {
        const { key, plaintext } = crypto.unseal(ctx, blob, ec, undefined, caller ?? requester(ctx));
        return { plaintext, keyArn: key.arn };
      },
      generateDataKey: (ctx, keyId, ec, caller) => {
        const key = access.usableKey(ctx, keyId, 'kms:GenerateDataKey', ec, caller ?? requester(ctx));
        const plaintext = randomBytes(32);
        return { plaintext, ciphertextBlob: crypto.seal(key, plaintext, ec), keyArn: key.arn };
      },
    };
  }

  // ---- keys (key-lifecycle.ts) ------------------------------------------------------------------

  createKey(input: api.CreateKeyRequest, ctx: RequestContext): api.CreateKeyResponse {
    return this.lifecycle.createKey(input, ctx);
  }

  describeKey(input: api.DescribeKeyRequest, ctx: RequestContext): api.DescribeKeyResponse {
    return this.lifecycle.describeKey(input, ctx);
  }

  listKeys(input: api.ListKeysRequest, ctx: RequestContext): api.ListKeysResponse {
    return this.lifecycle.listKeys(input, ctx);
  }

  updateKeyDescription(input: api.UpdateKeyDescriptionRequest, ctx: RequestContext): void {
    this.lifecycle.updateKeyDescription(input, ctx);
  }

  enableKey(input: api.EnableKeyRequest, ctx: RequestContext): void {
    this.lifecycle.enableKey(input, ctx);
  }

  disableKey(input: api.DisableKeyRequest, ctx: RequestContext): void {
    this.lifecycle.disableKey(input, ctx);
  }

  scheduleKeyDeletion(input: api.ScheduleKeyDeletionRequest, ctx: RequestContext): api.ScheduleKeyDeletionResponse {
    return this.lifecycle.scheduleKeyDeletion(input, ctx);
  }

  cancelKeyDeletion(input: api.CancelKeyDeletionRequest, ctx: RequestContext): api.CancelKeyDeletionResponse {
    return this.lifecycle.cancelKeyDeletion(input, ctx);
  }

  tagResource(input: api.TagResourceRequest, ctx: RequestContext): void {
    this.lifecycle.tagResource(input, ctx);
  }

  untagResource(input: api.UntagResourceRequest, ctx: RequestContext): void {
    this.lifecycle.untagResource(input, ctx);
  }

  listResourceTags(input: api.ListResourceTagsRequest, ctx: RequestContext): api.ListResourceTagsResponse {
    return this.lifecycle.listResourceTags(input, ctx);
  }

  // ---- rotation (key-rotation.ts) ---------------------------------------------------------------

  enableKeyRotation(input: api.EnableKeyRotationRequest, ctx: RequestContext): void {
    this.rotation.enableKeyRotation(input, ctx);
  }

  disableKeyRotation(input: api.DisableKeyRotationRequest, ctx: RequestContext): void {
    this.rotation.disableKeyRotation(input, ctx);
  }

  getKeyRotationStatus(input: api.GetKeyRotationStatusRequest, ctx: RequestContext): api.GetKeyRotationStatusResponse {
    return this.rotation.getKeyRotationStatus(input, ctx);
  }

  rotateKeyOnDemand(input: api.RotateKeyOnDemandRequest, ctx: RequestContext): api.RotateKeyOnDemandResponse {
    return this.rotation.rotateKeyOnDemand(input, ctx);
  }

  listKeyRotations(input: api.ListKeyRotationsRequest, ctx: RequestContext): api.ListKeyRotationsResponse {
    return this.rotation.listKeyRotations(input, ctx);
  }

  // ---- cryptography (cryptography.ts) -----------------------------------------------------------

  encrypt(input: api.EncryptRequest, ctx: RequestContext): api.EncryptResponse {
    return this.crypto.encrypt(input, ctx);
  }

  decrypt(input: api.DecryptRequest, ctx: RequestContext): api.DecryptResponse {
    return this.crypto.decrypt(input, ctx);
  }

  reEncrypt(input: api.ReEncryptRequest, ctx: RequestContext): api.ReEncryptResponse {
    return this.crypto.reEncrypt(input, ctx);
  }

  generateDataKey(input: api.GenerateDataKeyRequest, ctx: RequestContext): api.GenerateDataKeyResponse {
    return this.crypto.generateDataKey(input, ctx);
  }

  generateDataKeyWithoutPlaintext(input: api.GenerateDataKeyWithoutPlaintextRequest, ctx: RequestContext): api.GenerateDataKeyWithoutPlaintextResponse {
    return this.crypto.generateDataKeyWithoutPlaintext(input, ctx);
  }

  generateRandom(input: api.GenerateRandomRequest): api.GenerateRandomResponse {
    return this.crypto.generateRandom(input);
  }

  // ---- grants (grants.ts) -----------------------------------------------------------------------

  createGrant(input: api.CreateGrantRequest, ctx: RequestContext): api.CreateGrantResponse {
    return this.grants.createGrant(input, ctx);
  }

  listGrants(input: api.ListGrantsRequest, ctx: RequestContext): api.ListGrantsResponse {
    return this.grants.listGrants(input, ctx);
  }

  listRetirableGrants(input: api.ListRetirableGrantsRequest, ctx: RequestContext): api.ListGrantsResponse {
    return this.grants.listRetirableGrants(input, ctx);
  }

  revokeGrant(input: api.RevokeGrantRequest, ctx: RequestContext): void {
    this.grants.revokeGrant(input, ctx);
  }

  retireGrant(input: api.RetireGrantRequest, ctx: RequestContext): void {
    this.grants.retireGrant(input, ctx);
  }

  // ---- aliases (aliases.ts) ---------------------------------------------------------------------

  createAlias(input: api.CreateAliasRequest, ctx: RequestContext): void {
    this.aliases.createAlias(input, ctx);
  }

  updateAlias(input: api.UpdateAliasRequest, ctx: RequestContext): void {
    this.aliases.updateAlias(input, ctx);
  }

  deleteAlias(input: api.DeleteAliasRequest, ctx: RequestContext): void {
    this.aliases.deleteAlias(input, ctx);
  }

  listAliases(input: api.ListAliasesRequest, ctx: RequestContext): api.ListAliasesResponse {
    return this.aliases.listAliases(input, ctx);
  }

  // ---- key policies (key-policies.ts) -----------------------------------------------------------

  getKeyPolicy(input: api.GetKeyPolicyRequest, ctx: RequestContext): api.GetKeyPolicyResponse {
    return this.policies.getKeyPolicy(input, ctx);
  }

  putKeyPolicy(input: api.PutKeyPolicyRequest, ctx: RequestContext): void {
    this.policies.putKeyPolicy(input, ctx);
  }

  listKeyPolicies(input: api.ListKeyPoliciesRequest, ctx: RequestContext): api.ListKeyPoliciesResponse {
    return this.policies.listKeyPolicies(input, ctx);
  }

  // ---- the scheduler ----------------------------------------------------------------------------

  /** Runs due rotations and deletions; called by the scheduler. Bounded work per call; one key failing does not stop the others. */
  tick(maxKeys = 10_000): string {
    faultPoint('kms.tick');
    const now = this.clock.now();
    let rotated = 0;
    let deleted = 0;
    let failed = 0;
    let seen = 0;
    const due: KeyRecord[] = [];
    for (const [, key] of this.t.keys.everyScope()) {
      if (++seen > maxKeys) break;
      if ((key.state === 'PendingDeletion' && key.deletionMs !== undefined && key.deletionMs <= now) || (key.state === 'Enabled' && key.rotationEnabled && key.nextRotationMs !== undefined && key.nextRotationMs <= now)) due.push(key);
    }
    for (const key of due) {
      try {
        if (key.state === 'PendingDeletion') {
          this.lifecycle.purge(key);
          deleted++;
        } else {
          this.rotation.rotate(key, 'AUTOMATIC');
          rotated++;
        }
      } catch {
        failed++;
      }
    }
    return rotated || deleted || failed ? `rotated ${rotated} key(s), deleted ${deleted} key(s) past their deletion date${failed ? `, ${failed} failed (retried next tick)` : ''}` : '';
  }
}
