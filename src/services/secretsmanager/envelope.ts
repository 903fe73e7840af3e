/**
 * @module services/secretsmanager/envelope
 * Every secret value is encrypted before it reaches the store: envelope encryption under a fresh KMS data key per
 * version (KMS's in-process interface), bound to the secret and version by the encryption context
 * {SecretARN, SecretVersionId} and by the AES-GCM additional data. KMS sees the caller acting through Secrets Manager
 * (kms:ViaService), as AWS's envelope encryption does.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { backgroundContext, type RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { Scope } from '../../core/scope.js';
import type * as api from '../../models/secretsmanager.js';
import type { KmsCaller, KmsInternal } from '../kms/internal.js';
import type { ServiceEnv } from '../env.js';
import { ERR } from './errors.js';
import { type SealedValue, type SecretRecord, type SecretRepository, valueKey } from './records.js';

/** The key a secret is encrypted under when it names none (or a replica region names none). */
export const DEFAULT_KMS_KEY = 'alias/aws/secretsmanager';

/** A secret value in plaintext, in memory only. */
export interface SecretValue {
  bytes: Buffer;
  binary: boolean;
}

function blobBytes(v: api.Blob): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.from(v);
}

/** The value a request carries (SecretString or SecretBinary, never both), or undefined when it carries none. */
export function valueOf(input: { SecretString?: string; SecretBinary?: api.Blob }): SecretValue | undefined {
  if (input.SecretString !== undefined && input.SecretBinary !== undefined) throw ERR.bothValues();
  if (input.SecretString !== undefined) return { bytes: Buffer.from(input.SecretString, 'utf8'), binary: false };
  if (input.SecretBinary !== undefined) return { bytes: blobBytes(input.SecretBinary), binary: true };
  return undefined;
}

export class Envelope {
  constructor(private readonly env: ServiceEnv, private readonly repo: SecretRepository) {}

  private kms(): KmsInternal {
    const svc = this.env.built.get('kms');
    if (!svc) throw new Error('Secrets Manager needs KMS, which is not built');
    return (svc.provider as unknown as { internal: KmsInternal }).internal;
  }

  /** A context acting in the secret's own account and region (for KMS and background work). */
  ownerCtx(rec: SecretRecord, operation = 'Background'): RequestContext {
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
  seal(rec: SecretRecord, versionId: string, value: SecretValue, kmsKeyId = rec.kmsKeyId, ctx?: RequestContext): SealedValue {
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

  /** The stored value of a version in plaintext, or undefined when the version has none (a rotation's placeholder). */
  open(rec: SecretRecord, versionId: string, ctx?: RequestContext): SecretValue | undefined {
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
}
