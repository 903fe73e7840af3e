/**
 * Test helper: a raw HTTP/1.1 client on one socket, for what fetch and the SDKs cannot show: when an answer arrives
 * relative to what was sent, whether the server closed the connection, and bodies sent slowly or not at all. Every
 * wait is bounded.
 */
import * as net from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from '../../src/auth/hash.js';

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawClient {
  private raw = Buffer.alloc(0);
  private readonly replies: RawReply[] = [];
  /** Bytes written so far. */
  sent = 0;
  closed = false;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.raw = Buffer.concat([this.raw, d]);
      this.parse();
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes, unless the socket is gone; returns false then. */
  write(data: string | Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.sent += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.socket.write(data);
    return true;
  }

  /** The next reply (100 Continue included), within timeoutMs. */
  async reply(timeoutMs = 10_000): Promise<RawReply> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0) {
      if (this.closed) throw new Error(`connection closed without a reply; received: ${this.raw.toString('latin1').slice(0, 300)}`);
      if (Date.now() > deadline) throw new Error(`no reply within ${timeoutMs} ms; received: ${this.raw.toString('latin1').slice(0, 300)}`);
      await this.next(deadline);
    }
    return this.replies.shift()!;
  }

  /** True once the server has closed the connection, false if it has not within timeoutMs. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.next(deadline);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private next(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(deadline - Date.now(), 200)));
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private parse(): void {
    for (;;) {
      const end = this.raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.raw.toString('latin1', 0, end).split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
      const length = status === 100 ? 0 : Number(headers['content-length'] ?? 0);
      if (this.raw.length < end + 4 + length) return;
      this.replies.push({ status, headers, body: this.raw.toString('utf8', end + 4, end + 4 + length) });
      this.raw = this.raw.subarray(end + 4 + length);
    }
  }
}

export interface HeadOptions {
  service: 'dynamodb' | 'kms' | 'sts';
  /** X-Amz-Target for the JSON services. */
  target?: string;
  contentLength?: number;
  chunked?: boolean;
  secretAccessKey?: string;
  extra?: string[];
}

/**
 * A signed request head whose signature does not cover the body (X-Amz-Content-Sha256: UNSIGNED-PAYLOAD, as SigV4
 * allows): the whole signature can be checked from the head, and any body may follow. For bodies too large or too
 * slow to sign in a test.
 */
export async function signedHead(port: number, o: HeadOptions): Promise<string> {
  const host = `127.0.0.1:${port}`;
  const json = o.service !== 'sts';
  const headers: Record<string, string> = {
    host,
    'content-type': json ? `application/x-amz-json-1.${o.service === 'dynamodb' ? 0 : 1}` : 'application/x-www-form-urlencoded; charset=utf-8',
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
  };
  if (o.target) headers['x-amz-target'] = o.target;
  const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: o.secretAccessKey ?? 'test' }, region: 'us-east-1', service: o.service, sha256: NodeSha256 });
  const signed = await signer.sign(new HttpRequest({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port, path: '/', headers }));
  const lines = ['POST / HTTP/1.1'];
  for (const [k, v] of Object.entries(signed.headers)) lines.push(`${k}: ${v}`);
  lines.push(o.chunked ? 'transfer-encoding: chunked' : `content-length: ${o.contentLength ?? 0}`, ...(o.extra ?? []));
  return lines.join('\r\n') + '\r\n\r\n';
}

/** An unsigned request head. */
export function unsignedHead(o: { target?: string; contentLength: number; contentType?: string; extra?: string[] }): string {
  const lines = ['POST / HTTP/1.1', 'host: 127.0.0.1', `content-type: ${o.contentType ?? 'application/x-amz-json-1.0'}`, `content-length: ${o.contentLength}`];
  if (o.target) lines.push(`x-amz-target: ${o.target}`);
  return [...lines, ...(o.extra ?? [])].join('\r\n') + '\r\n\r\n';
}
