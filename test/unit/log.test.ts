import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { jsonString, log, logRequestLine, setLogSink } from '../../src/core/log.js';

const samples = ['', 'GetItem', 'dynamodb', '000000000000', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0000\u001f\u007f', 'é', '日本', '\ud800', 'x\udc00y', '😀', '</script>', '\u2028\u2029'];

test('jsonString is JSON.stringify for every string', () => {
  for (const s of samples) assert.equal(jsonString(s), JSON.stringify(s));
  for (let i = 0; i < 2000; i++) {
    let s = '';
    const n = Math.floor(Math.random() * 12);
    for (let j = 0; j < n; j++) s += String.fromCharCode(Math.random() < 0.7 ? 32 + Math.floor(Math.random() * 95) : Math.floor(Math.random() * 0x10000));
    assert.equal(jsonString(s), JSON.stringify(s));
  }
});

test('the request line is the line log() writes for the same fields', () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    const cases: Array<[string, string | null, string | null, number, string | undefined, string | undefined, number]> = [
      ['0e1f', 'dynamodb', 'GetItem', 200, undefined, '000000000000', 0.123],
      ['id', null, null, 400, 'UnknownOperationException', undefined, 12],
      ['id', 'dynamodb', 'Bad"Op\n\u2028', 400, 'ValidationException', '', 0],
      ['id', 'sts', '😀\ud800', 500, '', 'acct"', 1e-7],
    ];
    for (const [requestId, service, operation, status, error, account, latencyMs] of cases) {
      lines.length = 0;
      logRequestLine(requestId, service, operation, status, error, account, latencyMs);
      log('info', 'request', { requestId, service, operation, status, ...(error ? { error } : {}), ...(account ? { account } : {}), latencyMs });
      const [fast, generic] = lines as [string, string];
      // Same text, except the time, which may differ between the two calls.
      assert.match(fast, /^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level"/);
      assert.equal(fast.slice(fast.indexOf('"level"')), generic.slice(generic.indexOf('"level"')));
    }
  } finally {
    setLogSink();
  }
});

test('buffered lines reach stdout: at the end of the turn, past the bound, and on process.exit', () => {
  const mod = fileURLToPath(new URL('../../src/core/log.js', import.meta.url));
  const script = `
    import { log } from ${JSON.stringify(mod)};
    for (let i = 0; i < 2000; i++) log('info', 'line', { i, pad: 'x'.repeat(100) });
    setImmediate(() => {
      log('info', 'after a turn', {});
      setTimeout(() => { log('info', 'last', {}); process.exit(3); }, 5);
    });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, CELLAR_LOG_LEVEL: 'info' } });
  assert.equal(r.status, 3, r.stderr);
  const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { msg: string; i?: number });
  assert.equal(lines.length, 2002);
  for (let i = 0; i < 2000; i++) assert.equal(lines[i]!.i, i);
  assert.deepEqual(lines.slice(2000).map((l) => l.msg), ['after a turn', 'last']);
});
