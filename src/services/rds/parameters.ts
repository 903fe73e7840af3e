/**
 * @module services/rds/parameters
 * The parameters a DB parameter group can set, per family, with RDS's own defaults (formulas such as
 * `{DBInstanceClassMemory/32768}` included), apply types and allowed values; the evaluator for those
 * formulas; and `effectiveSettings`, which turns (family, class, group overrides) into the settings
 * the engine really runs with.
 *
 * Only parameters Cellar really passes to the engine are listed: each one here reaches postgresql.conf
 * or my.cnf (and, when dynamic, the running server). A parameter RDS has but Cellar cannot honour is
 * left out rather than accepted and ignored.
 */
import type { EngineKind } from './catalog.js';

export type ApplyType = 'static' | 'dynamic';
export type DataType = 'integer' | 'string' | 'boolean' | 'float' | 'list';

export interface ParameterDef {
  name: string;
  /** RDS's value in the default group (a literal or a formula); undefined means the engine's default. */
  rdsDefault?: string;
  applyType: ApplyType;
  dataType: DataType;
  /** `6-262143`, `0,1`, `none,ddl,mod,all`, as RDS shows AllowedValues. */
  allowedValues?: string;
  description: string;
  modifiable: boolean;
  /**
   * Listed as RDS lists it, but never passed to the engine: a value Cellar itself fixes (server_encoding: initdb
   * always runs with UTF8). Only ever non-modifiable, so what is described is what runs.
   */
  describedOnly?: true;
}

const pg = (name: string, applyType: ApplyType, dataType: DataType, description: string, extra: Partial<ParameterDef> = {}): ParameterDef => ({
  name,
  applyType,
  dataType,
  description,
  modifiable: true,
  ...extra,
});

