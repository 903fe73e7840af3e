/**
 * The check a request's head gets before its body is read (App.checkBeforeBody, Authenticator.checkHead), in
 * process: every refusal it gives is the one the full check gives once the body is there (same status, code and
 * message, in the protocol's shape); what it cannot judge without the body (the payload hash, the operation of an
 * unsigned form-encoded call) it lets through; and the 503 answers the gateway sends without reading a body.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { loadConfig } from '../../src/config.js';
import { startCellar, type RunningCellar } from '../../src/server.js';
import { NodeSha256 } from '../../src/auth/hash.js';
import type { WireRequest, WireResponse } from '../../src/protocols/types.js';

const HOST = '127.0.0.1:4566';
const EMPTY = Buffer.alloc(0);

interface SignOptions {
  service: 'kms' | 'sts' | 'dynamodb';
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  signingDate?: Date;
  /** Declare the payload hash (X-Amz-Content-Sha256), as S3-style clients do; the JSON SDKs do not. */
  declareHash?: boolean;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  method?: string;
}

/** A request signed with the SDKs' own signer, as the WireRequest the gateway hands the App. */
async function signed(body: string, o: SignOptions): Promise<WireRequest> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: o.accessKeyId ?? 'test', secretAccessKey: o.secretAccessKey ?? 'test', ...(o.sessionToken ? { sessionToken: o.sessionToken } : {}) },
    region: 'us-east-1',
    service: o.service,
    sha256: NodeSha256,
    applyChecksum: o.declareHash ?? false,
  });
  const request = new HttpRequest({ method: o.method ?? 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 4566, path: '/', query: o.query ?? {}, headers: { host: HOST, ...o.headers }, body });
  const out = await signer.sign(request, { signingDate: o.signingDate ?? new Date() });
  return wire(out.method, new URLSearchParams(o.query ?? {}), out.headers as Record<string, string>, body);
}

function wire(method: string, query: URLSearchParams, headers: Record<string, string>, body: string): WireRequest {
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return { method, path: '/', query, headers: lower, body: Buffer.from(body) };
}

