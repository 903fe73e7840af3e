/**
 * @module services/kms/cryptography
 * The cryptographic operations: AES-256-GCM under the key's current material, the encryption context bound as
 * additional authenticated data, and the ciphertext naming its key and material version (ciphertext.ts) so Decrypt
 * finds them, older material included after a rotation.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { PARTITION, Scope } from '../../core/scope.js';
import type * as api from '../../models/kms.js';
import { contextAad, decodeCiphertext, encodeCiphertext, IV_BYTES } from './ciphertext.js';
import type { KmsCaller } from './internal.js';
import { dryRun, type KeyAccess, requester } from './key-access.js';
import type { KeyMaterial } from './key-material.js';
import type { KeyRecord, KmsTables } from './records.js';

function blobBytes(v: api.Blob | undefined): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.from(v);
}

function checkAlgorithm(alg: string | undefined): void {
  if (alg !== undefined && alg !== 'SYMMETRIC_DEFAULT') throw new ServiceError('InvalidKeyUsageException', `The encryption algorithm ${alg} is not supported by the key spec SYMMETRIC_DEFAULT.`);
}

function dataKeyBytes(input: { KeySpec?: string; NumberOfBytes?: number }): number {
  if ((input.KeySpec === undefined) === (input.NumberOfBytes === undefined)) {
    throw new ServiceError('ValidationException', 'Please specify either number of bytes or key spec.');
  }
  if (input.NumberOfBytes !== undefined) return input.NumberOfBytes;
  return input.KeySpec === 'AES_128' ? 16 : 32;
}

export class Cryptography {
  constructor(private readonly t: KmsTables, private readonly access: KeyAccess, private readonly material: KeyMaterial) {}

  seal(key: KeyRecord, plaintext: Buffer, ec: Record<string, string> | undefined): Buffer {
    const index = key.materials.length - 1;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.material.bytes(key, index), iv);
    cipher.setAAD(contextAad(ec));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return encodeCiphertext({ keyId: key.keyId, accountId: key.accountId, region: key.region, materialIndex: index, iv, tag: cipher.getAuthTag(), body });
  }

  /**
   * Decrypts a blob under the key it names (of the caller's account, or of another account when the blob says so
   * and that key's policy or grants let the caller decrypt). `expectedKeyId` is Decrypt's optional KeyId.
   */
  unseal(ctx: RequestContext, blob: Buffer, ec: Record<string, string> | undefined, expectedKeyId: string | undefined, caller: KmsCaller, action = 'kms:Decrypt'): { key: KeyRecord; plaintext: Buffer } {
    const parts = decodeCiphertext(blob);
    if (!parts) throw new ServiceError('InvalidCiphertextException', '');
    const own = parts.accountId === undefined || (parts.accountId === ctx.scope.accountId && parts.region === ctx.scope.region);
    if (!own && parts.region !== ctx.scope.region) throw new ServiceError('InvalidCiphertextException', '');
    const scope = own ? ctx.scope : Scope.crossAccount({ partition: PARTITION, service: 'kms', accountId: parts.accountId!, region: parts.region!, resource: `key/${parts.keyId}` });
    const key = this.t.keys.get(scope, parts.keyId);
    if (!key) {
      if (!own) throw this.access.denied(caller, action, scope.arn('kms', `key/${parts.keyId}`), 'no-policy');
      throw new ServiceError('InvalidCiphertextException', '');
    }
    if (expectedKeyId !== undefined) {
      const expected = this.access.findKey(ctx, expectedKeyId, { action, caller, crossAccount: true, ...(ec ? { encryptionContext: ec } : {}) });
      if (expected.keyId !== key.keyId || expected.accountId !== key.accountId) {
        throw new ServiceError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
    }
    this.access.authorize(key, action, caller, { encryptionContext: ec ?? {} });
    this.access.assertUsable(key);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.material.bytes(key, parts.materialIndex), parts.iv);
      decipher.setAAD(contextAad(ec));
      decipher.setAuthTag(parts.tag);
      return { key, plaintext: Buffer.concat([decipher.update(parts.body), decipher.final()]) };
    } catch (e) {
      if (e instanceof ServiceError) throw e;
      throw new ServiceError('InvalidCiphertextException', '');
    }
  }

  encrypt(input: api.EncryptRequest, ctx: RequestContext): api.EncryptResponse {
    const key = this.access.usableKey(ctx, input.KeyId, 'kms:Encrypt', input.EncryptionContext);
    checkAlgorithm(input.EncryptionAlgorithm);
    dryRun(input);
    return { CiphertextBlob: this.seal(key, blobBytes(input.Plaintext), input.EncryptionContext), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  decrypt(input: api.DecryptRequest, ctx: RequestContext): api.DecryptResponse {
    checkAlgorithm(input.EncryptionAlgorithm);
    if (input.Recipient) throw new ServiceError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available in Cellar.');
    const { key, plaintext } = this.unseal(ctx, blobBytes(input.CiphertextBlob), input.EncryptionContext, input.KeyId, requester(ctx));
    dryRun(input);
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  reEncrypt(input: api.ReEncryptRequest, ctx: RequestContext): api.ReEncryptResponse {
    checkAlgorithm(input.SourceEncryptionAlgorithm);
    checkAlgorithm(input.DestinationEncryptionAlgorithm);
    const { key: source, plaintext } = this.unseal(ctx, blobBytes(input.CiphertextBlob), input.SourceEncryptionContext, input.SourceKeyId, requester(ctx), 'kms:ReEncryptFrom');
    const dest = this.access.usableKey(ctx, input.DestinationKeyId, 'kms:ReEncryptTo', input.DestinationEncryptionContext);
    dryRun(input);
    return {
      CiphertextBlob: this.seal(dest, plaintext, input.DestinationEncryptionContext),
      SourceKeyId: source.arn,
      KeyId: dest.arn,
      SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
      DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
    };
  }

  generateDataKey(input: api.GenerateDataKeyRequest, ctx: RequestContext): api.GenerateDataKeyResponse {
    const key = this.access.usableKey(ctx, input.KeyId, 'kms:GenerateDataKey', input.EncryptionContext);
    const n = dataKeyBytes(input);
    if (input.Recipient) throw new ServiceError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available in Cellar.');
    dryRun(input);
    const plaintext = randomBytes(n);
    return { CiphertextBlob: this.seal(key, plaintext, input.EncryptionContext), Plaintext: plaintext, KeyId: key.arn };
  }

  generateDataKeyWithoutPlaintext(input: api.GenerateDataKeyWithoutPlaintextRequest, ctx: RequestContext): api.GenerateDataKeyWithoutPlaintextResponse {
    const key = this.access.usableKey(ctx, input.KeyId, 'kms:GenerateDataKeyWithoutPlaintext', input.EncryptionContext);
    const n = dataKeyBytes(input);
    dryRun(input);
    return { CiphertextBlob: this.seal(key, randomBytes(n), input.EncryptionContext), KeyId: key.arn };
  }

  generateRandom(input: api.GenerateRandomRequest): api.GenerateRandomResponse {
    if (input.CustomKeyStoreId) throw new ServiceError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreId} does not exist`);
    if (input.NumberOfBytes === undefined) throw new ServiceError('ValidationException', 'Please specify number of bytes.');
    return { Plaintext: randomBytes(input.NumberOfBytes) };
  }
}
