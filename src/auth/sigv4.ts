/**
 * @module auth/sigv4
 * Checks AWS Signature Version 4 on every request, in the Authorization header or a presigned query
 * string. The signature itself is recomputed with @smithy/signature-v4 (the SDKs' own signer) over the
 * headers the client says it signed, and compared in constant time.
 *
 * Default mode accepts any well-formed request, as LocalStack and DynamoDB Local do, but still verifies
 * the signature of every key Cellar knows. Strict mode accepts only known keys and also enforces the
 * 15-minute clock skew, presigned expiry and session tokens.
 */
import { createHmac } from 'node:crypto';
import type { SignatureV4 } from '@smithy/signature-v4';
import type { WireRequest } from '../protocols/types.js';
import { accountForUnknownKey, type Credential, type CredentialStore } from './credentials.js';
import { HmacSha256, NodeSha256, sha256Hex } from './hash.js';
import { isRegionName } from '../core/scope.js';

export type AuthFailure = 'missing' | 'incomplete' | 'signature' | 'unknownKey' | 'expiredToken' | 'signatureExpired' | 'contentSha';

export class AuthError extends Error {
  constructor(
    readonly kind: AuthFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface Caller {
  accessKeyId: string;
  accountId: string;
  arn: string;
  userId: string;
  /** Region and service from the credential scope. */
  region: string;
  service: string;
  /** true when the signature was verified against a known secret. */
  verified: boolean;
}

interface ParsedSignature {
  accessKeyId: string;
  date: string; // yyyymmdd
  region: string;
  service: string;
  signedHeaders: readonly string[];
  signature: string;
  amzDate: string; // yyyymmddThhmmssZ
  presigned: boolean;
  expiresS?: number;
  securityToken?: string;
}

const SKEW_MS = 15 * 60 * 1000;
const MAX_SIGNERS = 1024;
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const EMPTY_SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MISSING_TOKEN = 'Request is missing Authentication Token';

type CredentialScope = Pick<ParsedSignature, 'accessKeyId' | 'date' | 'region' | 'service'>;

/**
 * Stores value under key in a bounded cache and returns it. A full cache is cleared: these caches hold what clients
 * repeat on every request (scopes, header lists, signing keys), so filling one means churn, not a working set.
 */
function remember<V>(cache: Map<string, V>, max: number, key: string, value: V): V {
  if (cache.size >= max) cache.clear();
  cache.set(key, value);
  return value;
}

/** Credential scopes and signed-header lists, parsed once per distinct value: parsing them anew was a measurable part of each request. */
const MAX_PARSED = 256;
const parsedScopes = new Map<string, Readonly<CredentialScope>>();
const parsedHeaderLists = new Map<string, readonly string[]>();

function parseCredential(value: string): Readonly<CredentialScope> {
  return parsedScopes.get(value) ?? remember(parsedScopes, MAX_PARSED, value, parseScope(value));
}

function parseScope(value: string): Readonly<CredentialScope> {
  // access/yyyymmdd/region/service/aws4_request, read with indexOf.
  const a = value.indexOf('/');
  const b = a < 0 ? -1 : value.indexOf('/', a + 1);
  const c = b < 0 ? -1 : value.indexOf('/', b + 1);
  const d = c < 0 ? -1 : value.indexOf('/', c + 1);
  if (a <= 0 || b < 0 || c < 0 || d < 0 || value.indexOf('/', d + 1) >= 0 || !value.endsWith('/aws4_request') || d + 13 !== value.length || b - a !== 9 || !isDigits(value, a + 1, b) || c === b + 1 || d === c + 1) {
    throw new AuthError('incomplete', `Credential should be scoped to a valid region. `);
  }
  const region = value.slice(b + 1, c);
  // The region names the state the request reaches (core/scope.ts): anything but a well-formed region name is
  // refused here, before it can become part of a key or a path. AWS answers a scope it does not serve the same way.
  if (!isRegionName(region)) throw new AuthError('signature', 'Credential should be scoped to a valid region. ');
  const service = value.slice(c + 1, d);
  if (!/^[a-z0-9-]{1,64}$/.test(service)) throw new AuthError('signature', 'Credential should be scoped to correct service. ');
  return Object.freeze({ accessKeyId: value.slice(0, a), date: value.slice(a + 1, b), region, service });
}

function splitSignedHeaders(list: string): readonly string[] {
  return parsedHeaderLists.get(list) ?? remember(parsedHeaderLists, MAX_PARSED, list, Object.freeze(list.split(';')));
}

function isDigits(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const ch = s.charCodeAt(i);
    if (ch < 48 || ch > 57) return false;
  }
  return true;
}

/** yyyymmddThhmmssZ */
function isAmzDate(s: string): boolean {
  return s.length === 16 && s.charCodeAt(8) === 84 && s.charCodeAt(15) === 90 && isDigits(s, 0, 8) && isDigits(s, 9, 15);
}

/** 64 lower-case hex digits, checked with a loop: a regular expression costs several times more, on every request. */
function isHex64(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const ch = s.charCodeAt(i);
    if (!((ch >= 48 && ch <= 57) || (ch >= 97 && ch <= 102))) return false;
  }
  return true;
}
/** A header value that SigV4 canonicalisation changes: edge whitespace, runs, or whitespace other than ' '. */
const NEEDS_CANONICAL = /^\s|\s$|\s\s|[^\S ]/;

