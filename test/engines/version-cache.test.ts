/**
 * The engine version probe cache: a binary unchanged since it was asked is not asked again; any change to the binary
 * (contents, size, times, a replacement) asks it again; a cache file or directory that is not private to Cellar's
 * user is neither trusted nor rewritten. Discovery through the cache still parses what the binary printed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultVersionCacheDir, VersionProbeCache } from '../../src/engines/version-cache.js';
import { listPostgresInstallations } from '../../src/engines/versions.js';
import { readPasswdEntry, type Host, type RunResult, type RunSpec } from '../../src/engines/host.js';

const PG_OUTPUT = 'postgres (PostgreSQL) 15.7\n';

/** A probe that counts its calls and answers what the fake binary would print. */
function counter(output: string | null = PG_OUTPUT): { calls: number; probe: () => Promise<string | undefined> } {
  const c = {
    calls: 0,
    probe: async () => {
      c.calls++;
      return output ?? undefined; // null: the binary failed
    },
  };
  return c;
}

describe('engine version probe cache', () => {
  let base: string;
  let n = 0;
  /** A fresh private cache directory and a fake binary beside it. */
  const fresh = () => {
    const dir = path.join(base, `case-${++n}`);
    fs.mkdirSync(dir, { mode: 0o700 });
    const cacheDir = path.join(dir, 'cache', 'cellar');
    const binary = path.join(dir, 'postgres');
    fs.writeFileSync(binary, '#!/bin/sh\necho "postgres (PostgreSQL) 15.7"\n', { mode: 0o755 });
    return { cacheDir, binary, file: path.join(cacheDir, 'engine-versions.json') };
  };

  before(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-vcache-'));
  });
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  it('answers an unchanged binary from the cache, across Cellar starts, and stores it privately', async () => {
    const { cacheDir, binary, file } = fresh();
    const first = await VersionProbeCache.open(cacheDir);
    const p1 = counter();
    assert.equal(await first.output(binary, p1.probe), PG_OUTPUT);
    assert.equal(p1.calls, 1);
    await first.save();
    assert.equal(fs.statSync(cacheDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);

    const second = await VersionProbeCache.open(cacheDir);
    const p2 = counter('must not be asked');
    assert.equal(await second.output(binary, p2.probe), PG_OUTPUT);
    assert.equal(p2.calls, 0);
    // Through a symlink too: the key is the binary's real path.
    const link = path.join(path.dirname(binary), 'postgres-link');
    fs.symlinkSync(binary, link);
    assert.equal(await second.output(link, p2.probe), PG_OUTPUT);
    assert.equal(p2.calls, 0);
  });

  it('asks again when the binary changes: new contents, same size with its mtime put back, or a replacement', async () => {
    const { cacheDir, binary } = fresh();
    const c = await VersionProbeCache.open(cacheDir);
    await c.output(binary, counter().probe);
    await c.save();

    // Other contents (another size).
    fs.writeFileSync(binary, '#!/bin/sh\necho "postgres (PostgreSQL) 15.8"\n');
    let reopened = await VersionProbeCache.open(cacheDir);
    const p1 = counter('postgres (PostgreSQL) 15.8\n');
    assert.equal(await reopened.output(binary, p1.probe), 'postgres (PostgreSQL) 15.8\n');
    assert.equal(p1.calls, 1);
    await reopened.save();

    // Same size and mtime set back to what it was: the ctime still tells.
    const before = fs.statSync(binary);
    await new Promise((r) => setTimeout(r, 20));
    fs.writeFileSync(binary, '#!/bin/sh\necho "postgres (PostgreSQL) 15.9"\n');
    fs.utimesSync(binary, before.atime, before.mtime);
    assert.equal(fs.statSync(binary).size, before.size);
    reopened = await VersionProbeCache.open(cacheDir);
    const p2 = counter('postgres (PostgreSQL) 15.9\n');
    assert.equal(await reopened.output(binary, p2.probe), 'postgres (PostgreSQL) 15.9\n');
    assert.equal(p2.calls, 1);
    await reopened.save();

    // Replaced by another file (another inode) of the same size.
    const other = `${binary}.new`;
    fs.writeFileSync(other, '#!/bin/sh\necho "postgres (PostgreSQL) 16.1"\n', { mode: 0o755 });
    fs.renameSync(other, binary);
    reopened = await VersionProbeCache.open(cacheDir);
    const p3 = counter('postgres (PostgreSQL) 16.1\n');
    assert.equal(await reopened.output(binary, p3.probe), 'postgres (PostgreSQL) 16.1\n');
    assert.equal(p3.calls, 1);
  });

  it('does not remember a failed probe', async () => {
    const { cacheDir, binary } = fresh();
    const c = await VersionProbeCache.open(cacheDir);
    const failed = counter(null);
    assert.equal(await c.output(binary, failed.probe), undefined);
    await c.save();
    const again = counter();
    assert.equal(await (await VersionProbeCache.open(cacheDir)).output(binary, again.probe), PG_OUTPUT);
    assert.equal(again.calls, 1);
  });

  it('ignores, and never rewrites, a cache file others may write, a symlinked one, or one in an open directory', async () => {
    const poisoned = (binary: string) => {
      const st = fs.statSync(binary, { bigint: true });
      const entry = { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), output: 'postgres (PostgreSQL) 99.0\n' };
      return JSON.stringify({ format: 1, entries: { [fs.realpathSync(binary)]: entry } });
    };
    const expectIgnored = async (cacheDir: string, binary: string, file: string) => {
      const before = fs.readFileSync(file, 'utf8');
      const c = await VersionProbeCache.open(cacheDir);
      const p = counter();
      assert.equal(await c.output(binary, p.probe), PG_OUTPUT);
      assert.equal(p.calls, 1);
      await c.save();
      assert.equal(fs.readFileSync(file, 'utf8'), before, 'an unsafe cache is left as it is');
    };

    // Group- and world-writable file.
    {
      const { cacheDir, binary, file } = fresh();
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, poisoned(binary), { mode: 0o600 });
      fs.chmodSync(file, 0o666);
      await expectIgnored(cacheDir, binary, file);
    }
    // A symlink to a file elsewhere.
    {
      const { cacheDir, binary, file } = fresh();
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      const elsewhere = path.join(path.dirname(binary), 'elsewhere.json');
      fs.writeFileSync(elsewhere, poisoned(binary), { mode: 0o600 });
      fs.symlinkSync(elsewhere, file);
      await expectIgnored(cacheDir, binary, file);
    }
    // A world-writable directory (anyone could swap the file).
    {
      const { cacheDir, binary, file } = fresh();
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, poisoned(binary), { mode: 0o600 });
      fs.chmodSync(cacheDir, 0o777);
      await expectIgnored(cacheDir, binary, file);
    }
    // A file owned by another user (only root can set that up).
    if (process.getuid?.() === 0) {
      const { cacheDir, binary, file } = fresh();
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, poisoned(binary), { mode: 0o600 });
      fs.chownSync(file, 65534, 65534);
      await expectIgnored(cacheDir, binary, file);
    }
  });

  it('starts over from a corrupt cache file', async () => {
    const { cacheDir, binary, file } = fresh();
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, '{"format":1,"entries":{"/x":', { mode: 0o600 });
    const c = await VersionProbeCache.open(cacheDir);
    const p = counter();
    assert.equal(await c.output(binary, p.probe), PG_OUTPUT);
    assert.equal(p.calls, 1);
    await c.save();
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).format, 1);
  });

  it('lives under $XDG_CACHE_HOME/cellar when that is absolute, else ~/.cache/cellar', () => {
    const saved = process.env.XDG_CACHE_HOME;
    try {
      process.env.XDG_CACHE_HOME = '/var/tmp/xdg';
      assert.equal(defaultVersionCacheDir(), '/var/tmp/xdg/cellar');
      process.env.XDG_CACHE_HOME = 'relative';
      assert.equal(defaultVersionCacheDir(), path.join(os.homedir(), '.cache', 'cellar'));
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });

  it('discovery through the cache parses what the binary printed, and asks each binary once', async () => {
    const { cacheDir, binary } = fresh();
    const debianRoot = path.join(path.dirname(binary), 'postgresql');
    const binDir = path.join(debianRoot, '15', 'bin');
    fs.mkdirSync(binDir, { recursive: true });
    fs.renameSync(binary, path.join(binDir, 'postgres'));
    let runs = 0;
    const host = {
      async run(spec: RunSpec): Promise<RunResult> {
        runs++;
        assert.deepEqual(spec.args, ['--version']);
        return { code: 0, signal: null, stdout: PG_OUTPUT, stderr: '', timedOut: false };
      },
    } as unknown as Host;
    for (let start = 0; start < 2; start++) {
      const cache = await VersionProbeCache.open(cacheDir);
      const found = await listPostgresInstallations(host, { debianRoot, nodeModulesDirs: [], cache });
      await cache.save();
      assert.deepEqual(
        found.map((f) => [f.binDir, f.major, f.version, f.full.trim(), f.source]),
        [[binDir, 15, '15.7', 'postgres (PostgreSQL) 15.7', 'debian']],
      );
    }
    assert.equal(runs, 1);
  });
});

describe('engine user lookup', () => {
  it('reads a passwd-format file, refusing malformed entries', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-passwd-'));
    try {
      const file = path.join(dir, 'passwd');
      fs.writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash\ncellarx:x:5:5::/:/bin/false\ncellar:x:999:995::/home/cellar:/usr/sbin/nologin\nodd:x::7::/:/bin/false\n');
      assert.deepEqual(await readPasswdEntry(file, 'cellar'), { name: 'cellar', uid: 999, gid: 995 });
      assert.equal(await readPasswdEntry(file, 'odd'), undefined, 'an empty uid is not uid 0');
      assert.equal(await readPasswdEntry(file, 'nobody-here'), undefined);
      assert.equal(await readPasswdEntry(path.join(dir, 'missing'), 'cellar'), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
