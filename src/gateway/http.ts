/**
 * @module gateway/http
 * The socket side of the gateway: HTTP/1.1 over `net`, framed by gateway/http1.ts, handing each request to
 * the App as a WireRequest and writing its WireResponse in one write. Everything else happens in
 * gateway/app.ts.
 *
 * Per connection, requests are answered strictly in order (pipelining works); while one is being answered
 * asynchronously the next are held, and reading stops once a bounded amount is held. Keep-alive follows
 * HTTP/1.1 (and `Connection: keep-alive` for 1.0).
 *
 * Memory before authentication is bounded. Once a request's head is framed and before a byte of its body is kept,
 * the App checks what the head alone can show (App.checkBeforeBody: the signature present and well-formed, and in
 * strict mode the key, token and time); a request that fails is answered at once and its body is never stored
 * (a small one is read and dropped so the connection goes on, a larger one is not read: the connection closes). A
 * request with no signature at all goes on only to what AWS serves unsigned, with a small body cap
 * (`unsignedMaxBodyBytes`). Then the body's bytes are taken from one budget shared by every connection
 * (gateway/budget.ts); a request the budget cannot take waits with its socket paused, for at most
 * `bodyBudgetWaitMs`, and is then answered 503 with AWS's throttling error. The payload hash, and so a signature
 * whose hash is not declared in the head, is checked by the App once the body is here.
 *
 * Bounds: `maxConnections` open connections; a head within `headersTimeoutMs`; a whole request within
 * `requestTimeoutMs`, and its body at `minBodyBytesPerSecond` or faster once `bodyRateGraceMs` have passed; idle
 * connections closed after `keepAliveTimeoutMs`. Stopping (`drain`): no new connections or requests, every request
 * in flight answered (with `Connection: close`), for at most the drain's bound.
 */
import * as net from 'node:net';
import * as vm from 'node:vm';
import type { App } from './app.js';
import type { WireRequest, WireResponse } from '../protocols/types.js';
import { log } from '../core/log.js';
import { BodyBudget, type BudgetWaiter } from './budget.js';
import { releaseFreedMemory } from './release-memory.js';
import { HttpFramingError, RequestParser, responseHead, type HttpLimits, type ParsedRequest, type RequestHead } from './http1.js';

const MAX_HEADER_BYTES = 64 * 1024;
/** After an answer that closes the connection, it lingers this long, discarding input, so the client can read it. */
const LINGER_MS = 2_000;
/**
 * At most this many connections linger at once; past it (a flood of refused requests) a connection closes as soon as
 * its answer has left. Lingering costs what the client sends meanwhile (read and dropped), which a flood multiplies.
 */
const MAX_LINGERING = 256;
/** Requests taken off one connection's bytes in one go before yielding to other connections. */
const MAX_REQUESTS_PER_TURN = 64;
/** What a socket may still read after it is paused: libuv reads up to 64 KiB at a time. */
const READ_AHEAD_BYTES = 64 * 1024;
/** The body of a request answered from its head is read and dropped, keeping the connection, when no larger than this. */
const SKIP_BODY_MAX_BYTES = 64 * 1024;
/** A chunked body (its length unknown) takes budget in steps of this as it arrives. */
const CHUNKED_STEP_BYTES = 256 * 1024;
/**
 * A body no larger than this that has already arrived whole with its head is charged to the budget but never made to
 * wait for it: its bytes are in memory already, and small requests (nearly every DynamoDB, KMS or Secrets Manager
 * call) go on being served while large bodies fill the budget.
 */
const SMALL_BODY_BYTES = 16 * 1024;
/** Pipelined bytes held while a request is answered asynchronously, before reading stops. */
const HOLD_LIMIT_BYTES = MAX_HEADER_BYTES + READ_AHEAD_BYTES;
/** After this much has been read from sockets or held by bodies, the first quiet moment collects garbage (reclaimAfterFlood). */
const RECLAIM_AFTER_READ_BYTES = 64 * 1024 * 1024;
/** Reclaims are at least this far apart (a quiet server whose memory keeps growing reclaims again, at this pace). */
const RECLAIM_MIN_INTERVAL_MS = 10_000;
/** A quiet server whose resident size stands this far above its settled figure reclaims even after little was read. */
const RECLAIM_ABOVE_SETTLED = 1.15;
/** What one accepted connection counts for toward RECLAIM_AFTER_READ_BYTES (about what it holds while open). */
const CONNECTION_COST_BYTES = 64 * 1024;
/** Quiet: less than this read per second… */
const QUIET_BYTES_PER_SECOND = 1024 * 1024;
/** …and fewer new connections than this per second… */
const QUIET_CONNECTIONS_PER_SECOND = 20;
/** …for this long (longer than a lingering connection holds what it read). */
const QUIET_FOR_MS = LINGER_MS + 1000;
/** A streamed answer (server-sent events) whose client has this much unread is ended: a reader that stopped reading. */
const STREAM_BACKLOG_BYTES = 1024 * 1024;
const EMPTY_QUERY = new URLSearchParams();
const EMPTY_BODY = Buffer.alloc(0);

