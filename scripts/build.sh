#!/usr/bin/env bash
# Compiles the TypeScript (dist/, what the tests import), then bundles the server's modules into one file
# (dist/bundle/cellar.mjs, what bin/cellar.js runs): Node loads one ES module much faster than ~80 small ones,
# which is most of Cellar's startup. npm packages stay outside the bundle and load from node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
rm -rf dist/bundle
node_modules/.bin/esbuild dist/src/cli.js --bundle --platform=node --format=esm --target=node20 \
  --packages=external --log-level=warning --outfile=dist/bundle/cellar.mjs
