/**
 * @module storage/sqlite
 * The embedded engine behind storage/store: one SQLite database in WAL mode, one WITHOUT ROWID table
 * per keyspace, so a range scan is a walk of the table's B-tree in key order.
 *
 * Durability: every write is its own transaction (or part of an explicit one) and is committed before
 * the call returns, so an acknowledged write survives `kill -9` of Cellar (it is in the WAL file, which
 * the OS holds even if the process dies). `durability: 'fsync'` (synchronous=FULL) also fsyncs each
 * commit, which survives power loss at the cost of about 100 µs per commit on this disk.
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type { Keyspace, Mutation, ScanOptions, Store } from './store.js';

export type Durability = 'process' | 'fsync';

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for a throwaway store. */
  path: string;
  durability?: Durability;
  /** Page cache size in MiB: bounds memory whatever the data size. */
  cacheMiB?: number;
}

const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

class SqliteKeyspace implements Keyspace {
  private readonly getStmt: Database.Statement<[Buffer], Buffer>;
  private readonly putStmt: Database.Statement<[Buffer, Buffer]>;
  private readonly delStmt: Database.Statement<[Buffer]>;
  private readonly scanCache = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    readonly name: string,
    private readonly inTransaction: <T>(fn: () => T) => T,
  ) {
    db.prepare(`CREATE TABLE IF NOT EXISTS "kv_${name}" (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`).run();
    this.getStmt = db.prepare<[Buffer], Buffer>(`SELECT v FROM "kv_${name}" WHERE k = ?`).pluck(true);
    this.putStmt = db.prepare(`INSERT INTO "kv_${name}" (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`);
    this.delStmt = db.prepare(`DELETE FROM "kv_${name}" WHERE k = ?`);
  }

  get(key: Buffer): Buffer | undefined {
    return this.getStmt.get(key);
  }

  private readonly textStmts = new Map<string, Database.Statement>();

  private textColumn(headerBytes: number): string {
    return headerBytes > 0 ? `hex(substr(v, 1, ${headerBytes})) || CAST(substr(v, ${headerBytes + 1}) AS TEXT)` : 'CAST(v AS TEXT)';
  }

  getText(key: Buffer, headerBytes: number): string | undefined {
    const id = `g${headerBytes}`;
    let stmt = this.textStmts.get(id);
    if (!stmt) {
      stmt = this.db.prepare(`SELECT ${this.textColumn(headerBytes)} FROM "kv_${this.name}" WHERE k = ?`).pluck(true);
      this.textStmts.set(id, stmt);
    }
    return stmt.get(key) as string | undefined;
  }

  scanText(options: ScanOptions, headerBytes: number): string[] {
    const { where, args, shape } = this.range(options);
    const id = `${shape}t${headerBytes}`;
    let stmt = this.textStmts.get(id);
    if (!stmt) {
      stmt = this.db.prepare(this.rangeSql(this.textColumn(headerBytes), where, options)).pluck(true);
      this.textStmts.set(id, stmt);
    }
    return stmt.all(...args) as string[];
  }

  private range(options: ScanOptions): { where: string[]; args: (Buffer | number)[]; shape: string } {
    const where: string[] = [];
    const args: (Buffer | number)[] = [];
    let shape = '';
    if (options.gte) { where.push('k >= ?'); args.push(options.gte); shape += 'a'; }
    if (options.gt) { where.push('k > ?'); args.push(options.gt); shape += 'b'; }
    if (options.lte) { where.push('k <= ?'); args.push(options.lte); shape += 'c'; }
    if (options.lt) { where.push('k < ?'); args.push(options.lt); shape += 'd'; }
    const limited = options.limit !== undefined;
    shape += (options.reverse ? 'r' : 'f') + (limited ? 'l' : '');
    if (limited) args.push(Math.max(0, Math.floor(options.limit!)));
    return { where, args, shape };
  }

  private rangeSql(columns: string, where: string[], options: ScanOptions): string {
    return (
      `SELECT ${columns} FROM "kv_${this.name}"` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY k ${options.reverse ? 'DESC' : 'ASC'}` +
      (options.limit !== undefined ? ' LIMIT ?' : '')
    );
  }

  put(key: Buffer, value: Buffer): void {
    this.putStmt.run(key, value);
  }

  delete(key: Buffer): void {
    this.delStmt.run(key);
  }

  write(mutations: Mutation[]): void {
    this.inTransaction(() => {
      for (const m of mutations) {
        if (m.value === undefined) this.delStmt.run(m.key);
        else this.putStmt.run(m.key, m.value);
      }
    });
  }

  deletePrefix(prefix: Buffer): void {
    if (prefix.length === 0) {
      this.db.prepare(`DELETE FROM "kv_${this.name}"`).run();
      return;
    }
    const end = Buffer.from(prefix);
    let i = end.length - 1;
    while (i >= 0 && end[i] === 0xff) i--;
    if (i < 0) {
      this.db.prepare(`DELETE FROM "kv_${this.name}" WHERE k >= ?`).run(prefix);
      return;
    }
    end[i]++;
    this.db.prepare(`DELETE FROM "kv_${this.name}" WHERE k >= ? AND k < ?`).run(prefix, end.subarray(0, i + 1));
  }

  scan(options: ScanOptions = {}): IterableIterator<[Buffer, Buffer]> {
    const { where, args, shape } = this.range(options);
    let stmt = this.scanCache.get(shape);
    if (!stmt) {
      stmt = this.db.prepare(this.rangeSql('k, v', where, options)).raw(true);
      this.scanCache.set(shape, stmt);
    }
    // A bounded read is fetched in one call: far cheaper per row than stepping an iterator.
    if (options.limit !== undefined) return (stmt.all(...args) as [Buffer, Buffer][])[Symbol.iterator]();
    return stmt.iterate(...args) as IterableIterator<[Buffer, Buffer]>;
  }
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly spaces = new Map<string, SqliteKeyspace>();
  private readonly beginStmt: Database.Statement;
  private readonly commitStmt: Database.Statement;
  private readonly rollbackStmt: Database.Statement;

  constructor(options: SqliteStoreOptions) {
    this.db = openDatabase(options.path);
    if (options.path !== ':memory:') this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.durability === 'fsync' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma(`cache_size = -${(options.cacheMiB ?? 64) * 1024}`);
    this.db.pragma('busy_timeout = 5000');
    // Bounds the WAL: checkpoints run automatically every ~4 MiB of log.
    this.db.pragma('wal_autocheckpoint = 1000');
    this.beginStmt = this.db.prepare('BEGIN');
    this.commitStmt = this.db.prepare('COMMIT');
    this.rollbackStmt = this.db.prepare('ROLLBACK');
  }

  keyspace(name: string): Keyspace {
    if (!KEYSPACE_NAME.test(name)) throw new Error(`invalid keyspace name ${JSON.stringify(name)}`);
    let space = this.spaces.get(name);
    if (!space) {
      space = new SqliteKeyspace(this.db, name, (fn) => this.transaction(fn));
      this.spaces.set(name, space);
    }
    return space;
  }

  /**
   * BEGIN … COMMIT around fn (ROLLBACK if it throws); inside an open transaction fn simply runs.
   * The statements are prepared once: better-sqlite3's db.transaction(fn) wraps fn anew on every call.
   */
  transaction<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.beginStmt.run();
    let result: T;
    try {
      result = fn();
    } catch (e) {
      if (this.db.inTransaction) this.rollbackStmt.run();
      throw e;
    }
    this.commitStmt.run();
    return result;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * better-sqlite3 through require rather than import: an ESM import of a CommonJS package first runs the lexer Node
 * uses to find its named exports (a few ms of Cellar's startup). The addon is given by path when it is where
 * better-sqlite3 builds it, so that `bindings` does not search a dozen places for it.
 */
function openDatabase(path: string): Database.Database {
  const require = createRequire(import.meta.url);
  const Sqlite = require('better-sqlite3') as typeof Database;
  let nativeBinding: string | undefined;
  try {
    nativeBinding = require.resolve('better-sqlite3/build/Release/better_sqlite3.node');
  } catch {
    nativeBinding = undefined; // built elsewhere: `bindings` finds it
  }
  return new Sqlite(path, nativeBinding ? { nativeBinding } : {});
}
