/**
 * The pure pieces of MariaDB backups: the binlog event scanner (whole events, open transactions, newest committed
 * second, at every split of the input), mariadb-backup's position report, restore-time rounding, the server id and
 * the backup account's grants.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BINLOG_EVENT,
  binlogDatetime,
  compareBinlogNames,
  emptyScan,
  formatPosition,
  parseBackupBinlogPosition,
  parsePosition,
  restorableSecond,
  scanBinlog,
} from '../../src/engines/mariadb/binlog.js';
import { listArchive } from '../../src/engines/mariadb/backup.js';
import { BACKUP_PRIVILEGES, MASTER_GLOBAL_PRIVILEGES, backupAccountSql, serverIdFor } from '../../src/engines/mariadb/config.js';

/** One event: 19-byte header, body, 4 bytes of (fake) CRC32. */
function event(type: number, timestamp: number, body: Buffer): Buffer {
  const size = 19 + body.length + 4;
  const header = Buffer.alloc(19);
  header.writeUInt32LE(timestamp, 0);
  header[4] = type;
  header.writeUInt32LE(7, 5);
  header.writeUInt32LE(size, 9);
  return Buffer.concat([header, body, Buffer.alloc(4)]);
}

/** A format description event body whose last byte (before the checksum) says CRC32. */
const fde = (t: number) => event(BINLOG_EVENT.FORMAT_DESCRIPTION, t, Buffer.concat([Buffer.alloc(80), Buffer.from([1])]));
const gtid = (t: number, standalone = false) => {
  const body = Buffer.alloc(13);
  body[12] = standalone ? 1 : 0;
  return event(BINLOG_EVENT.GTID, t, body);
};
const xid = (t: number) => event(BINLOG_EVENT.XID, t, Buffer.alloc(8));
const rows = (t: number) => event(30, t, Buffer.alloc(40));
function query(t: number, text: string): Buffer {
  const post = Buffer.alloc(13);
  const db = Buffer.from('appdb');
  post[8] = db.length;
  return event(BINLOG_EVENT.QUERY, t, Buffer.concat([post, db, Buffer.from([0]), Buffer.from(text, 'latin1')]));
}
const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);

describe('binlog scanner', () => {
  const file = Buffer.concat([MAGIC, fde(100), gtid(101), rows(101), xid(101), gtid(102, true), query(102, 'CREATE TABLE t (a INT)'), gtid(103), rows(103)]);

  it('finds whole events, the newest committed transaction and the open one', () => {
    const scan = scanBinlog(file);
    assert.equal(scan.valid, true);
    assert.equal(scan.completeBytes, file.length);
    assert.equal(scan.lastCommittedSec, 102, 'the DDL (standalone) ended with its query');
    assert.equal(scan.lastGtidSec, 103);
    assert.equal(scan.openTransaction, true);
    assert.equal(scan.checksumBytes, 4);
    const transactionEnd = MAGIC.length + fde(0).length + gtid(0).length + rows(0).length + xid(0).length + gtid(0).length + query(102, 'CREATE TABLE t (a INT)').length;
    assert.equal(scan.lastTransactionEnd, transactionEnd);
  });

  it('gives the same answer whatever the splits of a growing file', () => {
    const whole = scanBinlog(file);
    for (let cut = 0; cut <= file.length; cut++) {
      const first = scanBinlog(file.subarray(0, cut));
      const second = first.valid ? scanBinlog(file.subarray(first.completeBytes), first) : scanBinlog(file);
      assert.deepEqual(second, whole, `split at ${cut}`);
      assert.ok(first.completeBytes <= cut);
    }
  });

  it('ends a transaction on a non-transactional table at its COMMIT query, and ignores non-binlogs', () => {
    const f = Buffer.concat([MAGIC, fde(5), gtid(6), query(6, 'INSERT INTO m VALUES (1)'), query(7, 'COMMIT')]);
    const scan = scanBinlog(f);
    assert.equal(scan.openTransaction, false);
    assert.equal(scan.lastCommittedSec, 6, 'the transaction is stamped by its GTID event');
    assert.equal(scanBinlog(Buffer.from('not a binlog')).valid, false);
    assert.deepEqual(scanBinlog(Buffer.alloc(0)), emptyScan());
  });

  it('marks a file the server closed (Stop event)', () => {
    const f = Buffer.concat([MAGIC, fde(5), gtid(6), xid(6), event(BINLOG_EVENT.STOP, 9, Buffer.alloc(0))]);
    const scan = scanBinlog(f);
    assert.equal(scan.closed, true);
    assert.equal(scan.lastEventSec, 9);
  });
});

