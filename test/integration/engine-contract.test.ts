/**
 * The backup contract every RecoverableEngineAdapter passes (src/engines/adapter.ts), with real engine processes:
 * continuous log archiving, a base backup, a snapshot (base-only) restore, a restore to a time between two writes
 * that yields exactly the rows committed up to it, a restore to the latest archived time that loses nothing
 * committed before it, a corrupted or missing backup file detected by name, then promote and followPrimary.
 *
 * A writer inserts numbered rows continuously (a pause between writes) and records, for each row, when it was sent
 * and when its commit was acknowledged: the engine's commit time lies between the two.
 * Each engine differs only in a small harness (how the master user writes and reads rows, how to end a log file).
 * Steps run in order and build on each other; every wait is bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { RespClient } from '../../src/engines/redis/resp.js';
import { LocalHost, delay } from '../../src/engines/host.js';
import { createEngine } from '../../src/engines/index.js';
import { isRecoverable, type BackupPlace, type BaseBackupInfo, type EngineName, type RecoverableEngineAdapter } from '../../src/engines/adapter.js';
import { BackupCorruptError, listBaseBackups, preparePlace, verifyBackup } from '../../src/engines/backup/index.js';
import type { PostgresEngine } from '../../src/engines/postgres/adapter.js';

const STEP_TIMEOUT_MS = 180_000;
const WRITE_GAP_MS = 15;
const PASSWORD = 'Contract-secret-1';

/** The master user's view of the rows table. */
interface RowSession {
  insert(id: number): Promise<void>;
  ids(): Promise<number[]>;
  close(): Promise<void>;
}

interface BackupHarness {
  engine: EngineName;
  masterUsername: string;
  dbName: string;
  /** Connects as the master user and makes sure the rows table exists (not on a standby: `readOnly`). */
  connect(port: number, options?: { readOnly?: boolean }): Promise<RowSession>;
  /**
   * How finely a restore time is honoured: 1 ms (PostgreSQL's commit timestamps) or 1000 ms (MariaDB's binlog
   * timestamps are whole seconds: a whole-second target is exact, a fraction is rounded down).
   */
  restoreGranularityMs: number;
  /** The log archive and its replay; undefined for an engine that has only snapshots (Redis). */
  log?: {
    /** Makes the engine finish its current log file, so that it is archived as a complete one. */
    switchLog(engine: RecoverableEngineAdapter): Promise<void>;
    /** The archive file names of complete, compressed log files. */
    archivedLogFiles(archiveDir: string): string[];
  };
}

const pgHarness: BackupHarness = {
  engine: 'postgres',
  masterUsername: 'master_user',
  dbName: 'app',
  async connect(port, options = {}) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'master_user', password: PASSWORD, database: 'app', connectionTimeoutMillis: 5000, query_timeout: 10_000 });
    c.on('error', () => {});
    await c.connect();
    if (!options.readOnly) await c.query('CREATE TABLE IF NOT EXISTS contract_rows (id integer PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
    return {
      insert: async (id) => void (await c.query('INSERT INTO contract_rows (id) VALUES ($1)', [id])),
      ids: async () => (await c.query<{ id: number }>('SELECT id FROM contract_rows ORDER BY id')).rows.map((r) => r.id),
      close: () => c.end(),
    };
  },
  restoreGranularityMs: 1,
  log: {
    async switchLog(engine) {
      // As Cellar's own admin role over the instance's socket: the master may not switch WAL files.
      const c = new pg.Client({ host: (engine as PostgresEngine).layout.run, port: engine.spec.port, user: 'rdsadmin', database: 'postgres' });
      await c.connect();
      try {
        await c.query('SELECT pg_switch_wal()');
      } finally {
        await c.end();
      }
    },
    archivedLogFiles: (dir) => fs.readdirSync(dir).filter((n) => /^[0-9A-F]{24}\.gz$/.test(n) && fs.existsSync(path.join(dir, n + '.sha256'))).sort(),
  },
};

async function mariadbSession(port: number, database: string): Promise<mysql.Connection> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'admin', password: PASSWORD, database, connectTimeout: 5000 });
  c.on('error', () => {});
  return c;
}

