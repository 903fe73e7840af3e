/**
 * @module services/secretsmanager/rotation-runs
 * Rotation as it really happens: RotateSecret and the schedule start a run (a new AWSPENDING version, then the four
 * steps of the rotation function, see rotation.ts), a run that fails or is cut short by a crash is tried again, and
 * CancelRotateSecret stops it. At most MAX_CONCURRENT_ROTATIONS run at once; the record keeps what a restart needs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { RequestContext } from '../../core/context.js';
import { ServiceError } from '../../core/errors.js';
import { faultPoint } from '../../core/faults.js';
import { log } from '../../core/log.js';
import type * as api from '../../models/secretsmanager.js';
import type { ServiceEnv } from '../env.js';
import type { SecretAccess } from './access.js';
import { ERR } from './errors.js';
import { type PendingRotation, type SecretRecord, type SecretRepository, secretKey } from './records.js';
import type { Replication } from './replication.js';
import { type CallbackEnvironment, type InProcessSecretsManager, invokeStep, ROTATION_STEPS, type RotationFunctions, type RotationStep, StepFailure } from './rotation.js';
import { parseRotationRules, type Schedule, scheduleNextRotation } from './schedule.js';
import { attachStage, CURRENT, PENDING, versionWith } from './staging-labels.js';

const MAX_CONCURRENT_ROTATIONS = 4;
/** While a rotation runs its due entry is pushed this far out, so one interrupted by a crash is resumed. */
const ROTATION_RESUME_AFTER_MS = 15 * 60_000;

export class RotationRuns {
  /** Secrets (by store key) whose rotation is running in this process. */
  private readonly rotating = new Set<string>();

  /** `client`: Secrets Manager as a built-in rotation function calls it, acting as the secret's owner. */
  constructor(
    private readonly env: ServiceEnv, private readonly repo: SecretRepository, private readonly functions: RotationFunctions,
    private readonly access: SecretAccess, private readonly replication: Replication, private readonly client: (rec: SecretRecord) => InProcessSecretsManager,
  ) {}

  private now(): number {
    return this.env.clock.now();
  }

  /** How many rotations run in this process now. */
  get running(): number {
    return this.rotating.size;
  }

  /** Whether a rotation of this secret may start now: not already running, and a slot free. */
  mayStart(key: string): boolean {
    return this.rotating.size < MAX_CONCURRENT_ROTATIONS && !this.rotating.has(key);
  }

  rotateSecret(input: api.RotateSecretRequest, ctx: RequestContext): api.RotateSecretResponse {
    const rec = this.access.findWritable(ctx, input.SecretId);
    const schedule: Schedule | undefined = parseRotationRules(input.RotationRules);
    const lambdaArn = input.RotationLambdaARN || rec.rotation?.lambdaArn;
    if (!lambdaArn) throw new ServiceError('InvalidRequestException', 'No Lambda rotation function ARN is associated with this secret.');
    if (!this.functions.resolve(lambdaArn)) {
      throw new ServiceError('AccessDeniedException', 'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.');
    }
    const key = secretKey(rec);
    const pendingVersion = versionWith(rec, PENDING);
    const current = versionWith(rec, CURRENT);
    const token = input.ClientRequestToken ?? randomUUID();
    if (pendingVersion && pendingVersion.id !== current?.id && pendingVersion.id !== token) {
      // AWS refuses a new rotation while one is unfinished, and tries the unfinished one again.
      this.reattempt(key);
      throw new ServiceError('InvalidRequestException', "A previous rotation isn't complete. That rotation will be reattempted.");
    }
    if (rec.versions[token] && rec.versions[token] !== pendingVersion) throw ERR.tokenInUse(token, rec.arn);
    if (this.rotating.has(key)) throw new ServiceError('InvalidRequestException', "A previous rotation isn't complete. That rotation will be reattempted.");
    const now = this.now();
    const immediately = input.RotateImmediately ?? true;
    this.repo.store.transaction(() => {
      rec.rotation = {
        ...(rec.rotation ?? {}),
        enabled: true,
        lambdaArn,
        ...(input.RotationRules && schedule ? { rules: { ...input.RotationRules } } : {}),
      };
      delete rec.rotation.lastFailure;
      if (!rec.versions[token]) rec.versions[token] = { id: token, stages: [], createdMs: now };
      attachStage(rec, PENDING, token);
      rec.rotation.pending = { token, rotationToken: randomUUID(), immediately, startedMs: now, state: 'running' };
      // The first window is counted from now when not rotating now, otherwise from the rotation's end.
      scheduleNextRotation(rec.rotation, now);
      if (rec.rotation.nextStartMs !== undefined) rec.rotation.nextStartMs = Math.max(rec.rotation.nextStartMs, now + ROTATION_RESUME_AFTER_MS);
      rec.lastChangedMs = now;
      this.replication.commit(rec);
    });
    void this.run(key);
    return { ARN: rec.arn, Name: rec.name, VersionId: token };
  }

