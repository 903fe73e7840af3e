/**
 * The pure parts of RDS backups (src/services/rds/backups/): BackupRetentionPeriod and PreferredBackupWindow as RDS
 * checks them, the daily window schedule, restore-time checks, automated snapshot names and ARNs, the restorable
 * window, and the API shapes of snapshots and automated backups.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/core/errors.js';
import {
  checkRestoreTime,
  checkRetention,
  checkWindowsApart,
  defaultBackupWindow,
  lastWindowStartMs,
  parseBackupWindow,
  RestoreWindowMissing,
} from '../../src/services/rds/backups/validation.js';
import { automatedBackupArn, automatedSnapshotId, restoreWindow, snapshotPlaceId, windowStartMs, type AutomatedBackupRecord, type BaseBackupRef } from '../../src/services/rds/backups/records.js';
import { automatedSnapshots, toAutomatedBackup, toSnapshot } from '../../src/services/rds/backups/describe.js';

function refusal(fn: () => unknown, code: string, message?: RegExp | string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ServiceError, String(e));
    assert.equal(e.code, code);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

const base = (id: string, consistentAt: number): BaseBackupRef => ({
  id,
  engine: 'postgres',
  startedAt: consistentAt - 1000,
  finishedAt: consistentAt + 500,
  consistentAt,
  bytes: 1024,
  position: '0/3000028',
  archiveStart: '000000010000000000000003',
  dir: `/b/${id}`,
});

function automated(bases: BaseBackupRef[], latest?: number): AutomatedBackupRecord {
  return {
    accountId: '123456789012',
    region: 'us-east-1',
    status: 'active',
    retentionDays: 7,
    backupWindow: '03:00-03:30',
    place: { baseDir: '/b/base', archiveDir: '/b/archive' },
    bases,
    ...(latest !== undefined ? { latestRestorableMs: latest } : {}),
    tags: [],
    source: {
      instanceId: 'orders',
      engine: 'postgres',
      engineKind: 'postgres',
      engineVersion: '15.18',
      family: 'postgres15',
      licenseModel: 'postgresql-license',
      instanceClass: 'db.t3.micro',
      allocatedStorageGiB: 20,
      masterUsername: 'master',
      masterPasswordSealed: 'sealed',
      port: 5432,
      availabilityZone: 'us-east-1a',
      optionGroupName: 'default:postgres-15',
      storageEncrypted: false,
      instanceCreateTimeMs: Date.UTC(2026, 0, 1),
      dbiResourceId: 'db-ABCDEFGHIJKLMNOPQRSTUVWXYZ',
    },
  };
}

describe('BackupRetentionPeriod', () => {
  it('takes 0 to 35 days, and refuses anything else as RDS does', () => {
    assert.equal(checkRetention(undefined), undefined);
    assert.equal(checkRetention(0), 0);
    assert.equal(checkRetention(35), 35);
    for (const bad of [-1, 36, 1.5]) refusal(() => checkRetention(bad), 'InvalidParameterValue', 'Invalid backup retention period: must be between 0 and 35 days.');
  });
});

describe('PreferredBackupWindow', () => {
  it('is hh24:mi-hh24:mi in UTC, at least 30 minutes, and may cross midnight', () => {
    assert.deepEqual(parseBackupWindow('03:00-03:30'), { startMinute: 180, lengthMinutes: 30 });
    assert.deepEqual(parseBackupWindow('23:45-00:30'), { startMinute: 1425, lengthMinutes: 45 });
    refusal(() => parseBackupWindow('03:00-03:29'), 'InvalidParameterValue', 'The backup window must be at least 30 minutes.');
    for (const bad of ['3:00-03:30', '24:00-00:30', '03:00', 'mon:03:00-mon:03:30', '03:60-04:30']) refusal(() => parseBackupWindow(bad), 'InvalidParameterValue', /^Invalid backup window format/);
  });

  it('must not overlap the maintenance window on any day', () => {
    refusal(() => checkWindowsApart('05:10-05:40', 'sun:05:00-sun:05:30'), 'InvalidParameterValue', 'The backup window and maintenance window must not overlap.');
    refusal(() => checkWindowsApart('23:50-00:20', 'tue:00:10-tue:00:40'), 'InvalidParameterValue', 'The backup window and maintenance window must not overlap.');
    checkWindowsApart('05:30-06:00', 'sun:05:00-sun:05:30');
    checkWindowsApart('04:30-05:00', 'sun:05:00-sun:05:30');
  });

  it('defaults to a 30-minute window apart from the maintenance window, the same for the same instance', () => {
    const w = defaultBackupWindow('db-SEED', 'sun:05:00-sun:05:30');
    assert.equal(parseBackupWindow(w).lengthMinutes, 30);
    assert.equal(defaultBackupWindow('db-SEED', 'sun:05:00-sun:05:30'), w);
    for (const seed of ['a', 'b', 'c', 'd', 'e', 'f']) checkWindowsApart(defaultBackupWindow(seed, 'mon:00:00-mon:23:00'), 'mon:00:00-mon:23:00');
  });

  it('schedules the daily backup at the last window start at or before now', () => {
    const day = Date.UTC(2026, 5, 10);
    assert.equal(lastWindowStartMs('03:00-03:30', day + 3 * 3600_000), day + 3 * 3600_000);
    assert.equal(lastWindowStartMs('03:00-03:30', day + 3 * 3600_000 - 1), day - 21 * 3600_000);
    assert.equal(lastWindowStartMs('03:00-03:30', day + 23 * 3600_000), day + 3 * 3600_000);
  });
});

describe('point-in-time restore time', () => {
  const w = { earliestMs: Date.UTC(2026, 0, 1, 0, 0), latestMs: Date.UTC(2026, 0, 2, 0, 0) };
  it('takes exactly one of RestoreTime and UseLatestRestorableTime', () => {
    refusal(() => checkRestoreTime({}, w, 'src'), 'InvalidParameterCombination');
    refusal(() => checkRestoreTime({ RestoreTime: new Date(w.earliestMs), UseLatestRestorableTime: true }, w, 'src'), 'InvalidParameterCombination');
    assert.deepEqual(checkRestoreTime({ UseLatestRestorableTime: true }, w, 'src'), { latest: true });
    assert.deepEqual(checkRestoreTime({ RestoreTime: new Date(w.earliestMs + 1) }, w, 'src'), { latest: false, timeMs: w.earliestMs + 1 });
  });
  it('refuses a time outside the restorable window, and says when there is none yet', () => {
    refusal(() => checkRestoreTime({ RestoreTime: new Date(w.earliestMs - 1) }, w, 'src'), 'InvalidParameterValue', /outside the restorable window/);
    refusal(() => checkRestoreTime({ RestoreTime: new Date(w.latestMs + 1) }, w, 'src'), 'InvalidParameterValue', /2026-01-02T00:00:00.000Z/);
    assert.throws(() => checkRestoreTime({ UseLatestRestorableTime: true }, undefined, 'src'), RestoreWindowMissing);
  });
});

describe('automated backups and snapshots as RDS names and shows them', () => {
  it('names daily backups rds:<instance>-yyyy-mm-dd-hh-mm and backups by a stable auto-backup ARN', () => {
    assert.equal(automatedSnapshotId('orders', Date.UTC(2026, 2, 4, 7, 5, 59)), 'rds:orders-2026-03-04-07-05');
    const arn = automatedBackupArn(automated([]));
    assert.match(arn, /^arn:aws:rds:us-east-1:123456789012:auto-backup:ab-[0-9a-f]{40}$/);
    assert.equal(automatedBackupArn(automated([])), arn);
  });

  it('keeps snapshot places short and safe for any identifier RDS accepts', () => {
    const id = snapshotPlaceId({ accountId: '123456789012', region: 'us-east-1' }, 's' + 'a'.repeat(254));
    assert.match(id, /^snap-[0-9a-f]{40}$/);
    assert.notEqual(snapshotPlaceId({ accountId: '210987654321', region: 'us-east-1' }, 'x'), snapshotPlaceId({ accountId: '123456789012', region: 'us-east-1' }, 'x'));
  });

  it('the restorable window runs from the oldest base to the newest archived change', () => {
    assert.equal(restoreWindow(automated([])), undefined);
    const a = automated([base('b1', 1000), base('b2', 5000)], 9000);
    assert.deepEqual(restoreWindow(a), { earliestMs: 1000, latestMs: 9000 });
    // Before anything is archived past the newest base, the newest base's consistency point is the latest.
    assert.deepEqual(restoreWindow(automated([base('b1', 1000), base('b2', 5000)])), { earliestMs: 1000, latestMs: 5000 });
    assert.equal(windowStartMs(7, 10 * 86_400_000), 3 * 86_400_000);
  });

  it('shows automated backups and their snapshots with RDS fields', () => {
    const a = automated([base('b1', Date.UTC(2026, 0, 3, 3, 10))], Date.UTC(2026, 0, 4));
    const ab = toAutomatedBackup(a, Date.UTC(2026, 0, 5));
    assert.equal(ab.Status, 'active');
    assert.equal(ab.DBInstanceIdentifier, 'orders');
    assert.equal(ab.DBInstanceArn, 'arn:aws:rds:us-east-1:123456789012:db:orders');
    assert.deepEqual(ab.RestoreWindow, { EarliestTime: new Date(Date.UTC(2026, 0, 3, 3, 10)), LatestTime: new Date(Date.UTC(2026, 0, 5)) });
    assert.equal(ab.BackupRetentionPeriod, 7);
    const [snap] = automatedSnapshots(a);
    const d = toSnapshot(snap!, '123456789012');
    assert.equal(d.SnapshotType, 'automated');
    assert.equal(d.DBSnapshotIdentifier, 'rds:orders-2026-01-03-03-09');
    assert.equal(d.Status, 'available');
    assert.equal(d.PercentProgress, 100);
    assert.equal(d.DBSnapshotArn, 'arn:aws:rds:us-east-1:123456789012:snapshot:rds:orders-2026-01-03-03-09');
  });

  it('shows a manual snapshot being created at 0 percent, and hides its tags from other accounts', () => {
    const rec = {
      id: 'snap-1',
      instanceId: 'orders',
      status: 'creating' as const,
      createdAtMs: 1,
      engine: 'postgres' as const,
      engineVersion: '15.18',
      allocatedStorageGiB: 20,
      masterUsername: 'master',
      port: 5432,
      availabilityZone: 'us-east-1a',
      tags: [{ Key: 'team', Value: 'a' }],
    };
    const mine = toSnapshot({ kind: 'manual', accountId: '123456789012', region: 'us-east-1', rec }, '123456789012');
    assert.equal(mine.Status, 'creating');
    assert.equal(mine.PercentProgress, 0);
    assert.deepEqual(mine.TagList, rec.tags);
    const theirs = toSnapshot({ kind: 'manual', accountId: '123456789012', region: 'us-east-1', rec: { ...rec, status: 'available' } }, '210987654321');
    assert.equal(theirs.PercentProgress, 100);
    assert.deepEqual(theirs.TagList, []);
  });
});
