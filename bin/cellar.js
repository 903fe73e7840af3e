#!/usr/bin/env node
// Entry point for `npx cellar`: runs the bundled CLI (dist/bundle/cellar.mjs, built by scripts/build.sh through
// `npm run build` and the prepare script), or the compiled modules when no bundle has been built.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/cellar.mjs', import.meta.url);
await import(existsSync(bundle) ? bundle.href : '../dist/src/cli.js');
