/**
 * @module protocols/rpcv2cbor
 * Smithy RPC v2 CBOR (smithy.io, "Smithy RPC v2 CBOR protocol"): `POST {prefix}/service/<Service>/operation/<Op>` with
 * `smithy-protocol: rpc-v2-cbor` and a CBOR map as the body; answers carry the same header and a CBOR map. Timestamps
 * are tag 1 (epoch seconds), blobs byte strings. Errors are the JSON protocols' documents in CBOR: `__type` (the
 * error's shape id) and `message`, plus `x-amzn-query-error` for an awsQueryCompatible service (CloudWatch).
 *
 * The bytes are read and written by @smithy/core's CBOR codec, the SDKs' own, loaded on first use (cbor-codec.ts).
 * Around it, this module only:
 *   - checks a body is well-formed before the codec sees it (wellFormedProblem): the codec trusts its input (a
 *     bignum's length is read byte by byte in quadratic time, a map key that is not text is read as one, trailing
 *     bytes are ignored), and no request may cost more than its size or be half-read;
 *   - turns the decoded document into what the JSON protocol's parser produces (tag 1 → Date, byte string → base64
 *     text), so both share the same type checks, validation messages and providers (json.ts checkedInput);
 *   - walks the output along its shape so that timestamps leave as tag 1 and blobs as byte strings.
 */
import { isUtf8 } from 'node:buffer';
import { cborCodec } from './cbor-codec.js';
import { ServiceError } from '../core/errors.js';
import { checkedInput, jsonErrorDocument } from './json.js';
import type { Operation, ServiceModel } from './model.js';
import type { JsonErrorStyle, Protocol, WireRequest, WireResponse } from './types.js';
import { RawJson } from './wirejson.js';

export const RPC_V2_CBOR = 'rpc-v2-cbor';
const CONTENT_TYPE = 'application/cbor';

/** The service and operation an RPC v2 path names (its last four segments), or undefined when it is not one. */
export function rpcV2Target(path: string): { service: string; operation: string } | undefined {
  const parts = path.split('/');
  const n = parts.length;
  if (n < 5 || parts[n - 4] !== 'service' || parts[n - 2] !== 'operation' || !parts[n - 3] || !parts[n - 1]) return undefined;
  return { service: parts[n - 3]!, operation: parts[n - 1]! };
}

/** Whether a request speaks RPC v2 CBOR: its header says so, or it has no X-Amz-Target and an RPC v2 path. */
export function isRpcV2Request(req: WireRequest): boolean {
  return req.headers['smithy-protocol'] === RPC_V2_CBOR || (req.headers['x-amz-target'] === undefined && rpcV2Target(req.path) !== undefined);
}

/** Containers nest at most this deep (validate.ts refuses documents deeper than 128 shapes anyway). */
const MAX_DEPTH = 256;

/**
 * Why a body is not a single well-formed CBOR data item this protocol accepts (RFC 8949 §3), or undefined. Refused:
 * truncated items, trailing bytes, reserved or unassigned additional information, map keys that are not definite text
 * strings (and `__proto__`), text that is not UTF-8, tags other than 1, a tag 1 whose content is not a number, and
 * nesting past MAX_DEPTH. Iterative, one pass: its cost is linear in the body's size.
 */
