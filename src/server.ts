/**
 * @module server
 * Builds a running Cellar from its configuration: opens the state store, loads the root key, builds
 * every service, and serves them on one HTTP endpoint. `startCellar` is what the CLI and tests call.
 *
 * Stopping is ordered: the endpoint stops taking connections and requests and answers those in flight (for at most
 * `shutdownDrainMs`), then every service stops (RDS stops its engines cleanly), then the store closes. `hurry`
 * shortens a stop: the drain ends at once and services stop fast (RDS engines with an immediate shutdown).
 */
import { mkdirSync, accessSync, constants as fsConstants, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { OffsetClock } from './core/clock.js';
import { flushLogs, log } from './core/log.js';
import { CredentialStore, type Credential } from './auth/credentials.js';
import { Authenticator } from './auth/sigv4.js';
import { loadRootKey, SecretBox } from './crypto/rootkey.js';
import { App, jsonResponse, type InternalRoute } from './gateway/app.js';
import { createHttpServer, type HttpServer } from './gateway/http.js';
import { JsonTable } from './storage/store.js';
import { SqliteStore } from './storage/sqlite.js';
import type { CellarConfig } from './config.js';
import type { ServiceEnv } from './services/env.js';
import { methodName, type ServiceDefinition } from './services/registry.js';
import { SERVICE_FACTORIES } from './services/index.js';
import { VERSION } from './version.js';
import { enableFaults } from './core/faults.js';
import { TlsAuthorities } from './tls/authorities.js';
import { Observability } from './observability/index.js';
import { ConsoleApi } from './console/api.js';
import { ServiceCaller } from './console/invoke.js';
import { CONSOLE_PATH, consoleRoute } from './console/routes.js';
import { lifecycleRoutes } from './lifecycle/routes.js';
import { InitHooks } from './lifecycle/init-hooks.js';
import { Resetter } from './lifecycle/reset.js';

export interface RunningCellar {
  endpoint: string;
  port: number;
  dataDir: string | undefined;
  app: App;
  clock: OffsetClock;
  /** Stops (see the module comment); the same promise however often it is called. */
  close(): Promise<void>;
  /** Hurries a stop in progress, or the next one. */
  hurry(): void;
}

function ensureDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
    // A real write, because access() says yes to root on read-only mounts.
    const probe = join(dir, '.write-probe');
    closeSync(openSync(probe, 'w'));
  } catch (e) {
    throw new Error(`data directory ${dir} is unusable: ${(e as Error).message}`);
  }
}

