/**
 * @module storage/checkpointer-slots
 * What the main thread and the checkpointer worker (storage/checkpointer-worker) share: the slots of their
 * SharedArrayBuffer and the worker's settings. Kept apart from the worker so that the main thread loads none of it.
 */
export const SLOT_STOPPED = 0;
export const SLOT_PASSIVE = 1;
export const SLOT_RESTART = 2;
export const SLOT_ERRORS = 3;
/** Set to 1 by the worker while it wants the writer paused; cleared (and notified) when it is done. */
export const SLOT_PAUSE_REQUEST = 4;
/** Set to 1 by the main thread while it is paused outside any transaction. */
export const SLOT_PAUSED = 5;
export const SLOTS = 6;


export interface CheckpointerData {
  path: string;
  synchronous: 'NORMAL' | 'FULL';
  intervalMs: number;
  walLimitBytes: number;
  busyTimeoutMs: number;
  shared: SharedArrayBuffer;
}
