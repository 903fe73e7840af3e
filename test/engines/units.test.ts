/**
 * Pure parts of the engine layer: configuration rendering, parameter rules, version parsing, password verifiers
 * (against published test vectors), the RESP codec (split at every offset), instance layout.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import * as path from 'node:path';
import { instanceLayout } from '../../src/engines/adapter.js';
import { mysqlNativePasswordHash, redisAclPasswordRule, scramSha256Verifier } from '../../src/engines/secrets.js';
import * as pgc from '../../src/engines/postgres/config.js';
import * as myc from '../../src/engines/mariadb/config.js';
import * as rc from '../../src/engines/redis/config.js';
import { encodeCommand, parseReply, RespError } from '../../src/engines/redis/resp.js';
import { compareVersions } from '../../src/engines/versions.js';

describe('password verifiers', () => {
  it('computes SCRAM-SHA-256 keys that satisfy the RFC 7677 example exchange', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const v = scramSha256Verifier('pencil', salt, 4096);
    const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(v);
    assert.ok(m, v);
    assert.equal(m[1], 'W22ZaJ0SNY7soEsUEjb6gQ==');
    const storedKey = Buffer.from(m[2]!, 'base64');
    const serverKey = Buffer.from(m[3]!, 'base64');
    const authMessage =
      'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,' +
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    // ServerSignature = HMAC(ServerKey, AuthMessage)
    assert.equal(createHmac('sha256', serverKey).update(authMessage).digest('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    // ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), and StoredKey = H(ClientKey)
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const sig = createHmac('sha256', storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ sig[i]!));
    assert.deepEqual(createHash('sha256').update(clientKey).digest(), storedKey);
  });

  it('salts each verifier differently', () => {
    assert.notEqual(scramSha256Verifier('x'), scramSha256Verifier('x'));
  });

  it('computes mysql_native_password hashes', () => {
    assert.equal(mysqlNativePasswordHash('password'), '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
  });

  it('computes Redis ACL password rules', () => {
    assert.equal(redisAclPasswordRule('foobar'), '#c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2');
  });
});

describe('postgres config', () => {
  const base = { name: 'db-1', port: 5433, listenAddresses: ['127.0.0.1'], socketDir: '/x/run', params: {} };

  it('renders the managed settings with defaults that params override', () => {
    const conf = pgc.renderCellarConf({ ...base, params: { shared_buffers: '256MB', work_mem: "it's" } });
    assert.match(conf, /^listen_addresses = '127\.0\.0\.1'$/m);
    assert.match(conf, /^port = 5433$/m);
    assert.match(conf, /^unix_socket_directories = '\/x\/run'$/m);
    assert.match(conf, /^password_encryption = 'scram-sha-256'$/m);
    assert.match(conf, /^wal_retrieve_retry_interval = '100ms'$/m);
    assert.match(conf, /^shared_buffers = '256MB'$/m);
    assert.doesNotMatch(conf, /shared_buffers = '128MB'/);
    assert.match(conf, /^work_mem = 'it''s'$/m);
  });

  it('refuses managed or malformed parameters and line breaks', () => {
    assert.throws(() => pgc.renderCellarConf({ ...base, params: { port: '1' } }), /managed by Cellar/);
    assert.throws(() => pgc.renderCellarConf({ ...base, params: { 'x; y': '1' } }), /invalid parameter name/);
    assert.throws(() => pgc.renderCellarConf({ ...base, params: { work_mem: "1MB'\nhba_file = '/etc/x" } }), /line breaks/);
    assert.equal(pgc.confValue('a\\b'), "'a\\\\b'");
  });

  it('lets the admin in only through the socket, by peer', () => {
    const hba = pgc.renderHba();
    assert.match(hba, /^local\s+all\s+rdsadmin\s+peer map=cellar$/m);
    assert.match(hba, /^host\s+all\s+rdsadmin\s+all\s+reject$/m);
    // The reject line must come before the general host line.
    assert.ok(hba.indexOf('rdsadmin  all  reject') < hba.indexOf('all            all  md5'));
    assert.equal(pgc.renderIdent(['root', 'root']), '# Managed by Cellar: OS users allowed to act as rdsadmin\ncellar  root  rdsadmin\n');
  });

  it('bootstraps rds_superuser with the predefined roles of the version', () => {
    const s15 = pgc.bootstrapStatements({ major: 15, masterUsername: 'Admin', masterVerifier: 'SCRAM-SHA-256$4096:a$b:c', dbName: 'app' });
    assert.equal(s15[0], 'CREATE ROLE rds_superuser NOLOGIN CREATEDB CREATEROLE');
    assert.match(s15[1]!, /pg_checkpoint/);
    assert.doesNotMatch(s15[1]!, /pg_create_subscription|pg_maintain/);
    assert.equal(s15[2], `CREATE ROLE "Admin" LOGIN CREATEDB CREATEROLE PASSWORD 'SCRAM-SHA-256$4096:a$b:c' IN ROLE rds_superuser`);
    assert.doesNotMatch(s15[1]!, /pg_read_all_data/, 'pg_read_all_data reads pg_authid');
    assert.equal(s15[3], "UPDATE pg_authid SET rolsuper = true WHERE rolname IN ('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data')");
    assert.equal(s15[4], 'CREATE DATABASE "app" OWNER "Admin"');
    assert.doesNotMatch(pgc.bootstrapStatements({ major: 13, masterUsername: 'a', masterVerifier: 'v' })[1]!, /pg_read_all_data/);
    assert.equal(pgc.bootstrapStatements({ major: 13, masterUsername: 'a', masterVerifier: 'v' }).length, 4);
    assert.equal(pgc.bootstrapStatements({ major: 16, masterUsername: 'a', masterVerifier: 'v' }).length, 3, 'CREATEROLE is fixed upstream in 16');
    assert.doesNotMatch(pgc.bootstrapStatements({ major: 17, masterUsername: 'a', masterVerifier: 'v' })[1]!, /pg_read_all_data/);
  });

  it('brings instances of an older Cellar to the same role rules', () => {
    const h15 = pgc.hardeningStatements(15);
    assert.equal(h15.length, 2);
    assert.match(h15[0]!, /WHERE r\.rolname IN \('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data'\) AND NOT u\.rolsuper/);
    assert.match(h15[0]!, /format\('REVOKE %I FROM %I', m\.role, m\.member\)/);
    assert.match(h15[1]!, /SET LOCAL allow_system_table_mods = on; UPDATE pg_authid SET rolsuper = true WHERE rolname IN \('pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data'\)/);
    const h16 = pgc.hardeningStatements(16);
    assert.equal(h16.length, 1);
    assert.match(h16[0]!, /GRANTED BY %I CASCADE/);
    assert.doesNotMatch(pgc.hardeningStatements(13)[0]!, /pg_read_all_data/, '13 has no pg_read_all_data');
  });

  it('refuses parameters that run programs, load libraries or move files', () => {
    for (const n of ['archive_command', 'restore_command', 'shared_preload_libraries', 'session_preload_libraries', 'dynamic_library_path', 'log_directory', 'ssl_key_file', 'primary_conninfo']) {
      assert.throws(() => pgc.checkParamName(n), /managed by Cellar/, n);
    }
  });

  it('refuses reserved master usernames', () => {
    for (const n of ['rdsadmin', 'pg_x', 'postgres', 'RDS_SUPERUSER', '1abc', 'a"b']) assert.throws(() => pgc.validateMasterUsername(n));
    pgc.validateMasterUsername('master_user');
  });

  it('parses postgres --version', () => {
    assert.deepEqual(pgc.parsePostgresVersion('postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n'), {
      major: 15,
      version: '15.20',
      full: 'postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)',
    });
    assert.equal(pgc.parsePostgresVersion('postgres (PostgreSQL) 17.2')?.major, 17);
    assert.equal(pgc.parsePostgresVersion('postgres (PostgreSQL) 18beta1')?.major, 18);
    assert.equal(pgc.parsePostgresVersion('mysqld Ver 8'), undefined);
  });
});

describe('mariadb config', () => {
  const input = { dataDir: '/i/data', initFile: '/i/conf/init.sql', secureFileDir: '/i/files', socket: '/i/run/s', pidFile: '/i/run/p', tmpDir: '/i/tmp', port: 3307, listenAddresses: ['127.0.0.1', '::1'], params: {}, serverId: 42 };

  it('starts with --no-defaults and explicit paths', () => {
    const args = myc.mariadbdArgs({ ...input, params: { 'innodb-buffer-pool-size': '64M' } });
    assert.equal(args[0], '--no-defaults');
    for (const a of ['--datadir=/i/data', '--socket=/i/run/s', '--pid-file=/i/run/p', '--port=3307', '--bind-address=127.0.0.1,::1', '--skip-name-resolve']) {
      assert.ok(args.includes(a), a);
    }
    assert.ok(args.includes('--innodb_buffer_pool_size=64M'));
    assert.ok(args.includes('--innodb_buffer_pool_size=128M'), 'default rendered first');
    // tx_isolation is a variable whose command-line option has another name in 10.11.
    assert.deepEqual(myc.paramArgs({ tx_isolation: 'READ-COMMITTED' }), ['--transaction_isolation=READ-COMMITTED']);
    assert.ok(args.lastIndexOf('--innodb_buffer_pool_size=64M') > args.indexOf('--innodb_buffer_pool_size=128M'), 'the given value wins (last)');
  });

  it('refuses managed parameters', () => {
    assert.throws(() => myc.mariadbdArgs({ ...input, params: { 'bind-address': '0.0.0.0' } }), /managed/);
    assert.throws(() => myc.checkParamName('skip_grant_tables'), /managed/);
  });

  it('turns parameter values into SET GLOBAL values', () => {
    assert.equal(myc.setGlobalValue('123'), '123');
    assert.equal(myc.setGlobalValue('128M'), String(128 * 1024 * 1024));
    assert.equal(myc.setGlobalValue('2g'), String(2 * 1024 ** 3));
    assert.equal(myc.setGlobalValue('ON'), "'ON'");
    assert.equal(myc.setGlobalValue("a'b\\"), "'a\\'b\\\\'");
  });

  it('grants the master RDS privileges without SUPER, FILE or SHUTDOWN, data privileges per pattern', () => {
    const sql = myc.bootstrapSql({ masterUsername: 'admin', masterPasswordHash: '*ABC', dbName: 'app' });
    assert.match(sql, /^FLUSH PRIVILEGES;$/m);
    assert.match(sql, /^CREATE USER 'admin'@'%' IDENTIFIED BY PASSWORD '\*ABC';$/m);
    assert.match(sql, /^GRANT RELOAD, PROCESS, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR, CREATE USER ON \*\.\* TO 'admin'@'%' WITH GRANT OPTION;$/m);
    assert.match(sql, /^BEGIN NOT ATOMIC FOR p IN .* GRANT SELECT, LOCK TABLES, SHOW VIEW ON `mysql`\.\* TO 'admin'@'%';.* END;$/m);
    assert.match(sql, /^CREATE DATABASE `app`;$/m);
    // Every statement on one line: the bootstrap reader ends a statement at a line ending in ';'.
    for (const line of sql.trim().split('\n')) assert.match(line, /;$/);
    for (const p of ['SUPER', 'FILE', 'SHUTDOWN']) assert.ok(!myc.MASTER_PRIVILEGES.includes(p));
    assert.deepEqual([...myc.MASTER_GLOBAL_PRIVILEGES, ...myc.MASTER_DATABASE_PRIVILEGES].sort(), [...myc.MASTER_PRIVILEGES].sort());
  });

  /** MariaDB's wild_compare(str, pattern, str_is_pattern=false) as a RegExp: `_` one byte, `%` any run, `\\` escapes. */
  function likeRegExp(pattern: string): RegExp {
    return new RegExp('^' + pattern.replace(/\\(.)|([%_])|([^%_\\])/g, (_m, esc: string, wild: string, lit: string) => {
      const c = esc ?? lit;
      if (wild === '%') return '.*';
      if (wild === '_') return '.';
      return c!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }) + '$', 's');
  }

  it('database patterns match every name but mysql and sys, whatever the letter case rule', () => {
    const patterns = myc.masterDatabasePatterns().map(likeRegExp);
    const lowerPatterns = myc.masterDatabasePatterns().map((p) => likeRegExp(p.toLowerCase()));
    const alphabet = ['m', 'y', 's', 'q', 'l', 'M', 'S', 'a', '_', '1'];
    const names: string[] = [''];
    const all: string[] = [];
    for (let length = 1; length <= 5; length++) {
      const next: string[] = [];
      for (const prefix of names.splice(0)) for (const c of alphabet) next.push(prefix + c);
      names.push(...next);
      all.push(...next);
    }
    all.push('store', 'performance_schema', 'information_schema', 'a_very_long_database_name', '$x', 'MySQL', 'SYS');
    for (const name of all) {
      const lower = name.toLowerCase();
      const matched = patterns.some((p) => p.test(name));
      // With lower_case_table_names=1 names and patterns are both lower-cased before matching.
      const matchedLower = lowerPatterns.some((p) => p.test(lower));
      if (lower === 'mysql' || lower === 'sys') {
        assert.equal(matched, false, `${name} must not be reachable`);
        assert.equal(matchedLower, false, `${name} must not be reachable with lower_case_table_names=1`);
      } else {
        assert.equal(matched, true, `${name} should be usable`);
      }
    }
  });

  it('re-asserts Cellar administration at every start, one statement per line', () => {
    const sql = myc.initFileSql({ adminUser: 'root', masterUsername: 'admin' });
    const lines = sql.trim().split('\n').filter((l) => !l.startsWith('--'));
    for (const line of lines) assert.match(line, /;$/, line);
    assert.ok(lines.includes("CREATE USER IF NOT EXISTS 'root'@'localhost' IDENTIFIED VIA unix_socket;"));
    assert.ok(lines.includes("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'root'@'localhost';"));
    assert.ok(lines.includes("GRANT EXECUTE ON PROCEDURE mysql.cellar_exec TO 'root'@'localhost';"));
    assert.ok(lines.includes("DELETE FROM mysql.roles_mapping WHERE Role = 'cellar_admin';"), 'nobody keeps ADMIN OPTION on the role');
    assert.ok(lines.some((l) => l.startsWith('CREATE OR REPLACE DEFINER = cellar_admin PROCEDURE mysql.cellar_exec') && l.includes("SUBSTRING_INDEX(USER(), '@', -1) <> 'localhost'")));
    assert.doesNotMatch(sql, /REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'root'@'localhost'; END IF/, 'root is the admin here');
    const other = myc.initFileSql({ adminUser: 'alice', masterUsername: 'admin' });
    assert.match(other, /IF EXISTS \(SELECT 1 FROM mysql\.global_priv WHERE User = 'root' AND Host = 'localhost'\) THEN REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'root'@'localhost'; END IF; END;/);
  });

  it('keeps file, plugin and log-location options for Cellar', () => {
    for (const n of ['general_log_file', 'slow-query-log-file', 'plugin_load_add', 'secure_file_priv', 'symbolic-links', 'init_file', 'proxy_protocol_networks']) {
      assert.throws(() => myc.checkParamName(n), /managed/, n);
    }
    const args = myc.mariadbdArgs(input);
    for (const a of ['--init-file=/i/conf/init.sql', '--secure-file-priv=/i/files', '--skip-symbolic-links']) assert.ok(args.includes(a), a);
  });

  it('parses mariadbd --version', () => {
    assert.deepEqual(myc.parseMariadbVersion('mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)'), {
      version: '10.11.19',
      major: '10.11',
      full: 'mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)',
    });
  });
});

