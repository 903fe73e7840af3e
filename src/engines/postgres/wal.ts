/**
 * @module engines/postgres/wal
 * Pure helpers for PostgreSQL's write-ahead log as Cellar archives it: LSNs, WAL file names, what pg_basebackup
 * reports, and the restore_command script a restore runs. No I/O, so every rule here is unit-tested.
 */
import { confValue } from './config.js';

/** PostgreSQL's default (and Cellar's only) WAL segment size: initdb runs with the default. */
export const WAL_SEGMENT_BYTES = 16 * 1024 * 1024;

/** A completed WAL segment: timeline, log and segment number, 8 hex digits each. */
export const SEGMENT_NAME = /^[0-9A-F]{24}$/;
export const PARTIAL_NAME = /^([0-9A-F]{24})\.partial$/;
/** A timeline history file, written at each promotion. */
export const HISTORY_NAME = /^[0-9A-F]{8}\.history$/;

/** `0/16B3748` → 23803720n. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new Error(`not an LSN: ${JSON.stringify(text)}`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The name of the WAL segment holding `lsn` on `timeline` (what pg_walfile_name() gives). */
export function walFileName(timeline: number, lsn: bigint, segmentBytes = WAL_SEGMENT_BYTES): string {
  const segno = lsn / BigInt(segmentBytes);
  const perLog = 0x100000000n / BigInt(segmentBytes);
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return hex(timeline) + hex(segno / perLog) + hex(segno % perLog);
}

/** The segment that follows `name` on the same timeline. */
export function nextWalFileName(name: string, segmentBytes = WAL_SEGMENT_BYTES): string {
  const timeline = parseInt(name.slice(0, 8), 16);
  const perLog = 0x100000000n / BigInt(segmentBytes);
  const segno = BigInt('0x' + name.slice(8, 16)) * perLog + BigInt('0x' + name.slice(16, 24)) + 1n;
  return walFileName(timeline, segno * BigInt(segmentBytes), segmentBytes);
}

/** The WAL log name an archive file holds (for pruning by sort order); history files are always kept. */
export function archiveLogName(fileName: string): string | undefined {
  const m = /^([0-9A-F]{24})(?:\.partial)?(?:\.gz)?(?:\.sha256)?$/.exec(fileName);
  return m ? m[1] : undefined;
}

export interface BaseBackupReport {
  startLsn: string;
  startTimeline: number;
  endLsn: string;
}

/** What `pg_basebackup --verbose` says about the backup's WAL range. */
export function parseBaseBackupReport(stderr: string): BaseBackupReport {
  const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/i.exec(stderr);
  const end = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/i.exec(stderr);
  if (!start || !end) throw new Error(`pg_basebackup did not report its WAL range: ${stderr.trim().slice(-500)}`);
  return { startLsn: start[1]!, startTimeline: Number(start[2]), endLsn: end[1]! };
}

/**
 * restore_command's script. It serves only the restore's staging directory, which holds exactly what was verified
 * before the restore began: links to checksummed `.gz` segments of the archive, and copies of the segments not
 * compressed yet (the newest, still partial segment under its segment name). Exit 1 tells PostgreSQL that the file
 * does not exist, which ends recovery.
 */
export function renderRestoreScript(stagingDir: string): string {
  const dir = shellQuote(stagingDir);
  return [
    '#!/bin/sh',
    '# restore_command of a Cellar point-in-time restore: $1 = %f (WAL file name), $2 = %p (where to put it).',
    'set -e',
    'case "$1" in *[!0-9A-Za-z.]*) exit 1 ;; esac',
    `if [ -f ${dir}/"$1".gz ]; then gzip -dc < ${dir}/"$1".gz > "$2"; exit 0; fi`,
    `if [ -f ${dir}/"$1" ]; then cp -- ${dir}/"$1" "$2"; exit 0; fi`,
    'exit 1',
    '',
  ].join('\n');
}

/** The recovery settings of a point-in-time restore, as `-c name=value` server options. */
export function recoveryOptions(input: { restoreScript: string; targetTime?: number }): string[] {
  const options = [`restore_command=${shellQuote(input.restoreScript)} %f %p`];
  if (input.targetTime !== undefined) {
    options.push(`recovery_target_time=${recoveryTimestamp(input.targetTime)}`, 'recovery_target_inclusive=on', 'recovery_target_action=promote');
  }
  return options.flatMap((o) => ['-c', o]);
}

/** `2026-12-07 02:18:21.553+00`: what recovery_target_time parses (it refuses ISO 8601's `T…Z` form). */
export function recoveryTimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString().replace('T', ' ').replace('Z', '+00');
}

function shellQuote(s: string): string {
  return "'" + s.replace(/'/g, `'\\''`) + "'";
}

/** A primary_conninfo line for cellar.conf; the password stays in the pass file. */
export function renderStandbyLines(input: { host: string; port: number; user: string; passfile: string; applicationName: string }): string[] {
  if (!/^[A-Za-z0-9_.:-]+$/.test(input.host)) throw new Error(`invalid primary host ${JSON.stringify(input.host)}`);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(input.user)) throw new Error(`invalid replication user ${JSON.stringify(input.user)}`);
  const kv = (k: string, v: string) => `${k}='${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const conninfo = [
    kv('host', input.host),
    kv('port', String(input.port)),
    kv('user', input.user),
    kv('passfile', input.passfile),
    kv('application_name', input.applicationName),
    kv('sslmode', 'prefer'),
  ].join(' ');
  return [`primary_conninfo = ${confValue(conninfo)}`];
}

/** A line of a libpq pass file (`host:port:db:user:password`, with `:` and `\` escaped). */
export function passfileLine(input: { host: string; port: number; user: string; password: string }): string {
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  if (/[\r\n]/.test(input.password)) throw new Error('a replication password cannot contain line breaks');
  return `${esc(input.host)}:${input.port}:*:${esc(input.user)}:${esc(input.password)}\n`;
}
