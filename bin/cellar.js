#!/usr/bin/env node
// Entry point for `npx cellar`: runs the compiled CLI (built by `npm install` through the prepare script).
import '../dist/src/cli.js';
