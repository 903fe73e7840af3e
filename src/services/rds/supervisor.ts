/**
 * @module services/rds/supervisor
 * DB instances on the reconcile runtime (src/runtime/): one reconciler per instance running the ensure-steps of
 * instance-steps.ts, one health decider per instance (the only one that decides about a failing engine), and the
 * loop that schedules them.
 *
 * The API writes only the desired state (provider.ts); the steps write only what they observed; the status is
 * derived from the two by the runtime's transition table, in `observe` (status.ts `settle`), which also emits RDS's
 * events for each move. Observations about engines are this process's own: a Cellar that starts finds every engine
 * `detached` (takeOver), so an instance reads `rebooting` until this Cellar's engine accepts connections.
 *
 * One reconcile runs at a time per instance; other instances keep being served. A step that throws is retried from
 * the health loop with a doubling backoff, and after a few attempts (at once, for a creation) the instance is
 * `failed` until the user reboots or deletes it. Crashed and hung engines are the decider's: the engine layer only
 * reports exits (driver.ts), the decider decides restart / wait / give up within its bounds, and ensureProcess acts.
 */
import { Scope } from '../../core/scope.js';
import { log } from '../../core/log.js';
import { faultPoint } from '../../core/faults.js';
import { withContext } from '../../core/errors.js';
import { HealthDecider, type Decision, type ProbeOutcome } from '../../runtime/decider.js';
import { acted, done, halt, MovedOn, ReconcileLoop, runSteps, type StepOutcome } from '../../runtime/reconciler.js';
import { primary } from '../../runtime/resource.js';
import { classMemoryBytes, instanceClass } from './catalog.js';
import { listenAddress } from './describe.js';
import type { EngineEvent, MemberEngine } from './driver.js';
import { instanceSteps, type EnsureBackups, type InstanceReconcile, type InstanceStep, type InstanceStepOptions, type InstanceSupervisor } from './instance-steps.js';
import type { ReconcileTrigger } from './resources.js';
import { scopeKey, type InstanceRecord } from './records.js';
import { instanceSettings, type InstanceSettings } from './settings.js';

export interface SupervisorOptions extends InstanceStepOptions {
  memoryScale: number;
  healthIntervalMs: number;
  /**
   * The automated-backups step (services/rds/backups); absent: the slot reports that nobody manages backups. It runs
   * inside the instance's reconcile, after the engine is up: long work (a base backup) belongs in a background job it
   * starts, which records its progress with `observeKey` (observed.backingUp makes the status `backing-up`), so the
   * reconcile, and the health decider in it, are never held up by a backup.
   */
  ensureBackups?: EnsureBackups;
}

/** Failed reconciles (a start that does not come up, say) retried from the health loop before `failed`. */
const ATTEMPTS_BEFORE_FAILED = 3;
/** Wait before retrying a failed reconcile: doubling from this, so retries neither spin nor flood the logs. */
const RETRY_BACKOFF_MS = 1000;
const STOP_WAIT_FOR_ACTIONS_MS = 60_000;
/** Crash restarts allowed per instance within the window before the instance is `failed`. */
const MAX_CRASH_RESTARTS = 3;
/** Restarts of a hung engine (probes unanswered, e.g. its admin account taken away) allowed within the window. */
const MAX_HANG_RESTARTS = 10;
const CRASH_WINDOW_MS = 10 * 60_000;
const PROBE_EVERY_MS = 5000;
const PROBE_FAILURES_BEFORE_RESTART = 3;
/** Events older than RDS's 14 days are pruned this often (they are also pruned as they are written). */
const EVENT_PRUNE_EVERY_MS = 3600_000;

/** What an instance of an unknown class is given (as services/rds/settings.ts does). */
const DEFAULT_INSTANCE_MEMORY_BYTES = 256 * 1024 * 1024;

/** A running instance as the AWS/RDS metrics see it. */
export interface RdsMetricTarget {
  scope: Scope;
  id: string;
  spec: MemberEngine;
  /** The engine's main process. */
  pid: number;
  /** AllocatedStorage in bytes (as configured: storageGiBBytes per GiB). */
  allocatedBytes: number;
  /** The instance class's memory here (its AWS memory scaled by rds.memoryScale). */
  memoryBytes: number;
  /** What the instance directory occupied at the health loop's last storage check, if there was one. */
  usedBytes: number | undefined;
}

