/**
 * DynamoDB durability and storage, end to end:
 *  - given a separate writer process acknowledging PutItems in a loop, when Cellar is killed with
 *    kill -9 mid-stream and restarted on the same data directory, then every acknowledged item is there;
 *  - given a page cache far smaller than the table (cacheMiB 1), reads, queries and scans still return
 *    everything (a functional check; performance is measured elsewhere).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, CreateTableCommand, GetItemCommand, BatchWriteItemCommand, QueryCommand, ScanCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { REPO_ROOT, removeDir, sdkConfig, startCellar, tempDir, waitFor } from '../helpers/cellar.js';

/** The writer: puts items one after another and prints each acknowledged key on stdout. */
const WRITER = `
const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');
const client = new DynamoDBClient({ endpoint: process.argv[1], region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
(async () => {
  for (let i = 0; i < 100000; i++) {
    try {
      await client.send(new PutItemCommand({ TableName: 'durable', Item: { pk: { S: 'k' + i }, v: { N: String(i) }, pad: { S: 'x'.repeat(200) } } }));
    } catch (e) {
      process.exit(0); // the server is gone: stop writing
    }
    process.stdout.write('k' + i + '\\n');
  }
})();
`;

describe('DynamoDB durability', () => {
  it('given a writer acknowledging puts, when Cellar is killed -9 mid-stream, then every acknowledged item survives the restart', async () => {
    let cellar = await startCellar({ args: ['--quiet'] });
    try {
      let client = new DynamoDBClient(sdkConfig(cellar.endpoint));
      await client.send(new CreateTableCommand({ TableName: 'durable', BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }));
      const writer = spawn(process.execPath, ['-e', WRITER, cellar.endpoint], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      const acked: string[] = [];
      let partial = '';
      writer.stdout!.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        acked.push(...lines.filter(Boolean));
      });
      const writerDone = new Promise<void>((r) => writer.once('exit', () => r()));
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
});
