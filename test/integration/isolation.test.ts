/**
 * Isolation between accounts and regions, for every served operation.
 *
 * Given resources that account A made in us-east-1 (a secret, a KMS key with an alias and a grant, a DynamoDB table
 * with an item, RDS groups and a running DB instance), when account B (same region) or account A in another region
 * (eu-west-1) calls each operation that names a resource — by bare name and by ARN — or A itself names its resource by
 * an ARN of another region or partition, then every call is refused with the one error that operation gives for a
 * resource it does not have (or AccessDeniedException where a policy would be consulted), never a 5xx and never an
 * unrelated validation error, and afterwards A's resources are exactly as they were.
 *
 * The operations come from the server itself (/_cellar/health lists what is served, from the models): every served
 * operation must appear here, either with a request addressing A's resource or in UNSCOPED with the reason it names
 * none, so an operation added later cannot be left out of this suite.
 */
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { freePort, removeDir, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall, queryCall, type RawResponse } from '../helpers/sign.js';

const A = { accessKeyId: '111111111111', secretAccessKey: 'a' };
const B = { accessKeyId: '222222222222', secretAccessKey: 'b' };
const HOME = 'us-east-1';
const AWAY = 'eu-west-1';

type Json = Record<string, any>;

interface Fixture {
  secretArn: string;
  keyArn: string;
  keyId: string;
  grantId: string;
  tableArn: string;
  streamArn: string;
  shardId: string;
  shardIterator: string;
  dbArn: string;
  pgArn: string;
  subnetArn: string;
  ogArn: string;
  snapshotArn: string;
  dbiResourceId: string;
  autoBackupArn: string;
  alarmArn: string;
}

type Form = 'name' | 'arn';
/** A request addressing A's resource, in the form asked for; undefined when the operation has no such form. */
type Target = (f: Fixture, form: Form) => Json | undefined;

const JSON_TARGET: Record<string, string> = { kms: 'TrentService', secretsmanager: 'secretsmanager', dynamodb: 'DynamoDB_20120810', dynamodbstreams: 'DynamoDBStreams_20120810', cloudwatch: 'GraniteServiceVersion20100801' };
/** DynamoDB Streams signs as DynamoDB; CloudWatch as `monitoring`. */
const SIGNING_NAME: Record<string, string> = { dynamodbstreams: 'dynamodb', cloudwatch: 'monitoring' };
const PLAINTEXT = Buffer.from('isolation').toString('base64');

const SECRET = (f: Fixture, form: Form) => (form === 'arn' ? f.secretArn : 'iso/secret');
const KEY = (f: Fixture, form: Form) => (form === 'arn' ? f.keyArn : f.keyId);
const TABLE = (f: Fixture, form: Form) => (form === 'arn' ? f.tableArn : 'iso_table');

