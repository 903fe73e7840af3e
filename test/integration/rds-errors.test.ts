/**
 * RDS refusals: each bad request gets RDS's error code and message and changes nothing. Also the
 * catalog (engine versions, orderable options), parameter groups, subnet/option/security groups and
 * tags. One postgres instance serves the checks that need an existing instance.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RDSClient,
  CreateDBInstanceCommand,
  DescribeDBInstancesCommand,
  DeleteDBInstanceCommand,
  DescribeDBEngineVersionsCommand,
  DescribeOrderableDBInstanceOptionsCommand,
  CreateDBParameterGroupCommand,
  ModifyDBParameterGroupCommand,
  DeleteDBParameterGroupCommand,
  DescribeDBParameterGroupsCommand,
  DescribeEngineDefaultParametersCommand,
  CopyDBParameterGroupCommand,
  ResetDBParameterGroupCommand,
  DescribeDBParametersCommand,
  CreateDBSubnetGroupCommand,
  DescribeDBSubnetGroupsCommand,
  DescribeOptionGroupsCommand,
  AddTagsToResourceCommand,
  ListTagsForResourceCommand,
  RemoveTagsFromResourceCommand,
  type CreateDBInstanceCommandInput,
} from '@aws-sdk/client-rds';
import { KMSClient, CreateKeyCommand, CreateAliasCommand, DisableKeyCommand, DescribeKeyCommand } from '@aws-sdk/client-kms';
import { awsCli, freePort, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

const base: CreateDBInstanceCommandInput = {
  DBInstanceIdentifier: 'ok-id',
  Engine: 'postgres',
  DBInstanceClass: 'db.t3.micro',
  AllocatedStorage: 20,
  MasterUsername: 'master',
  MasterUserPassword: 'Passw0rd-ok',
};

describe('RDS errors, catalog and groups', () => {
  let cellar: CellarProcess;
  let rds: RDSClient;

  before(async () => {
    cellar = await startCellar({ args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  const refuses = async (input: Partial<CreateDBInstanceCommandInput>, code: string, message: string | RegExp) => {
    await assert.rejects(rds.send(new CreateDBInstanceCommand({ ...base, ...input } as CreateDBInstanceCommandInput)), (e: any) => {
      assert.equal(e.Code ?? e.name, code, e.message);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    });
    const list = await rds.send(new DescribeDBInstancesCommand({}));
    assert.ok(!list.DBInstances!.some((d) => d.DBInstanceIdentifier === (input.DBInstanceIdentifier ?? base.DBInstanceIdentifier)?.toLowerCase() && d.DBInstanceIdentifier !== 'taken'), 'nothing was created');
  };

  it('malformed identifiers', async () => {
    const msg =
      'The parameter DBInstanceIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.';
    for (const id of ['1abc', 'ab--c', 'abc-', 'a_b']) await refuses({ DBInstanceIdentifier: id }, 'InvalidParameterValue', msg);
    await refuses({ DBInstanceIdentifier: 'a'.repeat(64) }, 'InvalidParameterValue', 'The parameter DBInstanceIdentifier is not a valid identifier because it is longer than 63 characters.');
  });

  it('unknown engine, version not installed, class not orderable', async () => {
    await refuses({ Engine: 'oracle-ee' }, 'InvalidParameterValue', 'Invalid DB engine');
    await refuses({ EngineVersion: '15.99' }, 'InvalidParameterCombination', 'Cannot find version 15.99 for postgres');
    await refuses({ Engine: 'mysql', EngineVersion: '8.0.35' }, 'InvalidParameterCombination', 'Cannot find version 8.0.35 for mysql');
    await refuses(
      { DBInstanceClass: 'db.x9.huge' },
      'InvalidParameterCombination',
      /^RDS does not support creating a DB instance with the following combination: DBInstanceClass=db.x9.huge, Engine=postgres, EngineVersion=15\.\d+, LicenseModel=postgresql-license\./,
    );
  });

  it('invalid master user names and passwords', async () => {
    await refuses({ MasterUsername: 'rdsadmin' }, 'InvalidParameterValue', 'MasterUsername rdsadmin cannot be used as it is a reserved word used by the engine');
    await refuses({ MasterUsername: 'admin' }, 'InvalidParameterValue', 'MasterUsername admin cannot be used as it is a reserved word used by the engine');
    await refuses({ MasterUsername: '9lives' }, 'InvalidParameterValue', 'MasterUsername must begin with a letter and contain only alphanumeric characters or underscores.');
    await refuses({ Engine: 'mariadb', MasterUsername: 'a'.repeat(17) }, 'InvalidParameterValue', 'The parameter MasterUsername is not a valid identifier because it is longer than 16 characters.');
    await refuses({ MasterUserPassword: 'short' }, 'InvalidParameterValue', 'The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters.');
    await refuses({ MasterUserPassword: 'has@sign1' }, 'InvalidParameterValue', `The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '"', ' ' may be used.`);
    await refuses({ Engine: 'mysql', MasterUserPassword: 'x'.repeat(42) }, 'InvalidParameterValue', 'The parameter MasterUserPassword is not a valid password because it is longer than 41 characters.');
    await refuses({ MasterUserPassword: undefined }, 'InvalidParameterValue', 'The parameter MasterUserPassword must be provided and must not be blank.');
  });

  it('a missing required parameter is worded as RDS words it (the SDK does not check it itself)', async () => {
    await assert.rejects(rds.send(new DescribeDBParametersCommand({} as any)), (e: any) => {
      assert.equal(e.Code ?? e.name, 'InvalidParameterValue');
      assert.equal(e.message, 'The parameter DBParameterGroupName must be provided and must not be blank.');
      return true;
    });
  });

  it('duplicate identifiers are refused and deleting needs a final snapshot or SkipFinalSnapshot', async () => {
    await rds.send(new CreateDBInstanceCommand({ ...base, DBInstanceIdentifier: 'taken', Port: await freePort() }));
    await refuses({ DBInstanceIdentifier: 'TAKEN' }, 'DBInstanceAlreadyExists', 'DB instance already exists');
    await assert.rejects(rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'taken' })), (e: any) => {
      assert.equal(e.Code ?? e.name, 'InvalidParameterCombination');
      assert.equal(e.message, 'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.');
      return true;
    });
    await assert.rejects(rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'nope', SkipFinalSnapshot: true })), (e: any) => {
      assert.equal(e.message, 'DBInstance nope not found.');
      assert.equal(e.$metadata.httpStatusCode, 404);
      return true;
    });
    const cli = awsCli(cellar.endpoint, ['rds', 'delete-db-instance', '--db-instance-identifier', 'taken']);
    assert.notEqual(cli.status, 0);
    assert.match(cli.stderr, /InvalidParameterCombination.*FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified/);
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'taken' }))).DBInstances![0]!.DBInstanceStatus === 'available', 'taken to be available', 60_000, 100);
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'taken', SkipFinalSnapshot: true }));
  });

  it('FinalDBSnapshotIdentifier follows the identifier rule, up to 255 characters', async () => {
    const deleteWith = (FinalDBSnapshotIdentifier: string) => rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'nope', FinalDBSnapshotIdentifier }));
    await assert.rejects(deleteWith('s'.repeat(256)), (e: any) => e.message === 'The parameter FinalDBSnapshotIdentifier is not a valid identifier because it is longer than 255 characters.');
    for (const bad of ['1snap', 'snap--x', 'snap-', 'snap_x']) {
      await assert.rejects(deleteWith(bad), (e: any) => (e.Code ?? e.name) === 'InvalidParameterValue' && /^The parameter FinalDBSnapshotIdentifier is not a valid identifier\. Identifiers must begin with a letter/.test(e.message), bad);
    }
  });

  it("StorageEncrypted: KmsKeyId must name a key the caller may use through RDS (another account's by key ARN, if its policy allows); RDS reports the key's ARN", async () => {
    const kms = new KMSClient(sdkConfig(cellar.endpoint));
    const other = new KMSClient(sdkConfig(cellar.endpoint, { accessKeyId: '222222222222', secretAccessKey: 'x' }));
    const notAccessible = (keyId: string) => `The specified KMS key [${keyId}] does not exist, is not enabled or you do not have permissions to access it.`;
    const encrypted = (DBInstanceIdentifier: string, KmsKeyId?: string) => ({ DBInstanceIdentifier, StorageEncrypted: true, ...(KmsKeyId ? { KmsKeyId } : {}) });
    await refuses(encrypted('enc-missing', '00000000-0000-0000-0000-000000000000'), 'KMSKeyNotAccessibleFault', notAccessible('00000000-0000-0000-0000-000000000000'));
    await refuses(encrypted('enc-alias', 'alias/none'), 'KMSKeyNotAccessibleFault', notAccessible('alias/none'));
    await refuses(encrypted('enc-arn', 'arn:aws:kms:us-east-1:000000000000:key/not-a-key'), 'KMSKeyNotAccessibleFault', notAccessible('arn:aws:kms:us-east-1:000000000000:key/not-a-key'));
    const disabled = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new DisableKeyCommand({ KeyId: disabled.KeyId }));
    await refuses(encrypted('enc-disabled', disabled.KeyId!), 'KMSKeyNotAccessibleFault', notAccessible(disabled.KeyId!));
    const policy = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::222222222222:root' }, Action: 'kms:*', Resource: '*' }, ...statements] });
    const closed = (await other.send(new CreateKeyCommand({}))).KeyMetadata!;
    const shared = (await other.send(new CreateKeyCommand({ Policy: policy([{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: ['kms:DescribeKey', 'kms:CreateGrant'], Resource: '*' }]) }))).KeyMetadata!;
    const describeOnly = (await other.send(new CreateKeyCommand({ Policy: policy([{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:root' }, Action: 'kms:DescribeKey', Resource: '*' }]) }))).KeyMetadata!;
    await refuses(encrypted('enc-foreign', closed.Arn), 'KMSKeyNotAccessibleFault', notAccessible(closed.Arn!));
    await refuses(encrypted('enc-foreign', shared.KeyId), 'KMSKeyNotAccessibleFault', notAccessible(shared.KeyId!));
    await refuses(encrypted('enc-foreign', describeOnly.Arn), 'KMSKeyNotAccessibleFault', notAccessible(describeOnly.Arn!));
    await refuses({ DBInstanceIdentifier: 'enc-off', KmsKeyId: shared.Arn }, 'InvalidParameterCombination', /^Encryption must be enabled/);

    const own = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/rds-storage', TargetKeyId: own.KeyId }));
    const created = await Promise.all([
      rds.send(new CreateDBInstanceCommand({ ...base, ...encrypted('enc-default'), Port: await freePort() })),
      rds.send(new CreateDBInstanceCommand({ ...base, ...encrypted('enc-by-alias', 'alias/rds-storage'), Port: await freePort() })),
      rds.send(new CreateDBInstanceCommand({ ...base, ...encrypted('enc-shared', shared.Arn), Port: await freePort() })),
    ]);
    const awsRds = (await kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/rds' }))).KeyMetadata!;
    assert.equal(awsRds.KeyManager, 'AWS');
    assert.deepEqual(created.map((c) => [c.DBInstance!.StorageEncrypted, c.DBInstance!.KmsKeyId]), [[true, awsRds.Arn], [true, own.Arn], [true, shared.Arn]]);
    const described = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'enc-by-alias' }));
    assert.equal(described.DBInstances![0]!.KmsKeyId, own.Arn);
    for (const id of ['enc-default', 'enc-by-alias', 'enc-shared']) await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }));
  });

  it('DescribeDBEngineVersions lists what is installed; orderable options answer for it', async () => {
    const v = await rds.send(new DescribeDBEngineVersionsCommand({}));
    const engines = new Set(v.DBEngineVersions!.map((x) => x.Engine));
    assert.deepEqual([...engines].sort(), ['mariadb', 'mysql', 'postgres']);
    const pgs = v.DBEngineVersions!.filter((x) => x.Engine === 'postgres');
    const pgv = pgs.find((x) => x.EngineVersion!.startsWith('15.'))!;
    assert.match(pgv.EngineVersion!, /^15\.\d+$/, "Debian's PostgreSQL 15");
    assert.equal(pgv.DBParameterGroupFamily, 'postgres15');
    // The default (no EngineVersion) is the system's packaged PostgreSQL.
    const dflt = await rds.send(new DescribeDBEngineVersionsCommand({ Engine: 'postgres', DefaultOnly: true }));
    assert.deepEqual(dflt.DBEngineVersions!.map((x) => x.EngineVersion), [pgv.EngineVersion]);
    const o = await rds.send(new DescribeOrderableDBInstanceOptionsCommand({ Engine: 'postgres', DBInstanceClass: 'db.t3.micro' }));
    assert.deepEqual(o.OrderableDBInstanceOptions!.map((x) => x.EngineVersion).sort(), pgs.map((x) => x.EngineVersion).sort());
    const none = await rds.send(new DescribeOrderableDBInstanceOptionsCommand({ Engine: 'postgres', DBInstanceClass: 'db.x9.huge' }));
    assert.equal(none.OrderableDBInstanceOptions!.length, 0);
  });

  it('parameter groups: create, copy, modify, reset, describe, delete, with RDS refusals', async () => {
    await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'app-pg', DBParameterGroupFamily: 'postgres15', Description: 'app' }));
    await assert.rejects(rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'app-pg', DBParameterGroupFamily: 'postgres15', Description: 'app' })), (e: any) => (e.Code ?? e.name) === 'DBParameterGroupAlreadyExists');
    await assert.rejects(
      rds.send(new ModifyDBParameterGroupCommand({ DBParameterGroupName: 'app-pg', Parameters: [{ ParameterName: 'shared_buffers', ParameterValue: '1000', ApplyMethod: 'immediate' }] })),
      (e: any) => e.message === 'cannot use immediate apply method for static parameter',
    );
    await assert.rejects(
      rds.send(new ModifyDBParameterGroupCommand({ DBParameterGroupName: 'app-pg', Parameters: [{ ParameterName: 'no_such', ParameterValue: '1', ApplyMethod: 'immediate' }] })),
      (e: any) => e.message === 'Could not find parameter with name: no_such',
    );
    await assert.rejects(
      rds.send(new ModifyDBParameterGroupCommand({ DBParameterGroupName: 'default.postgres15', Parameters: [{ ParameterName: 'work_mem', ParameterValue: '1024', ApplyMethod: 'immediate' }] })),
      (e: any) => e.message === 'Cannot modify a default parameter group.',
    );
    await rds.send(new ModifyDBParameterGroupCommand({ DBParameterGroupName: 'app-pg', Parameters: [{ ParameterName: 'work_mem', ParameterValue: '1024', ApplyMethod: 'immediate' }] }));
    await rds.send(new CopyDBParameterGroupCommand({ SourceDBParameterGroupIdentifier: 'app-pg', TargetDBParameterGroupIdentifier: 'app-pg-copy', TargetDBParameterGroupDescription: 'copy' }));
    const copied = await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'app-pg-copy', Source: 'user' }));
    assert.deepEqual(copied.Parameters!.map((p) => [p.ParameterName, p.ParameterValue, p.ApplyType]), [['work_mem', '1024', 'dynamic']]);
    await rds.send(new ResetDBParameterGroupCommand({ DBParameterGroupName: 'app-pg-copy', ResetAllParameters: true }));
    assert.equal((await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'app-pg-copy', Source: 'user' }))).Parameters!.length, 0);
    const sys = await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'app-pg', Source: 'system' }));
    assert.equal(sys.Parameters!.find((p) => p.ParameterName === 'shared_buffers')!.ParameterValue, '{DBInstanceClassMemory/32768}');
    const defaults = await rds.send(new DescribeEngineDefaultParametersCommand({ DBParameterGroupFamily: 'mariadb10.11' }));
    assert.ok(defaults.EngineDefaults!.Parameters!.some((p) => p.ParameterName === 'innodb_buffer_pool_size'));
    const groups = await rds.send(new DescribeDBParameterGroupsCommand({}));
    assert.ok(groups.DBParameterGroups!.some((g) => g.DBParameterGroupName === 'default.postgres15'));
    await rds.send(new DeleteDBParameterGroupCommand({ DBParameterGroupName: 'app-pg-copy' }));
    await assert.rejects(rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'app-pg-copy' })), (e: any) => (e.Code ?? e.name) === 'DBParameterGroupNotFound' || /DBParameterGroupNotFound/.test(e.name));
  });

  it('subnet groups, option groups and the default network as RDS shows them', async () => {
    const def = await rds.send(new DescribeDBSubnetGroupsCommand({ DBSubnetGroupName: 'default' }));
    assert.equal(def.DBSubnetGroups![0]!.SubnetGroupStatus, 'Complete');
    assert.match(def.DBSubnetGroups![0]!.VpcId!, /^vpc-[0-9a-f]{17}$/);
    const subnets = def.DBSubnetGroups![0]!.Subnets!.map((s) => s.SubnetIdentifier!);
    const created = await rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: 'app-subnets', DBSubnetGroupDescription: 'app', SubnetIds: subnets.slice(0, 2) }));
    assert.equal(created.DBSubnetGroup!.Subnets!.length, 2);
    await assert.rejects(rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: 'one-az', DBSubnetGroupDescription: 'x', SubnetIds: subnets.slice(0, 1) })), (e: any) => (e.Code ?? e.name).startsWith('DBSubnetGroupDoesNotCoverEnoughAZs'));
    const og = await rds.send(new DescribeOptionGroupsCommand({ EngineName: 'postgres' }));
    assert.equal(og.OptionGroupsList![0]!.OptionGroupName, 'default:postgres-15');
  });

  it('tags on parameter groups and subnet groups', async () => {
    const arn = 'arn:aws:rds:us-east-1:000000000000:pg:app-pg';
    await rds.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: 'env', Value: 'dev' }, { Key: 'team', Value: 'a' }] }));
    await rds.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: ['team'] }));
    assert.deepEqual((await rds.send(new ListTagsForResourceCommand({ ResourceName: arn }))).TagList, [{ Key: 'env', Value: 'dev' }]);
    const sub = awsCli(cellar.endpoint, ['rds', 'add-tags-to-resource', '--resource-name', 'arn:aws:rds:us-east-1:000000000000:subgrp:app-subnets', '--tags', 'Key=k,Value=v']);
    assert.equal(sub.status, 0, sub.stderr);
    const listed = awsCli(cellar.endpoint, ['rds', 'list-tags-for-resource', '--resource-name', 'arn:aws:rds:us-east-1:000000000000:subgrp:app-subnets']);
    assert.deepEqual(listed.json.TagList, [{ Key: 'k', Value: 'v' }]);
    await assert.rejects(rds.send(new ListTagsForResourceCommand({ ResourceName: 'arn:aws:rds:us-east-1:000000000000:db:nope' })), (e: any) => e.message === 'DBInstance nope not found.');
  });
});
