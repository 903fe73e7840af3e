#!/usr/bin/env node
// A verbatim copy of the neutral generator shared/bench/ddb-wrk.mjs (only these two lines added), kept in the
// repository so that bench/dynamodb-ratios.ts needs nothing outside it. Do not change how it measures.
// ddb-wrk.mjs — high-efficiency load generator for DynamoDB-API-compatible HTTP servers.
// Same table setup, data and output line as ddb-bench.mjs, but the timed phase is driven by wrk
// (C, epoll, LuaJIT) instead of Node, so the generator costs a fraction of the CPU per request.
// Node.js >= 20, ESM, zero npm dependencies. Needs `wrk` (Debian: apt-get install -y wrk, 4.1.0)
// and, for --cpus-client, `taskset` (util-linux).
//
// Usage:
//   node ddb-wrk.mjs --endpoint http://127.0.0.1:8000 --workload put|get|query|mixed
//        [--connections 16] [--seconds 10] [--threads 1] [--pool 20000]
//        [--cpus-client LIST] [--cpus-server LIST] [--server-pid PID] [--timeout T] [--keep] [--verify]
//
// How it works:
//   1. CreateTable (PAY_PER_REQUEST), wait ACTIVE; get/mixed load 10,000 items, query loads one
//      100-item partition (BatchWriteItem, 25 per batch) — exactly as ddb-bench.mjs.
//   2. Pre-generates a pool of distinct, fully SigV4-signed raw HTTP requests with one fixed
//      X-Amz-Date (servers accept 15 min of skew, so a run must start within ~15 min and the
//      whole run should stay under that): get = --pool GetItems of random loaded keys; put =
//      --pool PutItems of distinct random keys (cycled: after --pool ops, puts overwrite items);
//      mixed = --pool entries, each a get or a put with p = 0.5; query = the one Query request.
//   3. Correctness probe: sends the first pool request(s) byte for byte over a raw socket and
//      checks the answer (GetItem returns the loaded item's pk; a pooled PutItem's pk is then
//      returned by a GetItem (pk only, as ddb-bench checks, so the stateless ceiling.mjs passes);
//      Query returns 100 items). A failed probe aborts the run (exit 1).
//   4. Runs `[taskset -c LIST] wrk -t T -c N -d Ss --timeout Xs --latency -s gen.lua ENDPOINT`.
//      The Lua script loads the pool in init() and request() returns the next entry; no
//      response() callback (that would make wrk parse every header into Lua).
//   5. Deletes the table and prints ONE JSON line on stdout:
//        {workload, connections, seconds, ops, opsPerSec, p50Ms, p99Ms, errors, generator:"wrk",
//         threads, pool, wrkCpuS, serverCpuS, otherCpuS, p99CorrectedMs, rawLatency}
//      ops = responses with status < 400 in the timed phase (wrk counts >399 as status errors).
//      errors = status>399 + socket connect/read/write errors + responses slower than --timeout.
//      p50Ms/p99Ms are over ALL completed responses (wrk can't split by status), in the same raw
//      sense as ddb-bench: wrk 4.1 applies a coordinated-omission "correction" to its histogram
//      before reporting; done() undoes it exactly (rawLatency:true). p99CorrectedMs is wrk's own
//      corrected p99, for reference. If undoing fails or takes too long, p50/p99 are wrk's
//      corrected values and rawLatency is false.
//      wrkCpuS = CPU seconds wrk used during its timed run (os.clock delta inside wrk).
//      serverCpuS = CPU seconds of the server process over the wrk run (found by the listening
//      port on a loopback endpoint, or --server-pid); otherCpuS = machine busy CPU over the same
//      window minus wrk, server and this script: contention from anything else. null if unknown.
//   --verify (diagnostic, slows wrk down): adds a Lua response() that counts responses that are
//   200 and, for get/query, contain '"Item"' / '"Count":100'; adds verifiedOk/verifiedBad.
//   --keep leaves the pool and the Lua script in the temp dir.
//   --cpus-client pins wrk with taskset. --cpus-server is not applied (start the server under
//   `taskset -c LIST` yourself); it is checked against the server's actual affinity and
//   against --cpus-client (a warning on stderr if they overlap or differ).
// Diagnostics (incl. wrk's own summary) go to stderr. Exit: 0 ran (read `errors`), 1 setup/probe/
// wrk failed, 2 usage, 3 watchdog (default --timeout seconds + 180).

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import pathMod from 'node:path';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

