/**
 * @module services/dynamodb/partiql/parser
 * A recursive-descent parser for the PartiQL that DynamoDB serves: SELECT, INSERT INTO … VALUE,
 * UPDATE … SET/REMOVE, DELETE FROM, and EXISTS(SELECT …) (transactions only). Pure: statement text in,
 * a Statement (and its parameter count) out, or one of two errors: SyntaxProblem (DynamoDB wraps it as
 * "Statement wasn't well formed, can't be processed: …") and Rejection (a message DynamoDB gives bare,
 * such as "Aliasing is not supported"). Nesting is bounded so no statement can exhaust the stack.
 */
import type { ArithOp, CmpOp, DocPath, Expr, OrderBy, Position, Projection, Returning, SelectStatement, Statement, TableRef, UpdateClause } from './ast.js';
import { SyntaxProblem, tokenize, type Token } from './lexer.js';

/** A statement DynamoDB refuses with a message of its own (no "wasn't well formed" wrapper). */
export class Rejection extends Error {}

export const MAX_NESTING = 64;

/** DynamoDB's detail for a token left after a complete statement (paritysuite's captures of AWS, October 2026). */
const LEFTOVER = 'Unexpected token after expression';

/** Words that end an expression or a clause, so they are never read as attribute names. */
const KEYWORDS = new Set([
  'select', 'from', 'where', 'and', 'or', 'not', 'in', 'is', 'between', 'like', 'missing', 'null', 'true', 'false', 'value', 'values',
  'set', 'remove', 'returning', 'insert', 'into', 'update', 'delete', 'order', 'by', 'asc', 'desc', 'exists', 'as', 'at', 'limit', 'distinct',
  'group', 'having', 'on', 'pivot', 'unpivot', 'union', 'except', 'intersect', 'join', 'case', 'when', 'then', 'else', 'end',
]);

/**
 * Every word the PartiQL lexer behind DynamoDB (partiql-lang-kotlin's LexerConstants: SQL-92's keywords and PartiQL's
 * own, RETURNING's ALL/NEW/OLD/MODIFIED among them) reads as a keyword, so a bare one is never an attribute or table
 * name: DynamoDB refuses `SELECT new FROM t` and `WHERE all = 1`; "new", "all" quoted are names like any other.
 * Words it reads as keywords only inside particular functions (YEAR, BOTH …) are not here.
 */
const RESERVED_NAMES = new Set([
  ...KEYWORDS,
  'absolute', 'action', 'add', 'all', 'allocate', 'alter', 'any', 'are', 'assertion', 'authorization', 'avg', 'begin', 'bit',
  'bit_length', 'cascade', 'cascaded', 'cast', 'catalog', 'char', 'character', 'character_length', 'char_length', 'check',
  'close', 'coalesce', 'collate', 'collation', 'column', 'commit', 'connect', 'connection', 'constraint', 'constraints',
  'continue', 'convert', 'corresponding', 'count', 'create', 'cross', 'current', 'current_date', 'current_time',
  'current_timestamp', 'current_user', 'cursor', 'date', 'deallocate', 'dec', 'decimal', 'declare', 'default', 'deferrable',
  'deferred', 'describe', 'descriptor', 'diagnostics', 'disconnect', 'domain', 'double', 'drop', 'end-exec', 'escape',
  'exception', 'exec', 'execute', 'external', 'extract', 'date_add', 'date_diff', 'fetch', 'first', 'float', 'for',
  'foreign', 'found', 'full', 'get', 'global', 'go', 'goto', 'grant', 'identity', 'immediate', 'indicator', 'initially',
  'inner', 'input', 'insensitive', 'int', 'integer', 'interval', 'isolation', 'key', 'language', 'last', 'left', 'level',
  'local', 'lower', 'match', 'max', 'min', 'module', 'names', 'national', 'natural', 'nchar', 'next', 'no', 'nullif',
  'numeric', 'octet_length', 'of', 'only', 'open', 'option', 'outer', 'output', 'overlaps', 'pad', 'partial', 'position',
  'precision', 'prepare', 'preserve', 'primary', 'prior', 'privileges', 'procedure', 'public', 'read', 'real', 'references',
  'relative', 'restrict', 'revoke', 'right', 'rollback', 'rows', 'schema', 'scroll', 'section', 'session', 'session_user',
  'size', 'smallint', 'some', 'space', 'sql', 'sqlcode', 'sqlerror', 'sqlstate', 'substring', 'sum', 'system_user', 'table',
  'temporary', 'time', 'timestamp', 'to', 'transaction', 'translate', 'translation', 'trim', 'unique', 'unknown', 'upper',
  'usage', 'user', 'using', 'varchar', 'varying', 'view', 'whenever', 'with', 'work', 'write', 'zone',
  'can_cast', 'can_lossless_cast', 'offset', 'tuple', 'index', 'let', 'integer2', 'int2', 'integer4', 'int4', 'integer8',
  'int8', 'bigint', 'conflict', 'do', 'nothing', 'modified', 'new', 'old', 'bool', 'boolean', 'string', 'symbol', 'clob',
  'blob', 'struct', 'list', 'sexp', 'bag',
]);

