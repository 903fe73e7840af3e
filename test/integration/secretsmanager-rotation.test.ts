/**
 * Secrets Manager rotation against a real Cellar: the rotation function is a real local executable
 * (examples/rotation/rotate-password.mjs, which uses the AWS SDK to call back into Cellar) registered
 * in the data directory's cellar.json. Covers immediate rotation, a failing step and its recovery,
 * RotateImmediately=false, a scheduled rotation firing when the clock moves, and CancelRotateSecret.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancelRotateSecretCommand, CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, RotateSecretCommand, SecretsManagerClient, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { advanceClock, awsCli, REPO_ROOT, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const SCRIPT = join(REPO_ROOT, 'examples', 'rotation', 'rotate-password.mjs');
const GOOD_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rotate-password';
const FAILING_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rotate-fails-at-set';
const DAY_MS = 86_400_000;

function stagesOf(d: { VersionIdsToStages?: Record<string, string[]> }, stage: string): string | undefined {
  return Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes(stage))?.[0];
}

describe('Secrets Manager rotation', () => {
  let cellar: CellarProcess;
  let sm: SecretsManagerClient;
  let dataDir: string;
  let recoveredMarker: string;
  before(async () => {
    dataDir = tempDir();
    recoveredMarker = join(dataDir, 'function-fixed');
    writeFileSync(
      join(dataDir, 'cellar.json'),
      JSON.stringify({
        rotationFunctions: {
          [GOOD_ARN]: { command: [process.execPath, SCRIPT], timeoutMs: 30_000 },
          // Registered by bare function name: the ARN's name part finds it.
          'rotate-fails-at-set': { command: [process.execPath, SCRIPT, '--fail-at=setSecret', `--unless-file=${recoveredMarker}`], timeoutMs: 30_000 },
        },
      }),
    );
    cellar = await startCellar({ dataDir });
    sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(dataDir);
  });

  it('an unknown rotation function is refused as AWS refuses it, and nothing changes', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'rot/unknown', SecretString: '{"password":"a"}' }));
    await assert.rejects(sm.send(new RotateSecretCommand({ SecretId: 'rot/unknown', RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:nope' })), (e: any) => {
      assert.equal(e.name, 'AccessDeniedException');
      assert.equal(e.message, 'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.');
      return true;
    });
    await assert.rejects(sm.send(new RotateSecretCommand({ SecretId: 'rot/unknown' })), (e: any) => e.name === 'InvalidRequestException');
    const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/unknown' }));
    assert.equal(d.RotationEnabled, undefined);
    assert.equal(Object.keys(d.VersionIdsToStages!).length, 1);
  });

  it('RotateSecret runs the four steps through a local executable that calls back with the SDK', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'rot/db', SecretString: JSON.stringify({ username: 'app', password: 'initial' }) }));
    const started = Date.now();
    const rotated = await sm.send(new RotateSecretCommand({ SecretId: 'rot/db', RotationLambdaARN: GOOD_ARN, RotationRules: { AutomaticallyAfterDays: 7 } }));
    assert.ok(rotated.VersionId && rotated.VersionId !== created.VersionId);
    const d = (await waitFor(async () => {
      const out = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/db' }));
      return stagesOf(out, 'AWSCURRENT') === rotated.VersionId && out.LastRotatedDate ? out : undefined;
    }, 'the rotation to finish', 30_000))!;
    assert.equal(d.RotationEnabled, true);
    assert.equal(d.RotationLambdaARN, GOOD_ARN);
    assert.deepEqual(d.RotationRules, { AutomaticallyAfterDays: 7 });
    assert.ok(d.LastRotatedDate!.getTime() >= started - 1000);
    // Next window: seven days on, reported as the end of that UTC day.
    const expectedDay = Math.floor((d.LastRotatedDate!.getTime() + 7 * DAY_MS) / DAY_MS) * DAY_MS;
    assert.equal(d.NextRotationDate!.getTime(), expectedDay + DAY_MS - 1000);
    assert.equal(stagesOf(d, 'AWSPREVIOUS'), created.VersionId);
    const value = JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: 'rot/db' }))).SecretString!);
    assert.equal(value.username, 'app');
    assert.notEqual(value.password, 'initial');
    assert.equal(value.password.length, 32);
    assert.ok(cellar.output.some((l) => l.includes('"rotation succeeded"')));
  });

  it('a failing step leaves AWSCURRENT alone, keeps AWSPENDING, is logged, and the reattempt succeeds once the function is fixed', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'rot/failing', SecretString: JSON.stringify({ password: 'keep-me' }) }));
    const first = await sm.send(new RotateSecretCommand({ SecretId: 'rot/failing', RotationLambdaARN: FAILING_ARN, RotationRules: { ScheduleExpression: 'rate(10 days)' } }));
    await waitFor(() => cellar.output.some((l) => l.includes('"rotation failed"') && l.includes(first.VersionId!) && l.includes('setSecret')), 'the failure log line', 30_000);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/failing' }));
    assert.equal(stagesOf(d, 'AWSCURRENT'), created.VersionId);
    assert.equal(stagesOf(d, 'AWSPENDING'), first.VersionId);
    assert.equal(d.RotationEnabled, true);
    assert.equal(d.LastRotatedDate, undefined);
    assert.equal(JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: 'rot/failing' }))).SecretString!).password, 'keep-me');
    // createSecret had run: the pending version holds the new value.
    assert.notEqual(JSON.parse((await sm.send(new GetSecretValueCommand({ SecretId: 'rot/failing', VersionStage: 'AWSPENDING' }))).SecretString!).password, 'keep-me');
    // The function is fixed; RotateSecret refuses as AWS does and reattempts the unfinished rotation.
    writeFileSync(recoveredMarker, 'fixed');
    await assert.rejects(sm.send(new RotateSecretCommand({ SecretId: 'rot/failing' })), (e: any) => e.name === 'InvalidRequestException' && e.message === "A previous rotation isn't complete. That rotation will be reattempted.");
    const done = (await waitFor(async () => {
      const out = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/failing' }));
      return stagesOf(out, 'AWSCURRENT') === first.VersionId && out.LastRotatedDate ? out : undefined;
    }, 'the reattempted rotation', 30_000))!;
    assert.equal(stagesOf(done, 'AWSPREVIOUS'), created.VersionId);
    assert.ok(done.LastRotatedDate);
  });

  it('a function registered by bare name rotates; a stray AWSPENDING cleared by hand lets the next rotation start', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'rot/manual-recovery', SecretString: '{"password":"p"}' }));
    // The marker file exists now (previous test), so this function no longer fails.
    const byName = await sm.send(new RotateSecretCommand({ SecretId: 'rot/manual-recovery', RotationLambdaARN: 'rotate-fails-at-set' }));
    await waitFor(async () => {
      const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/manual-recovery' }));
      return stagesOf(d, 'AWSCURRENT') === byName.VersionId && d.LastRotatedDate;
    }, 'rotation by bare function name', 30_000);
    // A stray AWSPENDING on another version blocks rotation until it is removed, as the troubleshooting guide says.
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'rot/manual-recovery', VersionStage: 'AWSPENDING', MoveToVersionId: created.VersionId, RemoveFromVersionId: byName.VersionId }));
    await sm.send(new UpdateSecretVersionStageCommand({ SecretId: 'rot/manual-recovery', VersionStage: 'AWSPENDING', RemoveFromVersionId: created.VersionId }));
    const next = await sm.send(new RotateSecretCommand({ SecretId: 'rot/manual-recovery', RotationLambdaARN: GOOD_ARN }));
    await waitFor(async () => stagesOf(await sm.send(new DescribeSecretCommand({ SecretId: 'rot/manual-recovery' })), 'AWSCURRENT') === next.VersionId, 'the new rotation', 30_000);
  });

  it('RotateImmediately=false only tests the function and schedules the first rotation', async () => {
    const created = await sm.send(new CreateSecretCommand({ Name: 'rot/later', SecretString: '{"password":"p"}' }));
    const r = await sm.send(new RotateSecretCommand({ SecretId: 'rot/later', RotationLambdaARN: GOOD_ARN, RotationRules: { ScheduleExpression: 'rate(4 hours)' }, RotateImmediately: false }));
    await waitFor(async () => {
      const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/later' }));
      return !(r.VersionId! in (d.VersionIdsToStages ?? {})) && cellar.output.some((l) => l.includes('"rotation succeeded"') && l.includes(r.VersionId!));
    }, 'the test-only rotation', 30_000);
    const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/later' }));
    assert.deepEqual(d.VersionIdsToStages, { [created.VersionId!]: ['AWSCURRENT'] });
    assert.equal(d.RotationEnabled, true);
    assert.equal(d.LastRotatedDate, undefined);
    const hoursAhead = (d.NextRotationDate!.getTime() - Date.now()) / 3_600_000;
    assert.ok(hoursAhead > 3.9 && hoursAhead <= 4.01, `next rotation in ${hoursAhead} h`);
  });

  it('a scheduled rotation fires when its window opens (server clock moved forward)', async () => {
    const before = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/later' }));
    const current = stagesOf(before, 'AWSCURRENT');
    await advanceClock(cellar.endpoint, 5 * 3_600_000);
    const after = (await waitFor(async () => {
      const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/later' }));
      const now = stagesOf(d, 'AWSCURRENT');
      return now && now !== current && d.LastRotatedDate ? d : undefined;
    }, 'the scheduled rotation', 30_000))!;
    assert.equal(stagesOf(after, 'AWSPREVIOUS'), current);
    // The next window counts from this rotation.
    assert.ok(after.NextRotationDate!.getTime() > after.LastRotatedDate!.getTime() + 3.9 * 3_600_000);
  });

  it('CancelRotateSecret turns rotation off; the AWS CLI can turn it back on', async () => {
    const c = await sm.send(new CancelRotateSecretCommand({ SecretId: 'rot/later' }));
    assert.equal(c.Name, 'rot/later');
    const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/later' }));
    assert.equal(d.RotationEnabled, false);
    assert.equal(d.NextRotationDate, undefined);
    assert.equal(d.RotationLambdaARN, GOOD_ARN);
    await assert.rejects(sm.send(new CancelRotateSecretCommand({ SecretId: 'rot/unknown' })), (e: any) => e.name === 'InvalidRequestException');
    const cli = awsCli(cellar.endpoint, ['secretsmanager', 'rotate-secret', '--secret-id', 'rot/later', '--rotation-rules', '{"ScheduleExpression":"cron(0 8 ? * MON *)","Duration":"2h"}']);
    assert.equal(cli.status, 0, cli.stderr);
    const again = (await waitFor(async () => {
      const out = await sm.send(new DescribeSecretCommand({ SecretId: 'rot/later' }));
      return stagesOf(out, 'AWSCURRENT') === cli.json.VersionId && out.NextRotationDate ? out : undefined;
    }, 'the CLI-started rotation', 30_000))!;
    assert.equal(again.RotationEnabled, true);
    assert.equal(again.NextRotationDate!.getUTCDay(), 1, 'next Monday');
    assert.equal(again.NextRotationDate!.getUTCHours(), 8);
    const bad = awsCli(cellar.endpoint, ['secretsmanager', 'rotate-secret', '--secret-id', 'rot/later', '--rotation-rules', '{"AutomaticallyAfterDays":3,"ScheduleExpression":"rate(3 days)"}']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /InvalidParameterException/);
  });
});
