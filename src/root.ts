/**
 * @module root
 * Cellar's own install directory (where package.json, src/models and node_modules are), found by walking up from
 * this module: the same answer whether the code runs as compiled modules (dist/src/…) or as the startup bundle
 * (dist/bundle/cellar.mjs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): { dir: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const { name, version } = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
        if (name === 'cellar') return { dir, version: version ?? '0.0.0' };
      } catch {
        // not ours: keep walking
      }
    }
    dir = dirname(dir);
  }
  throw new Error(`cannot find Cellar's package.json above ${fileURLToPath(import.meta.url)}`);
}

const found = findRoot();
export const ROOT: string = found.dir;
/** package.json's version, read while finding ROOT. */
export const PACKAGE_VERSION: string = found.version;
