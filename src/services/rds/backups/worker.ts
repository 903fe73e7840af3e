/**
 * @module services/rds/backups/worker
 * The background side of RDS backups: what the reconciler's `ensureBackups` step decides for each DB instance, and
 * the long jobs it starts (a base backup, a snapshot, a snapshot copy), one job per instance and a bounded number at
 * once, so the reconciler and the health loop never wait for a backup.
 *
 * For an instance with BackupRetentionPeriod > 0 whose engine can back up:
 *   - its log is archived continuously (the engine adapter's archiver, restarted with the engine), and the newest
 *     archived change is read every tick: that is LatestRestorableTime, seconds behind the present;
 *   - a first base backup is taken as soon as the instance exists (status `backing-up`, RDS-EVENT-0001/0002), then one
 *     a day once its PreferredBackupWindow begins;
 *   - what retention no longer needs is pruned (engines/backup/prune.ts keeps what a restore in the window needs).
 * Retention 0 stops the archiving and deletes the automated backups, as RDS does. Manual snapshots (CreateDBSnapshot
 * and final snapshots) are base backups of their own, in a place of their own, kept until deleted.
 *
 * Every job records its outcome durably before it answers anything: a Cellar killed mid-backup finds the instance
 * `backing-up` (turned into a reboot by the supervisor's takeOver), the snapshot still `creating`, and the backup
 * directory without its manifest, which pruning removes; the job then runs again.
 */
import { Scope } from '../../../core/scope.js';
import { log } from '../../../core/log.js';
import { faultPoint } from '../../../core/faults.js';
import type { Clock } from '../../../core/clock.js';
import type { BackupPlace } from '../../../engines/adapter.js';
import { backupsToPrune, isBackupCorruptError, listBaseBackups } from '../../../engines/backup/index.js';
import type { MemberEngine as EngineSpec, RdsEngineDriver } from '../driver.js';
import { scopeKey, type InstanceRecord, type InstanceStatus, type RdsTables, type SnapshotRecord } from '../records.js';
import type { InstanceEvents } from '../status.js';
import { emitInstanceBackupEvent, emitSnapshotEvent } from './events.js';
import {
  automatedKey,
  automatedSnapshotId,
  snapshotPlaceId,
  windowStartMs,
  type AutomatedBackupRecord,
  type BackupTables,
  type RestoreSource,
  type SourceSettings,
} from './records.js';
import { lastWindowStartMs } from './validation.js';

/**
 * How the worker records that a backup of an instance is being taken: the runtime derives `backing-up` from it
 * (runtime/transitions.ts observed.backingUp), through the supervisor's observeKey.
 */
export interface BackingUpPort {
  observeKey(key: string, fn: (rec: InstanceRecord) => void): InstanceRecord | undefined;
}

export interface BackupWorkerOptions {
  tables: RdsTables;
  backups: BackupTables;
  events: InstanceEvents;
  driver: RdsEngineDriver;
  clock: Clock;
  /** Where backups live (engines/backup/location.ts). */
  root: string;
  spec: (rec: InstanceRecord) => EngineSpec;
  /** How often the worker looks at every instance (LatestRestorableTime is at most this much older than the archive). */
  tickMs: number;
}

/** Jobs running at once over all instances: a backup reads a whole database; two keep a small host responsive. */
const MAX_CONCURRENT_JOBS = 2;
/** A failed job is retried after this, doubling up to the cap. */
const RETRY_BASE_MS = 2000;
const RETRY_CAP_MS = 10 * 60_000;
/** LatestRestorableTime is written to the record (for restores after a restart or deletion) at most this often. */
const PERSIST_LATEST_EVERY_MS = 10_000;
const PRUNE_EVERY_MS = 60_000;
const STOP_WAIT_MS = 30_000;
/** The statuses in which an instance's engine serves, so backups can be taken. */
const UP: readonly InstanceStatus[] = ['available', 'storage-full', 'backing-up'];

type Job = { kind: 'automated' | 'snapshot' | 'copy' | 'disable' | 'prune'; describe: string; run: Promise<void> };

