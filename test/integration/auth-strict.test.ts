import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { KMSClient, CreateKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { advanceClock, removeDir, sdkConfig, startCellar, tempDir, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall, queryCall } from '../helpers/sign.js';

describe('strict authentication mode', () => {
  let cellar: CellarProcess;
  before(async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'cellar.json'),
      JSON.stringify({
        keys: [{ accessKeyId: 'AKIAALICE', secretAccessKey: 'alice-secret', accountId: '123456789012', userName: 'alice' }],
        roleTrust: [{ role: 'arn:aws:iam::123456789012:role/app', principals: ['000000000000'] }],
      }),
    );
    cellar = await startCellar({ dataDir: dir, args: ['--strict'] });
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('an unknown key is refused: UnrecognizedClientException (JSON) / InvalidClientTokenId (query)', async () => {
    const kms = new KMSClient(sdkConfig(cellar.endpoint, { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }));
    await assert.rejects(kms.send(new CreateKeyCommand({})), (e: any) => e.name === 'UnrecognizedClientException' && e.message === 'The security token included in the request is invalid.');
    const sts = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }));
    await assert.rejects(sts.send(new GetCallerIdentityCommand({})), (e: any) => e.name === 'InvalidClientTokenId' && e.$metadata.httpStatusCode === 403);
  });

  it('a configured key acts as its user in its account, and test/test still works', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: 'AKIAALICE', secretAccessKey: 'alice-secret' }));
    const who = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(who.Account, '123456789012');
    assert.equal(who.Arn, 'arn:aws:iam::123456789012:user/alice');
    const kms = new KMSClient(sdkConfig(cellar.endpoint, { accessKeyId: 'AKIAALICE', secretAccessKey: 'alice-secret' }));
    const key = await kms.send(new CreateKeyCommand({}));
    assert.match(key.KeyMetadata!.Arn!, /:123456789012:key\//);
    // Another account cannot see it.
    const testKms = new KMSClient(sdkConfig(cellar.endpoint));
    await assert.rejects(testKms.send(new DescribeKeyCommand({ KeyId: key.KeyMetadata!.KeyId! })), { name: 'NotFoundException' });
  });

  it('a request signed more than 15 minutes ago (or ahead) is refused as expired', async () => {
    const old = new Date(Date.now() - 16 * 60_000);
    const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.ListKeys', '{}', { signingDate: old });
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'InvalidSignatureException');
    assert.match(r.json.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    const ahead = await queryCall(cellar.endpoint, 'sts', { Action: 'GetCallerIdentity', Version: '2011-06-15' }, { signingDate: new Date(Date.now() + 16 * 60_000) });
    assert.equal(ahead.status, 403);
    assert.match(ahead.text, /Signature not yet current/);
    const fresh = await jsonCall(cellar.endpoint, 'kms', 'TrentService.ListKeys', '{}', { signingDate: new Date(Date.now() - 10 * 60_000) });
    assert.equal(fresh.status, 200);
  });

  it('a declared payload hash that does not match the body is refused', async () => {
    const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.ListKeys', '{}', { headers: { 'x-amz-content-sha256': 'a'.repeat(64) } });
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'InvalidSignatureException');
  });

  it('AssumeRole into another account needs the config file to trust the caller for that role', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint));
    await assert.rejects(sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/other', RoleSessionName: 'session' })), (e: any) => e.name === 'AccessDenied' && e.$metadata.httpStatusCode === 403 && /is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role\/other/.test(e.message));
    // Alice (123456789012) is not trusted for a role of account 000000000000 either, but her own account's roles are hers.
    const alice = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: 'AKIAALICE', secretAccessKey: 'alice-secret' }));
    await assert.rejects(alice.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::000000000000:role/app', RoleSessionName: 'session' })), { name: 'AccessDenied' });
    assert.ok((await alice.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/own', RoleSessionName: 'session' }))).Credentials);
  });

  it('temporary credentials from AssumeRole work until they expire, then ExpiredToken', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint));
    const role = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/app', RoleSessionName: 'strict', DurationSeconds: 900 }));
    const c = role.Credentials!;
    const assumed = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } as any));
    assert.equal((await assumed.send(new GetCallerIdentityCommand({}))).Account, '123456789012');
    // Moving the server clock past the expiry also puts the request outside the skew window, so sign at the new time.
    await advanceClock(cellar.endpoint, 16 * 60_000);
    const r = await queryCall(cellar.endpoint, 'sts', { Action: 'GetCallerIdentity', Version: '2011-06-15' }, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken!, signingDate: new Date(Date.now() + 16 * 60_000) });
    assert.equal(r.status, 403);
    assert.match(r.text, /<Code>ExpiredToken<\/Code>/);
  });
});
