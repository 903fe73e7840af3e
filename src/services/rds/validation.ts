/**
 * @module services/rds/validation
 * The input rules RDS states in the CreateDBInstance / ModifyDBInstance reference (identifiers,
 * master user names and passwords, database names, storage, ports, maintenance windows), each
 * refusing with RDS's own code and message.
 */
import { ServiceError } from '../../core/errors.js';
import type { RdsEngine } from './catalog.js';
import { STORAGE_LIMITS_GIB } from './catalog.js';
import { blankParameter, invalidIdentifier, invalidParameterValue } from './errors.js';

/**
 * RDS identifiers (instances, parameter groups, snapshots): 1-63 (255 for groups) letters, digits and
 * hyphens, starting with a letter, no trailing hyphen, no `--`. RDS stores them lower-cased.
 */
export function checkIdentifier(param: string, value: string | undefined, maxLength = 63): string {
  if (value === undefined || value === '') throw blankParameter(param);
  if (value.length > maxLength) throw invalidParameterValue(`The parameter ${param} is not a valid identifier because it is longer than ${maxLength} characters.`);
  if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(value) || value.endsWith('-') || value.includes('--')) throw invalidIdentifier(param);
  return value.toLowerCase();
}

/** Words the engines reserve, plus the names Cellar (like RDS) uses for its own administrator. */
const RESERVED_COMMON = ['rdsadmin', 'rdsrepladmin', 'all', 'and', 'any', 'as', 'asc', 'between', 'by', 'case', 'check', 'column', 'constraint', 'create', 'cross', 'default', 'delete', 'desc', 'distinct', 'drop', 'else', 'end', 'exists', 'false', 'for', 'foreign', 'from', 'grant', 'group', 'having', 'in', 'inner', 'insert', 'into', 'is', 'join', 'key', 'left', 'like', 'limit', 'not', 'null', 'on', 'or', 'order', 'outer', 'primary', 'references', 'right', 'select', 'set', 'table', 'then', 'to', 'true', 'union', 'unique', 'update', 'user', 'using', 'values', 'when', 'where', 'with'];
const RESERVED: Record<RdsEngine, Set<string>> = {
  postgres: new Set([...RESERVED_COMMON, 'admin', 'public', 'current_user', 'session_user', 'current_role', 'analyse', 'analyze', 'array', 'do', 'only', 'placing', 'returning', 'symmetric', 'variadic', 'window', 'pg_signal_backend', 'rds_superuser', 'rds_replication', 'rds_password']),
  mariadb: new Set([...RESERVED_COMMON, 'root', 'mysql', 'mariadb', 'accessible', 'database', 'databases', 'div', 'dual', 'index', 'interval', 'kill', 'lock', 'mod', 'option', 'range', 'read', 'show', 'sql', 'use', 'write']),
  mysql: new Set([...RESERVED_COMMON, 'root', 'mysql', 'mariadb', 'accessible', 'database', 'databases', 'div', 'dual', 'index', 'interval', 'kill', 'lock', 'mod', 'option', 'range', 'read', 'show', 'sql', 'use', 'write']),
};

const USERNAME_MAX: Record<RdsEngine, number> = { postgres: 63, mariadb: 16, mysql: 32 };
const PASSWORD_MAX: Record<RdsEngine, number> = { postgres: 128, mariadb: 41, mysql: 41 };
const PASSWORD_MIN = 8;

export function checkMasterUsername(engine: RdsEngine, value: string | undefined): string {
  if (value === undefined || value === '') throw blankParameter('MasterUsername');
  if (value.length > USERNAME_MAX[engine]) {
    throw invalidParameterValue(`The parameter MasterUsername is not a valid identifier because it is longer than ${USERNAME_MAX[engine]} characters.`);
  }
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(value)) throw invalidParameterValue('MasterUsername must begin with a letter and contain only alphanumeric characters or underscores.');
  if (RESERVED[engine].has(value.toLowerCase())) throw invalidParameterValue(`MasterUsername ${value} cannot be used as it is a reserved word used by the engine`);
  return value;
}

