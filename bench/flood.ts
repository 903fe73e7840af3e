/**
 * A flood of large request bodies against a real Cellar, measuring its resident memory: what an unauthenticated
 * (or badly signed) client can make the server hold, and whether the memory is given back afterwards.
 *
 * For each phase a fresh `cellar start --in-memory --quiet` is started and warmed with a few signed requests; its
 * RSS (VmRSS from /proc/<pid>/status) is the starting figure. Then `--connections` sockets are opened at once, each
 * sending one POST with a `--body-mb` Content-Length body, quickly (as fast as the socket takes it) or slowly
 * (64 KiB every 500 ms), until the server answers or closes, or the phase's time runs out. RSS is sampled every
 * 50 ms; after every connection has finished, the server is left alone for `--settle-s` seconds and its RSS read
 * again. Last, one signed request checks that the server still serves.
 *
 * Phases (`--phases`, comma-separated; all by default):
 *   unsigned-fast, unsigned-slow: no signature at all, X-Amz-Target DynamoDB PutItem;
 *   malformed-fast: an Authorization header whose Signature is not hex (can be refused from the head alone);
 *   badsig-fast, badsig-slow: a well-formed signature by the known key `test` that is wrong (only the body's hash
 *     shows it wrong, so the body must be read: the body budget is what bounds these).
 *
 *   npm run build && node dist/bench/flood.js [--connections 2000] [--body-mb 20] [--phases …] [--settle-s 10]
 *       [--phase-s 60] [--rss-cap-mb 3000] [--config FILE]
 *
 * `--rss-cap-mb` kills the server if it grows past that (a server without bounds would otherwise take the machine);
 * the phase then reports `killed at cap`. This is a measurement, not a test: it asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { amzDateNow, signDynamoDb } from './common.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
function option(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}
const CONNECTIONS = Number(option('connections', '2000'));
const BODY_BYTES = Math.round(Number(option('body-mb', '20')) * 1024 * 1024);
const SETTLE_MS = Number(option('settle-s', '10')) * 1000;
const PHASE_MS = Number(option('phase-s', '60')) * 1000;
const RSS_CAP_BYTES = Number(option('rss-cap-mb', '3000')) * 1024 * 1024;
const CONFIG = option('config', '');
const ALL_PHASES = ['unsigned-fast', 'unsigned-slow', 'malformed-fast', 'badsig-fast', 'badsig-slow'] as const;
type Phase = (typeof ALL_PHASES)[number];
const PHASES = option('phases', ALL_PHASES.join(',')).split(',') as Phase[];
for (const p of PHASES) if (!ALL_PHASES.includes(p)) throw new Error(`unknown phase ${p}; phases: ${ALL_PHASES.join(', ')}`);
/** Connections opened per event-loop turn: all at once would overflow the listen backlog, which is not what is measured. */
const OPEN_PER_TURN = 100;
const SLOW_SLICE_BYTES = 64 * 1024;
const SLOW_INTERVAL_MS = 500;
const FAST_SLICE = Buffer.alloc(256 * 1024, 0x61);
const SAMPLE_MS = 50;
const MiB = 1024 * 1024;

interface Server {
  proc: ChildProcess;
  port: number;
  exited: Promise<void>;
}

async function startServer(): Promise<Server> {
  const proc = spawn(process.execPath, [join(REPO, 'bin', 'cellar.js'), 'start', '--in-memory', '--quiet', '--port', '0', ...(CONFIG ? ['--config', CONFIG] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const port = await new Promise<number>((resolvePort, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`cellar did not start: ${text}`)), 20_000);
    proc.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /serving AWS APIs at http:\/\/[^:]+:(\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.once('exit', (code) => reject(new Error(`cellar exited with ${code}: ${text}`)));
  });
  return { proc, port, exited };
}

function memory(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** One signed request over its own connection: the status it got (0 if none). */
function signedCall(port: number, target: string, body: string): Promise<number> {
  return new Promise((resolveStatus) => {
    const headers = signDynamoDb(`127.0.0.1:${port}`, target, body);
    const socket = net.connect(port, '127.0.0.1');
    let raw = '';
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('connect', () => socket.write(`POST / HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}Connection: close\r\n\r\n${body}`));
    socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolveStatus(Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0));
    });
  });
}

function head(phase: Phase, port: number): string {
  const host = `127.0.0.1:${port}`;
  const lines = [`POST / HTTP/1.1`, `Host: ${host}`, 'Content-Type: application/x-amz-json-1.0', 'X-Amz-Target: DynamoDB_20120810.PutItem', `Content-Length: ${BODY_BYTES}`];
  if (phase.startsWith('malformed') || phase.startsWith('badsig')) {
    const amzDate = amzDateNow();
    const signature = phase.startsWith('malformed') ? 'not-hex' : 'ab'.repeat(32);
    lines.push(`X-Amz-Date: ${amzDate}`, `Authorization: AWS4-HMAC-SHA256 Credential=test/${amzDate.slice(0, 8)}/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${signature}`);
  }
  return lines.join('\r\n') + '\r\n\r\n';
}

interface Outcome {
  /** "200", "400", …, or how the connection ended without an answer. */
  result: string;
}