/** IS operand types DynamoDB supports, by the names PartiQL spells them. */
const IS_TYPES: Record<string, string> = {
  missing: 'MISSING', null: 'NULL', boolean: 'BOOLEAN', bool: 'BOOLEAN', string: 'STRING', numeric: 'NUMERIC', blob: 'BLOB',
  struct: 'STRUCT', tuple: 'TUPLE', list: 'LIST',
};

export interface ParsedStatement {
  statement: Statement;
  /** The number of `?` placeholders. */
  params: number;
}

const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;

class Parser {
  private pos = 0;
  private depth = 0;
  params = 0;

  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private isWord(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.text.toLowerCase() === word;
  }

  private isPunct(p: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'punct' && t.text === p;
  }

  private acceptWord(word: string): boolean {
    if (!this.isWord(word)) return false;
    this.pos++;
    return true;
  }

  private acceptPunct(p: string): boolean {
    if (!this.isPunct(p)) return false;
    this.pos++;
    return true;
  }

  private unexpected(t: Token = this.peek()): SyntaxProblem {
    if (t.kind === 'eof') return new SyntaxProblem('Unexpected end of statement');
    const shown = t.kind === 'string' ? `'${t.text}'` : t.kind === 'qident' ? `"${t.text}"` : t.text;
    return new SyntaxProblem(`Unexpected ${t.kind === 'ident' && RESERVED_NAMES.has(t.text.toLowerCase()) ? 'keyword' : 'token'}: ${shown} at ${t.line}:${t.col}`);
  }

  private expectWord(word: string): void {
    if (!this.acceptWord(word)) throw this.unexpected();
  }

  private expectPunct(p: string): void {
    if (!this.acceptPunct(p)) throw this.unexpected();
  }

