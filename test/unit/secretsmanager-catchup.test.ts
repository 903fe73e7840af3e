/**
 * What fell due while Cellar was down is done when it starts again: the provider is rebuilt on the
 * same store with the clock moved on (a "restart"), as the running server would be. Also exercises
 * the built-in (in-process) rotation handler interface that RDS uses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { ManualClock } from '../../src/core/clock.js';
import { backgroundContext, type RequestContext } from '../../src/core/context.js';
import { Scope } from '../../src/core/scope.js';
import { setLogSink } from '../../src/core/log.js';
import { CredentialStore, type Credential } from '../../src/auth/credentials.js';
import { SecretBox } from '../../src/crypto/rootkey.js';
import { DEFAULTS } from '../../src/config.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { JsonTable } from '../../src/storage/store.js';
import type { ServiceEnv } from '../../src/services/env.js';
import { kmsService } from '../../src/services/kms/index.js';
import { secretsManagerService } from '../../src/services/secretsmanager/index.js';
import type { SecretsManagerProvider } from '../../src/services/secretsmanager/provider.js';
import type { BuiltinRotationHandler } from '../../src/services/secretsmanager/rotation.js';

const DAY_MS = 86_400_000;

function boot(store: SqliteStore, clock: ManualClock, box: SecretBox) {
  const env: ServiceEnv = { store, clock, config: { ...DEFAULTS }, credentials: new CredentialStore([], new JsonTable<Credential>(store.keyspace('sts_credentials')), box), box, built: new Map() };
  env.built.set('kms', kmsService(env));
  const svc = secretsManagerService(env);
  return { svc, sm: svc.provider as SecretsManagerProvider };
}

function ctx(clock: ManualClock): RequestContext {
  return { ...backgroundContext(Scope.ofCaller('000000000000', 'us-east-1'), 'secretsmanager', 'Test', clock), accessKeyId: 'test' };
}

/** A password rotation done in-process, the way RDS's handler for managed master passwords works. */
const builtin: BuiltinRotationHandler = {
  async createSecret(e, sm) {
    try {
      await sm.getSecretValue({ SecretId: e.SecretId, VersionId: e.ClientRequestToken, VersionStage: 'AWSPENDING' });
    } catch {
      const { RandomPassword } = await sm.getRandomPassword({ PasswordLength: 16 });
      await sm.putSecretValue({ SecretId: e.SecretId, ClientRequestToken: e.ClientRequestToken, SecretString: RandomPassword!, VersionStages: ['AWSPENDING'] });
    }
  },
  async setSecret() {},
  async testSecret(e, sm) {
    await sm.getSecretValue({ SecretId: e.SecretId, VersionId: e.ClientRequestToken });
  },
  async finishSecret(e, sm) {
    const d = await sm.describeSecret({ SecretId: e.SecretId });
    const current = Object.entries(d.VersionIdsToStages!).find(([, s]) => s.includes('AWSCURRENT'))![0];
    if (current !== e.ClientRequestToken) await sm.updateSecretVersionStage({ SecretId: e.SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: e.ClientRequestToken, RemoveFromVersionId: current });
  },
};

async function until(fn: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Secrets Manager catch-up after a restart', () => {
  it('performs a deletion and a rotation that fell due while Cellar was down', async () => {
    setLogSink(() => {});
    const store = new SqliteStore({ path: ':memory:' });
    const clock = new ManualClock();
    const box = new SecretBox(randomBytes(32));
    let { svc, sm } = boot(store, clock, box);
    sm.internal.registerBuiltinRotation('cellar-builtin-password', builtin);
    await sm.createSecret({ Name: 'gone-soon', SecretString: 'x', ClientRequestToken: randomUUID() }, ctx(clock));
    await sm.deleteSecret({ SecretId: 'gone-soon', RecoveryWindowInDays: 7 }, ctx(clock));
    const first = randomUUID();
    await sm.createSecret({ Name: 'rotating', SecretString: 'initial', ClientRequestToken: first }, ctx(clock));
    const r = await sm.rotateSecret({ SecretId: 'rotating', RotationLambdaARN: 'arn:aws:lambda:us-east-1:000000000000:function:cellar-builtin-password', RotationRules: { AutomaticallyAfterDays: 2 } }, ctx(clock));
    await until(() => sm.describeSecret({ SecretId: 'rotating' }, ctx(clock)).LastRotatedDate !== undefined, 'the first rotation');
    assert.equal(sm.getSecretValue({ SecretId: 'rotating' }, ctx(clock)).VersionId, r.VersionId);
    svc.stop?.();

    // "Down" for eight days, then started again on the same store.
    clock.advance(8 * DAY_MS);
    ({ svc, sm } = boot(store, clock, box));
    sm.internal.registerBuiltinRotation('cellar-builtin-password', builtin);
    assert.ok(sm.describeSecret({ SecretId: 'gone-soon' }, ctx(clock)).DeletedDate, 'nothing happens before start');
    await svc.start?.();
    try {
      assert.throws(() => sm.describeSecret({ SecretId: 'gone-soon' }, ctx(clock)), (e: any) => e.code === 'ResourceNotFoundException');
      await until(() => {
        const d = sm.describeSecret({ SecretId: 'rotating' }, ctx(clock));
        return d.LastRotatedDate!.getTime() >= clock.now() - 60_000;
      }, 'the overdue rotation');
      const value = sm.getSecretValue({ SecretId: 'rotating' }, ctx(clock));
      assert.notEqual(value.VersionId, r.VersionId);
      assert.equal(value.SecretString!.length, 16);
      assert.deepEqual(sm.describeSecret({ SecretId: 'rotating' }, ctx(clock)).VersionIdsToStages![r.VersionId!]!.includes('AWSPREVIOUS'), true);
    } finally {
      svc.stop?.();
      store.close();
    }
  });
});