// ---------- arguments ----------
function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument: ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) { out[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const key = a.slice(2);
    if (key === 'help' || key === 'keep' || key === 'verify') { out[key] = true; continue; }
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`missing value for --${key}`);
    out[key] = v; i++;
  }
  return out;
}

const USAGE = 'usage: node ddb-wrk.mjs --endpoint URL --workload put|get|query|mixed ' +
  '[--connections N=16] [--seconds S=10] [--threads T=1] [--pool P=20000] ' +
  '[--cpus-client LIST] [--cpus-server LIST] [--server-pid PID] [--timeout T=S+180] [--keep] [--verify]';

let args;
try { args = parseArgs(process.argv.slice(2)); } catch (e) { console.error(e.message); console.error(USAGE); process.exit(2); }
if (args.help) { console.log(USAGE); process.exit(0); }

const WORKLOADS = new Set(['put', 'get', 'query', 'mixed']);
const KNOWN = new Set(['endpoint', 'workload', 'connections', 'seconds', 'threads', 'pool', 'cpus-client',
  'cpus-server', 'server-pid', 'timeout', 'keep', 'verify', 'wrk']);
for (const k of Object.keys(args)) if (!KNOWN.has(k)) { console.error(`unknown option --${k}`); console.error(USAGE); process.exit(2); }
const endpoint = args.endpoint;
const workload = args.workload;
const connections = Number(args.connections ?? 16);
const seconds = Number(args.seconds ?? 10);
const threads = Number(args.threads ?? 1);
const poolSize = workload === 'query' ? 1 : Number(args.pool ?? 20_000);
const hardTimeoutS = Number(args.timeout ?? seconds + 180);
const cpusClient = args['cpus-client'];
const cpusServer = args['cpus-server'];
const serverPidArg = args['server-pid'] !== undefined ? Number(args['server-pid']) : null;
const WRK = args.wrk ?? 'wrk';
const isInt = (x) => Number.isInteger(x) && x >= 1;
if (!endpoint || !WORKLOADS.has(workload) || !isInt(connections) || !isInt(seconds) || !isInt(threads) ||
    threads > connections || !isInt(poolSize) || !(hardTimeoutS > 0) ||
    (serverPidArg !== null && !isInt(serverPidArg))) {
  console.error(USAGE);
  console.error('(--seconds must be a whole number for wrk; --threads <= --connections)');
  process.exit(2);
}
if (seconds > 600) console.error('ddb-wrk: warning: the pool is signed once; runs longer than ~15 min fail SigV4 skew checks');

const REQUEST_TIMEOUT_MS = 10_000;   // per request, setup and wrk (--timeout)
const TABLE_WAIT_MS = 60_000;
const LOAD_ITEMS = 10_000;
const QUERY_ITEMS = 100;

let wrkChild = null;
const watchdog = setTimeout(() => {
  console.error(`ddb-wrk: watchdog fired after ${hardTimeoutS}s, exiting`);
  if (wrkChild && wrkChild.exitCode === null) { try { wrkChild.kill('SIGKILL'); } catch {} }
  process.exit(3);
}, hardTimeoutS * 1000);
watchdog.unref();

// ---------- HTTP + SigV4 (same signing as ddb-bench.mjs, with an optional fixed date) ----------
const url = new URL(endpoint);
const isHttps = url.protocol === 'https:';
const transport = isHttps ? https : http;
const agent = new transport.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
const hostHeader = url.host;
const path = url.pathname && url.pathname !== '' ? url.pathname : '/';
const port = Number(url.port || (isHttps ? 443 : 80));

