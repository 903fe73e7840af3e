/**
 * Benchmark: KMS Encrypt and Secrets Manager GetSecretValue throughput and p99 latency at 16
 * connections, against a bare node:http server answering a canned response (../shared/bench/ceiling.mjs)
 * measured in the same run. Servers are pinned to CPU 0 and wrk to CPU 1.
 *
 * Each workload replays one request, SigV4-signed once with a fixed X-Amz-Date (within the 15-minute
 * skew window); Cellar verifies the signature, validates, executes and serializes every request.
 *
 * Usage: node dist/bench/secrets-kms.js [--seconds 10] [--connections 16] [--out docs/benchmarks-secrets-kms.json]
 * Needs wrk (Debian: apt-get install wrk) and taskset.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms';
import { SecretsManagerClient, CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { NodeSha256 } from '../src/auth/hash.js';
import { freePort } from './common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHARED = [resolve(ROOT, '..', 'shared'), '/work/shared'].find((d) => existsSync(join(d, 'bench', 'ceiling.mjs')));

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}
const SECONDS = Number(arg('seconds', '10'));
const CONNECTIONS = Number(arg('connections', '16'));
const OUT = arg('out', '');

async function startServer(args: string[], readyPattern: RegExp): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  const port = await new Promise<number>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start: ${seen}`)), 15_000);
    const on = (b: Buffer) => {
      seen += b.toString();
      const m = readyPattern.exec(seen);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
  });
  return { proc, port };
}


async function signedLua(endpoint: string, service: string, target: string, body: string, version: '1.0' | '1.1'): Promise<string> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service, sha256: NodeSha256 });
  const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers: { host: url.host, 'content-type': `application/x-amz-json-${version}`, 'x-amz-target': target }, body }));
  const lines = ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(body)}`];
  for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(String(v))}`);
  return lines.join('\n') + '\n';
}

interface Result {
  server: string;
  workload: string;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
}

function runWrk(endpoint: string, lua: string, server: string, workload: string): Result {
  const dir = mkdtempSync(join(tmpdir(), 'cellar-bench-'));
  const script = join(dir, 'req.lua');
  writeFileSync(script, lua);
  const r = spawnSync('taskset', ['-c', '1', 'wrk', '-t', '1', '-c', String(CONNECTIONS), '-d', `${SECONDS}s`, '--latency', '-s', script, endpoint], { encoding: 'utf8', timeout: (SECONDS + 60) * 1000 });
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const unit = (v: string, u: string) => Number(v) * (u === 'us' ? 0.001 : u === 's' ? 1000 : 1);
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return { server, workload, opsPerSec: Math.round(rps), p50Ms: p50 ? unit(p50[1]!, p50[2]!) : NaN, p99Ms: p99 ? unit(p99[1]!, p99[2]!) : NaN, non2xx };
}

async function main(): Promise<void> {
  if (!SHARED) throw new Error('cannot find shared/bench/ceiling.mjs beside the repository');
  const results: Result[] = [];
  const cellarPort = await freePort();
  const cellar = await startServer([join(ROOT, 'bin', 'cellar.js'), 'start', '--port', String(cellarPort), '--in-memory', '--quiet'], /serving AWS APIs at http:\/\/[^:]+:(\d+)/);
  const ceilingPort = await freePort();
  const ceiling = await startServer([join(SHARED, 'bench', 'ceiling.mjs'), '--port', String(ceilingPort)], /listening on http:\/\/[^:]+:(\d+)/);
  try {
    const cellarUrl = `http://127.0.0.1:${cellar.port}`;
    const ceilingUrl = `http://127.0.0.1:${ceilingPort}`;
    await new Promise((r) => setTimeout(r, 300));
    const cfg = { endpoint: cellarUrl, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    const key = await new KMSClient(cfg).send(new CreateKeyCommand({ Description: 'bench' }));
    const secret = await new SecretsManagerClient(cfg).send(new CreateSecretCommand({ Name: 'bench/secret', SecretString: JSON.stringify({ username: 'app', password: 'x'.repeat(32) }) }));
    const workloads: Array<[string, string, string, string, '1.0' | '1.1']> = [
      ['Encrypt', 'kms', 'TrentService.Encrypt', JSON.stringify({ KeyId: key.KeyMetadata!.KeyId, Plaintext: Buffer.from('x'.repeat(64)).toString('base64'), EncryptionContext: { app: 'bench' } }), '1.1'],
      ['GetSecretValue', 'secretsmanager', 'secretsmanager.GetSecretValue', JSON.stringify({ SecretId: secret.ARN }), '1.1'],
    ];
    for (const [name, service, target, body, version] of workloads) {
      // Alternate servers so drift in the machine's load hits both alike.
      results.push(runWrk(cellarUrl, await signedLua(cellarUrl, service, target, body, version), 'cellar', name));
      results.push(runWrk(ceilingUrl, await signedLua(ceilingUrl, service, target, body, version), 'ceiling', name));
    }
  } finally {
    cellar.proc.kill('SIGTERM');
    ceiling.proc.kill('SIGTERM');
  }
  const lines = ['| workload | Cellar ops/s | ceiling ops/s | Cellar / ceiling | Cellar p50 ms | Cellar p99 ms | ceiling p99 ms | non-2xx |', '|---|---|---|---|---|---|---|---|'];
  for (const w of ['Encrypt', 'GetSecretValue']) {
    const c = results.find((r) => r.server === 'cellar' && r.workload === w)!;
    const k = results.find((r) => r.server === 'ceiling' && r.workload === w)!;
    lines.push(`| ${w} | ${c.opsPerSec} | ${k.opsPerSec} | ${(c.opsPerSec / k.opsPerSec).toFixed(2)} | ${c.p50Ms} | ${c.p99Ms} | ${k.p99Ms} | ${c.non2xx} |`);
  }
  console.log(lines.join('\n'));
  if (OUT) writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, connections: CONNECTIONS, results }, null, 2) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
