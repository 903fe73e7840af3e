/**
 * @module services/rds/supervisor
 * One reconciler per DB instance and the health loop that drives them.
 *
 * `reconcile` reads the instance's record and takes the step its status asks for (create, restart,
 * apply modifications, stop, start, delete), then returns a sentence saying what it decided. Steps are
 * idempotent and the status is persisted before and after each long action, so a Cellar killed mid-way
 * finds the same status on restart and runs the step again. One action runs at a time per instance;
 * other instances keep being served.
 *
 * The health loop ticks every `healthIntervalMs`: it notices hung engines (failed probes), full
 * storage, maintenance windows and the 7-day limit on stopped instances, and kicks the reconciler for
 * each. Crashed engines are restarted by the engine layer's EngineSupervisor (bounded restarts, see
 * driver.ts); its decisions arrive here as events that move the status (available → rebooting →
 * available, or failed when it gives up) with RDS's events.
 *
 * `available` means an engine this Cellar runs accepts connections: after a Cellar restart, instances read
 * `rebooting` until then (see takeOver).
 */
import { Scope } from '../../core/scope.js';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { log } from '../../core/log.js';
import { faultPoint } from '../../core/faults.js';
import type { Clock } from '../../core/clock.js';
import { withContext } from '../../core/errors.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import type { CellarConfig } from '../../config.js';
import { listenAddress, STOPPED_LIMIT_MS } from './describe.js';
import type { EngineEvent, EngineSpec, RdsEngineDriver } from './driver.js';
import { SEAL_AAD, type ReconcileTrigger } from './provider.js';
import { portKey, scopeKey, type InstanceRecord, type InstanceStatus, type RdsTables } from './records.js';
import { instanceSettings, sameSettings } from './settings.js';
import { classMemoryBytes, instanceClass } from './catalog.js';
import { InstanceEvents, InvalidTransition } from './status.js';
import { maintenanceWindowStartedBetween } from './validation.js';
import type { InstanceCertificates } from './tls.js';
import type { BackupWorker } from './backups/worker.js';

export interface SupervisorOptions {
  tables: RdsTables;
  events: InstanceEvents;
  driver: RdsEngineDriver;
  box: SecretBox;
  clock: Clock;
  config: CellarConfig;
  engineRoot: string;
  memoryScale: number;
  /** Bytes one GiB of AllocatedStorage stands for (1 GiB unless configured smaller for tests). */
  storageGiBBytes: number;
  healthIntervalMs: number;
  /** Deletes an instance's managed master secret when the instance goes (undefined without Secrets Manager). */
  deleteSecret?: (rec: InstanceRecord, secretArn: string) => void;
  /** Issues and renews the instances' TLS certificates (absent: engines run without TLS). */
  certificates?: InstanceCertificates;
  /** Backups, snapshots and restores (backups/worker.ts): the create, backing-up and delete steps call it. */
  backups: BackupWorker;
}

const STORAGE_CHECK_EVERY_MS = 2000;
const PROBE_EVERY_MS = 5000;
const PROBE_FAILURES_BEFORE_RESTART = 3;
/** Failed long actions (a start that does not come up, say) retried from the health loop before `failed`. */
const RESTART_ATTEMPTS_BEFORE_FAILED = 3;
/** Wait before retrying a failed action: doubling from this, so retries neither spin nor flood the logs. */
const RETRY_BACKOFF_MS = 1000;
const STOP_WAIT_FOR_ACTIONS_MS = 60_000;
/**
 * How often (by Cellar's clock) a running instance's TLS certificate is checked: certificates are renewed 30 days
 * before they expire, and an endpoint address can change under a running instance (a public instance whose host
 * address changed), so a check every few minutes is plenty.
 */
const TLS_CHECK_EVERY_MS = 10 * 60_000;

class Aborted extends Error {}

/** What an instance of an unknown class is given (as services/rds/settings.ts does). */
const DEFAULT_INSTANCE_MEMORY_BYTES = 256 * 1024 * 1024;

/** A running instance as the AWS/RDS metrics see it. */
export interface RdsMetricTarget {
  scope: Scope;
  id: string;
  spec: EngineSpec;
  /** The engine's main process. */
  pid: number;
  /** AllocatedStorage in bytes (as configured: storageGiBBytes per GiB). */
  allocatedBytes: number;
  /** The instance class's memory here (its AWS memory scaled by rds.memoryScale). */
  memoryBytes: number;
  /** What the instance directory occupied at the health loop's last storage check, if there was one. */
  usedBytes: number | undefined;
}