const TARGETS: Record<string, Record<string, Target>> = {
  secretsmanager: {
    GetSecretValue: (f, m) => ({ SecretId: SECRET(f, m) }),
    DescribeSecret: (f, m) => ({ SecretId: SECRET(f, m) }),
    PutSecretValue: (f, m) => ({ SecretId: SECRET(f, m), SecretString: 'stolen', ClientRequestToken: '22222222-2222-2222-2222-222222222222' }),
    UpdateSecret: (f, m) => ({ SecretId: SECRET(f, m), Description: 'changed' }),
    DeleteSecret: (f, m) => ({ SecretId: SECRET(f, m), ForceDeleteWithoutRecovery: true }),
    RestoreSecret: (f, m) => ({ SecretId: SECRET(f, m) }),
    ListSecretVersionIds: (f, m) => ({ SecretId: SECRET(f, m) }),
    UpdateSecretVersionStage: (f, m) => ({ SecretId: SECRET(f, m), VersionStage: 'MINE', MoveToVersionId: '11111111-1111-1111-1111-111111111111' }),
    RotateSecret: (f, m) => ({ SecretId: SECRET(f, m), RotationLambdaARN: 'arn:aws:lambda:us-east-1:222222222222:function:x' }),
    CancelRotateSecret: (f, m) => ({ SecretId: SECRET(f, m) }),
    TagResource: (f, m) => ({ SecretId: SECRET(f, m), Tags: [{ Key: 'owned', Value: 'yes' }] }),
    UntagResource: (f, m) => ({ SecretId: SECRET(f, m), TagKeys: ['team'] }),
    PutResourcePolicy: (f, m) => ({ SecretId: SECRET(f, m), ResourcePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '222222222222' }, Action: 'secretsmanager:*', Resource: '*' }] }) }),
    GetResourcePolicy: (f, m) => ({ SecretId: SECRET(f, m) }),
    DeleteResourcePolicy: (f, m) => ({ SecretId: SECRET(f, m) }),
    ValidateResourcePolicy: (f, m) => ({ SecretId: SECRET(f, m), ResourcePolicy: '{"Version":"2012-10-17","Statement":[]}' }),
    ReplicateSecretToRegions: (f, m) => ({ SecretId: SECRET(f, m), AddReplicaRegions: [{ Region: 'ap-south-1' }] }),
    RemoveRegionsFromReplication: (f, m) => ({ SecretId: SECRET(f, m), RemoveReplicaRegions: ['ap-south-1'] }),
    StopReplicationToReplica: (f, m) => ({ SecretId: SECRET(f, m) }),
    BatchGetSecretValue: (f, m) => ({ SecretIdList: [SECRET(f, m)] }),
  },
  kms: {
    DescribeKey: (f, m) => ({ KeyId: KEY(f, m) }),
    Encrypt: (f, m) => ({ KeyId: KEY(f, m), Plaintext: PLAINTEXT }),
    GenerateDataKey: (f, m) => ({ KeyId: KEY(f, m), KeySpec: 'AES_256' }),
    GenerateDataKeyWithoutPlaintext: (f, m) => ({ KeyId: KEY(f, m), KeySpec: 'AES_256' }),
    DisableKey: (f, m) => ({ KeyId: KEY(f, m) }),
    EnableKey: (f, m) => ({ KeyId: KEY(f, m) }),
    ScheduleKeyDeletion: (f, m) => ({ KeyId: KEY(f, m), PendingWindowInDays: 7 }),
    CancelKeyDeletion: (f, m) => ({ KeyId: KEY(f, m) }),
    EnableKeyRotation: (f, m) => ({ KeyId: KEY(f, m) }),
    DisableKeyRotation: (f, m) => ({ KeyId: KEY(f, m) }),
    GetKeyRotationStatus: (f, m) => ({ KeyId: KEY(f, m) }),
    RotateKeyOnDemand: (f, m) => ({ KeyId: KEY(f, m) }),
    ListKeyRotations: (f, m) => ({ KeyId: KEY(f, m) }),
    UpdateKeyDescription: (f, m) => ({ KeyId: KEY(f, m), Description: 'changed' }),
    GetKeyPolicy: (f, m) => ({ KeyId: KEY(f, m) }),
    PutKeyPolicy: (f, m) => ({ KeyId: KEY(f, m), PolicyName: 'default', Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:*', Resource: '*' }] }), BypassPolicyLockoutSafetyCheck: true }),
    ListKeyPolicies: (f, m) => ({ KeyId: KEY(f, m) }),
    TagResource: (f, m) => ({ KeyId: KEY(f, m), Tags: [{ TagKey: 'owned', TagValue: 'yes' }] }),
    UntagResource: (f, m) => ({ KeyId: KEY(f, m), TagKeys: ['team'] }),
    ListResourceTags: (f, m) => ({ KeyId: KEY(f, m) }),
    CreateGrant: (f, m) => ({ KeyId: KEY(f, m), GranteePrincipal: 'arn:aws:iam::222222222222:root', Operations: ['Decrypt', 'Encrypt'] }),
    ListGrants: (f, m) => ({ KeyId: KEY(f, m) }),
    RevokeGrant: (f, m) => ({ KeyId: KEY(f, m), GrantId: f.grantId }),
    RetireGrant: (f, m) => ({ KeyId: KEY(f, m), GrantId: f.grantId }),
    CreateAlias: (f, m) => ({ AliasName: 'alias/stolen', TargetKeyId: KEY(f, m) }),
    UpdateAlias: (f, m) => (m === 'name' ? { AliasName: 'alias/iso', TargetKeyId: f.keyId } : undefined),
    DeleteAlias: (_f, m) => (m === 'name' ? { AliasName: 'alias/iso' } : undefined),
    ListAliases: (f, m) => ({ KeyId: KEY(f, m) }),
    // A ciphertext names its key: made under A's key, it is refused to B and to A in another region.
    Decrypt: () => undefined,
    ReEncrypt: () => undefined,
  },
  dynamodb: {
    DescribeTable: (f, m) => ({ TableName: TABLE(f, m) }),
    UpdateTable: (f, m) => ({ TableName: TABLE(f, m), DeletionProtectionEnabled: true }),
    DeleteTable: (f, m) => ({ TableName: TABLE(f, m) }),
    GetItem: (f, m) => ({ TableName: TABLE(f, m), Key: { pk: { S: 'item' } } }),
    PutItem: (f, m) => ({ TableName: TABLE(f, m), Item: { pk: { S: 'item' }, v: { S: 'stolen' } } }),
    UpdateItem: (f, m) => ({ TableName: TABLE(f, m), Key: { pk: { S: 'item' } }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: 'stolen' } } }),
    DeleteItem: (f, m) => ({ TableName: TABLE(f, m), Key: { pk: { S: 'item' } } }),
    Query: (f, m) => ({ TableName: TABLE(f, m), KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'item' } } }),
    Scan: (f, m) => ({ TableName: TABLE(f, m) }),
    BatchGetItem: (f, m) => ({ RequestItems: { [TABLE(f, m)]: { Keys: [{ pk: { S: 'item' } }] } } }),
    BatchWriteItem: (f, m) => ({ RequestItems: { [TABLE(f, m)]: [{ DeleteRequest: { Key: { pk: { S: 'item' } } } }] } }),
    TagResource: (f, m) => (m === 'arn' ? { ResourceArn: f.tableArn, Tags: [{ Key: 'owned', Value: 'yes' }] } : undefined),
    UntagResource: (f, m) => (m === 'arn' ? { ResourceArn: f.tableArn, TagKeys: ['team'] } : undefined),
    ListTagsOfResource: (f, m) => (m === 'arn' ? { ResourceArn: f.tableArn } : undefined),
    DescribeContinuousBackups: (f, m) => ({ TableName: TABLE(f, m) }),
    DescribeContributorInsights: (f, m) => ({ TableName: TABLE(f, m) }),
    ListContributorInsights: (f, m) => ({ TableName: TABLE(f, m) }),
    DescribeKinesisStreamingDestination: (f, m) => ({ TableName: TABLE(f, m) }),
    DescribeTableReplicaAutoScaling: (f, m) => ({ TableName: TABLE(f, m) }),
    GetResourcePolicy: (f, m) => (m === 'arn' ? { ResourceArn: f.tableArn } : undefined),
    ExecuteStatement: (_f, m) => (m === 'name' ? { Statement: 'SELECT * FROM "iso_table"' } : undefined),
    ExecuteTransaction: (_f, m) => (m === 'name' ? { TransactStatements: [{ Statement: 'UPDATE "iso_table" SET v = \'stolen\' WHERE pk = \'item\'' }] } : undefined),
    BatchExecuteStatement: (_f, m) => (m === 'name' ? { Statements: [{ Statement: 'SELECT * FROM "iso_table" WHERE pk = \'item\'' }] } : undefined),
    DescribeTimeToLive: (f, m) => ({ TableName: TABLE(f, m) }),
    UpdateTimeToLive: (f, m) => ({ TableName: TABLE(f, m), TimeToLiveSpecification: { Enabled: true, AttributeName: 'stolen' } }),
    TransactWriteItems: (f, m) => ({ TransactItems: [{ Update: { TableName: TABLE(f, m), Key: { pk: { S: 'item' } }, UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { S: 'stolen' } } } }] }),
    TransactGetItems: (f, m) => ({ TransactItems: [{ Get: { TableName: TABLE(f, m), Key: { pk: { S: 'item' } } } }] }),
  },
  dynamodbstreams: {
    ListStreams: (_f, m) => (m === 'name' ? { TableName: 'iso_table' } : undefined),
    DescribeStream: (f, m) => (m === 'arn' ? { StreamArn: f.streamArn } : undefined),
    GetShardIterator: (f, m) => (m === 'arn' ? { StreamArn: f.streamArn, ShardId: f.shardId, ShardIteratorType: 'TRIM_HORIZON' } : undefined),
    // An iterator names its stream's ARN: another account's is refused, another region's or partition's not found.
    GetRecords: (f, m) => (m === 'arn' ? { ShardIterator: f.shardIterator } : undefined),
  },
  rds: {
    DescribeDBInstances: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db' }),
    ModifyDBInstance: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db', AllocatedStorage: '40', ApplyImmediately: 'true' }),
    RebootDBInstance: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db' }),
    StopDBInstance: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db' }),
    StartDBInstance: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db' }),
    DeleteDBInstance: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db', SkipFinalSnapshot: 'true' }),
    DescribeDBParameterGroups: (f, m) => ({ DBParameterGroupName: m === 'arn' ? f.pgArn : 'iso-pg' }),
    DescribeDBParameters: (f, m) => ({ DBParameterGroupName: m === 'arn' ? f.pgArn : 'iso-pg' }),
    ModifyDBParameterGroup: (_f, m) => (m === 'name' ? { DBParameterGroupName: 'iso-pg', 'Parameters.Parameter.1.ParameterName': 'work_mem', 'Parameters.Parameter.1.ParameterValue': '8192', 'Parameters.Parameter.1.ApplyMethod': 'immediate' } : undefined),
    ResetDBParameterGroup: (_f, m) => (m === 'name' ? { DBParameterGroupName: 'iso-pg', ResetAllParameters: 'true' } : undefined),
    DeleteDBParameterGroup: (_f, m) => (m === 'name' ? { DBParameterGroupName: 'iso-pg' } : undefined),
    CopyDBParameterGroup: (f, m) => ({ SourceDBParameterGroupIdentifier: m === 'arn' ? f.pgArn : 'iso-pg', TargetDBParameterGroupIdentifier: 'copied', TargetDBParameterGroupDescription: 'copy' }),
    DescribeDBSubnetGroups: (_f, m) => (m === 'name' ? { DBSubnetGroupName: 'iso-subnets' } : undefined),
    // Six subnet ids: whatever AZs the caller's region maps them to, they cover more than one.
    ModifyDBSubnetGroup: (_f, m) => (m === 'name' ? { DBSubnetGroupName: 'iso-subnets', DBSubnetGroupDescription: 'changed', ...Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`SubnetIds.SubnetIdentifier.${i}`, `subnet-0000000000000000${i}`])) } : undefined),
    DeleteDBSubnetGroup: (_f, m) => (m === 'name' ? { DBSubnetGroupName: 'iso-subnets' } : undefined),
    DescribeOptionGroups: (_f, m) => (m === 'name' ? { OptionGroupName: 'iso-og' } : undefined),
    DeleteOptionGroup: (_f, m) => (m === 'name' ? { OptionGroupName: 'iso-og' } : undefined),
    ListTagsForResource: (f, m) => (m === 'arn' ? { ResourceName: f.dbArn } : undefined),
    AddTagsToResource: (f, m) => (m === 'arn' ? { ResourceName: f.dbArn, 'Tags.Tag.1.Key': 'owned', 'Tags.Tag.1.Value': 'yes' } : undefined),
    RemoveTagsFromResource: (f, m) => (m === 'arn' ? { ResourceName: f.dbArn, 'TagKeys.member.1': 'team' } : undefined),
    CreateDBSnapshot: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db', DBSnapshotIdentifier: 'stolen-snap' }),
    DescribeDBSnapshots: (f, m) => ({ DBSnapshotIdentifier: m === 'arn' ? f.snapshotArn : 'iso-snap' }),
    DescribeDBSnapshotAttributes: (f, m) => ({ DBSnapshotIdentifier: m === 'arn' ? f.snapshotArn : 'iso-snap' }),
    ModifyDBSnapshotAttribute: (f, m) => ({ DBSnapshotIdentifier: m === 'arn' ? f.snapshotArn : 'iso-snap', AttributeName: 'restore', 'ValuesToAdd.AttributeValue.1': '222222222222' }),
    CopyDBSnapshot: (f, m) => ({ SourceDBSnapshotIdentifier: m === 'arn' ? f.snapshotArn : 'iso-snap', TargetDBSnapshotIdentifier: 'stolen-copy' }),
    DeleteDBSnapshot: (f, m) => ({ DBSnapshotIdentifier: m === 'arn' ? f.snapshotArn : 'iso-snap' }),
    RestoreDBInstanceFromDBSnapshot: (f, m) => ({ DBSnapshotIdentifier: m === 'arn' ? f.snapshotArn : 'iso-snap', DBInstanceIdentifier: 'stolen-db' }),
    RestoreDBInstanceToPointInTime: (f, m) => ({ SourceDBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db', TargetDBInstanceIdentifier: 'stolen-db', UseLatestRestorableTime: 'true' }),
    DescribeDBInstanceAutomatedBackups: (f, m) => (m === 'arn' ? { DBInstanceAutomatedBackupsArn: f.autoBackupArn } : { DbiResourceId: f.dbiResourceId }),
    DeleteDBInstanceAutomatedBackup: (f, m) => (m === 'arn' ? { DBInstanceAutomatedBackupsArn: f.autoBackupArn } : { DbiResourceId: f.dbiResourceId }),
    DescribeDBLogFiles: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db' }),
    DownloadDBLogFilePortion: (f, m) => ({ DBInstanceIdentifier: m === 'arn' ? f.dbArn : 'iso-db', LogFileName: 'error/postgres.log' }),
  },
  cloudwatch: {
    SetAlarmState: (_f, m) => (m === 'name' ? { AlarmName: 'iso-alarm', StateValue: 'ALARM', StateReason: 'stolen' } : undefined),
    ListTagsForResource: (f, m) => (m === 'arn' ? { ResourceARN: f.alarmArn } : undefined),
    TagResource: (f, m) => (m === 'arn' ? { ResourceARN: f.alarmArn, Tags: [{ Key: 'owned', Value: 'yes' }] } : undefined),
    UntagResource: (f, m) => (m === 'arn' ? { ResourceARN: f.alarmArn, TagKeys: ['team'] } : undefined),
  },
};

