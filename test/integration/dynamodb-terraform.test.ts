/**
 * The calls Terraform's `aws_dynamodb_table` makes (hashicorp/terraform-provider-aws,
 * internal/service/dynamodb/table.go, wait.go and status.go), in the same order, with the same inputs, through the
 * SDK, checking each answer the way the provider reads it: create (CreateTable, then the waits on the table, its warm
 * throughput and each GSI), read (DescribeTable, DescribeContinuousBackups, DescribeTimeToLive, and the tags the
 * provider's transparent tagging lists), update (billing mode, deletion protection, tags, a new GSI, each followed by
 * its waits and a read), and delete (DeleteTable, then DescribeTable until the table is not found).
 *
 * Terraform's waits are StateChangeConf loops: a refresh that returns nothing (a missing WarmThroughput, a missing
 * index) counts as "not found" and fails the apply after 20 tries, and a state outside pending and target fails it
 * at once. `waitFor` below keeps those rules (with a bounded number of polls, not Terraform's minutes).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, DescribeContinuousBackupsCommand, DescribeTimeToLiveCommand, ListTagsOfResourceCommand,
  UpdateTableCommand, TagResourceCommand, UntagResourceCommand, DeleteTableCommand, ResourceNotFoundException, type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';

const TABLE = 'tf-acc-test-orders';
const POLLS = 200;
const POLL_INTERVAL_MS = 50;
/** Terraform's StateChangeConf gives up after this many refreshes that found nothing. */
const NOT_FOUND_CHECKS = 20;