export class RdsSupervisor implements ReconcileTrigger {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  /** Instances this Cellar has attached to (adopted or started) since it started. */
  private readonly attached = new Set<string>();
  private readonly lastStorageCheckMs = new Map<string, number>();
  /** What each instance's directory occupied at its last storage check (the AWS/RDS FreeStorageSpace metric). */
  private readonly lastStorageUsedBytes = new Map<string, number>();
  private readonly lastProbeMs = new Map<string, number>();
  private readonly probeFailures = new Map<string, number>();
  private readonly restartFailures = new Map<string, number>();
  private readonly lastTlsCheckMs = new Map<string, number>();
  /** Wall-clock time before which the health loop leaves an instance whose last action failed alone (backoff). */
  private readonly retryNotBeforeMs = new Map<string, number>();
  /** Instances whose engine crashed and is being brought back by the engine supervisor. */
  private readonly crashRestarting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Cellar's stop is hurried: no waiting for actions in flight, engines stopped immediately. */
  private hurried = false;
  /** The last sentence each instance's reconciler returned (health output, tests). */
  readonly lastDecision = new Map<string, string>();

  constructor(private readonly o: SupervisorOptions) {
    o.driver.onEngineEvent((e) => this.onEngineEvent(e));
  }

  /** The engine supervisor's decisions become RDS statuses and events (RDS-EVENT-0004, 0006, 0022, 0031). */
  private onEngineEvent(e: EngineEvent): void {
    const now = this.now();
    this.lastDecision.set(e.key, e.sentence);
    try {
      this.o.tables.store.transaction(() => {
        const rec = this.o.tables.instances.get(e.key);
        if (!rec) return;
        if (e.kind === 'exited') {
          this.crashRestarting.add(e.key);
          if (rec.status !== 'available' && rec.status !== 'storage-full') return;
          this.o.events.emitInstance(rec, 'shutdown', now);
          this.o.events.transition(rec, 'rebooting', now);
        } else if (e.kind === 'restarted') {
          this.crashRestarting.delete(e.key);
          if (rec.status !== 'rebooting') return;
          // The engine came back with its stored parameter set, static ones included: that is a restart.
          rec.startedWithStatic = this.settings(rec).staticValues;
          this.o.events.transition(rec, rec.storageFull ? 'storage-full' : 'available', now);
        } else {
          this.crashRestarting.delete(e.key);
          if (rec.status === 'deleting' || rec.status === 'failed') return;
          this.o.events.emitInstance(rec, 'restartError', now, rec.engineKind, e.sentence.slice(0, 200));
          this.o.events.transition(rec, 'failed', now);
        }
        this.o.tables.instances.put(e.key, rec);
      });
    } catch (err) {
      log('error', 'rds engine event not recorded', { instance: e.key, event: e.kind, error: (err as Error).message });
    }
  }

  /**
   * Called once, before this Cellar answers any RDS request (assemble.ts). An instance the store says is available
   * (or storage-full) has no engine under this Cellar yet: either none runs (the previous Cellar stopped its engines
   * with it) or the previous Cellar died and left its engine running, which the engine layer stops and starts again
   * under this Cellar. Reported `available` meanwhile, the instance would take connections to that leftover and then
   * end them (57P01, "terminating connection due to administrator command"), or refuse them while it restarts; RDS
   * never does that to an available instance. So until this Cellar's own engine accepts connections, the instance is
   * `rebooting` (what RDS shows while it restarts an instance, for a customer or for its own reasons), and "DB
   * instance restarted" marks the end, as for any reboot.
   *
   * Why restart rather than adopt the leftover (which would spare the restart): it is not this Cellar's child, so its
   * exit could only be noticed by polling and its exit status never known, and once it dies PID 1 reaps it late,
   * leaving its lock behind (docs/engines.md); and the previous Cellar may have died between storing a configuration
   * and applying it, so what the leftover runs with is not known for sure. A restart under supervision is the one
   * path every other action already takes, and the status tells clients the truth while it happens.
   */
  takeOver(): void {
    const now = this.now();
    const taken = this.o.tables.store.transaction(() => {
      const keys: string[] = [];
      for (const [, rec] of this.o.tables.instances.list()) {
        // An instance a previous Cellar left `backing-up` lost that backup with it: the backup worker takes it again.
        if (rec.status !== 'available' && rec.status !== 'storage-full' && rec.status !== 'backing-up') continue;
        const key = scopeKey(Scope.ofRecord(rec), rec.id);
        this.o.events.transition(rec, 'rebooting', now);
        this.o.tables.instances.put(key, rec);
        keys.push(key);
      }
      return keys;
    });
    if (taken.length) log('info', 'rds instances rebooting until this Cellar runs their engines', { instances: taken });
  }

