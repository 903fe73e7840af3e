/**
 * @module services/kms/aliases
 * Aliases: friendly names (`alias/…`) for keys of the caller's own account. `alias/aws/…` names are AWS's own: they
 * name AWS managed keys, which key-access.ts creates on first use, and no caller may create or change one.
 */
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import type * as api from '../../models/kms.js';
import { type KeyAccess, requester } from './key-access.js';
import { page } from './paging.js';
import type { AliasRecord, KmsTables } from './records.js';

function checkAliasName(name: string): void {
  if (!name.startsWith('alias/')) throw new ServiceError('ValidationException', 'Invalid identifier');
  if (name.startsWith('alias/aws/')) throw new ServiceError('NotAuthorizedException', '');
}

export class Aliases {
  constructor(private readonly t: KmsTables, private readonly access: KeyAccess, private readonly clock: Clock) {}

  /** An alias of the caller's account that a caller may change (not one of AWS's). */
  private existingAlias(ctx: RequestContext, name: string): AliasRecord {
    checkAliasName(name);
    const alias = this.t.aliases.get(ctx.scope, name);
    if (!alias) throw new ServiceError('NotFoundException', `Alias ${this.access.aliasArn(ctx.scope, name)} is not found.`);
    return alias;
  }

  createAlias(input: api.CreateAliasRequest, ctx: RequestContext): void {
    checkAliasName(input.AliasName);
    const key = this.access.findKey(ctx, input.TargetKeyId, { action: 'kms:CreateAlias', allowAlias: false, crossAccount: false });
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    if (this.t.aliases.get(ctx.scope, input.AliasName)) throw new ServiceError('AlreadyExistsException', `An alias with the name ${this.access.aliasArn(ctx.scope, input.AliasName)} already exists`);
    const now = this.clock.now();
    this.t.aliases.put(ctx.scope, input.AliasName, { name: input.AliasName, arn: this.access.aliasArn(ctx.scope, input.AliasName), targetKeyId: key.keyId, createdMs: now, updatedMs: now });
  }

  /**
   * UpdateAlias needs kms:UpdateAlias on the alias (an identity permission: Cellar's IAM allows it within the account),
   * on the key the alias names now and on the key it is to name, as the API reference says.
   */
  updateAlias(input: api.UpdateAliasRequest, ctx: RequestContext): void {
    const alias = this.existingAlias(ctx, input.AliasName);
    const current = this.t.keys.get(ctx.scope, alias.targetKeyId);
    if (current) this.access.authorize(current, 'kms:UpdateAlias', requester(ctx));
    const key = this.access.findKey(ctx, input.TargetKeyId, { action: 'kms:UpdateAlias', allowAlias: false, crossAccount: false });
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    alias.targetKeyId = key.keyId;
    alias.updatedMs = this.clock.now();
    this.t.aliases.put(ctx.scope, input.AliasName, alias);
  }

  /** DeleteAlias needs kms:DeleteAlias on the alias and on the key it names (the key policy decides the latter). */
  deleteAlias(input: api.DeleteAliasRequest, ctx: RequestContext): void {
    const alias = this.existingAlias(ctx, input.AliasName);
    const key = this.t.keys.get(ctx.scope, alias.targetKeyId);
    if (key) this.access.authorize(key, 'kms:DeleteAlias', requester(ctx));
    this.t.aliases.delete(ctx.scope, input.AliasName);
  }

  listAliases(input: api.ListAliasesRequest, ctx: RequestContext): api.ListAliasesResponse {
    let all = this.t.aliases.list(ctx.scope).map(([, a]) => a);
    if (input.KeyId !== undefined) {
      const key = this.access.findKey(ctx, input.KeyId, { action: 'kms:ListAliases', allowAlias: false, crossAccount: false });
      all = all.filter((a) => a.targetKeyId === key.keyId);
    }
    return page(all, input.Marker, input.Limit ?? 100, (a) => a.name, (a) => ({ AliasName: a.name, AliasArn: a.arn, TargetKeyId: a.targetKeyId, CreationDate: new Date(a.createdMs), LastUpdatedDate: new Date(a.updatedMs) }), 'Aliases');
  }
}