export async function startCellar(config: CellarConfig): Promise<RunningCellar> {
  // Test hooks only: the crash-at-every-step tests make chosen background steps fail (core/faults.ts).
  if (config.allowClockControl) enableFaults(process.env.CELLAR_FAULTS);
  if (config.dataDir) ensureDataDir(config.dataDir);
  const store = new SqliteStore({ path: config.dataDir ? join(config.dataDir, 'state.db') : ':memory:', durability: config.durability, cacheMiB: config.cacheMiB });
  const box = new SecretBox(loadRootKey(config.dataDir));
  const clock = new OffsetClock();
  const credentials = new CredentialStore(config.keys, new JsonTable<Credential>(store.keyspace('sts_credentials')), box);
  // Nothing is generated until first use: a CA costs an RSA key generation (about 0.1-0.3 s, off the main thread).
  const tls = new TlsAuthorities({ store, box, dataDir: config.dataDir, now: () => clock.now() });
  const env: ServiceEnv = { store, clock, config, credentials, box, built: new Map(), tls };
  const services: ServiceDefinition[] = [];
  for (const factory of SERVICE_FACTORIES) {
    const svc = await factory(env);
    env.built.set(svc.id, svc);
    services.push(svc);
  }

  // Init hooks see the endpoint (known once the server listens) and credentials that work with any Cellar.
  let endpointForHooks = '';
  const hooks = new InitHooks({
    dir: config.initDir,
    timeoutMs: config.initHookTimeoutMs,
    env: () => ({
      AWS_ENDPOINT_URL: endpointForHooks,
      CELLAR_ENDPOINT: endpointForHooks,
      AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION ?? config.region,
      AWS_REGION: process.env.AWS_REGION ?? config.region,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    }),
  });
  const internalRoutes: Record<string, InternalRoute> = {
    '/_cellar/health': () =>
      jsonResponse(200, {
        version: VERSION,
        status: 'running',
        // Which init hook stages have run (`cellar wait` waits for the ready hooks too).
        init: hooks.report().completed,
        services: Object.fromEntries(
          services.map((s) => [
            s.id,
            {
              state: 'available',
              protocol: s.protocol.name,
              // Every protocol it answers, its own first (CloudWatch: awsJson1_0, rpcv2Cbor, awsQuery).
              protocols: [s.protocol, s.cborProtocol, s.queryProtocol].flatMap((p) => (p ? [p.name] : [])),
              // The operations this Cellar serves; the rest of the model answers NotImplemented (DynamoDB: UnknownOperationException).
              operations: [...s.model.operations.keys()].filter((op) => typeof (s.provider as Record<string, unknown>)[methodName(op)] === 'function'),
              ...(s.health?.() ?? {}),
            },
          ]),
        ),
      }),
  };
  // The CA bundle RDS clients trust, published at a URL as AWS publishes its RDS bundles (docs/rds.md, "TLS").
  internalRoutes['/_cellar/tls/rds-ca-bundle.pem'] = async (req) => {
    if (req.method !== 'GET') return jsonResponse(405, { error: 'GET the bundle' });
    try {
      return { status: 200, headers: { 'content-type': 'application/x-pem-file' }, body: await tls.authority('rds').bundlePem() };
    } catch (e) {
      log('error', 'tls: CA bundle unavailable', { error: (e as Error).message });
      return jsonResponse(503, { error: 'the RDS CA bundle is not available right now; see the log' });
    }
  };
  if (config.allowClockControl) {
    // Test hooks (with --allow-clock-control only): a digest of all stored state, so a fuzzer can show that a refused
    // request changed nothing. Left out: DynamoDB's table counters, bookkeeping that a timer rewrites and that each
    // write marks dirty before it runs (it says nothing about items, and a restart recounts it).
    // CloudWatch's alarm records and history are left out too: the alarm evaluator rewrites them on its own schedule.
    // (Cellar's own metric samplers also write CloudWatch data points every period: a digest taken to compare states
    // belongs to a Cellar started with them off, CELLAR_METRICS=off, as the fuzzers start theirs.)
    internalRoutes['/_cellar/state-digest'] = () => jsonResponse(200, { digest: store.digest(['ddb_stats', 'cw_alarms', 'cw_alarm_history']) });
    internalRoutes['/_cellar/clock'] = (req) => {
      if (req.method === 'POST') {
        const body = JSON.parse(req.body.toString('utf8') || '{}') as { advanceMs?: number };
        const advanceMs = Number(body.advanceMs ?? 0);
        if (!Number.isFinite(advanceMs) || advanceMs < 0 || advanceMs > 10 * 365 * 86400_000) return jsonResponse(400, { error: 'advanceMs must be between 0 and 10 years' });
        clock.offsetMs += advanceMs;
      }
      return jsonResponse(200, { now: new Date(clock.now()).toISOString(), offsetMs: clock.offsetMs });
    };
  }

  const observability = new Observability(config.metrics, services, clock);
  internalRoutes['/_cellar/metrics'] = observability.route();
  // The web console (docs/console.md): loopback clients only, reading through the services' own operations.
  const consoleApi = new ConsoleApi(store, new ServiceCaller(services, clock), () => env.endpoint);
  const consoleHandler = consoleRoute(consoleApi);
  internalRoutes[CONSOLE_PATH] = consoleHandler;
  let resetter: Resetter | undefined;
  const allowReset = config.allowReset ?? isLoopback(config.host);
  Object.assign(
    internalRoutes,
    lifecycleRoutes({
      hooks,
      services: () => services,
      health: () => internalRoutes['/_cellar/health']!,
      reset: allowReset ? (ids) => resetter!.reset(ids) : undefined,
    }),
  );

  const authenticator = new Authenticator(credentials, { strict: config.strict, now: () => clock.now() });
  const app = new App({
    services,
    authenticator,
    clock,
    defaultRegion: config.region,
    internalRoutes,
    internalPrefixRoutes: [[`${CONSOLE_PATH}/`, consoleHandler]],
    logRequests: config.logRequests,
    slowRequestMs: config.slowRequestMs,
    ...(observability.requests ? { meter: observability.requests } : {}),
    maxBodyBytes: config.maxBodyBytes,
  });
  const server = createHttpServer(app, {
    maxBodyBytes: config.maxBodyBytes,
    unsignedMaxBodyBytes: config.unsignedMaxBodyBytes,
    bodyBudgetBytes: config.bodyBudgetBytes,
    bodyBudgetWaitMs: config.bodyBudgetWaitMs,
    maxConnections: config.maxConnections,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    minBodyBytesPerSecond: config.minBodyBytesPerSecond,
    bodyRateGraceMs: config.bodyRateGraceMs,
  });
  await listen(server, config.port, config.host);
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  env.endpoint = endpoint;
  endpointForHooks = endpoint;
  resetter = new Resetter({
    services,
    factories: SERVICE_FACTORIES,
    env,
    app,
    store,
    // An emptied CloudWatch is not refilled with the request counts the period had gathered before the reset.
    onCleared: (cleared) => {
      if (cleared.has('cloudwatch')) observability.discardPending();
    },
  });
  await hooks.run('boot');
  // A service's background work that cannot start (stored state it cannot read, say) is reported and the server
  // serves anyway: a start never fails, so never crash-loops, on what is stored.
  for (const svc of services) {
    try {
      await svc.start?.();
    } catch (e) {
      log('error', 'service background work did not start', { service: svc.id, error: e instanceof Error ? e.stack : String(e) });
    }
  }
  observability.start();
  log('info', 'cellar started', { version: VERSION, endpoint, dataDir: config.dataDir ?? null, inMemory: config.inMemory, strict: config.strict });
  // Ready hooks create resources through the API; the server serves meanwhile (`cellar wait` waits for them too).
  void hooks.run('ready');

  let closing: Promise<void> | undefined;
  let hurried = false;
  const hurry = () => {
    if (hurried) return;
    hurried = true;
    server.hurry();
    for (const svc of services) svc.hurry?.();
  };
  return {
    endpoint,
    port,
    dataDir: config.dataDir,
    app,
    clock,
    hurry,
    close() {
      closing ??= (async () => {
        // Shutdown hooks run while the server still answers (unless the stop is hurried), for at most
        // SHUTDOWN_HOOKS_MS together: a stop is bounded whatever the hooks do (one still running is killed by its own limit).
        if (!hurried) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([hooks.run('shutdown'), new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_HOOKS_MS)))]);
          clearTimeout(timer);
        }
        const drainStarted = Date.now();
        await server.drain(config.shutdownDrainMs);
        log('info', 'requests drained; stopping services', { drainMs: Date.now() - drainStarted, hurried });
        // The last period's measurements go to CloudWatch before its service stops (bounded by the samplers' timeout).
        if (!hurried) await observability.stop().catch(() => undefined);
        for (const svc of [...services].reverse()) {
          try {
            await svc.stop?.();
          } catch (e) {
            log('error', 'service failed to stop', { service: svc.id, error: (e as Error).message });
          }
        }
        store.close();
        tls.close();
        flushLogs();
      })();
      return closing;
    },
  };
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new Error(`port ${port} on ${host} is already in use: is another Cellar (or LocalStack) running? Choose another with --port`));
      else if (err.code === 'EACCES') reject(new Error(`no permission to listen on ${host}:${port}`));
      else reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** How long a stop waits for the shutdown hooks (the CLI's bound on a whole stop allows for it). */
export const SHUTDOWN_HOOKS_MS = 30_000;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
