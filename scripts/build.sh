#!/usr/bin/env bash
# Compiles the TypeScript (dist/, what the tests import), then bundles the server's modules into one entry file
# (dist/bundle/cellar.mjs, what bin/cellar.js runs): Node loads one ES module much faster than ~80 small ones,
# which is most of Cellar's startup. npm packages stay outside the bundle and load from node_modules.
# --splitting puts what the server imports with import() after it listens (RDS's provider, supervisor and the engine
# layer, see services/rds/assemble.ts) in chunks of their own, so startup neither compiles them nor loads the Node
# built-ins only they use (child_process, for one): about 15 ms less from spawn to the first answer.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
rm -rf dist/bundle
node_modules/.bin/esbuild dist/src/cli.js --bundle --platform=node --format=esm --target=node20 \
  --packages=external --log-level=warning --splitting --outdir=dist/bundle --entry-names=cellar \
  --chunk-names=chunk-[hash] --out-extension:.js=.mjs
# The optional malloc_trim binding (native/malloc-trim.c): gives glibc's freed heap pages back after a request flood.
# Built with the machine's C compiler against Node's own headers; without either, Cellar runs without it.
mkdir -p dist/native
node_include="$(dirname "$(dirname "$(command -v node)")")/include/node"
if command -v cc >/dev/null && [ -f "$node_include/node_api.h" ]; then
  cc -O2 -shared -fPIC -I"$node_include" native/malloc-trim.c -o dist/native/malloc-trim.node 2>/dev/null \
    || echo "note: native/malloc-trim.c did not build; Cellar runs without it" >&2
fi
