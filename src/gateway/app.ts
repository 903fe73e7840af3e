/**
 * @module gateway/app
 * The core of the server: a request value in, a response value out, through an ordered chain of small
 * named steps (internal routes → route → authenticate → parse → dispatch → serialize → log). It never
 * touches a socket, so tests can call `handle` directly as well as over HTTP (gateway/http.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { ServiceError } from '../core/errors.js';
import { log } from '../core/log.js';
import { AuthError, type Authenticator, type AuthFailure, type Caller } from '../auth/sigv4.js';
import type { Operation } from '../protocols/model.js';
import { parseQueryParams } from '../protocols/query.js';
import type { WireRequest, WireResponse } from '../protocols/types.js';
import { methodName, type ServiceDefinition } from '../services/registry.js';
import { VERSION } from '../version.js';

/** A handler for paths under /_cellar/ (health, clock control). */
export type InternalRoute = (req: WireRequest) => WireResponse | Promise<WireResponse>;

interface Routed {
  service: ServiceDefinition;
  operation: Operation | undefined;
  /** The operation name the request asked for, even when the model lacks it. */
  requested: string | undefined;
}

const AUTH_ERRORS: Record<AuthFailure, { json: [string, number]; query: [string, number] }> = {
  missing: { json: ['MissingAuthenticationTokenException', 400], query: ['MissingAuthenticationToken', 403] },
  incomplete: { json: ['IncompleteSignatureException', 400], query: ['IncompleteSignature', 400] },
  signature: { json: ['InvalidSignatureException', 400], query: ['SignatureDoesNotMatch', 403] },
  unknownKey: { json: ['UnrecognizedClientException', 400], query: ['InvalidClientTokenId', 403] },
  expiredToken: { json: ['ExpiredTokenException', 400], query: ['ExpiredToken', 403] },
  signatureExpired: { json: ['InvalidSignatureException', 400], query: ['SignatureDoesNotMatch', 403] },
  contentSha: { json: ['InvalidSignatureException', 400], query: ['SignatureDoesNotMatch', 403] },
};

export interface AppOptions {
  services: ServiceDefinition[];
  authenticator: Authenticator;
  clock: Clock;
  defaultRegion: string;
  internalRoutes: Record<string, InternalRoute>;
  logRequests: boolean;
}

export class App {
  private readonly byTarget = new Map<string, ServiceDefinition>();
  private readonly bySigningName = new Map<string, ServiceDefinition>();

  constructor(private readonly options: AppOptions) {
    for (const svc of options.services) {
      if (svc.model.metadata.targetPrefix) this.byTarget.set(svc.model.metadata.targetPrefix, svc);
      this.bySigningName.set(svc.model.signingName, svc);
      this.bySigningName.set(svc.model.metadata.endpointPrefix, svc);
    }
  }

  get services(): readonly ServiceDefinition[] {
    return this.options.services;
  }

  async handle(req: WireRequest): Promise<WireResponse> {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    let routed: Routed | undefined;
    let response: WireResponse;
    let errorCode: string | undefined;
    let accountId: string | undefined;
    try {
      const internal = this.internal(req);
      if (internal) return await internal(req);
      routed = this.route(req);
      const { service, operation } = routed;
      let caller: Caller;
      if (operation && service.unsignedOperations?.has(operation.name) && !req.headers['authorization'] && !req.query.has('X-Amz-Signature')) {
        caller = { accessKeyId: '', accountId: '000000000000', arn: '', userId: '', region: this.options.defaultRegion, service: service.model.signingName, verified: false };
      } else {
        try {
          caller = await this.options.authenticator.authenticate(req);
        } catch (e) {
          if (e instanceof AuthError) {
            const [code, status] = AUTH_ERRORS[e.kind][service.authStyle];
            throw new ServiceError(code, e.message, { status });
          }
          throw e;
        }
      }
      accountId = caller.accountId;
      if (!operation) {
        throw service.authStyle === 'json'
          ? new ServiceError('UnknownOperationException', `Unknown operation ${routed.requested ?? ''}`.trim())
          : new ServiceError('InvalidAction', `The action ${routed.requested ?? ''} is not valid for this web service.`);
      }
      const input = service.protocol.parseInput(req, service.model, operation);
      const method = (service.provider as Record<string, unknown>)[methodName(operation.name)];
      if (typeof method !== 'function') {
        throw new ServiceError('NotImplemented', `Cellar does not implement ${service.model.metadata.serviceId} ${operation.name} yet`, { status: 501 });
      }
      const ctx: RequestContext = {
        accountId: caller.accountId,
        region: caller.region || this.options.defaultRegion,
        requestId,
        accessKeyId: caller.accessKeyId,
        callerArn: caller.arn,
        service: service.id,
        operation: operation.name,
        clock: this.options.clock,
      };
      const output = await (method as (i: unknown, c: RequestContext) => unknown).call(service.provider, input, ctx);
      response = service.protocol.serializeOutput(service.model, operation, output, requestId);
    } catch (e) {
      const err = this.asServiceError(e, routed, requestId);
      errorCode = err.code;
      response = this.serializeError(routed, err, requestId);
    }
    if (this.options.logRequests) {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log('info', 'request', {
        requestId,
        service: routed?.service.id ?? null,
        operation: routed?.operation?.name ?? routed?.requested ?? null,
        status: response.status,
        ...(errorCode ? { error: errorCode } : {}),
        ...(accountId ? { account: accountId } : {}),
        latencyMs: Math.round(ms * 1000) / 1000,
      });
    }
    return response;
  }

