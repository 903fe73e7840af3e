/**
 * @module storage/checkpointer-worker
 * The worker thread that checkpoints a SQLite WAL database with its own connection, so the main thread
 * never runs a checkpoint (and its fsyncs) inside a commit.
 *
 * Every `intervalMs` it runs a PASSIVE checkpoint (copies what it can without waiting for anyone). Under
 * sustained writes that never lets the log restart: SQLite reuses the WAL from its beginning only when a
 * writer finds every frame already copied, and the writer keeps appending while the checkpoint copies.
 * So when the WAL has grown past `walLimitBytes`, the worker asks the main thread to pause before its
 * next write group (SLOT_PAUSE_REQUEST; the main thread acknowledges in SLOT_PAUSED and waits, bounded),
 * then runs a RESTART checkpoint (copying the few frames the last passive one missed), which makes the
 * next writer start the log from its beginning; the main connection's journal_size_limit truncates the
 * file back. Every wait is bounded: the pause acknowledgement (PAUSE_ACK_WAIT_MS; an idle main thread
 * never acknowledges, and then has no writes to wait for), the RESTART's busy wait (busyTimeoutMs),
 * the main thread's pause (storage/sqlite).
 *
 * Checkpoints never change what is committed: they copy committed pages from the WAL into the database
 * file, and one interrupted by a crash is simply done again.
 *
 * Protocol with storage/sqlite: `workerData` carries the settings and a SharedArrayBuffer of Int32
 * slots (see SLOT_*). The main thread posts 'stop'; the worker closes its connection, sets SLOT_STOPPED
 * and notifies, so the main thread can wait for it (bounded) inside a synchronous close().
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { type CheckpointerData, SLOT_ERRORS, SLOT_PASSIVE, SLOT_PAUSE_REQUEST, SLOT_PAUSED, SLOT_RESTART, SLOT_STOPPED } from './checkpointer-slots.js';

/** How long the worker waits for the main thread to acknowledge a pause. */
const PAUSE_ACK_WAIT_MS = 100;


function run(data: CheckpointerData): void {
  const slots = new Int32Array(data.shared);
  const db = new Database(data.path);
  db.pragma(`synchronous = ${data.synchronous}`);
  db.pragma(`busy_timeout = ${data.busyTimeoutMs}`);
  db.pragma('wal_autocheckpoint = 0');
  const frameBytes = (db.pragma('page_size', { simple: true }) as number) + 24;
  const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (db.open) db.close();
    Atomics.store(slots, SLOT_STOPPED, 1);
    Atomics.notify(slots, SLOT_STOPPED);
    parentPort?.close();
  };
  const tick = (): void => {
    try {
      const r = passive.get() as { busy: number; log: number; checkpointed: number };
      Atomics.add(slots, SLOT_PASSIVE, 1);
      if (r.log * frameBytes > data.walLimitBytes) {
        Atomics.store(slots, SLOT_PAUSE_REQUEST, 1);
        try {
          Atomics.wait(slots, SLOT_PAUSED, 0, PAUSE_ACK_WAIT_MS);
          const done = restart.get() as { busy: number };
          if (done.busy === 0) Atomics.add(slots, SLOT_RESTART, 1);
          else Atomics.add(slots, SLOT_ERRORS, 1);
        } finally {
          Atomics.store(slots, SLOT_PAUSE_REQUEST, 0);
          Atomics.notify(slots, SLOT_PAUSE_REQUEST);
        }
      }
    } catch {
      // SQLITE_BUSY past busyTimeoutMs (or a transient I/O error): try again on the next tick.
      Atomics.add(slots, SLOT_ERRORS, 1);
    }
    if (db.open) timer = setTimeout(tick, data.intervalMs);
  };
  parentPort?.on('message', (m) => {
    if (m === 'stop') stop();
  });
  timer = setTimeout(tick, data.intervalMs);
}

// storage/sqlite imports this module for its constants and types; only a worker runs it.
if (!isMainThread && (workerData as CheckpointerData | undefined)?.shared) run(workerData as CheckpointerData);
