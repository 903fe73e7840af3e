/**
 * Secrets Manager through the official SDK v3 client and the AWS CLI v2 against a real Cellar:
 * every non-rotation operation, the staging-label state machine, ClientRequestToken idempotency,
 * AWS's error codes and messages, and bad input that changes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteResourcePolicyCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutResourcePolicyCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
  ValidateResourcePolicyCommand,
} from '@aws-sdk/client-secrets-manager';
import { awsCli, removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';

function rejectsWith(code: string, message?: string | RegExp) {
  return (e: any) => {
    assert.equal(e.name, code, `expected ${code}, got ${e.name}: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

async function rawCall(endpoint: string, target: string, body: string): Promise<{ status: number; json: any }> {
  // Unsigned-looking requests are accepted in non-strict mode only when signed; sign with the SDK's signer instead.
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { Sha256 } = await import('@aws-crypto/sha256-js');
  const url = new URL(endpoint);
  const signer = new SignatureV4({ service: 'secretsmanager', region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, sha256: Sha256 });
  const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${target}` }, body });
  const res = await fetch(endpoint, { method: 'POST', headers: signed.headers as Record<string, string>, body });
  return { status: res.status, json: await res.json() };
}

describe('Secrets Manager', () => {
  let cellar: CellarProcess;
  let sm: SecretsManagerClient;
  before(async () => {
    cellar = await startCellar();
    sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('creates a secret with an ARN of name plus six random characters and reads it back by name, full ARN and partial ARN', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'app/db/password', SecretString: 's3cr3t', Description: 'db password', Tags: [{ Key: 'env', Value: 'dev' }] }));
    assert.match(created.ARN!, /^arn:aws:secretsmanager:us-east-1:000000000000:secret:app\/db\/password-[A-Za-z0-9]{6}$/);
    assert.ok(created.VersionId);
    for (const id of ['app/db/password', created.ARN!, created.ARN!.slice(0, -7)]) {
      const got = await sm.send(new GetSecretValueCommand({ SecretId: id }));
      assert.equal(got.SecretString, 's3cr3t');
      assert.deepEqual(got.VersionStages, ['AWSCURRENT']);
      assert.equal(got.VersionId, created.VersionId);
      assert.equal(got.ARN, created.ARN);
    }
    // A wrong suffix is not this secret.
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: created.ARN!.slice(0, -6) + 'zzzzzz' })), rejectsWith('ResourceNotFoundException', "Secrets Manager can't find the specified secret."));
    const d = await sm.send(new DescribeSecretCommand({ SecretId: 'app/db/password' }));
    assert.equal(d.Description, 'db password');
    assert.deepEqual(d.Tags, [{ Key: 'env', Value: 'dev' }]);
    assert.deepEqual(d.VersionIdsToStages, { [created.VersionId!]: ['AWSCURRENT'] });
    assert.ok(d.CreatedDate instanceof Date && d.LastChangedDate instanceof Date);
    // LastAccessedDate is a date only (midnight UTC), as AWS reports it.
    assert.equal(d.LastAccessedDate!.getTime() % 86_400_000, 0);
    assert.equal(d.KmsKeyId, undefined);
  });

  it('binary secrets round-trip as bytes', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await sm.send(new CreateSecretCommand({ Name: 'bin-secret', SecretBinary: bytes }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: 'bin-secret' }));
    assert.deepEqual(Buffer.from(got.SecretBinary!), bytes);
    assert.equal(got.SecretString, undefined);
  });

  it('PutSecretValue moves AWSCURRENT and AWSPREVIOUS exactly as AWS does; a version without labels is deprecated', async () => {
    const v1 = (await sm.send(new CreateSecretCommand({ Name: 'labels', SecretString: 'one' }))).VersionId!;
    const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: 'labels', SecretString: 'two' }))).VersionId!;
    let d = await sm.send(new DescribeSecretCommand({ SecretId: 'labels' }));
    assert.deepEqual(d.VersionIdsToStages, { [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
    const v3 = await sm.send(new PutSecretValueCommand({ SecretId: 'labels', SecretString: 'three' }));
    assert.deepEqual(v3.VersionStages, ['AWSCURRENT']);
    d = await sm.send(new DescribeSecretCommand({ SecretId: 'labels' }));
    assert.deepEqual(d.VersionIdsToStages, { [v2]: ['AWSPREVIOUS'], [v3.VersionId!]: ['AWSCURRENT'] });
    // v1 has no labels now: deprecated, listed only with IncludeDeprecated, still readable by id.
    const plain = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'labels' }));
    assert.deepEqual(plain.Versions!.map((v) => v.VersionId).sort(), [v2, v3.VersionId!].sort());
    const all = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'labels', IncludeDeprecated: true }));
    assert.equal(all.Versions!.length, 3);
    assert.deepEqual(all.Versions!.find((v) => v.VersionId === v1)!.VersionStages, []);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'labels', VersionId: v1 }))).SecretString, 'one');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'labels', VersionStage: 'AWSPREVIOUS' }))).SecretString, 'two');
    // A custom label: PutSecretValue with VersionStages does not move AWSCURRENT.
    const staged = await sm.send(new PutSecretValueCommand({ SecretId: 'labels', SecretString: 'four', VersionStages: ['MYLABEL'] }));
    assert.deepEqual(staged.VersionStages, ['MYLABEL']);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'labels' }))).SecretString, 'three');
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'labels', VersionStage: 'NOPE' })), rejectsWith('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: NOPE"));
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'labels', VersionId: v1, VersionStage: 'AWSCURRENT' })), rejectsWith('InvalidRequestException', 'You provided a VersionStage that is not associated to the provided VersionId.'));
    const missing = randomUUID();
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'labels', VersionId: missing })), rejectsWith('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${missing}`));
  });

  it('UpdateSecretVersionStage moves labels with AWS rules and messages', async () => {
    const v1 = (await sm.send(new CreateSecretCommand({ Name: 'stage-moves', SecretString: 'a' }))).VersionId!;
    const v2 = (await sm.send(new PutSecretValueCommand({ SecretId: 'stage-moves', SecretString: 'b' }))).VersionId!;
    await assert.rejects(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'stage-moves', VersionStage: 'AWSCURRENT', MoveToVersionId: v1 })),
      rejectsWith('InvalidParameterException', `The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version ${v2}, so you must explicitly reference that version in RemoveFromVersionId.`),
    );
    // Moving AWSCURRENT back to v1: AWSPREVIOUS follows to v2.
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'stage-moves', VersionStage: 'AWSCURRENT', MoveToVersionId: v1, RemoveFromVersionId: v2 }));
    let d = await sm.send(new DescribeSecretCommand({ SecretId: 'stage-moves' }));
    assert.deepEqual(d.VersionIdsToStages, { [v1]: ['AWSCURRENT'], [v2]: ['AWSPREVIOUS'] });
    // Custom labels: attach, then remove (leaving v2 with only AWSPREVIOUS).
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'stage-moves', VersionStage: 'BLUE', MoveToVersionId: v2 }));
    d = await sm.send(new DescribeSecretCommand({ SecretId: 'stage-moves' }));
    assert.deepEqual(d.VersionIdsToStages![v2], ['AWSPREVIOUS', 'BLUE']);
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'stage-moves', VersionStage: 'BLUE', RemoveFromVersionId: v2 }));
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'stage-moves', VersionStage: 'AWSPREVIOUS', RemoveFromVersionId: v2 }));
    d = await sm.send(new DescribeSecretCommand({ SecretId: 'stage-moves' }));
    assert.deepEqual(d.VersionIdsToStages, { [v1]: ['AWSCURRENT'] });
    await assert.rejects(sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'stage-moves', VersionStage: 'AWSCURRENT', RemoveFromVersionId: v1 })), rejectsWith('InvalidParameterException'));
    const nope = randomUUID();
    await assert.rejects(sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'stage-moves', VersionStage: 'X', MoveToVersionId: nope })), rejectsWith('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${nope}`));
  });

  it('ClientRequestToken: same token and value is a no-op, a different value is ResourceExistsException', async () => {
    const token = randomUUID();
    const created = await sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'x', ClientRequestToken: token }));
    const again = await sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'x', ClientRequestToken: token }));
    assert.equal(again.VersionId, token);
    assert.equal(again.ARN, created.ARN);
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'idem', SecretString: 'x' })), rejectsWith('ResourceExistsException', 'The operation failed because the secret idem already exists.'));
    const t2 = randomUUID();
    await sm.send(new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'y', ClientRequestToken: t2 }));
    const repeat = await sm.send(new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'y', ClientRequestToken: t2 }));
    assert.deepEqual(repeat.VersionStages, ['AWSCURRENT']);
    await assert.rejects(
      sm.send(new PutSecretValueCommand({ SecretId: 'idem', SecretString: 'z', ClientRequestToken: t2 })),
      rejectsWith('ResourceExistsException', `You can't use ClientRequestToken ${t2} because that value is already in use for a version of secret ${created.ARN}.`),
    );
    const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: 'idem', IncludeDeprecated: true }));
    assert.equal(versions.Versions!.length, 2, 'the repeats created no versions');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'idem' }))).SecretString, 'y');
  });

  it('UpdateSecret changes metadata and, with a value, makes a new AWSCURRENT version', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'upd', SecretString: 'one' }));
    const meta = await sm.send(new UpdateSecretCommand({ SecretId: 'upd', Description: 'new description' }));
    assert.equal(meta.VersionId, undefined);
    const withValue = await sm.send(new UpdateSecretCommand({ SecretId: 'upd', SecretString: 'two' }));
    assert.ok(withValue.VersionId);
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'upd' }))).SecretString, 'two');
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'upd' }))).Description, 'new description');
    await assert.rejects(sm.send(new UpdateSecretCommand({ SecretId: 'upd', SecretString: 'a', SecretBinary: Buffer.from('b') })), rejectsWith('InvalidParameterException', "You can't specify both a binary secret value and a string secret value in the same secret."));
  });

  it('a secret without a value has no AWSCURRENT version', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'empty' }));
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'empty' })), rejectsWith('ResourceNotFoundException', "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"));
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'empty' }))).VersionIdsToStages, undefined);
  });

  it('DeleteSecret schedules deletion (default 30 days), RestoreSecret undoes it, and AWS errors guard the window', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'bye' }));
    await assert.rejects(sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 6 })), rejectsWith('InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).'));
    await assert.rejects(sm.send(new DeleteSecretCommand({ SecretId: 'doomed', RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })), rejectsWith('InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."));
    const before = Date.now();
    const del = await sm.send(new DeleteSecretCommand({ SecretId: 'doomed' }));
    const days = (del.DeletionDate!.getTime() - before) / 86_400_000;
    assert.ok(days > 29.99 && days < 30.01, `deletion in ${days} days`);
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'doomed' })), rejectsWith('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion."));
    await assert.rejects(sm.send(new PutSecretValueCommand({ SecretId: 'doomed', SecretString: 'x' })), rejectsWith('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion."));
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'again' })), rejectsWith('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion."));
    const d = await sm.send(new DescribeSecretCommand({ SecretId: 'doomed' }));
    assert.ok(d.DeletedDate instanceof Date);
    const listed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['doomed'] }] }));
    assert.equal(listed.SecretList!.length, 0);
    const planned = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['doomed'] }], IncludePlannedDeletion: true }));
    assert.equal(planned.SecretList!.length, 1);
    await sm.send(new RestoreSecretCommand({ SecretId: 'doomed' }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'doomed' }))).SecretString, 'bye');
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'doomed' }))).DeletedDate, undefined);
    // Force delete is immediate, and the name is free again.
    await sm.send(new DeleteSecretCommand({ SecretId: 'doomed', ForceDeleteWithoutRecovery: true }));
    await assert.rejects(sm.send(new DescribeSecretCommand({ SecretId: 'doomed' })), rejectsWith('ResourceNotFoundException'));
    await sm.send(new CreateSecretCommand({ Name: 'doomed', SecretString: 'reborn' }));
  });

  it('ListSecrets filters (name, description, tag-key, tag-value, all, negation), sorts and paginates', async () => {
    for (let i = 0; i < 5; i++) {
      await sm.send(new CreateSecretCommand({ Name: `list/item-${i}`, SecretString: 'v', Description: i % 2 ? 'Odd one' : 'even one', Tags: [{ Key: 'team', Value: i < 3 ? 'alpha' : 'beta' }] }));
    }
    const names = async (filters: any[], extra: any = {}) => (await sm.send(new ListSecretsCommand({ Filters: filters, SortOrder: 'asc', ...extra }))).SecretList!.map((s) => s.Name);
    assert.deepEqual(await names([{ Key: 'name', Values: ['list/'] }]), ['list/item-0', 'list/item-1', 'list/item-2', 'list/item-3', 'list/item-4']);
    assert.deepEqual(await names([{ Key: 'name', Values: ['item-3'] }]), ['list/item-3'], 'prefix of a word of the name');
    assert.deepEqual(await names([{ Key: 'description', Values: ['odd'] }, { Key: 'name', Values: ['list/'] }]), ['list/item-1', 'list/item-3']);
    assert.deepEqual(await names([{ Key: 'tag-value', Values: ['beta'] }]), ['list/item-3', 'list/item-4']);
    assert.deepEqual(await names([{ Key: 'tag-key', Values: ['team'] }, { Key: 'tag-value', Values: ['!alpha'] }]), ['list/item-3', 'list/item-4']);
    assert.deepEqual(await names([{ Key: 'all', Values: ['BETA'] }]), ['list/item-3', 'list/item-4']);
    assert.deepEqual(await names([{ Key: 'name', Values: ['list/'] }], { SortBy: 'name', SortOrder: 'desc' }), ['list/item-4', 'list/item-3', 'list/item-2', 'list/item-1', 'list/item-0']);
    const seen: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const out = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['list/'] }], MaxResults: 2, NextToken: token, SortOrder: 'asc' }));
      assert.ok(out.SecretList!.length <= 2);
      seen.push(...out.SecretList!.map((s) => s.Name!));
      token = out.NextToken;
      if (!token) break;
    }
    assert.deepEqual(seen, ['list/item-0', 'list/item-1', 'list/item-2', 'list/item-3', 'list/item-4']);
    await assert.rejects(sm.send(new ListSecretsCommand({ NextToken: 'garbage' })), rejectsWith('InvalidNextTokenException'));
    await assert.rejects(sm.send(new ListSecretsCommand({ Filters: [{ Key: 'bogus' as any, Values: ['x'] }] })), rejectsWith('ValidationException', /Member must satisfy enum value set/));
  });

  it('BatchGetSecretValue by ids (with per-secret errors) and by filters', async () => {
    const out = await sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['list/item-0', 'list/item-1', 'no-such-secret'] }));
    assert.deepEqual(out.SecretValues!.map((v) => v.Name).sort(), ['list/item-0', 'list/item-1']);
    assert.deepEqual(out.Errors, [{ SecretId: 'no-such-secret', ErrorCode: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." }]);
    const byFilter = await sm.send(new BatchGetSecretValueCommand({ Filters: [{ Key: 'tag-value', Values: ['beta'] }] }));
    assert.deepEqual(byFilter.SecretValues!.map((v) => v.Name).sort(), ['list/item-3', 'list/item-4']);
    await assert.rejects(sm.send(new BatchGetSecretValueCommand({ SecretIdList: ['a'], Filters: [{ Key: 'name', Values: ['a'] }] })), rejectsWith('InvalidParameterException'));
  });

  it('TagResource and UntagResource', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'tagged', SecretString: 'v', Tags: [{ Key: 'a', Value: '1' }] }));
    await sm.send(new TagResourceCommand({ SecretId: 'tagged', Tags: [{ Key: 'a', Value: '2' }, { Key: 'b', Value: '3' }] }));
    assert.deepEqual((await sm.send(new DescribeSecretCommand({ SecretId: 'tagged' }))).Tags, [{ Key: 'a', Value: '2' }, { Key: 'b', Value: '3' }]);
    await sm.send(new UntagResourceCommand({ SecretId: 'tagged', TagKeys: ['a'] }));
    assert.deepEqual((await sm.send(new DescribeSecretCommand({ SecretId: 'tagged' }))).Tags, [{ Key: 'b', Value: '3' }]);
  });

  it('resource policies: put, get, validate, block public, delete', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'with-policy', SecretString: 'v' }));
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 'secretsmanager:GetSecretValue', Resource: '*' }] });
    const publicPolicy = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'secretsmanager:GetSecretValue', Resource: '*' }] });
    await sm.send(new PutResourcePolicyCommand({ SecretId: 'with-policy', ResourcePolicy: policy }));
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: 'with-policy' }))).ResourcePolicy, policy);
    await assert.rejects(sm.send(new PutResourcePolicyCommand({ SecretId: 'with-policy', ResourcePolicy: publicPolicy, BlockPublicPolicy: true })), rejectsWith('PublicPolicyException'));
    await assert.rejects(sm.send(new PutResourcePolicyCommand({ SecretId: 'with-policy', ResourcePolicy: '{not json' })), rejectsWith('MalformedPolicyDocumentException'));
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: 'with-policy' }))).ResourcePolicy, policy, 'refused policies changed nothing');
    const ok = await sm.send(new ValidateResourcePolicyCommand({ ResourcePolicy: policy }));
    assert.equal(ok.PolicyValidationPassed, true);
    const bad = await sm.send(new ValidateResourcePolicyCommand({ ResourcePolicy: publicPolicy }));
    assert.equal(bad.PolicyValidationPassed, false);
    assert.ok(bad.ValidationErrors!.length > 0);
    await sm.send(new DeleteResourcePolicyCommand({ SecretId: 'with-policy' }));
    assert.equal((await sm.send(new GetResourcePolicyCommand({ SecretId: 'with-policy' }))).ResourcePolicy, undefined);
  });

  it('GetRandomPassword honours every option', async () => {
    const def = (await sm.send(new GetRandomPasswordCommand({}))).RandomPassword!;
    assert.equal(def.length, 32);
    assert.match(def, /[a-z]/);
    assert.match(def, /[A-Z]/);
    assert.match(def, /[0-9]/);
    assert.match(def, /[!-/:-@[-`{-~]/);
    const digits = (await sm.send(new GetRandomPasswordCommand({ PasswordLength: 50, ExcludeLowercase: true, ExcludeUppercase: true, ExcludePunctuation: true }))).RandomPassword!;
    assert.match(digits, /^[0-9]{50}$/);
    const noAbc = (await sm.send(new GetRandomPasswordCommand({ PasswordLength: 200, ExcludeCharacters: 'abcABC123' }))).RandomPassword!;
    assert.doesNotMatch(noAbc, /[abcABC123]/);
    const spaced = (await sm.send(new GetRandomPasswordCommand({ PasswordLength: 5, IncludeSpace: true, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true }))).RandomPassword!;
    assert.equal(spaced, '     ');
    await assert.rejects(sm.send(new GetRandomPasswordCommand({ PasswordLength: 3 })), rejectsWith('InvalidParameterException', 'Password length is too short based on the required types.'));
    assert.equal((await sm.send(new GetRandomPasswordCommand({ PasswordLength: 3, RequireEachIncludedType: false }))).RandomPassword!.length, 3);
    await assert.rejects(sm.send(new GetRandomPasswordCommand({ PasswordLength: 4097 })), rejectsWith('ValidationException', "1 validation error detected: Value '4097' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096"));
  });

  it('replicates to another region of this Cellar, keeps the replica in sync, and refuses writes to the replica', async () => {
    const west = new SecretsManagerClient({ ...sdkConfig(cellar.endpoint), region: 'us-west-2' });
    const created = await sm.send(new CreateSecretCommand({ Name: 'replicated', SecretString: 'r1', AddReplicaRegions: [{ Region: 'us-west-2' }] }));
    assert.deepEqual(created.ReplicationStatus!.map((r) => [r.Region, r.Status]), [['us-west-2', 'InSync']]);
    const replica = await west.send(new GetSecretValueCommand({ SecretId: 'replicated' }));
    assert.equal(replica.SecretString, 'r1');
    assert.equal(replica.ARN, created.ARN!.replace('us-east-1', 'us-west-2'));
    await sm.send(new PutSecretValueCommand({ SecretId: 'replicated', SecretString: 'r2' }));
    assert.equal((await west.send(new GetSecretValueCommand({ SecretId: 'replicated' }))).SecretString, 'r2');
    assert.equal((await west.send(new DescribeSecretCommand({ SecretId: 'replicated' }))).PrimaryRegion, 'us-east-1');
    await assert.rejects(west.send(new PutSecretValueCommand({ SecretId: 'replicated', SecretString: 'no' })), rejectsWith('InvalidRequestException', "Operation not permitted on a replica secret. Call must be made in primary secret's region."));
    await assert.rejects(sm.send(new DeleteSecretCommand({ SecretId: 'replicated' })), rejectsWith('InvalidRequestException'));
    // A second region whose name is taken fails without ForceOverwriteReplicaSecret.
    const eu = new SecretsManagerClient({ ...sdkConfig(cellar.endpoint), region: 'eu-west-1' });
    await eu.send(new CreateSecretCommand({ Name: 'replicated', SecretString: 'local' }));
    const rep = await sm.send(new ReplicateSecretToRegionsCommand({ SecretId: 'replicated', AddReplicaRegions: [{ Region: 'eu-west-1' }] }));
    assert.equal(rep.ReplicationStatus!.find((r) => r.Region === 'eu-west-1')!.Status, 'Failed');
    assert.equal((await eu.send(new GetSecretValueCommand({ SecretId: 'replicated' }))).SecretString, 'local');
    await sm.send(new RemoveRegionsFromReplicationCommand({ SecretId: 'replicated', RemoveReplicaRegions: ['eu-west-1'] }));
    // StopReplicationToReplica promotes the replica to a standalone secret.
    await west.send(new StopReplicationToReplicaCommand({ SecretId: 'replicated' }));
    await west.send(new PutSecretValueCommand({ SecretId: 'replicated', SecretString: 'independent' }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'replicated' }))).SecretString, 'r2');
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'replicated' }))).ReplicationStatus, undefined);
  });

  it('bad input gets AWS errors and the server keeps serving', async () => {
    const raw = await rawCall(cellar.endpoint, 'CreateSecret', '{not json');
    assert.equal(raw.status, 400);
    assert.equal(raw.json.__type, 'SerializationException');
    const missing = await rawCall(cellar.endpoint, 'GetSecretValue', '{}');
    assert.equal(missing.json.__type, 'ValidationException');
    assert.equal(missing.json.Message, "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null");
    const wrongType = await rawCall(cellar.endpoint, 'GetSecretValue', '{"SecretId": 5}');
    assert.equal(wrongType.json.__type, 'SerializationException');
    const noToken = await rawCall(cellar.endpoint, 'CreateSecret', '{"Name":"raw-no-token","SecretString":"x"}');
    assert.equal(noToken.json.__type, 'InvalidRequestException');
    assert.equal(noToken.json.Message, 'You must provide a ClientRequestToken value. We recommend a UUID-type value.');
    await assert.rejects(sm.send(new DescribeSecretCommand({ SecretId: 'raw-no-token' })), rejectsWith('ResourceNotFoundException'), 'refused create changed nothing');
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'bad name!', SecretString: 'x' })), rejectsWith('InvalidParameterException', 'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!'));
    await assert.rejects(sm.send(new CreateSecretCommand({ Name: 'both', SecretString: 'x', SecretBinary: Buffer.from('y') })), rejectsWith('InvalidParameterException'));
    await assert.rejects(sm.send(new PutSecretValueCommand({ SecretId: 'labels' })), rejectsWith('InvalidRequestException'));
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'labels', VersionId: 'short' })), rejectsWith('ValidationException', /versionId/));
    // Still serving.
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'labels' }))).SecretString, 'three');
  });

  it('the AWS CLI v2 drives the same operations', () => {
    const created = awsCli(cellar.endpoint, ['secretsmanager', 'create-secret', '--name', 'cli/secret', '--secret-string', '{"user":"u","password":"p"}']);
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.json.ARN, /:secret:cli\/secret-[A-Za-z0-9]{6}$/);
    const got = awsCli(cellar.endpoint, ['secretsmanager', 'get-secret-value', '--secret-id', 'cli/secret']);
    assert.equal(got.status, 0, got.stderr);
    assert.equal(JSON.parse(got.json.SecretString).password, 'p');
    const put = awsCli(cellar.endpoint, ['secretsmanager', 'put-secret-value', '--secret-id', 'cli/secret', '--secret-string', 'v2']);
    assert.equal(put.status, 0, put.stderr);
    const listed = awsCli(cellar.endpoint, ['secretsmanager', 'list-secrets', '--filters', 'Key=name,Values=cli/']);
    assert.equal(listed.json.SecretList.length, 1);
    const versions = awsCli(cellar.endpoint, ['secretsmanager', 'list-secret-version-ids', '--secret-id', 'cli/secret']);
    assert.equal(versions.json.Versions.length, 2);
    const pw = awsCli(cellar.endpoint, ['secretsmanager', 'get-random-password', '--password-length', '12', '--exclude-punctuation']);
    assert.match(pw.json.RandomPassword, /^[A-Za-z0-9]{12}$/);
    const missing = awsCli(cellar.endpoint, ['secretsmanager', 'describe-secret', '--secret-id', 'cli/nope']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /ResourceNotFoundException.*Secrets Manager can't find the specified secret\./);
    const del = awsCli(cellar.endpoint, ['secretsmanager', 'delete-secret', '--secret-id', 'cli/secret', '--recovery-window-in-days', '7']);
    assert.equal(del.status, 0, del.stderr);
    const restored = awsCli(cellar.endpoint, ['secretsmanager', 'restore-secret', '--secret-id', 'cli/secret']);
    assert.equal(restored.status, 0, restored.stderr);
  });
});
