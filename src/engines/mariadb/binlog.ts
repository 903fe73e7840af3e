/**
 * @module engines/mariadb/binlog
 * Pure helpers for MariaDB binlog archiving and point-in-time restore: a scanner of the binlog file format's event
 * headers (enough to know how much of an archived file is whole, which transaction is still open at its end, and the
 * time of its newest complete transaction), the parsing of mariadb-backup's binlog position, and the time format
 * mariadb-binlog's --stop-datetime reads. No I/O; unit-tested.
 *
 * ## Time granularity (why a restore time is rounded down to its second)
 * A binlog event carries its time in whole seconds (4-byte Unix timestamp; the statement's start time, and for a
 * transaction the time its events were written at commit). `mariadb-binlog --stop-datetime=S` stops at the first
 * event whose timestamp is ≥ S, so a restore to the whole second S replays exactly the transactions stamped before
 * S (S-1.999 and earlier) and none stamped S or later: whole-second targets are exact. A target with a fraction,
 * S.f, cannot be split inside second S from the binlog alone: Cellar restores to S (rounding down, never replaying
 * anything committed after the target) and reports S as the restored-to time. Transactions committed in
 * [S, S.f] are then not restored; ask for S+1 to include them.
 */

/** Event type codes (MariaDB's log_event.h). */
export const BINLOG_EVENT = {
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  GTID: 162,
} as const;

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER_BYTES = 19;
/** GTID event flag: the transaction is one statement (DDL) without BEGIN/COMMIT, ended by its Query event. */
const FL_STANDALONE = 1;

export interface BinlogScan {
  /** Whether the file starts with the binlog magic (an empty file is not a binlog yet). */
  valid: boolean;
  /** Bytes from the start of the file that hold whole events (the rest is an event still being written). */
  completeBytes: number;
  /** Offset just after the last event outside an open transaction (where a replay can stop without a half). */
  lastTransactionEnd: number;
  /** Timestamp (s) of the GTID event of the newest transaction whose events are all here; undefined if none. */
  lastCommittedSec: number | undefined;
  /** Timestamp (s) of the newest GTID event, whether its transaction is complete or not. */
  lastGtidSec: number | undefined;
  /** Timestamp (s) of the file's first GTID event (its first transaction). */
  firstGtidSec: number | undefined;
  /** A transaction was begun (GTID event) but its end is not in the file yet. */
  openTransaction: boolean;
  /** The open transaction is a single statement (DDL), ended by its Query event. */
  openStandalone: boolean;
  /** The server closed this file (Stop or Rotate event as the last event). */
  closed: boolean;
  /** Timestamp (s) of the newest event with a time (the artificial Rotate at a stream's start has 0). */
  lastEventSec: number | undefined;
  /** Bytes of CRC32 at the end of each event (from the format description event). */
  checksumBytes: number;
}

export function emptyScan(): BinlogScan {
  return {
    valid: false,
    completeBytes: 0,
    lastTransactionEnd: 0,
    lastCommittedSec: undefined,
    lastGtidSec: undefined,
    firstGtidSec: undefined,
    openTransaction: false,
    openStandalone: false,
    closed: false,
    lastEventSec: undefined,
    checksumBytes: 4,
  };
}

/**
 * Scans binlog events. `bytes` are the file's bytes from offset `prior.completeBytes` on (the whole file when there is
 * no prior scan), so a growing file is scanned once, in steps.
 */
