/**
 * DynamoDB's HTTP surface, each behaviour on its own (issue 11, item 7 and the probes of item 5): the `GET /` health
 * check, CORS for browsers, gzip/deflate answers and gzip requests, the 16 MB request limit, malformed base64,
 * DescribeEndpoints, DeleteTable's answer, Scan's consumed capacity, and how an operation Cellar does not serve is
 * answered. Raw HTTP (node:http, no transparent decompression) where the bytes on the wire are the point; the SDK
 * where the SDK's reading is.
 *
 * Expected values are DynamoDB's, from suites run against it: dynalite (test/connection.js) and ScyllaDB
 * Alternator (test_health.py, test_cors.py, test_compressed_*.py, test_describe_endpoints.py).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { crc32, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import {
  DynamoDBClient, CreateTableCommand, DeleteTableCommand, DescribeEndpointsCommand, PutItemCommand, ScanCommand, BatchWriteItemCommand,
  DescribeContinuousBackupsCommand, DescribeContributorInsightsCommand, DescribeKinesisStreamingDestinationCommand, GetResourcePolicyCommand,
  DescribeTableReplicaAutoScalingCommand, ListBackupsCommand, ListContributorInsightsCommand, RestoreTableFromBackupCommand,
} from '@aws-sdk/client-dynamodb';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { RawClient, signedHead } from '../helpers/raw.js';
import { signedRequest } from '../helpers/sign.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request over node:http, the body as it came (no decompression). */
function rawHttp(port: number, method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.end(body);
  });
}

