/**
 * The habits of teams moving from LocalStack (issue 13, "Lifecycle habits"), through the real CLI:
 * given a data directory with init hooks at every stage (one that fails), `cellar start -d` returns once the server is
 * ready (its ready hook has created a table through `aws`), `cellar wait` and the LocalStack health and init paths
 * agree, `cellar aws` reaches the server, `cellar logs` shows the hooks' output and the failure, a reset leaves
 * nothing behind (no engine process, no engine files, no table, secret or key), and `cellar stop` runs the shutdown
 * hook and removes the PID file.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, ListTablesCommand, CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient, CreateSecretCommand, ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { KMSClient, CreateKeyCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { REPO_ROOT, freePort, removeDir, sdkConfig, tempDir, waitFor } from '../helpers/cellar.js';

const CLI = join(REPO_ROOT, 'bin', 'cellar.js');

function cellar(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 180_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, AWS_ENDPOINT_URL: '', CELLAR_ENDPOINT: '', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Live processes whose command line names `dir` (the engines of instances under it). */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/^State:\s+[ZX]/m.test(readFileSync(`/proc/${entry}/status`, 'utf8'))) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(dir) && !cmdline.includes(CLI)) found.push(`${entry} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function hook(dir: string, stage: string, name: string, body: string, executable = true): void {
  mkdirSync(join(dir, 'init', `${stage}.d`), { recursive: true });
  const path = join(dir, 'init', `${stage}.d`, name);
  writeFileSync(path, body);
  if (executable) chmodSync(path, 0o755);
}

describe('lifecycle: start -d, wait, hooks, aws, logs, reset, stop', { timeout: 10 * 60_000 }, () => {
  const dataDir = tempDir('cellar-lifecycle-');
  let port = 0;
  let endpoint = '';
  after(() => {
    cellar(['stop', '--data-dir', dataDir, '--timeout', '60']);
    removeDir(dataDir);
  });

  it('start -d returns once the ready hooks have run, and refuses a second start', async () => {
    port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    hook(dataDir, 'boot', '01-marker.sh', `#!/bin/sh\necho "boot sees $CELLAR_ENDPOINT" > "${dataDir}/boot-ran"\n`);
    hook(dataDir, 'boot', '02-fails.sh', 'echo "about to fail"; exit 7\n', false);
    hook(dataDir, 'boot', '03-not-a-script.txt', 'ignored\n', false);
    hook(
      dataDir,
      'ready',
      '10-table.sh',
      '#!/bin/sh\nset -e\naws --endpoint-url "$AWS_ENDPOINT_URL" dynamodb create-table --table-name from-hook --attribute-definitions AttributeName=k,AttributeType=S --key-schema AttributeName=k,KeyType=HASH --billing-mode PAY_PER_REQUEST > /dev/null\necho "table created by hook"\n',
    );
    hook(dataDir, 'shutdown', '90-marker.sh', `#!/bin/sh\necho "shutdown at $CELLAR_INIT_STAGE" > "${dataDir}/shutdown-ran"\n`);

    const started = cellar(['start', '-d', '--data-dir', dataDir, '--port', String(port)]);
    assert.equal(started.status, 0, started.stderr);
    assert.match(started.stderr, /in the background \(pid \d+\)/);
    const pid = Number(readFileSync(join(dataDir, 'cellar.pid'), 'utf8'));
    assert.ok(pid > 1 && existsSync(`/proc/${pid}`), 'the PID file names the live server');

    // Ready means the ready hook finished: its table exists as soon as start -d returns.
    const ddb = new DynamoDBClient(sdkConfig(endpoint));
    assert.deepEqual((await ddb.send(new ListTablesCommand({}))).TableNames, ['from-hook']);
    assert.equal(readFileSync(join(dataDir, 'boot-ran'), 'utf8').trim(), `boot sees ${endpoint}`);

    const again = cellar(['start', '-d', '--data-dir', dataDir, '--port', String(await freePort())]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, new RegExp(`already running \\(pid ${pid}`));
  });

  it('wait, status and the LocalStack paths report the server ready and the hooks as they went', async () => {
    const waited = cellar(['wait', '--endpoint', endpoint, '--timeout', '30']);
    assert.equal(waited.status, 0, waited.stderr);
    const status = cellar(['status', '--data-dir', dataDir, '--port', String(port)]);
    assert.equal(status.status, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).status, 'running');

    const health = (await (await fetch(`${endpoint}/_localstack/health`)).json()) as { services: Record<string, string> };
    for (const id of ['dynamodb', 'kms', 'secretsmanager', 'sts', 'rds']) assert.equal(health.services[id], 'running', id);
    const ready = (await (await fetch(`${endpoint}/_localstack/init/ready`)).json()) as { completed: boolean; scripts: Array<{ name: string; state: string }> };
    assert.deepEqual(ready, { completed: true, scripts: [{ stage: 'READY', name: '10-table.sh', state: 'SUCCESSFUL' }] });
    const init = (await (await fetch(`${endpoint}/_cellar/init/boot`)).json()) as { scripts: Array<{ name: string; state: string; exitCode?: number }> };
    assert.deepEqual(
      init.scripts.map((s) => [s.name, s.state, s.exitCode ?? null]),
      [
        ['01-marker.sh', 'successful', 0],
        ['02-fails.sh', 'failed', 7],
        ['03-not-a-script.txt', 'skipped', null],
      ],
    );

    const notServed = cellar(['wait', '--endpoint', `http://127.0.0.1:${await freePort()}`, '--timeout', '1']);
    assert.equal(notServed.status, 1);
    assert.match(notServed.stderr, /not ready within 1000 ms/);
  });

  it('cellar aws runs the AWS CLI against the server', () => {
    const r = cellar(['aws', 'dynamodb', 'list-tables', '--output', 'json'], { CELLAR_ENDPOINT: endpoint });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).TableNames, ['from-hook']);
    const failing = cellar(['aws', 'dynamodb', 'describe-table', '--table-name', 'absent'], { CELLAR_ENDPOINT: endpoint });
    const direct = spawnSync('aws', ['--endpoint-url', endpoint, 'dynamodb', 'describe-table', '--table-name', 'absent'], { env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1' } });
    assert.notEqual(failing.status, 0);
    assert.equal(failing.status, direct.status, 'the CLI\'s own exit status comes back');
    assert.match(failing.stderr, /ResourceNotFoundException/);
  });

  it('cellar logs shows the hooks\' output and the failed hook', () => {
    const r = cellar(['logs', '--data-dir', dataDir]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(lines.some((l) => l.msg === 'init hook output' && l.hook === '10-table.sh' && l.line === 'table created by hook'));
    assert.ok(lines.some((l) => l.msg === 'init hook failed' && l.hook === '02-fails.sh' && l.exitCode === 7));
    const tail = cellar(['logs', '--data-dir', dataDir, '--lines', '2']);
    assert.equal(tail.stdout.trim().split('\n').length, 2);
  });

  it('a reset of one service clears only it; a full reset leaves no engine process and no file behind', async () => {
    const ddb = new DynamoDBClient(sdkConfig(endpoint));
    const sm = new SecretsManagerClient(sdkConfig(endpoint));
    const kms = new KMSClient(sdkConfig(endpoint));
    const rds = new RDSClient(sdkConfig(endpoint));
    await sm.send(new CreateSecretCommand({ Name: 'kept', SecretString: 'v' }));
    const r1 = cellar(['reset', 'dynamodb'], { CELLAR_ENDPOINT: endpoint });
    assert.equal(r1.status, 0, r1.stderr);
    assert.deepEqual(JSON.parse(r1.stdout).reset.cleared, ['dynamodb']);
    assert.deepEqual((await ddb.send(new ListTablesCommand({}))).TableNames, []);
    assert.deepEqual((await sm.send(new ListSecretsCommand({}))).SecretList?.map((s) => s.Name), ['kept']);

    await ddb.send(new CreateTableCommand({ TableName: 'tbl', AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    await kms.send(new CreateKeyCommand({}));
    await rds.send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: 'resetme', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: 'Sup3r-secret!', Port: await freePort() }),
    );
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances?.[0]?.DBInstanceStatus === 'available', 'the instance to be available', 120_000, 250);
    const engineRoot = join(dataDir, 'rds');
    assert.ok(processesUnder(engineRoot).length > 0, 'the engine runs before the reset');

    const r2 = cellar(['reset'], { CELLAR_ENDPOINT: endpoint });
    assert.equal(r2.status, 0, r2.stderr);
    assert.deepEqual(processesUnder(engineRoot), [], 'no engine process is left');
    assert.deepEqual(existsSync(engineRoot) ? readdirSync(engineRoot) : [], [], 'no engine file is left');
    assert.deepEqual((await ddb.send(new ListTablesCommand({}))).TableNames, []);
    assert.deepEqual((await sm.send(new ListSecretsCommand({}))).SecretList, []);
    assert.deepEqual((await kms.send(new ListKeysCommand({}))).Keys, []);
    assert.deepEqual((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances, []);

    // The server goes on serving after a reset: new resources work at once.
    await ddb.send(new CreateTableCommand({ TableName: 'after', AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }));
    assert.deepEqual((await ddb.send(new ListTablesCommand({}))).TableNames, ['after']);

    const unknown = await fetch(`${endpoint}/_cellar/reset`, { method: 'POST', body: JSON.stringify({ services: ['nope'] }) });
    assert.equal(unknown.status, 400);
    assert.equal((await fetch(`${endpoint}/_cellar/reset`)).status, 405);
  });

  it('stop runs the shutdown hooks, stops the server and removes the PID file', () => {
    const pid = Number(readFileSync(join(dataDir, 'cellar.pid'), 'utf8'));
    const r = cellar(['stop', '--data-dir', dataDir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`cellar \\(pid ${pid}\\) stopped`));
    assert.equal(existsSync(`/proc/${pid}`) && !/^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), false);
    assert.equal(existsSync(join(dataDir, 'cellar.pid')), false);
    assert.equal(readFileSync(join(dataDir, 'shutdown-ran'), 'utf8').trim(), 'shutdown at shutdown');
    const again = cellar(['stop', '--data-dir', dataDir]);
    assert.equal(again.status, 0);
    assert.match(again.stderr, /not running/);
  });
});
