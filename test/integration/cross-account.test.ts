/**
 * Cross-account access as AWS decides it: another account's resource is reachable exactly where its own policy
 * grants that account the action — a Secrets Manager resource policy, a KMS key policy or a KMS grant — and
 * nowhere else. Driven with the official SDK v3 clients, accounts 111111111111 (owner) and 222222222222 (other).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SecretsManagerClient,
  CreateSecretCommand,
  GetSecretValueCommand,
  DescribeSecretCommand,
  PutSecretValueCommand,
  DeleteSecretCommand,
  PutResourcePolicyCommand,
  UpdateSecretCommand,
  BatchGetSecretValueCommand,
  TagResourceCommand as TagSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  KMSClient,
  CreateKeyCommand,
  CreateAliasCommand,
  EncryptCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GenerateDataKeyCommand,
  CreateGrantCommand,
  ListGrantsCommand,
  RetireGrantCommand,
  RevokeGrantCommand,
  ListRetirableGrantsCommand,
  PutKeyPolicyCommand,
  GetKeyPolicyCommand,
  ScheduleKeyDeletionCommand,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';

const OWNER = { accessKeyId: '111111111111', secretAccessKey: 'x' };
const OTHER = { accessKeyId: '222222222222', secretAccessKey: 'x' };

const policy = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const rootOf = (account: string) => `arn:aws:iam::${account}:root`;

function denied(action: string) {
  return (e: any) => {
    assert.equal(e.name, 'AccessDeniedException', e.message);
    assert.match(e.message, new RegExp(`^User: arn:aws:iam::222222222222:root is not authorized to perform: ${action.replace(/[*]/g, '\\*')} on resource: `));
    return true;
  };
}

describe('cross-account access through resource policies, key policies and grants', () => {
  let cellar: CellarProcess;
  const sm = (who: typeof OWNER) => new SecretsManagerClient(sdkConfig(cellar.endpoint, who));
  const kms = (who: typeof OWNER) => new KMSClient(sdkConfig(cellar.endpoint, who));

  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('Secrets Manager: a resource policy grants exactly the actions it names, and the key must let the other account decrypt', async () => {
    // A customer managed key whose policy also lets account 222222222222 decrypt through Secrets Manager.
    const key = await kms(OWNER).send(
      new CreateKeyCommand({
        Policy: policy([
          { Effect: 'Allow', Principal: { AWS: rootOf('111111111111') }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: rootOf('222222222222') }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: '*', Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } } },
        ]),
      }),
    );
    const withCmk = await sm(OWNER).send(new CreateSecretCommand({ Name: 'shared/cmk', SecretString: 'cmk-value', KmsKeyId: key.KeyMetadata!.Arn }));
    const withDefault = await sm(OWNER).send(new CreateSecretCommand({ Name: 'shared/default', SecretString: 'default-value' }));

    // No policy yet: the other account is denied, and is not told whether the secret exists.
    await assert.rejects(sm(OTHER).send(new GetSecretValueCommand({ SecretId: withCmk.ARN })), denied('secretsmanager:GetSecretValue'));
    await assert.rejects(sm(OTHER).send(new GetSecretValueCommand({ SecretId: withCmk.ARN!.replace('shared/cmk', 'shared/none') })), denied('secretsmanager:GetSecretValue'));
    // By name, the other account only ever sees its own secrets.
    await assert.rejects(sm(OTHER).send(new GetSecretValueCommand({ SecretId: 'shared/cmk' })), { name: 'ResourceNotFoundException' });

    const grantRead = policy([{ Effect: 'Allow', Principal: { AWS: '222222222222' }, Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: '*' }]);
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: withCmk.ARN, ResourcePolicy: grantRead }));
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: withDefault.ARN, ResourcePolicy: grantRead }));

    const read = await sm(OTHER).send(new GetSecretValueCommand({ SecretId: withCmk.ARN }));
    assert.equal(read.SecretString, 'cmk-value');
    assert.equal((await sm(OTHER).send(new DescribeSecretCommand({ SecretId: withCmk.ARN }))).Name, 'shared/cmk');
    // Not granted: writing and deleting.
    await assert.rejects(sm(OTHER).send(new PutSecretValueCommand({ SecretId: withCmk.ARN, SecretString: 'overwritten' })), denied('secretsmanager:PutSecretValue'));
    await assert.rejects(sm(OTHER).send(new DeleteSecretCommand({ SecretId: withCmk.ARN, ForceDeleteWithoutRecovery: true })), denied('secretsmanager:DeleteSecret'));
    await assert.rejects(sm(OTHER).send(new UpdateSecretCommand({ SecretId: withCmk.ARN, Description: 'x' })), denied('secretsmanager:UpdateSecret'));
    assert.equal((await sm(OWNER).send(new GetSecretValueCommand({ SecretId: 'shared/cmk' }))).SecretString, 'cmk-value');

    // The AWS managed key aws/secretsmanager admits only its own account, so that secret cannot be shared.
    await assert.rejects(sm(OTHER).send(new GetSecretValueCommand({ SecretId: withDefault.ARN })), (e: any) => e.name === 'AccessDeniedException' && e.message === 'Access to KMS is not allowed');

    // A write granted by the policy works, encrypted under the key the policy of which allows it.
    await sm(OWNER).send(
      new PutResourcePolicyCommand({
        SecretId: withCmk.ARN,
        ResourcePolicy: policy([{ Effect: 'Allow', Principal: { AWS: rootOf('222222222222') }, Action: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'], Resource: '*' }]),
      }),
    );
    await sm(OTHER).send(new PutSecretValueCommand({ SecretId: withCmk.ARN, SecretString: 'written-by-other' }));
    assert.equal((await sm(OWNER).send(new GetSecretValueCommand({ SecretId: 'shared/cmk' }))).SecretString, 'written-by-other');
    await assert.rejects(sm(OTHER).send(new DescribeSecretCommand({ SecretId: withCmk.ARN })), denied('secretsmanager:DescribeSecret'));
  });

  it('Secrets Manager: an explicit Deny in the resource policy refuses the owner account too', async () => {
    const s = await sm(OWNER).send(new CreateSecretCommand({ Name: 'guarded', SecretString: 'v' }));
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: s.ARN, ResourcePolicy: policy([{ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'secretsmanager:DeleteSecret', Resource: '*' }]) }));
    await assert.rejects(sm(OWNER).send(new DeleteSecretCommand({ SecretId: 'guarded' })), (e: any) => e.name === 'AccessDeniedException' && /with an explicit deny in a resource-based policy$/.test(e.message));
    assert.equal((await sm(OWNER).send(new GetSecretValueCommand({ SecretId: 'guarded' }))).SecretString, 'v');
  });

  it('Secrets Manager: BatchGetSecretValue reads only what GetSecretValue may read, secret by secret, with refusals in Errors', async () => {
    const key = await kms(OWNER).send(
      new CreateKeyCommand({
        Policy: policy([
          { Effect: 'Allow', Principal: { AWS: rootOf('111111111111') }, Action: 'kms:*', Resource: '*' },
          { Effect: 'Allow', Principal: { AWS: rootOf('222222222222') }, Action: 'kms:Decrypt', Resource: '*' },
        ]),
      }),
    );
    const open = await sm(OWNER).send(new CreateSecretCommand({ Name: 'batch/open', SecretString: 'open-value', KmsKeyId: key.KeyMetadata!.Arn }));
    const batchOnly = await sm(OWNER).send(new CreateSecretCommand({ Name: 'batch/batch-only', SecretString: 'batch-only-value', KmsKeyId: key.KeyMetadata!.Arn }));
    const shut = await sm(OWNER).send(new CreateSecretCommand({ Name: 'batch/shut', SecretString: 'shut-value', KmsKeyId: key.KeyMetadata!.Arn }));
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: open.ARN, ResourcePolicy: policy([{ Effect: 'Allow', Principal: { AWS: '222222222222' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' }]) }));
    // BatchGetSecretValue in a resource policy gives nothing: it is an identity permission, and each secret needs GetSecretValue.
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: batchOnly.ARN, ResourcePolicy: policy([{ Effect: 'Allow', Principal: { AWS: '222222222222' }, Action: 'secretsmanager:BatchGetSecretValue', Resource: '*' }]) }));
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: shut.ARN, ResourcePolicy: policy([{ Effect: 'Allow', Principal: { AWS: '222222222222' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' }, { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' }]) }));

    const out = await sm(OTHER).send(new BatchGetSecretValueCommand({ SecretIdList: [open.ARN!, batchOnly.ARN!, shut.ARN!, open.ARN!.replace('batch/open', 'batch/none')] }));
    assert.deepEqual(out.SecretValues!.map((v) => [v.Name, v.SecretString]), [['batch/open', 'open-value']]);
    const errors = Object.fromEntries(out.Errors!.map((e) => [e.SecretId, e]));
    assert.equal(errors[batchOnly.ARN!]!.ErrorCode, 'AccessDeniedException');
    assert.match(errors[batchOnly.ARN!]!.Message!, /^User: arn:aws:iam::222222222222:root is not authorized to perform: secretsmanager:GetSecretValue on resource: .* because no resource-based policy allows/);
    assert.equal(errors[shut.ARN!]!.ErrorCode, 'AccessDeniedException');
    assert.match(errors[shut.ARN!]!.Message!, /secretsmanager:GetSecretValue .* with an explicit deny in a resource-based policy$/);
    assert.equal(out.Errors!.length, 3, 'a secret that does not exist in another account is denied too, never reported missing');
    // By Filters, a caller sees only its own account's secrets.
    const filtered = await sm(OTHER).send(new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: ['batch/'] }] }));
    assert.deepEqual([filtered.SecretValues, filtered.Errors], [[], []]);
  });

  it('an explicit Deny is honoured whichever operation reaches the secret: BatchGetSecretValue by id and by filter, for the owner too', async () => {
    const s = await sm(OWNER).send(new CreateSecretCommand({ Name: 'deny-batch/one', SecretString: 'top-secret' }));
    await sm(OWNER).send(new CreateSecretCommand({ Name: 'deny-batch/two', SecretString: 'readable' }));
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: s.ARN, ResourcePolicy: policy([{ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' }]) }));
    await assert.rejects(sm(OWNER).send(new GetSecretValueCommand({ SecretId: 'deny-batch/one' })), { name: 'AccessDeniedException' });
    const byId = await sm(OWNER).send(new BatchGetSecretValueCommand({ SecretIdList: ['deny-batch/one', 'deny-batch/two'] }));
    assert.deepEqual(byId.SecretValues!.map((v) => v.SecretString), ['readable']);
    assert.deepEqual(byId.Errors!.map((e) => [e.SecretId, e.ErrorCode]), [['deny-batch/one', 'AccessDeniedException']]);
    const byFilter = await sm(OWNER).send(new BatchGetSecretValueCommand({ Filters: [{ Key: 'name', Values: ['deny-batch/'] }] }));
    assert.deepEqual(byFilter.SecretValues!.map((v) => v.SecretString), ['readable']);
    assert.deepEqual(byFilter.Errors!.map((e) => [e.SecretId, e.ErrorCode]), [[s.ARN, 'AccessDeniedException']]);
    assert.ok(!JSON.stringify(byFilter).includes('top-secret'));
    // A Deny conditioned on the secret's tags applies once the secret carries the tag (aws:ResourceTag is supplied).
    const tagged = await sm(OWNER).send(new CreateSecretCommand({ Name: 'deny-batch/tagged', SecretString: 'tagged-value' }));
    await sm(OWNER).send(new PutResourcePolicyCommand({ SecretId: tagged.ARN, ResourcePolicy: policy([{ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'secretsmanager:GetSecretValue', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/class': 'restricted' } } }]) }));
    assert.equal((await sm(OWNER).send(new GetSecretValueCommand({ SecretId: tagged.ARN }))).SecretString, 'tagged-value');
    await sm(OWNER).send(new TagSecretCommand({ SecretId: tagged.ARN, Tags: [{ Key: 'class', Value: 'restricted' }] }));
    await assert.rejects(sm(OWNER).send(new GetSecretValueCommand({ SecretId: tagged.ARN })), { name: 'AccessDeniedException' });
    const batch = await sm(OWNER).send(new BatchGetSecretValueCommand({ SecretIdList: [tagged.ARN!] }));
    assert.deepEqual(batch.Errors!.map((e) => e.ErrorCode), ['AccessDeniedException']);
  });

  it('KMS: a key policy grants the other account exactly its actions, by key ARN only, and never the owner-only operations', async () => {
    const key = (
      await kms(OWNER).send(
        new CreateKeyCommand({
          Policy: policy([
            { Effect: 'Allow', Principal: { AWS: rootOf('111111111111') }, Action: 'kms:*', Resource: '*' },
            { Effect: 'Allow', Principal: { AWS: rootOf('222222222222') }, Action: ['kms:Encrypt', 'kms:DescribeKey', 'kms:DisableKey'], Resource: '*' },
          ]),
        }),
      )
    ).KeyMetadata!;
    await kms(OWNER).send(new CreateAliasCommand({ AliasName: 'alias/shared', TargetKeyId: key.KeyId }));
    const plaintext = Buffer.from('cross-account');

    const enc = await kms(OTHER).send(new EncryptCommand({ KeyId: key.Arn, Plaintext: plaintext }));
    assert.equal(enc.KeyId, key.Arn);
    assert.equal((await kms(OTHER).send(new DescribeKeyCommand({ KeyId: key.Arn }))).KeyMetadata!.AWSAccountId, '111111111111');
    // Never by alias or bare key id: those name the caller's own account.
    await assert.rejects(kms(OTHER).send(new EncryptCommand({ KeyId: 'alias/shared', Plaintext: plaintext })), { name: 'NotFoundException' });
    await assert.rejects(kms(OTHER).send(new EncryptCommand({ KeyId: 'arn:aws:kms:us-east-1:111111111111:alias/shared', Plaintext: plaintext })), { name: 'NotFoundException' });
    await assert.rejects(kms(OTHER).send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: plaintext })), { name: 'NotFoundException' });
    // Not granted: Decrypt, GenerateDataKey.
    await assert.rejects(kms(OTHER).send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), denied('kms:Decrypt'));
    await assert.rejects(kms(OTHER).send(new GenerateDataKeyCommand({ KeyId: key.Arn, KeySpec: 'AES_256' })), denied('kms:GenerateDataKey'));
    // DisableKey is in the policy, but it is not a cross-account operation on AWS.
    await assert.rejects(kms(OTHER).send(new DisableKeyCommand({ KeyId: key.Arn })), denied('kms:DisableKey'));
    assert.equal((await kms(OWNER).send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata!.KeyState, 'Enabled');
    // The owner decrypts what the other account encrypted under its key.
    assert.deepEqual(Buffer.from((await kms(OWNER).send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }))).Plaintext!), plaintext);
  });

  it('KMS: a grant lets its grantee do exactly the granted operations under its constraints, until retired or revoked', async () => {
    const key = (await kms(OWNER).send(new CreateKeyCommand({}))).KeyMetadata!;
    const ciphertext = (await kms(OWNER).send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('g'), EncryptionContext: { app: 'orders' } }))).CiphertextBlob!;
    await assert.rejects(kms(OTHER).send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { app: 'orders' } })), denied('kms:Decrypt'));

    const grant = await kms(OWNER).send(
      new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: rootOf('222222222222'), RetiringPrincipal: rootOf('222222222222'), Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { app: 'orders' } } }),
    );
    const out = await kms(OTHER).send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { app: 'orders' } }));
    assert.equal(Buffer.from(out.Plaintext!).toString(), 'g');
    // The constraint holds: another context is not covered (it would not decrypt anyway, but the grant is what refuses).
    await assert.rejects(kms(OTHER).send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { app: 'billing' } })), denied('kms:Decrypt'));
    // Only Decrypt was granted.
    await assert.rejects(kms(OTHER).send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') })), denied('kms:Encrypt'));
    // The grant is listed to the owner; the retiring principal finds it and retires it.
    const listed = await kms(OWNER).send(new ListGrantsCommand({ KeyId: key.KeyId }));
    assert.deepEqual(listed.Grants!.map((g) => [g.GrantId, g.GranteePrincipal, g.Operations]), [[grant.GrantId, rootOf('222222222222'), ['Decrypt']]]);
    assert.equal((await kms(OTHER).send(new ListRetirableGrantsCommand({ RetiringPrincipal: rootOf('222222222222') }))).Grants!.length, 0, 'grants of another account are not the caller scope');
    await kms(OTHER).send(new RetireGrantCommand({ GrantToken: grant.GrantToken }));
    await assert.rejects(kms(OTHER).send(new DecryptCommand({ CiphertextBlob: ciphertext, EncryptionContext: { app: 'orders' } })), denied('kms:Decrypt'));

    // Revoke: the owner takes a grant back.
    const again = await kms(OWNER).send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: rootOf('222222222222'), Operations: ['Encrypt'] }));
    await kms(OTHER).send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') }));
    await kms(OWNER).send(new RevokeGrantCommand({ KeyId: key.KeyId, GrantId: again.GrantId }));
    await assert.rejects(kms(OTHER).send(new EncryptCommand({ KeyId: key.Arn, Plaintext: Buffer.from('x') })), denied('kms:Encrypt'));
  });

  it('KMS: CreateGrant permission from a grant creates only grants with a subset of its operations and a constraint at least as strict', async () => {
    const key = (await kms(OWNER).send(new CreateKeyCommand({}))).KeyMetadata!;
    const ct = (await kms(OWNER).send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('chained'), EncryptionContext: { tenant: 'b', app: 'x' } }))).CiphertextBlob!;
    // A grant of CreateGrant alone: the grantee can create no grant with any other operation, for itself or anyone.
    await kms(OWNER).send(new CreateGrantCommand({ KeyId: key.KeyId, GranteePrincipal: rootOf('222222222222'), Operations: ['CreateGrant'] }));
    await assert.rejects(kms(OTHER).send(new CreateGrantCommand({ KeyId: key.Arn, GranteePrincipal: rootOf('222222222222'), Operations: ['Decrypt', 'Encrypt'] })), denied('kms:CreateGrant'));
    await assert.rejects(kms(OTHER).send(new DecryptCommand({ CiphertextBlob: ct, EncryptionContext: { tenant: 'b', app: 'x' } })), denied('kms:Decrypt'));
    await kms(OTHER).send(new CreateGrantCommand({ KeyId: key.Arn, GranteePrincipal: 'arn:aws:iam::222222222222:role/helper', Operations: ['CreateGrant'] }));

    // A parent with Decrypt and CreateGrant under EncryptionContextSubset {tenant: b}.
    const k2 = (await kms(OWNER).send(new CreateKeyCommand({}))).KeyMetadata!;
    const ct2 = (await kms(OWNER).send(new EncryptCommand({ KeyId: k2.KeyId, Plaintext: Buffer.from('tenant b'), EncryptionContext: { tenant: 'b', app: 'x' } }))).CiphertextBlob!;
    await kms(OWNER).send(new CreateGrantCommand({ KeyId: k2.KeyId, GranteePrincipal: rootOf('222222222222'), Operations: ['Decrypt', 'CreateGrant'], Constraints: { EncryptionContextSubset: { tenant: 'b' } } }));
    const child = (Operations: Array<'Decrypt' | 'CreateGrant' | 'Encrypt' | 'ReEncryptFrom'>, Constraints?: object) =>
      kms(OTHER).send(new CreateGrantCommand({ KeyId: k2.Arn, GranteePrincipal: 'arn:aws:iam::222222222222:role/worker', Operations, ...(Constraints ? { Constraints } : {}) }));
    // Less strict or more operations: refused, and nothing is created.
    await assert.rejects(child(['Decrypt']), denied('kms:CreateGrant'));
    await assert.rejects(child(['Decrypt'], { EncryptionContextSubset: { app: 'x' } }), denied('kms:CreateGrant'));
    await assert.rejects(child(['Decrypt', 'Encrypt'], { EncryptionContextSubset: { tenant: 'b' } }), denied('kms:CreateGrant'));
    await assert.rejects(child(['ReEncryptFrom'], { EncryptionContextSubset: { tenant: 'b' } }), denied('kms:CreateGrant'));
    // The same, stricter (more pairs), or Subset turned Equals: allowed.
    await child(['Decrypt'], { EncryptionContextSubset: { tenant: 'b' } });
    await child(['Decrypt', 'CreateGrant'], { EncryptionContextSubset: { tenant: 'b', app: 'x' } });
    await child(['Decrypt'], { EncryptionContextEquals: { tenant: 'b', app: 'x' } });
    const grants = (await kms(OWNER).send(new ListGrantsCommand({ KeyId: k2.KeyId }))).Grants!;
    assert.equal(grants.length, 4);
    assert.ok(grants.filter((g) => g.GranteePrincipal === 'arn:aws:iam::222222222222:role/worker').every((g) => g.IssuingAccount === rootOf('222222222222') && g.Operations!.every((op) => op === 'Decrypt' || op === 'CreateGrant')));
    // The parent grant itself decrypts only under its constraint.
    assert.equal(Buffer.from((await kms(OTHER).send(new DecryptCommand({ CiphertextBlob: ct2, EncryptionContext: { tenant: 'b', app: 'x' } }))).Plaintext!).toString(), 'tenant b');
    await assert.rejects(kms(OTHER).send(new ReEncryptCommand({ CiphertextBlob: ct2, SourceEncryptionContext: { tenant: 'b', app: 'x' }, DestinationKeyId: k2.Arn })), (e: any) => e.name === 'AccessDeniedException');
    // An EncryptionContextEquals parent allows only the same Equals.
    const k3 = (await kms(OWNER).send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms(OWNER).send(new CreateGrantCommand({ KeyId: k3.KeyId, GranteePrincipal: rootOf('222222222222'), Operations: ['Decrypt', 'CreateGrant'], Constraints: { EncryptionContextEquals: { tenant: 'b' } } }));
    await assert.rejects(kms(OTHER).send(new CreateGrantCommand({ KeyId: k3.Arn, GranteePrincipal: rootOf('222222222222'), Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { tenant: 'b' } } })), denied('kms:CreateGrant'));
    await kms(OTHER).send(new CreateGrantCommand({ KeyId: k3.Arn, GranteePrincipal: rootOf('222222222222'), Operations: ['Decrypt'], Constraints: { EncryptionContextEquals: { tenant: 'b' } } }));
  });

  it("KMS: the key policy binds the owner account too, and the lockout safety check keeps it from locking itself out", async () => {
    const key = (await kms(OWNER).send(new CreateKeyCommand({}))).KeyMetadata!;
    // A policy that leaves the owner without PutKeyPolicy is refused unless the caller bypasses the check.
    const lockout = policy([{ Effect: 'Allow', Principal: { AWS: rootOf('111111111111') }, Action: ['kms:Encrypt', 'kms:DescribeKey'], Resource: '*' }]);
    await assert.rejects(kms(OWNER).send(new PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: lockout })), {
      name: 'MalformedPolicyDocumentException',
      message: 'The new key policy will not allow you to update the key policy in the future.',
    });
    await kms(OWNER).send(new PutKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default', Policy: lockout, BypassPolicyLockoutSafetyCheck: true }));
    await kms(OWNER).send(new EncryptCommand({ KeyId: key.KeyId, Plaintext: Buffer.from('x') }));
    await assert.rejects(kms(OWNER).send(new ScheduleKeyDeletionCommand({ KeyId: key.KeyId })), (e: any) => e.name === 'AccessDeniedException');
    await assert.rejects(kms(OWNER).send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: 'default' })), (e: any) => e.name === 'AccessDeniedException');
  });

  it('KMS: an AWS managed key is used only through its service, and its policy says so', async () => {
    // Secrets Manager uses aws/secretsmanager on the account's behalf...
    await sm(OWNER).send(new CreateSecretCommand({ Name: 'managed-key-user', SecretString: 'v' }));
    const managed = await kms(OWNER).send(new DescribeKeyCommand({ KeyId: 'alias/aws/secretsmanager' }));
    assert.equal(managed.KeyMetadata!.KeyManager, 'AWS');
    // ...but the account cannot use it directly.
    await assert.rejects(kms(OWNER).send(new EncryptCommand({ KeyId: 'alias/aws/secretsmanager', Plaintext: Buffer.from('x') })), (e: any) => e.name === 'AccessDeniedException');
    const p = JSON.parse((await kms(OWNER).send(new GetKeyPolicyCommand({ KeyId: managed.KeyMetadata!.KeyId, PolicyName: 'default' }))).Policy!);
    assert.equal(p.Statement[0].Condition.StringEquals['kms:ViaService'], 'secretsmanager.us-east-1.amazonaws.com');
    assert.equal(p.Statement[0].Condition.StringEquals['kms:CallerAccount'], '111111111111');
  });
});
