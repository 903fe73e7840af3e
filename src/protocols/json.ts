/**
 * @module protocols/json
 * awsJson1_0 and awsJson1_1: POST / with `X-Amz-Target: <prefix>.<Operation>` and a JSON body.
 * Errors are `{"__type": ..., "message": ...}` with `x-amzn-ErrorType`; DynamoDB adds `x-amz-crc32`.
 */
import { crc32 } from 'node:zlib';
import { ServiceError } from '../core/errors.js';
import type { Operation, ServiceModel, Shape } from './model.js';
import type { JsonErrorStyle, Protocol, WireRequest, WireResponse } from './types.js';
import { stringifyWire } from './wirejson.js';
import { checkSurrogateEscapes, MalformedText, utf8Text } from './text.js';
import { formatProblems, TypeMismatch, validateShape, type ValidationProblem } from './validate.js';

/** Which shapes (transitively) hold timestamps, which arrive as epoch seconds and providers see as Date. */
function hasTimestamps(model: ServiceModel, shapeName: string, memo: Map<string, boolean>, depth = 0): boolean {
  const known = memo.get(shapeName);
  if (known !== undefined) return known;
  memo.set(shapeName, false); // recursion guard (DynamoDB AttributeValue is recursive)
  const s = model.shape(shapeName);
  let result = false;
  if (depth < 64) {
    if (s.type === 'timestamp') result = true;
    else if (s.type === 'structure') result = Object.values(s.members ?? {}).some((m) => hasTimestamps(model, m.shape, memo, depth + 1));
    else if (s.type === 'list') result = hasTimestamps(model, s.member!.shape, memo, depth + 1);
    else if (s.type === 'map') result = hasTimestamps(model, s.value!.shape, memo, depth + 1);
  }
  memo.set(shapeName, result);
  return result;
}

function convertTimestamps(model: ServiceModel, shapeName: string, value: unknown, memo: Map<string, boolean>): unknown {
  if (value === null || value === undefined || !hasTimestamps(model, shapeName, memo)) return value;
  const s: Shape = model.shape(shapeName);
  switch (s.type) {
    case 'timestamp':
      if (typeof value === 'number') return new Date(value * 1000);
      if (typeof value === 'string') {
        const d = /^-?\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
        return d;
      }
      return value;
    case 'structure':
      if (typeof value === 'object' && !Array.isArray(value)) {
        const obj = value as Record<string, unknown>;
        for (const [name, ref] of Object.entries(s.members ?? {})) {
          if (obj[name] !== undefined) obj[name] = convertTimestamps(model, ref.shape, obj[name], memo);
        }
      }
      return value;
    case 'list':
      return Array.isArray(value) ? value.map((v) => convertTimestamps(model, s.member!.shape, v, memo)) : value;
    case 'map':
      if (typeof value === 'object' && !Array.isArray(value)) {
        const obj = value as Record<string, unknown>;
        for (const k of Object.keys(obj)) obj[k] = convertTimestamps(model, s.value!.shape, obj[k], memo);
      }
      return value;
    default:
      return value;
  }
}

/**
 * The rest of parsing once a request's document is read (JSON text here, CBOR in protocols/rpcv2cbor.ts): timestamps
 * made Dates, AWS's type checks (SerializationException) and constraint checks (the service's validation error).
 * `timestampMemo` caches which shapes hold timestamps; one per protocol instance.
 */
export function checkedInput(model: ServiceModel, op: Operation, document: unknown, timestampMemo: Map<string, boolean>): unknown {
  if (!op.input) return {};
  const inputShape = op.input.shape;
  const input = convertTimestamps(model, inputShape, document, timestampMemo);
  const problems: ValidationProblem[] = [];
  try {
    validateShape(model, inputShape, input, '', problems);
  } catch (e) {
    if (e instanceof TypeMismatch) throw serializationError(e);
    throw e;
  }
  model.precheck?.(op.name, input as Record<string, unknown>);
  if (problems.length) throw new ServiceError('ValidationException', formatProblems(model.maxValidationProblems ? problems.slice(0, model.maxValidationProblems) : problems));
  return input;
}

