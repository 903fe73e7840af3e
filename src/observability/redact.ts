/**
 * @module observability/redact
 * A request's or response's values as the debug log shows them: every member whose shape the service model marks
 * sensitive (secret values, passwords, KMS plaintexts) is replaced by SENSITIVE, as the AWS SDKs print them. Blobs
 * show their size, not their bytes. Walks the value by its model shape, so nothing is redacted by guessing names.
 */
import type { ServiceModel } from '../protocols/model.js';
import { RawJson } from '../protocols/wirejson.js';

export const SENSITIVE = '***SensitiveInformation***';
/** Deeper than any shape AWS's models nest (DynamoDB documents stop at 32 levels). */
const MAX_DEPTH = 40;

export function redacted(model: ServiceModel, shapeName: string | undefined, value: unknown, depth = 0): unknown {
  if (value === undefined || value === null) return value;
  if (value instanceof RawJson) return value.text.length > 4096 ? `<${value.text.length} characters of JSON>` : safeParse(value.text);
  if (value instanceof Uint8Array) return shapeName !== undefined && model.shapes[shapeName]?.sensitive ? SENSITIVE : `<${value.byteLength} bytes>`;
  if (depth > MAX_DEPTH) return '<nested too deep>';
  const shape = shapeName === undefined ? undefined : model.shapes[shapeName];
  if (shape?.sensitive) return SENSITIVE;
  if (Array.isArray(value)) return value.map((v) => redacted(model, shape?.type === 'list' ? shape.member?.shape : undefined, v, depth + 1));
  if (value instanceof Date || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const target = shape?.type === 'structure' ? shape.members?.[k]?.shape : shape?.type === 'map' ? shape.value?.shape : undefined;
    out[k] = redacted(model, target, v, depth + 1);
  }
  return out;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
