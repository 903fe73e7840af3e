/**
 * @module engines/mariadb/config
 * Pure pieces of the MariaDB adapter: the mariadbd command line, the bootstrap SQL, the init file that (re)asserts
 * Cellar's administration and the master user's privileges at every start, parameter names and values. No I/O;
 * unit-tested.
 *
 * ## Why the master's privileges are shaped as they are (vanilla MariaDB 10.11, no RDS patches)
 *
 * - Global privileges cover the `mysql` schema: UPDATE ON *.* writes the privilege tables (FLUSH PRIVILEGES then
 *   hands out SUPER and FILE), INSERT ON *.* writes mysql.plugin (INSTALL SONAME loads any plugin from plugin_dir)
 *   and mysql.func (UDFs). MariaDB has no partial revokes. So the master's data privileges are granted per database
 *   *pattern* (masterDatabasePatterns), and no pattern matches `mysql` or `sys`; only its non-data privileges
 *   (CREATE USER, RELOAD, PROCESS ...) are global. GRANT checks a grantee pattern against the grantor's patterns as
 *   a pattern (narrower only), so nobody the master grants to can reach those schemas either.
 * - CREATE USER covers every account: ALTER USER may change any account's authentication and RENAME USER its host,
 *   so whoever holds it can become any account (verified: `ALTER USER root@localhost IDENTIFIED BY ...; RENAME USER
 *   root@localhost TO root@'%'` gave the master a TCP login with ALL PRIVILEGES). RDS patches this; vanilla MariaDB
 *   has no SYSTEM_USER. So no account holds more than the master: Cellar's own account (unix_socket, the OS user
 *   Cellar runs as) holds only EXECUTE on one procedure, `mysql.cellar_exec`, whose DEFINER is a *role* holding ALL
 *   PRIVILEGES. A role cannot log in, nobody holds its ADMIN OPTION (so nobody can grant it), and the procedure runs
 *   only for sessions that came through the Unix socket (USER()'s host is `localhost` only there, with
 *   skip_name_resolve), whose directory only Cellar and the engine's OS user can enter. A master that hijacks
 *   Cellar's account gets a TCP session on which the procedure refuses to run.
 * - What the master can still do to Cellar's account, the role or the procedure (DROP USER, RENAME USER, ALTER USER
 *   ... ACCOUNT LOCK, DROP ROLE) breaks administration, never extends its own reach. The init file (mariadbd
 *   --init-file, run before the first connection at every start) recreates all of it, so a restart recovers.
 * - FILE is held by nobody but the role, and --secure-file-priv confines it to a directory inside the instance;
 *   --skip-symbolic-links makes CREATE TABLE ... DATA/INDEX DIRECTORY ignored (files elsewhere on the host).
 */

/**
 * The RDS master user's privileges on MariaDB (as RDS documents them): everything an application or DBA needs,
 * WITH GRANT OPTION, but none of SUPER, SHUTDOWN, FILE, BINLOG ADMIN, READ_ONLY ADMIN, CONNECTION ADMIN,
 * REPLICATION MASTER ADMIN, FEDERATED ADMIN, SET USER — the ones that reach the host, the server's lifecycle or
 * other accounts' sessions. Granted as MASTER_GLOBAL_PRIVILEGES on *.* and MASTER_DATABASE_PRIVILEGES per pattern.
 */
export const MASTER_PRIVILEGES: readonly string[] = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'RELOAD', 'PROCESS', 'REFERENCES', 'INDEX', 'ALTER',
  'SHOW DATABASES', 'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'REPLICATION SLAVE', 'BINLOG MONITOR',
  'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE', 'ALTER ROUTINE', 'CREATE USER', 'EVENT', 'TRIGGER', 'DELETE HISTORY',
  'SLAVE MONITOR',
];

/** The master privileges that exist only globally and read or write no table: granted ON *.*. */
export const MASTER_GLOBAL_PRIVILEGES: readonly string[] = ['RELOAD', 'PROCESS', 'SHOW DATABASES', 'REPLICATION SLAVE', 'BINLOG MONITOR', 'SLAVE MONITOR', 'CREATE USER'];