export function wellFormedProblem(b: Uint8Array): string | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // Open containers: items still to read (Infinity while indefinite), items read, whether a map (keys at even counts).
  const open: Array<{ left: number; read: number; map: boolean }> = [{ left: 1, read: 0, map: false }];
  let pos = 0;
  while (open.length) {
    const top = open[open.length - 1]!;
    if (top.left === 0) {
      open.pop();
      continue;
    }
    if (pos >= b.length) return 'Unexpected end of CBOR data';
    const initial = b[pos]!;
    if (initial === 0xff) {
      if (top.left !== Infinity || (top.map && top.read % 2 === 1)) return 'Unexpected CBOR break';
      pos++;
      open.pop();
      continue;
    }
    if (top.map && top.read % 2 === 0 && (initial & 0xe0) !== 0x60) return 'CBOR map keys must be text strings';
    const major = initial >> 5;
    const minor = initial & 0x1f;
    let arg: number;
    let head = 1;
    if (minor < 24) arg = minor;
    else if (minor === 24 || minor === 25 || minor === 26 || minor === 27) {
      head += 1 << (minor - 24);
      if (pos + head > b.length) return 'Unexpected end of CBOR data';
      arg = minor === 24 ? b[pos + 1]! : minor === 25 ? view.getUint16(pos + 1) : minor === 26 ? view.getUint32(pos + 1) : view.getUint32(pos + 1) * 2 ** 32 + view.getUint32(pos + 5);
    } else if (minor === 31 && major >= 2 && major <= 5) arg = -1;
    else return `Malformed CBOR: additional information ${minor} for major type ${major}`;
    pos += head;
    switch (major) {
      case 0:
      case 1:
        break;
      case 2:
      case 3: {
        if (arg >= 0) {
          if (arg > b.length - pos) return 'Unexpected end of CBOR data';
          if (major === 3 && !isAscii(b, pos, arg) && !isUtf8(b.subarray(pos, pos + arg))) return 'Invalid UTF-8 in a CBOR text string';
          if (major === 3 && arg === 9 && top.map && top.read % 2 === 0 && isProto(b, pos)) return 'Invalid CBOR map key: __proto__';
          pos += arg;
          break;
        }
        if (top.map && top.read % 2 === 0) return 'CBOR map keys must be definite-length text strings';
        // An indefinite string: definite chunks of its own major type up to a break.
        for (;;) {
          if (pos >= b.length) return 'Unexpected end of CBOR data';
          if (b[pos] === 0xff) {
            pos++;
            break;
          }
          const chunk = b[pos]!;
          if (chunk >> 5 !== major || (chunk & 0x1f) >= 28) return 'Malformed CBOR indefinite-length string';
          const problem = wellFormedProblem(b.subarray(pos, pos + chunkLength(b, view, pos)));
          if (problem) return problem;
          pos += chunkLength(b, view, pos);
        }
        break;
      }
      case 4:
      case 5: {
        if (open.length > MAX_DEPTH) return 'CBOR document nested too deeply';
        const items = arg < 0 ? Infinity : major === 5 ? arg * 2 : arg;
        // Every item takes at least a byte: a count beyond what is left is malformed, and allocates nothing.
        if (items !== Infinity && items > b.length - pos) return 'Unexpected end of CBOR data';
        top.left--;
        top.read++;
        open.push({ left: items, read: 0, map: major === 5 });
        continue;
      }
      case 6: {
        if (arg !== 1) return `CBOR tag ${arg} is not supported`;
        const next = b[pos];
        if (next === undefined) return 'Unexpected end of CBOR data';
        if (!(next >> 5 <= 1 || next === 0xf9 || next === 0xfa || next === 0xfb)) return 'CBOR tag 1 must hold a number';
        continue; // the tagged number is the item
      }
      default:
        // Simple values: false, true, null, undefined (read as null), and floats (already sized above).
        if (minor < 20 || minor === 24) return `Unsupported CBOR simple value ${arg}`;
        break;
    }
    top.left--;
    top.read++;
  }
  return pos === b.length ? undefined : 'Unexpected data after the CBOR document';
}

