/**
 * @module gateway/budget
 * One budget, in bytes, for the request bodies every connection is reading at once. A body is read only once the
 * bytes it needs are taken from the budget (its whole Content-Length up front, so a body once admitted can always
 * be read to its end), and they are given back when its request has been answered or its connection closed.
 * So the memory that bodies in flight hold is bounded by one number, however many connections send them.
 *
 * A request the budget cannot take now waits, in arrival order, bounded in time by its caller; what the waiter
 * already holds (the start of its body that came with the head, and what the paused socket may still read) is
 * charged while it waits, so the waiting itself is bounded by the budget too. No I/O and no timers: the gateway
 * (gateway/http.ts) pauses sockets and keeps the deadlines.
 */

/** A request waiting for budget: `held` is charged while it waits; once granted, `need` is charged instead. */
export interface BudgetWaiter {
  readonly held: number;
  readonly need: number;
  /** Called once, when `need` has been taken for it. */
  readonly granted: () => void;
}

export class BodyBudget {
  private used = 0;
  /** In arrival order. At most one per connection, so bounded by the connection cap. */
  private readonly waiters: BudgetWaiter[] = [];

  constructor(readonly limitBytes: number) {
    if (!(limitBytes > 0)) throw new Error(`a body budget must be positive, not ${limitBytes}`);
  }

  get usedBytes(): number {
    return this.used;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Takes n bytes if they fit now. */
  tryTake(n: number): boolean {
    if (this.used + n > this.limitBytes) return false;
    this.used += n;
    return true;
  }

  /** Takes n bytes whether they fit or not: bytes already received that are to be kept (see SMALL_BODY_BYTES in gateway/http.ts). */
  takeAnyway(n: number): void {
    this.used += n;
  }

  /** Gives n bytes back, and grants waiters that now fit. */
  give(n: number): void {
    this.used -= n;
    if (this.used < 0) throw new Error(`body budget gave back more than was taken (${this.used})`);
    if (this.waiters.length) this.grant();
  }

  /**
   * Queues a request that needs `need` bytes and holds `held` now. Returns undefined if even `held` does not fit
   * (the caller refuses the request at once: it cannot wait without holding memory the budget does not have);
   * otherwise the waiter, granted later (`granted` is called) or cancelled by the caller.
   */
  wait(held: number, need: number, granted: () => void): BudgetWaiter | undefined {
    if (!this.tryTake(held)) return undefined;
    const waiter: BudgetWaiter = { held, need, granted };
    this.waiters.push(waiter);
    return waiter;
  }

  /** Withdraws a waiter that was not granted, giving back what it held. Returns false if it was not waiting. */
  cancel(waiter: BudgetWaiter): boolean {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    this.give(waiter.held);
    return true;
  }

  /**
   * Grants, in arrival order, each waiter whose need fits once its own held bytes are counted back. First fit:
   * a small body may pass a large one that does not fit yet; the large one's wait is bounded by its caller.
   */
  private grant(): void {
    let granted: BudgetWaiter[] | undefined;
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (this.used - w.held + w.need <= this.limitBytes) {
        this.waiters.splice(i, 1);
        this.used += w.need - w.held;
        (granted ??= []).push(w);
      } else i++;
    }
    // Called once the queue is consistent: a callback may give bytes back (and so grant) or wait again.
    if (granted) for (const w of granted) w.granted();
  }
}
