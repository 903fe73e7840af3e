/**
 * @module services/dynamodb/ttl/time-to-live
 * DynamoDB Time to Live: UpdateTimeToLive and DescribeTimeToLive, the expiry index that tracks when
 * each item expires (expiry-index.ts), the walks that add a table's existing items to that index when
 * TTL is enabled (or take them out when it is disabled), and the sweeper (sweeper.ts) that deletes
 * expired items through the provider's one write path.
 *
 * As AWS answers: UpdateTimeToLive echoes the request's TimeToLiveSpecification; DescribeTimeToLive
 * shows ENABLED with the attribute, or DISABLED without one (a disabled table and one never configured
 * read the same). AWS's ENABLING and DISABLING were never observed at one-second polling, so the settled
 * status is shown at once while the walk runs in the background. A second change within the change
 * interval (AWS documents one hour) is refused, after the checks of the request's content.
 */
import type { RequestContext } from '../../../core/context.js';
import { ServiceError, validationError } from '../../../core/errors.js';
import { faultPoint } from '../../../core/faults.js';
import { log } from '../../../core/log.js';
import type { Keyspace } from '../../../storage/store.js';
import { prefixEnd } from '../../../storage/store.js';
import type { DescribeTimeToLiveInput, DescribeTimeToLiveOutput, UpdateTimeToLiveInput, UpdateTimeToLiveOutput } from '../../../models/dynamodb.js';
import type { Item } from '../attributes.js';
import { itemValueJson, namespacePrefix } from '../keycodec.js';
import type { ItemStore, TableState } from '../tables/state.js';
import { ExpiryIndex } from './expiry-index.js';
import type { TimeToLiveMeta } from '../tables/schema.js';
import { Sweeper } from './sweeper.js';

export interface TimeToLiveOptions {
  /** How long after a change UpdateTimeToLive refuses another (AWS: one hour). */
  changeIntervalMs?: number;
  /** How often the sweeper looks for expired items. */
  sweepIntervalMs?: number;
  /** Items read per step of a walk over a table's items (one step per event-loop turn). */
  walkBatch?: number;
}

/** AWS documents one hour between changes ("It can take up to one hour for the change to fully process"). */
export const DEFAULT_CHANGE_INTERVAL_MS = 3_600_000;
export const DEFAULT_SWEEP_INTERVAL_MS = 1_000;
const DEFAULT_WALK_BATCH = 500;
/** Tries of one walk step before the walk is left for the next start. */
const WALK_ATTEMPTS = 3;

