/**
 * @module console/routes
 * The web console's HTTP surface under /_cellar/console/: the page and its scripts (console/assets.ts), the read
 * endpoints under api/ (console/api.ts), and the live log (api/logs, server-sent events from the log's ring of
 * recent lines, core/log.ts). Every request passes console/guard.ts first: loopback clients only, and the API only
 * from the console's own pages; anything else is 403 and reads nothing. Only GET (and HEAD) are served.
 */
import { followLogs, log, recentLogLines } from '../core/log.js';
import type { WireRequest, WireResponse, StreamWriter } from '../protocols/types.js';
import { ConsoleApi, failureOf } from './api.js';
import { consoleAsset, pagePolicy } from './assets.js';
import { consoleRefusal } from './guard.js';

export const CONSOLE_PATH = '/_cellar/console';
const API = `${CONSOLE_PATH}/api/`;
/** The live log's keep-alive comment: often enough that proxies and the browser keep the stream, and a gone client shows. */
const LOG_HEARTBEAT_MS = 15_000;
/** Lines logged between a log stream's answer and its start are held, up to this many. */
const LOG_PENDING_LINES = 500;

/** Headers of every console answer: never cached (secret values), never framed by another site, types as declared. */
const BASE_HEADERS: Record<string, string> = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' };

export function consoleRoute(api: ConsoleApi): (req: WireRequest) => Promise<WireResponse> {
  return async (req) => {
    const isApi = req.path.startsWith(API);
    const refusal = consoleRefusal(req, isApi);
    if (refusal) {
      log('warn', 'console request refused', { path: req.path.slice(0, 200), remoteAddress: req.remoteAddress ?? null, reason: refusal });
      return json(403, { code: 'Forbidden', message: refusal });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return { ...json(405, { code: 'MethodNotAllowed', message: 'the console only reads: use GET' }), headers: { ...BASE_HEADERS, 'content-type': 'application/json', allow: 'GET, HEAD' } };
    if (req.path === CONSOLE_PATH) return { status: 308, headers: { ...BASE_HEADERS, location: `${CONSOLE_PATH}/` }, body: '' };
    if (isApi) return answerApi(api, req.path.slice(API.length), req.query);
    const name = req.path.slice(CONSOLE_PATH.length + 1) || 'index.html';
    let asset;
    try {
      asset = consoleAsset(name);
    } catch (e) {
      log('error', 'console asset unavailable', { asset: name, error: (e as Error).message });
      return json(503, { code: 'Unavailable', message: `the console's file ${name} is missing from this installation; see the log` });
    }
    if (!asset) return json(404, { code: 'NotFound', message: `no console file ${name.slice(0, 200)}` });
    const headers: Record<string, string> = { ...BASE_HEADERS, 'content-type': asset.type };
    if (name === 'index.html') headers['content-security-policy'] = pagePolicy(asset.body);
    return { status: 200, headers, body: asset.body };
  };
}

async function answerApi(api: ConsoleApi, name: string, params: URLSearchParams): Promise<WireResponse> {
  try {
    switch (name) {
      case 'resources':
        return json(200, await api.resources());
      case 'dynamodb/items':
        return json(200, await api.items(params));
      case 'rds/instance':
        return json(200, await api.instance(params));
      case 'rds/metrics':
        return json(200, await api.metrics(params));
      case 'secrets/value':
        return json(200, await api.secretValue(params));
      case 'logs':
        return logStream();
      default:
        return json(404, { code: 'NotFound', message: `no console endpoint ${name.slice(0, 200)}` });
    }
  } catch (e) {
    const failure = failureOf(e);
    if (failure) return json(failure.status, { code: failure.code, message: failure.message });
    log('error', 'console request failed', { endpoint: name, error: e instanceof Error ? e.stack : String(e) });
    return json(500, { code: 'InternalFailure', message: 'the console could not answer; see the log' });
  }
}

/** The live log: the recent lines, then each new one, as server-sent events, with a heartbeat. */
function logStream(): WireResponse {
  let writer: StreamWriter | undefined;
  const pending: string[] = [];
  const unfollow = followLogs((line) => {
    if (writer) writer.write(event(line));
    else if (pending.length < LOG_PENDING_LINES) pending.push(line);
  });
  if (!unfollow) return json(503, { code: 'TooManyFollowers', message: 'too many live log views are open; close one' });
  const first = 'retry: 3000\n\n' + recentLogLines().map(event).join('');
  return {
    status: 200,
    headers: { ...BASE_HEADERS, 'content-type': 'text/event-stream; charset=utf-8' },
    body: first,
    stream: {
      open(w) {
        writer = w;
        for (const line of pending.splice(0)) w.write(event(line));
        const heartbeat = setInterval(() => w.write(': keep-alive\n\n'), LOG_HEARTBEAT_MS);
        heartbeat.unref();
        return () => {
          clearInterval(heartbeat);
          unfollow();
        };
      },
      cancel: unfollow,
    },
  };
}

/** One log line as an event (lines are JSON, one line each; any CR or LF is escaped so it cannot end the event). */
function event(line: string): string {
  return `data: ${line.replace(/\r/g, '\\r').replace(/\n/g, '\\n')}\n\n`;
}

function json(status: number, value: unknown): WireResponse {
  return { status, headers: { ...BASE_HEADERS, 'content-type': 'application/json' }, body: JSON.stringify(value, jsonSafe) };
}

/** Answers as JSON: bytes as base64 (item attributes of type B), timestamps as ISO text. */
function jsonSafe(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}
