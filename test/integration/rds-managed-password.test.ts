/**
 * ManageMasterUserPassword on a real PostgreSQL instance, through @aws-sdk/client-rds, client-secrets-manager and
 * the AWS CLI: RDS generates the password and keeps it in a secret `rds!db-<uuid>` owned by rds; applications that
 * read the secret connect; RotateSecret, RotateMasterUserPassword and the 7-day schedule change the real login (old
 * refused, new works); management is switched off and on again on a running instance; the secret goes with the
 * instance; no password appears in plaintext in Cellar's files or logs. One instance is shared by the whole file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  RDSClient,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DeleteDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  ModifyDBInstanceCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { DescribeSecretCommand, GetSecretValueCommand, RotateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { advanceClock, awsCli, freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const ID = 'vault-pg';
const CREATE_TIMEOUT_MS = 60_000;
const ROTATION_TIMEOUT_MS = 20_000;


describe('RDS managed master user password (Secrets Manager)', () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let rds: RDSClient;
  let sm: SecretsManagerClient;
  /** Every password the test saw, to search Cellar's files and logs for afterwards. */
  const seen = new Set<string>();

  const describeOne = async (): Promise<DBInstance> => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: ID }))).DBInstances![0]!;
  const waitStatus = async (status: string, timeoutMs = CREATE_TIMEOUT_MS): Promise<DBInstance> =>
    (await waitFor(async () => {
      const i = await describeOne();
      return i.DBInstanceStatus === status ? i : undefined;
    }, `${ID} to be ${status}`, timeoutMs, 100))!;
  /** What an application does: read the secret, then connect with what it holds. */
  const credentials = async (secretArn: string): Promise<{ username: string; password: string; versionId: string }> => {
    const v = await sm.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const parsed = JSON.parse(v.SecretString!) as { username: string; password: string };
    seen.add(parsed.password);
    return { ...parsed, versionId: v.VersionId! };
  };
  const login = async (i: DBInstance, user: string, password: string): Promise<void> => {
    const c = new pg.Client({ host: i.Endpoint!.Address, port: i.Endpoint!.Port, user, password, database: 'postgres', connectionTimeoutMillis: 5000, ssl: { ca: await rdsCaBundle(cellar.endpoint) } });
    c.on('error', () => undefined);
    await c.connect();
    try {
      await c.query('SELECT 1');
    } finally {
      await c.end();
    }
  };
  /** Waits for AWSCURRENT to move off `versionId` (a rotation finished). */
  const rotated = async (secretArn: string, versionId: string) =>
    waitFor(async () => {
      const c = await credentials(secretArn);
      return c.versionId !== versionId ? c : undefined;
    }, 'the rotation to finish', ROTATION_TIMEOUT_MS, 100);

  before(async () => {
    dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { healthIntervalMs: 250 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    sm = new SecretsManagerClient(sdkConfig(cellar.endpoint));
  });

  after(async () => {
    // The instance's engine goes with Cellar (stopAll) even if a test failed before the delete.
    await cellar?.stop();
    removeDir(dataDir);
  });

  it('refuses a password or a secret key that contradicts ManageMasterUserPassword, creating nothing', async () => {
    const base = { DBInstanceIdentifier: ID, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master' };
    await assert.rejects(rds.send(new CreateDBInstanceCommand({ ...base, ManageMasterUserPassword: true, MasterUserPassword: 'Sup3r-secret!' })), (e: any) => e.name === 'InvalidParameterCombination');
    await assert.rejects(rds.send(new CreateDBInstanceCommand({ ...base, MasterUserPassword: 'Sup3r-secret!', MasterUserSecretKmsKeyId: 'alias/aws/secretsmanager' })), (e: any) => e.name === 'InvalidParameterCombination');
    await assert.rejects(rds.send(new CreateDBInstanceCommand({ ...base, ManageMasterUserPassword: true, MasterUserSecretKmsKeyId: 'alias/no-such-key' })), (e: any) => e.name === 'KMSKeyNotAccessibleFault');
    assert.equal((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.length, 0);
    const r = awsCli(cellar.endpoint, ['secretsmanager', 'list-secrets']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json.SecretList, [], 'a refused create leaves no secret');
  });

  it('creates the instance with a generated password kept in a secret owned by rds', async () => {
    const created = await rds.send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: ID, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', ManageMasterUserPassword: true, Port: await freePort() }),
    );
    const s = created.DBInstance!.MasterUserSecret!;
    assert.equal(s.SecretStatus, 'creating');
    assert.match(s.SecretArn!, /^arn:aws:secretsmanager:us-east-1:000000000000:secret:rds!db-[0-9a-f-]{36}-[A-Za-z0-9]{6}$/);
    assert.match(s.KmsKeyId!, /^arn:aws:kms:us-east-1:000000000000:key\/[0-9a-f-]{36}$/);
    const i = await waitStatus('available');
    assert.equal(i.MasterUserSecret!.SecretStatus, 'active');
    assert.equal(i.MasterUserSecret!.SecretArn, s.SecretArn);

    const d = await sm.send(new DescribeSecretCommand({ SecretId: s.SecretArn }));
    assert.equal(d.OwningService, 'rds');
    assert.equal(d.Description, `Secret associated with primary RDS DB instance: ${i.DBInstanceArn}`);
    assert.deepEqual(d.Tags, [
      { Key: 'aws:rds:primaryDBInstanceArn', Value: i.DBInstanceArn },
      { Key: 'aws:secretsmanager:owningService', Value: 'rds' },
    ]);
    assert.equal(d.RotationEnabled, true);
    assert.deepEqual(d.RotationRules, { AutomaticallyAfterDays: 7 });
    assert.equal(d.RotationLambdaARN, undefined, 'managed rotation names no Lambda');
    assert.ok(d.NextRotationDate instanceof Date);

    const c = await credentials(s.SecretArn!);
    assert.equal(c.username, 'master');
    assert.ok(c.password.length >= 20 && !/[/@"' \\]/.test(c.password), 'a password RDS accepts');
    await login(i, c.username, c.password);
  });

  it('RotateSecret changes the real login: the old password is refused, the re-read secret works', async () => {
    const i = await describeOne();
    const arn = i.MasterUserSecret!.SecretArn!;
    const before = await credentials(arn);
    await sm.send(new RotateSecretCommand({ SecretId: arn }));
    const after = await rotated(arn, before.versionId);
    assert.notEqual(after!.password, before.password);
    await login(i, 'master', after!.password);
    await assert.rejects(login(i, 'master', before.password), /password authentication failed/);
    assert.equal((await describeOne()).MasterUserSecret!.SecretStatus, 'active');
  });

  it('RotateMasterUserPassword (AWS CLI) rotates at once, and needs --apply-immediately', async () => {
    const i = await describeOne();
    const arn = i.MasterUserSecret!.SecretArn!;
    const before = await credentials(arn);
    const refused = awsCli(cellar.endpoint, ['rds', 'modify-db-instance', '--db-instance-identifier', ID, '--rotate-master-user-password']);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /InvalidParameterCombination/);
    const r = awsCli(cellar.endpoint, ['rds', 'modify-db-instance', '--db-instance-identifier', ID, '--rotate-master-user-password', '--apply-immediately']);
    assert.equal(r.status, 0, r.stderr);
    const after = await rotated(arn, before.versionId);
    await login(i, 'master', after!.password);
    await assert.rejects(login(i, 'master', before.password), /password authentication failed/);
  });

  it('rotates by itself every 7 days', async () => {
    const i = await describeOne();
    const arn = i.MasterUserSecret!.SecretArn!;
    const before = await credentials(arn);
    await advanceClock(cellar.endpoint, 8 * 86_400_000);
    // The daily backup falls due at the same moment; the rotation's steps may wait for it (and the machine may be busy).
    const after = await waitFor(async () => {
      const c = await credentials(arn);
      return c.versionId !== before.versionId ? c : undefined;
    }, 'the rotation to finish', CREATE_TIMEOUT_MS, 200);
    await login(i, 'master', after!.password);
    await assert.rejects(login(i, 'master', before.password), /password authentication failed/);
    // Eight days on, the daily automated backup has come due too: the instance is `backing-up` until it is taken.
    const backedUp = async () => (await rds.send(new DescribeEventsCommand({ SourceIdentifier: ID, SourceType: 'db-instance', Duration: 60 }))).Events!.some((e) => e.Message === 'Finished DB Instance backup');
    await waitFor(backedUp, 'the daily backup eight days on', CREATE_TIMEOUT_MS, 200);
    await waitStatus('available');
  });

  it('switching management off needs a password, deletes the secret and sets the password', async () => {
    const arn = (await describeOne()).MasterUserSecret!.SecretArn!;
    await assert.rejects(rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, ManageMasterUserPassword: false, ApplyImmediately: true })), (e: any) => e.name === 'InvalidParameterCombination');
    await assert.rejects(rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, MasterUserPassword: 'Own-passw0rd' })), (e: any) => e.name === 'InvalidParameterCombination');
    seen.add('Own-passw0rd');
    const m = await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, ManageMasterUserPassword: false, MasterUserPassword: 'Own-passw0rd', ApplyImmediately: true }));
    assert.equal(m.DBInstance!.MasterUserSecret, undefined);
    await assert.rejects(sm.send(new DescribeSecretCommand({ SecretId: arn })), (e: any) => e.name === 'ResourceNotFoundException');
    const i = await waitStatus('available');
    await login(i, 'master', 'Own-passw0rd');
    await assert.rejects(rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, RotateMasterUserPassword: true, ApplyImmediately: true })), (e: any) => e.name === 'InvalidParameterCombination');
  });

  it('switching management on again makes a new secret whose password replaces the own one', async () => {
    const m = await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, ManageMasterUserPassword: true, ApplyImmediately: true }));
    const arn = m.DBInstance!.MasterUserSecret!.SecretArn!;
    const i = await waitStatus('available');
    assert.equal(i.MasterUserSecret!.SecretStatus, 'active');
    const c = await credentials(arn);
    await login(i, 'master', c.password);
    await assert.rejects(login(i, 'master', 'Own-passw0rd'), /password authentication failed/);
  });

  it("a restore with ManageMasterUserPassword gets a secret of its own, whose password replaces the backup's", async () => {
    const source = await describeOne();
    const sourcePassword = (await credentials(source.MasterUserSecret!.SecretArn!)).password;
    await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: ID, DBSnapshotIdentifier: 'vault-snap' }));
    await waitFor(async () => ((await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'vault-snap' }))).DBSnapshots![0]!.Status === 'available' ? true : undefined), 'the snapshot', CREATE_TIMEOUT_MS, 200);
    await waitStatus('available');
    const restored = await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: 'vault-restored', DBSnapshotIdentifier: 'vault-snap', ManageMasterUserPassword: true, Port: await freePort(), BackupRetentionPeriod: 0 }));
    const arn = restored.DBInstance!.MasterUserSecret?.SecretArn;
    assert.ok(arn && arn !== source.MasterUserSecret!.SecretArn, `a new secret: ${arn}`);
    const i = (await waitFor(async () => {
      const d = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'vault-restored' }))).DBInstances![0]!;
      return d.DBInstanceStatus === 'available' && d.MasterUserSecret?.SecretStatus === 'active' ? d : undefined;
    }, 'the restored instance, its secret active', CREATE_TIMEOUT_MS * 2, 200))!;
    const c = await credentials(arn);
    assert.notEqual(c.password, sourcePassword);
    await login(i, 'master', c.password);
    await assert.rejects(login(i, 'master', sourcePassword), /password authentication failed/, "the backup's password no longer logs in");
    await login(await describeOne(), 'master', sourcePassword); // the source keeps its own
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'vault-restored', SkipFinalSnapshot: true }));
    await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: 'vault-snap' }));
    await waitFor(async () => ((await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.length === 1 ? true : undefined), 'the restored instance to be gone', 30_000, 100);
    await assert.rejects(sm.send(new DescribeSecretCommand({ SecretId: arn })), (e: any) => e.name === 'ResourceNotFoundException');
  });

  it('deleting the instance deletes its secret; no password was ever written in plaintext', async () => {
    const arn = (await describeOne()).MasterUserSecret!.SecretArn!;
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: ID, SkipFinalSnapshot: true }));
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.length === 0, 'the instance to be gone', 30_000, 100);
    await assert.rejects(sm.send(new DescribeSecretCommand({ SecretId: arn })), (e: any) => e.name === 'ResourceNotFoundException');
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const n of readdirSync(dir)) {
        const p = join(dir, n);
        const st = statSync(p, { throwIfNoEntry: false });
        if (st?.isDirectory()) walk(p);
        else if (st?.isFile()) files.push(p);
      }
    };
    walk(dataDir);
    assert.ok(seen.size >= 5);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const pw of seen) assert.equal(bytes.includes(pw), false, `a password in plaintext in ${f}`);
    }
    const logs = cellar.output.join('\n');
    for (const pw of seen) assert.equal(logs.includes(pw), false, 'a password in the logs');
  });
});
