/**
 * Given Cellars running PostgreSQL and MariaDB DB instances (one with a data directory, one with --in-memory; long
 * instance identifiers, so the engines' sockets live in run directories under the system temp dir), when a Cellar is
 * killed with SIGKILL, then within 10 s no process of its instances is left (checked in /proc), and the next Cellar
 * to start removes the temp directories the dead one left, but not those of another Cellar still running; the
 * data-directory Cellar, started again, brings its instances back.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { instanceLayout } from '../../src/engines/adapter.js';
import { freePort, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const PASSWORD = 'Sup3r-secret!';
const CREATE_TIMEOUT_MS = 90_000;
const GONE_WITHIN_MS = 10_000;
/** RDS allows 63 characters; with the data directory's path this is past the 107-byte socket path limit. */
const longId = (prefix: string) => `${prefix}-${'x'.repeat(50 - prefix.length)}`;

interface Instance {
  id: string;
  engine: 'postgres' | 'mariadb';
  pid: number;
  dataDir: string;
  runDir: string;
}

/** Processes of an instance still alive: its engine, the engine's children, anything naming its directory. */
function processesOf(instances: Instance[]): string[] {
  const alive: string[] = [];
  const enginePids = new Set(instances.map((i) => i.pid));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/^State:\s+[ZX]/m.test(status)) continue; // dead, waiting for PID 1 to reap it
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const pid = Number(entry);
      if (enginePids.has(pid) || enginePids.has(ppid) || instances.some((i) => cmdline.includes(i.dataDir) || cmdline.includes(i.runDir))) alive.push(`${pid} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return alive;
}

/** The engine root an --in-memory Cellar made: the cellar-rds-* temp dir stamped with its pid. */
function inMemoryRoot(cellar: CellarProcess): string {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('cellar-rds-')) continue;
    try {
      if ((JSON.parse(readFileSync(join(tmpdir(), name, '.cellar-owner'), 'utf8')) as { pid: number }).pid === cellar.proc.pid) return join(tmpdir(), name);
    } catch {
      // not stamped (yet) or not ours
    }
  }
  throw new Error(`no engine root stamped by Cellar ${cellar.proc.pid}`);
}

describe('RDS: engines do not outlive a killed Cellar, and its temp directories are swept', { timeout: 15 * 60_000 }, () => {
  const cellars: CellarProcess[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const c of cellars) await c.stop().catch(() => undefined);
    for (const d of dirs) removeDir(d);
  });

  const start = async (options: { dataDir?: string; inMemory?: boolean; port?: number }) => {
    const c = await startCellar({ ...options, args: ['--quiet'] });
    cellars.push(c);
    return c;
  };

  /** Creates instances in parallel and returns them with their engine pid and directories once available. */
  async function createInstances(cellar: CellarProcess, root: () => string, wanted: Array<{ id: string; engine: 'postgres' | 'mariadb' }>): Promise<Instance[]> {
    const rds = new RDSClient(sdkConfig(cellar.endpoint));
    await Promise.all(
      wanted.map(async (w) =>
        rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: w.id, Engine: w.engine, DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: PASSWORD, Port: await freePort() })),
      ),
    );
    await waitFor(
      async () => (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.filter((d) => wanted.some((w) => w.id === d.DBInstanceIdentifier)).every((d) => d.DBInstanceStatus === 'available'),
      'the instances to be available',
      CREATE_TIMEOUT_MS,
      200,
    );
    const health = ((await (await fetch(`${cellar.endpoint}/_cellar/health`)).json()) as any).services.rds.instances as Array<{ id: string; pid: number }>;
    const parent = join(root(), '000000000000', 'us-east-1');
    return wanted.map((w) => {
      const dataDir = join(parent, readdirSync(parent).find((d) => d.startsWith(`${w.id}-`))!);
      const runDir = instanceLayout(dataDir, 'x', w.engine === 'postgres' ? '.s.PGSQL.65535.lock' : 'mysqld.sock').run;
      assert.ok(runDir.startsWith(tmpdir() + '/cellar-'), `${w.id}: run directory ${runDir} is under the temp dir`);
      assert.ok(existsSync(runDir), runDir);
      return { ...w, pid: health.find((h) => h.id === w.id)!.pid, dataDir, runDir };
    });
  }

  async function killAndWatch(cellar: CellarProcess, instances: Instance[]): Promise<number> {
    assert.deepEqual(
      instances.filter((i) => processesOf([i]).length === 0).map((i) => i.id),
      [],
      'every engine runs before the kill',
    );
    await cellar.kill9();
    const killedAt = Date.now();
    await waitFor(() => processesOf(instances).length === 0, `no process of ${instances.map((i) => i.id).join(', ')} (left: ${processesOf(instances).join(' | ')})`, GONE_WITHIN_MS, 50);
    return Date.now() - killedAt;
  }

  let live: { cellar: CellarProcess; root: string; instances: Instance[] };
  let fromDataDir: { cellar: CellarProcess; dataDir: string; instances: Instance[] };
  let fromMemory: { root: string; instances: Instance[] };

  it('given another Cellar that stays alive with an instance of its own', async () => {
    const cellar = await start({ inMemory: true });
    const instances = await createInstances(cellar, () => inMemoryRoot(cellar), [{ id: longId('live-pg'), engine: 'postgres' }]);
    live = { cellar, root: inMemoryRoot(cellar), instances };
  });

  it(`a Cellar with a data directory, killed with SIGKILL, leaves no engine process after ${GONE_WITHIN_MS / 1000} s`, async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const cellar = await start({ dataDir });
    const instances = await createInstances(cellar, () => join(dataDir, 'rds'), [
      { id: longId('disk-pg'), engine: 'postgres' },
      { id: longId('disk-my'), engine: 'mariadb' },
    ]);
    const ms = await killAndWatch(cellar, instances);
    console.log(JSON.stringify({ cellar: 'data-dir', enginesGoneInMs: ms }));
    for (const i of instances) assert.ok(existsSync(i.runDir), `left behind: ${i.runDir}`);
    fromDataDir = { cellar, dataDir, instances };
  });

  it(`the next Cellar removes its run directories; an --in-memory Cellar, killed with SIGKILL, leaves no engine process after ${GONE_WITHIN_MS / 1000} s`, async () => {
    const cellar = await start({ inMemory: true });
    // RDS (and its sweep) is assembled for the first RDS request at the latest.
    await new RDSClient(sdkConfig(cellar.endpoint)).send(new DescribeDBInstancesCommand({}));
    for (const i of fromDataDir.instances) assert.equal(existsSync(i.runDir), false, `${i.runDir} removed`);
    const instances = await createInstances(cellar, () => inMemoryRoot(cellar), [
      { id: longId('mem-pg'), engine: 'postgres' },
      { id: longId('mem-my'), engine: 'mariadb' },
    ]);
    const root = inMemoryRoot(cellar);
    const ms = await killAndWatch(cellar, instances);
    console.log(JSON.stringify({ cellar: 'in-memory', enginesGoneInMs: ms }));
    fromMemory = { root, instances };
  });

  it("the next Cellar to start removes the dead --in-memory Cellar's engine root and run directories, and keeps the live one's", async () => {
    assert.ok(existsSync(fromMemory.root), 'left behind by the killed --in-memory Cellar');
    for (const i of fromMemory.instances) assert.ok(existsSync(i.runDir), `left behind: ${i.runDir}`);
    const next = await start({ inMemory: true });
    await new RDSClient(sdkConfig(next.endpoint)).send(new DescribeDBInstancesCommand({}));
    assert.equal(existsSync(fromMemory.root), false, `${fromMemory.root} removed`);
    for (const i of fromMemory.instances) assert.equal(existsSync(i.runDir), false, `${i.runDir} removed`);
    // The live Cellar's directories and engine are untouched.
    assert.ok(existsSync(live.root));
    for (const i of live.instances) {
      assert.ok(existsSync(i.runDir), `${i.runDir} kept`);
      assert.equal(processesOf([i]).length > 0, true, `${i.id} still runs`);
    }
    const stillThere = (await new RDSClient(sdkConfig(live.cellar.endpoint)).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: live.instances[0]!.id }))).DBInstances![0]!;
    assert.equal(stillThere.DBInstanceStatus, 'available');
    const health = ((await (await fetch(`${live.cellar.endpoint}/_cellar/health`)).json()) as any).services.rds.instances[0];
    assert.equal(health.pid, live.instances[0]!.pid, 'the live engine was not restarted');
  });

  it('the data-directory Cellar, started again, brings its instances back', async () => {
    const again = await start({ dataDir: fromDataDir.dataDir, port: fromDataDir.cellar.port });
    const rds = new RDSClient(sdkConfig(again.endpoint));
    await waitFor(
      async () => (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances!.every((d) => d.DBInstanceStatus === 'available'),
      'the instances to be available again',
      CREATE_TIMEOUT_MS,
      200,
    );
    for (const i of fromDataDir.instances) {
      const stamp = JSON.parse(readFileSync(join(i.runDir, '.cellar-owner'), 'utf8')) as { pid: number };
      assert.equal(stamp.pid, again.proc.pid, `${i.runDir} belongs to the Cellar now running it`);
    }
  });
});