export class BackupWorker {
  private readonly jobs = new Map<string, Job>();
  private readonly refreshing = new Set<string>();
  private readonly latest = new Map<string, number>();
  private readonly lastPersistMs = new Map<string, number>();
  private readonly lastPruneMs = new Map<string, number>();
  private readonly retryAt = new Map<string, { at: number; delay: number }>();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private port: BackingUpPort | undefined;

  constructor(private readonly o: BackupWorkerOptions) {}

  /** The supervisor, once built (it is built with this worker). */
  attach(port: BackingUpPort): void {
    this.port = port;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
    this.timer.unref();
  }

  /** Stops looking; waits (bounded, not at all when hurried) for jobs in flight, which fail if their engine stops. */
  async stop(hurried = false): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + (hurried ? 0 : STOP_WAIT_MS);
    while (this.jobs.size && Date.now() < deadline) await Promise.race([...[...this.jobs.values()].map((j) => j.run), new Promise<void>((r) => setTimeout(r, 100))]);
  }

  private now(): number {
    return this.o.clock.now();
  }

  // ---- what the reconciler and the API ask ------------------------------------------------------------------------

  /** Whether an instance's engine takes backups here (absent that, RDS's backup operations are refused for it). */
  canBackUp(rec: InstanceRecord): boolean {
    return this.o.driver.canBackUp(this.o.spec(rec));
  }

  /** Whether a just-created (or restored) instance takes its first automated backup now (status `backing-up`). */
  firstBackupDue(rec: InstanceRecord): boolean {
    return rec.backupRetentionPeriod > 0 && this.canBackUp(rec);
  }

  /**
   * The reconciler's ensureBackups step: decides (and starts in the background) what the instance's backups need now,
   * and says what it decided. Never waits for a backup.
   */
  ensureStep(key: string, rec: InstanceRecord): string {
    this.ensureBackups(key, rec);
    const job = this.jobs.get(key);
    if (job) return `backups: ${job.describe} running`;
    if (rec.backupRetentionPeriod === 0) return 'automated backups off (retention 0)';
    if (!this.canBackUp(rec)) return `automated backups: ${rec.engine} cannot back up here`;
    const latest = this.latestRestorableMs(rec);
    return latest === undefined ? 'automated backups: first backup due' : `automated backups: restorable to ${new Date(latest).toISOString()}`;
  }

  /** LatestRestorableTime of an instance (undefined without automated backups or before the first one). */
  latestRestorableMs(rec: InstanceRecord): number | undefined {
    const ab = this.o.backups.automated.get(automatedKey(Scope.ofRecord(rec), rec.dbiResourceId));
    if (!ab || !ab.bases.length) return undefined;
    return this.latestOf(ab);
  }

  /** The newest change in an automated backup's archive, as last read (live, else recorded); undefined if none. */
  archivedLatestOf(ab: AutomatedBackupRecord): number | undefined {
    const t = Math.max(this.latest.get(abKeyOf(ab)) ?? 0, ab.latestRestorableMs ?? 0);
    return t > 0 ? t : undefined;
  }

  /** The newest restorable moment of an automated backup: the live archive's, else the last recorded. */
  latestOf(ab: AutomatedBackupRecord): number {
    const newest = ab.bases[ab.bases.length - 1]!;
    return Math.max(this.latest.get(abKeyOf(ab)) ?? 0, ab.latestRestorableMs ?? 0, newest.consistentAt);
  }

  // ---- the ensureBackups step ---------------------------------------------------------------------------------------

  /** One pass over every instance, automated backup and pending snapshot. Never throws. */
  tick(): void {
    if (this.stopping) return;
    try {
      for (const [key, rec] of this.o.tables.instances.list()) this.ensureBackups(key, rec);
      for (const [key, ab] of this.o.backups.automated.list()) if (ab.status === 'retained') this.pruneRetained(key, ab);
      for (const [key, snap] of this.o.tables.snapshots.list()) this.ensureSnapshot(key, snap);
    } catch (e) {
      log('error', 'rds backups tick failed', { error: (e as Error).message });
    }
  }

  private ensureBackups(key: string, rec: InstanceRecord): void {
    const job = this.jobs.get(key);
    if (job) {
      // A backup or snapshot takes tens of seconds on a large database: the log goes on being archived meanwhile, and
      // LatestRestorableTime must keep following it (only read here; archiving itself is the job's to start).
      if (job.kind === 'automated' || job.kind === 'snapshot') this.refresh(key, rec, this.o.backups.automated.get(automatedKey(Scope.ofRecord(rec), rec.dbiResourceId)), { readOnly: true });
      return;
    }
    if ((this.retryAt.get(key)?.at ?? 0) > Date.now()) return;
    if (!UP.includes(rec.status)) return;
    const ab = this.o.backups.automated.get(automatedKey(Scope.ofRecord(rec), rec.dbiResourceId));
    const canBackUp = this.canBackUp(rec);
    const pendingSnapshot = canBackUp ? this.pendingSnapshotOf(rec) : undefined;
    if (pendingSnapshot) return this.startJob(key, 'snapshot', `snapshot ${pendingSnapshot.id}`, () => this.takeSnapshot(key, rec, pendingSnapshot));
    if (rec.backupRetentionPeriod === 0 || !canBackUp) {
      if (ab && ab.status !== 'retained') return this.startJob(key, 'disable', 'deleting automated backups', () => this.disable(key, rec, ab));
      if (rec.status === 'backing-up') this.backToService(key);
      return;
    }
    if (ab && ab.status !== 'retained' && (ab.retentionDays !== rec.backupRetentionPeriod || ab.backupWindow !== rec.preferredBackupWindow)) {
      // ModifyDBInstance changed them: they apply to the automated backups at once, as on RDS.
      this.updateAutomated(abKeyOf(ab), (a) => {
        a.retentionDays = rec.backupRetentionPeriod;
        a.backupWindow = rec.preferredBackupWindow;
      });
    }
    const now = this.now();
    const due = !ab || !ab.bases.length || lastWindowStartMs(rec.preferredBackupWindow, now) > (ab.lastBackupAtMs ?? ab.bases[ab.bases.length - 1]!.startedAt);
    if (due) return this.startJob(key, 'automated', 'automated backup', () => this.automatedBackup(key, rec, ab));
    if (rec.status === 'backing-up') return this.backToService(key);
    if (now - (this.lastPruneMs.get(key) ?? 0) >= PRUNE_EVERY_MS) {
      this.lastPruneMs.set(key, now);
      return this.startJob(key, 'prune', 'pruning expired backups', () => this.prune(ab));
    }
    this.refresh(key, rec, ab);
  }

  private pendingSnapshotOf(rec: InstanceRecord): SnapshotRecord | undefined {
    for (const [, s] of this.o.tables.snapshots.list(scopeKey(Scope.ofRecord(rec)))) {
      if (s.status === 'creating' && s.source?.dbiResourceId === rec.dbiResourceId) return s;
    }
    return undefined;
  }

  private startJob(key: string, kind: Job['kind'], describe: string, body: () => Promise<void>): void {
    if (this.jobs.size >= MAX_CONCURRENT_JOBS) return;
    const run = (async () => {
      await Promise.resolve();
      try {
        await body();
        this.retryAt.delete(key);
      } catch (e) {
        const prev = this.retryAt.get(key)?.delay ?? RETRY_BASE_MS / 2;
        const delay = Math.min(prev * 2, RETRY_CAP_MS);
        this.retryAt.set(key, { at: Date.now() + delay, delay });
        log('error', 'rds backup job failed', { instance: key, job: kind, error: (e as Error).message, retryInMs: delay });
      } finally {
        this.jobs.delete(key);
      }
    })();
    this.jobs.set(key, { kind, describe, run });
  }

  /**
   * Keeps archiving running and LatestRestorableTime fresh (both idempotent and cheap); one refresh at a time.
   * `readOnly` (while a backup job runs, which starts archiving itself) only reads the newest archived time.
   */
  private refresh(key: string, rec: InstanceRecord, ab: AutomatedBackupRecord | undefined, options: { readOnly?: boolean } = {}): void {
    if (!ab || ab.status === 'retained' || this.refreshing.has(key) || (rec.status === 'backing-up' && !options.readOnly)) return;
    const spec = this.o.spec(rec);
    if (!this.o.driver.isRunning(spec)) return;
    this.refreshing.add(key);
    void (async () => {
      try {
        if (!options.readOnly) await this.o.driver.startLogArchiving(spec, ab.place);
        const t = await this.o.driver.latestArchivedTime(spec, ab.place);
        if (t === undefined) return;
        const abKey = abKeyOf(ab);
        this.latest.set(abKey, t);
        if (Date.now() - (this.lastPersistMs.get(abKey) ?? 0) >= PERSIST_LATEST_EVERY_MS) {
          this.lastPersistMs.set(abKey, Date.now());
          this.updateAutomated(abKey, (cur) => {
            cur.latestRestorableMs = Math.max(cur.latestRestorableMs ?? 0, t);
          });
        }
      } catch (e) {
        log('warn', 'rds log archiving check failed', { instance: key, error: (e as Error).message });
      } finally {
        this.refreshing.delete(key);
      }
    })();
  }

  // ---- jobs ---------------------------------------------------------------------------------------------------------

  /** Marks a backup of an available instance as being taken (status `backing-up`); undefined if it moved on. */
  private enterBackingUp(key: string): InstanceRecord | undefined {
    const cur = this.o.tables.instances.get(key);
    if (!cur || !UP.includes(cur.status)) return undefined;
    return this.port?.observeKey(key, (r) => {
      r.observed.backingUp = true;
    });
  }

  private backToService(key: string): void {
    const cur = this.o.tables.instances.get(key);
    if (!cur?.observed.backingUp) return;
    this.port?.observeKey(key, (r) => {
      delete r.observed.backingUp;
    });
  }

  private async automatedBackup(key: string, rec: InstanceRecord, ab: AutomatedBackupRecord | undefined): Promise<void> {
    const spec = this.o.spec(rec);
    if (!this.o.driver.isRunning(spec)) return;
    const cur = this.enterBackingUp(key);
    if (!cur) return;
    const abKey = automatedKey(Scope.ofRecord(rec), rec.dbiResourceId);
    const startedAt = this.now();
    emitInstanceBackupEvent(this.o.events, cur, 'backupStarted', startedAt);
    // The daily backup is what DescribeDBSnapshots lists as the automated snapshot `rds:<id>-<minute>`.
    emitSnapshotEvent(this.o.events, Scope.ofRecord(rec), automatedSnapshotId(rec.id, startedAt), 'automatedStarted', startedAt);
    try {
      const place = await this.o.driver.preparePlace(this.o.root, { accountId: rec.accountId, region: rec.region, resourceId: rec.dbiResourceId });
      if (!ab) {
        ab = this.o.tables.store.transaction(() => {
          const existing = this.o.backups.automated.get(abKey);
          if (existing) return existing;
          const fresh: AutomatedBackupRecord = {
            accountId: rec.accountId,
            region: rec.region,
            status: 'creating',
            source: sourceSettings(cur),
            retentionDays: cur.backupRetentionPeriod,
            backupWindow: cur.preferredBackupWindow,
            place,
            bases: [],
            tags: cur.copyTagsToSnapshot ? cur.tags : [],
          };
          this.o.backups.automated.put(abKey, fresh);
          // Turned on after the instance was created (retention was 0): RDS reports it.
          if (cur.createdAtMs < startedAt - 60_000) emitInstanceBackupEvent(this.o.events, cur, 'backupsEnabled', startedAt);
          return fresh;
        });
      }
      // A backup a crash interrupted left a directory without a manifest: never restored from, removed now (one job
      // per instance runs at a time, so none is in progress).
      for (const dir of (await listBaseBackups(place)).incomplete) await this.o.driver.removeBackupFiles(dir);
      // Archiving first: the log from the backup's start on must be in the archive for it to be restorable.
      await this.o.driver.startLogArchiving(spec, place);
      faultPoint('rds.backup');
      const base = await this.o.driver.backup(spec, place, backupId('auto', startedAt));
      this.updateAutomated(abKey, (a) => {
        a.bases.push(base);
        a.bases.sort((x, y) => x.consistentAt - y.consistentAt);
        a.status = 'active';
        a.lastBackupAtMs = startedAt;
        a.source = sourceSettings(this.o.tables.instances.get(key) ?? cur);
        a.retentionDays = cur.backupRetentionPeriod;
        a.backupWindow = cur.preferredBackupWindow;
      });
      emitSnapshotEvent(this.o.events, Scope.ofRecord(rec), automatedSnapshotId(rec.id, base.startedAt), 'automatedFinished', this.now());
      emitInstanceBackupEvent(this.o.events, cur, 'backupFinished', this.now());
    } catch (e) {
      // A failed backup (a full disk, say) is reported and leaves the instance serving; the job is retried later.
      emitInstanceBackupEvent(this.o.events, cur, 'backupFailed', this.now(), (e as Error).message.slice(0, 300));
      throw e;
    } finally {
      this.backToService(key);
    }
  }

  private async takeSnapshot(key: string, rec: InstanceRecord, snap: SnapshotRecord): Promise<void> {
    const spec = this.o.spec(rec);
    if (!this.o.driver.isRunning(spec)) return;
    const cur = this.enterBackingUp(key);
    if (!cur) return;
    const scope = Scope.ofRecord(rec);
    emitSnapshotEvent(this.o.events, scope, snap.id, 'manualStarted', this.now());
    try {
      const base = await this.snapshotBackup(scope, snap.id, (place, id) => this.o.driver.backup(spec, place, id));
      this.finishSnapshot(scope, snap.id, base, 'manualFinished');
    } catch (e) {
      this.failSnapshot(scope, snap.id, e);
      throw e;
    } finally {
      this.backToService(key);
    }
  }

  /** A final snapshot (DeleteDBInstance): taken by the deletion itself, the engine running; throws if it cannot. */
  async takeFinalSnapshot(rec: InstanceRecord, snapshotId: string): Promise<void> {
    const scope = Scope.ofRecord(rec);
    const spec = this.o.spec(rec);
    const key = scopeKey(scope, snapshotId);
    this.o.tables.store.transaction(() => {
      if (this.o.tables.snapshots.get(key)) return;
      this.o.tables.snapshots.put(key, newSnapshotRecord(rec, snapshotId, this.now(), []));
    });
    emitSnapshotEvent(this.o.events, scope, snapshotId, 'manualStarted', this.now());
    try {
      faultPoint('rds.snapshot');
      const base = await this.snapshotBackup(scope, snapshotId, (place, id) => this.o.driver.backup(spec, place, id));
      this.finishSnapshot(scope, snapshotId, base, 'manualFinished');
    } catch (e) {
      // No half-made snapshot stays behind: the deletion fails its instance (see the supervisor) and says why.
      this.o.tables.snapshots.delete(key);
      await this.o.driver.removeBackupFiles(this.snapshotDir(scope, snapshotId)).catch(() => undefined);
      throw e;
    }
  }

  private async copy(key: string, snap: SnapshotRecord): Promise<void> {
    const scope = Scope.ofRecord(snapshotScope(key));
    if (!snap.copyOf) return this.failSnapshot(scope, snap.id, new Error('the source snapshot has no backup to copy'));
    emitSnapshotEvent(this.o.events, scope, snap.id, 'copyStarted', this.now(), snap.copiedFromArn ?? '', scope.region);
    try {
      const from = snap.copyOf;
      const base = await this.snapshotBackup(scope, snap.id, (place, id) => this.o.driver.copyBackup(from, place, id));
      this.finishSnapshot(scope, snap.id, base, 'copyFinished', snap.copiedFromArn ?? '', scope.region);
    } catch (e) {
      this.failSnapshot(scope, snap.id, e);
      throw e;
    }
  }

  /** A snapshot's own place, emptied first (a crash may have left a partial backup there). */
  private async snapshotBackup<T>(scope: Scope, snapshotId: string, make: (place: BackupPlace, id: string) => Promise<T>): Promise<T> {
    await this.o.driver.removeBackupFiles(this.snapshotDir(scope, snapshotId));
    const place = await this.o.driver.preparePlace(this.o.root, { accountId: scope.accountId, region: scope.region, resourceId: snapshotPlaceId(scope, snapshotId) });
    return make(place, 'snapshot');
  }

  private snapshotDir(scope: Scope, snapshotId: string): string {
    return `${this.o.root}/${scope.accountId}/${scope.region}/${snapshotPlaceId(scope, snapshotId)}`;
  }

  private finishSnapshot(scope: Scope, id: string, base: NonNullable<SnapshotRecord['base']>, event: 'manualFinished' | 'copyFinished', ...args: string[]): void {
    this.o.tables.store.transaction(() => {
      const key = scopeKey(scope, id);
      const cur = this.o.tables.snapshots.get(key);
      if (!cur) return;
      cur.base = base;
      cur.status = 'available';
      delete cur.copyOf;
      this.o.tables.snapshots.put(key, cur);
      emitSnapshotEvent(this.o.events, scope, id, event, this.now(), ...args);
    });
  }

  private failSnapshot(scope: Scope, id: string, e: unknown): void {
    const message = (e as Error).message.slice(0, 300);
    this.o.tables.store.transaction(() => {
      const key = scopeKey(scope, id);
      const cur = this.o.tables.snapshots.get(key);
      if (!cur || cur.status === 'available') return;
      cur.status = 'failed';
      cur.failure = message;
      this.o.tables.snapshots.put(key, cur);
      emitSnapshotEvent(this.o.events, scope, id, 'failed', this.now(), message);
    });
  }

  private ensureSnapshot(key: string, snap: SnapshotRecord): void {
    // Job keys of copies are apart from the instances' (a snapshot may share an instance's name).
    const jobKey = `copy:${key}`;
    if (snap.status === 'copying' && !this.jobs.has(jobKey) && (this.retryAt.get(jobKey)?.at ?? 0) <= Date.now()) {
      this.startJob(jobKey, 'copy', `copy of ${snap.copiedFromArn ?? ''}`, () => this.copy(key, snap));
      return;
    }
    if (snap.status !== 'creating' || !snap.source) return;
    // The instance it was asked of went away before it could be taken.
    const scope = Scope.ofRecord(snapshotScope(key));
    const instance = this.o.tables.instances.get(scopeKey(scope, snap.instanceId));
    if (!instance || instance.dbiResourceId !== snap.source.dbiResourceId) this.failSnapshot(scope, snap.id, new Error(`DB instance ${snap.instanceId} is gone`));
  }

  private async disable(key: string, rec: InstanceRecord, ab: AutomatedBackupRecord): Promise<void> {
    await this.o.driver.stopLogArchiving(this.o.spec(rec));
    const abKey = abKeyOf(ab);
    // The record goes first: a crash before the files are removed leaves files no record names, never the reverse.
    this.o.backups.automated.delete(abKey);
    this.latest.delete(abKey);
    await this.o.driver.removeBackupFiles(placeDir(ab.place));
    if (rec.backupRetentionPeriod === 0) emitInstanceBackupEvent(this.o.events, rec, 'backupsDisabled', this.now());
    this.backToService(key);
  }

  private async prune(ab: AutomatedBackupRecord | undefined): Promise<void> {
    if (!ab) return;
    const abKey = abKeyOf(ab);
    const cur = this.o.backups.automated.get(abKey);
    if (!cur) return;
    const start = windowStartMs(cur.retentionDays, this.now());
    const expired = backupsToPrune(cur.bases, start);
    if (!expired.length) return;
    const gone = new Set(expired.map((b) => b.dir));
    // Recorded first, then removed: a restore never starts from a backup being deleted.
    this.updateAutomated(abKey, (a) => {
      a.bases = a.bases.filter((b) => !gone.has(b.dir));
    });
    for (const dir of gone) await this.o.driver.removeBackupFiles(dir);
    const oldest = this.o.backups.automated.get(abKey)?.bases[0];
    if (oldest) await this.o.driver.pruneArchive(ab.place.archiveDir, oldest.archiveStart);
  }

  /** Retained automated backups expire with their retention period, then go entirely. */
  private pruneRetained(abKey: string, ab: AutomatedBackupRecord): void {
    const now = this.now();
    if (this.jobs.has(abKey) || now - (this.lastPruneMs.get(abKey) ?? 0) < PRUNE_EVERY_MS) return;
    this.lastPruneMs.set(abKey, now);
    // Kept for the retention period from the deletion (by Cellar's clock), pruned meanwhile like an active one's.
    if (now - (ab.retainedAtMs ?? now) < ab.retentionDays * 86_400_000) return this.startJob(abKey, 'prune', 'pruning a retained automated backup', () => this.prune(ab));
    this.startJob(abKey, 'prune', 'deleting an expired retained automated backup', async () => {
      this.o.backups.automated.delete(abKey);
      await this.o.driver.removeBackupFiles(placeDir(ab.place));
    });
  }

  // ---- deletion of an instance ------------------------------------------------------------------------------------

  /**
   * The instance's engine has stopped for good (DeleteDBInstance): its automated backups are retained (status
   * `retained`, with the newest archived moment recorded) or deleted, as the deletion asked.
   */
  async afterEngineStopped(rec: InstanceRecord): Promise<void> {
    const abKey = automatedKey(Scope.ofRecord(rec), rec.dbiResourceId);
    const ab = this.o.backups.automated.get(abKey);
    await this.jobs.get(scopeKey(Scope.ofRecord(rec), rec.id))?.run;
    if (!ab) return;
    const spec = this.o.spec(rec);
    await this.o.driver.stopLogArchiving(spec);
    if (rec.retainAutomatedBackups && ab.bases.length) {
      const t = await this.o.driver.latestArchivedTime(spec, ab.place).catch(() => undefined);
      this.updateAutomated(abKey, (a) => {
        a.status = 'retained';
        a.retainedAtMs = this.now();
        a.latestRestorableMs = Math.max(a.latestRestorableMs ?? 0, t ?? 0, this.latest.get(abKey) ?? 0);
      });
      return;
    }
    this.o.backups.automated.delete(abKey);
    this.latest.delete(abKey);
    await this.o.driver.removeBackupFiles(placeDir(ab.place));
  }

  /** DeleteDBSnapshot / DeleteDBInstanceAutomatedBackup: files go in the background; a failure is logged. */
  removeFilesLater(dir: string): void {
    this.o.driver.removeBackupFiles(dir).catch((e: unknown) => log('error', 'rds backup files not removed', { dir, error: (e as Error).message }));
  }

  snapshotFilesDir(scope: Scope, snapshotId: string): string {
    return this.snapshotDir(scope, snapshotId);
  }

  // ---- restores ---------------------------------------------------------------------------------------------------

  /**
   * The create step of a restored instance: builds its instance directory from the backup (verified first; a damaged
   * backup fails the restore with an event naming the file), leaving the engine stopped for the reconciler to start.
   */
  async restoreInto(rec: InstanceRecord, restore: RestoreSource): Promise<string> {
    const spec = this.o.spec(rec);
    try {
      // A restore interrupted by a crash starts again from an empty directory.
      await this.o.driver.destroy(spec);
      const { restoredTo } = await this.o.driver.restoreToPoint(spec, {
        base: restore.base,
        ...(restore.archiveDir ? { archiveDir: restore.archiveDir } : {}),
        ...(restore.targetTimeMs !== undefined ? { targetTime: restore.targetTimeMs } : {}),
      });
      return restore.kind === 'snapshot' ? `restored from snapshot ${restore.sourceName}` : `restored from ${restore.sourceName} to ${new Date(restoredTo).toISOString()}`;
    } catch (e) {
      const why = isBackupCorruptError(e) ? (e as Error).message : `${(e as Error).message}`;
      emitInstanceBackupEvent(this.o.events, rec, 'restoreFailed', this.now(), why.slice(0, 400));
      throw e;
    }
  }

  /** RDS's restoration event, once the restored instance is up. */
  restoredEvent(rec: InstanceRecord, restore: RestoreSource): void {
    if (restore.kind === 'snapshot') emitInstanceBackupEvent(this.o.events, rec, 'restoredFromSnapshot', this.now(), restore.sourceName);
    else emitInstanceBackupEvent(this.o.events, rec, 'restoredToPointInTime', this.now(), restore.sourceName, new Date(restore.requestedTimeMs ?? restore.targetTimeMs ?? this.now()).toISOString());
  }

  private updateAutomated(abKey: string, fn: (a: AutomatedBackupRecord) => void): void {
    this.o.tables.store.transaction(() => {
      const cur = this.o.backups.automated.get(abKey);
      if (!cur) return;
      fn(cur);
      this.o.backups.automated.put(abKey, cur);
    });
  }
}

