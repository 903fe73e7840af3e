/**
 * The order in which DynamoDB checks the members of its input structures, for "N validation errors
 * detected" messages: src/models/dynamodb-validation-order.json, written by
 * scripts/dynamodb-validation-order.mjs (see there for where the order comes from).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelsDir } from '../../protocols/model.js';

let cached: Record<string, string[]> | undefined;

export function validationOrder(): Record<string, string[]> {
  cached ??= (JSON.parse(readFileSync(join(modelsDir, 'dynamodb-validation-order.json'), 'utf8')) as { order: Record<string, string[]> }).order;
  return cached;
}