  cancelRotateSecret(input: api.CancelRotateSecretRequest, ctx: RequestContext): api.CancelRotateSecretResponse {
    const rec = this.access.findWritable(ctx, input.SecretId);
    if (!rec.rotation?.lambdaArn) {
      throw new ServiceError('InvalidRequestException', "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and you didn't include such an ARN as a parameter in this call.");
    }
    const pending = rec.rotation.pending;
    rec.rotation.enabled = false;
    delete rec.rotation.pending;
    delete rec.rotation.nextStartMs;
    delete rec.rotation.nextReportedMs;
    rec.lastChangedMs = this.now();
    this.replication.commit(rec);
    return { ARN: rec.arn, Name: rec.name, ...(pending ? { VersionId: pending.token } : {}) };
  }

  /**
   * Turns on managed rotation for a secret `owningService` owns: its built-in function on `rules`, first rotation at
   * the first window; nothing runs now.
   */
  enableManaged(ctx: RequestContext, owningService: string, secretId: string, lambdaArn: string, rules: api.RotationRulesType): void {
    const rec = this.access.ownedBy(ctx, owningService, secretId);
    if (!rec) throw ERR.notFound();
    if (!this.functions.resolve(lambdaArn)) throw new Error(`rotation function ${lambdaArn} is not registered`);
    if (!parseRotationRules(rules)) throw new ServiceError('InvalidParameterException', 'The rotation schedule is invalid.');
    this.repo.store.transaction(() => {
      rec.rotation = { ...(rec.rotation ?? {}), enabled: true, managed: true, lambdaArn, rules: { ...rules } };
      scheduleNextRotation(rec.rotation, this.now());
      rec.lastChangedMs = this.now();
      this.replication.commit(rec);
    });
  }

