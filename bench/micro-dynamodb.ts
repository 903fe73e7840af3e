/**
 * In-process micro-benchmark of the DynamoDB request path without a socket: signs requests the way
 * ../shared/bench/ddb-wrk.mjs does, then times App.handle and each step on its own (authenticate,
 * parse+validate, provider, serialize), in CPU time per call. A tool for finding where the time goes, not a test.
 *
 *   npx tsc -p . && node dist/bench/micro-dynamodb.js [iterations] [--log]
 *
 * --log turns the per-request log line on (as `cellar start` without --quiet does); the lines go to
 * stdout and the timings to stderr, so run it as `... --log | cat > /dev/null` to time writing them to a pipe.
 * --data-dir runs on a fresh data directory (default durability "process"), --fsync with durability "fsync".
 * The put pool holds fresh keys (inserts into a growing table, as ddb-wrk's put does); "put x16" hands
 * App.handle 16 puts at once before awaiting them, as 16 connections do in one event-loop turn.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { startCellar } from '../src/server.js';
import { Scope } from '../src/core/scope.js';
import { amzDateNow, signDynamoDb } from './common.js';
import type { WireRequest } from '../src/protocols/types.js';

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 50_000);
const LOG = process.argv.includes('--log');
const FSYNC = process.argv.includes('--fsync');
const DATA_DIR = FSYNC || process.argv.includes('--data-dir') ? mkdtempSync(join(tmpdir(), 'cellar-micro-')) : undefined;
const HOST = '127.0.0.1:1';

function signed(target: string, payload: unknown, amzDate: string): WireRequest {
  const body = JSON.stringify(payload);
  const headers = Object.fromEntries(signDynamoDb(HOST, target, body, amzDate).map(([n, v]) => [n.toLowerCase(), v]));
  return { method: 'POST', path: '/', query: new URLSearchParams(), headers, body: Buffer.from(body) };
}

const amzDate = amzDateNow();
const cellar = await startCellar(loadConfig(DATA_DIR ? { dataDir: DATA_DIR, durability: FSYNC ? 'fsync' : 'process', port: 0, logRequests: LOG } : { inMemory: true, port: 0, logRequests: LOG }));
process.stderr.write(`${DATA_DIR ? `data directory, durability ${FSYNC ? 'fsync' : 'process'}` : 'in memory'}, ${N} iterations\n`);
const app = cellar.app;
const must = async (req: WireRequest): Promise<void> => {
  const r = await app.handle(req);
  if (r.status !== 200) throw new Error(`${req.headers['x-amz-target']}: ${r.status} ${String(r.body)}`);
};
await must(signed('CreateTable', { TableName: 'bench', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }, amzDate));
await must(signed('CreateTable', { TableName: 'benchq', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }], BillingMode: 'PAY_PER_REQUEST' }, amzDate));
const filler = randomBytes(123).toString('base64');
const keys: string[] = [];
for (let i = 0; i < 2000; i++) {
  keys.push(randomBytes(16).toString('hex'));
  await must(signed('PutItem', { TableName: 'bench', Item: { pk: { S: keys[i] }, data: { S: filler } } }, amzDate));
}
for (let i = 0; i < 100; i++) await must(signed('PutItem', { TableName: 'benchq', Item: { pk: { S: 'p' }, sk: { N: String(i) }, data: { S: filler } } }, amzDate));

const pools: Record<string, WireRequest[]> = {
  get: keys.map((k) => signed('GetItem', { TableName: 'bench', Key: { pk: { S: k } } }, amzDate)),
  put: Array.from({ length: 2 * N + 10000 }, () => signed('PutItem', { TableName: 'bench', Item: { pk: { S: randomBytes(16).toString('hex') }, data: { S: filler } } }, amzDate)),
  query: [signed('Query', { TableName: 'benchq', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'p' } } }, amzDate)],
};

const dynamodb = app.services.find((s) => s.id === 'dynamodb')!;
const provider = dynamodb.provider as unknown as Record<string, (i: unknown, c: unknown) => unknown>;
const auth = (app as unknown as { options: { authenticator: { authenticate(r: WireRequest): Promise<unknown> } } }).options.authenticator;

async function time(label: string, n: number, fn: (i: number) => unknown, batch = 1): Promise<void> {
  const run = async (from: number, count: number): Promise<void> => {
    for (let i = from; i < from + count; i += batch) {
      if (batch === 1) await fn(i);
      else await Promise.all(Array.from({ length: batch }, (_, j) => fn(i + j)));
    }
  };
  const warm = Math.min(n, 5000);
  await run(0, warm);
  // CPU time, not wall time: the machine is shared, and CPU time is what a request costs.
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(warm, n);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const us = (c.user + c.system) / n;
  process.stderr.write(`${label.padEnd(28)} ${us.toFixed(2).padStart(8)} µs CPU ${(wallUs / n).toFixed(2).padStart(8)} µs wall\n`);
}

for (const [w, pool] of Object.entries(pools)) {
  const n = w === 'query' ? Math.ceil(N / 10) : N;
  const op = pool[0]!.headers['x-amz-target']!.split('.')[1]!;
  const opDef = dynamodb.model.operations.get(op)!;
  const ctx = { scope: Scope.ofCaller('000000000000', 'us-east-1'), requestId: 'x', accessKeyId: 'test', callerArn: '', service: 'dynamodb', operation: op, clock: cellar.clock };
  const method = op.charAt(0).toLowerCase() + op.slice(1);
  if (w === 'put') {
    // Distinct fresh keys for each of the two App.handle runs: the second half of the pool for x16.
    const half = Math.floor(pool.length / 2);
    await time(`${w}: App.handle`, Math.min(n, half - 5000), (i) => must(pool[i % half]!));
    await time(`${w} x16: App.handle`, Math.min(n, half - 5000) - (Math.min(n, half - 5000) % 16), (i) => must(pool[half + (i % half)]!), 16);
  } else await time(`${w}: App.handle`, n, (i) => app.handle(pool[i % pool.length]!));
  await time(`${w}:   authenticate`, n, (i) => auth.authenticate(pool[i % pool.length]!));
  await time(`${w}:   parse+validate`, n, (i) => dynamodb.protocol.parseInput(pool[i % pool.length]!, dynamodb.model, opDef));
  const inputs = pool.map((r) => dynamodb.protocol.parseInput(r, dynamodb.model, opDef));
  await time(`${w}:   JSON.parse only`, n, (i) => JSON.parse(pool[i % pool.length]!.body.toString('utf8')));
  await time(`${w}:   provider`, n, (i) => provider[method]!.call(provider, structuredClone(inputs[i % inputs.length]), ctx));
  await time(`${w}:   (structuredClone)`, n, (i) => structuredClone(inputs[i % inputs.length]));
  const out = provider[method]!.call(provider, structuredClone(inputs[0]), ctx);
  await time(`${w}:   serialize`, n, () => dynamodb.protocol.serializeOutput(dynamodb.model, opDef, out, 'req'));
}
await cellar.close();
if (DATA_DIR) rmSync(DATA_DIR, { recursive: true, force: true });
