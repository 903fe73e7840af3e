/**
 * @module services/kms/paging
 * KMS's paging: a list answers up to Limit entries, Truncated, and a NextMarker naming the first entry of the next
 * page; a Marker KMS did not hand out is InvalidMarkerException.
 */
import { ServiceError } from '../../core/errors.js';

export function page<T, R>(all: T[], marker: string | undefined, limit: number, id: (t: T) => string, map: (t: T) => R, field: string): any {
  let start = 0;
  if (marker !== undefined) {
    start = all.findIndex((t) => id(t) === marker);
    if (start < 0) throw new ServiceError('InvalidMarkerException', 'Invalid marker');
  }
  const slice = all.slice(start, start + limit);
  const next = all[start + limit];
  return { [field]: slice.map(map), Truncated: next !== undefined, ...(next !== undefined ? { NextMarker: id(next) } : {}) };
}
