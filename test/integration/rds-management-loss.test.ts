/**
 * Given a MariaDB DB instance that is available, when its master user takes Cellar's administration away (drops,
 * locks or renames Cellar's own account, or drops the role behind it) with the `mariadb` client, then within a
 * bounded time the instance is `available` again under Cellar's administration (a restart whose init file re-creates
 * it), DescribeEvents shows the restart, and neither Cellar's output nor the engine's log floods.
 *
 * And given an instance whose engine cannot be started any more, when its health loop restarts it, then it tries a
 * bounded number of times with growing pauses and ends `failed` with one error event.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand, DescribeEventsCommand, ModifyDBInstanceCommand, type DBInstance } from '@aws-sdk/client-rds';
import { mariadb, type Login } from '../helpers/clients.js';
import { freePort, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const PASSWORD = 'Sup3r-secret!';
const ID = 'mgmt-loss-my';
const CREATE_TIMEOUT_MS = 90_000;
/** Three failed probes 5 s apart, a restart, and slack for a loaded machine. */
const RECOVERY_TIMEOUT_MS = 60_000;
/** Upper bounds on what one loss-and-recovery may write. Today: a handful of lines each. */
const MAX_CELLAR_LINES_PER_RECOVERY = 60;
const MAX_ENGINE_REFUSALS_PER_RECOVERY = 20;

