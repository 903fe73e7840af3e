/**
 * Backups, point-in-time restore and replication roles of the MariaDB adapter, with real engines (the scenarios of
 * the shared engine contract, issue 12): given a writer inserting timestamped rows continuously with binlog archiving
 * on, when restoring to a whole second T between writes, then exactly the rows committed before T are there; the
 * latest restore loses nothing acknowledged; a base-only restore is the backup's state; a corrupted or missing
 * backup file is detected; a fresh instance follows a primary and is promoted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { LocalHost } from '../../src/engines/host.js';
import { MariadbEngine } from '../../src/engines/mariadb/adapter.js';
import type { BackupPlace, BaseBackupInfo, EngineSpec } from '../../src/engines/adapter.js';
import { BackupCorruptError, preparePlace } from '../../src/engines/backup/index.js';
import { listArchive } from '../../src/engines/mariadb/backup.js';

const STEP_TIMEOUT_MS = 240_000;
const PASSWORD = 'contract-Pa55word';

interface WrittenRow {
  id: number;
  /** Client clock just before the INSERT was sent, and when its commit was acknowledged. */
  sentAt: number;
  ackedAt: number;
}

async function connect(port: number): Promise<mysql.Connection> {
  const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'admin', password: PASSWORD, database: 'appdb', connectTimeout: 5000 });
  c.on('error', () => {});
  return c;
}

async function ids(port: number): Promise<Set<number>> {
  const c = await connect(port);
  try {
    const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT id FROM events');
    return new Set(rows.map((r) => Number(r.id)));
  } finally {
    await c.end();
  }
}

