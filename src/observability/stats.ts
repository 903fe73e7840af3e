/**
 * @module observability/stats
 * Running statistics of one period, taken (and reset) once per period. Plain numbers: recording is a few
 * comparisons and additions, cheap enough for the request path.
 */
import type { StatisticSet } from './types.js';

export class PeriodStats {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(value: number): void {
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** The period's statistics, or undefined when nothing was recorded; resets for the next period. */
  take(): StatisticSet | undefined {
    if (this.count === 0) return undefined;
    const out = { SampleCount: this.count, Sum: this.sum, Minimum: this.min, Maximum: this.max };
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
    return out;
  }
}
