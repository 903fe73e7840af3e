/**
 * DynamoDB durability and storage, end to end:
 *  - given a separate writer process acknowledging PutItems in a loop, when Cellar is killed with
 *    kill -9 mid-stream and restarted on the same data directory, then every acknowledged item is there;
 *  - given a page cache far smaller than the table (cacheMiB 1), reads, queries and scans still return
 *    everything (a functional check; performance is measured elsewhere);
 *  - given table counters kept in memory between their periodic stores, when Cellar is killed -9 after
 *    writes, then DescribeTable's ItemCount, TableSizeBytes and index counters after the restart are the
 *    exact ones from before the kill (recounted from the data), and after a graceful restart too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, CreateTableCommand, GetItemCommand, BatchWriteItemCommand, QueryCommand, ScanCommand, DescribeTableCommand, DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { startAckingWriter } from '../helpers/acking-writer.js';
import { removeDir, sdkConfig, startCellar, tempDir, waitFor } from '../helpers/cellar.js';


describe('DynamoDB durability', () => {
  it('given a writer acknowledging puts, when Cellar is killed -9 mid-stream, then every acknowledged item survives the restart', async () => {
    let cellar = await startCellar({ args: ['--quiet'] });
    try {
      let client = new DynamoDBClient(sdkConfig(cellar.endpoint));
      await client.send(new CreateTableCommand({ TableName: 'durable', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }));
      const { acked, done: writerDone } = startAckingWriter(cellar.endpoint, 'durable', { pk: { S: 'k%I%' }, v: { N: '%I%' }, pad: { S: 'x'.repeat(200) } });
      // Mid-stream: once a few hundred writes were acknowledged.
      await waitFor(() => acked.length >= 300, '300 acknowledged writes', 30_000);
      await cellar.kill9();
      await writerDone;
      assert.ok(acked.length >= 300);
      cellar = await startCellar({ dataDir: cellar.dataDir!, args: ['--quiet'] });
      client.destroy();
      client = new DynamoDBClient(sdkConfig(cellar.endpoint));
      const missing: string[] = [];
      for (const pk of acked) {
        const got = await client.send(new GetItemCommand({ TableName: 'durable', Key: { pk: { S: pk } }, ConsistentRead: true }));
        if (got.Item?.v?.N !== pk.slice(1)) missing.push(pk);
      }
      assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged items lost`);
      // The counters survived with the items: at least every acknowledged item is counted.
      const t = (await client.send(new DescribeTableCommand({ TableName: 'durable' }))).Table!;
      assert.ok(t.ItemCount! >= acked.length, `ItemCount ${t.ItemCount} < ${acked.length}`);
      client.destroy();
    } finally {
      await cellar.stop();
      removeDir(cellar.dataDir);
    }
  });

  it('given a 1 MiB page cache and a ~6 MB table, reads, queries and scans return everything', async () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'cellar.json'), JSON.stringify({ cacheMiB: 1 }));
    const cellar = await startCellar({ dataDir, args: ['--quiet'] });
    const client = new DynamoDBClient(sdkConfig(cellar.endpoint));
    try {
      await client.send(new CreateTableCommand({ TableName: 'large', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }] }));
      const n = 600;
      const pad = 'p'.repeat(10_000);
      for (let i = 0; i < n; i += 25) {
        const r = await client.send(new BatchWriteItemCommand({ RequestItems: { large: Array.from({ length: 25 }, (_, j) => ({ PutRequest: { Item: { pk: { S: `p${(i + j) % 6}` }, sk: { N: String(i + j) }, pad: { S: pad } } } })) } }));
        assert.deepEqual(r.UnprocessedItems, {});
      }
      const t = (await client.send(new DescribeTableCommand({ TableName: 'large' }))).Table!;
      assert.equal(t.ItemCount, n);
      assert.ok(t.TableSizeBytes! > 6_000_000);
      // Every partition in order, across 1 MB pages.
      for (let p = 0; p < 6; p++) {
        const sks: number[] = [];
        let esk: Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
        for (let page = 0; page < 20; page++) {
          const q = await client.send(new QueryCommand({ TableName: 'large', KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: `p${p}` } }, ExclusiveStartKey: esk }));
          sks.push(...q.Items!.map((i) => Number(i.sk!.N)));
          esk = q.LastEvaluatedKey;
          if (!esk) break;
        }
        assert.deepEqual(sks, Array.from({ length: n / 6 }, (_, i) => i * 6 + p));
      }
      let scanned = 0;
      let esk: Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
      for (let page = 0; page < 50; page++) {
        const s = await client.send(new ScanCommand({ TableName: 'large', ProjectionExpression: 'sk', ExclusiveStartKey: esk }));
        scanned += s.Count!;
        esk = s.LastEvaluatedKey;
        if (!esk) break;
      }
      assert.equal(scanned, n);
      const g = await client.send(new GetItemCommand({ TableName: 'large', Key: { pk: { S: 'p3' }, sk: { N: '597' } } }));
      assert.equal(g.Item?.pad?.S?.length, 10_000);
    } finally {
      client.destroy();
      await cellar.stop();
      removeDir(dataDir);
    }
  });

  it('given writes and a kill -9, then the table and index counters after the restart are exact', async () => {
    let cellar = await startCellar({ args: ['--quiet'] });
    let client = new DynamoDBClient(sdkConfig(cellar.endpoint));
    const counters = async (): Promise<unknown> => {
      const t = (await client.send(new DescribeTableCommand({ TableName: 'counted' }))).Table!;
      return {
        items: t.ItemCount, bytes: t.TableSizeBytes,
        gsi: t.GlobalSecondaryIndexes!.map((g) => [g.IndexName, g.ItemCount, g.IndexSizeBytes]),
        lsi: t.LocalSecondaryIndexes!.map((l) => [l.IndexName, l.ItemCount, l.IndexSizeBytes]),
      };
    };
    try {
      await client.send(new CreateTableCommand({
        TableName: 'counted', BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'N' }, { AttributeName: 'g', AttributeType: 'S' }, { AttributeName: 'l', AttributeType: 'N' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
        GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
        LocalSecondaryIndexes: [{ IndexName: 'byL', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'l', KeyType: 'RANGE' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
      }));
      const item = (i: number) => ({ pk: { S: `p${i % 7}` }, sk: { N: String(i) }, v: { S: 'x'.repeat(i % 50) }, ...(i % 3 ? { g: { S: `g${i % 5}` } } : {}), ...(i % 4 ? { l: { N: String(i % 11) } } : {}) });
      const writeSome = async (from: number, n: number): Promise<void> => {
        for (let i = from; i < from + n; i += 25) {
          await client.send(new BatchWriteItemCommand({ RequestItems: { counted: Array.from({ length: Math.min(25, from + n - i) }, (_, j) => ({ PutRequest: { Item: item(i + j) } })) } }));
        }
        // Concurrent single writes too (they share group commits): deletes, size changes, index moves.
        await Promise.all([
          ...Array.from({ length: 10 }, (_, j) => client.send(new DeleteItemCommand({ TableName: 'counted', Key: { pk: { S: `p${(from + j) % 7}` }, sk: { N: String(from + j) } } }))),
          ...Array.from({ length: 10 }, (_, j) => client.send(new UpdateItemCommand({ TableName: 'counted', Key: { pk: { S: `p${(from + 20 + j) % 7}` }, sk: { N: String(from + 20 + j) } }, UpdateExpression: 'SET v = :v, g = :g REMOVE l', ExpressionAttributeValues: { ':v': { S: 'y'.repeat(100 + j) }, ':g': { S: 'moved' } } }))),
          ...Array.from({ length: 10 }, (_, j) => client.send(new PutItemCommand({ TableName: 'counted', Item: item(from + n + j) }))),
        ]);
      };
      await writeSome(0, 200);
      // Past the periodic store of the counters: the next writes mark them dirty again.
      await new Promise((r) => setTimeout(r, 1500));
      await writeSome(1000, 100);
      const before = await counters();
      assert.equal((before as { items: number }).items, 200 - 10 + 10 + 100 - 10 + 10);
      await cellar.kill9();
      cellar = await startCellar({ dataDir: cellar.dataDir!, args: ['--quiet'] });
      client.destroy();
      client = new DynamoDBClient(sdkConfig(cellar.endpoint));
      assert.deepEqual(await counters(), before, 'counters recounted after kill -9');
      // Writes after the recount keep them exact, through a graceful restart as well.
      await writeSome(2000, 50);
      const again = await counters();
      assert.equal((again as { items: number }).items, 300 + 50);
      cellar = await cellar.restart();
      client.destroy();
      client = new DynamoDBClient(sdkConfig(cellar.endpoint));
      assert.deepEqual(await counters(), again, 'counters stored on a graceful stop');
      // And a kill -9 right after a recount and no writes: still exact.
      await cellar.kill9();
      cellar = await startCellar({ dataDir: cellar.dataDir!, args: ['--quiet'] });
      client.destroy();
      client = new DynamoDBClient(sdkConfig(cellar.endpoint));
      assert.deepEqual(await counters(), again);
    } finally {
      client.destroy();
      await cellar.stop();
      removeDir(cellar.dataDir);
    }
  });
});
