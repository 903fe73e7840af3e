/**
 * The console's pure parts: who may use it (console/guard.ts, and the route refusing before it reads anything), the
 * awsQuery form it writes for a service, the scopes it finds in the store, and the log's bounded ring of recent
 * lines and its bounded followers (core/log.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { consoleRefusal, isLoopbackAddress, isLoopbackHost } from '../../src/console/guard.js';
import { flattenQuery, ServiceCaller } from '../../src/console/invoke.js';
import { scopesWithResources } from '../../src/console/scopes.js';
import { ConsoleApi } from '../../src/console/api.js';
import { consoleRoute } from '../../src/console/routes.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { systemClock } from '../../src/core/clock.js';
import { followLogs, log, MAX_LOG_FOLLOWERS, recentLogLines, setLogSink } from '../../src/core/log.js';
import type { WireRequest } from '../../src/protocols/types.js';

const get = (path: string, headers: Record<string, string>, remoteAddress?: string): WireRequest => ({ method: 'GET', path, query: new URLSearchParams(), headers, body: Buffer.alloc(0), ...(remoteAddress ? { remoteAddress } : {}) });

describe('console guard', () => {
  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
    for (const a of [undefined, '', '10.0.0.1', '192.168.1.4', '::ffff:10.0.0.1', 'fe80::1', '1127.0.0.1', '127.0.0.1.evil']) assert.ok(!isLoopbackAddress(a), String(a));
  });
  it('knows loopback host names', () => {
    for (const h of ['localhost', 'localhost:4566', 'LOCALHOST:4566', 'app.localhost:80', '127.0.0.1', '127.0.0.1:4566', '[::1]', '[::1]:4566']) assert.ok(isLoopbackHost(h), h);
    for (const h of [undefined, '', 'evil.example', 'evil.example:4566', 'localhost.evil.example', '127.0.0.1.nip.io', '[::2]:4566', '[::1]x', 'localhost:abc', '10.0.0.1:4566']) assert.ok(!isLoopbackHost(h), String(h));
  });
  it('refuses other origins for data, not for the page', () => {
    const host = { host: 'localhost:4566' };
    assert.equal(consoleRefusal(get('/_cellar/console/api/resources', host, '127.0.0.1'), true), undefined);
    assert.equal(consoleRefusal(get('/_cellar/console/api/resources', { ...host, origin: 'http://localhost:4566', 'sec-fetch-site': 'same-origin' }, '127.0.0.1'), true), undefined);
    assert.ok(consoleRefusal(get('/x', { ...host, origin: 'http://evil.example' }, '127.0.0.1'), true));
    assert.ok(consoleRefusal(get('/x', { ...host, origin: 'http://localhost:9999' }, '127.0.0.1'), true));
    assert.ok(consoleRefusal(get('/x', { ...host, 'sec-fetch-site': 'cross-site' }, '127.0.0.1'), true));
    assert.ok(consoleRefusal(get('/x', { ...host, 'sec-fetch-site': 'same-site' }, '127.0.0.1'), true));
    // The page itself may be opened from a link elsewhere; it holds no data.
    assert.equal(consoleRefusal(get('/_cellar/console/', { ...host, 'sec-fetch-site': 'cross-site' }, '127.0.0.1'), false), undefined);
    // Never from another machine, nor under a foreign name.
    assert.ok(consoleRefusal(get('/_cellar/console/', host, '10.1.2.3'), false));
    assert.ok(consoleRefusal(get('/_cellar/console/', host), false));
    assert.ok(consoleRefusal(get('/_cellar/console/', { host: 'evil.example' }, '127.0.0.1'), false));
  });
  it('answers 403 to a client on another machine, before reading anything', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      let read = false;
      const caller = new ServiceCaller([], systemClock);
      const api = new ConsoleApi(store, caller, () => {
        read = true;
        return undefined;
      });
      const route = consoleRoute(api);
      for (const path of ['/_cellar/console/', '/_cellar/console/api/resources', '/_cellar/console/api/logs']) {
        const res = await route(get(path, { host: 'localhost:4566' }, '192.168.1.20'));
        assert.equal(res.status, 403, path);
        assert.equal(res.stream, undefined);
      }
      assert.equal(read, false);
      const page = await route(get('/_cellar/console/', { host: 'localhost:4566' }, '127.0.0.1'));
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-security-policy']), /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
      // Only the console's own files: a path is looked up, never joined onto a directory.
      for (const name of ['../../package.json', '..%2f..%2fpackage.json', 'vendor/../app.js', 'constructor', '__proto__']) {
        assert.equal((await route(get(`/_cellar/console/${name}`, { host: 'localhost' }, '127.0.0.1'))).status, 404, name);
      }
    } finally {
      store.close();
    }
  });
});

describe('console service calls', () => {
  it('writes awsQuery members, lists and timestamps as the SDKs do', () => {
    const out = new URLSearchParams();
    flattenQuery({ A: 'x', N: 3, B: true, L: [{ Name: 'n', Value: 'v' }, { Name: 'm' }], T: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), Skip: undefined }, '', out);
    assert.equal(out.toString(), 'A=x&N=3&B=true&L.member.1.Name=n&L.member.1.Value=v&L.member.2.Name=m&T=2026-01-02T03%3A04%3A05.000Z');
  });
  it('finds each account and region that holds resources, once', () => {
    const store = new SqliteStore({ path: ':memory:' });
    try {
      const put = (space: string, key: string) => store.keyspace(space).put(Buffer.from(key, 'utf8'), Buffer.from('{}'));
      put('ddb_meta', 't\u0000111111111111\u0000us-east-1\u0000orders');
      put('ddb_meta', 't\u0000111111111111\u0000us-east-1\u0000users');
      put('ddb_meta', 't\u0000222222222222\u0000eu-west-1\u0000a');
      put('rds_instances', '111111111111/us-east-1/db1');
      put('rds_instances', '111111111111/us-west-2/db2');
      put('kms_keys', '333333333333/ap-south-1/k');
      put('sm_secrets', 'not-an-account/us-east-1/s');
      assert.deepEqual(scopesWithResources(store), {
        truncated: false,
        scopes: [
          { account: '111111111111', region: 'us-east-1' },
          { account: '111111111111', region: 'us-west-2' },
          { account: '222222222222', region: 'eu-west-1' },
          { account: '333333333333', region: 'ap-south-1' },
        ],
      });
    } finally {
      store.close();
    }
  });
});

describe('the log ring and its followers', () => {
  it('keeps the recent lines, bounded, oldest first', () => {
    setLogSink(() => undefined);
    try {
      for (let i = 0; i < 1200; i++) log('info', 'ring test', { i });
      const lines = recentLogLines();
      assert.equal(lines.length, 500);
      assert.equal((JSON.parse(lines[0]!) as { i: number }).i, 700);
      assert.equal((JSON.parse(lines.at(-1)!) as { i: number }).i, 1199);
      log('info', 'long', { text: 'x'.repeat(10_000) });
      assert.equal(recentLogLines().at(-1)!.length, 4096);
    } finally {
      setLogSink();
    }
  });
  it('follows until let go, and refuses followers past the bound', () => {
    setLogSink(() => undefined);
    const stops: Array<() => void> = [];
    try {
      const seen: string[] = [];
      const stop = followLogs((line) => seen.push(line))!;
      log('info', 'first');
      stop();
      log('info', 'second');
      assert.equal(seen.length, 1);
      assert.match(seen[0]!, /"first"/);
      for (let i = 0; i < MAX_LOG_FOLLOWERS; i++) stops.push(followLogs(() => undefined)!);
      assert.equal(followLogs(() => undefined), undefined);
      // A follower that throws does not stop logging.
      stops.pop()!();
      stops.push(followLogs(() => {
        throw new Error('boom');
      })!);
      log('info', 'still logged');
      assert.match(recentLogLines().at(-1)!, /still logged/);
    } finally {
      for (const s of stops) s();
      setLogSink();
    }
  });
});
