/**
 * @module services/dynamodb/partiql/ast
 * Parsed PartiQL statements as discriminated unions. Parameters (`?`) stay as their position here; the
 * planner substitutes the request's Parameters when it turns a statement into DynamoDB operations.
 */

/** A document path: the top-level attribute name, then map keys (strings) and list indexes (numbers). */
export type DocPath = [string, ...(string | number)[]];

export type CmpOp = '=' | '<>' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-' | '*' | '/' | '%' | '||';

/** Where a node sat in the statement (1-based), for the messages that report it. */
export interface Position {
  line: number;
  col: number;
  length: number;
}

export type Expr =
  | { k: 'path'; path: DocPath }
  | { k: 'string'; value: string }
  | { k: 'number'; text: string }
  | { k: 'bool'; value: boolean }
  | { k: 'null' }
  | { k: 'missing' }
  | { k: 'ion'; text: string }
  | { k: 'param'; index: number }
  | { k: 'list'; items: Expr[] }
  | { k: 'bag'; items: Expr[] }
  | { k: 'struct'; fields: { key: Expr; value: Expr }[] }
  | { k: 'cmp'; op: CmpOp; l: Expr; r: Expr }
  | { k: 'and'; l: Expr; r: Expr }
  | { k: 'or'; l: Expr; r: Expr }
  | { k: 'not'; e: Expr }
  | { k: 'between'; v: Expr; lo: Expr; hi: Expr }
  | { k: 'in'; v: Expr; list: Expr[] | Expr }
  | { k: 'is'; e: Expr; type: string; negated: boolean }
  | { k: 'call'; name: string; args: Expr[] }
  | { k: 'arith'; op: ArithOp; l: Expr; r: Expr }
  | { k: 'neg'; e: Expr };

export interface TableRef {
  table: string;
  index?: string;
  /** Where the table name sat (INSERT reports it when an index is named). */
  at: Position;
}

export type Projection = '*' | DocPath[];

export interface OrderBy {
  path: DocPath;
  descending: boolean;
}

export interface SelectStatement {
  k: 'select';
  projection: Projection;
  from: TableRef;
  where?: Expr;
  orderBy?: OrderBy[];
}

export type UpdateClause = { k: 'set'; path: DocPath; value: Expr } | { k: 'remove'; path: DocPath };

/** RETURNING (ALL | MODIFIED) (OLD | NEW) *. */
export type Returning = 'ALL OLD' | 'ALL NEW' | 'MODIFIED OLD' | 'MODIFIED NEW';

export type Statement =
  | SelectStatement
  | { k: 'insert'; into: TableRef; value: Expr }
  | { k: 'update'; target: TableRef; clauses: UpdateClause[]; where?: Expr; returning?: Returning }
  | { k: 'delete'; from: TableRef; where?: Expr; returning?: Returning }
  | { k: 'exists'; select: SelectStatement };

/** How many `?` a statement holds (positions are counted in the order they appear). */
export type ParamCount = number;
