/**
 * @module gateway/cors
 * Cross-origin requests from browsers, answered as DynamoDB answers them (the same for every service Cellar serves):
 * a request that carries `Origin` gets `Access-Control-Allow-Origin: *` and `Access-Control-Expose-Headers` on its
 * answer, whatever the answer is; a preflight (`OPTIONS` with `Origin`) is answered 200 with an empty body, echoing
 * the requested method and headers as allowed, for `Access-Control-Max-Age` 172800 seconds (two days). Requests
 * without `Origin` get none of these headers. Verified by dynalite's and ScyllaDB Alternator's suites, both run
 * against DynamoDB.
 */
import type { WireRequest, WireResponse } from '../protocols/types.js';

/**
 * The response headers a browser script may read. AWS's exact list is not documented; these are the ones the SDKs
 * read (request id, error type). `x-amz-crc32` is left out on purpose: a browser hands the script a body it has
 * already decompressed, and a checksum of the compressed bytes would then fail the SDK's check.
 */
const EXPOSE_HEADERS = 'x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date';
const PREFLIGHT_MAX_AGE_SECONDS = '172800';

/** The answer to a CORS preflight, or undefined when the request is not one. */
export function corsPreflight(req: WireRequest, requestId: string): WireResponse | undefined {
  if (req.method !== 'OPTIONS' || req.headers['origin'] === undefined) return undefined;
  const headers: Record<string, string> = {
    'x-amzn-requestid': requestId,
    'access-control-allow-origin': '*',
    'access-control-expose-headers': EXPOSE_HEADERS,
    'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
  };
  const method = req.headers['access-control-request-method'];
  if (method !== undefined) headers['access-control-allow-methods'] = method;
  const requested = req.headers['access-control-request-headers'];
  if (requested !== undefined) headers['access-control-allow-headers'] = requested;
  return { status: 200, headers, body: '' };
}

/** Adds the headers a cross-origin answer carries (the response's own headers object is extended in place). */
export function withCors(req: WireRequest, res: WireResponse): WireResponse {
  if (req.headers['origin'] === undefined) return res;
  res.headers['access-control-allow-origin'] = '*';
  res.headers['access-control-expose-headers'] = EXPOSE_HEADERS;
  return res;
}