  private internal(req: WireRequest): InternalRoute | undefined {
    if (!req.path.startsWith('/_cellar/')) return undefined;
    return this.options.internalRoutes[req.path] ?? (() => jsonResponse(404, { error: `no internal route ${req.path}` }));
  }

  /** Finds the service: X-Amz-Target for the JSON protocols, the credential scope's service for query. */
  private route(req: WireRequest): Routed {
    const target = req.headers['x-amz-target'];
    if (target) {
      const dot = target.lastIndexOf('.');
      const svc = dot > 0 ? this.byTarget.get(target.slice(0, dot)) : undefined;
      if (svc) {
        const name = target.slice(dot + 1);
        return { service: svc, operation: svc.model.operations.get(name), requested: name };
      }
      throw new RoutingError('json', `Cellar serves no service for X-Amz-Target ${target}`);
    }
    const scoped = this.scopeService(req);
    const svc = scoped ? this.bySigningName.get(scoped) : undefined;
    let action: string | undefined;
    try {
      action = parseQueryParams(req).get('Action');
    } catch {
      action = undefined;
    }
    if (svc) {
      if (svc.protocol.name === 'awsQuery') return { service: svc, operation: action ? svc.model.operations.get(action) : undefined, requested: action };
      return { service: svc, operation: undefined, requested: action };
    }
    // Unsigned query requests (STS AssumeRoleWithWebIdentity) carry no scope: find the action's service.
    if (action && !scoped) {
      for (const s of this.options.services) {
        if (s.protocol.name === 'awsQuery' && s.unsignedOperations?.has(action)) return { service: s, operation: s.model.operations.get(action), requested: action };
      }
    }
    throw new RoutingError(action ? 'query' : 'json', scoped ? `Cellar serves no service named ${scoped}` : 'The request names no service: sign it with SigV4 (the credential scope names the service) and set X-Amz-Target or Action');
  }

  private scopeService(req: WireRequest): string | undefined {
    const auth = req.headers['authorization'];
    const cred = auth ? /Credential=([^,\s]+)/.exec(auth)?.[1] : req.query.get('X-Amz-Credential') ?? undefined;
    return cred?.split('/')[3];
  }

  private asServiceError(e: unknown, routed: Routed | undefined, requestId: string): ServiceError {
    if (e instanceof ServiceError) return e;
    if (e instanceof RoutingError) return new ServiceError(e.style === 'json' ? 'UnknownOperationException' : 'InvalidAction', e.message);
    log('error', 'unhandled error', { requestId, service: routed?.service.id, operation: routed?.operation?.name, error: e instanceof Error ? e.stack : String(e) });
    return new ServiceError(routed?.service.authStyle === 'query' ? 'InternalFailure' : 'InternalServerError', 'The request processing has failed because of an unknown error, exception or failure.', { status: 500 });
  }

  private serializeError(routed: Routed | undefined, err: ServiceError, requestId: string): WireResponse {
    if (routed) return routed.service.protocol.serializeError(routed.service.model, err, requestId);
    // Unroutable: answer in the JSON shape every SDK can read.
    return {
      status: err.status,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId, 'x-amzn-errortype': err.code },
      body: JSON.stringify({ __type: `com.amazon.coral.service#${err.code}`, message: err.message }),
    };
  }
}

class RoutingError extends Error {
  constructor(
    readonly style: 'json' | 'query',
    message: string,
  ) {
    super(message);
  }
}

export function jsonResponse(status: number, value: unknown): WireResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}
