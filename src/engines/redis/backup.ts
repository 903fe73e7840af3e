/**
 * @module engines/redis/backup
 * Snapshots and restore for Redis, with Redis's own machinery (as ElastiCache: snapshots, no log replay):
 *
 * - **Backup** = `BGSAVE SCHEDULE`, wait until that save has finished (rdb_saves moves on, status ok), then the
 *   finished dump.rdb is compressed with zstd into a new backup directory (as the engine user) and sealed with a
 *   checksum manifest (../backup/manifest.ts). The RDB is the dataset at the fork, which happens while BGSAVE is
 *   answered: acknowledged writes before it are in, writes sent after it are not. Its time is the answer's.
 * - **Restore** verifies the manifest, decompresses the RDB into the new instance's data directory, and has Redis
 *   itself turn it into the instance's AOF: a private redis-server (no TCP, Unix socket in the run directory) loads
 *   the RDB with appendonly off, `CONFIG SET appendonly yes` writes the AOF from memory, and it shuts down. (Redis 7
 *   with appendonly on and no AOF yet starts empty, ignoring an RDB.)
 * - **Point in time**: Redis has no log to replay, so a restore target must be the snapshot's own time (or absent);
 *   any other time is refused. The "archive" is the set of snapshots: the latest restorable time is the newest one's.
 */
import * as path from 'node:path';
import { withContext } from '../../core/errors.js';
import { delay, settlesWithin, type Host } from '../host.js';
import type { BackupPlace, BaseBackupInfo, InstanceLayout, RestoreRequest } from '../adapter.js';
import { baseBackupDir, BackupCorruptError, listBaseBackups, readBackupInfo, sealBackup, verifyBackup } from '../backup/index.js';
import { RespClient, RespError, type RespValue } from './resp.js';

const RDB_FILE = 'dump.rdb';
const BACKUP_FILE = 'dump.rdb.zst';
const SAVE_TIMEOUT_MS = 6 * 60 * 60_000;
const STEP_TIMEOUT_MS = 6 * 60 * 60_000;
const PRIVATE_SERVER_START_TIMEOUT_MS = 120_000;

/** INFO's `field:value` lines. */
export function parseInfo(text: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof text !== 'string') return out;
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface RedisBackupContext {
  host: Host;
  label: string;
  binDir: string;
  layout: InstanceLayout;
  socket: string;
  /** A session as Cellar's admin user. */
  withAdmin<T>(timeoutMs: number, fn: (c: RespClient) => Promise<T>): Promise<T>;
}

export async function takeSnapshot(ctx: RedisBackupContext, place: BackupPlace, id: string): Promise<BaseBackupInfo> {
  const dir = baseBackupDir(place, id);
  const startedAt = Date.now();
  try {
    const existing = await readBackupInfo(dir);
    if (existing) return existing; // taken already (a retried request): the same snapshot
    await ctx.host.remove(dir); // without a manifest it never completed
    const consistentAt = await ctx.withAdmin(SAVE_TIMEOUT_MS, async (c) => {
      // rdb_saves counts finished saves (LASTSAVE has one-second resolution: it cannot tell two saves in a second).
      const savesBefore = Number(parseInfo(await c.call(['INFO', 'persistence'])).rdb_saves);
      if (!Number.isFinite(savesBefore)) throw new Error('INFO persistence has no rdb_saves (Redis 7 or later is needed)');
      // SCHEDULE: an AOF rewrite in progress delays the save instead of failing it.
      const answer = await c.call(['BGSAVE', 'SCHEDULE']);
      const answeredAt = Date.now();
      const deadline = Date.now() + SAVE_TIMEOUT_MS;
      for (;;) {
        const info = parseInfo(await c.call(['INFO', 'persistence']));
        if (info.rdb_bgsave_in_progress === '0' && Number(info.rdb_saves) > savesBefore) {
          if (info.rdb_last_bgsave_status !== 'ok') throw new Error(`BGSAVE failed (rdb_last_bgsave_status ${info.rdb_last_bgsave_status}); see the engine log`);
          break;
        }
        if (info.rdb_bgsave_in_progress === '0' && info.rdb_last_bgsave_status === 'err' && Date.now() - answeredAt > 1000) {
          throw new Error('BGSAVE failed; see the engine log');
        }
        if (Date.now() > deadline) throw new Error(`BGSAVE did not finish within ${SAVE_TIMEOUT_MS} ms`);
        await delay(20);
      }
      // A scheduled save forks later than the answer; then the fork time is bounded by the save's own report.
      return /scheduled/i.test(String(answer)) ? Number(await c.call(['LASTSAVE'])) * 1000 : answeredAt;
    });
    await ctx.host.ensureDir(dir);
    const r = await ctx.host.run({
      command: 'zstd',
      args: ['-q', '-1', '-o', path.join(dir, BACKUP_FILE), '--', path.join(ctx.layout.data, RDB_FILE)],
      timeoutMs: STEP_TIMEOUT_MS,
    });
    if (r.code !== 0) throw new Error(`compressing ${RDB_FILE} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.stderr.trim().slice(-500)}`);
    return await sealBackup(ctx.host, dir, {
      id,
      engine: 'redis',
      startedAt,
      finishedAt: Date.now(),
      consistentAt,
      position: `rdb@${consistentAt}`,
      archiveStart: '',
    });
  } catch (err) {
    throw withContext(`taking a snapshot of ${ctx.label} into ${dir}`, err);
  }
}

