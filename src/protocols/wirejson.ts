/**
 * @module protocols/wirejson
 * JSON text for the JSON protocols' responses: JSON.stringify's output, with bytes as base64, dates as
 * epoch seconds, and RawJson values spliced in as they are.
 *
 * RawJson lets a provider hand back JSON it already holds (DynamoDB keeps each item as the JSON text
 * of its wire shape) without parsing it into objects only for the serializer to turn them back into
 * the same text. JSON.rawJSON would do this natively, but Node 20's V8 lacks it.
 */

/** A value whose JSON text is known. The text must be valid JSON (it is written as it is). */
export class RawJson {
  constructor(readonly text: string) {}
}

/**
 * JSON.stringify(value, replacer) where the replacer turns Uint8Array into base64 and Date into epoch
 * seconds, plus RawJson. Same output as that call for every value it accepts: undefined and functions
 * are skipped in objects and null in arrays, toJSON is honoured, non-finite numbers are null.
 */
export function stringifyWire(value: unknown): string {
  const out = write(value, 0);
  return out === undefined ? 'undefined' : out;
}

const MAX_DEPTH = 1000;

function write(value: unknown, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      return JSON.stringify(value); // throws, as JSON.stringify does
    default:
      break;
  }
  if (value === null) return 'null';
  if (depth > MAX_DEPTH) throw new RangeError('Maximum call stack size exceeded');
  if (value instanceof RawJson) return value.text;
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));
  if (value instanceof Date) return JSON.stringify(value.getTime() / 1000);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    let s = '[';
    for (let i = 0; i < value.length; i++) {
      if (i) s += ',';
      s += write(value[i], depth + 1) ?? 'null';
    }
    return s + ']';
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.toJSON === 'function') return write((obj.toJSON as (k: string) => unknown)(''), depth + 1);
  if (value instanceof Number || value instanceof String || value instanceof Boolean) return JSON.stringify(value);
  let s = '{';
  let first = true;
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    const v = write(obj[key], depth + 1);
    if (v === undefined) continue;
    s += (first ? '' : ',') + JSON.stringify(key) + ':' + v;
    first = false;
  }
  return s + '}';
}
