/**
 * @module storage/sqlite
 * The embedded engine behind storage/store: one SQLite database in WAL mode, one table per keyspace. A keyspace
 * of small values is a WITHOUT ROWID table, so a range scan is a walk of one B-tree in key order. A keyspace of
 * large values (KeyspaceOptions.largeValues) is an ordinary rowid table with its key index: a WITHOUT ROWID
 * B-tree keeps whole rows in its inner pages too, so with 1 KB values an inner page held about 6 rows, a million
 * items made a tree 7 levels deep whose inner pages alone (190 MB) could not stay in the cache, and every point
 * read missed 3 or 4 pages. The key index holds keys only (hundreds to a page, a few MB per million keys, which
 * the cache keeps), so a point read misses at most the one page holding the row; puts of large values cost less
 * too (the row is appended, only the small index entry goes in key order). A range scan then reads rows in key
 * order through the index, a page per row when rows were written in another order: slower per row, which is why
 * small-value keyspaces stay WITHOUT ROWID. Both layouts answer the same statements, so a data directory made
 * before a keyspace's layout changed keeps its table as it is and works unchanged.
 *
 * Durability: every write is its own transaction (or part of an explicit one) and is committed before
 * the call returns, so an acknowledged write survives `kill -9` of Cellar (it is in the WAL file, which
 * the OS holds even if the process dies). `durability: 'fsync'` (synchronous=FULL) also fsyncs each
 * commit, which survives power loss at the cost of about 100 µs per commit on this disk.
 *
 * Group commit (`grouped`): the writes that arrive in one event-loop turn share one transaction and one
 * COMMIT at the end of the turn (setImmediate); each one's promise settles only after that COMMIT returned.
 * Anything else that touches the store while a group is open (a read, a plain put, a transaction) commits the
 * group first, so nothing outside the group ever sees its uncommitted writes. An op that throws after it wrote
 * must leave no trace while the others stay: rather than a SAVEPOINT around every op (two more statements and
 * a sub-journal copy of every page an earlier op dirtied, about 15% of a small put's storage cost), the group
 * keeps a log of its ops' writes (the Buffers it was given, no copies), and the rare op that fails after
 * writing rolls the whole transaction back and the writes of the ops before it are applied again.
 *
 * Checkpoints run on a worker thread with its own connection (storage/checkpointer-worker), never inside
 * a commit on the main thread; a clean close checkpoints and truncates the WAL.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ROOT } from '../root.js';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { type CheckpointerData, SLOT_ERRORS, SLOT_PASSIVE, SLOT_PAUSE_REQUEST, SLOT_PAUSED, SLOT_RESTART, SLOT_STOPPED, SLOTS } from './checkpointer-slots.js';
import type { Keyspace, KeyspaceOptions, Mutation, ScanOptions, Store } from './store.js';

export type Durability = 'process' | 'fsync';

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for a throwaway store. */
  path: string;
  durability?: Durability;
  /**
   * Memory for caching, in MiB: bounds memory whatever the data size. Three quarters go to SQLite's
   * page cache, one quarter to the values that point reads returned as text (see TextCache).
   */
  cacheMiB?: number;
  /** How often the checkpointer runs a passive checkpoint (data directories only). */
  checkpointIntervalMs?: number;
  /** Past this WAL size the checkpointer restarts the log (bounded wait for the writer). */
  walLimitBytes?: number;
}

const DEFAULT_CHECKPOINT_INTERVAL_MS = 100;
/** Page size of a new data directory's database (see the constructor). */
const PAGE_BYTES = 8192;
const DEFAULT_WAL_LIMIT_BYTES = 64 * 1024 * 1024;
/** How long the checkpointer's RESTART waits for the writer, and close() for the checkpointer to stop. */
const CHECKPOINTER_WAIT_MS = 1000;
/** The longest the main thread pauses for a RESTART checkpoint the checkpointer asked for. */
const MAX_PAUSE_MS = 2000;
/** Called with each COMMIT's duration in seconds (observability/: the store commit latency metric). */
let commitObserver: ((seconds: number) => void) | undefined;

/** Sets (or, with undefined, removes) the function every commit's duration is reported to. */
export function observeCommits(fn: ((seconds: number) => void) | undefined): void {
  commitObserver = fn;
}

/** Ops per write group: past this the group commits at once and a new one begins. */
const MAX_GROUP_OPS = 256;

/** One write of a group op, kept until the group commits so that it can be applied again (see `grouped`). */
type LoggedWrite = { space: SqliteKeyspace; key: Buffer; value: Buffer | undefined } | { space: SqliteKeyspace; prefix: Buffer };

