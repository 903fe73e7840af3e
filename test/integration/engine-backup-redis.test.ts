/**
 * Snapshots, restore and replication roles of the Redis adapter, with real redis-server processes (the engine
 * contract of issue 12, as far as Redis goes: no log replay). Given a writer setting timestamped keys continuously,
 * when a snapshot is taken and restored, then the restored node holds every key acknowledged before the snapshot and
 * none sent after it; a restore to any other time is refused; a corrupted snapshot file is detected; a node follows a
 * primary through the replication user and is promoted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalHost } from '../../src/engines/host.js';
import { RedisEngine } from '../../src/engines/redis/adapter.js';
import { RespClient, RespError } from '../../src/engines/redis/resp.js';
import type { BackupPlace, BaseBackupInfo, EngineSpec } from '../../src/engines/adapter.js';
import { BackupCorruptError, preparePlace } from '../../src/engines/backup/index.js';

const STEP_TIMEOUT_MS = 120_000;
const PASSWORD = 'contract-Pa55word-redis';

async function master(port: number): Promise<RespClient> {
  const c = await RespClient.connect({ host: '127.0.0.1', port }, 5000);
  await c.call(['AUTH', 'default', PASSWORD]);
  return c;
}

describe('Redis snapshots, restore and replication (engine contract)', () => {
  let host: LocalHost;
  let base: string;
  let place: BackupPlace;
  let source: RedisEngine;
  const engines: RedisEngine[] = [];
  let snapshot: BaseBackupInfo;
  const written: { key: string; sentAt: number; ackedAt: number }[] = [];

  const spec = async (name: string): Promise<EngineSpec> => ({
    engine: 'redis',
    name,
    dataDir: path.join(base, name),
    port: await host.findFreePort(),
    masterUsername: 'default',
    masterPassword: PASSWORD,
  });

  before(async () => {
    host = await LocalHost.create();
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-redisbackup-'));
    fs.chmodSync(base, 0o711);
    place = await preparePlace(host, path.join(base, 'backups'), { accountId: '000000000000', region: 'us-east-1', resourceId: 'redis-source' });
    source = new RedisEngine(host, await spec('source'));
    engines.push(source);
    await source.initialise();
    await source.start();
  });

  after(async () => {
    for (const e of engines) if (e.isRunning()) await e.stop('fast', { stepTimeoutMs: 10_000 }).catch(() => {});
    if (base && !process.env.CELLAR_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
  });

  it('takes a compressed, checksummed snapshot (BGSAVE) under write load', { timeout: STEP_TIMEOUT_MS }, async () => {
    await source.startLogArchiving(place);
    assert.equal(await source.latestArchivedTime(place), undefined, 'nothing restorable before the first snapshot');
    const c = await master(source.spec.port);
    let running = true;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        const sentAt = Date.now();
        await c.call(['SET', `k${i}`, String(sentAt)]);
        written.push({ key: `k${i}`, sentAt, ackedAt: Date.now() });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    snapshot = await source.backup(place, 'snap1');
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await writer;
    c.close();
    assert.equal(snapshot.engine, 'redis');
    assert.ok(snapshot.bytes > 0);
    assert.equal(await source.latestArchivedTime(place), snapshot.consistentAt);
  });

  it("restores the snapshot: every key acknowledged before it, none sent after it", { timeout: STEP_TIMEOUT_MS }, async () => {
    const e = new RedisEngine(host, await spec('restored'));
    engines.push(e);
    const { restoredTo } = await e.restoreToPoint({ base: snapshot, archiveDir: place.archiveDir, dataDir: e.spec.dataDir });
    assert.equal(restoredTo, snapshot.consistentAt);
    assert.equal(e.isRunning(), false);
    await e.start();
    const c = await master(e.spec.port);
    const before = written.filter((w) => w.ackedAt < snapshot.startedAt);
    const afterSnap = written.filter((w) => w.sentAt > snapshot.consistentAt);
    assert.ok(before.length > 10 && afterSnap.length > 10, `writes on both sides (${before.length}, ${afterSnap.length})`);
    for (const w of before) assert.equal(await c.call(['GET', w.key]), String(w.sentAt), w.key);
    for (const w of afterSnap) assert.equal(await c.call(['GET', w.key]), null, `${w.key} sent after the snapshot`);
    c.close();
    // The restored data is in the node's own AOF: it survives a restart.
    await e.stop('fast');
    await e.start();
    const c2 = await master(e.spec.port);
    assert.equal(await c2.call(['GET', before[0]!.key]), String(before[0]!.sentAt));
    c2.close();
    await e.stop('fast');
  });

  it('refuses a restore time other than the snapshot time (no log replay)', { timeout: STEP_TIMEOUT_MS }, async () => {
    const e = new RedisEngine(host, await spec('other-time'));
    await assert.rejects(e.restoreToPoint({ base: snapshot, archiveDir: place.archiveDir, targetTime: snapshot.consistentAt + 1000, dataDir: e.spec.dataDir }), /no log to replay/);
    assert.equal(await e.isInitialised(), false);
  });

  it('detects a corrupted snapshot file', { timeout: STEP_TIMEOUT_MS }, async () => {
    const file = path.join(snapshot.dir, 'dump.rdb.zst');
    const saved = fs.readFileSync(file);
    const damaged = Buffer.from(saved);
    damaged[damaged.length - 1]! ^= 0xff;
    fs.writeFileSync(file, damaged);
    const e = new RedisEngine(host, await spec('corrupt'));
    await assert.rejects(e.restoreToPoint({ base: snapshot, dataDir: e.spec.dataDir }), (err: unknown) => err instanceof BackupCorruptError && err.file === file);
    fs.rmSync(file);
    await assert.rejects(e.restoreToPoint({ base: snapshot, dataDir: e.spec.dataDir }), (err: unknown) => err instanceof BackupCorruptError && err.defect === 'missing');
    fs.writeFileSync(file, saved);
  });

  it('follows a primary through the replication user and is promoted', { timeout: STEP_TIMEOUT_MS }, async () => {
    const replica = new RedisEngine(host, await spec('replica'));
    engines.push(replica);
    await replica.initialise();
    await replica.start();
    assert.equal(await replica.replicationRole(), 'primary');
    const creds = await source.replicationCredentials();
    await replica.followPrimary({ host: '127.0.0.1', port: source.spec.port, ...creds });
    assert.equal(await replica.replicationRole(), 'standby');
    const p = await master(source.spec.port);
    await p.call(['SET', 'replicated', 'yes']);
    p.close();
    const r = await master(replica.spec.port);
    const deadline = Date.now() + 10_000;
    while ((await r.call(['GET', 'replicated'])) !== 'yes') {
      assert.ok(Date.now() < deadline, 'the write reached the replica');
      await new Promise((res) => setTimeout(res, 50));
    }
    const refused = await r.command(['SET', 'x', '1']);
    assert.ok(refused instanceof RespError && /READONLY/.test(refused.message), 'a replica refuses writes');
    // A restart keeps it a replica.
    r.close();
    await replica.stop('fast');
    await replica.start();
    assert.equal(await replica.replicationRole(), 'standby');
    await replica.promote();
    assert.equal(await replica.replicationRole(), 'primary');
    const r2 = await master(replica.spec.port);
    assert.equal(await r2.call(['SET', 'x', '1']), 'OK');
    r2.close();
    await replica.stop('fast');
  });
});
