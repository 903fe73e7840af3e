/**
 * ModifyDBParameterGroup checks every value against the parameter's data type and AllowedValues, formulas included,
 * through the real API (@aws-sdk/client-rds against a running Cellar), one table row per case. A refused request
 * changes nothing: afterwards the groups hold exactly the accepted values.
 *
 * Messages are RDS's where a real answer was found: "Could not find parameter with name: X", "cannot use immediate
 * apply method for static parameter" (InvalidParameterCombination), "Invalid parameter value: V for: N allowed values
 * are: A" (postgres18 log_connections), "invalid parameter value: <expression>" (a formula RDS could not use). The
 * non-modifiable wording is Cellar's own (no real answer found).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RDSClient, CreateDBParameterGroupCommand, DescribeDBParametersCommand, ModifyDBParameterGroupCommand, type ApplyMethod } from '@aws-sdk/client-rds';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';

const SQL_MODES =
  'ALLOW_INVALID_DATES,ANSI,ANSI_QUOTES,DB2,EMPTY_STRING_IS_NULL,ERROR_FOR_DIVISION_BY_ZERO,HIGH_NOT_PRECEDENCE,IGNORE_BAD_TABLE_OPTIONS,IGNORE_SPACE,MAXDB,MSSQL,MYSQL323,MYSQL40,NO_AUTO_CREATE_USER,NO_AUTO_VALUE_ON_ZERO,NO_BACKSLASH_ESCAPES,NO_DIR_IN_CREATE,NO_ENGINE_SUBSTITUTION,NO_FIELD_OPTIONS,NO_KEY_OPTIONS,NO_TABLE_OPTIONS,NO_UNSIGNED_SUBTRACTION,NO_ZERO_DATE,NO_ZERO_IN_DATE,ONLY_FULL_GROUP_BY,ORACLE,PAD_CHAR_TO_FULL_LENGTH,PIPES_AS_CONCAT,POSTGRESQL,REAL_AS_FLOAT,SIMULTANEOUS_ASSIGNMENT,STRICT_ALL_TABLES,STRICT_TRANS_TABLES,TIME_ROUND_FRACTIONAL,TRADITIONAL';

type Group = 'pv-pg' | 'pv-my';
interface Row {
  group: Group;
  name: string;
  value: string | undefined;
  method?: ApplyMethod | undefined;
  /** undefined: accepted. */
  refused?: { code: string; message: string };
}

const invalid = (v: string, n: string, allowed?: string) => ({
  code: 'InvalidParameterValue',
  message: allowed ? `Invalid parameter value: ${v} for: ${n} allowed values are: ${allowed}` : `Invalid parameter value: ${v} for: ${n}`,
});
const badFormula = (expr: string) => ({ code: 'InvalidParameterValue', message: `invalid parameter value: ${expr}` });

