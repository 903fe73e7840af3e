/**
 * @module services/kms/provider
 * AWS KMS for symmetric keys: real AES-256-GCM under per-key material that is kept sealed by the root
 * key (never in plaintext on disk). Key states, aliases, rotation (automatic and on demand; older
 * material still decrypts), scheduled deletion that really happens, tags and key policies.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import { log } from '../../core/log.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import { JsonTable, type Store } from '../../storage/store.js';
import type * as api from '../../models/kms.js';
import { contextAad, decodeCiphertext, encodeCiphertext, IV_BYTES } from './ciphertext.js';
import type { KmsInternal } from './internal.js';

const DAY_MS = 86_400_000;
const MAX_TAGS = 50;
const DEFAULT_ROTATION_DAYS = 365;
const MATERIAL_CACHE_ENTRIES = 4096;

interface KeyRecord {
  keyId: string;
  arn: string;
  accountId: string;
  region: string;
  createdMs: number;
  description: string;
  state: 'Enabled' | 'Disabled' | 'PendingDeletion';
  /** Sealed 32-byte materials, oldest first; the last is current. */
  materials: Array<{ sealed: string; id: string; createdMs: number; rotationType?: 'AUTOMATIC' | 'ON_DEMAND' }>;
  keyManager: 'AWS' | 'CUSTOMER';
  multiRegion: boolean;
  rotationEnabled: boolean;
  rotationPeriodDays: number;
  nextRotationMs?: number;
  onDemandRotationStartMs?: number;
  deletionMs?: number;
  pendingWindowDays?: number;
  tags: Record<string, string>;
  policies: Record<string, string>;
}

interface AliasRecord {
  name: string;
  arn: string;
  targetKeyId: string;
  createdMs: number;
  updatedMs: number;
}

function defaultPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
  });
}

function blobBytes(v: api.Blob | undefined): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.from(v);
}

function notFoundKey(arn: string): ServiceError {
  return new ServiceError('NotFoundException', `Key '${arn}' does not exist`);
}