/** What the keyspaces share with their store: whether a write group is open and an op of it is running. */
interface GroupState {
  open: boolean;
  inOp: boolean;
  /** The writes of the open group's ops, in order (empty when no group is open). */
  log: LoggedWrite[];
  /** Commits the open group (called before anything that is not one of its ops touches the store). */
  flush(): void;
}

const KEYSPACE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** What a store's text caches may hold together, in estimated bytes. */
interface CacheBudget {
  used: number;
  readonly limit: number;
}

/**
 * Values that getText returned, by key, for the point reads that dominate a key-value workload: a hit
 * costs a Map lookup instead of a statement step (about 1 µs less per read). It is filled only outside
 * any transaction, so it holds committed values only, and every write to a key drops that key first
 * (deletePrefix drops everything): a value written in a transaction that is later rolled back is never
 * cached, and no entry outlives a write. Eviction is first in, first out, within a byte budget shared
 * by the store's keyspaces.
 */
class TextCache {
  private readonly entries = new Map<string, string>();

  constructor(
    readonly headerBytes: number,
    private readonly budget: CacheBudget,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): string | undefined {
    return this.entries.get(id);
  }

  /** Strings are counted at two bytes a character, plus the Map entry's own overhead. */
  private static cost(id: string, text: string): number {
    return 2 * (id.length + text.length) + 64;
  }

  add(id: string, text: string): void {
    const cost = TextCache.cost(id, text);
    // One value may take at most a sixteenth of the budget, so a few large items cannot flush it.
    if (cost > this.budget.limit / 16) return;
    for (const [oldId, oldText] of this.entries) {
      if (this.budget.used + cost <= this.budget.limit) break;
      this.entries.delete(oldId);
      this.budget.used -= TextCache.cost(oldId, oldText);
    }
    if (this.budget.used + cost > this.budget.limit) return;
    this.entries.set(id, text);
    this.budget.used += cost;
  }

  drop(id: string): void {
    const text = this.entries.get(id);
    if (text === undefined) return;
    this.entries.delete(id);
    this.budget.used -= TextCache.cost(id, text);
  }

  clear(): void {
    for (const [id, text] of this.entries) this.budget.used -= TextCache.cost(id, text);
    this.entries.clear();
  }
}

