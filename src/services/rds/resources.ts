/**
 * @module services/rds/resources
 * What every module of RDS's API reads (provider.ts for DB instances; parameter-groups.ts, subnet-groups.ts,
 * option-groups.ts, tagging.ts, describe-events.ts, engine-versions.ts and backups/api.ts beside it): the engine
 * versions this host has installed, identifiers as requests give them (a name, or an ARN checked against the caller's
 * scope), and the instances of a scope. A leaf under those modules, so none of them imports another to read these.
 */
import { parseArn, type Scope } from '../../core/scope.js';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { engineVersions, type EngineVersionInfo, type InstalledEngine, type RdsEngine } from './catalog.js';
import { blankParameter, dbInstanceNotFound, dbParameterGroupNotFound, dbSubnetGroupNotFound, invalidParameterValue, optionGroupNotFound } from './errors.js';
import { scopeKey, type InstanceRecord, type RdsTables } from './records.js';

/** What the API asks of the background side (supervisor.ts): a reconcile of an instance whose desired state moved. */
export interface ReconcileTrigger {
  kick(scope: Scope, id: string): void;
}

/** The kinds of resource an RDS ARN names (`arn:aws:rds:<region>:<account>:<kind>:<name>`) that Cellar serves. */
export type ResourceKind = 'db' | 'pg' | 'snapshot' | 'subgrp' | 'og';

const RDS_ENGINES: readonly RdsEngine[] = ['postgres', 'mariadb', 'mysql'];

export class RdsResources {
  constructor(
    readonly tables: RdsTables,
    private readonly installed: () => readonly InstalledEngine[],
  ) {}

  versions(): EngineVersionInfo[] {
    return engineVersions(this.installed());
  }

  /**
   * The identifier a parameter names, as a name or as an ARN. An ARN must be an RDS ARN of this partition, of the
   * kind asked for, and of the caller's own account and region (core/scope.ts): another scope's resource is not
   * found here, as RDS answers (it has no resource policies that could share it).
   */
  idFromArnOrName(ctx: RequestContext, value: string, kind: ResourceKind): string {
    if (!value.startsWith('arn:')) return value.toLowerCase();
    const arn = parseArn(value);
    const sep = arn ? arn.resource.indexOf(':') : -1;
    if (!arn || arn.service !== 'rds' || sep < 0 || arn.resource.slice(0, sep) !== kind) throw invalidParameterValue(`Invalid resource name: ${value}`);
    // Another partition's, account's or region's resource is not found here (the tagging operations answer the same).
    if (!ctx.scope.owns(arn, 'rds')) throw notFoundOf(kind, value);
    return arn.resource.slice(sep + 1).toLowerCase();
  }

  checkEngine(engine: string | undefined): RdsEngine {
    if (!engine) throw blankParameter('Engine');
    const e = engine.toLowerCase();
    if (!(RDS_ENGINES as readonly string[]).includes(e)) throw invalidParameterValue('Invalid DB engine');
    return e as RdsEngine;
  }

  /** The caller's instances that pred accepts (the members of a group, say). */
  instancesWhere(ctx: RequestContext, pred: (r: InstanceRecord) => boolean): InstanceRecord[] {
    return [...this.tables.instances.list(scopeKey(ctx.scope))].map(([, r]) => r).filter(pred);
  }
}

/** RDS's not-found error for a kind of resource. */
export function notFoundOf(kind: ResourceKind, name: string): ServiceError {
  switch (kind) {
    case 'db':
      return dbInstanceNotFound(name);
    case 'pg':
      return dbParameterGroupNotFound(name);
    case 'subgrp':
      return dbSubnetGroupNotFound(name);
    case 'og':
      return optionGroupNotFound(name);
    default:
      return new ServiceError('DBSnapshotNotFound', `DBSnapshot ${name} not found.`, { status: 404 });
  }
}