  start(): void {
    // Every instance gets a reconcile now: taken-over ones are restarted under this Cellar, stopped ones stay stopped.
    for (const [, rec] of this.o.tables.instances.list()) this.kick(Scope.ofRecord(rec), rec.id);
    this.timer = setInterval(() => this.tick(), this.o.healthIntervalMs);
    this.timer.unref();
    this.o.backups.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + STOP_WAIT_FOR_ACTIONS_MS;
    while (this.inFlight.size && !this.hurried && Date.now() < deadline) await Promise.race([...this.inFlight.values(), new Promise((r) => setTimeout(r, 100))]);
    await this.o.backups.stop(this.hurried);
    await this.o.driver.stopAll(this.hurried ? 'immediate' : 'fast');
  }

  /**
   * Cellar's stop is hurried (a second signal): stop() no longer waits for actions in flight and stops engines
   * immediately; engines already being stopped cleanly are escalated to an immediate stop.
   */
  hurry(): void {
    if (this.hurried) return;
    this.hurried = true;
    if (this.stopping) {
      this.o.driver.stopAll('immediate').catch((e: unknown) => log('error', 'rds engines did not stop', { error: (e as Error).message }));
    }
  }

  kick(scope: Scope, id: string): void {
    if (this.stopping) return;
    const key = scopeKey(scope, id);
    if (this.inFlight.has(key)) {
      this.again.add(key);
      return;
    }
    const run = (async () => {
      // Yield first: inFlight must hold this run before reconcile can kick the same instance again.
      await Promise.resolve();
      try {
        faultPoint('rds.reconcile');
        const sentence = await this.reconcile(key);
        if (sentence) {
          const prev = this.lastDecision.get(key);
          this.lastDecision.set(key, sentence);
          log(prev === sentence ? 'debug' : 'info', 'rds reconcile', { instance: key, decision: sentence });
        }
      } catch (e) {
        if (!(e instanceof Aborted)) log('error', 'rds reconcile failed', { instance: key, error: (e as Error).message });
      } finally {
        this.inFlight.delete(key);
        if (this.again.delete(key)) this.kick(scope, id);
      }
    })();
    this.inFlight.set(key, run);
  }

  /** One health tick: every instance not busy gets a reconcile, which checks its health. */
  private tick(): void {
    for (const [, rec] of this.o.tables.instances.list()) {
      const key = scopeKey(Scope.ofRecord(rec), rec.id);
      if ((this.retryNotBeforeMs.get(key) ?? 0) > Date.now()) continue;
      if (!this.inFlight.has(key)) this.kick(Scope.ofRecord(rec), rec.id);
    }
  }

  health(): Record<string, unknown> {
    const instances = [...this.o.tables.instances.list()].map(([, r]) => ({
      id: r.id,
      account: r.accountId,
      region: r.region,
      status: r.status,
      pid: this.o.driver.pid(this.spec(r)) ?? null,
      decision: this.lastDecision.get(scopeKey(Scope.ofRecord(r), r.id)) ?? null,
    }));
    return { instances, ...(this.o.certificates ? { tls: this.o.certificates.health() } : {}) };
  }

  /** The instances whose engines this Cellar runs now, for the AWS/RDS metrics (./metrics.ts). */
  metricTargets(): RdsMetricTarget[] {
    const out: RdsMetricTarget[] = [];
    for (const [, rec] of this.o.tables.instances.list()) {
      const spec = this.spec(rec);
      const pid = this.o.driver.pid(spec);
      if (pid === undefined || !this.o.driver.isRunning(spec)) continue;
      const cls = instanceClass(rec.instanceClass);
      out.push({
        scope: Scope.ofRecord(rec),
        id: rec.id,
        spec,
        pid,
        allocatedBytes: rec.allocatedStorageGiB * this.o.storageGiBBytes,
        memoryBytes: cls ? classMemoryBytes(cls, this.o.memoryScale) : DEFAULT_INSTANCE_MEMORY_BYTES,
        usedBytes: this.lastStorageUsedBytes.get(spec.key),
      });
    }
    return out;
  }

  spec(rec: InstanceRecord): EngineSpec {
    return {
      key: scopeKey(Scope.ofRecord(rec), rec.id),
      engine: rec.engine,
      masterUsername: rec.masterUsername,
      kind: rec.engineKind,
      version: rec.engineVersion,
      dataDir: rec.dataDir,
      port: rec.port,
      listenAddress: listenAddress(rec, this.o.config),
    };
  }