export class RdsSupervisor implements ReconcileTrigger, InstanceSupervisor {
  /** Instances whose engine this Cellar has attached to (adopted, started or stopped) since it started. */
  readonly attached = new Set<string>();
  readonly lastStorageCheckMs = new Map<string, number>();
  /** What each instance's directory occupied at its last storage check (the AWS/RDS FreeStorageSpace metric). */
  readonly lastStorageUsedBytes = new Map<string, number>();
  readonly lastTlsCheckMs = new Map<string, number>();
  private readonly deciders = new Map<string, HealthDecider>();
  private readonly failures = new Map<string, number>();
  private readonly loop: ReconcileLoop;
  private readonly steps: InstanceStep[];
  private stopping = false;
  /** Cellar's stop is hurried: no waiting for actions in flight, engines stopped immediately. */
  private hurried = false;
  private lastEventPruneMs = 0;

  constructor(readonly options: SupervisorOptions) {
    options.driver.onEngineEvent((e) => this.onEngineExit(e));
    this.steps = instanceSteps(this, options.ensureBackups);
    this.loop = new ReconcileLoop({
      name: 'rds',
      reconcile: (key) => this.reconcile(key),
      keys: () => this.options.tables.instances.list().map(([key]) => key),
      intervalMs: options.healthIntervalMs,
      onTick: () => this.pruneEvents(),
    });
  }

  /** The last sentence each instance's reconciler returned (health output, tests). */
  get lastDecision(): ReadonlyMap<string, string> {
    return this.loop.lastDecision;
  }

  /** The instance's one health decider. */
  decider(key: string): HealthDecider {
    let d = this.deciders.get(key);
    if (!d) {
      const rec = this.options.tables.instances.get(key);
      d = new HealthDecider(rec ? `${rec.engineKind} ${rec.id}` : key, {
        maxRestarts: MAX_CRASH_RESTARTS,
        maxHangRestarts: MAX_HANG_RESTARTS,
        maxFailedRestarts: ATTEMPTS_BEFORE_FAILED,
        windowMs: CRASH_WINDOW_MS,
        initialBackoffMs: RETRY_BACKOFF_MS,
        probeEveryMs: PROBE_EVERY_MS,
        probeFailuresBeforeRestart: PROBE_FAILURES_BEFORE_RESTART,
        clock: this.options.clock,
      });
      this.deciders.set(key, d);
    }
    return d;
  }

  /** An engine exited unexpectedly: an observation (the status shows it at once), then the decider's turn. */
  private onEngineExit(e: EngineEvent): void {
    this.decider(e.key).noteExit(e.detail);
    try {
      this.options.tables.store.transaction(() => {
        const rec = this.options.tables.instances.get(e.key);
        if (!rec || rec.observed.engine !== 'running') return;
        rec.observed.engine = 'down';
        this.options.events.settle(rec, this.now());
        this.options.tables.instances.put(e.key, rec);
      });
    } catch (err) {
      log('error', 'rds engine exit not recorded', { instance: e.key, error: (err as Error).message });
    }
    this.loop.backOff(e.key, undefined);
    this.loop.kick(e.key);
  }

  /** Probe: is the engine alive and answering a real query (bounded by the driver's timeout; never throws). */
  async probe(spec: MemberEngine): Promise<ProbeOutcome> {
    if (!this.options.driver.isRunning(spec)) return { ok: false, reason: 'not running' };
    return (await this.options.driver.probe(spec).catch(() => false)) ? { ok: true } : { ok: false, reason: 'no answer to a query' };
  }

  /** Act on the decider's decision (ensureHealth). */
  actOnHealth(c: InstanceReconcile, d: Decision): StepOutcome {
    switch (d.action) {
      case 'none':
        return done(d.sentence);
      case 'wait':
        this.kickLater(c.key, d.retryInMs);
        return halt(d.sentence);
      case 'restart':
        if (c.rec.observed.engine === 'running') this.observe(c, (r) => (r.observed.engine = 'down'));
        // ensureProcess, next, brings it back.
        return acted(d.sentence);
      case 'give-up':
        this.observe(c, (r) => {
          this.options.events.emitInstance(r, 'restartError', this.now(), r.engineKind, d.sentence.slice(0, 200));
          r.observed.engine = 'down';
          r.observed.failed = { generation: r.desired.generation, reason: d.sentence };
        });
        return acted(d.sentence, 'stop');
    }
  }

  /**
   * Writes what a step observed: reads the record afresh, applies fn, derives the status (emitting its events) and
   * stores it, all in one transaction; c.rec becomes the new record. The instance deleted meanwhile ends the reconcile.
   */
  observe(c: InstanceReconcile, fn: (rec: InstanceRecord) => void): InstanceRecord {
    const rec = this.options.tables.store.transaction(() => {
      const cur = this.options.tables.instances.get(c.key);
      if (!cur) throw new MovedOn(`instance ${c.key} is gone`);
      fn(cur);
      this.options.events.settle(cur, this.now());
      this.options.tables.instances.put(c.key, cur);
      return cur;
    });
    c.rec = rec;
    return rec;
  }

