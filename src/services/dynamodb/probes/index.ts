/**
 * @module services/dynamodb/probes
 * The reads that tools issue about a table besides DescribeTable (Terraform's aws_dynamodb_table after every
 * create, update and refresh; CloudFormation's and the CDK's table handlers; inventory tools), answered truthfully
 * for what Cellar holds: point-in-time recovery is off, Contributor Insights is off, no Kinesis destination, no
 * resource policy, no global table, and no backups, exports, imports or global tables to list.
 *
 * Pure: each function takes what the provider looked up (the table's metadata, or none) and returns the wire
 * output or throws AWS's error. The words of every answer are AWS's, as observed on DynamoDB (docs/dynamodb.md,
 * "What tools probe for", names the sources).
 */
import { ServiceError, validationError } from '../../../core/errors.js';
import { parseArn, PARTITION } from '../../../core/scope.js';
import type {
  DescribeContinuousBackupsOutput, DescribeContributorInsightsOutput, DescribeKinesisStreamingDestinationOutput, ListBackupsOutput,
  ListContributorInsightsOutput, ListExportsOutput, ListGlobalTablesOutput, ListImportsOutput,
} from '../../../models/dynamodb.js';
import type { RequestContext } from '../../../core/context.js';
import type {
  DescribeContinuousBackupsInput, DescribeContributorInsightsInput, DescribeKinesisStreamingDestinationInput, DescribeTableReplicaAutoScalingInput,
  GetResourcePolicyInput, ListContributorInsightsInput,
} from '../../../models/dynamodb.js';
import type { TableMeta } from '../tables/schema.js';

/** What the provider found for a TableName (a name, or an ARN in the caller's account and region). */
export interface ProbedTable {
  /** The table's name as the request gave it (an ARN resolved to its name). */
  name: string;
  meta: TableMeta | undefined;
}

