/**
 * @module services/rds/describe-events
 * DescribeEvents (the events status.ts and backups/events.ts recorded, kept RDS's 14 days) and
 * DescribeEventCategories.
 */
import type { RequestContext } from '../../core/context.js';
import type * as api from '../../models/rds.js';
import { BACKUP_CATEGORIES } from './backups/events.js';
import { filterValues, paginate, toEvent } from './describe.js';
import { invalidParameterValue } from './errors.js';
import { scopeKey, type RdsTables } from './records.js';

export class EventApi implements Partial<api.RDSApi> {
  constructor(private readonly t: RdsTables) {}

  describeEvents(input: api.DescribeEventsMessage, ctx: RequestContext): api.EventsMessage {
    filterValues(input.Filters, []);
    const now = ctx.clock.now();
    if (input.Duration !== undefined && (input.Duration < 0 || input.Duration > 20160)) throw invalidParameterValue('Duration must be between 0 and 20160 minutes.');
    const end = input.EndTime?.getTime() ?? now;
    const start = input.StartTime?.getTime() ?? (input.EndTime ? end : now) - (input.Duration ?? 60) * 60_000;
    const categories = input.EventCategories?.length ? new Set(input.EventCategories) : undefined;
    const sourceId = input.SourceIdentifier?.toLowerCase();
    const items = [...this.t.events.list(scopeKey(ctx.scope))]
      .filter(([, e]) => e.dateMs >= start && e.dateMs <= end)
      .filter(([, e]) => input.SourceType === undefined || e.sourceType === input.SourceType)
      .filter(([, e]) => sourceId === undefined || e.sourceId === sourceId)
      .filter(([, e]) => !categories || e.categories.some((c) => categories.has(c)));
    const { page, marker } = paginate(items, ([k]) => k, input.MaxRecords, input.Marker);
    return { Events: page.map(([, e]) => toEvent(e)), Marker: marker };
  }

  describeEventCategories(input: api.DescribeEventCategoriesMessage): api.EventCategoriesMessage {
    const instance = [...new Set(['availability', 'configuration change', 'creation', 'deletion', 'failure', 'low storage', 'notification', 'recovery', ...BACKUP_CATEGORIES.instance])].sort();
    const maps = [
      { SourceType: 'db-instance', EventCategories: instance },
      { SourceType: 'db-snapshot', EventCategories: BACKUP_CATEGORIES.snapshot },
    ];
    return { EventCategoriesMapList: maps.filter((m) => input.SourceType === undefined || input.SourceType === m.SourceType) };
  }
}
