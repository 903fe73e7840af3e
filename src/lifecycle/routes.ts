/**
 * @module lifecycle/routes
 * Cellar's lifecycle endpoints, and the LocalStack paths that tools already wait on:
 * - `POST /_cellar/reset` (body `{"services": ["dynamodb"]}`, or `?service=dynamodb`, or nothing for all);
 * - `GET /_cellar/init` and `/_cellar/init/<stage>`: the init hooks' progress;
 * - `GET /_localstack/health`, `/_localstack/init[/<stage>]`: the same facts in LocalStack's shapes, so scripts that
 *   wait for LocalStack (`curl .../_localstack/health | jq .services.dynamodb`, `.../_localstack/init/ready`) work
 *   unchanged.
 */
import { jsonResponse, type InternalRoute } from '../gateway/app.js';
import type { WireRequest, WireResponse } from '../protocols/types.js';
import type { ServiceDefinition } from '../services/registry.js';
import { VERSION } from '../version.js';
import { HOOK_STAGES, type HookStage, type InitHooks } from './init-hooks.js';
import { UnknownServiceError, type ResetOutcome } from './reset.js';

export interface LifecycleRouteOptions {
  hooks: InitHooks;
  services: () => readonly ServiceDefinition[];
  /** The /_cellar/health route, whose answer /_localstack/health reshapes. */
  health: () => InternalRoute;
  /** Undefined when resets are not allowed (a server listening beyond loopback, unless configured). */
  reset: ((ids: string[] | undefined) => Promise<ResetOutcome>) | undefined;
}

/** LocalStack's service states (its ServiceState): a served service is `running`, one still setting up `starting`. */
type LocalStackState = 'running' | 'starting' | 'error';

export function lifecycleRoutes(o: LifecycleRouteOptions): Record<string, InternalRoute> {
  const routes: Record<string, InternalRoute> = {
    '/_cellar/reset': (req) => reset(req, o),
    '/_cellar/init': (req) => (req.method === 'GET' ? jsonResponse(200, o.hooks.report()) : methodNotAllowed('GET')),
    '/_localstack/init': (req) => (req.method === 'GET' ? jsonResponse(200, localStackInit(o.hooks)) : methodNotAllowed('GET')),
    '/_localstack/health': async (req) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed('GET');
      const answer = await o.health()(req);
      const health = JSON.parse(String(answer.body)) as { version: string; services: Record<string, { state?: string }> };
      const services: Record<string, LocalStackState> = {};
      for (const [id, s] of Object.entries(health.services)) services[id] = s.state === 'available' ? 'running' : s.state === 'starting' ? 'starting' : 'error';
      return jsonResponse(200, { services, edition: 'cellar', version: health.version ?? VERSION });
    },
  };
  for (const stage of HOOK_STAGES) {
    routes[`/_cellar/init/${stage}`] = (req) => (req.method === 'GET' ? jsonResponse(200, o.hooks.report(stage)) : methodNotAllowed('GET'));
    routes[`/_localstack/init/${stage}`] = (req) => (req.method === 'GET' ? jsonResponse(200, localStackInit(o.hooks, stage)) : methodNotAllowed('GET'));
  }
  return routes;
}

async function reset(req: WireRequest, o: LifecycleRouteOptions): Promise<WireResponse> {
  if (req.method !== 'POST') return methodNotAllowed('POST');
  if (!o.reset) return jsonResponse(403, { error: 'resets are allowed only while Cellar listens on loopback; set "allowReset": true in the config to allow them here' });
  let ids: string[] | undefined;
  const fromQuery = req.query.getAll('service');
  if (fromQuery.length > 0) ids = fromQuery;
  const text = req.body.toString('utf8').trim();
  if (text) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return jsonResponse(400, { error: 'the body must be JSON: {"services": ["dynamodb", ...]} or empty for every service' });
    }
    const services = (body as { services?: unknown } | null)?.services;
    if (services !== undefined && (!Array.isArray(services) || !services.every((s) => typeof s === 'string') || services.length > 50)) {
      return jsonResponse(400, { error: '"services" must be a list of service names' });
    }
    if (Array.isArray(services) && services.length > 0) ids = [...(ids ?? []), ...(services as string[])];
  }
  try {
    return jsonResponse(200, { reset: await o.reset(ids) });
  } catch (e) {
    if (e instanceof UnknownServiceError) return jsonResponse(400, { error: e.message });
    throw e;
  }
}

function localStackInit(hooks: InitHooks, stage?: HookStage): unknown {
  const report = hooks.report(stage);
  // LocalStack names stages in upper case, and scripts by stage, name and state.
  const scripts = report.scripts.map((s) => ({ stage: s.stage.toUpperCase(), name: s.name, state: s.state.toUpperCase() }));
  if (stage) return { completed: report.completed, scripts };
  const completed = report.completed as Record<HookStage, boolean>;
  return { completed: { BOOT: completed.boot, READY: completed.ready, SHUTDOWN: completed.shutdown }, scripts };
}

function methodNotAllowed(allowed: string): WireResponse {
  return { ...jsonResponse(405, { error: `use ${allowed}` }), headers: { 'content-type': 'application/json', allow: allowed } };
}
