/**
 * @module gateway/release-memory
 * Gives the pages glibc's malloc holds free back to the system: malloc_trim(0), through the optional one-function
 * addon built from native/malloc-trim.c. After a flood, freed socket buffers stay in malloc's heap (glibc returns
 * only its top), so without this a server's memory would not come back down (docs/benchmarks.md, "Request
 * floods"). Where the addon did not build (no C compiler, no Node headers, not glibc), this does nothing.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from '../root.js';

let trim: (() => boolean) | null | undefined;

/** Returns whether memory was given back (false where the addon is missing). */
export function releaseFreedMemory(): boolean {
  if (trim === undefined) {
    try {
      trim = (createRequire(import.meta.url)(join(ROOT, 'dist', 'native', 'malloc-trim.node')) as { trim: () => boolean }).trim;
    } catch {
      trim = null;
    }
  }
  return trim ? trim() : false;
}
