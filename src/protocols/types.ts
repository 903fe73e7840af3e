/**
 * @module protocols/types
 * The request and response values the protocol layer works on. The gateway turns HTTP into a
 * WireRequest; a protocol turns it into (operation, input) and turns results and errors back into a
 * WireResponse. Nothing here touches a socket, so tests can drive the whole chain without one.
 */
import type { ServiceError } from '../core/errors.js';
import type { Operation, ServiceModel } from './model.js';

export interface WireRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  /** The query string as sent (percent-escapes undecoded), when there is one: `query` has already decoded it. */
  rawQuery?: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: Buffer;
  /** The client's IP address, as the socket reports it (the console serves loopback clients only). */
  remoteAddress?: string;
}

export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
  /**
   * An answer that goes on after its head (server-sent events): `body` is written first, then `open` is called with
   * a writer. The connection carries nothing else and closes when `open`'s returned close function is called by
   * the gateway (client gone, Cellar stopping) or when the stream calls `end`.
   */
  stream?: ResponseStream;
}

export interface ResponseStream {
  /** Starts the stream; returns what stops it (called once, when the connection closes for any reason). */
  open(writer: StreamWriter): () => void;
  /** The stream will not be opened (the client went, Cellar is stopping, a HEAD request): let go of what it holds. */
  cancel(): void;
}

export interface StreamWriter {
  /** Writes a chunk; false when the client is not reading fast enough and the stream should end. */
  write(chunk: string): boolean;
  end(): void;
}

/** Service quirks of a JSON-protocol service's error and validation shapes. */
export interface JsonErrorStyle {
  /** Prefix for `__type` of the service's own errors (DynamoDB: `com.amazonaws.dynamodb.v20120810#`). */
  typePrefix: string;
  /** Prefix for ValidationException (DynamoDB: `com.amazon.coral.validate#`). */
  validationTypePrefix: string;
  /** `message` or `Message`: services differ. */
  messageKey: 'message' | 'Message';
  /** DynamoDB clients verify an `x-amz-crc32` header over the body. */
  crc32: boolean;
  /**
   * The model is `awsQueryCompatible` (CloudWatch): errors also carry `x-amzn-query-error: <Code>;<Sender|Receiver>`,
   * the awsQuery code the SDKs report, and `__type` names the error's shape. Providers throw the awsQuery codes;
   * the protocol's own validation error is named by `validationCode` there.
   */
  queryCompatible?: { validationCode: string };
}

export interface Protocol {
  readonly name: 'awsJson1_0' | 'awsJson1_1' | 'awsQuery' | 'rpcv2Cbor';
  /** serializeOutput writes RawJson values (protocols/wirejson.ts) as they are. */
  readonly acceptsRawJson?: boolean;
  /** The operation the request names, or undefined when it names none of this model's. */
  operationName(req: WireRequest, model: ServiceModel): string | undefined;
  /** Parses and validates the input; throws ServiceError with the service's own validation error. */
  parseInput(req: WireRequest, model: ServiceModel, op: Operation): unknown;
  serializeOutput(model: ServiceModel, op: Operation, output: unknown, requestId: string): WireResponse;
  serializeError(model: ServiceModel, err: ServiceError, requestId: string): WireResponse;
}