function tableNotFound(name: string): ServiceError {
  return new ServiceError('ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
}

/** A table that exists in some state: DELETING tables still answer these reads until they are gone, as on AWS. */
function existing(t: ProbedTable): TableMeta {
  if (!t.meta) throw tableNotFound(t.name);
  return t.meta;
}

/**
 * DescribeContinuousBackups. Point-in-time recovery is never on (Cellar does not serve UpdateContinuousBackups yet);
 * ContinuousBackupsStatus is ENABLED once the table is ACTIVE, as AWS reports for every table (it reads DISABLED
 * while the table is being created). The backups pair says TableNotFoundException where the other reads say
 * ResourceNotFoundException, and it does so for a DELETING table already.
 */
export function describeContinuousBackups(t: ProbedTable): DescribeContinuousBackupsOutput {
  if (!t.meta || t.meta.status === 'DELETING') throw new ServiceError('TableNotFoundException', `Table not found: ${t.name}`);
  return {
    ContinuousBackupsDescription: {
      ContinuousBackupsStatus: t.meta.status === 'CREATING' ? 'DISABLED' : 'ENABLED',
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' },
    },
  };
}

/**
 * DescribeContributorInsights: never configured reads as DISABLED with no other member. An IndexName must name one
 * of the table's global secondary indexes (a local index, or none, is not found).
 */
export function describeContributorInsights(t: ProbedTable, indexName: string | undefined): DescribeContributorInsightsOutput {
  const meta = existing(t);
  if (indexName !== undefined) {
    if (!meta.indexes.some((i) => i.global && i.name === indexName)) {
      throw new ServiceError('ResourceNotFoundException', `Requested resource not found: Index: ${indexName} not found for table: ${meta.name}`);
    }
    return { TableName: meta.name, IndexName: indexName, ContributorInsightsStatus: 'DISABLED' };
  }
  return { TableName: meta.name, ContributorInsightsStatus: 'DISABLED' };
}

/** ListContributorInsights lists only tables and indexes whose insights are not DISABLED: none. */
export function listContributorInsights(t: ProbedTable | undefined): ListContributorInsightsOutput {
  if (t) existing(t);
  return { ContributorInsightsSummaries: [] };
}

/** DescribeKinesisStreamingDestination: no destination was ever enabled. */
export function describeKinesisStreamingDestination(t: ProbedTable): DescribeKinesisStreamingDestinationOutput {
  const meta = existing(t);
  return { TableName: meta.name, KinesisDataStreamDestinations: [] };
}

/**
 * DescribeTableReplicaAutoScaling answers for global tables only; Cellar's tables are all regional, and AWS answers
 * a regional table as it answers a missing one.
 */
export function describeTableReplicaAutoScaling(tableName: string): never {
  throw new ServiceError('ResourceNotFoundException', `Global table with name: '${tableName}' does not exist.`);
}

/** The parts of a ResourceArn that GetResourcePolicy needs, once it is known to name a table or its stream here. */
export interface PolicyTarget {
  tableName: string;
  /** The stream label, when the ARN names the table's stream. */
  streamLabel: string | undefined;
}

/**
 * Checks a GetResourcePolicy ResourceArn in AWS's order and words: an ARN at all, the caller's own account, this
 * region and partition, a table or a stream (not an index, a backup or an export).
 */
export function policyTarget(resourceArn: string, scope: { accountId: string; region: string }): PolicyTarget {
  const invalid = 'One or more parameter values were invalid: ';
  if (!resourceArn.startsWith('arn:')) throw validationError(`${invalid}ARNs must start with 'arn:': ${resourceArn}`);
  const arn = parseArn(resourceArn);
  if (!arn || arn.service !== 'dynamodb' || !arn.resource.startsWith('table/')) {
    throw validationError(`${invalid}Provided Arn is not a DynamoDB resource arn: ${resourceArn}`);
  }
  if (arn.accountId !== scope.accountId) throw validationError('This action is only supported by accounts that match the resource owner’s account.');
  if (arn.partition !== PARTITION || arn.region !== scope.region) throw validationError(`${invalid}Invalid resource Arn: ${resourceArn}`);
  const parts = arn.resource.split('/');
  if (parts.length === 2 && parts[1]) return { tableName: parts[1], streamLabel: undefined };
  if (parts.length === 4 && parts[1] && parts[2] === 'stream' && parts[3]) return { tableName: parts[1], streamLabel: parts[3] };
  if (parts.length === 4 && parts[2] === 'index') {
    throw validationError(`${invalid}Invalid resource arn provided, only table or stream is accepted. Provided resource arn: ${resourceArn}`);
  }
  throw validationError(`${invalid}Provided Arn is not a DynamoDB resource arn: ${resourceArn}`);
}

/**
 * GetResourcePolicy: Cellar does not serve PutResourcePolicy yet, so no table or stream has a policy. A stream ARN
 * must name the table's latest stream (enabled or not).
 */
export function getResourcePolicy(resourceArn: string, target: PolicyTarget, t: ProbedTable): never {
  const meta = existing(t);
  if (target.streamLabel !== undefined && meta.streamLabel !== target.streamLabel) {
    throw new ServiceError('ResourceNotFoundException', `Requested resource not found: Stream: ${target.streamLabel} not found for Table: ${meta.name}`);
  }
  throw new ServiceError('PolicyNotFoundException', `Resource-based policy not found for the provided ResourceArn: ${resourceArn}`);
}

/** The lists of things Cellar does not make yet: each is empty, which is the truth. */
export function listBackups(): ListBackupsOutput {
  return { BackupSummaries: [] };
}
export function listExports(): ListExportsOutput {
  return { ExportSummaries: [] };
}
export function listImports(): ListImportsOutput {
  return { ImportSummaryList: [] };
}
export function listGlobalTables(): ListGlobalTablesOutput {
  return { GlobalTables: [] };
}

/** What the probes need of the provider: the table a TableName names in the caller's scope. */
export interface TableFinder {
  /** The table's name (an ARN resolved; throws AWS's error for an ARN of another account or a malformed one). */
  tableName(ctx: RequestContext, nameOrArn: string): string;
  lookup(ctx: RequestContext, name: string): { meta: TableMeta } | undefined;
}

/** The probe operations, as the provider serves them (one call each from provider.ts). */
export class TableProbes {
  constructor(private readonly tables: TableFinder) {}

  /** The table a probe names, or none (an ARN of another region names none). */
  private find(ctx: RequestContext, nameOrArn: string): ProbedTable {
    let name: string;
    try {
      name = this.tables.tableName(ctx, nameOrArn);
    } catch (e) {
      if (e instanceof ServiceError && e.code === 'ResourceNotFoundException') return { name: nameOrArn, meta: undefined };
      throw e;
    }
    return { name, meta: this.tables.lookup(ctx, name)?.meta };
  }

  describeContinuousBackups(input: DescribeContinuousBackupsInput, ctx: RequestContext): DescribeContinuousBackupsOutput {
    return describeContinuousBackups(this.find(ctx, input.TableName));
  }
  describeContributorInsights(input: DescribeContributorInsightsInput, ctx: RequestContext): DescribeContributorInsightsOutput {
    return describeContributorInsights(this.find(ctx, input.TableName), input.IndexName);
  }
  listContributorInsights(input: ListContributorInsightsInput, ctx: RequestContext): ListContributorInsightsOutput {
    return listContributorInsights(input.TableName === undefined ? undefined : this.find(ctx, input.TableName));
  }
  describeKinesisStreamingDestination(input: DescribeKinesisStreamingDestinationInput, ctx: RequestContext): DescribeKinesisStreamingDestinationOutput {
    return describeKinesisStreamingDestination(this.find(ctx, input.TableName));
  }
  describeTableReplicaAutoScaling(input: DescribeTableReplicaAutoScalingInput, ctx: RequestContext): never {
    return describeTableReplicaAutoScaling(this.find(ctx, input.TableName).name);
  }
  getResourcePolicy(input: GetResourcePolicyInput, ctx: RequestContext): never {
    const target = policyTarget(input.ResourceArn, ctx.scope);
    return getResourcePolicy(input.ResourceArn, target, this.find(ctx, target.tableName));
  }
}