export class JsonProtocol implements Protocol {
  readonly acceptsRawJson = true;
  private readonly timestampMemo = new Map<string, boolean>();
  private readonly contentType: string;

  constructor(
    readonly name: 'awsJson1_0' | 'awsJson1_1',
    private readonly style: JsonErrorStyle,
  ) {
    this.contentType = name === 'awsJson1_0' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
  }

  operationName(req: WireRequest, model: ServiceModel): string | undefined {
    const target = req.headers['x-amz-target'];
    if (!target) return undefined;
    const dot = target.lastIndexOf('.');
    if (dot < 0 || target.slice(0, dot) !== model.metadata.targetPrefix) return undefined;
    const op = target.slice(dot + 1);
    return model.operations.has(op) ? op : undefined;
  }

  parseInput(req: WireRequest, model: ServiceModel, op: Operation): unknown {
    let input: unknown;
    try {
      const text = req.body.length ? utf8Text(req.body) : '{}';
      checkSurrogateEscapes(text);
      input = JSON.parse(text);
    } catch (e) {
      if (e instanceof MalformedText) throw new ServiceError('SerializationException', e.message);
      throw new ServiceError('SerializationException', 'Start of structure or map found where not expected.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ServiceError('SerializationException', 'Start of structure or map found where not expected.');
    }
    return checkedInput(model, op, input, this.timestampMemo);
  }

  serializeOutput(_model: ServiceModel, _op: Operation, output: unknown, requestId: string): WireResponse {
    // A string: node:http then sends headers and body in one write. crc32 hashes its UTF-8 bytes.
    const body = stringifyWire(output ?? {});
    const headers: Record<string, string> = {
      'content-type': this.contentType,
      'x-amzn-requestid': requestId,
    };
    if (this.style.crc32) headers['x-amz-crc32'] = String(crc32(body) >>> 0);
    return { status: 200, headers, body };
  }

  serializeError(model: ServiceModel, err: ServiceError, requestId: string): WireResponse {
    const { payload, headers: errorHeaders } = jsonErrorDocument(model, err, this.style);
    const body = Buffer.from(stringifyWire(payload), 'utf8');
    const headers: Record<string, string> = { 'content-type': this.contentType, 'x-amzn-requestid': requestId, ...errorHeaders };
    if (this.style.crc32) headers['x-amz-crc32'] = String(crc32(body) >>> 0);
    return { status: err.status, headers, body };
  }
}

/**
 * An error's document in the JSON protocols' terms, which RPC v2 CBOR shares (protocols/rpcv2cbor.ts): the body's
 * members (`__type`, the message, the error's fields) and the headers that name the error (`x-amzn-ErrorType`, or
 * for an awsQueryCompatible service `x-amzn-query-error`).
 */
export function jsonErrorDocument(model: ServiceModel, err: ServiceError, style: JsonErrorStyle): { payload: Record<string, unknown>; headers: Record<string, string> } {
  if (style.queryCompatible) return queryCompatibleError(model, err, style, style.queryCompatible.validationCode);
  const prefix = errorTypePrefix(err.code, style);
  // An error with no message has no message member, as DynamoDB's UnknownOperationException has none.
  const messageKey = messageKeyOf(model, err.code, style);
  const payload: Record<string, unknown> = err.message === '' ? { __type: prefix + err.code } : { __type: prefix + err.code, [messageKey]: err.message };
  if (err.fields) Object.assign(payload, err.fields);
  return { payload, headers: { 'x-amzn-errortype': err.code } };
}

/**
 * An awsQueryCompatible service's error: the awsQuery code in `x-amzn-query-error` (what the SDKs report), the
 * error's shape in `__type` (the model's shape whose `error.code` is that code), and `message`.
 */
function queryCompatibleError(model: ServiceModel, err: ServiceError, style: JsonErrorStyle, validationCode: string): { payload: Record<string, unknown>; headers: Record<string, string> } {
  const code = err.code === 'ValidationException' ? validationCode : err.code;
  // The shape named as the code when there is one (CloudWatch's ResourceNotFound, not DashboardNotFoundError, which
  // shares its code), else the first whose code it is.
  const shape = model.shapes[code]?.exception ? code : Object.entries(model.shapes).find(([, s]) => s.exception && s.error?.code === code)?.[0];
  const type = shape !== undefined ? style.typePrefix + shape : code === validationCode ? `${style.validationTypePrefix}ValidationException` : errorTypePrefix(err.code, style) + err.code;
  // The message member is spelt as the error's shape spells it (CloudWatch: `Message` on InternalServiceFault).
  const payload: Record<string, unknown> = { __type: type, [shape !== undefined ? messageKeyOf(model, shape, style) : style.messageKey]: err.message };
  if (err.fields) Object.assign(payload, err.fields);
  return { payload, headers: { 'x-amzn-query-error': `${code};${err.senderFault ? 'Sender' : 'Receiver'}` } };
}

/**
 * The member an error's message goes in: the protocol's usual one, unless the error's own shape spells it the
 * other way (DynamoDB's TransactionCanceledException and TransactionInProgressException have `Message`, its
 * other errors `message`).
 */
function messageKeyOf(model: ServiceModel, code: string, style: JsonErrorStyle): string {
  const usual = style.messageKey;
  const members = model.shapes[code]?.members;
  if (members === undefined || usual in members) return usual;
  const other = usual === 'message' ? 'Message' : 'message';
  return other in members ? other : usual;
}

/** Coral's own errors carry Coral's namespaces, whatever the service. */
function errorTypePrefix(code: string, style: JsonErrorStyle): string {
  if (code === 'ValidationException') return style.validationTypePrefix;
  if (style.typePrefix && (code === 'SerializationException' || code === 'UnknownOperationException' || code === 'MissingAuthenticationTokenException' || code === 'IncompleteSignatureException' || code === 'InvalidSignatureException' || code === 'UnrecognizedClientException' || code === 'AccessDeniedException' || code === 'RequestEntityTooLarge' || code === 'InternalFailure' || code === 'NotImplemented')) {
    return 'com.amazon.coral.service#';
  }
  return style.typePrefix;
}

function serializationError(e: TypeMismatch): ServiceError {
  if (e.detail !== undefined) return new ServiceError('SerializationException', e.detail);
  const actual = e.actual;
  const kind = Array.isArray(actual) ? 'Start of list' : actual === null ? 'null' : typeof actual === 'object' ? 'Start of structure or map' : typeof actual === 'string' ? 'STRING_VALUE' : typeof actual === 'number' ? 'NUMBER_VALUE' : typeof actual === 'boolean' ? 'BOOLEAN_VALUE' : 'Unexpected value';
  const target: Record<string, string> = { structure: 'a structure', list: 'a list', map: 'a map', string: 'a String', integer: 'an Integer', long: 'a Long', double: 'a Double', float: 'a Float', boolean: 'a Boolean', timestamp: 'a Timestamp', blob: 'a Blob' };
  const message = kind.startsWith('Start of') ? `${kind} found where not expected.` : `${kind} can not be converted to ${target[e.expected] ?? e.expected}`;
  return new ServiceError('SerializationException', message);
}

/**
 * A JSON-protocol error for a request no served service claims (protocols/unrouted.ts): Coral's shape, which every
 * awsJson and rest-json SDK reads (`__type` in the body and `x-amzn-ErrorType`).
 */
export function jsonErrorResponse(contentType: string, err: ServiceError, requestId: string): WireResponse {
  return {
    status: err.status,
    headers: { 'content-type': contentType, 'x-amzn-requestid': requestId, 'x-amzn-errortype': err.code },
    body: stringifyWire({ __type: `com.amazon.coral.service#${err.code}`, message: err.message }),
  };
}

