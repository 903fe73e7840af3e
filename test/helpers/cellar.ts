/**
 * Test helper: runs a real Cellar as a child process (so tests can kill -9 it and restart it on the
 * same data directory) and builds SDK client settings and AWS CLI invocations against it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BIN = join(REPO_ROOT, 'bin', 'cellar.js');
const START_TIMEOUT_MS = 20_000;

export interface CellarProcess {
  endpoint: string;
  port: number;
  dataDir: string | undefined;
  proc: ChildProcess;
  /** Lines Cellar printed (JSON logs on stdout, banner on stderr). */
  output: string[];
  /** Graceful stop (SIGTERM), waits for exit. */
  stop(): Promise<void>;
  /** kill -9, waits for exit. */
  kill9(): Promise<void>;
  /** Starts Cellar again on the same data directory and port. */
  restart(): Promise<CellarProcess>;
}

export interface StartOptions {
  dataDir?: string;
  inMemory?: boolean;
  port?: number;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

export function tempDir(prefix = 'cellar-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startCellar(options: StartOptions = {}): Promise<CellarProcess> {
  const dataDir = options.inMemory ? undefined : (options.dataDir ?? tempDir());
  const args = [BIN, 'start', '--port', String(options.port ?? 0), '--allow-clock-control', ...(dataDir ? ['--data-dir', dataDir] : ['--in-memory']), ...(options.args ?? [])];
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`cellar did not start within ${START_TIMEOUT_MS} ms:\n${output.join('\n')}`)), START_TIMEOUT_MS);
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        if (output.length < 5000) output.push(line);
        const m = /serving AWS APIs at http:\/\/[^:]+:(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolvePort(Number(m[1]));
        }
      }
    };
    proc.stdout!.on('data', onLine);
    proc.stderr!.on('data', onLine);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cellar exited with ${code} before serving:\n${output.join('\n')}`));
    });
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const endpoint = `http://127.0.0.1:${port}`;
  const handle: CellarProcess = {
    endpoint,
    port,
    dataDir,
    proc,
    output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await handle.stop();
      return startCellar({ ...options, ...(dataDir ? { dataDir } : {}), port });
    },
  };
  return handle;
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Settings for any SDK v3 client. */
export function sdkConfig(endpoint: string, credentials = { accessKeyId: 'test', secretAccessKey: 'test' }) {
  return { endpoint, region: 'us-east-1', credentials, maxAttempts: 1 };
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
  json: any;
}

/** Runs Debian's AWS CLI v2 (/usr/bin/aws) against Cellar. */
export function awsCli(endpoint: string, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync('/usr/bin/aws', ['--endpoint-url', endpoint, '--output', 'json', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  let json: any;
  try {
    json = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

/** Moves the running server's clock forward (needs --allow-clock-control, which startCellar passes). */
export async function advanceClock(endpoint: string, advanceMs: number): Promise<void> {
  const res = await fetch(`${endpoint}/_cellar/clock`, { method: 'POST', body: JSON.stringify({ advanceMs }) });
  if (!res.ok) throw new Error(`clock advance failed: ${res.status}`);
}

/** Polls fn until it returns a truthy value or the time runs out. */
export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * A port the kernel hands out now. Test files run two at a time, each with its own Cellar: left to the
 * engine default, two DB instances could both be given 5432 before either engine binds it.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The CA bundle a Cellar publishes for RDS (GET /_cellar/tls/rds-ca-bundle.pem): what a client verifies DB instances'
 * certificates against. PostgreSQL instances force TLS by default (rds.force_ssl=1, as on RDS for PostgreSQL 15+).
 */
export async function rdsCaBundle(endpoint: string): Promise<string> {
  const res = await fetch(`${endpoint}/_cellar/tls/rds-ca-bundle.pem`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`RDS CA bundle: HTTP ${res.status}`);
  return res.text();
}