  private settings(rec: InstanceRecord) {
    const group = this.o.tables.parameterGroups.get(scopeKey(Scope.ofRecord(rec), rec.parameterGroupName));
    return instanceSettings(rec, group, this.o.memoryScale);
  }

  private now(): number {
    return this.o.clock.now();
  }

  /**
   * Changes the stored record if it is still in `expected` status; otherwise the API moved it on
   * (a delete during a create, say) and this step is abandoned for the next reconcile to handle.
   */
  private update(key: string, expected: InstanceStatus | readonly InstanceStatus[], fn: (rec: InstanceRecord) => void): InstanceRecord {
    return this.o.tables.store.transaction(() => {
      const cur = this.o.tables.instances.get(key);
      const ok = typeof expected === 'string' ? cur?.status === expected : cur && expected.includes(cur.status);
      if (!cur || !ok) throw new Aborted(`instance ${key} moved on to ${cur?.status ?? 'deleted'}`);
      fn(cur);
      this.o.tables.instances.put(key, cur);
      return cur;
    });
  }

  private async reconcile(key: string): Promise<string | undefined> {
    const rec = this.o.tables.instances.get(key);
    if (!rec) return undefined;
    try {
      switch (rec.status) {
        case 'creating':
          return await this.create(key, rec);
        case 'available':
        case 'storage-full':
          return await this.keepHealthy(key, rec);
        case 'backing-up':
          // The backup worker's job ends this status; the engine supervisor still watches the engine meanwhile.
          return `${rec.id} ${this.o.backups.whileBackingUp(key)}`;
        case 'modifying':
          return await this.modify(key, rec);
        case 'rebooting':
          return await this.reboot(key, rec);
        case 'resetting-master-credentials':
          return await this.resetCredentials(key, rec);
        case 'stopping':
          await this.o.driver.stop(this.spec(rec));
          this.attached.delete(key);
          this.update(key, 'stopping', (r) => {
            r.stoppedAtMs = this.now();
            this.o.events.transition(r, 'stopped', this.now());
          });
          return `${rec.id} stopped: engine shut down`;
        case 'stopped':
          return await this.keepStopped(key, rec);
        case 'starting':
          await this.startEngine(rec, true);
          this.update(key, 'starting', (r) => {
            r.stoppedAtMs = undefined;
            this.o.events.transition(r, r.storageFull ? 'storage-full' : 'available', this.now());
          });
          return `${rec.id} started: engine accepting connections on port ${rec.port}`;
        case 'deleting':
          return await this.delete(key, rec);
        case 'failed':
          return `${rec.id} failed: waiting for a reboot or delete`;
      }
    } catch (e) {
      if (e instanceof Aborted || e instanceof InvalidTransition) throw new Aborted(String(e));
      return this.fail(key, rec, e);
    }
  }

  /** A long action failed: retry a few times from the health loop, then mark the instance failed. */
  private fail(key: string, rec: InstanceRecord, e: unknown): string {
    const n = (this.restartFailures.get(key) ?? 0) + 1;
    this.restartFailures.set(key, n);
    const err = withContext(`${rec.status} ${rec.id}`, e);
    log('error', 'rds action failed', { instance: key, attempt: n, error: err.message });
    if (n >= RESTART_ATTEMPTS_BEFORE_FAILED || rec.status === 'creating') {
      try {
        this.update(key, rec.status, (r) => {
          if (r.status === 'deleting') {
            // The deletion could not finish (its final snapshot could not be taken): the instance is failed, its data
            // kept, and can be deleted again (with another snapshot identifier, or skipping it) or rebooted.
            if (r.finalSnapshotId) this.o.events.emitInstance(r, 'finalSnapshotFailed', this.now(), r.finalSnapshotId);
            delete r.finalSnapshotId;
            r.desiredRunning = false;
          } else if (r.status !== 'creating') this.o.events.emitInstance(r, 'restartError', this.now(), r.engineKind, (e as Error).message.slice(0, 200));
          this.o.events.transition(r, 'failed', this.now());
        });
      } catch {
        // moved on meanwhile
      }
      this.restartFailures.delete(key);
      this.retryNotBeforeMs.delete(key);
      return `${rec.id} failed: ${err.message}`;
    }
    const backoffMs = RETRY_BACKOFF_MS * 2 ** (n - 1);
    this.retryNotBeforeMs.set(key, Date.now() + backoffMs);
    return `${rec.id}: ${err.message}; will retry in ${backoffMs} ms (attempt ${n} of ${RESTART_ATTEMPTS_BEFORE_FAILED})`;
  }

