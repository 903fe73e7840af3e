/**
 * @module root
 * Cellar's own install directory (where package.json, src/models and node_modules are), found by walking up from
 * this module: the same answer whether the code runs as compiled modules (dist/src/…) or as the startup bundle
 * (dist/bundle/cellar.mjs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'cellar') return dir;
      } catch {
        // not ours: keep walking
      }
    }
    dir = dirname(dir);
  }
  throw new Error(`cannot find Cellar's package.json above ${fileURLToPath(import.meta.url)}`);
}

export const ROOT: string = findRoot();
