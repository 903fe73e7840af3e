/**
 * @module services/dynamodb/expressions/lexer
 * Tokens of DynamoDB's expression language (condition, filter, key condition, update, projection).
 * Hand-written: one pass over the text, each token remembering where it starts and ends so syntax
 * errors can quote the text "near" the failure the way DynamoDB does.
 */

export type TokenKind =
  | 'ident' // attr, size, AND, SET … (keywords are identifiers; the parser decides)
  | 'name' // #placeholder
  | 'value' // :placeholder
  | 'number' // list index digits
  | '(' | ')' | '[' | ']' | ',' | '.' | '=' | '<>' | '<' | '<=' | '>' | '>=' | '+' | '-'
  | 'eof'
  | 'bad'; // a character the language has no use for

export interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isIdentPart(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 95;
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** Splits the whole expression into tokens; always ends with one 'eof' token. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  // Each iteration consumes at least one character, so the loop is bounded by the input length.
  while (i < n) {
    const c = src.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    if (isLetter(c) || c === 95) {
      i++;
      while (i < n && isIdentPart(src.charCodeAt(i))) i++;
      out.push({ kind: 'ident', text: src.slice(start, i), start, end: i });
      continue;
    }
    if (c === 35 /* # */ || c === 58 /* : */) {
      i++;
      while (i < n && isIdentPart(src.charCodeAt(i))) i++;
      if (i === start + 1) {
        out.push({ kind: 'bad', text: src[start]!, start, end: i });
        continue;
      }
      out.push({ kind: c === 35 ? 'name' : 'value', text: src.slice(start, i), start, end: i });
      continue;
    }
    if (isDigit(c)) {
      i++;
      while (i < n && isDigit(src.charCodeAt(i))) i++;
      out.push({ kind: 'number', text: src.slice(start, i), start, end: i });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '<>' || two === '<=' || two === '>=') {
      i += 2;
      out.push({ kind: two, text: two, start, end: i });
      continue;
    }
    const ch = src[i]!;
    i++;
    switch (ch) {
      case '(': case ')': case '[': case ']': case ',': case '.': case '=': case '<': case '>': case '+': case '-':
        out.push({ kind: ch, text: ch, start, end: i });
        break;
      default: {
        // Keep surrogate pairs whole so the error quotes the character the caller typed.
        const cp = src.codePointAt(start)!;
        if (cp > 0xffff) i++;
        out.push({ kind: 'bad', text: String.fromCodePoint(cp), start, end: i });
      }
    }
  }
  out.push({ kind: 'eof', text: '<EOF>', start: n, end: n });
  return out;
}