export interface GatewayOptions {
  /** Largest request body. */
  maxBodyBytes: number;
  /** Largest body of a request that carries no signature. */
  unsignedMaxBodyBytes: number;
  /** Memory all request bodies being read may hold together. */
  bodyBudgetBytes: number;
  /** How long a request waits for the body budget before it is answered 503. */
  bodyBudgetWaitMs: number;
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  minBodyBytesPerSecond: number;
  bodyRateGraceMs: number;
}

export interface HttpServer extends net.Server {
  /** Closes every open connection at once. */
  closeAllConnections(): void;
  /**
   * Stops taking connections and requests, and resolves once every request in flight has been answered and its
   * connection closed, or after `drainMs` (the connections still open are then closed).
   */
  drain(drainMs: number): Promise<void>;
  /** Ends a drain now: every connection is closed. */
  hurry(): void;
}

/** What every connection shares. */
interface Gateway {
  app: App;
  options: GatewayOptions;
  limits: HttpLimits;
  budget: BodyBudget;
  connections: Set<Connection>;
  draining: boolean;
  /** Called when a connection closes (the drain watches for the last). */
  onClose: (() => void) | undefined;
}

export function createHttpServer(app: App, options: GatewayOptions): HttpServer {
  const gateway: Gateway = {
    app,
    options,
    limits: { maxHeaderBytes: MAX_HEADER_BYTES, maxBodyBytes: options.maxBodyBytes, holdBodies: true },
    budget: new BodyBudget(options.bodyBudgetBytes),
    connections: new Set(),
    draining: false,
    onClose: undefined,
  };
  // allowHalfOpen: a client that half-closes after its request still gets its answer, then the close.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    if (gateway.draining) {
      socket.destroy();
      return;
    }
    // A connection costs memory of its own (socket, parser, the head it sent): a flood of refused heads counts too,
    // and a server still accepting many connections is not quiet however little it reads.
    readSinceReclaim += CONNECTION_COST_BYTES;
    acceptedSinceSweep++;
    gateway.connections.add(new Connection(socket, gateway));
  }) as HttpServer;
  // Bounded: past this many open connections new ones are refused, not queued without end.
  server.maxConnections = options.maxConnections;
  // Often enough that every timeout is kept to within a quarter of itself (and at least once a second).
  const sweepMs = Math.max(10, Math.min(1000, Math.min(options.headersTimeoutMs, options.requestTimeoutMs, options.keepAliveTimeoutMs, options.bodyRateGraceMs) / 4));
  let lastSweepMs = Date.now();
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const c of gateway.connections) c.sweep(now);
    reclaimAfterFlood(now - lastSweepMs);
    lastSweepMs = now;
  }, sweepMs);
  sweeper.unref();
  server.on('close', () => clearInterval(sweeper));
  server.closeAllConnections = () => {
    for (const c of gateway.connections) c.destroy();
  };
  let drained: Promise<void> | undefined;
  let endDrain: (() => void) | undefined;
  server.drain = (drainMs: number) => {
    drained ??= new Promise<void>((resolve) => {
      gateway.draining = true;
      server.close();
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (timer) clearTimeout(timer);
        gateway.onClose = undefined;
        endDrain = undefined;
        server.closeAllConnections();
        resolve();
      };
      endDrain = finish;
      gateway.onClose = () => {
        if (gateway.connections.size === 0) finish();
      };
      for (const c of gateway.connections) c.startDrain();
      if (gateway.connections.size === 0) finish();
      else {
        timer = setTimeout(() => {
          log('warn', 'requests still in flight when the drain ran out; closing their connections', { connections: gateway.connections.size, drainMs });
          finish();
        }, drainMs);
      }
    });
    return drained;
  };
  server.hurry = () => {
    gateway.draining = true;
    if (endDrain) endDrain();
    else server.closeAllConnections();
  };
  return server;
}

