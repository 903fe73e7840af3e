/**
 * @module services/rds/index
 * The RDS service definition: awsQuery with RDS's own validation wording, the provider, and the
 * supervisor that runs the engines in the background (started after the server listens, stopped
 * before it closes).
 *
 * Only what routing and parsing need is loaded with the server (the model and the protocol). The provider, the
 * supervisor and the engine layer are loaded and built by ./assemble.ts once the server listens: finding the
 * engine user and the installed engines may start processes, and loading RDS's modules takes tens of
 * milliseconds, none of which should delay the other services' first requests.
 */
import { rmSync } from 'node:fs';
import { loadModel } from '../../protocols/model.js';
import { QueryProtocol } from '../../protocols/query.js';
import type { ServiceEnv } from '../env.js';
import type { ServiceDefinition } from '../registry.js';
import { blankParameter } from './errors.js';
import type { KmsInternal } from '../kms/internal.js';
import type { SecretsManagerInternal } from '../secretsmanager/provider.js';
import type { BuiltinRotationHandler } from '../secretsmanager/rotation.js';
import type { AssembledRds } from './assemble.js';
import { ROTATION_FUNCTION } from './records.js';

/**
 * How long after the server listens RDS begins to assemble. Loading RDS's modules and finding its engines is tens of
 * milliseconds of main-thread work (more on a first start, when the engines' version probes are not cached yet);
 * clients usually connect in the first moments after Cellar starts, and their first requests should not queue
 * behind it. RDS requests arriving meanwhile wait for it as they would anyway.
 */
const ASSEMBLY_DELAY_MS = 25;

/**
 * RDS requests wait for RDS to be assembled (ServiceDefinition.ready), and so does start(); every other service is
 * served meanwhile. Assembly begins ASSEMBLY_DELAY_MS after start() is called, right after the server listens (at
 * once if a managed-password rotation needs RDS before that). Until then /_cellar/health reports RDS as `starting`,
 * with no operations.
 */
export function rdsService(env: ServiceEnv): ServiceDefinition {
  const sm = internalOf<SecretsManagerInternal>(env, 'secretsmanager');
  const kms = internalOf<KmsInternal>(env, 'kms');
  let built: AssembledRds | undefined;
  let begun = false;
  let hurried = false;
  let begin!: () => void;
  const ready = new Promise<void>((resolve) => {
    begin = () => {
      begun = true;
      resolve();
    };
  })
    .then(() => import('./assemble.js'))
    .then(({ assembleRds }) => assembleRds(env, sm, kms))
    .then((b) => {
      built = b;
    });
  // Unobserved until start() or a request awaits it; a failure is reported there.
  ready.catch(() => undefined);
  const assembled = async (): Promise<AssembledRds> => {
    begin();
    await ready;
    return built!;
  };
  // Rotations that fell due while Cellar was down must find the handler when Secrets Manager starts.
  if (sm) sm.registerBuiltinRotation(ROTATION_FUNCTION, lazyHandler(assembled));
  // One method per RDS operation, delegating, once RDS is built, to the first of its operation modules that has it
  // (assemble.ts; the gateway awaits `ready` before it looks a method up).
  const provider = new Proxy(
    {},
    {
      get(_target, name) {
        if (typeof name !== 'string' || name === 'constructor' || !built) return undefined;
        for (const target of built.operations) {
          const method = (Object.getPrototypeOf(target) as Record<string, unknown>)[name];
          if (typeof method === 'function') return (...args: unknown[]) => (method as (...a: unknown[]) => unknown).apply(target, args);
        }
        return undefined;
      },
    },
  );
  const model = loadModel('rds');
  return {
    id: 'rds',
    model,
    protocol: new QueryProtocol({
      validationCode: 'InvalidParameterValue',
      // RDS answers a missing required parameter as a blank one, naming it as the API does.
      missingParameter: (path) => blankParameter(path.charAt(0).toUpperCase() + path.slice(1)),
    }),
    provider,
    authStyle: 'query',
    dependsOn: ['kms', 'secretsmanager'],
    stateKeyspaces: ['rds_'],
    // The engines' instance directories (stopped first: stop() stops every engine), and the backups.
    stateFiles: () => (built ? [built.root, built.backupRoot] : []),
    ready,
    start: async () => {
      await new Promise((resolve) => setTimeout(resolve, ASSEMBLY_DELAY_MS));
      const rds = await assembled();
      // Parsed now rather than by the first RDS request (loadModel reads only the metadata up front).
      model.prepare();
      await rds.supervisor.start();
    },
    hurry: () => {
      hurried = true;
      built?.supervisor.hurry();
    },
    stop: async () => {
      if (!begun) return;
      await ready.catch(() => undefined);
      if (!built) return;
      // Hurried while RDS was still being assembled.
      if (hurried) built.supervisor.hurry();
      await built.supervisor.stop();
      if (built.temporary) rmSync(built.root, { recursive: true, force: true });
      await built.removeTempDirs();
    },
    health: () => (built ? built.supervisor.health() : { state: 'starting' }),
    metrics: { sample: async (periodMs, timestamp) => (built ? built.metrics.sample(periodMs, timestamp) : []) },
  };
}

function internalOf<T>(env: ServiceEnv, id: string): T | undefined {
  return (env.built.get(id)?.provider as unknown as { internal?: T } | undefined)?.internal;
}

/** The managed-password rotation handler, usable before RDS is assembled: each step waits for it. */
function lazyHandler(assembled: () => Promise<AssembledRds>): BuiltinRotationHandler {
  const step =
    (name: keyof BuiltinRotationHandler) =>
    async (...args: Parameters<BuiltinRotationHandler['createSecret']>): Promise<void> => {
      const h = (await assembled()).secrets?.handler();
      if (!h) throw new Error('RDS managed passwords need Secrets Manager and KMS');
      await h[name](...args);
    };
  return { createSecret: step('createSecret'), setSecret: step('setSecret'), testSecret: step('testSecret'), finishSecret: step('finishSecret') };
}
