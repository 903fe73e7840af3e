/**
 * @module services/dynamodb/expressions/parser
 * Recursive-descent parsers for DynamoDB's ConditionExpression / FilterExpression /
 * KeyConditionExpression, UpdateExpression and ProjectionExpression.
 *
 * Parsing happens in two steps, as DynamoDB reports errors in two classes: a syntax error stops at once
 * (quoting the offending token and the text near it), while semantic problems (reserved words, undefined
 * placeholders, misused functions, overlapping paths …) are collected during the walk and the one with
 * the highest priority is reported, so a request with several problems gets the message AWS gives.
 *
 * Conditions are parsed with a single grammar for operands and conditions (a parenthesis may open
 * either), and the tree is then checked for the right kind in each position; this avoids backtracking,
 * so parsing is linear in the expression length.
 */
import { validationError, type ServiceError } from '../../../core/errors.js';
import { type AttributeValue, typeOf, compareScalars } from '../attributes.js';
import type { CmpOp, Condition, Operand, Path, SetValue, UpdateAction } from './ast.js';
import { pathToString } from './ast.js';
import { tokenize, type Token } from './lexer.js';
import { isReservedWord } from './reserved.js';

/** Limits from the DynamoDB developer guide ("Expression parameters"). */
export const MAX_EXPRESSION_BYTES = 4096;
export const MAX_OPERATORS = 300;
export const MAX_IN_OPERANDS = 100;
export const MAX_PATH_DEPTH = 32;

/** Placeholder maps of a request, and which entries the request's expressions used. */
export interface ExpressionContext {
  names: Record<string, string> | undefined;
  values: Record<string, AttributeValue> | undefined;
  usedNames: Set<string>;
  usedValues: Set<string>;
}

export function newContext(names?: Record<string, string>, values?: Record<string, AttributeValue>): ExpressionContext {
  return { names, values, usedNames: new Set(), usedValues: new Set() };
}

export type ExpressionLabel = 'ConditionExpression' | 'FilterExpression' | 'KeyConditionExpression' | 'UpdateExpression' | 'ProjectionExpression';

// Semantic error classes, in the order DynamoDB reports them when several are present.
const CONDITION_ERROR_ORDER = ['parens', 'unknownFunction', 'misused', 'reserved', 'placeholder', 'depth', 'operand', 'distinct', 'function', 'limit'] as const;
/** The problems DynamoDB settles comparison by comparison, in its priority order (see Parser.comparisonError). */
const COMPARISON_ERRORS = ['placeholder', 'operand', 'distinct', 'function'] as const;
const UPDATE_ERROR_ORDER = ['reserved', 'unknownFunction', 'section', 'placeholder', 'depth', 'overlap', 'conflict', 'operand', 'function', 'limit'] as const;
type ErrorClass = (typeof CONDITION_ERROR_ORDER)[number] | (typeof UPDATE_ERROR_ORDER)[number];

/** Intermediate parse node: operands and conditions share one grammar until checked. */
type Node = (
  | { t: 'path'; path: Path }
  | { t: 'value'; value: AttributeValue | undefined; name: string }
  | { t: 'call'; fn: string; args: Node[] }
  | { t: 'cmp'; op: CmpOp; l: Node; r: Node }
  | { t: 'between'; v: Node; lo: Node; hi: Node }
  | { t: 'in'; v: Node; list: Node[] }
  | { t: 'and' | 'or'; l: Node; r: Node }
  | { t: 'not'; c: Node }
  | { t: 'plus' | 'minus'; l: Node; r: Node }
) & { parens: number; end: number };