const ACCESS_KEY = 'test', SECRET_KEY = 'test', REGION = 'us-east-1', SERVICE = 'dynamodb';
const sha256hex = (s) => crypto.createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key, s) => crypto.createHmac('sha256', key).update(s, 'utf8').digest();

let cachedDay = '', cachedSigningKey = null;
function signingKey(day) {
  if (day !== cachedDay) {
    const kDate = hmac('AWS4' + SECRET_KEY, day);
    const kRegion = hmac(kDate, REGION);
    const kService = hmac(kRegion, SERVICE);
    cachedSigningKey = hmac(kService, 'aws4_request');
    cachedDay = day;
  }
  return cachedSigningKey;
}
const nowAmzDate = () => new Date().toISOString().replace(/[:-]|\.\d{3}/g, ''); // YYYYMMDDTHHMMSSZ

// Returns headers as [name, value] pairs in a fixed order (used for node:http and raw requests).
function signedHeaderList(target, body, amzDate = nowAmzDate()) {
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256hex(body);
  const contentType = 'application/x-amz-json-1.0';
  const amzTarget = `DynamoDB_20120810.${target}`;
  const canonicalHeaders =
    `content-type:${contentType}\n` +
    `host:${hostHeader}\n` +
    `x-amz-content-sha256:${payloadHash}\n` +
    `x-amz-date:${amzDate}\n` +
    `x-amz-target:${amzTarget}\n`;
  const signed = 'content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target';
  const canonicalRequest = `POST\n${path}\n\n${canonicalHeaders}\n${signed}\n${payloadHash}`;
  const scope = `${day}/${REGION}/${SERVICE}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256hex(canonicalRequest)}`;
  const signature = crypto.createHmac('sha256', signingKey(day)).update(stringToSign, 'utf8').digest('hex');
  return [
    ['Host', hostHeader],
    ['Content-Type', contentType],
    ['X-Amz-Content-Sha256', payloadHash],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Target', amzTarget],
    ['Authorization', `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${scope}, SignedHeaders=${signed}, Signature=${signature}`],
    ['Content-Length', String(Buffer.byteLength(body))],
  ];
}

function ddb(target, payload) {
  const body = JSON.stringify(payload);
  const headers = Object.fromEntries(signedHeaderList(target, body));
  return new Promise((resolve) => {
    let done = false;
    const finish = (status, text) => { if (!done) { done = true; resolve({ status, body: text }); } };
    const req = transport.request({
      protocol: url.protocol, hostname: url.hostname, port, method: 'POST', path, headers, agent,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish(res.statusCode, Buffer.concat(chunks).toString('utf8')));
      res.on('error', (e) => finish(0, `response error: ${e.message}`));
      res.on('aborted', () => finish(0, 'response aborted'));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`request timeout after ${REQUEST_TIMEOUT_MS}ms`)));
    req.on('error', (e) => finish(0, `transport error: ${e.message}`));
    req.end(body);
  });
}

