/**
 * @module gateway/app
 * The core of the server: a request value in, a response value out, through an ordered chain of small
 * named steps (internal routes → route → authenticate → parse → dispatch → serialize → log). It never
 * touches a socket, so tests can call `handle` directly as well as over HTTP (gateway/http.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { RequestContext } from '../core/context.js';
import { Scope } from '../core/scope.js';
import { ServiceError } from '../core/errors.js';
import { log, logEnabled, logRequestLine, setLogRequestId } from '../core/log.js';
import type { RequestMeter } from '../observability/request-meter.js';
import { redacted } from '../observability/redact.js';
import { AuthError, type Authenticator, type AuthFailure, type Caller } from '../auth/sigv4.js';
import type { Operation } from '../protocols/model.js';
import { parseQueryParams } from '../protocols/query.js';
import { isRpcV2Request, rpcV2Target } from '../protocols/rpcv2cbor.js';
import { isXmlStyle, requestStyle, unroutedErrorResponse } from '../protocols/unrouted.js';
import type { Protocol, WireRequest, WireResponse } from '../protocols/types.js';
import { methodName, type ServiceDefinition } from '../services/registry.js';
import { VERSION } from '../version.js';
import { corsPreflight, withCors } from './cors.js';
import { compressResponse, decodedBody } from './encoding.js';

/** A handler for paths under /_cellar/ (health, clock control). */
export type InternalRoute = (req: WireRequest) => WireResponse | Promise<WireResponse>;

type ProviderMethod = (input: unknown, ctx: RequestContext) => unknown;

/** What the steps of one request have learnt so far, for its response and its log line. */
interface Pending {
  requestId: string;
  /** performance.now() when the request arrived. */
  started: number;
  routed: Routed | undefined;
  accountId: string | undefined;
  region: string | undefined;
  /** The parsed request, once parsed (metrics read DynamoDB's table names from it). */
  input: unknown;
}

interface Routed {
  service: ServiceDefinition;
  /** The protocol the request speaks: the service's own, or its awsQuery or RPC v2 CBOR twin (ServiceDefinition). */
  protocol: Protocol;
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
  /** Routes for every path under a prefix (`/_cellar/console/` and below), tried when no exact route matches. */
  internalPrefixRoutes?: Array<[prefix: string, route: InternalRoute]>;
  logRequests: boolean;
  /** Requests slower than this are logged at warn level, whatever logRequests says. */
  slowRequestMs?: number;
  /** Records every routed request's outcome and latency (observability/); absent when metrics are off. */
  meter?: RequestMeter;
  /** The largest request body, decompressed too (a service's own maxBodyBytes, when smaller, wins). */
  maxBodyBytes: number;
}

export class App {
  private readonly byTarget = new Map<string, ServiceDefinition>();
  private readonly bySigningName = new Map<string, ServiceDefinition>();
  private readonly readyServices = new WeakSet<ServiceDefinition>();
  /** Services being reset (lifecycle/reset.ts), by id: their requests wait, then are routed to the rebuilt service. */
  private readonly held = new Map<string, Promise<void>>();

  constructor(private readonly options: AppOptions) {
    this.index();
  }

  private index(): void {
    this.byTarget.clear();
    this.bySigningName.clear();
    for (const svc of this.options.services) {
      if (svc.model.metadata.targetPrefix) this.byTarget.set(svc.model.metadata.targetPrefix, svc);
      // DynamoDB Streams signs as `dynamodb`: a signing name belongs to the first service that has it (DynamoDB).
      if (!this.bySigningName.has(svc.model.signingName)) this.bySigningName.set(svc.model.signingName, svc);
      this.bySigningName.set(svc.model.metadata.endpointPrefix, svc);
    }
  }

  /**
   * Holds the requests for these services until the returned release() is called: a reset stops, clears and rebuilds
   * them meanwhile, and what waited is then answered by the rebuilt services. Requests already past routing finish
   * against the old ones.
   */
  hold(ids: readonly string[]): () => void {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (const id of ids) this.held.set(id, gate);
    return () => {
      for (const id of ids) if (this.held.get(id) === gate) this.held.delete(id);
      release();
    };
  }

