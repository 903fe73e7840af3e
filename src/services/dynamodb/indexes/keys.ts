/**
 * @module services/dynamodb/indexes/keys
 * Secondary index keys of one or more attributes: the key schema rules for a global secondary index
 * (since November 2025 up to four HASH and four RANGE attributes, listed HASH first, each in order),
 * the index key an item has (if it has one), the write-time checks of index key values with AWS's
 * messages, and the order-preserving store key of an index entry.
 *
 * An item is in an index only when every key attribute of the index is present with the type the
 * attribute definitions give it (a sparse index), and every value is one an index can hold (not empty,
 * within the key size limits: an item written before the index existed can break them, and the
 * backfill leaves it out, as AWS's does).
 *
 * Store key of an index entry (after the u32 index number):
 *   u16 bucket | u16 hash length | hash bytes | range bytes | item key minus its table number
 * With one HASH attribute the hash bytes are the value's raw bytes (keycodec.keyBody, the layout every
 * index has always had). With several they are each value's raw bytes behind a u16 length, so that
 * ("ab","c") and ("a","bc") differ. The range bytes are the RANGE values' ordered, prefix-free
 * encodings one after another: memcmp order of the concatenation is the order of the tuple, compared
 * attribute by attribute, which is how AWS sorts items by a multi-attribute sort key.
 */
import { validationError } from '../../../core/errors.js';
import { type AttributeValue, type Item, keyValueBytes, MAX_HASH_KEY_BYTES, MAX_RANGE_KEY_BYTES, typeOf } from '../attributes.js';
import type { SetValue, UpdateAction } from '../expressions/ast.js';
import { bucketOf, keyBody, orderedKeyBytes, rawKeyBytes, type KeyType } from '../keycodec.js';

const INVALID = 'One or more parameter values were invalid: ';

/** Most HASH (and most RANGE) attributes a global secondary index key may have. */
export const MAX_INDEX_KEY_PARTS = 4;

export interface KeySchemaElementLike {
  AttributeName: string;
  KeyType: string;
}

export interface AttributeDefinitionLike {
  AttributeName: string;
  AttributeType: string;
}

/** One attribute of an index key. */
export interface KeyPart {
  name: string;
  type: KeyType;
  isHash: boolean;
}

/** An index key schema resolved against the attribute definitions, in key schema order. */
export interface IndexKey {
  parts: KeyPart[];
  hash: KeyPart[];
  range: KeyPart[];
  /** More than one HASH or more than one RANGE attribute. */
  multi: boolean;
}

export function indexKeyOf(schema: KeySchemaElementLike[], defs: AttributeDefinitionLike[]): IndexKey {
  const parts = schema.map((k): KeyPart => ({
    name: k.AttributeName,
    type: defs.find((d) => d.AttributeName === k.AttributeName)!.AttributeType as KeyType,
    isHash: k.KeyType === 'HASH',
  }));
  const hash = parts.filter((p) => p.isHash);
  const range = parts.filter((p) => !p.isHash);
  return { parts, hash, range, multi: hash.length > 1 || range.length > 1 };
}

/**
 * Checks a global secondary index's KeySchema, with AWS's messages: the first element must be HASH,
 * the HASH elements precede the RANGE ones, at most four of each, every attribute named once.
 */
export function checkGlobalIndexKeySchema(schema: KeySchemaElementLike[]): void {
  if (schema[0]?.KeyType !== 'HASH') throw validationError('Invalid KeySchema: The first KeySchemaElement is not a HASH key type');
  let seenRange = false;
  for (const k of schema) {
    if (k.KeyType === 'RANGE') seenRange = true;
    else if (seenRange) throw validationError(`${INVALID}All HASH key attributes must precede RANGE key attributes in the KeySchema`);
  }
  const hashCount = schema.filter((k) => k.KeyType === 'HASH').length;
  if (hashCount > MAX_INDEX_KEY_PARTS) throw validationError(`${INVALID}The KeySchema exceeds the maximum allowed number of HASH key attributes`);
  if (schema.length - hashCount > MAX_INDEX_KEY_PARTS) throw validationError(`${INVALID}The KeySchema exceeds the maximum allowed number of RANGE key attributes`);
  const names = new Set(schema.map((k) => k.AttributeName));
  if (names.size !== schema.length) {
    // The two-element form keeps the message DynamoDB has always given for a hash and range key of one name.
    if (schema.length === 2 && hashCount === 1) throw validationError('Both the Hash Key and the Range Key element in the KeySchema have the same name');
    throw validationError('The KeySchema contains multiple key attributes with the same name');
  }
}

