/**
 * @module config
 * Cellar's settings: command-line flags over the config file (`<data-dir>/cellar.json` or --config)
 * over defaults. Documented in docs/configuration.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ConfiguredKey } from './auth/credentials.js';

export interface RotationFunctionConfig {
  /** A local executable run once per step: argv = [step], stdin = the Lambda-style event as JSON. */
  command?: string[];
  /** Or an HTTP endpoint that receives the event as a JSON POST. */
  url?: string;
  /** Per-step time limit. */
  timeoutMs?: number;
}

export interface CellarConfig {
  host: string;
  port: number;
  /** Absent with --in-memory. */
  dataDir: string | undefined;
  inMemory: boolean;
  strict: boolean;
  region: string;
  keys: ConfiguredKey[];
  /** Lambda ARNs (or function names) that rotation may call, mapped to something local that runs. */
  rotationFunctions: Record<string, RotationFunctionConfig>;
  /** Lets tests move the server's clock forward with POST /_cellar/clock. */
  allowClockControl: boolean;
  /** Addresses that engines of publicly accessible resources listen on. */
  publicAddress: string;
  /** Largest request body accepted. */
  maxBodyBytes: number;
  durability: 'process' | 'fsync';
  /** Memory the state store caches in: SQLite's page cache (3/4) and values of point reads (1/4). */
  cacheMiB: number;
  logRequests: boolean;
  /** RDS engine settings (docs/rds.md). */
  rds?: RdsConfig;
  /**
   * Which principals may AssumeRole into roles of another account, in --strict mode (docs/configuration.md). Outside
   * strict mode every cross-account AssumeRole is allowed, as LocalStack users rely on.
   */
  roleTrust?: RoleTrust[];
}

export interface RoleTrust {
  /** A role ARN; `*` and `?` wildcards allowed (`arn:aws:iam::222222222222:role/*`). */
  role: string;
  /** Account ids or principal ARNs (`arn:aws:iam::111111111111:root`, `...:user/alice`, `...:role/x`) trusted to assume it. */
  principals: string[];
}

export interface RdsConfig {
  /** Where engine data directories live (default `<data-dir>/rds`). */
  engineRoot?: string;
  /** Share of a DB instance class's AWS memory an instance gets here (default 0.25). */
  memoryScale?: number;
  /** Bytes one GiB of AllocatedStorage stands for (default 1 GiB; tests make it small to fill it). */
  storageGiBBytes?: number;
  /** How often the RDS health loop ticks. */
  healthIntervalMs?: number;
}

export const DEFAULTS: CellarConfig = {
  host: '127.0.0.1',
  port: 4566,
  dataDir: undefined,
  inMemory: false,
  strict: false,
  region: 'us-east-1',
  keys: [],
  rotationFunctions: {},
  allowClockControl: false,
  publicAddress: '0.0.0.0',
  maxBodyBytes: 20 * 1024 * 1024,
  durability: 'process',
  cacheMiB: 64,
  logRequests: true,
};

export function defaultDataDir(): string {
  return resolve(process.env.CELLAR_DATA_DIR ?? join(process.cwd(), '.cellar'));
}

/** Reads the config file, if any, and lays flags over it. */
export function loadConfig(flags: Partial<CellarConfig> & { configFile?: string }): CellarConfig {
  const dataDir = flags.inMemory ? undefined : resolve(flags.dataDir ?? defaultDataDir());
  const file = flags.configFile ?? (dataDir ? join(dataDir, 'cellar.json') : undefined);
  let fromFile: Partial<CellarConfig> = {};
  if (file && existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Partial<CellarConfig>;
    } catch (e) {
      throw new Error(`config file ${file} is not valid JSON: ${(e as Error).message}`);
    }
  } else if (flags.configFile) {
    throw new Error(`config file ${flags.configFile} does not exist`);
  }
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as Partial<CellarConfig>;
  return { ...DEFAULTS, ...fromFile, ...defined, dataDir, inMemory: Boolean(flags.inMemory) };
}
