/**
 * @module core/log
 * Structured JSON logging, one line per event. Never pass secret material to these functions:
 * callers log identifiers and outcomes, not payloads.
 *
 * Lines written to stdout are buffered and written once per event-loop turn (or as soon as the
 * buffer passes BUFFER_BYTES), not one write() per line: with a line per request, the syscall was
 * most of the logging's cost. `flushLogs()` writes what is pending; it runs when the process exits
 * (process.exit included) and when the server closes. A SIGKILL can lose the lines of the turn it
 * interrupts, at most BUFFER_BYTES of them; never data, which is committed before a response is built.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: LogLevel = (process.env.CELLAR_LOG_LEVEL as LogLevel) in order ? (process.env.CELLAR_LOG_LEVEL as LogLevel) : 'info';

/** Past this many pending characters the buffer is written at once, without waiting for the turn to end. */
const BUFFER_BYTES = 64 * 1024;
let pending = '';
let scheduled = false;
let exitHooked = false;

/** Writes the buffered lines to stdout now. */
export function flushLogs(): void {
  scheduled = false;
  if (pending === '') return;
  const out = pending;
  pending = '';
  process.stdout.write(out);
}

function onImmediate(): void {
  if (scheduled) flushLogs();
}

function stdoutSink(line: string): void {
  pending += line + '\n';
  if (pending.length >= BUFFER_BYTES) flushLogs();
  else if (!scheduled) {
    scheduled = true;
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', flushLogs);
    }
    setImmediate(onImmediate);
  }
}

let sink: (line: string) => void = stdoutSink;

/**
 * The most recent lines, kept in memory for the console's live log view (console/api.ts): a ring of RECENT_LINES
 * lines, each cut at RECENT_LINE_CHARS, so it holds at most about 2 MiB whatever is logged. The same lines as the
 * sink's: nothing here that the log would not already say.
 */
const RECENT_LINES = 500;
const RECENT_LINE_CHARS = 4096;
/** Live followers of the log (the console's open log views); more are refused. */
export const MAX_LOG_FOLLOWERS = 16;
const recent: string[] = [];
let recentNext = 0;
const followers = new Set<(line: string) => void>();

function emit(line: string): void {
  const kept = line.length > RECENT_LINE_CHARS ? line.slice(0, RECENT_LINE_CHARS) : line;
  if (recent.length < RECENT_LINES) recent.push(kept);
  else recent[recentNext] = kept;
  recentNext = (recentNext + 1) % RECENT_LINES;
  for (const f of followers) {
    try {
      f(kept);
    } catch {
      // A follower's failure is its own (the console drops a stream it cannot write); logging goes on.
    }
  }
  sink(line);
}

/** The recent lines, oldest first (at most RECENT_LINES). */
export function recentLogLines(): string[] {
  return recent.length < RECENT_LINES ? recent.slice() : [...recent.slice(recentNext), ...recent.slice(0, recentNext)];
}

/** Calls fn with every line logged from now on, until the returned function is called; undefined when MAX_LOG_FOLLOWERS follow already. */
export function followLogs(fn: (line: string) => void): (() => void) | undefined {
  if (followers.size >= MAX_LOG_FOLLOWERS) return undefined;
  followers.add(fn);
  return () => {
    followers.delete(fn);
  };
}

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}
/** Sends lines to fn instead of (buffered) stdout; without fn, back to stdout. */
export function setLogSink(fn?: (line: string) => void): void {
  flushLogs();
  sink = fn ?? stdoutSink;
}

/**
 * The id of the request being served by the code running now (the x-amzn-RequestId it is answered with): the
 * gateway sets it around each synchronous stretch of a request's handling, so every line logged meanwhile carries
 * it. Work that continues after an await logs the id itself (the gateway's own lines do; providers pass
 * ctx.requestId), because nothing here follows a request across turns of the event loop.
 */
let currentRequestId: string | undefined;

/** Sets the current request id (undefined: none); returns the one it replaces, to restore afterwards. */
export function setLogRequestId(requestId: string | undefined): string | undefined {
  const previous = currentRequestId;
  currentRequestId = requestId;
  return previous;
}

/** Whether a line at this level would be written (so callers skip building what it would carry). */
export function logEnabled(level: LogLevel): boolean {
  return order[level] >= order[threshold];
}

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (order[level] < order[threshold]) return;
  const line = currentRequestId !== undefined && fields['requestId'] === undefined ? { time: new Date().toISOString(), level, msg, requestId: currentRequestId, ...fields } : { time: new Date().toISOString(), level, msg, ...fields };
  emit(JSON.stringify(line));
}

/** Printable ASCII other than `"` and `\`: a string of these is its own JSON encoding between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** JSON.stringify(s), without the generic walk for the usual plain strings. */
export function jsonString(s: string): string {
  return PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s);
}

let isoMs = -1;
let isoText = '';
/** new Date(ms).toISOString(), reused within a millisecond. */
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/**
 * The per-request line: the same text as log('info', 'request', {requestId, service, operation,
 * status, error?, account?, latencyMs}), built without a generic stringify.
 */
export function logRequestLine(requestId: string, service: string | null, operation: string | null, status: number, error: string | undefined, account: string | undefined, latencyMs: number): void {
  if (order.info < order[threshold]) return;
  let line =
    '{"time":"' +
    isoTime(Date.now()) +
    '","level":"info","msg":"request","requestId":' +
    jsonString(requestId) +
    ',"service":' +
    (service === null ? 'null' : jsonString(service)) +
    ',"operation":' +
    (operation === null ? 'null' : jsonString(operation)) +
    ',"status":' +
    JSON.stringify(status);
  if (error) line += ',"error":' + jsonString(error);
  if (account) line += ',"account":' + jsonString(account);
  line += ',"latencyMs":' + JSON.stringify(latencyMs) + '}';
  emit(line);
}