/** Served operations that address no existing resource of A, with why (checked by listing, below, or harmless). */
const UNSCOPED: Record<string, Record<string, string>> = {
  sts: {
    AssumeRole: 'issues credentials for a role ARN; cross-account AssumeRole has its own rule (auth-strict, cross-account tests)',
    GetCallerIdentity: "reports the caller's own identity",
    GetSessionToken: "issues credentials for the caller's own identity",
    GetAccessKeyInfo: 'names the account of any access key, as AWS does',
  },
  secretsmanager: { CreateSecret: 'creates in the caller scope', ListSecrets: 'lists the caller scope (checked below)', GetRandomPassword: 'no resource' },
  kms: { CreateKey: 'creates in the caller scope', ListKeys: 'lists the caller scope (checked below)', GenerateRandom: 'no resource', ListRetirableGrants: 'lists grants retirable by a principal in the caller scope (checked below)' },
  dynamodb: {
    CreateTable: 'creates in the caller scope', ListTables: 'lists the caller scope (checked below)', DescribeEndpoints: 'no resource', DescribeLimits: 'no resource',
    ListBackups: 'always empty: Cellar makes no backups yet', ListExports: 'always empty: Cellar makes no exports yet',
    ListImports: 'always empty: Cellar makes no imports yet', ListGlobalTables: 'always empty: Cellar has no global tables',
  },
  rds: {
    CreateDBInstance: 'creates in the caller scope',
    CreateDBParameterGroup: 'creates in the caller scope',
    CreateDBSubnetGroup: 'creates in the caller scope',
    CreateOptionGroup: 'creates in the caller scope',
    DescribeDBEngineVersions: 'the catalog',
    DescribeOrderableDBInstanceOptions: 'the catalog',
    DescribeEngineDefaultParameters: 'the catalog',
    DescribeEventCategories: 'the catalog',
    DescribeDBSecurityGroups: "the caller's default security group",
    DescribeEvents: 'lists the caller scope (checked below)',
  },
  cloudwatch: {
    PutMetricData: 'writes in the caller scope',
    ListMetrics: 'lists the caller scope (checked below)',
    GetMetricStatistics: "reads the caller scope's metric: answers 200 with no datapoints elsewhere (checked below)",
    GetMetricData: "reads the caller scope's metrics: answers 200 with empty results elsewhere (checked below)",
    PutMetricAlarm: 'creates or updates in the caller scope',
    DescribeAlarms: 'lists the caller scope (checked below)',
    DescribeAlarmsForMetric: 'lists the caller scope (checked below)',
    DescribeAlarmHistory: 'lists the caller scope (checked below)',
    DeleteAlarms: "passes over names the caller's scope lacks, as CloudWatch does: A's alarm survives B's attempt (checked below)",
    EnableAlarmActions: "passes over names the caller's scope lacks (checked below with DisableAlarmActions)",
    DisableAlarmActions: "passes over names the caller's scope lacks: A's alarm keeps its actions enabled (checked below)",
  },
};

