/**
 * @module engines/postgres/config
 * Pure rendering of what Cellar writes into a PostgreSQL data directory: the managed settings file
 * (`cellar.conf`, included from initdb's postgresql.conf), pg_hba.conf, pg_ident.conf and the bootstrap SQL that
 * creates the RDS-like roles. No I/O, so every rule here is unit-tested.
 */
import { quoteIdent } from '../adapter.js';

/** Cellar's internal superuser, named as on RDS. Only reachable over the Unix socket, with peer authentication. */
export const ADMIN_ROLE = 'rdsadmin';
/**
 * Cellar's replication role (named as on RDS): pg_receivewal and pg_basebackup of the instance's own backups, and
 * standbys, connect as it with a password (conf/replication.secret), never with peer authentication: every
 * instance runs as the same OS user, so an engine process must not reach another instance's data stream just by
 * being that user.
 */
export const REPLICATION_ROLE = 'rdsrepladmin';
/** The non-superuser role RDS grants to the master user. */
export const RDS_SUPERUSER_ROLE = 'rds_superuser';
export const IDENT_MAP = 'cellar';

/** Settings Cellar owns: they follow from the spec (port, addresses, layout) and cannot be set as parameters. */
export const MANAGED_PARAMS: ReadonlySet<string> = new Set([
  'listen_addresses',
  'port',
  'unix_socket_directories',
  'unix_socket_group',
  'unix_socket_permissions',
  'data_directory',
  'config_file',
  'hba_file',
  'ident_file',
  'external_pid_file',
  'logging_collector',
  'log_destination',
  'password_encryption',
  // Programs the server would run, libraries it would load, files it would write or read, and connections it would
  // open as the engine's OS user: none of these come from a parameter group.
  'archive_command',
  'archive_library',
  'archive_cleanup_command',
  'restore_command',
  'recovery_end_command',
  'ssl_passphrase_command',
  'shared_preload_libraries',
  'local_preload_libraries',
  'session_preload_libraries',
  'dynamic_library_path',
  'jit_provider',
  'log_directory',
  'log_filename',
  'ssl_cert_file',
  'ssl_key_file',
  'ssl_ca_file',
  'ssl_crl_file',
  'ssl_crl_dir',
  'krb_server_keyfile',
  'primary_conninfo',
  'primary_slot_name',
  'promote_trigger_file',
  'recovery_target',
  'recovery_target_action',
  'recovery_target_inclusive',
  'recovery_target_lsn',
  'recovery_target_name',
  'recovery_target_time',
  'recovery_target_timeline',
  'recovery_target_xid',
  'allow_system_table_mods',
]);

/** Defaults for a small machine; a reconciler passes instance-class sizing through `params`. */
export const DEFAULT_PARAMS: Readonly<Record<string, string>> = {
  shared_buffers: '128MB',
  max_connections: '100',
  // Standbys notice a promoted or restarted primary within 100 ms instead of 5 s (see /work/shared/ENGINES.md).
  wal_retrieve_retry_interval: '100ms',
};

export function checkParamName(name: string): void {
  if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) throw new Error(`invalid parameter name ${JSON.stringify(name)}`);
  if (MANAGED_PARAMS.has(name.toLowerCase())) throw new Error(`parameter ${name} is managed by Cellar and cannot be changed`);
}

