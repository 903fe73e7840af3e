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

/**
 * The enumerations whose "Member must satisfy enum value set: [...]" lists DynamoDB writes in an order of its own
 * (its service's, not the published model's), as dynalite's validation tables recorded them from the live service.
 */
export const ENUM_ORDER: Readonly<Record<string, readonly string[]>> = {
  ScalarAttributeType: ['B', 'N', 'S'],
  ProjectionType: ['ALL', 'INCLUDE', 'KEYS_ONLY'],
  ReturnValue: ['ALL_NEW', 'UPDATED_OLD', 'ALL_OLD', 'NONE', 'UPDATED_NEW'],
  ComparisonOperator: ['IN', 'NULL', 'BETWEEN', 'LT', 'NOT_CONTAINS', 'EQ', 'GT', 'NOT_NULL', 'NE', 'LE', 'BEGINS_WITH', 'GE', 'CONTAINS'],
  ConditionalOperator: ['OR', 'AND'],
  Select: ['SPECIFIC_ATTRIBUTES', 'COUNT', 'ALL_ATTRIBUTES', 'ALL_PROJECTED_ATTRIBUTES'],
};