/** RDS's not-found error for the kind of resource each operation names. */
const RDS_NOT_FOUND: Record<string, string> = {
  DescribeDBInstances: 'DBInstanceNotFound',
  ModifyDBInstance: 'DBInstanceNotFound',
  RebootDBInstance: 'DBInstanceNotFound',
  StopDBInstance: 'DBInstanceNotFound',
  StartDBInstance: 'DBInstanceNotFound',
  DeleteDBInstance: 'DBInstanceNotFound',
  ListTagsForResource: 'DBInstanceNotFound',
  AddTagsToResource: 'DBInstanceNotFound',
  RemoveTagsFromResource: 'DBInstanceNotFound',
  DescribeDBParameterGroups: 'DBParameterGroupNotFound',
  DescribeDBParameters: 'DBParameterGroupNotFound',
  ModifyDBParameterGroup: 'DBParameterGroupNotFound',
  ResetDBParameterGroup: 'DBParameterGroupNotFound',
  DeleteDBParameterGroup: 'DBParameterGroupNotFound',
  CopyDBParameterGroup: 'DBParameterGroupNotFound',
  DescribeDBSubnetGroups: 'DBSubnetGroupNotFoundFault',
  ModifyDBSubnetGroup: 'DBSubnetGroupNotFoundFault',
  DeleteDBSubnetGroup: 'DBSubnetGroupNotFoundFault',
  DescribeOptionGroups: 'OptionGroupNotFoundFault',
  DeleteOptionGroup: 'OptionGroupNotFoundFault',
  CreateDBSnapshot: 'DBInstanceNotFound',
  RestoreDBInstanceToPointInTime: 'DBInstanceNotFound',
  DescribeDBSnapshots: 'DBSnapshotNotFound',
  DescribeDBSnapshotAttributes: 'DBSnapshotNotFound',
  ModifyDBSnapshotAttribute: 'DBSnapshotNotFound',
  CopyDBSnapshot: 'DBSnapshotNotFound',
  DeleteDBSnapshot: 'DBSnapshotNotFound',
  RestoreDBInstanceFromDBSnapshot: 'DBSnapshotNotFound',
  DescribeDBInstanceAutomatedBackups: 'DBInstanceAutomatedBackupNotFound',
  DeleteDBInstanceAutomatedBackup: 'DBInstanceAutomatedBackupNotFound',
  DescribeDBLogFiles: 'DBInstanceNotFound',
  DownloadDBLogFilePortion: 'DBInstanceNotFound',
};

