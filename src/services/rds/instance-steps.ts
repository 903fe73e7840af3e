/**
 * @module services/rds/instance-steps
 * The ensure-steps of a DB instance's reconciler (runtime/reconciler.ts), in the order they run:
 *
 *   ensureMembers        the primary member's placement follows the spec (address, port, directory, zone)
 *   ensureNotFailed      a failed instance waits for a reboot or delete; a newer request clears the failure
 *   ensureDeleted        deletion asked: stop, final snapshot, remove the directory and the record
 *   ensureDataDir        the engine's own initialisation, master user and database (once)
 *   ensureStopped        stop asked: engine stopped (also one a previous Cellar left); 7 days later, started again
 *   ensureHealth         the health decider: probe, decide (restart / wait / give up), act
 *   ensureConfiguration  modifications to apply now (class, storage, port, address), with a restart when needed
 *   ensureProcess        the engine runs under this Cellar: started, restarted on reboot or when the decider said so
 *   ensureUsers          a new master password reaches the engine
 *   ensureTls            the certificate the engine serves is current
 *   ensureStorage        storage full makes the engine read-only; more storage lifts it
 *   ensureParameters     the parameter group's dynamic parameters are applied
 *   ensureMaintenance    pending modifications are applied in the maintenance window
 *   ensureBackups        (a slot: RDS automated backups plug in here)
 *
 * Each step reads the record afresh, checks what is already true, acts, and writes what it observed through
 * `observe` (which derives the status and emits its events). None writes `desired`, except where RDS itself acts
 * as a user would: the automatic start after 7 days stopped, and the maintenance window.
 */
import { Scope } from '../../core/scope.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../../core/log.js';
import { faultPoint } from '../../core/faults.js';
import type { Clock } from '../../core/clock.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import type { CellarConfig } from '../../config.js';
import { countEngineRestart } from '../../observability/measures.js';
import type { Decision, HealthDecider, ProbeOutcome } from '../../runtime/decider.js';
import { acted, done, halt, rest, type EnsureStep, type StepOutcome } from '../../runtime/reconciler.js';
import type { BackupWorker } from './backups/worker.js';
import { snapshotPlaceId } from './backups/records.js';
import { listenAddress, STOPPED_LIMIT_MS } from './describe.js';
import type { MemberEngine, RdsEngineDriver } from './driver.js';
import { portKey, scopeKey, SEAL_AAD, type InstanceRecord, type RdsTables } from './records.js';
import { sameSettings, type InstanceSettings } from './settings.js';
import { desiredOf, type InstanceEvents } from './status.js';
import type { InstanceCertificates } from './tls.js';
import { maintenanceWindowStartedBetween } from './validation.js';

/** One reconcile of one instance: the record as last read or written, and its engine. */
export interface InstanceReconcile {
  key: string;
  rec: InstanceRecord;
  readonly spec: MemberEngine;
}

export type InstanceStep = EnsureStep<InstanceReconcile>;

/** What the steps read of the supervisor's options (supervisor.ts SupervisorOptions adds the loop's own). */
export interface InstanceStepOptions {
  tables: RdsTables;
  events: InstanceEvents;
  driver: RdsEngineDriver;
  box: SecretBox;
  clock: Clock;
  config: CellarConfig;
  engineRoot: string;
  /** Bytes one GiB of AllocatedStorage stands for (1 GiB unless configured smaller for tests). */
  storageGiBBytes: number;
  /** Deletes an instance's managed master secret when the instance goes (undefined without Secrets Manager). */
  deleteSecret?: (rec: InstanceRecord, secretArn: string) => void;
  /** Issues and renews the instances' TLS certificates (absent: engines run without TLS). */
  certificates?: InstanceCertificates;
  /** Backups, snapshots and restores (backups/worker.ts): restores in ensureDataDir, final snapshots in deletion. */
  backups?: BackupWorker;
}

/**
 * What the steps need of the supervisor that owns the shared per-process state (attached engines, deciders, the
 * last checks), and through which they write what they observed. supervisor.ts's RdsSupervisor implements it; the
 * steps know only this, so the supervisor can build them without the two modules importing each other.
 */
