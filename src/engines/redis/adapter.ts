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
import { delay, type Host } from '../host.js';
import {
  instanceLayout,
  PhaseTimer,
  ProcessEngine,
  type BackupPlace,
  type BaseBackupInfo,
  type ConfigureResult,
  type EngineSpec,
  type PrimaryEndpoint,
  type RecoverableEngineAdapter,
  type RestoreRequest,
} from '../adapter.js';
import { generateSecret, redisAclPasswordRule } from '../secrets.js';
import { ADMIN_USER, checkDirective, checkValue, renderRedisConf, REPLICATION_USER, replicationUserRule, userRule, validateUsername } from './config.js';
import { RespClient, RespError } from './resp.js';
import { latestSnapshotTime, parseInfo, restoreSnapshot, takeSnapshot, type RedisBackupContext } from './backup.js';

const REPLICATION_START_TIMEOUT_MS = 30_000;

/** Where this node replicates from, kept across restarts (conf/replication.json, sealed: it holds the password). */
interface StoredReplication {
  host: string;
  port: number;
  user: string;
  password: string;
}

export const DEFAULT_REDIS_BIN_DIR = '/usr/bin';

interface StoredAuth {
  masterUsername: string;
  masterPasswordRule: string | undefined;
}

export class RedisEngine extends ProcessEngine implements RecoverableEngineAdapter {
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
      await this.host.writeSecret(this.adminSecretFile, generateSecret());
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
    const s = await this.host.readSecret(this.adminSecretFile);
    if (!s) throw new Error(`${this.adminSecretFile} is missing or unreadable`);
    return s;
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
        replicationPasswordRule: await this.replicationPasswordRule(),
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

  // ------------------------------------------------------------------------------------------------------------
  // Snapshots, restore and replication roles (./backup.ts)

  private get replicationSecretFile(): string {
    return path.join(this.layout.conf, 'replication.secret');
  }

  private get replicationFile(): string {
    return path.join(this.layout.conf, 'replication.json');
  }

  private async replicationPasswordRule(): Promise<string | undefined> {
    const secret = await this.host.readSecret(this.replicationSecretFile);
    return secret ? redisAclPasswordRule(secret) : undefined;
  }

  private backupContext(): RedisBackupContext {
    return { host: this.host, label: this.label, binDir: this.binDir, layout: this.layout, socket: this.socket, withAdmin: (t, fn) => this.withAdmin(t, fn) };
  }

  /** Where snapshots go; Redis has no log, so there is nothing to archive continuously (see ./backup.ts). */
  private place: BackupPlace | undefined;

  /**
   * Redis has no change log to ship (its AOF is rewritten in place): this only checks and records the backup place.
   * What is restorable is the set of snapshots taken by backup().
   */
  async startLogArchiving(place: BackupPlace): Promise<void> {
    this.requireRunning('preparing backups');
    for (const dir of [place.baseDir, place.archiveDir]) if (!(await this.host.exists(dir))) throw new Error(`backup directory ${dir} does not exist`);
    this.place = place;
  }

  async stopLogArchiving(): Promise<void> {
    this.place = undefined;
  }

  /** The newest snapshot's time ("last save"): without a log, nothing later can be restored. */
  async latestArchivedTime(place: BackupPlace): Promise<number | undefined> {
    return latestSnapshotTime(place);
  }

  async backup(place: BackupPlace, id: string): Promise<BaseBackupInfo> {
    return takeSnapshot(this.backupContext(), place, id);
  }

