/**
 * @module services/dynamodb/partiql/parameters
 * How DynamoDB's PartiQL front end reads a number passed as a statement's parameter, before DynamoDB's own number
 * rules see it (paritysuite's captures of AWS, October 2026): as Java's BigDecimal reads a string. An exponent or
 * scale that does not fit a 32-bit integer cannot be read at all ("The parameter cannot be converted to a numeric
 * value: 1e99999999999"), and the magnitude check, precision less scale in 32-bit arithmetic, wraps for an exponent
 * just under 2^31 (`1e2147483647` is an underflow). Every other number goes on to validateValue as any value does.
 * Pure.
 */
import { MAX_NESTING_DEPTH } from '../attributes.js';
import { NUMBER_ERROR_MESSAGES } from '../numbers.js';
import { readableNumber } from './lexer.js';

const INT32_MAX = 2 ** 31 - 1;
const NUMBER_SYNTAX = /^[+-]?(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?$/;

/**
 * The problem of the first number of a parameter, in document order, that only the PartiQL front end refuses; none
 * when the value nests too deep before one (validateValue then reports the nesting, as DynamoDB does).
 */
export function parameterNumberProblem(value: unknown): string | undefined {
  return walk(value, 0) ?? undefined;
}

/** A problem, null when the walk reached too deep a level first, undefined when there is neither. */
function walk(v: unknown, depth: number): string | null | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  if (depth >= MAX_NESTING_DEPTH) return null;
  const o = v as Record<string, unknown>;
  if (typeof o.N === 'string') return numberProblem(o.N);
  if (Array.isArray(o.NS)) {
    for (const n of o.NS) {
      const p = typeof n === 'string' ? numberProblem(n) : undefined;
      if (p !== undefined) return p;
    }
  }
  const children = Array.isArray(o.L) ? o.L : o.M !== null && typeof o.M === 'object' ? Object.values(o.M) : [];
  for (const child of children) {
    const p = walk(child, depth + 1);
    if (p !== undefined) return p;
  }
  return undefined;
}

function numberProblem(text: string): string | undefined {
  const m = NUMBER_SYNTAX.exec(text);
  if (!m) return undefined; // not a number at all: validateValue's message
  if (!readableNumber(text)) return `The parameter cannot be converted to a numeric value: ${text}`;
  const mantissa = m[1]!;
  const point = mantissa.indexOf('.');
  const fraction = point < 0 ? 0 : mantissa.length - point - 1;
  const precision = Math.max(1, mantissa.replace('.', '').replace(/^0+/, '').length);
  const scale = fraction - Number(m[2] ?? 0);
  return precision - scale > INT32_MAX ? NUMBER_ERROR_MESSAGES.underflow : undefined;
}
