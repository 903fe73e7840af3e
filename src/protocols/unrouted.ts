/**
 * @module protocols/unrouted
 * The error answer to a request that no served service claims (a service Cellar does not serve, an unknown target,
 * a request that names none), in the wire shape the caller's SDK parses. With no service model to go by, the
 * protocol is read off the request itself:
 *   - `smithy-protocol: rpc-v2-cbor`, or a `/service/<S>/operation/<O>` path without X-Amz-Target: Smithy RPC v2
 *     CBOR (a CBOR map; protocols/rpcv2cbor.ts);
 *   - `X-Amz-Target`: awsJson (JSON body, `x-amzn-ErrorType`);
 *   - a form-encoded body or query string with `Action=`: awsQuery (XML `<ErrorResponse>`);
 *   - otherwise REST: rest-xml for the services that speak it (S3, Route 53, CloudFront), rest-json for the rest.
 * So a client of a service Cellar does not serve reports UnknownOperationException (or awsQuery's InvalidAction)
 * instead of failing to parse the answer. Each protocol's module still owns its own error document.
 */
import type { ServiceError } from '../core/errors.js';
import { jsonErrorResponse } from './json.js';
import { queryErrorResponse, restXmlErrorResponse } from './query.js';
import { cborCodec } from './cbor-codec.js';
import { isRpcV2Request, RPC_V2_CBOR } from './rpcv2cbor.js';
import type { WireRequest, WireResponse } from './types.js';

export type RequestStyle = 'json' | 'cbor' | 'query' | 'rest-xml' | 'rest-json';

const REST_XML_SERVICES = new Set(['s3', 's3-outposts', 'route53', 'cloudfront']);

/** How the request's own protocol words its errors; `service` is the credential scope's service, when signed. */
export function requestStyle(req: WireRequest, service: string | undefined): RequestStyle {
  if (isRpcV2Request(req)) return 'cbor';
  if (req.headers['x-amz-target']) return 'json';
  const ct = req.headers['content-type'] ?? '';
  if (req.query.has('Action') || (req.method === 'POST' && ct.includes('x-www-form-urlencoded'))) return 'query';
  if (service && REST_XML_SERVICES.has(service)) return 'rest-xml';
  if (!service && ct.includes('json')) return 'rest-json';
  return service ? 'rest-json' : 'json';
}

/** Whether a style words its errors as awsQuery does (InvalidAction, 403 auth failures) rather than as JSON. */
export function isXmlStyle(style: RequestStyle): boolean {
  return style === 'query' || style === 'rest-xml';
}

export function unroutedErrorResponse(style: RequestStyle, req: WireRequest, err: ServiceError, requestId: string): WireResponse {
  switch (style) {
    case 'query':
      return queryErrorResponse(undefined, err, requestId);
    case 'rest-xml':
      return restXmlErrorResponse(err, requestId);
    case 'cbor':
      return {
        status: err.status,
        headers: { 'content-type': 'application/cbor', 'smithy-protocol': RPC_V2_CBOR, 'x-amzn-requestid': requestId, 'x-amzn-errortype': err.code },
        body: Buffer.from(cborCodec().cbor.serialize({ __type: err.code, message: err.message })),
      };
    case 'rest-json':
      return jsonErrorResponse('application/json', err, requestId);
    default: {
      const ct = req.headers['content-type'] ?? '';
      return jsonErrorResponse(ct.startsWith('application/x-amz-json-1.1') ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0', err, requestId);
    }
  }
}