/** The settings a restore of this instance's backups needs, copied from its record. */
export function sourceSettings(rec: InstanceRecord): SourceSettings {
  return {
    instanceId: rec.id,
    engine: rec.engine,
    engineKind: rec.engineKind,
    engineVersion: rec.engineVersion,
    family: rec.family,
    licenseModel: rec.licenseModel,
    instanceClass: rec.instanceClass,
    allocatedStorageGiB: rec.allocatedStorageGiB,
    masterUsername: rec.masterUsername,
    masterPasswordSealed: rec.masterPasswordSealed,
    ...(rec.dbName !== undefined ? { dbName: rec.dbName } : {}),
    port: rec.port,
    availabilityZone: rec.availabilityZone,
    optionGroupName: rec.optionGroupName,
    storageEncrypted: rec.storageEncrypted,
    ...(rec.kmsKeyId ? { kmsKeyId: rec.kmsKeyId } : {}),
    instanceCreateTimeMs: rec.createdAtMs,
    dbiResourceId: rec.dbiResourceId,
    backupRetentionPeriod: rec.backupRetentionPeriod,
  };
}

export function newSnapshotRecord(rec: InstanceRecord, id: string, nowMs: number, tags: SnapshotRecord['tags']): SnapshotRecord {
  return {
    id,
    instanceId: rec.id,
    status: 'creating',
    source: sourceSettings(rec),
    ...(rec.kmsKeyId ? { kmsKeyId: rec.kmsKeyId } : {}),
    createdAtMs: nowMs,
    engine: rec.engine,
    engineVersion: rec.engineVersion,
    allocatedStorageGiB: rec.allocatedStorageGiB,
    masterUsername: rec.masterUsername,
    port: rec.port,
    availabilityZone: rec.availabilityZone,
    tags,
  };
}

function backupId(prefix: string, ms: number): string {
  return `${prefix}-${new Date(ms).toISOString().replace(/[-:.]/g, '').toLowerCase()}`;
}

function abKeyOf(ab: AutomatedBackupRecord): string {
  return automatedKey(Scope.ofRecord(ab), ab.source.dbiResourceId);
}

/** The directory holding a place's base/ and archive/ directories. */
function placeDir(place: BackupPlace): string {
  return place.baseDir.replace(/\/base\/?$/, '');
}

/** The account and region a store key (`<account>/<region>/<name>`) names. */
function snapshotScope(key: string): { accountId: string; region: string } {
  const [accountId, region] = key.split('/') as [string, string];
  return { accountId, region };
}