class SqliteKeyspace implements Keyspace {
  private readonly getStmt: Database.Statement<[Buffer], Buffer>;
  private readonly putStmt: Database.Statement<[Buffer, Buffer]>;
  private readonly delStmt: Database.Statement<[Buffer]>;
  private readonly scanCache = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    readonly name: string,
    private readonly inTransaction: <T>(fn: () => T) => T,
    private readonly group: GroupState,
    private readonly cacheBudget: CacheBudget,
    largeValues: boolean,
  ) {
    db.prepare(`CREATE TABLE IF NOT EXISTS "kv_${name}" (k BLOB PRIMARY KEY, v BLOB NOT NULL)${largeValues ? '' : ' WITHOUT ROWID'}`).run();
    this.getStmt = db.prepare<[Buffer], Buffer>(`SELECT v FROM "kv_${name}" WHERE k = ?`).pluck(true);
    this.putStmt = db.prepare(`INSERT INTO "kv_${name}" (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`);
    this.delStmt = db.prepare(`DELETE FROM "kv_${name}" WHERE k = ?`);
  }

  get(key: Buffer): Buffer | undefined {
    if (this.group.open && !this.group.inOp) this.group.flush();
    return this.getStmt.get(key);
  }

  private readonly textStmts = new Map<string, Database.Statement>();

  private textColumn(headerBytes: number): string {
    return headerBytes > 0 ? `hex(substr(v, 1, ${headerBytes})) || CAST(substr(v, ${headerBytes + 1}) AS TEXT)` : 'CAST(v AS TEXT)';
  }

  /** The cache of getText values, for the one header size it was first used with. */
  private textCache: TextCache | undefined;
  private getTextStmt: { headerBytes: number; stmt: Database.Statement } | undefined;

  getText(key: Buffer, headerBytes: number): string | undefined {
    if (this.group.open && !this.group.inOp) this.group.flush();
    let prepared = this.getTextStmt;
    if (prepared?.headerBytes !== headerBytes) {
      prepared = { headerBytes, stmt: this.db.prepare(`SELECT ${this.textColumn(headerBytes)} FROM "kv_${this.name}" WHERE k = ?`).pluck(true) };
      this.getTextStmt = prepared;
    }
    if (this.cacheBudget.limit <= 0) return prepared.stmt.get(key) as string | undefined;
    const cache = (this.textCache ??= new TextCache(headerBytes, this.cacheBudget));
    if (cache.headerBytes !== headerBytes) return prepared.stmt.get(key) as string | undefined;
    const id = key.toString('latin1');
    const hit = cache.get(id);
    if (hit !== undefined) return hit;
    const text = prepared.stmt.get(key) as string | undefined;
    if (text !== undefined && !this.db.inTransaction) cache.add(id, text);
    return text;
  }

  /** Drops a key's cached value before it is written. */
  private uncache(key: Buffer): void {
    if (this.textCache !== undefined && this.textCache.size > 0) this.textCache.drop(key.toString('latin1'));
  }

  scanText(options: ScanOptions, headerBytes: number): string[] {
    if (this.group.open && !this.group.inOp) this.group.flush();
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
    const g = this.group;
    if (g.open) {
      if (!g.inOp) g.flush();
      else g.log.push({ space: this, key, value });
    }
    this.uncache(key);
    this.putStmt.run(key, value);
  }

  delete(key: Buffer): void {
    const g = this.group;
    if (g.open) {
      if (!g.inOp) g.flush();
      else g.log.push({ space: this, key, value: undefined });
    }
    this.uncache(key);
    this.delStmt.run(key);
  }

  write(mutations: Mutation[]): void {
    this.inTransaction(() => {
      const g = this.group;
      for (const m of mutations) {
        if (g.inOp) g.log.push({ space: this, key: m.key, value: m.value });
        this.uncache(m.key);
        if (m.value === undefined) this.delStmt.run(m.key);
        else this.putStmt.run(m.key, m.value);
      }
    });
  }

  /** Applies a logged write again, after its group's transaction was rolled back (see SqliteStore.grouped). */
  replay(w: LoggedWrite): void {
    if ('prefix' in w) this.deleteRange(w.prefix);
    else if (w.value === undefined) this.delStmt.run(w.key);
    else this.putStmt.run(w.key, w.value);
  }

  deletePrefix(prefix: Buffer): void {
    const g = this.group;
    if (g.open) {
      if (!g.inOp) g.flush();
      else g.log.push({ space: this, prefix });
    }
    this.deleteRange(prefix);
  }

  private deleteRange(prefix: Buffer): void {
    this.textCache?.clear();
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
    if (this.group.open && !this.group.inOp) this.group.flush();
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

interface WriteGroup {
  done: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
  ops: number;
}

export interface CheckpointStats {
  passive: number;
  restart: number;
  errors: number;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly spaces = new Map<string, SqliteKeyspace>();
  private readonly beginStmt: Database.Statement;
  private readonly commitStmt: Database.Statement;
  private readonly rollbackStmt: Database.Statement;
  private readonly groupState: GroupState;
  private readonly cacheBudget: CacheBudget;
  private current: WriteGroup | undefined;
  private checkpointer: Worker | undefined;
  private checkpointSlots: Int32Array | undefined;
  readonly groupsCommits: boolean;

  constructor(options: SqliteStoreOptions) {
    this.db = openDatabase(options.path);
    const onDisk = options.path !== ':memory:';
    this.groupsCommits = onDisk;
    const synchronous = options.durability === 'fsync' ? 'FULL' : 'NORMAL';
    // 8 KiB pages for a new database (an existing one keeps its own: the pragma is a no-op once the file has
    // pages). SQLite spills a value past about a quarter of a page (1,002 bytes of a 4 KiB page in these WITHOUT
    // ROWID tables) onto an overflow page of its own, so a 1 KB item took 4.7 KB of disk and two pages for every
    // read and write; with 8 KiB pages it fits in its leaf up to 2,030 bytes. Small items gain too: fewer leaf
    // splits and a shallower tree. It must come before WAL mode, which fixes the page size.
    if (onDisk) this.db.pragma(`page_size = ${PAGE_BYTES}`);
    if (onDisk) this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${synchronous}`);
    const cacheKiB = (options.cacheMiB ?? 64) * 1024;
    this.db.pragma(`cache_size = -${Math.max(1, Math.floor((cacheKiB * 3) / 4))}`);
    this.cacheBudget = { used: 0, limit: Math.floor((cacheKiB * 1024) / 4) };
    this.db.pragma('busy_timeout = 5000');
    // IMMEDIATE: the write lock is taken at BEGIN, where a busy wait applies. A deferred transaction that
    // read first and then writes while the checkpointer holds the lock (RESTART) fails at once with
    // SQLITE_BUSY: SQLite does not wait inside a read transaction.
    this.beginStmt = this.db.prepare('BEGIN IMMEDIATE');
    this.commitStmt = this.db.prepare('COMMIT');
    this.rollbackStmt = this.db.prepare('ROLLBACK');
    this.groupState = { open: false, inOp: false, log: [], flush: () => this.commitGroup() };
    if (onDisk) this.startCheckpointer(options, synchronous);
  }

  /**
   * Checkpoints move to a worker thread: the main connection's auto-checkpoint (which ran a checkpoint,
   * with its fsyncs, inside whichever commit crossed 1000 pages of WAL) is turned off. If the worker
   * cannot start, auto-checkpoint stays on, as before.
   */
  private startCheckpointer(options: SqliteStoreOptions, synchronous: 'NORMAL' | 'FULL'): void {
    const walLimitBytes = options.walLimitBytes ?? DEFAULT_WAL_LIMIT_BYTES;
    this.db.pragma('wal_autocheckpoint = 1000');
    // When the log restarts, its file is truncated back to this size.
    this.db.pragma(`journal_size_limit = ${walLimitBytes}`);
    const shared = new SharedArrayBuffer(SLOTS * 4);
    const data: CheckpointerData = {
      path: options.path,
      synchronous,
      intervalMs: options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
      walLimitBytes,
      busyTimeoutMs: CHECKPOINTER_WAIT_MS,
      shared,
    };
    try {
      const worker = new Worker(join(ROOT, 'dist', 'src', 'storage', 'checkpointer-worker.js'), { workerData: data });
      worker.unref();
      worker.on('error', () => {
        // The worker died: checkpoint on the main thread again rather than let the WAL grow.
        if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
        this.checkpointer = undefined;
      });
      this.checkpointer = worker;
      this.checkpointSlots = new Int32Array(shared);
      this.db.pragma('wal_autocheckpoint = 0');
    } catch {
      this.checkpointer = undefined;
    }
  }

  /** Estimated bytes the text caches hold, and their limit (for tests and diagnostics). */
  textCacheStats(): { usedBytes: number; limitBytes: number } {
    return { usedBytes: this.cacheBudget.used, limitBytes: this.cacheBudget.limit };
  }

  /** How many checkpoints the worker ran (for tests and diagnostics). */
  checkpointStats(): CheckpointStats {
    const s = this.checkpointSlots;
    if (!s) return { passive: 0, restart: 0, errors: 0 };
    return { passive: Atomics.load(s, SLOT_PASSIVE), restart: Atomics.load(s, SLOT_RESTART), errors: Atomics.load(s, SLOT_ERRORS) };
  }

  keyspaceNames(): string[] {
    return (this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'kv\\_%' ESCAPE '\\' ORDER BY name`).all() as { name: string }[]).map((r) =>
      r.name.slice(3),
    );
  }

  digest(exclude: readonly string[] = []): string {
    this.sync();
    const hash = createHash('sha256');
    const names = this.keyspaceNames().filter((n) => !exclude.includes(n));
    for (const name of names) {
      hash.update(`\u0000keyspace ${name}\u0000`);
      for (const row of this.db.prepare(`SELECT k, v FROM "kv_${name}" ORDER BY k`).iterate() as IterableIterator<{ k: Buffer; v: Buffer }>) {
        hash.update(`${row.k.length}:`).update(row.k).update(`${row.v.length}:`).update(row.v);
      }
    }
    return hash.digest('hex');
  }

  keyspace(name: string, options: KeyspaceOptions = {}): Keyspace {
    if (!KEYSPACE_NAME.test(name)) throw new Error(`invalid keyspace name ${JSON.stringify(name)}`);
    let space = this.spaces.get(name);
    if (!space) {
      space = new SqliteKeyspace(this.db, name, (fn) => this.transaction(fn), this.groupState, this.cacheBudget, options.largeValues === true);
      this.spaces.set(name, space);
    }
    return space;
  }

  /**
   * BEGIN … COMMIT around fn (ROLLBACK if it throws); inside an open transaction fn simply runs.
   * The statements are prepared once: better-sqlite3's db.transaction(fn) wraps fn anew on every call.
   * An open write group is committed first (unless fn runs inside one of its ops).
   */
  transaction<T>(fn: () => T): T {
    if (this.groupState.open && !this.groupState.inOp) this.commitGroup();
    if (this.db.inTransaction) return fn();
    this.beginStmt.run();
    let result: T;
    try {
      result = fn();
    } catch (e) {
      if (this.db.inTransaction) this.rollbackStmt.run();
      throw e;
    }
    this.commit();
    return result;
  }

  /** COMMIT, timed for the metrics when someone observes commits. */
  private commit(): void {
    if (commitObserver === undefined) {
      this.commitStmt.run();
      return;
    }
    const started = performance.now();
    this.commitStmt.run();
    commitObserver((performance.now() - started) / 1000);
  }

  /**
   * Runs fn as one op of the current write group (see the module header): atomically on its own (if fn
   * throws, only its writes are taken back, see undoLastOp), committed with the group at the end of this
   * event-loop turn. The promise settles with fn's result or error once that COMMIT returned; if
   * the COMMIT fails, it rejects with the commit's error, for every op of the group.
   */
  grouped<T>(fn: () => T): Promise<T> {
    const gs = this.groupState;
    if (gs.inOp || (this.db.inTransaction && !gs.open)) {
      // Nested in an op or in someone's transaction: its own commit covers fn.
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    let g = this.current;
    if (g !== undefined && g.ops >= MAX_GROUP_OPS) {
      this.commitGroup();
      g = undefined;
    }
    if (g === undefined) g = this.openGroup();
    g.ops++;
    const logStart = gs.log.length;
    gs.inOp = true;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      gs.inOp = false;
      if (!this.db.inTransaction) {
        // SQLite rolled the whole transaction back (an I/O error, a full disk): the group is lost.
        this.abortGroup(e);
      } else if (gs.log.length > logStart) {
        this.undoLastOp(logStart);
      }
      const err = e;
      return g.done.then(() => {
        throw err;
      });
    }
    gs.inOp = false;
    return g.done.then(() => result);
  }

  /**
   * Takes back the writes of the group's last op (the log from `logStart` on), which threw after writing: rolls
   * the transaction back and applies the earlier ops' writes again, in their order, in a new one. Their
   * outcome is unchanged: each op ran against the state its predecessors left, which the replay rebuilds.
   * If that fails, the group is lost (every op of it rejects), as when a commit fails.
   */
  private undoLastOp(logStart: number): void {
    const log = this.groupState.log;
    log.length = logStart;
    try {
      this.rollbackStmt.run();
      this.beginStmt.run();
      for (const w of log) w.space.replay(w);
    } catch (e) {
      this.abortGroup(e);
    }
  }

  sync(): void {
    if (this.groupState.open && !this.groupState.inOp) this.commitGroup();
  }

  private openGroup(): WriteGroup {
    const slots = this.checkpointSlots;
    if (slots !== undefined && Atomics.load(slots, SLOT_PAUSE_REQUEST) === 1) {
      // The WAL is past its limit: hold the next group (outside any transaction) while the
      // checkpointer restarts the log. Its RESTART copies only what its last passive checkpoint missed.
      Atomics.store(slots, SLOT_PAUSED, 1);
      Atomics.notify(slots, SLOT_PAUSED);
      Atomics.wait(slots, SLOT_PAUSE_REQUEST, 1, MAX_PAUSE_MS);
      Atomics.store(slots, SLOT_PAUSED, 0);
    }
    this.beginStmt.run();
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody may be listening yet (an op's .then is attached right after); a failed group must not be
    // reported as an unhandled rejection.
    done.catch(() => undefined);
    const g: WriteGroup = { done, resolve, reject, ops: 0 };
    this.current = g;
    this.groupState.open = true;
    setImmediate(() => {
      if (this.current === g) this.commitGroup();
    });
    return g;
  }

  private commitGroup(): void {
    const g = this.current;
    if (g === undefined) return;
    this.current = undefined;
    this.groupState.open = false;
    this.groupState.log = [];
    try {
      this.commit();
    } catch (e) {
      if (this.db.inTransaction) this.rollbackStmt.run();
      g.reject(e);
      return;
    }
    g.resolve();
  }

  private abortGroup(e: unknown): void {
    const g = this.current;
    if (g === undefined) return;
    this.current = undefined;
    this.groupState.open = false;
    this.groupState.log = [];
    if (this.db.inTransaction) this.rollbackStmt.run();
    g.reject(e);
  }

  /**
   * Commits the open write group, stops the checkpointer (waiting at most CHECKPOINTER_WAIT_MS), then
   * checkpoints and truncates the WAL: a cleanly closed database is one file.
   */
  close(): void {
    if (!this.db.open) return;
    this.commitGroup();
    const worker = this.checkpointer;
    const slots = this.checkpointSlots;
    if (worker && slots) {
      this.checkpointer = undefined;
      worker.postMessage('stop');
      Atomics.wait(slots, SLOT_STOPPED, 0, CHECKPOINTER_WAIT_MS);
      void worker.terminate();
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Busy past busy_timeout: the WAL stays and is replayed on the next open, which is safe.
    }
    this.db.close();
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
