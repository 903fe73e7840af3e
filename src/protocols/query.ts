/**
 * @module protocols/query
 * awsQuery (RDS, ElastiCache, STS): form-encoded parameters (`Action`, `Version`, flattened members
 * such as `Tags.Tag.1.Key`) in, XML out. Errors are `<ErrorResponse><Error><Type/><Code/><Message/>`.
 */
import { createRequire } from 'node:module';
import type { XMLBuilder } from 'fast-xml-parser';
import { ServiceError } from '../core/errors.js';
import type { MemberRef, Operation, ServiceModel, Shape } from './model.js';
import type { Protocol, WireRequest, WireResponse } from './types.js';
import { formatProblems, TypeMismatch, validateShape, type ValidationProblem } from './validate.js';
import { utf8Text } from './text.js';

const MAX_PARAMS = 10_000;
const MAX_DEPTH = 32;

/** How an awsQuery service words its validation errors. */
export interface QueryErrorStyle {
  /** Code for constraint violations (STS: ValidationError; RDS: InvalidParameterValue). */
  validationCode: string;
  /** Code and message for a missing required parameter (RDS words these itself). */
  missingParameter?: (path: string) => ServiceError;
}

/**
 * Refuses form text whose percent-escapes are not UTF-8: URLSearchParams would decode them to U+FFFD, so two
 * distinct values could arrive as one (see protocols/text.ts).
 */
function checkFormText(text: string): void {
  if (!text.includes('%')) return;
  for (const part of text.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw new ServiceError('MalformedQueryString', 'The query string contains a percent-encoded sequence that is not UTF-8.');
    }
  }
}

export function parseQueryParams(req: WireRequest): Map<string, string> {
  const params = new Map<string, string>();
  const add = (sp: URLSearchParams) => {
    for (const [k, v] of sp) {
      if (params.size >= MAX_PARAMS) throw new ServiceError('InvalidQueryParameter', 'Too many parameters');
      params.set(k, v);
    }
  };
  if (req.rawQuery) checkFormText(req.rawQuery);
  add(req.query);
  const ct = req.headers['content-type'] ?? '';
  if (req.method === 'POST' && req.body.length && (ct === '' || ct.includes('x-www-form-urlencoded'))) {
    let text: string;
    try {
      text = utf8Text(req.body);
    } catch {
      throw new ServiceError('MalformedQueryString', 'The request body is not UTF-8.');
    }
    checkFormText(text);
    add(new URLSearchParams(text));
  }
  return params;
}

function hasPrefix(params: Map<string, string>, prefix: string): boolean {
  const p = prefix + '.';
  for (const k of params.keys()) if (k.startsWith(p)) return true;
  return false;
}

function serializedName(name: string, ref: MemberRef): string {
  return ref.locationName ?? name;
}

function decodeScalar(shape: Shape, raw: string, path: string): unknown {
  switch (shape.type) {
    case 'string':
      return raw;
    case 'integer':
    case 'long': {
      if (!/^-?\d+$/.test(raw.trim())) throw new TypeMismatch(path, shape.type, raw);
      return Number(raw);
    }
    case 'double':
    case 'float': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw new TypeMismatch(path, shape.type, raw);
      return n;
    }
    case 'boolean':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw new TypeMismatch(path, 'boolean', raw);
    case 'timestamp': {
      const d = /^-?\d+(\.\d+)?$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
      if (Number.isNaN(d.getTime())) throw new TypeMismatch(path, 'timestamp', raw);
      return d;
    }
    case 'blob':
      return raw;
    default:
      throw new TypeMismatch(path, shape.type, raw);
  }
}

/** Reads the value of shapeName stored under prefix; undefined when absent. */
function decode(model: ServiceModel, shapeName: string, params: Map<string, string>, prefix: string, depth: number, flattenedHint = false): unknown {
  if (depth > MAX_DEPTH) return undefined;
  const shape = model.shape(shapeName);
  switch (shape.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      let any = false;
      for (const [name, ref] of Object.entries(shape.members ?? {})) {
        const key = prefix ? `${prefix}.${serializedName(name, ref)}` : serializedName(name, ref);
        const v = decode(model, ref.shape, params, key, depth + 1, ref.flattened);
        if (v !== undefined) {
          out[name] = v;
          any = true;
        }
      }
      return any || !prefix ? out : undefined;
    }
    case 'list': {
      const flattened = shape.flattened || flattenedHint;
      const memberName = shape.member!.locationName ?? 'member';
      const base = flattened ? prefix : `${prefix}.${memberName}`;
      // An empty list is sent as `Param=` (the SDKs do this), which means [].
      if (params.get(prefix) === '' && !hasPrefix(params, prefix)) return [];
      const out: unknown[] = [];
      for (let i = 1; i <= MAX_PARAMS; i++) {
        const key = `${base}.${i}`;
        if (!params.has(key) && !hasPrefix(params, key)) break;
        out.push(decode(model, shape.member!.shape, params, key, depth + 1));
      }
      return out.length ? out : undefined;
    }
    case 'map': {
      const flattened = shape.flattened || flattenedHint;
      const base = flattened ? prefix : `${prefix}.entry`;
      const keyName = shape.key!.locationName ?? 'key';
      const valueName = shape.value!.locationName ?? 'value';
      const out: Record<string, unknown> = {};
      let any = false;
      for (let i = 1; i <= MAX_PARAMS; i++) {
        const k = params.get(`${base}.${i}.${keyName}`);
        if (k === undefined) break;
        out[k] = decode(model, shape.value!.shape, params, `${base}.${i}.${valueName}`, depth + 1);
        any = true;
      }
      return any ? out : undefined;
    }
    default: {
      const raw = params.get(prefix);
      return raw === undefined ? undefined : decodeScalar(shape, raw, prefix);
    }
  }
}