export class KmsProvider implements Partial<api.KMSApi> {
  private readonly keys: JsonTable<KeyRecord>;
  private readonly aliases: JsonTable<AliasRecord>;
  readonly internal: KmsInternal;

  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly clock: Clock,
  ) {
    this.keys = new JsonTable(store.keyspace('kms_keys'));
    this.aliases = new JsonTable(store.keyspace('kms_aliases'));
    this.internal = {
      resolveKeyArn: (ctx, keyId) => this.usableKey(ctx, keyId).arn,
      encrypt: (ctx, keyId, plaintext, ec) => {
        const key = this.usableKey(ctx, keyId);
        return { ciphertextBlob: this.seal(key, plaintext, ec), keyArn: key.arn };
      },
      decrypt: (ctx, blob, ec) => {
        const { key, plaintext } = this.unseal(ctx, blob, ec);
        return { plaintext, keyArn: key.arn };
      },
      generateDataKey: (ctx, keyId, ec) => {
        const key = this.usableKey(ctx, keyId);
        const plaintext = randomBytes(32);
        return { plaintext, ciphertextBlob: this.seal(key, plaintext, ec), keyArn: key.arn };
      },
    };
  }

  // ---- key lookup -------------------------------------------------------------------------------

  private keyPrefix(ctx: Pick<RequestContext, 'accountId' | 'region'>): string {
    return `${ctx.accountId}/${ctx.region}/`;
  }

  private keyArn(ctx: Pick<RequestContext, 'accountId' | 'region'>, keyId: string): string {
    return `arn:aws:kms:${ctx.region}:${ctx.accountId}:key/${keyId}`;
  }

  private aliasArn(ctx: Pick<RequestContext, 'accountId' | 'region'>, name: string): string {
    return `arn:aws:kms:${ctx.region}:${ctx.accountId}:${name}`;
  }

  /** Finds a key by id, key ARN, alias name or alias ARN; AWS-managed aliases are created on first use. */
  private findKey(ctx: RequestContext, keyIdOrAlias: string, allowAlias = true): KeyRecord {
    let id = keyIdOrAlias;
    let scope: Pick<RequestContext, 'accountId' | 'region'> = ctx;
    const arnMatch = /^arn:aws[\w-]*:kms:([\w-]+):(\d{12}):(key\/.+|alias\/.+)$/.exec(id);
    if (arnMatch) {
      scope = { region: arnMatch[1]!, accountId: arnMatch[2]! };
      id = arnMatch[3]!;
      if (id.startsWith('key/')) id = id.slice(4);
    } else if (id.startsWith('arn:')) {
      throw new ServiceError('NotFoundException', `Invalid arn ${id}`);
    }
    if (id.startsWith('alias/')) {
      if (!allowAlias) throw new ServiceError('NotFoundException', `Invalid keyId ${keyIdOrAlias}`);
      let alias = this.aliases.get(this.keyPrefix(scope) + id);
      if (!alias && id.startsWith('alias/aws/') && scope.accountId === ctx.accountId) alias = this.createAwsManagedKey(ctx, id);
      if (!alias) throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(scope, id)} is not found.`);
      id = alias.targetKeyId;
    }
    const key = this.keys.get(this.keyPrefix(scope) + id);
    if (!key) throw notFoundKey(this.keyArn(scope, id));
    return key;
  }

  private createAwsManagedKey(ctx: RequestContext, aliasName: string): AliasRecord {
    const key = this.newKey(ctx, { description: `Default key that protects my ${aliasName.slice('alias/aws/'.length)} data when no other key is defined`, keyManager: 'AWS' });
    // AWS-managed keys rotate every year, and that cannot be changed.
    key.rotationEnabled = true;
    key.nextRotationMs = key.createdMs + DEFAULT_ROTATION_DAYS * DAY_MS;
    const now = this.clock.now();
    const alias: AliasRecord = { name: aliasName, arn: this.aliasArn(ctx, aliasName), targetKeyId: key.keyId, createdMs: now, updatedMs: now };
    this.store.transaction(() => {
      this.keys.put(this.keyPrefix(ctx) + key.keyId, key);
      this.aliases.put(this.keyPrefix(ctx) + aliasName, alias);
    });
    return alias;
  }

  /** A key that may be used for cryptography now. */
  private usableKey(ctx: RequestContext, keyId: string): KeyRecord {
    const key = this.findKey(ctx, keyId);
    this.assertUsable(key);
    return key;
  }

  private assertUsable(key: KeyRecord): void {
    if (key.state === 'Disabled') throw new ServiceError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }

  private assertCustomerManaged(key: KeyRecord, op: string): void {
    if (key.keyManager === 'AWS') throw new ServiceError('UnsupportedOperationException', `${op} is not supported on AWS managed key ${key.arn}.`);
  }

  private save(key: KeyRecord): void {
    this.keys.put(`${key.accountId}/${key.region}/${key.keyId}`, key);
  }

  private newKey(ctx: RequestContext, opts: { description: string; keyManager: 'AWS' | 'CUSTOMER'; multiRegion?: boolean; tags?: Record<string, string>; policy?: string }): KeyRecord {
    const keyId = (opts.multiRegion ? 'mrk-' + randomBytes(16).toString('hex') : randomUUID());
    const now = this.clock.now();
    const arn = this.keyArn(ctx, keyId);
    return {
      keyId,
      arn,
      accountId: ctx.accountId,
      region: ctx.region,
      createdMs: now,
      description: opts.description,
      state: 'Enabled',
      materials: [{ sealed: this.box.sealString(randomBytes(32).toString('base64'), arn), id: randomBytes(32).toString('hex'), createdMs: now }],
      keyManager: opts.keyManager,
      multiRegion: Boolean(opts.multiRegion),
      rotationEnabled: false,
      rotationPeriodDays: DEFAULT_ROTATION_DAYS,
      tags: opts.tags ?? {},
      policies: { default: opts.policy ?? defaultPolicy(ctx.accountId) },
    };
  }

  /**
   * Unsealed key material, cached in memory (as an HSM holds its keys) because unsealing costs more than
   * the encryption it serves. A key version's material never changes, so the cache needs no invalidation;
   * it is bounded and simply cleared when full.
   */
  private readonly materialCache = new Map<string, Buffer>();

  private material(key: KeyRecord, index: number): Buffer {
    const m = key.materials[index];
    if (!m) throw new ServiceError('InvalidCiphertextException', '');
    const cacheKey = `${key.arn}#${m.id}`;
    let bytes = this.materialCache.get(cacheKey);
    if (!bytes) {
      bytes = Buffer.from(this.box.openString(m.sealed, key.arn), 'base64');
      if (this.materialCache.size >= MATERIAL_CACHE_ENTRIES) this.materialCache.clear();
      this.materialCache.set(cacheKey, bytes);
    }
    return bytes;
  }

  private seal(key: KeyRecord, plaintext: Buffer, ec: Record<string, string> | undefined): Buffer {
    const index = key.materials.length - 1;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.material(key, index), iv);
    cipher.setAAD(contextAad(ec));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return encodeCiphertext({ keyId: key.keyId, materialIndex: index, iv, tag: cipher.getAuthTag(), body });
  }

  private unseal(ctx: RequestContext, blob: Buffer, ec: Record<string, string> | undefined, expectedKeyId?: string): { key: KeyRecord; plaintext: Buffer } {
    const parts = decodeCiphertext(blob);
    if (!parts) throw new ServiceError('InvalidCiphertextException', '');
    const key = this.keys.get(this.keyPrefix(ctx) + parts.keyId);
    if (!key) throw new ServiceError('InvalidCiphertextException', '');
    if (expectedKeyId !== undefined) {
      const expected = this.findKey(ctx, expectedKeyId);
      if (expected.keyId !== key.keyId) throw new ServiceError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    }
    this.assertUsable(key);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.material(key, parts.materialIndex), parts.iv);
      decipher.setAAD(contextAad(ec));
      decipher.setAuthTag(parts.tag);
      return { key, plaintext: Buffer.concat([decipher.update(parts.body), decipher.final()]) };
    } catch (e) {
      if (e instanceof ServiceError) throw e;
      throw new ServiceError('InvalidCiphertextException', '');
    }
  }

  private metadata(key: KeyRecord): api.KeyMetadata {
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

  private dryRun(input: { DryRun?: boolean }): void {
    if (input.DryRun) throw new ServiceError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
  }

  // ---- keys -------------------------------------------------------------------------------------

  createKey(input: api.CreateKeyRequest, ctx: RequestContext): api.CreateKeyResponse {
    const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    if (input.KeySpec && input.CustomerMasterKeySpec) throw new ServiceError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.');
    if (spec !== 'SYMMETRIC_DEFAULT') throw new ServiceError('UnsupportedOperationException', `Cellar's KMS supports only SYMMETRIC_DEFAULT keys; ${spec} keys are not available.`);
    if (input.KeyUsage && input.KeyUsage !== 'ENCRYPT_DECRYPT') throw new ServiceError('ValidationException', `KeyUsage ${input.KeyUsage} is not compatible with KeySpec SYMMETRIC_DEFAULT`);
    if (input.Origin && input.Origin !== 'AWS_KMS') throw new ServiceError('UnsupportedOperationException', `Cellar's KMS supports only Origin AWS_KMS; ${input.Origin} is not available.`);
    if (input.CustomKeyStoreId) throw new ServiceError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreId} does not exist`);
    if (input.Policy !== undefined) this.checkPolicy(input.Policy);
    const tags = this.tagsFrom(input.Tags ?? []);
    const key = this.newKey(ctx, { description: input.Description ?? '', keyManager: 'CUSTOMER', multiRegion: input.MultiRegion, tags, ...(input.Policy ? { policy: input.Policy } : {}) });
    this.save(key);
    return { KeyMetadata: this.metadata(key) };
  }

  describeKey(input: api.DescribeKeyRequest, ctx: RequestContext): api.DescribeKeyResponse {
    return { KeyMetadata: this.metadata(this.findKey(ctx, input.KeyId)) };
  }

  listKeys(input: api.ListKeysRequest, ctx: RequestContext): api.ListKeysResponse {
    const limit = input.Limit ?? 1000;
    const all = [...this.keys.list(this.keyPrefix(ctx))].map(([, k]) => k);
    return this.page(all, input.Marker, limit, (k) => k.keyId, (k) => ({ KeyId: k.keyId, KeyArn: k.arn }), 'Keys');
  }

  private page<T, R>(all: T[], marker: string | undefined, limit: number, id: (t: T) => string, map: (t: T) => R, field: string): any {
    let start = 0;
    if (marker !== undefined) {
      start = all.findIndex((t) => id(t) === marker);
      if (start < 0) throw new ServiceError('InvalidMarkerException', 'Invalid marker');
    }
    const slice = all.slice(start, start + limit);
    const next = all[start + limit];
    return { [field]: slice.map(map), Truncated: next !== undefined, ...(next !== undefined ? { NextMarker: id(next) } : {}) };
  }

  updateKeyDescription(input: api.UpdateKeyDescriptionRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'UpdateKeyDescription');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.description = input.Description;
    this.save(key);
  }

  enableKey(input: api.EnableKeyRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'EnableKey');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = 'Enabled';
    this.save(key);
  }

  disableKey(input: api.DisableKeyRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'DisableKey');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = 'Disabled';
    this.save(key);
  }

  scheduleKeyDeletion(input: api.ScheduleKeyDeletionRequest, ctx: RequestContext): api.ScheduleKeyDeletionResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'ScheduleKeyDeletion');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    const days = input.PendingWindowInDays ?? 30;
    if (days < 7 || days > 30) throw new ServiceError('ValidationException', `1 validation error detected: Value '${days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`);
    key.state = 'PendingDeletion';
    key.pendingWindowDays = days;
    key.deletionMs = this.clock.now() + days * DAY_MS;
    this.save(key);
    return { KeyId: key.arn, DeletionDate: new Date(key.deletionMs), KeyState: 'PendingDeletion', PendingWindowInDays: days };
  }

  cancelKeyDeletion(input: api.CancelKeyDeletionRequest, ctx: RequestContext): api.CancelKeyDeletionResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    if (key.state !== 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
    // A key whose deletion is cancelled comes back disabled, as on AWS.
    key.state = 'Disabled';
    delete key.deletionMs;
    delete key.pendingWindowDays;
    this.save(key);
    return { KeyId: key.arn };
  }

  // ---- rotation ---------------------------------------------------------------------------------

  enableKeyRotation(input: api.EnableKeyRotationRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'EnableKeyRotation');
    this.assertUsable(key);
    const days = input.RotationPeriodInDays ?? key.rotationPeriodDays ?? DEFAULT_ROTATION_DAYS;
    key.rotationEnabled = true;
    key.rotationPeriodDays = days;
    key.nextRotationMs = this.clock.now() + days * DAY_MS;
    this.save(key);
  }

  disableKeyRotation(input: api.DisableKeyRotationRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'DisableKeyRotation');
    this.assertUsable(key);
    key.rotationEnabled = false;
    delete key.nextRotationMs;
    this.save(key);
  }

  getKeyRotationStatus(input: api.GetKeyRotationStatusRequest, ctx: RequestContext): api.GetKeyRotationStatusResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    return {
      KeyRotationEnabled: key.rotationEnabled,
      KeyId: key.arn,
      ...(key.rotationEnabled ? { RotationPeriodInDays: key.rotationPeriodDays, ...(key.nextRotationMs ? { NextRotationDate: new Date(key.nextRotationMs) } : {}) } : {}),
      ...(key.onDemandRotationStartMs ? { OnDemandRotationStartDate: new Date(key.onDemandRotationStartMs) } : {}),
    };
  }

  rotateKeyOnDemand(input: api.RotateKeyOnDemandRequest, ctx: RequestContext): api.RotateKeyOnDemandResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'RotateKeyOnDemand');
    this.assertUsable(key);
    const onDemand = key.materials.filter((m) => m.rotationType === 'ON_DEMAND').length;
    if (onDemand >= 25) throw new ServiceError('LimitExceededException', `The on-demand rotations limit has been reached for the given key ${key.arn}.`);
    this.rotate(key, 'ON_DEMAND');
    return { KeyId: key.keyId };
  }

  listKeyRotations(input: api.ListKeyRotationsRequest, ctx: RequestContext): api.ListKeyRotationsResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    const rotations = key.materials.slice(1);
    return this.page(rotations, input.Marker, input.Limit ?? 100, (m) => m.id, (m) => ({ KeyId: key.keyId, KeyMaterialId: m.id, RotationDate: new Date(m.createdMs), RotationType: m.rotationType ?? 'AUTOMATIC', KeyMaterialState: m === key.materials[key.materials.length - 1] ? 'CURRENT' : 'NON_CURRENT' }), 'Rotations');
  }

  private rotate(key: KeyRecord, type: 'AUTOMATIC' | 'ON_DEMAND'): void {
    const now = this.clock.now();
    key.materials.push({ sealed: this.box.sealString(randomBytes(32).toString('base64'), key.arn), id: randomBytes(32).toString('hex'), createdMs: now, rotationType: type });
    if (type === 'ON_DEMAND') key.onDemandRotationStartMs = now;
    if (key.rotationEnabled) key.nextRotationMs = now + key.rotationPeriodDays * DAY_MS;
    this.save(key);
  }

  /** Runs due rotations and deletions; called by the scheduler. Bounded work per call. */
  tick(maxKeys = 10_000): string {
    const now = this.clock.now();
    let rotated = 0;
    let deleted = 0;
    let seen = 0;
    const due: KeyRecord[] = [];
    for (const [, key] of this.keys.list()) {
      if (++seen > maxKeys) break;
      if ((key.state === 'PendingDeletion' && key.deletionMs !== undefined && key.deletionMs <= now) || (key.state === 'Enabled' && key.rotationEnabled && key.nextRotationMs !== undefined && key.nextRotationMs <= now)) due.push(key);
    }
    for (const key of due) {
      if (key.state === 'PendingDeletion') {
        this.store.transaction(() => {
          this.keys.delete(`${key.accountId}/${key.region}/${key.keyId}`);
          // Collect first: a keyspace must not be written while a scan of it is open.
          const doomed = [...this.aliases.list(`${key.accountId}/${key.region}/`)].filter(([, alias]) => alias.targetKeyId === key.keyId);
          for (const [name] of doomed) this.aliases.delete(name);
        });
        deleted++;
      } else {
        this.rotate(key, 'AUTOMATIC');
        rotated++;
      }
    }
    return rotated || deleted ? `rotated ${rotated} key(s), deleted ${deleted} key(s) past their deletion date` : '';
  }

  // ---- cryptography -----------------------------------------------------------------------------

  encrypt(input: api.EncryptRequest, ctx: RequestContext): api.EncryptResponse {
    const key = this.usableKey(ctx, input.KeyId);
    this.checkAlgorithm(input.EncryptionAlgorithm);
    this.dryRun(input);
    return { CiphertextBlob: this.seal(key, blobBytes(input.Plaintext), input.EncryptionContext), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  decrypt(input: api.DecryptRequest, ctx: RequestContext): api.DecryptResponse {
    this.checkAlgorithm(input.EncryptionAlgorithm);
    if (input.Recipient) throw new ServiceError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available in Cellar.');
    const { key, plaintext } = this.unseal(ctx, blobBytes(input.CiphertextBlob), input.EncryptionContext, input.KeyId);
    this.dryRun(input);
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  reEncrypt(input: api.ReEncryptRequest, ctx: RequestContext): api.ReEncryptResponse {
    this.checkAlgorithm(input.SourceEncryptionAlgorithm);
    this.checkAlgorithm(input.DestinationEncryptionAlgorithm);
    const { key: source, plaintext } = this.unseal(ctx, blobBytes(input.CiphertextBlob), input.SourceEncryptionContext, input.SourceKeyId);
    const dest = this.usableKey(ctx, input.DestinationKeyId);
    this.dryRun(input);
    return {
      CiphertextBlob: this.seal(dest, plaintext, input.DestinationEncryptionContext),
      SourceKeyId: source.arn,
      KeyId: dest.arn,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  private dataKeyBytes(input: { KeySpec?: string; NumberOfBytes?: number }): number {
    if ((input.KeySpec === undefined) === (input.NumberOfBytes === undefined)) {
      throw new ServiceError('ValidationException', 'Please specify either number of bytes or key spec.');
    }
    if (input.NumberOfBytes !== undefined) return input.NumberOfBytes;
    return input.KeySpec === 'AES_128' ? 16 : 32;
  }

  generateDataKey(input: api.GenerateDataKeyRequest, ctx: RequestContext): api.GenerateDataKeyResponse {
    const key = this.usableKey(ctx, input.KeyId);
    const n = this.dataKeyBytes(input);
    if (input.Recipient) throw new ServiceError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available in Cellar.');
    this.dryRun(input);
    const plaintext = randomBytes(n);
    return { CiphertextBlob: this.seal(key, plaintext, input.EncryptionContext), Plaintext: plaintext, KeyId: key.arn };
  }

  generateDataKeyWithoutPlaintext(input: api.GenerateDataKeyWithoutPlaintextRequest, ctx: RequestContext): api.GenerateDataKeyWithoutPlaintextResponse {
    const key = this.usableKey(ctx, input.KeyId);
    const n = this.dataKeyBytes(input);
    this.dryRun(input);
    return { CiphertextBlob: this.seal(key, randomBytes(n), input.EncryptionContext), KeyId: key.arn };
  }

  generateRandom(input: api.GenerateRandomRequest): api.GenerateRandomResponse {
    if (input.CustomKeyStoreId) throw new ServiceError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreId} does not exist`);
    if (input.NumberOfBytes === undefined) throw new ServiceError('ValidationException', 'Please specify number of bytes.');
    return { Plaintext: randomBytes(input.NumberOfBytes) };
  }

  private checkAlgorithm(alg: string | undefined): void {
    if (alg !== undefined && alg !== 'SYMMETRIC_DEFAULT') throw new ServiceError('InvalidKeyUsageException', `The encryption algorithm ${alg} is not supported by the key spec SYMMETRIC_DEFAULT.`);
  }

  // ---- aliases ----------------------------------------------------------------------------------

  private checkAliasName(name: string): void {
    if (!name.startsWith('alias/')) throw new ServiceError('ValidationException', 'Invalid identifier');
    if (name.startsWith('alias/aws/')) throw new ServiceError('NotAuthorizedException', '');
  }

  createAlias(input: api.CreateAliasRequest, ctx: RequestContext): void {
    this.checkAliasName(input.AliasName);
    const key = this.findKey(ctx, input.TargetKeyId, false);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    const id = this.keyPrefix(ctx) + input.AliasName;
    if (this.aliases.get(id)) throw new ServiceError('AlreadyExistsException', `An alias with the name ${this.aliasArn(ctx, input.AliasName)} already exists`);
    const now = this.clock.now();
    this.aliases.put(id, { name: input.AliasName, arn: this.aliasArn(ctx, input.AliasName), targetKeyId: key.keyId, createdMs: now, updatedMs: now });
  }

  updateAlias(input: api.UpdateAliasRequest, ctx: RequestContext): void {
    this.checkAliasName(input.AliasName);
    const id = this.keyPrefix(ctx) + input.AliasName;
    const alias = this.aliases.get(id);
    if (!alias) throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(ctx, input.AliasName)} is not found.`);
    const key = this.findKey(ctx, input.TargetKeyId, false);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    alias.targetKeyId = key.keyId;
    alias.updatedMs = this.clock.now();
    this.aliases.put(id, alias);
  }

  deleteAlias(input: api.DeleteAliasRequest, ctx: RequestContext): void {
    this.checkAliasName(input.AliasName);
    const id = this.keyPrefix(ctx) + input.AliasName;
    if (!this.aliases.get(id)) throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(ctx, input.AliasName)} is not found.`);
    this.aliases.delete(id);
  }

  listAliases(input: api.ListAliasesRequest, ctx: RequestContext): api.ListAliasesResponse {
    let all = [...this.aliases.list(this.keyPrefix(ctx))].map(([, a]) => a);
    if (input.KeyId !== undefined) {
      const key = this.findKey(ctx, input.KeyId, false);
      all = all.filter((a) => a.targetKeyId === key.keyId);
    }
    return this.page(all, input.Marker, input.Limit ?? 100, (a) => a.name, (a) => ({ AliasName: a.name, AliasArn: a.arn, TargetKeyId: a.targetKeyId, CreationDate: new Date(a.createdMs), LastUpdatedDate: new Date(a.updatedMs) }), 'Aliases');
  }

  // ---- tags and policies ------------------------------------------------------------------------

  private tagsFrom(tags: api.Tag[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of tags) {
      if (t.TagKey.startsWith('aws:')) throw new ServiceError('TagException', 'Tags beginning with aws: are reserved');
      out[t.TagKey] = t.TagValue;
    }
    if (Object.keys(out).length > MAX_TAGS) throw new ServiceError('TagException', `Too many tags: a key can have at most ${MAX_TAGS}`);
    return out;
  }

  tagResource(input: api.TagResourceRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'TagResource');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    const merged = { ...key.tags, ...this.tagsFrom(input.Tags) };
    if (Object.keys(merged).length > MAX_TAGS) throw new ServiceError('TagException', `Too many tags: a key can have at most ${MAX_TAGS}`);
    key.tags = merged;
    this.save(key);
  }

  untagResource(input: api.UntagResourceRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'UntagResource');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    for (const k of input.TagKeys) delete key.tags[k];
    this.save(key);
  }

  listResourceTags(input: api.ListResourceTagsRequest, ctx: RequestContext): api.ListResourceTagsResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    const tags = Object.entries(key.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    return this.page(tags, input.Marker, input.Limit ?? 50, (t) => t.TagKey, (t) => t, 'Tags');
  }

  private checkPolicy(policy: string): void {
    try {
      const doc = JSON.parse(policy);
      if (typeof doc !== 'object' || doc === null || !('Statement' in doc)) throw new Error('no Statement');
    } catch {
      throw new ServiceError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
    }
  }

  getKeyPolicy(input: api.GetKeyPolicyRequest, ctx: RequestContext): api.GetKeyPolicyResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    const name = input.PolicyName ?? 'default';
    const policy = key.policies[name];
    if (policy === undefined) throw new ServiceError('NotFoundException', `No such policy exists`);
    return { Policy: policy, PolicyName: name };
  }

  putKeyPolicy(input: api.PutKeyPolicyRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, false);
    this.assertCustomerManaged(key, 'PutKeyPolicy');
    this.checkPolicy(input.Policy);
    key.policies[input.PolicyName ?? 'default'] = input.Policy;
    this.save(key);
  }

  listKeyPolicies(input: api.ListKeyPoliciesRequest, ctx: RequestContext): api.ListKeyPoliciesResponse {
    const key = this.findKey(ctx, input.KeyId, false);
    return this.page(Object.keys(key.policies), input.Marker, input.Limit ?? 100, (n) => n, (n) => n, 'PolicyNames');
  }

  logTick(): void {
    try {
      const said = this.tick();
      if (said) log('info', 'kms scheduler', { decided: said });
    } catch (e) {
      log('error', 'kms scheduler failed', { error: (e as Error).message });
    }
  }
}
