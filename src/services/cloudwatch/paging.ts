/**
 * @module services/cloudwatch/paging
 * NextToken values of CloudWatch's paged operations: opaque to the caller, an offset or the last name answered, and
 * InvalidNextToken for one Cellar did not make.
 */
import { ServiceError } from '../../core/errors.js';

function invalidToken(): ServiceError {
  return new ServiceError('InvalidNextToken', 'The service cannot return the next page: the NextToken is invalid.');
}

function decode(token: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw invalidToken();
}

export function offsetToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset }), 'utf8').toString('base64');
}

export function offsetOfToken(token: string): number {
  const o = decode(token).o;
  if (typeof o === 'number' && Number.isInteger(o) && o >= 0) return o;
  throw invalidToken();
}

export function nameToken(after: string): string {
  return Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64');
}

export function nameOfToken(token: string): string {
  const after = decode(token).after;
  if (typeof after === 'string') return after;
  throw invalidToken();
}
