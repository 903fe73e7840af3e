#!/usr/bin/env node
/**
 * A Secrets Manager rotation function for Cellar, written as a real rotation Lambda is (the four
 * steps of AWS's SecretsManagerRotationTemplate), run as a local executable instead of a Lambda.
 *
 * Cellar runs it once per step as `rotate-password.mjs [options] <Step>`, with the Lambda event
 * `{Step, SecretId, ClientRequestToken, RotationToken}` as JSON on stdin and AWS_ENDPOINT_URL,
 * AWS_REGION and temporary credentials in the environment, so the AWS SDK talks to Cellar.
 * Exit status 0 means the step succeeded; anything else fails the rotation at that step.
 *
 * The secret is a JSON object; rotation replaces its "password" member with a new random password.
 * `--fail-at=<Step>` makes that step fail, to show (and test) how a failed rotation looks;
 * with `--unless-file=<path>` it fails only while that file does not exist.
 *
 * Register it in <data-dir>/cellar.json:
 *   { "rotationFunctions": { "arn:aws:lambda:us-east-1:000000000000:function:rotate-password":
 *       { "command": ["node", "/path/to/examples/rotation/rotate-password.mjs"], "timeoutMs": 30000 } } }
 */
import { DescribeSecretCommand, GetRandomPasswordCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';

import { existsSync } from 'node:fs';

const option = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const failAt = option('fail-at');
const unlessFile = option('unless-file');

async function readEvent() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function main() {
  const event = await readEvent();
  const { Step: step, SecretId: arn, ClientRequestToken: token, RotationToken: rotationToken } = event;
  if (failAt === step && !(unlessFile && existsSync(unlessFile))) throw new Error(`failing ${step} on purpose (--fail-at)`);
  const sm = new SecretsManagerClient({ endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION, maxAttempts: 2 });

  // Make sure the version is staged correctly, as the AWS template does.
  const metadata = await sm.send(new DescribeSecretCommand({ SecretId: arn }));
  if (!metadata.RotationEnabled) throw new Error(`Secret ${arn} is not enabled for rotation`);
  const versions = metadata.VersionIdsToStages ?? {};
  if (!(token in versions)) throw new Error(`Secret version ${token} has no stage for rotation of secret ${arn}.`);
  if (versions[token].includes('AWSCURRENT')) return; // already current: nothing to do
  if (!versions[token].includes('AWSPENDING')) throw new Error(`Secret version ${token} not set as AWSPENDING for rotation of secret ${arn}.`);

  switch (step) {
    case 'createSecret': {
      const current = await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }));
      try {
        await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }));
      } catch (e) {
        if (e.name !== 'ResourceNotFoundException') throw e;
        const { RandomPassword } = await sm.send(new GetRandomPasswordCommand({ ExcludeCharacters: '/@"\'\\' }));
        const value = { ...JSON.parse(current.SecretString ?? '{}'), password: RandomPassword };
        await sm.send(new PutSecretValueCommand({ SecretId: arn, ClientRequestToken: token, SecretString: JSON.stringify(value), VersionStages: ['AWSPENDING'], RotationToken: rotationToken }));
      }
      return;
    }
    case 'setSecret':
      // A real function sets the new password on the database or service here.
      return;
    case 'testSecret':
      // A real function logs in with the pending password here. RotateImmediately=false runs this
      // step alone against an empty AWSPENDING version, to test the configuration: then the
      // current secret is what must be readable.
      try {
        await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionId: token, VersionStage: 'AWSPENDING' }));
      } catch (e) {
        if (e.name !== 'ResourceNotFoundException') throw e;
        await sm.send(new GetSecretValueCommand({ SecretId: arn, VersionStage: 'AWSCURRENT' }));
      }
      return;
    case 'finishSecret': {
      const currentVersion = Object.entries(versions).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: arn, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: currentVersion }));
      return;
    }
    default:
      throw new Error(`Invalid step parameter ${step}`);
  }
}

main().catch((e) => {
  // Never print secret values: the error's name and message only.
  process.stderr.write(`${e.name ?? 'Error'}: ${e.message}\n`);
  process.exit(1);
});