/** One flooding connection: sends the head, then the body (fast or slow) until answered, closed or stopped. */
function floodOne(port: number, phase: Phase, stopAt: number): Promise<Outcome> {
  return new Promise((resolveOutcome) => {
    const socket = net.connect(port, '127.0.0.1');
    let sent = 0;
    let answered: string | undefined;
    let firstBytes = '';
    let error: string | undefined;
    let slowTimer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      error ??= 'unfinished at phase end';
      socket.destroy();
    }, Math.max(0, stopAt - Date.now()));
    const finish = () => {
      clearTimeout(deadline);
      if (slowTimer) clearInterval(slowTimer);
      resolveOutcome({ result: answered ?? error ?? 'closed without answer' });
    };
    const pump = () => {
      // Fast: as much as the socket takes, then wait for 'drain'.
      while (!answered && !socket.destroyed && sent < BODY_BYTES) {
        const n = Math.min(FAST_SLICE.length, BODY_BYTES - sent);
        sent += n;
        if (!socket.write(n === FAST_SLICE.length ? FAST_SLICE : FAST_SLICE.subarray(0, n))) return;
      }
    };
    socket.on('connect', () => {
      socket.write(head(phase, port));
      if (phase.endsWith('fast')) {
        socket.on('drain', pump);
        pump();
      } else {
        const slice = FAST_SLICE.subarray(0, SLOW_SLICE_BYTES);
        const step = () => {
          if (answered || socket.destroyed || sent >= BODY_BYTES) return;
          const n = Math.min(slice.length, BODY_BYTES - sent);
          sent += n;
          socket.write(slice.subarray(0, n));
        };
        step();
        slowTimer = setInterval(step, SLOW_INTERVAL_MS);
      }
    });
    socket.on('data', (d: Buffer) => {
      if (answered) return;
      firstBytes += d.toString('latin1', 0, Math.min(d.length, 64));
      const m = /^HTTP\/1\.1 (\d{3})/.exec(firstBytes);
      if (m) {
        answered = m[1]!;
        // The answer is all this client wanted: stop sending and go.
        socket.destroy();
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('close', finish);
  });
}

interface PhaseResult {
  phase: Phase;
  counts: Map<string, number>;
  startRss: number;
  peakRss: number;
  afterRss: number;
  floodMs: number;
  killedAtCap: boolean;
  servesAfter: number;
}

async function runPhase(phase: Phase): Promise<PhaseResult> {
  const server = await startServer();
  const pid = server.proc.pid!;
  // Warm: the first requests load the code paths every later request uses, which is not flood memory.
  await signedCall(server.port, 'CreateTable', JSON.stringify({ TableName: 'flood', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  for (let i = 0; i < 50; i++) await signedCall(server.port, 'PutItem', JSON.stringify({ TableName: 'flood', Item: { pk: { S: `k${i}` } } }));
  await new Promise((r) => setTimeout(r, 2000));
  const startRss = memory(pid).rss;
  let peakRss = startRss;
  let killedAtCap = false;
  const sampler = setInterval(() => {
    const { rss } = memory(pid);
    peakRss = Math.max(peakRss, rss);
    if (rss > RSS_CAP_BYTES && !killedAtCap) {
      killedAtCap = true;
      server.proc.kill('SIGKILL');
    }
  }, SAMPLE_MS);

  const started = Date.now();
  const stopAt = started + PHASE_MS;
  const outcomes: Array<Promise<Outcome>> = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    if (i > 0 && i % OPEN_PER_TURN === 0) await new Promise((r) => setImmediate(r));
    outcomes.push(floodOne(server.port, phase, stopAt));
  }
  const done = await Promise.all(outcomes);
  const floodMs = Date.now() - started;
  const counts = new Map<string, number>();
  for (const o of done) counts.set(o.result, (counts.get(o.result) ?? 0) + 1);

  let afterRss = 0;
  let servesAfter = 0;
  if (!killedAtCap) {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    afterRss = memory(pid).rss;
    servesAfter = await signedCall(server.port, 'GetItem', JSON.stringify({ TableName: 'flood', Key: { pk: { S: 'k1' } } }));
    // VmHWM catches a peak between two samples.
    peakRss = Math.max(peakRss, memory(pid).hwm);
  }
  clearInterval(sampler);
  server.proc.kill('SIGKILL');
  await server.exited;
  return { phase, counts, startRss, peakRss, afterRss, floodMs, killedAtCap, servesAfter };
}

const mib = (n: number) => (n / MiB).toFixed(0);
process.stdout.write(`Flood: ${CONNECTIONS} connections, ${BODY_BYTES / MiB} MiB Content-Length each, phase limit ${PHASE_MS / 1000} s, settle ${SETTLE_MS / 1000} s${CONFIG ? `, config ${CONFIG}` : ''} (${new Date().toISOString()})\n\n`);
process.stdout.write('| phase | answers and endings | flood s | start RSS MiB | peak RSS MiB | after-flood RSS MiB | after / start | serves after |\n|---|---|---:|---:|---:|---:|---:|---:|\n');
for (const phase of PHASES) {
  const r = await runPhase(phase);
  const counts = [...r.counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join(', ');
  const after = r.killedAtCap ? `killed at cap (${mib(RSS_CAP_BYTES)})` : mib(r.afterRss);
  const ratio = r.killedAtCap ? '' : (r.afterRss / r.startRss).toFixed(2);
  process.stdout.write(`| ${r.phase} | ${counts} | ${(r.floodMs / 1000).toFixed(1)} | ${mib(r.startRss)} | ${mib(r.peakRss)} | ${after} | ${ratio} | ${r.servesAfter || '-'} |\n`);
}