/** The master privileges on data: granted per database pattern, never on the system schemas. */
export const MASTER_DATABASE_PRIVILEGES: readonly string[] = MASTER_PRIVILEGES.filter((p) => !MASTER_GLOBAL_PRIVILEGES.includes(p));

/** Schemas the master may read but never write: the privilege and plugin tables, and `sys` (routines of mariadb.sys). */
export const PROTECTED_SCHEMAS: readonly string[] = ['mysql', 'sys'];

/**
 * What the master may do in each protected schema: read it (SHOW GRANTS FOR, mysqldump --all-databases, which also
 * locks and shows views) and use sys's views and routines (SQL SECURITY INVOKER: they run with the master's rights).
 */
export const PROTECTED_SCHEMA_GRANTS: Readonly<Record<string, string>> = {
  mysql: 'SELECT, LOCK TABLES, SHOW VIEW',
  sys: 'SELECT, EXECUTE, SHOW VIEW, LOCK TABLES',
};

/** Cellar's administration: the role that holds everything, and the procedure through which Cellar uses it. */
export const ADMIN_ROLE = 'cellar_admin';
export const ADMIN_PROCEDURE = 'mysql.cellar_exec';
/** A scratch role the init file creates and drops again, to read the master's global privileges as a bit mask. */
const PRIVILEGE_MASK_ROLE = 'cellar_privilege_mask';

/** Characters a database pattern may fix; `\_` is a literal underscore. Others (non-ASCII) fall under lengths. */
const PATTERN_ALPHABET: readonly string[] = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$', '\\_'];

/**
 * Database-name patterns (MariaDB LIKE syntax, as in `GRANT ... ON `pattern`.*`) that together match every database
 * name except the protected ones, under either lower_case_table_names setting (a fixed letter never equals a
 * protected name's letter at that place in either case, so lower-casing cannot make it match):
 * - every length that no protected name has (`_`, `__`, `____`, then six or more: `______%`);
 * - `%c%` for each character c that no protected name contains (a name containing one cannot be protected);
 * - for each protected length, names built only from the protected names' letters: one pattern per place and
 *   letter that differs there from every protected name of that length (`y____` ... `____q`, `m__` ... `__q`).
 * Complete when no two protected names share a length (true for mysql and sys); unit-tested exhaustively over a
 * small alphabet, and against a real server in test/engines/mariadb-escalation.test.ts.
 */
export function masterDatabasePatterns(protectedNames: readonly string[] = PROTECTED_SCHEMAS): string[] {
  const lengths = new Set(protectedNames.map((n) => n.length));
  const maxLength = Math.max(...lengths);
  const protectedLetters = new Set(protectedNames.join('').toLowerCase());
  const patterns: string[] = [];
  for (let length = 1; length <= maxLength; length++) if (!lengths.has(length)) patterns.push('_'.repeat(length));
  patterns.push('_'.repeat(maxLength + 1) + '%');
  for (const c of PATTERN_ALPHABET) if (!protectedLetters.has(c.toLowerCase())) patterns.push(`%${c}%`);
  const letters = [...protectedLetters].flatMap((c) => [c, c.toUpperCase()]);
  for (const length of [...lengths].sort()) {
    const sameLength = protectedNames.filter((n) => n.length === length);
    for (let at = 0; at < length; at++) {
      for (const c of letters) {
        if (sameLength.some((n) => n[at] === c.toLowerCase())) continue;
        patterns.push('_'.repeat(at) + c + '_'.repeat(length - at - 1));
      }
    }
  }
  return patterns;
}

