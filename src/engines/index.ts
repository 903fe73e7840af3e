/**
 * @module engines
 * Entry point for the RDS/ElastiCache services: builds the adapter for a spec. See ./adapter.ts for the interface.
 */
import type { EngineAdapter, EngineSpec, RelationalEngineAdapter } from './adapter.js';
import type { Host } from './host.js';
import { MariadbEngine } from './mariadb/adapter.js';
import { PostgresEngine } from './postgres/adapter.js';
import { RedisEngine } from './redis/adapter.js';

export function createEngine(host: Host, spec: EngineSpec): EngineAdapter {
  return spec.engine === 'redis' ? new RedisEngine(host, spec) : createRelationalEngine(host, spec);
}

/** The relational engines (what RDS runs): postgres, mariadb, and mysql served by MariaDB. */
export function createRelationalEngine(host: Host, spec: EngineSpec): RelationalEngineAdapter {
  switch (spec.engine) {
    case 'postgres':
      return new PostgresEngine(host, spec);
    case 'mariadb':
    case 'mysql':
      return new MariadbEngine(host, spec);
    default:
      throw new Error(`engine ${spec.engine} is not supported yet`);
  }
}
