/**
 * @module console/scopes
 * Which accounts and regions hold resources, for the console's overview: the distinct `<account>/<region>` prefixes
 * of the services' resource keyspaces, found by skipping from one prefix to the next (one short range read per
 * scope, however many resources each holds). Read-only; bounded by MAX_SCOPES.
 */
import { isAccountId, isRegionName } from '../core/scope.js';
import type { Keyspace, Store } from '../storage/store.js';

/** More scopes than this are not listed (the overview says it stopped). */
export const MAX_SCOPES = 500;

export interface ScopeName {
  account: string;
  region: string;
}

/**
 * Where each service keeps one record per resource, and how its keys begin: `<account>/<region>/<name>` (ScopedTable
 * and RDS's records), or DynamoDB's table metadata, `t\0<account>\0<region>\0<name>` (services/dynamodb/provider.ts).
 */
const RESOURCE_KEYSPACES: Array<{ space: string; lead: string; sep: string }> = [
  { space: 'ddb_meta', lead: 't\u0000', sep: '\u0000' },
  { space: 'rds_instances', lead: '', sep: '/' },
  { space: 'sm_secrets', lead: '', sep: '/' },
  { space: 'kms_keys', lead: '', sep: '/' },
];

/** Every scope that holds a resource of any service, sorted by account then region. */
export function scopesWithResources(store: Store): { scopes: ScopeName[]; truncated: boolean } {
  const seen = new Map<string, ScopeName>();
  let truncated = false;
  for (const { space, lead, sep } of RESOURCE_KEYSPACES) {
    truncated = distinctScopes(store.keyspace(space), lead, sep, seen) || truncated;
  }
  const scopes = [...seen.values()].sort((a, b) => a.account.localeCompare(b.account) || a.region.localeCompare(b.region));
  return { scopes, truncated };
}

/** Adds the scopes of one keyspace to seen; true when it stopped at MAX_SCOPES. */
function distinctScopes(space: Keyspace, lead: string, sep: string, seen: Map<string, ScopeName>): boolean {
  const leadBytes = Buffer.from(lead, 'utf8');
  const after = String.fromCharCode(sep.charCodeAt(0) + 1);
  let from = leadBytes;
  for (let found = 0; found < MAX_SCOPES; found++) {
    let key: string | undefined;
    for (const [k] of space.scan({ gte: from, limit: 1 })) key = k.toString('utf8');
    if (key === undefined || !key.startsWith(lead)) return false;
    const parts = key.slice(lead.length).split(sep);
    const [account, region] = parts;
    if (parts.length < 3 || account === undefined || region === undefined) return false;
    if (isAccountId(account) && isRegionName(region)) seen.set(`${account}/${region}`, { account, region });
    // The next key past every key of this scope: its prefix with the separator's successor.
    from = Buffer.from(lead + account + sep + region + after, 'utf8');
    if (seen.size >= MAX_SCOPES) return true;
  }
  return true;
}