/** MariaDB, and MySQL served by it: binlogs archived by mariadb-binlog, restore times to the second. */
function mariadbHarness(engine: 'mariadb' | 'mysql'): BackupHarness {
  return {
    engine,
    masterUsername: 'admin',
    dbName: 'app',
    restoreGranularityMs: 1000,
    async connect(port, options = {}) {
      const c = await mariadbSession(port, 'app');
      if (!options.readOnly) await c.query('CREATE TABLE IF NOT EXISTS contract_rows (id INT PRIMARY KEY, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB');
      return {
        insert: async (id) => void (await c.query('INSERT INTO contract_rows (id) VALUES (?)', [id])),
        ids: async () => (await c.query<mysql.RowDataPacket[]>('SELECT id FROM contract_rows ORDER BY id'))[0].map((r) => Number(r.id)),
        close: () => c.end(),
      };
    },
    log: {
      async switchLog(target) {
        // The master holds RELOAD, as on RDS.
        const c = await mariadbSession(target.spec.port, 'app');
        try {
          await c.query('FLUSH BINARY LOGS');
        } finally {
          await c.end();
        }
      },
      archivedLogFiles: (dir) => fs.readdirSync(dir).filter((n) => /^binlog\.\d{6}\.gz$/.test(n) && fs.existsSync(path.join(dir, n + '.sha256'))).sort(),
    },
  };
}

/** Redis: snapshots (BGSAVE) only, no log to replay; rows are the members of a sorted set. */
const redisHarness: BackupHarness = {
  engine: 'redis',
  masterUsername: 'default',
  dbName: 'app',
  restoreGranularityMs: 1,
  async connect(port) {
    const c = await RespClient.connect({ host: '127.0.0.1', port }, 5000);
    await c.call(['AUTH', 'default', PASSWORD]);
    return {
      insert: async (id) => void (await c.call(['ZADD', 'contract_rows', String(id), String(id)])),
      ids: async () => ((await c.call(['ZRANGE', 'contract_rows', '0', '-1'])) as string[]).map(Number),
      close: async () => c.close(),
    };
  },
};

const HARNESSES: BackupHarness[] = [pgHarness, mariadbHarness('mariadb'), redisHarness];

interface WrittenRow {
  id: number;
  sentAt: number;
  ackedAt: number;
}

