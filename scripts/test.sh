#!/usr/bin/env bash
# The whole test suite: builds, then runs every test file under node's own test runner.
# Unit tests first (fast), then integration tests against real Cellar processes and real engines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
bash scripts/build.sh
# Test files run 2 at a time: the machine has 2 cores and the engine tests start real databases.
exec node --test --test-concurrency=2 --test-timeout=600000 \
  $(find dist/test -name '*.test.js' | sort)
