/**
 * @module services/secretsmanager/rotation
 * Where a rotation function ARN leads, since Cellar has no Lambda: an in-process handler registered
 * by another Cellar service (RDS registers one for the database passwords it manages), a local
 * executable, or an HTTP endpoint from `rotationFunctions` in the config. Each step of a rotation is
 * one invocation with the Lambda event `{Step, SecretId, ClientRequestToken, RotationToken}`.
 *
 * An executable runs as `command… <Step>` with the event as JSON on stdin and the environment a
 * rotation Lambda would have (AWS_ENDPOINT_URL, credentials, AWS_REGION) pointing back at Cellar, so a
 * rotation script written for the AWS SDK or CLI works unchanged. Exit status 0 is success. The
 * executable does not inherit Cellar's own environment (which may hold CELLAR_ROOT_KEY).
 */
import type { RotationFunctionConfig } from '../../config.js';
import type * as api from '../../models/secretsmanager.js';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
export const ROTATION_STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

/** The event a rotation Lambda receives. */
export interface RotationEvent {
  Step: RotationStep;
  SecretId: string;
  ClientRequestToken: string;
  RotationToken?: string;
}

/** Secrets Manager as an in-process rotation handler sees it: the calls a rotation function makes, already scoped to the secret's account and region. */
export interface InProcessSecretsManager {
  describeSecret(input: api.DescribeSecretRequest): Promise<api.DescribeSecretResponse>;
  getSecretValue(input: api.GetSecretValueRequest): Promise<api.GetSecretValueResponse>;
  putSecretValue(input: api.PutSecretValueRequest): Promise<api.PutSecretValueResponse>;
  updateSecretVersionStage(input: api.UpdateSecretVersionStageRequest): Promise<api.UpdateSecretVersionStageResponse>;
  getRandomPassword(input: api.GetRandomPasswordRequest): Promise<api.GetRandomPasswordResponse>;
}

/**
 * A rotation function implemented inside Cellar. Each step gets the same event a Lambda would and a
 * Secrets Manager client; throwing fails the step, exactly as a Lambda error does.
 */
export interface BuiltinRotationHandler {
  createSecret(event: RotationEvent, sm: InProcessSecretsManager): Promise<void>;
  setSecret(event: RotationEvent, sm: InProcessSecretsManager): Promise<void>;
  testSecret(event: RotationEvent, sm: InProcessSecretsManager): Promise<void>;
  finishSecret(event: RotationEvent, sm: InProcessSecretsManager): Promise<void>;
}

/** What an executable needs to call back into Cellar as the rotation's principal. */
export interface CallbackEnvironment {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export type ResolvedFunction =
  | { kind: 'builtin'; name: string; handler: BuiltinRotationHandler; timeoutMs: number }
  | { kind: 'command'; name: string; command: string[]; timeoutMs: number }
  | { kind: 'url'; name: string; url: string; timeoutMs: number };

const DEFAULT_STEP_TIMEOUT_MS = 30_000;
/** Longest per-step limit accepted from the config: Lambda's own maximum (15 minutes). */
const MAX_STEP_TIMEOUT_MS = 900_000;
/** How much of an executable's stderr is kept for the failure record. */
const STDERR_TAIL_BYTES = 2048;

/** `arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]` → name; anything else is taken as a name. */
export function functionName(arnOrName: string): string {
  const m = /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:([^:]+)(?::[^:]+)?$/.exec(arnOrName);
  return m ? m[1]! : arnOrName;
}

export class RotationFunctions {
  private readonly builtins = new Map<string, BuiltinRotationHandler>();

  constructor(private readonly configured: Record<string, RotationFunctionConfig>) {}

  /** Registers an in-process rotation function under a Lambda ARN or a bare function name. */
  register(arnOrName: string, handler: BuiltinRotationHandler): void {
    this.builtins.set(arnOrName, handler);
  }

  /** Exact ARN first, then the function name; built-in handlers before configured ones. */
  resolve(lambdaArn: string): ResolvedFunction | undefined {
    const name = functionName(lambdaArn);
    const builtin = this.builtins.get(lambdaArn) ?? this.builtins.get(name);
    if (builtin) return { kind: 'builtin', name, handler: builtin, timeoutMs: DEFAULT_STEP_TIMEOUT_MS };
    const cfg = this.configured[lambdaArn] ?? this.configured[name];
    if (!cfg) return undefined;
    const timeoutMs = Math.min(Math.max(1, cfg.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS), MAX_STEP_TIMEOUT_MS);
    if (cfg.command && cfg.command.length > 0) return { kind: 'command', name, command: cfg.command, timeoutMs };
    if (cfg.url) return { kind: 'url', name, url: cfg.url, timeoutMs };
    return undefined;
  }
}

export class StepFailure extends Error {}

/** Runs one step; resolves on success, rejects with StepFailure (a message safe to log) otherwise. */
export async function invokeStep(fn: ResolvedFunction, event: RotationEvent, sm: () => InProcessSecretsManager, callback: () => CallbackEnvironment): Promise<void> {
  switch (fn.kind) {
    case 'builtin':
      return withTimeout(fn.handler[event.Step](event, sm()), fn.timeoutMs, event.Step);
    case 'command':
      return runCommand(fn.command, event, callback(), fn.timeoutMs);
    case 'url':
      return postEvent(fn.url, event, fn.timeoutMs);
  }
}

async function withTimeout(work: Promise<void>, timeoutMs: number, step: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepFailure(`${step} timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([work, timeout]);
  } catch (e) {
    if (e instanceof StepFailure) throw e;
    throw new StepFailure(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  } finally {
    clearTimeout(timer);
  }
}

async function runCommand(command: string[], event: RotationEvent, cb: CallbackEnvironment, timeoutMs: number): Promise<void> {
  // Loaded on first use: node:child_process is a few milliseconds of Cellar's startup, and most never rotate by command.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: process.env.LANG,
      AWS_ENDPOINT_URL: cb.endpoint,
      SECRETS_MANAGER_ENDPOINT: cb.endpoint,
      AWS_REGION: cb.region,
      AWS_DEFAULT_REGION: cb.region,
      AWS_ACCESS_KEY_ID: cb.accessKeyId,
      AWS_SECRET_ACCESS_KEY: cb.secretAccessKey,
      AWS_SESSION_TOKEN: cb.sessionToken,
      AWS_PAGER: '',
    };
    let child;
    try {
      child = spawn(command[0]!, [...command.slice(1), event.Step], { env, stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    } catch (e) {
      reject(new StepFailure(`could not start ${command[0]}: ${(e as Error).message}`));
      return;
    }
    let stderr = Buffer.alloc(0);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // The whole process group, so a shell script's children die too.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, timeoutMs);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_TAIL_BYTES) stderr = stderr.subarray(stderr.length - STDERR_TAIL_BYTES);
    });
    child.stdin!.on('error', () => {}); // a function that never reads stdin is not an error
    child.stdin!.end(JSON.stringify(event));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new StepFailure(`could not run ${command[0]}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new StepFailure(`${event.Step} timed out after ${timeoutMs} ms`));
      else if (code === 0) resolve();
      else reject(new StepFailure(`${event.Step} exited with ${code ?? signal}: ${stderr.toString('utf8').trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

async function postEvent(url: string, event: RotationEvent, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new StepFailure(`${event.Step} could not reach ${url}: ${(e as Error).message}`);
  }
  const text = (await res.text().catch(() => '')).slice(0, STDERR_TAIL_BYTES);
  if (!res.ok) throw new StepFailure(`${event.Step} answered HTTP ${res.status}: ${text}`);
}
