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
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { faultPoint } from '../../core/faults.js';
import type { Clock } from '../../core/clock.js';
import { isAccountId, parseArn, PARTITION, Scope } from '../../core/scope.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import { evaluatePolicy, notAuthorizedMessage, principalMatches, requestKeys, resourceTagKeys, type ContextValue, type PolicyDecision } from '../../auth/policy.js';
import type { ServiceModel } from '../../protocols/model.js';
import { ScopedTable, type Store } from '../../storage/store.js';
import type * as api from '../../models/kms.js';
import { contextAad, decodeCiphertext, encodeCiphertext, IV_BYTES } from './ciphertext.js';
import type { KmsCaller, KmsInternal } from './internal.js';

const DAY_MS = 86_400_000;
const MAX_TAGS = 50;
const DEFAULT_ROTATION_DAYS = 365;
const MATERIAL_CACHE_ENTRIES = 4096;
/** AWS's quota of grants per key. */
const MAX_GRANTS_PER_KEY = 50_000;
const GRANTEE = /^(?:arn:aws[\w-]*:(?:iam|sts)::\d{12}:[\w+=,.@:/-]+|[\w.-]+\.amazonaws\.com(?:\.cn)?)$/;

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
  /** For AWS managed keys: the service they serve (`secretsmanager` for alias/aws/secretsmanager). */
  managedFor?: string;
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

type GrantOperation = api.CreateGrantRequest['Operations'][number];

/** The grant a CreateGrant request asks for: what a parent grant's CreateGrant permission is checked against. */
interface ChildGrant {
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

/**
 * The services whose AWS managed keys (`alias/aws/<service>`) exist on AWS: the aliases ListAliases shows in every
 * account and the services that create such a key on first use. Any other `alias/aws/…` name is not found.
 */
const AWS_MANAGED_SERVICES = new Set([
  'acm', 'backup', 'codeartifact', 'codecommit', 'connect', 'dms', 'dynamodb', 'ebs', 'elasticfilesystem', 'es', 'fsx', 'glue', 'kafka', 'kinesis',
  'kinesisvideo', 'lambda', 'lightsail', 'memorydb', 'rds', 'redshift', 's3', 'secretsmanager', 'sns', 'sqs', 'ssm', 'timestream', 'xray',
]);

/** Grant operations that carry no encryption context: a grant's constraint does not apply to them (GrantConstraints). */
const WITHOUT_CONTEXT: ReadonlySet<GrantOperation> = new Set<GrantOperation>(['DescribeKey', 'RetireGrant']);

interface GrantRecord {
  grantId: string;
  keyId: string;
  name?: string;
  createdMs: number;
  granteePrincipal: string;
  retiringPrincipal?: string;
  issuingAccount: string;
  operations: GrantOperation[];
  constraints?: api.GrantConstraints;
  token: string;
}

function defaultPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
  });
}

/**
 * The key policy AWS gives an AWS managed key (`aws/<service>`): cryptographic use by any principal of the owning
 * account, but only through that service; direct access to the key's metadata for the account.
 */
