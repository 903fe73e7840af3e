/**
 * DB instance records stored before the reconcile runtime (the status as the reconciler's command, `desiredRunning`,
 * `generation`, `storageFull` on the record) still load: each old status becomes the desired state it asked for,
 * nothing is taken as observed of its engine, and the transition table derives the status a restarted Cellar must
 * report (available ones `rebooting` until this Cellar runs their engine, as for any takeover).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { migrateInstance, RdsTables, type InstanceRecord } from '../../src/services/rds/records.js';
import { desiredOf } from '../../src/services/rds/status.js';
import { deriveStatus } from '../../src/runtime/transitions.js';

function legacy(status: string, extra: Record<string, unknown> = {}): InstanceRecord {
  return {
    id: 'old-1', accountId: '000000000000', region: 'us-east-1', engine: 'postgres', engineKind: 'postgres', engineVersion: '15.20', family: 'postgres15',
    licenseModel: 'postgresql-license', instanceClass: 'db.t3.micro', allocatedStorageGiB: 20, masterUsername: 'master', masterPasswordSealed: 'sealed',
    port: 5432, parameterGroupName: 'default.postgres15', optionGroupName: 'default:postgres-15', vpcSecurityGroupIds: [], subnetGroupName: 'default',
    availabilityZone: 'us-east-1a', publiclyAccessible: false, storageEncrypted: false, deletionProtection: false, backupRetentionPeriod: 1,
    preferredBackupWindow: '07:50-08:20', preferredMaintenanceWindow: 'sun:05:00-sun:05:30', autoMinorVersionUpgrade: true, copyTagsToSnapshot: false,
    tags: [], createdAtMs: 1, dbiResourceId: 'db-ABCDEFGH', statusSinceMs: 1, pending: {}, dataDir: '/var/lib/cellar/rds/old-1',
    status, desiredRunning: !['stopping', 'stopped', 'deleting'].includes(status), generation: 7, ...extra,
  } as unknown as InstanceRecord;
}

describe('DB instance records from before the runtime', () => {
  it('migrate every old status to the desired state it asked for, and derive the status a new Cellar reports', () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['creating', {}, 'creating'],
      ['available', {}, 'rebooting'],
      ['storage-full', { storageFull: true }, 'rebooting'],
      ['rebooting', {}, 'rebooting'],
      ['modifying', { applying: { DBInstanceClass: 'db.t3.small' } }, 'modifying'],
      // The engine is not this Cellar's yet: it is taken over first, then the password reaches it.
      ['resetting-master-credentials', { pending: { MasterUserPasswordSealed: 'x' } }, 'rebooting'],
      ['stopping', {}, 'stopping'],
      ['stopped', {}, 'stopped'],
      ['starting', {}, 'starting'],
      ['deleting', {}, 'deleting'],
      ['failed', {}, 'failed'],
    ];
    for (const [old, extra, want] of cases) {
      const rec = migrateInstance(legacy(old, extra));
      assert.equal(deriveStatus(desiredOf(rec), rec.observed).status, want, `an old ${old} record`);
      assert.equal(rec.desired.generation, 7);
      assert.deepEqual(rec.members, [{ role: 'primary', availabilityZone: 'us-east-1a', host: '127.0.0.1', dataDir: '/var/lib/cellar/rds/old-1', port: 5432 }]);
      for (const gone of ['desiredRunning', 'generation', 'storageFull']) assert.equal(gone in rec, false, `${gone} left the record`);
    }
    assert.equal(migrateInstance(legacy('storage-full', { storageFull: true })).observed.storageFull, true);
  });

  it('are migrated as the table reads them; current records are left as they are', () => {
    const store = new SqliteStore({ path: ':memory:' });
    const tables = new RdsTables(store);
    store.keyspace('rds_instances').put(Buffer.from('000000000000/us-east-1/old-1'), Buffer.from(JSON.stringify(legacy('stopped'))));
    const rec = tables.instances.get('000000000000/us-east-1/old-1')!;
    assert.equal(rec.observed.engine, 'stopped');
    assert.equal(rec.desired.running, false);
    assert.equal(tables.instances.list()[0]![1].desired.running, false);
    assert.equal(migrateInstance(rec), rec, 'a current record is returned unchanged');
  });
});
