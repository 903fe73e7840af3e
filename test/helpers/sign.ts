/**
 * Test helper: sends raw HTTP requests to Cellar, SigV4-signed with the SDKs' own signer, so tests can
 * send exactly the bytes they want (malformed bodies, tampered signatures) and still pass authentication.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from '../../src/auth/hash.js';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export interface SignOptions {
  service: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  signingDate?: Date;
  headers?: Record<string, string>;
  method?: string;
  path?: string;
  query?: Record<string, string>;
}

export async function signedRequest(endpoint: string, body: string | Buffer, o: SignOptions): Promise<Request> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({
    credentials: { accessKeyId: o.accessKeyId ?? 'test', secretAccessKey: o.secretAccessKey ?? 'test', ...(o.sessionToken ? { sessionToken: o.sessionToken } : {}) },
    region: o.region ?? 'us-east-1',
    service: o.service,
    sha256: NodeSha256,
  });
  const req = new HttpRequest({
    method: o.method ?? 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: o.path ?? '/',
    query: o.query ?? {},
    headers: { host: url.host, ...(o.headers ?? {}) },
    body,
  });
  const signed = await signer.sign(req, { signingDate: o.signingDate ?? new Date() });
  const qs = new URLSearchParams(o.query ?? {}).toString();
  return new Request(`${endpoint}${o.path ?? '/'}${qs ? '?' + qs : ''}`, { method: signed.method, headers: signed.headers as Record<string, string>, ...(signed.method === 'GET' ? {} : { body }) });
}

export async function send(req: Request): Promise<RawResponse> {
  const res = await fetch(req);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A signed awsJson call: target like `TrentService.Encrypt`. */
export async function jsonCall(endpoint: string, service: string, target: string, body: string | Buffer, extra: Partial<SignOptions> = {}): Promise<RawResponse> {
  const version = service === 'dynamodb' || service === 'monitoring' ? '1.0' : '1.1';
  return send(await signedRequest(endpoint, body, { service, ...extra, headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amz-target': target, ...(extra.headers ?? {}) } }));
}

/** A signed awsQuery call. */
export async function queryCall(endpoint: string, service: string, params: Record<string, string>, extra: Partial<SignOptions> = {}): Promise<RawResponse> {
  return send(await signedRequest(endpoint, new URLSearchParams(params).toString(), { service, ...extra, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...(extra.headers ?? {}) } }));
}
