/**
 * The HTTP/1.1 layer over real sockets: pipelining, chunked bodies, Expect: 100-continue, HTTP/1.0,
 * Connection: close, HEAD, framing errors, and a server that goes on serving after each.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { removeDir, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { signedRequest } from '../helpers/sign.js';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads responses off a socket until `count` have arrived or the socket ends; bounded by a timeout. */
function exchange(port: number, chunks: Array<string | Buffer>, count: number, options: { gapMs?: number; waitForContinue?: boolean; waitForClose?: boolean; collectMs?: number } = {}): Promise<{ replies: Reply[]; closed: boolean; raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let raw = Buffer.alloc(0);
    const replies: Reply[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out with ${replies.length} of ${count} replies; raw: ${raw.toString().slice(0, 500)}`));
    }, 10_000);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, closed, raw: raw.toString('latin1') });
    };
    const parse = () => {
      for (;;) {
        const end = raw.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = raw.toString('latin1', 0, end).split('\r\n');
        const status = Number(lines[0]!.split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        if (status === 100) {
          raw = raw.subarray(end + 4);
          replies.push({ status, headers, body: '' });
          continue;
        }
        const length = Number(headers['content-length'] ?? 0);
        if (raw.length < end + 4 + length) return;
        replies.push({ status, headers, body: raw.toString('utf8', end + 4, end + 4 + length) });
        raw = raw.subarray(end + 4 + length);
        if (replies.filter((r) => r.status !== 100).length >= count && !options.waitForClose && !options.collectMs) finish();
      }
    };
    socket.on('data', (d: Buffer) => {
      raw = Buffer.concat([raw, d]);
      if (!options.collectMs) parse();
    });
    if (options.collectMs) setTimeout(finish, options.collectMs);
    socket.on('end', () => {
      closed = true;
      finish();
    });
    socket.on('error', () => {
      closed = true;
      finish();
    });
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
        if (options.waitForContinue && c !== chunks[0]) {
          for (let i = 0; i < 200 && !replies.some((r) => r.status === 100); i++) await new Promise((r) => setTimeout(r, 10));
        }
        if (!socket.destroyed) socket.write(c);
      }
    });
  });
}

/** A signed DynamoDB request as raw HTTP/1.1 head lines plus its body. */
async function signed(endpoint: string, target: string, body: string, service = 'dynamodb'): Promise<{ head: string[]; body: string }> {
  const amzTarget = service === 'dynamodb' ? `DynamoDB_20120810.${target}` : `${service}.${target}`;
  const req = await signedRequest(endpoint, body, { service, headers: { 'content-type': `application/x-amz-json-1.${service === 'dynamodb' ? 0 : 1}`, 'x-amz-target': amzTarget } });
  const head = [`POST / HTTP/1.1`];
  req.headers.forEach((v, k) => {
    if (k !== 'content-length') head.push(`${k}: ${v}`);
  });
  return { head, body };
}

function withLength(r: { head: string[]; body: string }, extra: string[] = []): string {
  return [...r.head, ...extra, `content-length: ${Buffer.byteLength(r.body)}`].join('\r\n') + '\r\n\r\n' + r.body;
}

describe('HTTP/1.1 over sockets', () => {
  let cellar: CellarProcess;
  let port: number;
  before(async () => {
    cellar = await startCellar();
    port = Number(new URL(cellar.endpoint).port);
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('answers pipelined requests in order on one connection', async () => {
    const list = await signed(cellar.endpoint, 'ListTables', '{}');
    const bad = await signed(cellar.endpoint, 'DescribeTable', '{"TableName":"nope"}');
    const health = 'GET /_cellar/health HTTP/1.1\r\nHost: x\r\n\r\n';
    const { replies, closed } = await exchange(port, [withLength(list) + withLength(bad) + health + withLength(list)], 4);
    assert.deepEqual(replies.map((r) => r.status), [200, 400, 200, 200]);
    assert.deepEqual(JSON.parse(replies[0]!.body), { TableNames: [] });
    assert.equal(JSON.parse(replies[1]!.body).__type, 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException');
    assert.ok(JSON.parse(replies[2]!.body).services.dynamodb);
    assert.equal(closed, false);
    for (const r of replies) {
      assert.ok(r.headers['date'], 'Date header');
      assert.ok(r.headers['x-amzn-requestid'] || r.status === 200);
    }
  });

  it('answers 500 pipelined requests sent in one write, in order', async () => {
    const list = withLength(await signed(cellar.endpoint, 'ListTables', '{}'));
    const health = 'GET /_cellar/health HTTP/1.1\r\nHost: x\r\n\r\n';
    const all = Array.from({ length: 500 }, (_, i) => (i % 2 ? health : list)).join('');
    const { replies } = await exchange(port, [all], 500);
    assert.equal(replies.length, 500);
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      assert.equal('TableNames' in JSON.parse(r.body), i % 2 === 0, `reply ${i}`);
    });
  });

  it('reads a chunked body, cut anywhere across writes', async () => {
    const r = await signed(cellar.endpoint, 'ListTables', '{"Limit":5}');
    const head = [...r.head, 'transfer-encoding: chunked'].join('\r\n') + '\r\n\r\n';
    const chunked = `3\r\n{"L\r\n${(r.body.length - 3).toString(16)}\r\n${r.body.slice(3)}\r\n0\r\n\r\n`;
    const text = head + chunked;
    const pieces = [text.slice(0, 7), text.slice(7, head.length + 2), text.slice(head.length + 2, head.length + 9), text.slice(head.length + 9)];
    const { replies } = await exchange(port, pieces, 1, { gapMs: 20 });
    assert.equal(replies[0]!.status, 200, replies[0]!.body);
    assert.deepEqual(JSON.parse(replies[0]!.body), { TableNames: [] });
  });

  it('sends 100 Continue before the body when asked', async () => {
    const r = await signed(cellar.endpoint, 'ListTables', '{}');
    const head = [...r.head, 'expect: 100-continue', `content-length: ${r.body.length}`].join('\r\n') + '\r\n\r\n';
    const { replies } = await exchange(port, [head, r.body], 1, { waitForContinue: true });
    assert.deepEqual(replies.map((x) => x.status), [100, 200]);
  });

  it('closes after the response for Connection: close and for HTTP/1.0', async () => {
    const r = await signed(cellar.endpoint, 'ListTables', '{}');
    const close = await exchange(port, [withLength(r, ['connection: close'])], 1);
    assert.equal(close.replies[0]!.status, 200);
    assert.equal(close.replies[0]!.headers['connection'], 'close');
    const old = await exchange(port, ['GET /_cellar/health HTTP/1.0\r\n\r\n'], 1);
    assert.equal(old.replies[0]!.status, 200);
    assert.equal(old.replies[0]!.headers['connection'], 'close');
    const oldKeep = await exchange(port, ['GET /_cellar/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 'GET /_cellar/health HTTP/1.0\r\n\r\n'], 2, { gapMs: 20 });
    assert.equal(oldKeep.replies[0]!.headers['connection'], 'keep-alive');
    assert.equal(oldKeep.replies.length, 2);
  });

  it('answers HEAD with headers only', async () => {
    const { raw } = await exchange(port, ['HEAD /_cellar/health HTTP/1.1\r\nHost: x\r\n\r\nGET /_cellar/health HTTP/1.1\r\nHost: x\r\n\r\n'], 1, { collectMs: 500 });
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(Number(/content-length: (\d+)/.exec(raw)![1]) > 0);
    // The HEAD reply's Content-Length describes a body that is not sent; the next bytes are the GET's reply.
    assert.match(raw.slice(raw.indexOf('\r\n\r\n') + 4), /^HTTP\/1\.1 200 OK/);
  });

  const refusals: Array<[string, string, number]> = [
    ['both Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['a malformed request line', 'HELLO\r\n\r\n', 400],
    ['a malformed chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
    ['an oversized head', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, 431],
    ['a declared body over the limit', `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${21 * 1024 * 1024}\r\n\r\n`, 413],
    ['HTTP/2 prior knowledge', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
  ];
  for (const [what, text, status] of refusals) {
    it(`refuses ${what} with ${status}, closes, and goes on serving`, async () => {
      const { replies, closed } = await exchange(port, [text], 1, { waitForClose: true });
      assert.equal(replies[0]!.status, status);
      assert.equal(replies[0]!.headers['connection'], 'close');
      assert.ok(closed);
      const after = await exchange(port, ['GET /_cellar/health HTTP/1.1\r\nHost: x\r\n\r\n'], 1);
      assert.equal(after.replies[0]!.status, 200);
    });
  }

  it('answers a client that half-closes after its requests, then closes', async () => {
    const list = await signed(cellar.endpoint, 'ListSecrets', '{}', 'secretsmanager');
    const tables = await signed(cellar.endpoint, 'ListTables', '{}');
    const replies = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end(withLength(list) + withLength(tables)));
      let raw = '';
      socket.on('data', (d) => (raw += d.toString('latin1')));
      socket.on('close', () => resolve(raw));
      socket.on('error', reject);
      setTimeout(() => reject(new Error(`no close; got ${raw}`)), 10_000).unref();
    });
    assert.equal(replies.split("HTTP/1.1 200 OK").length - 1, 2, replies);
    assert.match(replies, /"SecretList"/);
    assert.match(replies, /"TableNames"/);
  });

  it('keeps serving other connections while one sends its request a byte at a time', async () => {
    const r = await signed(cellar.endpoint, 'ListTables', '{}');
    const slow = exchange(port, [...withLength(r)].map((c) => c), 1, { gapMs: 1 });
    const fast = await exchange(port, [withLength(r)], 1);
    assert.equal(fast.replies[0]!.status, 200);
    assert.equal((await slow).replies[0]!.status, 200);
  });
});
