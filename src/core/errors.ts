/**
 * @module core/errors
 * Typed service errors. Providers throw these; only the protocol serializer decides their wire shape
 * (JSON `__type` + `x-amzn-ErrorType`, or the XML `ErrorResponse`).
 */
export interface ServiceErrorOptions {
  /** HTTP status; AWS uses 400 for client errors unless the model says otherwise. */
  status?: number;
  /** true for errors the caller caused ("Sender"), false for the service's own ("Receiver"). */
  senderFault?: boolean;
  /** Extra members serialized next to the message (e.g. DynamoDB's `Item` on a failed condition). */
  fields?: Record<string, unknown>;
}

export class ServiceError extends Error {
  readonly code: string;
  readonly status: number;
  readonly senderFault: boolean;
  readonly fields: Record<string, unknown> | undefined;
  constructor(code: string, message: string, options: ServiceErrorOptions = {}) {
    super(message);
    this.name = code;
    this.code = code;
    this.status = options.status ?? 400;
    this.senderFault = options.senderFault ?? this.status < 500;
    this.fields = options.fields;
  }
}

/** The error every service returns when the request fails model validation. */
export function validationError(message: string): ServiceError {
  return new ServiceError('ValidationException', message, { status: 400 });
}

/** Wraps an error with what was being done, keeping the original as the cause. */
export function withContext(what: string, err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`while ${what}: ${message}`, { cause: err });
}
