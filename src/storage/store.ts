/**
 * @module storage/store
 * The narrow storage interface every service writes through: named keyspaces of ordered binary keys,
 * point reads, range scans in both directions, and atomic multi-key writes.
 *
 * Keys compare as unsigned bytes (memcmp), so callers encode what they need ordered into the key
 * (see storage/keys.ts). Nothing outside this folder knows which engine is underneath.
 *
 * The interface is synchronous on purpose: the embedded engine (SQLite through better-sqlite3) answers
 * in microseconds, and a synchronous read-check-write inside `transaction` is atomic on Node's single
 * thread without locks. A networked ordered store would sit behind an async twin of this interface.
 */
export interface ScanOptions {
  /** Inclusive lower bound (or the first key in reverse). */
  gte?: Buffer;
  /** Exclusive lower bound. */
  gt?: Buffer;
  /** Inclusive upper bound. */
  lte?: Buffer;
  /** Exclusive upper bound. */
  lt?: Buffer;
  reverse?: boolean;
  /** Stop after this many entries. */
  limit?: number;
}

export interface Mutation {
  key: Buffer;
  /** undefined deletes the key. */
  value: Buffer | undefined;
}

export interface Keyspace {
  readonly name: string;
  get(key: Buffer): Buffer | undefined;
  /** Iterates entries in key order (or reverse). Do not write to the same keyspace while iterating. */
  scan(options?: ScanOptions): IterableIterator<[Buffer, Buffer]>;
  /**
   * getText and scanText read values laid out as a binary header of `headerBytes` bytes followed by
   * UTF-8 text, as one string each: the header as upper-case hex digits, then the text. A string costs
   * a fraction of the Buffer a binary read allocates, which dominates bulk reads. scanText returns
   * values only, in key order; callers that continue a scan derive the cursor from the last value.
   */
  getText(key: Buffer, headerBytes: number): string | undefined;
  scanText(options: ScanOptions, headerBytes: number): string[];
  put(key: Buffer, value: Buffer): void;
  delete(key: Buffer): void;
  /** Applies every mutation or none. */
  write(mutations: Mutation[]): void;
  /** Deletes every key with this prefix (an empty prefix clears the keyspace). */
  deletePrefix(prefix: Buffer): void;
}

/** How a keyspace's data is laid out: a hint the engine may use, never a change of behaviour. */
export interface KeyspaceOptions {
  /**
   * Its values are often large (a sizeable fraction of a kilobyte or more): the engine keeps them apart from the
   * ordered keys, so that finding a key touches few pages however large the values are (see storage/sqlite.ts).
   * Fixed when the keyspace is first created; a keyspace created earlier keeps its layout.
   */
  largeValues?: boolean;
}

export interface Store {
  keyspace(name: string, options?: KeyspaceOptions): Keyspace;
  /** Runs fn atomically across keyspaces: every write inside commits together or not at all. */
  transaction<T>(fn: () => T): T;
  /**
   * Runs fn atomically as one op of a write group: the ops of one event-loop turn share one commit (and
   * one fsync), and the promise settles with fn's result or error only once that commit is durable. A
   * throwing fn rolls back its own writes only. Anything else that touches the store while a group is
   * open commits it first, so no other caller sees a write before it is durable. The store may keep the
   * Buffers fn writes until the group commits: do not change them after handing them over.
   */
  grouped<T>(fn: () => T): Promise<T>;
  /**
   * Whether grouping pays: true when a commit costs I/O (a data directory). An in-memory store commits
   * in well under a microsecond, so its callers run single transactions and answer at once.
   */
  readonly groupsCommits: boolean;
  /** Commits the open write group, if any, now (before answering from state that includes it). */
  sync(): void;
  /**
   * A hash of every stored key and value, keyspace by keyspace, leaving out the keyspaces named: what tests compare
   * before and after a refused request, to show it changed nothing.
   */
  digest(exclude?: readonly string[]): string;
  /** The names of every keyspace stored, created by this process or an earlier one (what a reset clears). */
  keyspaceNames(): string[];
  close(): void;
}

/** The smallest key strictly greater than every key starting with prefix (for prefix scans). */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined; // prefix is all 0xff: no upper bound
}

/** JSON documents in a keyspace, keyed by strings: the common case for resource metadata. */
export class JsonTable<T> {
  /** `migrate` brings a document stored in an older shape to the current one as it is read. */
  constructor(
    private readonly space: Keyspace,
    private readonly migrate: (stored: T) => T = (stored) => stored,
  ) {}
  get(key: string): T | undefined {
    const raw = this.space.get(Buffer.from(key, 'utf8'));
    return raw === undefined ? undefined : this.migrate(JSON.parse(raw.toString('utf8')) as T);
  }
  put(key: string, value: T): void {
    this.space.put(Buffer.from(key, 'utf8'), Buffer.from(JSON.stringify(value), 'utf8'));
  }
  delete(key: string): void {
    this.space.delete(Buffer.from(key, 'utf8'));
  }
  /**
   * Entries whose key starts with prefix, in key order. Read into an array, so callers may write to
   * the table while they walk the result (an open SQLite scan forbids that).
   */
  list(prefix = ''): Array<[string, T]> {
    const p = Buffer.from(prefix, 'utf8');
    const end = prefixEnd(p);
    const out: Array<[string, T]> = [];
    for (const [k, v] of this.space.scan({ gte: p, ...(end ? { lt: end } : {}) })) {
      out.push([k.toString('utf8'), this.migrate(JSON.parse(v.toString('utf8')) as T)]);
    }
    return out;
  }
}

/**
 * JSON documents of one resource type, each belonging to one account-and-region scope: every read and write names
 * its Scope (core/scope.ts), and keys are `<account>/<region>/<name>`, so one scope's records are reachable only
 * through that scope. `everyScope` is for background work, which then acts in each record's own scope.
 */
export class ScopedTable<T> {
  private readonly table: JsonTable<T>;
  constructor(space: Keyspace) {
    this.table = new JsonTable<T>(space);
  }
  get(scope: ScopeLike, name: string): T | undefined {
    return this.table.get(scope.prefix + name);
  }
  put(scope: ScopeLike, name: string, value: T): void {
    this.table.put(scope.prefix + name, value);
  }
  delete(scope: ScopeLike, name: string): void {
    this.table.delete(scope.prefix + name);
  }
  /** The scope's records whose name starts with `prefix`, in name order, as [name, record]. */
  list(scope: ScopeLike, prefix = ''): Array<[string, T]> {
    const start = scope.prefix.length;
    return this.table.list(scope.prefix + prefix).map(([k, v]) => [k.slice(start), v]);
  }
  /** Every record of every scope, as [store key, record]: for background work, which acts in each record's own scope. */
  everyScope(): Array<[string, T]> {
    return this.table.list();
  }
}

/** What ScopedTable needs of a Scope (core/scope.ts): its key prefix. */
export interface ScopeLike {
  readonly prefix: string;
}
