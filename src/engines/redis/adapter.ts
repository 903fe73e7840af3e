/**
 * @module engines/redis/adapter
 * Redis as an ElastiCache node: redis-server with a config file Cellar renders at every start (port, loopback bind,
 * a Unix socket in the instance's private run directory, AOF persistence in the data directory), an
 * ElastiCache-like master user (everything but the restricted commands) and Cellar's own `rdsadmin` ACL user, whose
 * generated password sits in conf/admin.secret (0600, owned by Cellar).
 *
 * Passwords are stored as SHA-256 ACL rules only. Parameters: CONFIG SET for the ones Redis can change live, all of
 * them stored in conf/params.json so the next rendered config carries them; the ones Redis refuses to change at
 * runtime are reported as pending a restart.
 */
import * as path from 'node:path';
import { withContext } from '../../core/errors.js';
import { log } from '../../core/log.js';
import type { Host } from '../host.js';
import { instanceLayout, PhaseTimer, ProcessEngine, type ConfigureResult, type EngineSpec } from '../adapter.js';
import { generateSecret, redisAclPasswordRule } from '../secrets.js';
import { ADMIN_USER, checkDirective, checkValue, renderRedisConf, userRule, validateUsername } from './config.js';
import { RespClient, RespError } from './resp.js';

export const DEFAULT_REDIS_BIN_DIR = '/usr/bin';

interface StoredAuth {
  masterUsername: string;
  masterPasswordRule: string | undefined;
}

export class RedisEngine extends ProcessEngine {
  readonly binDir: string;
  private readonly socket: string;
  private readonly pidFile: string;
  private readonly configFile: string;
  private readonly paramsFile: string;
  private readonly authFile: string;
  private readonly adminSecretFile: string;

  constructor(host: Host, spec: EngineSpec) {
    super(host, spec, instanceLayout(spec.dataDir, 'redis.log', 'redis.sock'));
    if (spec.engine !== 'redis') throw new Error(`RedisEngine cannot run engine ${spec.engine}`);
    if (spec.masterUsername !== 'default') validateUsername(spec.masterUsername);
    for (const [k, v] of Object.entries(spec.params ?? {})) {
      checkDirective(k);
      checkValue(v);
    }
    this.binDir = spec.binDir ?? DEFAULT_REDIS_BIN_DIR;
    const L = this.layout;
    this.socket = path.join(L.run, 'redis.sock');
    this.pidFile = path.join(L.run, 'redis.pid');
    this.configFile = path.join(L.conf, 'redis.conf');
    this.paramsFile = path.join(L.conf, 'params.json');
    this.authFile = path.join(L.conf, 'auth.json');
    this.adminSecretFile = path.join(L.conf, 'admin.secret');
  }

  async initialise(): Promise<void> {
    if (await this.isInitialised()) return;
    const L = this.layout;
    const phases = new PhaseTimer();
    try {
      await this.freshDirectories();
      // Not fsynced one by one: the syncTree below covers them all before the marker.
      const quick = { durable: false };
      await this.host.writeFile(this.adminSecretFile, generateSecret(), { ownedByCellar: true, durable: false });
      const auth: StoredAuth = {
        masterUsername: this.spec.masterUsername,
        masterPasswordRule: this.spec.masterPassword ? redisAclPasswordRule(this.spec.masterPassword) : undefined,
      };
      await this.host.writeFile(this.authFile, JSON.stringify(auth) + '\n', quick);
      await this.host.writeFile(this.paramsFile, JSON.stringify(this.spec.params ?? {}, null, 2) + '\n', quick);
      // Redis has no initialisation step of its own: the empty data directory is a valid empty instance.
      await this.host.syncTree(L.root);
      await this.writeMarker({ binDir: this.binDir });
      phases.mark('prepare');
      this.lastInitialisePhasesMs = phases.phasesMs;
      log('info', 'engine initialised', { engine: this.spec.engine, name: this.spec.name, phasesMs: phases.phasesMs });
    } catch (err) {
      throw withContext(`initialising ${this.label} in ${L.root}`, err);
    }
  }

  private async readJson<T>(file: string): Promise<T> {
    const text = await this.host.readFile(file);
    if (text === undefined) throw new Error(`${file} is missing`);
    return JSON.parse(text) as T;
  }

  private async adminSecret(): Promise<string> {
    const s = await this.host.readFile(this.adminSecretFile);
    if (!s) throw new Error(`${this.adminSecretFile} is missing`);
    return s.trim();
  }