/** A value for postgresql.conf: single-quoted, with quotes doubled and backslashes escaped; no newlines. */
export function confValue(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error('parameter values cannot contain line breaks or NUL');
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

/** An SQL string literal (standard_conforming_strings is on in every supported version). */
export function sqlLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('SQL literals cannot contain NUL');
  return "'" + value.replace(/'/g, "''") + "'";
}

export interface PostgresConfInput {
  name: string;
  port: number;
  listenAddresses: readonly string[];
  socketDir: string;
  params: Readonly<Record<string, string>>;
}

export function renderCellarConf(input: PostgresConfInput): string {
  const params = { ...DEFAULT_PARAMS, ...input.params };
  for (const name of Object.keys(input.params)) checkParamName(name);
  const lines = [
    '# Managed by Cellar: rewritten from the instance spec. Change parameters through the RDS API',
    '# (they are applied with ALTER SYSTEM and land in postgresql.auto.conf, which takes precedence).',
    `listen_addresses = ${confValue(input.listenAddresses.join(','))}`,
    `port = ${input.port}`,
    `unix_socket_directories = ${confValue(input.socketDir)}`,
    // The socket is for Cellar's own administration; its directory is private too.
    `unix_socket_permissions = 0700`,
    `password_encryption = 'scram-sha-256'`,
    `logging_collector = off`,
    `log_destination = 'stderr'`,
    `log_line_prefix = '%m [%p] %q%u@%d '`,
    `cluster_name = ${confValue(input.name)}`,
  ];
  for (const [k, v] of Object.entries(params)) lines.push(`${k} = ${confValue(v)}`);
  return lines.join('\n') + '\n';
}

/**
 * Authentication: the admin role only over the socket with peer authentication (mapped from Cellar's and the
 * engine's OS users); everyone else with a password. `md5` accepts SCRAM verifiers (it then runs SCRAM), which is
 * how RDS configures it and what old clients need.
 */
export function renderHba(): string {
  return [
    '# Managed by Cellar.',
    '# TYPE  DATABASE  USER  ADDRESS  METHOD',
    `local   all       ${ADMIN_ROLE}  peer map=${IDENT_MAP}`,
    'local   all       all            scram-sha-256',
    `local   replication  ${REPLICATION_ROLE}  scram-sha-256`,
    `host    all       ${ADMIN_ROLE}  all  reject`,
    'host    all       all            all  md5',
    `host    replication  ${REPLICATION_ROLE}  all  scram-sha-256`,
    '',
  ].join('\n');
}

/**
 * The OS users allowed to act as rdsadmin: only the one Cellar runs as. Not the engine's OS user when it differs:
 * every instance runs as that user, so a connection any engine process could be made to open to another instance's
 * socket (a replication or foreign-data connection, say) must not arrive there as a superuser.
 */
export function renderIdent(osUsers: readonly string[]): string {
  const unique = [...new Set(osUsers)];
  return ['# Managed by Cellar: OS users allowed to act as ' + ADMIN_ROLE, ...unique.map((u) => `${IDENT_MAP}  ${u}  ${ADMIN_ROLE}`), ''].join('\n');
}

/**
 * Predefined roles granted to rds_superuser, with the major version that introduced each. Not pg_read_all_data: it
 * bypasses every table's ACL, system catalogs included, so its members read pg_authid (every role's password
 * verifier), pg_user_mapping (foreign servers' passwords) and pg_subscription's connection strings. The master reads
 * other roles' tables through ordinary GRANTs, as on RDS. (pg_write_all_data stays: writes to system catalogs need
 * the superuser attribute whatever the ACL says.)
 */
const PREDEFINED_ROLES: ReadonlyArray<[string, number]> = [
  ['pg_monitor', 10],
  ['pg_signal_backend', 9],
  ['pg_read_all_settings', 10],
  ['pg_read_all_stats', 10],
  ['pg_stat_scan_tables', 10],
  ['pg_write_all_data', 14],
  ['pg_checkpoint', 15],
  ['pg_create_subscription', 16],
  ['pg_use_reserved_connections', 16],
  ['pg_maintain', 17],
];

/** Predefined roles that reach the host (programs, files) as the engine's OS user. */
export const SERVER_ACCESS_ROLES: readonly string[] = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'];

/**
 * Predefined roles the master must never get: the server-access ones, and pg_read_all_data (password verifiers,
 * see PREDEFINED_ROLES). Before PostgreSQL 16, CREATEROLE may grant any non-superuser role, so these are marked as
 * superuser roles there (see bootstrapStatements); from 16 on, granting needs ADMIN OPTION, which nobody but the
 * bootstrap superuser has on them.
 */
export function ungrantableRoles(major: number): string[] {
  return major >= 14 ? [...SERVER_ACCESS_ROLES, 'pg_read_all_data'] : [...SERVER_ACCESS_ROLES];
}

export function validateMasterUsername(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid master username ${JSON.stringify(name)}: 1-63 letters, digits or _, starting with a letter`);
  const lower = name.toLowerCase();
  if (lower === ADMIN_ROLE || lower === RDS_SUPERUSER_ROLE || lower === REPLICATION_ROLE || lower.startsWith('pg_') || lower === 'postgres' || lower === 'public') {
    throw new Error(`master username ${name} is reserved`);
  }
}

/**
 * Statements run once in single-user mode right after initdb. Separated by blank lines because single-user mode
 * runs with `-j` (a statement ends at a semicolon followed by an empty line). The password arrives as a SCRAM
 * verifier, never as plaintext.
 */
export function bootstrapStatements(input: { major: number; masterUsername: string; masterVerifier: string; dbName?: string }): string[] {
  const roles = PREDEFINED_ROLES.filter(([, since]) => input.major >= since).map(([r]) => r);
  const master = quoteIdent(input.masterUsername);
  const statements = [
    `CREATE ROLE ${RDS_SUPERUSER_ROLE} NOLOGIN CREATEDB CREATEROLE`,
    `GRANT ${roles.join(', ')} TO ${RDS_SUPERUSER_ROLE} WITH ADMIN OPTION`,
    `CREATE ROLE ${master} LOGIN CREATEDB CREATEROLE PASSWORD ${sqlLiteral(input.masterVerifier)} IN ROLE ${RDS_SUPERUSER_ROLE}`,
  ];
  if (input.major <= 15) {
    // Before 16, CREATEROLE may grant membership in any non-superuser role, so the master could grant itself
    // pg_execute_server_program and run programs as the engine's OS user, or pg_read_all_data and read pg_authid
    // (RDS patches this away). Marking these NOLOGIN predefined roles as superuser roles puts them out of
    // CREATEROLE's reach ("must be superuser to alter superusers"); the attribute is never inherited by members, so
    // nothing else changes. ALTER ROLE refuses reserved names, hence the catalog update (bootstrap superuser,
    // single-user mode).
    statements.push(`UPDATE pg_authid SET rolsuper = true WHERE rolname IN (${ungrantableRoles(input.major).map(sqlLiteral).join(', ')})`);
  }
  if (input.dbName) statements.push(`CREATE DATABASE ${quoteIdent(input.dbName)} OWNER ${master}`);
  return statements;
}

/**
 * Brings an instance bootstrapped by an older Cellar to today's rules, run as rdsadmin after each start (no-ops once
 * done): no non-superuser holds an ungrantable role any more (an older rds_superuser held pg_read_all_data WITH ADMIN
 * OPTION, so the master could also have passed it on to roles of its own), and before 16 those roles are superuser
 * roles. Revocations may depend on each other (16+ records who granted what): each pass revokes what it can, and
 * what is still held after a few passes fails the statement, hence the start.
 */
export function hardeningStatements(major: number): string[] {
  const names = ungrantableRoles(major).map(sqlLiteral).join(', ');
  const held =
    `SELECT r.rolname AS role, u.rolname AS member, g.rolname AS grantor FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid ` +
    `JOIN pg_roles u ON u.oid = a.member LEFT JOIN pg_roles g ON g.oid = a.grantor WHERE r.rolname IN (${names}) AND NOT u.rolsuper`;
  const revoke = major >= 16 ? `format('REVOKE %I FROM %I GRANTED BY %I CASCADE', m.role, m.member, m.grantor)` : `format('REVOKE %I FROM %I', m.role, m.member)`;
  const statements = [
    `DO $$DECLARE m record; BEGIN FOR pass IN 1..5 LOOP EXIT WHEN NOT EXISTS (${held}); ` +
      `FOR m IN ${held} LOOP BEGIN EXECUTE ${revoke}; EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END LOOP; ` +
      `IF EXISTS (${held}) THEN RAISE EXCEPTION 'non-superusers still hold one of %', ARRAY[${names}]; END IF; END$$`,
  ];
  if (major <= 15) {
    statements.push(
      `DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_authid WHERE rolname IN (${names}) AND NOT rolsuper) THEN SET LOCAL allow_system_table_mods = on; UPDATE pg_authid SET rolsuper = true WHERE rolname IN (${names}); END IF; END$$`,
    );
  }
  return statements;
}

/** Parses `postgres --version` output, e.g. "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)". */
export function parsePostgresVersion(output: string): { major: number; version: string; full: string } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(output);
  if (!m) return undefined;
  const major = Number(m[1]);
  // Before 10 the major version had two parts (9.6.24); we only support 10+, where it has one.
  const version = [m[1], m[2], m[3]].filter((x) => x !== undefined).join('.');
  return { major, version, full: output.trim() };
}