export function scanBinlog(bytes: Buffer, prior: BinlogScan = emptyScan()): BinlogScan {
  const scan: BinlogScan = { ...prior };
  const base = prior.completeBytes;
  let from = 0;
  if (!scan.valid) {
    if (base !== 0 || bytes.length < MAGIC.length) return scan;
    if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) return scan;
    scan.valid = true;
    scan.completeBytes = MAGIC.length;
    scan.lastTransactionEnd = MAGIC.length;
    from = MAGIC.length;
  }
  for (let at = from; at + HEADER_BYTES <= bytes.length; ) {
    const timestamp = bytes.readUInt32LE(at);
    const type = bytes[at + 4]!;
    const size = bytes.readUInt32LE(at + 9);
    if (size < HEADER_BYTES || at + size > bytes.length) break; // an event still being written
    const end = at + size;
    if (timestamp > 0) scan.lastEventSec = timestamp;
    scan.closed = type === BINLOG_EVENT.STOP || (type === BINLOG_EVENT.ROTATE && timestamp > 0);
    if (type === BINLOG_EVENT.FORMAT_DESCRIPTION) {
      // The byte before the checksum says whether events carry a CRC32 (1) or not (0).
      scan.checksumBytes = size >= HEADER_BYTES + 5 && bytes[end - 5] === 1 ? 4 : 0;
    } else if (type === BINLOG_EVENT.GTID) {
      const flags = size >= HEADER_BYTES + 13 ? bytes[at + HEADER_BYTES + 12]! : 0;
      scan.openStandalone = (flags & FL_STANDALONE) !== 0;
      scan.openTransaction = true;
      scan.lastGtidSec = timestamp;
      scan.firstGtidSec ??= timestamp;
    } else if (
      scan.openTransaction &&
      (type === BINLOG_EVENT.XID || (type === BINLOG_EVENT.QUERY && (scan.openStandalone || isCommitQuery(bytes, at, end, scan.checksumBytes))))
    ) {
      scan.openTransaction = false;
      scan.lastCommittedSec = scan.lastGtidSec;
    }
    if (!scan.openTransaction) scan.lastTransactionEnd = base + end;
    scan.completeBytes = base + end;
    at = end;
  }
  return scan;
}

/** Whether a Query event's statement is COMMIT (how a transaction on a non-transactional table ends). */
function isCommitQuery(buf: Buffer, at: number, end: number, checksumBytes: number): boolean {
  const body = at + HEADER_BYTES;
  // Post-header: thread id (4), exec time (4), db length (1), error code (2), status vars length (2).
  if (body + 13 > end) return false;
  const dbLength = buf[body + 8]!;
  const statusLength = buf.readUInt16LE(body + 11);
  const queryStart = body + 13 + statusLength + dbLength + 1;
  const queryEnd = end - checksumBytes;
  if (queryStart > queryEnd) return false;
  return /^\s*COMMIT\s*$/i.test(buf.toString('latin1', queryStart, Math.min(queryEnd, queryStart + 16)));
}

export interface BinlogPosition {
  file: string;
  position: number;
  /** GTID of the last change in the backup (e.g. "0-7-5"); empty when the server had logged none. */
  gtid: string;
}

/**
 * The binlog position mariadb-backup reports in its log, e.g.
 * `MySQL binlog position: filename 'binlog.000002', position '599', GTID of the last change '0-7-5'`.
 * The same text is in xtrabackup_binlog_info inside the backup.
 */
export function parseBackupBinlogPosition(log: string): BinlogPosition | undefined {
  const m = /binlog position: filename '([^']+)', position '(\d+)'(?:, GTID of the last change '([^']*)')?/.exec(log);
  if (!m) return undefined;
  return { file: m[1]!, position: Number(m[2]), gtid: m[3] ?? '' };
}

export function formatPosition(p: BinlogPosition): string {
  return `${p.file}:${p.position}${p.gtid ? ` gtid ${p.gtid}` : ''}`;
}

export function parsePosition(text: string): BinlogPosition {
  const m = /^([A-Za-z0-9_.-]+):(\d+)(?: gtid ([0-9,-]*))?$/.exec(text);
  if (!m) throw new Error(`not a binlog position: ${JSON.stringify(text)}`);
  return { file: m[1]!, position: Number(m[2]), gtid: m[3] ?? '' };
}

/** Binlog file names as the server makes them: <basename>.<6+ digits>. */
export const BINLOG_FILE_PATTERN = /^[A-Za-z0-9_-]+\.\d{6,}$/;

/** Orders binlog file names by their sequence number. */
export function compareBinlogNames(a: string, b: string): number {
  const na = Number(a.slice(a.lastIndexOf('.') + 1));
  const nb = Number(b.slice(b.lastIndexOf('.') + 1));
  return na - nb || a.localeCompare(b);
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, for --stop-datetime (run mariadb-binlog with TZ=UTC). */
export function binlogDatetime(epochSec: number): string {
  return new Date(epochSec * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * What a restore to `targetMs` really restores (see the module header): the whole second at or before it. The
 * replay stops before the first event stamped with that second.
 */
export function restorableSecond(targetMs: number): number {
  return Math.floor(targetMs / 1000);
}