  private nest<T>(fn: () => T): T {
    if (++this.depth > MAX_NESTING) throw new SyntaxProblem('Statement is nested too deeply');
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  // ------------------------------------------------------------------ statements

  statement(): Statement {
    const first = this.peek();
    let s: Statement;
    if (this.isWord('select')) s = this.select();
    else if (this.isWord('insert')) s = this.insert();
    else if (this.isWord('update')) s = this.update();
    else if (this.isWord('delete')) s = this.delete();
    else if (this.isWord('exists') && this.isPunct('(', 1)) {
      this.pos += 2;
      if (!this.isWord('select')) throw this.unexpected();
      const select = this.select();
      this.expectPunct(')');
      s = { k: 'exists', select };
    } else {
      if (first.kind === 'eof') throw new SyntaxProblem('Unexpected end of statement');
      throw new SyntaxProblem('Expected data manipulation');
    }
    this.acceptPunct(';');
    if (this.peek().kind !== 'eof') {
      if (this.isWord('select') || this.isWord('insert') || this.isWord('update') || this.isWord('delete')) {
        throw new Rejection('Only one operation is allowed in a statement.');
      }
      throw new SyntaxProblem(LEFTOVER);
    }
    return s;
  }

  private select(): SelectStatement {
    this.expectWord('select');
    if (this.isWord('distinct')) throw new Rejection('Unsupported token in expression: DISTINCT');
    if (this.isWord('value') || this.isWord('pivot')) throw new Rejection("Select projection doesn't support value or pivot keywords");
    const projection = this.projection();
    this.expectWord('from');
    const from = this.tableRef();
    const out: SelectStatement = { k: 'select', projection, from };
    if (this.acceptWord('where')) out.where = this.expr();
    if (this.isWord('order')) {
      this.pos++;
      this.expectWord('by');
      const orderBy: OrderBy[] = [];
      do {
        const path = this.path();
        let descending = false;
        if (this.acceptWord('desc')) descending = true;
        else this.acceptWord('asc');
        orderBy.push({ path, descending });
      } while (this.acceptPunct(','));
      out.orderBy = orderBy;
    }
    for (const clause of ['group', 'having', 'limit', 'offset']) {
      if (this.isWord(clause)) throw new Rejection(`Unsupported clause: ${clause === 'group' ? 'GROUP BY' : clause.toUpperCase()}`);
    }
    return out;
  }

  private projection(): Projection {
    if (this.acceptPunct('*')) {
      if (this.isPunct(',')) throw new Rejection("Other attributes should not be present in the projection when '*' is used.");
      return '*';
    }
    const paths: DocPath[] = [];
    do {
      const t = this.peek();
      if (t.kind === 'ident' && this.isPunct('(', 1)) {
        // Aggregates and other calls are not served; DynamoDB reports where the name sat.
        throw new Rejection(`Unexpected path component at ${t.line}:${t.col}:${t.length}`);
      }
      if (this.isPunct('*')) throw new Rejection("Other attributes should not be present in the projection when '*' is used.");
      paths.push(this.path());
      if (this.isWord('as')) throw new Rejection('Aliasing is not supported');
    } while (this.acceptPunct(','));
    return paths;
  }

  /** The table a statement names; a word after it is an alias (refused), in an INSERT a leftover token, as DynamoDB reads them. */
  private tableRef(inInsert = false): TableRef {
    const t = this.next();
    if (t.kind !== 'qident' && (t.kind !== 'ident' || RESERVED_NAMES.has(t.text.toLowerCase()))) throw this.unexpected(t);
    const ref: TableRef = { table: t.text, at: { line: t.line, col: t.col, length: t.length } };
    if (this.acceptPunct('.')) {
      const i = this.next();
      if (i.kind !== 'qident' && i.kind !== 'ident') throw new Rejection('Invalid path dot component in this operation, expecting either an IDENTIFIER or STAR.');
      ref.index = i.text;
      ref.at = { line: t.line, col: t.col, length: i.offset + i.length - t.offset };
      if (this.isPunct('.') || this.isPunct('[')) throw new Rejection('A path may contain at most 2 components in the FROM clause');
    } else if (this.isPunct('[')) {
      throw new Rejection('A path may contain at most 2 components in the FROM clause');
    }
    if (!TABLE_NAME.test(ref.table) || (ref.index !== undefined && !TABLE_NAME.test(ref.index))) {
      throw new Rejection("Table name should be within the length [3, 255] and only contain 'a-z', 'A-Z', '0-9', '-', '_', '.'.");
    }
    const alias = this.peek();
    if (this.isWord('as') || alias.kind === 'qident' || (alias.kind === 'ident' && !KEYWORDS.has(alias.text.toLowerCase()))) {
      if (inInsert) throw new SyntaxProblem(LEFTOVER);
      throw new Rejection('Aliasing is not supported');
    }
    return ref;
  }

  private insert(): Statement {
    this.expectWord('insert');
    this.expectWord('into');
    const into = this.tableRef(true);
    if (into.index !== undefined) {
      throw new Rejection(`FROM clause may only contain a single table name in data manipulation statements at ${into.at.line}:${into.at.col}:${into.at.length}`);
    }
    if (this.isWord('values') || this.isPunct('<<')) {
      throw new Rejection('Unsupported operation: Inserting multiple items in a single statement is not supported, use "INSERT INTO tableName VALUE item" instead');
    }
    this.expectWord('value');
    const value = this.expr();
    if (this.isWord('at')) throw new Rejection('AT is not supported in insert statements.');
    if (this.isWord('on')) throw new Rejection('Unsupported clause: ON CONFLICT');
    if (this.isWord('returning')) throw new Rejection('RETURNING is not supported in INSERT');
    if (this.isWord('from') || this.isWord('where')) throw new Rejection('Unsupported FROM ... WHERE ... clause in INSERT statement.');
    return { k: 'insert', into, value };
  }

  private update(): Statement {
    this.expectWord('update');
    const target = this.tableRef();
    const clauses: UpdateClause[] = [];
    for (;;) {
      if (this.acceptWord('set')) {
        do {
          const path = this.path();
          this.expectPunct('=');
          clauses.push({ k: 'set', path, value: this.expr() });
        } while (this.acceptPunct(','));
      } else if (this.acceptWord('remove')) {
        do clauses.push({ k: 'remove', path: this.path() });
        while (this.acceptPunct(','));
      } else break;
    }
    if (clauses.length === 0) throw this.unexpected();
    const out: Statement = { k: 'update', target, clauses };
    if (this.acceptWord('where')) out.where = this.expr();
    const returning = this.returning();
    if (returning) out.returning = returning;
    return out;
  }

  private delete(): Statement {
    this.expectWord('delete');
    this.expectWord('from');
    const from = this.tableRef();
    const out: Statement = { k: 'delete', from };
    if (this.acceptWord('where')) out.where = this.expr();
    const returning = this.returning();
    if (returning) out.returning = returning;
    return out;
  }

  private returning(): Returning | undefined {
    if (!this.acceptWord('returning')) return undefined;
    let which: 'ALL' | 'MODIFIED';
    if (this.acceptWord('all')) which = 'ALL';
    else if (this.acceptWord('modified')) which = 'MODIFIED';
    else throw this.unexpected();
    let age: 'OLD' | 'NEW';
    if (this.acceptWord('old')) age = 'OLD';
    else if (this.acceptWord('new')) age = 'NEW';
    else throw this.unexpected();
    if (!this.acceptPunct('*')) throw new Rejection("Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause");
    if (this.isPunct(',')) throw new Rejection('Invalid syntax with multiple returning elements in RETURNING clause');
    return `${which} ${age}`;
  }

  // ------------------------------------------------------------------ paths

  /** attr, "attr", attr.child, attr[0], attr['key'] … */
  private path(): DocPath {
    const t = this.next();
    if (t.kind !== 'qident' && (t.kind !== 'ident' || RESERVED_NAMES.has(t.text.toLowerCase()))) throw this.unexpected(t);
    const path: DocPath = [t.text];
    this.pathSteps(path);
    return path;
  }

  private pathSteps(path: DocPath): void {
    for (;;) {
      if (this.isPunct('.')) {
        this.pos++;
        const n = this.next();
        if (n.kind === 'punct' && n.text === '*') throw new Rejection('Unpivot path component like a.*.b are not supported');
        if (n.kind !== 'ident' && n.kind !== 'qident') throw this.unexpected(n);
        if (n.text === '') throw new Rejection('Path component cannot be an empty string');
        path.push(n.text);
      } else if (this.isPunct('[')) {
        this.pos++;
        const n = this.next();
        if (n.kind === 'number' && /^\d+$/.test(n.text)) path.push(Number(n.text));
        else if (n.kind === 'string') {
          if (n.text === '') throw new Rejection('Path component cannot be an empty string');
          path.push(n.text);
        } else if (n.kind === 'punct' && n.text === '*') throw new Rejection('Wildcard path component like a[*].b are not supported');
        else throw this.unexpected(n);
        this.expectPunct(']');
      } else return;
    }
  }

  // ------------------------------------------------------------------ expressions

  expr(): Expr {
    return this.nest(() => {
      let l = this.andExpr();
      while (this.acceptWord('or')) l = { k: 'or', l, r: this.andExpr() };
      return l;
    });
  }

  private andExpr(): Expr {
    let l = this.notExpr();
    while (this.acceptWord('and')) l = { k: 'and', l, r: this.notExpr() };
    return l;
  }

  private notExpr(): Expr {
    if (this.acceptWord('not')) return this.nest(() => ({ k: 'not', e: this.notExpr() }));
    return this.predicate();
  }

  private predicate(): Expr {
    const l = this.additive();
    const t = this.peek();
    if (t.kind === 'punct' && ['=', '<>', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      this.pos++;
      const op = (t.text === '!=' ? '<>' : t.text) as CmpOp;
      return { k: 'cmp', op, l, r: this.additive() };
    }
    if (this.acceptWord('is')) {
      const negated = this.acceptWord('not');
      const tt = this.next();
      if (tt.kind !== 'ident') throw this.unexpected(tt);
      const type = IS_TYPES[tt.text.toLowerCase()];
      if (!type) {
        throw new Rejection(`Unsupported data type for IS operator: ${tt.text.toUpperCase()}. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]`);
      }
      return { k: 'is', e: l, type, negated };
    }
    const negated = this.isWord('not') && (this.isWord('in', 1) || this.isWord('between', 1) || this.isWord('like', 1));
    if (negated) this.pos++;
    let out: Expr | undefined;
    if (this.acceptWord('in')) {
      if (this.acceptPunct('(')) {
        const list: Expr[] = [];
        if (!this.isPunct(')')) {
          do list.push(this.expr());
          while (this.acceptPunct(','));
        }
        this.expectPunct(')');
        out = { k: 'in', v: l, list };
      } else out = { k: 'in', v: l, list: this.additive() };
    } else if (this.acceptWord('between')) {
      const lo = this.additive();
      this.expectWord('and');
      out = { k: 'between', v: l, lo, hi: this.additive() };
    } else if (this.isWord('like')) {
      throw new Rejection('Unsupported operator in Condition Expression. Operator: like');
    }
    if (out) return negated ? { k: 'not', e: out } : out;
    return l;
  }

  private additive(): Expr {
    let l = this.multiplicative();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'punct' && (t.text === '+' || t.text === '-' || t.text === '||')) {
        this.pos++;
        l = { k: 'arith', op: t.text as ArithOp, l, r: this.multiplicative() };
      } else return l;
    }
  }

