/**
 * The RDS backup APIs' remaining surface, on one real PostgreSQL instance, through @aws-sdk/client-rds:
 * - DescribeDBSnapshots over manual and automated snapshots: its filters, MaxRecords and Marker pages, PercentProgress;
 * - RestoreDBInstanceToPointInTime with the source named by SourceDBInstanceAutomatedBackupsArn;
 * - a daily backup that fails is reported (event) and leaves the instance serving;
 * - BackupRetentionPeriod 0 deletes the automated backups and says so, as RDS does.
 * Every wait is bounded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import {
  RDSClient,
  CreateDBInstanceCommand,
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DeleteDBSnapshotCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  DescribeEventsCommand,
  ModifyDBInstanceCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type DBInstance,
  type DBSnapshot,
} from '@aws-sdk/client-rds';
import { advanceClock, freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const ID = 'api-pg';
const PASSWORD = 'Backup-api-123';
const TIMEOUT_MS = 180_000;
const MANUAL = 20;
const DAY_MS = 24 * 3600_000;

describe('RDS backup APIs: snapshot listing, restore by automated-backup ARN, failures, retention 0', { timeout: 15 * 60_000 }, () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let rds: RDSClient;

  const describeOne = async (id = ID): Promise<DBInstance> => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
  const waitAvailable = async (id = ID): Promise<DBInstance> =>
    (await waitFor(async () => {
      const i = await describeOne(id);
      return i.DBInstanceStatus === 'available' ? i : undefined;
    }, `${id} available`, TIMEOUT_MS, 200))!;
  const events = async (): Promise<string[]> => ((await rds.send(new DescribeEventsCommand({ SourceIdentifier: ID, SourceType: 'db-instance', Duration: 60 * 24 * 14 }))).Events ?? []).map((e) => e.Message!);
  const query = async (i: DBInstance, sql: string): Promise<pg.QueryResult> => {
    const c = new pg.Client({ host: i.Endpoint!.Address, port: i.Endpoint!.Port, user: 'master', password: PASSWORD, database: 'app', ssl: { ca: await rdsCaBundle(cellar.endpoint) }, connectionTimeoutMillis: 10_000 });
    await c.connect();
    try {
      return await c.query(sql);
    } finally {
      await c.end();
    }
  };
  const allSnapshots = async (input: { SnapshotType?: string; MaxRecords?: number; Filters?: Array<{ Name: string; Values: string[] }> } = {}): Promise<{ pages: DBSnapshot[][] }> => {
    const pages: DBSnapshot[][] = [];
    let Marker: string | undefined;
    for (let n = 0; n < 100; n++) {
      const out = await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: ID, ...input, ...(Marker ? { Marker } : {}) }));
      pages.push(out.DBSnapshots ?? []);
      Marker = out.Marker;
      if (!Marker) return { pages };
    }
    throw new Error('DescribeDBSnapshots never stopped paging');
  };

  before(async () => {
    dataDir = tempDir('cellar-rds-backups-api-');
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: ID, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, DBName: 'app', Port: await freePort(), BackupRetentionPeriod: 2 }));
    const i = await waitAvailable();
    await query(i, "CREATE TABLE marks (label text); INSERT INTO marks VALUES ('before')");
    await waitFor(async () => ((await describeOne()).LatestRestorableTime ? true : undefined), 'LatestRestorableTime', TIMEOUT_MS, 200);
  });
  after(async () => {
    await cellar?.stop();
    removeDir(dataDir);
  });

  it('DescribeDBSnapshots pages manual and automated snapshots and filters them', async () => {
    for (let n = 0; n < MANUAL; n++) await rds.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: ID, DBSnapshotIdentifier: `page-${String(n).padStart(2, '0')}` }));
    await waitFor(async () => {
      const manual = (await allSnapshots({ SnapshotType: 'manual' })).pages.flat();
      return manual.length === MANUAL && manual.every((s) => s.Status === 'available') ? true : undefined;
    }, `${MANUAL} manual snapshots available`, TIMEOUT_MS, 500);

    // Manual and automated together: one more than a page of 20.
    const { pages } = await allSnapshots({ MaxRecords: 20 });
    assert.deepEqual(pages.map((p) => p.length), [20, 1], 'a full page, then the rest');
    const ids = pages.flat().map((s) => s.DBSnapshotIdentifier!);
    assert.equal(new Set(ids).size, MANUAL + 1, 'no snapshot twice across pages');
    assert.equal(pages.flat().filter((s) => s.SnapshotType === 'automated').length, 1);
    for (const s of pages.flat()) {
      assert.equal(s.Status, 'available');
      assert.equal(s.PercentProgress, 100);
    }

    const byId = await rds.send(new DescribeDBSnapshotsCommand({ Filters: [{ Name: 'db-snapshot-id', Values: ['page-03', 'page-11'] }] }));
    assert.deepEqual(byId.DBSnapshots!.map((s) => s.DBSnapshotIdentifier).sort(), ['page-03', 'page-11']);
    const automated = await rds.send(new DescribeDBSnapshotsCommand({ Filters: [{ Name: 'snapshot-type', Values: ['automated'] }, { Name: 'db-instance-id', Values: [ID] }] }));
    assert.equal(automated.DBSnapshots!.length, 1);
    assert.match(automated.DBSnapshots![0]!.DBSnapshotIdentifier!, /^rds:api-pg-/);
    const engine = await rds.send(new DescribeDBSnapshotsCommand({ Filters: [{ Name: 'engine', Values: ['mysql'] }] }));
    assert.deepEqual(engine.DBSnapshots ?? [], []);
    await assert.rejects(rds.send(new DescribeDBSnapshotsCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })), (e: any) => (e.Code ?? e.name) === 'InvalidParameterValue');
    await assert.rejects(rds.send(new DescribeDBSnapshotsCommand({ MaxRecords: 19 })), (e: any) => (e.Code ?? e.name) === 'InvalidParameterValue');

    for (let n = 0; n < MANUAL; n++) await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: `page-${String(n).padStart(2, '0')}` }));
    assert.equal((await allSnapshots({ SnapshotType: 'manual' })).pages.flat().length, 0);
  });

  it('restores to the latest restorable time from the source named by its automated-backup ARN', async () => {
    const i = await waitAvailable();
    await query(i, "INSERT INTO marks VALUES ('after')");
    const arn = (await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: ID }))).DBInstanceAutomatedBackups![0]!.DBInstanceAutomatedBackupsArn!;
    const inserted = Date.now();
    await waitFor(async () => (((await describeOne()).LatestRestorableTime?.getTime() ?? 0) > inserted ? true : undefined), 'LatestRestorableTime past the insert', TIMEOUT_MS, 200);
    await rds.send(new RestoreDBInstanceToPointInTimeCommand({ SourceDBInstanceAutomatedBackupsArn: arn, TargetDBInstanceIdentifier: 'api-pitr', UseLatestRestorableTime: true, Port: await freePort(), BackupRetentionPeriod: 0 }));
    const restored = await waitAvailable('api-pitr');
    assert.deepEqual((await query(restored, 'SELECT label FROM marks ORDER BY label')).rows.map((r) => r.label), ['after', 'before']);
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'api-pitr', SkipFinalSnapshot: true }));
  });

  it('reports a daily backup that fails, and the instance keeps serving', async () => {
    const auto = (await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: ID }))).DBInstanceAutomatedBackups![0]!;
    // The backup place's base directory becomes a file: the next backup cannot be written there.
    const base = path.join(dataDir, 'backups', '000000000000', 'us-east-1', auto.DbiResourceId!, 'base');
    assert.ok(fs.statSync(base).isDirectory(), base);
    const aside = `${base}.aside`;
    fs.renameSync(base, aside);
    fs.writeFileSync(base, 'not a directory');
    try {
      await advanceClock(cellar.endpoint, DAY_MS);
      await waitFor(async () => ((await events()).some((m) => m.startsWith('The backup of the DB instance failed')) ? true : undefined), 'the failed-backup event', TIMEOUT_MS, 250);
      const i = await waitAvailable();
      assert.deepEqual((await query(i, "SELECT count(*)::int AS n FROM marks")).rows[0], { n: 2 }, 'still serving');
    } finally {
      fs.rmSync(base, { force: true });
      fs.renameSync(aside, base);
    }
  });

  it('BackupRetentionPeriod 0 deletes the automated backups and says so', async () => {
    await waitAvailable();
    const m = await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, BackupRetentionPeriod: 0, ApplyImmediately: true }));
    assert.equal(m.DBInstance!.DBInstanceIdentifier, ID);
    await waitFor(async () => (((await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: ID }))).DBInstanceAutomatedBackups ?? []).length === 0 ? true : undefined), 'the automated backups gone', TIMEOUT_MS, 250);
    assert.deepEqual((await rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: ID, SnapshotType: 'automated' }))).DBSnapshots ?? [], []);
    await waitFor(async () => ((await events()).includes('Automated backups for this DB instance have been disabled') ? true : undefined), 'the disabled event', 30_000, 250);
    const i = await waitAvailable();
    assert.equal(i.BackupRetentionPeriod, 0);
    assert.equal(i.LatestRestorableTime, undefined);
  });
});