export interface InstanceSupervisor {
  readonly options: InstanceStepOptions;
  /** Instances whose engine this Cellar has attached to (adopted, started or stopped) since it started. */
  readonly attached: Set<string>;
  readonly lastStorageCheckMs: Map<string, number>;
  /** What each instance's directory occupied at its last storage check (the AWS/RDS FreeStorageSpace metric). */
  readonly lastStorageUsedBytes: Map<string, number>;
  readonly lastTlsCheckMs: Map<string, number>;
  /** The instance's one health decider. */
  decider(key: string): HealthDecider;
  /** Is the engine alive and answering a real query (bounded; never throws). */
  probe(spec: MemberEngine): Promise<ProbeOutcome>;
  /** Acts on the decider's decision (ensureHealth). */
  actOnHealth(c: InstanceReconcile, d: Decision): StepOutcome;
  /** Writes what a step observed, deriving the status; c.rec becomes the new record. */
  observe(c: InstanceReconcile, fn: (rec: InstanceRecord) => void): InstanceRecord;
  kick(scope: Scope, id: string): void;
  /** A reconcile after `ms`. */
  kickLater(key: string, ms: number): void;
  clearFailures(key: string): void;
  /** The instance is gone: its in-memory state goes too. */
  forget(key: string): void;
  /** The engine settings the instance should run with now. */
  settings(rec: InstanceRecord): InstanceSettings;
}

/**
 * The automated-backups step (services/rds/backups), plugged into the `ensureBackups` slot; see SupervisorOptions.
 */
export type EnsureBackups = (c: InstanceReconcile, supervisor: InstanceSupervisor) => Promise<StepOutcome>;

const STORAGE_CHECK_EVERY_MS = 2000;
/**
 * How often (by Cellar's clock) a running instance's TLS certificate is checked: certificates are renewed 30 days
 * before they expire, and an endpoint address can change under a running instance (a public instance whose host
 * address changed), so a check every few minutes is plenty.
 */
