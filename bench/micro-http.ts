/**
 * In-process micro-benchmark of one GetItem/PutItem as the HTTP layer sees it, without a socket: the raw
 * bytes ddb-wrk.mjs sends (same header names and order) are framed by gateway/http1.ts (head first, then the
 * body once admitted, with its budget charge, as gateway/http.ts does), answered by the App, and the response
 * head built and encoded as gateway/http.ts writes it. Times each stage in CPU time per request. A tool for
 * finding where the time goes, not a test.
 *
 *   npx tsc -p . && node dist/bench/micro-http.js [iterations] [--only=get|put]
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { startCellar } from '../src/server.js';
import { RequestParser, responseHead } from '../src/gateway/http1.js';
import { BodyBudget } from '../src/gateway/budget.js';
import { bodyArrivedWhole, wireHead } from '../src/gateway/http.js';
import { amzDateNow, signDynamoDb } from './common.js';
import type { WireRequest, WireResponse } from '../src/protocols/types.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 50_000);
const HOST = '127.0.0.1:4566';

function raw(target: string, payload: unknown, amzDate: string): Buffer {
  const body = JSON.stringify(payload);
  const headers = signDynamoDb(HOST, target, body, amzDate);
  return Buffer.from(`POST / HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${body}`);
}

const amzDate = amzDateNow();
const cellar = await startCellar(loadConfig({ inMemory: true, port: 0, logRequests: false }));
const app = cellar.app;
const parser = new RequestParser({ maxHeaderBytes: 65536, maxBodyBytes: 20 * 1024 * 1024, holdBodies: true });
const budget = new BodyBudget(64 * 1024 * 1024);
/** What gateway/http.ts does with a request whose small body came with its head. */
function frame(bytes: Buffer): WireRequest {
  parser.push(bytes);
  if (parser.next()) throw new Error('expected the head to be held');
  const head = parser.heldHead!;
  const wire = wireHead(head.method, head.target, head.headers);
  if (!bodyArrivedWhole(head, parser.buffered)) throw new Error('expected the whole body with the head');
  budget.takeAnyway(head.length);
  parser.admitBody();
  wire.body = parser.next()!.body;
  budget.give(head.length);
  return wire;
}
function answer(bytes: Buffer): WireResponse {
  const out = app.respond(frame(bytes));
  if (out instanceof Promise) throw new Error('expected a synchronous answer');
  return out;
}
const must = (bytes: Buffer): void => {
  const out = answer(bytes);
  if (out.status !== 200) throw new Error(`${out.status} ${String(out.body)}`);
};
must(raw('CreateTable', { TableName: 'bench', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }, amzDate));
const filler = randomBytes(123).toString('base64');
const keys = Array.from({ length: 2000 }, () => randomBytes(16).toString('hex'));
for (const k of keys) must(raw('PutItem', { TableName: 'bench', Item: { pk: { S: k }, data: { S: filler } } }, amzDate));

const pools: Record<string, Buffer[]> = {
  get: keys.map((k) => raw('GetItem', { TableName: 'bench', Key: { pk: { S: k } } }, amzDate)),
  put: Array.from({ length: 2000 }, () => raw('PutItem', { TableName: 'bench', Item: { pk: { S: randomBytes(16).toString('hex') }, data: { S: filler } } }, amzDate)),
};

function time(label: string, fn: (i: number) => unknown): void {
  for (let i = 0; i < Math.min(N, 5000); i++) fn(i);
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn(i);
  const c = process.cpuUsage(c0);
  process.stderr.write(`${label.padEnd(34)} ${((c.user + c.system) / N).toFixed(2).padStart(8)} µs CPU\n`);
}

const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
for (const [w, pool] of Object.entries(pools)) {
  if (only && w !== only) continue;
  time(`${w}: frame`, (i) => frame(pool[i % pool.length]!));
  time(`${w}: frame + App.respond`, (i) => answer(pool[i % pool.length]!));
  time(`${w}: frame + respond + head + encode`, (i) => {
    const out = answer(pool[i % pool.length]!);
    const body = out.body as string;
    return Buffer.from(responseHead(out.status, out.headers, Buffer.byteLength(body), 'Wed, 25 Nov 2026 00:00:00 GMT', undefined) + body);
  });
}
await cellar.close();
