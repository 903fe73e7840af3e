/**
 * @module services/rds/index
 * The RDS service definition: awsQuery with RDS's own validation wording, the provider, and the
 * supervisor that runs the engines in the background (started after the server listens, stopped
 * before it closes).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../protocols/model.js';
import { QueryProtocol } from '../../protocols/query.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { DEFAULT_MEMORY_SCALE } from './catalog.js';
import { blankParameter } from './errors.js';
import { LocalHost } from '../../engines/host.js';
import { EnginesDriver } from './driver.js';
import type { KmsInternal } from '../kms/internal.js';
import type { SecretsManagerInternal } from '../secretsmanager/provider.js';
import { endpointAddress } from './describe.js';
import { MasterSecrets, ROTATION_FUNCTION } from './master-secret.js';
import type { BuiltinRotationHandler } from '../secretsmanager/rotation.js';
import { RdsProvider } from './provider.js';
import { RdsTables } from './records.js';
import { InstanceEvents } from './status.js';
import { RdsSupervisor } from './supervisor.js';

const DEFAULT_HEALTH_INTERVAL_MS = 500;

/**
 * Where engine data lives: `<data-dir>/rds`, or a temporary directory with --in-memory. The engines
 * run as an unprivileged user, who must be able to pass through the parent directories (not list
 * them): when Cellar runs as root, the data directory becomes 0711 and the state files in it 0600.
 */
function prepareEngineRoot(env: ServiceEnv): { root: string; temporary: boolean } {
  const configured = env.config.rds?.engineRoot;
  const dataDir = env.config.dataDir;
  const root = configured ?? (dataDir ? join(dataDir, 'rds') : mkdtempSync(join(tmpdir(), 'cellar-rds-')));
  mkdirSync(root, { recursive: true, mode: 0o711 });
  chmodSync(root, 0o711);
  if (userInfo().uid === 0 && dataDir && !configured) {
    chmodSync(dataDir, 0o711);
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm', 'root.key', 'cellar.json']) {
      const p = join(dataDir, f);
      if (existsSync(p)) chmodSync(p, 0o600);
    }
  }
  return { root, temporary: !configured && !dataDir };
}

/**
 * Finding the engine user and the installed engines takes process starts (~100-200 ms); Cellar serves
 * every other service meanwhile. RDS requests wait for it (ServiceDefinition.ready), and so does start().
 */
export function rdsService(env: ServiceEnv): ServiceDefinition {
  const sm = internalOf<SecretsManagerInternal>(env, 'secretsmanager');
  let built: Built | undefined;
  const ready = build(env, sm).then((b) => {
    built = b;
  });
  // Rotations that fell due while Cellar was down must find the handler when Secrets Manager starts.
  if (sm) sm.registerBuiltinRotation(ROTATION_FUNCTION, lazyHandler(ready, () => built?.secrets?.handler()));
  // One method per RDS operation, delegating to the provider once it is built (the gateway awaits `ready`).
  const provider = new Proxy(
    {},
    {
      get(_target, name) {
        if (typeof name !== 'string' || name === 'constructor') return undefined;
        const method = (RdsProvider.prototype as unknown as Record<string, unknown>)[name];
        if (typeof method !== 'function') return undefined;
        return (...args: unknown[]) => (method as (...a: unknown[]) => unknown).apply(built!.provider, args);
      },
    },
  );
  return {
    id: 'rds',
    model: loadModel('rds'),
    protocol: new QueryProtocol({
      validationCode: 'InvalidParameterValue',
      // RDS answers a missing required parameter as a blank one, naming it as the API does.
      missingParameter: (path) => blankParameter(path.charAt(0).toUpperCase() + path.slice(1)),
    }),
    provider,
    authStyle: 'query',
    ready,
    start: async () => {
      await ready;
      await built!.supervisor.start();
    },
    stop: async () => {
      await ready.catch(() => undefined);
      if (!built) return;
      await built.supervisor.stop();
      if (built.temporary) rmSync(built.root, { recursive: true, force: true });
    },
    health: () => (built ? built.supervisor.health() : { state: 'starting' }),
  };
}

interface Built {
  provider: RdsProvider;
  supervisor: RdsSupervisor;
  secrets: MasterSecrets | undefined;
  root: string;
  temporary: boolean;
}

function internalOf<T>(env: ServiceEnv, id: string): T | undefined {
  return (env.built.get(id)?.provider as unknown as { internal?: T } | undefined)?.internal;
}

/** The managed-password rotation handler, usable before the engines are found: each step waits for them. */
function lazyHandler(ready: Promise<void>, handler: () => BuiltinRotationHandler | undefined): BuiltinRotationHandler {
  const step =
    (name: keyof BuiltinRotationHandler) =>
    async (...args: Parameters<BuiltinRotationHandler['createSecret']>): Promise<void> => {
      await ready;
      const h = handler();
      if (!h) throw new Error('RDS managed passwords need Secrets Manager and KMS');
      await h[name](...args);
    };
  return { createSecret: step('createSecret'), setSecret: step('setSecret'), testSecret: step('testSecret'), finishSecret: step('finishSecret') };
}

async function build(env: ServiceEnv, sm: SecretsManagerInternal | undefined): Promise<Built> {
  const tables = new RdsTables(env.store);
  const events = new InstanceEvents(tables);
  // Engines run through the engine layer's host (as the unprivileged `cellar` user when Cellar is root).
  const driver = await EnginesDriver.create(await LocalHost.create());
  const { root, temporary } = prepareEngineRoot(env);
  const memoryScale = env.config.rds?.memoryScale ?? DEFAULT_MEMORY_SCALE;
  const kms = internalOf<KmsInternal>(env, 'kms');
  let secrets: MasterSecrets | undefined;
  const supervisor: RdsSupervisor = new RdsSupervisor({
    deleteSecret: (rec, arn) => secrets?.delete(rec, arn),
    tables,
    events,
    driver,
    box: env.box,
    clock: env.clock,
    config: env.config,
    engineRoot: root,
    memoryScale,
    storageGiBBytes: env.config.rds?.storageGiBBytes ?? 1024 ** 3,
    healthIntervalMs: env.config.rds?.healthIntervalMs ?? DEFAULT_HEALTH_INTERVAL_MS,
  });
  if (sm && kms) {
    secrets = new MasterSecrets({
      sm,
      kms,
      tables,
      events,
      box: env.box,
      clock: env.clock,
      driver,
      spec: (rec) => supervisor.spec(rec),
      clientAddress: (rec) => endpointAddress(rec, env.config),
    });
  }
  const provider = new RdsProvider({
    secrets,
    tables,
    events,
    box: env.box,
    config: env.config,
    engineRoot: root,
    memoryScale,
    installed: () => driver.installed(),
    trigger: supervisor,
  });
  return { provider, supervisor, secrets, root, temporary };
}
