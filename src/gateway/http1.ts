/**
 * @module gateway/http1
 * HTTP/1.1 request framing and response heads, with no socket: bytes in, complete requests out.
 *
 * Why not node:http: on this machine node:http's own per-request work (its parser callbacks, IncomingMessage
 * and ServerResponse streams, header objects) costs more CPU than the whole of a DynamoDB GetItem behind
 * it. Cellar's clients send small, complete requests over keep-alive connections, so a parser that frames
 * a request straight out of the received chunk and a response written in one `write()` serves them for a
 * fraction of that. What it accepts is deliberately strict (RFC 9112): anything ambiguous — both
 * Content-Length and Transfer-Encoding, differing Content-Lengths, obsolete line folding, bare CR or LF, a
 * malformed request line or chunk size — is refused with 400 and the connection closed, so no request can
 * be framed two ways (request smuggling). Every buffer is bounded: the head by `maxHeaderBytes`, the body
 * by `maxBodyBytes`, a chunk-size line by MAX_CHUNK_LINE.
 *
 * With `holdBodies`, a request's body is not read until the caller has looked at its head and said so
 * (`admitBody`), or said to read and drop it (`skipBody`): the gateway checks the signature and takes the
 * memory a body needs before it keeps a byte of it (gateway/http.ts).
 */

export interface HttpLimits {
  /** The request line plus headers, CRLFs included. Past this: 431. */
  maxHeaderBytes: number;
  /** The decoded body. Past this: 413. */
  maxBodyBytes: number;
  /** Stop after each head with a body until admitBody() or skipBody() is called (see the module comment). */
  holdBodies?: boolean;
}

export interface ParsedRequest {
  method: string;
  /** The request target as sent (origin form), or the path and query of an absolute-form target. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Lower-case names; repeated headers joined with ", " (the first kept for single-valued ones, as node:http does). */
  headers: Record<string, string>;
  body: Buffer;
  /** Whether the connection stays open after this request's response. */
  keepAlive: boolean;
}

/** A request that cannot be framed: answer `status` and close the connection. */
export class HttpFramingError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The head, when it was framed (a 413 is decided from it): the caller answers in the request's own protocol. */
    readonly head?: RequestHead,
  ) {
    super(message);
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_CHUNK_LINE = 4096;
/** RFC 9110 token characters, for methods and header names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The spellings clients use for common header names, lower-cased once (checked tokens by construction). */
const LOWER_NAMES = new Map<string, string>();
for (const name of ['Host', 'Content-Type', 'Content-Length', 'Authorization', 'X-Amz-Date', 'X-Amz-Target', 'X-Amz-Content-Sha256', 'X-Amz-Security-Token', 'User-Agent', 'Accept', 'Accept-Encoding', 'Connection', 'Expect', 'Transfer-Encoding', 'Amz-Sdk-Invocation-Id', 'Amz-Sdk-Request', 'X-Amz-User-Agent']) {
  LOWER_NAMES.set(name, name.toLowerCase());
  LOWER_NAMES.set(name.toLowerCase(), name.toLowerCase());
}
/** Headers of which node:http keeps only the first occurrence; everything else is joined with ", ". */
const SINGLE_VALUED = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after',
  'server', 'user-agent',
]);

/** A request head, as parsed before its body. */
export interface RequestHead {
  method: string;
  target: string;
  minor: 0 | 1;
  headers: Record<string, string>;
  keepAlive: boolean;
  expectContinue: boolean;
  /** Body length for a Content-Length body; -1 for chunked. */
  length: number;
}

type ChunkState = 'size' | 'data' | 'data-crlf' | 'trailers';
/** What happens to the current request's body: waiting for the caller (holdBodies), kept, or read and dropped. */
type BodyMode = 'held' | 'keep' | 'skip';

/**
 * Frames requests out of a connection's bytes. `push` appends what the socket read; `next` returns the next
 * complete request, undefined when more bytes are needed, or throws HttpFramingError (after which the parser
 * must not be used again). Requests come out in order, so pipelined requests are answered in order.
 */
