/**
 * @module services/rds/parameter-groups
 * DB parameter groups: their operations (Create/Copy/Describe/Modify/Reset/DeleteDBParameterGroup,
 * DescribeDBParameters, DescribeEngineDefaultParameters) and the lookups DB instances and tags make of them. A
 * family's default group always exists and cannot be changed; a change to a group reaches its instances through a
 * reconcile (the supervisor's ensureParameters).
 */
import { Scope } from '../../core/scope.js';
import type { RequestContext } from '../../core/context.js';
import type * as api from '../../models/rds.js';
import { classMemoryBytes, INSTANCE_CLASSES, STORAGE_LIMITS_GIB } from './catalog.js';
import { checkMaxRecords, filterValues, paginate, toDBParameterGroup } from './describe.js';
import { blankParameter, dbParameterGroupAlreadyExists, dbParameterGroupNotFound, invalidDBParameterGroupState, invalidParameterCombination, invalidParameterValue } from './errors.js';
import { checkValue, parameterDef, parameterDefs, type FormulaVars } from './parameters.js';
import { scopeKey, type ParameterGroupRecord, type RdsTables } from './records.js';
import type { RdsResources, ReconcileTrigger } from './resources.js';
import { checkIdentifier, checkTags } from './validation.js';

export interface ParameterGroupApiOptions {
  resources: RdsResources;
  memoryScale: number;
  trigger: ReconcileTrigger;
}

const PARAMETER_GROUP_NAME_MAX = 255;
const MODIFY_PARAMETERS_MAX = 20;

export class ParameterGroupApi implements Partial<api.RDSApi> {
  private readonly r: RdsResources;
  private readonly t: RdsTables;

  constructor(private readonly o: ParameterGroupApiOptions) {
    this.r = o.resources;
    this.t = o.resources.tables;
  }

  /** The group an instance names, or its family's default (created on first use, as RDS does). */
  resolveParameterGroup(ctx: RequestContext, name: string | undefined, family: string): ParameterGroupRecord {
    if (name === undefined) return this.defaultParameterGroup(ctx.scope, family);
    const pg = this.parameterGroup(ctx, name);
    if (pg.family !== family) {
      throw invalidParameterCombination(`The parameter group ${pg.name} with DBParameterGroupFamily ${pg.family} can't be used for this instance. Use a parameter group with DBParameterGroupFamily ${family}.`);
    }
    return pg;
  }

  /**
   * A family's default group. RDS's defaults always exist and cannot be changed, so Cellar stores one only once it
   * is tagged (tagging.ts); reading one never writes, so no read, and no refused request, changes stored state.
   */
  defaultParameterGroup(scope: Scope, family: string): ParameterGroupRecord {
    const name = `default.${family}`;
    return this.t.parameterGroups.get(scopeKey(scope, name)) ?? { name, family, description: `Default parameter group for ${family}`, values: {}, tags: [], isDefault: true };
  }

  parameterGroup(ctx: RequestContext, name: string): ParameterGroupRecord {
    const n = name.toLowerCase();
    const m = /^default\.(.+)$/.exec(n);
    if (m && this.families().includes(m[1]!)) return this.defaultParameterGroup(ctx.scope, m[1]!);
    const pg = this.t.parameterGroups.get(scopeKey(ctx.scope, n));
    if (!pg) throw dbParameterGroupNotFound(name);
    return pg;
  }

  families(): string[] {
    return [...new Set(this.r.versions().map((v) => v.family))];
  }

  kindOfFamily(family: string): 'postgres' | 'mariadb' {
    return family.startsWith('postgres') ? 'postgres' : 'mariadb';
  }

