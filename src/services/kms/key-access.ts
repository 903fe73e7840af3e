/**
 * @module services/kms/key-access
 * Who may use a key, decided as KMS decides it: a request names a key by id, key ARN, alias name or alias ARN; the
 * key policy (for AWS managed keys, the policy AWS gives them) and then the key's grants decide whether the caller may
 * perform the action. Another account reaches a key only by its key ARN, never by an alias, and only with the
 * operations the model marks `crossAccount`. AWS managed keys come into being here, on first use.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import { isAccountId, parseArn, PARTITION, Scope } from '../../core/scope.js';
import { evaluatePolicy, notAuthorizedMessage, principalMatches, requestKeys, resourceTagKeys, type ContextValue, type PolicyDecision } from '../../auth/policy.js';
import type { ServiceModel } from '../../protocols/model.js';
import type * as api from '../../models/kms.js';
import { awsManagedPolicy, defaultPolicy } from './default-policies.js';
import { atLeastAsStrict, constraintsHold, grantOperationsFor, WITHOUT_CONTEXT } from './grant-constraints.js';
import type { KmsCaller } from './internal.js';
import type { KeyMaterial } from './key-material.js';
import { type AliasRecord, DAY_MS, DEFAULT_ROTATION_DAYS, type GrantOperation, type KeyRecord, type KmsTables } from './records.js';

/**
 * The services whose AWS managed keys (`alias/aws/<service>`) exist on AWS: the aliases ListAliases shows in every
 * account and the services that create such a key on first use. Any other `alias/aws/…` name is not found.
 */
const AWS_MANAGED_SERVICES = new Set([
  'acm', 'backup', 'codeartifact', 'codecommit', 'connect', 'dms', 'dynamodb', 'ebs', 'elasticfilesystem', 'es', 'fsx', 'glue', 'kafka', 'kinesis',
  'kinesisvideo', 'lambda', 'lightsail', 'memorydb', 'rds', 'redshift', 's3', 'secretsmanager', 'sns', 'sqs', 'ssm', 'timestream', 'xray',
]);

/** The grant a CreateGrant request asks for: what a parent grant's CreateGrant permission is checked against. */
export interface ChildGrant {
  operations: GrantOperation[];
  constraints?: api.GrantConstraints;
  granteePrincipal: string;
  retiringPrincipal?: string;
}

/** What a request adds to the key policy's and grants' view of it. */
interface AuthorizeExtras {
  encryptionContext?: Record<string, string>;
  /** The alias the request named the key by (kms:RequestAlias). */
  requestAlias?: string;
  /** CreateGrant: the grant asked for. */
  childGrant?: ChildGrant;
}

/** The caller of an API request, as key policies and grants see it. */
export function requester(ctx: RequestContext): KmsCaller {
  return { accountId: ctx.scope.accountId, arn: ctx.callerArn || `arn:aws:iam::${ctx.scope.accountId}:root` };
}

export function dryRun(input: { DryRun?: boolean }): void {
  if (input.DryRun) throw new ServiceError('DryRunOperationException', 'The request would have succeeded, but the DryRun option is set.');
}

function notFoundKey(arn: string): ServiceError {
  return new ServiceError('NotFoundException', `Key '${arn}' does not exist`);
}

export class KeyAccess {
  constructor(private readonly t: KmsTables, private readonly material: KeyMaterial, private readonly clock: Clock, private readonly model?: ServiceModel) {}

  aliasArn(scope: Scope, name: string): string {
    return scope.arn('kms', name);
  }

  /** Whether the request's operation may act on another account's key (the model's `crossAccount`). */
  private crossAccountOperation(ctx: RequestContext): boolean {
    return Boolean(this.model?.operations.get(ctx.operation)?.crossAccount);
  }