/** Inserts rows 1, 2, 3 ... one at a time with a pause between them, recording when each was sent and acknowledged. */
class Writer {
  readonly rows: WrittenRow[] = [];
  private running = false;
  private paused = false;
  private loop: Promise<void> | undefined;
  private next = 1;
  error: unknown;
  constructor(private session: RowSession) {}
  /** A new session after the engine restarted; numbering goes on. */
  useSession(session: RowSession): void {
    this.session = session;
  }
  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        if (this.paused) {
          await delay(5);
          continue;
        }
        const id = this.next++;
        const sentAt = Date.now();
        try {
          await this.session.insert(id);
        } catch (err) {
          this.error = err;
          this.running = false;
          return;
        }
        this.rows.push({ id, sentAt, ackedAt: Date.now() });
        await delay(WRITE_GAP_MS);
      }
    })();
  }
  /** Resolves once no write is in flight. */
  async pause(): Promise<void> {
    this.paused = true;
    const deadline = Date.now() + 10_000;
    while (this.rows.length < this.next - 1 && Date.now() < deadline && this.running) await delay(2);
  }
  resume(): void {
    this.paused = false;
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

async function waitFor<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

for (const h of HARNESSES) {
  describe(`backup contract: ${h.engine}`, { timeout: 20 * STEP_TIMEOUT_MS }, () => {
    let host: LocalHost;
    let base: string;
    let place: BackupPlace;
    let primary: RecoverableEngineAdapter;
    let session: RowSession;
    let writer: Writer;
    let backup: BaseBackupInfo;
    let idsAtBackup: number[];
    const others: RecoverableEngineAdapter[] = [];

    const newEngine = async (name: string): Promise<RecoverableEngineAdapter> => {
      const engine = createEngine(host, {
        engine: h.engine,
        name,
        dataDir: path.join(base, name),
        port: await host.findFreePort(),
        masterUsername: h.masterUsername,
        masterPassword: PASSWORD,
        dbName: h.dbName,
      });
      assert.ok(isRecoverable(engine), `${h.engine} implements RecoverableEngineAdapter`);
      return engine;
    };

    /** Restores into a new instance, starts it, returns its rows, and stops it again. */
    const restoreAndRead = async (name: string, request: { archiveDir?: string; targetTime?: number }, from = backup) => {
      const target = await newEngine(name);
      others.push(target);
      const outcome = await target.restoreToPoint({ base: from, dataDir: target.spec.dataDir, ...request });
      assert.equal(target.isRunning(), false, 'restoreToPoint leaves the engine stopped');
      assert.equal(await target.isInitialised(), true);
      await target.start();
      const s = await h.connect(target.spec.port, { readOnly: true });
      const ids = await s.ids();
      await s.close();
      await target.stop('fast');
      return { ids, restoredTo: outcome.restoredTo };
    };

    before(async () => {
      host = await LocalHost.create();
      base = fs.mkdtempSync(path.join(os.tmpdir(), `cellar-backup-contract-${h.engine}-`));
      fs.chmodSync(base, 0o711); // the engine user must be able to enter it
      place = await preparePlace(host, path.join(base, 'backups'), { accountId: '123456789012', region: 'us-east-1', resourceId: 'db-CONTRACT' });
      primary = await newEngine('primary');
      await primary.initialise();
      await primary.start();
      session = await h.connect(primary.spec.port);
      writer = new Writer(session);
    });

    after(async () => {
      await writer?.stop();
      await session?.close().catch(() => {});
      for (const e of [primary, ...others]) {
        if (!e) continue;
        await e.stopLogArchiving().catch(() => {});
        await e.stop('fast').catch(() => {});
      }
      if (base) fs.rmSync(base, { recursive: true, force: true });
    });

    it('archives the log continuously and takes a checksummed base backup', { timeout: STEP_TIMEOUT_MS }, async () => {
      await primary.startLogArchiving(place);
      await primary.startLogArchiving(place); // idempotent
      writer.start();
      await delay(500);
      await writer.pause();
      idsAtBackup = writer.rows.map((r) => r.id);
      assert.ok(idsAtBackup.length > 5, 'the writer wrote before the backup');
      backup = await primary.backup(place, 'contract-1');
      writer.resume();
      assert.equal(backup.id, 'contract-1');
      assert.ok(backup.bytes > 0);
      assert.ok(backup.startedAt <= backup.finishedAt && backup.consistentAt >= backup.startedAt);
      assert.equal(path.dirname(backup.dir), place.baseDir);
      assert.deepEqual(await verifyBackup(backup.dir), backup);
      assert.deepEqual(await primary.backup(place, 'contract-1'), backup, 'backup() of an existing id returns it');
      const latest = await primary.latestArchivedTime(place);
      assert.ok(latest !== undefined && latest >= backup.startedAt, 'the archive covers the backup');
    });

    it('restores the base backup alone to the state it was taken in', { timeout: STEP_TIMEOUT_MS }, async () => {
      const { ids } = await restoreAndRead('snapshot', {});
      assert.deepEqual(ids, idsAtBackup);
    });

    it('restores to a time between two writes: exactly the rows committed up to it, none after', { timeout: STEP_TIMEOUT_MS }, async () => {
      await waitFor(async () => writer.rows.filter((r) => r.sentAt > backup.consistentAt + 300).length > 20, 'writes after the backup');
      if (!h.log) {
        // Only snapshots: the one reachable time is the snapshot's own, and any other is refused.
        const refused = await newEngine('pitr-refused');
        await assert.rejects(refused.restoreToPoint({ base: backup, dataDir: refused.spec.dataDir, archiveDir: place.archiveDir, targetTime: backup.consistentAt + 1000 }), /no log to replay/);
        assert.equal(await refused.isInitialised(), false);
        const { ids, restoredTo } = await restoreAndRead('pitr', { archiveDir: place.archiveDir, targetTime: backup.consistentAt });
        assert.equal(restoredTo, backup.consistentAt);
        assert.deepEqual(ids, idsAtBackup);
        return;
      }
      let targetTime: number;
      if (h.restoreGranularityMs === 1) {
        const rows = writer.rows;
        const after = rows.filter((r) => r.sentAt > backup.consistentAt + 200);
        const k = after[Math.floor(after.length / 2)]!;
        const next = rows.find((r) => r.id === k.id + 1)!;
        assert.ok(next.sentAt - k.ackedAt >= 2, 'a gap between the two writes');
        targetTime = Math.floor((k.ackedAt + next.sentAt) / 2);
      } else {
        // A target on the engine's granularity, with the writer paused across it: the last write before it is
        // acknowledged before it, the next one sent after it.
        const g = h.restoreGranularityMs;
        targetTime = (Math.floor(Date.now() / g) + 2) * g;
        await delay(targetTime - 80 - Date.now());
        await writer.pause();
        await delay(Math.max(0, targetTime + 80 - Date.now()));
        writer.resume();
        await waitFor(async () => writer.rows.some((r) => r.sentAt > targetTime), 'a write after the target');
      }
      const rows = writer.rows;
      const k = rows.filter((r) => r.ackedAt < targetTime).at(-1)!;
      const next = rows.find((r) => r.id === k.id + 1)!;
      assert.ok(k.ackedAt < targetTime && next.sentAt > targetTime, 'the target lies between two writes');
      if (h.log) {
        // Not archived yet: refused rather than restored to the end of the archive.
        const early = await newEngine('pitr-future');
        others.push(early);
        const future = (await primary.latestArchivedTime(place))! + 60_000;
        await assert.rejects(early.restoreToPoint({ base: backup, dataDir: early.spec.dataDir, archiveDir: place.archiveDir, targetTime: future }), /after the latest restorable time/);
        assert.equal(await early.isInitialised(), false);
      }
      await waitFor(async () => ((await primary.latestArchivedTime(place)) ?? 0) > targetTime, 'the archive to pass the target');
      const { ids, restoredTo } = await restoreAndRead('pitr', { archiveDir: place.archiveDir, targetTime });
      assert.equal(restoredTo, targetTime);
      assert.deepEqual(ids, rows.filter((r) => r.id <= k.id).map((r) => r.id));
    });

    it('restores to the latest archived time without losing anything committed before it', { timeout: STEP_TIMEOUT_MS }, async () => {
      await delay(300);
      const latest = (await primary.latestArchivedTime(place))!;
      const lagMs = Date.now() - latest;
      console.log(`# ${h.engine}: LatestRestorableTime lag under the writer ${lagMs} ms`);
      const mustHave = writer.rows.filter((r) => r.ackedAt <= latest).map((r) => r.id);
      assert.ok(mustHave.length > 0);
      const { ids, restoredTo } = await restoreAndRead('latest', { archiveDir: place.archiveDir });
      assert.ok(restoredTo >= latest, 'restoredTo is at least the latest archived time');
      assert.deepEqual(ids.slice(0, mustHave.length), mustHave, 'every row acknowledged before LatestRestorableTime is there');
      assert.deepEqual(ids, ids.map((_, i) => i + 1), 'a prefix of the writes, no holes');
    });

    it('pauses archiving with the engine, keeps what was archived before the stop, and archives again after the start', { timeout: STEP_TIMEOUT_MS }, async () => {
      await writer.pause();
      const lastAck = writer.rows.at(-1)!.ackedAt;
      const beforeStop = await primary.latestArchivedTime(place);
      await session.close();
      await primary.stop('fast');
      const whileDown = await primary.latestArchivedTime(place);
      const restartedAt = Date.now();
      await primary.start();
      // What a reconciler's ensure step does after every start (idempotent; PostgreSQL also resumes by itself).
      await primary.startLogArchiving(place);
      session = await h.connect(primary.spec.port);
      writer.useSession(session);
      writer.resume();
      // The engine runs again before anything is asserted, so a failure here does not take the later steps down.
      if (beforeStop !== undefined) assert.ok(whileDown !== undefined && whileDown >= beforeStop, `recorded latest ${whileDown} is not older than before the stop (${beforeStop})`);
      if (h.log) {
        assert.ok(whileDown !== undefined && whileDown >= lastAck, `recorded latest ${whileDown} covers the last acknowledged write ${lastAck}`);
      } else {
        // Only snapshots: what is restorable stays the newest snapshot, stop or not.
        assert.equal(whileDown, (await listBaseBackups(place)).complete.at(-1)!.consistentAt);
      }
      if (h.log) await waitFor(async () => ((await primary.latestArchivedTime(place)) ?? 0) > restartedAt + 500, 'archiving to resume after the start');
      else await waitFor(async () => writer.rows.some((r) => r.ackedAt > restartedAt + 500) || undefined, 'writes after the start');
      assert.ok(writer.rows.at(-1)!.ackedAt > restartedAt, 'the writer goes on');
    });

    it('detects a corrupted base backup file and a corrupted or missing archive file, naming it', { timeout: STEP_TIMEOUT_MS }, async () => {
      const log = h.log;
      // Complete log files after the backup's start.
      for (let i = 0; log && i < 3; i++) {
        await delay(100);
        await log.switchLog(primary);
      }
      const archived = log
        ? await waitFor(async () => {
            const files = log.archivedLogFiles(place.archiveDir).filter((f) => f.slice(0, 24) > backup.archiveStart);
            return files.length >= 3 ? files : undefined;
          }, 'three archived log files after the backup')
        : [];

      // A flipped byte in the base backup.
      const baseFile = fs.readdirSync(backup.dir).map((n) => path.join(backup.dir, n)).filter((f) => fs.statSync(f).isFile() && !f.endsWith('.json')).sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
      const original = fs.readFileSync(baseFile);
      const damaged = Buffer.from(original);
      damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
      fs.writeFileSync(baseFile, damaged);
      const corruptTarget = await newEngine('corrupt-base');
      others.push(corruptTarget);
      await assert.rejects(corruptTarget.restoreToPoint({ base: backup, dataDir: corruptTarget.spec.dataDir, archiveDir: place.archiveDir }), (err: unknown) => {
        assert.ok(err instanceof Error && err.message.includes(baseFile), `the error names ${baseFile}: ${String(err)}`);
        assert.ok(findCause(err, (e) => e instanceof BackupCorruptError && e.file === baseFile && e.defect === 'corrupt'), String(err));
        return true;
      });
      assert.equal(await corruptTarget.isInitialised(), false, 'no instance from a corrupt backup');
      fs.writeFileSync(baseFile, original);
      if (!log) {
        assert.deepEqual(fs.readdirSync(place.archiveDir), [], 'an engine without a log archives nothing');
        return;
      }

      // A damaged archived log file.
      const middle = path.join(place.archiveDir, archived[1]!);
      const saved = fs.readFileSync(middle);
      fs.appendFileSync(middle, 'x');
      const corruptArchive = await newEngine('corrupt-archive');
      others.push(corruptArchive);
      await assert.rejects(corruptArchive.restoreToPoint({ base: backup, dataDir: corruptArchive.spec.dataDir, archiveDir: place.archiveDir }), (err: unknown) => {
        assert.ok(findCause(err, (e) => e instanceof BackupCorruptError && e.file === middle && e.defect === 'corrupt'), String(err));
        return true;
      });
      assert.equal(await corruptArchive.isInitialised(), false);

      // A missing one: a gap in the sequence.
      fs.rmSync(middle);
      await assert.rejects(corruptArchive.restoreToPoint({ base: backup, dataDir: corruptArchive.spec.dataDir, archiveDir: place.archiveDir }), (err: unknown) => {
        assert.ok(findCause(err, (e) => e instanceof BackupCorruptError && e.file === middle && e.defect === 'gap'), String(err));
        return true;
      });
      assert.equal(await corruptArchive.isInitialised(), false);
      fs.writeFileSync(middle, saved);
    });

    it('makes a standby follow the primary, promotes it, and lets the old primary follow it', { timeout: STEP_TIMEOUT_MS }, async () => {
      const standby = await newEngine('standby');
      others.push(standby);
      await standby.followPrimary({ host: '127.0.0.1', port: primary.spec.port, ...(await primary.replicationCredentials()) });
      assert.equal(await standby.replicationRole(), 'standby');
      const onStandby = await h.connect(standby.spec.port, { readOnly: true });
      const written = writer.rows.length;
      await waitFor(async () => (await onStandby.ids()).length >= written, 'the standby to replay the primary');
      await onStandby.close();

      await writer.stop();
      assert.equal(writer.error, undefined, `the writer failed: ${String(writer.error)}`);
      const allIds = writer.rows.map((r) => r.id);
      await waitFor(async () => {
        const s = await h.connect(standby.spec.port, { readOnly: true });
        const ids = await s.ids();
        await s.close();
        return ids.length === allIds.length;
      }, 'the standby to catch up');
      await standby.promote();
      assert.equal(await standby.replicationRole(), 'primary');
      await standby.promote(); // a no-op on a primary
      const promoted = await h.connect(standby.spec.port);
      await promoted.insert(1_000_000);
      assert.deepEqual(await promoted.ids(), [...allIds, 1_000_000]);

      await primary.stopLogArchiving();
      await session.close();
      await primary.followPrimary({ host: '127.0.0.1', port: standby.spec.port, ...(await standby.replicationCredentials()) });
      assert.equal(await primary.replicationRole(), 'standby');
      await promoted.insert(1_000_001);
      await waitFor(async () => {
        const s = await h.connect(primary.spec.port, { readOnly: true });
        const ids = await s.ids();
        await s.close();
        return ids.includes(1_000_001);
      }, 'the old primary to replay the new one');
      await promoted.close();
    });
  });
}

function findCause(err: unknown, test: (e: unknown) => boolean): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) if (test(e)) return true;
  return false;
}