/** Bytes read from every socket (and let go by bodies) since the last reclaim; bytes read since the last sweep. */
let readSinceReclaim = 0;
let readSinceSweep = 0;
let acceptedSinceSweep = 0;
let quietMs = 0;
/** When the last reclaim ran (reclaims are at least RECLAIM_MIN_INTERVAL_MS apart). */
let lastReclaimMs = 0;
/** The resident size after the last reclaim (or when first quiet): what "memory came back" is measured against. */
let settledRssBytes = Infinity;
/** Connections lingering now (MAX_LINGERING). */
let lingering = 0;

/**
 * Node reads each socket into a fresh buffer (up to 64 KiB, from malloc), and V8 frees such buffers only in a
 * garbage collection, which it starts when JavaScript allocates. After a flood of request bytes or connections (read,
 * then refused or answered) the server falls quiet, nothing allocates, and tens of megabytes of dead buffers, and the
 * heap grown to track them, stay resident for good. So once much has been read (or the resident size stands well
 * above what it settled at after the last reclaim) and the server has then been quiet for QUIET_FOR_MS, one full
 * collection is asked for: the buffers go back to malloc and V8 shrinks its heap, and malloc gives its free pages
 * back to the system (release-memory.ts). It costs a few milliseconds, at most once per RECLAIM_MIN_INTERVAL_MS,
 * and never while traffic flows.
 */
function reclaimAfterFlood(elapsedMs: number): void {
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const quiet = readSinceSweep < QUIET_BYTES_PER_SECOND * seconds && acceptedSinceSweep <= QUIET_CONNECTIONS_PER_SECOND * seconds;
  readSinceSweep = 0;
  acceptedSinceSweep = 0;
  quietMs = quiet ? quietMs + elapsedMs : 0;
  if (quietMs < QUIET_FOR_MS) return;
  const now = Date.now();
  if (now - lastReclaimMs < RECLAIM_MIN_INTERVAL_MS) return;
  const rss = process.memoryUsage.rss();
  if (settledRssBytes === Infinity) settledRssBytes = rss;
  if (readSinceReclaim < RECLAIM_AFTER_READ_BYTES && rss <= settledRssBytes * RECLAIM_ABOVE_SETTLED) return;
  lastReclaimMs = now;
  readSinceReclaim = 0;
  // Then the pages malloc now holds free go back to the system (malloc_trim: glibc keeps them otherwise).
  vm.measureMemory({ execution: 'eager' }).then(
    () => {
      const released = releaseFreedMemory();
      settledRssBytes = process.memoryUsage.rss();
      log('debug', 'memory reclaimed after a busy spell', { rssBeforeMiB: Math.round(rss / 1048576), rssAfterMiB: Math.round(settledRssBytes / 1048576), mallocTrimmed: released });
    },
    () => undefined,
  );
}

/**
 * Answers are written at the end of the event-loop turn that produced them (setImmediate), not one by one:
 * with many connections, a turn then reads several requests and writes their answers together, and the loop
 * goes round (epoll, timers, microtasks) far fewer times per request. Measured best-of-5 with ddb-wrk at 16
 * connections: GetItem 56.6 → 51.0 µs of server CPU per request, mixed 77.9 → 64.3. No answer waits for
 * anything but the end of its own turn.
 */
let corkedSockets: net.Socket[] = [];
function flushCorked(): void {
  const list = corkedSockets;
  corkedSockets = [];
  for (const s of list) s.uncork();
}

let dateSecond = -1;
let dateText = '';
/** The Date header, formatted once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** Whether a held head's body is small and has already arrived whole with it (see SMALL_BODY_BYTES). */
export function bodyArrivedWhole(head: RequestHead, bufferedBytes: number): boolean {
  return head.length >= 0 && head.length <= SMALL_BODY_BYTES && bufferedBytes >= head.length;
}

/** A request head as the App sees it: no body yet. */
export function wireHead(method: string, target: string, headers: Record<string, string>): WireRequest {
  const q = target.indexOf('?');
  return {
    method,
    path: q >= 0 ? target.slice(0, q) : target,
    query: q >= 0 ? new URLSearchParams(target.slice(q + 1)) : EMPTY_QUERY,
    rawQuery: q >= 0 ? target.slice(q + 1) : '',
    headers,
    body: EMPTY_BODY,
  };
}

