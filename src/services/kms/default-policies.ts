/**
 * @module services/kms/default-policies
 * The key policies KMS gives a key when nobody gives it one: the default policy of a customer managed key, and the
 * policy of an AWS managed key (`aws/<service>`).
 */
import type { KeyRecord } from './records.js';

export function defaultPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
  });
}

/**
 * The key policy AWS gives an AWS managed key (`aws/<service>`): cryptographic use by any principal of the owning
 * account, but only through that service; direct access to the key's metadata for the account.
 */
export function awsManagedPolicy(key: KeyRecord): string {
  const service = key.managedFor ?? 'kms';
  const via = `${service}.${key.region}.amazonaws.com`;
  const sid = `Allow access through ${service} for all principals in the account that are authorized to use ${service}`;
  return JSON.stringify({
    Version: '2012-10-17',
    Id: `auto-${service}-2`,
    Statement: [
      { Sid: sid, Effect: 'Allow', Principal: { AWS: '*' }, Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:CreateGrant', 'kms:DescribeKey'], Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': key.accountId, 'kms:ViaService': via } } },
      { Sid: sid, Effect: 'Allow', Principal: { AWS: '*' }, Action: 'kms:GenerateDataKey*', Resource: '*', Condition: { StringEquals: { 'kms:CallerAccount': key.accountId }, StringLike: { 'kms:ViaService': via } } },
      { Sid: 'Allow direct access to key metadata to the account', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${key.accountId}:root` }, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'], Resource: '*' },
    ],
  });
}