  /** Puts a rebuilt service in the place of the one with its id (the services array is the server's own). */
  replaceService(next: ServiceDefinition): void {
    const i = this.options.services.findIndex((s) => s.id === next.id);
    if (i < 0) throw new Error(`no service ${next.id} to replace`);
    this.options.services[i] = next;
    this.index();
  }

  get services(): readonly ServiceDefinition[] {
    return this.options.services;
  }

  async handle(req: WireRequest): Promise<WireResponse> {
    return this.respond(req);
  }

  /**
   * handle, without a promise where none is needed: a request whose signature, provider and
   * serialization are synchronous (every DynamoDB item call) is answered in the same turn, with no
   * microtask hops. Never throws: failures become the protocol's error response.
   */
  respond(req: WireRequest): WireResponse | Promise<WireResponse> {
    const out = this.answer(req);
    // What HTTP adds to every answer (gateway/cors.ts, gateway/encoding.ts); two header lookups when unused.
    if (req.headers['origin'] === undefined && req.headers['accept-encoding'] === undefined) return out;
    return out instanceof Promise ? out.then((r) => this.finish(req, r)) : this.finish(req, out);
  }

  private finish(req: WireRequest, res: WireResponse): WireResponse {
    try {
      return withCors(req, compressResponse(req, res));
    } catch (e) {
      log('error', 'response encoding failed; sent as it is', { error: e instanceof Error ? e.stack : String(e) });
      return withCors(req, res);
    }
  }

  private answer(req: WireRequest): WireResponse | Promise<WireResponse> {
    const requestId = randomUUID();
    const state = pending(requestId);
    // Every line logged while this request is handled synchronously carries its id (core/log.ts).
    const previousId = setLogRequestId(requestId);
    try {
      const preflight = corsPreflight(req, requestId);
      if (preflight) return preflight;
      const health = this.healthCheck(req, requestId);
      if (health) return health;
      const internal = this.internal(req);
      if (internal) {
        const out = internal(req);
        return out instanceof Promise ? out.catch((e: unknown) => this.failed(state, e, req)) : out;
      }
      const routed = this.route(req);
      if (this.held.size !== 0) {
        const gate = this.held.get(routed.service.id);
        if (gate) return gate.then(() => this.answer(req));
      }
      state.routed = routed;
      const { service, operation } = routed;
      if (service.maxBodyBytes !== undefined && req.body.length > service.maxBodyBytes) throw tooLarge();
      if (this.unknownBeforeAuth(routed)) throw unknownOperation();
      let caller: Caller | Promise<Caller>;
      if (operation && service.unsignedOperations?.has(operation.name) && !req.headers['authorization'] && !req.query.has('X-Amz-Signature')) {
        caller = { accessKeyId: '', accountId: '000000000000', arn: '', userId: '', region: this.options.defaultRegion, service: service.model.signingName, verified: false };
      } else {
        caller = this.options.authenticator.check(req);
      }
      if (caller instanceof Promise) {
        return caller.then(
          (c) => this.afterAuth(req, state, c),
          (e: unknown) => this.failed(state, e, req),
        );
      }
      return this.afterAuth(req, state, caller);
    } catch (e) {
      return this.failed(state, e, req);
    } finally {
      setLogRequestId(previousId);
    }
  }

