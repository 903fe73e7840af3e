import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { awsCli, removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';

describe('STS', () => {
  let cellar: CellarProcess;
  before(async () => {
    cellar = await startCellar();
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('GetCallerIdentity answers for the default test key in account 000000000000', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint));
    const out = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(out.Account, '000000000000');
    assert.equal(out.Arn, 'arn:aws:iam::000000000000:root');
  });

  it('a 12-digit unknown access key acts in that account', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: '111122223333', secretAccessKey: 'whatever' }));
    const out = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(out.Account, '111122223333');
  });

  it('a wrong secret for a known key is refused with SignatureDoesNotMatch', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: 'test', secretAccessKey: 'nope' }));
    await assert.rejects(sts.send(new GetCallerIdentityCommand({})), (e: any) => e.name === 'SignatureDoesNotMatch' && e.$metadata.httpStatusCode === 403);
  });

  it('AssumeRole returns credentials that the SigV4 check accepts, acting as the role', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint));
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/app/deployer', RoleSessionName: 'ci-run', DurationSeconds: 900 }));
    const c = out.Credentials!;
    assert.match(c.AccessKeyId!, /^ASIA[A-Z2-7]{16}$/);
    assert.ok(c.Expiration!.getTime() > Date.now() + 800_000);
    assert.equal(out.AssumedRoleUser!.Arn, 'arn:aws:sts::123456789012:assumed-role/deployer/ci-run');
    const assumed = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } as any));
    const who = await assumed.send(new GetCallerIdentityCommand({}));
    assert.equal(who.Account, '123456789012');
    assert.equal(who.Arn, 'arn:aws:sts::123456789012:assumed-role/deployer/ci-run');
    // The same key with a wrong session token is refused.
    const forged = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: 'forged' } as any));
    await assert.rejects(forged.send(new GetCallerIdentityCommand({})), (e: any) => e.name === 'InvalidClientTokenId');
  });

  it('AssumeRole validates DurationSeconds as AWS does', async () => {
    const sts = new STSClient(sdkConfig(cellar.endpoint));
    await assert.rejects(sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 'ab', DurationSeconds: 10 })), (e: any) => {
      assert.equal(e.name, 'ValidationError');
      assert.match(e.message, /1 validation error detected: Value '10' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900/);
      return true;
    });
  });

  it('the AWS CLI v2 gets the caller identity', () => {
    const r = awsCli(cellar.endpoint, ['sts', 'get-caller-identity']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json.Account, '000000000000');
  });
});
