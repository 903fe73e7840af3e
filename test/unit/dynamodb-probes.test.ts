/**
 * services/dynamodb/probes: each probe's answer for a table's state, and GetResourcePolicy's ResourceArn checks in
 * AWS's order and words (the ack-api-quirks lab's measurements of DynamoDB, DDB-TABLE-212 and -214).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/core/errors.js';
import { describeContinuousBackups, describeContributorInsights, getResourcePolicy, policyTarget, type ProbedTable } from '../../src/services/dynamodb/probes/index.js';
import type { TableMeta } from '../../src/services/dynamodb/tables/schema.js';

const SCOPE = { accountId: '111111111111', region: 'us-west-2' };
const ARN = 'arn:aws:dynamodb:us-west-2:111111111111:table/orders';

function table(status: TableMeta['status'], extra: Partial<TableMeta> = {}): ProbedTable {
  const meta = { name: 'orders', status, indexes: [], stream: undefined, ...extra } as unknown as TableMeta;
  return { name: 'orders', meta };
}

function refused(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ServiceError && e.code === code && e.message === message && e.status === 400);
}

test('DescribeContinuousBackups follows the table through its life', () => {
  assert.equal(describeContinuousBackups(table('CREATING')).ContinuousBackupsDescription?.ContinuousBackupsStatus, 'DISABLED');
  for (const status of ['ACTIVE', 'UPDATING'] as const) {
    assert.deepEqual(describeContinuousBackups(table(status)).ContinuousBackupsDescription, { ContinuousBackupsStatus: 'ENABLED', PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' } });
  }
  refused(() => describeContinuousBackups(table('DELETING')), 'TableNotFoundException', 'Table not found: orders');
  refused(() => describeContinuousBackups({ name: 'orders', meta: undefined }), 'TableNotFoundException', 'Table not found: orders');
});

test('DescribeContributorInsights: a GSI is found, an LSI or an unknown index is not', () => {
  const t = table('ACTIVE', { indexes: [{ name: 'g', global: true }, { name: 'l', global: false }] as unknown as TableMeta['indexes'] });
  assert.deepEqual(describeContributorInsights(t, 'g'), { TableName: 'orders', IndexName: 'g', ContributorInsightsStatus: 'DISABLED' });
  refused(() => describeContributorInsights(t, 'l'), 'ResourceNotFoundException', 'Requested resource not found: Index: l not found for table: orders');
  refused(() => describeContributorInsights(t, 'x'), 'ResourceNotFoundException', 'Requested resource not found: Index: x not found for table: orders');
});

test("GetResourcePolicy's ResourceArn: each form refused in AWS's words", () => {
  const inv = 'One or more parameter values were invalid: ';
  refused(() => policyTarget('orders', SCOPE), 'ValidationException', `${inv}ARNs must start with 'arn:': orders`);
  refused(() => policyTarget('arn:aws:dynamodb:us-west-2:222222222222:table/orders', SCOPE), 'ValidationException', 'This action is only supported by accounts that match the resource owner’s account.');
  refused(() => policyTarget('arn:aws:dynamodb:us-east-1:111111111111:table/orders', SCOPE), 'ValidationException', `${inv}Invalid resource Arn: arn:aws:dynamodb:us-east-1:111111111111:table/orders`);
  refused(() => policyTarget('arn:aws-cn:dynamodb:us-west-2:111111111111:table/orders', SCOPE), 'ValidationException', `${inv}Invalid resource Arn: arn:aws-cn:dynamodb:us-west-2:111111111111:table/orders`);
  refused(() => policyTarget(`${ARN}/index/g`, SCOPE), 'ValidationException', `${inv}Invalid resource arn provided, only table or stream is accepted. Provided resource arn: ${ARN}/index/g`);
  refused(() => policyTarget(`${ARN}/backup/0170`, SCOPE), 'ValidationException', `${inv}Provided Arn is not a DynamoDB resource arn: ${ARN}/backup/0170`);
  assert.deepEqual(policyTarget(ARN, SCOPE), { tableName: 'orders', streamLabel: undefined });
  assert.deepEqual(policyTarget(`${ARN}/stream/2026-10-09T00:29:04.041`, SCOPE), { tableName: 'orders', streamLabel: '2026-10-09T00:29:04.041' });
});

test('GetResourcePolicy: no policy anywhere; a stream ARN must name the current stream', () => {
  const streamed = table('ACTIVE', { stream: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' }, streamLabel: '2026-10-09T00:29:04.041' });
  refused(() => getResourcePolicy(ARN, policyTarget(ARN, SCOPE), streamed), 'PolicyNotFoundException', `Resource-based policy not found for the provided ResourceArn: ${ARN}`);
  const streamArn = `${ARN}/stream/2026-10-09T00:29:04.041`;
  refused(() => getResourcePolicy(streamArn, policyTarget(streamArn, SCOPE), streamed), 'PolicyNotFoundException', `Resource-based policy not found for the provided ResourceArn: ${streamArn}`);
  const bogus = `${ARN}/stream/2000-01-01T00:00:00.000`;
  refused(() => getResourcePolicy(bogus, policyTarget(bogus, SCOPE), streamed), 'ResourceNotFoundException', 'Requested resource not found: Stream: 2000-01-01T00:00:00.000 not found for Table: orders');
  refused(() => getResourcePolicy(ARN, policyTarget(ARN, SCOPE), { name: 'orders', meta: undefined }), 'ResourceNotFoundException', 'Requested resource not found: Table: orders not found');
});