  private async create(key: string, rec: InstanceRecord): Promise<string> {
    this.ensureParents(rec);
    const s = this.settings(rec);
    let restored = '';
    if (rec.restore) {
      // A restore: the instance directory is built from the backup, then started like any other.
      restored = `; ${await this.o.backups.restoreInto(rec, rec.restore)}`;
      await this.ensureTls(key, rec, this.spec(rec));
      await this.o.driver.start(this.spec(rec), s.values);
    } else {
      const password = this.o.box.openString(rec.masterPasswordSealed, SEAL_AAD);
      // The certificate is in place before the first start, so the engine serves TLS from its first connection.
      await this.ensureTls(key, rec, this.spec(rec));
      await this.o.driver.initialise(this.spec(rec), { username: rec.masterUsername, password, dbName: rec.dbName }, s.values);
    }
    this.attached.add(key);
    this.update(key, 'creating', (r) => {
      if (r.masterUserSecret) r.masterUserSecret.status = 'active';
      r.startedWithStatic = s.staticValues;
      r.appliedDynamic = s.dynamicValues;
      if (r.restore) this.o.backups.restoredEvent(r, r.restore);
      delete r.restore;
      // The first automated backup follows at once (RDS shows `backing-up` then).
      this.o.events.transition(r, this.o.backups.statusAfterCreate(r), this.now());
    });
    return `${rec.id} created: ${rec.engine} ${rec.engineVersion} accepting connections on port ${rec.port}${restored}`;
  }

  /** Engine directories must be reachable by the unprivileged engine user (see docs/rds.md). */
  private ensureParents(rec: InstanceRecord): void {
    mkdirSync(join(this.o.engineRoot, rec.accountId, rec.region), { recursive: true, mode: 0o711 });
  }

  /** Starts the engine with the current desired settings (static ones included) and records them. */
  private async startEngine(rec: InstanceRecord, restart: boolean): Promise<void> {
    const spec = this.spec(rec);
    if (restart) await this.o.driver.stop(spec);
    // Every start serves a current certificate for the current endpoint (an address change restarts the engine).
    await this.ensureTls(spec.key, rec, spec);
    const s = this.settings(rec);
    await this.o.driver.start(spec, s.values);
    this.attached.add(spec.key);
    this.crashRestarting.delete(spec.key);
    this.probeFailures.delete(spec.key);
    this.restartFailures.delete(spec.key);
    this.retryNotBeforeMs.delete(spec.key);
    const key = spec.key;
    this.o.tables.store.transaction(() => {
      const cur = this.o.tables.instances.get(key);
      if (!cur) return;
      cur.startedWithStatic = s.staticValues;
      cur.appliedDynamic = s.dynamicValues;
      this.o.tables.instances.put(key, cur);
    });
  }

