/**
 * @module services/rds/ports
 * The ports DB instances listen on: one per instance on this host, recorded in the ports table (records.ts
 * PortRecord) so two instances never share one, and checked free by binding it for a moment.
 */
import { createServer } from 'node:net';
import { ServiceError } from '../../core/errors.js';
import type { JsonTable } from '../../storage/store.js';
import { invalidParameterValue } from './errors.js';
import { portKey, type PortRecord } from './records.js';

const PORT_PROBE_TIMEOUT_MS = 1000;

/**
 * A free port: the one asked for, else the engine's default if nothing holds it, else one the
 * operating system offers. Checked against Cellar's own allocations and by binding it briefly.
 */
export async function allocatePort(ports: JsonTable<PortRecord>, requested: number | undefined, defaultPort: number): Promise<number> {
  const taken = (p: number) => ports.get(portKey(p)) !== undefined;
  if (requested !== undefined) {
    if (taken(requested)) {
      const owner = ports.get(portKey(requested))!;
      throw invalidParameterValue(`Port ${requested} is already used by DB instance ${owner.instanceId} on this Cellar host.`);
    }
    if (!(await bindable(requested))) throw invalidParameterValue(`Port ${requested} is already in use on this host by another program.`);
    return requested;
  }
  if (!taken(defaultPort) && (await bindable(defaultPort))) return defaultPort;
  for (let attempt = 0; attempt < 20; attempt++) {
    const p = await osPort();
    if (p >= 1150 && !taken(p)) return p;
  }
  throw new ServiceError('InsufficientDBInstanceCapacity', 'Cellar could not find a free port for the DB instance.');
}

/** True when nothing listens on port (on any address), checked by binding it for a moment. */
export function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    const timer = setTimeout(() => {
      srv.close();
      resolve(false);
    }, PORT_PROBE_TIMEOUT_MS);
    srv.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
    srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => {
      clearTimeout(timer);
      srv.close(() => resolve(true));
    });
  });
}

function osPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '0.0.0.0', exclusive: true }, () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}
