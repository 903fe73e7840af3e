/**
 * Manual smoke run of one adapter: initialise, start, probe, stop; prints timings. Usage: node dist/scripts/smoke-engine.js postgres|mariadb|redis
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalHost } from '../src/engines/host.js';
import { createEngine } from '../src/engines/index.js';
import type { EngineName } from '../src/engines/adapter.js';

const engine = (process.argv[2] ?? 'postgres') as EngineName;
const host = await LocalHost.create();
const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-smoke-'));
fs.chmodSync(base, 0o711);
const port = await host.findFreePort();
const e = createEngine(host, { engine, name: 'smoke', dataDir: path.join(base, 'i'), port, masterUsername: engine === 'redis' ? 'default' : 'master', masterPassword: 'secret-pw-1', dbName: 'app' });
let t = Date.now();
await e.initialise(); console.log('initialise ms', Date.now() - t); t = Date.now();
await e.start(); console.log('start ms', Date.now() - t);
console.log(await e.healthProbe());
console.log(await e.stop('fast'));
if (!process.argv.includes('--keep')) fs.rmSync(base, { recursive: true, force: true }); else console.log(base);