  async restoreToPoint(req: RestoreRequest): Promise<{ restoredTo: number }> {
    if (path.resolve(req.dataDir) !== this.layout.root) throw new Error(`restoreToPoint: ${this.label} lives in ${this.layout.root}, not ${req.dataDir}`);
    if (this.isRunning()) throw new Error(`restoreToPoint: ${this.label} is running`);
    return restoreSnapshot(
      {
        ...this.backupContext(),
        finishInstance: async (details) => {
          // What initialise() writes, for this adapter's spec; the data is the snapshot's.
          await this.host.writeSecret(this.adminSecretFile, generateSecret());
          const auth: StoredAuth = {
            masterUsername: this.spec.masterUsername,
            masterPasswordRule: this.spec.masterPassword ? redisAclPasswordRule(this.spec.masterPassword) : undefined,
          };
          await this.host.writeFile(this.authFile, JSON.stringify(auth) + '\n');
          await this.host.writeFile(this.paramsFile, JSON.stringify(this.spec.params ?? {}, null, 2) + '\n');
          await this.writeMarker({ binDir: this.binDir, ...details });
        },
      },
      req,
    );
  }

  async replicationCredentials(): Promise<{ user: string; password: string }> {
    this.requireRunning('preparing replication credentials');
    try {
      let password = await this.host.readSecret(this.replicationSecretFile);
      if (!password) {
        password = generateSecret();
        await this.host.writeSecret(this.replicationSecretFile, password);
      }
      const rule = replicationUserRule(redisAclPasswordRule(password));
      await this.withAdmin(10_000, (c) => c.call(['ACL', 'SETUSER', ...rule.split(' ').slice(1)]));
      return { user: REPLICATION_USER, password };
    } catch (err) {
      throw withContext(`preparing the replication user of ${this.label}`, err);
    }
  }

  async replicationRole(): Promise<'primary' | 'standby'> {
    const info = await this.withAdmin(5000, async (c) => parseInfo(await c.call(['INFO', 'replication'])));
    return info.role === 'slave' ? 'standby' : 'primary';
  }

  /** REPLICAOF NO ONE: the node keeps its data and accepts writes. */
  async promote(): Promise<void> {
    this.requireRunning('promoting');
    try {
      await this.host.remove(this.replicationFile);
      await this.withAdmin(10_000, (c) => c.call(['REPLICAOF', 'NO', 'ONE']));
    } catch (err) {
      throw withContext(`promoting ${this.label}`, err);
    }
  }

  /** masteruser/masterauth, REPLICAOF host port, then waits for the link to be up and the first sync done. */
  async followPrimary(primary: PrimaryEndpoint): Promise<void> {
    try {
      // A new node: an empty instance, which the first full sync from the primary fills.
      if (!(await this.isInitialised())) await this.initialise();
      if (!this.isRunning()) await this.start();
      const stored: StoredReplication = { host: primary.host, port: primary.port, user: primary.user, password: primary.password };
      await this.host.writeSecret(this.replicationFile, JSON.stringify(stored));
      await this.applyReplication(stored);
    } catch (err) {
      throw withContext(`making ${this.label} follow ${primary.host}:${primary.port}`, err);
    }
  }

  private async applyReplication(r: StoredReplication): Promise<void> {
    await this.withAdmin(REPLICATION_START_TIMEOUT_MS + 5000, async (c) => {
      await c.call(['CONFIG', 'SET', 'masteruser', r.user]);
      await c.call(['CONFIG', 'SET', 'masterauth', r.password]);
      await c.call(['REPLICAOF', r.host, String(r.port)]);
      const deadline = Date.now() + REPLICATION_START_TIMEOUT_MS;
      for (;;) {
        const info = parseInfo(await c.call(['INFO', 'replication']));
        if (info.master_link_status === 'up' && info.master_sync_in_progress === '0') return;
        if (Date.now() > deadline) throw new Error(`replication link not up after ${REPLICATION_START_TIMEOUT_MS} ms (master_link_status ${info.master_link_status})`);
        await delay(50);
      }
    });
  }

  /** A node that was following a primary follows it again after a restart (without waiting for the link). */
  protected override async afterStart(): Promise<void> {
    const text = await this.host.readSecret(this.replicationFile);
    if (!text) return;
    const r = JSON.parse(text) as StoredReplication;
    await this.withAdmin(10_000, async (c) => {
      await c.call(['CONFIG', 'SET', 'masteruser', r.user]);
      await c.call(['CONFIG', 'SET', 'masterauth', r.password]);
      await c.call(['REPLICAOF', r.host, String(r.port)]);
    });
  }
}