export class RequestParser {
  private queue: Buffer[] = [];
  private queued = 0;
  private head: RequestHead | undefined;
  private bodyMode: BodyMode = 'keep';
  /** A Content-Length body that did not arrive in one piece: one buffer of its length, filled as bytes come. */
  private bodyBuffer: Buffer | undefined;
  private body: Buffer[] = [];
  private bodySize = 0;
  /** The current request's body cap: maxBodyBytes, or less for a request admitted with a smaller one. */
  private bodyLimit = 0;
  private chunkState: ChunkState = 'size';
  private chunkLeft = 0;
  private trailerBytes = 0;
  private scanFrom = 0;
  private continueDue = false;

  constructor(private readonly limits: HttpLimits) {}

  /** Bytes held that no request has consumed yet (for backpressure). */
  get buffered(): number {
    return this.queued;
  }

  /** True once the current request's head is parsed and its body is being read (or waits to be). */
  get headParsed(): boolean {
    return this.head !== undefined;
  }

  /** True while a request has started arriving but is not complete. */
  get midRequest(): boolean {
    return this.head !== undefined || this.queued > 0;
  }

  /** With holdBodies: the head whose body waits for admitBody() or skipBody(). */
  get heldHead(): RequestHead | undefined {
    return this.bodyMode === 'held' ? this.head : undefined;
  }

