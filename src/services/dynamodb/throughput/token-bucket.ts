/**
 * @module services/dynamodb/throughput/token-bucket
 * The arithmetic of provisioned throughput: a bucket of capacity units refilled at the provisioned rate (units per
 * second), holding at most BURST_SECONDS of unused capacity, which is DynamoDB's burst capacity ("DynamoDB currently
 * retains up to five minutes (300 seconds) of unused read and write capacity", Developer Guide, "Using burst capacity
 * effectively"). A request is admitted while the bucket holds more than nothing; what it consumed is taken afterwards
 * and may leave the bucket in debt, repaid at the provisioned rate (a read's cost is known only once it has read).
 *
 * Pure: time comes in as milliseconds, so tests drive it with any clock.
 */

/** Seconds of unused capacity a bucket retains. */
export const BURST_SECONDS = 300;

export class TokenBucket {
  private tokens: number;
  private atMs: number;

  /**
   * A new bucket starts full: a table that was just created (or just switched to provisioned) has its burst capacity,
   * as Cellar's choice where AWS documents nothing (see docs/dynamodb.md#provisioned-throughput).
   */
  constructor(
    private ratePerSecond: number,
    nowMs: number,
  ) {
    this.tokens = this.capacity;
    this.atMs = nowMs;
  }

  /** Units per second this bucket is refilled with. */
  get rate(): number {
    return this.ratePerSecond;
  }

  /** The most the bucket holds: BURST_SECONDS of its rate. */
  get capacity(): number {
    return this.ratePerSecond * BURST_SECONDS;
  }

  /** Units available now (negative while in debt). */
  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }

  /** Whether a request may run now. */
  admits(nowMs: number): boolean {
    return this.available(nowMs) > 0;
  }

  /** Takes what a request consumed; the bucket may go below zero. */
  take(units: number, nowMs: number): void {
    this.refill(nowMs);
    if (units > 0) this.tokens -= units;
  }

  /** A new provisioned rate, from now on: what was saved stays, up to the new capacity. */
  setRate(ratePerSecond: number, nowMs: number): void {
    if (ratePerSecond === this.ratePerSecond) return;
    this.refill(nowMs);
    this.ratePerSecond = ratePerSecond;
    this.tokens = Math.min(this.tokens, this.capacity);
  }

  private refill(nowMs: number): void {
    // A clock that steps back refills nothing (and does not take back what was refilled).
    if (!(nowMs > this.atMs)) return;
    this.tokens = Math.min(this.capacity, this.tokens + (this.ratePerSecond * (nowMs - this.atMs)) / 1000);
    this.atMs = nowMs;
  }
}