export function checkMasterPassword(engine: RdsEngine, value: string | undefined): string {
  if (value === undefined || value === '') throw blankParameter('MasterUserPassword');
  // Printable ASCII is 0x21-0x7e here: the space is one of the four characters RDS refuses.
  if (!/^[\x21-\x7e]+$/.test(value) || /[/@"]/.test(value)) {
    throw invalidParameterValue(`The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '"', ' ' may be used.`);
  }
  if (value.length < PASSWORD_MIN) throw invalidParameterValue(`The parameter MasterUserPassword is not a valid password because it is shorter than ${PASSWORD_MIN} characters.`);
  if (value.length > PASSWORD_MAX[engine]) {
    throw invalidParameterValue(`The parameter MasterUserPassword is not a valid password because it is longer than ${PASSWORD_MAX[engine]} characters.`);
  }
  return value;
}

export function checkDBName(engine: RdsEngine, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const max = engine === 'postgres' ? 63 : 64;
  const ok = engine === 'postgres' ? /^[A-Za-z_][A-Za-z0-9_]*$/.test(value) : /^[A-Za-z][A-Za-z0-9_]*$/.test(value);
  if (!ok || value.length > max) throw invalidParameterValue('DBName must begin with a letter and contain only alphanumeric characters.');
  if (RESERVED[engine].has(value.toLowerCase()) || (engine === 'postgres' && ['template0', 'template1'].includes(value.toLowerCase()))) {
    throw invalidParameterValue(`DBName ${value} cannot be used as it is a reserved word used by the engine`);
  }
  return value;
}

export function checkAllocatedStorage(value: number | undefined): number {
  if (value === undefined) throw blankParameter('AllocatedStorage');
  if (value < STORAGE_LIMITS_GIB.min || value > STORAGE_LIMITS_GIB.max) {
    throw invalidParameterValue(`Invalid storage size for engine name and storage type: gp2, storage size: ${value}. Storage size must be between ${STORAGE_LIMITS_GIB.min} and ${STORAGE_LIMITS_GIB.max}.`);
  }
  return value;
}

export function checkPort(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  // RDS refuses ports below 1150 (and a few it uses itself); above 65535 is not a port.
  if (!Number.isInteger(value) || value < 1150 || value > 65535) throw invalidParameterValue(`Invalid port number ${value}. Valid values are 1150-65535.`);
  return value;
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** `ddd:hh24:mi-ddd:hh24:mi`, at least 30 minutes, as PreferredMaintenanceWindow. */
export function parseMaintenanceWindow(value: string): { startMinuteOfWeek: number; endMinuteOfWeek: number } {
  const m = /^(sun|mon|tue|wed|thu|fri|sat):([01]\d|2[0-3]):([0-5]\d)-(sun|mon|tue|wed|thu|fri|sat):([01]\d|2[0-3]):([0-5]\d)$/i.exec(value);
  if (!m) throw invalidParameterValue('Invalid maintenance window format: must be ddd:hh24:mi-ddd:hh24:mi.');
  const start = DAYS.indexOf(m[1]!.toLowerCase()) * 1440 + Number(m[2]) * 60 + Number(m[3]);
  const end = DAYS.indexOf(m[4]!.toLowerCase()) * 1440 + Number(m[5]) * 60 + Number(m[6]);
  const length = (end - start + 7 * 1440) % (7 * 1440);
  if (length < 30) throw invalidParameterValue('The maintenance window must be at least 30 minutes.');
  return { startMinuteOfWeek: start, endMinuteOfWeek: end };
}

/** True when a maintenance window began in (fromMs, toMs]: the moment to apply pending changes. */
export function maintenanceWindowStartedBetween(window: string, fromMs: number, toMs: number): boolean {
  const { startMinuteOfWeek } = parseMaintenanceWindow(window);
  const weekMs = 7 * 86_400_000;
  // 1970-01-01 was a Thursday (day 4 with Sunday as 0): shift so minute 0 of our week is Sunday 00:00 UTC.
  const epochSundayMs = -4 * 86_400_000;
  const startOffsetMs = startMinuteOfWeek * 60_000;
  const weekIndex = Math.floor((toMs - epochSundayMs - startOffsetMs) / weekMs);
  const lastStartMs = epochSundayMs + weekIndex * weekMs + startOffsetMs;
  return lastStartMs > fromMs && lastStartMs <= toMs;
}

export function checkTags(tags: Array<{ Key?: string; Value?: string }> | undefined): Array<{ Key: string; Value: string }> {
  const out: Array<{ Key: string; Value: string }> = [];
  for (const t of tags ?? []) {
    if (!t.Key) throw invalidParameterValue('Tag key must not be empty');
    if (t.Key.length > 128 || /^aws:/i.test(t.Key)) throw invalidParameterValue(`Invalid tag key: ${t.Key}`);
    if ((t.Value ?? '').length > 256) throw invalidParameterValue(`Invalid tag value for key ${t.Key}`);
    out.push({ Key: t.Key, Value: t.Value ?? '' });
  }
  if (out.length > 50) throw new ServiceError('TagQuotaPerResourceExceeded', 'The request would cause the resource to exceed the maximum number of tags (50).');
  return out;
}
