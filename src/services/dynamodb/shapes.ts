/**
 * @module services/dynamodb/shapes
 * DynamoDB's request and response shapes as the operations see them: the generated model types
 * (src/models/dynamodb.ts), adjusted in one place to what the JSON protocol really hands over and takes back.
 *
 * - A request's binary attribute values arrive as their base64 text (the JSON protocol does not decode
 *   blobs; attributes.ts validates and canonicalises that text), so in `Request<T>` every model
 *   AttributeValue is attributes.ts's AttributeValue, whose B and BS are strings.
 * - A response's items may be pre-serialised (RawJson: provider.storedItem hands over the stored JSON text
 *   when the caller serialises to JSON), and its timestamps are epoch seconds (numbers, as the JSON
 *   protocol writes them; a Date would be written the same), so in `Response<T>` an attribute map is an
 *   Item or RawJson and a Date member also takes a number.
 *
 * The request parser has already checked every member against the model (types, enums, lengths) before an
 * operation runs, so these types describe what the operation can rely on.
 */
import type * as M from '../../models/dynamodb.js';
import type { RawJson } from '../../protocols/wirejson.js';
import type { AttributeValue, Item } from './attributes.js';

/** True when A and B are mutually assignable (the model's attribute value and attribute map are told apart this way). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** A model shape as a request hands it over: attribute values with base64 text for binaries. */
export type Request<T> = T extends unknown ? RequestMember<T> : never; // distributes over `X | undefined` (optional members)
type RequestMember<T> =
  Same<T, M.AttributeValue> extends true ? AttributeValue
    : T extends Date ? Date
      : T extends readonly (infer U)[] ? Request<U>[]
        : T extends object ? { [K in keyof T]: Request<T[K]> }
          : T;

/** A model shape as an operation answers it: attribute maps may be pre-serialised, timestamps epoch seconds. */
export type Response<T> = T extends unknown ? ResponseMember<T> : never;
type ResponseMember<T> =
  Same<T, Record<string, M.AttributeValue>> extends true ? Item | RawJson
    : Same<T, M.AttributeValue> extends true ? AttributeValue
      : T extends Date ? Date | number
        : T extends readonly (infer U)[] ? Response<U>[]
          : T extends object ? { [K in keyof T]: Response<T[K]> }
            : T;

/** An operation's answer, at once or once its write is durable (provider.write's group commit). */
export type Answer<T> = T | Promise<T>;