/** Options Cellar owns (they follow from the spec and the instance layout). Compared with '-' as '_'. */
export const MANAGED_OPTIONS: ReadonlySet<string> = new Set([
  'datadir', 'socket', 'port', 'bind_address', 'pid_file', 'basedir', 'plugin_dir', 'user', 'log_error',
  'skip_grant_tables', 'init_file', 'skip_networking', 'defaults_file', 'defaults_extra_file', 'no_defaults',
  'skip_name_resolve', 'tmpdir', 'secure_file_priv', 'symbolic_links', 'skip_symbolic_links',
  // Where the server writes or reads files, which libraries it loads, whom it trusts for client addresses (the
  // admin procedure's socket check relies on real client addresses).
  'general_log_file', 'slow_query_log_file', 'log_bin', 'log_bin_index', 'log_bin_basename', 'relay_log',
  'relay_log_index', 'relay_log_basename', 'relay_log_info_file', 'master_info_file', 'plugin_load', 'plugin_load_add',
  'plugin_maturity', 'innodb_data_home_dir', 'innodb_log_group_home_dir', 'innodb_undo_directory', 'innodb_tmpdir',
  'aria_log_dir_path', 'character_sets_dir', 'lc_messages_dir', 'server_audit_file_path', 'proxy_protocol_networks',
  'init_connect', 'init_slave',
  // Binary logging is what backups and replication stand on (see mariadbdArgs); the server id must differ between a
  // primary and its replicas, so Cellar derives it from the instance.
  'server_id', 'skip_log_bin', 'disable_log_bin', 'log_slave_updates', 'log_replica_updates',
]);

export const DEFAULT_PARAMS: Readonly<Record<string, string>> = {
  innodb_buffer_pool_size: '128M',
  max_connections: '151',
  // Row events replay exactly what was committed (point-in-time restore, replicas), as RDS's default for PITR.
  binlog_format: 'ROW',
  // Binlogs are archived continuously (./backup.ts); the server keeps its own copies a day for replicas and restarts.
  binlog_expire_logs_seconds: '86400',
};

/** The binary log's base name inside the data directory (files binlog.000001 ...). */
export const BINLOG_BASENAME = 'binlog';

export function normaliseOptionName(name: string): string {
  return name.replace(/-/g, '_').toLowerCase();
}

export function checkParamName(name: string): string {
  if (!/^[a-z][a-z0-9_-]*$/i.test(name)) throw new Error(`invalid parameter name ${JSON.stringify(name)}`);
  const n = normaliseOptionName(name);
  if (MANAGED_OPTIONS.has(n)) throw new Error(`parameter ${name} is managed by Cellar and cannot be changed`);
  return n;
}

function checkValue(value: string): void {
  if (/[\r\n\0]/.test(value)) throw new Error('parameter values cannot contain line breaks or NUL');
}

/**
 * System variables whose command-line option has another name (MariaDB 10.11: `tx_isolation` is set with
 * `--transaction-isolation`; `--tx-isolation` is refused as an unknown option). SET GLOBAL keeps the variable name.
 */
const OPTION_NAMES: Readonly<Record<string, string>> = { tx_isolation: 'transaction_isolation' };

/** `--name=value` for each parameter, checked, with the command-line spelling of its name. */
export function paramArgs(params: Readonly<Record<string, string>>): string[] {
  return Object.entries(params).map(([k, v]) => {
    const n = checkParamName(k);
    checkValue(v);
    return `--${OPTION_NAMES[n] ?? n}=${v}`;
  });
}

export interface MariadbArgsInput {
  dataDir: string;
  /** Rendered by initFileSql, run at every start before the first connection. */
  initFile: string;
  /** The only directory FILE could reach (nobody but Cellar's role holds FILE). */
  secureFileDir: string;
  socket: string;
  pidFile: string;
  tmpDir: string;
  port: number;
  listenAddresses: readonly string[];
  params: Readonly<Record<string, string>>;
  /** 1 .. 2^32-1, unique among a primary and its replicas (serverIdFor). */
  serverId: number;
}

/**
 * The server id: derived from the instance directory, so that a primary, its replicas and instances restored from it
 * (each in its own directory) differ. 0 is refused by replication; 65535 is left to tools (mariadb-binlog's default).
 */
export function serverIdFor(instanceDir: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(instanceDir)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h === 0 || h === 65535 ? 1 : h;
}

/**
 * `--no-defaults` first (mariadbd requires it first), so /etc/mysql and ~/.my.cnf never apply; every path explicit
 * so nothing lands in /run/mysqld or /var/lib/mysql. Parameters follow as `--name=value` (not secret).
 */
