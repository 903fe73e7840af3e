/**
 * @module gateway/http
 * The socket side of the gateway: reads a bounded request body, hands a WireRequest to the App and
 * writes the WireResponse. Everything else happens in gateway/app.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { App } from './app.js';
import type { WireRequest, WireResponse } from '../protocols/types.js';
import { log } from '../core/log.js';

const MAX_CONNECTIONS = 4096;
const TOO_LARGE = JSON.stringify({ __type: 'com.amazon.coral.service#RequestEntityTooLarge', message: 'Request entity too large' });

export function createHttpServer(app: App, maxBodyBytes: number): Server {
  const server = createServer({ keepAlive: true, keepAliveTimeout: 65_000, requestTimeout: 120_000, headersTimeout: 60_000, maxHeaderSize: 64 * 1024 }, (req, res) => {
    onRequest(app, maxBodyBytes, req, res);
  });
  // Bounded: past this many open connections new ones are refused, not queued without end.
  server.maxConnections = MAX_CONNECTIONS;
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy(err);
  });
  return server;
}

function onRequest(app: App, maxBodyBytes: number, req: IncomingMessage, res: ServerResponse): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) {
    reply(res, 413, { 'content-type': 'application/x-amz-json-1.0', connection: 'close' }, TOO_LARGE);
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let aborted = false;
  req.on('data', (chunk: Buffer) => {
    if (aborted) return;
    size += chunk.length;
    if (size > maxBodyBytes) {
      aborted = true;
      reply(res, 413, { 'content-type': 'application/x-amz-json-1.0', connection: 'close' }, TOO_LARGE);
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('error', () => {
    aborted = true;
  });
  req.on('end', () => {
    if (aborted) return;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const wire: WireRequest = {
      method: req.method ?? 'GET',
      path: q >= 0 ? url.slice(0, q) : url,
      query: q >= 0 ? new URLSearchParams(url.slice(q + 1)) : new URLSearchParams(),
      headers: headersOf(req),
      body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
    };
    let out: WireResponse | Promise<WireResponse>;
    try {
      out = app.respond(wire);
    } catch (err) {
      out = Promise.reject(err);
    }
    if (out instanceof Promise) {
      out.then(
        (o) => reply(res, o.status, o.headers, o.body),
        (err: unknown) => {
          log('error', 'request failed outside the handler chain', { error: err instanceof Error ? err.stack : String(err) });
          reply(res, 500, { 'content-type': 'application/json' }, JSON.stringify({ __type: 'InternalFailure', message: 'internal error' }));
        },
      );
    } else reply(res, out.status, out.headers, out.body);
  });
}

/**
 * Node's parsed headers, as the WireRequest's lower-case name → value record. Node already joins
 * repeated headers with ', ' except set-cookie, the one header it keeps as an array; only then is a
 * copy needed.
 */
function headersOf(req: IncomingMessage): Record<string, string> {
  const h = req.headers;
  if (h['set-cookie'] === undefined) return h as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function reply(res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string): void {
  if (res.headersSent || res.destroyed) return;
  // A flat [name, value, …] list: node:http writes it without building its own header map.
  const flat: string[] = [];
  for (const name in headers) flat.push(name, headers[name]!);
  flat.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length));
  res.writeHead(status, flat);
  // A string body goes out in the same write() as the headers; a Buffer in a second iovec.
  res.end(body);
}
