/**
 * TLS in the relational engine adapters, with real engines and real clients: a certificate installed before the
 * first start is served (verified against its CA, host name checked), the key file is 0600 and the engine user's,
 * forcing TLS refuses plaintext TCP while TLS still works, and a certificate installed while the engine runs is
 * served to the next connection without a restart. Every wait is bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { LocalHost } from '../../src/engines/host.js';
import { createRelationalEngine } from '../../src/engines/index.js';
import type { RelationalEngineAdapter } from '../../src/engines/adapter.js';
import { tlsFile } from '../../src/engines/tls.js';
import { SecretBox } from '../../src/crypto/rootkey.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { CertificateAuthority } from '../../src/tls/ca.js';

const STEP_TIMEOUT_MS = 120_000;
const PASSWORD = 'Tls-test-pass-1';

function newCa(dir: string): { ca: CertificateAuthority; store: SqliteStore } {
  const store = new SqliteStore({ path: ':memory:', durability: 'process', cacheMiB: 8 });
  return { ca: new CertificateAuthority({ name: 'rds', store, box: new SecretBox(randomBytes(32)), dir, now: () => Date.now() }), store };
}

interface Client {
  /** Connects; resolves with whether the session is encrypted, or rejects as the server or TLS check refuses. */
  connect(opts: { tls?: { ca: string; servername?: string } }): Promise<boolean>;
  /** What forces TLS for TCP clients, as RDS names it, with its on value. */
  force: [string, string];
}

function pgClient(port: number): Client {
  return {
    force: ['rds.force_ssl', '1'],
    async connect({ tls }) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'master', password: PASSWORD, database: 'postgres', connectionTimeoutMillis: 5000, ssl: tls ? { ca: tls.ca, servername: tls.servername } : false });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]!.ssl;
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };
}

function mariadbClient(port: number): Client {
  return {
    force: ['require_secure_transport', '1'],
    async connect({ tls }) {
      const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'master', password: PASSWORD, connectTimeout: 5000, ssl: tls ? { ca: tls.ca, verifyIdentity: true } : undefined });
      try {
        const [rows] = await c.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
        return String(rows[0]?.Value ?? '') !== '';
      } finally {
        c.destroy();
      }
    },
  };
}

for (const engineName of ['postgres', 'mariadb'] as const) {
  describe(`engine TLS: ${engineName}`, { timeout: 10 * 60_000 }, () => {
    let host: LocalHost;
    let base: string;
    let engine: RelationalEngineAdapter;
    let client: Client;
    let caA: CertificateAuthority;
    let caB: CertificateAuthority;
    const stores: SqliteStore[] = [];
    const names = { commonName: '127.0.0.1', names: ['127.0.0.1', 'localhost', '::1'] };

    before(async () => {
      host = await LocalHost.create();
      base = fs.mkdtempSync(path.join(os.tmpdir(), `cellar-tls-${engineName}-`));
      fs.chmodSync(base, 0o711);
      const a = newCa(path.join(base, 'ca-a'));
      const b = newCa(path.join(base, 'ca-b'));
      caA = a.ca;
      caB = b.ca;
      stores.push(a.store, b.store);
      const port = await host.findFreePort();
      engine = createRelationalEngine(host, { engine: engineName, name: `tls-${engineName}`, dataDir: path.join(base, 'instance'), port, masterUsername: 'master', masterPassword: PASSWORD, params: {} });
      client = engineName === 'postgres' ? pgClient(port) : mariadbClient(port);
    });

    after(async () => {
      if (engine?.isRunning()) await engine.stop('fast', { stepTimeoutMs: 10_000 }).catch(() => undefined);
      stores.forEach((s) => s.close());
      if (base) fs.rmSync(base, { recursive: true, force: true });
    });

    it('serves the certificate installed before its first start; the key file is 0600 and the engine user\'s', { timeout: STEP_TIMEOUT_MS }, async () => {
      await engine.initialise();
      assert.deepEqual(await engine.installTls(await caA.issueServerCertificate(names)), { live: false });
      const st = fs.statSync(tlsFile({ root: engine.spec.dataDir }));
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.uid, host.engineUser.uid);
      assert.equal(fs.statSync(path.dirname(tlsFile({ root: engine.spec.dataDir }))).mode & 0o777, 0o700);
      await engine.start();
      assert.equal(await client.connect({ tls: { ca: await caA.bundlePem() } }), true);
      assert.equal(await client.connect({ tls: { ca: await caA.bundlePem(), servername: 'localhost' } }), true);
      // Not forced: plaintext TCP still works.
      assert.equal(await client.connect({}), false);
      assert.match((await engine.tlsCertificate())!, /^-----BEGIN CERTIFICATE-----/);
      assert.ok(!(await engine.tlsCertificate())!.includes('PRIVATE KEY'));
    });

    it('refuses a client trusting another CA or checking another host name', { timeout: STEP_TIMEOUT_MS }, async () => {
      await assert.rejects(client.connect({ tls: { ca: await caB.bundlePem() } }), /self[- ]signed|unable to (get|verify)|certificate/i);
      if (engineName === 'postgres') await assert.rejects(client.connect({ tls: { ca: await caA.bundlePem(), servername: 'db.example.com' } }), /altnames|Hostname\/IP does not match/i);
    });

    it('forced TLS: plaintext TCP refused, TLS accepted; unforced again: both', { timeout: STEP_TIMEOUT_MS }, async () => {
      const [name, on] = client.force;
      const applied = await engine.applyParams({ [name]: on });
      assert.deepEqual(applied.pendingRestart, [], 'forcing TLS is dynamic');
      await assert.rejects(client.connect({}), engineName === 'postgres' ? /no pg_hba\.conf entry for host .*(no encryption|SSL off)/ : /insecure transport are prohibited|Access denied/);
      assert.equal(await client.connect({ tls: { ca: await caA.bundlePem() } }), true);
      await engine.applyParams({});
      assert.equal(await client.connect({}), false);
    });

    it('a certificate installed while running is served to the next connection, without a restart', { timeout: STEP_TIMEOUT_MS }, async () => {
      const pid = engine.pid();
      assert.deepEqual(await engine.installTls(await caB.issueServerCertificate(names)), { live: true });
      assert.equal(engine.pid(), pid);
      assert.equal(await client.connect({ tls: { ca: await caB.bundlePem() } }), true);
      await assert.rejects(client.connect({ tls: { ca: await caA.bundlePem() } }));
    });

    it('keeps serving TLS after a restart', { timeout: STEP_TIMEOUT_MS }, async () => {
      await engine.stop('fast');
      await engine.start();
      assert.equal(await client.connect({ tls: { ca: await caB.bundlePem() } }), true);
    });
  });
}
