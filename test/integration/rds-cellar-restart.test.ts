/**
 * Given a PostgreSQL DB instance that is available, when Cellar is killed with SIGKILL (its engine keeps running,
 * orphaned) and a new Cellar starts on the same data directory, then from the first moment DescribeDBInstances
 * reports the instance `available`, a client can connect and its session is not ended afterwards: the new Cellar
 * takes the engine over (stopping the leftover and starting its own) before it says `available`, as RDS does.
 * That restart is Cellar's own, not a RebootDBInstance: a class change waiting for the maintenance window keeps
 * waiting. So it does through a RebootDBInstance: RDS applies queued modifications in the maintenance window (or
 * with a later ApplyImmediately), not at a reboot.
 *
 * Sessions are opened at every `available` observation until the new Cellar's own engine is running, then all of
 * them must still answer. Before the fix, the status read `available` from the first request while the new
 * Cellar was about to stop the leftover engine, so a session opened then was refused or ended with 57P01
 * ("terminating connection due to administrator command"). The optional CPU burner widens that window the way a
 * loaded machine did when the flake was seen in rds-lifecycle.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand, DescribeEventsCommand, ModifyDBInstanceCommand, RebootDBInstanceCommand } from '@aws-sdk/client-rds';
import pg from 'pg';
import { freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const PASSWORD = 'Sup3r-secret!';
const ID = 'restart-pg';
/** Upper bounds only (nothing here asserts on a duration). */
const CREATE_TIMEOUT_MS = 60_000;
const TAKEOVER_TIMEOUT_MS = 30_000;
/** At most this many sessions are opened while waiting for the takeover. */
const MAX_SESSIONS = 20;
/** CPU burners run while Cellar restarts, each stopping by itself after this long at the latest. */
const BURN_MS = 20_000;

/** One busy loop per core but one (at least one), in child processes that exit by themselves after `ms`. */
function burnCpu(ms: number): ChildProcess[] {
  const code = `const end = Date.now() + ${ms}; while (Date.now() < end) { for (let i = 0; i < 1e6; i++); }`;
  return Array.from({ length: Math.max(1, availableParallelism() - 1) }, () => spawn(process.execPath, ['-e', code], { stdio: 'ignore' }));
}

describe('RDS: a Cellar restart does not drop sessions opened once the instance reads available', () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let rds: RDSClient;
  const burners: ChildProcess[] = [];

  const describeOne = async () => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: ID }))).DBInstances![0]!;
  const health = async () => ((await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as any).services.rds.instances?.find((x: any) => x.id === ID);

  before(async () => {
    dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { healthIntervalMs: 250 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: ID,
        Engine: 'postgres',
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: 'master',
        MasterUserPassword: PASSWORD,
        DBName: 'app',
        Port: await freePort(),
      }),
    );
    await waitFor(async () => (await describeOne()).DBInstanceStatus === 'available', `${ID} to be available`, CREATE_TIMEOUT_MS, 100);
  });

  after(async () => {
    for (const b of burners) b.kill('SIGKILL');
    await cellar?.stop();
    removeDir(dataDir);
  });

  it('given Cellar killed with its engine running, when a new Cellar starts, then every session opened while available survives', async () => {
    const i = await describeOne();
    const connect = async () => {
      const c = new pg.Client({ host: i.Endpoint!.Address, port: i.Endpoint!.Port, user: 'master', password: PASSWORD, database: 'app', connectionTimeoutMillis: 5000, ssl: { ca: await rdsCaBundle(cellar.endpoint) } });
      // An ended session surfaces on the next query; the idle-client error event must not crash the test.
      c.on('error', () => undefined);
      await c.connect();
      return c;
    };
    const c0 = await connect();
    await c0.query('CREATE TABLE t (v int)');
    await c0.query('INSERT INTO t VALUES (1)');
    await c0.end();
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, DBInstanceClass: 'db.t3.small', ApplyImmediately: false }));
    const oldPid = (await health()).pid as number;
    assert.ok(oldPid > 0);

    await cellar.kill9();
    if (process.env.CELLAR_TEST_BURN_CPU !== '0') burners.push(...burnCpu(BURN_MS));
    cellar = await startCellar({ dataDir, port: cellar.port, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));

    const sessions: pg.Client[] = [];
    const refused: string[] = [];
    const seen: string[] = [];
    try {
      await waitFor(
        async () => {
          const status = (await describeOne()).DBInstanceStatus!;
          if (seen.at(-1) !== status) seen.push(status);
          if (status === 'available' && sessions.length + refused.length < MAX_SESSIONS) {
            try {
              sessions.push(await connect());
            } catch (e) {
              refused.push(`${(e as any).code ?? ''} ${(e as Error).message}`);
            }
          }
          const pid = (await health())?.pid;
          // Done once this Cellar runs its own engine and at least one session was tried while available.
          return typeof pid === 'number' && pid !== oldPid && sessions.length + refused.length > 0;
        },
        'the new Cellar to run its own engine',
        TAKEOVER_TIMEOUT_MS,
        10,
      );
      const ended: string[] = [];
      for (const c of sessions) {
        try {
          assert.equal((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 1);
        } catch (e) {
          ended.push(`${(e as any).code ?? ''} ${(e as Error).message}`);
        }
      }
      const statuses = seen.join(' → ');
      assert.deepEqual({ refused, ended }, { refused: [], ended: [] }, `sessions tried while the instance read available were refused or ended (statuses seen: ${statuses})`);
    } finally {
      for (const c of sessions) await c.end().catch(() => undefined);
      for (const b of burners.splice(0)) b.kill('SIGKILL');
    }
    const after = await describeOne();
    assert.equal(after.DBInstanceClass, 'db.t3.micro');
    assert.equal(after.PendingModifiedValues?.DBInstanceClass, 'db.t3.small', 'the takeover does not apply pending modifications');
    const events = (await rds.send(new DescribeEventsCommand({ SourceIdentifier: ID, SourceType: 'db-instance', Duration: 60 }))).Events!.map((e) => e.Message);
    assert.ok(events.includes('DB instance restarted'), `events: ${events.join('; ')}`);
  });

  it('given a class change queued for the maintenance window, when the instance is rebooted, then the engine restarts and the change stays queued', async () => {
    const before = await describeOne();
    assert.equal(before.PendingModifiedValues?.DBInstanceClass, 'db.t3.small');
    const oldPid = (await health()).pid as number;
    await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: ID }));
    assert.equal((await describeOne()).DBInstanceStatus, 'rebooting');
    await waitFor(async () => (await describeOne()).DBInstanceStatus === 'available', `${ID} to be available after the reboot`, TAKEOVER_TIMEOUT_MS, 50);
    const pid = (await health()).pid as number;
    assert.ok(pid > 0 && pid !== oldPid, `the engine restarted (pid ${oldPid} -> ${pid})`);
    const after = await describeOne();
    assert.equal(after.DBInstanceClass, 'db.t3.micro');
    assert.equal(after.PendingModifiedValues?.DBInstanceClass, 'db.t3.small', 'a reboot does not apply modifications queued for the maintenance window');
  });
});
