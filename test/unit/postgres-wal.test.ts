/** The pure WAL helpers of PostgreSQL backups (src/engines/postgres/wal.ts), and the restore_command script run for real. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  archiveLogName,
  formatLsn,
  nextWalFileName,
  parseBaseBackupReport,
  parseLsn,
  passfileLine,
  recoveryOptions,
  recoveryTimestamp,
  renderRestoreScript,
  renderStandbyLines,
  walFileName,
} from '../../src/engines/postgres/wal.js';

describe('PostgreSQL WAL helpers', () => {
  it('parses and formats LSNs and names the segment holding one, as pg_walfile_name does', () => {
    assert.equal(parseLsn('0/2000028'), 0x2000028n);
    assert.equal(parseLsn('1A/FF000000'), (0x1an << 32n) | 0xff000000n);
    assert.equal(formatLsn(parseLsn('1A/FF000000')), '1A/FF000000');
    assert.throws(() => parseLsn('12345'), /not an LSN/);
    assert.equal(walFileName(1, parseLsn('0/2000028')), '000000010000000000000002');
    assert.equal(walFileName(3, parseLsn('1A/FF000000')), '000000030000001A000000FF');
    assert.equal(nextWalFileName('000000010000000000000002'), '000000010000000000000003');
    assert.equal(nextWalFileName('0000000100000000000000FF'), '000000010000000100000000');
  });

  it('reads the WAL range from pg_basebackup --verbose', () => {
    const report = parseBaseBackupReport(
      'pg_basebackup: initiating base backup, waiting for checkpoint to complete\npg_basebackup: checkpoint completed\n' +
        'pg_basebackup: write-ahead log start point: 0/5000028 on timeline 2\npg_basebackup: starting background WAL receiver\n' +
        'pg_basebackup: write-ahead log end point: 0/5000100\npg_basebackup: base backup completed\n',
    );
    assert.deepEqual(report, { startLsn: '0/5000028', startTimeline: 2, endLsn: '0/5000100' });
    assert.throws(() => parseBaseBackupReport('pg_basebackup: error: connection failed'), /did not report/);
  });

  it('names the log an archive file holds, keeping history files and Cellar files out of pruning', () => {
    assert.equal(archiveLogName('000000010000000000000002.gz'), '000000010000000000000002');
    assert.equal(archiveLogName('000000010000000000000002.gz.sha256'), '000000010000000000000002');
    assert.equal(archiveLogName('000000010000000000000002.partial'), '000000010000000000000002');
    assert.equal(archiveLogName('00000002.history.gz'), undefined);
    assert.equal(archiveLogName('cellar-latest.json'), undefined);
  });

  it('writes the recovery target in a form PostgreSQL accepts, to the millisecond', () => {
    assert.equal(recoveryTimestamp(Date.UTC(2026, 11, 7, 2, 18, 21, 553)), '2026-12-07 02:18:21.553+00');
    const options = recoveryOptions({ restoreScript: "/d/it's/restore.sh", targetTime: Date.UTC(2026, 0, 1) });
    assert.deepEqual(options, [
      '-c',
      "restore_command='/d/it'\\''s/restore.sh' %f %p",
      '-c',
      'recovery_target_time=2026-01-01 00:00:00.000+00',
      '-c',
      'recovery_target_inclusive=on',
      '-c',
      'recovery_target_action=promote',
    ]);
    assert.deepEqual(recoveryOptions({ restoreScript: '/r.sh' }), ['-c', "restore_command='/r.sh' %f %p"]);
  });

  it('restore_command serves only staged files: gz decompressed, plain copied, anything else missing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-wal-unit-'));
    try {
      const staging = path.join(dir, "stag'ing");
      fs.mkdirSync(staging);
      fs.writeFileSync(path.join(dir, 'seg'), 'segment two');
      execFileSync('gzip', [path.join(dir, 'seg')]);
      fs.symlinkSync(path.join(dir, 'seg.gz'), path.join(staging, '000000010000000000000002.gz'));
      fs.writeFileSync(path.join(staging, '000000010000000000000003'), 'segment three (partial)');
      const script = path.join(dir, 'restore.sh');
      fs.writeFileSync(script, renderRestoreScript(staging), { mode: 0o700 });
      const run = (name: string) => spawnSync(script, [name, path.join(dir, 'out')]);
      assert.equal(run('000000010000000000000002').status, 0);
      assert.equal(fs.readFileSync(path.join(dir, 'out'), 'utf8'), 'segment two');
      assert.equal(run('000000010000000000000003').status, 0);
      assert.equal(fs.readFileSync(path.join(dir, 'out'), 'utf8'), 'segment three (partial)');
      assert.equal(run('000000010000000000000004').status, 1);
      assert.equal(run('00000002.history').status, 1);
      assert.equal(run('../seg.gz').status, 1, 'no path outside the staging directory');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("renders a standby's primary_conninfo without the password, and a pass file line with it escaped", () => {
    const [line] = renderStandbyLines({ host: '127.0.0.1', port: 5433, user: 'rdsrepladmin', passfile: "/d/it's/primary.pgpass", applicationName: 'db-1' });
    assert.equal(line, "primary_conninfo = 'host=''127.0.0.1'' port=''5433'' user=''rdsrepladmin'' passfile=''/d/it\\\\''s/primary.pgpass'' application_name=''db-1'' sslmode=''prefer'''");
    assert.ok(!line!.includes('password'));
    assert.throws(() => renderStandbyLines({ host: "x' host=evil", port: 1, user: 'u', passfile: '/p', applicationName: 'a' }), /invalid primary host/);
    assert.equal(passfileLine({ host: '127.0.0.1', port: 5432, user: 'rdsrepladmin', password: 'a:b\\c' }), '127.0.0.1:5432:*:rdsrepladmin:a\\:b\\\\c\n');
    assert.throws(() => passfileLine({ host: 'h', port: 1, user: 'u', password: 'a\nb' }), /line breaks/);
  });
});
