/**
 * Encryption in transit for RDS, through the real API and real clients (pg, mysql2, psql, the mariadb CLI):
 *
 * - given the CA bundle Cellar publishes (its URL and its file in the data directory, the same bytes), when a client
 *   connects with the server certificate and host name checked (verify-full / VERIFY_IDENTITY), then it gets TLS;
 *   with another CA or another host name it is refused;
 * - given rds.force_ssl=1 (the postgres15+ default, as on RDS) or require_secure_transport=1, plaintext TCP is refused
 *   while TLS works; when the parameter group turns them off (dynamic: no reboot), both work;
 * - when the clock nears a certificate's expiry, or the endpoint address changes, the instance serves a new
 *   certificate that still verifies;
 * - the CA's private key is nowhere on disk in plaintext; a restarted Cellar keeps its CA.
 *
 * Every wait is bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import pg from 'pg';
import mysql from 'mysql2/promise';
import {
  RDSClient,
  CreateDBInstanceCommand,
  CreateDBParameterGroupCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBParametersCommand,
  DescribeEventsCommand,
  ModifyDBInstanceCommand,
  ModifyDBParameterGroupCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import { SecretBox } from '../../src/crypto/rootkey.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { CertificateAuthority } from '../../src/tls/ca.js';
import { advanceClock, freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const PASSWORD = 'Tls-pass-123';
const CREATE_TIMEOUT_MS = 120_000;
const PUBLIC_ADDRESS = '127.0.0.2';

/** Which TLS session a client saw: encrypted or not, and the server certificate's serial when encrypted. */
interface Seen {
  encrypted: boolean;
}

async function pgConnect(i: DBInstance, ssl: pg.ClientConfig['ssl'], host = i.Endpoint!.Address!): Promise<Seen> {
  const c = new pg.Client({ host, port: i.Endpoint!.Port, user: 'master', password: PASSWORD, database: 'postgres', connectionTimeoutMillis: 5000, ssl });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return { encrypted: (await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]!.ssl };
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * The certificate a PostgreSQL server presents, read the way libpq does: SSLRequest, then a TLS handshake that checks
 * the chain against `ca` and the host name.
 */
async function pgServerCertificate(host: string, port: number, ca: string): Promise<X509Certificate> {
  const socket = net.connect(port, host);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])); // SSLRequest
        socket.once('data', (b) => (b[0] === 0x53 ? resolve() : reject(new Error(`server answered ${String.fromCharCode(b[0]!)} to SSLRequest`))));
      });
      socket.setTimeout(5000, () => reject(new Error('SSLRequest timed out')));
    });
    const secure = tls.connect({ socket, ca, host, ...(net.isIP(host) ? {} : { servername: host }) });
    try {
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      return new X509Certificate(secure.getPeerX509Certificate()!.raw);
    } finally {
      secure.destroy();
    }
  } finally {
    socket.destroy();
  }
}

async function myConnect(i: DBInstance, ssl: mysql.SslOptions | undefined, opts: { host?: string } = {}): Promise<Seen & { cert?: X509Certificate }> {
  // A host name other than the address connected to: mysql2 checks the certificate against the name it was given.
  const host = opts.host ?? i.Endpoint!.Address!;
  const c = await mysql.createConnection({
    host,
    port: i.Endpoint!.Port,
    user: 'master',
    password: PASSWORD,
    connectTimeout: 5000,
    // A fresh object each time: mysql2 resumes TLS sessions per ssl object, and a resumed session skips the checks
    // (and the peer certificate) this test is about.
    ssl: ssl ? { ...ssl } : undefined,
    ...(opts.host ? { stream: net.connect(i.Endpoint!.Port!, i.Endpoint!.Address!) } : {}),
  });
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    const encrypted = String(rows[0]?.Value ?? '') !== '';
    const stream = (c as unknown as { connection: { stream: tls.TLSSocket } }).connection.stream;
    return { encrypted, cert: encrypted ? new X509Certificate(stream.getPeerX509Certificate()!.raw) : undefined };
  } finally {
    c.destroy();
  }
}