  protected command() {
    return { command: path.join(this.binDir, 'redis-server'), args: [this.configFile] };
  }

  protected async clearLeftovers(): Promise<void> {
    const L = this.layout;
    await this.ensureRunDir();
    const auth = await this.readJson<StoredAuth>(this.authFile);
    const params = await this.readJson<Record<string, string>>(this.paramsFile);
    await this.host.writeFile(
      this.configFile,
      renderRedisConf({
        port: this.spec.port,
        listenAddresses: this.spec.listenAddresses!,
        socket: this.socket,
        pidFile: this.pidFile,
        dataDir: L.data,
        configFile: this.configFile,
        masterUsername: auth.masterUsername,
        masterPasswordRule: auth.masterPasswordRule,
        adminPasswordRule: redisAclPasswordRule(await this.adminSecret()),
        params,
      }),
      { durable: false }, // rendered again before every start
    );
    const text = await this.host.readFile(this.pidFile);
    if (text === undefined) return;
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0) {
      // Redis rewrites its process title; the template above puts the config file path in it.
      await this.stopLeftover(pid, (cmd) => cmd.join(' ').startsWith(path.join(this.binDir, 'redis-server')) && cmd.join(' ').includes(this.configFile), 'SIGTERM');
    }
    await this.host.remove(this.pidFile);
  }

  protected isTransientStartFailure(): boolean {
    return false;
  }

  private async withAdmin<T>(timeoutMs: number, fn: (c: RespClient) => Promise<T>): Promise<T> {
    const secret = await this.adminSecret();
    const client = await RespClient.connect({ path: this.socket }, timeoutMs);
    try {
      await client.call(['AUTH', ADMIN_USER, secret]);
      return await fn(client);
    } finally {
      client.close();
    }
  }

  protected async probeOnce(timeoutMs: number): Promise<void> {
    await this.withAdmin(timeoutMs, async (c) => {
      const pong = await c.call(['PING']);
      if (pong !== 'PONG') throw new Error(`PING answered ${JSON.stringify(pong)}`);
      // Still loading the AOF: PING answers, data commands would not.
      const info = await c.call(['INFO', 'persistence']);
      if (typeof info === 'string' && /^loading:1/m.test(info)) throw new Error('still loading the dataset');
    });
  }

  async configure(params: Record<string, string>): Promise<ConfigureResult> {
    this.requireRunning('configuring parameters');
    const entries = Object.entries(params).map(([k, v]) => {
      checkValue(v);
      return [checkDirective(k), v] as const;
    });
    const result: ConfigureResult = { appliedLive: [], pendingRestart: [] };
    const accepted: Record<string, string> = {};
    try {
      await this.withAdmin(10_000, async (c) => {
        for (const [name, value] of entries) {
          const r = await c.command(['CONFIG', 'SET', name, value]);
          if (r instanceof RespError) {
            if (!/immutable config/i.test(r.message)) throw new Error(`CONFIG SET ${name}: ${r.message}`);
            result.pendingRestart.push(name);
          } else {
            result.appliedLive.push(name);
          }
          accepted[name] = value;
        }
      });
      return result;
    } catch (err) {
      throw withContext(`configuring ${entries.map(([n]) => n).join(', ')} on ${this.label}`, err);
    } finally {
      if (Object.keys(accepted).length > 0) {
        const merged = { ...(await this.readJson<Record<string, string>>(this.paramsFile)), ...accepted };
        await this.host.writeFile(this.paramsFile, JSON.stringify(merged, null, 2) + '\n');
      }
    }
  }

  async setMasterPassword(username: string, password: string): Promise<void> {
    this.requireRunning('setting a password');
    try {
      const auth = await this.readJson<StoredAuth>(this.authFile);
      if (username !== auth.masterUsername) throw new Error(`${username} is not the master user`);
      const rule = redisAclPasswordRule(password);
      // Store first: if we crash in between, the next start renders the new password, which is what was asked.
      await this.host.writeFile(this.authFile, JSON.stringify({ ...auth, masterPasswordRule: rule }) + '\n');
      await this.withAdmin(10_000, async (c) => {
        await c.call(['ACL', 'SETUSER', ...userRule(username, rule).split(' ').slice(1)]);
        // Existing connections stay authenticated (as on ElastiCache); new ones need the new password.
      });
    } catch (err) {
      throw withContext(`setting the password of ${username} on ${this.label}`, err);
    }
  }
}