describe('DynamoDB over HTTP', () => {
  let cellar: CellarProcess;
  let client: DynamoDBClient;

  /** A signed DynamoDB call's headers, for sending its (possibly re-encoded) body raw. */
  async function signed(target: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
    const req = await signedRequest(cellar.endpoint, body, { service: 'dynamodb', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${target}`, ...headers } });
    return Object.fromEntries(req.headers.entries());
  }
  async function call(target: string, input: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const body = JSON.stringify(input);
    return rawHttp(cellar.port, 'POST', '/', await signed(target, body, headers), body);
  }
  async function createTable(name: string): Promise<void> {
    await client.send(new CreateTableCommand({
      TableName: name, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }));
  }

  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
    client = new DynamoDBClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    client?.destroy();
    await cellar?.stop();
    removeDir(cellar?.dataDir);
  });

  it('GET / answers the health check as DynamoDB does; other paths are not a health check', async () => {
    const r = await rawHttp(cellar.port, 'GET', '/', {});
    assert.equal(r.status, 200);
    assert.equal(r.body.toString('utf8'), 'healthy: dynamodb.us-east-1.amazonaws.com ');
    assert.equal(r.headers['content-length'], String(r.body.length));
    assert.equal(r.headers['x-amz-crc32'], String(crc32(r.body) >>> 0));
    assert.ok(r.headers['x-amzn-requestid']);
    for (const path of ['/abc', '/health', '/index.htm']) {
      const other = await rawHttp(cellar.port, 'GET', path, {});
      assert.ok(other.status >= 400 && other.status < 500, `${path}: ${other.status}`);
    }
  });

  it('CORS: a preflight echoes the requested method and headers; answers to an Origin carry Allow-Origin; none without Origin', async () => {
    const pre = await rawHttp(cellar.port, 'OPTIONS', '/', { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-amz-target, authorization' });
    assert.equal(pre.status, 200);
    assert.equal(pre.body.length, 0);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-methods'], 'POST');
    assert.equal(pre.headers['access-control-allow-headers'], 'content-type, x-amz-target, authorization');
    assert.equal(pre.headers['access-control-max-age'], '172800');
    assert.ok(pre.headers['access-control-expose-headers']);
    assert.ok(pre.headers['x-amzn-requestid']);

    await createTable('cors');
    const withOrigin = await call('DescribeTable', { TableName: 'cors' }, { origin: 'http://app.example' });
    assert.equal(withOrigin.status, 200);
    assert.equal(withOrigin.headers['access-control-allow-origin'], '*');
    assert.match(String(withOrigin.headers['access-control-expose-headers']), /x-amzn-RequestId/);
    assert.equal(withOrigin.headers['access-control-max-age'], undefined);
    const error = await call('DescribeTable', { TableName: 'missing' }, { origin: 'http://app.example' });
    assert.equal(error.status, 400);
    assert.equal(error.headers['access-control-allow-origin'], '*');
    const health = await rawHttp(cellar.port, 'GET', '/', { origin: 'http://app.example' });
    assert.equal(health.headers['access-control-allow-origin'], '*');

    const plain = await call('DescribeTable', { TableName: 'cors' });
    for (const h of ['access-control-allow-origin', 'access-control-expose-headers', 'access-control-max-age', 'access-control-allow-methods']) {
      assert.equal(plain.headers[h], undefined, h);
    }
  });

  it('answers of 4 KiB and more are compressed when Accept-Encoding asks; x-amz-crc32 is over the compressed bytes', async () => {
    await createTable('gzip-answers');
    await client.send(new PutItemCommand({ TableName: 'gzip-answers', Item: { pk: { S: 'big' }, x: { S: 'x'.repeat(6000) } } }));
    await client.send(new PutItemCommand({ TableName: 'gzip-answers', Item: { pk: { S: 'small' } } }));

    const gz = await call('GetItem', { TableName: 'gzip-answers', Key: { pk: { S: 'big' } } }, { 'accept-encoding': 'gzip' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['x-amz-crc32'], String(crc32(gz.body) >>> 0));
    assert.ok(gz.body.length < 1000, `compressed to ${gz.body.length} bytes`);
    assert.equal(JSON.parse(gunzipSync(gz.body).toString('utf8')).Item.x.S, 'x'.repeat(6000));

    const deflated = await call('GetItem', { TableName: 'gzip-answers', Key: { pk: { S: 'big' } } }, { 'accept-encoding': 'br, identity, deflate, gzip' });
    assert.equal(deflated.headers['content-encoding'], 'deflate');
    assert.equal(deflated.headers['x-amz-crc32'], String(crc32(deflated.body) >>> 0));
    assert.equal(JSON.parse(inflateSync(deflated.body).toString('utf8')).Item.pk.S, 'big');

    for (const accept of ['identity', 'br', 'gzip;q=0', 'x-gzip']) {
      const plain = await call('GetItem', { TableName: 'gzip-answers', Key: { pk: { S: 'big' } } }, { 'accept-encoding': accept });
      assert.equal(plain.headers['content-encoding'], undefined, accept);
      assert.equal(plain.headers['x-amz-crc32'], String(crc32(plain.body) >>> 0));
    }
    const small = await call('GetItem', { TableName: 'gzip-answers', Key: { pk: { S: 'small' } } }, { 'accept-encoding': 'gzip' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(JSON.parse(small.body.toString('utf8')).Item.pk.S, 'small');
  });

  it('a gzip request body is decompressed; any other Content-Encoding, or broken gzip, is refused and changes nothing', async () => {
    await createTable('gzreq');
    const json = JSON.stringify({ TableName: 'gzreq', Item: { pk: { S: 'zipped' }, v: { S: 'y'.repeat(100) } } });
    const zipped = gzipSync(json);
    const ok = await rawHttp(cellar.port, 'POST', '/', { ...(await signed('PutItem', zipped)), 'content-encoding': 'gzip' }, zipped);
    assert.equal(ok.status, 200, ok.body.toString());
    const got = await call('GetItem', { TableName: 'gzreq', Key: { pk: { S: 'zipped' } } });
    assert.equal(JSON.parse(got.body.toString()).Item.v.S, 'y'.repeat(100));

    for (const [coding, body] of [['garbage', JSON.stringify({ TableName: 'gzreq', Item: { pk: { S: 'bad1' } } })], ['gzip', JSON.stringify({ TableName: 'gzreq', Item: { pk: { S: 'bad2' } } })], ['br', JSON.stringify({ TableName: 'gzreq', Item: { pk: { S: 'bad3' } } })]] as const) {
      const r = await rawHttp(cellar.port, 'POST', '/', { ...(await signed('PutItem', body)), 'content-encoding': coding }, body);
      assert.equal(r.status, 400, `${coding}: ${r.body.toString()}`);
      assert.equal(JSON.parse(r.body.toString()).__type, 'com.amazon.coral.service#SerializationException');
    }
    const scan = await client.send(new ScanCommand({ TableName: 'gzreq' }));
    assert.deepEqual(scan.Items?.map((i) => i.pk?.S), ['zipped']);
  });

  it("gzip request bodies reach every service, bounded by the gateway's limit decompressed", async () => {
    const kmsCall = async (body: Buffer) => {
      const req = await signedRequest(cellar.endpoint, body, { service: 'kms', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' } });
      return rawHttp(cellar.port, 'POST', '/', { ...Object.fromEntries(req.headers.entries()), 'content-encoding': 'gzip' }, body);
    };
    const ok = await kmsCall(gzipSync('{}'));
    assert.equal(ok.status, 200, ok.body.toString());
    assert.ok(Array.isArray(JSON.parse(ok.body.toString()).Keys));
    // 21 MB of spaces compress to some 20 KB: decompressed, it is over the gateway's 20 MB.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{'), Buffer.alloc(21 * 1024 * 1024, 0x20), Buffer.from('}')]));
    assert.ok(bomb.length < 64 * 1024);
    const refused = await kmsCall(bomb);
    assert.equal(refused.status, 413);
  });

  it('a body over 16 MB is refused with 413 before it is read; 16 MB exactly is read', async () => {
    const limit = 16 * 1024 * 1024;
    const over = await RawClient.open(cellar.port);
    try {
      over.write(await signedHead(cellar.port, { service: 'dynamodb', target: 'DynamoDB_20120810.PutItem', contentLength: limit + 1, extra: ['origin: http://app.example'] }));
      const r = await over.reply();
      assert.equal(r.status, 413);
      assert.equal(r.headers['access-control-allow-origin'], '*', 'a browser can read the refusal');
      assert.ok(await over.waitClosed(), 'the connection closes rather than read 16 MB it will not use');
    } finally {
      over.destroy();
    }
    // Exactly the limit: read whole and parsed (it is not JSON, so SerializationException, not 413).
    const at = await RawClient.open(cellar.port);
    try {
      at.write(await signedHead(cellar.port, { service: 'dynamodb', target: 'DynamoDB_20120810.PutItem', contentLength: limit }));
      at.write(Buffer.alloc(limit, 0x20));
      const r = await at.reply(60_000);
      assert.equal(r.status, 400);
      assert.match(r.body, /SerializationException/);
    } finally {
      at.destroy();
    }
  });

  it('malformed base64 in a binary value is a SerializationException in Coral\'s words, as DynamoDB answers', async () => {
    await createTable('b64');
    const cases: [string, string][] = [
      ['23456', 'Base64 encoded length is expected a multiple of 4 bytes but found: 5'],
      ['+/+=', 'Invalid last non-pad Base64 character dectected'],
    ];
    for (const [b, message] of cases) {
      const r = await call('PutItem', { TableName: 'b64', Item: { pk: { S: 'k' }, bin: { B: b } } });
      assert.equal(r.status, 400);
      const body = JSON.parse(r.body.toString());
      assert.equal(body.__type, 'com.amazon.coral.service#SerializationException');
      assert.equal(body.Message ?? body.message, message);
    }
    const scan = await client.send(new ScanCommand({ TableName: 'b64' }));
    assert.equal(scan.Count, 0);
  });

  it('DescribeEndpoints answers with the address the client reached Cellar at', async () => {
    const viaSdk = await client.send(new DescribeEndpointsCommand({}));
    assert.deepEqual(viaSdk.Endpoints, [{ Address: `127.0.0.1:${cellar.port}`, CachePeriodInMinutes: 1440 }]);
    const viaLocalhost = new DynamoDBClient(sdkConfig(`http://localhost:${cellar.port}`));
    try {
      const other = await viaLocalhost.send(new DescribeEndpointsCommand({}));
      assert.equal(other.Endpoints?.[0]?.Address, `localhost:${cellar.port}`);
      // The address works: the same call through it answers.
      const again = new DynamoDBClient(sdkConfig(`http://${other.Endpoints![0]!.Address}`));
      assert.equal((await again.send(new DescribeEndpointsCommand({}))).Endpoints?.length, 1);
      again.destroy();
    } finally {
      viaLocalhost.destroy();
    }
  });

  it("CreateTable's answer has no warm throughput and no LastUpdateToPayPerRequestDateTime; DescribeTable's has both", async () => {
    const r = await call('CreateTable', {
      TableName: 'fresh', BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    });
    assert.equal(r.status, 200);
    const created = JSON.parse(r.body.toString()).TableDescription;
    assert.equal(created.WarmThroughput, undefined);
    assert.deepEqual(created.BillingModeSummary, { BillingMode: 'PAY_PER_REQUEST' });
    const described = JSON.parse((await call('DescribeTable', { TableName: 'fresh' })).body.toString()).Table;
    assert.deepEqual(described.WarmThroughput, { ReadUnitsPerSecond: 12000, WriteUnitsPerSecond: 4000, Status: 'ACTIVE' });
    assert.equal(typeof described.BillingModeSummary.LastUpdateToPayPerRequestDateTime, 'number');
  });

  it('DeleteTable answers with the TableDescription members AWS returns: no schema, no indexes', async () => {
    await client.send(new CreateTableCommand({
      TableName: 'doomed', BillingMode: 'PROVISIONED', ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'g', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [{ IndexName: 'byG', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' }, ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 } }],
    }));
    const r = await call('DeleteTable', { TableName: 'doomed' });
    assert.equal(r.status, 200);
    const d = JSON.parse(r.body.toString()).TableDescription;
    assert.deepEqual(Object.keys(d).sort(), ['DeletionProtectionEnabled', 'ItemCount', 'ProvisionedThroughput', 'TableArn', 'TableId', 'TableName', 'TableSizeBytes', 'TableStatus']);
    assert.equal(d.TableStatus, 'DELETING');
    assert.deepEqual(d.ProvisionedThroughput, { NumberOfDecreasesToday: 0, ReadCapacityUnits: 5, WriteCapacityUnits: 5 });
  });

  it('Scan and Query consume capacity per 4 KB of all the items read together, rounded up once, halved when eventually consistent', async () => {
    await createTable('cap');
    // Ten items of about 1,000 bytes: 10 KB together is 3 units (rounding each item would make 10).
    const items = Array.from({ length: 10 }, (_, i) => ({ PutRequest: { Item: { pk: { S: `item-${i}` }, pad: { S: 'p'.repeat(990) } } } }));
    await client.send(new BatchWriteItemCommand({ RequestItems: { cap: items } }));
    const strong = await client.send(new ScanCommand({ TableName: 'cap', ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }));
    assert.equal(strong.ScannedCount, 10);
    assert.equal(strong.ConsumedCapacity?.CapacityUnits, 3);
    const eventual = await client.send(new ScanCommand({ TableName: 'cap', ReturnConsumedCapacity: 'TOTAL' }));
    assert.equal(eventual.ConsumedCapacity?.CapacityUnits, 1.5);
    // A filter does not lower the charge: every item evaluated is read.
    const filtered = await client.send(new ScanCommand({ TableName: 'cap', FilterExpression: 'pk = :k', ExpressionAttributeValues: { ':k': { S: 'item-1' } }, ReturnConsumedCapacity: 'TOTAL' }));
    assert.equal(filtered.Count, 1);
    assert.equal(filtered.ConsumedCapacity?.CapacityUnits, 1.5);
  });

  it('the reads tools probe with answer truthfully: no PITR, no insights, no Kinesis destination, no policy, no global table', async () => {
    await createTable('probed');
    const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/probed`;
    const cb = await client.send(new DescribeContinuousBackupsCommand({ TableName: 'probed' }));
    assert.deepEqual(cb.ContinuousBackupsDescription, { ContinuousBackupsStatus: 'ENABLED', PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' } });
    const ci = await client.send(new DescribeContributorInsightsCommand({ TableName: 'probed' }));
    assert.equal(ci.TableName, 'probed');
    assert.equal(ci.ContributorInsightsStatus, 'DISABLED');
    assert.equal(ci.ContributorInsightsRuleList, undefined);
    assert.deepEqual((await client.send(new ListContributorInsightsCommand({ TableName: 'probed' }))).ContributorInsightsSummaries, []);
    const kin = await client.send(new DescribeKinesisStreamingDestinationCommand({ TableName: arn }));
    assert.deepEqual([kin.TableName, kin.KinesisDataStreamDestinations], ['probed', []]);
    await assert.rejects(client.send(new GetResourcePolicyCommand({ ResourceArn: arn })), (e: any) => e.name === 'PolicyNotFoundException' && e.message === `Resource-based policy not found for the provided ResourceArn: ${arn}`);
    await assert.rejects(client.send(new DescribeTableReplicaAutoScalingCommand({ TableName: 'probed' })), (e: any) => e.name === 'ResourceNotFoundException' && e.message === "Global table with name: 'probed' does not exist.");
    assert.deepEqual((await client.send(new ListBackupsCommand({ TableName: 'probed' }))).BackupSummaries, []);
  });

  it('a missing table is not found in each read\'s own words', async () => {
    const missingArn = 'arn:aws:dynamodb:us-east-1:000000000000:table/nosuch';
    await assert.rejects(client.send(new DescribeContinuousBackupsCommand({ TableName: 'nosuch' })), (e: any) => e.name === 'TableNotFoundException' && e.message === 'Table not found: nosuch' && e.$metadata.httpStatusCode === 400);
    await assert.rejects(client.send(new DescribeContributorInsightsCommand({ TableName: 'nosuch' })), (e: any) => e.name === 'ResourceNotFoundException' && e.message === 'Requested resource not found: Table: nosuch not found');
    await assert.rejects(client.send(new DescribeContributorInsightsCommand({ TableName: 'probed', IndexName: 'ghost' })), (e: any) => e.name === 'ResourceNotFoundException' && e.message === 'Requested resource not found: Index: ghost not found for table: probed');
    await assert.rejects(client.send(new DescribeKinesisStreamingDestinationCommand({ TableName: 'nosuch' })), (e: any) => e.name === 'ResourceNotFoundException' && e.message === 'Requested resource not found: Table: nosuch not found');
    await assert.rejects(client.send(new GetResourcePolicyCommand({ ResourceArn: missingArn })), (e: any) => e.name === 'ResourceNotFoundException' && e.message === 'Requested resource not found: Table: nosuch not found');
    await assert.rejects(client.send(new GetResourcePolicyCommand({ ResourceArn: 'probed' })), (e: any) => e.name === 'ValidationException' && e.message === "One or more parameter values were invalid: ARNs must start with 'arn:': probed");
    await assert.rejects(client.send(new GetResourcePolicyCommand({ ResourceArn: 'arn:aws:dynamodb:eu-west-1:000000000000:table/probed' })), (e: any) => e.name === 'ValidationException' && e.message === 'One or more parameter values were invalid: Invalid resource Arn: arn:aws:dynamodb:eu-west-1:000000000000:table/probed');
  });

  it('an operation DynamoDB has but Cellar does not serve is answered as an unknown operation: 400, no message', async () => {
    const r = await call('RestoreTableFromBackup', { TargetTableName: 'restored', BackupArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/probed/backup/01234567890123-abcdefgh' });
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body.toString()), { __type: 'com.amazon.coral.service#UnknownOperationException' });
    assert.equal(r.headers['x-amzn-errortype'], 'UnknownOperationException');
    await assert.rejects(
      client.send(new RestoreTableFromBackupCommand({ TargetTableName: 'restored', BackupArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/probed/backup/01234567890123-abcdefgh' })),
      (e: any) => e.name === 'UnknownOperationException' && e.$metadata.httpStatusCode === 400,
    );
  });

  it('DeleteTable of the probed tables: each gone afterwards', async () => {
    for (const name of ['cors', 'gzip-answers', 'gzreq', 'b64', 'cap', 'probed', 'fresh']) {
      const r = await client.send(new DeleteTableCommand({ TableName: name }));
      assert.equal(r.TableDescription?.TableStatus, 'DELETING');
    }
  });
});
