/**
 * @module engines/mariadb/config
 * Pure pieces of the MariaDB adapter: the mariadbd command line, the bootstrap SQL, the master user's privileges,
 * parameter names and values. No I/O; unit-tested.
 */

/**
 * The RDS master user's privileges on MariaDB (as RDS documents them): everything an application or DBA needs,
 * WITH GRANT OPTION, but none of SUPER, SHUTDOWN, FILE, BINLOG ADMIN, READ_ONLY ADMIN, CONNECTION ADMIN,
 * REPLICATION MASTER ADMIN, FEDERATED ADMIN, SET USER — the ones that reach the host, the server's lifecycle or
 * other accounts' sessions.
 */
export const MASTER_PRIVILEGES: readonly string[] = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'RELOAD', 'PROCESS', 'REFERENCES', 'INDEX', 'ALTER',
  'SHOW DATABASES', 'CREATE TEMPORARY TABLES', 'LOCK TABLES', 'EXECUTE', 'REPLICATION SLAVE', 'BINLOG MONITOR',
  'CREATE VIEW', 'SHOW VIEW', 'CREATE ROUTINE', 'ALTER ROUTINE', 'CREATE USER', 'EVENT', 'TRIGGER', 'DELETE HISTORY',
  'SLAVE MONITOR',
];

/** Options Cellar owns (they follow from the spec and the instance layout). Compared with '-' as '_'. */
export const MANAGED_OPTIONS: ReadonlySet<string> = new Set([
  'datadir', 'socket', 'port', 'bind_address', 'pid_file', 'basedir', 'plugin_dir', 'user', 'log_error',
  'skip_grant_tables', 'init_file', 'skip_networking', 'defaults_file', 'defaults_extra_file', 'no_defaults',
  'skip_name_resolve', 'tmpdir', 'secure_file_priv',
]);

export const DEFAULT_PARAMS: Readonly<Record<string, string>> = {
  innodb_buffer_pool_size: '128M',
  max_connections: '151',
};

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
  socket: string;
  pidFile: string;
  tmpDir: string;
  port: number;
  listenAddresses: readonly string[];
  params: Readonly<Record<string, string>>;
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
    // Grants are by IP; a DNS lookup per connection only adds latency and failure modes.
    '--skip-name-resolve',
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
  if (['root', 'rdsadmin', 'mysql', 'mariadb'].includes(lower)) throw new Error(`master username ${name} is reserved`);
}

export function validateDbName(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) throw new Error(`invalid database name ${JSON.stringify(name)}`);
}

/**
 * Appended to mariadb-install-db's bootstrap (`--extra-file`). FLUSH PRIVILEGES loads the grant tables, which
 * bootstrap mode otherwise skips, so that CREATE USER and GRANT work. The password arrives as its
 * mysql_native_password hash, never as plaintext.
 */
export function bootstrapSql(input: { masterUsername: string; masterPasswordHash: string; dbName?: string }): string {
  const user = `${sqlString(input.masterUsername)}@'%'`;
  const lines = [
    'FLUSH PRIVILEGES;',
    `CREATE USER ${user} IDENTIFIED BY PASSWORD ${sqlString(input.masterPasswordHash)};`,
    `GRANT ${MASTER_PRIVILEGES.join(', ')} ON *.* TO ${user} WITH GRANT OPTION;`,
  ];
  if (input.dbName) lines.push(`CREATE DATABASE ${quoteName(input.dbName)};`);
  return lines.join('\n') + '\n';
}

/** Parses `mariadbd --version`, e.g. "mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64". */
export function parseMariadbVersion(output: string): { version: string; major: string; full: string } | undefined {
  const m = /Ver\s+(\d+)\.(\d+)\.(\d+)(-MariaDB)?/.exec(output);
  if (!m) return undefined;
  return { version: `${m[1]}.${m[2]}.${m[3]}`, major: `${m[1]}.${m[2]}`, full: output.trim() };
}
