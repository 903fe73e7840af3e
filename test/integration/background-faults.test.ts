/**
 * Background work fails its job, never the process, and a start never crash-loops on stored state.
 *
 * Faults are injected at chosen steps of the jobs (core/faults.ts, CELLAR_FAULTS, test hooks only): the process is
 * killed at each step in turn, or a step throws (once, or at every step from one on). After each, Cellar starts
 * again on the same data directory and serves, and the job either finishes exactly (a resumed GSI backfill, a
 * resumed rotation) or is recorded as failed (a GSI whose creation fails is removed). A stored item the backfill
 * cannot read — real stored state, not an injected fault — fails the index creation the same way. RDS's reconciles
 * (`rds.reconcile`, on a real PostgreSQL) are killed and made to throw, and a final snapshot that cannot be taken
 * (`rds.snapshot`) fails its instance with an event instead of leaving it `deleting` for ever. The Time to Live
 * sweeper throwing at every tick (`dynamodb.ttl-sweep`) leaves the server serving, and its walk over existing items
 * (`dynamodb.ttl-walk`) killed mid-way is resumed by the next start.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, QueryCommand, ScanCommand, UpdateTableCommand, BatchWriteItemCommand, DeleteTableCommand, ListTablesCommand,
  UpdateTimeToLiveCommand, DescribeTimeToLiveCommand, PutItemCommand, GetItemCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient, CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, RotateSecretCommand, UpdateSecretVersionStageCommand, DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { KMSClient, CreateKeyCommand } from '@aws-sdk/client-kms';
import { RDSClient, CreateDBInstanceCommand, DescribeDBInstancesCommand, DeleteDBInstanceCommand, DescribeDBSnapshotsCommand, DescribeEventsCommand } from '@aws-sdk/client-rds';
import { freePort, removeDir, sdkConfig, startCellar, tempDir, waitFor, type CellarProcess } from '../helpers/cellar.js';

const ITEMS = 60;
const WITH_INDEX_KEY = 50;
const BATCH = 10;
/** Steps of a backfill over ITEMS items in batches of BATCH (the last one finds a short batch). */
const BACKFILL_STEPS = Math.floor(ITEMS / BATCH) + 1;

const dirs: string[] = [];
const processes: CellarProcess[] = [];

after(async () => {
  for (const p of processes) await p.kill9().catch(() => undefined);
  for (const d of dirs) removeDir(d);
});

function dataDirWith(config: object): string {
  const dir = tempDir();
  dirs.push(dir);
  writeFileSync(join(dir, 'cellar.json'), JSON.stringify(config));
  return dir;
}

async function start(dataDir: string, faults?: string, port?: number): Promise<CellarProcess> {
  const c = await startCellar({ dataDir, args: ['--quiet'], env: faults ? { CELLAR_FAULTS: faults } : { CELLAR_FAULTS: '' }, ...(port ? { port } : {}) });
  processes.push(c);
  return c;
}

const exited = (c: CellarProcess) => new Promise<void>((resolve) => (c.proc.exitCode !== null || c.proc.signalCode !== null ? resolve() : c.proc.once('exit', () => resolve())));