  private async keepHealthy(key: string, rec: InstanceRecord): Promise<string> {
    const spec = this.spec(rec);
    const now = this.now();
    if (!this.attached.has(key)) {
      // Available without an engine of this Cellar (takeOver covers the instances there were at startup; an action
      // that ends in `available` without starting the engine can bring one here): never served as available like
      // that, it is taken over the same way.
      this.update(key, ['available', 'storage-full'], (r) => this.o.events.transition(r, 'rebooting', now));
      this.kick(Scope.ofRecord(rec), rec.id);
      return `${rec.id}: engine not yet under this Cellar; rebooting to take it over`;
    }
    if (this.o.driver.isRestarting(spec)) return `${rec.id}: engine crashed; the engine supervisor is restarting it`;
    if (!this.o.driver.isRunning(spec)) {
      // Not running and nobody bringing it back (its supervisor stopped watching): restart it as a reboot.
      this.update(key, ['available', 'storage-full'], (r) => {
        this.o.events.emitInstance(r, 'shutdown', now);
        this.o.events.transition(r, 'rebooting', now);
      });
      this.kick(Scope.ofRecord(rec), rec.id);
      return `${rec.id}: engine not running; restarting it`;
    }
    // A hung engine (alive but not answering) is restarted after a few failed probes.
    if (now - (this.lastProbeMs.get(key) ?? 0) >= PROBE_EVERY_MS) {
      this.lastProbeMs.set(key, now);
      if (!(await this.o.driver.probe(spec))) {
        const n = (this.probeFailures.get(key) ?? 0) + 1;
        this.probeFailures.set(key, n);
        if (n >= PROBE_FAILURES_BEFORE_RESTART) {
          // A restart: the engine's own init regains Cellar's access if the master took it (MariaDB's init file).
          this.update(key, ['available', 'storage-full'], (r) => {
            this.o.events.emitInstance(r, 'shutdown', now);
            this.o.events.transition(r, 'rebooting', now);
          });
          this.kick(Scope.ofRecord(rec), rec.id);
          return `${rec.id}: engine did not answer ${n} probes; restarting it`;
        }
        return `${rec.id}: engine did not answer a probe (${n} of ${PROBE_FAILURES_BEFORE_RESTART})`;
      }
      this.probeFailures.delete(key);
    }
    const storage = await this.checkStorage(key, rec, spec);
    if (storage) return storage;
    if (now - (this.lastTlsCheckMs.get(key) ?? 0) >= TLS_CHECK_EVERY_MS) {
      const renewed = await this.ensureTls(key, rec, spec);
      if (renewed) return `${rec.id}: ${renewed}`;
    }
    const applied = await this.applyDynamic(key, rec, spec);
    if (applied) return applied;
    // Pending modifications wait for the maintenance window (the injectable clock may jump over it).
    const last = rec.lastMaintenanceCheckMs ?? now;
    const hasPending = Boolean(rec.pending.DBInstanceClass || rec.pending.AllocatedStorage);
    if (hasPending && maintenanceWindowStartedBetween(rec.preferredMaintenanceWindow, last, now)) {
      this.update(key, ['available', 'storage-full'], (r) => {
        r.applying = { ...r.pending, MasterUserPasswordSealed: undefined };
        r.pending = r.pending.MasterUserPasswordSealed ? { MasterUserPasswordSealed: r.pending.MasterUserPasswordSealed } : {};
        r.lastMaintenanceCheckMs = now;
        this.o.events.transition(r, 'modifying', now);
      });
      this.kick(Scope.ofRecord(rec), rec.id);
      return `${rec.id}: maintenance window ${rec.preferredMaintenanceWindow} began; applying pending modifications`;
    }
    if (now - last > 60_000 || !hasPending) {
      this.update(key, ['available', 'storage-full'], (r) => {
        r.lastMaintenanceCheckMs = now;
      });
    }
    return `${rec.id} ${rec.status}: engine running (pid ${this.o.driver.pid(spec)}), nothing to do`;
  }

  /**
   * Issues or renews the instance's TLS certificate when it needs one. Background work: a failure is logged and left
   * for the next check (the engine keeps the certificate it has, or runs without TLS), never fails the instance.
   */
  private async ensureTls(key: string, rec: InstanceRecord, spec: EngineSpec): Promise<string | undefined> {
    if (!this.o.certificates) return undefined;
    this.lastTlsCheckMs.set(key, this.now());
    try {
      const { sentence, validTillMs } = await this.o.certificates.ensure(rec, spec);
      if (sentence) log('info', 'rds tls certificate', { instance: key, decision: sentence });
      if (validTillMs !== undefined && validTillMs !== rec.tlsValidTillMs) {
        this.o.tables.store.transaction(() => {
          const cur = this.o.tables.instances.get(key);
          if (!cur) return;
          cur.tlsValidTillMs = validTillMs;
          this.o.tables.instances.put(key, cur);
        });
      }
      return sentence;
    } catch (e) {
      const message = `TLS certificate not renewed: ${(e as Error).message}; retrying in ${TLS_CHECK_EVERY_MS / 60_000} minutes`;
      log('error', 'rds tls certificate failed', { instance: key, error: (e as Error).message });
      return message;
    }
  }

  /** Full storage makes the engine read-only (status storage-full); more storage lifts it. */
  private async checkStorage(key: string, rec: InstanceRecord, spec: EngineSpec): Promise<string | undefined> {
    const now = this.now();
    if (!rec.storageFull && now - (this.lastStorageCheckMs.get(key) ?? 0) < STORAGE_CHECK_EVERY_MS) return undefined;
    this.lastStorageCheckMs.set(key, now);
    const used = await this.o.driver.storageUsedBytes(spec);
    this.lastStorageUsedBytes.set(key, used);
    const limit = rec.allocatedStorageGiB * this.o.storageGiBBytes;
    const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
    if (!rec.storageFull && used >= limit) {
      const cur = this.update(key, 'available', (r) => {
        r.storageFull = true;
        this.o.events.transition(r, 'storage-full', now);
      });
      const s = this.settings(cur);
      await this.o.driver.applySettings(spec, s.values);
      this.update(key, 'storage-full', (r) => {
        r.appliedDynamic = s.dynamicValues;
      });
      return `${rec.id}: ${mib(used)} used of ${mib(limit)} allocated; storage full, engine made read-only`;
    }
    if (rec.storageFull && used < limit) {
      const cur = this.update(key, 'storage-full', (r) => {
        r.storageFull = false;
      });
      const s = this.settings(cur);
      await this.o.driver.applySettings(spec, s.values);
      this.update(key, 'storage-full', (r) => {
        r.appliedDynamic = s.dynamicValues;
        this.o.events.transition(r, 'available', now);
      });
      return `${rec.id}: ${mib(used)} used of ${mib(limit)} allocated; writes allowed again`;
    }
    return undefined;
  }