/** postgres15 and later: the GUCs Cellar passes through. Units are PostgreSQL's own (8kB pages, kB, ms, MB). */
const POSTGRES_PARAMETERS: ParameterDef[] = [
  pg('shared_buffers', 'static', 'integer', '(8kB) Sets the number of shared memory buffers used by the server.', { rdsDefault: '{DBInstanceClassMemory/32768}', allowedValues: '16-1073741823' }),
  pg('max_connections', 'static', 'integer', 'Sets the maximum number of concurrent connections.', { rdsDefault: 'LEAST({DBInstanceClassMemory/9531392},5000)', allowedValues: '6-262143' }),
  pg('effective_cache_size', 'dynamic', 'integer', "(8kB) Sets the planner's assumption about the size of the disk cache.", { rdsDefault: '{DBInstanceClassMemory/16384}', allowedValues: '1-2147483647' }),
  pg('maintenance_work_mem', 'dynamic', 'integer', '(kB) Sets the maximum memory to be used for maintenance operations.', { rdsDefault: 'GREATEST({DBInstanceClassMemory*1024/63963136},65536)', allowedValues: '1024-2147483647' }),
  pg('work_mem', 'dynamic', 'integer', '(kB) Sets the maximum memory to be used for query workspaces.', { allowedValues: '64-2147483647' }),
  pg('max_wal_size', 'dynamic', 'integer', '(MB) Sets the WAL size that triggers a checkpoint.', { rdsDefault: '2048', allowedValues: '2-2147483647' }),
  pg('checkpoint_timeout', 'dynamic', 'integer', '(s) Sets the maximum time between automatic WAL checkpoints.', { allowedValues: '30-86400' }),
  pg('max_locks_per_transaction', 'static', 'integer', 'Sets the maximum number of locks per transaction.', { rdsDefault: '64', allowedValues: '10-2147483647' }),
  pg('max_prepared_transactions', 'static', 'integer', 'Sets the maximum number of simultaneously prepared transactions.', { allowedValues: '0-262143' }),
  pg('max_worker_processes', 'static', 'integer', 'Sets the maximum number of concurrent worker processes.', { allowedValues: '0-262143' }),
  pg('track_activity_query_size', 'static', 'integer', 'Sets the size reserved for pg_stat_activity.current_query, in bytes.', { rdsDefault: '4096', allowedValues: '100-1048576' }),
  pg('max_parallel_workers', 'dynamic', 'integer', 'Sets the maximum number of parallel workers that can be active at one time.', { allowedValues: '0-1024' }),
  pg('max_parallel_workers_per_gather', 'dynamic', 'integer', 'Sets the maximum number of parallel processes per executor node.', { allowedValues: '0-1024' }),
  pg('random_page_cost', 'dynamic', 'float', "Sets the planner's estimate of the cost of a nonsequentially fetched disk page.", { allowedValues: '0-2147483647' }),
  pg('statement_timeout', 'dynamic', 'integer', '(ms) Sets the maximum allowed duration of any statement.', { allowedValues: '0-2147483647' }),
  pg('lock_timeout', 'dynamic', 'integer', '(ms) Sets the maximum allowed duration of any wait for a lock.', { allowedValues: '0-2147483647' }),
  pg('idle_in_transaction_session_timeout', 'dynamic', 'integer', '(ms) Sets the maximum allowed idle time between queries, when in a transaction.', { allowedValues: '0-2147483647' }),
  pg('deadlock_timeout', 'dynamic', 'integer', '(ms) Sets the time to wait on a lock before checking for deadlock.', { allowedValues: '1-2147483647' }),
  pg('log_min_duration_statement', 'dynamic', 'integer', '(ms) Sets the minimum execution time above which statements will be logged.', { allowedValues: '-1-2147483647' }),
  pg('log_statement', 'dynamic', 'string', 'Sets the type of statements logged.', { allowedValues: 'none,ddl,mod,all' }),
  pg('log_connections', 'dynamic', 'boolean', 'Logs each successful connection.', { allowedValues: '0,1' }),
  pg('log_disconnections', 'dynamic', 'boolean', 'Logs end of a session, including duration.', { allowedValues: '0,1' }),
  pg('autovacuum', 'dynamic', 'boolean', 'Starts the autovacuum subprocess.', { allowedValues: '0,1' }),
  pg('default_transaction_isolation', 'dynamic', 'string', 'Sets the transaction isolation level of each new transaction.', { allowedValues: 'serializable,repeatable read,read committed,read uncommitted' }),
  pg('default_transaction_read_only', 'dynamic', 'boolean', 'Sets the default read-only status of new transactions.', { allowedValues: '0,1' }),
  pg('timezone', 'dynamic', 'string', 'Sets the time zone for displaying and interpreting time stamps.', { rdsDefault: 'UTC' }),
  pg('search_path', 'dynamic', 'string', 'Sets the schema search order for names that are not schema-qualified.'),
  pg('client_encoding', 'dynamic', 'string', "Sets the client's character set encoding.", { allowedValues: 'SQL_ASCII,UTF8,LATIN1,WIN1252' }),
  pg('jit', 'dynamic', 'boolean', 'Allow JIT compilation.', { allowedValues: '0,1' }),
  // RDS turns TLS on for every instance and, from PostgreSQL 15 on, forces it by default (RDS's default group for
  // postgres15 and later has rds.force_ssl=1). Dynamic: pg_hba.conf is rewritten (hostssl) and reloaded.
  pg('rds.force_ssl', 'dynamic', 'boolean', 'Force SSL connections.', { rdsDefault: '1', allowedValues: '0,1' }),
  pg('server_encoding', 'static', 'string', 'Sets the server (database) character set encoding.', { rdsDefault: 'UTF8', modifiable: false, describedOnly: true }),
];

const my = pg;