  private afterAuth(req: WireRequest, state: Pending, caller: Caller): WireResponse | Promise<WireResponse> {
    const previousId = setLogRequestId(state.requestId);
    try {
      const { service, operation, requested, protocol } = state.routed!;
      state.accountId = caller.accountId;
      this.checkScopedService(caller.service, service);
      const scope = Scope.ofCaller(caller.accountId, caller.region || this.options.defaultRegion);
      state.region = scope.region;
      if (!operation) {
        if (service.unservedOperations === 'unknown-operation') throw unknownOperation();
        throw authStyleOf(state.routed!) === 'json'
          ? new ServiceError('UnknownOperationException', `Unknown operation ${requested ?? ''}`.trim())
          : new ServiceError('InvalidAction', `The action ${requested ?? ''} is not valid for this web service.`);
      }
      if (service.ready && !this.readyServices.has(service)) {
        // The service is still setting itself up (RDS finding its engines): this request waits for it.
        return service.ready.then(
          () => {
            this.readyServices.add(service);
            return this.afterAuth(req, state, caller);
          },
          (e: unknown) => this.failed(state, new ServiceError('InternalFailure', `${service.model.metadata.serviceId} could not start: ${e instanceof Error ? e.message : String(e)}`, { status: 500 })),
        );
      }
      const method = this.method(service, operation.name);
      if (!method && service.unservedOperations === 'unknown-operation') throw unknownOperation();
      const body = decodedBody(req, service.maxBodyBytes ?? this.options.maxBodyBytes);
      const input = protocol.parseInput(body === req.body ? req : { ...req, body }, service.model, operation);
      state.input = input;
      if (logEnabled('debug')) {
        log('debug', 'request received', { requestId: state.requestId, service: service.id, operation: operation.name, account: caller.accountId, region: scope.region, params: redacted(service.model, operation.input?.shape, input) });
      }
      if (!method) {
        throw new ServiceError('NotImplemented', `Cellar does not implement ${service.model.metadata.serviceId} ${operation.name} yet`, { status: 501 });
      }
      const ctx: RequestContext = {
        scope,
        requestId: state.requestId,
        accessKeyId: caller.accessKeyId,
        callerArn: caller.arn,
        service: service.id,
        operation: operation.name,
        clock: this.options.clock,
      };
      const host = req.headers['host'];
      if (host !== undefined && HOST.test(host)) ctx.host = host;
      if (protocol.acceptsRawJson) ctx.rawJson = true;
      const output = method.call(service.provider, input, ctx);
      if (output instanceof Promise) {
        return output.then(
          (o: unknown) => this.succeeded(state, o),
          (e: unknown) => this.failed(state, e),
        );
      }
      return this.succeeded(state, output);
    } catch (e) {
      return this.failed(state, e);
    } finally {
      setLogRequestId(previousId);
    }
  }

  private succeeded(state: Pending, output: unknown): WireResponse {
    const { service, operation, protocol } = state.routed!;
    let response: WireResponse;
    try {
      response = protocol.serializeOutput(service.model, operation!, output, state.requestId);
    } catch (e) {
      return this.failed(state, e);
    }
    this.finishRequest(state, response, undefined, output);
    return response;
  }

  /**
   * The credential scope names the service the request was signed for: it must be the one addressed, or a
   * signature for one service could be replayed against another.
   */
  private checkScopedService(scoped: string, service: ServiceDefinition): void {
    if (scoped !== service.model.signingName && scoped !== service.model.metadata.endpointPrefix) {
      throw new AuthError('signature', `Credential should be scoped to correct service: '${service.model.signingName}'. `);
    }
  }

  private failed(state: Pending, e: unknown, req?: WireRequest): WireResponse {
    const routed = state.routed;
    // Unrouted: the request's own protocol decides how its error is worded and shaped (protocols/unrouted.ts).
    const style = routed ? undefined : req ? requestStyle(req, this.scopeService(req)) : 'json';
    const authStyle = routed ? authStyleOf(routed) : style && isXmlStyle(style) ? 'query' : 'json';
    if (e instanceof AuthError) {
      const [code, status] = AUTH_ERRORS[e.kind][authStyle];
      e = new ServiceError(code, e.message, { status });
    }
    const err = this.asServiceError(e, routed, state.requestId, authStyle, style === 'query' || (routed !== undefined && authStyleOf(routed) === 'query'));
    const response = routed ? routed.protocol.serializeError(routed.service.model, err, state.requestId) : unroutedErrorResponse(style ?? 'json', req!, err, state.requestId);
    this.finishRequest(state, response, err, undefined);
    return response;
  }