  /** Starts the unfinished rotation again with its own token (after a failure, a crash, or a refused RotateSecret). */
  private reattempt(key: string): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation?.enabled || this.rotating.has(key) || rec.deletedMs !== undefined) return;
    const current = versionWith(rec, CURRENT);
    const pendingVersion = versionWith(rec, PENDING);
    if (!pendingVersion || pendingVersion.id === current?.id) return;
    const now = this.now();
    rec.rotation.pending = { token: pendingVersion.id, rotationToken: rec.rotation.pending?.rotationToken ?? randomUUID(), immediately: true, startedMs: now, state: 'running' };
    rec.rotation.nextStartMs = now + ROTATION_RESUME_AFTER_MS;
    this.repo.save(rec);
    void this.run(key);
  }

  /** A scheduled rotation: a new AWSPENDING placeholder with a fresh token, then the four steps. */
  startScheduled(key: string): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation?.enabled || rec.deletedMs !== undefined || rec.primaryRegion || this.rotating.has(key)) return;
    const pendingVersion = versionWith(rec, PENDING);
    const current = versionWith(rec, CURRENT);
    if (pendingVersion && pendingVersion.id !== current?.id) {
      this.reattempt(key);
      return;
    }
    const now = this.now();
    const token = randomUUID();
    rec.versions[token] = { id: token, stages: [], createdMs: now };
    attachStage(rec, PENDING, token);
    rec.rotation.pending = { token, rotationToken: randomUUID(), immediately: true, startedMs: now, state: 'running' };
    rec.rotation.nextStartMs = now + ROTATION_RESUME_AFTER_MS;
    this.repo.save(rec);
    void this.run(key);
  }

  /** At start: rotations that were running when Cellar stopped are run again, as a Lambda retry would. */
  resumeInterrupted(): number {
    let resumed = 0;
    for (const rec of this.repo.all()) {
      if (rec.rotation?.pending?.state === 'running' && resumed < MAX_CONCURRENT_ROTATIONS) {
        const key = secretKey(rec);
        if (rec.rotation.pending.immediately) this.reattempt(key);
        else void this.run(key);
        resumed++;
      }
    }
    return resumed;
  }

  /** Temporary credentials and an endpoint for a rotation function that calls Secrets Manager over HTTP. */
  private callbackFor(rec: SecretRecord, functionName: string, timeoutMs: number): CallbackEnvironment {
    const accessKeyId = 'ASIA' + randomBytes(10).toString('hex').toUpperCase().slice(0, 16);
    const secretAccessKey = randomBytes(30).toString('base64');
    const sessionToken = randomBytes(64).toString('base64');
    this.env.credentials.addTemporary({
      accessKeyId,
      secretAccessKey,
      sessionToken,
      accountId: rec.accountId,
      arn: `arn:aws:sts::${rec.accountId}:assumed-role/cellar-secretsmanager-rotation/${functionName}`,
      userId: `AROACELLARROTATION:${functionName}`,
      expiresAtMs: this.now() + timeoutMs + 60_000,
    });
    return { endpoint: this.env.endpoint ?? `http://127.0.0.1:${this.env.config.port}`, region: rec.region, accessKeyId, secretAccessKey, sessionToken };
  }

  /** Runs the pending rotation of one secret to its end: success moves the schedule on, a failed step is recorded. */
  private async run(key: string): Promise<void> {
    if (this.rotating.has(key) || this.rotating.size >= MAX_CONCURRENT_ROTATIONS) return;
    this.rotating.add(key);
    let pending: PendingRotation | undefined;
    try {
      const rec = this.repo.byStoreKey(key);
      pending = rec?.rotation?.pending;
      if (!rec || !pending || !rec.rotation?.lambdaArn) return;
      const fn = this.functions.resolve(rec.rotation.lambdaArn);
      const steps: readonly RotationStep[] = pending.immediately ? ROTATION_STEPS : ['testSecret'];
      log('info', 'rotation started', { secret: rec.arn, token: pending.token, function: rec.rotation.lambdaArn, steps: steps.join(',') });
      for (const step of steps) {
        if (!fn) {
          this.recordFailure(key, pending, step, `rotation function ${rec.rotation.lambdaArn} is not configured`);
          return;
        }
        const event = { Step: step, SecretId: rec.arn, ClientRequestToken: pending.token, RotationToken: pending.rotationToken };
        faultPoint('secretsmanager.rotation');
        try {
          await invokeStep(fn, event, () => this.client(rec), () => this.callbackFor(rec, fn.name, fn.timeoutMs));
        } catch (e) {
          this.recordFailure(key, pending, step, e instanceof StepFailure ? e.message : String(e));
          return;
        }
        // Cancelled (CancelRotateSecret) or deleted while the step ran: stop here.
        const now = this.repo.byStoreKey(key);
        if (!now?.rotation?.pending || now.rotation.pending.token !== pending.token) return;
      }
      this.complete(key, pending);
    } catch (e) {
      // Background work: an unexpected failure (a store error, say) fails this rotation as a failed step would,
      // never the process; the schedule tries it again.
      const message = e instanceof Error ? e.message : String(e);
      log('error', 'rotation failed unexpectedly', { secret: key, error: message });
      try {
        if (pending) this.recordFailure(key, pending, 'rotation', message);
      } catch {
        // the record stays as it was: the rotation is resumed at the next start
      }
    } finally {
      this.rotating.delete(key);
    }
  }

  private complete(key: string, pending: PendingRotation): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation) return;
    const now = this.now();
    if (pending.immediately) {
      if (versionWith(rec, CURRENT)?.id !== pending.token) {
        this.recordFailure(key, pending, 'finishSecret', `finishSecret did not attach ${CURRENT} to version ${pending.token}`);
        return;
      }
      rec.rotation.lastRotatedMs = now;
      rec.lastChangedMs = now;
    } else {
      // RotateImmediately=false only tests the function: the placeholder version goes away again.
      const placeholder = rec.versions[pending.token];
      if (placeholder && !placeholder.kmsKeyArn) delete rec.versions[pending.token];
      else if (placeholder) placeholder.stages = placeholder.stages.filter((s) => s !== PENDING);
    }
    delete rec.rotation.pending;
    delete rec.rotation.lastFailure;
    scheduleNextRotation(rec.rotation, pending.immediately ? now : (rec.rotation.baseMs ?? now));
    this.replication.commit(rec);
    log('info', 'rotation succeeded', { secret: rec.arn, token: pending.token, testOnly: !pending.immediately });
  }

  /** A failed step leaves AWSCURRENT alone and AWSPENDING where it is, as AWS does; the next window tries again. */
  private recordFailure(key: string, pending: PendingRotation, step: string, message: string): void {
    const rec = this.repo.byStoreKey(key);
    if (!rec?.rotation) return;
    const now = this.now();
    rec.rotation.lastFailure = { step, message, atMs: now };
    if (rec.rotation.pending?.token === pending.token) rec.rotation.pending = { ...rec.rotation.pending, state: 'failed' };
    scheduleNextRotation(rec.rotation, now);
    this.replication.commit(rec);
    log('warn', 'rotation failed', { secret: rec.arn, token: pending.token, step, error: message.slice(0, 500) });
  }
}