describe('RDS: Cellar regains administration of a MariaDB instance its master user took it from', { timeout: 10 * 60_000 }, () => {
  let dataDir: string;
  let cellar: CellarProcess;
  let rds: RDSClient;
  let master: Login;
  /** Cellar's account in the engine: named after the OS user Cellar runs as (unix_socket). */
  const adminAccount = `'${userInfo().username}'@'localhost'`;

  const describeOne = async (id = ID): Promise<DBInstance> => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0]!;
  const events = async (id = ID) => (await rds.send(new DescribeEventsCommand({ SourceIdentifier: id, SourceType: 'db-instance', Duration: 60 }))).Events!;
  const health = async (id = ID) => ((await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as any).services.rds.instances.find((x: any) => x.id === id);
  const instanceDir = (id: string) => {
    const parent = join(dataDir, 'rds', '000000000000', 'us-east-1');
    return join(parent, readdirSync(parent).find((d) => d.startsWith(`${id}-`))!);
  };
  const engineRefusals = () => (readFileSync(join(instanceDir(ID), 'log', 'mariadb.log'), 'utf8').match(/Access denied for user/g) ?? []).length;
  const cellarLinesAbout = (id: string, fromLine: number) => cellar.output.slice(fromLine).filter((l) => l.includes(id)).length;
  const create = async (id: string) => {
    await rds.send(
      new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'mariadb', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: PASSWORD, DBName: 'app', Port: await freePort() }),
    );
    const i = await waitFor(async () => ((await describeOne(id)).DBInstanceStatus === 'available' ? describeOne(id) : undefined), `${id} to be available`, CREATE_TIMEOUT_MS, 200);
    return i!;
  };

  before(async () => {
    dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ rds: { healthIntervalMs: 250 } }));
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    const i = await create(ID);
    master = { port: i.Endpoint!.Port!, user: 'admin', password: PASSWORD, database: 'app' };
    const r = await mariadb(master, 'CREATE TABLE kept (v INT); INSERT INTO kept VALUES (42)');
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await cellar?.stop();
    removeDir(dataDir);
  });

  for (const [what, sql] of [
    ["drops Cellar's account", `DROP USER ${adminAccount}`],
    ["locks Cellar's account", `ALTER USER ${adminAccount} ACCOUNT LOCK`],
    ["renames Cellar's account", `RENAME USER ${adminAccount} TO 'taken'@'localhost'`],
    ["drops the role Cellar administers through", 'DROP ROLE cellar_admin'],
  ] as const) {
    it(`when the master ${what}, the instance is available again under Cellar's administration, without a flood`, async () => {
      const pidBefore = (await health()).pid as number;
      const linesBefore = cellar.output.length;
      const refusalsBefore = engineRefusals();
      const since = new Date();
      const r = await mariadb(master, sql);
      assert.equal(r.code, 0, `the master may do this (CREATE USER covers every account): ${r.stderr}`);

      const started = Date.now();
      await waitFor(
        async () => (await describeOne()).DBInstanceStatus === 'available' && (await health()).pid !== pidBefore,
        'the instance to be restarted and available',
        RECOVERY_TIMEOUT_MS,
        200,
      );
      const recoveredInMs = Date.now() - started;
      const recent = (await events()).filter((e) => e.Date! >= since).map((e) => e.Message);
      assert.ok(recent.includes('DB instance shutdown') && recent.includes('DB instance restarted'), `events since the loss: ${recent.join('; ')}`);

      // Administration works again: a password change goes through Cellar's account into the engine.
      await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, MasterUserPassword: PASSWORD + '2', ApplyImmediately: true }));
      await waitFor(async () => (await describeOne()).DBInstanceStatus === 'available', 'the password change to be applied', RECOVERY_TIMEOUT_MS, 200);
      master = { ...master, password: PASSWORD + '2' };
      const check = await mariadb(master, 'SELECT v FROM kept');
      assert.equal(check.code, 0, check.stderr);
      assert.equal(check.stdout.trim(), '42');
      await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: ID, MasterUserPassword: PASSWORD, ApplyImmediately: true }));
      await waitFor(async () => (await describeOne()).DBInstanceStatus === 'available', 'the password to be set back', RECOVERY_TIMEOUT_MS, 200);
      master = { ...master, password: PASSWORD };

      const cellarLines = cellarLinesAbout(ID, linesBefore);
      const refusals = engineRefusals() - refusalsBefore;
      assert.ok(cellarLines <= MAX_CELLAR_LINES_PER_RECOVERY, `Cellar wrote ${cellarLines} lines about ${ID}:\n${cellar.output.slice(linesBefore).filter((l) => l.includes(ID)).join('\n')}`);
      assert.ok(refusals <= MAX_ENGINE_REFUSALS_PER_RECOVERY, `the engine logged ${refusals} refused logins`);
      // Recorded for the report; the bound is RECOVERY_TIMEOUT_MS.
      console.log(JSON.stringify({ scenario: what, recoveredInMs, cellarLines, engineRefusals: refusals }));
    });
  }

  it('given an engine that can no longer start, the health loop tries a bounded number of times with pauses, then marks it failed once', async () => {
    const id = 'mgmt-broken-my';
    await create(id);
    const linesBefore = cellar.output.length;
    const since = new Date();
    // Stands for a host-side breakage no restart can repair: the stored parameter set is unreadable.
    writeFileSync(join(instanceDir(id), 'conf', 'params.json'), '{ not json');
    const i = await describeOne(id);
    const r = await mariadb({ port: i.Endpoint!.Port!, user: 'admin', password: PASSWORD }, `DROP USER ${adminAccount}`);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => (await describeOne(id)).DBInstanceStatus === 'failed', `${id} to be failed`, RECOVERY_TIMEOUT_MS, 200);
    const failures = cellar.output.slice(linesBefore).filter((l) => l.includes(id) && l.includes('rds action failed')).map((l) => JSON.parse(l) as { time: string });
    assert.equal(failures.length, 3, 'three attempts');
    const gaps = failures.slice(1).map((f, n) => Date.parse(f.time) - Date.parse(failures[n]!.time));
    assert.ok(gaps.every((g) => g >= 900), `attempts spaced by a growing pause: ${gaps.join(', ')} ms`);
    const recent = (await events(id)).filter((e) => e.Date! >= since).map((e) => e.Message!);
    assert.equal(recent.filter((m) => m.startsWith('Error restarting')).length, 1, recent.join('; '));
    assert.equal(recent.filter((m) => m.startsWith('The DB instance has failed')).length, 1, recent.join('; '));
    // And it stays put: no further attempts once failed.
    const settled = cellar.output.length;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.equal(cellar.output.slice(settled).filter((l) => l.includes(id) && l.includes('rds action failed')).length, 0);
    assert.equal((await describeOne(id)).DBInstanceStatus, 'failed');
  });
});