describe("Terraform's aws_dynamodb_table against Cellar, call by call", () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;
  let arn = '';
  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  /**
   * A Terraform wait: refresh until the state is a target (`continuous` times in a row), failing on a state that is
   * neither pending nor target, and after NOT_FOUND_CHECKS refreshes that found nothing.
   */
  async function waitFor<T>(what: string, refresh: () => Promise<[T | undefined, string]>, pending: string[], target: string[], continuous = 1): Promise<T | undefined> {
    let notFound = 0;
    let inTarget = 0;
    for (let i = 0; i < POLLS; i++) {
      const [value, state] = await refresh();
      if (value === undefined) {
        if (target.length === 0) return undefined;
        if (++notFound > NOT_FOUND_CHECKS) assert.fail(`${what}: couldn't find resource (${NOT_FOUND_CHECKS} retries)`);
      } else if (target.includes(state)) {
        if (++inTarget >= continuous) return value;
      } else if (pending.includes(state)) {
        inTarget = 0;
      } else {
        assert.fail(`${what}: unexpected state '${state}', wanted target '${target.join(', ')}'`);
      }
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
    return assert.fail(`${what}: still not ${target.join(', ')} after ${POLLS} polls`);
  }

  /** findTableByName: DescribeTable, ResourceNotFoundException meaning "not found". */
  async function findTable(): Promise<TableDescription | undefined> {
    try {
      return (await client.send(new DescribeTableCommand({ TableName: TABLE }))).Table;
    } catch (e) {
      if (e instanceof ResourceNotFoundException) return undefined;
      throw e;
    }
  }
  const waitTableActive = () => waitFor('table active', async () => {
    const t = await findTable();
    return [t, t?.TableStatus ?? ''];
  }, ['CREATING', 'UPDATING'], ['ACTIVE'], 2);
  const waitTableWarmThroughputActive = () => waitFor('table warm throughput active', async () => {
    const t = await findTable();
    return [t?.WarmThroughput ? t : undefined, t?.WarmThroughput?.Status ?? ''];
  }, ['CREATING', 'UPDATING'], ['ACTIVE']);
  const waitGSIActive = (index: string) => waitFor(`GSI ${index} active`, async () => {
    const g = (await findTable())?.GlobalSecondaryIndexes?.find((i) => i.IndexName === index);
    return [g, g?.IndexStatus ?? ''];
  }, ['CREATING', 'UPDATING'], ['ACTIVE']);
  const waitGSIWarmThroughputActive = (index: string) => waitFor(`GSI ${index} warm throughput active`, async () => {
    const g = (await findTable())?.GlobalSecondaryIndexes?.find((i) => i.IndexName === index);
    return [g?.WarmThroughput ? g : undefined, g?.WarmThroughput?.Status ?? ''];
  }, ['CREATING', 'UPDATING'], ['ACTIVE']);

  /** resourceTableRead, then the tags transparent tagging lists; returns what Terraform would store. */
  async function read(): Promise<{ table: TableDescription; pitr: string | undefined; ttl: string | undefined; tags: Record<string, string> }> {
    const table = await findTable();
    assert.ok(table, 'the table is found');
    // DescribeContinuousBackups: Terraform tolerates only UnknownOperationException and TableNotFoundException.
    const pitr = await client.send(new DescribeContinuousBackupsCommand({ TableName: TABLE }));
    assert.equal(pitr.ContinuousBackupsDescription?.ContinuousBackupsStatus, 'ENABLED');
    // DescribeTimeToLive: any error fails the read.
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: TABLE }));
    const tags = await client.send(new ListTagsOfResourceCommand({ ResourceArn: table.TableArn! }));
    return {
      table,
      pitr: pitr.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus,
      ttl: ttl.TimeToLiveDescription?.TimeToLiveStatus,
      tags: Object.fromEntries((tags.Tags ?? []).map((t) => [t.Key!, t.Value!])),
    };
  }

  it('create: CreateTable, wait for the table, its warm throughput and each GSI, then read', async () => {
    const created = await client.send(new CreateTableCommand({
      BillingMode: 'PROVISIONED',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      TableName: TABLE,
      Tags: [{ Key: 'env', Value: 'test' }, { Key: 'team', Value: 'orders' }],
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, { AttributeName: 'status', AttributeType: 'S' }],
      GlobalSecondaryIndexes: [{
        IndexName: 'byStatus', KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' },
        ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
      }],
    }));
    assert.ok(created.TableDescription, 'error creating DynamoDB Table: empty response');
    const active = await waitTableActive();
    assert.equal(active?.TableStatus, 'ACTIVE');
    await waitTableWarmThroughputActive();
    await waitGSIActive('byStatus');

    const { table, pitr, ttl, tags } = await read();
    arn = table.TableArn!;
    assert.equal(arn, `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}`);
    assert.equal(table.TableName, TABLE);
    assert.equal(table.BillingModeSummary, undefined, 'a table created PROVISIONED has no BillingModeSummary: Terraform reads PROVISIONED');
    assert.equal(table.DeletionProtectionEnabled, false);
    assert.deepEqual([table.ProvisionedThroughput?.ReadCapacityUnits, table.ProvisionedThroughput?.WriteCapacityUnits], [5, 5]);
    assert.deepEqual(table.KeySchema, [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }]);
    assert.equal(table.GlobalSecondaryIndexes?.[0]?.ProvisionedThroughput?.ReadCapacityUnits, 1);
    assert.deepEqual(table.WarmThroughput, { ReadUnitsPerSecond: 5, WriteUnitsPerSecond: 5, Status: 'ACTIVE' });
    assert.equal(table.StreamSpecification, undefined);
    assert.equal(table.SSEDescription, undefined);
    assert.equal(table.TableClassSummary, undefined, 'no TableClassSummary: Terraform reads STANDARD');
    assert.equal(pitr, 'DISABLED');
    assert.equal(ttl, 'DISABLED');
    assert.deepEqual(tags, { env: 'test', team: 'orders' });
  });

  it('update: billing mode, deletion protection and tags, each change followed by its waits, then read', async () => {
    // billing_mode PROVISIONED -> PAY_PER_REQUEST: no ProvisionedThroughput, and no GSI updates when switching to
    // on demand (Phase 2 sends GSI updates only for PROVISIONED).
    await client.send(new UpdateTableCommand({ TableName: TABLE, BillingMode: 'PAY_PER_REQUEST', DeletionProtectionEnabled: true }));
    await waitTableActive();
    await waitTableWarmThroughputActive();
    // updateTags: removed keys first, then new and changed ones.
    await client.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ['team'] }));
    await client.send(new TagResourceCommand({ ResourceArn: arn, Tags: [{ Key: 'env', Value: 'prod' }, { Key: 'owner', Value: 'payments' }] }));

    const { table, tags } = await read();
    assert.equal(table.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(table.DeletionProtectionEnabled, true);
    assert.deepEqual(table.WarmThroughput, { ReadUnitsPerSecond: 12000, WriteUnitsPerSecond: 4000, Status: 'ACTIVE' });
    assert.deepEqual(tags, { env: 'prod', owner: 'payments' });
  });

  it('update: a new GSI (Phase 3: one Create per UpdateTable, with the attribute definitions), waited for, then read', async () => {
    await client.send(new UpdateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, { AttributeName: 'status', AttributeType: 'S' }, { AttributeName: 'customer', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'byCustomer', KeySchema: [{ AttributeName: 'customer', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } } }],
    }));
    await waitGSIActive('byCustomer');
    await waitGSIWarmThroughputActive('byCustomer');
    const { table } = await read();
    const g = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === 'byCustomer');
    assert.deepEqual(g?.WarmThroughput, { ReadUnitsPerSecond: 12000, WriteUnitsPerSecond: 4000, Status: 'ACTIVE' });
    assert.deepEqual(table.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort(), ['byCustomer', 'byStatus']);
  });

  it('delete: deletion protection off (an update), DeleteTable, then DescribeTable until the table is not found', async () => {
    await client.send(new UpdateTableCommand({ TableName: TABLE, DeletionProtectionEnabled: false }));
    await waitTableActive();
    await waitTableWarmThroughputActive();
    const deleted = await client.send(new DeleteTableCommand({ TableName: TABLE }));
    assert.equal(deleted.TableDescription?.TableStatus, 'DELETING');
    const gone = await waitFor('table deleted', async () => {
      const t = await findTable();
      return [t, t?.TableStatus ?? ''];
    }, ['ACTIVE', 'DELETING'], []);
    assert.equal(gone, undefined);
    // A second delete of a table already gone is the "Requested resource not found: Table: " Terraform tolerates.
    await assert.rejects(client.send(new DeleteTableCommand({ TableName: TABLE })), (e: any) => e instanceof ResourceNotFoundException && e.message.startsWith('Requested resource not found: Table: '));
  });
});