const BOOLEAN_FUNCTIONS: Record<string, number> = {
  attribute_exists: 1,
  attribute_not_exists: 1,
  attribute_type: 2,
  begins_with: 2,
  contains: 2,
};
const CONDITION_KEYWORDS = new Set(['AND', 'OR', 'NOT', 'BETWEEN', 'IN']);
const UPDATE_KEYWORDS = new Set(['SET', 'REMOVE', 'ADD', 'DELETE']);
const VALID_TYPE_NAMES = ['S', 'N', 'B', 'NULL', 'SS', 'BOOL', 'L', 'BS', 'NS', 'M'];
const ARITH_TYPE_NAMES: Record<string, string> = { S: 'STRING', N: 'NUMBER', B: 'BINARY', NULL: 'NULL', BOOL: 'BOOLEAN', L: 'LIST', M: 'MAP' };

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private readonly errors = new Map<ErrorClass, string>();
  private operators = 0;
  /** Where the first undefined placeholder was met (token index), to tell which comparison it belongs to. */
  private placeholderPos: number | undefined;
  /**
   * DynamoDB settles a condition's placeholder, operand, distinctness and function problems comparison by comparison:
   * the first comparison (left to right) with any of them reports its own, by that priority, whatever later ones hold.
   */
  private comparisonError: ErrorClass | undefined;

  constructor(
    private readonly src: string,
    private readonly label: ExpressionLabel,
    private readonly ctx: ExpressionContext,
  ) {
    this.tokens = tokenize(src);
  }

  fail(message: string): ServiceError {
    return validationError(`Invalid ${this.label}: ${message}`);
  }

  note(cls: ErrorClass, message: string): void {
    if (!this.errors.has(cls)) this.errors.set(cls, message);
  }

  /** Throws the highest-priority semantic error, if any was noted. */
  finish(order: readonly ErrorClass[]): void {
    if (this.operators > MAX_OPERATORS) {
      this.note('limit', `The expression contains too many operators; operator count: ${this.operators}`);
    }
    for (const cls of order) {
      const settled = this.comparisonError !== undefined && (COMPARISON_ERRORS as readonly string[]).includes(cls) ? this.comparisonError : cls;
      const msg = this.errors.get(settled);
      if (msg) throw this.fail(msg);
    }
  }

  /** After one comparison (or function call) of a condition: settles the condition's error if it is the first with one. */
  comparisonDone(n: Node): void {
    if (this.comparisonError !== undefined) return;
    for (const cls of COMPARISON_ERRORS) {
      const mine = cls === 'placeholder' ? this.placeholderPos !== undefined && this.placeholderPos <= n.end : this.errors.has(cls);
      if (mine) {
        this.comparisonError = cls;
        return;
      }
    }
  }

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  next(): Token {
    const t = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  syntaxAt(index: number): ServiceError {
    const tok = this.tokens[Math.min(index, this.tokens.length - 1)]!;
    const prev = index > 0 ? this.tokens[index - 1] : undefined;
    let near: string;
    if (!prev) near = tok.kind === 'eof' ? '' : tok.text;
    else if (tok.kind === 'eof') near = this.src.slice(prev.start, prev.end);
    else near = this.src.slice(prev.start, tok.end);
    return this.fail(`Syntax error; token: "${tok.text}", near: "${near}"`);
  }

  syntax(): ServiceError {
    return this.syntaxAt(this.pos);
  }

  expect(kind: Token['kind']): Token {
    if (this.peek().kind !== kind) throw this.syntax();
    return this.next();
  }

  isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'ident' && t.text.toUpperCase() === word;
  }

  // ---- paths and placeholders ----

  resolveName(tok: Token): string {
    const real = this.ctx.names?.[tok.text];
    if (real === undefined) {
      this.note('placeholder', `An expression attribute name used in the document path is not defined; attribute name: ${tok.text}`);
      this.placeholderPos ??= this.pos;
      return tok.text;
    }
    this.ctx.usedNames.add(tok.text);
    return real;
  }

  resolveValue(tok: Token): AttributeValue | undefined {
    const v = this.ctx.values?.[tok.text];
    if (v === undefined) {
      this.note('placeholder', `An expression attribute value used in expression is not defined; attribute value: ${tok.text}`);
      this.placeholderPos ??= this.pos;
      return undefined;
    }
    this.ctx.usedValues.add(tok.text);
    return v;
  }

  pathElement(tok: Token, keywords: Set<string>): string {
    if (tok.kind === 'name') return this.resolveName(tok);
    if (tok.kind === 'ident') {
      if (keywords.has(tok.text.toUpperCase())) throw this.syntaxAt(this.pos - 1);
      if (isReservedWord(tok.text)) this.note('reserved', `Attribute name is a reserved keyword; reserved keyword: ${tok.text}`);
      return tok.text;
    }
    throw this.syntaxAt(this.pos - 1);
  }

  parsePath(keywords: Set<string>): Path {
    return this.pathSteps([this.pathElement(this.next(), keywords)]);
  }

  /** Extends path with the `.name` and `[n]` steps that follow (a condition's parenthesized path may take more). */
  pathSteps(path: Path): Path {
    // Bounded by the token count: each step consumes tokens.
    for (;;) {
      const t = this.peek();
      if (t.kind === '.') {
        this.next();
        const el = this.next();
        if (el.kind !== 'ident' && el.kind !== 'name') throw this.syntaxAt(this.pos - 1);
        path.push(this.pathElement(el, new Set()));
      } else if (t.kind === '[') {
        this.next();
        const num = this.next();
        if (num.kind !== 'number') throw this.syntaxAt(this.pos - 1);
        this.expect(']');
        path.push(Number.parseInt(num.text, 10));
      } else break;
    }
    if (path.length > MAX_PATH_DEPTH) {
      this.note('depth', `The document path has too many nesting levels; nesting levels: ${path.length}`);
    }
    return path;
  }

  // ---- conditions ----

  parseOr(): Node {
    let l = this.parseAnd();
    while (this.isKeyword('OR')) {
      this.next();
      this.operators++;
      const r = this.parseAnd();
      l = { t: 'or', l, r, parens: 0, end: this.pos };
    }
    return l;
  }

  parseAnd(): Node {
    let l = this.parseNot();
    while (this.isKeyword('AND')) {
      this.next();
      this.operators++;
      const r = this.parseNot();
      l = { t: 'and', l, r, parens: 0, end: this.pos };
    }
    return l;
  }

  parseNot(): Node {
    if (this.isKeyword('NOT')) {
      this.next();
      this.operators++;
      const c = this.parseNot();
      return { t: 'not', c, parens: 0, end: this.pos };
    }
    return this.parseComparison();
  }

  parseComparison(): Node {
    const a = this.parseAtom();
    const t = this.peek();
    switch (t.kind) {
      case '=': case '<>': case '<': case '<=': case '>': case '>=': {
        this.next();
        this.operators++;
        const b = this.parseAtom();
        return { t: 'cmp', op: t.kind, l: a, r: b, parens: 0, end: this.pos };
      }
    }
    if (this.isKeyword('BETWEEN')) {
      this.next();
      this.operators++;
      const lo = this.parseAtom();
      if (!this.isKeyword('AND')) throw this.syntax();
      this.next();
      const hi = this.parseAtom();
      return { t: 'between', v: a, lo, hi, parens: 0, end: this.pos };
    }
    if (this.isKeyword('IN')) {
      this.next();
      this.operators++;
      this.expect('(');
      const list = [this.parseAtom()];
      // Bounded by the token count.
      while (this.peek().kind === ',') {
        this.next();
        list.push(this.parseAtom());
      }
      this.expect(')');
      return { t: 'in', v: a, list, parens: 0, end: this.pos };
    }
    return a;
  }

  parseAtom(): Node {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const inner = this.parseOr();
      this.expect(')');
      if (inner.parens > 0) this.note('parens', 'The expression has redundant parentheses;');
      // A parenthesized path goes on as a path: DynamoDB reads `(b.c).d` as b.c.d.
      const next = this.peek().kind;
      if (inner.t === 'path' && (next === '.' || next === '[')) {
        return { t: 'path', path: this.pathSteps([...inner.path]), parens: 0, end: this.pos };
      }
      inner.parens++;
      inner.end = this.pos;
      return inner;
    }
    if (t.kind === 'ident' && this.peek(1).kind === '(') {
      this.next();
      this.next();
      this.operators++;
      const args: Node[] = [];
      if (this.peek().kind !== ')') {
        args.push(this.parseOr());
        while (this.peek().kind === ',') {
          this.next();
          args.push(this.parseOr());
        }
      }
      this.expect(')');
      return { t: 'call', fn: t.text, args, parens: 0, end: this.pos };
    }
    if (t.kind === 'ident' || t.kind === 'name') {
      const path = this.parsePath(CONDITION_KEYWORDS);
      return { t: 'path', path, parens: 0, end: this.pos };
    }
    if (t.kind === 'value') {
      this.next();
      return { t: 'value', value: this.resolveValue(t), name: t.text, parens: 0, end: this.pos };
    }
    throw this.syntax();
  }

  isConditionNode(n: Node): boolean {
    switch (n.t) {
      case 'cmp': case 'between': case 'in': case 'and': case 'or': case 'not':
        return true;
      case 'call':
        return n.fn !== 'size';
      default:
        return false;
    }
  }

  toCondition(n: Node): Condition {
    const c = this.conditionOf(n);
    if (n.t === 'cmp' || n.t === 'between' || n.t === 'in' || n.t === 'call') this.comparisonDone(n);
    return c;
  }

  conditionOf(n: Node): Condition {
    switch (n.t) {
      case 'and':
      case 'or':
        return { k: n.t, l: this.toCondition(n.l), r: this.toCondition(n.r) };
      case 'not':
        return { k: 'not', c: this.toCondition(n.c) };
      case 'cmp': {
        const l = this.toOperand(n.l);
        const r = this.toOperand(n.r);
        this.checkDistinct(n.op, n.l, n.r);
        return { k: 'cmp', op: n.op, l, r };
      }
      case 'between': {
        const v = this.toOperand(n.v);
        const lo = this.toOperand(n.lo);
        const hi = this.toOperand(n.hi);
        if (lo.k === 'value' && hi.k === 'value') this.checkBetweenBounds(lo.value, hi.value);
        return { k: 'between', v, lo, hi };
      }
      case 'in': {
        const v = this.toOperand(n.v);
        const list = n.list.map((x) => this.toOperand(x));
        if (list.length > MAX_IN_OPERANDS) {
          this.note('limit', `The IN operator is provided with too many operands; number of operands: ${list.length}`);
        }
        return { k: 'in', v, list };
      }
      case 'call':
        return this.booleanCall(n);
      default:
        // An operand where a condition belongs: DynamoDB reports the token that follows it.
        throw this.syntaxAt(n.end);
    }
  }

  booleanCall(n: Node & { t: 'call' }): Condition {
    const arity = BOOLEAN_FUNCTIONS[n.fn];
    if (n.fn === 'size') {
      this.note('misused', 'The function is not allowed to be used this way in an expression; function: size');
      return { k: 'true' };
    }
    if (arity === undefined) {
      this.note('unknownFunction', `Invalid function name; function: ${n.fn}`);
      return { k: 'true' };
    }
    const args = n.args.map((a) => this.toOperand(a));
    if (args.length !== arity) {
      this.note('operand', `Incorrect number of operands for operator or function; operator or function: ${n.fn}, number of operands: ${args.length}`);
      return { k: 'true' };
    }
    if (arity === 2) this.checkDistinct(n.fn, n.args[0]!, n.args[1]!);
    switch (n.fn) {
      case 'attribute_exists':
      case 'attribute_not_exists': {
        const a = args[0]!;
        if (a.k !== 'path') {
          this.note('function', `Operator or function requires a document path; operator or function: ${n.fn}`);
          return { k: 'true' };
        }
        return { k: n.fn === 'attribute_exists' ? 'exists' : 'not_exists', path: a.path };
      }
      case 'attribute_type': {
        const [a, t] = args as [Operand, Operand];
        if (a.k !== 'path') {
          this.note('function', `Operator or function requires a document path; operator or function: ${n.fn}`);
          return { k: 'true' };
        }
        const ty = t.k === 'value' ? typeOf(t.value) : undefined;
        if (t.k !== 'value' || ty !== 'S') {
          this.note('function', `Incorrect operand type for operator or function; operator or function: attribute_type, operand type: ${ty ?? (t.k === 'size' ? 'N' : '{NS,SS,L,BS,N,M,B,BOOL,NULL,S}')}`);
        } else if (!VALID_TYPE_NAMES.includes(t.value.S!)) {
          this.note('function', `Invalid attribute type name found; type: ${t.value.S}, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}`);
        }
        return { k: 'type', path: a.path, type: t };
      }
      case 'begins_with': {
        for (const a of args) {
          const ty = a.k === 'value' ? typeOf(a.value) : a.k === 'size' ? 'N' : undefined;
          if (ty && ty !== 'S' && ty !== 'B') {
            this.note('function', `Incorrect operand type for operator or function; operator or function: begins_with, operand type: ${ty}`);
          }
        }
        return { k: 'begins_with', v: args[0]!, prefix: args[1]! };
      }
      default:
        return { k: 'contains', v: args[0]!, needle: args[1]! };
    }
  }

  toOperand(n: Node): Operand {
    switch (n.t) {
      case 'path':
        return { k: 'path', path: n.path };
      case 'value':
        // An undefined placeholder was already noted; NULL keeps the tree well-formed until then.
        return { k: 'value', value: n.value ?? { NULL: true } };
      case 'call': {
        if (n.fn !== 'size') {
          if (BOOLEAN_FUNCTIONS[n.fn] === undefined) this.note('unknownFunction', `Invalid function name; function: ${n.fn}`);
          else this.note('misused', `The function is not allowed to be used this way in an expression; function: ${n.fn}`);
          return { k: 'value', value: { NULL: true } };
        }
        const args = n.args.map((a) => this.toOperand(a));
        if (args.length !== 1) {
          this.note('operand', `Incorrect number of operands for operator or function; operator or function: size, number of operands: ${args.length}`);
          return { k: 'value', value: { NULL: true } };
        }
        const a = args[0]!;
        const ty = a.k === 'value' ? typeOf(a.value) : a.k === 'size' ? 'N' : undefined;
        if (ty === 'N' || ty === 'BOOL' || ty === 'NULL') {
          this.note('function', `Incorrect operand type for operator or function; operator or function: size, operand type: ${ty}`);
        }
        return { k: 'size', arg: a };
      }
      default:
        throw this.syntaxAt(n.end - 1);
    }
  }

  checkDistinct(op: string, a: Node, b: Node): void {
    if (a.t !== 'path' || b.t !== 'path' || a.path.length !== b.path.length) return;
    for (let i = 0; i < a.path.length; i++) if (a.path[i] !== b.path[i]) return;
    this.note('distinct', `The first operand must be distinct from the remaining operands for this operator or function; operator: ${op}, first operand: ${pathToString(a.path)}`);
  }

  checkBetweenBounds(lo: AttributeValue, hi: AttributeValue): void {
    const tl = typeOf(lo);
    const th = typeOf(hi);
    const show = (t: string, v: AttributeValue): string => `AttributeValue: {${t}:${String((v as Record<string, unknown>)[t])}}`;
    if (tl !== th) {
      this.note('function', `The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: ${show(tl, lo)}, upper bound operand: ${show(th, hi)}`);
      return;
    }
    const c = compareScalars(lo, hi);
    if (c !== undefined && c > 0) {
      this.note('function', `The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: ${show(tl, lo)}, upper bound operand: ${show(th, hi)}`);
    }
  }

  parseConditionExpression(): Condition {
    const root = this.parseOr();
    if (this.peek().kind !== 'eof') throw this.syntax();
    if (!this.isConditionNode(root)) {
      if (root.t === 'call' && root.fn === 'size') {
        this.note('misused', 'The function is not allowed to be used this way in an expression; function: size');
        this.finish(CONDITION_ERROR_ORDER);
      }
      throw this.syntaxAt(root.end);
    }
    const cond = this.toCondition(root);
    this.finish(CONDITION_ERROR_ORDER);
    return cond;
  }

  // ---- updates ----

  parseUpdateExpression(keyAttributes: readonly string[]): UpdateAction[] {
    const actions: UpdateAction[] = [];
    const sections = new Set<string>();
    const targets: Path[] = [];
    // Each round consumes a section keyword and at least one action.
    while (this.peek().kind !== 'eof') {
      const kw = this.peek();
      const word = kw.kind === 'ident' ? kw.text.toUpperCase() : '';
      if (!UPDATE_KEYWORDS.has(word)) throw this.syntax();
      this.next();
      if (sections.has(word)) this.note('section', `The "${word}" section can only be used once in an update expression;`);
      sections.add(word);
      for (;;) {
        const action = this.parseUpdateAction(word);
        actions.push(action);
        this.checkOverlap(targets, action.path);
        targets.push(action.path);
        if (this.peek().kind !== ',') break;
        this.next();
      }
    }
    if (actions.length === 0) throw this.syntax();
    this.finish(UPDATE_ERROR_ORDER);
    for (const a of actions) {
      if (typeof a.path[0] === 'string' && keyAttributes.includes(a.path[0])) {
        throw validationError(`One or more parameter values were invalid: Cannot update attribute ${a.path[0]}. This attribute is part of the key`);
      }
    }
    return actions;
  }

  parseUpdateAction(section: string): UpdateAction {
    const t = this.peek();
    if (t.kind !== 'ident' && t.kind !== 'name') throw this.syntax();
    const path = this.parsePath(UPDATE_KEYWORDS);
    switch (section) {
      case 'SET': {
        this.expect('=');
        const value = this.toSetValue(this.parseSetValue());
        return { k: 'set', path, value };
      }
      case 'REMOVE':
        return { k: 'remove', path };
      default: {
        const vt = this.peek();
        if (vt.kind !== 'value') throw this.syntax();
        this.next();
        const value = this.resolveValue(vt) ?? { NULL: true };
        const ty = this.ctx.values?.[vt.text] ? typeOf(value) : undefined;
        if (ty && ARITH_TYPE_NAMES[ty] && !(section === 'ADD' && ty === 'N')) {
          this.note('operand', `Incorrect operand type for operator or function; operator: ${section}, operand type: ${ARITH_TYPE_NAMES[ty]}`);
        }
        return { k: section === 'ADD' ? 'add' : 'delete', path, value };
      }
    }
  }

  parseSetValue(): Node {
    const a = this.parseSetOperand();
    const t = this.peek();
    if (t.kind === '+' || t.kind === '-') {
      this.next();
      this.operators++;
      const b = this.parseSetOperand();
      return { t: t.kind === '+' ? 'plus' : 'minus', l: a, r: b, parens: 0, end: this.pos };
    }
    return a;
  }

  parseSetOperand(): Node {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const inner = this.parseSetValue();
      this.expect(')');
      inner.parens++;
      return inner;
    }
    if (t.kind === 'ident' && this.peek(1).kind === '(') {
      this.next();
      this.next();
      this.operators++;
      const args: Node[] = [this.parseSetValue()];
      while (this.peek().kind === ',') {
        this.next();
        args.push(this.parseSetValue());
      }
      this.expect(')');
      return { t: 'call', fn: t.text, args, parens: 0, end: this.pos };
    }
    if (t.kind === 'ident' || t.kind === 'name') {
      return { t: 'path', path: this.parsePath(UPDATE_KEYWORDS), parens: 0, end: this.pos };
    }
    if (t.kind === 'value') {
      this.next();
      return { t: 'value', value: this.resolveValue(t), name: t.text, parens: 0, end: this.pos };
    }
    throw this.syntax();
  }

  /** The static type of a set-value when it is known without an item (literal values and functions). */
  staticType(v: SetValue): string | undefined {
    switch (v.k) {
      case 'value':
        return typeOf(v.value);
      case 'list_append':
        return 'L';
      case 'plus':
      case 'minus':
        return 'N';
      case 'if_not_exists':
        return this.staticType(v.fallback);
      default:
        return undefined;
    }
  }

  toSetValue(n: Node): SetValue {
    switch (n.t) {
      case 'path':
        return { k: 'path', path: n.path };
      case 'value':
        return { k: 'value', value: n.value ?? { NULL: true } };
      case 'plus':
      case 'minus': {
        const a = this.toSetValue(n.l);
        const b = this.toSetValue(n.r);
        for (const x of [a, b]) {
          const ty = x.k === 'value' ? typeOf(x.value) : undefined;
          if (ty && ty !== 'N') this.note('function', `Incorrect operand type for operator or function; operator or function: ${n.t === 'plus' ? '+' : '-'}, operand type: ${ty}`);
        }
        return { k: n.t, a, b };
      }
      case 'call': {
        if (n.fn !== 'if_not_exists' && n.fn !== 'list_append') {
          this.note('unknownFunction', `Invalid function name; function: ${n.fn}`);
          return { k: 'value', value: { NULL: true } };
        }
        if (n.args.length !== 2) {
          this.note('function', `Incorrect number of operands for operator or function; operator or function: ${n.fn}, number of operands: ${n.args.length}`);
          return { k: 'value', value: { NULL: true } };
        }
        const a = this.toSetValue(n.args[0]!);
        const b = this.toSetValue(n.args[1]!);
        if (n.fn === 'if_not_exists') {
          if (a.k !== 'path') {
            this.note('function', 'Operator or function requires a document path; operator or function: if_not_exists');
            return { k: 'value', value: { NULL: true } };
          }
          return { k: 'if_not_exists', path: a.path, fallback: b };
        }
        for (const x of [a, b]) {
          const ty = x.k === 'value' ? typeOf(x.value) : undefined;
          if (ty && ty !== 'L') this.note('function', `Incorrect operand type for operator or function; operator or function: list_append, operand type: ${ty}`);
        }
        return { k: 'list_append', a, b };
      }
      default:
        throw this.syntaxAt(n.end);
    }
  }

  checkOverlap(existing: Path[], path: Path): void {
    for (const other of existing) {
      let i = 0;
      let conflict = false;
      for (; i < other.length && i < path.length; i++) {
        if (typeof other[i] !== typeof path[i]) {
          conflict = true;
          break;
        }
        if (other[i] !== path[i]) break;
      }
      if (conflict) {
        this.note('conflict', `Two document paths conflict with each other; must remove or rewrite one of these paths; path one: ${pathToString(other)}, path two: ${pathToString(path)}`);
        return;
      }
      if (i === other.length || i === path.length) {
        this.note('overlap', `Two document paths overlap with each other; must remove or rewrite one of these paths; path one: ${pathToString(other)}, path two: ${pathToString(path)}`);
        return;
      }
    }
  }

  // ---- projections ----

  parseProjectionExpression(): Path[] {
    const paths: Path[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'ident' && t.kind !== 'name') throw this.syntax();
      const path = this.parsePath(new Set());
      this.checkOverlap(paths, path);
      paths.push(path);
      if (this.peek().kind === ',') {
        this.next();
        continue;
      }
      if (this.peek().kind !== 'eof') throw this.syntax();
      break;
    }
    this.finish(['reserved', 'placeholder', 'depth', 'overlap', 'conflict']);
    return paths;
  }
}