/** A table of ITEMS items: WITH_INDEX_KEY with a usable `g`, five whose `g` no index key may hold, five without. */
async function tableWithItems(ddb: DynamoDBClient): Promise<void> {
  await ddb.send(new CreateTableCommand({ TableName: 'jobs', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  const items = Array.from({ length: ITEMS }, (_, i) => ({
    pk: { S: `item-${String(i).padStart(3, '0')}` },
    ...(i < WITH_INDEX_KEY ? { g: { S: `group-${i % 7}` } } : i < WITH_INDEX_KEY + 5 ? { g: { S: 'x'.repeat(3000) } } : {}),
  }));
  for (let i = 0; i < items.length; i += 25) {
    await ddb.send(new BatchWriteItemCommand({ RequestItems: { jobs: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

const addIndex = (ddb: DynamoDBClient) =>
  ddb.send(new UpdateTableCommand({ TableName: 'jobs', AttributeDefinitions: [{ AttributeName: 'g', AttributeType: 'S' }], GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'by_g', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } } }] }));

async function indexCount(ddb: DynamoDBClient): Promise<number> {
  let n = 0;
  for (let g = 0; g < 7; g++) n += (await ddb.send(new QueryCommand({ TableName: 'jobs', IndexName: 'by_g', KeyConditionExpression: 'g = :g', ExpressionAttributeValues: { ':g': { S: `group-${g}` } }, Select: 'COUNT' }))).Count!;
  return n;
}

async function indexStatus(ddb: DynamoDBClient): Promise<string | undefined> {
  const t = await ddb.send(new DescribeTableCommand({ TableName: 'jobs' }));
  return t.Table!.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'by_g')?.IndexStatus;
}

describe('background jobs under faults', () => {
  it(`a GSI backfill killed at each of its ${BACKFILL_STEPS} steps is resumed by the next start and ends exact`, async () => {
    for (let step = 1; step <= BACKFILL_STEPS; step++) {
      const dir = dataDirWith({ dynamodb: { backfillBatch: BATCH } });
      const first = await start(dir, `dynamodb.backfill@${step}=kill`);
      const ddb = new DynamoDBClient(sdkConfig(first.endpoint));
      await tableWithItems(ddb);
      // The process may die before the answer leaves (step 1 runs in the turn after UpdateTable): the change was
      // committed before it was answered either way.
      await addIndex(ddb).catch(() => undefined);
      await exited(first);
      assert.equal(first.proc.signalCode, 'SIGKILL', `step ${step}: killed by the injected fault`);
      const second = await start(dir);
      const again = new DynamoDBClient(sdkConfig(second.endpoint));
      await waitFor(async () => (await indexStatus(again)) === 'ACTIVE', `index ACTIVE after a kill at step ${step}`, 20_000);
      assert.equal(await indexCount(again), WITH_INDEX_KEY, `step ${step}: every item with a usable key, and only those`);
      assert.equal((await again.send(new ScanCommand({ TableName: 'jobs', Select: 'COUNT' }))).Count, ITEMS);
      await second.stop();
    }
  });

  it('a backfill step that throws once is retried; one that keeps throwing fails the index creation, and Cellar serves and restarts', async () => {
    const dir = dataDirWith({ dynamodb: { backfillBatch: BATCH } });
    const once = await start(dir, 'dynamodb.backfill@3=throw');
    let ddb = new DynamoDBClient(sdkConfig(once.endpoint));
    await tableWithItems(ddb);
    await addIndex(ddb);
    await waitFor(async () => (await indexStatus(ddb)) === 'ACTIVE', 'index ACTIVE after one failed step', 20_000);
    assert.equal(await indexCount(ddb), WITH_INDEX_KEY);
    await ddb.send(new UpdateTableCommand({ TableName: 'jobs', GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'by_g' } }] }));
    await once.stop();

    const always = await start(dir, 'dynamodb.backfill@2+=throw');
    ddb = new DynamoDBClient(sdkConfig(always.endpoint));
    await waitFor(async () => (await indexStatus(ddb)) === undefined, 'the deleted index gone', 10_000);
    await addIndex(ddb);
    await waitFor(async () => (await indexStatus(ddb)) === undefined, 'the failed index removed', 20_000);
    assert.ok(always.output.some((l) => l.includes('global secondary index creation failed')), 'the failure is logged');
    assert.equal((await ddb.send(new ScanCommand({ TableName: 'jobs', Select: 'COUNT' }))).Count, ITEMS, 'the table is untouched');
    await always.stop();

    const after = await start(dir);
    ddb = new DynamoDBClient(sdkConfig(after.endpoint));
    assert.equal((await ddb.send(new ScanCommand({ TableName: 'jobs', Select: 'COUNT' }))).Count, ITEMS);
    await addIndex(ddb);
    await waitFor(async () => (await indexStatus(ddb)) === 'ACTIVE', 'a new index works', 20_000);
    assert.equal(await indexCount(ddb), WITH_INDEX_KEY);
    await after.stop();
  });

  it('a stored item the backfill cannot read fails that index creation at every start, and every start serves', async () => {
    const dir = dataDirWith({ dynamodb: { backfillBatch: BATCH } });
    let c = await start(dir);
    let ddb = new DynamoDBClient(sdkConfig(c.endpoint));
    await tableWithItems(ddb);
    await c.stop();
    // Damage one item's stored value directly: the kind of stored state that once made every start crash.
    const db = new Database(join(dir, 'state.db'));
    const row = db.prepare('SELECT k FROM kv_ddb_items ORDER BY k LIMIT 1 OFFSET 5').get() as { k: Buffer };
    db.prepare('UPDATE kv_ddb_items SET v = ? WHERE k = ?').run(Buffer.from([0, 0, 0, 9, 0x7b, 0x22, 0xff, 0x22]), row.k);
    db.close();
    for (let round = 0; round < 2; round++) {
      c = await start(dir);
      ddb = new DynamoDBClient(sdkConfig(c.endpoint));
      if (round === 0) await addIndex(ddb);
      await waitFor(async () => (await indexStatus(ddb)) === undefined, 'the index that cannot be built is removed', 20_000);
      assert.deepEqual((await ddb.send(new ListTablesCommand({}))).TableNames, ['jobs']);
      await c.stop();
    }
  });

  it('records that cannot be read at start (a secret with a rotation to resume, a table) are reported, and the server starts and serves', async () => {
    const dir = dataDirWith({});
    let c = await start(dir);
    const sm = new SecretsManagerClient(sdkConfig(c.endpoint));
    await sm.send(new CreateSecretCommand({ Name: 'unreadable', SecretString: 'v' }));
    const ddb = new DynamoDBClient(sdkConfig(c.endpoint));
    await tableWithItems(ddb);
    await c.stop();
    const db = new Database(join(dir, 'state.db'));
    db.prepare('UPDATE kv_sm_secrets SET v = ?').run(Buffer.from('{not json'));
    db.prepare('UPDATE kv_ddb_meta SET v = ? WHERE k <> ?').run(Buffer.from('{not json'), Buffer.from('seq'));
    db.close();
    for (let round = 0; round < 2; round++) {
      c = await start(dir);
      assert.equal((await fetch(`${c.endpoint}/_cellar/health`)).status, 200);
      const kms = new KMSClient(sdkConfig(c.endpoint));
      assert.ok((await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId, 'other services serve');
      await new DynamoDBClient(sdkConfig(c.endpoint)).send(new CreateTableCommand({ TableName: 'fresh', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' })).catch((e) => assert.equal(e.name, 'ResourceInUseException'));
      assert.ok(c.output.some((l) => l.includes('"level":"error"')), 'the unreadable records are reported');
      await c.stop();
    }
  });

  it('a table deletion killed mid-way is finished by the next start', async () => {
    const dir = dataDirWith({});
    const first = await start(dir, 'dynamodb.purge@1=kill');
    const ddb = new DynamoDBClient(sdkConfig(first.endpoint));
    await tableWithItems(ddb);
    await ddb.send(new DeleteTableCommand({ TableName: 'jobs' })).catch(() => undefined);
    await exited(first);
    const second = await start(dir);
    const again = new DynamoDBClient(sdkConfig(second.endpoint));
    await waitFor(async () => (await again.send(new ListTablesCommand({}))).TableNames!.length === 0, 'the table gone', 10_000);
    await second.stop();
  });

  it('a Time to Live sweep that throws at every tick leaves the server serving; the next start sweeps', async () => {
    const dir = dataDirWith({ dynamodb: { ttlSweepIntervalMs: 50, ttlChangeIntervalMs: 0 } });
    const first = await start(dir, 'dynamodb.ttl-sweep@1+=throw');
    let ddb = new DynamoDBClient(sdkConfig(first.endpoint));
    await tableWithItems(ddb);
    await ddb.send(new UpdateTimeToLiveCommand({ TableName: 'jobs', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expires' } }));
    await ddb.send(new PutItemCommand({ TableName: 'jobs', Item: { pk: { S: 'expired' }, expires: { N: String(Math.floor(Date.now() / 1000) - 60) } } }));
    await waitFor(() => first.output.filter((l) => l.includes('time to live sweep failed')).length >= 3, 'sweeps failing', 10_000);
    assert.ok((await ddb.send(new GetItemCommand({ TableName: 'jobs', Key: { pk: { S: 'expired' } } }))).Item, 'not swept while every tick throws');
    assert.equal((await fetch(`${first.endpoint}/_cellar/health`)).status, 200);
    await first.stop();
    assert.equal(first.proc.exitCode, 0, 'a clean stop');
    const second = await start(dir);
    ddb = new DynamoDBClient(sdkConfig(second.endpoint));
    await waitFor(async () => (await ddb.send(new GetItemCommand({ TableName: 'jobs', Key: { pk: { S: 'expired' } } }))).Item === undefined, 'the expired item swept', 10_000);
    await second.stop();
  });

  it('a Time to Live walk over existing items killed at a step is resumed by the next start, and every expired item goes', async () => {
    for (const step of [1, 3]) {
      const dir = dataDirWith({ dynamodb: { backfillBatch: BATCH, ttlSweepIntervalMs: 50 } });
      const first = await start(dir, `dynamodb.ttl-walk@${step}=kill`);
      const ddb = new DynamoDBClient(sdkConfig(first.endpoint));
      await tableWithItems(ddb);
      // Every item of the table is given an expiry in the past (TTL still off: nothing is deleted yet).
      const past = String(Math.floor(Date.now() / 1000) - 60);
      for (let i = 0; i < ITEMS; i++) {
        await ddb.send(new UpdateItemCommand({ TableName: 'jobs', Key: { pk: { S: `item-${String(i).padStart(3, '0')}` } }, UpdateExpression: 'SET expires = :e', ExpressionAttributeValues: { ':e': { N: past } } }));
      }
      await ddb.send(new UpdateTimeToLiveCommand({ TableName: 'jobs', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expires' } })).catch(() => undefined);
      await exited(first);
      const second = await start(dir);
      const again = new DynamoDBClient(sdkConfig(second.endpoint));
      assert.equal((await again.send(new DescribeTimeToLiveCommand({ TableName: 'jobs' }))).TimeToLiveDescription?.TimeToLiveStatus, 'ENABLED', `step ${step}`);
      await waitFor(async () => (await again.send(new ScanCommand({ TableName: 'jobs', Select: 'COUNT' }))).Count === 0, `every item expired after a kill at walk step ${step}`, 15_000);
      await second.stop();
    }
  });

  it('a Secrets Manager rotation killed at each of its four steps completes after the next start', async () => {
    const FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:rotate-under-faults';
    let sm!: SecretsManagerClient;
    // The rotation function, outside Cellar (it survives Cellar's deaths), doing what a rotation Lambda does.
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        try {
          const { Step, SecretId, ClientRequestToken } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Step: string; SecretId: string; ClientRequestToken: string };
          if (Step === 'createSecret') {
            const pending = await sm.send(new GetSecretValueCommand({ SecretId, VersionId: ClientRequestToken, VersionStage: 'AWSPENDING' })).catch(() => undefined);
            if (!pending) await sm.send(new PutSecretValueCommand({ SecretId, ClientRequestToken, SecretString: `rotated-${ClientRequestToken}`, VersionStages: ['AWSPENDING'] }));
          } else if (Step === 'finishSecret') {
            const d = await sm.send(new DescribeSecretCommand({ SecretId }));
            const current = Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
            if (current !== ClientRequestToken) await sm.send(new UpdateSecretVersionStageCommand({ SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: ClientRequestToken, RemoveFromVersionId: current }));
          }
          res.writeHead(200).end('{}');
        } catch (e) {
          res.writeHead(500).end(String(e));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      for (let step = 1; step <= 4; step++) {
        const dir = dataDirWith({ rotationFunctions: { [FUNCTION]: { url, timeoutMs: 10_000 } } });
        const first = await start(dir, `secretsmanager.rotation@${step}=kill`);
        sm = new SecretsManagerClient(sdkConfig(first.endpoint));
        await sm.send(new CreateSecretCommand({ Name: 'rotated', SecretString: 'original' }));
        await sm.send(new RotateSecretCommand({ SecretId: 'rotated', RotationLambdaARN: FUNCTION, RotationRules: { AutomaticallyAfterDays: 30 } })).catch(() => undefined);
        await exited(first);
        assert.equal(first.proc.signalCode, 'SIGKILL', `step ${step}: killed by the injected fault`);
        // Same port: the rotation is resumed as the new Cellar starts, and the function must reach it at once.
        const second = await start(dir, undefined, first.port);
        const value = await waitFor(async () => {
          const v = (await sm.send(new GetSecretValueCommand({ SecretId: 'rotated' }))).SecretString!;
          return v.startsWith('rotated-') ? v : undefined;
        }, `rotation finished after a kill at step ${step}`, 20_000);
        const d = await sm.send(new DescribeSecretCommand({ SecretId: 'rotated' }));
        const labelled = Object.values(d.VersionIdsToStages ?? {});
        assert.ok(labelled.some((s) => s.includes('AWSCURRENT') && s.includes('AWSPENDING')) || !labelled.some((s) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT')), `step ${step}: no rotation left pending (${JSON.stringify(d.VersionIdsToStages)})`);
        assert.ok(value?.startsWith("rotated-"));
        await second.stop();
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('schedulers whose every tick throws leave the server serving', async () => {
    const dir = dataDirWith({});
    const c = await start(dir, 'kms.tick@1+=throw,secretsmanager.tick@1+=throw');
    await waitFor(() => c.output.filter((l) => l.includes('scheduler failed')).length >= 2, 'ticks failing', 10_000);
    const kms = new KMSClient(sdkConfig(c.endpoint));
    assert.ok((await kms.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId);
    assert.equal((await fetch(`${c.endpoint}/_cellar/health`)).status, 200);
    await c.stop();
    assert.equal(c.proc.exitCode, 0, 'a clean stop');
  });

  describe('RDS', () => {
    const RDS_TIMEOUT_MS = 90_000;
    const createInstance = async (rds: RDSClient, id: string) =>
      rds.send(new CreateDBInstanceCommand({ DBInstanceIdentifier: id, Engine: 'postgres', DBInstanceClass: 'db.t3.micro', AllocatedStorage: 20, MasterUsername: 'master', MasterUserPassword: 'Passw0rd-faults', Port: await freePort() }));
    const statusOf = async (rds: RDSClient, id: string) => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })).catch(() => undefined))?.DBInstances?.[0]?.DBInstanceStatus;

    it('a reconcile killed at its first step, or throwing at every step, leaves Cellar serving; the next start brings the instance up', async () => {
      const dir = dataDirWith({ rds: { healthIntervalMs: 250 } });
      const first = await start(dir, 'rds.reconcile@1=kill');
      let rds = new RDSClient(sdkConfig(first.endpoint));
      // The record is committed before the reconcile it asks for starts, and that reconcile kills the process.
      await createInstance(rds, 'faulty').catch(() => undefined);
      await exited(first);
      assert.equal(first.proc.signalCode, 'SIGKILL', 'killed by the injected fault');

      const second = await start(dir, 'rds.reconcile@1+=throw');
      rds = new RDSClient(sdkConfig(second.endpoint));
      await waitFor(() => second.output.filter((l) => l.includes('rds reconcile failed')).length >= 2, 'reconciles failing', 20_000);
      assert.equal(await statusOf(rds, 'faulty'), 'creating');
      assert.equal((await fetch(`${second.endpoint}/_cellar/health`)).status, 200);
      assert.ok((await new KMSClient(sdkConfig(second.endpoint)).send(new CreateKeyCommand({}))).KeyMetadata?.KeyId, 'other services serve');
      await second.stop();
      assert.equal(second.proc.exitCode, 0, 'a clean stop');

      const third = await start(dir);
      rds = new RDSClient(sdkConfig(third.endpoint));
      await waitFor(async () => (await statusOf(rds, 'faulty')) === 'available', 'faulty available after a fault-free start', RDS_TIMEOUT_MS, 200);
      // The longest final snapshot identifier RDS accepts names no file: the snapshot is taken and the instance deleted.
      const longest = 's' + 'a'.repeat(254);
      await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'faulty', FinalDBSnapshotIdentifier: longest }));
      await waitFor(async () => (await statusOf(rds, 'faulty')) === undefined, 'faulty deleted', RDS_TIMEOUT_MS, 200);
      const snap = (await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: longest }))).DBSnapshots!;
      assert.deepEqual(snap.map((x) => [x.DBSnapshotIdentifier, x.DBInstanceIdentifier, x.Status]), [[longest, 'faulty', 'available']]);
      await third.stop();
    });

    it('a final snapshot that cannot be taken fails the instance, with an event, instead of deleting it or leaving it deleting', async () => {
      const dir = dataDirWith({ rds: { healthIntervalMs: 250 } });
      const c = await start(dir, 'rds.snapshot@1+=throw');
      const rds = new RDSClient(sdkConfig(c.endpoint));
      await createInstance(rds, 'keeper');
      await waitFor(async () => (await statusOf(rds, 'keeper')) === 'available', 'keeper available', RDS_TIMEOUT_MS, 200);
      await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'keeper', FinalDBSnapshotIdentifier: 'last-words' }));
      await waitFor(async () => (await statusOf(rds, 'keeper')) === 'failed', 'keeper failed, not deleting for ever', 30_000, 200);
      const events = (await rds.send(new DescribeEventsCommand({ SourceIdentifier: 'keeper', SourceType: 'db-instance', Duration: 60 }))).Events!;
      assert.ok(events.some((e) => e.Message === 'The final DB snapshot last-words could not be created; the DB instance was not deleted' && e.EventCategories!.includes('failure')), JSON.stringify(events.map((e) => e.Message)));
      await assert.rejects(rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: 'last-words' })), (e: any) => (e.Code ?? e.name).startsWith('DBSnapshotNotFound'));
      // Failed, it can still be deleted (the final snapshot skipped, as RDS requires of a failed instance).
      await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'keeper', SkipFinalSnapshot: true }));
      await waitFor(async () => (await statusOf(rds, 'keeper')) === undefined, 'keeper deleted', RDS_TIMEOUT_MS, 200);
      await c.stop();
    });
  });
});
