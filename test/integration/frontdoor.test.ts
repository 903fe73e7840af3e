/**
 * The front door over real sockets, against Cellar child processes: requests refused from their heads without their
 * bodies being read, the body budget (503 in the protocol's shape, then recovery), slow and idle connections closed,
 * the connection cap, and the official SDK clients still served (large, presigned and chunked requests included).
 * Timeouts are configured short so the tests stay quick; no test measures time, it waits for outcomes (bounded).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, CreateTableCommand, PutItemCommand, GetItemCommand, BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { KMSClient, CreateKeyCommand, EncryptCommand, DecryptCommand } from '@aws-sdk/client-kms';
import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand, AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from '../../src/auth/hash.js';
import { removeDir, sdkConfig, startCellar, tempDir, type CellarProcess } from '../helpers/cellar.js';
import { signedRequest } from '../helpers/sign.js';
import { RawClient, signedHead, unsignedHead } from '../helpers/raw.js';

const MiB = 1024 * 1024;

async function startWith(settings: Record<string, unknown>): Promise<{ cellar: CellarProcess; port: number; dir: string }> {
  const dir = tempDir();
  const config = join(dir, 'cellar.json');
  writeFileSync(config, JSON.stringify(settings));
  const cellar = await startCellar({ inMemory: true, args: ['--config', config, '--quiet'] });
  return { cellar, port: cellar.port, dir };
}

describe('the front door: refused before the body, bounded, timed out', () => {
  let cellar: CellarProcess;
  let port: number;
  let dir: string;
  before(async () => {
    ({ cellar, port, dir } = await startWith({
      maxBodyBytes: 12 * MiB,
      bodyBudgetBytes: 16 * MiB,
      bodyBudgetWaitMs: 300,
      headersTimeoutMs: 1000,
      requestTimeoutMs: 10_000,
      bodyRateGraceMs: 500,
      minBodyBytesPerSecond: 64 * 1024,
      keepAliveTimeoutMs: 1000,
    }));
  });
  after(async () => {
    await cellar.stop();
    removeDir(dir);
  });

  it('answers an unsigned 10 MB request from its head, before its body is sent, and closes the connection', async () => {
    const c = await RawClient.open(port);
    c.write(unsignedHead({ target: 'DynamoDB_20120810.PutItem', contentLength: 10 * MiB }));
    c.write(Buffer.alloc(64 * 1024, 0x61));
    const r = await c.reply();
    assert.equal(r.status, 400);
    assert.equal(r.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
    assert.equal(JSON.parse(r.body).message, 'Request is missing Authentication Token');
    assert.equal(r.headers['connection'], 'close');
    // The answer came while nearly all of the body was still unsent: the server did not wait for it.
    assert.ok(c.sent < MiB, `${c.sent} bytes sent before the answer`);
    assert.equal(await c.waitClosed(), true, 'the server closes the connection');
  });

  it('answers a malformed signature on a 10 MB request from its head, and closes', async () => {
    const c = await RawClient.open(port);
    const head = unsignedHead({ target: 'DynamoDB_20120810.PutItem', contentLength: 10 * MiB, extra: ['x-amz-date: 20261206T000000Z', `authorization: AWS4-HMAC-SHA256 Credential=test/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'x'.repeat(64)}`] });
    c.write(head);
    const r = await c.reply();
    assert.equal(r.status, 400);
    assert.equal(r.headers['x-amzn-errortype'], 'InvalidSignatureException');
    assert.ok(c.sent < MiB);
    assert.equal(await c.waitClosed(), true);
  });

  it('refuses an unsigned body larger than any unsigned operation takes with 413, before reading it', async () => {
    const c = await RawClient.open(port);
    // A form-encoded POST whose operation only its body could name (AssumeRoleWithWebIdentity is served unsigned).
    c.write(unsignedHead({ contentType: 'application/x-www-form-urlencoded', contentLength: 2 * MiB }));
    const r = await c.reply();
    assert.equal(r.status, 413);
    assert.equal(await c.waitClosed(), true);
  });

  it('reads an unsigned chunked body up to the unsigned cap: a malformed chunk size is 400, a body past the cap 413 in its protocol', async () => {
    const chunkedHead = ['POST / HTTP/1.1', 'host: 127.0.0.1', 'content-type: application/x-www-form-urlencoded', 'transfer-encoding: chunked'].join('\r\n') + '\r\n\r\n';
    const bad = await RawClient.open(port);
    bad.write(chunkedHead + 'zz\r\n');
    assert.equal((await bad.reply()).status, 400);
    assert.equal(await bad.waitClosed(), true);
    // 256 KiB is the default unsigned cap: a chunk past it is refused once its size line is read.
    const big = await RawClient.open(port);
    big.write(chunkedHead + `${(300 * 1024).toString(16)}\r\n`);
    const r = await big.reply();
    assert.equal(r.status, 413);
    assert.match(r.body, /<Code>RequestEntityTooLarge<\/Code>/);
    assert.equal(await big.waitClosed(), true);
    // A small one goes on to authentication: STS answers an unsigned GetCallerIdentity as AWS does.
    const small = await RawClient.open(port);
    const form = 'Action=GetCallerIdentity&Version=2011-06-15';
    small.write(chunkedHead + `${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n`);
    const s = await small.reply();
    assert.equal(s.status, 403);
    assert.match(s.body, /<Code>MissingAuthenticationToken<\/Code><Message>Request is missing Authentication Token<\/Message>/);
  });

  it("refuses a body over maxBodyBytes from its head with 413, in the request's own protocol", async () => {
    const json = await RawClient.open(port);
    json.write(await signedHead(port, { service: 'dynamodb', target: 'DynamoDB_20120810.PutItem', contentLength: 21 * MiB }));
    const j = await json.reply();
    assert.equal(j.status, 413);
    assert.equal(j.headers['content-type'], 'application/x-amz-json-1.0');
    assert.equal(JSON.parse(j.body).__type, 'com.amazon.coral.service#RequestEntityTooLarge');
    assert.equal(await json.waitClosed(), true);
    const query = await RawClient.open(port);
    query.write(await signedHead(port, { service: 'sts', contentLength: 21 * MiB }));
    const q = await query.reply();
    assert.equal(q.status, 413);
    assert.match(q.body, /<ErrorResponse[^>]*><Error><Type>Sender<\/Type><Code>RequestEntityTooLarge<\/Code>/);
    assert.equal(await query.waitClosed(), true);
  });

  it('keeps the connection after refusing a small body from its head: the body is read and dropped', async () => {
    const c = await RawClient.open(port);
    c.write(unsignedHead({ target: 'DynamoDB_20120810.PutItem', contentLength: 1000 }));
    const r = await c.reply();
    assert.equal(r.status, 400);
    assert.equal(r.headers['connection'], undefined);
    c.write(Buffer.alloc(1000, 0x7b));
    c.write('GET /_cellar/health HTTP/1.1\r\nhost: x\r\n\r\n');
    const health = await c.reply();
    assert.equal(health.status, 200);
    assert.ok(JSON.parse(health.body).services.dynamodb);
    c.destroy();
  });

  it('makes a body wait when the budget is spent, answers 503 in the protocol\'s shape after the wait, and recovers', async () => {
    // A: 10 MiB admitted (of 16), its body only started.
    const a = await RawClient.open(port);
    a.write(await signedHead(port, { service: 'dynamodb', target: 'DynamoDB_20120810.PutItem', contentLength: 10 * MiB }));
    a.write(Buffer.alloc(MiB, 0x61));
    // A small request is still served meanwhile.
    const small = await signedRequest(cellar.endpoint, '{}', { service: 'dynamodb', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.ListTables' } });
    assert.equal((await fetch(small)).status, 200);
    // B (JSON) and C (query) cannot be taken: they wait, then get AWS's throttling error with 503.
    const b = await RawClient.open(port);
    b.write(await signedHead(port, { service: 'dynamodb', target: 'DynamoDB_20120810.PutItem', contentLength: 10 * MiB }));
    const c = await RawClient.open(port);
    c.write(await signedHead(port, { service: 'sts', contentLength: 10 * MiB }));
    const rb = await b.reply();
    assert.equal(rb.status, 503);
    assert.equal(rb.headers['x-amzn-errortype'], 'ThrottlingException');
    assert.match(JSON.parse(rb.body).__type, /#ThrottlingException$/);
    assert.equal(rb.headers['connection'], 'close');
    const rc = await c.reply();
    assert.equal(rc.status, 503);
    assert.match(rc.body, /<ErrorResponse[^>]*><Error><Type>Sender<\/Type><Code>Throttling<\/Code><Message>Rate exceeded<\/Message><\/Error>/);
    assert.ok(b.sent < MiB && c.sent < MiB);
    // A goes away: its 10 MiB come back, and the next large body is taken and read to its end.
    a.destroy();
    const d = await RawClient.open(port);
    d.write(await signedHead(port, { service: 'dynamodb', target: 'DynamoDB_20120810.PutItem', contentLength: 10 * MiB }));
    for (let i = 0; i < 10; i++) d.write(Buffer.alloc(MiB, 0x61));
    const rd = await d.reply(30_000);
    // Read whole and parsed: the body is not JSON.
    assert.equal(rd.status, 400);
    assert.equal(rd.headers['x-amzn-errortype'], 'SerializationException');
    d.destroy();
  });

  it('closes an idle keep-alive connection', async () => {
    const c = await RawClient.open(port);
    c.write('GET /_cellar/health HTTP/1.1\r\nhost: x\r\n\r\n');
    assert.equal((await c.reply()).status, 200);
    assert.equal(await c.waitClosed(10_000), true);
  });

  it('answers 408 and closes a connection whose head does not arrive in time', async () => {
    const c = await RawClient.open(port);
    c.write('POST / HTTP/1.1\r\nhost: x\r\n');
    const r = await c.reply();
    assert.equal(r.status, 408);
    assert.equal(await c.waitClosed(), true);
  });

  it('answers 408 and closes a connection whose body arrives slower than the minimum rate', async () => {
    const c = await RawClient.open(port);
    c.write(await signedHead(port, { service: 'dynamodb', target: 'DynamoDB_20120810.PutItem', contentLength: MiB }));
    c.write(Buffer.alloc(1024, 0x61));
    const trickle = setInterval(() => c.write(Buffer.alloc(256, 0x61)), 100);
    try {
      const r = await c.reply();
      assert.equal(r.status, 408);
      assert.equal(await c.waitClosed(), true);
    } finally {
      clearInterval(trickle);
      c.destroy();
    }
  });
});

describe('the front door: connection cap', () => {
  let cellar: CellarProcess;
  let port: number;
  let dir: string;
  before(async () => {
    ({ cellar, port, dir } = await startWith({ maxConnections: 3 }));
  });
  after(async () => {
    await cellar.stop();
    removeDir(dir);
  });

  it('closes connections past the cap at once, and takes new ones when others have gone', async () => {
    const open = await Promise.all([RawClient.open(port), RawClient.open(port), RawClient.open(port)]);
    for (const c of open) {
      c.write('GET /_cellar/health HTTP/1.1\r\nhost: x\r\n\r\n');
      assert.equal((await c.reply()).status, 200);
    }
    const extra = await RawClient.open(port);
    assert.equal(await extra.waitClosed(), true, 'past the cap');
    open[0]!.destroy();
    let served = false;
    for (let attempt = 0; attempt < 50 && !served; attempt++) {
      const c = await RawClient.open(port);
      c.write('GET /_cellar/health HTTP/1.1\r\nhost: x\r\n\r\n');
      served = await c.reply(2000).then((r) => r.status === 200, () => false);
      c.destroy();
      if (!served) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(served, true);
    for (const c of open) c.destroy();
  });
});

describe('the front door: the SDKs are served as before', () => {
  let cellar: CellarProcess;
  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
  });
  after(async () => {
    await cellar.stop();
  });

  it('DynamoDB, with items large enough that their bodies are checked from the head and budgeted', async () => {
    const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await ddb.send(new CreateTableCommand({ TableName: 'big', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    const blob = 'x'.repeat(300 * 1024);
    await ddb.send(new PutItemCommand({ TableName: 'big', Item: { pk: { S: 'a' }, blob: { S: blob } } }));
    const got = await ddb.send(new GetItemCommand({ TableName: 'big', Key: { pk: { S: 'a' } } }));
    assert.equal(got.Item!.blob!.S!.length, blob.length);
    await ddb.send(new BatchWriteItemCommand({ RequestItems: { big: ['b', 'c', 'd'].map((pk) => ({ PutRequest: { Item: { pk: { S: pk }, blob: { S: blob } } } })) } }));
    assert.equal((await ddb.send(new GetItemCommand({ TableName: 'big', Key: { pk: { S: 'd' } } }))).Item!.pk!.S, 'd');
  });

  it('KMS and STS, signed and unsigned (AssumeRoleWithWebIdentity)', async () => {
    const kms = new KMSClient(sdkConfig(cellar.endpoint));
    const key = await kms.send(new CreateKeyCommand({}));
    const enc = await kms.send(new EncryptCommand({ KeyId: key.KeyMetadata!.KeyId!, Plaintext: Buffer.from('secret') }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob! }));
    assert.equal(Buffer.from(dec.Plaintext!).toString(), 'secret');
    const sts = new STSClient(sdkConfig(cellar.endpoint));
    assert.equal((await sts.send(new GetCallerIdentityCommand({}))).Account, '000000000000');
    const role = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/app', RoleSessionName: 'frontdoor' }));
    const c = role.Credentials!;
    const assumed = new STSClient(sdkConfig(cellar.endpoint, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! } as any));
    assert.equal((await assumed.send(new GetCallerIdentityCommand({}))).Account, '123456789012');
    // Sent unsigned by the SDK: it gets past authentication to the service (which does not serve it yet), rather than
    // being refused as unsigned.
    await assert.rejects(
      sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: 'arn:aws:iam::123456789012:role/web', RoleSessionName: 'web', WebIdentityToken: 'a'.repeat(2000) })),
      (e: any) => e.$metadata.httpStatusCode === 501 && /does not implement STS AssumeRoleWithWebIdentity/.test(e.message),
    );
  });

  it('a presigned URL', async () => {
    const url = new URL(cellar.endpoint);
    const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service: 'sts', sha256: NodeSha256 });
    const presigned = await signer.presign(new HttpRequest({ method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host: url.host } }), { expiresIn: 60 });
    const res = await fetch(`${cellar.endpoint}/?${new URLSearchParams(presigned.query as Record<string, string>)}`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<Account>000000000000<\/Account>/);
  });

  it('a chunked body larger than one budget step, signed, with 100-continue', async () => {
    const items = ['e', 'f', 'g'].map((pk) => ({ PutRequest: { Item: { pk: { S: pk }, blob: { S: 'y'.repeat(200 * 1024) } } } }));
    const body = JSON.stringify({ RequestItems: { big: items } });
    const req = await signedRequest(cellar.endpoint, body, { service: 'dynamodb', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.BatchWriteItem' } });
    const head = ['POST / HTTP/1.1'];
    req.headers.forEach((v, k) => {
      if (k !== 'content-length') head.push(`${k}: ${v}`);
    });
    head.push('transfer-encoding: chunked', 'expect: 100-continue');
    const c = await RawClient.open(cellar.port);
    c.write(head.join('\r\n') + '\r\n\r\n');
    assert.equal((await c.reply()).status, 100);
    const bytes = Buffer.from(body);
    for (let at = 0; at < bytes.length; at += 100_000) {
      const piece = bytes.subarray(at, at + 100_000);
      c.write(`${piece.length.toString(16)}\r\n`);
      c.write(piece);
      c.write('\r\n');
    }
    c.write('0\r\n\r\n');
    const r = await c.reply();
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body).UnprocessedItems, {});
    c.destroy();
    const ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    assert.equal((await ddb.send(new GetItemCommand({ TableName: 'big', Key: { pk: { S: 'g' } } }))).Item!.blob!.S!.length, 200 * 1024);
  });
});