/** Most text is ASCII, checked here faster than a call into isUtf8 for each short string. */
function isAscii(b: Uint8Array, from: number, length: number): boolean {
  for (let i = from; i < from + length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

const PROTO = Buffer.from('__proto__', 'latin1');

/** The nine bytes at pos spell `__proto__` (a key the codec would assign as the decoded map's prototype). */
function isProto(b: Uint8Array, pos: number): boolean {
  for (let i = 0; i < 9; i++) if (b[pos + i] !== PROTO[i]) return false;
  return true;
}

/** The byte length of a definite string chunk starting at pos (its head and its bytes); past the end when truncated. */
function chunkLength(b: Uint8Array, view: DataView, pos: number): number {
  const minor = b[pos]! & 0x1f;
  if (minor < 24) return 1 + minor;
  const head = 1 + (1 << (minor - 24));
  if (pos + head > b.length) return b.length - pos + 1;
  const n = minor === 24 ? b[pos + 1]! : minor === 25 ? view.getUint16(pos + 1) : minor === 26 ? view.getUint32(pos + 1) : view.getUint32(pos + 1) * 2 ** 32 + view.getUint32(pos + 5);
  return head + n;
}

/** A decoded CBOR tag (the codec marks it with its tagSymbol). */
type Tagged = { tag: number | bigint; value: unknown };

function isTagged(v: unknown): v is Tagged {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[cborCodec().tagSymbol] === true;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && !isTagged(v);
}

/** A type error in the CBOR document, worded as the JSON parser words its own (SerializationException). */
function mismatch(path: string, expected: string): ServiceError {
  return new ServiceError('SerializationException', `Expected ${expected} at '${path || 'input'}'`);
}

/**
 * A decoded CBOR value as the JSON protocol's parser would have produced it for the same shape: a tag-1 timestamp
 * becomes a Date, a byte string base64 text. Tags and byte strings anywhere else are type errors (the JSON walk would
 * otherwise take a tag or a byte string for a structure).
 */
export function documentFromCbor(model: ServiceModel, shapeName: string, value: unknown, path = '', depth = 0): unknown {
  if (value === null || value === undefined) return value;
  if (depth > MAX_DEPTH) throw mismatch(path, 'a shallower document');
  const shape = model.shape(shapeName);
  switch (shape.type) {
    case 'timestamp':
      if (isTagged(value) && Number(value.tag) === 1 && typeof value.value === 'number' && Number.isFinite(value.value)) return new Date(value.value * 1000);
      throw mismatch(path, 'a timestamp (CBOR tag 1)');
    case 'blob':
      if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
      throw mismatch(path, 'a blob (CBOR byte string)');
    case 'structure':
      if (!isPlainObject(value)) break;
      for (const [name, ref] of Object.entries(shape.members ?? {})) {
        if (Object.prototype.hasOwnProperty.call(value, name)) value[name] = documentFromCbor(model, ref.shape, value[name], memberPath(path, name), depth + 1);
      }
      return value;
    case 'list':
      if (!Array.isArray(value)) break;
      for (let i = 0; i < value.length; i++) value[i] = documentFromCbor(model, shape.member!.shape, value[i], `${path}.${i + 1}.member`, depth + 1);
      return value;
    case 'map':
      if (!isPlainObject(value)) break;
      for (const k of Object.keys(value)) value[k] = documentFromCbor(model, shape.value!.shape, value[k], `${path}.${k}.member`, depth + 1);
      return value;
    default:
      break;
  }
  // Left for the shared validation to name, unless it would mistake a tag or bytes for something else.
  if (isTagged(value) || value instanceof Uint8Array) throw mismatch(path, `a ${shape.type}`);
  return value;
}

function memberPath(parent: string, name: string): string {
  const lc = name.charAt(0).toLowerCase() + name.slice(1);
  return parent ? `${parent}.${lc}` : lc;
}

/**
 * A provider's output as the CBOR codec writes it, walked along its shape: Dates (and timestamps given as epoch
 * seconds) become tag 1, base64 text in a blob member a byte string; null and undefined members are left out, as the
 * protocol requires. Members the shape does not know are written by their JavaScript type.
 */
export function cborFromOutput(model: ServiceModel, shapeName: string | undefined, value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return undefined;
  if (depth > MAX_DEPTH) throw new Error('output nested too deeply');
  const shape = shapeName !== undefined ? model.shapes[shapeName] : undefined;
  if (value instanceof Date) return cborCodec().tag({ tag: 1, value: value.getTime() / 1000 });
  if (shape?.type === 'timestamp' && typeof value === 'number') return cborCodec().tag({ tag: 1, value });
  if (shape?.type === 'blob' && typeof value === 'string') return Buffer.from(value, 'base64');
  if (value instanceof Uint8Array || typeof value !== 'object') return value;
  if (value instanceof RawJson) return cborFromOutput(model, shapeName, JSON.parse(value.text) as unknown, depth);
  if (Array.isArray(value)) {
    const item = shape?.type === 'list' ? shape.member!.shape : undefined;
    return value.map((v) => cborFromOutput(model, item, v, depth + 1) ?? null);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const memberShape = shape?.type === 'structure' ? shape.members?.[k]?.shape : shape?.type === 'map' ? shape.value!.shape : undefined;
    const written = cborFromOutput(model, memberShape, v, depth + 1);
    if (written !== undefined) out[k] = written;
  }
  return out;
}

/** Past this size the codec's shared encoding buffer is given back after an answer (it otherwise keeps its peak). */
const ENCODING_BUFFER_KEEP = 4 * 1024 * 1024;

function encode(value: unknown): Buffer {
  const { cbor } = cborCodec();
  const bytes = cbor.serialize(value);
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (body.length > ENCODING_BUFFER_KEEP) cbor.resizeEncodingBuffer(2048);
  return body;
}

export class RpcV2CborProtocol implements Protocol {
  readonly name = 'rpcv2Cbor' as const;
  private readonly timestampMemo = new Map<string, boolean>();

  constructor(
    /** The service shape's name (CloudWatch: GraniteServiceVersion20100801) and its namespace (com.amazonaws.cloudwatch). */
    private readonly serviceName: string,
    private readonly namespace: string,
    /** The service's JSON error style: both protocols word errors alike. */
    private readonly style: JsonErrorStyle,
  ) {}

  /** Whether the path's service segment names this service: its shape name, or its absolute id with `.` for `#`. */
  servesName(segment: string): boolean {
    return segment === this.serviceName || segment === `${this.namespace}.${this.serviceName}`;
  }

  operationName(req: WireRequest, model: ServiceModel): string | undefined {
    const target = rpcV2Target(req.path);
    return target && this.servesName(target.service) && model.operations.has(target.operation) ? target.operation : undefined;
  }

  parseInput(req: WireRequest, model: ServiceModel, op: Operation): unknown {
    if (req.method !== 'POST') throw new ServiceError('SerializationException', 'RPC v2 CBOR requests are sent with POST');
    if (req.headers['smithy-protocol'] !== RPC_V2_CBOR) throw new ServiceError('SerializationException', `RPC v2 CBOR requests carry the header smithy-protocol: ${RPC_V2_CBOR}`);
    // The protocol requires refusing these, so that a request cannot be read as two protocols at once.
    if (req.headers['x-amz-target'] !== undefined || req.headers['x-amzn-target'] !== undefined) throw new ServiceError('SerializationException', 'RPC v2 CBOR requests must not carry X-Amz-Target');
    let document: unknown = {};
    if (req.body.length) {
      const problem = wellFormedProblem(req.body);
      if (problem) throw new ServiceError('SerializationException', problem);
      try {
        document = cborCodec().cbor.deserialize(req.body);
      } catch (e) {
        throw new ServiceError('SerializationException', `Malformed CBOR: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (!isPlainObject(document)) throw new ServiceError('SerializationException', 'Start of structure or map found where not expected.');
    if (!op.input) return {};
    return checkedInput(model, op, documentFromCbor(model, op.input.shape, document), this.timestampMemo);
  }

  serializeOutput(model: ServiceModel, op: Operation, output: unknown, requestId: string): WireResponse {
    const headers: Record<string, string> = { 'smithy-protocol': RPC_V2_CBOR, 'x-amzn-requestid': requestId };
    // An operation with no output has no body and no content type.
    if (!op.output) return { status: 200, headers, body: '' };
    headers['content-type'] = CONTENT_TYPE;
    return { status: 200, headers, body: encode(cborFromOutput(model, op.output.shape, output ?? {}) ?? {}) };
  }

  serializeError(model: ServiceModel, err: ServiceError, requestId: string): WireResponse {
    const { payload, headers: errorHeaders } = jsonErrorDocument(model, err, this.style);
    // Type information is in the body: the protocol's responses leave x-amzn-ErrorType out.
    delete errorHeaders['x-amzn-errortype'];
    const headers = { 'content-type': CONTENT_TYPE, 'smithy-protocol': RPC_V2_CBOR, 'x-amzn-requestid': requestId, ...errorHeaders };
    return { status: err.status, headers, body: encode(cborFromOutput(model, undefined, payload)) };
  }
}