/** mariadb10.x (also serving the `mysql` engine): server variables Cellar passes through. */
const MARIADB_PARAMETERS: ParameterDef[] = [
  my('innodb_buffer_pool_size', 'static', 'integer', 'The size in bytes of the buffer pool, the memory area where InnoDB caches table and index data.', { rdsDefault: '{DBInstanceClassMemory*3/4}', allowedValues: '5242880-9223372036854775807' }),
  my('max_connections', 'dynamic', 'integer', 'The number of simultaneous client connections allowed.', { rdsDefault: '{DBInstanceClassMemory/12582880}', allowedValues: '1-100000' }),
  my('innodb_log_file_size', 'static', 'integer', 'Size of each log file in a log group.', { rdsDefault: '16777216', allowedValues: '1048576-512000000000' }),
  my('max_allowed_packet', 'dynamic', 'integer', 'This value by default is small, to catch large (possibly incorrect) packets. Must be increased if using large BLOB columns or long strings.', { allowedValues: '1024-1073741824' }),
  my('wait_timeout', 'dynamic', 'integer', 'The number of seconds the server waits for activity on a non-interactive TCP/IP or UNIX file connection before closing it.', { allowedValues: '1-31536000' }),
  my('interactive_timeout', 'dynamic', 'integer', 'The number of seconds the server waits for activity on an interactive connection before closing it.', { allowedValues: '1-31536000' }),
  my('innodb_lock_wait_timeout', 'dynamic', 'integer', 'Timeout in seconds an innodb transaction may wait for a row lock before giving up.', { allowedValues: '1-1073741824' }),
  my('slow_query_log', 'dynamic', 'boolean', 'Enable or disable the slow query log.', { allowedValues: '0,1' }),
  my('long_query_time', 'dynamic', 'float', 'Defines what MySQL considers long queries.', { allowedValues: '0-31536000' }),
  my('general_log', 'dynamic', 'boolean', 'Whether the General Query Log is enabled.', { allowedValues: '0,1' }),
  my('character_set_server', 'dynamic', 'string', 'The server default character set.', { allowedValues: 'big5,latin1,ascii,utf8,utf8mb3,utf8mb4,binary' }),
  my('collation_server', 'dynamic', 'string', 'The server default collation.'),
  my('time_zone', 'dynamic', 'string', 'The server time zone.'),
  my('sql_mode', 'dynamic', 'list', 'Current SQL Server Mode.', {
    // MariaDB 10.11's own modes (combination modes included): each comma-separated item must be one of them.
    allowedValues:
      'ALLOW_INVALID_DATES,ANSI,ANSI_QUOTES,DB2,EMPTY_STRING_IS_NULL,ERROR_FOR_DIVISION_BY_ZERO,HIGH_NOT_PRECEDENCE,IGNORE_BAD_TABLE_OPTIONS,IGNORE_SPACE,MAXDB,MSSQL,MYSQL323,MYSQL40,NO_AUTO_CREATE_USER,NO_AUTO_VALUE_ON_ZERO,NO_BACKSLASH_ESCAPES,NO_DIR_IN_CREATE,NO_ENGINE_SUBSTITUTION,NO_FIELD_OPTIONS,NO_KEY_OPTIONS,NO_TABLE_OPTIONS,NO_UNSIGNED_SUBTRACTION,NO_ZERO_DATE,NO_ZERO_IN_DATE,ONLY_FULL_GROUP_BY,ORACLE,PAD_CHAR_TO_FULL_LENGTH,PIPES_AS_CONCAT,POSTGRESQL,REAL_AS_FLOAT,SIMULTANEOUS_ASSIGNMENT,STRICT_ALL_TABLES,STRICT_TRANS_TABLES,TIME_ROUND_FRACTIONAL,TRADITIONAL',
  }),
  my('table_open_cache', 'dynamic', 'integer', 'The number of open tables for all threads.', { allowedValues: '1-524288' }),
  my('tmp_table_size', 'dynamic', 'integer', 'If an in-memory temporary table exceeds the limit, MySQL automatically converts it to an on-disk MyISAM table.', { allowedValues: '1024-18446744073709551615' }),
  my('max_heap_table_size', 'dynamic', 'integer', 'Maximum size to which MEMORY tables are allowed to grow.', { allowedValues: '16384-1844674407370954752' }),
  my('innodb_flush_log_at_trx_commit', 'dynamic', 'integer', 'Determines Innodb transaction durability.', { allowedValues: '0-2' }),
  my('lower_case_table_names', 'static', 'integer', 'Affects how the server handles identifier case sensitivity.', { allowedValues: '0,1' }),
  my('event_scheduler', 'dynamic', 'string', 'Indicates the status of the Event Scheduler.', { allowedValues: 'ON,OFF' }),
  my('performance_schema', 'static', 'boolean', 'Enables or disables the Performance Schema.', { allowedValues: '0,1' }),
  my('tx_isolation', 'dynamic', 'string', 'Sets the default transaction isolation level.', { allowedValues: 'READ-UNCOMMITTED,READ-COMMITTED,REPEATABLE-READ,SERIALIZABLE' }),
  my('autocommit', 'dynamic', 'boolean', 'Sets the autocommit mode.', { allowedValues: '0,1' }),
  my('thread_cache_size', 'dynamic', 'integer', 'How many threads the server should cache for reuse.', { allowedValues: '0-16384' }),
  my('binlog_format', 'dynamic', 'string', 'Sets the binary logging format.', { allowedValues: 'ROW,STATEMENT,MIXED' }),
  my('read_only', 'dynamic', 'boolean', 'When enabled, the server permits no updates except from updates performed by slave threads.', { allowedValues: '0,1' }),
  // RDS DB instance parameter groups show it as a 0/1 boolean (cluster groups as ON/OFF); off by default through
  // MariaDB 11.4. Dynamic: SET GLOBAL, no restart (RDS: "You don't need to reboot your DB instance").
  my('require_secure_transport', 'dynamic', 'boolean', 'Whether client connections to the server are required to use some form of secure transport.', { allowedValues: '0,1' }),
];

