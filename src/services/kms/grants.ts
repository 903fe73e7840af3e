/**
 * @module services/kms/grants
 * Grants: CreateGrant (idempotent by Name, limited to AWS's quota per key, a grant's CreateGrant permission checked
 * by key-access.ts), ListGrants, ListRetirableGrants, RevokeGrant and RetireGrant. A grant lives in its key's scope.
 */
import { randomBytes } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import { isAccountId, parseArn, PARTITION, Scope } from '../../core/scope.js';
import { principalMatches } from '../../auth/policy.js';
import type * as api from '../../models/kms.js';
import { type ChildGrant, dryRun, type KeyAccess, requester } from './key-access.js';
import { page } from './paging.js';
import type { GrantRecord, KeyRecord, KmsTables } from './records.js';

/** AWS's quota of grants per key. */
const MAX_GRANTS_PER_KEY = 50_000;
const GRANTEE = /^(?:arn:aws[\w-]*:(?:iam|sts)::\d{12}:[\w+=,.@:/-]+|[\w.-]+\.amazonaws\.com(?:\.cn)?)$/;

function grantEntry(key: KeyRecord, g: GrantRecord): api.GrantListEntry {
  return {
    KeyId: key.arn,
    GrantId: g.grantId,
    ...(g.name !== undefined ? { Name: g.name } : {}),
    CreationDate: new Date(g.createdMs),
    GranteePrincipal: g.granteePrincipal,
    ...(g.retiringPrincipal !== undefined ? { RetiringPrincipal: g.retiringPrincipal } : {}),
    IssuingAccount: g.issuingAccount,
    Operations: [...g.operations],
    ...(g.constraints ? { Constraints: g.constraints } : {}),
  };
}

export class Grants {
  constructor(private readonly t: KmsTables, private readonly access: KeyAccess, private readonly clock: Clock) {}

  createGrant(input: api.CreateGrantRequest, ctx: RequestContext): api.CreateGrantResponse {
    if (!GRANTEE.test(input.GranteePrincipal)) throw new ServiceError('InvalidArnException', `Invalid principal: ${input.GranteePrincipal}`);
    if (input.RetiringPrincipal !== undefined && !GRANTEE.test(input.RetiringPrincipal)) throw new ServiceError('InvalidArnException', `Invalid principal: ${input.RetiringPrincipal}`);
    if (input.Constraints?.EncryptionContextEquals && input.Constraints.EncryptionContextSubset) {
      throw new ServiceError('ValidationException', 'You cannot specify both EncryptionContextEquals and EncryptionContextSubset in the same grant constraint.');
    }
    const childGrant: ChildGrant = {
      operations: [...new Set(input.Operations)],
      granteePrincipal: input.GranteePrincipal,
      ...(input.RetiringPrincipal !== undefined ? { retiringPrincipal: input.RetiringPrincipal } : {}),
      ...(input.Constraints && (input.Constraints.EncryptionContextEquals || input.Constraints.EncryptionContextSubset) ? { constraints: input.Constraints } : {}),
    };
    const key = this.access.findKey(ctx, input.KeyId, { action: 'kms:CreateGrant', childGrant });
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    dryRun(input);
    const scope = Scope.ofRecord(key);
    const existing = this.t.grants.list(scope, `${key.keyId}/`).map(([, g]) => g);
    // A named grant created again with the same parameters is the same grant (CreateGrant is idempotent by Name).
    if (input.Name !== undefined) {
      const same = existing.find(
        (g) =>
          g.name === input.Name &&
          g.granteePrincipal === input.GranteePrincipal &&
          g.retiringPrincipal === input.RetiringPrincipal &&
          JSON.stringify([...g.operations].sort()) === JSON.stringify([...input.Operations].sort()) &&
          JSON.stringify(g.constraints ?? null) === JSON.stringify(input.Constraints ?? null),
      );
      if (same) return { GrantId: same.grantId, GrantToken: same.token };
    }
    if (existing.length >= MAX_GRANTS_PER_KEY) throw new ServiceError('LimitExceededException', `The number of grants on key ${key.arn} exceeds the limit.`);
    const grantId = randomBytes(32).toString('hex');
    const grant: GrantRecord = {
      grantId,
      keyId: key.keyId,
      ...(input.Name !== undefined ? { name: input.Name } : {}),
      createdMs: this.clock.now(),
      granteePrincipal: input.GranteePrincipal,
      ...(input.RetiringPrincipal !== undefined ? { retiringPrincipal: input.RetiringPrincipal } : {}),
      issuingAccount: `arn:aws:iam::${ctx.scope.accountId}:root`,
      operations: [...new Set(input.Operations)],
      ...(input.Constraints ? { constraints: input.Constraints } : {}),
      token: randomBytes(48).toString('base64url'),
    };
    this.t.grants.put(scope, `${key.keyId}/${grantId}`, grant);
    return { GrantId: grantId, GrantToken: grant.token };
  }

