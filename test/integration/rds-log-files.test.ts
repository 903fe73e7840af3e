/**
 * DescribeDBLogFiles and DownloadDBLogFilePortion serve the engines' real logs, through the SDK and the AWS CLI:
 * - a PostgreSQL instance's log holds the error a client just caused, and the tail, the paged read from "0" and one
 *   whole read agree byte for byte;
 * - a MariaDB instance's error log holds the server's own start-up lines;
 * - the filters, the paging of pages, and the errors (an unknown file, a name that looks like a path, an unknown
 *   instance, a bad marker) are RDS's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { RDSClient, CreateDBInstanceCommand, DeleteDBInstanceCommand, DescribeDBInstancesCommand, DescribeDBLogFilesCommand, DownloadDBLogFilePortionCommand } from '@aws-sdk/client-rds';
import { awsCli, freePort, rdsCaBundle, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const PASSWORD = 'Logs-pass-123';
const CREATE_TIMEOUT_MS = 120_000;
/** Pages read before a paged download is called endless. */
const MAX_PAGES = 5000;

describe('RDS log files (DescribeDBLogFiles, DownloadDBLogFilePortion)', { timeout: 6 * 60_000 }, () => {
  let cellar: CellarProcess;
  let dataDir: string;
  let rds: RDSClient;

  before(async () => {
    dataDir = tempDir('cellar-rds-logs-');
    cellar = await startCellar({ dataDir, args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    const create = async (id: string, engine: string) =>
      rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: engine, DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, Port: await freePort(), BackupRetentionPeriod: 0 }));
    await create('logs-pg', 'postgres');
    await create('logs-maria', 'mariadb');
    for (const id of ['logs-pg', 'logs-maria']) {
      await waitFor(async () => ((await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0]?.DBInstanceStatus === 'available' ? true : undefined), `${id} available`, CREATE_TIMEOUT_MS, 250);
    }
  });
  after(async () => {
    for (const id of ['logs-pg', 'logs-maria']) await rds?.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })).catch(() => undefined);
    await cellar?.stop();
    removeDir(dataDir);
  });

  const download = (id: string, LogFileName: string, Marker?: string, NumberOfLines?: number) =>
    rds.send(new DownloadDBLogFilePortionCommand({ DBInstanceIdentifier: id, LogFileName, ...(Marker !== undefined ? { Marker } : {}), ...(NumberOfLines !== undefined ? { NumberOfLines } : {}) }));

  it("serves a PostgreSQL instance's log: the error a client caused, as a tail, in pages and whole", async () => {
    const token = `no_such_table_${randomBytes(6).toString('hex')}`;
    const instance = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'logs-pg' }))).DBInstances![0]!;
    const client = new pg.Client({ host: instance.Endpoint!.Address, port: instance.Endpoint!.Port, user: 'master', password: PASSWORD, database: 'postgres', ssl: { ca: await rdsCaBundle(cellar.endpoint) }, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      await assert.rejects(client.query(`SELECT * FROM ${token}`), /does not exist/);
    } finally {
      await client.end();
    }

    const listed = await rds.send(new DescribeDBLogFilesCommand({ DBInstanceIdentifier: 'logs-pg' }));
    const current = listed.DescribeDBLogFiles?.find((f) => f.LogFileName === 'error/postgres.log');
    assert.ok(current, `error/postgres.log is listed: ${JSON.stringify(listed.DescribeDBLogFiles)}`);
    assert.ok(current.Size! > 0);
    assert.ok(Math.abs(current.LastWritten! - Date.now()) < 10 * 60_000, `LastWritten ${current.LastWritten} is in milliseconds since the epoch`);
    assert.deepEqual((await rds.send(new DescribeDBLogFilesCommand({ DBInstanceIdentifier: 'logs-pg', FilenameContains: 'mysql' }))).DescribeDBLogFiles ?? [], []);
    assert.deepEqual((await rds.send(new DescribeDBLogFilesCommand({ DBInstanceIdentifier: 'logs-pg', FileSize: current.Size! + 10 ** 9 }))).DescribeDBLogFiles ?? [], []);
    assert.deepEqual((await rds.send(new DescribeDBLogFilesCommand({ DBInstanceIdentifier: 'logs-pg', FileLastWritten: Date.now() + 3_600_000 }))).DescribeDBLogFiles ?? [], []);

    // The tail: the last lines, the error among them, nothing pending after the end.
    const tail = await download('logs-pg', 'error/postgres.log', undefined, 20);
    assert.ok(tail.LogFileData!.includes(token), `the tail holds the error:\n${tail.LogFileData}`);
    assert.ok(tail.LogFileData!.split('\n').filter((l) => l !== '').length <= 20);
    assert.equal(tail.AdditionalDataPending, false);

    // From "0" in pages of 3 lines, until nothing is pending; then the same from "0" in one read.
    let marker = '0';
    let paged = '';
    let pages = 0;
    for (;;) {
      const page = await download('logs-pg', 'error/postgres.log', marker, 3);
      assert.ok((page.LogFileData ?? '').split('\n').filter((l) => l !== '').length <= 3, 'at most NumberOfLines lines a page');
      paged += page.LogFileData ?? '';
      assert.ok(++pages < MAX_PAGES, 'the paging ends');
      if (!page.AdditionalDataPending) break;
      assert.notEqual(page.Marker, marker, 'each page moves the marker on');
      marker = page.Marker!;
    }
    assert.ok(pages > 1);
    const whole = await download('logs-pg', 'error/postgres.log', '0', 100_000);
    // The engine may write between the reads: one is a prefix of the other.
    assert.ok(whole.LogFileData!.startsWith(paged) || paged.startsWith(whole.LogFileData!), 'paged and whole reads agree');
    assert.ok(paged.includes(token));
    assert.ok(paged.includes('database system is ready to accept connections'));

    // A marker returned at the end reads only what the engine wrote since.
    const since = await download('logs-pg', 'error/postgres.log', tail.Marker, 1000);
    assert.ok(!(since.LogFileData ?? '').includes(token), 'nothing from before the marker');
  });

  it("serves a MariaDB instance's error log", async () => {
    const listed = await rds.send(new DescribeDBLogFilesCommand({ DBInstanceIdentifier: 'logs-maria' }));
    assert.ok(listed.DescribeDBLogFiles?.some((f) => f.LogFileName === 'error/mysql-error.log' && f.Size! > 0), JSON.stringify(listed.DescribeDBLogFiles));
    const head = await download('logs-maria', 'error/mysql-error.log', '0', 10_000);
    assert.match(head.LogFileData!, /ready for connections/);
  });

  it('reads through the AWS CLI, its pagination included', () => {
    const files = awsCli(cellar.endpoint, ['rds', 'describe-db-log-files', '--db-instance-identifier', 'logs-pg']);
    assert.equal(files.status, 0, files.stderr);
    assert.ok(files.json.DescribeDBLogFiles.some((f: { LogFileName: string }) => f.LogFileName === 'error/postgres.log'));
    // The RDS user guide's way to download a whole file: --starting-token 0, text output, pages of --page-size lines.
    const text = awsCli(cellar.endpoint, ['rds', 'download-db-log-file-portion', '--db-instance-identifier', 'logs-pg', '--log-file-name', 'error/postgres.log', '--starting-token', '0', '--page-size', '5', '--output', 'text']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /database system is ready to accept connections/);
    assert.match(text.stdout, /no_such_table_/);
  });

  it("answers RDS's errors: unknown file, a path for a name, unknown instance, a bad marker or line count", async () => {
    // The wire's error code (the SDK's Code), its HTTP status and, where fixed, its message.
    const refused = async (p: Promise<unknown>, code: string, status: number, message?: RegExp) => {
      const err = await p.then(
        () => assert.fail('not refused'),
        (e: { Code?: string; name: string; $metadata: { httpStatusCode: number }; message: string }) => e,
      );
      assert.equal(err.Code ?? err.name, code, err.message);
      assert.equal(err.$metadata.httpStatusCode, status);
      if (message) assert.match(err.message, message);
    };
    await refused(download('logs-pg', 'error/postgresql.log.2020-01-01-00'), 'DBLogFileNotFoundFault', 404, /DBLog File: error\/postgresql\.log\.2020-01-01-00, is not found on Instance: logs-pg/);
    await refused(download('logs-pg', '../../../../etc/passwd'), 'DBLogFileNotFoundFault', 404);
    await refused(download('logs-pg', 'error/mysql-error.log'), 'DBLogFileNotFoundFault', 404);
    await refused(download('no-such-db', 'error/postgres.log'), 'DBInstanceNotFound', 404, /DBInstance no-such-db not found/);
    await refused(rds.send(new DescribeDBLogFilesCommand({ DBInstanceIdentifier: 'no-such-db' })), 'DBInstanceNotFound', 404);
    await refused(download('logs-pg', 'error/postgres.log', 'not-a-marker'), 'InvalidParameterValue', 400);
    await refused(download('logs-pg', 'error/postgres.log', '0', 0), 'InvalidParameterValue', 400);
    await refused(rds.send(new DescribeDBLogFilesCommand({ DBInstanceIdentifier: 'logs-pg', MaxRecords: 5 })), 'InvalidParameterValue', 400);
  });
});
