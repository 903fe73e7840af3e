/**
 * @module cli
 * `cellar start [-d]|stop|wait|logs|status|reset|aws|--version|--help`. Start prints the endpoint and data directory,
 * then serves until SIGTERM/SIGINT, when it stops cleanly: requests in flight are answered, then every service stops
 * in order (server.ts). A second signal hurries the stop. `-d` serves in the background instead (lifecycle/daemon.ts).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, defaultDataDir, DEFAULTS, type CellarConfig } from './config.js';
import { flushLogs, log, setLogSink } from './core/log.js';
import { LogFile } from './core/log-file.js';
import { claimPidFile, printLog, readiness, runningPid, startDetached, stopDetached, waitUntilReady } from './lifecycle/daemon.js';
import { startCellar, SHUTDOWN_HOOKS_MS } from './server.js';
import { VERSION } from './version.js';

const HELP = `cellar ${VERSION}: the AWS data tier on your own machine

Usage:
  cellar start [-d] [--port 4566] [--host 127.0.0.1] [--data-dir DIR] [--in-memory] [--strict] [--config FILE]
  cellar stop [--data-dir DIR | --pid-file FILE] [--timeout SECONDS]
  cellar wait [--endpoint URL] [--timeout SECONDS]
  cellar logs [-f] [--lines N] [--data-dir DIR | --log-file FILE]
  cellar status [--endpoint URL]
  cellar reset [SERVICE...] [--endpoint URL]
  cellar aws ARGS...          the AWS CLI against this server (as awslocal): cellar aws dynamodb list-tables
  cellar --version
  cellar --help

start options:
  -d, --detach       serve in the background: writes <data-dir>/cellar.pid and <data-dir>/logs/cellar.log, returns
                     once the server is ready (or fails, printing the log's last lines)
  --port N           port to serve every AWS API on (default 4566)
  --host ADDR        address to listen on (default 127.0.0.1)
  --data-dir DIR     where all state lives (default ./.cellar or $CELLAR_DATA_DIR)
  --in-memory        a throwaway server: nothing is written to disk
  --strict           accept only known access keys; enforce clock skew, expiry and session tokens
  --config FILE      settings file (default <data-dir>/cellar.json); see docs/configuration.md
  --init-dir DIR     init hooks: {boot,ready,shutdown}.d scripts (default <data-dir>/init); see docs/lifecycle.md
  --allow-clock-control  let POST /_cellar/clock move the server's clock forward (for tests)
  --quiet            no per-request log lines
  --enforce-provisioned-throughput  throttle PROVISIONED DynamoDB tables beyond their capacity (docs/dynamodb.md)
  --pid-file FILE, --log-file FILE   where -d keeps them (default under the data directory)

The endpoint of wait, status, reset and aws: --endpoint, else $CELLAR_ENDPOINT, else $AWS_ENDPOINT_URL, else the
port of the data directory's config (default http://127.0.0.1:4566).

Point the AWS SDKs at it with AWS_ENDPOINT_URL=http://localhost:4566. Debian's AWS CLI 2.9 ignores that variable:
pass --endpoint-url, or use \`cellar aws\`.
`;

async function main(argv: string[]): Promise<number> {
  // Everything after `aws` belongs to the AWS CLI.
  if (argv[0] === 'aws') return runAwsCli(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'in-memory': { type: 'boolean' },
      strict: { type: 'boolean' },
      config: { type: 'string' },
      'init-dir': { type: 'string' },
      'allow-clock-control': { type: 'boolean' },
      quiet: { type: 'boolean' },
      'enforce-provisioned-throughput': { type: 'boolean' },
      endpoint: { type: 'string' },
      detach: { type: 'boolean', short: 'd' },
      'pid-file': { type: 'string' },
      'log-file': { type: 'string' },
      timeout: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      lines: { type: 'string' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.version) {
    console.log(VERSION);
    return 0;
  }
  const command = positionals[0];
  if (values.help || !command) {
    console.log(HELP);
    return command || values.help ? 0 : 1;
  }
  // Where a background server keeps its PID file and log: under the data directory (the default one with --in-memory).
  const home = values['data-dir'] ?? defaultDataDir();
  const pidFile = values['pid-file'] ?? join(home, 'cellar.pid');
  const logFile = values['log-file'] ?? join(home, 'logs', 'cellar.log');
  const timeoutMs = (fallbackSeconds: number) => {
    const t = values.timeout === undefined ? fallbackSeconds : Number(values.timeout);
    if (!Number.isFinite(t) || t <= 0 || t > 86_400) throw new UsageError(`--timeout must be a number of seconds, not ${values.timeout}`);
    return t * 1000;
  };
  switch (command) {
    case 'status': {
      const endpoint = endpointOf(values);
      const pid = runningPid(pidFile);
      try {
        const res = await fetch(`${endpoint}/_cellar/health`, { signal: AbortSignal.timeout(5000) });
        console.log(JSON.stringify({ ...((await res.json()) as object), ...(pid ? { pid } : {}) }, null, 2));
        return res.ok ? 0 : 1;
      } catch (e) {
        console.error(`cellar is not answering at ${endpoint}: ${(e as Error).message}`);
        return 1;
      }
    }
    case 'wait': {
      const endpoint = endpointOf(values);
      const ready = await waitUntilReady(endpoint, timeoutMs(60));
      if (ready.ready) {
        console.error(`cellar is ready at ${endpoint}`);
        return 0;
      }
      console.error(`cellar: ${ready.why}`);
      return 1;
    }
    case 'stop': {
      const stopped = await stopDetached(pidFile, timeoutMs((DEFAULTS.shutdownDrainMs + CLEAN_STOP_AFTER_DRAIN_MS + SHUTDOWN_HOOKS_MS) / 1000 + 10));
      if (stopped.how === 'not-running') console.error(`cellar is not running (no live process in ${pidFile})`);
      else console.error(`cellar (pid ${stopped.pid}) ${stopped.how === 'stopped' ? 'stopped' : 'did not stop in time and was killed'} after ${(stopped.elapsedMs / 1000).toFixed(1)} s`);
      return stopped.how === 'killed' ? 1 : 0;
    }
    case 'logs': {
      const lines = values.lines === undefined ? undefined : Number(values.lines);
      if (lines !== undefined && (!Number.isInteger(lines) || lines < 0)) throw new UsageError(`--lines must be a whole number, not ${values.lines}`);
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      const found = await printLog(logFile, { follow: Boolean(values.follow), ...(lines !== undefined ? { lines } : {}), write: (s) => process.stdout.write(s), signal: stop.signal });
      if (!found) {
        console.error(`no log at ${logFile}: a server started with \`cellar start -d\` writes it (one in the foreground logs to stdout)`);
        return 1;
      }
      return 0;
    }
    case 'reset': {
      const endpoint = endpointOf(values);
      try {
        const res = await fetch(`${endpoint}/_cellar/reset`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ services: positionals.slice(1) }),
          signal: AbortSignal.timeout(timeoutMs(300)),
        });
        const body = await res.text();
        if (!res.ok) {
          console.error(`cellar: reset refused (${res.status}): ${body}`);
          return 1;
        }
        console.log(body);
        return 0;
      } catch (e) {
        console.error(`cellar is not answering at ${endpoint}: ${(e as Error).message}`);
        return 1;
      }
    }
    case 'start':
      break;
    default:
      console.error(`unknown command ${command}\n\n${HELP}`);
      return 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`--port must be a port number, not ${values.port}`);
    return 2;
  }
  const config = loadConfig({
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    ...(values['in-memory'] ? { inMemory: true } : {}),
    ...(values.strict ? { strict: true } : {}),
    ...(values.config ? { configFile: values.config } : {}),
    ...(values['allow-clock-control'] ? { allowClockControl: true } : {}),
    ...(values.quiet ? { logRequests: false } : {}),
    ...(values['enforce-provisioned-throughput'] ? { dynamodb: { enforceProvisionedThroughput: true } } : {}),
    ...(values['init-dir'] ? { initDir: values['init-dir'] } : {}),
  });
  if (values.detach) {
    const args = argv.filter((a) => a !== '-d' && a !== '--detach');
    const pid = await startDetached({ args, logFile, pidFile, endpoint: endpointFor(config), timeoutMs: timeoutMs(120) });
    console.error(`Cellar ${VERSION} serving AWS APIs at ${endpointFor(config)} in the background (pid ${pid})\nLog: ${logFile}\nStop it with: cellar stop${values['data-dir'] ? ` --data-dir ${values['data-dir']}` : ''}`);
    return 0;
  }
  if (values['log-file']) setLogSink(new LogFile(values['log-file']).write);
  if (values['pid-file']) claimPidFile(values['pid-file']);
  // The last line of defence for "nothing stored can stop the server": every background job has its own guard, and
  // anything that still escapes one is logged (and counted) instead of taking every service down.
  let escaped = 0;
  process.on('unhandledRejection', (reason) => {
    escaped++;
    log('error', 'background work failed outside its guard', { escaped, error: reason instanceof Error ? reason.stack : String(reason) });
  });
  process.on('uncaughtException', (err) => {
    escaped++;
    log('error', 'background work threw outside its guard', { escaped, error: err.stack ?? String(err) });
  });
  const cellar = await startCellar(config);
  // First signal: a clean stop (drain, then every service, RDS engines shut down cleanly). Second: a hurried one.
  // Each is bounded: past its bound the process exits regardless, with status 1.
  let signals = 0;
  const stop = (signal: string) => {
    signals++;
    if (signals === 1) {
      log('info', 'shutting down', { signal, drainMs: config.shutdownDrainMs });
      setTimeout(() => exitNow('the stop took too long'), config.shutdownDrainMs + CLEAN_STOP_AFTER_DRAIN_MS + SHUTDOWN_HOOKS_MS).unref();
      cellar.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    } else if (signals === 2) {
      log('info', 'hurrying the shutdown', { signal });
      setTimeout(() => exitNow('the hurried stop took too long'), HURRIED_STOP_MS).unref();
      cellar.hurry();
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The banner last: whoever waits for it (a supervisor, a test) may signal at once, and is then answered by a clean stop.
  // In the background the log file is JSON lines only (`cellar logs` output stays parseable): the banner is one of them.
  if (values['log-file']) log('info', 'serving', { endpoint: cellar.endpoint, dataDir: cellar.dataDir ?? null, pid: process.pid });
  else process.stderr.write(`Cellar ${VERSION} serving AWS APIs at ${cellar.endpoint}\nData directory: ${cellar.dataDir ?? '(in memory: nothing is kept)'}\n`);
  return -1; // keep serving
}

/**
 * After the drain, how long services get to stop: RDS may wait for an action in flight (up to 60 s) and stop its
 * engines (a clean shutdown of each is usually under a second, bounded at 30 s before it escalates).
 */