function checkLength(src: string, label: ExpressionLabel): void {
  if (src.length === 0 || src.trim().length === 0) throw validationError(`Invalid ${label}: The expression can not be empty;`);
  const bytes = Buffer.byteLength(src, 'utf8');
  if (bytes > MAX_EXPRESSION_BYTES) {
    throw validationError(`Invalid ${label}: Expression size has exceeded the maximum allowed size; expression size: ${bytes}`);
  }
}

export function parseCondition(src: string, label: 'ConditionExpression' | 'FilterExpression' | 'KeyConditionExpression', ctx: ExpressionContext): Condition {
  checkLength(src, label);
  return new Parser(src, label, ctx).parseConditionExpression();
}

export function parseUpdate(src: string, ctx: ExpressionContext, keyAttributes: readonly string[] = []): UpdateAction[] {
  checkLength(src, 'UpdateExpression');
  return new Parser(src, 'UpdateExpression', ctx).parseUpdateExpression(keyAttributes);
}

export function parseProjection(src: string, ctx: ExpressionContext): Path[] {
  checkLength(src, 'ProjectionExpression');
  return new Parser(src, 'ProjectionExpression', ctx).parseProjectionExpression();
}

/**
 * Checks the placeholder maps themselves before any expression is parsed (must not be empty, keys
 * well-formed, values valid), as DynamoDB does.
 */