  private multiplicative(): Expr {
    let l = this.unary();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'punct' && (t.text === '*' || t.text === '/' || t.text === '%')) {
        this.pos++;
        l = { k: 'arith', op: t.text as ArithOp, l, r: this.unary() };
      } else return l;
    }
  }

  private unary(): Expr {
    if (this.acceptPunct('-')) {
      const n = this.peek();
      if (n.kind === 'number') {
        this.pos++;
        return { k: 'number', text: `-${n.text}` };
      }
      return this.nest(() => ({ k: 'neg', e: this.unary() }));
    }
    if (this.acceptPunct('+')) return this.unary();
    return this.primary();
  }

  private primary(): Expr {
    const t = this.peek();
    switch (t.kind) {
      case 'string':
        this.pos++;
        return { k: 'string', value: t.text };
      case 'number':
        this.pos++;
        return { k: 'number', text: t.text };
      case 'param':
        this.pos++;
        return { k: 'param', index: this.params++ };
      case 'ion':
        this.pos++;
        return { k: 'ion', text: t.text };
      case 'qident':
        return { k: 'path', path: this.path() };
      case 'punct':
        return this.nest(() => this.bracketed(t));
      case 'ident': {
        const word = t.text.toLowerCase();
        if (word === 'true' || word === 'false') {
          this.pos++;
          return { k: 'bool', value: word === 'true' };
        }
        if (word === 'null') {
          this.pos++;
          return { k: 'null' };
        }
        if (word === 'missing') {
          this.pos++;
          return { k: 'missing' };
        }
        if (this.isPunct('(', 1) && !KEYWORDS.has(word)) {
          this.pos += 2;
          const args: Expr[] = [];
          if (!this.isPunct(')')) {
            do args.push(this.nest(() => this.expr()));
            while (this.acceptPunct(','));
          }
          this.expectPunct(')');
          return { k: 'call', name: word, args };
        }
        if (KEYWORDS.has(word)) throw this.unexpected(t);
        return { k: 'path', path: this.path() };
      }
      default:
        throw this.unexpected(t);
    }
  }

  private bracketed(t: Token): Expr {
    if (this.acceptPunct('(')) {
      const e = this.expr();
      this.expectPunct(')');
      return e;
    }
    if (this.acceptPunct('[')) {
      const items = this.items(']');
      return { k: 'list', items };
    }
    if (this.acceptPunct('<<')) {
      const items = this.items('>>');
      return { k: 'bag', items };
    }
    if (this.acceptPunct('{')) {
      const fields: { key: Expr; value: Expr }[] = [];
      if (!this.isPunct('}')) {
        do {
          const key = this.expr();
          this.expectPunct(':');
          fields.push({ key, value: this.expr() });
        } while (this.acceptPunct(','));
      }
      this.expectPunct('}');
      return { k: 'struct', fields };
    }
    throw this.unexpected(t);
  }

  private items(close: string): Expr[] {
    const items: Expr[] = [];
    if (!this.isPunct(close)) {
      do items.push(this.expr());
      while (this.acceptPunct(','));
    }
    this.expectPunct(close);
    return items;
  }
}

/** Parses one statement. Throws SyntaxProblem or Rejection. */
export function parseStatement(src: string): ParsedStatement {
  const p = new Parser(tokenize(src));
  const statement = p.statement();
  return { statement, params: p.params };
}

export type { Position };