const TLS_CHECK_EVERY_MS = 10 * 60_000;

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** The steps, bound to the supervisor that owns the shared per-process state (attached engines, deciders). */
export function instanceSteps(sup: InstanceSupervisor, ensureBackups?: EnsureBackups): InstanceStep[] {
  const o = sup.options;
  const now = () => o.clock.now();
  const lastStorageCheckMs = sup.lastStorageCheckMs;
  const lastTlsCheckMs = sup.lastTlsCheckMs;

  const ensureTlsNow = async (c: InstanceReconcile): Promise<string | undefined> => {
    if (!o.certificates) return undefined;
    lastTlsCheckMs.set(c.key, now());
    try {
      const { sentence, validTillMs } = await o.certificates.ensure(c.rec, c.spec);
      if (validTillMs !== undefined && validTillMs !== c.rec.tlsValidTillMs) sup.observe(c, (r) => (r.tlsValidTillMs = validTillMs));
      return sentence;
    } catch (e) {
      // Background work: the engine keeps the certificate it has (or runs without TLS); the next check tries again.
      log('error', 'rds tls certificate failed', { instance: c.key, error: (e as Error).message });
      return `TLS certificate not renewed: ${(e as Error).message}; retrying in ${TLS_CHECK_EVERY_MS / 60_000} minutes`;
    }
  };

  /** (Re)starts the engine with the current settings and records them; the decider learns it is up. */
  const startEngine = async (c: InstanceReconcile, restart: boolean): Promise<void> => {
    const spec = c.spec;
    if (restart) await o.driver.stop(spec);
    // Every start serves a current certificate for the current endpoint (an address change restarts the engine).
    await ensureTlsNow(c);
    const s = sup.settings(c.rec);
    await o.driver.start(spec, s.values);
    sup.attached.add(c.key);
    sup.decider(c.key).noteRunning();
    sup.observe(c, (r) => {
      r.startedWithStatic = s.staticValues;
      r.appliedDynamic = s.dynamicValues;
      r.observed.engine = 'running';
      r.stoppedAtMs = undefined;
    });
  };

  const ensureParents = (rec: InstanceRecord): void => {
    // Engine directories must be reachable by the unprivileged engine user (see docs/rds.md).
    mkdirSync(join(o.engineRoot, rec.accountId, rec.region), { recursive: true, mode: 0o711 });
  };

  const steps: InstanceStep[] = [
    {
      name: 'ensureMembers',
      async run(c) {
        const r = c.rec;
        const want = { role: 'primary' as const, availabilityZone: r.availabilityZone, host: listenAddress(r, o.config), dataDir: r.dataDir, port: r.port };
        const m = r.members[0];
        if (r.members.length === 1 && m && m.role === want.role && m.availabilityZone === want.availabilityZone && m.host === want.host && m.dataDir === want.dataDir && m.port === want.port) {
          return done(`one primary member on ${want.host}:${want.port} in ${want.availabilityZone}`);
        }
        sup.observe(c, (x) => (x.members = [want]));
        return done(`primary member placed on ${want.host}:${want.port} in ${want.availabilityZone}, as the spec says`);
      },
    },
    {
      name: 'ensureNotFailed',
      async run(c) {
        const failed = c.rec.observed.failed;
        if (!failed) return done('not failed');
        if (failed.generation >= c.rec.desired.generation) return halt(`failed (${failed.reason}); waiting for a reboot or delete`);
        sup.decider(c.key).reset();
        sup.clearFailures(c.key);
        sup.observe(c, (r) => delete r.observed.failed);
        return done(`failed earlier (${failed.reason}), but a newer request came: trying again`);
      },
    },
    {
      name: 'ensureDeleted',
      async run(c) {
        if (!c.rec.desired.deleted) return done('not asked to delete');
        return acted(await deleteInstance(sup, c), 'stop');
      },
    },
    {
      name: 'ensureDataDir',
      async run(c) {
        if (c.rec.observed.created) return done('data directory initialised');
        const rec = c.rec;
        ensureParents(rec);
        const s = sup.settings(rec);
        if (rec.restore && o.backups) {
          // A restore: the instance directory is built from the backup (verified first), then started as any other.
          const restore = rec.restore;
          const how = await o.backups.restoreInto(rec, restore);
          await ensureTlsNow(c);
          await o.driver.start(c.spec, s.values);
          sup.attached.add(c.key);
          sup.decider(c.key).noteRunning();
          sup.observe(c, (r) => {
            r.startedWithStatic = s.staticValues;
            r.appliedDynamic = s.dynamicValues;
            r.observed.created = true;
            r.observed.engine = 'running';
            r.observed.rebootGeneration = r.desired.rebootGeneration;
            delete r.restore;
            if (o.backups?.firstBackupDue(r)) r.observed.backingUp = true;
          });
          o.backups.restoredEvent(rec, restore);
          return acted(`created: ${how}; accepting connections on port ${rec.port}`);
        }
        const password = o.box.openString(rec.masterPasswordSealed, SEAL_AAD);
        // The certificate is in place before the first start, so the engine serves TLS from its first connection.
        await ensureTlsNow(c);
        await o.driver.initialise(c.spec, { username: rec.masterUsername, password, dbName: rec.dbName }, s.values);
        sup.attached.add(c.key);
        sup.decider(c.key).noteRunning();
        sup.observe(c, (r) => {
          if (r.masterUserSecret) r.masterUserSecret.status = 'active';
          r.startedWithStatic = s.staticValues;
          r.appliedDynamic = s.dynamicValues;
          r.observed.created = true;
          r.observed.engine = 'running';
          r.observed.rebootGeneration = r.desired.rebootGeneration;
          // The first automated backup follows at once: RDS shows a new instance `backing-up` until it is taken.
          if (o.backups?.firstBackupDue(r)) r.observed.backingUp = true;
        });
        return acted(`created: ${rec.engine} ${rec.engineVersion} initialised and accepting connections on port ${rec.port}`);
      },
    },
    {
      name: 'ensureStopped',
      async run(c) {
        if (c.rec.desired.running) return done('asked to run');
        if (c.rec.observed.engine !== 'stopped' || !sup.attached.has(c.key)) {
          const was = c.rec.observed.engine;
          // Also stops an engine a previous Cellar left running for a stopped instance.
          await o.driver.stop(c.spec);
          sup.attached.add(c.key);
          sup.decider(c.key).reset();
          sup.observe(c, (r) => {
            r.observed.engine = 'stopped';
            if (r.stoppedAtMs === undefined) r.stoppedAtMs = now();
          });
          if (was !== 'stopped') return acted('stop asked: engine shut down', 'stop');
        }
        const rec = c.rec;
        if (rec.stoppedAtMs !== undefined && now() - rec.stoppedAtMs >= STOPPED_LIMIT_MS) {
          // RDS itself starts it again, as a user would: a desired-state write, with its event.
          sup.observe(c, (r) => {
            o.events.emitInstance(r, 'autoStarted', now());
            r.desired.running = true;
            r.desired.generation++;
          });
          sup.kick(Scope.ofRecord(rec), rec.id);
          return acted('stopped for 7 days: starting it, as RDS does', 'stop');
        }
        return rest('stopped as asked: engine not running');
      },
    },
    {
      name: 'ensureHealth',
      async run(c) {
        const engine = c.rec.observed.engine;
        if (engine === 'stopped' || engine === 'detached' || !sup.attached.has(c.key)) return done(`engine ${engine === 'stopped' ? 'stopped' : 'not yet under this Cellar'}: nothing to probe`);
        return sup.actOnHealth(c, await sup.decider(c.key).decide(() => sup.probe(c.spec)));
      },
    },
    {
      name: 'ensureConfiguration',
      async run(c) {
        const a = c.rec.applying;
        if (!a) return done('no modifications to apply');
        const did: string[] = [];
        const t = now();
        if (a.DBInstanceClass && a.DBInstanceClass !== c.rec.instanceClass) {
          sup.observe(c, (r) => {
            o.events.emitInstance(r, 'applyingClass', t);
            r.instanceClass = a.DBInstanceClass!;
          });
          did.push(`class ${a.DBInstanceClass}`);
        }
        if (a.AllocatedStorage && a.AllocatedStorage !== c.rec.allocatedStorageGiB) {
          sup.observe(c, (r) => {
            o.events.emitInstance(r, 'applyingStorage', t);
            r.allocatedStorageGiB = a.AllocatedStorage!;
          });
          did.push(`storage ${a.AllocatedStorage} GiB`);
        }
        // A class change needs a restart (new memory settings); so do port and public-access changes.
        const needsRestart = Boolean(a.DBInstanceClass) || !o.driver.isRunning(c.spec) || (!a.DBInstanceClass && !a.AllocatedStorage);
        if (needsRestart) {
          ensureParents(c.rec);
          await startEngine(c, true);
        }
        sup.observe(c, (r) => {
          if (a.DBInstanceClass) o.events.emitInstance(r, 'finishedClass', now());
          if (a.AllocatedStorage) o.events.emitInstance(r, 'finishedStorage', now());
          r.applying = undefined;
        });
        // Re-check storage at once: more storage may lift storage-full.
        lastStorageCheckMs.delete(c.key);
        sup.lastStorageUsedBytes.delete(c.key);
        return acted(`applied ${did.length ? did.join(', ') : 'network settings'}${needsRestart ? ' with a restart' : ''}`);
      },
    },
    {
      name: 'ensureProcess',
      async run(c) {
        const d = c.rec.desired;
        const ob = c.rec.observed;
        const rebootAsked = d.rebootGeneration > ob.rebootGeneration;
        if (!rebootAsked && ob.engine === 'running' && sup.attached.has(c.key)) return done(`engine running (pid ${o.driver.pid(c.spec) ?? 'unknown'})`);
        // A reboot restarts the engine with the instance's current settings (so static parameters waiting for it take
        // effect) and leaves modifications queued for the maintenance window queued, as RDS does. The same restart
        // takes over an engine a previous Cellar ran (see RdsSupervisor.takeOver).
        const why = rebootAsked ? 'reboot asked' : ob.engine === 'stopped' ? 'start asked' : ob.engine === 'down' ? 'the health decider ordered a restart' : 'engine not yet under this Cellar';
        ensureParents(c.rec);
        try {
          await startEngine(c, true);
        } catch (e) {
          if (ob.engine !== 'down') throw e;
          // A restart the decider ordered: its bound and backoff decide what follows, not the reconciler's retries.
          log('error', 'rds action failed', { instance: c.key, action: 'restart', error: (e as Error).message });
          sup.decider(c.key).noteRestartFailed((e as Error).message);
          sup.kickLater(c.key, 0);
          return halt(`restart failed (${(e as Error).message.split('\n')[0]}); the health decider decides what next`);
        }
        sup.observe(c, (r) => (r.observed.rebootGeneration = Math.max(r.observed.rebootGeneration, d.rebootGeneration)));
        if (ob.engine === 'down') countEngineRestart(c.rec.engine);
        lastStorageCheckMs.delete(c.key);
        sup.lastStorageUsedBytes.delete(c.key);
        return acted(`engine ${ob.engine === 'stopped' ? 'started' : 'restarted'} on port ${c.rec.port}: ${why}`);
      },
    },
    {
      name: 'ensureUsers',
      async run(c) {
        const sealed = c.rec.pending.MasterUserPasswordSealed;
        if (!sealed) return done('master password in place');
        await o.driver.setMasterPassword(c.spec, c.rec.masterUsername, o.box.openString(sealed, SEAL_AAD));
        sup.observe(c, (r) => {
          r.masterPasswordSealed = sealed;
          delete r.pending.MasterUserPasswordSealed;
          // A secret made by ModifyDBInstance ManageMasterUserPassword=true is in use once the engine has its password.
          if (r.masterUserSecret?.status === 'creating') r.masterUserSecret.status = 'active';
          o.events.emitInstance(r, 'resetCredentials', now());
        });
        return acted('master password changed in the engine');
      },
    },
    {
      name: 'ensureTls',
      async run(c) {
        if (now() - (lastTlsCheckMs.get(c.key) ?? 0) < TLS_CHECK_EVERY_MS) return done('TLS certificate checked recently');
        const renewed = await ensureTlsNow(c);
        return renewed ? acted(renewed) : done('TLS certificate current');
      },
    },
    {
      name: 'ensureStorage',
      async run(c) {
        const t = now();
        const full = c.rec.observed.storageFull;
        if (!full && t - (lastStorageCheckMs.get(c.key) ?? 0) < STORAGE_CHECK_EVERY_MS) return done('storage checked recently');
        lastStorageCheckMs.set(c.key, t);
        const used = await o.driver.storageUsedBytes(c.spec);
        sup.lastStorageUsedBytes.set(c.key, used);
        const limit = c.rec.allocatedStorageGiB * o.storageGiBBytes;
        if (full === used >= limit) return done(`${mib(used)} used of ${mib(limit)} allocated`);
        // Read-only while full (settings.ts), writable again below the limit. The engine gets its settings first and
        // the observation follows, so `available` is never reported while the engine still refuses writes.
        const s = sup.settings({ ...c.rec, observed: { ...c.rec.observed, storageFull: !full } });
        await o.driver.applySettings(c.spec, s.values);
        sup.observe(c, (r) => {
          r.observed.storageFull = !full;
          r.appliedDynamic = s.dynamicValues;
        });
        return acted(full ? `${mib(used)} used of ${mib(limit)} allocated: writes allowed again` : `${mib(used)} used of ${mib(limit)} allocated: storage full, engine made read-only`);
      },
    },
    {
      name: 'ensureParameters',
      async run(c) {
        const s = sup.settings(c.rec);
        if (sameSettings(c.rec.appliedDynamic, s.dynamicValues)) return done('dynamic parameters applied');
        await o.driver.applySettings(c.spec, s.values);
        sup.observe(c, (r) => {
          r.appliedDynamic = s.dynamicValues;
          o.events.emitInstance(r, 'parameterGroupApplied', now());
        });
        return acted(`applied the dynamic parameters of ${c.rec.parameterGroupName}`);
      },
    },
    {
      name: 'ensureMaintenance',
      async run(c) {
        const rec = c.rec;
        const t = now();
        const last = rec.lastMaintenanceCheckMs ?? t;
        const hasPending = Boolean(rec.pending.DBInstanceClass || rec.pending.AllocatedStorage);
        if (hasPending && maintenanceWindowStartedBetween(rec.preferredMaintenanceWindow, last, t)) {
          // The window is RDS acting on the user's earlier request: the queued changes become the ones to apply now.
          sup.observe(c, (r) => {
            r.applying = { ...r.pending, MasterUserPasswordSealed: undefined };
            r.pending = r.pending.MasterUserPasswordSealed ? { MasterUserPasswordSealed: r.pending.MasterUserPasswordSealed } : {};
            r.lastMaintenanceCheckMs = t;
            r.desired.generation++;
          });
          sup.kick(Scope.ofRecord(rec), rec.id);
          return acted(`maintenance window ${rec.preferredMaintenanceWindow} began: applying pending modifications`, 'stop');
        }
        // Recorded once a minute, not at every tick: a window is never missed when the clock jumps, and a change
        // queued in the minute after a window began is applied in that (still open) window, as RDS may.
        if (t - last > 60_000) sup.observe(c, (r) => (r.lastMaintenanceCheckMs = t));
        return done(hasPending ? `modifications wait for the maintenance window ${rec.preferredMaintenanceWindow}` : 'no modifications pending');
      },
    },
    {
      name: 'ensureBackups',
      async run(c): Promise<StepOutcome> {
        if (ensureBackups) return ensureBackups(c, sup);
        return done(`automated backups not managed by this Cellar yet (retention ${c.rec.backupRetentionPeriod} days)`);
      },
    },
  ];
  return steps;
}