const ROWS: Row[] = [
  // accepted: literals of every type, range bounds, formulas that suit every class
  { group: 'pv-pg', name: 'work_mem', value: '1024', method: 'immediate' },
  { group: 'pv-pg', name: 'log_min_duration_statement', value: '-1', method: 'immediate' },
  { group: 'pv-pg', name: 'random_page_cost', value: '1.1', method: 'immediate' },
  { group: 'pv-pg', name: 'log_statement', value: 'ddl', method: 'immediate' },
  { group: 'pv-pg', name: 'autovacuum', value: '0', method: 'immediate' },
  { group: 'pv-pg', name: 'rds.force_ssl', value: '0', method: 'immediate' },
  { group: 'pv-pg', name: 'shared_buffers', value: '{DBInstanceClassMemory/32768}', method: 'pending-reboot' },
  { group: 'pv-pg', name: 'max_connections', value: 'LEAST({DBInstanceClassMemory/9531392},5000)', method: 'pending-reboot' },
  { group: 'pv-pg', name: 'effective_cache_size', value: 'GREATEST({DBInstanceClassMemory/16384},1024)', method: 'immediate' },
  // A dynamic parameter may wait for a reboot if asked to.
  { group: 'pv-pg', name: 'statement_timeout', value: '60000', method: 'pending-reboot' },
  { group: 'pv-my', name: 'innodb_buffer_pool_size', value: '{DBInstanceClassMemory*3/4}', method: 'pending-reboot' },
  { group: 'pv-my', name: 'max_connections', value: '{DBInstanceClassMemory/12582880}', method: 'immediate' },
  { group: 'pv-my', name: 'tmp_table_size', value: '18446744073709551615', method: 'immediate' },
  { group: 'pv-my', name: 'sql_mode', value: 'STRICT_TRANS_TABLES,NO_ZERO_DATE', method: 'immediate' },
  { group: 'pv-my', name: 'require_secure_transport', value: '1', method: 'immediate' },
  { group: 'pv-my', name: 'lower_case_table_names', value: '1', method: 'pending-reboot' },
  { group: 'pv-my', name: 'long_query_time', value: '0.5', method: 'immediate' },

  // names and apply methods
  { group: 'pv-pg', name: 'no_such_param', value: '1', method: 'immediate', refused: { code: 'InvalidParameterValue', message: 'Could not find parameter with name: no_such_param' } },
  { group: 'pv-my', name: 'rds.force_ssl', value: '1', method: 'immediate', refused: { code: 'InvalidParameterValue', message: 'Could not find parameter with name: rds.force_ssl' } },
  { group: 'pv-pg', name: 'require_secure_transport', value: '1', method: 'immediate', refused: { code: 'InvalidParameterValue', message: 'Could not find parameter with name: require_secure_transport' } },
  { group: 'pv-pg', name: 'server_encoding', value: 'SQL_ASCII', method: 'pending-reboot', refused: { code: 'InvalidParameterValue', message: 'The parameter server_encoding cannot be modified.' } },
  { group: 'pv-pg', name: 'shared_buffers', value: '1000', method: 'immediate', refused: { code: 'InvalidParameterCombination', message: 'cannot use immediate apply method for static parameter' } },
  { group: 'pv-my', name: 'innodb_log_file_size', value: '16777216', method: 'immediate', refused: { code: 'InvalidParameterCombination', message: 'cannot use immediate apply method for static parameter' } },
  { group: 'pv-pg', name: 'work_mem', value: '1024', method: undefined, refused: { code: 'InvalidParameterValue', message: 'The parameter ApplyMethod must be provided and must not be blank.' } },

  // integers: units, fractions, both ends of the range, 64-bit bounds
  { group: 'pv-pg', name: 'shared_buffers', value: '128MB', method: 'pending-reboot', refused: invalid('128MB', 'shared_buffers', '16-1073741823') },
  { group: 'pv-pg', name: 'work_mem', value: '1.5', method: 'immediate', refused: invalid('1.5', 'work_mem', '64-2147483647') },
  { group: 'pv-pg', name: 'max_connections', value: '5', method: 'pending-reboot', refused: invalid('5', 'max_connections', '6-262143') },
  { group: 'pv-pg', name: 'max_connections', value: '262144', method: 'pending-reboot', refused: invalid('262144', 'max_connections', '6-262143') },
  { group: 'pv-pg', name: 'log_min_duration_statement', value: '-2', method: 'immediate', refused: invalid('-2', 'log_min_duration_statement', '-1-2147483647') },
  { group: 'pv-my', name: 'tmp_table_size', value: '18446744073709551616', method: 'immediate', refused: invalid('18446744073709551616', 'tmp_table_size', '1024-18446744073709551615') },
  { group: 'pv-my', name: 'lower_case_table_names', value: '2', method: 'pending-reboot', refused: invalid('2', 'lower_case_table_names', '0,1') },
  // floats
  { group: 'pv-pg', name: 'random_page_cost', value: 'abc', method: 'immediate', refused: invalid('abc', 'random_page_cost', '0-2147483647') },
  { group: 'pv-pg', name: 'random_page_cost', value: '-0.5', method: 'immediate', refused: invalid('-0.5', 'random_page_cost', '0-2147483647') },
  { group: 'pv-pg', name: 'random_page_cost', value: '1e3', method: 'immediate', refused: invalid('1e3', 'random_page_cost', '0-2147483647') },
  // booleans are 0 or 1
  { group: 'pv-pg', name: 'autovacuum', value: 'on', method: 'immediate', refused: invalid('on', 'autovacuum', '0,1') },
  { group: 'pv-pg', name: 'rds.force_ssl', value: 'true', method: 'immediate', refused: invalid('true', 'rds.force_ssl', '0,1') },
  { group: 'pv-my', name: 'require_secure_transport', value: 'ON', method: 'immediate', refused: invalid('ON', 'require_secure_transport', '0,1') },
  { group: 'pv-my', name: 'slow_query_log', value: '2', method: 'immediate', refused: invalid('2', 'slow_query_log', '0,1') },
  // enumerations and lists
  { group: 'pv-pg', name: 'log_statement', value: 'verbose', method: 'immediate', refused: invalid('verbose', 'log_statement', 'none,ddl,mod,all') },
  { group: 'pv-my', name: 'sql_mode', value: 'STRICT_TRANS_TABLES,NOT_A_MODE', method: 'immediate', refused: invalid('STRICT_TRANS_TABLES,NOT_A_MODE', 'sql_mode', SQL_MODES) },
  { group: 'pv-my', name: 'binlog_format', value: 'ROWS', method: 'immediate', refused: invalid('ROWS', 'binlog_format', 'ROW,STATEMENT,MIXED') },
  // strings cannot break the engine's configuration file
  { group: 'pv-pg', name: 'search_path', value: 'a\nb', method: 'immediate', refused: invalid('"a\\nb"', 'search_path') },

  // formulas: malformed, unknown variables, division by zero, on a non-integer parameter
  { group: 'pv-pg', name: 'shared_buffers', value: '{DBInstanceClassMemory/}', method: 'pending-reboot', refused: badFormula('DBInstanceClassMemory/') },
  { group: 'pv-pg', name: 'shared_buffers', value: '{DBInstanceMemory/32768}', method: 'pending-reboot', refused: badFormula('DBInstanceMemory/32768') },
  { group: 'pv-pg', name: 'shared_buffers', value: '{DBInstanceClassMemory/0}', method: 'pending-reboot', refused: badFormula('DBInstanceClassMemory/0') },
  { group: 'pv-pg', name: 'max_connections', value: 'LEAST({DBInstanceClassMemory/9531392},5000', method: 'pending-reboot', refused: badFormula('LEAST({DBInstanceClassMemory/9531392},5000') },
  { group: 'pv-pg', name: 'autovacuum', value: '{DBInstanceVCPU}', method: 'immediate', refused: invalid('{DBInstanceVCPU}', 'autovacuum', '0,1') },
  // formulas whose result is out of range for some class: too small for the smallest, too large for the largest
  { group: 'pv-pg', name: 'shared_buffers', value: '{DBInstanceClassMemory/1073741824}', method: 'pending-reboot', refused: invalid('{DBInstanceClassMemory/1073741824}', 'shared_buffers', '16-1073741823') },
  { group: 'pv-my', name: 'innodb_buffer_pool_size', value: '{DBInstanceClassMemory/1024}', method: 'pending-reboot', refused: invalid('{DBInstanceClassMemory/1024}', 'innodb_buffer_pool_size', '5242880-9223372036854775807') },
  { group: 'pv-pg', name: 'max_connections', value: '{DBInstanceClassMemory/1024}', method: 'pending-reboot', refused: invalid('{DBInstanceClassMemory/1024}', 'max_connections', '6-262143') },
];

