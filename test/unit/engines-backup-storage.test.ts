/**
 * The backup storage module (src/engines/backup/): places, manifests written last and verified, archive sidecars,
 * and retention pruning. Real files in a temporary directory, through a real LocalHost.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalHost } from '../../src/engines/host.js';
import type { BaseBackupInfo } from '../../src/engines/adapter.js';
import {
  BackupCorruptError,
  backupPlace,
  backupRootFor,
  backupsToPrune,
  baseBackupFor,
  compressAndSealArchiveFile,
  defaultLogName,
  listBaseBackups,
  MANIFEST_NAME,
  preparePlace,
  pruneBackups,
  sealArchiveFile,
  sealBackup,
  verifyArchiveFile,
  verifyBackup,
} from '../../src/engines/backup/index.js';

const owner = { accountId: '111122223333', region: 'eu-west-1', resourceId: 'db-ABCDEFGHIJKLMNOP' };

function info(id: string, consistentAt: number, archiveStart: string): Omit<BaseBackupInfo, 'dir' | 'bytes'> {
  return { id, engine: 'postgres', startedAt: consistentAt - 10, finishedAt: consistentAt, consistentAt, position: '0/0', archiveStart };
}

describe('backup storage', () => {
  let root: string;
  let host: LocalHost;
  before(async () => {
    // Under /tmp (traversable by the engine user when the tests run as root).
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'cellar-backup-unit-'));
    await fs.chmod(root, 0o711);
    host = await LocalHost.create();
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('puts backups under the data directory or the configured directory, and refuses unsafe names', () => {
    assert.equal(backupRootFor({ dataDir: '/var/lib/cellar' }), '/var/lib/cellar/backups');
    assert.equal(backupRootFor({ dataDir: '/var/lib/cellar', backupDir: '/mnt/other' }), '/mnt/other');
    assert.equal(backupRootFor({}), undefined);
    assert.throws(() => backupRootFor({ backupDir: 'relative' }), /absolute/);
    const place = backupPlace('/b', owner);
    assert.equal(place.baseDir, '/b/111122223333/eu-west-1/db-ABCDEFGHIJKLMNOP/base');
    assert.equal(place.archiveDir, '/b/111122223333/eu-west-1/db-ABCDEFGHIJKLMNOP/archive');
    for (const resourceId of ['../x', 'a/b', '', '.hidden', 'a..b']) assert.throws(() => backupPlace('/b', { ...owner, resourceId }), /invalid resource id/);
    assert.throws(() => backupPlace('/b', { ...owner, accountId: '../../etc' }), /invalid account id/);
    assert.throws(() => backupPlace('/b', { ...owner, region: 'x/..' }), /invalid region/);
  });

  it('verifies a sealed backup and names a corrupted, truncated or missing file', async () => {
    const place = await preparePlace(host, path.join(root, 'b1'), owner);
    const dir = path.join(place.baseDir, 'bk-1');
    await fs.mkdir(path.join(dir, 'sub'), { recursive: true });
    await fs.writeFile(path.join(dir, 'base.tar.gz'), Buffer.alloc(300_000, 7));
    await fs.writeFile(path.join(dir, 'sub', 'wal.tar.gz'), 'wal bytes');
    const sealed = await sealBackup(host, dir, info('bk-1', 1000, '000000010000000000000002'));
    assert.equal(sealed.bytes, 300_000 + 9);
    assert.equal(sealed.dir, dir);
    assert.deepEqual(await verifyBackup(dir), sealed);

    // One flipped byte in the middle.
    const file = path.join(dir, 'base.tar.gz');
    const handle = await fs.open(file, 'r+');
    await handle.write(Buffer.from([8]), 0, 1, 150_000);
    await handle.close();
    await assert.rejects(verifyBackup(dir), (err: unknown) => err instanceof BackupCorruptError && err.file === file && err.defect === 'corrupt' && /base\.tar\.gz is corrupt/.test(err.message));

    await fs.writeFile(file, Buffer.alloc(299_999, 7));
    await assert.rejects(verifyBackup(dir), (err: unknown) => err instanceof BackupCorruptError && err.file === file && err.defect === 'truncated');

    const wal = path.join(dir, 'sub', 'wal.tar.gz');
    await fs.writeFile(file, Buffer.alloc(300_000, 7));
    await fs.rm(wal);
    await assert.rejects(verifyBackup(dir), (err: unknown) => err instanceof BackupCorruptError && err.file === wal && err.defect === 'missing');

    await fs.rm(path.join(dir, MANIFEST_NAME));
    await assert.rejects(verifyBackup(dir), (err: unknown) => err instanceof BackupCorruptError && err.defect === 'no-manifest');
  });

  it('seals archive files (compressed with gzip) and detects a damaged or missing one', async () => {
    const place = await preparePlace(host, path.join(root, 'b2'), owner);
    const seg = path.join(place.archiveDir, '000000010000000000000003');
    await fs.writeFile(seg, Buffer.alloc(1 << 20, 1));
    const gz = await compressAndSealArchiveFile(host, seg);
    assert.equal(gz, seg + '.gz');
    await assert.rejects(fs.access(seg), 'gzip removed the uncompressed segment');
    assert.ok((await fs.stat(gz)).size < 1 << 16, 'compressed');
    await verifyArchiveFile(gz);

    await fs.appendFile(gz, 'x');
    await assert.rejects(verifyArchiveFile(gz), (err: unknown) => err instanceof BackupCorruptError && err.file === gz && err.defect === 'corrupt');
    await fs.rm(gz);
    await assert.rejects(verifyArchiveFile(gz), (err: unknown) => err instanceof BackupCorruptError && err.file === gz && err.defect === 'missing');

    const other = path.join(place.archiveDir, '000000010000000000000004');
    await fs.writeFile(other, 'plain');
    await assert.rejects(verifyArchiveFile(other, 200), (err: unknown) => err instanceof BackupCorruptError && err.defect === 'no-manifest');
    // Sealed while a restore waits for it (the archiver seals just after gzip finishes): not a defect.
    const waiting = verifyArchiveFile(other);
    await new Promise((r) => setTimeout(r, 150));
    await sealArchiveFile(host, other);
    await waiting;
    await verifyArchiveFile(other);
  });

  it('names the log an archive file holds, keeping history files and Cellar records', () => {
    assert.equal(defaultLogName('000000010000000000000004.gz.sha256'), '000000010000000000000004');
    assert.equal(defaultLogName('000000010000000000000004.partial'), '000000010000000000000004');
    assert.equal(defaultLogName('mysql-bin.000007.gz'), 'mysql-bin.000007');
    assert.equal(defaultLogName('00000002.history.gz'), undefined);
    assert.equal(defaultLogName('cellar-latest.json'), undefined);
  });

  it('retention keeps the newest backup consistent before the window and everything after it', () => {
    const b = (id: string, t: number) => ({ ...info(id, t, id), bytes: 1, dir: `/x/${id}` });
    const all = [b('a', 100), b('b', 200), b('c', 300), b('d', 400)];
    assert.equal(baseBackupFor(all, 250)?.id, 'b');
    assert.equal(baseBackupFor(all, 99), undefined);
    assert.deepEqual(backupsToPrune(all, 250).map((x) => x.id), ['a']);
    assert.deepEqual(backupsToPrune(all, 400).map((x) => x.id), ['a', 'b', 'c']);
    assert.deepEqual(backupsToPrune(all, 50), []);
  });

  it('prunes expired backups, interrupted ones and archive files no kept backup needs', async () => {
    const place = await preparePlace(host, path.join(root, 'b3'), owner);
    const make = async (id: string, t: number, start: string) => {
      const dir = path.join(place.baseDir, id);
      await fs.mkdir(dir);
      await fs.writeFile(path.join(dir, 'base.tar.gz'), id);
      return sealBackup(host, dir, info(id, t, start));
    };
    await make('old', 100, '000000010000000000000001');
    await make('mid', 200, '000000010000000000000005');
    await make('new', 300, '000000010000000000000009');
    const crashed = path.join(place.baseDir, 'crashed');
    const running = path.join(place.baseDir, 'running');
    await fs.mkdir(crashed);
    await fs.mkdir(running);
    for (const n of ['000000010000000000000004.gz', '000000010000000000000004.gz.sha256', '000000010000000000000005.gz', '000000010000000000000005.gz.sha256', '00000002.history', '00000002000000000000000A.partial']) {
      await fs.writeFile(path.join(place.archiveDir, n), n);
    }
    const listing = await listBaseBackups(place);
    assert.deepEqual(listing.complete.map((x) => x.id), ['old', 'mid', 'new']);
    assert.deepEqual(listing.incomplete, [crashed, running]);

    const outcome = await pruneBackups(host, place, {
      windowStart: 250,
      inProgress: new Set([running]),
      logName: (n) => (n.endsWith('.history') ? undefined : n.slice(0, 24)),
    });
    assert.deepEqual(outcome.removedBackups.sort(), [crashed, path.join(place.baseDir, 'old')].sort());
    assert.equal(outcome.oldestKept?.id, 'mid');
    assert.equal(outcome.removedArchiveFiles, 2);
    assert.deepEqual((await fs.readdir(place.archiveDir)).sort(), ['000000010000000000000005.gz', '000000010000000000000005.gz.sha256', '00000002.history', '00000002000000000000000A.partial']);
    assert.deepEqual((await fs.readdir(place.baseDir)).sort(), ['mid', 'new', 'running']);
  });
});