  createDBParameterGroup(input: api.CreateDBParameterGroupMessage, ctx: RequestContext): api.CreateDBParameterGroupResult {
    const name = checkIdentifier('DBParameterGroupName', input.DBParameterGroupName, PARAMETER_GROUP_NAME_MAX);
    if (!input.Description) throw blankParameter('Description');
    if (!this.families().includes(input.DBParameterGroupFamily)) {
      throw invalidParameterValue(`ParameterGroupFamily ${input.DBParameterGroupFamily} is not a valid parameter group family`);
    }
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.parameterGroups.get(key) || name.startsWith('default.')) throw dbParameterGroupAlreadyExists(name);
      const pg: ParameterGroupRecord = { name, family: input.DBParameterGroupFamily, description: input.Description, values: {}, tags, isDefault: false };
      this.t.parameterGroups.put(key, pg);
      return { DBParameterGroup: toDBParameterGroup(pg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  copyDBParameterGroup(input: api.CopyDBParameterGroupMessage, ctx: RequestContext): api.CopyDBParameterGroupResult {
    const source = this.parameterGroup(ctx, this.r.idFromArnOrName(ctx, input.SourceDBParameterGroupIdentifier, 'pg'));
    const name = checkIdentifier('TargetDBParameterGroupIdentifier', input.TargetDBParameterGroupIdentifier, PARAMETER_GROUP_NAME_MAX);
    if (!input.TargetDBParameterGroupDescription) throw blankParameter('TargetDBParameterGroupDescription');
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.parameterGroups.get(key) || name.startsWith('default.')) throw dbParameterGroupAlreadyExists(name);
      const pg: ParameterGroupRecord = { name, family: source.family, description: input.TargetDBParameterGroupDescription, values: { ...source.values }, tags, isDefault: false };
      this.t.parameterGroups.put(key, pg);
      return { DBParameterGroup: toDBParameterGroup(pg, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  describeDBParameterGroups(input: api.DescribeDBParameterGroupsMessage, ctx: RequestContext): api.DBParameterGroupsMessage {
    filterValues(input.Filters, []);
    checkMaxRecords(input.MaxRecords);
    const stored = [...this.t.parameterGroups.list(scopeKey(ctx.scope))].map(([, g]) => g);
    const defaults = this.families().map((f) => this.defaultParameterGroup(ctx.scope, f)).filter((d) => !stored.some((g) => g.name === d.name));
    let groups = [...stored, ...defaults].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (input.DBParameterGroupName !== undefined) groups = [this.parameterGroup(ctx, this.r.idFromArnOrName(ctx, input.DBParameterGroupName, 'pg'))];
    const { page, marker } = paginate(groups, (g) => g.name, input.MaxRecords, input.Marker);
    return { DBParameterGroups: page.map((g) => toDBParameterGroup(g, ctx.scope.accountId, ctx.scope.region)), Marker: marker };
  }

  modifyDBParameterGroup(input: api.ModifyDBParameterGroupMessage, ctx: RequestContext): api.DBParameterGroupNameMessage {
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (pg.isDefault) throw invalidParameterValue('Cannot modify a default parameter group.');
    const params = input.Parameters ?? [];
    if (!params.length) throw blankParameter('Parameters');
    if (params.length > MODIFY_PARAMETERS_MAX) throw invalidParameterValue(`You can modify at most ${MODIFY_PARAMETERS_MAX} parameters in one request.`);
    const kind = this.kindOfFamily(pg.family);
    const updates: Record<string, string> = {};
    const contexts = this.formulaContexts();
    for (const p of params) {
      if (!p.ParameterName) throw blankParameter('ParameterName');
      const def = parameterDef(kind, p.ParameterName);
      if (!def) throw invalidParameterValue(`Could not find parameter with name: ${p.ParameterName}`);
      if (!def.modifiable) throw invalidParameterValue(`The parameter ${def.name} cannot be modified.`);
      if (p.ApplyMethod === undefined) throw invalidParameterValue(`The parameter ApplyMethod must be provided and must not be blank.`);
      if (def.applyType === 'static' && p.ApplyMethod === 'immediate') throw invalidParameterCombination('cannot use immediate apply method for static parameter');
      if (p.ParameterValue === undefined) throw invalidParameterValue(`The parameter ParameterValue for ${def.name} must be provided and must not be blank.`);
      const problem = checkValue(def, p.ParameterValue, contexts);
      if (problem) throw invalidParameterValue(problem);
      updates[def.name] = p.ParameterValue;
    }
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, pg.name);
      const cur = this.t.parameterGroups.get(key)!;
      cur.values = { ...cur.values, ...updates };
      this.t.parameterGroups.put(key, cur);
      this.kickMembers(ctx, cur.name);
      return { DBParameterGroupName: cur.name };
    });
  }

  resetDBParameterGroup(input: api.ResetDBParameterGroupMessage, ctx: RequestContext): api.DBParameterGroupNameMessage {
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (pg.isDefault) throw invalidParameterValue('Cannot modify a default parameter group.');
    const kind = this.kindOfFamily(pg.family);
    if (!input.ResetAllParameters && !input.Parameters?.length) throw invalidParameterCombination('Either ResetAllParameters or Parameters must be specified.');
    if (input.ResetAllParameters && input.Parameters?.length) throw invalidParameterCombination('ResetAllParameters and Parameters cannot both be specified.');
    const names = (input.Parameters ?? []).map((p) => {
      const def = p.ParameterName ? parameterDef(kind, p.ParameterName) : undefined;
      if (!def) throw invalidParameterValue(`Could not find parameter with name: ${p.ParameterName ?? ''}`);
      if (def.applyType === 'static' && p.ApplyMethod === 'immediate') throw invalidParameterCombination('cannot use immediate apply method for static parameter');
      return def.name;
    });
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, pg.name);
      const cur = this.t.parameterGroups.get(key)!;
      if (input.ResetAllParameters) cur.values = {};
      else for (const n of names) delete cur.values[n];
      this.t.parameterGroups.put(key, cur);
      this.kickMembers(ctx, cur.name);
      return { DBParameterGroupName: cur.name };
    });
  }

  deleteDBParameterGroup(input: api.DeleteDBParameterGroupMessage, ctx: RequestContext): void {
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (pg.isDefault) throw invalidParameterValue('Cannot delete a default parameter group.');
    this.t.store.transaction(() => {
      const users = this.r.instancesWhere(ctx, (r) => r.parameterGroupName === pg.name);
      if (users.length) throw invalidDBParameterGroupState(`One or more database instances are still members of this parameter group ${pg.name}, so the group cannot be deleted`);
      this.t.parameterGroups.delete(scopeKey(ctx.scope, pg.name));
    });
  }

  describeDBParameters(input: api.DescribeDBParametersMessage, ctx: RequestContext): api.DBParameterGroupDetails {
    filterValues(input.Filters, []);
    const pg = this.parameterGroup(ctx, input.DBParameterGroupName);
    if (input.Source !== undefined && !['user', 'system', 'engine-default'].includes(input.Source)) {
      throw invalidParameterValue(`Invalid value for Source: ${input.Source}. Valid values are user, system, engine-default.`);
    }
    const params = this.parameterList(pg.family, pg.values).filter((p) => input.Source === undefined || p.Source === input.Source);
    const { page, marker } = paginate(params, (p) => p.ParameterName!, input.MaxRecords, input.Marker);
    return { Parameters: page, Marker: marker };
  }

  describeEngineDefaultParameters(input: api.DescribeEngineDefaultParametersMessage): api.DescribeEngineDefaultParametersResult {
    filterValues(input.Filters, []);
    if (!this.families().includes(input.DBParameterGroupFamily)) throw invalidParameterValue(`Invalid DB parameter group family: ${input.DBParameterGroupFamily}`);
    const params = this.parameterList(input.DBParameterGroupFamily, {});
    const { page, marker } = paginate(params, (p) => p.ParameterName!, input.MaxRecords, input.Marker);
    return { EngineDefaults: { DBParameterGroupFamily: input.DBParameterGroupFamily, Parameters: page, Marker: marker } };
  }

  private parameterList(family: string, values: Record<string, string>): api.Parameter[] {
    return [...parameterDefs(this.kindOfFamily(family))]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((d) => ({
        ParameterName: d.name,
        ParameterValue: values[d.name] ?? d.rdsDefault,
        Description: d.description,
        Source: values[d.name] !== undefined ? 'user' : d.rdsDefault !== undefined ? 'system' : 'engine-default',
        ApplyType: d.applyType,
        DataType: d.dataType,
        AllowedValues: d.allowedValues,
        IsModifiable: d.modifiable,
        ApplyMethod: d.applyType === 'static' ? ('pending-reboot' as const) : ('immediate' as const),
      }));
  }

  /**
   * What a parameter formula may be evaluated with: every class Cellar offers (DBInstanceClassMemory as this Cellar
   * gives it), at the smallest and the largest storage. A group can be given to an instance of any class.
   */
  private formulaContexts(): FormulaVars[] {
    return INSTANCE_CLASSES.flatMap((cls) =>
      [STORAGE_LIMITS_GIB.min, STORAGE_LIMITS_GIB.max].map((gib) => ({ DBInstanceClassMemory: classMemoryBytes(cls, this.o.memoryScale), DBInstanceVCPU: cls.vcpu, AllocatedStorage: gib * 1024 ** 3 })),
    );
  }

  private kickMembers(ctx: RequestContext, groupName: string): void {
    for (const r of this.r.instancesWhere(ctx, (m) => m.parameterGroupName === groupName)) this.o.trigger.kick(Scope.ofRecord(r), r.id);
  }
}