/**
 * How a request for A's resource is addressed: by name or ARN from account B or from A in another region, or by an
 * ARN that names A's own resource but with another region or partition, sent by A in A's own region.
 */
type Approach = 'other-account' | 'other-region' | 'arn-of-other-region' | 'arn-of-other-partition';

/**
 * The one error code each operation answers with, never a looser set: a request refused for an unrelated reason (a
 * validation error) does not count as isolated. A name not in the caller's scope is the operation's not-found error;
 * another account's ARN is AccessDeniedException where AWS would consult a resource or key policy (Secrets Manager,
 * KMS, DynamoDB), and not found where it has none (RDS); an ARN of another region or partition is not found, except
 * that DynamoDB refuses another partition's table ARN with its ValidationException ("Invalid TableArn").
 */
function expectedCode(svc: string, op: string, form: Form, approach: Approach): string {
  if (svc === 'rds') return RDS_NOT_FOUND[op]!;
  // DynamoDB refuses an ARN it cannot take for a table of its partition as it refuses a malformed one.
  if ((svc === 'dynamodb' || svc === 'dynamodbstreams') && approach === 'arn-of-other-partition') return 'ValidationException';
  // BatchExecuteStatement answers 200 and reports each statement's error in Responses, in its own codes.
  if (svc === 'dynamodb' && op === 'BatchExecuteStatement') return 'ResourceNotFound';
  // GetResourcePolicy refuses any table ARN outside the caller's account and region as invalid, as AWS does.
  if (svc === 'dynamodb' && op === 'GetResourcePolicy') return 'ValidationException';
  // CloudWatch has no resource policies: another account's alarm ARN is as unknown as a missing alarm.
  if (svc === 'cloudwatch') return op === 'SetAlarmState' ? 'ResourceNotFound' : 'ResourceNotFoundException';
  // The continuous-backups pair names a missing table TableNotFoundException, as AWS does.
  if (svc === 'dynamodb' && op === 'DescribeContinuousBackups' && !(approach === 'other-account' && form === 'arn')) return 'TableNotFoundException';
  if (approach === 'other-account' && form === 'arn') return 'AccessDeniedException';
  // RetireGrant by key id and grant id looks the grant up in the caller's scope, where there is none.
  if (svc === 'kms' && op === 'RetireGrant' && form === 'name') return 'InvalidGrantIdException';
  return svc === 'kms' ? 'NotFoundException' : 'ResourceNotFoundException';
}

/** A's fixture with every ARN rewritten to name another region or another partition. */
function misScoped(f: Fixture, approach: 'arn-of-other-region' | 'arn-of-other-partition'): Fixture {
  const rewrite = (arn: string) => (approach === 'arn-of-other-region' ? arn.replace(`:${HOME}:`, `:${AWAY}:`) : arn.replace(/^arn:aws:/, 'arn:aws-cn:'));
  return {
    ...f,
    secretArn: rewrite(f.secretArn),
    keyArn: rewrite(f.keyArn),
    tableArn: rewrite(f.tableArn),
    streamArn: rewrite(f.streamArn),
    shardIterator: rewrite(f.shardIterator),
    dbArn: rewrite(f.dbArn),
    pgArn: rewrite(f.pgArn),
    subnetArn: rewrite(f.subnetArn),
    ogArn: rewrite(f.ogArn),
    snapshotArn: rewrite(f.snapshotArn),
    autoBackupArn: rewrite(f.autoBackupArn),
    alarmArn: rewrite(f.alarmArn),
  };
}

function errorCode(r: RawResponse): string {
  if (r.json?.__type) return String(r.json.__type).split('#').pop()!;
  return /<Code>([^<]+)<\/Code>/.exec(r.text)?.[1] ?? `HTTP ${r.status}`;
}