  private async applyDynamic(key: string, rec: InstanceRecord, spec: EngineSpec): Promise<string | undefined> {
    const s = this.settings(rec);
    if (sameSettings(rec.appliedDynamic, s.dynamicValues)) return undefined;
    await this.o.driver.applySettings(spec, s.values);
    this.update(key, ['available', 'storage-full'], (r) => {
      r.appliedDynamic = s.dynamicValues;
      this.o.events.emitInstance(r, 'parameterGroupApplied', this.now());
    });
    return `${rec.id}: applied dynamic parameters of ${rec.parameterGroupName}`;
  }

  private async modify(key: string, rec: InstanceRecord): Promise<string> {
    const a = rec.applying ?? {};
    const now = this.now();
    const did: string[] = [];
    let cur = rec;
    if (a.DBInstanceClass && a.DBInstanceClass !== rec.instanceClass) {
      cur = this.update(key, 'modifying', (r) => {
        this.o.events.emitInstance(r, 'applyingClass', now);
        r.instanceClass = a.DBInstanceClass!;
      });
      did.push(`class ${a.DBInstanceClass}`);
    }
    if (a.AllocatedStorage && a.AllocatedStorage !== rec.allocatedStorageGiB) {
      cur = this.update(key, 'modifying', (r) => {
        this.o.events.emitInstance(r, 'applyingStorage', now);
        r.allocatedStorageGiB = a.AllocatedStorage!;
      });
      did.push(`storage ${a.AllocatedStorage} GiB`);
    }
    // A class change needs a restart (new memory settings); so do port and public-access changes.
    const spec = this.spec(cur);
    const needsRestart = Boolean(a.DBInstanceClass) || !this.o.driver.isRunning(spec) || did.length === 0;
    if (needsRestart) await this.startEngine(cur, true);
    this.update(key, 'modifying', (r) => {
      if (a.DBInstanceClass) this.o.events.emitInstance(r, 'finishedClass', this.now());
      if (a.AllocatedStorage) this.o.events.emitInstance(r, 'finishedStorage', this.now());
      r.applying = undefined;
      this.o.events.transition(r, r.storageFull ? 'storage-full' : 'available', this.now());
    });
    // Re-check storage at once: more storage may lift storage-full.
    this.lastStorageCheckMs.delete(key);
    this.lastStorageUsedBytes.delete(key);
    this.kick(Scope.ofRecord(rec), rec.id);
    return `${rec.id}: applied ${did.length ? did.join(', ') : 'network settings'}${needsRestart ? ' with a restart' : ''}`;
  }

  private async reboot(key: string, rec: InstanceRecord): Promise<string> {
    // After a crash the engine supervisor brings the engine back and reports it (onEngineEvent).
    if (this.crashRestarting.has(key) || this.o.driver.isRestarting(this.spec(rec))) return `${rec.id} rebooting: the engine supervisor is restarting the crashed engine`;
    // A reboot restarts the engine with the instance's current settings (so static parameters waiting for it take
    // effect) and leaves modifications queued for the maintenance window queued: RDS applies those in the window, or
    // at once when a later ModifyDBInstance says ApplyImmediately, never because of a reboot. The same holds for the
    // restart by which a new Cellar takes an engine over (takeOver).
    this.ensureParents(rec);
    await this.startEngine(rec, true);
    this.update(key, 'rebooting', (r) => this.o.events.transition(r, r.storageFull ? 'storage-full' : 'available', this.now()));
    this.lastStorageCheckMs.delete(key);
    this.lastStorageUsedBytes.delete(key);
    return `${rec.id} rebooted: engine restarted on port ${rec.port}`;
  }

  private async resetCredentials(key: string, rec: InstanceRecord): Promise<string> {
    const sealed = rec.pending.MasterUserPasswordSealed;
    const back = rec.storageFull ? 'storage-full' : 'available';
    if (!sealed) {
      this.update(key, 'resetting-master-credentials', (r) => this.o.events.transition(r, back, this.now()));
      return `${rec.id}: no password change pending`;
    }
    const spec = this.spec(rec);
    if (!this.o.driver.isRunning(spec)) await this.startEngine(rec, false);
    await this.o.driver.setMasterPassword(spec, rec.masterUsername, this.o.box.openString(sealed, SEAL_AAD));
    this.update(key, 'resetting-master-credentials', (r) => {
      r.masterPasswordSealed = sealed;
      delete r.pending.MasterUserPasswordSealed;
      // A secret made by ModifyDBInstance ManageMasterUserPassword=true is in use once the engine has its password.
      if (r.masterUserSecret?.status === 'creating') r.masterUserSecret.status = 'active';
      this.o.events.emitInstance(r, 'resetCredentials', this.now());
      this.o.events.transition(r, back, this.now());
    });
    return `${rec.id}: master password changed`;
  }

