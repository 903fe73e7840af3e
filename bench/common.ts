/**
 * What the benchmark scripts share: where the repository and its bench files are, command-line flags, a free port,
 * and a DynamoDB request signed the way ../shared/bench/ddb-wrk.mjs signs its pool (same headers, same order, access
 * key `test`), so in-process and over-HTTP measurements see the requests the load generators send.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: the scripts run from dist/bench/, two folders down. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The neutral DynamoDB load generator (wrk with a pool of signed requests). */
export const DDB_WRK = join(ROOT, 'bench', 'ddb-wrk.mjs');
/** Where the scripts write their tables (`<name>.md`) and raw samples (`<name>.json`). */
export const RESULTS = join(ROOT, 'bench', 'results');

/** The value after `--<name>` on the command line, or `def`. */
export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port nobody listens on now: the kernel's pick, not a random guess that can collide with a connection's own port. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** X-Amz-Date for now. */
export function amzDateNow(): string {
  return new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/**
 * The signed headers of a DynamoDB call to `host` (host:port), as [name, value] pairs in ddb-wrk's order. `target` is an
 * operation of DynamoDB_20120810, or a whole X-Amz-Target (`DynamoDBStreams_20120810.ListStreams`).
 */
export function signDynamoDb(host: string, target: string, body: string, amzDate = amzDateNow()): Array<[string, string]> {
  const day = amzDate.slice(0, 8);
  const hash = createHash('sha256').update(body).digest('hex');
  const amzTarget = target.includes('.') ? target : `DynamoDB_20120810.${target}`;
  const names = 'content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target';
  const canonical = `POST\n/\n\ncontent-type:application/x-amz-json-1.0\nhost:${host}\nx-amz-content-sha256:${hash}\nx-amz-date:${amzDate}\nx-amz-target:${amzTarget}\n\n${names}\n${hash}`;
  const scope = `${day}/us-east-1/dynamodb/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  let key = createHmac('sha256', 'AWS4test').update(day).digest();
  for (const part of ['us-east-1', 'dynamodb', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return [
    ['Host', host],
    ['Content-Type', 'application/x-amz-json-1.0'],
    ['X-Amz-Content-Sha256', hash],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Target', amzTarget],
    ['Authorization', `AWS4-HMAC-SHA256 Credential=test/${scope}, SignedHeaders=${names}, Signature=${createHmac('sha256', key).update(sts).digest('hex')}`],
    ['Content-Length', String(Buffer.byteLength(body))],
  ];
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
