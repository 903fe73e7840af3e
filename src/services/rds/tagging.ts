/**
 * @module services/rds/tagging
 * Tags on any RDS resource an ARN names (AddTagsToResource, RemoveTagsFromResource, ListTagsForResource): DB
 * instances, parameter groups, subnet groups, option groups and snapshots. Tagging a default group stores it.
 */
import { parseArn, PARTITION } from '../../core/scope.js';
import type { RequestContext } from '../../core/context.js';
import type * as api from '../../models/rds.js';
import { filterValues } from './describe.js';
import { invalidParameterValue } from './errors.js';
import type { OptionGroupApi } from './option-groups.js';
import type { ParameterGroupApi } from './parameter-groups.js';
import { scopeKey, type RdsTables, type Tag } from './records.js';
import { notFoundOf, type RdsResources, type ResourceKind } from './resources.js';
import { checkTags } from './validation.js';

export class TagApi implements Partial<api.RDSApi> {
  private readonly t: RdsTables;

  constructor(
    private readonly r: RdsResources,
    /** Default groups exist without being stored: these find them. */
    private readonly parameterGroups: ParameterGroupApi,
    private readonly optionGroups: OptionGroupApi,
  ) {
    this.t = r.tables;
  }

  /** The stored tags of any RDS resource an ARN names, with a setter; RDS's not-found error otherwise. */
  private tagged(ctx: RequestContext, arn: string): { get(): Tag[]; set(tags: Tag[]): void } {
    const m = /^arn:aws[\w-]*:rds:([^:]+):(\d{12}):(db|pg|subgrp|og|snapshot):(.+)$/.exec(arn);
    if (!m) throw invalidParameterValue(`Invalid resource name: ${arn}`);
    const [, , , kind, rawName] = m as unknown as [string, string, string, ResourceKind, string];
    const parsed = parseArn(arn);
    // Another account's or region's resource is not found here: RDS has no resource policies that could share it.
    if (!parsed || parsed.partition !== PARTITION || !ctx.scope.owns(parsed, 'rds')) throw notFoundOf(kind, rawName);
    const name = rawName.toLowerCase();
    const key = scopeKey(ctx.scope, name);
    const table =
      kind === 'db'
        ? this.t.instances
        : kind === 'pg'
          ? this.t.parameterGroups
          : kind === 'subgrp'
            ? this.t.subnetGroups
            : kind === 'og'
              ? this.t.optionGroups
              : this.t.snapshots;
    let rec = (table as { get(k: string): { tags: Tag[] } | undefined }).get(key);
    // Default groups exist without being stored; tagging one stores it (set below).
    if (!rec && kind === 'pg' && name.startsWith('default.')) rec = this.parameterGroups.parameterGroup(ctx, name);
    if (!rec && kind === 'og' && name.startsWith('default:')) rec = this.r.versions().map((v) => this.optionGroups.defaultOptionGroup(ctx.scope, v.engine, v.major)).find((g) => g.name === name);
    if (!rec) throw notFoundOf(kind, rawName);
    const found = rec;
    return {
      get: () => found.tags,
      set: (tags) => {
        found.tags = tags;
        (table as { put(k: string, v: unknown): void }).put(key, found);
      },
    };
  }

  addTagsToResource(input: api.AddTagsToResourceMessage, ctx: RequestContext): void {
    const add = checkTags(input.Tags);
    this.t.store.transaction(() => {
      const r = this.tagged(ctx, input.ResourceName);
      const merged = new Map(r.get().map((t) => [t.Key, t.Value]));
      for (const t of add) merged.set(t.Key, t.Value);
      r.set(checkTags([...merged].map(([Key, Value]) => ({ Key, Value }))));
    });
  }

  removeTagsFromResource(input: api.RemoveTagsFromResourceMessage, ctx: RequestContext): void {
    const remove = new Set(input.TagKeys ?? []);
    this.t.store.transaction(() => {
      const r = this.tagged(ctx, input.ResourceName);
      r.set(r.get().filter((t) => !remove.has(t.Key)));
    });
  }

  listTagsForResource(input: api.ListTagsForResourceMessage, ctx: RequestContext): api.TagListMessage {
    filterValues(input.Filters, []);
    return { TagList: this.tagged(ctx, input.ResourceName).get() };
  }
}
