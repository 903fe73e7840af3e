import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SecretsManagerClient, CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, PutSecretValueCommand, RotateSecretCommand, UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const FUNCTION_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rotate-over-http';

/**
 * A rotation function served over HTTP (the other way, besides a local executable, that Cellar's config
 * lets a Lambda ARN resolve to): it receives each step's Lambda event as a JSON POST and does what a
 * rotation Lambda does, calling back into Secrets Manager with the SDK.
 */
describe('Secrets Manager rotation through an HTTP rotation function', () => {
  let cellar: CellarProcess;
  let server: Server;
  let sm: SecretsManagerClient;
  let dataDir: string;
  const steps: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        try {
          const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Step: string; SecretId: string; ClientRequestToken: string };
          steps.push(event.Step);
          await runStep(event);
          res.writeHead(200).end('{}');
        } catch (e) {
          res.writeHead(500).end(String(e));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    dataDir = tempDir();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rotate`;
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rotationFunctions: { [FUNCTION_ARN]: { url, timeoutMs: 20_000 } } }));
    cellar = await startCellar({ dataDir });
    sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    await new Promise((r) => server.close(r));
    removeDir(dataDir);
  });

  async function runStep(event: { Step: string; SecretId: string; ClientRequestToken: string }): Promise<void> {
    const { Step, SecretId, ClientRequestToken } = event;
    if (Step === 'createSecret') {
      const current = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId, VersionStage: 'AWSCURRENT' }))).SecretString!);
      await sm.send(new PutSecretValueCommand({ SecretId, ClientRequestToken, SecretString: JSON.stringify({ ...current, password: `rotated-${ClientRequestToken.slice(0, 8)}` }), VersionStages: ['AWSPENDING'] }));
    } else if (Step === 'testSecret') {
      const pending = await sm.send(new GetSecretValueCommand({ SecretId, VersionId: ClientRequestToken, VersionStage: 'AWSPENDING' }));
      if (!pending.SecretString) throw new Error('no pending value');
    } else if (Step === 'finishSecret') {
      const d = await sm.send(new DescribeSecretCommand({ SecretId }));
      const current = Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: ClientRequestToken, RemoveFromVersionId: current }));
    }
  }

  it('runs the four steps as JSON POSTs, in order, and the new value becomes AWSCURRENT', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'http/rot', SecretString: JSON.stringify({ username: 'svc', password: 'first' }) }));
    const rotated = await sm.send(new RotateSecretCommand({ SecretId: 'http/rot', RotationLambdaARN: FUNCTION_ARN, RotationRules: { AutomaticallyAfterDays: 30 } }));
    await waitFor(async () => {
      const d = await sm.send(new DescribeSecretCommand({ SecretId: 'http/rot' }));
      return d.VersionIdsToStages?.[rotated.VersionId!]?.includes('AWSCURRENT');
    }, 'the HTTP rotation to finish', 20_000);
    assert.deepEqual(steps, ['createSecret', 'setSecret', 'testSecret', 'finishSecret']);
    const value = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: 'http/rot' }))).SecretString!);
    assert.equal(value.password, `rotated-${rotated.VersionId!.slice(0, 8)}`);
    const previous = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: 'http/rot', VersionStage: 'AWSPREVIOUS' }))).SecretString!);
    assert.equal(previous.password, 'first');
  });
});