const CLEAN_STOP_AFTER_DRAIN_MS = 120_000;
/** A hurried stop: engines are stopped immediately (SIGQUIT, then SIGKILL after 10 s). */
const HURRIED_STOP_MS = 15_000;

function exitNow(why: string): void {
  log('error', 'exiting without a complete stop', { why });
  flushLogs();
  process.exit(1);
}

class UsageError extends Error {}

/** The endpoint the client commands talk to (see HELP). */
function endpointOf(values: { endpoint?: string | undefined; 'data-dir'?: string | undefined; config?: string | undefined; port?: string | undefined; host?: string | undefined }): string {
  const given = values.endpoint ?? process.env.CELLAR_ENDPOINT ?? process.env.AWS_ENDPOINT_URL;
  if (given) return given.replace(/\/$/, '');
  try {
    const config = loadConfig({ ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), ...(values.config ? { configFile: values.config } : {}) });
    return endpointFor({ ...config, ...(values.port ? { port: Number(values.port) } : {}), ...(values.host ? { host: values.host } : {}) });
  } catch {
    return `http://127.0.0.1:${DEFAULTS.port}`;
  }
}

/** Where a server with this config answers locally (a wildcard listen address is reached on loopback). */
function endpointFor(config: CellarConfig): string {
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '::1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}

/**
 * `cellar aws ...`: the AWS CLI pointed at this server, as LocalStack's awslocal does. Credentials and region default
 * to ones any Cellar accepts when the environment sets none; the CLI's exit status is returned.
 */
function runAwsCli(args: string[]): Promise<number> {
  const endpoint = endpointOf({});
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION ?? process.env.AWS_REGION ?? DEFAULTS.region,
  };
  return new Promise((resolve) => {
    const child = spawn('aws', ['--endpoint-url', endpoint, ...args], { stdio: 'inherit', env });
    child.once('error', (e) => {
      console.error(`cellar aws: cannot run the AWS CLI (${e.message}); install it (Debian: apt-get install awscli)`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`cellar: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
