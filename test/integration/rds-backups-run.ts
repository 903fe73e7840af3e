/**
 * Given a DB instance with automated backups and a writer inserting rows, then:
 *   - its first backup is taken at creation (`backing-up`, RDS's backup events), DescribeDBInstanceAutomatedBackups
 *     and the automated snapshot show it, and LatestRestorableTime trails the present by seconds;
 *   - RestoreDBInstanceToPointInTime to a time T between two writes makes a new instance with exactly the rows up to
 *     T, while the source keeps serving writes;
 *   - UseLatestRestorableTime loses nothing committed before LatestRestorableTime;
 *   - a manual snapshot restores to its own state, with another class, port and parameter group; copies and
 *     restore sharing work as RDS's;
 *   - after the source is deleted (DeleteAutomatedBackups=false, a final snapshot), its retained automated backups
 *     restore to a point in time and its final snapshot restores;
 *   - a deliberately corrupted backup file fails the restore with an event naming the file, never a wrong database.
 * Shared by rds-backups-postgres.test.ts and rds-backups-mariadb.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  RDSClient,
  CopyDBSnapshotCommand,
  CreateDBParameterGroupCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceAutomatedBackupCommand,
  DeleteDBInstanceCommand,
  DeleteDBSnapshotCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBSnapshotAttributesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBSnapshotAttributeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
} from '@aws-sdk/client-rds';
import { freePort, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';
import { snapshotPlaceId } from '../../src/services/rds/backups/records.js';
import { accountOf, between, connect, corrupt, CREATE_TABLE, createSource, filesUnder, instanceClient, READY_TIMEOUT_MS, startWriter, type Engine, type Sql } from './rds-backups-scenarios.js';

export function backupScenarios(engine: Engine, opts: { writerIntervalMs: number; timeGranularityMs?: number }): void {
  describe(`RDS backups and restores on ${engine}`, () => {
    let dataDir: string;
    let cellar: CellarProcess;
    let rds: RDSClient;
    let db: ReturnType<typeof instanceClient>;
    let src: Sql;
    let writer: ReturnType<typeof startWriter> | undefined;
    const open: Sql[] = [];
    const SRC = `src-${engine}`;

    const rowsOf = async (id: string): Promise<number[]> => {
      const s = await connect(engine, cellar.endpoint, (await db.describe(id))!);
      open.push(s);
      return s.ids();
    };
    const latestRestorable = async () => (await db.describe(SRC))!.LatestRestorableTime?.getTime();

    before(async () => {
      dataDir = tempDir();
      writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { healthIntervalMs: 250 } }));
      cellar = await startCellar({ dataDir, args: ['--quiet'] });
      rds = new RDSClient(sdkConfig(cellar.endpoint));
      db = instanceClient(rds);
      await createSource(rds, engine, SRC, await freePort());
    });

    after(async () => {
      await writer?.stop().catch(() => undefined);
      for (const s of open) await s.end().catch(() => undefined);
      await cellar?.stop();
      removeDir(dataDir);
    });

    it('takes the first backup at creation and shows it as an automated backup, with LatestRestorableTime', async () => {
      const seen: string[] = [];
      await waitFor(
        async () => {
          const s = await db.status(SRC);
          if (s && seen.at(-1) !== s) seen.push(s);
          return s === 'available' && seen.includes('backing-up');
        },
        `${SRC} created, backed up, available (seen ${seen.join(' → ')})`,
        READY_TIMEOUT_MS,
        50,
      );
      const messages = (await db.events(SRC)).map((e) => e.message);
      for (const m of ['DB instance created', 'Backing up DB instance', 'Finished DB Instance backup']) assert.ok(messages.includes(m), `${m} in ${JSON.stringify(messages)}`);
      const backup = (await db.events(SRC)).find((e) => e.message === 'Backing up DB instance')!;
      assert.deepEqual(backup.categories, ['backup']);
      const ab = (await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: SRC }))).DBInstanceAutomatedBackups!;
      assert.equal(ab.length, 1);
      assert.equal(ab[0]!.Status, 'active');
      assert.equal(ab[0]!.BackupRetentionPeriod, 7);
      assert.ok(ab[0]!.RestoreWindow?.EarliestTime && ab[0]!.RestoreWindow.LatestTime, JSON.stringify(ab[0]!.RestoreWindow));
      assert.match(ab[0]!.DBInstanceAutomatedBackupsArn!, /:auto-backup:ab-/);
      const auto = (await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: SRC, SnapshotType: 'automated' }))).DBSnapshots!;
      assert.equal(auto.length, 1);
      assert.match(auto[0]!.DBSnapshotIdentifier!, new RegExp(`^rds:${SRC}-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}$`));
      assert.equal(auto[0]!.Status, 'available');
      // RDS-EVENT-0090 / 0091, on the automated snapshot itself.
      const autoEvents = (await db.events(auto[0]!.DBSnapshotIdentifier!, 'db-snapshot')).map((e) => e.message);
      for (const m of ['Creating automated snapshot', 'Automated snapshot created']) assert.ok(autoEvents.includes(m), `${m} in ${JSON.stringify(autoEvents)}`);
      src = await connect(engine, cellar.endpoint, (await db.describe(SRC))!);
      open.push(src);
      await src.exec(CREATE_TABLE[engine]);
      await waitFor(async () => (await latestRestorable()) !== undefined, 'LatestRestorableTime', 30_000, 200);
    });

    let pitrIds: number[] = [];
    it('restores to a time between two writes exactly the rows committed up to it, while the source keeps serving', async () => {
      writer = startWriter(src, opts.writerIntervalMs);
      await waitFor(() => writer!.rows.length >= 12, '12 rows written', 60_000, 50);
      const k = 7;
      const t = between(writer.rows, k, opts.timeGranularityMs);
      await waitFor(async () => ((await latestRestorable()) ?? 0) >= t, 'LatestRestorableTime past T', 60_000, 200);
      const lagSamples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const l = await latestRestorable();
        if (l !== undefined) lagSamples.push(Date.now() - l);
        await new Promise((r) => setTimeout(r, 200));
      }
      console.log(`# ${engine}: LatestRestorableTime lag under a writer every ${opts.writerIntervalMs} ms: ${lagSamples.join(', ')} ms`);
      const res = await rds.send(
        new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: SRC, TargetDBInstanceIdentifier: `pitr-${engine}`, RestoreTime: new Date(t), Port: await freePort() }),
      );
      assert.equal(res.DBInstance!.DBInstanceStatus, 'creating');
      await db.waitStatus(`pitr-${engine}`, 'available');
      pitrIds = writer.rows.slice(0, k + 1).map((r) => r.id);
      assert.deepEqual(await rowsOf(`pitr-${engine}`), pitrIds);
      const restored = (await db.events(`pitr-${engine}`)).map((e) => e.message);
      assert.ok(restored.includes(`Restored from DB instance ${SRC} to ${new Date(t).toISOString()}`), JSON.stringify(restored));
      // The source kept serving throughout: the writer never stopped, and it has every row written.
      const before = writer.rows.length;
      await waitFor(() => writer!.rows.length > before + 2, 'the source still taking writes', 30_000, 50);
      assert.ok(['available', 'backing-up'].includes((await db.status(SRC))!));
    });

    it('UseLatestRestorableTime loses nothing committed before LatestRestorableTime', async () => {
      const latest = (await latestRestorable())!;
      await rds.send(new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: SRC, TargetDBInstanceIdentifier: `latest-${engine}`, UseLatestRestorableTime: true, Port: await freePort() }));
      const written = writer!.rows;
      await writer!.stop();
      writer = undefined;
      await db.waitStatus(`latest-${engine}`, 'available');
      const ids = await rowsOf(`latest-${engine}`);
      const all = await src.ids();
      // A prefix of what was written (nothing later, no gap), holding every row acknowledged before LatestRestorableTime.
      assert.deepEqual(ids, all.slice(0, ids.length));
      const lost = written.filter((r) => r.ackMs <= latest && !ids.includes(r.id));
      assert.deepEqual(lost, [], 'rows committed before LatestRestorableTime are all restored');
      assert.ok(ids.length >= pitrIds.length);
    });

    it("restores a manual snapshot to the snapshot's state, with another class, port and parameter group", async () => {
      const at = await src.ids();
      const created = await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: SRC, DBSnapshotIdentifier: `snap-${engine}`, Tags: [{ Key: 'k', Value: 'v' }] }));
      assert.equal(created.DBSnapshot!.Status, 'creating');
      assert.equal(created.DBSnapshot!.SnapshotType, 'manual');
      const snap = (await waitFor(
        async () => {
          const s = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: `snap-${engine}` }))).DBSnapshots![0]!;
          return s.Status === 'available' ? s : undefined;
        },
        'the snapshot to be available',
        READY_TIMEOUT_MS,
        200,
      ))!;
      assert.equal(snap.PercentProgress, 100);
      assert.deepEqual(snap.TagList, [{ Key: 'k', Value: 'v' }]);
      const snapEvents = (await db.events(`snap-${engine}`, 'db-snapshot')).map((e) => e.message);
      assert.deepEqual(snapEvents.filter((m) => /manual snapshot/i.test(m)), ['Creating manual snapshot', 'Manual snapshot created']);
      await src.insert();
      await src.insert();
      const family = (await db.describe(SRC))!.DBParameterGroups![0]!.DBParameterGroupName!.replace(/^default\./, '');
      await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: `restored-${engine}`, DBParameterGroupFamily: family, Description: 'for the restored instance' }));
      const port = await freePort();
      await rds.send(
        new RestoreDBInstanceFromDBSnapshotCommand({
          DBInstanceIdentifier: `fromsnap-${engine}`,
          DBSnapshotIdentifier: `snap-${engine}`,
          DBInstanceClass: 'db.t3.small',
          Port: port,
          DBParameterGroupName: `restored-${engine}`,
        }),
      );
      const i = await db.waitStatus(`fromsnap-${engine}`, 'available');
      assert.equal(i.DBInstanceClass, 'db.t3.small');
      assert.equal(i.Endpoint!.Port, port);
      assert.equal(i.DBParameterGroups![0]!.DBParameterGroupName, `restored-${engine}`);
      assert.equal(i.BackupRetentionPeriod, 7, "the source's retention, inherited when the restore names none");
      assert.deepEqual(await rowsOf(`fromsnap-${engine}`), at);
      assert.ok((await db.events(`fromsnap-${engine}`)).some((e) => e.message === `Restored from snapshot snap-${engine}` && e.categories.includes('restoration')));

      // A copy is a snapshot of its own; restore sharing lists the accounts; a copy can be deleted.
      await rds.send(new CopyDBSnapshotCommand({ SourceDBSnapshotIdentifier: `snap-${engine}`, TargetDBSnapshotIdentifier: `copy-${engine}`, CopyTags: true }));
      await waitFor(async () => (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: `copy-${engine}` }))).DBSnapshots![0]!.Status === 'available', 'the copy', READY_TIMEOUT_MS, 200);
      const copy = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: `copy-${engine}` }))).DBSnapshots![0]!;
      assert.equal(copy.SourceDBSnapshotIdentifier, snap.DBSnapshotArn);
      assert.deepEqual(copy.TagList, [{ Key: 'k', Value: 'v' }]);
      const shared = await rds.send(new ModifyDBSnapshotAttributeCommand({ DBSnapshotIdentifier: `copy-${engine}`, AttributeName: 'restore', ValuesToAdd: ['111122223333'] }));
      assert.deepEqual(shared.DBSnapshotAttributesResult!.DBSnapshotAttributes, [{ AttributeName: 'restore', AttributeValues: ['111122223333'] }]);
      const attrs = await rds.send(new DescribeDBSnapshotAttributesCommand({ DBSnapshotIdentifier: `copy-${engine}` }));
      assert.deepEqual(attrs.DBSnapshotAttributesResult!.DBSnapshotAttributes![0]!.AttributeValues, ['111122223333']);
      const deleted = await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: `copy-${engine}` }));
      assert.equal(deleted.DBSnapshot!.Status, 'deleted');
    });

    it('after the source is deleted, its retained automated backups and its final snapshot restore', async () => {
      writer = startWriter(src, opts.writerIntervalMs);
      await waitFor(() => writer!.rows.length >= 4, '4 more rows', 60_000, 50);
      const t = between(writer.rows, 1, opts.timeGranularityMs);
      const upToT = writer.rows[1]!.id;
      await waitFor(async () => ((await latestRestorable()) ?? 0) >= t, 'LatestRestorableTime past T', 60_000, 200);
      await writer.stop();
      writer = undefined;
      const all = await src.ids();
      const resourceId = (await db.describe(SRC))!.DbiResourceId!;
      await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: SRC, FinalDBSnapshotIdentifier: `final-${engine}`, DeleteAutomatedBackups: false }));
      await db.waitStatus(SRC, undefined);
      const ab = (await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: resourceId }))).DBInstanceAutomatedBackups!;
      assert.equal(ab[0]!.Status, 'retained');
      await rds.send(new RestoreDBInstanceToPointInTimeCommand({ SourceDbiResourceId: resourceId, TargetDBInstanceIdentifier: `retained-${engine}`, RestoreTime: new Date(t), Port: await freePort() }));
      await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: `final-${engine}`, DBSnapshotIdentifier: `final-${engine}`, Port: await freePort() }));
      await db.waitStatus(`retained-${engine}`, 'available');
      await db.waitStatus(`final-${engine}`, 'available');
      assert.deepEqual(await rowsOf(`retained-${engine}`), all.filter((id) => id <= upToT));
      assert.deepEqual(await rowsOf(`final-${engine}`), all);
      // Deleted on request, the retained backups are gone.
      const gone = await rds.send(new DeleteDBInstanceAutomatedBackupCommand({ DbiResourceId: resourceId }));
      assert.equal(gone.DBInstanceAutomatedBackup!.Status, 'deleting');
      await assert.rejects(rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: resourceId })), (e: { name?: string }) => /DBInstanceAutomatedBackupNotFound/.test(e.name ?? ''));
    });

    it('a corrupted backup file fails the restore with an event naming the file, not a wrong database', async () => {
      const snap = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: `final-${engine}` }))).DBSnapshots![0]!;
      const dir = join(dataDir, 'backups', accountOf(snap.DBSnapshotArn!), 'us-east-1', snapshotPlaceId({ accountId: accountOf(snap.DBSnapshotArn!), region: 'us-east-1' }, `final-${engine}`));
      const victim = filesUnder(dir).find((f) => !f.endsWith('cellar-manifest.json'))!;
      corrupt(victim);
      await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: `corrupt-${engine}`, DBSnapshotIdentifier: `final-${engine}`, Port: await freePort() }));
      await db.waitStatus(`corrupt-${engine}`, 'failed');
      const events = await db.events(`corrupt-${engine}`);
      assert.ok(
        events.some((e) => e.message.startsWith('The DB instance could not be restored: backup file ') && e.message.includes(victim) && e.message.includes('corrupt')),
        JSON.stringify(events),
      );
    });
  });
}