function notFound(name: string): ServiceError {
  return new ServiceError('ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
}

export class TimeToLive {
  readonly index: ExpiryIndex;
  private readonly changeIntervalMs: number;
  private readonly walkBatch: number;
  private readonly sweeper: Sweeper;
  /** Walks scheduled or running, by table metadata key. */
  private readonly walking = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout | NodeJS.Immediate>();
  private closed = false;

  constructor(
    private readonly provider: ItemStore,
    options: TimeToLiveOptions = {},
  ) {
    this.changeIntervalMs = options.changeIntervalMs ?? DEFAULT_CHANGE_INTERVAL_MS;
    this.walkBatch = options.walkBatch ?? DEFAULT_WALK_BATCH;
    const space: Keyspace = provider.store.keyspace('ddb_ttl');
    this.index = new ExpiryIndex(space, (t) => provider.metaKey(t.meta, t.meta.name));
    provider.addWriteObserver(this.index);
    this.sweeper = new Sweeper(provider, this.index, options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.resumeWalks();
  }

  close(): void {
    this.closed = true;
    this.sweeper.close();
    for (const t of this.timers) {
      clearTimeout(t as NodeJS.Timeout);
      clearImmediate(t as NodeJS.Immediate);
    }
    this.timers.clear();
  }

  // ------------------------------------------------------------------ operations

  updateTimeToLive(input: UpdateTimeToLiveInput, ctx: RequestContext): UpdateTimeToLiveOutput {
    const spec = input.TimeToLiveSpecification;
    const enable = spec.Enabled;
    const attributeName = spec.AttributeName;
    const t = this.table(ctx, input.TableName);
    if (t.meta.status === 'CREATING') {
      throw new ServiceError('ResourceInUseException', `Attempt to change a resource which is still in use: Table is being created: ${t.meta.name}`);
    }
    const current = t.meta.timeToLive;
    const active = current?.enabled === true;
    // The request's content is checked before the change interval, as AWS does.
    if (active && current.attributeName !== attributeName) {
      throw validationError(`TimeToLive is active on a different AttributeName: current AttributeName is ${current.attributeName}`);
    }
    if (enable && active) throw validationError('TimeToLive is already enabled');
    if (!enable && !active) throw validationError('TimeToLive is already disabled');
    const now = ctx.clock.now();
    if (current && now - current.changedAtMs < this.changeIntervalMs) {
      throw validationError('Time to live has been modified multiple times within a fixed interval');
    }
    const next: TimeToLiveMeta = {
      enabled: enable,
      attributeName: enable ? attributeName : undefined,
      changedAtMs: now,
      walk: { attributeName, adding: enable },
    };
    const before = t.meta.timeToLive;
    t.meta.timeToLive = next;
    try {
      this.provider.store.transaction(() => this.provider.saveMeta(t.meta));
    } catch (e) {
      t.meta.timeToLive = before;
      throw e;
    }
    this.scheduleWalk(this.provider.metaKey(t.meta, t.meta.name));
    return { TimeToLiveSpecification: { Enabled: enable, AttributeName: attributeName } };
  }

  describeTimeToLive(input: DescribeTimeToLiveInput, ctx: RequestContext): DescribeTimeToLiveOutput {
    const name = this.provider.tableName(ctx, input.TableName);
    const t = this.provider.lookup(ctx, name);
    if (!t) throw notFound(name);
    // AWS refuses the read while the table is created or deleted (UpdateTimeToLive finds a DELETING table gone).
    if (t.meta.status === 'CREATING' || t.meta.status === 'DELETING') throw validationError(`Cannot describe time to live while table is in ${t.meta.status} state`);
    const m = t.meta.timeToLive;
    if (m?.enabled && m.attributeName !== undefined) return { TimeToLiveDescription: { TimeToLiveStatus: 'ENABLED', AttributeName: m.attributeName } };
    return { TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } };
  }

  /** The table UpdateTimeToLive names (a name, or an ARN in the caller's account and region); a DELETING table is gone already. */
  private table(ctx: RequestContext, nameOrArn: string): TableState {
    const name = this.provider.tableName(ctx, nameOrArn);
    const t = this.provider.lookup(ctx, name);
    if (!t || t.meta.status === 'DELETING') throw notFound(name);
    return t;
  }

  // ------------------------------------------------------------------ walks over existing items

  /** Finds walks a stop interrupted (their position is stored with the table) and resumes them. Never throws. */
  private resumeWalks(): void {
    const meta = this.provider.store.keyspace('ddb_meta');
    const prefix = Buffer.from('t\u0000');
    const end = prefixEnd(prefix)!;
    try {
      for (const [k, v] of meta.scan({ gte: prefix, lt: end })) {
        // A cheap test first: most tables have no walk in progress.
        if (!v.includes('"walk"')) continue;
        this.scheduleWalk(k.toString('utf8'));
      }
    } catch (e) {
      log('error', 'dynamodb could not look for interrupted time to live work', { error: (e as Error).message });
    }
  }

  private scheduleWalk(tableKey: string): void {
    if (this.closed || this.walking.has(tableKey)) return;
    this.walking.add(tableKey);
    this.walkStep(tableKey, 1);
  }

  /**
   * One step of a table's walk, then the next on a later event-loop turn: walkBatch items are read and
   * their expiry entries added (or removed), and the position is stored with the table in the same
   * transaction, so a restart resumes where the last committed step ended. The walk reads its target
   * from the table's metadata at every step: a new UpdateTimeToLive restarts it from the first item.
   * A step that throws is retried, then the walk is left to the next start: never the process.
   */
  private walkStep(tableKey: string, attempt: number): void {
    const run = (): void => {
      this.timers.delete(handle);
      if (this.closed) return;
      let more = false;
      try {
        faultPoint('dynamodb.ttl-walk');
        more = this.walkOnce(tableKey);
      } catch (e) {
        if (attempt < WALK_ATTEMPTS) {
          log('warn', 'dynamodb time to live walk step failed; retrying', { table: tableKey.replace(/\u0000/g, '/'), attempt, error: (e as Error).message });
          this.walkStep(tableKey, attempt + 1);
        } else {
          log('error', 'dynamodb time to live walk failed; resumed at the next start', { table: tableKey.replace(/\u0000/g, '/'), error: (e as Error).message });
          this.walking.delete(tableKey);
        }
        return;
      }
      if (more) this.walkStep(tableKey, 1);
      else this.walking.delete(tableKey);
    };
    const handle: NodeJS.Timeout | NodeJS.Immediate = attempt === 1 ? setImmediate(run) : setTimeout(run, 100 * 2 ** attempt);
    this.timers.add(handle);
  }

  /** Runs one step; true when the walk has more to do. */
  private walkOnce(tableKey: string): boolean {
    const t = this.provider.tableAt(tableKey);
    const walk = t?.meta.timeToLive?.walk;
    if (!t || !walk || t.meta.status === 'DELETING') return false;
    const prefix = namespacePrefix(t.meta.ns);
    const after = walk.afterHex !== undefined ? Buffer.from(walk.afterHex, 'hex') : undefined;
    const batch = [...this.provider.items.scan({ ...(after ? { gt: after } : { gte: prefix }), lt: prefixEnd(prefix)!, limit: this.walkBatch })];
    const done = batch.length < this.walkBatch;
    // The new position is stored with the step's entries and takes effect in memory once they commit.
    const next: TimeToLiveMeta = { ...t.meta.timeToLive! };
    if (done) delete next.walk;
    else next.walk = { ...walk, afterHex: batch[batch.length - 1]![0].toString('hex') };
    this.provider.store.transaction(() => {
      for (const [k, v] of batch) {
        const item = JSON.parse(itemValueJson(v)) as Item;
        this.index.reconcileItem(t, k, item, walk.attributeName, walk.adding);
      }
      this.provider.saveMeta({ ...t.meta, timeToLive: next });
    });
    t.meta.timeToLive = next;
    return !done;
  }
}