async function ddbOk(target, payload) {
  const r = await ddb(target, payload);
  if (r.status !== 200) throw new Error(`${target} failed: HTTP ${r.status} ${r.body.slice(0, 500)}`);
  return JSON.parse(r.body);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Sends one raw HTTP/1.1 request string on a fresh connection; resolves {status, body}.
function rawExchange(raw) {
  return new Promise((resolve, reject) => {
    const sock = isHttps
      ? tls.connect({ host: url.hostname, port, servername: url.hostname })
      : net.connect({ host: url.hostname, port });
    let buf = Buffer.alloc(0);
    const fail = (e) => { sock.destroy(); reject(e); };
    const timer = setTimeout(() => fail(new Error('probe timeout')), REQUEST_TIMEOUT_MS);
    const tryParse = (ended) => {
      const he = buf.indexOf('\r\n\r\n');
      if (he < 0) { if (ended) fail(new Error('probe: connection closed before headers')); return; }
      const head = buf.subarray(0, he).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
      if (!m) return fail(new Error(`probe: bad status line ${head[0]}`));
      const hdr = {};
      for (const line of head.slice(1)) { const i = line.indexOf(':'); hdr[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim(); }
      let rest = buf.subarray(he + 4);
      let body = null;
      if (hdr['content-length'] !== undefined) {
        const n = Number(hdr['content-length']);
        if (rest.length >= n) body = rest.subarray(0, n);
      } else if (/chunked/i.test(hdr['transfer-encoding'] || '')) {
        const parts = [];
        for (;;) {
          const le = rest.indexOf('\r\n');
          if (le < 0) break;
          const n = parseInt(rest.subarray(0, le).toString('latin1'), 16);
          if (rest.length < le + 2 + n + 2) break;
          if (n === 0) { body = Buffer.concat(parts); break; }
          parts.push(rest.subarray(le + 2, le + 2 + n));
          rest = rest.subarray(le + 2 + n + 2);
        }
      } else if (ended) body = rest;
      if (body !== null) { clearTimeout(timer); sock.destroy(); resolve({ status: Number(m[1]), body: body.toString('utf8') }); }
      else if (ended) fail(new Error('probe: connection closed mid-body'));
    };
    sock.on('data', (c) => { buf = Buffer.concat([buf, c]); tryParse(false); });
    sock.on('end', () => tryParse(true));
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.write(raw);
  });
}

// ---------- data (as ddb-bench.mjs) ----------
const randKey = () => crypto.randomBytes(16).toString('hex');
const FILLER = Array.from({ length: 64 }, () => crypto.randomBytes(123).toString('base64'));
const filler = () => FILLER[(Math.random() * FILLER.length) | 0];
const putItem = (pk) => ({ pk: { S: pk }, data: { S: filler() } });
const queryItem = (pk, sk) => ({ pk: { S: pk }, sk: { N: String(sk) }, data: { S: filler() } });

// ---------- table lifecycle (as ddb-bench.mjs) ----------
const tableName = `ddbwrk_${workload}_${Date.now().toString(36)}_${crypto.randomBytes(3).toString('hex')}`;
let tableCreated = false;

async function createTable() {
  const keySchema = [{ AttributeName: 'pk', KeyType: 'HASH' }];
  const attrs = [{ AttributeName: 'pk', AttributeType: 'S' }];
  if (workload === 'query') {
    keySchema.push({ AttributeName: 'sk', KeyType: 'RANGE' });
    attrs.push({ AttributeName: 'sk', AttributeType: 'N' });
  }
  await ddbOk('CreateTable', {
    TableName: tableName, KeySchema: keySchema, AttributeDefinitions: attrs, BillingMode: 'PAY_PER_REQUEST',
  });
  tableCreated = true;
  const deadline = Date.now() + TABLE_WAIT_MS;
  while (Date.now() < deadline) {
    const d = await ddbOk('DescribeTable', { TableName: tableName });
    if (d.Table && d.Table.TableStatus === 'ACTIVE') return;
    await sleep(100);
  }
  throw new Error(`table ${tableName} not ACTIVE after ${TABLE_WAIT_MS}ms`);
}

async function deleteTable() {
  if (!tableCreated) return;
  const r = await ddb('DeleteTable', { TableName: tableName });
  if (r.status !== 200) console.error(`ddb-wrk: DeleteTable failed: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  else tableCreated = false;
}

async function batchLoad(items) {
  const batches = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let requests = batches[next++].map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt >= 20) throw new Error('BatchWriteItem: UnprocessedItems not drained after 20 attempts');
        if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt));
        const res = await ddbOk('BatchWriteItem', { RequestItems: { [tableName]: requests } });
        requests = (res.UnprocessedItems && res.UnprocessedItems[tableName]) || [];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(connections, batches.length) }, worker));
}

let loadedKeys = [];
let queryPk = '';
async function loadPhase() {
  if (workload === 'get' || workload === 'mixed') {
    loadedKeys = Array.from({ length: LOAD_ITEMS }, randKey);
    await batchLoad(loadedKeys.map(putItem));
  } else if (workload === 'query') {
    queryPk = randKey();
    await batchLoad(Array.from({ length: QUERY_ITEMS }, (_, i) => queryItem(queryPk, i)));
  }
}

// ---------- request pool ----------
function rawRequest(target, payload, amzDate) {
  const body = JSON.stringify(payload);
  const hdrs = signedHeaderList(target, body, amzDate);
  return `POST ${path} HTTP/1.1\r\n` + hdrs.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n' + body;
}
function buildPool(amzDate) {
  const entries = []; // {kind, pk, item, raw}
  const get = () => {
    const pk = loadedKeys[(Math.random() * loadedKeys.length) | 0];
    return { kind: 'get', pk, raw: rawRequest('GetItem', { TableName: tableName, Key: { pk: { S: pk } } }, amzDate) };
  };
  const put = () => {
    const item = putItem(randKey());
    return { kind: 'put', pk: item.pk.S, item, raw: rawRequest('PutItem', { TableName: tableName, Item: item }, amzDate) };
  };
  const query = () => ({ kind: 'query', raw: rawRequest('Query', {
    TableName: tableName,
    KeyConditionExpression: '#p = :p',
    ExpressionAttributeNames: { '#p': 'pk' },
    ExpressionAttributeValues: { ':p': { S: queryPk } },
  }, amzDate) });
  const make = { get, put, query, mixed: () => (Math.random() < 0.5 ? get() : put()) }[workload];
  for (let i = 0; i < poolSize; i++) entries.push(make());
  return entries;
}

async function probe(entries) {
  const check = async (e) => {
    const r = await rawExchange(e.raw);
    if (r.status !== 200) throw new Error(`probe ${e.kind}: HTTP ${r.status} ${r.body.slice(0, 500)}`);
    if (e.kind === 'get') {
      const item = JSON.parse(r.body).Item;
      if (!item || !item.pk || item.pk.S !== e.pk) throw new Error(`probe GetItem did not return the loaded item ${e.pk}: ${r.body.slice(0, 300)}`);
    } else if (e.kind === 'put') {
      const g = await ddbOk('GetItem', { TableName: tableName, Key: { pk: { S: e.pk } } });
      if (!g.Item || !g.Item.pk || g.Item.pk.S !== e.pk)
        throw new Error(`probe: item written by the pooled PutItem not returned by GetItem: ${JSON.stringify(g).slice(0, 300)}`);
    } else {
      const q = JSON.parse(r.body);
      if (q.Count !== QUERY_ITEMS || !Array.isArray(q.Items) || q.Items.length !== QUERY_ITEMS || q.LastEvaluatedKey)
        throw new Error(`probe Query returned Count=${q.Count} Items=${q.Items && q.Items.length} LastEvaluatedKey=${JSON.stringify(q.LastEvaluatedKey)}`);
    }
  };
  const kinds = new Set();
  for (const e of entries) if (!kinds.has(e.kind)) { kinds.add(e.kind); await check(e); }
}

// ---------- wrk script ----------
const luaStr = (s) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
function luaScript(poolFile, indexFile) {
  return `-- generated by ddb-wrk.mjs: cycles through a pool of pre-signed raw requests
local POOL_FILE, INDEX_FILE, NTHREADS, CONNECTIONS = ${luaStr(poolFile)}, ${luaStr(indexFile)}, ${threads}, ${connections}
local reqs, n, i = {}, 0, 0
local all_threads, tcount = {}, 0

function setup(thread)
  thread:set("tid", tcount)
  tcount = tcount + 1
  all_threads[#all_threads + 1] = thread
end

function init(args)
  local f = assert(io.open(POOL_FILE, "rb"))
  local blob = f:read("*a")
  f:close()
  local pos = 1
  for line in io.lines(INDEX_FILE) do
    local len = tonumber(line)
    n = n + 1
    reqs[n] = string.sub(blob, pos, pos + len - 1)
    pos = pos + len
  end
  blob = nil
  i = math.floor((tid or 0) * n / NTHREADS)
  cpu_ready = os.clock()
end

${args.verify ? `ok200, bad = 0, 0
local CHECK = ${workload === 'get' ? luaStr('"Item"') : workload === 'query' ? luaStr('"Count":100') : 'nil'}
function response(status, headers, body)
  if status == 200 and (CHECK == nil or string.find(body, CHECK, 1, true)) then ok200 = ok200 + 1 else bad = bad + 1 end
end
` : ''}function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

-- wrk 4.1 ran stats_correct(latency, e) (coordinated-omission correction) before done(), with
-- e = floor(duration / floor(requests / connections)). For m > e it made D'[m] = sum_{j>=0} D[m+j*e],
-- so the raw histogram is D[m] = D'[m] - D'[m+e] (m > e), D[m] = D'[m] (m <= e).
function done(summary, latency, requests)
  local cpu_end = os.clock()
  local cpu0 = 0
  for _, t in ipairs(all_threads) do
    local c = t:get("cpu_ready")
    if c and c > cpu0 then cpu0 = c end
  end
  local per = math.floor(summary.requests / CONNECTIONS)
  local e = per > 0 and math.floor(summary.duration / per) or 0
  local vals, cnts, byval, nd = {}, {}, {}, 0
  local raw_ok = true
  local t0 = os.clock()
  local distinct = #latency
  for k = 1, distinct do
    local v, c = latency(k)
    nd = nd + 1
    vals[nd], cnts[nd], byval[v] = v, c, c
    if k % 64 == 0 and os.clock() - t0 > 5 then raw_ok = false break end
  end
  local total = 0
  local raw = {}
  if raw_ok then
    for k = 1, nd do
      local v, c = vals[k], cnts[k]
      local r = c
      if e > 0 and v > e then r = c - (byval[v + e] or 0) end
      if r < 0 then raw_ok = false break end
      raw[k] = r
      total = total + r
    end
  end
  local function pct(p)
    local rank = math.ceil(p * total)
    if rank < 1 then rank = 1 end
    local acc = 0
    for k = 1, nd do
      acc = acc + raw[k]
      if acc >= rank then return vals[k] end
    end
    return 0
  end
  local p50, p99 = -1, -1
  if raw_ok and total > 0 then p50, p99 = pct(0.50), pct(0.99) end
  local vok, vbad = 0, 0
  for _, t in ipairs(all_threads) do vok = vok + (t:get("ok200") or 0); vbad = vbad + (t:get("bad") or 0) end
  local er = summary.errors
  io.write(string.format('DDBWRK_RESULT {"duration_us":%.0f,"requests":%.0f,"bytes":%.0f,' ..
    '"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,' ..
    '"raw_ok":%s,"raw_count":%.0f,"p50_us":%.0f,"p99_us":%.0f,"p50c_us":%.0f,"p99c_us":%.0f,' ..
    '"e_us":%.0f,"distinct":%.0f,"cpu_run_s":%.4f,"cpu_total_s":%.4f,"undo_s":%.4f,"vok":%.0f,"vbad":%.0f}\\n',
    summary.duration, summary.requests, summary.bytes,
    er.connect, er.read, er.write, er.status, er.timeout,
    tostring(raw_ok), total, p50, p99, latency:percentile(50), latency:percentile(99),
    e, distinct, cpu_end - cpu0, cpu_end, os.clock() - cpu_end, vok, vbad))
end
`;
}

// ---------- CPU accounting from /proc ----------
const readProcStatBusy = () => {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);   // user..steal
    return total - f[3] - f[4];                                 // minus idle, iowait
  } catch { return null; }
};
const readPidCpu = (pid, withChildren = false) => {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] = field 3 (state); utime=14, stime=15, cutime=16, cstime=17 -> f[11..14]
    return Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  } catch { return null; }
};
const HZ = 100; // USER_HZ on Linux
function findListenerPid(p) {
  if (!['127.0.0.1', 'localhost', '[::1]', '::1', '0.0.0.0'].includes(url.hostname)) return null;
  const hexPort = p.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines = [];
    try { lines = fs.readFileSync(f, 'utf8').split('\n').slice(1); } catch { continue; }
    for (const l of lines) {
      const c = l.trim().split(/\s+/);
      if (c.length > 9 && c[3] === '0A' && c[1].endsWith(':' + hexPort)) inodes.add(`socket:[${c[9]}]`);
    }
  }
  if (!inodes.size) return null;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    let fds;
    try { fds = fs.readdirSync(`/proc/${d}/fd`); } catch { continue; }
    for (const fd of fds) {
      try { if (inodes.has(fs.readlinkSync(`/proc/${d}/fd/${fd}`))) return Number(d); } catch {}
    }
  }
  return null;
}
const affinityOf = (pid) => {
  try { return /Cpus_allowed_list:\s*(\S+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]; } catch { return null; }
};
const expandCpus = (list) => {
  const s = new Set();
  for (const part of String(list).split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) s.add(c);
  }
  return s;
};

// ---------- run wrk ----------
function runWrk(scriptFile) {
  const wrkArgs = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`,
    '--timeout', `${REQUEST_TIMEOUT_MS / 1000}s`, '--latency', '-s', scriptFile, url.href];
  const [cmd, argv] = cpusClient ? ['taskset', ['-c', cpusClient, WRK, ...wrkArgs]] : [WRK, wrkArgs];
  console.error(`ddb-wrk: ${cmd} ${argv.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    wrkChild = child;
    let out = '', err = '';
    child.stdout.on('data', (c) => { out += c; });
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', (e) => reject(new Error(`cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code, sig) => {
      wrkChild = null;
      const human = out.split('\n').filter((l) => !l.startsWith('DDBWRK_RESULT ')).join('\n').trimEnd();
      if (human) console.error(human.replace(/^/gm, 'wrk| '));
      if (err.trim()) console.error(err.trimEnd().replace(/^/gm, 'wrk stderr| '));
      const line = out.split('\n').find((l) => l.startsWith('DDBWRK_RESULT '));
      if (!line) return reject(new Error(`wrk exited ${code ?? sig} without a result`));
      resolve(JSON.parse(line.slice('DDBWRK_RESULT '.length)));
    });
  });
}