/** Deletes an instance: engine stopped, final snapshot taken when asked, directory and record removed. */
async function deleteInstance(sup: InstanceSupervisor, c: InstanceReconcile): Promise<string> {
  const o = sup.options;
  const rec = c.rec;
  const spec = c.spec;
  let snap = '';
  if (rec.finalSnapshotId && o.backups?.canBackUp(rec)) {
    // The final snapshot is a backup of the running engine, by its own tool, before it stops for good.
    if (!o.driver.isRunning(spec)) await o.driver.start(spec, sup.settings(rec).values);
    await o.backups.takeFinalSnapshot(rec, rec.finalSnapshotId);
    snap = `; final snapshot ${rec.finalSnapshotId} taken`;
  }
  await o.driver.stop(spec);
  // The automated backups are retained (DeleteAutomatedBackups=false) or deleted with the instance.
  await o.backups?.afterEngineStopped(rec);
  if (rec.finalSnapshotId && !snap) {
    // An engine that cannot back up here: its stopped data directory is copied (listed, restorable by no restore).
    faultPoint('rds.snapshot');
    const dest = join(o.engineRoot, 'snapshots', rec.accountId, rec.region);
    mkdirSync(dest, { recursive: true, mode: 0o700 });
    const target = join(dest, snapshotPlaceId(rec, rec.finalSnapshotId));
    await o.driver.copyDataDir(spec, target);
    o.tables.snapshots.put(scopeKey(Scope.ofRecord(rec), rec.finalSnapshotId), {
      id: rec.finalSnapshotId,
      dir: target,
      ...(rec.kmsKeyId ? { kmsKeyId: rec.kmsKeyId } : {}),
      instanceId: rec.id,
      createdAtMs: o.clock.now(),
      engine: rec.engine,
      engineVersion: rec.engineVersion,
      allocatedStorageGiB: rec.allocatedStorageGiB,
      masterUsername: rec.masterUsername,
      port: rec.port,
      availabilityZone: rec.availabilityZone,
      tags: rec.copyTagsToSnapshot ? rec.tags : [],
    });
    snap = `; final snapshot ${rec.finalSnapshotId} taken`;
  }
  await o.driver.destroy(spec);
  o.tables.store.transaction(() => {
    const cur = o.tables.instances.get(c.key);
    if (!cur || !desiredOf(cur).deleted) return;
    o.tables.instances.delete(c.key);
    const owner = o.tables.ports.get(portKey(cur.port));
    if (owner && owner.instanceId === cur.id && owner.accountId === cur.accountId && owner.region === cur.region) o.tables.ports.delete(portKey(cur.port));
    o.events.emitInstance(cur, 'deleted', o.clock.now());
  });
  sup.forget(c.key);
  // RDS deletes the managed master secret with the instance.
  let secret = '';
  if (rec.masterUserSecret && o.deleteSecret) {
    try {
      o.deleteSecret(rec, rec.masterUserSecret.secretArn);
      secret = '; its master user secret deleted';
    } catch (e) {
      log('error', 'rds master user secret not deleted', { instance: c.key, secret: rec.masterUserSecret.secretArn, error: (e as Error).message });
    }
  }
  return `deleted${snap}${secret}`;
}