function run(command: string, args: string[], env: Record<string, string>): { status: number; out: string } {
  const r = spawnSync(command, args, { env: { PATH: process.env.PATH!, HOME: env.HOME ?? '/nonexistent', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

describe('RDS encryption in transit', { timeout: 15 * 60_000 }, () => {
  let cellar: CellarProcess;
  let rds: RDSClient;
  let dataDir: string;
  let home: string;
  let bundleFromUrl: string;
  let bundleFile: string;
  let otherCa: string;
  const otherStore = new SqliteStore({ path: ':memory:', durability: 'process', cacheMiB: 8 });

  const describeOne = async (id: string): Promise<DBInstance> => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
  const waitAvailable = async (id: string): Promise<DBInstance> =>
    (await waitFor(async () => {
      const i = await describeOne(id);
      return i.DBInstanceStatus === 'available' ? i : undefined;
    }, `${id} to be available`, CREATE_TIMEOUT_MS, 100))!;
  const setParam = async (group: string, name: string, value: string) =>
    rds.send(new ModifyDBParameterGroupCommand({ DBParameterGroupName: group, Parameters: [{ ParameterName: name, ParameterValue: value, ApplyMethod: 'immediate' }] }));

  before(async () => {
    dataDir = tempDir('cellar-rds-tls-');
    home = tempDir('cellar-rds-tls-home-');
    // Public instances get this loopback address as their endpoint, so an endpoint change can be tested here.
    fs.writeFileSync(path.join(dataDir, 'cellar.json'), JSON.stringify({ publicAddress: PUBLIC_ADDRESS }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    const other = new CertificateAuthority({ name: 'rds', store: otherStore, box: new SecretBox(randomBytes(32)), dir: path.join(home, 'other-ca'), now: () => Date.now() });
    otherCa = await other.bundlePem();
  });

  after(async () => {
    await cellar?.stop();
    otherStore.close();
    removeDir(dataDir);
    removeDir(home);
  });

  it('publishes the CA bundle at its URL and in the data directory, the same certificates', async () => {
    bundleFromUrl = await rdsCaBundle(cellar.endpoint);
    bundleFile = path.join(dataDir, 'tls', 'rds-ca-bundle.pem');
    assert.equal(fs.readFileSync(bundleFile, 'utf8'), bundleFromUrl);
    assert.equal(fs.statSync(bundleFile).mode & 0o777, 0o644);
    const ca = new X509Certificate(bundleFromUrl);
    assert.equal(ca.ca, true);
    assert.match(ca.subject, /CN=Cellar RDS Root CA RSA2048 /);
    const res = await fetch(`${cellar.endpoint}/_cellar/tls/rds-ca-bundle.pem`);
    assert.equal(res.headers.get('content-type'), 'application/x-pem-file');
  });

  it('postgres (rds.force_ssl=1 by default): verify-full works, another CA or host name fails, plaintext is refused', async () => {
    const p = await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'default.postgres15' }));
    const force = p.Parameters!.find((x) => x.ParameterName === 'rds.force_ssl')!;
    assert.deepEqual([force.ParameterValue, force.DataType, force.ApplyType, force.AllowedValues, force.IsModifiable], ['1', 'boolean', 'dynamic', '0,1', true]);

    await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'pg-tls', DBParameterGroupFamily: 'postgres15', Description: 'tls' }));
    await rds.send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: 'tls-pg', Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, Port: await freePort(), DBParameterGroupName: 'pg-tls' }),
    );
    const i = await waitAvailable('tls-pg');
    assert.equal(i.Endpoint!.Address, '127.0.0.1');
    // DescribeDBInstances reports the CA and the served certificate's expiry, as RDS does.
    const served = await pgServerCertificate('127.0.0.1', i.Endpoint!.Port!, bundleFromUrl);
    assert.equal(i.CACertificateIdentifier, 'rds-ca-rsa2048-g1');
    assert.equal(i.CertificateDetails!.CAIdentifier, 'rds-ca-rsa2048-g1');
    assert.equal(i.CertificateDetails!.ValidTill!.getTime(), Date.parse(served.validTo));

    // The pg client checks the chain and, for an IP host, the IP address SAN.
    assert.deepEqual(await pgConnect(i, { ca: bundleFromUrl }), { encrypted: true });
    assert.deepEqual(await pgConnect(i, { ca: fs.readFileSync(bundleFile, 'utf8'), servername: 'localhost' }), { encrypted: true });
    await assert.rejects(pgConnect(i, { ca: otherCa }), /self[- ]signed|unable to verify|certificate/i);
    await assert.rejects(pgConnect(i, {}), /self[- ]signed|unable to (get|verify)/i, "Node's public roots do not vouch for it");
    await assert.rejects(pgConnect(i, { ca: bundleFromUrl, servername: 'db.example.com' }), /altnames|does not match/i);
    await assert.rejects(pgConnect(i, false), /no pg_hba\.conf entry for host "127\.0\.0\.1", user "master", database "postgres", no encryption/);

    // psql: verify-full against the bundle file, require, and a refused plaintext connection.
    const conn = (mode: string, extra = '') => `host=127.0.0.1 port=${i.Endpoint!.Port} user=master dbname=postgres sslmode=${mode} sslrootcert=${bundleFile} connect_timeout=5 ${extra}`;
    const psql = (conninfo: string) => run('psql', [conninfo, '-Atc', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'], { PGPASSWORD: PASSWORD, HOME: home });
    for (const mode of ['verify-full', 'require']) {
      const r = psql(conn(mode));
      assert.equal(r.status, 0, r.out);
      assert.equal(r.out.trim(), 't');
    }
    const wrongHost = psql(`host=db.example.com hostaddr=127.0.0.1 port=${i.Endpoint!.Port} user=master dbname=postgres sslmode=verify-full sslrootcert=${bundleFile} connect_timeout=5`);
    assert.notEqual(wrongHost.status, 0);
    assert.match(wrongHost.out, /does not match host name "db\.example\.com"/);
    const plain = psql(conn('disable'));
    assert.notEqual(plain.status, 0);
    assert.match(plain.out, /no pg_hba\.conf entry .*no encryption/);
  });

  it('postgres: rds.force_ssl=0 lets plaintext in without a reboot; =1 refuses it again; TLS works throughout', async () => {
    const i = await describeOne('tls-pg');
    await setParam('pg-tls', 'rds.force_ssl', '0');
    await waitFor(async () => !(await pgConnect(i, false)).encrypted, 'plaintext accepted', 30_000, 100);
    assert.deepEqual(await pgConnect(i, { ca: bundleFromUrl }), { encrypted: true });
    await setParam('pg-tls', 'rds.force_ssl', '1');
    await waitFor(async () => pgConnect(i, false).then(() => false, (e: Error) => /no pg_hba\.conf entry/.test(e.message)), 'plaintext refused again', 30_000, 100);
    assert.deepEqual(await pgConnect(i, { ca: bundleFromUrl }), { encrypted: true });
    assert.equal((await describeOne('tls-pg')).DBParameterGroups![0]!.ParameterApplyStatus, 'in-sync', 'no reboot needed');
  });

  it('mariadb: VERIFY_IDENTITY works, another CA or host name fails; require_secure_transport=1 refuses plaintext, =0 lets it in', async () => {
    await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'maria-tls', DBParameterGroupFamily: 'mariadb10.11', Description: 'tls' }));
    await rds.send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: 'tls-maria', Engine: 'mariadb', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, Port: await freePort(), DBParameterGroupName: 'maria-tls' }),
    );
    const i = await waitAvailable('tls-maria');
    const verify = { ca: bundleFromUrl, verifyIdentity: true, rejectUnauthorized: true };
    // Off by default (as on RDS): both work.
    assert.equal((await myConnect(i, undefined)).encrypted, false);
    assert.equal((await myConnect(i, verify)).encrypted, true);
    assert.equal((await myConnect(i, verify, { host: 'localhost' })).encrypted, true);
    await assert.rejects(myConnect(i, verify, { host: 'db.example.com' }), /altnames|does not match/i);
    await assert.rejects(myConnect(i, { ca: otherCa, rejectUnauthorized: true }), /self[- ]signed|unable to verify|certificate/i);

    // The mariadb CLI (MySQL's --ssl-mode=VERIFY_IDENTITY is --ssl-verify-server-cert here).
    const cli = (extra: string[]) =>
      run('mariadb', ['--no-defaults', '--protocol=TCP', '--host=127.0.0.1', `--port=${i.Endpoint!.Port}`, '--user=master', '--connect-timeout=5', '-N', '-e', "SHOW SESSION STATUS LIKE 'Ssl_cipher'", ...extra], { MYSQL_PWD: PASSWORD, HOME: home });
    const verified = cli([`--ssl-ca=${bundleFile}`, '--ssl-verify-server-cert']);
    assert.equal(verified.status, 0, verified.out);
    assert.match(verified.out, /Ssl_cipher\s+\S+/);
    const wrongCa = path.join(home, 'other-ca.pem');
    fs.writeFileSync(wrongCa, otherCa);
    assert.notEqual(cli([`--ssl-ca=${wrongCa}`, '--ssl-verify-server-cert']).status, 0);

    await setParam('maria-tls', 'require_secure_transport', '1');
    // MariaDB refuses it as RDS documents for MariaDB: "ERROR 1045 (28000): Access denied for user ..." (the same
    // password works over TLS just below).
    await waitFor(async () => myConnect(i, undefined).then(() => false, (e: Error) => /Access denied for user 'master'@'127\.0\.0\.1'/.test(e.message)), 'plaintext refused', 30_000, 100);
    assert.equal((await myConnect(i, verify)).encrypted, true);
    const plainCli = cli(['--skip-ssl']);
    assert.notEqual(plainCli.status, 0);
    assert.match(plainCli.out, /ERROR 1045 \(28000\): Access denied for user 'master'@'127\.0\.0\.1'/);
    assert.equal(cli([`--ssl-ca=${bundleFile}`, '--ssl-verify-server-cert']).status, 0);
    await setParam('maria-tls', 'require_secure_transport', '0');
    await waitFor(async () => !(await myConnect(i, undefined)).encrypted, 'plaintext accepted again', 30_000, 100);
  });

  it('renews certificates before they expire (by Cellar\'s clock), and clients keep verifying', async () => {
    const pgI = await describeOne('tls-pg');
    const myI = await describeOne('tls-maria');
    const pgBefore = await pgServerCertificate('127.0.0.1', pgI.Endpoint!.Port!, bundleFromUrl);
    const myBefore = (await myConnect(myI, { ca: bundleFromUrl }))!.cert!;
    assert.ok(Date.parse(pgBefore.validTo) - Date.now() > 300 * 86_400_000, 'issued for about a year');
    // 340 days on: 25 days left, under the 30-day renewal margin.
    await advanceClock(cellar.endpoint, 340 * 86_400_000);
    const pgAfter = await waitFor(async () => {
      const c = await pgServerCertificate('127.0.0.1', pgI.Endpoint!.Port!, bundleFromUrl);
      return c.serialNumber !== pgBefore.serialNumber ? c : undefined;
    }, 'a renewed postgres certificate', 30_000, 200);
    assert.ok(Date.parse(pgAfter!.validTo) > Date.parse(pgBefore.validTo));
    await waitFor(async () => (await describeOne('tls-pg')).CertificateDetails!.ValidTill!.getTime() === Date.parse(pgAfter!.validTo), 'ValidTill to follow the renewal', 10_000, 100);
    const myAfter = await waitFor(async () => {
      const c = (await myConnect(myI, { ca: bundleFromUrl })).cert!;
      return c.serialNumber !== myBefore.serialNumber ? c : undefined;
    }, 'a renewed mariadb certificate', 30_000, 200);
    assert.ok(Date.parse(myAfter!.validTo) > Date.parse(myBefore.validTo));
    assert.equal(await rdsCaBundle(cellar.endpoint), bundleFromUrl, 'the CA itself is unchanged');
    // 340 days on, tls-pg's daily automated backup has come due too: it is `backing-up` until that is taken.
    const backedUp = async () => (await rds.send(new DescribeEventsCommand({ SourceIdentifier: 'tls-pg', SourceType: 'db-instance', Duration: 60 }))).Events!.some((e) => e.Message === 'Finished DB Instance backup');
    await waitFor(backedUp, "tls-pg's daily backup 340 days on", CREATE_TIMEOUT_MS, 200);
    await waitFor(async () => (await describeOne('tls-pg')).DBInstanceStatus === 'available', 'tls-pg available after its backup', CREATE_TIMEOUT_MS, 100);
  });

  it('reissues the certificate when the endpoint address changes (PubliclyAccessible)', async () => {
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'tls-pg', PubliclyAccessible: true, ApplyImmediately: true }));
    const i = await waitFor(async () => {
      const d = await describeOne('tls-pg');
      return d.DBInstanceStatus === 'available' && d.Endpoint?.Address === PUBLIC_ADDRESS ? d : undefined;
    }, 'tls-pg on its public address', CREATE_TIMEOUT_MS, 100);
    const cert = await pgServerCertificate(PUBLIC_ADDRESS, i!.Endpoint!.Port!, bundleFromUrl);
    assert.equal(cert.checkIP(PUBLIC_ADDRESS), PUBLIC_ADDRESS);
    assert.match(cert.subject, new RegExp(`CN=${PUBLIC_ADDRESS.replace(/\./g, '\\.')}`));
    assert.deepEqual(await pgConnect(i!, { ca: bundleFromUrl }), { encrypted: true });
  });

  it('keeps the CA private key off the disk in plaintext; instance keys are 0600 in their own directories', async () => {
    const files: string[] = [];
    const walk = (d: string) => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const e of entries) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    walk(dataDir);
    const instanceKeys = files.filter((f) => /\/rds\/.*\/tls\/server\.pem$/.test(f));
    assert.equal(instanceKeys.length, 2, instanceKeys.join(', '));
    for (const k of instanceKeys) assert.equal(fs.statSync(k).mode & 0o777, 0o600, k);
    for (const f of files) {
      // Files come and go meanwhile (the continuously archived log's temporaries): one gone was never a key at rest.
      let content: Buffer;
      try {
        if (instanceKeys.includes(f) || fs.statSync(f).size > 64 * 1024 * 1024) continue;
        content = fs.readFileSync(f);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      assert.ok(!content.includes('PRIVATE KEY'), `a private key in plaintext in ${f}`);
    }
  });

  it('a restarted Cellar keeps its CA: the same bundle, and clients that trust it still connect', async () => {
    cellar = await cellar.restart();
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    assert.equal(await rdsCaBundle(cellar.endpoint), bundleFromUrl);
    const i = await waitAvailable('tls-pg');
    assert.deepEqual(await pgConnect(i, { ca: bundleFromUrl }), { encrypted: true });
    for (const id of ['tls-pg', 'tls-maria']) await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }));
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.length === 0, 'instances gone', 60_000, 100);
  });

  it('in-memory mode: a CA of its own per process, published at the same URL', async () => {
    const mem = await startCellar({ inMemory: true, args: ['--quiet'] });
    try {
      const b = await rdsCaBundle(mem.endpoint);
      assert.equal(new X509Certificate(b).ca, true);
      assert.notEqual(b, bundleFromUrl);
      assert.equal(await rdsCaBundle(mem.endpoint), b);
      // Without a data directory, /_cellar/health says where the bundle file is (a private temporary directory).
      const tlsHealth = await waitFor(async () => ((await (await fetch(`${mem.endpoint}/_cellar/health`)).json()) as any).services.rds.tls, 'rds health', 10_000, 50);
      assert.equal(tlsHealth.url, '/_cellar/tls/rds-ca-bundle.pem');
      assert.equal(fs.readFileSync(tlsHealth.bundle, 'utf8'), b);
    } finally {
      await mem.stop();
    }
  });
});
