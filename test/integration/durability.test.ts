import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { KMSClient, CreateKeyCommand, CreateAliasCommand, DescribeKeyCommand, EncryptCommand, DecryptCommand } from '@aws-sdk/client-kms';
import { STSClient, AssumeRoleCommand, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { REPO_ROOT, removeDir, sdkConfig, startCellar, tempDir } from '../helpers/cellar.js';

describe('durability and restart', () => {
  it('every acknowledged write survives kill -9, and a restart brings everything back', async () => {
    let cellar = await startCellar();
    try {
      const kms = new KMSClient(sdkConfig(cellar.endpoint));
      const acknowledged: Array<{ keyId: string; alias: string; blob: Uint8Array }> = [];
      for (let i = 0; i < 40; i++) {
        const key = await kms.send(new CreateKeyCommand({ Description: `k${i}` }));
        const keyId = key.KeyMetadata!.KeyId!;
        await kms.send(new CreateAliasCommand({ AliasName: `alias/k${i}`, TargetKeyId: keyId }));
        const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from(`value ${i}`) }));
        acknowledged.push({ keyId, alias: `alias/k${i}`, blob: enc.CiphertextBlob! });
      }
      // AssumeRole credentials are state too.
      const role = await new STSClient(sdkConfig(cellar.endpoint)).send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 'durable' }));
      await cellar.kill9();
      cellar = await startCellar({ dataDir: cellar.dataDir! });
      const kms2 = new KMSClient(sdkConfig(cellar.endpoint));
      for (const a of acknowledged) {
        const d = await kms2.send(new DescribeKeyCommand({ KeyId: a.alias }));
        assert.equal(d.KeyMetadata!.KeyId, a.keyId);
        const dec = await kms2.send(new DecryptCommand({ CiphertextBlob: a.blob }));
        assert.match(Buffer.from(dec.Plaintext!).toString(), /^value \d+$/);
      }
      const c = role.Credentials!;
      const who = await new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } as any)).send(new GetCallerIdentityCommand({}));
      assert.equal(who.Account, '123456789012');
      // A graceful restart too.
      cellar = await cellar.restart();
      const again = await new KMSClient(sdkConfig(cellar.endpoint)).send(new DescribeKeyCommand({ KeyId: 'alias/k39' }));
      assert.equal(again.KeyMetadata!.KeyState, 'Enabled');
    } finally {
      await cellar.stop();
      removeDir(cellar.dataDir);
    }
  });

  it('the root key file is 0600, and neither key material nor temporary secrets are on disk in plaintext', async () => {
    const cellar = await startCellar();
    try {
      const role = await new STSClient(sdkConfig(cellar.endpoint)).send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/r', RoleSessionName: 'disk' }));
      await cellar.stop();
      assert.equal(statSync(join(cellar.dataDir!, 'root.key')).mode & 0o777, 0o600);
      const secret = Buffer.from(role.Credentials!.SecretAccessKey!);
      const token = Buffer.from(role.Credentials!.SessionToken!);
      for (const f of readdirSync(cellar.dataDir!, { recursive: true }) as string[]) {
        const path = join(cellar.dataDir!, f);
        if (!statSync(path).isFile()) continue;
        const bytes = readFileSync(path);
        assert.ok(!bytes.includes(secret), `secret access key found in ${f}`);
        assert.ok(!bytes.includes(token), `session token found in ${f}`);
      }
    } finally {
      removeDir(cellar.dataDir);
    }
  });

  it('--in-memory keeps nothing', async () => {
    let cellar = await startCellar({ inMemory: true });
    const kms = new KMSClient(sdkConfig(cellar.endpoint));
    const key = await kms.send(new CreateKeyCommand({}));
    await cellar.stop();
    cellar = await startCellar({ inMemory: true });
    try {
      await assert.rejects(new KMSClient(sdkConfig(cellar.endpoint)).send(new DescribeKeyCommand({ KeyId: key.KeyMetadata!.KeyId! })), { name: 'NotFoundException' });
    } finally {
      await cellar.stop();
    }
  });
});

describe('the cellar command', () => {
  const bin = join(REPO_ROOT, 'bin', 'cellar.js');
  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });

  it('--version and --help', () => {
    const v = run(['--version']);
    assert.equal(v.status, 0);
    assert.match(v.stdout.trim(), /^\d+\.\d+\.\d+$/);
    const h = run(['--help']);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /cellar start \[-d\] \[--port 4566\]/);
    for (const command of ['stop', 'wait', 'logs', 'status', 'reset', 'aws']) assert.match(h.stdout, new RegExp(`cellar ${command}\\b`));
  });

  it('start prints the endpoint and data directory; status reads the health of a running Cellar', async () => {
    const cellar = await startCellar();
    try {
      assert.ok(cellar.output.some((l) => l.includes(`Data directory: ${cellar.dataDir}`)));
      const s = run(['status', '--endpoint', cellar.endpoint]);
      assert.equal(s.status, 0, s.stderr);
      assert.equal(JSON.parse(s.stdout).status, 'running');
    } finally {
      await cellar.stop();
      removeDir(cellar.dataDir);
    }
    const down = run(['status', '--endpoint', cellar.endpoint]);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /not answering/);
  });

  it('a port already in use and an unusable data directory are clear errors', async () => {
    const cellar = await startCellar();
    try {
      const taken = run(['start', '--port', String(cellar.port), '--in-memory']);
      assert.equal(taken.status, 1);
      assert.match(taken.stderr, new RegExp(`port ${cellar.port} on 127.0.0.1 is already in use`));
    } finally {
      await cellar.stop();
      removeDir(cellar.dataDir);
    }
    const dir = tempDir();
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const bad = run(['start', '--port', '0', '--data-dir', file]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /data directory .*not-a-dir is unusable/);
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      const r = run(['start', '--port', '0', '--data-dir', ro]);
      assert.equal(r.status, 1);
    }
    removeDir(dir);
  });
});