  private async keepStopped(key: string, rec: InstanceRecord): Promise<string> {
    const spec = this.spec(rec);
    if (!this.attached.has(key)) {
      // After a Cellar restart: an engine a previous Cellar left running for a stopped instance is stopped.
      await this.o.driver.stop(spec);
      this.attached.add(key);
    }
    const now = this.now();
    if (rec.stoppedAtMs !== undefined && now - rec.stoppedAtMs >= STOPPED_LIMIT_MS) {
      this.update(key, 'stopped', (r) => {
        this.o.events.emitInstance(r, 'autoStarted', now);
        r.desiredRunning = true;
        this.o.events.transition(r, 'starting', now);
      });
      this.kick(Scope.ofRecord(rec), rec.id);
      return `${rec.id}: stopped for 7 days; starting it, as RDS does`;
    }
    return `${rec.id} stopped: engine not running`;
  }

  private async delete(key: string, rec: InstanceRecord): Promise<string> {
    const spec = this.spec(rec);
    let snap = '';
    if (rec.finalSnapshotId && this.o.backups.canBackUp(rec)) {
      // The final snapshot is a backup of the running engine, by its own tool, before it stops for good.
      if (!this.o.driver.isRunning(spec)) await this.startEngine(rec, false);
      await this.o.backups.takeFinalSnapshot(rec, rec.finalSnapshotId);
      snap = `; final snapshot ${rec.finalSnapshotId} taken`;
    }
    await this.o.driver.stop(spec);
    await this.o.backups.afterEngineStopped(rec);
    if (rec.finalSnapshotId && !snap) {
      // An engine that cannot back up here yet: the stopped data directory is copied (restorable by no restore).
      faultPoint('rds.snapshot');
      const dest = join(this.o.engineRoot, 'snapshots', rec.accountId, rec.region);
      mkdirSync(dest, { recursive: true, mode: 0o700 });
      const target = join(dest, snapshotDirName(rec, rec.finalSnapshotId));
      await this.o.driver.copyDataDir(spec, target);
      this.o.tables.snapshots.put(scopeKey(Scope.ofRecord(rec), rec.finalSnapshotId), {
        id: rec.finalSnapshotId,
        dir: target,
        ...(rec.kmsKeyId ? { kmsKeyId: rec.kmsKeyId } : {}),
        instanceId: rec.id,
        createdAtMs: this.now(),
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
    await this.o.driver.destroy(spec);
    this.o.tables.store.transaction(() => {
      const cur = this.o.tables.instances.get(key);
      if (!cur || cur.status !== 'deleting') return;
      this.o.tables.instances.delete(key);
      const owner = this.o.tables.ports.get(portKey(cur.port));
      if (owner && owner.instanceId === cur.id && owner.accountId === cur.accountId && owner.region === cur.region) this.o.tables.ports.delete(portKey(cur.port));
      this.o.events.emitInstance(cur, 'deleted', this.now());
    });
    this.attached.delete(key);
    this.lastDecision.delete(key);
    this.lastTlsCheckMs.delete(key);
    // RDS deletes the managed master secret with the instance.
    let secret = '';
    if (rec.masterUserSecret && this.o.deleteSecret) {
      try {
        this.o.deleteSecret(rec, rec.masterUserSecret.secretArn);
        secret = '; its master user secret deleted';
      } catch (e) {
        log('error', 'rds master user secret not deleted', { instance: key, secret: rec.masterUserSecret.secretArn, error: (e as Error).message });
      }
    }
    return `${rec.id} deleted${snap}${secret}`;
  }
}

/**
 * A snapshot's directory name: fixed-length, made of the scope and the snapshot identifier, so that no identifier RDS
 * accepts (up to 255 characters) can make a path component longer than the file system's NAME_MAX (255 bytes, with
 * the copy's `.partial` suffix on top).
 */
export function snapshotDirName(scope: { accountId: string; region: string }, snapshotId: string): string {
  return `snap-${createHash('sha256').update(`${scope.accountId}/${scope.region}/${snapshotId}`).digest('hex').slice(0, 40)}`;
}
