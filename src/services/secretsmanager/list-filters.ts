/**
 * @module services/secretsmanager/list-filters
 * What the list operations share: AWS's filters (prefix match on a whole value or on any word of it, `!` negating)
 * and the NextToken of a page. Pure functions of the records.
 */
import type * as api from '../../models/secretsmanager.js';
import { ERR } from './errors.js';
import type { SecretRecord } from './records.js';

const NAME_DELIMITERS = /[/_+=.@\- ]/;

export function pageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset }), 'utf8').toString('base64url');
}

/** Where the page NextToken names starts; a token Cellar did not write is InvalidNextTokenException. */
export function pageOffset(token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const o = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown }).o;
    if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  } catch {
    // fall through
  }
  throw ERR.badToken();
}

/** AWS's list filters: prefix match on the whole value or on any word of it; a leading `!` negates. */
function prefixMatch(attribute: string | undefined, value: string, caseSensitive: boolean): boolean {
  if (attribute === undefined) return false;
  const a = caseSensitive ? attribute : attribute.toLowerCase();
  const v = caseSensitive ? value : value.toLowerCase();
  // A match may start at the beginning or at any word boundary (after a delimiter).
  for (let i = 0; i < a.length; i++) {
    if ((i === 0 || NAME_DELIMITERS.test(a[i - 1]!)) && a.startsWith(v, i)) return true;
  }
  return false;
}

export function matchesFilters(rec: SecretRecord, filters: api.Filter[] | undefined): boolean {
  for (const f of filters ?? []) {
    const values = f.Values ?? [];
    const positive = values.filter((v) => !v.startsWith('!'));
    const negative = values.filter((v) => v.startsWith('!')).map((v) => v.slice(1));
    const attrs = (v: string): boolean => {
      switch (f.Key) {
        case 'name':
          return prefixMatch(rec.name, v, true);
        case 'description':
          return prefixMatch(rec.description, v, false);
        case 'tag-key':
          return rec.tags.some((t) => prefixMatch(t.Key, v, true));
        case 'tag-value':
          return rec.tags.some((t) => prefixMatch(t.Value, v, true));
        case 'primary-region':
          return prefixMatch(rec.primaryRegion ?? (rec.replicas.length ? rec.region : undefined), v, true);
        case 'owning-service':
          return prefixMatch(rec.owningService, v, true);
        case 'all':
          return v.split(/\s+/).filter(Boolean).every((word) =>
            [rec.name, rec.description, rec.primaryRegion, rec.owningService, ...rec.tags.flatMap((t) => [t.Key, t.Value])].some((a) => prefixMatch(a, word, false)),
          );
        default:
          return false;
      }
    };
    if (positive.length && !positive.some(attrs)) return false;
    if (negative.some(attrs)) return false;
  }
  return true;
}
