/**
 * @module core/clock
 * The one source of time for every service. Tests inject a controllable clock so that schedules
 * (rotations, deletions, automatic restarts) can be replayed without waiting.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that tests move by hand; it starts at the real time unless told otherwise. */
export class ManualClock implements Clock {
  private offsetMs = 0;
  constructor(private readonly base: Clock = systemClock) {}
  now(): number {
    return this.base.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** A clock shifted by a fixed offset: lets a running server be moved forward for tests (`/_cellar/clock`). */
export class OffsetClock implements Clock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
}
