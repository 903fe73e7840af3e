/**
 * @module services/rds/catalog
 * What Cellar can really run for RDS: the engines installed on this host, their exact versions, the
 * parameter-group family each belongs to, and the DB instance classes it offers with the memory each
 * class is given here (the documented table in docs/rds.md).
 *
 * `mysql` is served by MariaDB: there is no MySQL server in Debian. Its EngineVersion is the MariaDB
 * version that really runs, so a client asking for MySQL 8.0 is refused rather than silently given
 * MariaDB under a MySQL version number.
 */
import { compareVersions } from '../../engines/versions.js';
import { totalmem } from 'node:os';

/** The engine names RDS accepts that Cellar serves. */
export type RdsEngine = 'postgres' | 'mariadb' | 'mysql';
/** The server that really runs. */
export type EngineKind = 'postgres' | 'mariadb';

export const ENGINE_KIND: Record<RdsEngine, EngineKind> = { postgres: 'postgres', mariadb: 'mariadb', mysql: 'mariadb' };

export interface InstalledEngine {
  kind: EngineKind;
  /** Full version as RDS spells it: `15.20`, `10.11.19`. */
  version: string;
  /** Major version as RDS spells it: `15`, `10.11`. */
  major: string;
  /** The system's own packaged engine (Debian's): the default when a request names no EngineVersion. */
  preferred?: boolean;
}

export interface EngineVersionInfo {
  engine: RdsEngine;
  version: string;
  major: string;
  family: string;
  description: string;
  versionDescription: string;
  defaultPort: number;
  licenseModel: string;
  kind: EngineKind;
  /** The default version when a request names none. */
  preferred: boolean;
}

export function familyOf(kind: EngineKind, major: string): string {
  return kind === 'postgres' ? `postgres${major}` : `mariadb${major}`;
}

/** Every (engine, version) Cellar can create, derived from what is installed. */
export function engineVersions(installed: readonly InstalledEngine[]): EngineVersionInfo[] {
  const out: EngineVersionInfo[] = [];
  for (const e of installed) {
    if (e.kind === 'postgres') {
      out.push({
        engine: 'postgres',
        version: e.version,
        major: e.major,
        family: familyOf('postgres', e.major),
        description: 'PostgreSQL',
        versionDescription: `PostgreSQL ${e.version}`,
        defaultPort: 5432,
        licenseModel: 'postgresql-license',
        kind: 'postgres',
        preferred: Boolean(e.preferred),
      });
    } else {
      out.push({
        engine: 'mariadb',
        version: e.version,
        major: e.major,
        family: familyOf('mariadb', e.major),
        description: 'MariaDb Community Edition',
        versionDescription: `MariaDB ${e.version}`,
        defaultPort: 3306,
        licenseModel: 'general-public-license',
        kind: 'mariadb',
        preferred: Boolean(e.preferred),
      });
      out.push({
        engine: 'mysql',
        version: e.version,
        major: e.major,
        family: familyOf('mariadb', e.major),
        description: 'MySQL Community Edition (served by MariaDB on Cellar)',
        versionDescription: `MariaDB ${e.version} serving the mysql engine (Cellar has no MySQL server)`,
        defaultPort: 3306,
        licenseModel: 'general-public-license',
        kind: 'mariadb',
        preferred: Boolean(e.preferred),
      });
    }
  }
  return out;
}

/**
 * Picks the version an EngineVersion request names: an exact version, or a major version (`15`,
 * `10.11`), which means the newest installed minor of it, as RDS picks the default minor.
 */
export function resolveEngineVersion(all: readonly EngineVersionInfo[], engine: RdsEngine, requested: string | undefined): EngineVersionInfo | undefined {
  const mine = all.filter((v) => v.engine === engine).sort((a, b) => compareVersions(b.version, a.version));
  // With no version asked for, the system's packaged engine (Debian's) is the default, as RDS has a
  // default version per engine; other installed majors are there for those who name them.
  if (requested === undefined) return mine.find((v) => v.preferred) ?? mine[0];
  return mine.find((v) => v.version === requested) ?? mine.find((v) => v.major === requested);
}

export { compareVersions };

// ---- instance classes ------------------------------------------------------------------------------

export interface InstanceClass {
  name: string;
  vcpu: number;
  /** The memory AWS gives this class, in GiB. */
  memoryGiB: number;
}

const SIZES: Array<[string, number, number]> = [
  // size, vCPU, memory multiplier relative to the family's `large`
  ['large', 2, 1],
  ['xlarge', 4, 2],
  ['2xlarge', 8, 4],
  ['4xlarge', 16, 8],
];

function family(prefix: string, largeMemGiB: number): InstanceClass[] {
  return SIZES.map(([size, vcpu, mult]) => ({ name: `db.${prefix}.${size}`, vcpu, memoryGiB: largeMemGiB * mult }));
}

/** The classes Cellar offers for every engine (AWS's figures; see docs/rds.md for what they get here). */
export const INSTANCE_CLASSES: readonly InstanceClass[] = [
  ...['t3', 't4g'].flatMap((p) => [
    { name: `db.${p}.micro`, vcpu: 2, memoryGiB: 1 },
    { name: `db.${p}.small`, vcpu: 2, memoryGiB: 2 },
    { name: `db.${p}.medium`, vcpu: 2, memoryGiB: 4 },
    { name: `db.${p}.large`, vcpu: 2, memoryGiB: 8 },
    { name: `db.${p}.xlarge`, vcpu: 4, memoryGiB: 16 },
    { name: `db.${p}.2xlarge`, vcpu: 8, memoryGiB: 32 },
  ]),
  ...family('m5', 8),
  ...family('m6g', 8),
  ...family('m6i', 8),
  ...family('m7g', 8),
  ...family('r5', 16),
  ...family('r6g', 16),
  ...family('r6i', 16),
  ...family('r7g', 16),
];

const BY_NAME = new Map(INSTANCE_CLASSES.map((c) => [c.name, c]));

export function instanceClass(name: string): InstanceClass | undefined {
  return BY_NAME.get(name);
}

/** The share of a class's AWS memory an instance gets on Cellar (docs/rds.md). */
export const DEFAULT_MEMORY_SCALE = 0.25;

/**
 * DBInstanceClassMemory as the parameter formulas see it, in bytes: the class's memory times the
 * scale, but never more than a quarter of this host's memory, so one large class cannot starve the host.
 */
export function classMemoryBytes(cls: InstanceClass, scale = DEFAULT_MEMORY_SCALE, hostBytes = totalmem()): number {
  const wanted = Math.round(cls.memoryGiB * 1024 ** 3 * scale);
  return Math.min(wanted, Math.floor(hostBytes / 4));
}

/** Storage limits as RDS states them for gp2/gp3 on these engines, in GiB. */
export const STORAGE_LIMITS_GIB = { min: 20, max: 65536 } as const;
