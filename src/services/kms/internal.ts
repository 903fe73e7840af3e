/**
 * @module services/kms/internal
 * What other services (Secrets Manager, RDS) use of KMS in-process, without going over HTTP. The same
 * rules apply as for the public API: a disabled key or one pending deletion refuses use, the encryption
 * context is bound to the ciphertext as additional authenticated data, and the key policy (and grants)
 * decide whether the principal the service acts for may use the key, with kms:ViaService naming the service.
 */
import type { RequestContext } from '../../core/context.js';

/** Who a service uses a key for: the caller it serves, through it (kms:ViaService, e.g. `secretsmanager.us-east-1.amazonaws.com`). */
export interface KmsCaller {
  accountId: string;
  arn: string;
  viaService?: string;
}

/**
 * A service that will encrypt a resource of the caller's under the key (RDS storage): the caller must be allowed
 * kms:DescribeKey and kms:CreateGrant through that service (kms:ViaService), as AWS services need to create the grant
 * they use the key by.
 */
export interface ServiceUse {
  /** `rds.us-east-1.amazonaws.com`: kms:ViaService, and the grant's grantee principal. */
  viaService: string;
}

export interface KmsInternal {
  /**
   * Resolves keyId (key id, key ARN, alias name or alias ARN) in ctx's account and region. An alias
   * of the form `alias/aws/<service>` names an AWS-managed key, created on first use as AWS does.
   * Returns the key ARN, or throws KMS's NotFoundException / DisabledException / KMSInvalidStateException, or
   * AccessDeniedException when the key's policy (or, for `forService`, its grants) does not let the caller use it.
   */
  resolveKeyArn(ctx: RequestContext, keyId: string, forService?: ServiceUse): string;
  encrypt(ctx: RequestContext, keyId: string, plaintext: Buffer, encryptionContext?: Record<string, string>, caller?: KmsCaller): { ciphertextBlob: Buffer; keyArn: string };
  /** The key is found from the ciphertext itself, as with KMS Decrypt. */
  decrypt(ctx: RequestContext, ciphertextBlob: Buffer, encryptionContext?: Record<string, string>, caller?: KmsCaller): { plaintext: Buffer; keyArn: string };
  /** 32 random bytes and their ciphertext, as GenerateDataKey with KeySpec AES_256. */
  generateDataKey(ctx: RequestContext, keyId: string, encryptionContext?: Record<string, string>, caller?: KmsCaller): { plaintext: Buffer; ciphertextBlob: Buffer; keyArn: string };
}