  /** `observe` outside a reconcile (a background job's result): undefined when the instance is gone. */
  observeKey(key: string, fn: (rec: InstanceRecord) => void): InstanceRecord | undefined {
    const rec = this.options.tables.instances.get(key);
    if (!rec) return undefined;
    try {
      return this.observe({ key, rec, spec: this.spec(rec) }, fn);
    } catch (e) {
      if (e instanceof MovedOn) return undefined;
      throw e;
    }
  }

  /**
   * Called once, before this Cellar answers any RDS request (assemble.ts). What a previous Cellar process observed
   * of engines is stale: an instance the store says runs has no engine under this Cellar yet. Either none runs (the
   * previous Cellar stopped its engines with it) or the previous Cellar died and left its engine running, which the
   * engine layer stops and starts again under this Cellar. Reported `available` meanwhile, the instance would take
   * connections to that leftover and then end them (57P01, "terminating connection due to administrator command"),
   * or refuse them while it restarts; RDS never does that to an available instance. So every engine observation
   * becomes `detached`, the transition table says `rebooting`, and "DB instance restarted" marks the end.
   *
   * Why restart rather than adopt the leftover (which would spare the restart): it is not this Cellar's child, so its
   * exit could only be noticed by polling and its exit status never known, and once it dies PID 1 reaps it late,
   * leaving its lock behind (docs/engines.md); and the previous Cellar may have died between storing a configuration
   * and applying it, so what the leftover runs with is not known for sure. A restart under supervision is the one
   * path every other action already takes, and the status tells clients the truth while it happens.
   *
   * Records stored in an older shape are written back migrated (records.ts migrateInstance).
   */
  takeOver(): void {
    const now = this.now();
    const taken = this.options.tables.store.transaction(() => {
      const keys: string[] = [];
      for (const [key, rec] of this.options.tables.instances.list()) {
        if (rec.observed.engine === 'running' || rec.observed.engine === 'down') {
          rec.observed.engine = 'detached';
          keys.push(key);
        }
        // A backup in progress died with the previous process; ensureBackups decides afresh.
        delete rec.observed.backingUp;
        this.options.events.settle(rec, now);
        this.options.tables.instances.put(key, rec);
      }
      return keys;
    });
    if (taken.length) log('info', 'rds instances rebooting until this Cellar runs their engines', { instances: taken });
  }

  start(): void {
    this.loop.start();
    this.options.backups?.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop.stop(STOP_WAIT_FOR_ACTIONS_MS, () => this.hurried);
    await this.options.backups?.stop(this.hurried);
    await this.options.driver.stopAll(this.hurried ? 'immediate' : 'fast');
  }

  /**
   * Cellar's stop is hurried (a second signal): stop() no longer waits for actions in flight and stops engines
   * immediately; engines already being stopped cleanly are escalated to an immediate stop.
   */
  hurry(): void {
    if (this.hurried) return;
    this.hurried = true;
    if (this.stopping) {
      this.options.driver.stopAll('immediate').catch((e: unknown) => log('error', 'rds engines did not stop', { error: (e as Error).message }));
    }
  }

  kick(scope: Scope, id: string): void {
    this.loop.kick(scopeKey(scope, id));
  }

  /** A reconcile after `ms` (a backoff the decider asked for), bounded: one timer, unref'd. */
  kickLater(key: string, ms: number): void {
    const t = setTimeout(() => this.loop.kick(key), Math.max(0, ms));
    t.unref();
  }

  clearFailures(key: string): void {
    this.failures.delete(key);
    this.loop.backOff(key, undefined);
  }

  /** The instance is gone: its in-memory state goes too. */
  forget(key: string): void {
    this.attached.delete(key);
    this.deciders.delete(key);
    this.failures.delete(key);
    this.lastStorageCheckMs.delete(key);
    this.lastStorageUsedBytes.delete(key);
    this.lastTlsCheckMs.delete(key);
    this.loop.forget(key);
  }

  health(): Record<string, unknown> {
    const instances = this.options.tables.instances.list().map(([key, r]) => ({
      id: r.id,
      account: r.accountId,
      region: r.region,
      status: r.status,
      generation: { desired: r.desired.generation, observed: r.observed.generation },
      engine: r.observed.engine,
      members: r.members,
      pid: this.options.driver.pid(this.spec(r)) ?? null,
      decider: this.deciders.get(key)?.state ?? 'healthy',
      decision: this.loop.lastDecision.get(key) ?? null,
    }));
    return { instances, ...(this.options.certificates ? { tls: this.options.certificates.health() } : {}) };
  }

