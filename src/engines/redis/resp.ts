/**
 * @module engines/redis/resp
 * A minimal RESP2 codec (what Cellar needs to administer Redis: AUTH, PING, CONFIG, ACL) and a one-connection
 * client over TCP or a Unix socket. The codec is pure and incremental: `parseReply` returns undefined when the
 * buffer does not hold a whole reply yet; server errors are values, not exceptions, so the caller decides.
 */
import * as net from 'node:net';

export type RespValue = string | number | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const MAX_DEPTH = 32;

/** Parses one reply at `offset`; undefined if incomplete. Throws only on bytes that are not RESP. */
export function parseReply(buf: Buffer, offset = 0, depth = 0): { value: RespValue; next: number } | undefined {
  if (depth > MAX_DEPTH) throw new Error('RESP reply nested too deeply');
  if (offset >= buf.length) return undefined;
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return undefined;
      return { value: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let pos = after;
      for (let i = 0; i < count; i++) {
        const r = parseReply(buf, pos, depth + 1);
        if (!r) return undefined;
        items.push(r.value);
        pos = r.next;
      }
      return { value: items, next: pos };
    }
    default:
      throw new Error(`not a RESP reply (type byte ${JSON.stringify(type)})`);
  }
}

const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** One connection, one command at a time, every wait bounded by `timeoutMs`. */
export class RespClient {
  private buffer = Buffer.alloc(0);
  private waiting: { resolve: (v: RespValue) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket, private readonly timeoutMs: number) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static connect(target: { path: string } | { host: string; port: number }, timeoutMs: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(target);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RespClient(socket, timeoutMs));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (this.buffer.length > MAX_REPLY_BYTES) return this.fail(new Error('reply too large'));
    if (!this.waiting) return;
    let parsed;
    try {
      parsed = parseReply(this.buffer);
    } catch (err) {
      return this.fail(err as Error);
    }
    if (!parsed) return;
    this.buffer = this.buffer.subarray(parsed.next);
    const w = this.waiting;
    this.waiting = undefined;
    w.resolve(parsed.value);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }

  /** Sends a command and returns its reply (a RespError value for server errors). */
  command(args: readonly string[]): Promise<RespValue> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error('one command at a time'));
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`${args[0]} timed out after ${this.timeoutMs} ms`));
        this.socket.destroy();
      }, this.timeoutMs);
      this.waiting = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(encodeCommand(args));
    });
  }

  /** Like command(), but a server error becomes an exception. */
  async call(args: readonly string[]): Promise<RespValue> {
    const v = await this.command(args);
    if (v instanceof RespError) throw new Error(`${args[0]}: ${v.message}`);
    return v;
  }

  close(): void {
    this.socket.destroy();
  }
}
