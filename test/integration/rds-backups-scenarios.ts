/**
 * The backup scenarios of issue 12, shared by the PostgreSQL and MariaDB test files (rds-backups-*.test.ts): a real
 * Cellar, a real engine behind each DB instance, the official RDS SDK client.
 *
 * A writer inserts numbered rows, one at a time, noting for each the wall-clock moment it sent the insert and the
 * moment the commit was acknowledged. A restore time T chosen between one row's acknowledgement and the next row's
 * send must give exactly the rows up to the first one, whatever the engine: that is what "the data exactly as at T"
 * means to a client.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  RDSClient,
  CreateDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  type DBInstance,
} from '@aws-sdk/client-rds';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { rdsCaBundle, waitFor } from '../helpers/cellar.js';

export const PASSWORD = 'Backup-s3cret!';
/** Upper bounds only (nothing here asserts on a duration). */
export const READY_TIMEOUT_MS = 120_000;

export type Engine = 'postgres' | 'mariadb';

/** One connection to an instance, the same few statements for both engines. */
export interface Sql {
  exec(sql: string): Promise<void>;
  ids(): Promise<number[]>;
  insert(): Promise<number>;
  end(): Promise<void>;
}

export async function connect(engine: Engine, endpoint: string, i: DBInstance): Promise<Sql> {
  const address = i.Endpoint!.Address!;
  const port = i.Endpoint!.Port!;
  if (engine === 'postgres') {
    const c = new pg.Client({ host: address, port, user: i.MasterUsername, password: PASSWORD, database: 'app', connectionTimeoutMillis: 10_000, ssl: { ca: await rdsCaBundle(endpoint) } });
    c.on('error', () => undefined);
    await c.connect();
    return {
      exec: async (sql) => void (await c.query(sql)),
      ids: async () => (await c.query('SELECT id FROM w ORDER BY id')).rows.map((r: { id: number }) => Number(r.id)),
      insert: async () => Number((await c.query('INSERT INTO w (note) VALUES ($1) RETURNING id', ['row'])).rows[0].id),
      end: () => c.end(),
    };
  }
  const c = await mysql.createConnection({ host: address, port, user: i.MasterUsername, password: PASSWORD, database: 'app', connectTimeout: 10_000 });
  return {
    exec: async (sql) => void (await c.query(sql)),
    ids: async () => ((await c.query('SELECT id FROM w ORDER BY id'))[0] as Array<{ id: number }>).map((r) => Number(r.id)),
    insert: async () => Number(((await c.query("INSERT INTO w (note) VALUES ('row')"))[0] as { insertId: number }).insertId),
    end: () => c.end(),
  };
}

export const CREATE_TABLE: Record<Engine, string> = {
  postgres: 'CREATE TABLE w (id serial PRIMARY KEY, note text NOT NULL)',
  mariadb: 'CREATE TABLE w (id int AUTO_INCREMENT PRIMARY KEY, note text NOT NULL) ENGINE=InnoDB',
};

export interface Written {
  id: number;
  sentMs: number;
  ackMs: number;
}

/** Inserts rows one by one every `intervalMs` until stopped; what it wrote, in order. */
export function startWriter(sql: Sql, intervalMs: number): { rows: Written[]; stop(): Promise<void> } {
  const rows: Written[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const sentMs = Date.now();
      const id = await sql.insert();
      rows.push({ id, sentMs, ackMs: Date.now() });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    rows,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * A moment strictly between row k's acknowledgement and row k+1's send, on the engine's restore granularity: MariaDB's
 * binlog stamps events in whole seconds, so a restore there is exact to the second (engines/mariadb/binlog.ts).
 */
export function between(rows: Written[], k: number, granularityMs = 1): number {
  const a = rows[k]!.ackMs;
  const b = rows[k + 1]!.sentMs;
  const t = granularityMs === 1 ? Math.floor((a + b) / 2) : Math.ceil((a + 1) / granularityMs) * granularityMs;
  assert.ok(t > a && t < b && b - a >= 20, `rows ${k} and ${k + 1} are too close to tell apart on ${granularityMs} ms (${a}..${b})`);
  return t;
}

export function instanceClient(rds: RDSClient) {
  const describe = async (id: string): Promise<DBInstance | undefined> => {
    try {
      return (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances![0];
    } catch (e) {
      if ((e as { name?: string }).name?.startsWith('DBInstanceNotFound')) return undefined;
      throw e;
    }
  };
  const status = async (id: string) => (await describe(id))?.DBInstanceStatus;
  const waitStatus = async (id: string, want: string | undefined, timeoutMs = READY_TIMEOUT_MS) => {
    await waitFor(async () => (await status(id)) === want, `${id} to be ${want ?? 'gone'} (last: ${await status(id).catch(() => '?')})`, timeoutMs, 200);
    return (await describe(id))!;
  };
  const events = async (sourceId: string, type: 'db-instance' | 'db-snapshot' = 'db-instance') =>
    (await rds.send(new DescribeEventsCommand({ SourceIdentifier: sourceId, SourceType: type, Duration: 120 }))).Events!.map((e) => ({ message: e.Message!, categories: e.EventCategories! }));
  return { describe, status, waitStatus, events };
}

export async function createSource(rds: RDSClient, engine: Engine, id: string, port: number, extra: Partial<ConstructorParameters<typeof CreateDBInstanceCommand>[0]> = {}): Promise<void> {
  await rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: engine,
      DBInstanceClass: 'db.t3.micro',
      AllocatedStorage: 20,
      MasterUsername: 'master',
      MasterUserPassword: PASSWORD,
      DBName: 'app',
      Port: port,
      BackupRetentionPeriod: 7,
      ...extra,
    }),
  );
}

/** Every regular file under dir, biggest first (the data of a backup, before its manifest and small files). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out.sort((a, b) => statSync(b).size - statSync(a).size);
}

/** Flips bytes in the middle of a file: the size stays, the checksum does not. */
export function corrupt(file: string): void {
  const buf = readFileSync(file);
  const at = Math.floor(buf.length / 2);
  for (let i = at; i < Math.min(buf.length, at + 64); i++) buf[i] = buf[i]! ^ 0xff;
  writeFileSync(file, buf);
}

/** The account the test credentials map to, read from an ARN Cellar gave. */
export function accountOf(arn: string): string {
  return arn.split(':')[4]!;
}
