/** Init hooks (lifecycle/init-hooks.ts): name order, environment, failures and time limits are reported, never thrown. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InitHooks } from '../../src/lifecycle/init-hooks.js';
import { removeDir, tempDir } from '../helpers/cellar.js';

describe('init hooks', () => {
  const dir = tempDir('cellar-hooks-');
  after(() => removeDir(dir));
  const write = (stage: string, name: string, body: string, mode = 0o755) => {
    mkdirSync(join(dir, `${stage}.d`), { recursive: true });
    writeFileSync(join(dir, `${stage}.d`, name), body);
    chmodSync(join(dir, `${stage}.d`, name), mode);
  };

  it('runs a stage in name order with the given environment, and reports each outcome', async () => {
    write('ready', '20-second.sh', `#!/bin/sh\necho "second $CELLAR_INIT_STAGE $X" >> "${dir}/order"\n`);
    write('ready', '10-first.sh', `#!/bin/sh\necho "first" >> "${dir}/order"\nexit 2\n`);
    write('ready', '30-plain.sh', `echo "plain" >> "${dir}/order"\n`, 0o644);
    write('ready', '40-data.json', '{}', 0o644);
    const hooks = new InitHooks({ dir, timeoutMs: 10_000, env: () => ({ X: 'from-env' }) });
    assert.equal(hooks.isComplete('ready'), false);
    const ran = await hooks.run('ready');
    assert.deepEqual(readFileSync(join(dir, 'order'), 'utf8').trim().split('\n'), ['first', 'second ready from-env', 'plain']);
    assert.deepEqual(
      ran.map((h) => [h.name, h.state]),
      [
        ['10-first.sh', 'failed'],
        ['20-second.sh', 'successful'],
        ['30-plain.sh', 'successful'],
        ['40-data.json', 'skipped'],
      ],
    );
    assert.equal(ran[0]!.exitCode, 2);
    assert.equal(hooks.isComplete('ready'), true);
    assert.deepEqual(hooks.report('boot'), { completed: false, scripts: [] });
  });

  it('kills a hook past its time limit, with what it started, and reports it failed', async () => {
    write('boot', 'slow.sh', `#!/bin/sh\nsleep 30 &\necho $! > "${dir}/child"\nsleep 30\n`);
    const hooks = new InitHooks({ dir, timeoutMs: 500, env: () => ({}) });
    const started = Date.now();
    const [slow] = await hooks.run('boot');
    assert.ok(Date.now() - started < 10_000);
    assert.equal(slow!.state, 'failed');
    assert.match(slow!.reason!, /did not finish within 500 ms/);
    const child = Number(readFileSync(join(dir, 'child'), 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    let alive = true;
    try {
      process.kill(child, 0);
      alive = !/^State:\s+[ZX]/m.test(readFileSync(`/proc/${child}/status`, 'utf8'));
    } catch {
      alive = false;
    }
    assert.equal(alive, false, 'the process the hook started is gone too');
  });

  it('a missing directory means no hooks', async () => {
    const hooks = new InitHooks({ dir: join(dir, 'absent'), timeoutMs: 1000, env: () => ({}) });
    assert.deepEqual(await hooks.run('shutdown'), []);
    assert.equal(hooks.isComplete('shutdown'), true);
  });
});
