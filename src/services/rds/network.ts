/**
 * @module services/rds/network
 * The default network RDS shows an account that has not built one: a default VPC, one default subnet
 * per availability zone, the default VPC security group, and the `default` DB subnet group made of
 * those subnets. Cellar has no EC2, so the ids are derived from (account, region) and stay the same
 * across restarts; a subnet id is accepted in a subnet group if it has the `subnet-` shape, and its
 * availability zone is derived the same way.
 */
import { createHash } from 'node:crypto';

function hex(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

export function defaultVpcId(accountId: string, region: string): string {
  return `vpc-${hex(`vpc/${accountId}/${region}`, 17)}`;
}

export function defaultSecurityGroupId(accountId: string, region: string): string {
  return `sg-${hex(`sg/${accountId}/${region}`, 17)}`;
}

/** The availability zones Cellar reports for a region: a, b and c, as most regions have. */
export function availabilityZones(region: string): string[] {
  return ['a', 'b', 'c'].map((s) => `${region}${s}`);
}

export function defaultSubnets(accountId: string, region: string): Array<{ id: string; az: string }> {
  return availabilityZones(region).map((az) => ({ id: `subnet-${hex(`subnet/${accountId}/${az}`, 17)}`, az }));
}

/** A subnet the caller names: its AZ is one of the region's, picked stably from its id. */
export function subnetAz(accountId: string, region: string, subnetId: string): string {
  const known = defaultSubnets(accountId, region).find((s) => s.id === subnetId);
  if (known) return known.az;
  const azs = availabilityZones(region);
  return azs[parseInt(hex(subnetId, 4), 16) % azs.length]!;
}

export const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;
export const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8,17}$/;
