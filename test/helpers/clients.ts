/**
 * Test helper: the engines' own command-line clients (psql, mariadb, mariadb-dump, redis-cli) run as subprocesses
 * over TCP, the way a user holding the master password would. Passwords go through the environment (PGPASSWORD,
 * MYSQL_PWD, REDISCLI_AUTH), never the command line. Every run is bounded.
 */
import { execFile } from 'node:child_process';

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CLIENT_TIMEOUT_MS = 30_000;

function run(command: string, args: string[], env: Record<string, string>): Promise<ClientResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/nonexistent', ...env }, timeout: CLIENT_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export interface Login {
  port: number;
  user: string;
  password: string;
  database?: string;
}

/** psql -c <sql>: one statement, stops at the first error, unaligned tuples only. */
export function psql(login: Login, sql: string): Promise<ClientResult> {
  return run('psql', ['-X', '-h', '127.0.0.1', '-p', String(login.port), '-U', login.user, '-d', login.database ?? 'postgres', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
    PGPASSWORD: login.password,
    PGCONNECT_TIMEOUT: '10',
  });
}

/** mariadb -e <sql>: batch mode, no column names, no option files. */
export function mariadb(login: Login, sql: string): Promise<ClientResult> {
  const args = ['--no-defaults', '--protocol=TCP', '-h', '127.0.0.1', '-P', String(login.port), '-u', login.user, '--batch', '--skip-column-names', '--connect-timeout=10'];
  if (login.database) args.push('-D', login.database);
  return run('mariadb', [...args, '-e', sql], { MYSQL_PWD: login.password });
}

export function mariadbDump(login: Login, args: string[]): Promise<ClientResult> {
  return run('mariadb-dump', ['--no-defaults', '--protocol=TCP', '-h', '127.0.0.1', '-P', String(login.port), '-u', login.user, ...args], { MYSQL_PWD: login.password });
}

/** redis-cli <args>: raw replies. redis-cli exits 0 even for error replies, which it prints as "(error) ..." or "ERR ...". */
export function redisCli(login: Login, args: string[]): Promise<ClientResult> {
  return run('redis-cli', ['-h', '127.0.0.1', '-p', String(login.port), '--user', login.user, '--no-auth-warning', ...args], { REDISCLI_AUTH: login.password });
}