describe('redis config', () => {
  const input = {
    port: 6380,
    listenAddresses: ['127.0.0.1'],
    socket: '/i/run/redis.sock',
    pidFile: '/i/run/redis.pid',
    dataDir: '/i/data',
    configFile: '/i/conf/redis.conf',
    masterUsername: 'default',
    masterPasswordRule: '#abc',
    adminPasswordRule: '#def',
    params: { 'maxmemory-policy': 'allkeys-lru' },
  };

  it('renders loopback, AOF, hashed passwords and restricted master commands', () => {
    const conf = rc.renderRedisConf(input);
    assert.match(conf, /^bind 127\.0\.0\.1$/m);
    assert.match(conf, /^appendonly yes$/m);
    assert.match(conf, /^user rdsadmin reset on #def ~\* &\* \+@all$/m);
    assert.match(conf, /^user default reset on #abc ~\* &\* \+@all -config -debug .* -shutdown /m);
    assert.match(conf, /^maxmemory-policy allkeys-lru$/m);
    assert.doesNotMatch(conf, /user default reset off/);
    assert.match(rc.renderRedisConf({ ...input, masterUsername: 'app' }), /^user default reset off$/m);
    assert.match(rc.renderRedisConf({ ...input, masterPasswordRule: undefined }), /^user default reset on nopass /m);
  });

  it('refuses managed directives and line breaks', () => {
    assert.throws(() => rc.renderRedisConf({ ...input, params: { requirepass: 'x' } }), /managed/);
    for (const d of ['dir', 'dbfilename', 'appendfilename', 'enable-module-command', 'enable-protected-configs', 'loadmodule']) {
      assert.throws(() => rc.renderRedisConf({ ...input, params: { [d]: 'x' } }), /managed/, d);
    }
    assert.match(rc.renderRedisConf(input), /-acl\|list -acl\|getuser/, 'the master cannot read password hashes');
    assert.throws(() => rc.renderRedisConf({ ...input, params: { 'maxmemory-policy': 'x\nuser evil on nopass +@all' } }), /line breaks/);
  });

  it('parses redis-server --version', () => {
    assert.equal(rc.parseRedisVersion('Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0')?.version, '7.0.15');
  });
});

describe('RESP codec', () => {
  const replies: Array<[string, unknown]> = [
    ['+OK\r\n', 'OK'],
    ['-ERR bad\r\n', new RespError('ERR bad')],
    [':42\r\n', 42],
    ['$5\r\nhe\r\nl\r\n', 'he\r\nl'],
    ['$-1\r\n', null],
    ['*3\r\n$3\r\nfoo\r\n:1\r\n*1\r\n+x\r\n', ['foo', 1, ['x']]],
    ['*0\r\n', []],
  ];

  it('parses whole replies and reports incomplete ones at every split offset', () => {
    for (const [wire, value] of replies) {
      const buf = Buffer.from(wire);
      assert.deepEqual(parseReply(buf), { value, next: buf.length }, wire);
      for (let i = 0; i < buf.length; i++) assert.equal(parseReply(buf.subarray(0, i)), undefined, `${JSON.stringify(wire)} cut at ${i}`);
    }
  });

  it('parses consecutive replies from one buffer', () => {
    const buf = Buffer.from('+A\r\n:2\r\n');
    const first = parseReply(buf)!;
    assert.deepEqual(parseReply(buf, first.next), { value: 2, next: buf.length });
  });

  it('rejects bytes that are not RESP', () => {
    assert.throws(() => parseReply(Buffer.from('HTTP/1.1 400\r\n')), /not a RESP reply/);
  });

  it('encodes commands as arrays of bulk strings (byte lengths)', () => {
    assert.equal(encodeCommand(['SET', 'k', 'é']).toString('utf8'), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\né\r\n');
  });
});

describe('instance layout', () => {
  it('keeps sockets inside the instance directory when the path fits', () => {
    const l = instanceLayout('/var/lib/cellar/db-1', 'postgres.log', '.s.PGSQL.65535.lock');
    assert.equal(l.run, '/var/lib/cellar/db-1/run');
    assert.equal(l.data, '/var/lib/cellar/db-1/data');
    assert.equal(l.logFile, '/var/lib/cellar/db-1/log/postgres.log');
  });

  it('falls back to a short private directory when the socket path would be too long', () => {
    const deep = '/var/lib/cellar/' + 'x'.repeat(100);
    const l = instanceLayout(deep, 'postgres.log', '.s.PGSQL.65535.lock');
    assert.match(l.run, /\/cellar-[0-9a-f]{16}$/);
    assert.ok(Buffer.byteLength(path.join(l.run, '.s.PGSQL.65535.lock')) <= 107);
    assert.equal(instanceLayout(deep, 'a', 'b').run, instanceLayout(deep, 'c', 'b').run, 'stable for one instance');
  });
});

describe('version comparison', () => {
  it('compares numerically', () => {
    assert.ok(compareVersions('15.9', '15.10') < 0);
    assert.equal(compareVersions('15.0', '15'), 0);
  });
});
