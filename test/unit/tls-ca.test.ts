/**
 * Cellar's certificate authority (src/tls): the DER it writes is read back by Node's X509Certificate and by the
 * openssl CLI, real TLS handshakes verify against the bundle with hostname checks, the CA's key is stored only
 * sealed, a CA that cannot be opened is replaced (not fatal), and renewal/rollover follow the clock.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { SecretBox } from '../../src/crypto/rootkey.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { CertificateAuthority, CA_VALIDITY_MS, SERVER_VALIDITY_MS } from '../../src/tls/ca.js';
import { ipBytes, pemBlocks, time } from '../../src/tls/x509.js';

const DAY_MS = 86_400_000;
const dirs: string[] = [];
const stores: SqliteStore[] = [];
after(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  stores.forEach((s) => s.close());
});

function setup(opts: { store?: SqliteStore; box?: SecretBox; dir?: string; offsetMs?: () => number } = {}) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'cellar-ca-test-'));
  if (!opts.dir) dirs.push(dir);
  const store = opts.store ?? new SqliteStore({ path: ':memory:', durability: 'process', cacheMiB: 8 });
  if (!opts.store) stores.push(store);
  const box = opts.box ?? new SecretBox(randomBytes(32));
  const ca = new CertificateAuthority({ name: 'rds', store, box, dir, now: () => Date.now() + (opts.offsetMs?.() ?? 0) });
  return { ca, store, box, dir };
}

const names = { commonName: '127.0.0.1', names: ['127.0.0.1', 'localhost', '::1'] };

function openssl(args: string[]): { status: number; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status ?? -1, out: r.stdout + r.stderr };
}

/** A TLS server with the issued certificate; resolves with the client's outcome. */
async function handshake(cert: { certPem: string; keyPem: string }, client: { ca: string; servername?: string; host?: string }): Promise<string> {
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end('hi'));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let s: TLSSocket | undefined;
  try {
    return await new Promise<string>((resolve) => {
      s = connect({ port, host: client.host ?? '127.0.0.1', ca: client.ca, servername: client.servername, timeout: 5000 }, () => resolve('ok'));
      s.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
      s.on('timeout', () => resolve('timeout'));
    });
  } finally {
    s?.destroy();
    await new Promise((r) => server.close(r));
  }
}

describe('X.509 encoding pieces', () => {
  it('IP addresses of every spelling become 4 or 16 bytes', () => {
    assert.equal(ipBytes('127.0.0.1').toString('hex'), '7f000001');
    assert.equal(ipBytes('::1').toString('hex'), '0'.repeat(31) + '1');
    assert.equal(ipBytes('fe80::1:2').toString('hex'), 'fe80' + '0'.repeat(20) + '00010002');
    assert.equal(ipBytes('::ffff:10.0.0.1').toString('hex'), '0'.repeat(20) + 'ffff0a000001');
    assert.throws(() => ipBytes('localhost'));
  });
  it('times before 2050 are UTCTime, from 2050 GeneralizedTime', () => {
    assert.equal(time(Date.UTC(2049, 11, 31, 23, 59, 59)).toString('latin1'), '\x17\x0d491231235959Z');
    assert.equal(time(Date.UTC(2050, 0, 1)).toString('latin1'), '\x18\x0f20500101000000Z');
  });
});

