/**
 * Replays a pool of pre-signed raw DynamoDB requests with wrk, the way bench/ddb-wrk.mjs drives its own
 * workloads (one fixed X-Amz-Date, wrk pinned to its own CPU, a Lua script that cycles through the pool and has
 * no response() callback), for the workloads ddb-wrk.mjs does not have: puts into a table the caller made
 * (streams on or off), TransactWriteItems and BatchWriteItem of 10 items, GetItem against a chosen table.
 *
 * Latency is not reported: wrk's own percentiles are "corrected" for coordinated omission, which ddb-wrk.mjs
 * undoes and this runner does not; the benchmarks that use it compare throughput only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signDynamoDb } from './common.js';

export interface PoolRun {
  /** Responses with a status below 400. */
  ops: number;
  opsPerSec: number;
  /** Responses of 400 and above, and socket errors and timeouts. */
  errors: number;
  serverCpuS: number | null;
  /** CPU the rest of the machine used over the run (not the server, not wrk, not this process): the noise. */
  otherCpuS: number | null;
}

export interface PoolOptions {
  connections: number;
  seconds: number;
  serverPid: number;
  /** taskset CPU list for wrk. */
  cpusClient: string;
}

/** One raw HTTP/1.1 request, signed as ddb-wrk.mjs signs (access key `test`, us-east-1). */
export function rawRequest(endpoint: string, target: string, payload: unknown, amzDate: string): string {
  const body = JSON.stringify(payload);
  const headers = signDynamoDb(new URL(endpoint).host, target, body, amzDate);
  return `POST / HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
}

const HZ = 100; // USER_HZ on Linux

/** utime + stime of a process, in ticks (with its reaped children's when asked). */
export function processTicks(pid: number, withChildren = false): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  } catch {
    return null;
  }
}

/** Busy ticks of the whole machine (every CPU, minus idle and iowait). */
export function machineBusyTicks(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3]! - f[4]!;
  } catch {
    return null;
  }
}

function luaScript(poolFile: string, indexFile: string): string {
  return `local reqs, n, i = {}, 0, 0
function init(args)
  local f = assert(io.open(${JSON.stringify(poolFile)}, "rb"))
  local blob = f:read("*a")
  f:close()
  local pos = 1
  for line in io.lines(${JSON.stringify(indexFile)}) do
    local len = tonumber(line)
    n = n + 1
    reqs[n] = string.sub(blob, pos, pos + len - 1)
    pos = pos + len
  end
end
function request()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('POOL_RESULT {"durationUs":%.0f,"requests":%.0f,"status":%.0f,"other":%.0f}\\n',
    summary.duration, summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
`;
}

/** Runs wrk over `requests` (cycled if the run outlasts them) for `seconds`; resolves with what it measured. */
export async function runPool(endpoint: string, requests: string[], options: PoolOptions): Promise<PoolRun> {
  const dir = mkdtempSync(join(tmpdir(), 'cellar-wrk-pool-'));
  try {
    const bufs = requests.map((r) => Buffer.from(r, 'utf8'));
    writeFileSync(join(dir, 'pool.bin'), Buffer.concat(bufs));
    writeFileSync(join(dir, 'pool.idx'), bufs.map((b) => b.length).join('\n') + '\n');
    writeFileSync(join(dir, 'gen.lua'), luaScript(join(dir, 'pool.bin'), join(dir, 'pool.idx')));
    const busy0 = machineBusyTicks();
    const server0 = processTicks(options.serverPid);
    const self0 = processTicks(process.pid, true);
    const out = await new Promise<string>((resolve, reject) => {
      const args = ['-c', options.cpusClient, 'wrk', '-t', '1', '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s', '-s', join(dir, 'gen.lua'), endpoint];
      const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const watchdog = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 120) * 1000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(watchdog);
        if (code !== 0) reject(new Error(`wrk exited ${code}: ${stderr.slice(-1000)}`));
        else resolve(stdout);
      });
    });
    const busy1 = machineBusyTicks();
    const server1 = processTicks(options.serverPid);
    const self1 = processTicks(process.pid, true);
    const line = out.split('\n').find((l) => l.startsWith('POOL_RESULT '));
    if (!line) throw new Error(`wrk printed no result: ${out.slice(-1000)}`);
    const r = JSON.parse(line.slice('POOL_RESULT '.length)) as { durationUs: number; requests: number; status: number; other: number };
    const ops = r.requests - r.status;
    const serverCpuS = server0 !== null && server1 !== null ? (server1 - server0) / HZ : null;
    const otherCpuS =
      busy0 !== null && busy1 !== null && serverCpuS !== null && self0 !== null && self1 !== null
        ? Math.round(((busy1 - busy0 - (self1 - self0)) / HZ - serverCpuS) * 100) / 100
        : null;
    return { ops, opsPerSec: Math.round((ops / (r.durationUs / 1e6)) * 10) / 10, errors: r.status + r.other, serverCpuS, otherCpuS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