const kmsCall = (o: Partial<SignOptions> = {}) => signed('{}', { service: 'kms', ...o, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys', ...o.headers } });
const stsCall = (o: Partial<SignOptions> = {}) => signed('Action=GetCallerIdentity&Version=2011-06-15', { service: 'sts', ...o, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...o.headers } });

function headOf(req: WireRequest): WireRequest {
  return { ...req, body: EMPTY };
}

function withHeaders(req: WireRequest, change: Record<string, string | undefined>): WireRequest {
  const headers = { ...req.headers };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return { ...req, headers };
}

/** Status, error code and message of an error answer in either protocol's shape. */
function errorOf(res: WireResponse): { status: number; code: string; message: string } {
  const text = typeof res.body === 'string' ? res.body : res.body.toString('utf8');
  if (text.startsWith('<?xml')) {
    return { status: res.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? '', message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '' };
  }
  const json = JSON.parse(text) as Record<string, string>;
  return { status: res.status, code: String(json.__type).replace(/^.*#/, ''), message: json.message ?? json.Message ?? '' };
}

/** The head alone is refused exactly as the whole request is. */
async function refusedAlike(app: RunningCellar['app'], req: WireRequest, code: string): Promise<void> {
  const early = app.checkBeforeBody(headOf(req));
  assert.ok(early, `the head alone is refused (${code})`);
  const full = await app.handle(req);
  assert.deepEqual(errorOf(early), errorOf(full));
  assert.equal(errorOf(early).code, code);
}

describe('the check before the body', () => {
  let cellar: RunningCellar;
  let strict: RunningCellar;
  before(async () => {
    cellar = await startCellar(loadConfig({ inMemory: true, port: 0, logRequests: false }));
    strict = await startCellar(loadConfig({ inMemory: true, port: 0, logRequests: false, strict: true, keys: [{ accessKeyId: 'AKIAALICE', secretAccessKey: 'alice-secret', accountId: '123456789012', userName: 'alice' }] }));
  });
  after(async () => {
    await cellar.close();
    await strict.close();
  });

  it('lets a well-signed head through, whether or not it declares its payload hash', async () => {
    assert.equal(cellar.app.checkBeforeBody(headOf(await kmsCall())), undefined);
    assert.equal(cellar.app.checkBeforeBody(headOf(await kmsCall({ declareHash: true }))), undefined);
    assert.equal(cellar.app.checkBeforeBody(headOf(await stsCall())), undefined);
    assert.equal(strict.app.checkBeforeBody(headOf(await kmsCall())), undefined);
  });

  it('refuses a head without a signature as the full check does, in each protocol\'s words', async () => {
    const unsigned = wire('POST', new URLSearchParams(), { host: HOST, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' }, '{}');
    await refusedAlike(cellar.app, unsigned, 'MissingAuthenticationTokenException');
    const query = wire('GET', new URLSearchParams({ Action: 'GetCallerIdentity', Version: '2011-06-15' }), { host: HOST }, '');
    // An unsigned query call that names an operation AWS does not serve unsigned: not routable without a scope.
    assert.ok(cellar.app.checkBeforeBody(headOf({ ...query, headers: { ...query.headers, 'x-amz-target': 'NoSuch.Thing' } })));
  });

  it('refuses malformed signatures from the head with the full check\'s code and message (JSON and query)', async () => {
    for (const make of [kmsCall, stsCall]) {
      const good = await make();
      const auth = good.headers['authorization']!;
      const json = make === kmsCall;
      const cases: Array<[string, WireRequest, string]> = [
        ['another algorithm', withHeaders(good, { authorization: auth.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512') }), json ? 'IncompleteSignatureException' : 'IncompleteSignature'],
        ['no Signature parameter', withHeaders(good, { authorization: auth.replace(/, Signature=[0-9a-f]+/, '') }), json ? 'IncompleteSignatureException' : 'IncompleteSignature'],
        ['a malformed credential scope', withHeaders(good, { authorization: auth.replace(/Credential=[^,]+/, `Credential=test/2026/us-east-1/${json ? 'kms' : 'sts'}/aws4_request`) }), json ? 'IncompleteSignatureException' : 'IncompleteSignature'],
        ['host not signed', withHeaders(good, { authorization: auth.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=content-type;x-amz-date') }), json ? 'InvalidSignatureException' : 'SignatureDoesNotMatch'],
        ['a signature that is not hex', withHeaders(good, { authorization: auth.replace(/Signature=[0-9a-f]+/, 'Signature=' + 'z'.repeat(64)) }), json ? 'InvalidSignatureException' : 'SignatureDoesNotMatch'],
        ['no X-Amz-Date', withHeaders(good, { 'x-amz-date': undefined }), json ? 'IncompleteSignatureException' : 'IncompleteSignature'],
        ['a date unlike the scope\'s', withHeaders(good, { 'x-amz-date': '20200101T000000Z' }), json ? 'InvalidSignatureException' : 'SignatureDoesNotMatch'],
      ];
      for (const [what, req, code] of cases) {
        await refusedAlike(cellar.app, req, code).catch((e: Error) => assert.fail(`${make === kmsCall ? 'kms' : 'sts'}, ${what}: ${e.message}`));
      }
    }
  });

  it('refuses a head signed for another service than the one it addresses', async () => {
    const otherScope = await signed('{}', { service: 'dynamodb', headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.ListKeys' } });
    await refusedAlike(cellar.app, otherScope, 'InvalidSignatureException');
    assert.match(errorOf(cellar.app.checkBeforeBody(headOf(otherScope))!).message, /scoped to correct service/);
  });

  it('verifies a known key\'s signature from the head when the payload hash is declared', async () => {
    const wrong = await kmsCall({ secretAccessKey: 'not-the-secret', declareHash: true });
    await refusedAlike(cellar.app, wrong, 'InvalidSignatureException');
    // Without a declared hash the signature covers the body, so only the full check can find it wrong.
    assert.equal(cellar.app.checkBeforeBody(headOf(await kmsCall({ secretAccessKey: 'not-the-secret' }))), undefined);
  });

  it('in strict mode, refuses from the head an unknown key, a clock outside the skew, and a wrong session token', async () => {
    await refusedAlike(strict.app, await kmsCall({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }), 'UnrecognizedClientException');
    await refusedAlike(strict.app, await stsCall({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' }), 'InvalidClientTokenId');
    await refusedAlike(strict.app, await kmsCall({ signingDate: new Date(Date.now() - 16 * 60_000) }), 'InvalidSignatureException');
    await refusedAlike(strict.app, await stsCall({ signingDate: new Date(Date.now() + 16 * 60_000) }), 'SignatureDoesNotMatch');

    const assume = await signed('Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fapp&RoleSessionName=session', { service: 'sts', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
    const xml = String((await strict.app.handle(assume)).body);
    assert.match(xml, /<AccessKeyId>/, xml);
    const id = /<AccessKeyId>([^<]+)/.exec(xml)![1]!;
    const secret = /<SecretAccessKey>([^<]+)/.exec(xml)![1]!;
    const token = /<SessionToken>([^<]+)/.exec(xml)![1]!;
    assert.equal(strict.app.checkBeforeBody(headOf(await kmsCall({ accessKeyId: id, secretAccessKey: secret, sessionToken: token }))), undefined);
    await refusedAlike(strict.app, await kmsCall({ accessKeyId: id, secretAccessKey: secret, sessionToken: token + 'x' }), 'UnrecognizedClientException');
  });

  it('refuses an expired presigned URL from its query string', async () => {
    const url = new URL('http://127.0.0.1:4566/');
    const signer = new SignatureV4({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, region: 'us-east-1', service: 'sts', sha256: NodeSha256 });
    const presigned = await signer.presign(new HttpRequest({ method: 'GET', protocol: 'http:', hostname: url.hostname, port: 4566, path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host: HOST } }), { expiresIn: 60, signingDate: new Date(Date.now() - 5 * 60_000) });
    const req = wire('GET', new URLSearchParams(presigned.query as Record<string, string>), { host: HOST }, '');
    assert.equal(cellar.app.checkBeforeBody(headOf(req)), undefined, 'default mode does not enforce expiry');
    await refusedAlike(strict.app, req, 'SignatureDoesNotMatch');
    assert.match(errorOf(strict.app.checkBeforeBody(req)!).message, /expired/);
  });

  it('lets through unsigned heads only to what AWS serves unsigned, or when only the body can name the operation', async () => {
    const webIdentity = wire('POST', new URLSearchParams({ Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15' }), { host: HOST, 'content-type': 'application/x-www-form-urlencoded' }, '');
    assert.equal(cellar.app.checkBeforeBody(webIdentity), undefined);
    const formOnly = wire('POST', new URLSearchParams(), { host: HOST, 'content-type': 'application/x-www-form-urlencoded' }, '');
    assert.equal(cellar.app.checkBeforeBody(formOnly), undefined);
    const jsonTarget = wire('POST', new URLSearchParams(), { host: HOST, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' }, '');
    assert.equal(errorOf(cellar.app.checkBeforeBody(jsonTarget)!).code, 'MissingAuthenticationTokenException');
    const unknownTarget = wire('POST', new URLSearchParams(), { host: HOST, 'x-amz-target': 'NoSuchService_2020.Do' }, '');
    await refusedAlike(cellar.app, unknownTarget, 'UnknownOperationException');
  });

  it('answers 503 with AWS\'s throttling error in the protocol\'s shape when the body budget is spent', async () => {
    const ddb = await signed('{}', { service: 'dynamodb', headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.PutItem' } });
    const json = cellar.app.unavailableBeforeBody(headOf(ddb), 'throttled');
    assert.equal(json.status, 503);
    assert.equal(json.headers['x-amzn-errortype'], 'ThrottlingException');
    assert.match(JSON.parse(String(json.body)).__type, /#ThrottlingException$/);
    const query = cellar.app.unavailableBeforeBody(headOf(await stsCall()), 'throttled');
    assert.equal(query.status, 503);
    assert.match(String(query.body), /<ErrorResponse[^>]*>\s*<Error>\s*<Type>Sender<\/Type>\s*<Code>Throttling<\/Code>\s*<Message>Rate exceeded<\/Message>/);
    const stopping = cellar.app.unavailableBeforeBody(headOf(await kmsCall()), 'stopping');
    assert.equal(stopping.status, 503);
    assert.equal(errorOf(stopping).code, 'ServiceUnavailableException');
  });
});