export function mariadbdArgs(input: MariadbArgsInput): string[] {
  const args = [
    '--no-defaults',
    `--datadir=${input.dataDir}`,
    `--socket=${input.socket}`,
    `--pid-file=${input.pidFile}`,
    `--tmpdir=${input.tmpDir}`,
    `--port=${input.port}`,
    // 10.11 accepts a comma-separated list.
    `--bind-address=${input.listenAddresses.map((a) => (a === '*' ? '0.0.0.0' : a)).join(',')}`,
    // Grants are by IP; a DNS lookup per connection only adds latency and failure modes. The admin procedure also
    // relies on it: with it, USER()'s host is `localhost` only for Unix-socket sessions.
    '--skip-name-resolve',
    `--init-file=${input.initFile}`,
    `--secure-file-priv=${input.secureFileDir}`,
    // CREATE TABLE ... DATA DIRECTORY / INDEX DIRECTORY would put table files anywhere the engine user can write.
    '--skip-symbolic-links',
    // The binary log: continuous archiving for point-in-time restore, and replication. Replicas log what they apply,
    // so a promoted replica's archive carries on where its primary's stopped.
    `--log-bin=${input.dataDir}/${BINLOG_BASENAME}`,
    `--log-bin-index=${input.dataDir}/${BINLOG_BASENAME}.index`,
    `--relay-log=${input.dataDir}/relay-bin`,
    `--relay-log-index=${input.dataDir}/relay-bin.index`,
    `--server-id=${input.serverId}`,
    '--log-slave-updates=ON',
  ];
  // Defaults first: mariadbd takes the last occurrence of an option, so a parameter overrides its default.
  args.push(...paramArgs({ ...DEFAULT_PARAMS, ...input.params }));
  return args;
}

/** A string literal for MariaDB (backslash escapes are on by default, so escape them too). */
export function sqlString(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0') + "'";
}

export function quoteName(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

const SIZE_UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * A parameter value as `SET GLOBAL` wants it. Command-line style sizes (`128M`) are not accepted by SET, so they
 * become bytes; plain numbers stay numbers; anything else is a string literal (ON/OFF and enums accept those).
 */
export function setGlobalValue(value: string): string {
  checkValue(value);
  const v = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(v)) return v;
  const m = /^(\d+)([KMGT])$/i.exec(v);
  if (m) return String(BigInt(m[1]!) * BigInt(SIZE_UNITS[m[2]!.toUpperCase()]!));
  return sqlString(v);
}

export function validateMasterUsername(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(name)) throw new Error(`invalid master username ${JSON.stringify(name)}: 1-32 letters, digits or _, starting with a letter`);
  const lower = name.toLowerCase();
  if (['root', 'rdsadmin', 'mysql', 'mariadb', ADMIN_ROLE, PRIVILEGE_MASK_ROLE].includes(lower)) throw new Error(`master username ${name} is reserved`);
}

