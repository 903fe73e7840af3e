/**
 * @module protocols/text
 * Request text as AWS reads it: UTF-8, and Unicode strings. Bytes that are not UTF-8 would otherwise be decoded to
 * U+FFFD, and a lone surrogate escape (`"\ud800"`) would become U+FFFD when stored as UTF-8: either way two distinct
 * strings sent by a client could end up as one key. Both are refused instead (SerializationException, as AWS's
 * JSON parser refuses malformed input), so what is stored is exactly what was sent.
 */
import { isUtf8 } from 'node:buffer';

export class MalformedText extends Error {}

/** The body as a string; throws MalformedText when it is not UTF-8. */
export function utf8Text(body: Buffer): string {
  if (!isUtf8(body)) throw new MalformedText('Invalid UTF-8 in the request body');
  return body.toString('utf8');
}

/** A `\u` escape of a surrogate code unit (D800-DFFF), the only escapes that can make an ill-formed string. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * Throws MalformedText when the JSON text escapes a surrogate that is not half of a pair (`\ud83d\ude00` is one
 * character; `\ud800` alone is not). Only scans texts that escape a surrogate at all, which the SDKs never do for
 * well-formed strings (they send UTF-8).
 */
export function checkSurrogateEscapes(text: string): void {
  if (!SURROGATE_ESCAPE.test(text)) return;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!inString) {
      if (c === 0x22) inString = true;
      continue;
    }
    if (c === 0x22) {
      inString = false;
      continue;
    }
    if (c !== 0x5c) continue;
    // An escape: \" \\ \/ \b \f \n \r \t or \uXXXX.
    const next = text.charCodeAt(i + 1);
    if (next !== 0x75) {
      i++;
      continue;
    }
    const unit = parseInt(text.slice(i + 2, i + 6), 16);
    i += 5;
    if (Number.isNaN(unit) || unit < 0xd800 || unit > 0xdfff) continue;
    if (unit >= 0xdc00) throw new MalformedText('Invalid UTF-16: a low surrogate without a high surrogate');
    // A high surrogate must be followed at once by an escaped low surrogate.
    const low = text.charCodeAt(i + 1) === 0x5c && text.charCodeAt(i + 2) === 0x75 ? parseInt(text.slice(i + 3, i + 7), 16) : NaN;
    if (!(low >= 0xdc00 && low <= 0xdfff)) throw new MalformedText('Invalid UTF-16: a high surrogate without a low surrogate');
    i += 6;
  }
}
