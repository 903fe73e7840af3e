/**
 * The backup scenarios again, across kill -9 of Cellar in the middle of a backup:
 *   - killed at the start of the first automated backup (an injected fault at `rds.backup`, so the moment is exact),
 *     the next Cellar takes the instance over and takes the backup again: it shows as an automated backup;
 *   - killed while the engine's own tool is taking a manual snapshot of a few tens of MB, the next Cellar takes the
 *     snapshot again: it becomes available and restores to the state it was asked of;
 *   - point-in-time restore to a time between two writes made before the kill gives exactly the rows up to it;
 *   - a restore to exactly the LatestRestorableTime described after the kill is accepted and has every row;
 *   - a corrupted automated base backup still fails its restore clearly.
 * Shared by rds-backups-postgres-crash.test.ts and rds-backups-mariadb-crash.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RDSClient, CreateDBSnapshotCommand, DescribeDBInstanceAutomatedBackupsCommand, DescribeDBSnapshotsCommand, RestoreDBInstanceFromDBSnapshotCommand, RestoreDBInstanceToPointInTimeCommand } from '@aws-sdk/client-rds';
import { freePort, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';
import { accountOf, between, connect, corrupt, CREATE_TABLE, createSource, filesUnder, instanceClient, READY_TIMEOUT_MS, startWriter, type Engine, type Sql } from './rds-backups-scenarios.js';

const BULK: Record<Engine, string[]> = {
  postgres: ['CREATE TABLE bulk (id int, pad text)', "INSERT INTO bulk SELECT g, repeat(md5(g::text), 32) FROM generate_series(1, 40000) g"],
  mariadb: [
    'CREATE TABLE bulk (id int, pad text) ENGINE=InnoDB',
    // Fewer rows than PostgreSQL's: a MariaDB restore replays them from the binlog through the client, row by row.
    "INSERT INTO bulk SELECT seq, REPEAT(MD5(seq), 32) FROM seq_1_to_10000",
  ],
};

export function crashScenarios(engine: Engine, opts: { writerIntervalMs: number; timeGranularityMs?: number }): void {
  describe(`RDS backups on ${engine} across kill -9 of Cellar mid-backup`, () => {
    let dataDir: string;
    let cellar: CellarProcess;
    let rds: RDSClient;
    let db: ReturnType<typeof instanceClient>;
    const open: Sql[] = [];
    const SRC = `crash-${engine}`;

    const restart = async (faults = '') => {
      cellar = await startCellar({ dataDir, port: cellar?.port, args: ['--quiet'], env: { CELLAR_FAULTS: faults } });
      rds = new RDSClient(sdkConfig(cellar.endpoint));
      db = instanceClient(rds);
    };
    const sql = async (id: string) => {
      const s = await connect(engine, cellar.endpoint, (await db.describe(id))!);
      open.push(s);
      return s;
    };

    before(async () => {
      dataDir = tempDir();
      writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { healthIntervalMs: 250 } }));
    });

    after(async () => {
      for (const s of open) await s.end().catch(() => undefined);
      await cellar?.stop();
      removeDir(dataDir);
    });

    it('killed at the start of the first automated backup, the next Cellar takes it again', async () => {
      await restart('rds.backup@1=kill');
      await createSource(rds, engine, SRC, await freePort());
      await new Promise<void>((resolve) => (cellar.proc.exitCode !== null || cellar.proc.signalCode !== null ? resolve() : cellar.proc.once('exit', () => resolve())));
      assert.equal(cellar.proc.signalCode, 'SIGKILL', 'killed by the injected fault');
      await restart();
      await db.waitStatus(SRC, 'available');
      await waitFor(
        async () => (await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: SRC }))).DBInstanceAutomatedBackups![0]?.Status === 'active',
        'the automated backup to be active',
        READY_TIMEOUT_MS,
        200,
      );
      const messages = (await db.events(SRC)).map((e) => e.message);
      assert.ok(messages.filter((m) => m === 'Finished DB Instance backup').length >= 1, JSON.stringify(messages));
    });

    let written: ReturnType<typeof startWriter>['rows'] = [];
    let atSnapshot: number[] = [];
    it('killed while a snapshot is being taken, the next Cellar takes it again and it restores to its state', async () => {
      const s = await sql(SRC);
      await s.exec(CREATE_TABLE[engine]);
      for (const stmt of BULK[engine]) await s.exec(stmt);
      const writer = startWriter(s, opts.writerIntervalMs);
      await waitFor(() => writer.rows.length >= 6, '6 rows written', 60_000, 50);
      await writer.stop();
      written = writer.rows;
      const t = between(written, 3, opts.timeGranularityMs);
      await waitFor(async () => ((await db.describe(SRC))!.LatestRestorableTime?.getTime() ?? 0) >= t, 'LatestRestorableTime past T', 60_000, 200);
      atSnapshot = await s.ids();
      await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: SRC, DBSnapshotIdentifier: `mid-${engine}` }));
      await waitFor(async () => (await db.status(SRC)) === 'backing-up', `${SRC} backing up`, 60_000, 10);
      await cellar.kill9();
      await restart();
      const snap = await waitFor(
        async () => {
          const x = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: `mid-${engine}` }))).DBSnapshots![0]!;
          return x.Status === 'available' ? x : undefined;
        },
        'the snapshot taken again',
        READY_TIMEOUT_MS,
        200,
      );
      assert.equal(snap!.PercentProgress, 100);
      await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ DBInstanceIdentifier: `mid-restored-${engine}`, DBSnapshotIdentifier: `mid-${engine}`, Port: await freePort() }));
      await db.waitStatus(`mid-restored-${engine}`, 'available');
      assert.deepEqual(await (await sql(`mid-restored-${engine}`)).ids(), atSnapshot);
    });

    it('after the kill, point-in-time restore to a time between two earlier writes gives exactly the rows up to it', async () => {
      const t = between(written, 3, opts.timeGranularityMs);
      await rds.send(new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: SRC, TargetDBInstanceIdentifier: `crash-pitr-${engine}`, RestoreTime: new Date(t), Port: await freePort() }));
      await db.waitStatus(`crash-pitr-${engine}`, 'available');
      assert.deepEqual(await (await sql(`crash-pitr-${engine}`)).ids(), written.slice(0, 4).map((r) => r.id));
    });

    it('after the kill, a restore to exactly the LatestRestorableTime described has every row', async () => {
      // A quiet source: LatestRestorableTime is seconds past its newest change, and the restore must accept it.
      const lastAck = Math.max(...written.map((r) => r.ackMs));
      const latest = await waitFor(
        async () => {
          const t = (await db.describe(SRC))!.LatestRestorableTime;
          return t && t.getTime() > lastAck ? t : undefined;
        },
        'LatestRestorableTime past the last write',
        60_000,
        200,
      );
      await rds.send(new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: SRC, TargetDBInstanceIdentifier: `crash-latest-${engine}`, RestoreTime: latest, Port: await freePort() }));
      await db.waitStatus(`crash-latest-${engine}`, 'available');
      assert.deepEqual(await (await sql(`crash-latest-${engine}`)).ids(), atSnapshot);
    });

    it('after the kill, a corrupted automated base backup fails its restore with an event naming the file', async () => {
      const i = (await db.describe(SRC))!;
      const ab = (await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DbiResourceId: i.DbiResourceId }))).DBInstanceAutomatedBackups![0]!;
      const baseRoot = join(dataDir, 'backups', accountOf(i.DBInstanceArn!), 'us-east-1', i.DbiResourceId!, 'base');
      const bases = readdirSync(baseRoot).sort();
      assert.equal(bases.length, 1, `one complete base backup, the interrupted one pruned or replaced: ${bases.join(', ')}`);
      const victim = filesUnder(join(baseRoot, bases[0]!)).find((f) => !f.endsWith('cellar-manifest.json'))!;
      corrupt(victim);
      await rds.send(
        new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceIdentifier: SRC, TargetDBInstanceIdentifier: `crash-corrupt-${engine}`, RestoreTime: ab.RestoreWindow!.LatestTime, Port: await freePort() }),
      );
      await db.waitStatus(`crash-corrupt-${engine}`, 'failed');
      const events = await db.events(`crash-corrupt-${engine}`);
      assert.ok(events.some((e) => e.message.startsWith('The DB instance could not be restored: backup file ') && e.message.includes(victim)), JSON.stringify(events));
    });
  });
}