/** Whether the head carries a SigV4 signature, in its Authorization header or a presigned query. */
function carriesSignature(head: RequestHead): boolean {
  return head.headers['authorization'] !== undefined || head.target.includes('X-Amz-Signature=') || head.target.includes('X-Amz-Credential=');
}

class Connection {
  private readonly parser: RequestParser;
  /** A request is being answered asynchronously; later ones wait. */
  private busy = false;
  /** No more requests are read: an error was answered or `Connection: close` was honoured. */
  private done = false;
  private peerEnded = false;
  private lastActive = Date.now();
  /** When the request now arriving started to arrive (0: none is). */
  private requestStarted = 0;
  /** When the current request's body began to be read (0: none is). */
  private bodyStarted = 0;
  /** The current request's head, as given to the App before its body (reused for the request itself). */
  private wire: WireRequest | undefined;
  /** Bytes this connection holds from the body budget. */
  private charged = 0;
  private waiter: BudgetWaiter | undefined;
  private waitTimer: NodeJS.Timeout | undefined;
  /** Set when Cellar begins to stop with this connection's request in flight: that request is still answered. */
  private finishing = false;
  /** Bytes read and dropped while lingering. */
  private discarded = 0;
  /** Ends the streamed answer this connection carries (WireResponse.stream), if it carries one. */
  private endStream: (() => void) | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly gateway: Gateway,
  ) {
    this.parser = new RequestParser(gateway.limits);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('end', () => {
      // The client sent all it will: answer what is complete, then close our side.
      this.peerEnded = true;
      if (!this.busy && !this.waiter) this.drain();
      if (!this.busy && !this.waiter && !this.done) {
        this.done = true;
        socket.end();
      }
    });
    socket.on('close', () => {
      this.stopWaiting();
      this.release();
      gateway.connections.delete(this);
      gateway.onClose?.();
    });
    socket.on('drain', () => {
      if (this.busy || this.done || this.waiter) return;
      socket.resume();
      this.drain();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * Cellar is stopping: a connection with a request in flight (being answered, its body being read, or waiting for
   * the budget) finishes that one and closes; any other closes now.
   */
  startDrain(): void {
    if (this.endStream) {
      this.endStream();
      return;
    }
    if (this.done) return;
    // Being answered: the answer closes the connection (send).
    if (this.busy) return;
    if (this.waiter || this.parser.headParsed) {
      this.finishing = true;
      return;
    }
    this.done = true;
    this.socket.destroy();
  }

  /** Closes connections that idle or dawdle past their bounds. */
  sweep(now: number): void {
    const o = this.gateway.options;
    // A streamed answer is bounded by its backlog (STREAM_BACKLOG_BYTES) and ends when Cellar stops.
    if (this.endStream) return;
    // Closing (lingering closes it after the answer is flushed): a client that reads nothing is not waited for forever.
    if (this.done) {
      if (now - this.lastActive > o.keepAliveTimeoutMs) this.socket.destroy();
      return;
    }
    // Bounded elsewhere: the answer by its provider, the wait by bodyBudgetWaitMs.
    if (this.busy || this.waiter) return;
    if (this.requestStarted) {
      if (!this.parser.headParsed) {
        if (now - this.requestStarted > o.headersTimeoutMs) this.fail(408);
      } else if (now - this.requestStarted > o.requestTimeoutMs) this.fail(408);
      else if (this.bodyStarted && now - this.bodyStarted > o.bodyRateGraceMs && (this.parser.bodyBytes * 1000) / (now - this.bodyStarted) < o.minBodyBytesPerSecond) this.fail(408);
    } else if (now - this.lastActive > o.keepAliveTimeoutMs) this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    readSinceSweep += chunk.length;
    readSinceReclaim += chunk.length;
    if (this.done) {
      // Lingering: input is dropped, up to what one request's body may be.
      this.discarded += chunk.length;
      if (this.discarded > this.gateway.options.maxBodyBytes) this.socket.destroy();
      return;
    }
    this.lastActive = Date.now();
    this.parser.push(chunk);
    // Held while an answer is in flight, a body waits for the budget, or the client is not reading its answers;
    // past a bound, stop reading (TCP pushes back) until those are done.
    if (this.parser.buffered > HOLD_LIMIT_BYTES) this.socket.pause();
    if (!this.busy && !this.waiter) this.drain();
  }

  /** Answers every complete request held, in order, until one goes asynchronous or waits. */
  private drain(): void {
    const socket = this.socket;
    let corked = false;
    let dispatched = 0;
    try {
      // Each request may take two steps: its head (admitted), then the request itself.
      for (let step = 0; step < 2 * MAX_REQUESTS_PER_TURN && dispatched < MAX_REQUESTS_PER_TURN; step++) {
        // A client that does not read its answers gets no more until it has (resumed on 'drain').
        if (this.busy || this.done || this.waiter || socket.destroyed || socket.writableNeedDrain) return;
        let req: ParsedRequest | undefined;
        try {
          req = this.parser.next();
          if (!req) {
            const held = this.parser.heldHead;
            if (held) {
              if (this.admit(held)) continue;
              return;
            }
          }
        } catch (e) {
          // A body over the limit is refused from its head, in the request's own protocol (App.unavailableBeforeBody).
          if (e instanceof HttpFramingError && e.head && e.status === 413) this.closeWith(e.head, this.gateway.app.unavailableBeforeBody(wireHead(e.head.method, e.head.target, e.head.headers), 'too-large'));
          else if (e instanceof HttpFramingError) this.fail(e.status);
          else {
            log('error', 'HTTP framing failed', { error: e instanceof Error ? e.stack : String(e) });
            this.fail(500);
          }
          return;
        }
        if (!req) {
          if (this.parser.takeContinue()) socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
          if (this.parser.headParsed && this.wire && !this.chargeChunked()) return;
          this.requestStarted = this.parser.midRequest ? this.requestStarted || Date.now() : 0;
          return;
        }
        this.requestStarted = 0;
        this.bodyStarted = 0;
        if (dispatched === 1) {
          // Pipelined requests: their responses leave in one write.
          socket.cork();
          corked = true;
        }
        dispatched++;
        this.dispatch(req);
      }
      // More may be held: carry on after other connections have had their turn.
      if (!this.busy && !this.done && !this.waiter && this.parser.buffered > 0) setImmediate(() => {
        if (!this.busy && !this.done && !this.waiter) this.drain();
      });
    } finally {
      if (corked) socket.uncork();
      if (socket.isPaused() && !this.busy && !this.done && !this.waiter && !socket.writableNeedDrain && this.parser.buffered <= HOLD_LIMIT_BYTES) socket.resume();
    }
  }

  // ------------------------------------------------------------------ before the body

  /**
   * Decides what happens to a head's body before any of it is kept: read it (true: drain goes on), refuse the
   * request from its head, or wait for the budget (false: drain stops until the wait ends).
   */
  private admit(head: RequestHead): boolean {
    const g = this.gateway;
    const wire = wireHead(head.method, head.target, head.headers);
    this.wire = wire;
    if (g.draining && !this.finishing) return this.refuse(head, g.app.unavailableBeforeBody(wire, 'stopping'));
    const length = head.length;
    const signed = carriesSignature(head);
    if (bodyArrivedWhole(head, this.parser.buffered) && (signed || length <= g.options.unsignedMaxBodyBytes)) {
      // Nearly every request: its small body came with its head. Nothing is saved by checking the head alone now,
      // since App.respond checks the whole request at once (checking twice would cost a second signature on the
      // hot path). Charged, but never made to wait (SMALL_BODY_BYTES).
      g.budget.takeAnyway(length);
      this.charged = length;
      this.startBody();
      return true;
    }
    const refusal = g.app.checkBeforeBody(wire);
    if (refusal) return this.refuse(head, refusal);
    // An unsigned body is capped: a declared length over the cap is refused now; a chunked one is read, and refused
    // (413) only once it has decoded past the cap, so a malformed chunk is the 400 it is.
    if (!signed && length > g.options.unsignedMaxBodyBytes) return this.refuse(head, g.app.unavailableBeforeBody(wire, 'too-large'));
    const cap = signed ? undefined : g.options.unsignedMaxBodyBytes;
    const need = length >= 0 ? length : CHUNKED_STEP_BYTES;
    if (g.budget.tryTake(need)) {
      this.charged = need;
      this.startBody(cap);
      return true;
    }
    // Wait, holding what came with the head and what the paused socket may still read; if even that does not fit,
    // waiting would hold memory the budget does not have.
    this.socket.pause();
    const waiter = g.budget.wait(this.parser.buffered + READ_AHEAD_BYTES, need, () => this.granted(cap));
    if (!waiter) return this.refuse(head, g.app.unavailableBeforeBody(wire, 'throttled'));
    this.waiter = waiter;
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      if (!this.waiter || !g.budget.cancel(this.waiter)) return;
      this.waiter = undefined;
      this.refuse(head, g.app.unavailableBeforeBody(wire, 'throttled'));
    }, g.options.bodyBudgetWaitMs);
    return false;
  }

  private granted(cap: number | undefined): void {
    const waiter = this.waiter!;
    this.waiter = undefined;
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    if (this.socket.destroyed) {
      this.gateway.budget.give(waiter.need);
      return;
    }
    this.charged = waiter.need;
    this.startBody(cap);
    // Not from inside the budget's give(), which another connection is in the middle of.
    setImmediate(() => {
      if (this.done || this.socket.destroyed) return;
      this.socket.resume();
      this.drain();
    });
  }

  private startBody(maxBytes?: number): void {
    this.bodyStarted = Date.now();
    this.parser.admitBody(maxBytes);
  }

  /** A chunked body's length shows as it arrives: it takes budget in steps, or is refused when none is left. */
  private chargeChunked(): boolean {
    const held = this.parser.bodyBytes;
    if (held <= this.charged) return true;
    const step = Math.max(CHUNKED_STEP_BYTES, held - this.charged);
    if (this.gateway.budget.tryTake(step)) {
      this.charged += step;
      return true;
    }
    this.closeWith(this.wire!, this.gateway.app.unavailableBeforeBody(this.wire!, 'throttled'));
    return false;
  }

  /**
   * Answers a request from its head. A small body is read and dropped so that the connection goes on; a larger
   * one is not read at all: the answer says `Connection: close`, and the connection closes after it.
   */
  private refuse(head: RequestHead, out: WireResponse): boolean {
    this.wire = undefined;
    if (head.keepAlive && !this.gateway.draining && head.length >= 0 && head.length <= SKIP_BODY_MAX_BYTES) {
      this.parser.skipBody();
      this.send(head.method, head.minor, true, out);
      return !this.done;
    }
    this.closeWith(head, out);
    return false;
  }

  private closeWith(head: { method: string }, out: WireResponse): void {
    this.wire = undefined;
    this.send(head.method, 1, false, out);
  }

  private stopWaiting(): void {
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    if (this.waiter) this.gateway.budget.cancel(this.waiter);
    this.waiter = undefined;
  }

  /** Gives back the budget the current request's body held. */
  private release(): void {
    if (this.charged === 0) return;
    const n = this.charged;
    this.charged = 0;
    this.gateway.budget.give(n);
    // A body is garbage now too.
    readSinceReclaim += n;
  }

  // ------------------------------------------------------------------ requests and answers

  private dispatch(req: ParsedRequest): void {
    let wire = this.wire;
    this.wire = undefined;
    if (wire) wire.body = req.body;
    else {
      // No body, so no head was held for it: seen here first.
      if (this.gateway.draining && !this.finishing) {
        this.closeWith(req, this.gateway.app.unavailableBeforeBody(wireHead(req.method, req.target, req.headers), 'stopping'));
        return;
      }
      wire = wireHead(req.method, req.target, req.headers);
      wire.body = req.body;
    }
    wire.remoteAddress = this.socket.remoteAddress;
    // The one request a stopping Cellar still answers on this connection.
    if (this.finishing) this.finishing = false;
    let out: WireResponse | Promise<WireResponse>;
    try {
      out = this.gateway.app.respond(wire);
    } catch (err) {
      out = Promise.reject(err);
    }
    if (!(out instanceof Promise)) {
      this.release();
      this.send(req.method, req.minor, req.keepAlive, out);
      return;
    }
    this.busy = true;
    out
      .catch((err: unknown): WireResponse => {
        log('error', 'request failed outside the handler chain', { error: err instanceof Error ? err.stack : String(err) });
        return this.gateway.app.unavailableBeforeBody(wire, 'internal');
      })
      .then((o) => {
        this.busy = false;
        this.release();
        this.lastActive = Date.now();
        this.send(req.method, req.minor, req.keepAlive, o);
        if (this.done || this.socket.destroyed) return;
        if (this.peerEnded) {
          this.drain();
          if (!this.busy && !this.done && !this.waiter) {
            this.done = true;
            this.socket.end();
          }
          return;
        }
        this.socket.resume();
        this.drain();
      });
  }

  private send(method: string, minor: 0 | 1, keepAliveAsked: boolean, out: WireResponse): void {
    const socket = this.socket;
    if (out.stream) {
      if (!socket.destroyed && method !== 'HEAD' && !this.gateway.draining) {
        this.stream(out);
        return;
      }
      out.stream.cancel();
    }
    if (socket.destroyed) return;
    // A stopping Cellar closes each connection after the answer in flight.
    const keepAlive = keepAliveAsked && !this.gateway.draining;
    const body = out.body;
    const length = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
    const head = responseHead(out.status, out.headers, length, httpDate(), keepAlive ? (minor === 0 ? 'keep-alive' : undefined) : 'close');
    if (!socket.writableCorked) {
      socket.cork();
      corkedSockets.push(socket);
      if (corkedSockets.length === 1) setImmediate(flushCorked);
    }
    let flushed: boolean;
    if (method === 'HEAD' || length === 0) flushed = socket.write(head, 'latin1');
    // Header values are ASCII, so head and a string body go out as one UTF-8 write.
    else if (typeof body === 'string') flushed = socket.write(head + body, 'utf8');
    else {
      socket.write(head, 'latin1');
      flushed = socket.write(body);
    }
    if (!keepAlive) {
      socket.end();
      this.linger();
    } else if (!flushed) socket.pause(); // resumed on 'drain'
  }

  /**
   * A streamed answer: its head and first body, then whatever the stream writes, until the stream ends, the client
   * goes, stops reading (STREAM_BACKLOG_BYTES) or Cellar stops. The connection then closes: nothing else is read.
   */
  private stream(out: WireResponse): void {
    const socket = this.socket;
    this.done = true;
    this.stopWaiting();
    this.release();
    socket.write(responseHead(out.status, out.headers, undefined, httpDate(), 'close') + (typeof out.body === 'string' ? out.body : out.body.toString('utf8')), 'utf8');
    let ended = false;
    let stop: (() => void) | undefined;
    const end = () => {
      if (ended) return;
      ended = true;
      this.endStream = undefined;
      stop?.();
      if (socket.destroyed) return;
      socket.end();
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    this.endStream = end;
    socket.once('close', end);
    const writer = {
      write: (chunk: string): boolean => {
        if (ended || socket.destroyed) return false;
        if (socket.writableLength > STREAM_BACKLOG_BYTES) {
          end();
          return false;
        }
        socket.write(chunk, 'utf8');
        this.lastActive = Date.now();
        return true;
      },
      end,
    };
    try {
      stop = out.stream!.open(writer);
    } catch (e) {
      log('error', 'a streamed answer failed to start', { error: e instanceof Error ? e.stack : String(e) });
      end();
    }
    // Ended before open returned: what it opened is stopped now.
    if (ended) stop?.();
  }

  /** Answers a request that cannot be framed (or timed out) and closes the connection. */
  private fail(status: number): void {
    if (this.done) return;
    this.done = true;
    this.stopWaiting();
    this.release();
    const socket = this.socket;
    if (!socket.destroyed && socket.writable) {
      // HTTP-level failures (a request that cannot be framed, a timeout) carry no AWS error document: no service or
      // protocol was reached. Every AWS error is written by its protocol (App).
      socket.write(responseHead(status, {}, 0, httpDate(), 'close'), 'latin1');
      socket.end();
    }
    this.linger();
  }

  /**
   * After an answer that closes the connection: what the client still sends is read and dropped (never stored) for
   * a moment, so it can read the answer rather than have it cut off by a reset; then the connection is closed.
   */
  private linger(): void {
    this.done = true;
    this.stopWaiting();
    this.release();
    const socket = this.socket;
    if (socket.destroyed) return;
    // Not read until the answer has left.
    socket.pause();
    // Counted from when the answer has left, so a large answer to a slow reader is not cut off.
    const close = () => {
      if (socket.destroyed) return;
      if (lingering >= MAX_LINGERING) {
        socket.destroy();
        return;
      }
      lingering++;
      socket.once('close', () => lingering--);
      // Read and dropped (onData), so a client that sends its whole body before it reads gets to the answer.
      socket.resume();
      setTimeout(() => socket.destroy(), LINGER_MS).unref();
    };
    if (socket.writableFinished) close();
    else socket.once('finish', close);
  }
}
