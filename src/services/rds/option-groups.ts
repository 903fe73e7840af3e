/**
 * @module services/rds/option-groups
 * Option groups (Create/Delete/DescribeOptionGroups) and the lookups DB instances and tags make of them. Each engine
 * major version has a default group that always exists; Cellar offers no options in them.
 */
import type { Scope } from '../../core/scope.js';
import type { RequestContext } from '../../core/context.js';
import type * as api from '../../models/rds.js';
import type { RdsEngine } from './catalog.js';
import { filterValues, paginate, toOptionGroup } from './describe.js';
import { blankParameter, invalidOptionGroupState, invalidParameterCombination, invalidParameterValue, optionGroupAlreadyExists, optionGroupNotFound } from './errors.js';
import { scopeKey, type OptionGroupRecord, type RdsTables } from './records.js';
import type { RdsResources } from './resources.js';
import { checkIdentifier, checkTags } from './validation.js';

export class OptionGroupApi implements Partial<api.RDSApi> {
  private readonly t: RdsTables;

  constructor(private readonly r: RdsResources) {
    this.t = r.tables;
  }

  defaultOptionGroupName(engine: string, major: string): string {
    return `default:${engine}-${major.replace(/\./g, '-')}`;
  }

  resolveOptionGroup(ctx: RequestContext, name: string | undefined, engine: RdsEngine, major: string): OptionGroupRecord {
    if (name === undefined || name === this.defaultOptionGroupName(engine, major)) return this.defaultOptionGroup(ctx.scope, engine, major);
    const og = this.t.optionGroups.get(scopeKey(ctx.scope, name.toLowerCase()));
    if (!og) throw optionGroupNotFound(name);
    if (og.engineName !== engine || og.majorEngineVersion !== major) {
      throw invalidParameterCombination(`The option group ${og.name} is for ${og.engineName} ${og.majorEngineVersion} and can't be used with ${engine} ${major}.`);
    }
    return og;
  }

  /** An engine version's default option group: stored only once tagged, as default parameter groups are. */
  defaultOptionGroup(scope: Scope, engine: string, major: string): OptionGroupRecord {
    const name = this.defaultOptionGroupName(engine, major);
    return this.t.optionGroups.get(scopeKey(scope, name)) ?? { name, description: `Default option group for ${engine} ${major}`, engineName: engine, majorEngineVersion: major, tags: [], isDefault: true };
  }

  createOptionGroup(input: api.CreateOptionGroupMessage, ctx: RequestContext): api.CreateOptionGroupResult {
    const name = checkIdentifier('OptionGroupName', input.OptionGroupName, 255);
    if (!input.OptionGroupDescription) throw blankParameter('OptionGroupDescription');
    const engine = this.r.checkEngine(input.EngineName);
    if (!this.r.versions().some((v) => v.engine === engine && v.major === input.MajorEngineVersion)) {
      throw invalidParameterCombination(`Cannot find major version ${input.MajorEngineVersion} for ${engine}`);
    }
    const tags = checkTags(input.Tags);
    return this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      if (this.t.optionGroups.get(key)) throw optionGroupAlreadyExists(name);
      const og: OptionGroupRecord = { name, description: input.OptionGroupDescription, engineName: engine, majorEngineVersion: input.MajorEngineVersion, tags, isDefault: false };
      this.t.optionGroups.put(key, og);
      return { OptionGroup: toOptionGroup(og, ctx.scope.accountId, ctx.scope.region) };
    });
  }

  deleteOptionGroup(input: api.DeleteOptionGroupMessage, ctx: RequestContext): void {
    const name = input.OptionGroupName.toLowerCase();
    if (this.r.versions().some((v) => this.defaultOptionGroupName(v.engine, v.major) === name)) throw invalidParameterValue('Default option groups cannot be deleted.');
    this.t.store.transaction(() => {
      const key = scopeKey(ctx.scope, name);
      const og = this.t.optionGroups.get(key);
      if (!og) throw optionGroupNotFound(input.OptionGroupName);
      if (og.isDefault) throw invalidParameterValue('Default option groups cannot be deleted.');
      if (this.r.instancesWhere(ctx, (r) => r.optionGroupName === name).length) throw invalidOptionGroupState(`The option group '${name}' cannot be deleted because it is in use.`);
      this.t.optionGroups.delete(key);
    });
  }

  describeOptionGroups(input: api.DescribeOptionGroupsMessage, ctx: RequestContext): api.OptionGroups {
    filterValues(input.Filters, []);
    const stored = [...this.t.optionGroups.list(scopeKey(ctx.scope))].map(([, g]) => g);
    const defaults = [...new Map(this.r.versions().map((v) => [this.defaultOptionGroupName(v.engine, v.major), this.defaultOptionGroup(ctx.scope, v.engine, v.major)])).values()].filter((d) => !stored.some((g) => g.name === d.name));
    let groups = [...stored, ...defaults].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (input.OptionGroupName !== undefined) {
      groups = groups.filter((g) => g.name === input.OptionGroupName!.toLowerCase());
      if (!groups.length) throw optionGroupNotFound(input.OptionGroupName);
    }
    if (input.EngineName !== undefined) groups = groups.filter((g) => g.engineName === input.EngineName);
    if (input.MajorEngineVersion !== undefined) groups = groups.filter((g) => g.majorEngineVersion === input.MajorEngineVersion);
    const { page, marker } = paginate(groups, (g) => g.name, input.MaxRecords, input.Marker);
    return { OptionGroupsList: page.map((g) => toOptionGroup(g, ctx.scope.accountId, ctx.scope.region)), Marker: marker };
  }
}
