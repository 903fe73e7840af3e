/**
 * The put path alone, in process, for profiling (`perf record -g node --perf-basic-prof dist/bench/micro-put.js`):
 * App.handle of signed PutItems with fresh keys, 16 at a time (as 16 connections hand them over in one event-loop
 * turn), on a fresh data directory. Prints CPU µs per put (every thread of the process). Not a test.
 *
 *   node dist/bench/micro-put.js [puts=100000] [--item-bytes 200] [--fsync] [--get]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { startCellar } from '../src/server.js';
import type { WireRequest } from '../src/protocols/types.js';
import { amzDateNow, signDynamoDb } from './common.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
const i = process.argv.indexOf('--item-bytes');
const ITEM_BYTES = i >= 0 ? Number(process.argv[i + 1]) : 200;
const FSYNC = process.argv.includes('--fsync');
const GET = process.argv.includes('--get');
const dir = mkdtempSync(join(tmpdir(), 'cellar-micro-put-'));
const amzDate = amzDateNow();
const signed = (target: string, payload: unknown): WireRequest => {
  const body = JSON.stringify(payload);
  const headers = Object.fromEntries(signDynamoDb('127.0.0.1:1', target, body, amzDate).map(([n, v]) => [n.toLowerCase(), v]));
  return { method: 'POST', path: '/', query: new URLSearchParams(), headers, body: Buffer.from(body) };
};
const cellar = await startCellar(loadConfig({ dataDir: dir, durability: FSYNC ? 'fsync' : 'process', port: 0, logRequests: false }));
const app = cellar.app;
const must = async (req: WireRequest): Promise<void> => {
  const r = await app.handle(req);
  if (r.status !== 200) throw new Error(`${r.status} ${String(r.body)}`);
};
await must(signed('CreateTable', { TableName: 'bench', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
const fill = randomBytes(ITEM_BYTES).toString('base64').slice(0, Math.max(1, ITEM_BYTES - 40));
const keys = Array.from({ length: N }, () => randomBytes(16).toString('hex'));
const puts = keys.map((k) => signed('PutItem', { TableName: 'bench', Item: { pk: { S: k }, data: { S: fill } } }));
async function timed(label: string, pool: WireRequest[]): Promise<void> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let j = 0; j < pool.length; j += 16) await Promise.all(pool.slice(j, j + 16).map(must));
  const c = process.cpuUsage(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  process.stderr.write(`${label}: ${((c.user + c.system) / pool.length).toFixed(1)} µs CPU/op, ${(wall / pool.length).toFixed(1)} µs wall/op over ${pool.length}\n`);
}
// A profiler can attach now, after the pool is built: `perf record -p PID` once this line appears.
process.stderr.write(`pid ${process.pid}: timing starts in 1 s\n`);
await new Promise((r) => setTimeout(r, 1000));
await timed(`put ${ITEM_BYTES} B`, puts);
if (GET) await timed('get', keys.map((k) => signed('GetItem', { TableName: 'bench', Key: { pk: { S: k } } })));
await cellar.close();
rmSync(dir, { recursive: true, force: true });
