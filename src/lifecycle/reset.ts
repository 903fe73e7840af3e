/**
 * @module lifecycle/reset
 * Returns services to empty without restarting Cellar (`POST /_cellar/reset`, `cellar reset`): what LocalStack users
 * do between test runs.
 *
 * A reset of a service stops it (RDS stops every engine, hurried: the data is about to go), clears the store keyspaces
 * it owns and removes the files it keeps outside the store (engine instance directories), then builds it again from
 * its factory, exactly as at startup, and starts it. Services that hold references into a reset one (RDS into Secrets
 * Manager and KMS, DynamoDB Streams into DynamoDB) are rebuilt with it, keeping their own state. Requests for the
 * services being reset wait meanwhile (App.hold) and are answered by the rebuilt ones.
 *
 * Rebuilding rather than asking each provider to empty itself means a reset leaves exactly what a fresh start on an
 * empty data directory would: no cache, timer or engine of the old service survives it.
 */
import { rmSync } from 'node:fs';
import { log } from '../core/log.js';
import type { App } from '../gateway/app.js';
import type { ServiceEnv } from '../services/env.js';
import type { ServiceDefinition } from '../services/registry.js';
import type { Store } from '../storage/store.js';

export type ServiceFactory = (env: ServiceEnv) => ServiceDefinition | Promise<ServiceDefinition>;

export interface ResettableServer {
  /** The server's services, in build order; services[i] was built by factories[i]. Updated in place. */
  services: ServiceDefinition[];
  factories: readonly ServiceFactory[];
  env: ServiceEnv;
  app: App;
  store: Store;
  /** Called once the cleared services' state is gone, before they are rebuilt (the server forgets unpublished metrics). */
  onCleared?: (cleared: ReadonlySet<string>) => void;
}

export interface ResetOutcome {
  /** Services whose state was removed. */
  cleared: string[];
  /** Services rebuilt (the cleared ones and those that depend on them). */
  rebuilt: string[];
  keyspaces: string[];
  files: string[];
  elapsedMs: number;
}

export class UnknownServiceError extends Error {}

/**
 * One reset at a time: a second request waits for the first (bounded by it: every stop has its own bound), so two
 * resets never interleave their stops and rebuilds.
 */
export class Resetter {
  private running: Promise<unknown> = Promise.resolve();

  constructor(private readonly server: ResettableServer) {}

  reset(ids?: readonly string[]): Promise<ResetOutcome> {
    const next = this.running.then(
      () => this.resetNow(ids),
      () => this.resetNow(ids),
    );
    this.running = next.catch(() => undefined);
    return next;
  }

  private async resetNow(ids: readonly string[] | undefined): Promise<ResetOutcome> {
    const started = Date.now();
    const { services, factories, env, app, store } = this.server;
    const known = new Set(services.map((s) => s.id));
    for (const id of ids ?? []) if (!known.has(id)) throw new UnknownServiceError(`Cellar serves no service named ${id}; it serves ${[...known].join(', ')}`);
    const cleared = new Set(ids && ids.length > 0 ? ids : known);
    // The cleared services and, transitively, every service that depends on one of them (dependencies are built first).
    const rebuilt = new Set(cleared);
    for (const svc of services) if (svc.dependsOn?.some((d) => rebuilt.has(d))) rebuilt.add(svc.id);
    const order = services.filter((s) => rebuilt.has(s.id)).map((s) => s.id);
    log('info', 'reset: stopping services', { cleared: [...cleared], rebuilt: order });
    const release = app.hold(order);
    const keyspaces: string[] = [];
    const files: string[] = [];
    try {
      // Dependents stop before what they depend on, as at shutdown.
      for (const id of [...order].reverse()) {
        const svc = services.find((s) => s.id === id)!;
        try {
          svc.hurry?.();
          await svc.stop?.();
        } catch (e) {
          log('error', 'reset: a service failed to stop; its state is cleared anyway', { service: id, error: (e as Error).message });
        }
      }
      for (const id of order) {
        if (!cleared.has(id)) continue;
        const svc = services.find((s) => s.id === id)!;
        for (const path of svc.stateFiles?.() ?? []) {
          rmSync(path, { recursive: true, force: true, maxRetries: 3 });
          files.push(path);
        }
        const prefixes = svc.stateKeyspaces ?? [];
        for (const name of store.keyspaceNames()) {
          if (!prefixes.some((p) => name.startsWith(p))) continue;
          store.keyspace(name).deletePrefix(Buffer.alloc(0));
          keyspaces.push(name);
        }
      }
      store.sync();
      try {
        this.server.onCleared?.(cleared);
      } catch (e) {
        log('error', 'reset: a cleared-state hook failed', { error: (e as Error).message });
      }
      for (const id of order) {
        const i = services.findIndex((s) => s.id === id);
        const next = await factories[i]!(env);
        env.built.set(id, next);
        app.replaceService(next);
      }
      for (const id of order) {
        const svc = services.find((s) => s.id === id)!;
        try {
          await svc.start?.();
        } catch (e) {
          log('error', 'reset: service background work did not start', { service: id, error: e instanceof Error ? e.stack : String(e) });
        }
      }
    } finally {
      release();
    }
    const outcome: ResetOutcome = { cleared: [...cleared], rebuilt: order, keyspaces, files, elapsedMs: Date.now() - started };
    log('info', 'reset: done', { ...outcome });
    return outcome;
  }
}