  /** What every answered request leaves behind: its log lines (request, slow, debug response) and its metrics. */
  private finishRequest(state: Pending, response: WireResponse, err: ServiceError | undefined, output: unknown): void {
    const ms = performance.now() - state.started;
    const routed = state.routed;
    const errorCode = err?.code;
    if (this.options.logRequests) logRequestLine(state.requestId, routed?.service.id ?? null, routed?.operation?.name ?? routed?.requested ?? null, response.status, errorCode, state.accountId, Math.round(ms * 1000) / 1000);
    const meter = this.options.meter;
    if (meter && routed) meter.record(meter.bind(routed.service.id, routed.operation?.name ?? UNKNOWN_OPERATION), response.status, errorCode, ms, state.accountId, state.region, state.input);
    if (ms >= (this.options.slowRequestMs ?? Infinity)) {
      log('warn', 'slow request', { requestId: state.requestId, service: routed?.service.id ?? null, operation: routed?.operation?.name ?? null, status: response.status, latencyMs: Math.round(ms * 1000) / 1000, thresholdMs: this.options.slowRequestMs });
    }
    if (logEnabled('debug')) {
      const answer = err ? { error: { code: err.code, message: err.message } } : routed?.operation ? { result: redacted(routed.service.model, routed.operation.output?.shape, output) } : {};
      log('debug', 'response sent', { requestId: state.requestId, service: routed?.service.id ?? null, operation: routed?.operation?.name ?? routed?.requested ?? null, status: response.status, latencyMs: Math.round(ms * 1000) / 1000, ...answer });
    }
  }

  private readonly methods = new Map<ServiceDefinition, Map<string, ProviderMethod | null>>();

  /**
   * DynamoDB answers an operation it does not have before it looks at the signature (dynalite's connection suite,
   * recorded on AWS: an unsigned `DynamoDB_20120810.ListTable` gets UnknownOperationException, an unsigned
   * `ListTables` MissingAuthenticationTokenException). A service that answers unserved operations that way
   * (`unknown-operation`) does the same for the operations Cellar does not serve; the others authenticate first.
   */
  private unknownBeforeAuth(routed: Routed): boolean {
    if (routed.service.unservedOperations !== 'unknown-operation') return false;
    return !routed.operation || !this.method(routed.service, routed.operation.name);
  }

  /** The provider's method for an operation, looked up once. */
  private method(service: ServiceDefinition, operation: string): ProviderMethod | undefined {
    let byOp = this.methods.get(service);
    if (!byOp) {
      byOp = new Map();
      this.methods.set(service, byOp);
    }
    let m = byOp.get(operation);
    if (m === undefined) {
      const found = (service.provider as Record<string, unknown>)[methodName(operation)];
      m = typeof found === 'function' ? (found as ProviderMethod) : null;
      byOp.set(operation, m);
    }
    return m ?? undefined;
  }

  /**
   * An unsigned `GET /` with no query string is a health check: the first service that answers one does (DynamoDB,
   * as its endpoint answers it). Everything else about `GET` (presigned query calls, S3) goes on as before.
   */
  private healthCheck(req: WireRequest, requestId: string): WireResponse | undefined {
    if (req.method !== 'GET' || req.path !== '/' || req.rawQuery || req.query.toString() !== '' || req.headers['authorization'] !== undefined) return undefined;
    for (const svc of this.options.services) {
      const answer = svc.healthCheck?.(this.options.defaultRegion);
      if (answer) return { status: 200, headers: { ...answer.headers, 'x-amzn-requestid': requestId }, body: answer.body };
    }
    return undefined;
  }

  private internal(req: WireRequest): InternalRoute | undefined {
    // `/_localstack/` too: the health and init paths that tools written for LocalStack wait on (lifecycle/routes.ts).
    if (!req.path.startsWith('/_cellar/') && !req.path.startsWith('/_localstack/')) return undefined;
    const exact = this.options.internalRoutes[req.path];
    if (exact) return exact;
    for (const [prefix, route] of this.options.internalPrefixRoutes ?? []) if (req.path.startsWith(prefix)) return route;
    return () => jsonResponse(404, { error: `no internal route ${req.path}` });
  }