/** DynamoDB's size limit for one key value: 2,048 bytes for a partition key attribute, 1,024 for a sort key attribute. */
export function keyPartLimit(part: KeyPart): number {
  return part.isHash ? MAX_HASH_KEY_BYTES : MAX_RANGE_KEY_BYTES;
}

/** A value an index can hold for this key attribute: the right type, not empty, within the size limit. */
function holdable(v: AttributeValue | undefined, part: KeyPart): v is AttributeValue {
  if (!v || (v as Record<string, unknown>)[part.type] === undefined) return false;
  if (part.type === 'N') return true;
  const bytes = keyValueBytes(v);
  return bytes > 0 && bytes <= keyPartLimit(part);
}

/** The type an update action gives its attribute, when the request alone settles it (no item needed). */
function staticUpdateType(action: UpdateAction): string | undefined {
  const of = (v: SetValue): string | undefined => {
    switch (v.k) {
      case 'value': return typeOf(v.value);
      case 'plus': case 'minus': case 'size': return 'N';
      case 'list_append': return 'L';
      case 'if_not_exists': return of(v.fallback);
      case 'path': return undefined;
    }
  };
  switch (action.k) {
    case 'set': return of(action.value);
    case 'add': case 'delete': return typeOf(action.value);
    case 'remove': return undefined;
  }
}

/**
 * Before UpdateItem reads the item, an action that writes a whole index key attribute with a value of another type
 * than the attribute definition's is refused, in AWS's words ("Type mismatch for Index Key ..."): literal values,
 * arithmetic (a number), list_append (a list), if_not_exists (its fallback's type). DynamoDB settles this before it
 * refuses a path into a key attribute (dynalite's updateItem suite, recorded on AWS: 'set d.a = a add c :a' and
 * 'set e = c[1], c = a + :a' answer with c's type mismatch, not with d's or c's path).
 */
export function checkUpdatedIndexKeyTypes(indexes: Iterable<{ meta: { name: string }; ikey: IndexKey }>, actions: readonly UpdateAction[]): void {
  for (const idx of indexes) {
    for (const part of idx.ikey.parts) {
      const action = actions.find((a) => a.path.length === 1 && a.path[0] === part.name);
      const type = action && staticUpdateType(action);
      if (type !== undefined && type !== part.type) {
        throw validationError(`${INVALID}Type mismatch for Index Key ${part.name} Expected: ${part.type} Actual: ${type} IndexName: ${idx.meta.name}`);
      }
    }
  }
}

/**
 * Refuses an item whose index key values no index could hold, before anything is written, with AWS's
 * messages: a value of another type than the attribute definition's, an empty string or binary, a value
 * over the key size limit. Absent attributes are fine (the item is just not in that index). An UpdateItem
 * that empties an index key gets its own message, which names neither the index nor the attribute.
 */
