/**
 * @module config
 * Cellar's settings: command-line flags over the config file (`<data-dir>/cellar.json` or --config)
 * over defaults. Documented in docs/configuration.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ConfiguredKey } from './auth/credentials.js';
import { isRegionName } from './core/scope.js';

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
  /** Largest body of a request that carries no signature (the operations AWS serves unsigned take small ones). */
  unsignedMaxBodyBytes: number;
  /** Memory that the request bodies being read may hold together, across every connection. */
  bodyBudgetBytes: number;
  /** How long a request waits for room in the body budget before it is answered 503 (throttled). */
  bodyBudgetWaitMs: number;
  /** Open connections; past this new ones are closed at once. */
  maxConnections: number;
  /** Time for a request's head (request line and headers) to arrive. */
  headersTimeoutMs: number;
  /** Time for a whole request, head and body, to arrive. */
  requestTimeoutMs: number;
  /** After this long, a body must have arrived at minBodyBytesPerSecond on average… */
  bodyRateGraceMs: number;
  /** …or the request is answered 408 and its connection closed. */
  minBodyBytesPerSecond: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** On SIGTERM, how long requests in flight are given to finish before their connections are closed. */
  shutdownDrainMs: number;
  durability: 'process' | 'fsync';
  /** Memory the state store caches in: SQLite's page cache (3/4) and values of point reads (1/4). */
  cacheMiB: number;
  logRequests: boolean;
  /** A request slower than this is logged at warn level (docs/observability.md). */
  slowRequestMs: number;
  /** Metrics collection: CloudWatch's AWS namespaces and /_cellar/metrics (docs/observability.md). */
  metrics: MetricsConfig;
  /** Init hooks: `<initDir>/{boot,ready,shutdown}.d` (default `<data-dir>/init`; none in memory unless set). */
  initDir?: string;
  /** Time limit of each init hook, after which it is killed and reported as failed. */
  initHookTimeoutMs: number;
  /**
   * Whether POST /_cellar/reset may empty the server. Default: only while Cellar listens on a loopback address (a
   * server reachable from other machines does not let them wipe it unless this is set to true).
   */
  allowReset?: boolean;
  /** RDS engine settings (docs/rds.md). */
  rds?: RdsConfig;
  /** DynamoDB tuning (docs/configuration.md). */
  dynamodb?: {
    backfillBatch?: number;
    /** How often the Time to Live sweeper looks for expired items (default 1000 ms). */
    ttlSweepIntervalMs?: number;
    /** How long after a Time to Live change UpdateTimeToLive refuses another (default one hour, as AWS documents). */
    ttlChangeIntervalMs?: number;
    /**
     * Throttle requests to PROVISIONED tables beyond their provisioned throughput (token buckets with AWS's 300 s of
     * burst capacity; docs/dynamodb.md#provisioned-throughput). Off by default: DynamoDB Local never throttles, and
     * the pipelines Cellar serves create 1/1-capacity tables.
     */
    enforceProvisionedThroughput?: boolean;
  };
  /**
   * Which principals may AssumeRole into roles of another account, in --strict mode (docs/configuration.md). Outside
   * strict mode every cross-account AssumeRole is allowed, as LocalStack users rely on.
   */
  roleTrust?: RoleTrust[];
}

export interface MetricsConfig {
  /** Off: no request is measured and nothing is sampled (the Prometheus endpoint still answers, with process metrics). */
  enabled: boolean;
  /** How often measurements are published into CloudWatch (60 s as AWS publishes its own; tests use 1 s). */
  periodMs: number;
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
  /** Where backups and archived logs live (default `<data-dir>/backups`); another disk survives the data disk. */
  backupDir?: string;
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
  // AssumeRoleWithSAML's assertion (100,000 base64 characters, percent-encoded in a form body) is the largest input
  // of any operation AWS serves unsigned; 256 KiB leaves room for it and its policies.
  unsignedMaxBodyBytes: 256 * 1024,
  bodyBudgetBytes: 64 * 1024 * 1024,
  bodyBudgetWaitMs: 2_000,
  maxConnections: 4096,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 120_000,
  bodyRateGraceMs: 10_000,
  minBodyBytesPerSecond: 1024,
  keepAliveTimeoutMs: 65_000,
  shutdownDrainMs: 10_000,
  durability: 'process',
  cacheMiB: 64,
  logRequests: true,
  slowRequestMs: 2_000,
  metrics: { enabled: true, periodMs: 60_000 },
  initHookTimeoutMs: 300_000,
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
  const config: CellarConfig = { ...DEFAULTS, ...fromFile, ...defined, dataDir, inMemory: Boolean(flags.inMemory) };
  config.metrics = { ...DEFAULTS.metrics, ...(fromFile.metrics ?? {}), ...(defined.metrics ?? {}) };
  if (fromFile.dynamodb || defined.dynamodb) config.dynamodb = { ...(fromFile.dynamodb ?? {}), ...(defined.dynamodb ?? {}) };
  applyObservabilityEnv(config, process.env);
  applyDynamoDBEnv(config, process.env);
  // A relative init directory in the config file is relative to the data directory; on the command line, to the cwd.
  if (config.initDir !== undefined && typeof config.initDir !== 'string') throw new Error(`setting initDir must be a directory path, not ${JSON.stringify(config.initDir)}`);
  if (config.initDir !== undefined) config.initDir = defined.initDir !== undefined ? resolve(config.initDir) : resolve(dataDir ?? process.cwd(), config.initDir);
  else if (dataDir) config.initDir = join(dataDir, 'init');
  checkLimits(config);
  return config;
}