/** The newest snapshot's time: with no log, that is the latest a restore can reach. */
export async function latestSnapshotTime(place: BackupPlace): Promise<number | undefined> {
  const { complete } = await listBaseBackups(place);
  return complete.length > 0 ? complete[complete.length - 1]!.consistentAt : undefined;
}

export interface RedisRestoreContext extends RedisBackupContext {
  /** Writes the instance's stored files and marker: the instance exists once this returns. */
  finishInstance(details: Record<string, unknown>): Promise<void>;
}

export async function restoreSnapshot(ctx: RedisRestoreContext, req: RestoreRequest): Promise<{ restoredTo: number }> {
  const L = ctx.layout;
  try {
    const info = await verifyBackup(req.base.dir);
    if (req.targetTime !== undefined && req.targetTime !== info.consistentAt) {
      throw new Error(
        `Redis has no log to replay: a restore reaches only a snapshot's own time (${new Date(info.consistentAt).toISOString()}), not ${new Date(req.targetTime).toISOString()}`,
      );
    }
    if (await ctx.host.exists(L.marker)) throw new Error(`${L.root} already holds an instance`);
    await ctx.host.ensureDir(L.root);
    await ctx.host.remove(L.data);
    for (const d of [L.data, L.conf, L.logDir]) await ctx.host.ensureDir(d);
    await ctx.host.ensureDir(L.run);
    const r = await ctx.host.run({
      command: 'zstd',
      args: ['-q', '-d', '-o', path.join(L.data, RDB_FILE), '--', path.join(info.dir, BACKUP_FILE)],
      timeoutMs: STEP_TIMEOUT_MS,
    });
    if (r.code !== 0) throw new Error(`decompressing the snapshot failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`);
    await rdbToAof(ctx);
    await ctx.finishInstance({ restoredFrom: info.id, restoredTo: new Date(info.consistentAt).toISOString() });
    await ctx.host.syncTree(L.root);
    return { restoredTo: info.consistentAt };
  } catch (err) {
    if (err instanceof BackupCorruptError) throw err;
    throw withContext(`restoring ${ctx.label} from snapshot ${req.base.id}`, err);
  }
}

/** Loads the RDB in a private redis-server and has it write the AOF the instance starts from (see the header). */
async function rdbToAof(ctx: RedisBackupContext): Promise<void> {
  const L = ctx.layout;
  const server = ctx.host.spawn({
    command: path.join(ctx.binDir, 'redis-server'),
    args: ['--port', '0', '--unixsocket', ctx.socket, '--unixsocketperm', '700', '--dir', L.data, '--appendonly', 'no', '--save', '', '--daemonize', 'no', '--logfile', ''],
    cwd: L.root,
    logFile: path.join(L.logDir, 'restore.log'),
    parentDeathSignal: 'SIGTERM',
  });
  try {
    const deadline = Date.now() + PRIVATE_SERVER_START_TIMEOUT_MS;
    let client: RespClient | undefined;
    while (!client) {
      if (server.exitStatus()) throw new Error(`the restore server exited (code ${server.exitStatus()!.code}); see ${path.join(L.logDir, 'restore.log')}`);
      try {
        // Run as the engine user, its socket (0700) is reachable by Cellar as root or as that same user.
        const c = await RespClient.connect({ path: ctx.socket }, 5000);
        const info = parseInfo(await c.call(['INFO', 'persistence']));
        if (info.loading === '0') client = c;
        else c.close();
      } catch {
        // not up yet
      }
      if (!client) {
        if (Date.now() > deadline) throw new Error('the restore server did not load the snapshot in time');
        await delay(20);
      }
    }
    try {
      const set = await client.command(['CONFIG', 'SET', 'appendonly', 'yes']);
      if (set instanceof RespError) throw new Error(`CONFIG SET appendonly yes: ${set.message}`);
      for (;;) {
        const info = parseInfo(await client.call(['INFO', 'persistence']));
        if (info.aof_rewrite_in_progress === '0' && info.aof_rewrite_scheduled === '0' && info.aof_enabled === '1') {
          if (info.aof_last_bgrewrite_status !== 'ok') throw new Error('writing the AOF from the snapshot failed; see the restore log');
          break;
        }
        if (Date.now() > deadline + STEP_TIMEOUT_MS) throw new Error('writing the AOF did not finish in time');
        await delay(20);
      }
      await client.command(['SHUTDOWN', 'NOSAVE']).catch(() => undefined);
    } finally {
      client.close();
    }
    if (!(await settlesWithin(server.exited, 60_000))) throw new Error('the restore server did not stop');
  } finally {
    if (!server.exitStatus()) {
      server.signal('SIGKILL', { group: true });
      await settlesWithin(server.exited, 5000);
    }
  }
}