describe('binlog positions and times', () => {
  it("reads mariadb-backup's binlog position report", () => {
    const log = "[00] 2026-12-07 02:10:29 MySQL binlog position: filename 'binlog.000002', position '599', GTID of the last change '0-7-5'\n";
    const p = parseBackupBinlogPosition(log)!;
    assert.deepEqual(p, { file: 'binlog.000002', position: 599, gtid: '0-7-5' });
    assert.equal(formatPosition(p), 'binlog.000002:599 gtid 0-7-5');
    assert.deepEqual(parsePosition(formatPosition(p)), p);
    assert.deepEqual(parsePosition('binlog.000010:4'), { file: 'binlog.000010', position: 4, gtid: '' });
    assert.throws(() => parsePosition('../x:1'), /not a binlog position/);
    assert.equal(parseBackupBinlogPosition('completed OK!'), undefined);
  });

  it('orders binlog names by sequence and formats --stop-datetime in UTC', () => {
    assert.deepEqual(['binlog.000010', 'binlog.000002', 'binlog.1000000'].sort(compareBinlogNames), ['binlog.000002', 'binlog.000010', 'binlog.1000000']);
    assert.equal(binlogDatetime(Date.UTC(2026, 11, 7, 2, 10, 29) / 1000), '2026-12-07 02:10:29');
  });

  it('restores a whole second exactly and rounds a fraction down', () => {
    assert.equal(restorableSecond(1_700_000_000_000), 1_700_000_000);
    assert.equal(restorableSecond(1_700_000_000_999), 1_700_000_000);
  });
});

describe('mariadb backup configuration', () => {
  it('derives a server id that replication accepts, different per instance directory', () => {
    const a = serverIdFor('/data/rds/db-A');
    const b = serverIdFor('/data/rds/db-B');
    assert.notEqual(a, b);
    for (const id of [a, b]) assert.ok(id >= 1 && id <= 0xffffffff && id !== 65535);
    assert.equal(serverIdFor('/data/rds/db-A'), a, 'stable');
  });

  it("gives the backup account only privileges the master has, over the Unix socket", () => {
    for (const p of BACKUP_PRIVILEGES) assert.ok(MASTER_GLOBAL_PRIVILEGES.includes(p), p);
    const sql = backupAccountSql('cellar', 'root');
    assert.ok(sql.includes("CREATE USER IF NOT EXISTS 'cellar'@'localhost' IDENTIFIED VIA unix_socket;"));
    assert.ok(sql.includes("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'cellar'@'localhost';"));
    assert.equal(sql[sql.length - 1], `GRANT ${BACKUP_PRIVILEGES.join(', ')} ON *.* TO 'cellar'@'localhost';`);
    // Not root: the engine user is Cellar's own, whose admin account gets the grant without being recreated.
    assert.deepEqual(backupAccountSql('alice', 'alice'), [`GRANT ${BACKUP_PRIVILEGES.join(', ')} ON *.* TO 'alice'@'localhost';`]);
  });
});

describe('binlog archive listing', () => {
  it('lists the uncompressed file while gzip may still be writing its .gz, and the .gz once gzip removed its input', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cellar-binlog-list-'));
    try {
      // 000001: gzip at work (input and partial output); 000002: compressed; 000003: the newest, still streaming.
      for (const name of ['binlog.000001', 'binlog.000001.gz', 'binlog.000002.gz', 'binlog.000002.gz.sha256', 'binlog.000003']) await writeFile(path.join(dir, name), 'x');
      const listed = await listArchive(dir);
      assert.deepEqual(
        listed.map((f) => [path.basename(f.file), f.compressed]),
        [
          ['binlog.000001', false],
          ['binlog.000002.gz', true],
          ['binlog.000003', false],
        ],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
