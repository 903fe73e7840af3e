import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  KMSClient, CreateKeyCommand, DescribeKeyCommand, ListKeysCommand, CreateAliasCommand, UpdateAliasCommand, DeleteAliasCommand, ListAliasesCommand,
  EncryptCommand, DecryptCommand, ReEncryptCommand, GenerateDataKeyCommand, GenerateDataKeyWithoutPlaintextCommand, GenerateRandomCommand,
  EnableKeyCommand, DisableKeyCommand, EnableKeyRotationCommand, DisableKeyRotationCommand, GetKeyRotationStatusCommand, RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand, CancelKeyDeletionCommand, TagResourceCommand, UntagResourceCommand, ListResourceTagsCommand, ListKeyRotationsCommand,
  CreateGrantCommand, ListGrantsCommand, RetireGrantCommand, PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { jsonCall } from '../helpers/sign.js';
import { advanceClock, awsCli, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

const DAY_MS = 86_400_000;
const text = (s: string) => Buffer.from(s, 'utf8');

describe('KMS', () => {
  let cellar: CellarProcess;
  let kms: KMSClient;
  before(async () => {
    cellar = await startCellar();
    kms = new KMSClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  async function newKey(description = 'test key'): Promise<string> {
    const out = await kms.send(new CreateKeyCommand({ Description: description, Tags: [{ TagKey: 'team', TagValue: 'data' }] }));
    return out.KeyMetadata!.KeyId!;
  }

  it('CreateKey makes an enabled symmetric customer-managed key that DescribeKey and ListKeys show', async () => {
    const created = await kms.send(new CreateKeyCommand({ Description: 'orders' }));
    const md = created.KeyMetadata!;
    assert.match(md.KeyId!, /^[0-9a-f-]{36}$/);
    assert.equal(md.Arn, `arn:aws:kms:us-east-1:000000000000:key/${md.KeyId}`);
    assert.equal(md.KeyState, 'Enabled');
    assert.equal(md.KeySpec, 'SYMMETRIC_DEFAULT');
    assert.equal(md.KeyManager, 'CUSTOMER');
    assert.deepEqual(md.EncryptionAlgorithms, ['SYMMETRIC_DEFAULT']);
    const described = await kms.send(new DescribeKeyCommand({ KeyId: md.Arn! }));
    assert.equal(described.KeyMetadata!.Description, 'orders');
    const listed = await kms.send(new ListKeysCommand({}));
    assert.ok(listed.Keys!.some((k) => k.KeyId === md.KeyId));
  });

  it('Encrypt/Decrypt round-trips with AES-GCM, and the encryption context is enforced', async () => {
    const keyId = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('attack at dawn'), EncryptionContext: { order: '42' } }));
    assert.ok(!Buffer.from(enc.CiphertextBlob!).includes(text('attack at dawn')));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { order: '42' } }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'attack at dawn');
    assert.equal(dec.KeyId, `arn:aws:kms:us-east-1:000000000000:key/${keyId}`);
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob, EncryptionContext: { order: '43' } })), { name: 'InvalidCiphertextException' });
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), { name: 'InvalidCiphertextException' });
    const tampered = Buffer.from(enc.CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: { order: '42' } })), { name: 'InvalidCiphertextException' });
  });

  it('aliases: create, use for crypto, update to another key, list by key, delete', async () => {
    const k1 = await newKey();
    const k2 = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/payments', TargetKeyId: k1 }));
    await assert.rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/payments', TargetKeyId: k2 })), (e: any) => e.name === 'AlreadyExistsException' && /alias\/payments already exists/.test(e.message));
    await assert.rejects(kms.send(new CreateAliasCommand({ AliasName: 'alias/aws/mine', TargetKeyId: k2 })), { name: 'NotAuthorizedException' });
    const enc = await kms.send(new EncryptCommand({ KeyId: 'alias/payments', Plaintext: text('x') }));
    assert.equal(enc.KeyId, `arn:aws:kms:us-east-1:000000000000:key/${k1}`);
    await kms.send(new UpdateAliasCommand({ AliasName: 'alias/payments', TargetKeyId: k2 }));
    const enc2 = await kms.send(new EncryptCommand({ KeyId: 'arn:aws:kms:us-east-1:000000000000:alias/payments', Plaintext: text('x') }));
    assert.equal(enc2.KeyId, `arn:aws:kms:us-east-1:000000000000:key/${k2}`);
    const byKey = await kms.send(new ListAliasesCommand({ KeyId: k2 }));
    assert.deepEqual(byKey.Aliases!.map((a) => a.AliasName), ['alias/payments']);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/payments' }));
    await assert.rejects(kms.send(new DescribeKeyCommand({ KeyId: 'alias/payments' })), (e: any) => e.name === 'NotFoundException' && e.message === 'Alias arn:aws:kms:us-east-1:000000000000:alias/payments is not found.');
  });

  it('ReEncrypt moves a ciphertext to another key and context without exposing the plaintext', async () => {
    const k1 = await newKey();
    const k2 = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: k1, Plaintext: text('moving'), EncryptionContext: { a: '1' } }));
    const re = await kms.send(new ReEncryptCommand({ CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: { a: '1' }, DestinationKeyId: k2, DestinationEncryptionContext: { b: '2' } }));
    assert.equal(re.SourceKeyId, `arn:aws:kms:us-east-1:000000000000:key/${k1}`);
    assert.equal(re.KeyId, `arn:aws:kms:us-east-1:000000000000:key/${k2}`);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { b: '2' }, KeyId: k2 }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'moving');
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: re.CiphertextBlob, EncryptionContext: { b: '2' }, KeyId: k1 })), { name: 'IncorrectKeyException' });
  });

  it('GenerateDataKey returns a key whose ciphertext decrypts to it; WithoutPlaintext and GenerateRandom sizes', async () => {
    const keyId = await newKey();
    const dk = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: { p: 'q' } }));
    assert.equal(dk.Plaintext!.length, 32);
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, EncryptionContext: { p: 'q' } }));
    assert.deepEqual(Buffer.from(dec.Plaintext!), Buffer.from(dk.Plaintext!));
    const dk16 = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, NumberOfBytes: 16 }));
    assert.equal(dk16.Plaintext!.length, 16);
    await assert.rejects(kms.send(new GenerateDataKeyCommand({ KeyId: keyId })), (e: any) => e.name === 'ValidationException');
    const np = await kms.send(new GenerateDataKeyWithoutPlaintextCommand({ KeyId: keyId, KeySpec: 'AES_128' }));
    assert.equal((np as any).Plaintext, undefined);
    const dnp = await kms.send(new DecryptCommand({ CiphertextBlob: np.CiphertextBlob }));
    assert.equal(dnp.Plaintext!.length, 16);
    const r = await kms.send(new GenerateRandomCommand({ NumberOfBytes: 1024 }));
    assert.equal(r.Plaintext!.length, 1024);
    await assert.rejects(kms.send(new GenerateRandomCommand({ NumberOfBytes: 1025 })), (e: any) => e.name === 'ValidationException' && /Member must have value less than or equal to 1024/.test(e.message));
  });

  it('a disabled key refuses use until enabled again', async () => {
    const keyId = await newKey();
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('x') }));
    await kms.send(new DisableKeyCommand({ KeyId: keyId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState, 'Disabled');
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('x') })), (e: any) => e.name === 'DisabledException' && e.message.endsWith(`key/${keyId} is disabled.`));
    await assert.rejects(kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob })), { name: 'DisabledException' });
    await kms.send(new EnableKeyCommand({ KeyId: keyId }));
    await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
  });

  it('rotation: on demand and automatic; older material still decrypts', async () => {
    const keyId = await newKey();
    const before = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('old material') }));
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const after1 = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('new material') }));
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!).toString(), 'old material');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: after1.CiphertextBlob }))).Plaintext!).toString(), 'new material');
    const rotations = await kms.send(new ListKeyRotationsCommand({ KeyId: keyId }));
    assert.equal(rotations.Rotations!.length, 1);
    assert.equal(rotations.Rotations![0]!.RotationType, 'ON_DEMAND');

    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled, false);
    await kms.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: 90 }));
    const status = await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
    assert.equal(status.KeyRotationEnabled, true);
    assert.equal(status.RotationPeriodInDays, 90);
    assert.ok(Math.abs(status.NextRotationDate!.getTime() - (Date.now() + 90 * DAY_MS)) < 60_000);
    await advanceClock(cellar.endpoint, 91 * DAY_MS);
    await waitFor(async () => (await kms.send(new ListKeyRotationsCommand({ KeyId: keyId }))).Rotations!.length === 2, 'automatic rotation');
    assert.equal(Buffer.from((await kms.send(new DecryptCommand({ CiphertextBlob: before.CiphertextBlob }))).Plaintext!).toString(), 'old material');
    await kms.send(new DisableKeyRotationCommand({ KeyId: keyId }));
    assert.equal((await kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId }))).KeyRotationEnabled, false);
  });

  it('ScheduleKeyDeletion: 7-30 days, refuses use, can be cancelled (key comes back disabled), and really deletes when due', async () => {
    const keyId = await newKey();
    await assert.rejects(kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 6 })), (e: any) => e.name === 'ValidationException');
    const sched = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    assert.equal(sched.KeyState, 'PendingDeletion');
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('x') })), (e: any) => e.name === 'KMSInvalidStateException' && /is pending deletion/.test(e.message));
    await kms.send(new CancelKeyDeletionCommand({ KeyId: keyId }));
    assert.equal((await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!.KeyState, 'Disabled');

    const doomed = await newKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/doomed', TargetKeyId: doomed }));
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }));
    await advanceClock(cellar.endpoint, 8 * DAY_MS);
    await waitFor(async () => {
      try {
        await kms.send(new DescribeKeyCommand({ KeyId: doomed }));
        return false;
      } catch (e: any) {
        return e.name === 'NotFoundException';
      }
    }, 'scheduled key deletion');
    const aliases = await kms.send(new ListAliasesCommand({}));
    assert.ok(!aliases.Aliases!.some((a) => a.AliasName === 'alias/doomed'));
  });

  it('tags: tag, list, untag', async () => {
    const keyId = await newKey();
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'env', TagValue: 'dev' }] }));
    const tags = await kms.send(new ListResourceTagsCommand({ KeyId: keyId }));
    assert.deepEqual(tags.Tags!.map((t) => `${t.TagKey}=${t.TagValue}`).sort(), ['env=dev', 'team=data']);
    await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['team'] }));
    assert.deepEqual((await kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags!.map((t) => t.TagKey), ['env']);
  });

  it('unknown keys and aliases get NotFoundException naming the ARN', async () => {
    await assert.rejects(kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' })), (e: any) => e.name === 'NotFoundException' && e.message === "Key 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000' does not exist" && e.$metadata.httpStatusCode === 400);
  });

  it('alias/aws/<service> names an AWS managed key only for a service AWS has one for; any other name is not found and creates nothing', async () => {
    const before = (await kms.send(new ListKeysCommand({}))).Keys!.length;
    for (const name of ['alias/aws/nosuchservice', 'alias/aws/', 'alias/aws/secretsmanager2']) {
      await assert.rejects(kms.send(new DescribeKeyCommand({ KeyId: name })), (e: any) => e.name === 'NotFoundException' && e.message === `Alias arn:aws:kms:us-east-1:000000000000:${name} is not found.`);
    }
    assert.equal((await kms.send(new ListKeysCommand({}))).Keys!.length, before);
    assert.deepEqual((await kms.send(new ListAliasesCommand({}))).Aliases!.filter((a) => a.AliasName!.startsWith('alias/aws/nosuch')), []);
    // A real one comes into being when DescribeKey names it, as the API reference says.
    const ebs = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ebs' }));
    assert.equal(ebs.KeyMetadata!.KeyManager, 'AWS');
    assert.equal((await kms.send(new ListKeysCommand({}))).Keys!.length, before + 1);
  });

  it('RetireGrant refuses a key ARN of another partition, service or region, as DescribeKey does, and retires nothing', async () => {
    const keyId = await newKey();
    const grant = await kms.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: 'arn:aws:iam::000000000000:role/app', Operations: ['Decrypt'] }));
    const arn = `arn:aws:kms:us-east-1:000000000000:key/${keyId}`;
    for (const bogus of [arn.replace('arn:aws:', 'arn:aws-cn:'), arn.replace(':kms:', ':dynamodb:'), arn.replace('us-east-1', 'eu-west-1'), `arn:aws-cn:dynamodb:ap-south-1:000000000000:key/${keyId}`]) {
      await assert.rejects(kms.send(new RetireGrantCommand({ KeyId: bogus, GrantId: grant.GrantId })), (e: any) => e.name === 'NotFoundException' && e.message === `Invalid arn ${bogus}`, bogus);
      await assert.rejects(kms.send(new DescribeKeyCommand({ KeyId: bogus })), (e: any) => e.name === 'NotFoundException' && e.message === `Invalid arn ${bogus}`, bogus);
    }
    assert.equal((await kms.send(new ListGrantsCommand({ KeyId: keyId }))).Grants!.length, 1);
    // A grant token names a grant of its own region only.
    const west = new KMSClient({ ...sdkConfig(cellar.endpoint), region: 'eu-west-1' });
    await assert.rejects(west.send(new RetireGrantCommand({ GrantToken: grant.GrantToken })), { name: 'InvalidGrantTokenException' });
    assert.equal((await kms.send(new ListGrantsCommand({ KeyId: keyId }))).Grants!.length, 1);
    await kms.send(new RetireGrantCommand({ KeyId: arn, GrantId: grant.GrantId }));
    assert.equal((await kms.send(new ListGrantsCommand({ KeyId: keyId }))).Grants!.length, 0);
  });

  it('DeleteAlias and UpdateAlias ask the key policies of the keys the alias names and is to name', async () => {
    const guarded = await newKey('guarded');
    const free = await newKey('free');
    const policy = (deny: string) =>
      JSON.stringify({ Version: '2012-10-17', Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: '*' }, Action: deny, Resource: '*' },
      ] });
    await kms.send(new PutKeyPolicyCommand({ KeyId: guarded, PolicyName: 'default', Policy: policy('kms:DeleteAlias') }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/guarded', TargetKeyId: guarded }));
    await assert.rejects(kms.send(new DeleteAliasCommand({ AliasName: 'alias/guarded' })), (e: any) => e.name === 'AccessDeniedException' && /kms:DeleteAlias on resource: arn:aws:kms:us-east-1:000000000000:key\/.* with an explicit deny/.test(e.message));
    await kms.send(new PutKeyPolicyCommand({ KeyId: guarded, PolicyName: 'default', Policy: policy('kms:UpdateAlias') }));
    // Away from the guarded key: its policy is asked too, not only the new key's.
    await assert.rejects(kms.send(new UpdateAliasCommand({ AliasName: 'alias/guarded', TargetKeyId: free })), { name: 'AccessDeniedException' });
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/free', TargetKeyId: free }));
    // Onto the guarded key: refused by the new key's policy.
    await assert.rejects(kms.send(new UpdateAliasCommand({ AliasName: 'alias/free', TargetKeyId: guarded })), { name: 'AccessDeniedException' });
    const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases!;
    assert.equal(aliases.find((a) => a.AliasName === 'alias/guarded')!.TargetKeyId, guarded);
    assert.equal(aliases.find((a) => a.AliasName === 'alias/free')!.TargetKeyId, free);
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/guarded' }));
  });

  it('key policy conditions see kms:RequestAlias and aws:ResourceTag of the key', async () => {
    const keyId = await newKey('conditioned');
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'env', TagValue: 'prod' }] }));
    await kms.send(new PutKeyPolicyCommand({
      KeyId: keyId,
      PolicyName: 'default',
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:*', Resource: '*' },
        { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'kms:Encrypt', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/env': 'prod' }, StringNotEquals: { 'kms:RequestAlias': 'alias/prod-writer' } } },
      ] }),
    }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/prod-writer', TargetKeyId: keyId }));
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/prod-other', TargetKeyId: keyId }));
    await kms.send(new EncryptCommand({ KeyId: 'alias/prod-writer', Plaintext: text('x') }));
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: 'alias/prod-other', Plaintext: text('x') })), { name: 'AccessDeniedException' });
    await assert.rejects(kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('x') })), { name: 'AccessDeniedException' });
    await kms.send(new UntagResourceCommand({ KeyId: keyId, TagKeys: ['env'] }));
    await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: text('x') }));
  });

  it('a blob that is not base64 is a SerializationException, never encrypted', async () => {
    const keyId = await newKey();
    const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.Encrypt', JSON.stringify({ KeyId: keyId, Plaintext: 'SENSITIVEXYZ!!' }));
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'SerializationException');
    assert.equal(r.json.message, 'Base64 encoded length is expected a multiple of 4 bytes but found: 14');
    const d = await jsonCall(cellar.endpoint, 'kms', 'TrentService.Decrypt', JSON.stringify({ CiphertextBlob: 'not*base64**' }));
    assert.equal(d.status, 400);
    assert.equal(d.json.__type, 'SerializationException');
    assert.equal(d.json.message, "Invalid Base64 character: '*'");
  });

  it('keys are isolated per account and region', async () => {
    const keyId = await newKey();
    const other = new KMSClient({ ...sdkConfig(cellar.endpoint, { accessKeyId: '222233334444', secretAccessKey: 'x' }) });
    await assert.rejects(other.send(new DescribeKeyCommand({ KeyId: keyId })), { name: 'NotFoundException' });
    const west = new KMSClient({ ...sdkConfig(cellar.endpoint), region: 'eu-west-1' });
    await assert.rejects(west.send(new DescribeKeyCommand({ KeyId: keyId })), { name: 'NotFoundException' });
  });

  it('the AWS CLI v2 encrypts and decrypts through an alias', () => {
    const key = awsCli(cellar.endpoint, ['kms', 'create-key', '--description', 'cli']);
    assert.equal(key.status, 0, key.stderr);
    const keyId = key.json.KeyMetadata.KeyId;
    assert.equal(awsCli(cellar.endpoint, ['kms', 'create-alias', '--alias-name', 'alias/cli', '--target-key-id', keyId]).status, 0);
    const enc = awsCli(cellar.endpoint, ['kms', 'encrypt', '--key-id', 'alias/cli', '--plaintext', Buffer.from('from the cli').toString('base64')]);
    assert.equal(enc.status, 0, enc.stderr);
    const dec = awsCli(cellar.endpoint, ['kms', 'decrypt', '--ciphertext-blob', enc.json.CiphertextBlob]);
    assert.equal(dec.status, 0, dec.stderr);
    assert.equal(Buffer.from(dec.json.Plaintext, 'base64').toString(), 'from the cli');
    const bad = awsCli(cellar.endpoint, ['kms', 'describe-key', '--key-id', 'alias/none']);
    assert.equal(bad.status, 254);
    assert.match(bad.stderr, /NotFoundException/);
  });
});
