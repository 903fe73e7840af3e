/**
 * RDS DB instances with real engines, through @aws-sdk/client-rds and the AWS CLI: create (postgres,
 * mysql-on-MariaDB), connect with pg and mysql2, modify class and parameters (checked with SHOW /
 * SELECT @@), reboot, stop/start (and the 7-day automatic start), kill -9 of the engine, kill -9 of
 * Cellar, storage-full, delete. Instances are shared across tests in this file to keep it fast.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  RDSClient,
  CreateDBInstanceCommand,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  RebootDBInstanceCommand,
  StopDBInstanceCommand,
  StartDBInstanceCommand,
  DeleteDBInstanceCommand,
  DescribeEventsCommand,
  CreateDBParameterGroupCommand,
  ModifyDBParameterGroupCommand,
  DescribeDBParametersCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { advanceClock, awsCli, freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

/** AllocatedStorage 20 stands for 20 x 6 MiB = 120 MiB here, so a test can fill it. */
const STORAGE_GIB_BYTES = 6 * 1024 * 1024;
const CREATE_TIMEOUT_MS = 60_000;
const PASSWORD = 'Sup3r-secret!';

describe('RDS DB instances on real engines', () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let rds: RDSClient;

  const describeOne = async (id: string): Promise<DBInstance> => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
  const waitStatus = async (id: string, status: string, timeoutMs = CREATE_TIMEOUT_MS): Promise<DBInstance> =>
    (await waitFor(async () => {
      const i = await describeOne(id);
      return i.DBInstanceStatus === status ? i : undefined;
    }, `${id} to be ${status}`, timeoutMs, 100))!;
  const events = async (id: string) => (await rds.send(new DescribeEventsCommand({ SourceIdentifier: id, SourceType: 'db-instance', Duration: 20160 }))).Events!.map((e) => e.Message);
  const pgClient = async (i: DBInstance, password = PASSWORD, database = 'app') => {
    const c = new pg.Client({ host: i.Endpoint!.Address, port: i.Endpoint!.Port, user: i.MasterUsername, password, database, connectionTimeoutMillis: 5000, ssl: { ca: await rdsCaBundle(cellar.endpoint) } });
    // Sessions are ended on purpose (storage-full, reboot): that is an outcome to assert, not a crash of the test.
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const myClient = async (i: DBInstance, password = PASSWORD) => mysql.createConnection({ host: i.Endpoint!.Address, port: i.Endpoint!.Port, user: i.MasterUsername, password, database: 'app', connectTimeout: 5000 });
  const enginePid = async (id: string): Promise<number> => {
    const h = (await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as any;
    return h.services.rds.instances.find((x: any) => x.id === id).pid;
  };

  before(async () => {
    dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { storageGiBBytes: STORAGE_GIB_BYTES, healthIntervalMs: 250 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    // Both engines are created at once: the API answers `creating` and the engines come up in the background.
    const [p, m] = await Promise.all([
      rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: 'Orders-PG',
          Engine: 'postgres',
          DBInstanceClass: 'db.t3.micro',
          AllocatedStorage: 20,
          MasterUsername: 'master',
          MasterUserPassword: PASSWORD,
          Port: await freePort(),
          DBName: 'app',
          Tags: [{ Key: 'team', Value: 'orders' }],
        }),
      ),
      rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'orders-my', Engine: 'mysql', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: PASSWORD, DBName: 'app', Port: await freePort() })),
    ]);
    assert.equal(p.DBInstance!.DBInstanceStatus, 'creating');
    assert.equal(p.DBInstance!.DBInstanceIdentifier, 'orders-pg', 'RDS stores identifiers lower-cased');
    assert.equal(m.DBInstance!.DBInstanceStatus, 'creating');
    await Promise.all([waitStatus('orders-pg', 'available'), waitStatus('orders-my', 'available')]);
  });

  after(async () => {
    await cellar?.stop();
    removeDir(dataDir);
  });

  it('describes every field clients read', async () => {
    const i = await describeOne('orders-pg');
    assert.equal(i.Engine, 'postgres');
    assert.match(i.EngineVersion!, /^15\.\d+$/);
    assert.equal(i.MasterUsername, 'master');
    assert.equal(i.DBName, 'app');
    assert.equal(i.Endpoint!.Address, '127.0.0.1');
    assert.ok(i.Endpoint!.Port! > 0);
    assert.ok(i.InstanceCreateTime instanceof Date);
    assert.match(i.DbiResourceId!, /^db-[A-Z0-9]{26}$/);
    assert.equal(i.DBInstanceArn, 'arn:aws:rds:us-east-1:000000000000:db:orders-pg');
    assert.deepEqual(i.PendingModifiedValues, {});
    assert.equal(i.DBParameterGroups![0]!.DBParameterGroupName, 'default.postgres15');
    assert.equal(i.DBParameterGroups![0]!.ParameterApplyStatus, 'in-sync');
    assert.equal(i.DBSubnetGroup!.DBSubnetGroupName, 'default');
    assert.deepEqual(i.TagList, [{ Key: 'team', Value: 'orders' }]);
    const my = await describeOne('orders-my');
    assert.equal(my.Engine, 'mysql');
    assert.match(my.EngineVersion!, /^10\.11\.\d+$/, 'mysql is served by MariaDB and says so in its version');
    assert.ok(my.Endpoint!.Port !== i.Endpoint!.Port, 'each instance has its own port');
    assert.ok((await events('orders-pg')).includes('DB instance created'));
  });

  it('the AWS CLI lists the instances and filters by engine', () => {
    const r = awsCli(cellar.endpoint, ['rds', 'describe-db-instances', '--filters', 'Name=engine,Values=mysql']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.json.DBInstances.map((d: any) => d.DBInstanceIdentifier), ['orders-my']);
  });

  it('postgres: the master user writes and reads in DBName, and is not a superuser', async () => {
    const c = await pgClient(await describeOne('orders-pg'));
    try {
      await c.query('CREATE TABLE orders (id int primary key, item text)');
      await c.query("INSERT INTO orders VALUES (1, 'apple'), (2, 'pear')");
      assert.equal((await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 2);
      assert.equal((await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0].rolsuper, false);
      assert.equal((await c.query("SELECT pg_has_role('rds_superuser', 'member') AS m")).rows[0].m, true);
      await assert.rejects(c.query('ALTER SYSTEM SET work_mem = 1'), /must be superuser|permission denied/);
    } finally {
      await c.end();
    }
  });

  it('mysql: the master user writes and reads, without SUPER', async () => {
    const c = await myClient(await describeOne('orders-my'));
    try {
      await c.query('CREATE TABLE orders (id int primary key, item varchar(20))');
      await c.query("INSERT INTO orders VALUES (1, 'apple'), (2, 'pear')");
      const [rows] = await c.query('SELECT count(*) AS n FROM orders');
      assert.equal((rows as any)[0].n, 2);
      const [grants] = await c.query('SHOW GRANTS');
      // Data privileges are granted per database pattern (never reaching `mysql`), none globally.
      assert.doesNotMatch(JSON.stringify(grants), /SUPER|ALL PRIVILEGES ON \*\.\*/);
    } finally {
      await c.end();
    }
  });

  it('a wrong password is refused by the engine itself', async () => {
    await assert.rejects(pgClient(await describeOne('orders-pg'), 'not-the-password'), /password authentication failed/);
  });

  it('parameter groups configure the engine: dynamic at once, static pending-reboot until a reboot', async () => {
    await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'pg-tuned', DBParameterGroupFamily: 'postgres15', Description: 'tuned' }));
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg', DBParameterGroupName: 'pg-tuned', ApplyImmediately: true }));
    await waitStatus('orders-pg', 'available');
    await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg' }));
    const rebooting = await describeOne('orders-pg');
    assert.equal(rebooting.DBInstanceStatus, 'rebooting');
    await waitStatus('orders-pg', 'available');
    await rds.send(
      new ModifyDBParameterGroupCommand({
        DBParameterGroupName: 'pg-tuned',
        Parameters: [
          { ParameterName: 'work_mem', ParameterValue: '8192', ApplyMethod: 'immediate' },
          { ParameterName: 'max_connections', ParameterValue: '77', ApplyMethod: 'pending-reboot' },
        ],
      }),
    );
    const inst = await describeOne('orders-pg');
    await waitFor(async () => {
      const c = await pgClient(inst);
      try {
        return (await c.query('SHOW work_mem')).rows[0].work_mem === '8MB';
      } finally {
        await c.end();
      }
    }, 'work_mem to be applied at once', 10_000);
    await waitFor(async () => (await describeOne('orders-pg')).DBParameterGroups![0]!.ParameterApplyStatus === 'pending-reboot', 'pending-reboot', 10_000);
    let c = await pgClient(inst);
    assert.notEqual((await c.query('SHOW max_connections')).rows[0].max_connections, '77');
    await c.end();
    await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg' }));
    await waitStatus('orders-pg', 'available');
    c = await pgClient(inst);
    assert.equal((await c.query('SHOW max_connections')).rows[0].max_connections, '77');
    assert.equal((await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 2, 'data survives the reboot');
    await c.end();
    assert.equal((await describeOne('orders-pg')).DBParameterGroups![0]!.ParameterApplyStatus, 'in-sync');
    const params = await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'pg-tuned', Source: 'user' }));
    assert.deepEqual(params.Parameters!.map((p) => [p.ParameterName, p.ParameterValue]), [['max_connections', '77'], ['work_mem', '8192']]);
    const ev = await events('orders-pg');
    assert.ok(ev.includes('DB instance restarted'));
    assert.ok(ev.includes('Updated to use DBParameterGroup pg-tuned'));
  });

  it('a class change waits for the maintenance window unless applied immediately; class sets engine memory', async () => {
    const i = await describeOne('orders-my');
    let c = await myClient(i);
    const [[before]] = (await c.query('SELECT @@innodb_buffer_pool_size AS b')) as any;
    await c.end();
    const pending = await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-my', DBInstanceClass: 'db.t3.small' }));
    assert.equal(pending.DBInstance!.PendingModifiedValues!.DBInstanceClass, 'db.t3.small');
    assert.equal((await describeOne('orders-my')).DBInstanceClass, 'db.t3.micro');
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-my', DBInstanceClass: 'db.t3.small', ApplyImmediately: true }));
    await waitFor(async () => (await describeOne('orders-my')).DBInstanceClass === 'db.t3.small', 'class change', 30_000);
    const after2 = await waitStatus('orders-my', 'available');
    assert.deepEqual(after2.PendingModifiedValues, {});
    c = await myClient(after2);
    const [[now]] = (await c.query('SELECT @@innodb_buffer_pool_size AS b')) as any;
    const [[rows]] = (await c.query('SELECT count(*) AS n FROM orders')) as any;
    await c.end();
    assert.equal(Number(now.b), Number(before.b) * 2, 'db.t3.small has twice the memory of db.t3.micro');
    assert.equal(rows.n, 2);
    const ev = await events('orders-my');
    assert.ok(ev.includes('Applying modification to database instance class'));
    assert.ok(ev.includes('Finished applying modification to DB instance class'));
  });

  it('a changed master password works at once and the old one is refused', async () => {
    const r = awsCli(cellar.endpoint, ['rds', 'modify-db-instance', '--db-instance-identifier', 'orders-pg', '--master-user-password', 'N3w-password', '--apply-immediately']);
    assert.equal(r.status, 0, r.stderr);
    await waitStatus('orders-pg', 'available');
    const i = await describeOne('orders-pg');
    const c = await pgClient(i, 'N3w-password');
    await c.end();
    await assert.rejects(pgClient(i, PASSWORD), /password authentication failed/);
    assert.ok((await events('orders-pg')).includes('Reset master credentials'));
  });

  it('kill -9 of the engine: noticed, restarted, data intact', async () => {
    const pid = await enginePid('orders-my');
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await events('orders-my')).includes('DB instance shutdown'), 'the crash to be noticed', 10_000, 100);
    const i = (await waitFor(async () => {
      const d = await describeOne('orders-my');
      return d.DBInstanceStatus === 'available' && (await enginePid('orders-my')) !== pid ? d : undefined;
    }, 'the engine to be restarted', 30_000, 100))!;
    const c = await myClient(i);
    const [[rows]] = (await c.query('SELECT count(*) AS n FROM orders')) as any;
    await c.end();
    assert.equal(rows.n, 2);
    assert.ok((await events('orders-my')).includes('DB instance restarted'));
  });

  it('stop and start; a stopped instance starts again by itself after 7 days', async () => {
    await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-my' }));
    const stopped = await waitStatus('orders-my', 'stopped');
    assert.ok(stopped.AutomaticRestartTime instanceof Date);
    await assert.rejects(myClient(stopped), /ECONNREFUSED/);
    await assert.rejects(rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-my' })), (e: any) => /InvalidDBInstanceState/.test(e.name));
    await rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'orders-my' }));
    await waitStatus('orders-my', 'available');
    await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-my' }));
    await waitStatus('orders-my', 'stopped');
    await advanceClock(cellar.endpoint, 7 * 86_400_000 + 60_000);
    const back = await waitStatus('orders-my', 'available');
    const ev = await events('orders-my');
    assert.ok(ev.includes('DB instance stopped'));
    assert.ok(ev.includes('DB instance started'));
    assert.ok(ev.includes('DB instance is being started due to it exceeding the maximum allowed time being stopped.'));
    const c = await myClient(back);
    await c.end();
    // A week on, both instances' daily automated backups have come due: each is `backing-up` until its own is taken.
    for (const id of ['orders-my', 'orders-pg']) {
      await waitFor(async () => (await events(id)).filter((m) => m === 'Finished DB Instance backup').length >= 2, `${id}'s daily backup a week on`, 60_000, 200);
      await waitStatus(id, 'available');
    }
  });

  it('kill -9 of Cellar loses nothing: running instances come back with their data and ports, stopped ones stay stopped', async () => {
    await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'orders-my' }));
    await waitStatus('orders-my', 'stopped');
    const portBefore = (await describeOne('orders-pg')).Endpoint!.Port;
    await cellar.kill9();
    cellar = await startCellar({ dataDir, port: cellar.port, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    // The new Cellar restarts the engine the old one left running, and says `rebooting` until its own accepts
    // connections: once `available`, a session opens at once and is not ended a moment later.
    const i = await waitStatus('orders-pg', 'available');
    assert.equal(i.Endpoint!.Port, portBefore);
    const c = await pgClient(i, 'N3w-password');
    assert.equal((await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 2);
    await c.end();
    // Give the reconciler a few ticks: the stopped instance must stay stopped.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await describeOne('orders-my')).DBInstanceStatus, 'stopped');
  });

  it('filling AllocatedStorage makes the instance storage-full and read-only until storage is increased', async () => {
    const i = await describeOne('orders-pg');
    const c = await pgClient(i, 'N3w-password');
    try {
      await c.query('CREATE TABLE filler (b text)');
      // ~8 MiB per statement (incompressible), until the engine refuses writes or the test gives up.
      let refused = false;
      for (let n = 0; n < 40 && !refused; n++) {
        try {
          await c.query("INSERT INTO filler SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 2000) g, generate_series(1, 128) h GROUP BY h");
        } catch {
          refused = true;
        }
        if ((await describeOne('orders-pg')).DBInstanceStatus === 'storage-full') break;
      }
    } finally {
      await c.end().catch(() => undefined);
    }
    await waitStatus('orders-pg', 'storage-full', 20_000);
    assert.ok((await events('orders-pg')).includes('Allocated storage has been exhausted. Allocate additional storage to resolve the issue.'));
    const ro = await pgClient(i, 'N3w-password');
    await assert.rejects(ro.query("INSERT INTO orders VALUES (3, 'plum')"), /read-only transaction/);
    assert.equal((await ro.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 2, 'reads still work');
    await ro.end();
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg', AllocatedStorage: 100, ApplyImmediately: true }));
    await waitStatus('orders-pg', 'available', 30_000);
    const rw = await pgClient(i, 'N3w-password');
    await rw.query("INSERT INTO orders VALUES (3, 'plum')");
    await rw.end();
    assert.equal((await describeOne('orders-pg')).AllocatedStorage, 100);
  });

  it('deletion: protection refuses, a final snapshot is kept, the engine and its data go', async () => {
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg', DeletionProtection: true }));
    await assert.rejects(rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg', SkipFinalSnapshot: true })), (e: any) => {
      assert.equal(e.name, 'InvalidParameterCombination');
      assert.equal(e.message, 'Cannot delete protected DB Instance, please disable deletion protection and try again.');
      return true;
    });
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg', DeletionProtection: false }));
    const port = (await describeOne('orders-pg')).Endpoint!.Port!;
    const del = await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg', FinalDBSnapshotIdentifier: 'orders-final' }));
    assert.equal(del.DBInstance!.DBInstanceStatus, 'deleting');
    await assert.rejects(rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'orders-pg', DeletionProtection: true })), (e: any) => /InvalidDBInstanceState/.test(e.name));
    await waitFor(async () => {
      try {
        await describeOne('orders-pg');
        return false;
      } catch (e: any) {
        return e.name === 'DBInstanceNotFoundFault' || e.name === 'DBInstanceNotFound';
      }
    }, 'orders-pg to be gone', 30_000, 100);
    await assert.rejects(new pg.Client({ host: '127.0.0.1', port, user: 'master', password: 'x', connectionTimeoutMillis: 2000 }).connect(), /ECONNREFUSED/);
    const snaps = awsCli(cellar.endpoint, ['rds', 'describe-db-snapshots', '--db-snapshot-identifier', 'orders-final']);
    assert.equal(snaps.status, 0, snaps.stderr);
    assert.equal(snaps.json.DBSnapshots[0].DBInstanceIdentifier, 'orders-pg');
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'orders-my', SkipFinalSnapshot: true }));
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.length === 0, 'all instances gone', 30_000, 100);
  });
});