/** Inserts a row every `intervalMs` until stopped; every acknowledged row is recorded. */
function startWriter(port: number, intervalMs: number): { rows: WrittenRow[]; stop(): Promise<void> } {
  const rows: WrittenRow[] = [];
  let running = true;
  const done = (async () => {
    const c = await connect(port);
    try {
      for (let id = 1; running; id++) {
        const sentAt = Date.now();
        await c.query('INSERT INTO events (id, written_at) VALUES (?, ?)', [id, sentAt]);
        rows.push({ id, sentAt, ackedAt: Date.now() });
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    rows,
    async stop() {
      running = false;
      await done;
    },
  };
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('MariaDB backups, point-in-time restore and replication (engine contract)', () => {
  let host: LocalHost;
  let base: string;
  let place: BackupPlace;
  let source: MariadbEngine;
  const engines: MariadbEngine[] = [];
  let backupInfo: BaseBackupInfo;
  let writer: ReturnType<typeof startWriter>;

  const spec = async (name: string): Promise<EngineSpec> => ({
    engine: 'mariadb',
    name,
    dataDir: path.join(base, name),
    port: await host.findFreePort(),
    masterUsername: 'admin',
    masterPassword: PASSWORD,
    dbName: 'appdb',
  });
  const restoreInto = async (name: string, req: { base: BaseBackupInfo; archiveDir?: string; targetTime?: number }) => {
    const e = new MariadbEngine(host, await spec(name));
    engines.push(e);
    const result = await e.restoreToPoint({ ...req, dataDir: e.spec.dataDir });
    assert.equal(e.isRunning(), false, 'restore leaves the engine stopped');
    assert.equal(await e.isInitialised(), true);
    await e.start();
    return { engine: e, restoredTo: result.restoredTo };
  };

  before(async () => {
    host = await LocalHost.create();
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-mariabackup-'));
    fs.chmodSync(base, 0o711);
    place = await preparePlace(host, path.join(base, 'backups'), { accountId: '000000000000', region: 'us-east-1', resourceId: 'db-SOURCE' });
    source = new MariadbEngine(host, await spec('source'));
    engines.push(source);
    await source.initialise();
    await source.start();
    const c = await connect(source.spec.port);
    await c.query('CREATE TABLE events (id INT PRIMARY KEY, written_at BIGINT NOT NULL) ENGINE=InnoDB');
    await c.end();
  });

  after(async () => {
    await writer?.stop().catch(() => {});
    for (const e of engines) if (e.isRunning()) await e.stop('fast', { stepTimeoutMs: 10_000 }).catch(() => {});
    if (base && !process.env.CELLAR_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
  });

  it('archives binlogs continuously and takes a compressed, checksummed base backup under write load', { timeout: STEP_TIMEOUT_MS }, async () => {
    await source.startLogArchiving(place);
    await source.startLogArchiving(place); // idempotent
    writer = startWriter(source.spec.port, 20);
    await new Promise((r) => setTimeout(r, 1500));
    backupInfo = await source.backup(place, 'b1');
    assert.equal(backupInfo.engine, 'mariadb');
    assert.match(backupInfo.position, /^binlog\.\d{6}:\d+/);
    assert.ok(backupInfo.bytes > 0);
    assert.ok(fs.existsSync(path.join(backupInfo.dir, 'cellar-manifest.json')));
    // The backup holds the rows acknowledged before it started.
    await new Promise((r) => setTimeout(r, 3500));
  });

  it('keeps LatestRestorableTime within seconds of the present under write load', { timeout: STEP_TIMEOUT_MS }, async () => {
    const lags: number[] = [];
    for (let i = 0; i < 10; i++) {
      const now = Date.now();
      const latest = await source.latestArchivedTime(place);
      assert.ok(latest !== undefined);
      lags.push(now - latest);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(Math.max(...lags) < 5000, `lags ${lags.join(', ')} ms`);
  });

  it('restores to a whole second T between writes: exactly the rows committed before T', { timeout: STEP_TIMEOUT_MS }, async () => {
    // A whole second after the backup, with writes on both sides.
    const target = Math.floor((backupInfo.finishedAt + 1500) / 1000) * 1000 + 1000;
    await waitFor('the archive to pass the target', 20_000, async () => ((await source.latestArchivedTime(place)) ?? 0) > target + 1000 || undefined);
    const { engine, restoredTo } = await restoreInto('pitr', { base: backupInfo, archiveDir: place.archiveDir, targetTime: target });
    assert.equal(restoredTo, target, 'a whole-second target is restored exactly');
    const got = await ids(engine.spec.port);
    const before = writer.rows.filter((r) => r.ackedAt < target);
    const afterT = writer.rows.filter((r) => r.sentAt >= target);
    assert.ok(before.length > 10 && afterT.length > 10, `writes on both sides of T (${before.length}, ${afterT.length})`);
    for (const r of before) assert.ok(got.has(r.id), `row ${r.id} acknowledged before T is missing`);
    for (const r of afterT) assert.ok(!got.has(r.id), `row ${r.id} sent after T is present`);
    // Rows in flight across T (sent before, acknowledged after) are the only ones either way.
    const straddling = writer.rows.filter((r) => r.sentAt < target && r.ackedAt >= target).length;
    assert.ok(got.size >= before.length && got.size <= before.length + straddling);
    await engine.stop('fast');
  });

  it('rounds a target with a fraction down to its second', { timeout: STEP_TIMEOUT_MS }, async () => {
    const target = Math.floor((backupInfo.finishedAt + 2500) / 1000) * 1000 + 600;
    const { engine, restoredTo } = await restoreInto('pitr-fraction', { base: backupInfo, archiveDir: place.archiveDir, targetTime: target });
    assert.equal(restoredTo, Math.floor(target / 1000) * 1000);
    const got = await ids(engine.spec.port);
    for (const r of writer.rows) {
      if (r.ackedAt < restoredTo) assert.ok(got.has(r.id), `row ${r.id} missing`);
      if (r.sentAt >= restoredTo) assert.ok(!got.has(r.id), `row ${r.id} (sent after the restored-to second) present`);
    }
    await engine.stop('fast');
  });

  it('restores the latest: nothing acknowledged is lost', { timeout: STEP_TIMEOUT_MS }, async () => {
    await writer.stop();
    const lastAck = Math.max(...writer.rows.map((r) => r.ackedAt));
    await waitFor('the archive to catch up', 20_000, async () => ((await source.latestArchivedTime(place)) ?? 0) > lastAck || undefined);
    const { engine } = await restoreInto('latest', { base: backupInfo, archiveDir: place.archiveDir });
    const got = await ids(engine.spec.port);
    for (const r of writer.rows) assert.ok(got.has(r.id), `row ${r.id} missing`);
    await engine.stop('fast');
  });

  it('restores to exactly the LatestRestorableTime it reported, seconds after the last write', { timeout: STEP_TIMEOUT_MS }, async () => {
    // The writer has stopped: the reported time is the present (the server's whole position is archived), well past
    // the newest archived transaction, and a restore (another adapter, no running server to ask) must accept it.
    const lastAck = Math.max(...writer.rows.map((r) => r.ackedAt));
    const latest = await waitFor('LatestRestorableTime to pass the last write by 2 s', 20_000, async () => {
      const t = await source.latestArchivedTime(place);
      return t !== undefined && t >= lastAck + 2000 ? t : undefined;
    });
    const { engine, restoredTo } = await restoreInto('at-latest', { base: backupInfo, archiveDir: place.archiveDir, targetTime: latest });
    assert.equal(restoredTo, latest);
    const got = await ids(engine.spec.port);
    for (const r of writer.rows) assert.ok(got.has(r.id), `row ${r.id} missing`);
    assert.equal(got.size, writer.rows.length);
    await engine.stop('fast');
  });

  it('restores the base backup alone to its own state', { timeout: STEP_TIMEOUT_MS }, async () => {
    const { engine, restoredTo } = await restoreInto('snapshot', { base: backupInfo });
    assert.equal(restoredTo, backupInfo.consistentAt);
    const got = await ids(engine.spec.port);
    for (const r of writer.rows) {
      if (r.ackedAt < backupInfo.startedAt) assert.ok(got.has(r.id), `row ${r.id} from before the backup missing`);
      if (r.sentAt > backupInfo.finishedAt) assert.ok(!got.has(r.id), `row ${r.id} from after the backup present`);
    }
    await engine.stop('fast');
  });

  it('detects a corrupted backup file and a missing archived binlog', { timeout: STEP_TIMEOUT_MS }, async () => {
    const file = path.join(backupInfo.dir, 'backup.xbstream.zst');
    const saved = fs.readFileSync(file);
    const damaged = Buffer.from(saved);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    fs.writeFileSync(file, damaged);
    const e = new MariadbEngine(host, await spec('corrupt'));
    await assert.rejects(e.restoreToPoint({ base: backupInfo, dataDir: e.spec.dataDir }), (err: unknown) => {
      assert.ok(err instanceof Error && /backup\.xbstream\.zst/.test(err.message) && /corrupt/.test(err.message), String(err));
      return true;
    });
    assert.equal(await e.isInitialised(), false);
    fs.writeFileSync(file, saved);
    // Force a rotation so a completed, compressed file exists, then remove it from the archive.
    const c = await connect(source.spec.port);
    await c.query('INSERT INTO events VALUES (1000000, 0)');
    await c.end();
    await source.stop('fast');
    await source.start();
    await source.startLogArchiving(place);
    // Compressed and sealed (its checksum written): compression is over.
    const archived = await waitFor('a compressed binlog', 20_000, async () =>
      (await listArchive(place.archiveDir)).find((f) => f.compressed && fs.existsSync(f.file + '.sha256')),
    );
    const moved = archived.file + '.moved';
    fs.renameSync(archived.file, moved);
    const e2 = new MariadbEngine(host, await spec('missing'));
    await assert.rejects(e2.restoreToPoint({ base: backupInfo, archiveDir: place.archiveDir, dataDir: e2.spec.dataDir }), (err: unknown) => {
      assert.ok(err instanceof Error, String(err));
      const cause = findCause(err, BackupCorruptError);
      assert.ok(cause, `expected a BackupCorruptError, got ${String(err)}`);
      return true;
    });
    fs.renameSync(moved, archived.file);
  });

  it('follows a primary with GTID and is promoted', { timeout: STEP_TIMEOUT_MS }, async () => {
    const replica = new MariadbEngine(host, await spec('replica'));
    engines.push(replica);
    await replica.initialise();
    await replica.start();
    assert.equal(await replica.replicationRole(), 'primary');
    const creds = await source.replicationCredentials();
    await replica.followPrimary({ host: '127.0.0.1', port: source.spec.port, ...creds });
    assert.equal(await replica.replicationRole(), 'standby');
    const c = await connect(source.spec.port);
    await c.query('INSERT INTO events VALUES (2000000, 1)');
    await c.end();
    await waitFor('the row on the replica', 20_000, async () => ((await ids(replica.spec.port)).has(2000000) ? true : undefined));
    const r = await connect(replica.spec.port);
    await assert.rejects(r.query('INSERT INTO events VALUES (3000000, 1)'), /read-only|read_only/);
    await replica.promote();
    assert.equal(await replica.replicationRole(), 'primary');
    await r.query('INSERT INTO events VALUES (3000000, 1)');
    await r.end();
    await replica.stop('fast');
  });
});

function findCause<T>(err: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) if (e instanceof type) return e;
  return undefined;
}