export function validateDbName(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}`);
}

/**
 * One statement (it must fit on one line: the init-file and bootstrap readers end a statement at a line ending in
 * `;`) granting the master its data privileges on every pattern, and read access to the protected schemas.
 */
export function masterGrantsSql(masterUsername: string): string {
  const user = `${sqlString(masterUsername)}@'%'`;
  const patterns = sqlString(JSON.stringify(masterDatabasePatterns()));
  const grantPattern = `CONCAT('GRANT ${MASTER_DATABASE_PRIVILEGES.join(', ')} ON \`', REPLACE(p.pattern, '\`', '\`\`'), '\`.* TO ', ${sqlString(user)}, ' WITH GRANT OPTION')`;
  const protectedGrants = Object.entries(PROTECTED_SCHEMA_GRANTS).map(([schema, privileges]) => `GRANT ${privileges} ON ${quoteName(schema)}.* TO ${user};`);
  return (
    `FOR p IN (SELECT pattern FROM JSON_TABLE(${patterns}, '$[*]' COLUMNS (pattern VARCHAR(64) PATH '$')) AS patterns) DO EXECUTE IMMEDIATE ${grantPattern}; END FOR; ` +
    protectedGrants.join(' ')
  );
}

/**
 * Appended to mariadb-install-db's bootstrap (`--extra-file`). FLUSH PRIVILEGES loads the grant tables, which
 * bootstrap mode otherwise skips, so that CREATE USER and GRANT work. The password arrives as its
 * mysql_native_password hash, never as plaintext. Cellar's own administration is set up by the init file at the
 * first start (initFileSql), before any client can connect.
 */
export function bootstrapSql(input: { masterUsername: string; masterPasswordHash: string; dbName?: string }): string {
  const user = `${sqlString(input.masterUsername)}@'%'`;
  const lines = [
    // install-db's PROXY grants (one per host name, which --skip-name-resolve then warns about at every start): the
    // init file removes them anyway.
    'DELETE FROM mysql.proxies_priv;',
    'FLUSH PRIVILEGES;',
    `CREATE USER ${user} IDENTIFIED BY PASSWORD ${sqlString(input.masterPasswordHash)};`,
    `GRANT ${MASTER_GLOBAL_PRIVILEGES.join(', ')} ON *.* TO ${user} WITH GRANT OPTION;`,
    `BEGIN NOT ATOMIC ${masterGrantsSql(input.masterUsername)} END;`,
  ];
  if (input.dbName) lines.push(`CREATE DATABASE ${quoteName(input.dbName)};`);
  return lines.join('\n') + '\n';
}

/** MariaDB 10.11's default sql_mode: what the init file's statements are written for, whatever the server's is. */
const INIT_SQL_MODE = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION';

/**
 * mariadbd --init-file, rendered at every start: re-establishes Cellar's administration (see the module header)
 * whatever the master did to it since, and moves a master created by an older Cellar (data privileges ON *.*) to
 * the pattern grants. Runs as the bootstrap superuser before the server accepts connections; a failing statement is
 * logged by the server and the next one runs, so each one is written not to fail (IF [NOT] EXISTS, plain DML on
 * the grant tables followed by FLUSH PRIVILEGES). `adminUser` is Cellar's OS user (unix_socket). No secrets.
 */
export function initFileSql(input: { adminUser: string; masterUsername: string; backupUser?: string }): string {
  const role = sqlString(ADMIN_ROLE);
  const admin = `${sqlString(input.adminUser)}@'localhost'`;
  const master = `${sqlString(input.masterUsername)}@'%'`;
  // A database grant (information_schema.SCHEMA_PRIVILEGES row) whose pattern reaches a protected schema, and whether
  // its privilege is one the master itself has there.
  const reachesProtected = PROTECTED_SCHEMAS.map((n) => `${sqlString(n)} LIKE TABLE_SCHEMA`).join(' OR ');
  const readableOnly =
    '(' +
    Object.entries(PROTECTED_SCHEMA_GRANTS)
      .map(([schema, privileges]) => `NOT (${sqlString(schema)} LIKE TABLE_SCHEMA AND PRIVILEGE_TYPE NOT IN (${privileges.split(', ').map(sqlString).join(', ')}))`)
      .join(' AND ') +
    ')';
  const accountExists = (user: string, host: string) => `EXISTS (SELECT 1 FROM mysql.global_priv WHERE User = ${sqlString(user)} AND Host = ${sqlString(host)})`;
  const lines = [
    '-- Rendered by Cellar at every start; see src/engines/mariadb/config.ts (initFileSql).',
    `SET SESSION sql_mode = '${INIT_SQL_MODE}';`,
    'SET SESSION sql_log_bin = 0;',
    // The role, created afresh: whatever took its name (a user account, a role the master made and holds) is removed
    // with every grant of it or to it.
    `DELETE FROM mysql.global_priv WHERE User = ${role} AND Host = '';`,
    `DELETE FROM mysql.roles_mapping WHERE Role = ${role} OR (User = ${role} AND Host = '');`,
    ...['db', 'tables_priv', 'columns_priv', 'procs_priv'].map((t) => `DELETE FROM mysql.${t} WHERE User = ${role} AND Host = '';`),
    'FLUSH PRIVILEGES;',
    `CREATE ROLE ${ADMIN_ROLE};`,
    // CREATE ROLE gave its ADMIN OPTION to the init file's (empty) user: nobody may grant this role.
    `DELETE FROM mysql.roles_mapping WHERE Role = ${role};`,
    'FLUSH PRIVILEGES;',
    `GRANT ALL PRIVILEGES ON *.* TO ${ADMIN_ROLE} WITH GRANT OPTION;`,
    `CREATE OR REPLACE DEFINER = ${ADMIN_ROLE} PROCEDURE ${ADMIN_PROCEDURE}(IN statement_text LONGTEXT) SQL SECURITY DEFINER ` +
      `COMMENT 'Cellar administration; runs only for Unix-socket sessions' BEGIN ` +
      `IF SUBSTRING_INDEX(USER(), '@', -1) <> 'localhost' OR @@GLOBAL.skip_name_resolve <> 1 THEN ` +
      `SIGNAL SQLSTATE '42000' SET MYSQL_ERRNO = 1227, MESSAGE_TEXT = 'Access denied; ${ADMIN_PROCEDURE} runs only over the Unix socket'; END IF; ` +
      `EXECUTE IMMEDIATE statement_text; END;`,
    // Cellar's account: unix_socket only, unlocked, no limits, nothing but the procedure (and reading mysql, as the
    // master may).
    `CREATE USER IF NOT EXISTS ${admin} IDENTIFIED VIA unix_socket;`,
    `ALTER USER ${admin} IDENTIFIED VIA unix_socket REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE NEVER ACCOUNT UNLOCK;`,
    `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${admin};`,
    `DELETE FROM mysql.roles_mapping WHERE User = ${sqlString(input.adminUser)} AND Host = 'localhost';`,
    `GRANT SELECT ON mysql.* TO ${admin};`,
    `GRANT EXECUTE ON PROCEDURE ${ADMIN_PROCEDURE} TO ${admin};`,
    `DELETE FROM mysql.procs_priv WHERE Db = 'mysql' AND Routine_name = 'cellar_exec' AND NOT (User = ${sqlString(input.adminUser)} AND Host = 'localhost');`,
  ];
  if (input.adminUser !== 'root') {
    // mariadb-install-db's root@localhost (unix_socket for OS root) keeps its login and loses its privileges.
    lines.push(`BEGIN NOT ATOMIC IF ${accountExists('root', 'localhost')} THEN REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'root'@'localhost'; END IF; END;`);
  }
  lines.push(
    // install-db's PROXY grants (root may log in as anyone through a proxying plugin) and mariadb.sys's DELETE on
    // global_priv: no account keeps more than the master may have. Table grants on mysql are read-only.
    'DELETE FROM mysql.proxies_priv;',
    `UPDATE mysql.tables_priv SET Table_priv = 'Select', Column_priv = '' WHERE Db = 'mysql' AND Table_priv <> 'Select';`,
    'FLUSH PRIVILEGES;',
    // A master made by an older Cellar (data privileges on *.*) gets its pattern grants (once: the catch-all pattern
    // is there afterwards); the next statement takes the data privileges on *.* away.
    `BEGIN NOT ATOMIC IF ${accountExists(input.masterUsername, '%')} AND NOT EXISTS (SELECT 1 FROM mysql.db WHERE User = ${sqlString(input.masterUsername)} AND Host = '%' AND Db = ${sqlString(masterDatabasePatterns()[0]!)}) THEN ${masterGrantsSql(input.masterUsername)} END IF; END;`,
    // No account or role but Cellar's holds a global privilege beyond the master's (an older Cellar's master held data
    // privileges on *.* and could pass them on to users and roles). The allowed bits are read from a scratch role
    // granted exactly the master's global privileges, so no privilege bit is written down here.
    `DELETE FROM mysql.global_priv WHERE User = ${sqlString(PRIVILEGE_MASK_ROLE)} AND Host = '';`,
    `DELETE FROM mysql.roles_mapping WHERE Role = ${sqlString(PRIVILEGE_MASK_ROLE)};`,
    'FLUSH PRIVILEGES;',
    `CREATE ROLE ${PRIVILEGE_MASK_ROLE};`,
    `GRANT ${MASTER_GLOBAL_PRIVILEGES.join(', ')} ON *.* TO ${PRIVILEGE_MASK_ROLE} WITH GRANT OPTION;`,
    `SELECT CAST(JSON_VALUE(Priv, '$.access') AS UNSIGNED) INTO @cellar_allowed FROM mysql.global_priv WHERE User = ${sqlString(PRIVILEGE_MASK_ROLE)} AND Host = '';`,
    `DROP ROLE ${PRIVILEGE_MASK_ROLE};`,
    `UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.access', CAST(JSON_VALUE(Priv, '$.access') AS UNSIGNED) & @cellar_allowed) ` +
      `WHERE NOT (User = ${role} AND Host = '') AND @cellar_allowed IS NOT NULL AND CAST(JSON_VALUE(Priv, '$.access') AS UNSIGNED) & ~@cellar_allowed <> 0;`,
    'FLUSH PRIVILEGES;',
    // Nor more than reading on a database pattern that reaches mysql or sys, nor GRANT OPTION there. A refused REVOKE
    // (GRANT OPTION already gone with an earlier row of the same pattern) moves on to the next row. Roles are named
    // without a host in REVOKE.
    `BEGIN NOT ATOMIC DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END; ` +
      `FOR d IN (SELECT GRANTEE AS grantee, TABLE_SCHEMA AS pattern, PRIVILEGE_TYPE AS privilege, IS_GRANTABLE = 'YES' AS grantable, ${readableOnly} AS readable ` +
      `FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE <> ${sqlString(`'${ADMIN_ROLE}'@''`)} AND (${reachesProtected}) AND (IS_GRANTABLE = 'YES' OR NOT ${readableOnly})) DO ` +
      `EXECUTE IMMEDIATE CONCAT('REVOKE ', IF(d.readable, 'GRANT OPTION', CONCAT(d.privilege, IF(d.grantable, ', GRANT OPTION', ''))), ' ON \`', REPLACE(d.pattern, '\`', '\`\`'), '\`.* FROM ', ` +
      `IF(d.grantee LIKE '%@''''', SUBSTRING_INDEX(d.grantee, '@', 1), d.grantee)); END FOR; END;`,
  );
  if (input.backupUser) lines.push(...backupAccountSql(input.backupUser, input.adminUser));
  return lines.join('\n') + '\n';
}

