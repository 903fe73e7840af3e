/**
 * Given a MariaDB instance and its master user (RDS's master privileges: data privileges per database pattern,
 * CREATE USER, RELOAD, PROCESS ... WITH GRANT OPTION), when the master tries each known way out of the instance
 * with the `mariadb` client over TCP, then the server refuses it and no host file is read or written; and when the
 * master takes Cellar's own account (or the role and procedure behind it) away, a restart of the engine gives
 * Cellar its administration back (the init file).
 *
 * The host files the master aims at sit in a directory the engine's OS user may write, next to a secret it may
 * read: a refusal that only came from file permissions would not count.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalHost } from '../../src/engines/host.js';
import { MariadbEngine } from '../../src/engines/mariadb/adapter.js';
import { mariadb, mariadbDump, type ClientResult, type Login } from '../helpers/clients.js';

const SECRET = `host-secret-${process.pid}-${Date.now()}`;

describe('MariaDB: the master user cannot escape the instance', { timeout: 10 * 60_000 }, () => {
  let host: LocalHost;
  let base: string;
  let hostFiles: string;
  let secretFile: string;
  let engine: MariadbEngine;
  let master: Login;
  let admin: string;

  const as = (login: Login, sql: string) => mariadb(login, sql);
  /** Runs `sql` as `login` (the master by default) and asserts the server refused it with an error matching `why`. */
  const refused = async (sql: string, why: RegExp, login: Login = master): Promise<ClientResult> => {
    const r = await as(login, sql);
    assert.notEqual(r.code, 0, `expected a refusal of: ${sql}\nbut got: ${r.stdout}`);
    assert.match(r.stderr, /ERROR \d+/, `${sql}: ${r.stderr}`);
    assert.match(r.stderr, why, `${sql}: ${r.stderr}`);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `${sql} leaked the host secret`);
    return r;
  };
  const ok = async (sql: string, login: Login = master): Promise<string> => {
    const r = await as(login, sql);
    assert.equal(r.code, 0, `${sql}: ${r.stderr}`);
    assert.ok(!r.stdout.includes(SECRET), `${sql} leaked the host secret`);
    return r.stdout.trim();
  };
  const hostFilesNow = () => fs.readdirSync(hostFiles).sort();
  const DENIED = /Access denied|command denied/;
  /** SHOW GRANTS, sorted: FLUSH PRIVILEGES may reorder the database-level lines. */
  const masterGrants = async () => (await ok('SHOW GRANTS')).split('\n').sort().join('\n');
  const assertNoSuperOrFile = async (login: Login = master) => {
    const grants = await ok('SHOW GRANTS', login);
    assert.doesNotMatch(grants, /\bSUPER\b|\bFILE\b|ALL PRIVILEGES ON \*\.\*|\bSHUTDOWN\b|cellar_admin/, grants);
  };
  const restartEngine = async () => {
    await engine.stop('fast');
    await engine.start();
  };

  before(async () => {
    host = await LocalHost.create();
    admin = host.cellarUser;
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-mariadb-escalation-'));
    fs.chmodSync(base, 0o711);
    hostFiles = path.join(base, 'host-files');
    await host.ensureDir(hostFiles, 0o755);
    secretFile = path.join(hostFiles, 'secret.txt');
    await host.writeFile(secretFile, SECRET + '\n', { mode: 0o644 });
    const password = "Esc'pe\\maria";
    engine = new MariadbEngine(host, {
      engine: 'mariadb',
      name: 'escalation-mariadb',
      dataDir: path.join(base, 'instance'),
      port: await host.findFreePort(),
      masterUsername: 'admin',
      masterPassword: password,
      dbName: 'app',
    });
    await engine.initialise();
    await engine.start();
    master = { port: engine.spec.port, user: 'admin', password, database: 'app' };
  });

  after(async () => {
    if (engine?.isRunning()) await engine.stop('fast');
    if (!process.env.CELLAR_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
  });

  it('is still the RDS master: databases (5-letter names too), users, grants, reads of mysql and sys, dumps', async () => {
    for (const db of ['store', 'my_app', 'a', 'ab', 'abcd', 'Sales', 'mysqx', 'sy', 'syss']) await ok(`CREATE DATABASE \`${db}\``);
    await ok('CREATE TABLE store.t (v VARCHAR(20)) ENGINE=InnoDB; INSERT INTO store.t VALUES (\'kept\')');
    await ok("CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw'; GRANT SELECT ON store.* TO 'app'@'%'");
    const app: Login = { port: master.port, user: 'app', password: 'app-pw' };
    assert.equal(await ok('SELECT v FROM store.t', app), 'kept');
    await ok("ALTER USER 'app'@'%' IDENTIFIED BY 'app-pw-2'");
    assert.equal(await ok('SELECT v FROM store.t', { ...app, password: 'app-pw-2' }), 'kept');
    assert.match(await ok("SHOW GRANTS FOR 'app'@'%'"), /GRANT SELECT ON `store`\.\* TO `app`@`%`/);
    await ok("GRANT SELECT, INSERT ON `st%`.* TO 'app'@'%'");
    assert.match(await ok('SELECT COUNT(*) FROM mysql.user'), /^\d+$/);
    assert.match(await ok('SELECT sys_version FROM sys.version'), /^\d+\.\d+/);
    assert.equal(await ok('SELECT @@secure_file_priv'), path.join(engine.layout.root, 'files') + '/');
    const dump = await mariadbDump(master, ['--databases', 'store']);
    assert.equal(dump.code, 0, dump.stderr);
    assert.match(dump.stdout, /CREATE TABLE `t`/);
    const all = await mariadbDump(master, ['--all-databases', '--single-transaction']);
    assert.equal(all.code, 0, all.stderr);
    await assertNoSuperOrFile();
  });

  it('cannot write the privilege, plugin or function tables', async () => {
    const before = await masterGrants();
    await refused("UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.access', 18446744073709551615) WHERE User = 'admin'", /UPDATE command denied/);
    await refused("INSERT INTO mysql.db (Host, Db, User, Select_priv, Update_priv) VALUES ('%', 'mysql', 'admin', 'Y', 'Y')", /INSERT command denied/);
    await refused("REPLACE INTO mysql.roles_mapping VALUES ('%', 'admin', 'cellar_admin', 'Y')", /INSERT command denied|DELETE command denied/);
    await refused('DELETE FROM mysql.proxies_priv', /DELETE command denied/);
    await refused("UPDATE mysql.tables_priv SET Table_priv = 'Select,Insert,Update,Delete'", /UPDATE command denied/);
    await refused("INSERT INTO mysql.plugin VALUES ('federated', 'ha_federatedx.so')", /INSERT command denied/);
    await refused("INSERT INTO mysql.func VALUES ('sys_exec', 0, 'lib_mysqludf_sys.so', 'function')", /INSERT command denied/);
    await refused('TRUNCATE mysql.global_priv', /DROP command denied/);
    await refused('CREATE TABLE mysql.escape (i INT)', DENIED);
    await refused('DROP VIEW mysql.user', DENIED);
    await refused('CREATE TRIGGER mysql.t BEFORE INSERT ON mysql.global_priv FOR EACH ROW SET @x = 1', /Access denied|command denied|can not be created on system tables/);
    await ok('FLUSH PRIVILEGES');
    assert.equal(await masterGrants(), before);
    await assertNoSuperOrFile();
  });

  it('gains neither SUPER nor FILE, nor Cellar\'s role or procedure', async () => {
    for (const privilege of ['SUPER', 'FILE', 'ALL PRIVILEGES', 'SELECT', 'SHUTDOWN', 'SET USER', 'CONNECTION ADMIN', 'READ_ONLY ADMIN']) {
      await refused(`GRANT ${privilege} ON *.* TO 'admin'@'%'`, DENIED);
    }
    await refused("GRANT ALL ON mysql.* TO 'admin'@'%'", DENIED);
    await refused("GRANT UPDATE ON mysql.global_priv TO 'admin'@'%'", DENIED);
    await refused("GRANT cellar_admin TO 'admin'@'%'", DENIED);
    await refused('SET ROLE cellar_admin', /has not been granted role/);
    await refused("CALL mysql.cellar_exec('SET GLOBAL max_connections = 11')", /execute command denied/);
    await refused(`GRANT PROXY ON '${admin}'@'localhost' TO 'admin'@'%'`, DENIED);
    await refused(`SET PASSWORD FOR '${admin}'@'localhost' = PASSWORD('x')`, DENIED);
    await refused(`GRANT USAGE ON *.* TO '${admin}'@'localhost' IDENTIFIED BY 'x'`, DENIED);
    await refused(`CREATE DEFINER = '${admin}'@'localhost' PROCEDURE app.escape() SELECT 1`, DENIED);
    await refused('CREATE DEFINER = cellar_admin SQL SECURITY DEFINER VIEW app.escape AS SELECT 1', DENIED);
    await refused('ALTER PROCEDURE sys.execute_prepared_stmt SQL SECURITY DEFINER', /alter routine command denied/);
    await refused('CREATE PROCEDURE sys.escape() SELECT 1', DENIED);
    await refused('DROP VIEW sys.version', DENIED);
    await assertNoSuperOrFile();
  });

  it('reads and writes no host files (LOAD_FILE, INTO OUTFILE, LOAD DATA, DATA DIRECTORY)', async () => {
    assert.equal(await ok(`SELECT LOAD_FILE('${secretFile}')`), 'NULL');
    await refused(`SELECT 'x' INTO OUTFILE '${path.join(hostFiles, 'out.txt')}'`, /FILE privilege/);
    await refused(`SELECT 'x' INTO DUMPFILE '${path.join(hostFiles, 'dump.bin')}'`, /FILE privilege/);
    await ok('CREATE TABLE app.lines (v TEXT)');
    // Without FILE the server answers these with a plain "Access denied for user" (1045).
    await refused(`LOAD DATA INFILE '${secretFile}' INTO TABLE app.lines`, /FILE privilege|Access denied for user 'admin'/);
    await refused(`LOAD XML INFILE '${secretFile}' INTO TABLE app.lines`, /FILE privilege|Access denied for user 'admin'/);
    assert.equal(await ok('SELECT COUNT(*) FROM app.lines'), '0');
    // --skip-symbolic-links: the server ignores these options (with a warning) and keeps the files in its datadir.
    await ok(`CREATE TABLE app.elsewhere1 (i INT) ENGINE=InnoDB DATA DIRECTORY='${hostFiles}'`);
    await ok(`CREATE TABLE app.elsewhere2 (i INT) ENGINE=Aria DATA DIRECTORY='${hostFiles}' INDEX DIRECTORY='${hostFiles}'`);
    await ok(`CREATE TABLE app.elsewhere3 (i INT) ENGINE=MyISAM DATA DIRECTORY='${hostFiles}' INDEX DIRECTORY='${hostFiles}'`);
    await ok('INSERT INTO app.elsewhere1 VALUES (1); INSERT INTO app.elsewhere2 VALUES (1); INSERT INTO app.elsewhere3 VALUES (1)');
    assert.deepEqual(hostFilesNow(), ['secret.txt'], 'nothing was written outside the instance');
  });

  it('loads no plugins or libraries and reaches no other server', async () => {
    await refused("INSTALL SONAME 'ha_federatedx'", DENIED);
    await refused("INSTALL PLUGIN federated SONAME 'ha_federatedx.so'", DENIED);
    await refused("INSTALL SONAME 'handlersocket'", DENIED);
    await refused("UNINSTALL SONAME 'auth_ed25519'", DENIED);
    await refused("CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'", DENIED);
    await refused("CREATE SERVER escape FOREIGN DATA WRAPPER mysql OPTIONS (HOST '127.0.0.1', USER 'root')", DENIED);
    assert.equal(await ok("SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME IN ('FEDERATED', 'handlersocket')"), '0');
  });

  it('moves no log file and changes no global setting', async () => {
    const generalLog = await ok('SELECT @@general_log_file');
    for (const [name, value] of [
      ['general_log_file', `'${path.join(hostFiles, 'general.log')}'`],
      ['slow_query_log_file', `'${path.join(hostFiles, 'slow.log')}'`],
      ['general_log', '1'],
      ['log_output', "'FILE'"],
      ['init_connect', "'SET @x = 1'"],
      ['max_connections', '11'],
      ['read_only', '1'],
    ]) {
      await refused(`SET GLOBAL ${name} = ${value}`, DENIED);
    }
    assert.equal(await ok('SELECT @@general_log_file'), generalLog);
    assert.deepEqual(hostFilesNow(), ['secret.txt']);
  });

  it('cannot grant anyone a database pattern that reaches mysql or sys', async () => {
    await ok("CREATE USER 'grantee'@'%' IDENTIFIED BY 'g'");
    for (const pattern of ['%', 'm%', 'my%', 'mysq_', '_ysql', 'm_sql', '%l', '%y%', '%%', '%_%', '_____', 'mysql', 'MYSQL', 'Mysql', 'sys', 's%', '___', '\\m%', 'm\\y%']) {
      await refused(`GRANT SELECT, UPDATE ON \`${pattern}\`.* TO 'grantee'@'%'`, /Access denied for user 'admin'@'%' to database/);
    }
    await ok("GRANT SELECT, UPDATE ON `%a%`.* TO 'grantee'@'%'");
    await ok("GRANT SELECT, UPDATE ON `_a%`.* TO 'grantee'@'%'");
    // A literal '%' (escaped) names the database "my%", which is not mysql.
    await ok("GRANT SELECT, UPDATE ON `my\\%`.* TO 'grantee'@'%'");
    const grantee: Login = { port: master.port, user: 'grantee', password: 'g' };
    await refused("UPDATE mysql.global_priv SET Priv = '{}' WHERE User = 'admin'", DENIED, grantee);
    await refused('SELECT COUNT(*) FROM mysql.global_priv', DENIED, grantee);
  });

  it('a hijacked Cellar account or mariadb.sys gets nothing; a restart gives Cellar its administration back', async () => {
    // CREATE USER covers every account (no SYSTEM_USER in MariaDB): the master can take Cellar's account and
    // mariadb.sys and log in as them over TCP. What it gets there is what matters.
    await ok(`ALTER USER '${admin}'@'localhost' IDENTIFIED BY 'hijack' ACCOUNT UNLOCK; RENAME USER '${admin}'@'localhost' TO '${admin}'@'%'`);
    await ok("ALTER USER 'mariadb.sys'@'localhost' IDENTIFIED BY 'hijack' ACCOUNT UNLOCK; RENAME USER 'mariadb.sys'@'localhost' TO 'mariadb.sys'@'%'");
    const hijackedAdmin: Login = { port: master.port, user: admin, password: 'hijack' };
    const hijackedSys: Login = { port: master.port, user: 'mariadb.sys', password: 'hijack' };
    await assertNoSuperOrFile(hijackedAdmin);
    await refused(`CALL mysql.cellar_exec('SET GLOBAL general_log_file = ''${path.join(hostFiles, 'general.log')}''')`, /runs only over the Unix socket/, hijackedAdmin);
    await refused("CALL mysql.cellar_exec('GRANT ALL PRIVILEGES ON *.* TO ''admin''@''%''')", /runs only over the Unix socket/, hijackedAdmin);
    await refused(`SELECT 'x' INTO OUTFILE '${path.join(hostFiles, 'out.txt')}'`, /FILE privilege/, hijackedAdmin);
    await refused('SET GLOBAL max_connections = 11', DENIED, hijackedAdmin);
    await refused("DELETE FROM mysql.global_priv WHERE User = 'admin'", /DELETE command denied/, hijackedSys);
    await refused("UPDATE mysql.global_priv SET Priv = '{}'", /UPDATE command denied/, hijackedSys);
    assert.deepEqual(hostFilesNow(), ['secret.txt']);
    await assertNoSuperOrFile();

    const lost = await engine.healthProbe();
    assert.equal(lost.ok, false, 'Cellar lost its account');
    await restartEngine();
    assert.equal((await engine.healthProbe()).ok, true, 'the init file gave Cellar its account back');
    await engine.configure({ max_connections: '77' });
    assert.equal(await ok('SELECT @@max_connections'), '77');
    // The hijacked copy keeps its login but lost the procedure.
    await refused("CALL mysql.cellar_exec('DO 1')", /execute command denied/, hijackedAdmin);
  });

  it('an instance of an older Cellar (data privileges on *.*, passed on to users and roles) gets the rules at its next start', async () => {
    const socket = path.join(engine.layout.run, 'mysqld.sock');
    const asCellar = (statement: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn('mariadb', ['--no-defaults', '-S', socket, '-u', admin, '-e', `CALL mysql.cellar_exec(${JSON.stringify(statement)})`], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        c.once('exit', (code) => resolve({ code, stderr }));
      });
    // What an older Cellar's bootstrap gave the master.
    const old = await asCellar("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP ON *.* TO 'admin'@'%' WITH GRANT OPTION");
    assert.equal(old.code, 0, old.stderr);
    assert.match(await ok('SHOW GRANTS'), /GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD/, 'the old shape: data privileges on *.*');
    // ... which that master could pass on, to users and to roles, globally or on a pattern that reaches mysql.
    await ok("CREATE USER 'old_app'@'%' IDENTIFIED BY 'o'; GRANT SELECT, UPDATE ON *.* TO 'old_app'@'%'");
    await ok("CREATE ROLE old_role; GRANT INSERT, SELECT ON `%`.* TO old_role WITH GRANT OPTION; GRANT old_role TO 'old_app'@'%'; SET DEFAULT ROLE old_role FOR 'old_app'@'%'");
    const oldApp: Login = { port: master.port, user: 'old_app', password: 'o' };
    assert.equal((await as(master, "UPDATE mysql.global_priv SET Priv = Priv WHERE User = 'nobody'")).code, 0, 'the old hole: the master reaches mysql');
    assert.equal((await as(oldApp, "UPDATE mysql.global_priv SET Priv = Priv WHERE User = 'nobody'")).code, 0, 'and so do the users it granted to');
    assert.equal((await as(oldApp, "INSERT INTO mysql.plugin SELECT * FROM mysql.plugin WHERE 1 = 0")).code, 0, 'and the roles');

    await restartEngine();
    await refused("UPDATE mysql.global_priv SET Priv = Priv WHERE User = 'nobody'", /UPDATE command denied/);
    await refused("UPDATE mysql.global_priv SET Priv = Priv WHERE User = 'nobody'", /UPDATE command denied/, oldApp);
    await refused('INSERT INTO mysql.plugin SELECT * FROM mysql.plugin WHERE 1 = 0', /INSERT command denied/, oldApp);
    assert.match(await ok('SHOW GRANTS'), /GRANT RELOAD, PROCESS, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, CREATE USER, SLAVE MONITOR ON \*\.\*/);
    assert.equal(await ok('SELECT v FROM store.t'), 'kept', 'the master keeps its data');
    assert.equal(await ok('SELECT COUNT(*) FROM mysql.user', oldApp), await ok('SELECT COUNT(*) FROM mysql.user'), 'reading stays allowed');
    await assertNoSuperOrFile();
  });

  for (const [what, sql] of [
    ["drops Cellar's account", (a: string) => `DROP USER '${a}'@'localhost'`],
    ["locks Cellar's account", (a: string) => `ALTER USER '${a}'@'localhost' ACCOUNT LOCK`],
    ["renames Cellar's account", (a: string) => `RENAME USER '${a}'@'localhost' TO 'gone'@'localhost'`],
    ["drops Cellar's role", () => 'DROP ROLE cellar_admin'],
    ["takes the role's name for an account of its own", () => "DROP ROLE cellar_admin; CREATE ROLE cellar_admin; GRANT cellar_admin TO 'admin'@'%'"],
  ] as const) {
    it(`when the master ${what}, a restart gives Cellar its administration back`, async () => {
      await ok(sql(admin));
      assert.equal((await engine.healthProbe()).ok, false);
      await restartEngine();
      assert.equal((await engine.healthProbe()).ok, true);
      await assertNoSuperOrFile();
      await refused('SET ROLE cellar_admin', /has not been granted role/);
    });
  }
});
