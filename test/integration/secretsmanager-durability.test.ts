/**
 * Secrets Manager state on disk: scheduled deletion that really happens when the window ends,
 * persistence across a restart, acknowledged writes surviving kill -9, encryption at rest (a byte
 * search of the whole data directory finds no secret value), and a disabled KMS key refusing reads.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { CreateKeyCommand, DisableKeyCommand, EnableKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { advanceClock, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

const DAY_MS = 86_400_000;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

describe('Secrets Manager durability and encryption at rest', () => {
  const started: CellarProcess[] = [];
  after(async () => {
    for (const c of started) await c.stop();
    for (const c of started) removeDir(c.dataDir);
  });

  it('a scheduled deletion really happens when its recovery window ends', async () => {
    const cellar = await startCellar();
    started.push(cellar);
    const sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    await sm.send(new CreateSecretCommand({ Name: 'short-lived', SecretString: 'v' }));
    await sm.send(new CreateSecretCommand({ Name: 'long-lived', SecretString: 'v' }));
    await sm.send(new DeleteSecretCommand({ SecretId: 'short-lived', RecoveryWindowInDays: 7 }));
    await sm.send(new DeleteSecretCommand({ SecretId: 'long-lived', RecoveryWindowInDays: 30 }));
    await advanceClock(cellar.endpoint, 6 * DAY_MS);
    await new Promise((r) => setTimeout(r, 1200)); // two scheduler ticks
    assert.ok((await sm.send(new DescribeSecretCommand({ SecretId: 'short-lived' }))).DeletedDate, 'still recoverable inside the window');
    await advanceClock(cellar.endpoint, 1 * DAY_MS + 60_000);
    await waitFor(async () => {
      try {
        await sm.send(new DescribeSecretCommand({ SecretId: 'short-lived' }));
        return false;
      } catch (e: any) {
        return e.name === 'ResourceNotFoundException';
      }
    }, 'the deletion to happen');
    assert.ok((await sm.send(new DescribeSecretCommand({ SecretId: 'long-lived' }))).DeletedDate, 'the 30-day one is still waiting');
    assert.ok(cellar.output.some((l) => l.includes('"secret deleted"') && l.includes('short-lived')));
    // The name is free again.
    await sm.send(new CreateSecretCommand({ Name: 'short-lived', SecretString: 'new' }));
  });

  it('state survives a restart, and acknowledged writes survive kill -9', async () => {
    let cellar = await startCellar();
    started.push(cellar);
    let sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    const created = await sm.send(new CreateSecretCommand({ Name: 'durable', SecretString: 'first', Tags: [{ Key: 'k', Value: 'v' }] }));
    const second = await sm.send(new PutSecretValueCommand({ SecretId: 'durable', SecretString: 'second' }));
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'durable', VersionStage: 'CUSTOM', MoveToVersionId: created.VersionId }));
    cellar = await cellar.restart();
    started.push(cellar);
    sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'durable' }))).SecretString, 'second');
    const d = await sm.send(new DescribeSecretCommand({ SecretId: 'durable' }));
    assert.equal(d.ARN, created.ARN);
    assert.deepEqual(d.VersionIdsToStages, { [created.VersionId!]: ['AWSPREVIOUS', 'CUSTOM'], [second.VersionId!]: ['AWSCURRENT'] });
    // Write, then kill -9 at once: every acknowledged write is there after the restart.
    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) {
      const out = await sm.send(new PutSecretValueCommand({ SecretId: 'durable', SecretString: `burst-${i}` }));
      acknowledged.push(out.VersionId!);
    }
    await sm.send(new CreateSecretCommand({ Name: 'durable-2', SecretString: 'right-before-kill' }));
    await cellar.kill9();
    cellar = await cellar.restart();
    started.push(cellar);
    sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'durable' }))).SecretString, 'burst-19');
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'durable-2' }))).SecretString, 'right-before-kill');
    for (const [i, id] of acknowledged.entries()) {
      assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'durable', VersionId: id }))).SecretString, `burst-${i}`);
    }
  });

  it('no secret value is anywhere in the data directory (database, WAL, shm), in any encoding', async () => {
    const marker = 'Zebra-Quokka-7731-UNIQUE-SECRET-VALUE';
    const binaryMarker = Buffer.from('BINARY-MARKER-0xC0FFEE-cellar-test', 'utf8');
    const cellar = await startCellar();
    started.push(cellar);
    const sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    await sm.send(new CreateSecretCommand({ Name: 'needle-1', SecretString: marker }));
    await sm.send(new CreateSecretCommand({ Name: 'needle-2', SecretString: JSON.stringify({ password: marker }) }));
    await sm.send(new CreateSecretCommand({ Name: 'needle-3', SecretBinary: binaryMarker }));
    await sm.send(new PutSecretValueCommand({ SecretId: 'needle-1', SecretString: `${marker}-v2` }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'needle-1' }))).SecretString, `${marker}-v2`);
    // Kill -9 leaves the WAL and shm files as they are, unmerged.
    await cellar.kill9();
    const needles = [Buffer.from(marker, 'utf8'), Buffer.from(marker, 'utf16le'), Buffer.from(Buffer.from(marker).toString('base64').slice(0, 24)), binaryMarker, Buffer.from(binaryMarker.toString('base64').slice(0, 24))];
    const files = filesUnder(cellar.dataDir!);
    assert.ok(files.some((f) => f.endsWith('state.db')), `the store is in ${files.join(', ')}`);
    let scanned = 0;
    for (const file of files) {
      const bytes = readFileSync(file);
      scanned += bytes.length;
      for (const needle of needles) assert.equal(bytes.indexOf(needle), -1, `${file} contains a secret value`);
    }
    assert.ok(scanned > 0);
    // The secret is still readable after the restart: it was encrypted, not lost.
    const again = await cellar.restart();
    started.push(again);
    const sm2 = new SecretsManagerClient(sdkConfig(again.endpoint));
    assert.equal((await sm2.send(new GetSecretValueCommand({ SecretId: 'needle-2' }))).SecretString, JSON.stringify({ password: marker }));
  });

  it('a secret under a disabled KMS key cannot be read: DecryptionFailure, as AWS answers', async () => {
    const cellar = await startCellar();
    started.push(cellar);
    const sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
    const kms = new KMSClient(sdkConfig(cellar.endpoint));
    const key = (await kms.send(new CreateKeyCommand({ Description: 'for secrets' }))).KeyMetadata!;
    await sm.send(new CreateSecretCommand({ Name: 'cmk-secret', SecretString: 'under-cmk', KmsKeyId: key.Arn }));
    assert.equal((await sm.send(new DescribeSecretCommand({ SecretId: 'cmk-secret' }))).KmsKeyId, key.Arn);
    await kms.send(new DisableKeyCommand({ KeyId: key.KeyId }));
    await assert.rejects(sm.send(new GetSecretValueCommand({ SecretId: 'cmk-secret' })), (e: any) => {
      assert.equal(e.name, 'DecryptionFailure');
      assert.match(e.message, new RegExp(`^Secrets Manager can't decrypt the secret value: ${key.Arn} is disabled\\. \\(Service: AWSKMS; Status Code: 400; Error Code: DisabledException;`));
      return true;
    });
    await assert.rejects(sm.send(new PutSecretValueCommand({ SecretId: 'cmk-secret', SecretString: 'x' })), (e: any) => e.name === 'EncryptionFailure');
    await kms.send(new EnableKeyCommand({ KeyId: key.KeyId }));
    assert.equal((await sm.send(new GetSecretValueCommand({ SecretId: 'cmk-secret' }))).SecretString, 'under-cmk');
  });
});