  /**
   * Finds the service: the path for RPC v2 CBOR, X-Amz-Target for the JSON protocols, the credential scope's service
   * for query.
   */
  private route(req: WireRequest): Routed {
    if (isRpcV2Request(req)) return this.routeRpcV2(req);
    const target = req.headers['x-amz-target'];
    if (target) {
      const dot = target.lastIndexOf('.');
      const svc = dot > 0 ? this.byTarget.get(target.slice(0, dot)) : undefined;
      if (svc) {
        const name = target.slice(dot + 1);
        return { service: svc, protocol: svc.protocol, operation: svc.model.operations.get(name), requested: name };
      }
      throw new RoutingError(`Cellar serves no service for X-Amz-Target ${target}`);
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
      const query = queryProtocolOf(svc);
      if (query) return { service: svc, protocol: query, operation: action ? svc.model.operations.get(action) : undefined, requested: action };
      return { service: svc, protocol: svc.protocol, operation: undefined, requested: action };
    }
    // Unsigned query requests (STS AssumeRoleWithWebIdentity) carry no scope: find the action's service. An action
    // AWS serves only signed goes on to authentication too, which answers it as AWS does (403
    // MissingAuthenticationToken, "Request is missing Authentication Token").
    if (action && !scoped) {
      let signedOnly: Routed | undefined;
      for (const s of this.options.services) {
        const query = queryProtocolOf(s);
        if (!query) continue;
        if (s.unsignedOperations?.has(action)) return { service: s, protocol: query, operation: s.model.operations.get(action), requested: action };
        if (!signedOnly && s.model.operations.has(action)) signedOnly = { service: s, protocol: query, operation: s.model.operations.get(action), requested: action };
      }
      if (signedOnly) return signedOnly;
    }
    throw new RoutingError(scoped ? `Cellar serves no service named ${scoped}` : 'The request names no service: sign it with SigV4 (the credential scope names the service) and set X-Amz-Target or Action');
  }

  /** An RPC v2 CBOR request: the service whose CBOR twin answers to the path's service name (protocols/rpcv2cbor.ts). */
  private routeRpcV2(req: WireRequest): Routed {
    const target = rpcV2Target(req.path);
    const svc = target ? this.options.services.find((s) => s.cborProtocol?.servesName(target.service)) : undefined;
    if (!target || !svc) throw new RoutingError(target ? `Cellar serves no RPC v2 CBOR service named ${target.service}` : `${req.path} is not an RPC v2 CBOR path (/service/<Service>/operation/<Operation>)`);
    return { service: svc, protocol: svc.cborProtocol!, operation: svc.model.operations.get(target.operation), requested: target.operation };
  }

  private scopeService(req: WireRequest): string | undefined {
    const auth = req.headers['authorization'];
    const cred = auth ? /Credential=([^,\s]+)/.exec(auth)?.[1] : req.query.get('X-Amz-Credential') ?? undefined;
    return cred?.split('/')[3];
  }

  private asServiceError(e: unknown, routed: Routed | undefined, requestId: string, authStyle: 'json' | 'query', queryProtocol: boolean): ServiceError {
    if (e instanceof ServiceError) return e;
    // awsQuery names an unknown action InvalidAction; the JSON and REST protocols, UnknownOperationException.
    if (e instanceof RoutingError) return new ServiceError(queryProtocol ? 'InvalidAction' : 'UnknownOperationException', e.message);
    log('error', 'unhandled error', { requestId, service: routed?.service.id, operation: routed?.operation?.name, error: e instanceof Error ? e.stack : String(e) });
    return new ServiceError(authStyle === 'query' ? 'InternalFailure' : 'InternalServerError', 'The request processing has failed because of an unknown error, exception or failure.', { status: 500 });
  }

  // ------------------------------------------------------------------ before the body (gateway/http.ts)

