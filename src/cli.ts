/**
 * @module cli
 * `cellar start|status|--version|--help`. Start prints the endpoint and data directory, then serves
 * until SIGTERM/SIGINT, when it stops cleanly: requests in flight are answered, then every service stops in order
 * (server.ts). A second signal hurries the stop.
 */
import { parseArgs } from 'node:util';
import { loadConfig, DEFAULTS } from './config.js';
import { flushLogs, log } from './core/log.js';
import { startCellar } from './server.js';
import { VERSION } from './version.js';

const HELP = `cellar ${VERSION}: the AWS data tier on your own machine

Usage:
  cellar start [--port 4566] [--host 127.0.0.1] [--data-dir DIR] [--in-memory] [--strict] [--config FILE]
  cellar status [--endpoint http://127.0.0.1:4566]
  cellar --version
  cellar --help

start options:
  --port N           port to serve every AWS API on (default 4566)
  --host ADDR        address to listen on (default 127.0.0.1)
  --data-dir DIR     where all state lives (default ./.cellar or $CELLAR_DATA_DIR)
  --in-memory        a throwaway server: nothing is written to disk
  --strict           accept only known access keys; enforce clock skew, expiry and session tokens
  --config FILE      settings file (default <data-dir>/cellar.json); see docs/configuration.md
  --allow-clock-control  let POST /_cellar/clock move the server's clock forward (for tests)
  --quiet            no per-request log lines

Point the AWS SDKs and CLI at it with AWS_ENDPOINT_URL=http://localhost:4566.
`;

async function main(argv: string[]): Promise<number> {
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
      'allow-clock-control': { type: 'boolean' },
      quiet: { type: 'boolean' },
      endpoint: { type: 'string' },
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
  if (command === 'status') {
    const endpoint = values.endpoint ?? process.env.AWS_ENDPOINT_URL ?? `http://127.0.0.1:${DEFAULTS.port}`;
    try {
      const res = await fetch(`${endpoint.replace(/\/$/, '')}/_cellar/health`, { signal: AbortSignal.timeout(5000) });
      console.log(JSON.stringify(await res.json(), null, 2));
      return res.ok ? 0 : 1;
    } catch (e) {
      console.error(`cellar is not answering at ${endpoint}: ${(e as Error).message}`);
      return 1;
    }
  }
  if (command !== 'start') {
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
  });
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
      setTimeout(() => exitNow('the stop took too long'), config.shutdownDrainMs + CLEAN_STOP_AFTER_DRAIN_MS).unref();
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
  process.stderr.write(`Cellar ${VERSION} serving AWS APIs at ${cellar.endpoint}\nData directory: ${cellar.dataDir ?? '(in memory: nothing is kept)'}\n`);
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

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`cellar: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