  /** The instances whose engines this Cellar runs now, for the AWS/RDS metrics (./metrics.ts). */
  metricTargets(): RdsMetricTarget[] {
    const out: RdsMetricTarget[] = [];
    for (const [, rec] of this.options.tables.instances.list()) {
      const spec = this.spec(rec);
      const pid = this.options.driver.pid(spec);
      if (pid === undefined || !this.options.driver.isRunning(spec)) continue;
      const cls = instanceClass(rec.instanceClass);
      out.push({
        scope: Scope.ofRecord(rec),
        id: rec.id,
        spec,
        pid,
        allocatedBytes: rec.allocatedStorageGiB * this.options.storageGiBBytes,
        memoryBytes: cls ? classMemoryBytes(cls, this.options.memoryScale) : DEFAULT_INSTANCE_MEMORY_BYTES,
        usedBytes: this.lastStorageUsedBytes.get(spec.key),
      });
    }
    return out;
  }

  /** The engine of the instance's primary member. */
  spec(rec: InstanceRecord): MemberEngine {
    const m = primary(rec);
    return {
      key: scopeKey(Scope.ofRecord(rec), rec.id),
      engine: rec.engine,
      masterUsername: rec.masterUsername,
      kind: rec.engineKind,
      version: rec.engineVersion,
      dataDir: m.dataDir,
      port: m.port,
      // The config decides the public address; ensureMembers keeps the member's host in step with it.
      listenAddress: listenAddress(rec, this.options.config),
    };
  }

  settings(rec: InstanceRecord): InstanceSettings {
    const group = this.options.tables.parameterGroups.get(scopeKey(Scope.ofRecord(rec), rec.parameterGroupName));
    return instanceSettings(rec, group, this.options.memoryScale);
  }

  private now(): number {
    return this.options.clock.now();
  }

  private pruneEvents(): void {
    const now = this.now();
    if (now - this.lastEventPruneMs < EVENT_PRUNE_EVERY_MS) return;
    this.lastEventPruneMs = now;
    const n = this.options.events.log.pruneAll(now);
    if (n) log('info', 'rds events pruned', { count: n });
  }

  private async reconcile(key: string): Promise<string | undefined> {
    const rec = this.options.tables.instances.get(key);
    if (!rec) return undefined;
    const sup = this;
    const c: InstanceReconcile = {
      key,
      rec,
      get spec() {
        return sup.spec(this.rec);
      },
    };
    const generation = rec.desired.generation;
    // Outside the failure handling: an injected fault here fails the reconcile, not the instance.
    faultPoint('rds.reconcile');
    try {
      const result = await runSteps(rec.id, this.steps, c, (_step, sentence) => {
        // A step that acted says so in the instance's events too (Cellar's words, category notification).
        const cur = this.options.tables.instances.get(key);
        if (cur) this.options.events.emitMessage(cur, sentence, 'notification', this.now());
      });
      if (result.converged) {
        this.clearFailures(key);
        if (c.rec.observed.generation !== generation) this.observe(c, (r) => (r.observed.generation = Math.max(r.observed.generation, generation)));
      }
      // The desired state moved while the steps ran: look again.
      const now = this.options.tables.instances.get(key);
      if (now && now.desired.generation !== generation) this.loop.kick(key);
      return `${rec.id} ${c.rec.status}: ${result.summary}`;
    } catch (e) {
      if (e instanceof MovedOn) throw e;
      return this.fail(key, rec, e);
    }
  }

  /** A reconcile failed: retry a few times from the health loop, then mark the instance failed. */
  private fail(key: string, rec: InstanceRecord, e: unknown): string {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const err = withContext(`reconciling ${rec.status} ${rec.id}`, e);
    log('error', 'rds action failed', { instance: key, attempt: n, error: err.message });
    if (n >= ATTEMPTS_BEFORE_FAILED || !rec.observed.created) {
      try {
        this.observe({ key, rec, spec: this.spec(rec) }, (r) => {
          if (r.desired.deleted) {
            // The deletion could not finish (its final snapshot could not be taken): the instance is failed, its data
            // kept, and can be deleted again (skipping the snapshot) or rebooted.
            if (r.finalSnapshotId) this.options.events.emitInstance(r, 'finalSnapshotFailed', this.now(), r.finalSnapshotId);
          } else if (r.observed.created) this.options.events.emitInstance(r, 'restartError', this.now(), r.engineKind, (e as Error).message.slice(0, 200));
          r.observed.failed = { generation: r.desired.generation, reason: (e as Error).message.split('\n')[0]!.slice(0, 300) };
        });
      } catch {
        // gone meanwhile
      }
      this.clearFailures(key);
      return `${rec.id} failed: ${err.message}`;
    }
    const backoffMs = RETRY_BACKOFF_MS * 2 ** (n - 1);
    this.loop.backOff(key, Date.now() + backoffMs);
    return `${rec.id}: ${err.message}; will retry in ${backoffMs} ms (attempt ${n} of ${ATTEMPTS_BEFORE_FAILED})`;
  }
}