  /** Body bytes of the current request read so far (kept or dropped). */
  get bodyBytes(): number {
    return this.bodySize;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /**
   * Reads and keeps the held head's body, up to `maxBytes` when given (below maxBodyBytes: an unsigned chunked
   * body, whose length shows only as it is decoded). Past it: 413, in the request's own protocol.
   */
  admitBody(maxBytes?: number): void {
    if (this.bodyMode !== 'held') return;
    this.bodyMode = 'keep';
    if (maxBytes !== undefined) this.bodyLimit = Math.min(this.bodyLimit, maxBytes);
    this.continueDue = this.head!.expectContinue;
  }

  /**
   * Reads the held head's body and drops it: the request was answered from its head, and the connection can go
   * on once its body has gone by. No 100 Continue is sent for it.
   */
  skipBody(): void {
    if (this.bodyMode !== 'held') return;
    this.bodyMode = 'skip';
  }

  /**
   * True once, when a request that said `Expect: 100-continue` has its head parsed (and its body admitted)
   * and its body is still to come: the caller then writes `HTTP/1.1 100 Continue`.
   */
  takeContinue(): boolean {
    const due = this.continueDue;
    this.continueDue = false;
    return due;
  }

  next(): ParsedRequest | undefined {
    if (!this.head) {
      const head = this.readHead();
      if (!head) return undefined;
      // Refused before any of the body is read.
      if (head.length > this.limits.maxBodyBytes) throw new HttpFramingError(413, 'request body too large', head);
      this.head = head;
      this.body = [];
      this.bodyBuffer = undefined;
      this.bodySize = 0;
      this.bodyLimit = this.limits.maxBodyBytes;
      this.chunkState = 'size';
      this.trailerBytes = 0;
      const hasBody = head.length === -1 || head.length > 0;
      this.bodyMode = hasBody && this.limits.holdBodies ? 'held' : 'keep';
      if (hasBody && this.bodyMode === 'keep') this.continueDue = head.expectContinue;
    }
    const head = this.head;
    if (this.bodyMode === 'held') return undefined;
    const complete = head.length === -1 ? this.readChunked() : this.readLength(head.length);
    if (!complete) return undefined;
    this.head = undefined;
    this.continueDue = false;
    if (this.bodyMode === 'skip') {
      this.bodyMode = 'keep';
      this.body = [];
      // The next request, if its bytes are here (a skipped body is never skipped twice, so this recursion is one deep).
      return this.next();
    }
    let body: Buffer;
    if (this.bodyBuffer) body = this.bodyBuffer;
    else body = this.body.length === 1 ? this.body[0]! : this.body.length === 0 ? EMPTY : Buffer.concat(this.body, this.bodySize);
    this.body = [];
    this.bodyBuffer = undefined;
    return { method: head.method, target: head.target, minor: head.minor, headers: head.headers, body, keepAlive: head.keepAlive };
  }

  // ------------------------------------------------------------------ head

  private readHead(): RequestHead | undefined {
    if (this.queued === 0) return undefined;
    if (this.queue.length > 1) this.flatten();
    let buf = this.queue[0]!;
    // RFC 9112 §2.2: ignore empty lines before a request line (some clients send a CRLF after a body).
    let start = 0;
    while (start + 1 < buf.length && buf[start] === 13 && buf[start + 1] === 10) start += 2;
    if (start > 0) {
      buf = buf.subarray(start);
      this.queue[0] = buf;
      this.queued = buf.length;
      this.scanFrom = Math.max(0, this.scanFrom - start);
    }
    const end = buf.indexOf(CRLFCRLF, Math.max(0, this.scanFrom - 3));
    if (end < 0) {
      if (buf.length > this.limits.maxHeaderBytes) throw new HttpFramingError(431, 'request header fields too large');
      this.scanFrom = buf.length;
      return undefined;
    }
    if (end + 4 > this.limits.maxHeaderBytes) throw new HttpFramingError(431, 'request header fields too large');
    this.scanFrom = 0;
    const text = buf.toString('latin1', 0, end);
    this.consume(end + 4);
    return parseHead(text);
  }

  // ------------------------------------------------------------------ bodies

  private readLength(length: number): boolean {
    const need = length - this.bodySize;
    if (need === 0) return true;
    if (this.queued === 0) return false;
    const take = Math.min(need, this.queued);
    if (this.bodyMode === 'skip') {
      this.consume(take);
      this.bodySize += take;
    } else if (this.bodySize === 0 && this.queue[0]!.length >= length) {
      // The whole body in one received buffer (nearly every request): a view of it, no copy.
      this.takeInto(length);
    } else {
      // A body arriving in pieces goes into one buffer of its length, and each received buffer is let go as
      // soon as it is copied. Kept as a list of views, every read buffer (up to 64 KiB each, hundreds for a
      // large body) would live until the request is answered, and be copied once more by the final concat.
      this.bodyBuffer ??= Buffer.allocUnsafeSlow(length);
      this.copyInto(this.bodyBuffer, take);
    }
    return this.bodySize === length;
  }

  private readChunked(): boolean {
    for (let steps = 0; steps < 1_000_000; steps++) {
      switch (this.chunkState) {
        case 'size': {
          const line = this.readLine(MAX_CHUNK_LINE, 'chunk size line too long');
          if (line === undefined) return false;
          const semi = line.indexOf(';');
          const hex = (semi >= 0 ? line.slice(0, semi) : line).trimEnd();
          if (!/^[0-9A-Fa-f]{1,8}$/.test(hex)) throw new HttpFramingError(400, 'malformed chunk size');
          const size = parseInt(hex, 16);
          if (this.bodySize + size > this.bodyLimit) throw new HttpFramingError(413, 'request body too large', this.head);
          if (size === 0) this.chunkState = 'trailers';
          else {
            this.chunkLeft = size;
            this.chunkState = 'data';
          }
          break;
        }
        case 'data': {
          if (this.queued === 0) return false;
          const take = Math.min(this.chunkLeft, this.queued);
          this.takeInto(take);
          this.chunkLeft -= take;
          if (this.chunkLeft > 0) return false;
          this.chunkState = 'data-crlf';
          break;
        }
        case 'data-crlf': {
          if (this.queued < 2) return false;
          if (this.queue.length > 1) this.flatten();
          const b = this.queue[0]!;
          if (b[0] !== 13 || b[1] !== 10) throw new HttpFramingError(400, 'chunk data not followed by CRLF');
          this.consume(2);
          this.chunkState = 'size';
          break;
        }
        case 'trailers': {
          const line = this.readLine(this.limits.maxHeaderBytes, 'trailers too large');
          if (line === undefined) return false;
          this.trailerBytes += line.length + 2;
          if (this.trailerBytes > this.limits.maxHeaderBytes) throw new HttpFramingError(431, 'trailers too large');
          if (line === '') return true; // trailer fields are read and dropped: nothing in Cellar uses them
          if (line.indexOf(':') <= 0) throw new HttpFramingError(400, 'malformed trailer field');
          break;
        }
      }
    }
    throw new HttpFramingError(400, 'too many chunks');
  }

  /** One CRLF-terminated line (without it), or undefined until it has fully arrived. */
  private readLine(max: number, tooLong: string): string | undefined {
    if (this.queued === 0) return undefined;
    if (this.queue.length > 1) this.flatten();
    const b = this.queue[0]!;
    const lf = b.indexOf(10);
    if (lf < 0) {
      if (b.length > max) throw new HttpFramingError(max === MAX_CHUNK_LINE ? 400 : 431, tooLong);
      return undefined;
    }
    if (lf === 0 || b[lf - 1] !== 13) throw new HttpFramingError(400, 'bare LF in chunked body');
    if (lf - 1 > max) throw new HttpFramingError(400, tooLong);
    const line = b.toString('latin1', 0, lf - 1);
    if (line.includes('\r')) throw new HttpFramingError(400, 'bare CR in chunked body');
    this.consume(lf + 1);
    return line;
  }

  // ------------------------------------------------------------------ the byte queue

  private flatten(): void {
    const all = Buffer.concat(this.queue, this.queued);
    this.queue = [all];
  }

  private consume(n: number): void {
    let left = n;
    while (left > 0) {
      const b = this.queue[0]!;
      if (b.length <= left) {
        this.queue.shift();
        left -= b.length;
      } else {
        this.queue[0] = b.subarray(left);
        left = 0;
      }
    }
    this.queued -= n;
  }

  /** Copies n queued bytes into target at the body's current size, releasing the queued buffers. */
  private copyInto(target: Buffer, n: number): void {
    let left = n;
    let at = this.bodySize;
    while (left > 0) {
      const b = this.queue[0]!;
      if (b.length <= left) {
        b.copy(target, at);
        at += b.length;
        this.queue.shift();
        left -= b.length;
      } else {
        b.copy(target, at, 0, left);
        this.queue[0] = b.subarray(left);
        left = 0;
      }
    }
    this.queued -= n;
    this.bodySize += n;
  }

  /** Moves n queued bytes into the body, without copying whole buffers (dropped when the body is skipped). */
  private takeInto(n: number): void {
    if (this.bodyMode === 'skip') {
      this.consume(n);
      this.bodySize += n;
      return;
    }
    let left = n;
    while (left > 0) {
      const b = this.queue[0]!;
      if (b.length <= left) {
        this.body.push(b);
        this.queue.shift();
        left -= b.length;
      } else {
        this.body.push(b.subarray(0, left));
        this.queue[0] = b.subarray(left);
        left = 0;
      }
    }
    this.queued -= n;
    this.bodySize += n;
  }
}

const EMPTY = Buffer.alloc(0);

/** Parses a request head (request line and header fields, without the final CRLFCRLF). */
export function parseHead(text: string): RequestHead {
  const lineEnd = text.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? text : text.slice(0, lineEnd);
  const sp1 = requestLine.indexOf(' ');
  const sp2 = requestLine.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 === sp1) throw new HttpFramingError(400, 'malformed request line');
  const method = requestLine.slice(0, sp1);
  let target = requestLine.slice(sp1 + 1, sp2);
  const version = requestLine.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw new HttpFramingError(400, 'malformed method');
  if (target.length === 0 || /[\s\0-\x1f\x7f]/.test(target)) throw new HttpFramingError(400, 'malformed request target');
  let minor: 0 | 1;
  if (version === 'HTTP/1.1') minor = 1;
  else if (version === 'HTTP/1.0') minor = 0;
  else if (/^HTTP\/\d\.\d$/.test(version)) throw new HttpFramingError(505, 'HTTP version not supported');
  else throw new HttpFramingError(400, 'malformed HTTP version');
  if (target[0] !== '/' && target !== '*') {
    // absolute-form (RFC 9112 §3.2.2): keep the path and query.
    const m = /^https?:\/\/[^/?#]*(.*)$/i.exec(target);
    if (!m) throw new HttpFramingError(400, 'malformed request target');
    target = m[1] || '/';
    if (target[0] !== '/') target = '/' + target;
  }

  if (text.indexOf('\0') >= 0) throw new HttpFramingError(400, 'NUL in the request head');
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  let expect: string | undefined;
  let pos = lineEnd < 0 ? text.length : lineEnd + 2;
  while (pos < text.length) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = text.length;
    const colon = text.indexOf(':', pos);
    if (colon <= pos || colon >= eol) throw new HttpFramingError(400, text[pos] === ' ' || text[pos] === '\t' ? 'obsolete line folding' : 'malformed header field');
    const rawName = text.slice(pos, colon);
    let name = LOWER_NAMES.get(rawName);
    if (name === undefined) {
      if (!TOKEN.test(rawName)) throw new HttpFramingError(400, 'malformed header field name');
      name = rawName.toLowerCase();
    }
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    const value = text.slice(vs, ve);
    // CR or LF other than as the line's CRLF (a bare one could be read as a line break elsewhere).
    if (value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0) throw new HttpFramingError(400, 'malformed header field value');
    pos = eol + 2;
    if (name === 'content-length') {
      if (contentLength !== undefined && contentLength !== value) throw new HttpFramingError(400, 'conflicting Content-Length');
      contentLength = value;
    } else if (name === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    else if (name === 'connection') connection = connection ? `${connection}, ${value}` : value;
    else if (name === 'expect') expect = value;
    const prior = headers[name];
    if (prior === undefined) headers[name] = value;
    else if (!SINGLE_VALUED.has(name)) headers[name] = `${prior}, ${value}`;
  }

  let length = 0;
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) throw new HttpFramingError(400, 'both Content-Length and Transfer-Encoding');
    if (minor === 0) throw new HttpFramingError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    const codings = transferEncoding.toLowerCase().split(',').map((s) => s.trim());
    // chunked must be the final coding, and Cellar applies no other.
    if (codings.length !== 1 || codings[0] !== 'chunked') throw new HttpFramingError(codings[codings.length - 1] === 'chunked' ? 501 : 400, 'unsupported Transfer-Encoding');
    length = -1;
  } else if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) throw new HttpFramingError(400, 'malformed Content-Length');
    length = Number(contentLength);
  }

  const tokens = connection.toLowerCase();
  const keepAlive = minor === 1 ? !/(^|,)\s*close\s*(,|$)/.test(tokens) : /(^|,)\s*keep-alive\s*(,|$)/.test(tokens);
  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue') throw new HttpFramingError(417, 'expectation failed');
    expectContinue = minor === 1;
  }
  return { method, target, minor, headers, keepAlive, expectContinue, length };
}

const REASONS: Record<number, string> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 204: 'No Content', 301: 'Moved Permanently', 304: 'Not Modified', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 411: 'Length Required', 412: 'Precondition Failed', 413: 'Payload Too Large',
  414: 'URI Too Long', 415: 'Unsupported Media Type', 417: 'Expectation Failed', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

const HEADER_VALUE_UNSAFE = /[\r\n\0]/;

/**
 * A response head: status line, the given headers, Content-Length, Date and, when the connection is to
 * close or is an HTTP/1.0 keep-alive one, Connection. Header values carrying CR, LF or NUL are dropped
 * rather than written (no response splitting).
 */
export function responseHead(status: number, headers: Record<string, string>, contentLength: number | undefined, date: string, connection: 'close' | 'keep-alive' | undefined): string {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    if (HEADER_VALUE_UNSAFE.test(value) || name === 'content-length' || name === 'connection' || name === 'date') continue;
    head += `${name}: ${value}\r\n`;
  }
  // No length: a streamed answer, whose end is the connection's close.
  if (contentLength !== undefined) head += `content-length: ${contentLength}\r\n`;
  head += `date: ${date}\r\n`;
  if (connection) head += `connection: ${connection}\r\n`;
  return head + '\r\n';
}