describe('isolation between accounts and regions, for every served operation', () => {
  let cellar: CellarProcess;
  let fixture: Fixture;
  let served: Record<string, string[]>;

  const call = (svc: string, op: string, body: Json, who: typeof A, region = HOME): Promise<RawResponse> =>
    svc === 'rds' || svc === 'sts'
      ? queryCall(cellar.endpoint, svc, { Action: op, Version: svc === 'rds' ? '2014-10-31' : '2011-06-15', ...body }, { ...who, region })
      : jsonCall(cellar.endpoint, SIGNING_NAME[svc] ?? svc, `${JSON_TARGET[svc]}.${op}`, JSON.stringify(body), { ...who, region });

  const ok = async (svc: string, op: string, body: Json, who = A, region = HOME): Promise<Json> => {
    const r = await call(svc, op, body, who, region);
    assert.equal(r.status, 200, `${svc} ${op}: ${r.text.slice(0, 300)}`);
    return r.json ?? { xml: r.text };
  };

  /** Everything A can see of its resources (reads only), to compare before and after the attempts. */
  const snapshot = async (): Promise<string> => {
    const parts: unknown[] = [];
    const secret = await ok('secretsmanager', 'DescribeSecret', { SecretId: 'iso/secret' });
    delete secret.LastAccessedDate;
    parts.push(secret, (await ok('secretsmanager', 'GetSecretValue', { SecretId: 'iso/secret' })).SecretString);
    parts.push(await ok('secretsmanager', 'GetResourcePolicy', { SecretId: 'iso/secret' }));
    parts.push(await ok('kms', 'DescribeKey', { KeyId: fixture.keyId }), await ok('kms', 'ListAliases', {}), await ok('kms', 'ListGrants', { KeyId: fixture.keyId }));
    parts.push(await ok('kms', 'GetKeyPolicy', { KeyId: fixture.keyId, PolicyName: 'default' }), await ok('kms', 'ListResourceTags', { KeyId: fixture.keyId }), await ok('kms', 'GetKeyRotationStatus', { KeyId: fixture.keyId }));
    const table = await ok('dynamodb', 'DescribeTable', { TableName: 'iso_table' });
    parts.push(table, await ok('dynamodb', 'Scan', { TableName: 'iso_table' }), await ok('dynamodb', 'ListTagsOfResource', { ResourceArn: fixture.tableArn }));
    const stream = await ok('dynamodbstreams', 'DescribeStream', { StreamArn: fixture.streamArn });
    const records = await ok('dynamodbstreams', 'GetRecords', { ShardIterator: (await ok('dynamodbstreams', 'GetShardIterator', { StreamArn: fixture.streamArn, ShardId: fixture.shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator });
    parts.push(stream, records.Records);
    parts.push(await ok('cloudwatch', 'DescribeAlarms', { AlarmNames: ['iso-alarm'] }), await ok('cloudwatch', 'ListTagsForResource', { ResourceARN: fixture.alarmArn }));
    // The newest restorable moment moves with time, whoever calls: not part of what A's resources are.
    const strip = (xml: string) => xml.replace(/<RequestId>[^<]*<\/RequestId>/g, '').replace(/<(LatestRestorableTime|LatestTime)>[^<]*<\/\1>/g, '');
    for (const [op, body] of [
      ['DescribeDBInstances', { DBInstanceIdentifier: 'iso-db' }],
      ['DescribeDBParameters', { DBParameterGroupName: 'iso-pg', Source: 'user' }],
      ['DescribeDBSubnetGroups', { DBSubnetGroupName: 'iso-subnets' }],
      ['DescribeOptionGroups', { OptionGroupName: 'iso-og' }],
      ['ListTagsForResource', { ResourceName: fixture.dbArn }],
      ['DescribeDBParameterGroups', {}],
      ['DescribeDBSnapshots', { DBSnapshotIdentifier: 'iso-snap' }],
      ['DescribeDBSnapshotAttributes', { DBSnapshotIdentifier: 'iso-snap' }],
      ['DescribeDBInstanceAutomatedBackups', {}],
    ] as const) {
      parts.push(strip((await ok('rds', op, body)).xml as string));
    }
    return JSON.stringify(parts);
  };

  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
    const health = (await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as { services: Record<string, { operations: string[] }> };
    served = Object.fromEntries(Object.entries(health.services).map(([k, v]) => [k, v.operations]));

    const secret = await ok('secretsmanager', 'CreateSecret', { Name: 'iso/secret', SecretString: 'A-only', ClientRequestToken: '11111111-1111-1111-1111-111111111111', Tags: [{ Key: 'team', Value: 'a' }] });
    const key = (await ok('kms', 'CreateKey', { Description: 'A key', Tags: [{ TagKey: 'team', TagValue: 'a' }] })).KeyMetadata;
    await ok('kms', 'CreateAlias', { AliasName: 'alias/iso', TargetKeyId: key.KeyId });
    const grant = await ok('kms', 'CreateGrant', { KeyId: key.KeyId, GranteePrincipal: 'arn:aws:iam::111111111111:role/app', Operations: ['Decrypt'] });
    const table = (await ok('dynamodb', 'CreateTable', { TableName: 'iso_table', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST', Tags: [{ Key: 'team', Value: 'a' }], StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } })).TableDescription;
    await ok('dynamodb', 'PutItem', { TableName: 'iso_table', Item: { pk: { S: 'item' }, v: { S: 'A-only' } } });
    await ok('cloudwatch', 'PutMetricData', { Namespace: 'Iso', MetricData: [{ MetricName: 'Orders', Value: 7, Dimensions: [{ Name: 'Shop', Value: 'a' }] }] });
    // On a metric with no data: it stays INSUFFICIENT_DATA, so background evaluation changes nothing a snapshot sees.
    await ok('cloudwatch', 'PutMetricAlarm', { AlarmName: 'iso-alarm', Namespace: 'Iso', MetricName: 'Silent', Statistic: 'Sum', Period: 60, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', Tags: [{ Key: 'team', Value: 'a' }] });
    const shardId = (await ok('dynamodbstreams', 'DescribeStream', { StreamArn: table.LatestStreamArn })).StreamDescription.Shards[0].ShardId;
    const shardIterator = (await ok('dynamodbstreams', 'GetShardIterator', { StreamArn: table.LatestStreamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' })).ShardIterator;
    await ok('rds', 'CreateDBParameterGroup', { DBParameterGroupName: 'iso-pg', DBParameterGroupFamily: 'postgres15', Description: 'A group' });
    await ok('rds', 'ModifyDBParameterGroup', { DBParameterGroupName: 'iso-pg', 'Parameters.Parameter.1.ParameterName': 'work_mem', 'Parameters.Parameter.1.ParameterValue': '4096', 'Parameters.Parameter.1.ApplyMethod': 'immediate' });
    const defaults = (await ok('rds', 'DescribeDBSubnetGroups', { DBSubnetGroupName: 'default' })).xml as string;
    const subnets = [...defaults.matchAll(/<SubnetIdentifier>(subnet-[0-9a-f]+)<\/SubnetIdentifier>/g)].map((m) => m[1]!);
    await ok('rds', 'CreateDBSubnetGroup', { DBSubnetGroupName: 'iso-subnets', DBSubnetGroupDescription: 'A subnets', 'SubnetIds.SubnetIdentifier.1': subnets[0]!, 'SubnetIds.SubnetIdentifier.2': subnets[1]! });
    await ok('rds', 'CreateOptionGroup', { OptionGroupName: 'iso-og', OptionGroupDescription: 'A options', EngineName: 'postgres', MajorEngineVersion: '15' });
    await ok('rds', 'CreateDBInstance', {
      DBInstanceIdentifier: 'iso-db', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: '20', MasterUsername: 'master',
      MasterUserPassword: 'Passw0rd-iso', Port: String(await freePort()), DBParameterGroupName: 'iso-pg', 'Tags.Tag.1.Key': 'team', 'Tags.Tag.1.Value': 'a',
    });
    // A snapshot of A's: the final snapshot of a second instance.
    await ok('rds', 'CreateDBInstance', {
      DBInstanceIdentifier: 'iso-snapdb', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: '20', MasterUsername: 'master',
      MasterUserPassword: 'Passw0rd-iso', Port: String(await freePort()), BackupRetentionPeriod: '0',
    });
    await waitFor(async () => /<DBInstanceStatus>available</.test((await call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'iso-db' }, A)).text), 'iso-db available', 120_000, 250);
    await waitFor(async () => /<DBInstanceStatus>available</.test((await call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'iso-snapdb' }, A)).text), 'iso-snapdb available', 120_000, 250);
    await ok('rds', 'DeleteDBInstance', { DBInstanceIdentifier: 'iso-snapdb', FinalDBSnapshotIdentifier: 'iso-snap' });
    await waitFor(async () => /<Status>available</.test((await call('rds', 'DescribeDBSnapshots', { DBSnapshotIdentifier: 'iso-snap' }, A)).text), 'iso-snap available', 120_000, 250);
    const dbiResourceId = /<DbiResourceId>([^<]+)</.exec((await ok('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'iso-db' })).xml as string)![1]!;
    fixture = {
      secretArn: secret.ARN,
      keyArn: key.Arn,
      keyId: key.KeyId,
      grantId: grant.GrantId,
      tableArn: table.TableArn,
      streamArn: table.LatestStreamArn,
      shardId,
      shardIterator,
      dbArn: 'arn:aws:rds:us-east-1:111111111111:db:iso-db',
      pgArn: 'arn:aws:rds:us-east-1:111111111111:pg:iso-pg',
      subnetArn: 'arn:aws:rds:us-east-1:111111111111:subgrp:iso-subnets',
      ogArn: 'arn:aws:rds:us-east-1:111111111111:og:iso-og',
      snapshotArn: 'arn:aws:rds:us-east-1:111111111111:snapshot:iso-snap',
      dbiResourceId,
      autoBackupArn: `arn:aws:rds:us-east-1:111111111111:auto-backup:ab-${createHash('sha256').update(dbiResourceId).digest('hex').slice(0, 40)}`,
      alarmArn: 'arn:aws:cloudwatch:us-east-1:111111111111:alarm:iso-alarm',
    };
  });

  after(async () => {
    if (cellar) {
      await call('rds', 'DeleteDBInstance', { DBInstanceIdentifier: 'iso-db', SkipFinalSnapshot: 'true' }, A).catch(() => undefined);
      await cellar.stop();
      removeDir(cellar.dataDir);
    }
  });

  it('every served operation is covered: it addresses A resources here, or it is listed as naming none', () => {
    const missing: string[] = [];
    for (const [svc, ops] of Object.entries(served)) {
      for (const op of ops) if (!TARGETS[svc]?.[op] && !UNSCOPED[svc]?.[op]) missing.push(`${svc} ${op}`);
    }
    assert.deepEqual(missing, [], 'add each new operation to TARGETS (with a request naming A resource) or to UNSCOPED (with why it names none)');
    for (const [svc, ops] of Object.entries(TARGETS)) for (const op of Object.keys(ops)) assert.ok(served[svc]?.includes(op), `${svc} ${op} is listed here but not served`);
  });

  it("account B and A's own other region can neither see nor touch A's resources, by name or by ARN, nor can A through an ARN of another region or partition", async () => {
    const before = await snapshot();
    const failures: string[] = [];
    let attempts = 0;
    const approaches: Array<[Approach, typeof A, string, Form[]]> = [
      ['other-account', B, HOME, ['name', 'arn']],
      ['other-region', A, AWAY, ['name', 'arn']],
      ['arn-of-other-region', A, HOME, ['arn']],
      ['arn-of-other-partition', A, HOME, ['arn']],
    ];
    for (const [svc, ops] of Object.entries(TARGETS)) {
      for (const [op, target] of Object.entries(ops)) {
        for (const [approach, who, region, forms] of approaches) {
          const f = approach === 'arn-of-other-region' || approach === 'arn-of-other-partition' ? misScoped(fixture, approach) : fixture;
          for (const form of forms) {
            const body = target(f, form);
            if (!body) continue;
            attempts++;
            const r = await call(svc, op, body, who, region);
            const expected = expectedCode(svc, op, form, approach);
            // BatchGetSecretValue answers 200 and reports each secret it could not read in Errors, as AWS does.
            const partial = r.status === 200 && Array.isArray(r.json?.Errors) ? r.json : undefined;
            // BatchExecuteStatement likewise answers 200 with the statement's error in Responses.
            const statements = r.status === 200 && Array.isArray(r.json?.Responses) ? (r.json.Responses as Json[]) : undefined;
            const code = partial
              ? (partial.SecretValues.length === 0 && partial.Errors.length === 1 ? String(partial.Errors[0].ErrorCode) : 'returned values')
              : statements
                ? (statements.length === 1 && statements[0]!.Error ? String(statements[0]!.Error.Code) : 'returned values')
                : errorCode(r);
            const refused = partial || statements ? true : r.status >= 400 && r.status < 500;
            if (!refused || code !== expected) failures.push(`${approach} ${svc} ${op} by ${form}: HTTP ${r.status} ${code}, expected ${expected}: ${r.text.slice(0, 160)}`);
          }
        }
      }
    }
    // A ciphertext made under A's key names it: B and A's other region cannot decrypt it, nor re-encrypt it.
    const blob = (await ok('kms', 'Encrypt', { KeyId: fixture.keyId, Plaintext: PLAINTEXT })).CiphertextBlob;
    for (const [who, region] of [[B, HOME], [A, AWAY]] as const) {
      for (const op of ['Decrypt', 'ReEncrypt']) {
        attempts++;
        const body = op === 'Decrypt' ? { CiphertextBlob: blob } : { CiphertextBlob: blob, DestinationKeyId: 'alias/aws/ebs' };
        const r = await call('kms', op, body, who, region);
        if (r.status < 400 || r.status >= 500 || !/^(AccessDeniedException|InvalidCiphertextException|NotFoundException)$/.test(errorCode(r))) failures.push(`kms ${op} of A's ciphertext: HTTP ${r.status} ${r.text.slice(0, 160)}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(attempts > 250, `only ${attempts} attempts`);
    assert.equal(await snapshot(), before, "A's resources changed");
  });

  it("lists show B and A's other region none of A's resources", async () => {
    for (const [who, region] of [[B, HOME], [A, AWAY]] as const) {
      assert.deepEqual((await ok('secretsmanager', 'ListSecrets', {}, who, region)).SecretList, []);
      assert.ok(!(await ok('kms', 'ListKeys', {}, who, region)).Keys.some((k: Json) => k.KeyId === fixture.keyId));
      assert.ok(!(await ok('kms', 'ListAliases', {}, who, region)).Aliases.some((a: Json) => a.AliasName === 'alias/iso'));
      assert.deepEqual((await ok('kms', 'ListRetirableGrants', { RetiringPrincipal: 'arn:aws:iam::111111111111:role/app' }, who, region)).Grants, []);
      assert.deepEqual((await ok('dynamodb', 'ListTables', {}, who, region)).TableNames, []);
      assert.deepEqual((await ok('dynamodbstreams', 'ListStreams', {}, who, region)).Streams, []);
      const rds = (op: string, body: Json = {}) => call('rds', op, body, who, region).then((r) => r.text);
      assert.doesNotMatch(await rds('DescribeDBInstances'), /iso-db/);
      assert.doesNotMatch(await rds('DescribeDBParameterGroups'), /iso-pg/);
      assert.doesNotMatch(await rds('DescribeDBSubnetGroups'), /iso-subnets/);
      assert.doesNotMatch(await rds('DescribeOptionGroups'), /iso-og/);
      assert.doesNotMatch(await rds('DescribeEvents', { SourceType: 'db-instance' }), /iso-db/);
      assert.doesNotMatch(await rds('DescribeDBSnapshots'), /iso-db/);
      // (Each caller has metrics of its own: AWS/Usage counts its own calls.)
      assert.deepEqual((await ok('cloudwatch', 'ListMetrics', { Namespace: 'Iso' }, who, region)).Metrics, []);
      const range = { StartTime: Date.now() / 1000 - 3600, EndTime: Date.now() / 1000 + 60 };
      const orders = { Namespace: 'Iso', MetricName: 'Orders', Dimensions: [{ Name: 'Shop', Value: 'a' }] };
      assert.deepEqual((await ok('cloudwatch', 'GetMetricStatistics', { ...orders, ...range, Period: 60, Statistics: ['Sum'] }, who, region)).Datapoints, []);
      const data = await ok('cloudwatch', 'GetMetricData', { ...range, MetricDataQueries: [{ Id: 'm', MetricStat: { Metric: orders, Period: 60, Stat: 'Sum' } }] }, who, region);
      assert.deepEqual(data.MetricDataResults[0].Values, []);
      assert.deepEqual((await ok('cloudwatch', 'DescribeAlarms', {}, who, region)).MetricAlarms, []);
      assert.deepEqual((await ok('cloudwatch', 'DescribeAlarmsForMetric', { Namespace: 'Iso', MetricName: 'Silent' }, who, region)).MetricAlarms, []);
      assert.deepEqual((await ok('cloudwatch', 'DescribeAlarmHistory', {}, who, region)).AlarmHistoryItems, []);
      await ok('cloudwatch', 'DisableAlarmActions', { AlarmNames: ['iso-alarm'] }, who, region);
      await ok('cloudwatch', 'EnableAlarmActions', { AlarmNames: ['iso-alarm'] }, who, region);
      await ok('cloudwatch', 'DeleteAlarms', { AlarmNames: ['iso-alarm'] }, who, region);
    }
    const alarms = (await ok('cloudwatch', 'DescribeAlarms', { AlarmNames: ['iso-alarm'] })).MetricAlarms;
    assert.equal(alarms.length, 1, "A's alarm survives the others' DeleteAlarms");
    assert.equal(alarms[0].ActionsEnabled, true);
    // A itself sees its metric: the empty answers above are isolation, not a broken read.
    const own = await ok('cloudwatch', 'GetMetricStatistics', { Namespace: 'Iso', MetricName: 'Orders', Dimensions: [{ Name: 'Shop', Value: 'a' }], StartTime: Date.now() / 1000 - 3600, EndTime: Date.now() / 1000 + 60, Period: 60, Statistics: ['Sum'] });
    assert.equal(own.Datapoints[0].Sum, 7);
  });

  it('a credential scope with a region that is not a region name, or for another service, is refused', async () => {
    for (const region of ['..', 'us-east-1/../..', 'US-EAST-1', 'x', 'us-east-1 ']) {
      const r = await jsonCall(cellar.endpoint, 'secretsmanager', 'secretsmanager.ListSecrets', '{}', { ...A, region });
      assert.ok(r.status === 400 || r.status === 403, `${region}: ${r.status}`);
      // A region with a slash breaks the scope's structure itself: that is an incomplete signature.
      assert.equal(errorCode(r), region.includes('/') ? 'IncompleteSignatureException' : 'InvalidSignatureException', `${region}: ${r.text}`);
      assert.equal(r.json.message ?? r.json.Message, 'Credential should be scoped to a valid region. ');
    }
    const q = await queryCall(cellar.endpoint, 'rds', { Action: 'DescribeDBInstances', Version: '2014-10-31' }, { ...A, region: '..' });
    assert.equal(q.status, 403);
    assert.match(q.text, /<Code>SignatureDoesNotMatch<\/Code>/);
    // Signed for KMS, sent to Secrets Manager.
    const wrong = await jsonCall(cellar.endpoint, 'kms', 'secretsmanager.ListSecrets', '{}', A);
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.__type, 'InvalidSignatureException');
    assert.equal(wrong.json.Message, "Credential should be scoped to correct service: 'secretsmanager'. ");
  });
});
