/**
 * The sweep of temp directories left by a dead Cellar (engines/temp-dirs.ts), in a private stand-in for the system
 * temp dir: what it removes (stamped by a process that is gone, with the processes still using it) and what it
 * never touches (a live owner's, an unstamped one, a symlink, another user's, names that are not Cellar's). And the
 * certificate authorities' directory of an --in-memory Cellar, with real Cellars: removed at a graceful stop, swept by
 * the next Cellar after a kill -9.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalHost, settlesWithin } from '../../src/engines/host.js';
import { claimTempDir, OWNER_FILE, ownStamp, removeOwnTempDirs, stampIsAlive, sweepStaleTempDirs } from '../../src/engines/temp-dirs.js';
import { stampDirSync } from '../../src/engines/owner-stamp.js';
import { startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

/** The stamp of a process that has exited (pid and start time really seen, then gone). */
async function deadStamp(): Promise<{ pid: number; startTicks: string }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  const startTicks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  return { pid: child.pid!, startTicks };
}

describe('temp directories of a dead Cellar', () => {
  let host: LocalHost;
  let tmp: string;

  before(async () => {
    host = await LocalHost.create();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cellar-sweep-test-'));
    fs.chmodSync(tmp, 0o711);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('tells a live owner from a dead one, even when the pid is reused', async () => {
    assert.equal(await stampIsAlive(await ownStamp()), true);
    assert.equal(await stampIsAlive({ pid: process.pid, startTicks: '1' }), false, 'same pid, other start: another process');
    assert.equal(await stampIsAlive(await deadStamp()), false);
  });

  it("removes a dead Cellar's directories, stopping what still runs there, and keeps everything else", async () => {
    const dead = path.join(tmp, 'cellar-rds-Dead01');
    const deadRun = path.join(tmp, 'cellar-0123456789abcdef');
    const deadTls = path.join(tmp, 'cellar-tls-Dead02');
    const live = path.join(tmp, 'cellar-rds-Live01');
    const liveTls = path.join(tmp, 'cellar-tls-Live02');
    const unstamped = path.join(tmp, 'cellar-rds-NoStmp');
    const notOurs = path.join(tmp, 'cellar-store-abcdef');
    const testTls = path.join(tmp, 'cellar-tls-postgres-abcdef');
    for (const d of [dead, deadRun, deadTls, live, unstamped, notOurs, testTls]) await host.ensureDir(d);
    fs.mkdirSync(liveTls);
    const stamp = JSON.stringify(await deadStamp()) + '\n';
    for (const d of [dead, deadRun, deadTls]) fs.writeFileSync(path.join(d, OWNER_FILE), stamp);
    fs.writeFileSync(path.join(notOurs, OWNER_FILE), stamp);
    fs.writeFileSync(path.join(testTls, OWNER_FILE), stamp);
    await claimTempDir(host, live);
    stampDirSync(liveTls);
    const target = path.join(tmp, 'target');
    fs.mkdirSync(target);
    fs.symlinkSync(target, path.join(tmp, 'cellar-rds-Link01'));
    // Stands for an engine that outlived its dead Cellar: its command line names the directory.
    const leftover = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', path.join(dead, 'data')], { stdio: 'ignore' });
    const leftoverExit = new Promise((r) => leftover.once('exit', r));
    await new Promise((r) => setTimeout(r, 100));

    const removed = await sweepStaleTempDirs(host, { tmpDir: tmp });
    assert.deepEqual(removed.sort(), [deadRun, dead, deadTls].sort());
    for (const gone of [dead, deadRun, deadTls]) assert.equal(fs.existsSync(gone), false, gone);
    for (const kept of [live, liveTls, unstamped, notOurs, testTls, target, path.join(tmp, 'cellar-rds-Link01')]) assert.ok(fs.existsSync(kept), kept);
    assert.ok(await settlesWithin(leftoverExit, 5000), 'the leftover process was stopped');
  });

  it('at a graceful stop, removes only the directories this Cellar stamped', async () => {
    const mine = path.join(tmp, 'cellar-rds-Mine01');
    const other = path.join(tmp, 'cellar-rds-Othr01');
    await host.ensureDir(mine);
    await host.ensureDir(other);
    await claimTempDir(host, mine);
    fs.writeFileSync(path.join(other, OWNER_FILE), JSON.stringify({ pid: 1, startTicks: '0' }) + '\n');
    await removeOwnTempDirs(host, { tmpDir: tmp });
    assert.equal(fs.existsSync(mine), false);
    assert.ok(fs.existsSync(other));
  });

  it("an --in-memory Cellar's certificate directory is stamped, removed at a graceful stop, and swept by the next Cellar after a kill -9", async () => {
    /** The cellar-tls-* directory stamped by a Cellar's pid (there from startup: the CAs' directory is made then). */
    const tlsDirOf = (c: CellarProcess): string | undefined => {
      for (const name of fs.readdirSync(os.tmpdir())) {
        if (!/^cellar-tls-[A-Za-z0-9]{6}$/.test(name)) continue;
        try {
          if ((JSON.parse(fs.readFileSync(path.join(os.tmpdir(), name, OWNER_FILE), 'utf8')) as { pid: number }).pid === c.proc.pid) return path.join(os.tmpdir(), name);
        } catch {
          // not stamped or not readable: not this Cellar's
        }
      }
      return undefined;
    };
    const graceful = await startCellar({ inMemory: true, args: ['--quiet'] });
    const gracefulDir = tlsDirOf(graceful);
    assert.ok(gracefulDir, 'the directory carries its owner stamp');
    await graceful.stop();
    assert.equal(fs.existsSync(gracefulDir), false, `removed at a graceful stop (${gracefulDir}, exit ${graceful.proc.exitCode}): ${graceful.output.slice(-6).join("\n")}`);

    const killed = await startCellar({ inMemory: true, args: ['--quiet'] });
    const killedDir = tlsDirOf(killed)!;
    assert.ok(killedDir);
    await killed.kill9();
    assert.ok(fs.existsSync(killedDir), 'a killed Cellar cannot remove it');
    const next = await startCellar({ inMemory: true, args: ['--quiet'] });
    try {
      await waitFor(() => !fs.existsSync(killedDir), 'the dead Cellar\'s directory swept by the next one', 20_000, 100);
      assert.ok(tlsDirOf(next), "the next Cellar's own directory stays");
    } finally {
      await next.stop();
    }
  });
});
