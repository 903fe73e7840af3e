/**
 * @module services/dynamodb/transactions/item-locks
 * The items that write transactions hold while they commit. A transaction takes all of its items at once
 * or none (no waiting, so no deadlock): an item another transaction holds cancels it with
 * TransactionConflict, a single-item write to it fails with TransactionConflictException, and a
 * TransactGetItems of it is cancelled, as DynamoDB documents. GetItem, Query and Scan do not look at
 * locks: they read committed values.
 *
 * Keys are the items' store keys (keycodec: the table's namespace, then the key), so they are already
 * scoped to one table of one account and region. Locks live in memory: a lock only lasts while the
 * transaction is in flight, and a restart ends every transaction. Bounded by the transactions in
 * flight, each with at most 100 items.
 */
export class ItemLocks {
  /** Store key (as a latin1 string) → the transaction holding it. */
  private readonly held = new Map<string, number>();
  private nextOwner = 1;

  /** A fresh owner id for one transaction. */
  newOwner(): number {
    const owner = this.nextOwner;
    this.nextOwner = owner >= Number.MAX_SAFE_INTEGER ? 1 : owner + 1;
    return owner;
  }

  /**
   * Takes every key for owner, or none: the positions (in `keys`) of the keys someone else holds. An
   * empty answer means all are now held by owner.
   */
  tryAcquire(keys: readonly Buffer[], owner: number): number[] {
    const conflicts: number[] = [];
    keys.forEach((k, i) => {
      const holder = this.held.get(k.toString('latin1'));
      if (holder !== undefined && holder !== owner) conflicts.push(i);
    });
    if (conflicts.length) return conflicts;
    for (const k of keys) this.held.set(k.toString('latin1'), owner);
    return conflicts;
  }

  /** Releases owner's keys (a key another owner holds is left alone). */
  release(keys: readonly Buffer[], owner: number): void {
    for (const k of keys) {
      const s = k.toString('latin1');
      if (this.held.get(s) === owner) this.held.delete(s);
    }
  }

  isHeld(key: Buffer): boolean {
    return this.held.size > 0 && this.held.has(key.toString('latin1'));
  }

  /** Items held right now (for tests and diagnostics). */
  get size(): number {
    return this.held.size;
  }
}
