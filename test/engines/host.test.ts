/**
 * LocalHost against the real machine: user switching, bounded helper commands, log files, exit watching, process
 * groups, directory ownership checks, ports, and engine version discovery.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { LocalHost, settlesWithin } from '../../src/engines/host.js';
import { SecretBox } from '../../src/crypto/rootkey.js';
import { listPostgresInstallations, mariadbVersion, redisVersion } from '../../src/engines/versions.js';
import { createEngine } from '../../src/engines/index.js';
import { MariadbEngine } from '../../src/engines/mariadb/adapter.js';

describe('LocalHost', () => {
  let host: LocalHost;
  let base: string;

  before(async () => {
    host = await LocalHost.create();
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-host-'));
    fs.chmodSync(base, 0o711);
  });
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  it('runs engines as an unprivileged user', async () => {
    const r = await host.run({ command: 'id', args: ['-u'], timeoutMs: 5000 });
    assert.equal(r.code, 0);
    assert.equal(Number(r.stdout.trim()), host.engineUser.uid);
    if (process.getuid?.() === 0) assert.notEqual(host.engineUser.uid, 0);
    const me = await host.run({ command: 'id', args: ['-u'], asEngineUser: false, timeoutMs: 5000 });
    assert.equal(Number(me.stdout.trim()), process.getuid?.());
  });

  it('passes stdin, not the environment of Cellar', async () => {
    process.env.CELLAR_TEST_SECRET = 'must-not-leak';
    try {
      const r = await host.run({ command: 'sh', args: ['-c', 'cat; echo "[$CELLAR_TEST_SECRET]"'], stdin: 'from-stdin\n', timeoutMs: 5000 });
      assert.equal(r.stdout, 'from-stdin\n[]\n');
    } finally {
      delete process.env.CELLAR_TEST_SECRET;
    }
  });

  it('kills a helper command and its children when it overruns', async () => {
    const t0 = Date.now();
    const r = await host.run({ command: 'sh', args: ['-c', 'sleep 30 & sleep 30'], timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(Date.now() - t0 < 5000);
  });

  it('reports a missing binary as exit 127 instead of hanging', async () => {
    const r = await host.run({ command: '/nonexistent/bin', args: [], timeoutMs: 5000 });
    assert.equal(r.code, 127);
  });

  it('spawns with output to a log file, watches the exit and signals the group', async () => {
    const dir = path.join(base, 'spawn');
    await host.ensureDir(dir);
    const logFile = path.join(dir, 'out.log');
    const p = host.spawn({ command: 'sh', args: ['-c', 'echo started; sleep 30 & wait'], cwd: dir, logFile });
    assert.ok(p.pid > 0);
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(logFile) || !fs.readFileSync(logFile, 'utf8').includes('started')) {
      assert.ok(Date.now() < deadline, 'log line never appeared');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(p.exitStatus(), undefined);
    assert.equal(p.signal('SIGTERM', { group: true }), true);
    assert.ok(await settlesWithin(p.exited, 5000));
    assert.deepEqual(p.exitStatus(), { code: null, signal: 'SIGTERM' });
    assert.equal(p.signal('SIGTERM'), false, 'signalling an exited process is refused');
    assert.equal(fs.statSync(logFile).mode & 0o777, 0o600);
  });

  it('creates private directories owned by the engine user', async () => {
    const dir = path.join(base, 'a', 'b');
    await host.ensureDir(dir);
    const st = fs.statSync(dir);
    assert.equal(st.mode & 0o777, 0o700);
    assert.equal(st.uid, host.engineUser.uid);
  });

  it('refuses a directory the engine user could not reach', { skip: process.getuid?.() !== 0 ? 'only meaningful when Cellar runs as root' : false }, async () => {
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-closed-'));
    try {
      fs.chmodSync(closed, 0o700);
      await assert.rejects(host.ensureDir(path.join(closed, 'x')), /cannot enter .*cellar-closed-/);
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
    }
  });

  it('never follows a symlink planted where a directory should be', async () => {
    const target = path.join(base, 'target');
    fs.mkdirSync(target, { mode: 0o755 });
    const link = path.join(base, 'planted');
    fs.symlinkSync(target, link);
    await assert.rejects(host.ensureDir(link), /ELOOP|ENOTDIR|symbolic/);
    assert.equal(fs.statSync(target).mode & 0o777, 0o755, 'target untouched');
    assert.equal(fs.statSync(target).uid, process.getuid?.());
  });

  it('never reads, writes or logs through a planted symlink', async () => {
    const dir = path.join(base, 'links');
    await host.ensureDir(dir);
    const secret = path.join(base, 'secret.txt');
    fs.writeFileSync(secret, 'root only', { mode: 0o600 });
    fs.symlinkSync(secret, path.join(dir, 'engine.log'));
    await assert.rejects(host.readFile(path.join(dir, 'engine.log')), /ELOOP/);
    await assert.rejects(host.readFileRange(path.join(dir, 'engine.log'), 0, 100), /ELOOP/);
    assert.equal(await host.fileInfo(path.join(dir, 'engine.log')), undefined, 'a link is no file to list');
    assert.throws(() => host.spawn({ command: 'true', args: [], logFile: path.join(dir, 'engine.log') }), /ELOOP/);
    await host.writeFile(path.join(dir, 'engine.log'), 'replaced');
    assert.equal(fs.readFileSync(secret, 'utf8'), 'root only', 'the link target is untouched');
    assert.equal(fs.lstatSync(path.join(dir, 'engine.log')).isFile(), true, 'the link itself was replaced');
  });

  it('refuses a directory that belongs to another user', { skip: process.getuid?.() !== 0 ? 'needs root to create it' : false }, async () => {
    const foreign = path.join(base, 'foreign');
    fs.mkdirSync(foreign);
    fs.chownSync(foreign, 65534, 65534);
    await assert.rejects(host.ensureDir(foreign), /belongs to uid 65534/);
  });

  it('writes files atomically with owner and mode', async () => {
    const f = path.join(base, 'a', 'f.conf');
    await host.writeFile(f, 'one');
    await host.writeFile(f, 'two', { mode: 0o640 });
    assert.equal(fs.readFileSync(f, 'utf8'), 'two');
    assert.equal(fs.statSync(f).mode & 0o777, 0o640);
    assert.equal(fs.statSync(f).uid, host.engineUser.uid);
    assert.deepEqual(fs.readdirSync(path.dirname(f)).filter((n) => n.includes('.tmp-')), []);
    assert.ok((await host.diskUsageBytes(base)) > 0);
    await host.syncTree(base);
    await host.syncTreeByWalk(base);
  });

  it('seals the secret files it keeps for Cellar, and reads back only what its own key sealed', async () => {
    const dir = path.join(base, 'secrets');
    await host.ensureDir(dir);
    const file = path.join(dir, 'replication.secret');
    await host.writeSecret(file, 'pa55-word-in-clear');
    const raw = fs.readFileSync(file, 'utf8');
    assert.ok(!raw.includes('pa55-word-in-clear'), 'the plaintext is not on disk');
    assert.match(raw, /^cellar-sealed:v1:[A-Za-z0-9+/=]+\n$/);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(file).uid, process.getuid?.(), "Cellar's own file, not the engine user's");
    assert.equal(await host.readSecret(file), 'pa55-word-in-clear');
    // Bound to its name: the same sealed text under another name does not open.
    const other = path.join(dir, 'admin.secret');
    fs.writeFileSync(other, raw, { mode: 0o600 });
    assert.equal(await host.readSecret(other), undefined);
    // Another root key (another Cellar's files) does not open either.
    const stranger = await LocalHost.create({ secretBox: new SecretBox(randomBytes(32)) });
    assert.equal(await stranger.readSecret(file), undefined);
    // A plaintext file from a version before sealing is read, and sealed in place.
    fs.writeFileSync(other, 'old-plain\n', { mode: 0o600 });
    assert.equal(await host.readSecret(other), 'old-plain');
    assert.match(fs.readFileSync(other, 'utf8'), /^cellar-sealed:v1:/);
    assert.equal(await host.readSecret(other), 'old-plain');
    assert.equal(await host.readSecret(path.join(dir, 'missing.secret')), undefined);
  });

  it('reads a byte range of a file, and describes it', async () => {
    const file = path.join(base, 'range.log');
    fs.writeFileSync(file, 'line one\nline two\n');
    assert.equal((await host.readFileRange(file, 5, 8))?.toString(), 'one\nline');
    assert.equal((await host.readFileRange(file, 14, 100))?.toString(), 'two\n', 'a range past the end stops there');
    assert.equal((await host.readFileRange(file, 100, 10))?.length, 0);
    assert.equal(await host.readFileRange(path.join(base, 'missing.log'), 0, 10), undefined);
    const info = await host.fileInfo(file);
    assert.equal(info?.size, 18);
    assert.ok(Math.abs(info!.mtimeMs - Date.now()) < 60_000);
    assert.equal(await host.fileInfo(base), undefined, 'a directory is no file');
  });

  it('finds free ports and notices taken ones', async () => {
    const port = await host.findFreePort();
    assert.equal(await host.isPortFree(port, '127.0.0.1'), true);
    const server = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      assert.equal(await host.isPortFree(port, '127.0.0.1'), false);
    } finally {
      server.close();
    }
  });

  it('describes processes by pid', async () => {
    const me = await host.processInfo(process.pid);
    assert.equal(me.state, 'running');
    assert.ok(me.cmdline[0]!.includes('node'));
    assert.equal((await host.processInfo(2 ** 22 + 12345)).state, 'gone');
  });

  it('discovers the installed engines and their versions', async () => {
    const pgs = await listPostgresInstallations(host);
    assert.ok(pgs.length >= 1, 'PostgreSQL from Debian is installed here');
    const v15 = pgs.find((p) => p.major === 15);
    assert.ok(v15, JSON.stringify(pgs));
    assert.equal(v15.binDir, '/usr/lib/postgresql/15/bin');
    assert.match(v15.version, /^15\.\d+$/);
    assert.equal(v15.source, 'debian');
    assert.match((await mariadbVersion(host))!.version, /^10\.11\.\d+$/);
    assert.match((await redisVersion(host))!.version, /^7\.\d+\.\d+$/);
  });

  it('serves the mysql engine with the MariaDB adapter', () => {
    const e = createEngine(host, { engine: 'mysql', name: 'm', dataDir: path.join(base, 'm'), port: 3306, masterUsername: 'admin', masterPassword: 'x' });
    assert.ok(e instanceof MariadbEngine);
    assert.throws(() => createEngine(host, { engine: 'postgres', name: 'p', dataDir: 'relative', port: 5432, masterUsername: 'a', masterPassword: 'x' }), /absolute/);
    assert.throws(() => createEngine(host, { engine: 'postgres', name: 'p', dataDir: '/x', port: 5432, masterUsername: 'rdsadmin', masterPassword: 'x' }), /reserved/);
  });

  it('gives its children their signal when Cellar dies (SIGKILL), as the engine user', async () => {
    assert.equal(host.stopsChildrenWithCellar, true, 'setpriv (util-linux) is installed here');
    const hostModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/engines/host.js');
    // A stand-in Cellar: one engine-like child (spawn, SIGTERM on death) and one helper command (run, SIGKILL).
    const script = `
      import { LocalHost } from ${JSON.stringify(hostModule)};
      const host = await LocalHost.create();
      const engine = host.spawn({ command: 'sh', args: ['-c', 'trap "echo got-term; exit 0" TERM; while :; do sleep 0.05; done'], parentDeathSignal: 'SIGTERM' });
      void host.run({ command: 'sleep', args: ['300'], timeoutMs: 600_000 });
      setTimeout(() => console.log('PIDS ' + engine.pid), 200);
      setInterval(() => {}, 1000);
    `;
    const cellar = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    cellar.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const deadline = Date.now() + 10_000;
    while (!/PIDS \d+/.test(out)) {
      assert.ok(Date.now() < deadline, 'stand-in Cellar did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    const children = fs
      .readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => {
        try {
          return new RegExp(`^PPid:\\s+${cellar.pid}$`, 'm').test(fs.readFileSync(`/proc/${e}/status`, 'utf8'));
        } catch {
          return false;
        }
      })
      .map(Number);
    assert.equal(children.length, 2, `two children: ${children.join(', ')}`);
    for (const pid of children) assert.equal(fs.statSync(`/proc/${pid}`).uid, host.engineUser.uid, 'runs as the engine user');
    const exited = new Promise((r) => cellar.once('exit', r));
    cellar.kill('SIGKILL');
    await exited;
    const gone = Date.now() + 5000;
    for (;;) {
      const states = await Promise.all(children.map((pid) => host.processInfo(pid)));
      if (states.every((st) => st.state !== 'running')) break;
      assert.ok(Date.now() < gone, `children still running 5 s after Cellar died: ${children.join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