// ---- XML output -------------------------------------------------------------------------------

function isoTime(d: Date): string {
  return d.toISOString();
}

function toXmlValue(model: ServiceModel, shapeName: string, value: unknown, depth: number): unknown {
  if (value === undefined || value === null || depth > 64) return undefined;
  const shape = model.shape(shapeName);
  switch (shape.type) {
    case 'structure': {
      const out: Record<string, unknown> = {};
      for (const [name, ref] of Object.entries(shape.members ?? {})) {
        const v = (value as Record<string, unknown>)[name];
        if (v === undefined || v === null) continue;
        const memberShape = model.shape(ref.shape);
        const tag = ref.locationName ?? name;
        if (memberShape.type === 'list' && (memberShape.flattened || ref.flattened)) {
          // Flattened lists repeat the member element directly under the parent.
          out[memberShape.member!.locationName ?? tag] = (v as unknown[]).map((item) => toXmlValue(model, memberShape.member!.shape, item, depth + 1));
        } else {
          out[tag] = toXmlValue(model, ref.shape, v, depth + 1);
        }
      }
      return out;
    }
    case 'list': {
      const memberTag = shape.member!.locationName ?? 'member';
      const items = (value as unknown[]).map((item) => toXmlValue(model, shape.member!.shape, item, depth + 1));
      return items.length ? { [memberTag]: items } : '';
    }
    case 'map': {
      const keyTag = shape.key!.locationName ?? 'key';
      const valueTag = shape.value!.locationName ?? 'value';
      const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => ({ [keyTag]: k, [valueTag]: toXmlValue(model, shape.value!.shape, v, depth + 1) }));
      return entries.length ? { entry: entries } : '';
    }
    case 'timestamp':
      return value instanceof Date ? isoTime(value) : typeof value === 'number' ? isoTime(new Date(value * 1000)) : String(value);
    case 'blob':
      return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return String(value);
  }
}

/**
 * The XML builder, loaded on first use: fast-xml-parser takes about 100 ms to import, which is a third
 * of Cellar's startup budget, and a server that only serves JSON protocols never needs it.
 */
let xmlBuilder: XMLBuilder | undefined;
const builder = {
  build(value: unknown): string {
    if (!xmlBuilder) {
      const { XMLBuilder: Builder } = createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser');
      xmlBuilder = new Builder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, processEntities: true, format: false });
    }
    return xmlBuilder.build(value) as string;
  },
};

export class QueryProtocol implements Protocol {
  readonly name = 'awsQuery' as const;

  constructor(private readonly style: QueryErrorStyle) {}

  operationName(req: WireRequest, model: ServiceModel): string | undefined {
    const action = parseQueryParams(req).get('Action');
    return action && model.operations.has(action) ? action : undefined;
  }

  parseInput(req: WireRequest, model: ServiceModel, op: Operation): unknown {
    if (!op.input) return {};
    const params = parseQueryParams(req);
    let input: unknown;
    try {
      input = decode(model, op.input.shape, params, '', 0);
      const problems: ValidationProblem[] = [];
      validateShape(model, op.input.shape, input, '', problems);
      if (problems.length) {
        const missing = problems.find((p) => p.constraint === 'Member must not be null');
        if (missing && this.style.missingParameter) throw this.style.missingParameter(missing.path);
        throw new ServiceError(this.style.validationCode, formatProblems(problems));
      }
    } catch (e) {
      if (e instanceof TypeMismatch) {
        const shown = e.sensitive ? '' : `, value: ${String(e.actual).slice(0, 256)}`;
        throw new ServiceError(this.style.validationCode, `Invalid value for parameter ${e.path}${shown}, type: ${typeof e.actual}, valid types: ${e.expected}`);
      }
      throw e;
    }
    return input;
  }

  serializeOutput(model: ServiceModel, op: Operation, output: unknown, requestId: string): WireResponse {
    const ns = model.metadata.xmlNamespace ?? `https://${model.metadata.endpointPrefix}.amazonaws.com/doc/${model.metadata.apiVersion}/`;
    const root: Record<string, unknown> = { '@_xmlns': ns };
    if (op.output) {
      const result = toXmlValue(model, op.output.shape, output ?? {}, 0);
      root[op.output.resultWrapper ?? `${op.name}Result`] = result ?? '';
    }
    root['ResponseMetadata'] = { RequestId: requestId };
    const xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + builder.build({ [`${op.name}Response`]: root });
    return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: xml };
  }

  serializeError(model: ServiceModel, err: ServiceError, requestId: string): WireResponse {
    const ns = model.metadata.xmlNamespace ?? `https://${model.metadata.endpointPrefix}.amazonaws.com/doc/${model.metadata.apiVersion}/`;
    return queryErrorResponse(ns, err, requestId);
  }
}

/** awsQuery's error document, `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`. */
export function queryErrorResponse(namespace: string | undefined, err: ServiceError, requestId: string): WireResponse {
  const xml =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    builder.build({
      ErrorResponse: {
        ...(namespace ? { '@_xmlns': namespace } : {}),
        Error: { Type: err.senderFault ? 'Sender' : 'Receiver', Code: err.code, Message: err.message },
        RequestId: requestId,
      },
    });
  return { status: err.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: xml };
}

/** rest-xml's error document (S3's shape, which the rest-xml SDKs read): `<Error><Code/><Message/><RequestId/></Error>`. */
export function restXmlErrorResponse(err: ServiceError, requestId: string): WireResponse {
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n' + builder.build({ Error: { Code: err.code, Message: err.message, RequestId: requestId } });
  return { status: err.status, headers: { 'content-type': 'application/xml', 'x-amzn-requestid': requestId }, body: xml };
}
