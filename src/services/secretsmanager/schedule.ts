/**
 * @module services/secretsmanager/schedule
 * Rotation schedules as RotateSecret accepts them: AutomaticallyAfterDays, `rate(N days|hours)` or
 * AWS's six-field `cron(minutes hours day-of-month month day-of-week year)`, with an optional window
 * Duration (`Nh`). Pure functions of time: no clock, no I/O, so the scheduler and tests share them.
 */
import { ServiceError } from '../../core/errors.js';
import type { RotationRulesType } from '../../models/secretsmanager.js';
import type { RotationState } from './records.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
/** The longest rotation interval AWS allows (AutomaticallyAfterDays and rate(N days)). */
const MAX_DAYS = 1000;
/** AWS rotates at most every four hours. */
const MIN_HOURS = 4;
/** How far ahead a cron expression is searched for its next match: bounds the search loop. */
const CRON_SEARCH_DAYS = 366 * 5;

export type Schedule =
  | { kind: 'days'; days: number; durationMs?: number }
  | { kind: 'hours'; hours: number; durationMs?: number }
  | { kind: 'cron'; cron: CronSpec; durationMs?: number };

export interface RotationWindow {
  /** When Cellar starts the rotation. */
  startMs: number;
  /** What DescribeSecret reports as NextRotationDate. */
  reportedMs: number;
}

function invalid(message: string): ServiceError {
  return new ServiceError('InvalidParameterException', message);
}

/** Validates RotationRules and turns them into a Schedule; undefined when no rules were given. */
export function parseRotationRules(rules: RotationRulesType | undefined): Schedule | undefined {
  if (!rules) return undefined;
  const { AutomaticallyAfterDays: days, ScheduleExpression: expr, Duration: duration } = rules;
  if (days !== undefined && expr !== undefined) throw invalid('You cannot specify both rotation frequency and schedule expression together.');
  let durationMs: number | undefined;
  if (duration !== undefined) {
    const m = /^(\d+)h$/.exec(duration);
    const hours = m ? Number(m[1]) : NaN;
    if (!(hours >= 1 && hours <= 24)) throw invalid('The Duration value must be between 1h and 24h.');
    durationMs = hours * HOUR_MS;
  }
  const withDuration = <T extends Schedule>(s: T): T => (durationMs === undefined ? s : { ...s, durationMs });
  if (days !== undefined) {
    if (!(Number.isInteger(days) && days >= 1 && days <= MAX_DAYS)) throw invalid('RotationRules.AutomaticallyAfterDays must be within 1-1000.');
    return withDuration({ kind: 'days', days });
  }
  if (expr === undefined) {
    if (durationMs !== undefined) throw invalid('You must specify a rotation frequency or schedule expression with a Duration.');
    return undefined;
  }
  const rate = /^rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)$/.exec(expr.trim());
  if (rate) {
    const n = Number(rate[1]);
    if (rate[2]!.startsWith('day')) {
      if (!(n >= 1 && n <= MAX_DAYS)) throw invalid(`The rotation schedule expression ${expr} is invalid: the rate must be between 1 and ${MAX_DAYS} days.`);
      return withDuration({ kind: 'days', days: n });
    }
    if (!(n >= MIN_HOURS && n <= MAX_DAYS * 24)) throw invalid(`The rotation schedule expression ${expr} is invalid: the rate must be at least ${MIN_HOURS} hours.`);
    if (durationMs !== undefined && durationMs > n * HOUR_MS) throw invalid('The rotation window Duration must be shorter than the rotation interval.');
    return withDuration({ kind: 'hours', hours: n });
  }
  const cron = /^cron\((.*)\)$/.exec(expr.trim());
  if (cron) return withDuration({ kind: 'cron', cron: parseCron(cron[1]!, expr) });
  throw invalid(`The rotation schedule expression ${expr} is invalid. Use rate(N days), rate(N hours) or cron(...).`);
}

/** Midnight UTC of the day holding ms. */
export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/**
 * The next rotation window after `baseMs` (the last rotation, or when the schedule was set). Days-based
 * schedules open at midnight UTC of the due day and AWS reports the end of that day's window;
 * hour and cron schedules open at the scheduled instant, which is what is reported.
 */
export function nextWindow(schedule: Schedule, baseMs: number): RotationWindow {
  switch (schedule.kind) {
    case 'days': {
      const startMs = startOfUtcDay(baseMs + schedule.days * DAY_MS);
      return { startMs, reportedMs: startMs + (schedule.durationMs ?? DAY_MS) - 1000 };
    }
    case 'hours': {
      const startMs = baseMs + schedule.hours * HOUR_MS;
      return { startMs, reportedMs: startMs };
    }
    case 'cron': {
      const startMs = nextCronMatch(schedule.cron, baseMs);
      return { startMs, reportedMs: startMs };
    }
  }
}