export function checkPlaceholderMaps(names: Record<string, string> | undefined, values: Record<string, AttributeValue> | undefined, validate: (v: unknown) => string | undefined): void {
  if (names !== undefined) {
    const keys = Object.keys(names);
    if (keys.length === 0) throw validationError('ExpressionAttributeNames must not be empty');
    for (const k of keys) {
      if (!isPlaceholder(k, 35)) throw validationError(`ExpressionAttributeNames contains invalid key: Syntax error; key: "${k}"`);
    }
  }
  if (values !== undefined) {
    const keys = Object.keys(values);
    if (keys.length === 0) throw validationError('ExpressionAttributeValues must not be empty');
    for (const k of keys) {
      if (!isPlaceholder(k, 58)) throw validationError(`ExpressionAttributeValues contains invalid key: Syntax error; key: "${k}"`);
    }
    for (const k of keys) {
      const msg = validate(values[k]);
      if (msg) throw validationError(`ExpressionAttributeValues contains invalid value: ${msg} for key ${k}`);
    }
  }
}

function isPlaceholder(k: string, lead: number): boolean {
  if (k.length < 2 || k.charCodeAt(0) !== lead) return false;
  for (let i = 1; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95)) return false;
  }
  return true;
}

/** After every expression of a request is parsed: placeholders defined but never used are an error. */
export function checkUnused(ctx: ExpressionContext): void {
  if (ctx.names) {
    const unused = Object.keys(ctx.names).filter((k) => !ctx.usedNames.has(k));
    if (unused.length) throw validationError(`Value provided in ExpressionAttributeNames unused in expressions: keys: {${unused.join(', ')}}`);
  }
  if (ctx.values) {
    const unused = Object.keys(ctx.values).filter((k) => !ctx.usedValues.has(k));
    if (unused.length) throw validationError(`Value provided in ExpressionAttributeValues unused in expressions: keys: {${unused.join(', ')}}`);
  }
}
