/**
 * The put path alone, in process, for profiling (`perf record -g node --perf-basic-prof dist/bench/micro-put.js`):
 * App.handle of signed PutItems with fresh keys, 16 at a time (as 16 connections hand them over in one event-loop
 * turn), on a fresh data directory. Prints CPU µs per put (every thread of the process). Not a test.
 *
 *   node dist/bench/micro-put.js [puts=100000] [--item-bytes 200] [--fsync] [--get] [--stream]
 *
 * --stream: the same puts alternately into a table without a stream and one with a NEW_AND_OLD_IMAGES stream, in
 * eight alternating slices, and the CPU ratio of the two (what a stream costs a put, the noise of the machine mostly
 * cancelling out between neighbouring slices).
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
const STREAM = process.argv.includes('--stream');
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
if (STREAM) {
  await must(signed('CreateTable', { TableName: 'bench_stream', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST', StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }));
}
const fill = randomBytes(ITEM_BYTES).toString('base64').slice(0, Math.max(1, ITEM_BYTES - 40));
const keys = Array.from({ length: N }, () => randomBytes(16).toString('hex'));
const puts = keys.map((k) => signed('PutItem', { TableName: 'bench', Item: { pk: { S: k }, data: { S: fill } } }));
async function timed(label: string, pool: WireRequest[]): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let j = 0; j < pool.length; j += 16) await Promise.all(pool.slice(j, j + 16).map(must));
  const c = process.cpuUsage(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  process.stderr.write(`${label}: ${((c.user + c.system) / pool.length).toFixed(1)} µs CPU/op, ${(wall / pool.length).toFixed(1)} µs wall/op over ${pool.length}\n`);
  return (c.user + c.system) / pool.length;
}
// A profiler can attach now, after the pool is built: `perf record -p PID` once this line appears.
process.stderr.write(`pid ${process.pid}: timing starts in 1 s\n`);
await new Promise((r) => setTimeout(r, 1000));
if (STREAM) {
  const streamPuts = keys.map((k) => signed('PutItem', { TableName: 'bench_stream', Item: { pk: { S: k }, data: { S: fill } } }));
  const slice = Math.ceil(N / 16);
  const ratios: string[] = [];
  for (let s = 0; s < 16; s++) {
    const part = (pool: WireRequest[]) => pool.slice(s * slice, (s + 1) * slice);
    const order: Array<[string, WireRequest[]]> = [[`put ${ITEM_BYTES} B, no stream`, part(puts)], [`put ${ITEM_BYTES} B, stream`, part(streamPuts)]];
    if (s % 2) order.reverse();
    const cpu = new Map<string, number>();
    for (const [label, pool] of order) cpu.set(label, await timed(label, pool));
    ratios.push((cpu.get(`put ${ITEM_BYTES} B, no stream`)! / cpu.get(`put ${ITEM_BYTES} B, stream`)!).toFixed(2));
  }
  // The first slice warms the code up (V8 compiles the hot paths): left out of the median.
  const sorted = ratios.slice(1).map(Number).sort((x, y) => x - y);
  process.stderr.write(`CPU ratio no stream / stream per slice: ${ratios.join(' ')}; median after the first ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}\n`);
} else await timed(`put ${ITEM_BYTES} B`, puts);
if (GET) await timed('get', keys.map((k) => signed('GetItem', { TableName: 'bench', Key: { pk: { S: k } } })));
await cellar.close();
rmSync(dir, { recursive: true, force: true });