// ---- cron -------------------------------------------------------------------------------------

export interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  /** undefined means `?` (no constraint from this field). */
  daysOfMonth: { days: Set<number>; last: boolean } | undefined;
  months: Set<number>;
  daysOfWeek: { days: Set<number>; nth?: { day: number; n: number }; lastOf?: number } | undefined;
  years: Set<number> | undefined;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function parseField(field: string, min: number, max: number, names: string[] | undefined, expr: string): Set<number> {
  const out = new Set<number>();
  const value = (token: string): number => {
    const named = names ? names.indexOf(token.toUpperCase()) : -1;
    const n = named >= 0 ? named + min : /^\d+$/.test(token) ? Number(token) : NaN;
    if (!(n >= min && n <= max)) throw invalid(`The rotation schedule expression ${expr} is invalid.`);
    return n;
  };
  for (const part of field.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!(Number.isInteger(step) && step >= 1)) throw invalid(`The rotation schedule expression ${expr} is invalid.`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = min;
      hi = max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      lo = value(a);
      hi = value(b);
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : max;
    }
    if (lo > hi) throw invalid(`The rotation schedule expression ${expr} is invalid.`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(body: string, expr: string): CronSpec {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) throw invalid(`The rotation schedule expression ${expr} is invalid: cron expressions have six fields.`);
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) throw invalid(`The rotation schedule expression ${expr} is invalid: exactly one of day-of-month and day-of-week must be '?'.`);
  const spec: CronSpec = {
    minutes: parseField(min, 0, 59, undefined, expr),
    hours: parseField(hour, 0, 23, undefined, expr),
    daysOfMonth: undefined,
    months: parseField(month, 1, 12, MONTHS, expr),
    daysOfWeek: undefined,
    years: year === '*' ? undefined : parseField(year, 1970, 2199, undefined, expr),
  };
  if (dom !== '?') spec.daysOfMonth = dom === 'L' ? { days: new Set(), last: true } : { days: parseField(dom, 1, 31, undefined, expr), last: false };
  if (dow !== '?') {
    const nth = /^(\w+)#([1-5])$/.exec(dow);
    const last = /^(\w+)L$/.exec(dow);
    if (nth) spec.daysOfWeek = { days: new Set(), nth: { day: [...parseField(nth[1]!, 1, 7, WEEKDAYS, expr)][0]!, n: Number(nth[2]) } };
    else if (last) spec.daysOfWeek = { days: new Set(), lastOf: [...parseField(last[1]!, 1, 7, WEEKDAYS, expr)][0]! };
    else spec.daysOfWeek = { days: parseField(dow, 1, 7, WEEKDAYS, expr) };
  }
  return spec;
}

function dayMatches(spec: CronSpec, d: Date): boolean {
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  if (spec.years && !spec.years.has(year)) return false;
  if (!spec.months.has(month)) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (spec.daysOfMonth) return spec.daysOfMonth.last ? day === daysInMonth : spec.daysOfMonth.days.has(day);
  const dow = spec.daysOfWeek!;
  const weekday = d.getUTCDay() + 1; // AWS: SUN=1 … SAT=7
  if (dow.nth) return weekday === dow.nth.day && Math.ceil(day / 7) === dow.nth.n;
  if (dow.lastOf !== undefined) return weekday === dow.lastOf && day + 7 > daysInMonth;
  return dow.days.has(weekday);
}

/** The first instant strictly after afterMs that the cron expression matches (UTC). */
export function nextCronMatch(spec: CronSpec, afterMs: number): number {
  const hours = [...spec.hours].sort((a, b) => a - b);
  const minutes = [...spec.minutes].sort((a, b) => a - b);
  let dayStart = startOfUtcDay(afterMs);
  for (let i = 0; i < CRON_SEARCH_DAYS; i++, dayStart += DAY_MS) {
    if (!dayMatches(spec, new Date(dayStart))) continue;
    for (const h of hours) {
      for (const m of minutes) {
        const t = dayStart + h * HOUR_MS + m * 60_000;
        if (t > afterMs) return t;
      }
    }
  }
  throw invalid('The rotation schedule expression never matches within the next five years.');
}

/**
 * Sets a secret's next rotation window from `baseMs` (the last rotation, a manual change, or when rotation was set
 * up); clears it when rotation is off or has no schedule.
 */
export function scheduleNextRotation(rotation: RotationState, baseMs: number): void {
  rotation.baseMs = baseMs;
  const schedule = parseRotationRules(rotation.rules);
  if (!rotation.enabled || !schedule) {
    rotation.nextStartMs = undefined;
    rotation.nextReportedMs = undefined;
    return;
  }
  const w = nextWindow(schedule, baseMs);
  rotation.nextStartMs = w.startMs;
  rotation.nextReportedMs = w.reportedMs;
}
