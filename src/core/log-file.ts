/**
 * @module core/log-file
 * The log of a Cellar started in the background (`cellar start -d`): the same JSON lines as stdout, appended to a
 * file that `cellar logs` reads. The file is bounded: past `maxBytes` it is renamed to `<file>.1` (replacing the
 * previous one) and a new file begins, so a long-running server keeps at most twice `maxBytes` of log.
 *
 * Lines are buffered and written once per event-loop turn, as on stdout (core/log.ts explains why).
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEFAULT_LOG_FILE_BYTES = 32 * 1024 * 1024;
const BUFFER_CHARS = 64 * 1024;

export class LogFile {
  private fd: number;
  private size: number;
  private pending = '';
  private scheduled = false;

  constructor(
    readonly path: string,
    private readonly maxBytes = DEFAULT_LOG_FILE_BYTES,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
    process.on('exit', () => this.flush());
  }

  /** The sink for core/log.ts's setLogSink. */
  readonly write = (line: string): void => {
    this.pending += line + '\n';
    if (this.pending.length >= BUFFER_CHARS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        if (this.scheduled) this.flush();
      });
    }
  };

  flush(): void {
    this.scheduled = false;
    if (this.pending === '') return;
    const out = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    try {
      if (this.size + out.length > this.maxBytes && this.size > 0) this.rotate();
      writeSync(this.fd, out);
      this.size += out.length;
    } catch (e) {
      // A full or vanished disk must not stop the server: the lines go to stderr instead.
      process.stderr.write(`cellar: cannot write the log file ${this.path}: ${(e as Error).message}\n`);
      process.stderr.write(out);
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
  }
}
