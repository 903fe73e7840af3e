/**
 * @module services/rds/backups/validation
 * The checks RDS makes on backup settings and restore requests, worded as RDS words them: BackupRetentionPeriod
 * (0-35 days), PreferredBackupWindow (`hh24:mi-hh24:mi` UTC, at least 30 minutes, not overlapping the maintenance
 * window), snapshot identifiers, and the moment a point-in-time restore asks for. Pure functions, no state.
 */
import { invalidParameterCombination, invalidParameterValue } from '../errors.js';
import { parseMaintenanceWindow } from '../validation.js';

export const RETENTION_MAX_DAYS = 35;
export const DEFAULT_RETENTION_DAYS = 1;
const DAY_MINUTES = 1440;
const WEEK_MINUTES = 7 * DAY_MINUTES;

export function checkRetention(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > RETENTION_MAX_DAYS) {
    throw invalidParameterValue(`Invalid backup retention period: must be between 0 and ${RETENTION_MAX_DAYS} days.`);
  }
  return value;
}

export interface BackupWindow {
  /** Minutes after 00:00 UTC. */
  startMinute: number;
  /** Length in minutes (the window may cross midnight). */
  lengthMinutes: number;
}

/** `hh24:mi-hh24:mi`, in UTC, at least 30 minutes (RDS's PreferredBackupWindow). */
export function parseBackupWindow(value: string): BackupWindow {
  const m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(value);
  if (!m) {
    throw invalidParameterValue(
      `Invalid backup window format: ${value}. Should be specified as a range hh24:mi-hh24:mi (24H Clock UTC). Example: 03:00-03:30`,
    );
  }
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  const length = (end - start + DAY_MINUTES) % DAY_MINUTES;
  if (length < 30) throw invalidParameterValue('The backup window must be at least 30 minutes.');
  return { startMinute: start, lengthMinutes: length };
}

/** RDS refuses a backup window that overlaps the weekly maintenance window on any day. */
export function checkWindowsApart(backupWindow: string, maintenanceWindow: string): void {
  const b = parseBackupWindow(backupWindow);
  const mw = parseMaintenanceWindow(maintenanceWindow);
  const mLength = (mw.endMinuteOfWeek - mw.startMinuteOfWeek + WEEK_MINUTES) % WEEK_MINUTES;
  for (let day = 0; day < 7; day++) {
    const bStart = day * DAY_MINUTES + b.startMinute;
    if (overlaps(bStart, b.lengthMinutes, mw.startMinuteOfWeek, mLength)) {
      throw invalidParameterValue('The backup window and maintenance window must not overlap.');
    }
  }
}

/** Whether two intervals on the weekly circle share a minute. */
function overlaps(aStart: number, aLength: number, bStart: number, bLength: number): boolean {
  const d = (bStart - aStart + WEEK_MINUTES) % WEEK_MINUTES;
  const e = (aStart - bStart + WEEK_MINUTES) % WEEK_MINUTES;
  return d < aLength || e < bLength;
}

/** The start of the last backup window that began at or before `nowMs` (epoch ms). */
export function lastWindowStartMs(window: string, nowMs: number): number {
  const { startMinute } = parseBackupWindow(window);
  const dayMs = 86_400_000;
  const todayStart = Math.floor(nowMs / dayMs) * dayMs + startMinute * 60_000;
  return todayStart <= nowMs ? todayStart : todayStart - dayMs;
}

/**
 * RDS's choice of a backup window when none is given: a 30-minute window at a time derived from the instance,
 * kept away from the maintenance window. Deterministic, so a retried create chooses the same one.
 */
export function defaultBackupWindow(seed: string, maintenanceWindow: string): string {
  let h = 0;
  for (const c of seed) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  for (let i = 0; i < 48; i++) {
    const start = ((h % 48) + i) % 48;
    const startMinute = start * 30;
    const w = `${hhmm(startMinute)}-${hhmm((startMinute + 30) % DAY_MINUTES)}`;
    try {
      checkWindowsApart(w, maintenanceWindow);
      return w;
    } catch {
      // overlaps: try the next half hour
    }
  }
  return '07:50-08:20';
}

function hhmm(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

/**
 * The moment a point-in-time restore asks for: exactly one of RestoreTime and UseLatestRestorableTime, and a
 * RestoreTime inside the restorable window (RDS's messages).
 */
export function checkRestoreTime(
  input: { RestoreTime?: Date; UseLatestRestorableTime?: boolean },
  window: { earliestMs: number; latestMs: number } | undefined,
  sourceName: string,
): { latest: true } | { latest: false; timeMs: number } {
  const latest = input.UseLatestRestorableTime ?? false;
  if (latest && input.RestoreTime !== undefined) {
    throw invalidParameterCombination('Cannot specify both RestoreTime and UseLatestRestorableTime.');
  }
  if (!latest && input.RestoreTime === undefined) {
    throw invalidParameterCombination('Either RestoreTime or UseLatestRestorableTime must be specified.');
  }
  if (!window) throw new RestoreWindowMissing(sourceName);
  if (latest) return { latest: true };
  const t = input.RestoreTime!.getTime();
  if (Number.isNaN(t) || t < window.earliestMs || t > window.latestMs) {
    throw invalidRestoreTime(input.RestoreTime!, window);
  }
  return { latest: false, timeMs: t };
}

/** Marks a source with no restorable window yet (no finished backup): the caller answers with RDS's fault. */
export class RestoreWindowMissing extends Error {
  constructor(readonly sourceName: string) {
    super(`no restorable window for ${sourceName}`);
  }
}

function invalidRestoreTime(t: Date, w: { earliestMs: number; latestMs: number }) {
  return invalidParameterValue(
    `Restore time ${iso(t.getTime())} is outside the restorable window: it must be between ${iso(w.earliestMs)} and ${iso(w.latestMs)}.`,
  );
}

function iso(ms: number): string {
  return Number.isNaN(ms) ? 'an invalid time' : new Date(ms).toISOString();
}
