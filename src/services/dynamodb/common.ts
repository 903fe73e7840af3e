/**
 * @module services/dynamodb/common
 * Small pieces the DynamoDB operation modules share: DynamoDB's fixed error answers, the table-name check,
 * how a stored item is answered, and a few limits. Kept apart from provider.ts so that the operation
 * modules need the provider only as a type.
 */
import type { RequestContext } from '../../core/context.js';
import { ServiceError, validationError } from '../../core/errors.js';
import { RawJson } from '../../protocols/wirejson.js';
import type { Item } from './attributes.js';
import type { Condition, Operand } from './expressions/ast.js';

export const INVALID = 'One or more parameter values were invalid: ';
export const MB = 1024 * 1024;
/** Entries read from the store per chunk while walking a Query or Scan. */
export const SCAN_CHUNK = 128;

/** Tries of one backfill step before the index's creation fails. */
export const BACKFILL_ATTEMPTS = 3;

export function notFound(): ServiceError {
  return new ServiceError('ResourceNotFoundException', 'Requested resource not found');
}

export function conditionalFailed(item?: Item): ServiceError {
  return new ServiceError('ConditionalCheckFailedException', 'The conditional request failed', item ? { fields: { Item: item } } : {});
}

/**
 * A stored item (or index entry) as the response's value: its JSON text as it is when the caller
 * serializes to JSON (stored text is JSON.stringify's output, so it is exactly what re-serializing the
 * parsed item would give), the parsed item otherwise.
 */
export function storedItem(json: string, ctx: RequestContext): Item | RawJson {
  return ctx.rawJson ? new RawJson(json) : (JSON.parse(json) as Item);
}

export function inUse(message: string): ServiceError {
  return new ServiceError('ResourceInUseException', message);
}

const TABLE_NAME = /^[a-zA-Z0-9_.-]+$/;

/**
 * The model types TableName as "name or ARN" (1–1024 characters), but DynamoDB still checks a plain
 * name against the table-name rules and reports it in the model-validation form.
 */
export function checkTableName(name: string): void {
  if (name.startsWith('arn:')) return;
  const problem = name.length > 255 ? 'Member must have length less than or equal to 255'
    : !TABLE_NAME.test(name) ? 'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+'
      : name.length < 3 ? 'Member must have length greater than or equal to 3' : undefined;
  if (problem) throw validationError(`1 validation error detected: Value '${name}' at 'tableName' failed to satisfy constraint: ${problem}`);
}

/** The ARN of the KMS key a table is encrypted with: the given key (id, alias or ARN) or aws/dynamodb. */
export function kmsKeyArn(keyId: string | undefined, ctx: RequestContext): string {
  if (keyId?.startsWith('arn:')) return keyId;
  const prefix = `arn:aws:kms:${ctx.scope.region}:${ctx.scope.accountId}:`;
  if (!keyId) return `${prefix}alias/aws/dynamodb`;
  return keyId.startsWith('alias/') ? prefix + keyId : `${prefix}key/${keyId}`;
}

/** Top-level attribute names a condition reads. */
export function collectPathHeads(c: Condition, out: Set<string>): void {
  const operand = (o: Operand): void => {
    if (o.k === 'path') out.add(o.path[0] as string);
    else if (o.k === 'size') operand(o.arg);
  };
  switch (c.k) {
    case 'and': case 'or': collectPathHeads(c.l, out); collectPathHeads(c.r, out); break;
    case 'not': collectPathHeads(c.c, out); break;
    case 'cmp': operand(c.l); operand(c.r); break;
    case 'between': operand(c.v); operand(c.lo); operand(c.hi); break;
    case 'in': operand(c.v); c.list.forEach(operand); break;
    case 'exists': case 'not_exists': case 'type': out.add(c.path[0] as string); break;
    case 'begins_with': operand(c.v); operand(c.prefix); break;
    case 'contains': operand(c.v); operand(c.needle); break;
    case 'true': break;
  }
}