export function parameterDefs(kind: EngineKind): readonly ParameterDef[] {
  return kind === 'postgres' ? POSTGRES_PARAMETERS : MARIADB_PARAMETERS;
}

export function parameterDef(kind: EngineKind, name: string): ParameterDef | undefined {
  return parameterDefs(kind).find((p) => p.name === name);
}

// ---- formulas --------------------------------------------------------------------------------------

export interface FormulaVars {
  DBInstanceClassMemory: number;
  DBInstanceVCPU: number;
  AllocatedStorage: number;
}

/**
 * Evaluates RDS's parameter formulas: `{Var*3/4}`, `LEAST(a,b)`, `GREATEST(a,b)`, `SUM(a,b)` and
 * literal numbers. Anything else is returned unchanged (a literal string value). Integer division
 * truncates, as RDS's does.
 */
export function evaluateFormula(value: string, vars: FormulaVars): string {
  const trimmed = value.trim();
  if (!FORMULA_START.test(trimmed)) return value;
  let pos = 0;
  const src = trimmed;
  const fail = (): never => {
    throw new Error(`cannot evaluate parameter formula ${value}`);
  };
  const skip = () => {
    while (src[pos] === ' ') pos++;
  };
  const number = (): number => {
    skip();
    const m = /^-?\d+(\.\d+)?/.exec(src.slice(pos));
    if (!m) return fail();
    pos += m[0].length;
    return Number(m[0]);
  };
  const term = (): number => {
    skip();
    if (src[pos] === '{') {
      pos++;
      const r = arithmetic('}');
      if (src[pos] !== '}') fail();
      pos++;
      return r;
    }
    const fn = /^(LEAST|GREATEST|SUM)\(/i.exec(src.slice(pos));
    if (fn) {
      pos += fn[0].length;
      const args: number[] = [];
      for (let i = 0; i < 8; i++) {
        args.push(term());
        skip();
        if (src[pos] === ',') {
          pos++;
          continue;
        }
        if (src[pos] === ')') {
          pos++;
          break;
        }
        fail();
      }
      const name = fn[1]!.toUpperCase();
      return name === 'LEAST' ? Math.min(...args) : name === 'GREATEST' ? Math.max(...args) : args.reduce((a, b) => a + b, 0);
    }
    const v = /^[A-Za-z]+/.exec(src.slice(pos));
    if (v) {
      if (!(v[0] in vars)) fail();
      pos += v[0].length;
      return vars[v[0] as keyof FormulaVars];
    }
    return number();
  };
  // Left-to-right * / + - inside braces, which is all RDS's own formulas use.
  const arithmetic = (end: string): number => {
    let acc = term();
    for (let i = 0; i < 16; i++) {
      skip();
      const op = src[pos];
      if (op === end || op === undefined) break;
      if (!'*/+-'.includes(op)) fail();
      pos++;
      const rhs = term();
      if (op === '/' && rhs === 0) fail();
      acc = op === '*' ? acc * rhs : op === '/' ? Math.trunc(acc / rhs) : op === '+' ? acc + rhs : acc - rhs;
    }
    return acc;
  };
  const result = term();
  skip();
  if (pos !== src.length || !Number.isFinite(result) || Math.abs(result) > Number.MAX_SAFE_INTEGER) fail();
  return String(Math.trunc(result));
}

export function isFormula(value: string): boolean {
  return FORMULA_START.test(value.trim());
}

const FORMULA_START = /^(\{|LEAST\(|GREATEST\(|SUM\()/i;

// ---- validation of user values ---------------------------------------------------------------------

/**
 * Returns RDS's message when `value` is not allowed for `def`, undefined when it is.
 *
 * Wording, as RDS answers ModifyDBParameterGroup (InvalidParameterValue):
 * - a value outside AllowedValues (a range, a list of values, or of list items), of the wrong type, or with a unit
 *   (`128MB` for an integer counted in 8 kB pages): `Invalid parameter value: <value> for: <name> allowed values are:
 *   <AllowedValues>` (seen for postgres18's log_connections); without AllowedValues the sentence ends after the name;
 * - a formula RDS cannot evaluate: `invalid parameter value: <expression>` (lower case, the expression without its
 *   braces: seen for `{DBInstanceClassMemory/13212024}`).
 *
 * Formulas are accepted for integer parameters only, and evaluated for every set of variables in `contexts` (every
 * instance class Cellar offers, at the smallest and the largest storage): the result must be allowed for each of them,
 * since the group can be given to an instance of any class. (RDS accepts such a group and then puts an instance whose
 * class it does not suit in `incompatible-parameters`; Cellar has no such status, so it refuses the value up front.)
 */
export function checkValue(def: ParameterDef, value: string, contexts: readonly FormulaVars[] = [DEFAULT_FORMULA_VARS]): string | undefined {
  const allowed = def.allowedValues;
  const refuse = (shown = value): string =>
    allowed ? `Invalid parameter value: ${shown} for: ${def.name} allowed values are: ${allowed}` : `Invalid parameter value: ${shown} for: ${def.name}`;
  if (/[\r\n\0]/.test(value)) return refuse(JSON.stringify(value));
  if (isFormula(value)) {
    if (def.dataType !== 'integer') return refuse();
    const results: bigint[] = [];
    try {
      for (const vars of contexts) results.push(BigInt(evaluateFormula(value, vars)));
    } catch {
      return `invalid parameter value: ${formulaText(value)}`;
    }
    return results.every((n) => allowedInteger(n, allowed)) ? undefined : refuse();
  }
  switch (def.dataType) {
    case 'integer':
      return /^-?\d+$/.test(value) && allowedInteger(BigInt(value), allowed) ? undefined : refuse();
    case 'float':
      return /^-?(\d+(\.\d*)?|\.\d+)$/.test(value) && allowedFloat(Number(value), allowed) ? undefined : refuse();
    case 'boolean':
      return (allowed ?? '0,1').split(',').includes(value) ? undefined : refuse();
    case 'list': {
      if (!allowed) return undefined;
      const items = allowed.split(',').map((a) => a.toLowerCase());
      const given = value.split(',').map((v) => v.trim().toLowerCase());
      return given.every((v) => v === '' ? given.length === 1 : items.includes(v)) ? undefined : refuse();
    }
    default:
      if (allowed && !allowed.split(',').some((a) => a.toLowerCase() === value.toLowerCase())) return refuse();
      return undefined;
  }
}

/** What formulas are checked against when no instance classes are given: RDS's smallest memory here. */
const DEFAULT_FORMULA_VARS: FormulaVars = { DBInstanceClassMemory: 256 * 1024 * 1024, DBInstanceVCPU: 2, AllocatedStorage: 20 * 1024 ** 3 };

/** AllowedValues as RDS writes them: comma-separated single values and `low-high` ranges (`-1-2147483647`). */
function allowedParts(allowed: string): Array<{ low: string; high: string } | { value: string }> {
  return allowed.split(',').map((part) => {
    const m = /^(-?[\d.]+)-(-?[\d.]+)$/.exec(part.trim());
    return m ? { low: m[1]!, high: m[2]! } : { value: part.trim() };
  });
}

function allowedInteger(n: bigint, allowed: string | undefined): boolean {
  if (!allowed) return true;
  return allowedParts(allowed).some((p) => ('value' in p ? /^-?\d+$/.test(p.value) && BigInt(p.value) === n : n >= BigInt(p.low) && n <= BigInt(p.high)));
}

function allowedFloat(n: number, allowed: string | undefined): boolean {
  if (!allowed) return true;
  return allowedParts(allowed).some((p) => ('value' in p ? Number(p.value) === n : n >= Number(p.low) && n <= Number(p.high)));
}

/** A formula as RDS quotes it in its error: the whole value's outer braces dropped. */
function formulaText(value: string): string {
  const m = /^\s*\{([^{}]*)\}\s*$/.exec(value);
  return m ? m[1]! : value.trim();
}

// ---- effective settings ----------------------------------------------------------------------------

export interface EffectiveSettings {
  /** Setting name → value the engine should run with (formulas evaluated). */
  values: Record<string, string>;
  /** Names of the settings that only take effect at a restart. */
  staticNames: Set<string>;
}

/**
 * What the engine runs with: the family's RDS defaults, overlaid with the group's user values, with
 * formulas evaluated against this instance's class. Settings the engine decides itself are absent.
 */
export function effectiveSettings(kind: EngineKind, overrides: Record<string, string>, vars: FormulaVars): EffectiveSettings {
  const values: Record<string, string> = {};
  const staticNames = new Set<string>();
  for (const def of parameterDefs(kind)) {
    if (def.describedOnly) continue;
    if (def.applyType === 'static') staticNames.add(def.name);
    const raw = overrides[def.name] ?? def.rdsDefault;
    if (raw === undefined) continue;
    values[def.name] = evaluateFormula(raw, vars);
  }
  return { values, staticNames };
}