export function parseSignature(req: WireRequest): ParsedSignature | undefined {
  const header = req.headers['authorization'];
  if (header !== undefined) {
    if (!header.startsWith('AWS4-HMAC-SHA256 ')) {
      throw new AuthError('incomplete', `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${header.split(' ')[0]}`);
    }
    // One pass over "Credential=…, SignedHeaders=…, Signature=…" (any order; the last of a name wins).
    let credential: string | undefined;
    let signedHeaderList: string | undefined;
    let signature: string | undefined;
    const start = 'AWS4-HMAC-SHA256 '.length;
    for (let from = start; from <= header.length; ) {
      let comma = header.indexOf(',', from);
      if (comma < 0) comma = header.length;
      const eq = header.indexOf('=', from);
      if (eq > from && eq < comma) {
        const name = header.slice(from, eq).trim();
        // An empty name (a part starting with '=') is skipped, as is a part without '='.
        if (name.length) {
          const value = header.slice(eq + 1, comma).trim();
          if (name === 'Credential') credential = value;
          else if (name === 'SignedHeaders') signedHeaderList = value;
          else if (name === 'Signature') signature = value;
        }
      }
      from = comma + 1;
    }
    if (!credential || !signature || !signedHeaderList) {
      const missing = [['Credential', credential], ['Signature', signature], ['SignedHeaders', signedHeaderList]].filter(([, v]) => !v).map(([f]) => f);
      throw new AuthError('incomplete', missing.map((f) => `Authorization header requires '${f}' parameter.`).join(' ') + ` Authorization=${header}`);
    }
    const amzDate = req.headers['x-amz-date'] ?? '';
    if (!isAmzDate(amzDate)) {
      throw new AuthError('incomplete', `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${header}`);
    }
    const signedHeaders = splitSignedHeaders(signedHeaderList);
    if (!isHex64(signature)) throw new AuthError('signature', SIGNATURE_MISMATCH);
    const token = req.headers['x-amz-security-token'];
    const cred = parseCredential(credential);
    const parsed: ParsedSignature = { accessKeyId: cred.accessKeyId, date: cred.date, region: cred.region, service: cred.service, signedHeaders, signature, amzDate, presigned: false };
    if (token) parsed.securityToken = token;
    return parsed;
  }
  if (req.query.has('X-Amz-Signature') || req.query.has('X-Amz-Credential')) {
    const q = req.query;
    const missing = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'].filter((k) => !q.get(k));
    if (missing.length || q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
      throw new AuthError('incomplete', `AWS query-string parameters must include ${missing.map((m) => `'${m}'`).join(', ') || "'X-Amz-Algorithm'"}. Re-examine the query-string parameters.`);
    }
    const amzDate = q.get('X-Amz-Date')!;
    if (!isAmzDate(amzDate)) throw new AuthError('incomplete', `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
    const expires = Number(q.get('X-Amz-Expires') ?? '900');
    if (!Number.isInteger(expires) || expires < 1 || expires > 604800) throw new AuthError('incomplete', 'X-Amz-Expires must be non-negative and less than 604800 seconds');
    const token = q.get('X-Amz-Security-Token');
    return {
      ...parseCredential(q.get('X-Amz-Credential')!),
      signedHeaders: splitSignedHeaders(q.get('X-Amz-SignedHeaders')!),
      signature: q.get('X-Amz-Signature')!,
      amzDate,
      presigned: true,
      expiresS: expires,
      ...(token ? { securityToken: token } : {}),
    };
  }
  return undefined;
}

function digitsAt(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + s.charCodeAt(i) - 48;
  return n;
}

/** The last date converted: requests signed in the same second share it. */
let lastAmzDate = '';
let lastAmzDateMs = NaN;

/** ms since the epoch of a yyyymmddThhmmssZ date, NaN where Date.parse of its ISO form is NaN. */
function amzDateToMs(amzDate: string): number {
  if (amzDate === lastAmzDate) return lastAmzDateMs;
  const month = digitsAt(amzDate, 4, 6);
  const day = digitsAt(amzDate, 6, 8);
  const hour = digitsAt(amzDate, 9, 11);
  const minute = digitsAt(amzDate, 11, 13);
  const second = digitsAt(amzDate, 13, 15);
  // V8's ISO parser: month 1-12, day 1-31 (rolling over within the next month), 24:00:00 allowed.
  const ms =
    month < 1 || month > 12 || day < 1 || day > 31 || minute > 59 || second > 59 || hour > 24 || (hour === 24 && (minute || second))
      ? NaN
      : Date.UTC(digitsAt(amzDate, 0, 4), month - 1, day, hour, minute, second);
  lastAmzDate = amzDate;
  lastAmzDateMs = ms;
  return ms;
}

function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** Compares in time independent of where the strings differ (both are 64 hex digits when they can match). */
function sameSignature(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function verified(expected: string, sig: ParsedSignature, cred: Credential): Caller {
  if (!sameSignature(expected, sig.signature)) throw new AuthError('signature', SIGNATURE_MISMATCH);
  return { accessKeyId: cred.accessKeyId, accountId: cred.accountId, arn: cred.arn, userId: cred.userId ?? cred.accountId, region: sig.region, service: sig.service, verified: true };
}

export interface AuthenticatorOptions {
  strict: boolean;
  now: () => number;
}

export class Authenticator {
  private readonly signers = new Map<string, SignatureV4>();

  constructor(
    private readonly credentials: CredentialStore,
    private readonly options: AuthenticatorOptions,
  ) {}

  /** Authenticates req; throws AuthError. `unsignedAllowed` serves the few operations AWS lets through unsigned. */
  async authenticate(req: WireRequest): Promise<Caller> {
    return this.check(req);
  }

  /**
   * authenticate without a promise where it can: the header-signed POST / that every JSON-protocol
   * call makes is answered synchronously; anything else returns a Promise. Throws AuthError.
   */
  check(req: WireRequest): Caller | Promise<Caller> {
    const sig = parseSignature(req);
    if (!sig) throw new AuthError('missing', MISSING_TOKEN);
    const now = this.options.now();
    const cred = this.checkScopeAndTime(sig, now);

    // The body hash a client declares must be the body's, or a replayed signature could carry another body.
    const declaredSha = req.headers['x-amz-content-sha256'];
    if (declaredSha !== undefined && declaredSha !== 'UNSIGNED-PAYLOAD') {
      const actual = req.body.length ? sha256Hex(req.body) : EMPTY_SHA;
      if (declaredSha !== actual) throw new AuthError('contentSha', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }

    if (cred) {
      this.checkSessionToken(sig, cred, now);
      const expected = this.fastSignature(req, sig, cred);
      if (expected === undefined) return this.computeSignature(req, sig, cred).then((general) => verified(general, sig, cred));
      return verified(expected, sig, cred);
    }
    const accountId = accountForUnknownKey(sig.accessKeyId);
    return { accessKeyId: sig.accessKeyId, accountId, arn: `arn:aws:iam::${accountId}:root`, userId: accountId, region: sig.region, service: sig.service, verified: false };
  }

  /**
   * What `check` can decide from a request's head alone, before its body is read (gateway/http.ts calls it through
   * App.checkBeforeBody): a present, well-formed signature, its dates and signed headers; in strict mode a known key
   * and the clock skew or presigned expiry; a known key's session token and its expiry. Throws the AuthError `check`
   * would. Only the payload hash needs the body, so a request that declares it (X-Amz-Content-Sha256) has its
   * signature verified here too, when a known key signed it and the direct computation applies; `check` verifies
   * everything again once the body is here. Returns the service the credential scope names.
   */
  checkHead(req: WireRequest): string {
    const sig = parseSignature(req);
    if (!sig) throw new AuthError('missing', MISSING_TOKEN);
    const now = this.options.now();
    const cred = this.checkScopeAndTime(sig, now);
    if (cred) {
      this.checkSessionToken(sig, cred, now);
      if (req.headers['x-amz-content-sha256'] !== undefined) {
        const expected = this.fastSignature(req, sig, cred);
        if (expected !== undefined) verified(expected, sig, cred);
      }
    }
    return sig.service;
  }

  /** The signature's dates and signed headers; in strict mode its key and time. Returns the key's credential when Cellar knows it. */
  private checkScopeAndTime(sig: ParsedSignature, now: number): Credential | undefined {
    const signedAtMs = amzDateToMs(sig.amzDate);
    if (Number.isNaN(signedAtMs)) throw new AuthError('incomplete', `Date must be in ISO-8601 'basic format'. Got '${sig.amzDate}'.`);
    if (!sig.amzDate.startsWith(sig.date)) throw new AuthError('signature', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${sig.date}' != '${sig.amzDate.slice(0, 8)}', from '${sig.amzDate}'.`);
    if (!sig.signedHeaders.includes('host')) throw new AuthError('signature', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");

    const cred = this.credentials.lookup(sig.accessKeyId);
    if (!cred && this.options.strict) throw new AuthError('unknownKey', 'The security token included in the request is invalid.');

    if (this.options.strict) {
      if (sig.presigned) {
        if (now > signedAtMs + sig.expiresS! * 1000) throw new AuthError('signatureExpired', `Request has expired`);
        if (signedAtMs > now + SKEW_MS) throw new AuthError('signatureExpired', `Signature not yet current: ${sig.amzDate} is still later than ${formatAmzDate(now + SKEW_MS)} (${formatAmzDate(now)} + 15 min.)`);
      } else if (Math.abs(now - signedAtMs) > SKEW_MS) {
        throw new AuthError(
          'signatureExpired',
          signedAtMs < now
            ? `Signature expired: ${sig.amzDate} is now earlier than ${formatAmzDate(now - SKEW_MS)} (${formatAmzDate(now)} - 15 min.)`
            : `Signature not yet current: ${sig.amzDate} is still later than ${formatAmzDate(now + SKEW_MS)} (${formatAmzDate(now)} + 15 min.)`,
        );
      }
    }
    return cred;
  }

  /** A known key with a session token (AssumeRole's) needs that token, unexpired. */
  private checkSessionToken(sig: ParsedSignature, cred: Credential, now: number): void {
    if (cred.sessionToken === undefined) return;
    if (sig.securityToken !== cred.sessionToken) throw new AuthError('unknownKey', 'The security token included in the request is invalid.');
    if (cred.expiresAtMs !== undefined && now > cred.expiresAtMs) throw new AuthError('expiredToken', 'The security token included in the request is expired');
  }

  private readonly signingKeys = new Map<string, HmacSha256>();
  private lastSigningKey: { secret: string; date: string; region: string; service: string; key: HmacSha256 } | undefined;

  /** The derived SigV4 key (date → region → service → aws4_request), cached: it changes once a day. */
  private signingKey(secret: string, date: string, region: string, service: string): HmacSha256 {
    // Consecutive requests nearly always share a scope: compare it before building the map's key.
    const last = this.lastSigningKey;
    if (last && last.secret === secret && last.date === date && last.region === region && last.service === service) return last.key;
    const cacheKey = `${secret}\n${date}\n${region}\n${service}`;
    let key = this.signingKeys.get(cacheKey);
    if (!key) {
      const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
      const kRegion = createHmac('sha256', kDate).update(region).digest();
      const kService = createHmac('sha256', kRegion).update(service).digest();
      key = remember(this.signingKeys, MAX_SIGNERS, cacheKey, new HmacSha256(createHmac('sha256', kService).update('aws4_request').digest()));
    }
    this.lastSigningKey = { secret, date, region, service, key };
    return key;
  }

  /**
   * The common case computed directly: a header-signed request to `/` with no query string, which is
   * every awsJson call and every form-POST awsQuery call the SDKs and the CLI make. It builds the same
   * canonical request as @smithy/signature-v4 (test/unit/sigv4-fastpath.test.ts checks the two agree
   * on random requests) without the general signer's per-request allocation and promise chain, which
   * cost more than the rest of a DynamoDB GetItem. Everything else goes through the library.
   */
  fastSignature(req: WireRequest, sig: ParsedSignature, cred: Credential): string | undefined {
    if (sig.presigned || req.path !== '/' || req.query.size !== 0) return undefined;
    let names = sig.signedHeaders;
    for (let i = 1; i < names.length; i++) {
      if (names[i - 1]! > names[i]!) {
        names = [...names].sort();
        break;
      }
    }
    let canonical = `${req.method}\n/\n\n`;
    for (const name of names) {
      let value = req.headers[name];
      if (value === undefined) {
        if (name === 'x-amz-date') value = sig.amzDate;
        else return undefined;
      }
      canonical += `${name}:${NEEDS_CANONICAL.test(value) ? value.trim().replace(/\s+/g, ' ') : value}\n`;
    }
    const payloadHash = req.headers['x-amz-content-sha256'] ?? (req.body.length ? sha256Hex(req.body) : EMPTY_SHA);
    canonical += `\n${names.join(';')}\n${payloadHash}`;
    const stringToSign = `AWS4-HMAC-SHA256\n${sig.amzDate}\n${sig.date}/${sig.region}/${sig.service}/aws4_request\n${sha256Hex(canonical)}`;
    return this.signingKey(cred.secretAccessKey, sig.date, sig.region, sig.service).hex(stringToSign);
  }

  /**
   * @smithy/signature-v4 and @smithy/protocol-http, imported on first use: together they take about
   * 150 ms to load, half of Cellar's startup budget, and the fast path serves most requests without them.
   */
  private smithy: Promise<{ SignatureV4: typeof import('@smithy/signature-v4').SignatureV4; HttpRequest: typeof import('@smithy/protocol-http').HttpRequest }> | undefined;

  private loadSmithy(): NonNullable<Authenticator['smithy']> {
    this.smithy ??= Promise.all([import('@smithy/signature-v4'), import('@smithy/protocol-http')]).then(([s, p]) => ({ SignatureV4: s.SignatureV4, HttpRequest: p.HttpRequest }));
    return this.smithy;
  }

  private signerFor(cred: Credential, SignatureV4: typeof import('@smithy/signature-v4').SignatureV4): SignatureV4 {
    const cacheKey = `${cred.accessKeyId}\n${cred.sessionToken ?? ''}`;
    return (
      this.signers.get(cacheKey) ??
      remember(
        this.signers,
        MAX_SIGNERS,
        cacheKey,
        new SignatureV4({
          credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: cred.secretAccessKey, ...(cred.sessionToken ? { sessionToken: cred.sessionToken } : {}) },
          region: 'us-east-1',
          service: 'sts',
          sha256: NodeSha256,
          uriEscapePath: true,
          applyChecksum: false,
        }),
      )
    );
  }

  /** The general path, through the SDKs' own signer. Public for the fast path's agreement test. */
  async computeSignature(req: WireRequest, sig: ParsedSignature, cred: Credential): Promise<string> {
    const { SignatureV4, HttpRequest } = await this.loadSmithy();
    const signed = new Set(sig.signedHeaders);
    const headers: Record<string, string> = {};
    for (const name of sig.signedHeaders) {
      const v = req.headers[name];
      if (v !== undefined) headers[name] = v;
    }
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of req.query) {
      if (sig.presigned && k === 'X-Amz-Signature') continue;
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const request = new HttpRequest({
      method: req.method,
      protocol: 'http:',
      hostname: (headers['host'] ?? '').split(':')[0] ?? '',
      path: req.path,
      query,
      headers,
      body: req.body.length ? req.body : undefined,
    });
    const signer = this.signerFor(cred, SignatureV4);
    const signingDate = new Date(amzDateToMs(sig.amzDate));
    if (sig.presigned) {
      // Presigned parameters are already in the query; presign recomputes over them.
      for (const k of ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Security-Token']) delete request.query[k];
      const out = await signer.presign(request, { signingDate, expiresIn: sig.expiresS!, signableHeaders: signed, signingRegion: sig.region, signingService: sig.service });
      return String(out.query?.['X-Amz-Signature'] ?? '');
    }
    // A declared payload hash is part of what was signed; the signer reads it from the header.
    const declaredSha = req.headers['x-amz-content-sha256'];
    const unsignableHeaders = new Set<string>();
    if (declaredSha !== undefined && !signed.has('x-amz-content-sha256')) {
      request.headers['x-amz-content-sha256'] = declaredSha;
      unsignableHeaders.add('x-amz-content-sha256');
    }
    const out = await signer.sign(request, { signingDate, signableHeaders: signed, unsignableHeaders, signingRegion: sig.region, signingService: sig.service });
    const auth = String(out.headers['authorization'] ?? '');
    return auth.slice(auth.lastIndexOf('Signature=') + 'Signature='.length);
  }
}