describe('certificate authority', () => {
  it('creates a CA and publishes it as a bundle file (0644); its key is stored only sealed', async () => {
    const { ca, store, dir } = setup();
    const bundle = await ca.bundlePem();
    assert.equal(readFileSync(ca.bundlePath, 'utf8'), bundle);
    assert.equal(ca.bundlePath, join(dir, 'rds-ca-bundle.pem'));
    assert.equal(statSync(ca.bundlePath).mode & 0o777, 0o644);
    const certs = pemBlocks(bundle);
    assert.equal(certs.length, 1);
    const x = new X509Certificate(certs[0]!);
    assert.equal(x.ca, true);
    assert.ok(x.verify(x.publicKey), 'self-signed');
    assert.match(x.subject, /CN=Cellar RDS Root CA RSA2048 [0-9a-f]{8}/);
    assert.ok(Date.parse(x.validTo) - Date.now() > CA_VALIDITY_MS - 2 * DAY_MS);
    // Nothing in the store reads as a private key.
    for (const [, v] of store.keyspace('tls_authorities').scan()) assert.ok(!v.toString('utf8').includes('PRIVATE KEY'));
    // openssl reads it as a CA with the usages a root needs.
    const text = openssl(['x509', '-in', ca.bundlePath, '-noout', '-text']);
    assert.equal(text.status, 0, text.out);
    assert.match(text.out, /CA:TRUE, pathlen:0/);
    assert.match(text.out, /Certificate Sign, CRL Sign/);
  });

  it('issues server certificates that openssl and real TLS clients verify, names included', async () => {
    const { ca, dir } = setup();
    const issued = await ca.issueServerCertificate(names);
    const x = new X509Certificate(issued.certPem);
    const root = new X509Certificate(pemBlocks(await ca.bundlePem())[0]!);
    assert.ok(x.checkIssued(root) && x.verify(root.publicKey));
    assert.equal(x.ca, false);
    assert.equal(x.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x.checkIP('::1'), '::1');
    assert.equal(x.checkHost('localhost'), 'localhost');
    assert.equal(x.checkHost('db.example.com'), undefined);
    assert.match(x.subject, /CN=127\.0\.0\.1$/);
    assert.ok(Math.abs(issued.notAfterMs - (Date.now() + SERVER_VALIDITY_MS)) < 60_000);
    assert.match(issued.keyPem, /^-----BEGIN PRIVATE KEY-----/);

    const leaf = join(dir, 'leaf.pem');
    writeFileSync(leaf, issued.certPem);
    for (const check of [['-verify_ip', '127.0.0.1'], ['-verify_ip', '::1'], ['-verify_hostname', 'localhost']]) {
      const r = openssl(['verify', '-CAfile', ca.bundlePath, '-purpose', 'sslserver', ...check, leaf]);
      assert.equal(r.status, 0, r.out);
    }
    assert.notEqual(openssl(['verify', '-CAfile', ca.bundlePath, '-verify_hostname', 'db.example.com', leaf]).status, 0);

    const bundle = await ca.bundlePem();
    assert.equal(await handshake(issued, { ca: bundle, host: '127.0.0.1' }), 'ok');
    assert.equal(await handshake(issued, { ca: bundle, servername: 'localhost' }), 'ok');
    assert.equal(await handshake(issued, { ca: bundle, servername: 'db.example.com' }), 'ERR_TLS_CERT_ALTNAME_INVALID');
    const other = setup().ca;
    assert.equal(await handshake(issued, { ca: await other.bundlePem(), servername: 'localhost' }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('the same store gives the same CA back; a store sealed under another root key gets a new CA, not an error', async () => {
    const first = setup();
    const bundle = await first.ca.bundlePem();
    const again = setup({ store: first.store, box: first.box, dir: first.dir }).ca;
    assert.equal(await again.bundlePem(), bundle);
    const otherKey = setup({ store: first.store, dir: first.dir }).ca;
    const replaced = await otherKey.bundlePem();
    assert.notEqual(replaced, bundle);
    assert.match(String(otherKey.health()['replacedUnusableCa']), /cannot be opened with this root key/);
    // A damaged record is replaced too.
    first.store.keyspace('tls_authorities').put(Buffer.from('rds'), Buffer.from('{"authorities":[{"certPem":"garbage","keySealed":"x","createdAtMs":0}]}'));
    const fromDamaged = setup({ store: first.store, box: first.box, dir: first.dir }).ca;
    assert.equal(pemBlocks(await fromDamaged.bundlePem()).length, 1);
  });

  it('says why a certificate must be reissued: none, other CA, names, near expiry', async () => {
    let offset = 0;
    const { ca } = setup({ offsetMs: () => offset });
    assert.equal(await ca.renewalReason(undefined, names), 'no certificate yet');
    const issued = await ca.issueServerCertificate(names);
    assert.equal(await ca.renewalReason(issued.certPem, names), undefined);
    assert.equal(await ca.renewalReason(issued.certPem, { commonName: '10.1.2.3', names: ['10.1.2.3', 'localhost'] }), 'it does not name 10.1.2.3');
    assert.equal(await ca.renewalReason(issued.certPem, { commonName: '127.0.0.1', names: ['127.0.0.1'] }), 'it names hosts that are no longer the endpoint');
    const foreign = await setup().ca.issueServerCertificate(names);
    assert.equal(await ca.renewalReason(foreign.certPem, names), 'it was issued by another CA');
    offset = SERVER_VALIDITY_MS - 29 * DAY_MS;
    assert.match((await ca.renewalReason(issued.certPem, names))!, /^it expires /);
    // Issued while the clock is ahead: notBefore still follows the real time, so clients accept it now.
    const ahead = await ca.issueServerCertificate(names);
    assert.ok(Date.parse(new X509Certificate(ahead.certPem).validFrom) <= Date.now());
    assert.equal(await handshake(ahead, { ca: await ca.bundlePem(), servername: 'localhost' }), 'ok');
  });

  it('rolls over before expiry: the new CA signs, the old one stays in the bundle until it expires', async () => {
    let offset = 0;
    const { ca } = setup({ offsetMs: () => offset });
    const oldBundle = await ca.bundlePem();
    const oldIssued = await ca.issueServerCertificate(names);
    offset = CA_VALIDITY_MS - 365 * DAY_MS;
    assert.equal(await ca.maintain(), undefined);
    const both = pemBlocks(await ca.bundlePem());
    assert.equal(both.length, 2);
    assert.equal(both[1], pemBlocks(oldBundle)[0], 'the old CA is still trusted');
    assert.equal(await ca.renewalReason(oldIssued.certPem, names), 'it was issued by another CA');
    const fresh = new X509Certificate((await ca.issueServerCertificate(names)).certPem);
    assert.ok(fresh.checkIssued(new X509Certificate(both[0]!)));
    offset = CA_VALIDITY_MS + DAY_MS;
    await ca.maintain();
    assert.equal(pemBlocks(await ca.bundlePem()).length, 1, 'the expired CA left the bundle');
  });
});
