import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HttpFramingError, RequestParser, parseHead, responseHead, type ParsedRequest } from '../../src/gateway/http1.js';

const LIMITS = { maxHeaderBytes: 1024, maxBodyBytes: 4096 };

/** Feeds `bytes` in pieces cut at `cuts`, collecting every request (or the framing error). */
function frame(bytes: Buffer, cuts: number[] = [], limits = LIMITS): { requests: ParsedRequest[]; error?: HttpFramingError; continues: number } {
  const parser = new RequestParser(limits);
  const requests: ParsedRequest[] = [];
  let continues = 0;
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    parser.push(bytes.subarray(from, to));
    from = to;
    try {
      for (let r = parser.next(); r; r = parser.next()) requests.push(r);
    } catch (e) {
      if (e instanceof HttpFramingError) return { requests, error: e, continues };
      throw e;
    }
    if (parser.takeContinue()) continues++;
  }
  return { requests, continues };
}

const GET = 'GET /_cellar/health?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n';
const POST = 'POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\nContent-Length: 10\r\n\r\n{"a":"é"}';
const CHUNKED = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"a"\r\n6\r\n:"bcd"\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n';

describe('HTTP/1.1 framing', () => {
  it('frames pipelined requests identically at every split offset', () => {
    const bytes = Buffer.from(GET + POST + CHUNKED);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { requests, error } = frame(bytes, [cut]);
      assert.equal(error, undefined, `cut ${cut}`);
      assert.equal(requests.length, 3, `cut ${cut}`);
      assert.equal(requests[0]!.target, '/_cellar/health?x=1');
      assert.equal(requests[0]!.body.length, 0);
      assert.equal(requests[1]!.headers['x-amz-target'], 'DynamoDB_20120810.GetItem');
      assert.equal(requests[1]!.body.toString('utf8'), '{"a":"é"}');
      assert.equal(requests[2]!.body.toString(), '{"a":"bcd"}');
      assert.ok(requests.every((r) => r.keepAlive && r.minor === 1));
    }
  });

  it('frames the same bytes fed one at a time', () => {
    const bytes = Buffer.from(POST + CHUNKED);
    const { requests, error } = frame(bytes, Array.from({ length: bytes.length }, (_, i) => i));
    assert.equal(error, undefined);
    assert.deepEqual(requests.map((r) => r.body.toString()), ['{"a":"é"}', '{"a":"bcd"}']);
  });

  it('lower-cases names, joins repeated headers, keeps the first of single-valued ones', () => {
    const h = parseHead('POST / HTTP/1.1\r\nX-Multi: a\r\nx-multi:  b \r\nHost: one\r\nhost: two\r\nContent-Length: 0');
    assert.equal(h.headers['x-multi'], 'a, b');
    assert.equal(h.headers['host'], 'one');
  });

  it('honours Connection and the HTTP version for keep-alive', () => {
    assert.equal(parseHead('GET / HTTP/1.1\r\nConnection: close').keepAlive, false);
    assert.equal(parseHead('GET / HTTP/1.1\r\nConnection: Keep-Alive, Upgrade').keepAlive, true);
    assert.equal(parseHead('GET / HTTP/1.0').keepAlive, false);
    assert.equal(parseHead('GET / HTTP/1.0\r\nConnection: keep-alive').keepAlive, true);
  });

  it('keeps only the path and query of an absolute-form target', () => {
    assert.equal(parseHead('GET http://localhost:4566/a/b?c=d HTTP/1.1').target, '/a/b?c=d');
    assert.equal(parseHead('GET http://localhost:4566 HTTP/1.1').target, '/');
  });

  it('asks for 100-continue once, only while the body is still to come', () => {
    const head = 'POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n';
    assert.equal(frame(Buffer.from(head + 'ok'), [head.length]).continues, 1);
    assert.equal(frame(Buffer.from(head + 'ok')).continues, 0);
    assert.equal(frame(Buffer.from('POST / HTTP/1.1\r\nExpect: something\r\n\r\n')).error?.status, 417);
  });

  it('ignores empty lines before a request line', () => {
    const { requests } = frame(Buffer.from('\r\n\r\n' + GET));
    assert.equal(requests.length, 1);
  });

  const refused: Array<[string, string, number]> = [
    ['both Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['differing Content-Lengths', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
    ['a non-numeric Content-Length', 'POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc', 400],
    ['a negative Content-Length', 'POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400],
    ['an unknown transfer coding', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
    ['chunked not last', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400],
    ['obsolete line folding', 'GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n', 400],
    ['a space before the colon', 'GET / HTTP/1.1\r\nX-A : a\r\n\r\n', 400],
    ['a bare LF inside a header value', 'GET / HTTP/1.1\r\nX-A: a\nb\r\n\r\n', 400],
    ['a malformed request line', 'GET /\r\n\r\n', 400],
    ['a space in the target', 'GET /a b HTTP/1.1\r\n\r\n', 400],
    ['HTTP/2 prior knowledge', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 505],
    ['a garbage version', 'GET / HTTX/1.1\r\n\r\n', 400],
    ['a malformed chunk size', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
    ['chunk data without its CRLF', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n', 400],
    ['an oversized Content-Length, before the body', 'POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n', 413],
    ['an oversized chunked body', `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'a'.repeat(2048)}\r\n801\r\n`, 413],
    ['an oversized head', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(1100)}\r\n\r\n`, 431],
    ['an oversized head that never ends', `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(1100)}`, 431],
  ];
  for (const [what, text, status] of refused) {
    it(`refuses ${what} with ${status}`, () => {
      const { error, requests } = frame(Buffer.from(text));
      assert.equal(requests.length, 0);
      assert.equal(error?.status, status);
    });
  }

  it('writes response heads with Content-Length and Date, and drops values that would split the response', () => {
    const head = responseHead(200, { 'content-type': 'application/json', 'x-evil': 'a\r\nSet-Cookie: x', 'content-length': '999' }, 12, 'Wed, 25 Nov 2026 00:00:00 GMT', 'close');
    assert.equal(head, 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\ndate: Wed, 25 Nov 2026 00:00:00 GMT\r\nconnection: close\r\n\r\n');
  });
});

/**
 * Feeds bytes cut at `cut` to a parser that holds bodies, deciding each held head with `decide` ('admit' or 'skip'),
 * and collects the requests and the heads it was asked about.
 */
function frameHeld(bytes: Buffer, cut: number, decide: (target: string) => 'admit' | 'skip'): { requests: ParsedRequest[]; heads: string[]; bodyBytesBeforeDecision: number[] } {
  const parser = new RequestParser({ ...LIMITS, holdBodies: true });
  const requests: ParsedRequest[] = [];
  const heads: string[] = [];
  const bodyBytesBeforeDecision: number[] = [];
  for (const piece of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
    parser.push(piece);
    for (let i = 0; i < 100; i++) {
      const r = parser.next();
      if (r) {
        requests.push(r);
        continue;
      }
      const held = parser.heldHead;
      if (!held) break;
      heads.push(held.target);
      bodyBytesBeforeDecision.push(parser.bodyBytes);
      if (decide(held.target) === 'admit') parser.admitBody();
      else parser.skipBody();
    }
  }
  return { requests, heads, bodyBytesBeforeDecision };
}

describe('HTTP/1.1 framing with bodies held until admitted', () => {
  const A = 'POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello';
  const B = 'POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n';

  it('stops at each head with a body, before taking any of it, at every split offset', () => {
    const bytes = Buffer.from(A + GET + B);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { requests, heads, bodyBytesBeforeDecision } = frameHeld(bytes, cut, () => 'admit');
      assert.deepEqual(heads, ['/a', '/b'], `cut ${cut}`);
      assert.deepEqual(bodyBytesBeforeDecision, [0, 0], `cut ${cut}`);
      assert.deepEqual(requests.map((r) => [r.target, r.body.toString()]), [['/a', 'hello'], ['/_cellar/health?x=1', ''], ['/b', 'abcde']], `cut ${cut}`);
    }
  });

  it('reads a skipped body and drops it, then goes on with the next request, at every split offset', () => {
    const bytes = Buffer.from(A + B + GET + A);
    for (let cut = 0; cut <= bytes.length; cut++) {
      let n = 0;
      const { requests, heads } = frameHeld(bytes, cut, () => (n++ % 2 === 0 ? 'skip' : 'admit'));
      assert.deepEqual(heads, ['/a', '/b', '/a'], `cut ${cut}`);
      // The first /a and the last /a are skipped; /b is admitted.
      assert.deepEqual(requests.map((r) => [r.target, r.body.toString()]), [['/b', 'abcde'], ['/_cellar/health?x=1', '']], `cut ${cut}`);
    }
  });

  it('asks for 100-continue only once a body is admitted, and never for a skipped one', () => {
    const head = 'POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n';
    const parser = new RequestParser({ ...LIMITS, holdBodies: true });
    parser.push(Buffer.from(head));
    assert.equal(parser.next(), undefined);
    assert.equal(parser.takeContinue(), false);
    parser.admitBody();
    assert.equal(parser.next(), undefined);
    assert.equal(parser.takeContinue(), true);
    parser.push(Buffer.from('abc' + head));
    assert.equal(parser.next()!.body.toString(), 'abc');
    assert.equal(parser.next(), undefined);
    parser.skipBody();
    assert.equal(parser.next(), undefined);
    assert.equal(parser.takeContinue(), false);
  });

  it('keeps a body that arrives in pieces in one buffer of its length, and one that arrives whole as a view', () => {
    const parser = new RequestParser({ ...LIMITS, holdBodies: true });
    const whole = Buffer.from(A);
    parser.push(whole);
    parser.next();
    parser.admitBody();
    const r = parser.next()!;
    assert.equal(r.body.buffer, whole.buffer, 'a view of the received buffer');
    parser.push(Buffer.from('POST /p HTTP/1.1\r\nContent-Length: 6\r\n\r\nab'));
    parser.next();
    parser.admitBody();
    assert.equal(parser.next(), undefined);
    parser.push(Buffer.from('cd'));
    assert.equal(parser.next(), undefined);
    assert.equal(parser.bodyBytes, 4);
    parser.push(Buffer.from('ef'));
    const pieced = parser.next()!;
    assert.equal(pieced.body.toString(), 'abcdef');
    assert.equal(pieced.body.buffer.byteLength, 6, 'one buffer of the body\'s length');
  });

  it('refuses an oversized Content-Length before holding the head', () => {
    const parser = new RequestParser({ ...LIMITS, holdBodies: true });
    parser.push(Buffer.from('POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n'));
    assert.throws(() => parser.next(), (e: unknown) => e instanceof HttpFramingError && e.status === 413);
  });
});
