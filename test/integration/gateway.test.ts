import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { removeDir, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall, queryCall, send, signedRequest } from '../helpers/sign.js';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from '../../src/auth/hash.js';

describe('gateway: routing, protocols and bad input', () => {
  let cellar: CellarProcess;
  before(async () => {
    cellar = await startCellar();
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('GET /_cellar/health reports the version and each service with its operations', async () => {
    const res = await fetch(`${cellar.endpoint}/_cellar/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as any;
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(body.services.kms.state, 'available');
    assert.ok(body.services.kms.operations.includes('Encrypt'));
    assert.equal(body.services.sts.protocol, 'awsQuery');
  });

  it('every response carries x-amzn-RequestId; JSON errors carry __type and x-amzn-ErrorType', async () => {
    const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.DescribeKey', JSON.stringify({ KeyId: 'alias/missing' }));
    assert.equal(r.status, 400);
    assert.match(r.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(r.headers.get('x-amzn-errortype'), 'NotFoundException');
    assert.equal(r.json.__type, 'NotFoundException');
    assert.equal(r.json.message, 'Alias arn:aws:kms:us-east-1:000000000000:alias/missing is not found.');
  });

  it('malformed JSON, a JSON array, and an XML body get SerializationException and change nothing', async () => {
    for (const body of ['{"KeyId": ', '[1,2]', '<?xml version="1.0"?><DescribeKey/>', '\u0000\u0001garbage']) {
      const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.CreateKey', body);
      assert.equal(r.status, 400, body);
      assert.equal(r.json.__type, 'SerializationException', body);
    }
    const keys = await jsonCall(cellar.endpoint, 'kms', 'TrentService.ListKeys', '{}');
    assert.equal(keys.json.Keys.length, 0);
  });

  it('a wrong type is a SerializationException; a missing member or a range violation is a ValidationException with AWS wording', async () => {
    const wrong = await jsonCall(cellar.endpoint, 'kms', 'TrentService.GenerateRandom', JSON.stringify({ NumberOfBytes: 'ten' }));
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.__type, 'SerializationException');
    assert.equal(wrong.json.message, 'STRING_VALUE can not be converted to an Integer');
    const missing = await jsonCall(cellar.endpoint, 'kms', 'TrentService.Encrypt', JSON.stringify({ Plaintext: 'aGk=' }));
    assert.equal(missing.json.__type, 'ValidationException');
    assert.equal(missing.json.message, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null");
    const two = await jsonCall(cellar.endpoint, 'kms', 'TrentService.Encrypt', JSON.stringify({ KeyId: '', Plaintext: '' }));
    assert.equal(two.json.__type, 'ValidationException');
    assert.match(two.json.message, /^2 validation errors detected: /);
    assert.match(two.json.message, /Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1/);
  });

  it('unknown operations and services are answered in the protocol\'s own shape', async () => {
    const op = await jsonCall(cellar.endpoint, 'kms', 'TrentService.NoSuchThing', '{}');
    assert.equal(op.status, 400);
    assert.equal(op.json.__type, 'UnknownOperationException');
    const svc = await jsonCall(cellar.endpoint, 'kms', 'NoSuchService_2020.Do', '{}');
    assert.equal(svc.status, 400);
    assert.match(svc.json.__type, /UnknownOperationException/);
    const action = await queryCall(cellar.endpoint, 'sts', { Action: 'NoSuchAction', Version: '2011-06-15' });
    assert.equal(action.status, 400);
    assert.match(action.text, /<Code>InvalidAction<\/Code>/);
    const unsignedUnknown = await send(new Request(`${cellar.endpoint}/`, { method: 'POST', body: 'x=1' }));
    assert.equal(unsignedUnknown.status, 400);
  });

  it('an operation in the model that Cellar does not serve says so by name (501), never an empty success', async () => {
    const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.Sign', JSON.stringify({ KeyId: 'k', Message: 'aGk=', SigningAlgorithm: 'ECDSA_SHA_256' }));
    assert.equal(r.status, 501);
    assert.equal(r.json.__type, 'com.amazon.coral.service#NotImplemented'.replace('com.amazon.coral.service#', ''));
    assert.match(r.json.message, /KMS Sign/);
  });

  it('an oversized body is refused with 413 and the server goes on serving', async () => {
    const big = Buffer.alloc(21 * 1024 * 1024, 0x61);
    const res = await fetch(`${cellar.endpoint}/`, { method: 'POST', body: big, headers: { 'x-amz-target': 'TrentService.ListKeys' } }).catch((e) => e);
    if (!(res instanceof Error)) assert.equal(res.status, 413);
    const ok = await jsonCall(cellar.endpoint, 'kms', 'TrentService.ListKeys', '{}');
    assert.equal(ok.status, 200);
  });

  it('a request without a signature is refused: JSON and query services word it differently', async () => {
    const json = await send(new Request(`${cellar.endpoint}/`, { method: 'POST', body: '{}', headers: { 'x-amz-target': 'TrentService.ListKeys', 'content-type': 'application/x-amz-json-1.1' } }));
    assert.equal(json.status, 400);
    assert.equal(json.json.__type, 'com.amazon.coral.service#MissingAuthenticationTokenException'.replace('com.amazon.coral.service#', ''));
    assert.equal(json.json.message, 'Request is missing Authentication Token');
  });

  it('an unsigned query request for an operation AWS serves only signed is 403 MissingAuthenticationToken', async () => {
    const form = { method: 'POST', body: 'Action=GetCallerIdentity&Version=2011-06-15', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    const post = await send(new Request(`${cellar.endpoint}/`, form));
    assert.equal(post.status, 403);
    assert.match(post.text, /<Code>MissingAuthenticationToken<\/Code><Message>Request is missing Authentication Token<\/Message>/);
    const get = await send(new Request(`${cellar.endpoint}/?Action=DescribeDBInstances&Version=2014-10-31`));
    assert.equal(get.status, 403);
    assert.match(get.text, /<Code>MissingAuthenticationToken<\/Code>/);
  });

  it('a malformed Authorization header is an IncompleteSignatureException', async () => {
    const r = await send(new Request(`${cellar.endpoint}/`, { method: 'POST', body: '{}', headers: { 'x-amz-target': 'TrentService.ListKeys', authorization: 'AWS4-HMAC-SHA256 Credential=test/20261125/us-east-1/kms/aws4_request', 'x-amz-date': '20261125T000000Z' } }));
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'IncompleteSignatureException');
    assert.match(r.json.message, /Authorization header requires 'Signature' parameter/);
  });

  it('a body changed after signing fails the signature check (JSON and query)', async () => {
    const req = await signedRequest(cellar.endpoint, JSON.stringify({ Description: 'a' }), { service: 'kms', headers: { 'x-amz-target': 'TrentService.CreateKey', 'content-type': 'application/x-amz-json-1.1' } });
    const tampered = new Request(req.url, { method: 'POST', headers: req.headers, body: JSON.stringify({ Description: 'b' }) });
    const r = await send(tampered);
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'InvalidSignatureException');
    const q = await queryCall(cellar.endpoint, 'sts', { Action: 'GetCallerIdentity', Version: '2011-06-15' }, { secretAccessKey: 'wrong' });
    assert.equal(q.status, 403);
    assert.match(q.text, /<Code>SignatureDoesNotMatch<\/Code>/);
    assert.match(q.text, /<Type>Sender<\/Type>/);
  });

  it('a presigned URL (query-string SigV4) is accepted, and a tampered one refused', async () => {
    const url = new URL(cellar.endpoint);
    const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service: 'sts', sha256: NodeSha256 });
    const presigned = await signer.presign(new HttpRequest({ method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host: url.host } }), { expiresIn: 60 });
    const qs = new URLSearchParams(presigned.query as Record<string, string>);
    const ok = await send(new Request(`${cellar.endpoint}/?${qs}`));
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /<Account>000000000000<\/Account>/);
    qs.set('Version', '2011-06-16');
    const bad = await send(new Request(`${cellar.endpoint}/?${qs}`));
    assert.equal(bad.status, 403);
  });

  it('the per-request log line names service, operation, status and latency, and never a payload', async () => {
    const marker = 'cellar-log-secret-' + Math.random().toString(36).slice(2);
    const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.CreateKey', JSON.stringify({ Description: marker }));
    assert.equal(r.status, 200);
    const requestId = r.headers.get('x-amzn-requestid');
    await new Promise((res) => setTimeout(res, 100));
    const line = cellar.output.find((l) => l.includes(requestId!));
    assert.ok(line, 'a log line for the request');
    const parsed = JSON.parse(line!);
    assert.equal(parsed.service, 'kms');
    assert.equal(parsed.operation, 'CreateKey');
    assert.equal(parsed.status, 200);
    assert.equal(typeof parsed.latencyMs, 'number');
    assert.ok(!cellar.output.some((l) => l.includes(marker)), 'no payload in logs');
  });

  it('the x-amz-crc32 header is the CRC32 of the body where the service uses it', async () => {
    // DynamoDB is the service whose clients check it; until it is served, check the mechanism through the protocol directly.
    const { JsonProtocol } = await import('../../src/protocols/json.js');
    const { loadModel } = await import('../../src/protocols/model.js');
    const p = new JsonProtocol('awsJson1_0', { typePrefix: 'com.amazonaws.dynamodb.v20120810#', validationTypePrefix: 'com.amazon.coral.validate#', messageKey: 'message', crc32: true });
    const model = loadModel('kms');
    const out = p.serializeOutput(model, model.operations.get('ListKeys')!, { Keys: [] }, 'rid');
    assert.equal(out.headers['x-amz-crc32'], String(crc32(out.body as Buffer) >>> 0));
  });
});