/** CELLAR_METRICS (on/off), CELLAR_METRICS_PERIOD_MS and CELLAR_SLOW_REQUEST_MS, over the file and flags. */
function applyObservabilityEnv(config: CellarConfig, env: NodeJS.ProcessEnv): void {
  const switched = env.CELLAR_METRICS;
  if (switched !== undefined && switched !== '') {
    if (!['on', 'off', 'true', 'false', '1', '0'].includes(switched)) throw new Error(`CELLAR_METRICS must be on or off, not ${JSON.stringify(switched)}`);
    config.metrics.enabled = switched === 'on' || switched === 'true' || switched === '1';
  }
  if (env.CELLAR_METRICS_PERIOD_MS) config.metrics.periodMs = Number(env.CELLAR_METRICS_PERIOD_MS);
  if (env.CELLAR_SLOW_REQUEST_MS) config.slowRequestMs = Number(env.CELLAR_SLOW_REQUEST_MS);
}

/** CELLAR_DYNAMODB_ENFORCE_THROUGHPUT (on/off), over the file and flags. */
function applyDynamoDBEnv(config: CellarConfig, env: NodeJS.ProcessEnv): void {
  const switched = env.CELLAR_DYNAMODB_ENFORCE_THROUGHPUT;
  if (switched === undefined || switched === '') return;
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(switched)) throw new Error(`CELLAR_DYNAMODB_ENFORCE_THROUGHPUT must be on or off, not ${JSON.stringify(switched)}`);
  config.dynamodb = { ...(config.dynamodb ?? {}), enforceProvisionedThroughput: switched === 'on' || switched === 'true' || switched === '1' };
}

/** The numbers every bound of the gateway rests on: a missing or wrong one would silently lift a bound. */
const POSITIVE_LIMITS = [
  'maxBodyBytes', 'unsignedMaxBodyBytes', 'bodyBudgetBytes', 'bodyBudgetWaitMs', 'maxConnections', 'headersTimeoutMs', 'requestTimeoutMs',
  'bodyRateGraceMs', 'minBodyBytesPerSecond', 'keepAliveTimeoutMs', 'shutdownDrainMs', 'initHookTimeoutMs',
] as const;

function checkLimits(config: CellarConfig): void {
  for (const name of POSITIVE_LIMITS) {
    const v = config[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`setting ${name} must be a positive number, not ${JSON.stringify(v)}`);
  }
  // A body larger than the whole budget could never be admitted.
  if (config.bodyBudgetBytes < config.maxBodyBytes) throw new Error(`setting bodyBudgetBytes (${config.bodyBudgetBytes}) must be at least maxBodyBytes (${config.maxBodyBytes})`);
  // The region names state when a request carries none (core/scope.ts): a well-formed region name only.
  if (typeof config.region !== 'string' || !isRegionName(config.region)) throw new Error(`setting region must be a region name such as us-east-1, not ${JSON.stringify(config.region)}`);
  if (config.roleTrust !== undefined) {
    const ok = Array.isArray(config.roleTrust) && config.roleTrust.every((t) => t && typeof t.role === 'string' && Array.isArray(t.principals) && t.principals.every((p) => typeof p === 'string'));
    if (!ok) throw new Error('setting roleTrust must be a list of { "role": "<role ARN, wildcards allowed>", "principals": ["<account id or principal ARN>", ...] }');
  }
  const period = config.metrics.periodMs;
  if (!Number.isInteger(period) || period < 1000 || period > 3_600_000) throw new Error(`setting metrics.periodMs must be an integer from 1000 to 3600000, not ${JSON.stringify(period)}`);
  if (typeof config.metrics.enabled !== 'boolean') throw new Error(`setting metrics.enabled must be true or false, not ${JSON.stringify(config.metrics.enabled)}`);
  if (typeof config.slowRequestMs !== 'number' || !(config.slowRequestMs > 0)) throw new Error(`setting slowRequestMs must be a positive number, not ${JSON.stringify(config.slowRequestMs)}`);
  const batch = config.dynamodb?.backfillBatch;
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1 || batch > 100_000)) throw new Error(`setting dynamodb.backfillBatch must be an integer from 1 to 100000, not ${JSON.stringify(batch)}`);
  const sweep = config.dynamodb?.ttlSweepIntervalMs;
  if (sweep !== undefined && (!Number.isInteger(sweep) || sweep < 10 || sweep > 3_600_000)) throw new Error(`setting dynamodb.ttlSweepIntervalMs must be an integer from 10 to 3600000, not ${JSON.stringify(sweep)}`);
  const enforce = config.dynamodb?.enforceProvisionedThroughput;
  if (enforce !== undefined && typeof enforce !== 'boolean') throw new Error(`setting dynamodb.enforceProvisionedThroughput must be true or false, not ${JSON.stringify(enforce)}`);
  const change = config.dynamodb?.ttlChangeIntervalMs;
  if (change !== undefined && (!Number.isInteger(change) || change < 0 || change > 86_400_000)) throw new Error(`setting dynamodb.ttlChangeIntervalMs must be an integer from 0 to 86400000, not ${JSON.stringify(change)}`);
}
