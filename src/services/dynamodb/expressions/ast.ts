/**
 * @module services/dynamodb/expressions/ast
 * Parsed expressions as discriminated unions. Placeholders are already resolved: paths hold real
 * attribute names and list indexes, values hold (validated) attribute values. Legacy parameters
 * (Expected, QueryFilter, AttributeUpdates …) are translated into these same trees.
 */
import type { AttributeValue } from '../attributes.js';

/** A document path: attribute names (strings) and list indexes (numbers). */
export type Path = (string | number)[];

export type Operand =
  | { k: 'path'; path: Path }
  | { k: 'value'; value: AttributeValue }
  | { k: 'size'; arg: Operand };

export type CmpOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { k: 'cmp'; op: CmpOp; l: Operand; r: Operand }
  | { k: 'between'; v: Operand; lo: Operand; hi: Operand }
  | { k: 'in'; v: Operand; list: Operand[] }
  | { k: 'and'; l: Condition; r: Condition }
  | { k: 'or'; l: Condition; r: Condition }
  | { k: 'not'; c: Condition }
  | { k: 'exists'; path: Path }
  | { k: 'not_exists'; path: Path }
  | { k: 'type'; path: Path; type: Operand }
  | { k: 'begins_with'; v: Operand; prefix: Operand }
  | { k: 'contains'; v: Operand; needle: Operand }
  /** Legacy-only: always true (an empty Expected / filter map). */
  | { k: 'true' };

export type SetValue =
  | Operand
  | { k: 'if_not_exists'; path: Path; fallback: SetValue }
  | { k: 'list_append'; a: SetValue; b: SetValue }
  | { k: 'plus'; a: SetValue; b: SetValue }
  | { k: 'minus'; a: SetValue; b: SetValue };

export type UpdateAction =
  | { k: 'set'; path: Path; value: SetValue }
  | { k: 'remove'; path: Path }
  | { k: 'add'; path: Path; value: AttributeValue }
  | { k: 'delete'; path: Path; value: AttributeValue };

export function pathToString(path: Path): string {
  return '[' + path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join(', ') + ']';
}
