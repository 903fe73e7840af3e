/**
 * @module services/sts/provider
 * STS: who am I (GetCallerIdentity, which tools call first) and temporary credentials (AssumeRole,
 * GetSessionToken) that the SigV4 check accepts until they expire.
 */
import { randomBytes } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import type { CredentialStore } from '../../auth/credentials.js';
import type * as api from '../../models/sts.js';
import { principalMatches, wildcardMatch } from '../../auth/policy.js';
import type { RoleTrust } from '../../config.js';

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function randomId(prefix: string, length = 16): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (let i = 0; i < length; i++) out += KEY_ALPHABET[bytes[i]! % KEY_ALPHABET.length];
  return out;
}

function secret(): string {
  return randomBytes(30).toString('base64').replace(/[+/]/g, 'A').slice(0, 40);
}

const ROLE_ARN = /^arn:aws[\w-]*:iam::(\d{12}):role\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]{1,64})$/;

export interface StsOptions {
  strict: boolean;
  /** Cross-account trust for --strict (config `roleTrust`). */
  roleTrust: readonly RoleTrust[];
}

export class StsProvider implements Partial<api.STSApi> {
  constructor(
    private readonly credentials: CredentialStore,
    private readonly options: StsOptions = { strict: false, roleTrust: [] },
  ) {}

  /**
   * The one rule for AssumeRole into another account: allowed by default (LocalStack users test cross-account code
   * this way); in --strict mode only where the config file's `roleTrust` trusts the caller for that role. A role of
   * the caller's own account can always be assumed (Cellar models no IAM trust policies).
   */
  private assertTrusted(ctx: RequestContext, roleArn: string, roleAccount: string): void {
    if (!this.options.strict || roleAccount === ctx.scope.accountId) return;
    const caller = { accountId: ctx.scope.accountId, arn: ctx.callerArn };
    const trusted = this.options.roleTrust.some((t) => wildcardMatch(t.role, roleArn) && principalMatches({ AWS: t.principals }, caller));
    if (!trusted) {
      throw new ServiceError('AccessDenied', `User: ${ctx.callerArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, { status: 403 });
    }
  }

  getCallerIdentity(_input: api.GetCallerIdentityRequest, ctx: RequestContext): api.GetCallerIdentityResponse {
    const cred = this.credentials.lookup(ctx.accessKeyId);
    return { UserId: cred?.userId ?? ctx.scope.accountId, Account: ctx.scope.accountId, Arn: cred?.arn ?? ctx.callerArn };
  }

  getAccessKeyInfo(input: api.GetAccessKeyInfoRequest): api.GetAccessKeyInfoResponse {
    const cred = this.credentials.lookup(input.AccessKeyId);
    return { Account: cred?.accountId ?? (/^\d{12}$/.test(input.AccessKeyId) ? input.AccessKeyId : '000000000000') };
  }

  assumeRole(input: api.AssumeRoleRequest, ctx: RequestContext): api.AssumeRoleResponse {
    const m = ROLE_ARN.exec(input.RoleArn);
    if (!m) throw new ServiceError('ValidationError', `${input.RoleArn} is invalid`);
    const durationS = input.DurationSeconds ?? 3600;
    const accountId = m[1]!;
    const roleName = m[3]!;
    this.assertTrusted(ctx, input.RoleArn, accountId);
    const roleId = randomId('AROA', 17);
    const assumedArn = `arn:aws:sts::${accountId}:assumed-role/${roleName}/${input.RoleSessionName}`;
    const creds = this.issue(ctx, accountId, assumedArn, `${roleId}:${input.RoleSessionName}`, durationS);
    return {
      Credentials: creds,
      AssumedRoleUser: { AssumedRoleId: `${roleId}:${input.RoleSessionName}`, Arn: assumedArn },
      PackedPolicySize: input.Policy ? Math.min(100, Math.ceil((input.Policy.length / 2048) * 100)) : 0,
      SourceIdentity: input.SourceIdentity,
    };
  }

  getSessionToken(input: api.GetSessionTokenRequest, ctx: RequestContext): api.GetSessionTokenResponse {
    const base = this.credentials.lookup(ctx.accessKeyId);
    if (base?.sessionToken) throw new ServiceError('AccessDenied', 'Cannot call GetSessionToken with session credentials', { status: 403 });
    return { Credentials: this.issue(ctx, ctx.scope.accountId, base?.arn ?? ctx.callerArn, base?.userId ?? ctx.scope.accountId, input.DurationSeconds ?? 43200) };
  }

  private issue(ctx: RequestContext, accountId: string, arn: string, userId: string, durationS: number): api.Credentials {
    const accessKeyId = randomId('ASIA');
    const secretAccessKey = secret();
    const sessionToken = randomBytes(96).toString('base64');
    const expiresAtMs = ctx.clock.now() + durationS * 1000;
    this.credentials.addTemporary({ accessKeyId, secretAccessKey, sessionToken, expiresAtMs, accountId, arn, userId });
    return { AccessKeyId: accessKeyId, SecretAccessKey: secretAccessKey, SessionToken: sessionToken, Expiration: new Date(expiresAtMs) };
  }
}
