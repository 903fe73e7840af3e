/**
 * @module services/dynamodb/transactions/client-tokens
 * ClientRequestToken idempotency for write transactions (TransactWriteItems, ExecuteTransaction). A token
 * is remembered, with a hash of the request it came with, for 10 minutes after that request succeeded:
 * the same token and request within that time succeed again without changing anything; the same token
 * with another request is IdempotentParameterMismatchException; a token whose request is still running
 * is TransactionInProgressException. Only successful transactions are remembered: a cancelled one
 * changed nothing, so running it again is what its retry should do.
 *
 * Tokens are scoped by account and region. Each is stored (keyspace ddb_txn_tokens) in the same store
 * op as the transaction's changes, so an acknowledged transaction's token survives kill -9 with it, and
 * mirrored in memory so that checking one never touches the store (a store read would commit the open
 * write group early). Bounded: expired tokens are swept every SWEEP_INTERVAL_MS, and past MAX_TOKENS the
 * oldest are forgotten early (logged).
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../../core/clock.js';
import { log } from '../../../core/log.js';
import type { Scope } from '../../../core/scope.js';
import type { Keyspace, Store } from '../../../storage/store.js';
import { idempotentParameterMismatch, transactionInProgress } from './cancellation.js';

/** How long a token is remembered after its request succeeded. */
export const TOKEN_LIFETIME_MS = 10 * 60 * 1000;
/** Tokens remembered at most (the oldest are forgotten first). */
export const MAX_TOKENS = 100_000;
const SWEEP_INTERVAL_MS = 30_000;

/** What is remembered of a successful request. */
export interface TokenRecord {
  /** Hash of the request (requestHash). */
  h: string;
  /** When it succeeded (ms since the epoch). */
  at: number;
  /** The ItemCollectionMetrics it answered, answered again to its repeats. */
  icm?: unknown;
}

/**
 * A hash of a request's parameters that does not depend on the order of members in its maps (an
 * item's attributes may come in any order) but does on the order of lists (the actions).
 */
export function requestHash(operation: string, params: unknown): string {
  return createHash('sha256').update(operation).update('\u0000').update(canonicalJson(params)).digest('hex');
}

/** JSON with every object's members sorted by name; undefined members left out. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('base64'));
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  const names = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${names.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

export class ClientTokens {
  private readonly space: Keyspace;
  /** Scoped token → record, in the order they were recorded (so the oldest come first). */
  private readonly records = new Map<string, TokenRecord>();
  /** Scoped token → hash of the request running with it. */
  private readonly running = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly store: Store, private readonly clock: Clock, private readonly maxTokens = MAX_TOKENS) {
    this.space = store.keyspace('ddb_txn_tokens');
    this.load();
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The token's id: its account and region (the scope's prefix), then its text. */
  static id(scope: Scope, token: string): string {
    return scope.prefix + token;
  }

  /**
   * Before a request with a token runs: the record to answer it from (a repeat), or undefined (run it).
   * Throws TransactionInProgressException while the token's first request runs, and
   * IdempotentParameterMismatchException for another request with a remembered token.
   */
  check(id: string, hash: string, nowMs: number): TokenRecord | undefined {
    if (this.running.has(id)) throw transactionInProgress();
    const r = this.records.get(id);
    if (r === undefined || nowMs - r.at > TOKEN_LIFETIME_MS) return undefined;
    if (r.h !== hash) throw idempotentParameterMismatch();
    return r;
  }

  /** The token's request starts running; end() when it is answered, whatever the outcome. */
  begin(id: string, hash: string): void {
    this.running.set(id, hash);
  }

  end(id: string): void {
    this.running.delete(id);
  }

  /**
   * Remembers a successful request. Call inside the store op that applies its changes, so that both
   * commit or neither does (the in-memory copy of a rolled-back record is only looked at after its
   * expiry check, and a record whose op failed is never answered: its request failed).
   */
  record(id: string, record: TokenRecord): void {
    this.space.put(Buffer.from(id, 'utf8'), Buffer.from(JSON.stringify(record), 'utf8'));
    this.records.delete(id);
    this.records.set(id, record);
    if (this.records.size > this.maxTokens) this.forgetOldest(this.records.size - this.maxTokens);
  }

  /** A record whose store op failed: the request failed, so its token is not remembered. */
  forget(id: string, record: TokenRecord): void {
    if (this.records.get(id) === record) this.records.delete(id);
  }

  /** Tokens remembered now (for tests and diagnostics). */
  get size(): number {
    return this.records.size;
  }

  /** Forgets tokens past their lifetime, in memory and in the store. */
  sweep(nowMs = this.clock.now()): void {
    const expired: string[] = [];
    for (const [id, r] of this.records) {
      if (nowMs - r.at <= TOKEN_LIFETIME_MS) break;
      expired.push(id);
    }
    // Records are in the order they were made, so the walk stops at the first live one; a clock moved
    // back leaves later ones for a later sweep.
    if (expired.length === 0) return;
    try {
      this.store.transaction(() => {
        for (const id of expired) this.space.delete(Buffer.from(id, 'utf8'));
      });
      for (const id of expired) this.records.delete(id);
    } catch (e) {
      // Background work: the next sweep tries again; a token kept a little longer is harmless.
      log('error', 'dynamodb client token sweep failed', { error: (e as Error).message });
    }
  }

  private forgetOldest(n: number): void {
    let left = n;
    for (const id of this.records.keys()) {
      if (left-- <= 0) break;
      this.records.delete(id);
      this.space.delete(Buffer.from(id, 'utf8'));
    }
    log('warn', 'dynamodb client tokens over their bound: the oldest were forgotten early', { forgotten: n, bound: this.maxTokens });
  }

  /** Reads the remembered tokens (oldest first), dropping the expired and any unreadable record. */
  private load(): void {
    const nowMs = this.clock.now();
    const live: [string, TokenRecord][] = [];
    const dead: Buffer[] = [];
    for (const [k, v] of this.space.scan()) {
      let r: TokenRecord | undefined;
      try {
        r = JSON.parse(v.toString('utf8')) as TokenRecord;
      } catch {
        r = undefined;
      }
      if (r === undefined || typeof r.h !== 'string' || typeof r.at !== 'number' || nowMs - r.at > TOKEN_LIFETIME_MS) dead.push(k);
      else live.push([k.toString('utf8'), r]);
    }
    live.sort((a, b) => a[1].at - b[1].at);
    const over = Math.max(0, live.length - this.maxTokens);
    for (const [id] of live.slice(0, over)) dead.push(Buffer.from(id, 'utf8'));
    for (const [id, r] of live.slice(over)) this.records.set(id, r);
    if (dead.length === 0) return;
    try {
      this.store.transaction(() => {
        for (const k of dead) this.space.delete(k);
      });
    } catch (e) {
      log('error', 'dynamodb client token cleanup failed', { error: (e as Error).message });
    }
  }
}
