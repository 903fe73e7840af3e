/**
 * Given a Redis instance (what ElastiCache will run) and its master user (ElastiCache's default user: every command
 * but the restricted ones), when the master tries each known way out of the instance with redis-cli over TCP, then
 * the server refuses it and no host file is written: configuration (dir, dbfilename), persistence commands that
 * write files, modules, DEBUG, user management, password hashes, replication wiring, and the Lua sandbox. MONITOR
 * never shows Cellar's admin secret.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalHost } from '../../src/engines/host.js';
import { RedisEngine } from '../../src/engines/redis/adapter.js';
import { RespClient } from '../../src/engines/redis/resp.js';
import { redisCli, type Login } from '../helpers/clients.js';

const SECRET = `host-secret-${process.pid}-${Date.now()}`;

describe('Redis: the master user cannot escape the instance', { timeout: 5 * 60_000 }, () => {
  let host: LocalHost;
  let base: string;
  let hostFiles: string;
  let secretFile: string;
  let engine: RedisEngine;
  let master: Login;
  let adminSecret: string;

  const cli = (...args: string[]) => redisCli(master, args);
  /** Runs a command as the master and asserts the reply is an error matching `why`. */
  const refused = async (args: string[], why: RegExp): Promise<void> => {
    const r = await cli(...args);
    const out = r.stdout + r.stderr;
    assert.match(out, why, `${args.join(' ')}: ${out}`);
    assert.ok(!out.includes(SECRET), `${args.join(' ')} leaked the host secret`);
  };
  const NOPERM = /NOPERM this user has no permissions to run the '[a-z|]+' command/;
  const hostFilesNow = () => fs.readdirSync(hostFiles).sort();

  before(async () => {
    host = await LocalHost.create();
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-redis-escalation-'));
    fs.chmodSync(base, 0o711);
    hostFiles = path.join(base, 'host-files');
    await host.ensureDir(hostFiles, 0o755);
    secretFile = path.join(hostFiles, 'secret.txt');
    await host.writeFile(secretFile, SECRET + '\n', { mode: 0o644 });
    engine = new RedisEngine(host, {
      engine: 'redis',
      name: 'escalation-redis',
      dataDir: path.join(base, 'instance'),
      port: await host.findFreePort(),
      masterUsername: 'default',
      masterPassword: 'escape-pw',
    });
    await engine.initialise();
    await engine.start();
    master = { port: engine.spec.port, user: 'default', password: 'escape-pw' };
    adminSecret = (await host.readSecret(path.join(engine.layout.conf, 'admin.secret')))!;
    assert.ok(adminSecret, 'the admin secret opens under the host key');
  });

  after(async () => {
    if (engine?.isRunning()) await engine.stop('fast');
    if (!process.env.CELLAR_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
  });

  it('is still the ElastiCache master: data, scripts, introspection', async () => {
    assert.equal((await cli('SET', 'k', 'v')).stdout.trim(), 'OK');
    assert.equal((await cli('GET', 'k')).stdout.trim(), 'v');
    assert.equal((await cli('EVAL', "return redis.call('GET', KEYS[1])", '1', 'k')).stdout.trim(), 'v');
    assert.equal((await cli('ACL', 'WHOAMI')).stdout.trim(), 'default');
    assert.match((await cli('CLIENT', 'LIST')).stdout, /user=default/);
  });

  it('changes no configuration and writes no file where it chooses', async () => {
    await refused(['CONFIG', 'SET', 'dir', hostFiles], NOPERM);
    await refused(['CONFIG', 'SET', 'dbfilename', 'escape.rdb'], NOPERM);
    await refused(['CONFIG', 'SET', 'appendfilename', 'escape.aof'], NOPERM);
    await refused(['CONFIG', 'GET', '*'], NOPERM);
    await refused(['CONFIG', 'REWRITE'], NOPERM);
    for (const command of [['SAVE'], ['BGSAVE'], ['BGREWRITEAOF'], ['SHUTDOWN', 'SAVE']]) await refused(command, NOPERM);
    assert.deepEqual(hostFilesNow(), ['secret.txt'], 'nothing was written outside the instance');
  });

  it('loads no module and runs no DEBUG command', async () => {
    // Refused twice over: by the server for everyone (checked first) and by the master's ACL.
    const refusedTwice = /MODULE command not allowed|DEBUG command not allowed|NOPERM/;
    await refused(['MODULE', 'LOAD', path.join(hostFiles, 'escape.so')], refusedTwice);
    await refused(['MODULE', 'LIST'], refusedTwice);
    await refused(['DEBUG', 'SLEEP', '0'], refusedTwice);
    await refused(['DEBUG', 'RELOAD'], refusedTwice);
    // And the server itself refuses them to anyone (Redis 7 defaults Cellar leaves in place).
    const admin = await RespClient.connect({ path: path.join(engine.layout.run, 'redis.sock') }, 5000);
    try {
      await admin.call(['AUTH', 'rdsadmin', adminSecret]);
      for (const name of ['enable-module-command', 'enable-debug-command', 'enable-protected-configs']) {
        assert.deepEqual(await admin.call(['CONFIG', 'GET', name]), [name, 'no'], name);
      }
    } finally {
      admin.close();
    }
  });

  it('manages no users and reads no password hashes', async () => {
    await refused(['ACL', 'SETUSER', 'escape', 'on', '>pw', '+@all', '~*'], NOPERM);
    await refused(['ACL', 'SETUSER', 'default', '+config'], NOPERM);
    await refused(['ACL', 'DELUSER', 'rdsadmin'], NOPERM);
    await refused(['ACL', 'LIST'], NOPERM);
    await refused(['ACL', 'GETUSER', 'rdsadmin'], NOPERM);
    await refused(['ACL', 'LOAD'], NOPERM);
    await refused(['ACL', 'SAVE'], NOPERM);
    await refused(['ACL', 'DRYRUN', 'rdsadmin', 'CONFIG', 'GET', 'dir'], NOPERM);
    assert.equal((await engine.healthProbe()).ok, true, "Cellar's admin user is untouched");
  });

  it('wires no replication and moves no data to other servers', async () => {
    for (const command of [['REPLICAOF', '127.0.0.1', '1'], ['SLAVEOF', '127.0.0.1', '1'], ['SYNC'], ['PSYNC', '?', '-1'], ['MIGRATE', '127.0.0.1', '1', 'k', '0', '1000'], ['FAILOVER']]) {
      await refused(command, NOPERM);
    }
  });

  it('finds no way to the host from Lua', async () => {
    for (const script of [
      "return os.execute('id')",
      `return io.open('${secretFile}'):read('*a')`,
      "return package.loadlib('libc.so.6', 'system')",
      "return require('os')",
      `return dofile('${secretFile}')`,
      `return loadfile('${secretFile}')`,
    ]) {
      await refused(['EVAL', script, '0'], /nonexistent global variable|attempt to (call|index) a nil value/);
    }
  });

  it("never shows Cellar's admin secret to MONITOR", async () => {
    const monitor = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(master.port), '--user', 'default', '--no-auth-warning', 'MONITOR'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', REDISCLI_AUTH: master.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let seen = '';
    monitor.stdout.on('data', (b: Buffer) => (seen += b.toString()));
    monitor.stderr.on('data', (b: Buffer) => (seen += b.toString()));
    try {
      const deadline = Date.now() + 5000;
      while (!seen.includes('OK') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(seen, /OK/, 'MONITOR started');
      for (let i = 0; i < 3; i++) assert.equal((await engine.healthProbe()).ok, true);
      await engine.configure({ 'maxmemory-policy': 'allkeys-lru' });
      await engine.setMasterPassword('default', 'escape-pw');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      monitor.kill('SIGTERM');
    }
    assert.match(seen, /"AUTH" "\(redacted\)" "\(redacted\)"/, `Cellar's sessions were seen, redacted: ${seen}`);
    assert.ok(!seen.includes(adminSecret), 'the admin secret appeared in MONITOR');
  });
});
