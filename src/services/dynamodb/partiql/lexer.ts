/**
 * @module services/dynamodb/partiql/lexer
 * Tokens of PartiQL for DynamoDB: identifiers (bare, or "quoted" with "" as an escaped quote), 'strings'
 * ('' escapes a quote), numbers, `?` parameters, and punctuation including the bag brackets << and >>.
 * `--` line comments and block comments are skipped. Pure: text in, tokens or a SyntaxProblem out. Each
 * token carries its line and column (1-based) and its length in source characters, because some of
 * DynamoDB's messages report where a token sat.
 */

export type TokenKind = 'ident' | 'qident' | 'string' | 'number' | 'param' | 'punct' | 'ion' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The identifier or string with quotes removed, the number's text, or the punctuation itself. */
  text: string;
  offset: number;
  line: number;
  col: number;
  length: number;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Whether DynamoDB's parser can read a number literal at all: it reads one as Java's BigDecimal does, so the exponent
 * and the scale (digits after the point less the exponent) must each fit a 32-bit integer. `1e2147483648` and
 * `1.5e-2147483647` get "Statement wasn't well formed, can't be processed: " with nothing after (paritysuite's
 * captures of AWS, October 2026).
 */
export function readableNumber(text: string): boolean {
  const e = text.search(/[eE]/);
  if (e < 0) return true;
  const exponent = Number(text.slice(e + 1));
  const point = text.indexOf('.');
  const fraction = point < 0 || point > e ? 0 : e - point - 1;
  const scale = fraction - exponent;
  return exponent >= INT32_MIN && exponent <= INT32_MAX && scale >= INT32_MIN && scale <= INT32_MAX;
}

/** A statement the lexer or parser cannot read: reported as "Statement wasn't well formed, can't be processed: <detail>". */
export class SyntaxProblem extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

const PUNCT2 = ['<<', '>>', '<>', '!=', '<=', '>=', '||'];
const PUNCT1 = '()[]{},.:;*=<>+-/%';

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '$';
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const advanceTo = (end: number): void => {
    for (let j = i; j < end; j++) {
      if (src[j] === '\n') {
        line++;
        lineStart = j + 1;
      }
    }
    i = end;
  };
  const push = (kind: TokenKind, text: string, start: number, startLine: number, startCol: number): void => {
    out.push({ kind, text, offset: start, line: startLine, col: startCol, length: i - start });
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      advanceTo(i + 1);
      continue;
    }
    if (c === '-' && src[i + 1] === '-') {
      const end = src.indexOf('\n', i);
      advanceTo(end < 0 ? src.length : end);
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxProblem(''); // DynamoDB says nothing more (paritysuite's AWS captures)
      advanceTo(end + 2);
      continue;
    }
    const start = i;
    const startLine = line;
    const startCol = i - lineStart + 1;
    if (c === "'" || c === '"') {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new SyntaxProblem(c === "'" ? 'Unterminated string literal' : 'Unterminated quoted identifier');
        const d = src[j]!;
        if (d === c) {
          if (src[j + 1] === c) {
            text += c;
            j += 2;
            continue;
          }
          break;
        }
        text += d;
        j++;
      }
      advanceTo(j + 1);
      push(c === "'" ? 'string' : 'qident', text, start, startLine, startCol);
      continue;
    }
    if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) throw new SyntaxProblem('Unterminated Ion literal');
      advanceTo(end + 1);
      push('ion', src.slice(start + 1, end), start, startLine, startCol);
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(src[i + 1]))) {
      let j = i;
      while (isDigit(src[j])) j++;
      if (src[j] === '.') {
        j++;
        while (isDigit(src[j])) j++;
      }
      if ((src[j] === 'e' || src[j] === 'E') && (isDigit(src[j + 1]) || ((src[j + 1] === '+' || src[j + 1] === '-') && isDigit(src[j + 2])))) {
        j += 2;
        while (isDigit(src[j])) j++;
      }
      if (j < src.length && isIdentStart(src[j]!)) throw new SyntaxProblem(`Invalid number literal: ${src.slice(i, j + 1)}`);
      if (!readableNumber(src.slice(start, j))) throw new SyntaxProblem('');
      advanceTo(j);
      push('number', src.slice(start, j), start, startLine, startCol);
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < src.length && isIdentPart(src[j]!)) j++;
      advanceTo(j);
      push('ident', src.slice(start, j), start, startLine, startCol);
      continue;
    }
    if (c === '?') {
      advanceTo(i + 1);
      push('param', '?', start, startLine, startCol);
      continue;
    }
    const two = src.slice(i, i + 2);
    if (PUNCT2.includes(two)) {
      advanceTo(i + 2);
      push('punct', two, start, startLine, startCol);
      continue;
    }
    if (PUNCT1.includes(c)) {
      advanceTo(i + 1);
      push('punct', c, start, startLine, startCol);
      continue;
    }
    // A character no token starts with (`#`, say): DynamoDB says nothing after the colon (paritysuite's AWS captures).
    throw new SyntaxProblem('');
  }
  out.push({ kind: 'eof', text: '', offset: src.length, line, col: src.length - lineStart + 1, length: 0 });
  return out;
}