describe('RDS parameter values are checked (ModifyDBParameterGroup)', () => {
  let cellar: CellarProcess;
  let rds: RDSClient;

  before(async () => {
    cellar = await startCellar({ args: ['--quiet'] });
    rds = new RDSClient(sdkConfig(cellar.endpoint));
    await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'pv-pg', DBParameterGroupFamily: 'postgres15', Description: 'values' }));
    await rds.send(new CreateDBParameterGroupCommand({ DBParameterGroupName: 'pv-my', DBParameterGroupFamily: 'mariadb10.11', Description: 'values' }));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  for (const row of ROWS) {
    const title = `${row.group} ${row.name}=${JSON.stringify(row.value)} (${row.method ?? 'no ApplyMethod'}): ${row.refused ? `${row.refused.code}` : 'accepted'}`;
    it(title, async () => {
      const send = rds.send(
        new ModifyDBParameterGroupCommand({ DBParameterGroupName: row.group, Parameters: [{ ParameterName: row.name, ParameterValue: row.value, ApplyMethod: row.method }] }),
      );
      if (!row.refused) {
        assert.equal((await send).DBParameterGroupName, row.group);
        return;
      }
      await assert.rejects(send, (e: any) => {
        assert.equal(e.Code ?? e.name, row.refused!.code, e.message);
        assert.equal(e.message, row.refused!.message);
        assert.equal(e.$metadata.httpStatusCode, 400);
        return true;
      });
    });
  }

  it('a refused request changes nothing, even when other parameters in it were fine', async () => {
    await assert.rejects(
      rds.send(
        new ModifyDBParameterGroupCommand({
          DBParameterGroupName: 'pv-pg',
          Parameters: [
            { ParameterName: 'work_mem', ParameterValue: '4096', ApplyMethod: 'immediate' },
            { ParameterName: 'max_connections', ParameterValue: '1', ApplyMethod: 'pending-reboot' },
          ],
        }),
      ),
      (e: any) => e.message === invalid('1', 'max_connections', '6-262143').message,
    );
    for (const group of ['pv-pg', 'pv-my'] as const) {
      const user = (await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: group, Source: 'user' }))).Parameters!;
      const expected = new Map<string, string>();
      for (const r of ROWS) if (r.group === group && !r.refused) expected.set(r.name, r.value!);
      assert.deepEqual(Object.fromEntries(user.map((p) => [p.ParameterName, p.ParameterValue])), Object.fromEntries([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
    }
  });

  it('describes the TLS parameters with RDS\'s types, apply types, allowed values and defaults', async () => {
    const pg = (await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'default.postgres15' }))).Parameters!;
    const force = pg.find((p) => p.ParameterName === 'rds.force_ssl')!;
    assert.deepEqual(
      { v: force.ParameterValue, t: force.DataType, a: force.ApplyType, av: force.AllowedValues, m: force.IsModifiable, s: force.Source },
      { v: '1', t: 'boolean', a: 'dynamic', av: '0,1', m: true, s: 'system' },
    );
    const enc = pg.find((p) => p.ParameterName === 'server_encoding')!;
    assert.deepEqual({ v: enc.ParameterValue, m: enc.IsModifiable }, { v: 'UTF8', m: false });
    const my = (await rds.send(new DescribeDBParametersCommand({ DBParameterGroupName: 'default.mariadb10.11' }))).Parameters!;
    const rst = my.find((p) => p.ParameterName === 'require_secure_transport')!;
    assert.deepEqual(
      { v: rst.ParameterValue, t: rst.DataType, a: rst.ApplyType, av: rst.AllowedValues, m: rst.IsModifiable, s: rst.Source },
      { v: undefined, t: 'boolean', a: 'dynamic', av: '0,1', m: true, s: 'engine-default' },
    );
  });
});
