/**
 * @module services/rds/subnet-groups
 * Where DB instances are placed: DB subnet groups (Create/Modify/Delete/DescribeDBSubnetGroups; the `default` group
 * of the account's default VPC always exists) and the one DB security group a VPC account has (DescribeDBSecurityGroups).
 * The VPC, its subnets and their availability zones are derived from the scope (network.ts).
 */
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import type * as api from '../../models/rds.js';
import { filterValues, paginate, toDBSubnetGroup } from './describe.js';
import { blankParameter, dbSecurityGroupNotFound, dbSubnetGroupAlreadyExists, dbSubnetGroupNotFound, invalidDBSubnetGroupState, invalidParameterValue } from './errors.js';
import { defaultSecurityGroupId, defaultSubnets, defaultVpcId, SUBNET_ID, subnetAz } from './network.js';
import { scopeKey, type RdsTables, type SubnetGroupRecord } from './records.js';
import type { RdsResources } from './resources.js';
import { checkTags } from './validation.js';

export class SubnetGroupApi implements Partial<api.RDSApi> {
  private readonly t: RdsTables;

  constructor(private readonly r: RdsResources) {
    this.t = r.tables;
  }

  defaultSubnetGroup(accountId: string, region: string): SubnetGroupRecord {
    return { name: 'default', description: 'default', vpcId: defaultVpcId(accountId, region), subnets: defaultSubnets(accountId, region), tags: [] };
  }

  resolveSubnetGroup(ctx: RequestContext, name: string | undefined): SubnetGroupRecord {
    if (name === undefined || name.toLowerCase() === 'default') return this.defaultSubnetGroup(ctx.scope.accountId, ctx.scope.region);
    const sg = this.t.subnetGroups.get(scopeKey(ctx.scope, name.toLowerCase()));
    if (!sg) throw dbSubnetGroupNotFound(name);
    return sg;
  }

  private checkSubnets(ctx: RequestContext, ids: string[] | undefined): Array<{ id: string; az: string }> {
    if (!ids?.length) throw blankParameter('SubnetIds');
    const subnets = ids.map((id) => {
      if (!SUBNET_ID.test(id)) throw new ServiceError('InvalidSubnet', `Some input subnets in :[${ids.join(', ')}] are invalid.`);
      return { id, az: subnetAz(ctx.scope.accountId, ctx.scope.region, id) };
    });
    if (new Set(subnets.map((s) => s.az)).size < 2) {
      throw new ServiceError('DBSubnetGroupDoesNotCoverEnoughAZs', 'The DB subnet group doesn\'t meet Availability Zone (AZ) coverage requirement. Current AZ coverage: ' + [...new Set(subnets.map((s) => s.az))].join(', ') + '. Add subnets to cover at least 2 AZs.');
    }
    return subnets;
  }

  createDBSubnetGroup(input: api.CreateDBSubnetGroupMessage, ctx: RequestContext): api.CreateDBSubnetGroupResult {
    const name = input.DBSubnetGroupName?.toLowerCase();
    if (!name) throw blankParameter('DBSubnetGroupName');
    if (name === 'default' || !/^[a-z0-9 ._-]{1,255}$/.test(name)) throw invalidParameterValue(`The parameter DBSubnetGroupName is not a valid identifier: ${input.DBSubnetGroupName}`);
    if (!input.DBSubnetGroupDescription) throw blankParameter('DBSubnetGroupDescription');
    const subnets = this.checkSubnets(ctx, input.SubnetIds);
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.subnetGroups.get(key)) throw dbSubnetGroupAlreadyExists(name);
      const sg: SubnetGroupRecord = { name, description: input.DBSubnetGroupDescription, vpcId: defaultVpcId(ctx.scope.accountId, ctx.scope.region), subnets, tags };
      this.t.subnetGroups.put(key, sg);
      return { DBSubnetGroup: toDBSubnetGroup(sg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  modifyDBSubnetGroup(input: api.ModifyDBSubnetGroupMessage, ctx: RequestContext): api.ModifyDBSubnetGroupResult {
    const key = scopeKey(ctx.scope, input.DBSubnetGroupName.toLowerCase());
    const subnets = this.checkSubnets(ctx, input.SubnetIds);
    return this.t.store.transaction(() => {
      const sg = this.t.subnetGroups.get(key);
      if (!sg) throw dbSubnetGroupNotFound(input.DBSubnetGroupName);
      sg.subnets = subnets;
      if (input.DBSubnetGroupDescription !== undefined) sg.description = input.DBSubnetGroupDescription;
      this.t.subnetGroups.put(key, sg);
      return { DBSubnetGroup: toDBSubnetGroup(sg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  deleteDBSubnetGroup(input: api.DeleteDBSubnetGroupMessage, ctx: RequestContext): void {
    const name = input.DBSubnetGroupName.toLowerCase();
    if (name === 'default') throw invalidDBSubnetGroupState('Cannot delete default DB subnet group');
    this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (!this.t.subnetGroups.get(key)) throw dbSubnetGroupNotFound(input.DBSubnetGroupName);
      if (this.r.instancesWhere(ctx, (r) => r.subnetGroupName === name).length) throw invalidDBSubnetGroupState(`Cannot delete the subnet group '${name}' because at least one database instance: is still using it.`);
      this.t.subnetGroups.delete(key);
    });
  }

  describeDBSubnetGroups(input: api.DescribeDBSubnetGroupsMessage, ctx: RequestContext): api.DBSubnetGroupMessage {
    filterValues(input.Filters, []);
    let groups = [this.defaultSubnetGroup(ctx.scope.accountId, ctx.scope.region), ...[...this.t.subnetGroups.list(scopeKey(ctx.scope))].map(([, g]) => g)];
    if (input.DBSubnetGroupName !== undefined) {
      const n = input.DBSubnetGroupName.toLowerCase();
      groups = groups.filter((g) => g.name === n);
      if (!groups.length) throw dbSubnetGroupNotFound(input.DBSubnetGroupName);
    }
    const { page, marker } = paginate(groups, (g) => g.name, input.MaxRecords, input.Marker);
    return { DBSubnetGroups: page.map((g) => toDBSubnetGroup(g, ctx.scope.accountId, ctx.scope.region)), Marker: marker };
  }

  describeDBSecurityGroups(input: api.DescribeDBSecurityGroupsMessage, ctx: RequestContext): api.DBSecurityGroupMessage {
    filterValues(input.Filters, []);
    // A VPC account has one DB security group, `default`, as RDS shows it.
    const group: api.DBSecurityGroup = {
      OwnerId: ctx.scope.accountId,
      DBSecurityGroupName: 'default',
      DBSecurityGroupDescription: 'default',
      VpcId: defaultVpcId(ctx.scope.accountId, ctx.scope.region),
      EC2SecurityGroups: [{ Status: 'authorized', EC2SecurityGroupId: defaultSecurityGroupId(ctx.scope.accountId, ctx.scope.region), EC2SecurityGroupName: 'default', EC2SecurityGroupOwnerId: ctx.scope.accountId }],
      IPRanges: [],
      DBSecurityGroupArn: `arn:aws:rds:${ctx.scope.region}:${ctx.scope.accountId}:secgrp:default`,
    };
    if (input.DBSecurityGroupName !== undefined && input.DBSecurityGroupName !== 'default') throw dbSecurityGroupNotFound(input.DBSecurityGroupName);
    return { DBSecurityGroups: [group] };
  }
}