// ---------- main ----------
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`ddb-wrk: ${sig}, stopping and cleaning up`);
    if (wrkChild) { try { wrkChild.kill('SIGINT'); } catch {} }
  });
}

let exitCode = 0;
let tmpDir = null;
try {
  await createTable();
  if (stopping) throw new Error('interrupted');
  const tl = performance.now();
  await loadPhase();
  if (workload !== 'put') console.error(`ddb-wrk: load phase ${((performance.now() - tl) / 1000).toFixed(2)}s`);
  if (stopping) throw new Error('interrupted');

  const tp = performance.now();
  const amzDate = nowAmzDate();
  const entries = buildPool(amzDate);
  tmpDir = fs.mkdtempSync(pathMod.join(os.tmpdir(), 'ddb-wrk-'));
  const poolFile = pathMod.join(tmpDir, 'pool.bin');
  const indexFile = pathMod.join(tmpDir, 'pool.idx');
  const scriptFile = pathMod.join(tmpDir, 'gen.lua');
  const bufs = entries.map((e) => Buffer.from(e.raw, 'utf8'));
  fs.writeFileSync(poolFile, Buffer.concat(bufs));
  fs.writeFileSync(indexFile, bufs.map((b) => b.length).join('\n') + '\n');
  fs.writeFileSync(scriptFile, luaScript(poolFile, indexFile));
  console.error(`ddb-wrk: pool of ${entries.length} signed requests (X-Amz-Date ${amzDate}), ` +
    `${(fs.statSync(poolFile).size / 1e6).toFixed(1)} MB, built in ${((performance.now() - tp) / 1000).toFixed(2)}s` +
    (args.keep ? `, kept in ${tmpDir}` : ''));

  await probe(entries);
  console.error('ddb-wrk: probe ok');
  if (stopping) throw new Error('interrupted');

  // CPU accounting
  const serverPid = serverPidArg ?? findListenerPid(port);
  if (serverPid) {
    const aff = affinityOf(serverPid);
    console.error(`ddb-wrk: server pid ${serverPid}, affinity ${aff}`);
    if (cpusServer && aff && [...expandCpus(cpusServer)].sort().join() !== [...expandCpus(aff)].sort().join())
      console.error(`ddb-wrk: warning: --cpus-server ${cpusServer} but the server's affinity is ${aff}`);
  } else console.error('ddb-wrk: server pid not found; serverCpuS/otherCpuS will be null');
  if (cpusClient && (cpusServer || serverPid)) {
    const srv = expandCpus(cpusServer ?? affinityOf(serverPid) ?? '');
    if ([...expandCpus(cpusClient)].some((c) => srv.has(c))) console.error('ddb-wrk: warning: client and server CPUs overlap');
  }
  const busy0 = readProcStatBusy(), srv0 = serverPid ? readPidCpu(serverPid) : null, self0 = readPidCpu(process.pid, true);
  const w = await runWrk(scriptFile);
  const busy1 = readProcStatBusy(), srv1 = serverPid ? readPidCpu(serverPid) : null;
  const self1 = readPidCpu(process.pid, true);   // includes the reaped wrk (cutime/cstime)

  console.error(`ddb-wrk: wrk result ${JSON.stringify(w)}`);
  const durS = w.duration_us / 1e6;
  const ops = w.requests - w.status;
  const errors = w.status + w.connect + w.read + w.write + w.timeout;
  const ms = (us) => (us < 0 ? null : Math.round(us) / 1000);
  const serverCpuS = srv0 !== null && srv1 !== null ? (srv1 - srv0) / HZ : null;
  const machineS = busy0 !== null && busy1 !== null ? (busy1 - busy0) / HZ : null;
  // self1 - self0 = this script + wrk over the window (wrk was reaped before self1 was read).
  const selfAndWrkS = self0 !== null && self1 !== null ? (self1 - self0) / HZ : null;
  const otherCpuS = machineS !== null && serverCpuS !== null && selfAndWrkS !== null
    ? Math.round((machineS - serverCpuS - selfAndWrkS) * 100) / 100 : null;
  if (!w.raw_ok) console.error('ddb-wrk: warning: could not undo wrk\'s latency correction; p50/p99 are wrk\'s corrected values');
  if (w.raw_ok && w.raw_count !== w.requests) console.error(`ddb-wrk: note: latency samples ${w.raw_count} != responses ${w.requests} (responses over --timeout are not sampled)`);
  if (errors > 0) console.error(`ddb-wrk: errors: status>399 ${w.status}, connect ${w.connect}, read ${w.read}, write ${w.write}, timeout ${w.timeout}`);
  const result = {
    workload, connections, seconds,
    ops,
    opsPerSec: Math.round((ops / durS) * 10) / 10,
    p50Ms: w.raw_ok ? ms(w.p50_us) : ms(w.p50c_us),
    p99Ms: w.raw_ok ? ms(w.p99_us) : ms(w.p99c_us),
    errors,
    generator: 'wrk',
    threads, pool: entries.length,
    wrkCpuS: Math.round(w.cpu_run_s * 100) / 100,
    serverCpuS: serverCpuS === null ? null : Math.round(serverCpuS * 100) / 100,
    otherCpuS,
    p99CorrectedMs: ms(w.p99c_us),
    rawLatency: w.raw_ok,
  };
  if (args.verify) { result.verifiedOk = w.vok; result.verifiedBad = w.vbad; }
  process.stdout.write(JSON.stringify(result) + '\n');
} catch (e) {
  console.error(`ddb-wrk: ${e && e.message}`);
  exitCode = 1;
} finally {
  try { await deleteTable(); } catch (e) { console.error(`ddb-wrk: cleanup: ${e && e.message}`); }
  agent.destroy();
  if (tmpDir && !args.keep) { try { fs.rmSync(tmpDir, { recursive: true, force: true }); } catch {} }
}
process.exitCode = exitCode;