/**
 * What mariadb-backup and the binlog archiver (mariadb-binlog --read-from-remote-server) need, all of them privileges
 * the master holds too (MASTER_GLOBAL_PRIVILEGES), so an account that has them gives nobody more reach.
 */
export const BACKUP_PRIVILEGES: readonly string[] = ['RELOAD', 'PROCESS', 'BINLOG MONITOR', 'REPLICATION SLAVE', 'SLAVE MONITOR'];

/**
 * The account Cellar's backup tools log in with: named after the engine's OS user (the tools run as that user) and
 * reachable only through the Unix socket (unix_socket authentication, no password anywhere). When Cellar is not root
 * the engine user is Cellar's own user, whose admin account then also holds these privileges.
 */
export function backupAccountSql(backupUser: string, adminUser: string): string[] {
  const account = `${sqlString(backupUser)}@'localhost'`;
  const lines: string[] = [];
  if (backupUser !== adminUser) {
    lines.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED VIA unix_socket;`,
      `ALTER USER ${account} IDENTIFIED VIA unix_socket REQUIRE NONE WITH MAX_USER_CONNECTIONS 0 PASSWORD EXPIRE NEVER ACCOUNT UNLOCK;`,
      `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account};`,
      `DELETE FROM mysql.roles_mapping WHERE User = ${sqlString(backupUser)} AND Host = 'localhost';`,
      'FLUSH PRIVILEGES;',
    );
  }
  lines.push(`GRANT ${BACKUP_PRIVILEGES.join(', ')} ON *.* TO ${account};`);
  return lines;
}

/** Parses `mariadbd --version`, e.g. "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64". */
export function parseMariadbVersion(output: string): { version: string; major: string; full: string } | undefined {
  const m = /Ver\s+(\d+)\.(\d+)\.(\d+)(-MariaDB)?/.exec(output);
  if (!m) return undefined;
  return { version: `${m[1]}.${m[2]}.${m[3]}`, major: `${m[1]}.${m[2]}`, full: output.trim() };
}
