/**
 * @module core/log
 * Structured JSON logging, one line per event. Never pass secret material to these functions:
 * callers log identifiers and outcomes, not payloads.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: LogLevel = (process.env.CELLAR_LOG_LEVEL as LogLevel) in order ? (process.env.CELLAR_LOG_LEVEL as LogLevel) : 'info';
let sink: (line: string) => void = (line) => process.stdout.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export function log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
  if (order[level] < order[threshold]) return;
  sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }));
}
