/**
 * @module console/assets
 * The console's files: its own (src/console/assets/, plain ES modules, no build step) and the ES module builds of
 * the libraries it uses (preact, htm, uPlot), read from their installed packages. Only the names in ASSETS are
 * served: a path from a request is looked up in this table, never joined onto a directory. Files are read once and
 * kept (a few hundred KiB in all).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from '../root.js';

interface AssetSource {
  /** A file of Cellar's own (under src/console/assets/) or of an installed package. */
  from: { own: string } | { pkg: string; file: string };
  type: string;
}

const JS = 'text/javascript; charset=utf-8';
const ASSETS: Record<string, AssetSource> = {
  'index.html': { from: { own: 'index.html' }, type: 'text/html; charset=utf-8' },
  'style.css': { from: { own: 'style.css' }, type: 'text/css; charset=utf-8' },
  'app.js': { from: { own: 'app.js' }, type: JS },
  'api.js': { from: { own: 'api.js' }, type: JS },
  'ui.js': { from: { own: 'ui.js' }, type: JS },
  'resources.js': { from: { own: 'resources.js' }, type: JS },
  'rds.js': { from: { own: 'rds.js' }, type: JS },
  'chart.js': { from: { own: 'chart.js' }, type: JS },
  'dynamodb.js': { from: { own: 'dynamodb.js' }, type: JS },
  'secrets.js': { from: { own: 'secrets.js' }, type: JS },
  'kms.js': { from: { own: 'kms.js' }, type: JS },
  'logs.js': { from: { own: 'logs.js' }, type: JS },
  'vendor/preact.mjs': { from: { pkg: 'preact', file: 'dist/preact.mjs' }, type: JS },
  'vendor/preact.mjs.map': { from: { pkg: 'preact', file: 'dist/preact.mjs.map' }, type: 'application/json' },
  'vendor/hooks.mjs': { from: { pkg: 'preact', file: 'hooks/dist/hooks.mjs' }, type: JS },
  'vendor/hooks.mjs.map': { from: { pkg: 'preact', file: 'hooks/dist/hooks.mjs.map' }, type: 'application/json' },
  'vendor/htm.mjs': { from: { pkg: 'htm', file: 'dist/htm.mjs' }, type: JS },
  'vendor/uplot.mjs': { from: { pkg: 'uplot', file: 'dist/uPlot.esm.js' }, type: JS },
  'vendor/uplot.css': { from: { pkg: 'uplot', file: 'dist/uPlot.min.css' }, type: 'text/css; charset=utf-8' },
};

export interface Asset {
  body: Buffer;
  type: string;
}

const loaded = new Map<string, Asset>();

/** The asset of that name (a key of ASSETS), or undefined for any other name. Throws when an installed file is missing. */
export function consoleAsset(name: string): Asset | undefined {
  if (!Object.hasOwn(ASSETS, name)) return undefined;
  let asset = loaded.get(name);
  if (!asset) {
    const source = ASSETS[name]!;
    const file = 'own' in source.from ? join(ROOT, 'src', 'console', 'assets', source.from.own) : join(packageDir(source.from.pkg), source.from.file);
    asset = { body: readFileSync(file), type: source.type };
    loaded.set(name, asset);
  }
  return asset;
}

/** An installed package's directory: node_modules of Cellar's root or of a directory above it (a hoisted install). */
function packageDir(name: string): string {
  let dir = ROOT;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`the console needs the ${name} package, which is not installed`);
}

/**
 * The Content-Security-Policy of the console's page: scripts from the console only, plus the page's one inline
 * script, its import map (allowed by its hash, computed here from the page itself).
 */
export function pagePolicy(page: Buffer): string {
  const m = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page.toString('utf8'));
  const hash = m ? ` 'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'` : '';
  return `default-src 'self'; script-src 'self'${hash}; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;
}
