/**
 * @module engines/redis/config
 * Pure rendering of the redis.conf Cellar generates for an instance, ElastiCache-style users, and version parsing.
 * Passwords only ever appear as SHA-256 ACL rules (`#<hex>`), never in clear.
 */

/** Directives Cellar owns. */
export const MANAGED_DIRECTIVES: ReadonlySet<string> = new Set([
  'port', 'bind', 'unixsocket', 'unixsocketperm', 'dir', 'pidfile', 'daemonize', 'supervised', 'logfile', 'include',
  'aclfile', 'user', 'requirepass', 'masteruser', 'masterauth', 'rename-command', 'proc-title-template',
  'protected-mode', 'enable-debug-command', 'enable-module-command', 'enable-protected-configs', 'loadmodule',
  // Files the server writes or reads: they stay inside the instance directory.
  'dbfilename', 'appendfilename', 'appenddirname', 'tls-cert-file', 'tls-key-file', 'tls-ca-cert-file', 'tls-ca-cert-dir',
  'tls-dh-params-file', 'tls-client-cert-file', 'tls-client-key-file', 'tls-key-file-pass', 'tls-client-key-file-pass',
]);

/**
 * Commands ElastiCache withholds from its users (the engine's lifecycle, persistence control, replication wiring,
 * configuration, user management); the master user gets everything else, like ElastiCache's default user. ACL LIST
 * and GETUSER would show every user's password hash, Cellar's own admin user included.
 */
export const RESTRICTED_COMMANDS: readonly string[] = [
  'config', 'debug', 'module', 'shutdown', 'save', 'bgsave', 'bgrewriteaof', 'replicaof', 'slaveof', 'sync', 'psync',
  'migrate', 'failover', 'acl|setuser', 'acl|deluser', 'acl|load', 'acl|save', 'acl|dryrun', 'acl|list', 'acl|getuser',
];

export const ADMIN_USER = 'rdsadmin';
/** The user a replica of this node logs in with: only the commands replication needs. */
export const REPLICATION_USER = 'rdsrepl';
export const REPLICATION_COMMANDS: readonly string[] = ['psync', 'replconf', 'ping', 'sync'];

export function replicationUserRule(passwordRule: string): string {
  return `user ${REPLICATION_USER} reset on ${passwordRule} ${REPLICATION_COMMANDS.map((c) => '+' + c).join(' ')}`;
}

export function checkDirective(name: string): string {
  const n = name.toLowerCase();
  if (!/^[a-z][a-z0-9-]*$/.test(n)) throw new Error(`invalid parameter name ${JSON.stringify(name)}`);
  if (MANAGED_DIRECTIVES.has(n)) throw new Error(`parameter ${name} is managed by Cellar and cannot be changed`);
  return n;
}

export function checkValue(value: string): void {
  if (/[\r\n\0]/.test(value)) throw new Error('parameter values cannot contain line breaks or NUL');
}

export function validateUsername(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(name)) throw new Error(`invalid username ${JSON.stringify(name)}`);
  if (name === ADMIN_USER || name === REPLICATION_USER) throw new Error(`username ${name} is reserved`);
}

/** A config-file string in double quotes (redis.conf understands C-like escapes inside them). */
export function quoted(value: string): string {
  return '"' + value.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

export interface RedisConfInput {
  port: number;
  listenAddresses: readonly string[];
  socket: string;
  pidFile: string;
  dataDir: string;
  configFile: string;
  masterUsername: string;
  /** `#<sha256>` rule, or undefined for no password (ElastiCache without AUTH). */
  masterPasswordRule: string | undefined;
  adminPasswordRule: string;
  /** `#<sha256>` of the replication user's password, once replicationCredentials() made one. */
  replicationPasswordRule?: string;
  params: Readonly<Record<string, string>>;
}

export function userRule(username: string, passwordRule: string | undefined, restricted: readonly string[] = RESTRICTED_COMMANDS): string {
  return [`user ${username} reset on ${passwordRule ?? 'nopass'} ~* &* +@all`, ...restricted.map((c) => '-' + c)].join(' ');
}

export function renderRedisConf(input: RedisConfInput): string {
  const lines = [
    '# Managed by Cellar: rendered at every start from the instance spec and its stored parameters.',
    `port ${input.port}`,
    `bind ${input.listenAddresses.map((a) => (a === '*' ? '* -::*' : a)).join(' ')}`,
    'protected-mode no', // every user has a password or the instance was created without AUTH on purpose
    `unixsocket ${quoted(input.socket)}`,
    'unixsocketperm 700',
    `dir ${quoted(input.dataDir)}`,
    `pidfile ${quoted(input.pidFile)}`,
    'daemonize no',
    'logfile ""',
    // Lets a later Cellar recognise this process by its config file when it finds a leftover pid file.
    `proc-title-template "{title} {listen-addr} {server-mode} {config-file}"`,
    'appendonly yes',
    'appendfsync everysec',
    'save ""',
    userRule(ADMIN_USER, input.adminPasswordRule, []), // the admin keeps every command
    userRule(input.masterUsername, input.masterPasswordRule),
  ];
  if (input.replicationPasswordRule) lines.push(replicationUserRule(input.replicationPasswordRule));
  if (input.masterUsername !== 'default') lines.push('user default reset off');
  for (const [k, v] of Object.entries(input.params)) {
    const name = checkDirective(k);
    checkValue(v);
    lines.push(`${name} ${v}`);
  }
  return lines.join('\n') + '\n';
}

/** Parses `redis-server --version`, e.g. "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 ...". */
export function parseRedisVersion(output: string): { version: string; major: number; full: string } | undefined {
  const m = /v=(\d+)\.(\d+)\.(\d+)/.exec(output);
  if (!m) return undefined;
  return { version: `${m[1]}.${m[2]}.${m[3]}`, major: Number(m[1]), full: output.trim() };
}