function awsManagedPolicy(key: KeyRecord): string {
  const service = key.managedFor ?? 'kms';
  const via = `${service}.${key.region}.amazonaws.com`;
  const sid = `Allow access through ${service} for all principals in the account that are authorized to use ${service}`;
  return JSON.stringify({
    Version: '2012-10-17',
    Id: `auto-${service}-2`,
    Statement: [
      { Sid: sid, Effect: 'Allow', Principal: { AWS: '*' }, Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:CreateGrant', 'kms:DescribeKey'], Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': key.accountId, 'kms:ViaService': via } } },
      { Sid: sid, Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:GenerateDataKey*', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': key.accountId }, StringLike: { 'kms:ViaService': via } } },
      { Sid: 'Allow direct access to key metadata to the account', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${key.accountId}:root` }, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'], Resource: '*' },
    ],
  });
}

function blobBytes(v: api.Blob | undefined): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.from(v);
}

function notFoundKey(arn: string): ServiceError {
  return new ServiceError('NotFoundException', `Key '${arn}' does not exist`);
}

/** The caller of an API request, as key policies and grants see it. */
function requester(ctx: RequestContext): KmsCaller {
  return { accountId: ctx.scope.accountId, arn: ctx.callerArn || `arn:aws:iam::${ctx.scope.accountId}:root` };
}

/** Grant operations that stand for a policy action. */
function grantOperationsFor(action: string): GrantOperation[] {
  const op = action.slice('kms:'.length);
  if (op === 'ReEncryptFrom' || op === 'ReEncryptTo') return [op];
  return [op as GrantOperation];
}

export class KmsProvider implements Partial<api.KMSApi> {
  private readonly keys: ScopedTable<KeyRecord>;
  private readonly aliases: ScopedTable<AliasRecord>;
  /** Keyed `<key id>/<grant id>` in the key's scope. */
  private readonly grants: ScopedTable<GrantRecord>;
  readonly internal: KmsInternal;

  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly model?: ServiceModel,
  ) {
    this.keys = new ScopedTable(store.keyspace('kms_keys'));
    this.aliases = new ScopedTable(store.keyspace('kms_aliases'));
    this.grants = new ScopedTable(store.keyspace('kms_grants'));
    this.internal = {
      resolveKeyArn: (ctx, keyId, forService) => {
        const caller: KmsCaller = forService ? { ...requester(ctx), viaService: forService.viaService } : requester(ctx);
        const key = this.findKey(ctx, keyId, { action: 'kms:DescribeKey', caller, crossAccount: true, createAwsManaged: true });
        if (forService) {
          this.authorize(key, 'kms:CreateGrant', caller, {
            childGrant: { operations: ['Decrypt', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptFrom', 'ReEncryptTo', 'CreateGrant', 'RetireGrant', 'DescribeKey'], granteePrincipal: forService.viaService },
          });
        }
        this.assertUsable(key);
        return key.arn;
      },
      encrypt: (ctx, keyId, plaintext, ec, caller) => {
        const key = this.usableKey(ctx, keyId, 'kms:Encrypt', ec, caller ?? requester(ctx));
        return { ciphertextBlob: this.seal(key, plaintext, ec), keyArn: key.arn };
      },
      decrypt: (ctx, blob, ec, caller) => {
        const { key, plaintext } = this.unseal(ctx, blob, ec, undefined, caller ?? requester(ctx));
        return { plaintext, keyArn: key.arn };
      },
      generateDataKey: (ctx, keyId, ec, caller) => {
        const key = this.usableKey(ctx, keyId, 'kms:GenerateDataKey', ec, caller ?? requester(ctx));
        const plaintext = randomBytes(32);
        return { plaintext, ciphertextBlob: this.seal(key, plaintext, ec), keyArn: key.arn };
      },
    };
  }

  // ---- key lookup and authorization ---------------------------------------------------------------

  private aliasArn(scope: Scope, name: string): string {
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
  private findKey(
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
      let alias = this.aliases.get(scope, id);
      // An AWS managed key comes into being when its service first uses it, or when DescribeKey names its alias (as
      // the API reference documents), and only for a service that has one; nothing else creates one, so a refused
      // request never leaves one behind.
      if (!alias && o.createAwsManaged && !foreign && id.startsWith('alias/aws/') && AWS_MANAGED_SERVICES.has(id.slice('alias/aws/'.length))) alias = this.createAwsManagedKey(scope, id);
      if (!alias) throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(scope, id)} is not found.`);
      requestAlias = id;
      id = alias.targetKeyId;
    }
    const key = this.keys.get(scope, id);
    if (!key) {
      // Another account is never told whether a key exists there.
      if (foreign) throw this.denied(caller, o.action, keyIdOrAlias, 'no-policy');
      throw notFoundKey(scope.arn('kms', `key/${id}`));
    }
    this.authorize(key, o.action, caller, { ...(o.encryptionContext ? { encryptionContext: o.encryptionContext } : {}), ...(requestAlias ? { requestAlias } : {}), ...(o.childGrant ? { childGrant: o.childGrant } : {}) });
    return key;
  }

  /** The policy that governs a key: its own, or, for an AWS managed key, the one AWS gives those. */
  private policyOf(key: KeyRecord): string {
    if (key.keyManager !== 'AWS') return key.policies.default ?? defaultPolicy(key.accountId);
    // Keys made before Cellar recorded the service: it is the one in their alias (alias/aws/<service>).
    key.managedFor ??= this.aliases
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
      'kms:ResourceAliases': () => this.aliases.list(Scope.ofRecord(key)).filter(([, a]) => a.targetKeyId === key.keyId).map(([name]) => name),
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
  private authorize(key: KeyRecord, action: string, caller: KmsCaller, x: AuthorizeExtras = {}): void {
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
    for (const [, g] of this.grants.list(scope, `${key.keyId}/`)) {
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

  private denied(caller: KmsCaller, action: string, resource: string, reason: 'no-policy' | 'explicit-deny'): ServiceError {
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
    this.store.transaction(() => {
      this.keys.put(scope, key.keyId, key);
      this.aliases.put(scope, aliasName, alias);
    });
    return alias;
  }

  /** A key that may be used for cryptography now, by `caller`, for `action`. */
  private usableKey(ctx: RequestContext, keyId: string, action: string, ec: Record<string, string> | undefined, caller = requester(ctx)): KeyRecord {
    // Services using a key for a caller (Secrets Manager with aws/secretsmanager) create the AWS managed key then.
    const key = this.findKey(ctx, keyId, { action, caller, encryptionContext: ec ?? {}, crossAccount: true, createAwsManaged: caller.viaService !== undefined });
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
    this.keys.put(Scope.ofRecord(key), key.keyId, key);
  }

  private newKey(scope: Scope, opts: { description: string; keyManager: 'AWS' | 'CUSTOMER'; multiRegion?: boolean; tags?: Record<string, string>; policy?: string }): KeyRecord {
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
      materials: [{ sealed: this.box.sealString(randomBytes(32).toString('base64'), arn), id: randomBytes(32).toString('hex'), createdMs: now }],
      keyManager: opts.keyManager,
      multiRegion: Boolean(opts.multiRegion),
      rotationEnabled: false,
      rotationPeriodDays: DEFAULT_ROTATION_DAYS,
      tags: opts.tags ?? {},
      policies: { default: opts.policy ?? defaultPolicy(scope.accountId) },
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
    return encodeCiphertext({ keyId: key.keyId, accountId: key.accountId, region: key.region, materialIndex: index, iv, tag: cipher.getAuthTag(), body });
  }

  /**
   * Decrypts a blob under the key it names (of the caller's account, or of another account when the blob says so
   * and that key's policy or grants let the caller decrypt). `expectedKeyId` is Decrypt's optional KeyId.
   */
  private unseal(ctx: RequestContext, blob: Buffer, ec: Record<string, string> | undefined, expectedKeyId: string | undefined, caller: KmsCaller, action = 'kms:Decrypt'): { key: KeyRecord; plaintext: Buffer } {
    const parts = decodeCiphertext(blob);
    if (!parts) throw new ServiceError('InvalidCiphertextException', '');
    const own = parts.accountId === undefined || (parts.accountId === ctx.scope.accountId && parts.region === ctx.scope.region);
    if (!own && parts.region !== ctx.scope.region) throw new ServiceError('InvalidCiphertextException', '');
    const scope = own ? ctx.scope : Scope.crossAccount({ partition: PARTITION, service: 'kms', accountId: parts.accountId!, region: parts.region!, resource: `key/${parts.keyId}` });
    const key = this.keys.get(scope, parts.keyId);
    if (!key) {
      if (!own) throw this.denied(caller, action, scope.arn('kms', `key/${parts.keyId}`), 'no-policy');
      throw new ServiceError('InvalidCiphertextException', '');
    }
    if (expectedKeyId !== undefined) {
      const expected = this.findKey(ctx, expectedKeyId, { action, caller, crossAccount: true, ...(ec ? { encryptionContext: ec } : {}) });
      if (expected.keyId !== key.keyId || expected.accountId !== key.accountId) {
        throw new ServiceError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
    }
    this.authorize(key, action, caller, { encryptionContext: ec ?? {} });
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

  /** A key for a management operation (not cryptography): found, and the caller allowed `kms:<operation>`. */
  private keyFor(ctx: RequestContext, keyId: string): KeyRecord {
    return this.findKey(ctx, keyId, { action: `kms:${ctx.operation}`, allowAlias: false });
  }

  // ---- keys -------------------------------------------------------------------------------------

  createKey(input: api.CreateKeyRequest, ctx: RequestContext): api.CreateKeyResponse {
    const spec = input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT';
    if (input.KeySpec && input.CustomerMasterKeySpec) throw new ServiceError('ValidationException', 'You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.');
    if (spec !== 'SYMMETRIC_DEFAULT') throw new ServiceError('UnsupportedOperationException', `Cellar's KMS supports only SYMMETRIC_DEFAULT keys; ${spec} keys are not available.`);
    if (input.KeyUsage && input.KeyUsage !== 'ENCRYPT_DECRYPT') throw new ServiceError('ValidationException', `KeyUsage ${input.KeyUsage} is not compatible with KeySpec SYMMETRIC_DEFAULT`);
    if (input.Origin && input.Origin !== 'AWS_KMS') throw new ServiceError('UnsupportedOperationException', `Cellar's KMS supports only Origin AWS_KMS; ${input.Origin} is not available.`);
    if (input.CustomKeyStoreId) throw new ServiceError('CustomKeyStoreNotFoundException', `Custom key store ${input.CustomKeyStoreId} does not exist`);
    if (input.Policy !== undefined) this.checkPolicy(input.Policy, ctx, input.BypassPolicyLockoutSafetyCheck === true);
    const tags = this.tagsFrom(input.Tags ?? []);
    const key = this.newKey(ctx.scope, { description: input.Description ?? '', keyManager: 'CUSTOMER', multiRegion: input.MultiRegion, tags, ...(input.Policy ? { policy: input.Policy } : {}) });
    this.save(key);
    return { KeyMetadata: this.metadata(key) };
  }

  describeKey(input: api.DescribeKeyRequest, ctx: RequestContext): api.DescribeKeyResponse {
    return { KeyMetadata: this.metadata(this.findKey(ctx, input.KeyId, { action: 'kms:DescribeKey', createAwsManaged: true })) };
  }

  listKeys(input: api.ListKeysRequest, ctx: RequestContext): api.ListKeysResponse {
    const limit = input.Limit ?? 1000;
    const all = this.keys.list(ctx.scope).map(([, k]) => k);
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
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'UpdateKeyDescription');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.description = input.Description;
    this.save(key);
  }

  enableKey(input: api.EnableKeyRequest, ctx: RequestContext): void {
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'EnableKey');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = 'Enabled';
    this.save(key);
  }

  disableKey(input: api.DisableKeyRequest, ctx: RequestContext): void {
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'DisableKey');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    key.state = 'Disabled';
    this.save(key);
  }

  scheduleKeyDeletion(input: api.ScheduleKeyDeletionRequest, ctx: RequestContext): api.ScheduleKeyDeletionResponse {
    const key = this.keyFor(ctx, input.KeyId);
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
    const key = this.keyFor(ctx, input.KeyId);
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
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'EnableKeyRotation');
    this.assertUsable(key);
    const days = input.RotationPeriodInDays ?? key.rotationPeriodDays ?? DEFAULT_ROTATION_DAYS;
    key.rotationEnabled = true;
    key.rotationPeriodDays = days;
    key.nextRotationMs = this.clock.now() + days * DAY_MS;
    this.save(key);
  }

  disableKeyRotation(input: api.DisableKeyRotationRequest, ctx: RequestContext): void {
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'DisableKeyRotation');
    this.assertUsable(key);
    key.rotationEnabled = false;
    delete key.nextRotationMs;
    this.save(key);
  }

  getKeyRotationStatus(input: api.GetKeyRotationStatusRequest, ctx: RequestContext): api.GetKeyRotationStatusResponse {
    const key = this.keyFor(ctx, input.KeyId);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    return {
      KeyRotationEnabled: key.rotationEnabled,
      KeyId: key.arn,
      ...(key.rotationEnabled ? { RotationPeriodInDays: key.rotationPeriodDays, ...(key.nextRotationMs ? { NextRotationDate: new Date(key.nextRotationMs) } : {}) } : {}),
      ...(key.onDemandRotationStartMs ? { OnDemandRotationStartDate: new Date(key.onDemandRotationStartMs) } : {}),
    };
  }

  rotateKeyOnDemand(input: api.RotateKeyOnDemandRequest, ctx: RequestContext): api.RotateKeyOnDemandResponse {
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'RotateKeyOnDemand');
    this.assertUsable(key);
    const onDemand = key.materials.filter((m) => m.rotationType === 'ON_DEMAND').length;
    if (onDemand >= 25) throw new ServiceError('LimitExceededException', `The on-demand rotations limit has been reached for the given key ${key.arn}.`);
    this.rotate(key, 'ON_DEMAND');
    return { KeyId: key.keyId };
  }

  listKeyRotations(input: api.ListKeyRotationsRequest, ctx: RequestContext): api.ListKeyRotationsResponse {
    const key = this.keyFor(ctx, input.KeyId);
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

  /** Runs due rotations and deletions; called by the scheduler. Bounded work per call; one key failing does not stop the others. */
  tick(maxKeys = 10_000): string {
    faultPoint('kms.tick');
    const now = this.clock.now();
    let rotated = 0;
    let deleted = 0;
    let failed = 0;
    let seen = 0;
    const due: KeyRecord[] = [];
    for (const [, key] of this.keys.everyScope()) {
      if (++seen > maxKeys) break;
      if ((key.state === 'PendingDeletion' && key.deletionMs !== undefined && key.deletionMs <= now) || (key.state === 'Enabled' && key.rotationEnabled && key.nextRotationMs !== undefined && key.nextRotationMs <= now)) due.push(key);
    }
    for (const key of due) {
      try {
        const scope = Scope.ofRecord(key);
        if (key.state === 'PendingDeletion') {
          this.store.transaction(() => {
            this.keys.delete(scope, key.keyId);
            for (const [name, alias] of this.aliases.list(scope)) if (alias.targetKeyId === key.keyId) this.aliases.delete(scope, name);
            for (const [name] of this.grants.list(scope, `${key.keyId}/`)) this.grants.delete(scope, name);
          });
          deleted++;
        } else {
          this.rotate(key, 'AUTOMATIC');
          rotated++;
        }
      } catch {
        failed++;
      }
    }
    return rotated || deleted || failed ? `rotated ${rotated} key(s), deleted ${deleted} key(s) past their deletion date${failed ? `, ${failed} failed (retried next tick)` : ''}` : '';
  }

  // ---- cryptography -----------------------------------------------------------------------------

  encrypt(input: api.EncryptRequest, ctx: RequestContext): api.EncryptResponse {
    const key = this.usableKey(ctx, input.KeyId, 'kms:Encrypt', input.EncryptionContext);
    this.checkAlgorithm(input.EncryptionAlgorithm);
    this.dryRun(input);
    return { CiphertextBlob: this.seal(key, blobBytes(input.Plaintext), input.EncryptionContext), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  decrypt(input: api.DecryptRequest, ctx: RequestContext): api.DecryptResponse {
    this.checkAlgorithm(input.EncryptionAlgorithm);
    if (input.Recipient) throw new ServiceError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available in Cellar.');
    const { key, plaintext } = this.unseal(ctx, blobBytes(input.CiphertextBlob), input.EncryptionContext, input.KeyId, requester(ctx));
    this.dryRun(input);
    return { KeyId: key.arn, Plaintext: plaintext, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  reEncrypt(input: api.ReEncryptRequest, ctx: RequestContext): api.ReEncryptResponse {
    this.checkAlgorithm(input.SourceEncryptionAlgorithm);
    this.checkAlgorithm(input.DestinationEncryptionAlgorithm);
    const { key: source, plaintext } = this.unseal(ctx, blobBytes(input.CiphertextBlob), input.SourceEncryptionContext, input.SourceKeyId, requester(ctx), 'kms:ReEncryptFrom');
    const dest = this.usableKey(ctx, input.DestinationKeyId, 'kms:ReEncryptTo', input.DestinationEncryptionContext);
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
    const key = this.usableKey(ctx, input.KeyId, 'kms:GenerateDataKey', input.EncryptionContext);
    const n = this.dataKeyBytes(input);
    if (input.Recipient) throw new ServiceError('UnsupportedOperationException', 'Recipient (Nitro Enclaves attestation) is not available in Cellar.');
    this.dryRun(input);
    const plaintext = randomBytes(n);
    return { CiphertextBlob: this.seal(key, plaintext, input.EncryptionContext), Plaintext: plaintext, KeyId: key.arn };
  }

  generateDataKeyWithoutPlaintext(input: api.GenerateDataKeyWithoutPlaintextRequest, ctx: RequestContext): api.GenerateDataKeyWithoutPlaintextResponse {
    const key = this.usableKey(ctx, input.KeyId, 'kms:GenerateDataKeyWithoutPlaintext', input.EncryptionContext);
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

  // ---- grants -----------------------------------------------------------------------------------

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
    const key = this.findKey(ctx, input.KeyId, { action: 'kms:CreateGrant', childGrant });
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    this.dryRun(input);
    const scope = Scope.ofRecord(key);
    const existing = this.grants.list(scope, `${key.keyId}/`).map(([, g]) => g);
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
    this.grants.put(scope, `${key.keyId}/${grantId}`, grant);
    return { GrantId: grantId, GrantToken: grant.token };
  }

  private grantEntry(key: KeyRecord, g: GrantRecord): api.GrantListEntry {
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

  listGrants(input: api.ListGrantsRequest, ctx: RequestContext): api.ListGrantsResponse {
    const key = this.findKey(ctx, input.KeyId, { action: 'kms:ListGrants' });
    let all = this.grants.list(Scope.ofRecord(key), `${key.keyId}/`).map(([, g]) => g);
    if (input.GrantId !== undefined) {
      all = all.filter((g) => g.grantId === input.GrantId);
      if (!all.length) throw new ServiceError('InvalidGrantIdException', 'Invalid grant ID');
    }
    if (input.GranteePrincipal !== undefined) all = all.filter((g) => g.granteePrincipal === input.GranteePrincipal);
    return this.page(all, input.Marker, input.Limit ?? 50, (g) => g.grantId, (g) => this.grantEntry(key, g), 'Grants');
  }

  listRetirableGrants(input: api.ListRetirableGrantsRequest, ctx: RequestContext): api.ListGrantsResponse {
    const all: Array<[KeyRecord, GrantRecord]> = [];
    for (const [name, g] of this.grants.list(ctx.scope)) {
      if (g.retiringPrincipal !== input.RetiringPrincipal) continue;
      const key = this.keys.get(ctx.scope, name.split('/')[0]!);
      if (key) all.push([key, g]);
    }
    return this.page(all, input.Marker, input.Limit ?? 50, ([, g]) => g.grantId, ([key, g]) => this.grantEntry(key, g), 'Grants');
  }

  revokeGrant(input: api.RevokeGrantRequest, ctx: RequestContext): void {
    const key = this.findKey(ctx, input.KeyId, { action: 'kms:RevokeGrant' });
    const scope = Scope.ofRecord(key);
    const name = `${key.keyId}/${input.GrantId}`;
    if (!this.grants.get(scope, name)) throw new ServiceError('NotFoundException', `Grant ID ${input.GrantId} not found`);
    this.dryRun(input);
    this.grants.delete(scope, name);
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
      for (const [storeKey, g] of this.grants.everyScope()) {
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
      const g = this.grants.get(scope, `${keyId}/${input.GrantId}`);
      if (!g) throw new ServiceError('InvalidGrantIdException', 'Invalid grant ID');
      found = { scope, name: `${keyId}/${input.GrantId}`, grant: g };
    }
    const caller = requester(ctx);
    const g = found.grant;
    const may =
      (g.retiringPrincipal !== undefined && principalMatches({ AWS: g.retiringPrincipal }, caller)) ||
      (g.operations.includes('RetireGrant') && principalMatches({ AWS: g.granteePrincipal }, caller)) ||
      (caller.accountId === found.scope.accountId && caller.arn === `arn:aws:iam::${caller.accountId}:root`);
    if (!may) throw this.denied(caller, 'kms:RetireGrant', found.scope.arn('kms', `key/${g.keyId}`), 'no-policy');
    this.dryRun(input);
    this.grants.delete(found.scope, found.name);
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

  // ---- aliases ----------------------------------------------------------------------------------

  private checkAliasName(name: string): void {
    if (!name.startsWith('alias/')) throw new ServiceError('ValidationException', 'Invalid identifier');
    if (name.startsWith('alias/aws/')) throw new ServiceError('NotAuthorizedException', '');
  }

  createAlias(input: api.CreateAliasRequest, ctx: RequestContext): void {
    this.checkAliasName(input.AliasName);
    const key = this.findKey(ctx, input.TargetKeyId, { action: 'kms:CreateAlias', allowAlias: false, crossAccount: false });
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    if (this.aliases.get(ctx.scope, input.AliasName)) throw new ServiceError('AlreadyExistsException', `An alias with the name ${this.aliasArn(ctx.scope, input.AliasName)} already exists`);
    const now = this.clock.now();
    this.aliases.put(ctx.scope, input.AliasName, { name: input.AliasName, arn: this.aliasArn(ctx.scope, input.AliasName), targetKeyId: key.keyId, createdMs: now, updatedMs: now });
  }

  /**
   * UpdateAlias needs kms:UpdateAlias on the alias (an identity permission: Cellar's IAM allows it within the account),
   * on the key the alias names now and on the key it is to name, as the API reference says.
   */
  updateAlias(input: api.UpdateAliasRequest, ctx: RequestContext): void {
    this.checkAliasName(input.AliasName);
    const alias = this.aliases.get(ctx.scope, input.AliasName);
    if (!alias) throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(ctx.scope, input.AliasName)} is not found.`);
    const current = this.keys.get(ctx.scope, alias.targetKeyId);
    if (current) this.authorize(current, 'kms:UpdateAlias', requester(ctx));
    const key = this.findKey(ctx, input.TargetKeyId, { action: 'kms:UpdateAlias', allowAlias: false, crossAccount: false });
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    alias.targetKeyId = key.keyId;
    alias.updatedMs = this.clock.now();
    this.aliases.put(ctx.scope, input.AliasName, alias);
  }

  /** DeleteAlias needs kms:DeleteAlias on the alias and on the key it names (the key policy decides the latter). */
  deleteAlias(input: api.DeleteAliasRequest, ctx: RequestContext): void {
    this.checkAliasName(input.AliasName);
    const alias = this.aliases.get(ctx.scope, input.AliasName);
    if (!alias) throw new ServiceError('NotFoundException', `Alias ${this.aliasArn(ctx.scope, input.AliasName)} is not found.`);
    const key = this.keys.get(ctx.scope, alias.targetKeyId);
    if (key) this.authorize(key, 'kms:DeleteAlias', requester(ctx));
    this.aliases.delete(ctx.scope, input.AliasName);
  }

  listAliases(input: api.ListAliasesRequest, ctx: RequestContext): api.ListAliasesResponse {
    let all = this.aliases.list(ctx.scope).map(([, a]) => a);
    if (input.KeyId !== undefined) {
      const key = this.findKey(ctx, input.KeyId, { action: 'kms:ListAliases', allowAlias: false, crossAccount: false });
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
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'TagResource');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    const merged = { ...key.tags, ...this.tagsFrom(input.Tags) };
    if (Object.keys(merged).length > MAX_TAGS) throw new ServiceError('TagException', `Too many tags: a key can have at most ${MAX_TAGS}`);
    key.tags = merged;
    this.save(key);
  }

  untagResource(input: api.UntagResourceRequest, ctx: RequestContext): void {
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'UntagResource');
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    for (const k of input.TagKeys) delete key.tags[k];
    this.save(key);
  }

  listResourceTags(input: api.ListResourceTagsRequest, ctx: RequestContext): api.ListResourceTagsResponse {
    const key = this.keyFor(ctx, input.KeyId);
    const tags = Object.entries(key.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    return this.page(tags, input.Marker, input.Limit ?? 50, (t) => t.TagKey, (t) => t, 'Tags');
  }

  /**
   * A key policy must be a JSON policy document, and (unless the caller bypasses the check, as AWS allows) must let
   * the caller change it again later: KMS's lockout safety check.
   */
  private checkPolicy(policy: string, ctx: RequestContext, bypassLockoutCheck: boolean, keyArn = ctx.scope.arn('kms', 'key/*')): void {
    let doc: unknown;
    try {
      doc = JSON.parse(policy);
    } catch {
      throw new ServiceError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('Statement' in doc)) {
      throw new ServiceError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
    }
    if (bypassLockoutCheck) return;
    const caller = requester(ctx);
    const decision = evaluatePolicy(policy, { principal: { accountId: caller.accountId, arn: caller.arn }, action: 'kms:PutKeyPolicy', resource: keyArn, context: { 'kms:CallerAccount': caller.accountId } });
    if (decision !== 'allow') throw new ServiceError('MalformedPolicyDocumentException', 'The new key policy will not allow you to update the key policy in the future.');
  }

  getKeyPolicy(input: api.GetKeyPolicyRequest, ctx: RequestContext): api.GetKeyPolicyResponse {
    const key = this.keyFor(ctx, input.KeyId);
    const name = input.PolicyName ?? 'default';
    const policy = name === 'default' ? this.policyOf(key) : key.policies[name];
    if (policy === undefined) throw new ServiceError('NotFoundException', `No such policy exists`);
    return { Policy: policy, PolicyName: name };
  }

  putKeyPolicy(input: api.PutKeyPolicyRequest, ctx: RequestContext): void {
    const key = this.keyFor(ctx, input.KeyId);
    this.assertCustomerManaged(key, 'PutKeyPolicy');
    this.checkPolicy(input.Policy, ctx, input.BypassPolicyLockoutSafetyCheck === true, key.arn);
    key.policies[input.PolicyName ?? 'default'] = input.Policy;
    this.save(key);
  }

  listKeyPolicies(input: api.ListKeyPoliciesRequest, ctx: RequestContext): api.ListKeyPoliciesResponse {
    const key = this.keyFor(ctx, input.KeyId);
    return this.page(Object.keys(key.policies), input.Marker, input.Limit ?? 100, (n) => n, (n) => n, 'PolicyNames');
  }
}

/**
 * Whether a child grant's constraint is at least as strict as its parent's: the same or more pairs in an
 * EncryptionContextSubset, or an EncryptionContextEquals that includes the parent's subset; an
 * EncryptionContextEquals parent allows only the same EncryptionContextEquals (KMS: "the child grant can add pairs to
 * an EncryptionContextSubset constraint … but it cannot remove them … can change an EncryptionContextSubset
 * constraint to an EncryptionContextEquals constraint, but not the reverse").
 */
export function atLeastAsStrict(child: api.GrantConstraints | undefined, parent: api.GrantConstraints | undefined): boolean {
  const includes = (outer: Record<string, string>, inner: Record<string, string>): boolean => Object.entries(inner).every(([k, v]) => Object.hasOwn(outer, k) && outer[k] === v);
  if (parent?.EncryptionContextEquals) {
    const want = parent.EncryptionContextEquals;
    const got = child?.EncryptionContextEquals;
    return got !== undefined && Object.keys(got).length === Object.keys(want).length && includes(got, want);
  }
  if (parent?.EncryptionContextSubset) {
    const got = child?.EncryptionContextEquals ?? child?.EncryptionContextSubset;
    return got !== undefined && includes(got, parent.EncryptionContextSubset);
  }
  return true;
}

/** Whether a grant's encryption-context constraint holds for the request's context. */
function constraintsHold(c: api.GrantConstraints | undefined, ec: Record<string, string> | undefined): boolean {
  if (!c) return true;
  const actual = ec ?? {};
  if (c.EncryptionContextEquals) {
    const want = c.EncryptionContextEquals;
    const keys = Object.keys(want);
    return keys.length === Object.keys(actual).length && keys.every((k) => actual[k] === want[k]);
  }
  if (c.EncryptionContextSubset) return Object.entries(c.EncryptionContextSubset).every(([k, v]) => actual[k] === v);
  return true;
}
