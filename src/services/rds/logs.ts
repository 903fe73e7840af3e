/**
 * @module services/rds/logs
 * DescribeDBLogFiles and DownloadDBLogFilePortion over the engine's real log: what the engine process writes
 * (src/engines/adapter.ts keeps its output in the instance's log/ directory, and one previous file when a start
 * rotates it). RDS names them as it names the engines' error logs: `error/postgres.log` for PostgreSQL,
 * `error/mysql-error.log` for MariaDB and MySQL, the previous file with `.1` after it.
 *
 * A file name from a request is only ever matched against those names, never made into a path.
 *
 * DownloadDBLogFilePortion follows the API reference's rules:
 * - no Marker: the most recent NumberOfLines lines (10,000 when absent), and nothing pending after them;
 * - Marker "0", or a marker returned earlier: NumberOfLines lines (10,000 when absent) from there, the marker of
 *   where they end, and AdditionalDataPending while the file goes on;
 * - never more than 1 MB in one response.
 * A marker is `0:<byte offset>`. One past the end of the file (a start rotated the log since) reads from its start.
 */
import type * as api from '../../models/rds.js';
import { ServiceError } from '../../core/errors.js';
import { filterValues, paginate } from './describe.js';
import { invalidParameterValue } from './errors.js';
import type { EngineLogFile, MemberEngine, RdsEngineDriver } from './driver.js';
import type { InstanceRecord } from './records.js';

/** RDS returns at most 1 MB of a log file in one DownloadDBLogFilePortion response. */
export const PORTION_MAX_BYTES = 1024 * 1024;
/** Lines returned when the request gives no NumberOfLines. */
export const DEFAULT_PORTION_LINES = 10_000;

/**
 * DBLogFileNotFoundFault as RDS words it (recalled from RDS responses, not from a reference that states it; see
 * docs/rds.md).
 */
export const dbLogFileNotFound = (name: string, instance: string) =>
  new ServiceError('DBLogFileNotFoundFault', `DBLog File: ${name}, is not found on Instance: ${instance}`, { status: 404 });

/** The RDS name of an engine log file. */
export function logFileName(kind: InstanceRecord['engineKind'], which: EngineLogFile['which']): string {
  const base = kind === 'postgres' ? 'error/postgres.log' : 'error/mysql-error.log';
  return which === 'previous' ? `${base}.1` : base;
}

/** The byte offset a marker names; undefined for no marker (the tail is asked for). */
export function parseLogMarker(marker: string | undefined): number | undefined {
  if (marker === undefined) return undefined;
  if (marker === '0') return 0;
  const m = /^0:(\d{1,15})$/.exec(marker);
  if (!m) throw invalidParameterValue(`Invalid Marker: ${marker}`);
  return Number(m[1]);
}

export function formatLogMarker(offset: number): string {
  return `0:${offset}`;
}

/**
 * How many bytes of `chunk` (read from some offset forward) make up to `lines` whole lines. A last line without its
 * newline is taken only at the end of the file (it is the line being written) or when it alone fills the chunk.
 */
export function forwardPortionBytes(chunk: Buffer, lines: number, atEnd: boolean): number {
  let taken = 0;
  for (let n = 0; n < lines; n++) {
    const nl = chunk.indexOf(0x0a, taken);
    if (nl < 0) {
      if (atEnd || taken === 0) taken = chunk.length;
      break;
    }
    taken = nl + 1;
  }
  return taken;
}

/**
 * Where in `chunk` (the end of the file) the last `lines` lines start. When the chunk does not begin at the start of
 * the file, its first line may be cut: it is never returned.
 */
export function tailPortionStart(chunk: Buffer, lines: number, fromFileStart: boolean): number {
  let first = 0;
  if (!fromFileStart) {
    const nl = chunk.indexOf(0x0a);
    if (nl < 0) return chunk.length;
    first = nl + 1;
  }
  // The end of the last line: a final newline closes it and does not begin another one.
  let pos = chunk.length > first && chunk[chunk.length - 1] === 0x0a ? chunk.length - 1 : chunk.length;
  for (let n = 0; n < lines; n++) {
    const nl = pos > first ? chunk.lastIndexOf(0x0a, pos - 1) : -1;
    if (nl < first) return first;
    pos = nl;
  }
  return pos + 1;
}

export interface RdsLogsOptions {
  driver: Pick<RdsEngineDriver, 'logFiles' | 'readLog'>;
  spec: (rec: InstanceRecord) => MemberEngine;
}

export class RdsLogs {
  constructor(private readonly o: RdsLogsOptions) {}

  private async files(rec: InstanceRecord): Promise<Array<EngineLogFile & { name: string }>> {
    const files = await this.o.driver.logFiles(this.o.spec(rec));
    return files.map((f) => ({ ...f, name: logFileName(rec.engineKind, f.which) }));
  }

  async describe(rec: InstanceRecord, input: api.DescribeDBLogFilesMessage): Promise<api.DescribeDBLogFilesResponse> {
    filterValues(input.Filters, []);
    const files = (await this.files(rec))
      .filter((f) => input.FilenameContains === undefined || f.name.includes(input.FilenameContains))
      .filter((f) => input.FileLastWritten === undefined || Math.floor(f.mtimeMs) >= input.FileLastWritten)
      .filter((f) => input.FileSize === undefined || f.size >= input.FileSize)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const { page, marker } = paginate(files, (f) => f.name, input.MaxRecords, input.Marker);
    return { DescribeDBLogFiles: page.map((f) => ({ LogFileName: f.name, LastWritten: Math.floor(f.mtimeMs), Size: f.size })), Marker: marker };
  }

  async download(rec: InstanceRecord, input: api.DownloadDBLogFilePortionMessage): Promise<api.DownloadDBLogFilePortionDetails> {
    if (input.NumberOfLines !== undefined && input.NumberOfLines < 1) throw invalidParameterValue(`Invalid value ${input.NumberOfLines} for NumberOfLines. Must be greater than 0`);
    const offset = parseLogMarker(input.Marker);
    const file = (await this.files(rec)).find((f) => f.name === input.LogFileName);
    if (!file) throw dbLogFileNotFound(input.LogFileName, rec.id);
    const lines = input.NumberOfLines ?? DEFAULT_PORTION_LINES;
    const spec = this.o.spec(rec);
    const size = file.size;
    if (offset === undefined) {
      const start = Math.max(0, size - PORTION_MAX_BYTES);
      const chunk = (await this.o.driver.readLog(spec, file.which, start, size - start)) ?? Buffer.alloc(0);
      const from = tailPortionStart(chunk, lines, start === 0);
      return { LogFileData: chunk.subarray(from).toString('utf8'), Marker: formatLogMarker(start + chunk.length), AdditionalDataPending: false };
    }
    // Past the end: a start rotated the log since the marker was given, and this is a new file.
    const from = offset > size ? 0 : offset;
    const chunk = (await this.o.driver.readLog(spec, file.which, from, Math.min(PORTION_MAX_BYTES, Math.max(0, size - from)))) ?? Buffer.alloc(0);
    const atEnd = from + chunk.length >= size;
    const taken = forwardPortionBytes(chunk, lines, atEnd);
    const end = from + taken;
    return { LogFileData: chunk.subarray(0, taken).toString('utf8'), Marker: formatLogMarker(end), AdditionalDataPending: end < size };
  }
}
