/**
 * @module auth/credentials
 * The access keys Cellar knows: `test`/`test` out of the box, keys from the config file, and temporary
 * credentials issued by STS AssumeRole (kept in the store so they survive a restart).
 * A known key's signature is always verified; in strict mode only known keys are accepted.
 */
import type { JsonTable } from '../storage/store.js';
import type { SecretBox } from '../crypto/rootkey.js';
import { isAccountId } from '../core/scope.js';

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  /** ARN of the principal these keys act as. */
  arn: string;
  /** Temporary credentials carry a session token and an expiry (ms since epoch). */
  sessionToken?: string;
  expiresAtMs?: number;
  /** For assumed roles: `AROA...:<session name>`. */
  userId?: string;
}

export interface ConfiguredKey {
  accessKeyId: string;
  secretAccessKey: string;
  accountId?: string;
  userName?: string;
}

export const DEFAULT_ACCOUNT_ID = '000000000000';

/** LocalStack's convention: a 12-digit access key id names the account it acts in. */
export function accountForUnknownKey(accessKeyId: string): string {
  return /^\d{12}$/.test(accessKeyId) ? accessKeyId : DEFAULT_ACCOUNT_ID;
}

export class CredentialStore {
  private readonly permanent = new Map<string, Credential>();

  constructor(
    configured: ConfiguredKey[],
    private readonly temporary: JsonTable<Credential>,
    private readonly box: SecretBox,
  ) {
    this.addPermanent({ accessKeyId: 'test', secretAccessKey: 'test' });
    for (const key of configured) this.addPermanent(key);
  }

  private addPermanent(key: ConfiguredKey): void {
    const accountId = key.accountId ?? accountForUnknownKey(key.accessKeyId);
    // The account names state (core/scope.ts): a malformed one is a configuration error, refused at startup.
    if (!isAccountId(accountId)) throw new Error(`access key ${key.accessKeyId}: accountId must be 12 digits, not ${JSON.stringify(accountId)}`);
    if (!/^[\x21-\x7e]{1,128}$/.test(key.accessKeyId) || key.accessKeyId.includes('/')) throw new Error(`access key id ${JSON.stringify(key.accessKeyId)} is not a valid access key id`);
    this.permanent.set(key.accessKeyId, {
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      accountId,
      arn: key.userName ? `arn:aws:iam::${accountId}:user/${key.userName}` : `arn:aws:iam::${accountId}:root`,
      userId: key.userName ? key.accessKeyId : accountId,
    });
  }

  lookup(accessKeyId: string): Credential | undefined {
    const found = this.permanent.get(accessKeyId);
    if (found) return found;
    const stored = this.temporary.get(accessKeyId);
    if (!stored) return undefined;
    // Temporary secrets are kept sealed under the root key, never in plaintext on disk.
    return { ...stored, secretAccessKey: this.box.openString(stored.secretAccessKey, accessKeyId), sessionToken: stored.sessionToken && this.box.openString(stored.sessionToken, accessKeyId) };
  }

  addTemporary(cred: Credential): void {
    this.temporary.put(cred.accessKeyId, {
      ...cred,
      secretAccessKey: this.box.sealString(cred.secretAccessKey, cred.accessKeyId),
      ...(cred.sessionToken ? { sessionToken: this.box.sealString(cred.sessionToken, cred.accessKeyId) } : {}),
    });
  }

  /** Drops expired temporary credentials; bounded work per call. */
  pruneExpired(nowMs: number, maxPerCall = 1000): number {
    let removed = 0;
    for (const [key, cred] of this.temporary.list()) {
      if (removed >= maxPerCall) break;
      if (cred.expiresAtMs !== undefined && cred.expiresAtMs < nowMs - 3600_000) {
        this.temporary.delete(key);
        removed++;
      }
    }
    return removed;
  }
}
