/**
 * @module services/secretsmanager/password
 * GetRandomPassword: a cryptographically random password drawn from the character classes AWS uses
 * (lower case, upper case, digits, the 32 ASCII punctuation characters, optionally space), minus
 * ExcludeCharacters, with at least one of every included class when RequireEachIncludedType (the default).
 */
import { randomInt } from 'node:crypto';
import { ServiceError } from '../../core/errors.js';
import type { GetRandomPasswordRequest } from '../../models/secretsmanager.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
/** The punctuation AWS documents: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~ */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const DEFAULT_LENGTH = 32;

export function randomPassword(input: GetRandomPasswordRequest): string {
  const length = input.PasswordLength ?? DEFAULT_LENGTH;
  const excluded = new Set([...(input.ExcludeCharacters ?? '')]);
  const classes: string[] = [];
  const keep = (chars: string) => [...chars].filter((c) => !excluded.has(c)).join('');
  if (!input.ExcludeLowercase) classes.push(keep(LOWER));
  if (!input.ExcludeUppercase) classes.push(keep(UPPER));
  if (!input.ExcludeNumbers) classes.push(keep(DIGITS));
  if (!input.ExcludePunctuation) classes.push(keep(PUNCTUATION));
  if (input.IncludeSpace) classes.push(keep(' '));
  // A class emptied by ExcludeCharacters cannot be required: AWS drops it rather than failing.
  const usable = classes.filter((c) => c.length > 0);
  if (usable.length === 0) {
    throw new ServiceError('InvalidParameterException', 'The password cannot be generated: every character type is excluded.');
  }
  const requireEach = input.RequireEachIncludedType ?? true;
  if (requireEach && length < usable.length) {
    throw new ServiceError('InvalidParameterException', 'Password length is too short based on the required types.');
  }
  const all = usable.join('');
  const out: string[] = [];
  if (requireEach) for (const cls of usable) out.push(cls[randomInt(cls.length)]!);
  while (out.length < length) out.push(all[randomInt(all.length)]!);
  // Fisher-Yates, so the guaranteed characters are not always first.
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.join('');
}

export const PASSWORD_CLASSES = { LOWER, UPPER, DIGITS, PUNCTUATION };