  listGrants(input: api.ListGrantsRequest, ctx: RequestContext): api.ListGrantsResponse {
    const key = this.access.findKey(ctx, input.KeyId, { action: 'kms:ListGrants' });
    let all = this.t.grants.list(Scope.ofRecord(key), `${key.keyId}/`).map(([, g]) => g);
    if (input.GrantId !== undefined) {
      all = all.filter((g) => g.grantId === input.GrantId);
      if (!all.length) throw new ServiceError('InvalidGrantIdException', 'Invalid grant ID');
    }
    if (input.GranteePrincipal !== undefined) all = all.filter((g) => g.granteePrincipal === input.GranteePrincipal);
    return page(all, input.Marker, input.Limit ?? 50, (g) => g.grantId, (g) => grantEntry(key, g), 'Grants');
  }

  listRetirableGrants(input: api.ListRetirableGrantsRequest, ctx: RequestContext): api.ListGrantsResponse {
    const all: Array<[KeyRecord, GrantRecord]> = [];
    for (const [name, g] of this.t.grants.list(ctx.scope)) {
      if (g.retiringPrincipal !== input.RetiringPrincipal) continue;
      const key = this.t.keys.get(ctx.scope, name.split('/')[0]!);
      if (key) all.push([key, g]);
    }
    return page(all, input.Marker, input.Limit ?? 50, ([, g]) => g.grantId, ([key, g]) => grantEntry(key, g), 'Grants');
  }

  revokeGrant(input: api.RevokeGrantRequest, ctx: RequestContext): void {
    const key = this.access.findKey(ctx, input.KeyId, { action: 'kms:RevokeGrant' });
    const scope = Scope.ofRecord(key);
    const name = `${key.keyId}/${input.GrantId}`;
    if (!this.t.grants.get(scope, name)) throw new ServiceError('NotFoundException', `Grant ID ${input.GrantId} not found`);
    dryRun(input);
    this.t.grants.delete(scope, name);
  }

  /**
   * RetireGrant by token, or by key and grant id: allowed to the grant's retiring principal, to its grantee when the
   * grant lists RetireGrant, and to the account that owns the key (its root), as AWS documents.
   */
  retireGrant(input: api.RetireGrantRequest, ctx: RequestContext): void {
    let found: { scope: Scope; name: string; grant: GrantRecord } | undefined;
    if (input.GrantToken !== undefined) {
      // A grant token names a grant of this region only (grants, like keys, are regional): the retiring principal may
      // be of another account, so every account of the caller's region is looked at, and no other region.
      for (const [storeKey, g] of this.t.grants.everyScope()) {
        if (g.token !== input.GrantToken) continue;
        const [account, region] = storeKey.split('/') as [string, string];
        if (region !== ctx.scope.region) continue;
        found = { scope: Scope.ofRecord({ accountId: account, region }), name: `${g.keyId}/${g.grantId}`, grant: g };
        break;
      }
      if (!found) throw new ServiceError('InvalidGrantTokenException', 'Invalid grant token');
    } else {
      if (input.KeyId === undefined || input.GrantId === undefined) throw new ServiceError('ValidationException', 'Grant ID and key ID are both required when a grant token is not provided.');
      const { scope, keyId } = this.grantKeyScope(ctx, input.KeyId);
      const g = this.t.grants.get(scope, `${keyId}/${input.GrantId}`);
      if (!g) throw new ServiceError('InvalidGrantIdException', 'Invalid grant ID');
      found = { scope, name: `${keyId}/${input.GrantId}`, grant: g };
    }
    const caller = requester(ctx);
    const g = found.grant;
    const may =
      (g.retiringPrincipal !== undefined && principalMatches({ AWS: g.retiringPrincipal }, caller)) ||
      (g.operations.includes('RetireGrant') && principalMatches({ AWS: g.granteePrincipal }, caller)) ||
      (caller.accountId === found.scope.accountId && caller.arn === `arn:aws:iam::${caller.accountId}:root`);
    if (!may) throw this.access.denied(caller, 'kms:RetireGrant', found.scope.arn('kms', `key/${g.keyId}`), 'no-policy');
    dryRun(input);
    this.t.grants.delete(found.scope, found.name);
  }

  /**
   * RetireGrant's KeyId (a key id or key ARN) as a scope and key id. A key ARN must be a KMS key ARN of Cellar's
   * partition and the caller's region, as DescribeKey requires of an ARN; another account's key ARN is how a retiring
   * principal of another account names the key.
   */
  private grantKeyScope(ctx: RequestContext, keyIdOrArn: string): { scope: Scope; keyId: string } {
    if (!keyIdOrArn.startsWith('arn:')) {
      if (keyIdOrArn.startsWith('alias/')) throw new ServiceError('NotFoundException', `Invalid keyId ${keyIdOrArn}`);
      return { scope: ctx.scope, keyId: keyIdOrArn };
    }
    const arn = parseArn(keyIdOrArn);
    if (!arn || arn.partition !== PARTITION || arn.service !== 'kms' || arn.region !== ctx.scope.region || !isAccountId(arn.accountId) || !arn.resource.startsWith('key/')) {
      throw new ServiceError('NotFoundException', `Invalid arn ${keyIdOrArn}`);
    }
    return { scope: arn.accountId === ctx.scope.accountId ? ctx.scope : Scope.crossAccount(arn), keyId: arn.resource.slice('key/'.length) };
  }
}