  /**
   * The steps of `respond` that a request's head alone can go through, run before its body is read: internal
   * routes, routing, and authentication as far as it needs no body (Authenticator.checkHead). Returns the answer to
   * send instead of reading the body (the same one `respond` would give), or undefined to read it. An unsigned
   * request goes on only to an operation AWS serves unsigned, or when only its body can name the operation (a
   * form-encoded query call); the gateway caps such bodies.
   */
  checkBeforeBody(head: WireRequest): WireResponse | undefined {
    if (this.internal(head)) return undefined;
    const state = pending(randomUUID());
    const unsigned = !head.headers['authorization'] && !head.query.has('X-Amz-Signature');
    try {
      let routed: Routed;
      try {
        routed = this.route(head);
      } catch (e) {
        if (e instanceof RoutingError && unsigned && !head.headers['x-amz-target']) return undefined;
        throw e;
      }
      state.routed = routed;
      const limit = routed.service.maxBodyBytes;
      if (limit !== undefined && Number(head.headers['content-length'] ?? 0) > limit) throw tooLarge();
      if (this.unknownBeforeAuth(routed)) throw unknownOperation();
      if (unsigned && routed.operation && routed.service.unsignedOperations?.has(routed.operation.name)) return undefined;
      const scoped = this.options.authenticator.checkHead(head);
      this.checkScopedService(scoped, routed.service);
      return undefined;
    } catch (e) {
      return withCors(head, this.failed(state, e, head));
    }
  }

  /**
   * The answer to a request the gateway will not read (or could not answer), in its protocol's shape (JSON or query
   * XML): `throttled` (503) when the memory for request bodies is spent (AWS's throttling error, which the SDKs retry
   * with backoff), `stopping` (503) when Cellar is shutting down, `too-large` (413) for a body over the limit, and
   * `internal` (500) for a failure outside the handler chain. The gateway writes no error document itself.
   */
  unavailableBeforeBody(head: WireRequest, reason: 'throttled' | 'stopping' | 'too-large' | 'internal'): WireResponse {
    const state = pending(randomUUID());
    try {
      state.routed = this.route(head);
    } catch {
      // Unroutable from its head: answered in the request's own protocol (failed, protocols/unrouted.ts).
    }
    const query = state.routed ? authStyleOf(state.routed) === 'query' : isXmlStyle(requestStyle(head, this.scopeService(head)));
    const err =
      reason === 'throttled'
        ? new ServiceError(query ? 'Throttling' : 'ThrottlingException', 'Rate exceeded', { status: 503, senderFault: true })
        : reason === 'too-large'
          ? new ServiceError('RequestEntityTooLarge', 'Request entity too large', { status: 413 })
          : reason === 'internal'
            ? new ServiceError(query ? 'InternalFailure' : 'InternalServerError', 'The request processing has failed because of an unknown error, exception or failure.', { status: 500 })
            : new ServiceError(query ? 'ServiceUnavailable' : 'ServiceUnavailableException', 'Cellar is shutting down', { status: 503, senderFault: false });
    return withCors(head, this.failed(state, err, head));
  }
}

/** The awsQuery protocol a service speaks, as its own or beside its JSON protocol (CloudWatch); undefined if none. */
function queryProtocolOf(svc: ServiceDefinition): Protocol | undefined {
  return svc.protocol.name === 'awsQuery' ? svc.protocol : svc.queryProtocol;
}

/** How a routed request's authentication failures are worded: as its protocol words them. */
function authStyleOf(routed: Routed): 'json' | 'query' {
  if (routed.protocol === routed.service.protocol) return routed.service.authStyle;
  return routed.protocol.name === 'awsQuery' ? 'query' : 'json';
}

/** The operation label of requests for an operation the service's model does not have (their names are the client's). */
const UNKNOWN_OPERATION = '(unknown)';

function pending(requestId: string): Pending {
  return { requestId, started: performance.now(), routed: undefined, accountId: undefined, region: undefined, input: undefined };
}

/** A Host header that can name the address a client reached Cellar at (DescribeEndpoints answers with it). */
const HOST = /^[A-Za-z0-9.-]{1,253}(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?$/;

function tooLarge(): ServiceError {
  return new ServiceError('RequestEntityTooLarge', 'Request entity too large', { status: 413 });
}

/** DynamoDB's answer to an operation it does not serve: 400 UnknownOperationException, no message. */
function unknownOperation(): ServiceError {
  return new ServiceError('UnknownOperationException', '');
}

/** The request names no service Cellar serves; answered in the request's own protocol (protocols/unrouted.ts). */
class RoutingError extends Error {}

export function jsonResponse(status: number, value: unknown): WireResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}