  /**
   * Finds a key by id, key ARN, alias name or alias ARN (AWS-managed aliases are created on first use) and checks
   * that `caller` may perform `action` on it (authorize). An alias always names a key of the caller's own account;
   * another account's key is reached only by its key ARN, and only by operations that work across accounts.
   */
  findKey(
    ctx: RequestContext,
    keyIdOrAlias: string,
    o: { action: string; caller?: KmsCaller; allowAlias?: boolean; crossAccount?: boolean; encryptionContext?: Record<string, string>; createAwsManaged?: boolean; childGrant?: ChildGrant },
  ): KeyRecord {
    const caller = o.caller ?? requester(ctx);
    let id = keyIdOrAlias;
    let requestAlias: string | undefined;
    let scope = ctx.scope;
    let foreign = false;
    if (id.startsWith('arn:')) {
      const arn = parseArn(id);
      if (!arn || arn.service !== 'kms' || arn.partition !== PARTITION || !isAccountId(arn.accountId) || !(arn.resource.startsWith('key/') || arn.resource.startsWith('alias/'))) {
        throw new ServiceError('NotFoundException', `Invalid arn ${keyIdOrAlias}`);
      }
      if (arn.region !== ctx.scope.region) throw new ServiceError('NotFoundException', `Invalid arn ${keyIdOrAlias}`);
      id = arn.resource;
      if (arn.accountId !== ctx.scope.accountId) {
        // An alias never names another account's key, as on AWS.
        if (id.startsWith('alias/')) throw new ServiceError('NotFoundException', `Alias ${keyIdOrAlias} is not found.`);
        if (!(o.crossAccount ?? this.crossAccountOperation(ctx))) throw this.denied(caller, o.action, keyIdOrAlias, 'no-policy');
        scope = Scope.crossAccount(arn);
        foreign = true;
      }
      if (id.startsWith('key/')) id = id.slice(4);
    }
    if (id.startsWith('alias/')) {
      if (o.allowAlias === false) throw new ServiceError('NotFoundException', `Invalid keyId ${keyIdOrAlias}`);
      let alias = this.t.aliases.get(scope, id);
      // An AWS managed key comes into being when its service first uses it, or when DescribeKey names its alias (as
      // the API reference documents), and only for a service that has one; nothing else creates one, so a refused
      // request never leaves one behind.
      if (!alias && o.createAwsManaged && !foreign && id.startsWith('alias/aws/') && AWS_MANAGED_SERVICES.has(id.slice('alias/aws/'.length))) alias = this.createAwsManagedKey(scope, id);
      if (!alias) throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(scope, id)} is not found.`);
      requestAlias = id;
      id = alias.targetKeyId;
    }
    const key = this.t.keys.get(scope, id);
    if (!key) {
      // Another account is never told whether a key exists there.
      if (foreign) throw this.denied(caller, o.action, keyIdOrAlias, 'no-policy');
      throw notFoundKey(scope.arn('kms', `key/${id}`));
    }
    this.authorize(key, o.action, caller, { ...(o.encryptionContext ? { encryptionContext: o.encryptionContext } : {}), ...(requestAlias ? { requestAlias } : {}), ...(o.childGrant ? { childGrant: o.childGrant } : {}) });
    return key;
  }

  /** A key for a management operation (not cryptography): found, and the caller allowed `kms:<operation>`. */
  keyFor(ctx: RequestContext, keyId: string): KeyRecord {
    return this.findKey(ctx, keyId, { action: `kms:${ctx.operation}`, allowAlias: false });
  }

  /** A key that may be used for cryptography now, by `caller`, for `action`. */
  usableKey(ctx: RequestContext, keyId: string, action: string, ec: Record<string, string> | undefined, caller = requester(ctx)): KeyRecord {
    // Services using a key for a caller (Secrets Manager with aws/secretsmanager) create the AWS managed key then.
    const key = this.findKey(ctx, keyId, { action, caller, encryptionContext: ec ?? {}, crossAccount: true, createAwsManaged: caller.viaService !== undefined });
    this.assertUsable(key);
    return key;
  }

  assertUsable(key: KeyRecord): void {
    if (key.state === 'Disabled') throw new ServiceError('DisabledException', `${key.arn} is disabled.`);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }

  assertCustomerManaged(key: KeyRecord, op: string): void {
    if (key.keyManager === 'AWS') throw new ServiceError('UnsupportedOperationException', `${op} is not supported on AWS managed key ${key.arn}.`);
  }

  /** The policy that governs a key: its own, or, for an AWS managed key, the one AWS gives those. */
  policyOf(key: KeyRecord): string {
    if (key.keyManager !== 'AWS') return key.policies.default ?? defaultPolicy(key.accountId);
    // Keys made before Cellar recorded the service: it is the one in their alias (alias/aws/<service>).
    key.managedFor ??= this.t.aliases
      .list(Scope.ofRecord(key), 'alias/aws/')
      .find(([, a]) => a.targetKeyId === key.keyId)?.[0]
      .slice('alias/aws/'.length);
    return awsManagedPolicy(key);
  }

  /** Request context keys KMS policies read: the global ones Cellar knows, KMS's own, the key's tags and aliases. */
  private conditionContext(key: KeyRecord, caller: KmsCaller, x: AuthorizeExtras): Record<string, ContextValue | (() => ContextValue)> {
    const out: Record<string, ContextValue | (() => ContextValue)> = {
      ...requestKeys(this.clock.now(), key.region),
      ...resourceTagKeys(key.tags),
      'aws:ResourceAccount': key.accountId,
      'kms:CallerAccount': caller.accountId,
      'kms:ViaService': caller.viaService,
      'kms:KeySpec': 'SYMMETRIC_DEFAULT',
      'kms:KeyOrigin': 'AWS_KMS',
      'kms:KeyUsage': 'ENCRYPT_DECRYPT',
      'kms:MultiRegion': String(key.multiRegion),
      'kms:ResourceAliases': () => this.t.aliases.list(Scope.ofRecord(key)).filter(([, a]) => a.targetKeyId === key.keyId).map(([name]) => name),
    };
    if (x.requestAlias) out['kms:RequestAlias'] = x.requestAlias;
    const ec = x.encryptionContext;
    if (ec) {
      out['kms:EncryptionContextKeys'] = Object.keys(ec);
      for (const [k, v] of Object.entries(ec)) out[`kms:EncryptionContext:${k}`] = v;
    }
    const g = x.childGrant;
    if (g) {
      out['kms:GrantOperations'] = [...g.operations];
      out['kms:GranteePrincipal'] = g.granteePrincipal;
      if (g.retiringPrincipal !== undefined) out['kms:RetiringPrincipal'] = g.retiringPrincipal;
      if (g.constraints?.EncryptionContextEquals) out['kms:GrantConstraintType'] = 'EncryptionContextEquals';
      else if (g.constraints?.EncryptionContextSubset) out['kms:GrantConstraintType'] = 'EncryptionContextSubset';
      out['kms:GrantIsForAWSResource'] = String(caller.viaService !== undefined);
    }
    return out;
  }

  /** The key policy, then the key's grants: an explicit Deny refuses, an Allow or a matching grant permits. */
  authorize(key: KeyRecord, action: string, caller: KmsCaller, x: AuthorizeExtras = {}): void {
    const decision: PolicyDecision = evaluatePolicy(this.policyOf(key), {
      principal: { accountId: caller.accountId, arn: caller.arn },
      action,
      resource: key.arn,
      context: this.conditionContext(key, caller, x),
    });
    if (decision === 'deny') throw this.denied(caller, action, key.arn, 'explicit-deny');
    if (decision === 'allow') return;
    if (this.grantAllows(key, action, caller, x)) return;
    throw this.denied(caller, action, key.arn, 'no-policy');
  }

  /**
   * Whether one of the key's grants gives `caller` the action. A grant's encryption-context constraint must hold
   * for the request's context (it does not apply to DescribeKey and RetireGrant). CreateGrant permission from a grant
   * is limited, as KMS documents ("Granting CreateGrant permission"): the child grant may allow only operations of
   * the parent, and its constraint must be at least as strict as the parent's.
   */
  private grantAllows(key: KeyRecord, action: string, caller: KmsCaller, x: AuthorizeExtras): boolean {
    const wanted = grantOperationsFor(action);
    const scope = Scope.ofRecord(key);
    for (const [, g] of this.t.grants.list(scope, `${key.keyId}/`)) {
      if (!wanted.some((op) => g.operations.includes(op))) continue;
      if (!principalMatches({ AWS: g.granteePrincipal }, { accountId: caller.accountId, arn: caller.arn })) continue;
      if (action === 'kms:CreateGrant') {
        const child = x.childGrant;
        if (!child || !child.operations.every((op) => g.operations.includes(op)) || !atLeastAsStrict(child.constraints, g.constraints)) continue;
        return true;
      }
      if (!wanted.every((op) => WITHOUT_CONTEXT.has(op)) && !constraintsHold(g.constraints, x.encryptionContext)) continue;
      return true;
    }
    return false;
  }

  denied(caller: KmsCaller, action: string, resource: string, reason: 'no-policy' | 'explicit-deny'): ServiceError {
    return new ServiceError('AccessDeniedException', notAuthorizedMessage(caller.arn, action, resource, reason));
  }

  private createAwsManagedKey(scope: Scope, aliasName: string): AliasRecord {
    const service = aliasName.slice('alias/aws/'.length);
    const key = this.newKey(scope, { description: `Default key that protects my ${service} data when no other key is defined`, keyManager: 'AWS' });
    key.managedFor = service;
    // AWS-managed keys rotate every year, and that cannot be changed.
    key.rotationEnabled = true;
    key.nextRotationMs = key.createdMs + DEFAULT_ROTATION_DAYS * DAY_MS;
    const now = this.clock.now();
    const alias: AliasRecord = { name: aliasName, arn: this.aliasArn(scope, aliasName), targetKeyId: key.keyId, createdMs: now, updatedMs: now };
    this.t.store.transaction(() => {
      this.t.keys.put(scope, key.keyId, key);
      this.t.aliases.put(scope, aliasName, alias);
    });
    return alias;
  }

  /** A new key record (not yet stored) with fresh material. */
  newKey(scope: Scope, opts: { description: string; keyManager: 'AWS' | 'CUSTOMER'; multiRegion?: boolean; tags?: Record<string, string>; policy?: string }): KeyRecord {
    const keyId = opts.multiRegion ? 'mrk-' + randomBytes(16).toString('hex') : randomUUID();
    const now = this.clock.now();
    const arn = scope.arn('kms', `key/${keyId}`);
    return {
      keyId,
      arn,
      accountId: scope.accountId,
      region: scope.region,
      createdMs: now,
      description: opts.description,
      state: 'Enabled',
      materials: [this.material.create(arn, now)],
      keyManager: opts.keyManager,
      multiRegion: Boolean(opts.multiRegion),
      rotationEnabled: false,
      rotationPeriodDays: DEFAULT_ROTATION_DAYS,
      tags: opts.tags ?? {},
      policies: { default: opts.policy ?? defaultPolicy(scope.accountId) },
    };
  }
}