export function checkIndexKeyValues(indexes: Iterable<{ meta: { name: string }; ikey: IndexKey }>, item: Item, operation: 'put' | 'update' = 'put'): void {
  for (const idx of indexes) {
    const name = idx.meta.name;
    for (const part of idx.ikey.parts) {
      const v = item[part.name];
      if (!v) continue;
      if ((v as Record<string, unknown>)[part.type] === undefined) {
        throw validationError(`${INVALID}Type mismatch for Index Key ${part.name} Expected: ${part.type} Actual: ${typeOf(v)} IndexName: ${name}`);
      }
      if (part.type === 'N') continue;
      const bytes = keyValueBytes(v);
      if (bytes === 0) {
        if (operation === 'update') {
          throw validationError(`One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty ${part.type === 'S' ? 'string' : 'binary'} value.`);
        }
        throw validationError(`One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty ${part.type === 'S' ? 'string' : 'binary'} value. IndexName: ${name}, IndexKey: ${part.name}`);
      }
      const limit = keyPartLimit(part);
      if (bytes > limit) {
        throw validationError(`${INVALID}Size limit exceeded for Index Key ${part.name} Actual Size: ${bytes} bytes Max Size: ${limit} bytes IndexName: ${name}`);
      }
    }
  }
}

/** The hash bytes of a multi-attribute partition key: each value's raw bytes behind a u16 length. */
export function multiHashBytes(values: AttributeValue[], parts: KeyPart[]): Buffer {
  const raw = values.map((v, i) => rawKeyBytes(v, parts[i]!.type));
  const out = Buffer.allocUnsafe(raw.reduce((n, b) => n + 2 + b.length, 0));
  let at = 0;
  for (const b of raw) {
    out.writeUInt16BE(b.length, at);
    b.copy(out, at + 2);
    at += 2 + b.length;
  }
  return out;
}

/** Ordered bytes of a sequence of sort key values (each prefix-free, so their concatenation orders as the tuple). */
export function rangeBytes(values: AttributeValue[], parts: KeyPart[]): Buffer {
  return Buffer.concat(values.map((v, i) => orderedKeyBytes(v, parts[i]!.type)));
}

/** bucket | hash length | hash bytes (the partition prefix of an index key after its namespace). */
export function partitionBytes(hashValues: AttributeValue[], key: IndexKey): Buffer {
  if (!key.multi) return keyBody(hashValues[0]!, key.hash[0]!.type);
  const hb = multiHashBytes(hashValues, key.hash);
  const out = Buffer.allocUnsafe(4 + hb.length);
  out.writeUInt16BE(bucketOf(hb), 0);
  out.writeUInt16BE(hb.length, 2);
  hb.copy(out, 4);
  return out;
}

/** The index key body (after the namespace, before the item key) of given key values, all present. */
export function indexKeyBodyOf(values: Record<string, AttributeValue>, key: IndexKey): Buffer {
  if (!key.multi) {
    const h = key.hash[0]!;
    const r = key.range[0];
    return keyBody(values[h.name]!, h.type, r ? values[r.name] : undefined, r?.type);
  }
  return Buffer.concat([partitionBytes(key.hash.map((p) => values[p.name]!), key), rangeBytes(key.range.map((p) => values[p.name]!), key.range)]);
}

/**
 * Whether an item breaks an index's key rules: some key attribute is present with a value the index cannot
 * hold (another type, empty, over the size limit). AWS's backfill leaves such items out and calls them index
 * key violations; an item merely missing a key attribute is not one (it is outside a sparse index).
 */
export function indexKeyViolation(item: Item, key: IndexKey): boolean {
  return key.parts.some((part) => item[part.name] !== undefined && !holdable(item[part.name], part));
}

/**
 * AWS refuses a PartiQL statement reading an index whose key has several HASH or RANGE attributes, with this
 * message, ahead of the WHERE clause rules (paritysuite/dynamodb-conformance, observed on AWS in October 2026).
 */
export const PARTIQL_MULTI_ATTRIBUTE_KEY_REFUSAL = 'PartiQL statements cannot be executed on tables with multi-attribute HASH keys or multi-attribute RANGE keys.';

/** The index key body of an item, or undefined when the item is not in the index (a key attribute absent, mistyped or unholdable). */
export function itemIndexKeyBody(item: Item, key: IndexKey): Buffer | undefined {
  for (const part of key.parts) if (!holdable(item[part.name], part)) return undefined;
  return indexKeyBodyOf(item, key);
}
