/**
 * @module services/dynamodb/transactions/cancellation
 * The errors a transaction ends with, in DynamoDB's words: TransactionCanceledException carrying one
 * CancellationReason per action in request order ("None" for the actions that did not cause it), and the
 * conflict, in-progress and idempotency errors. Pure: no state.
 */
import { ServiceError } from '../../../core/errors.js';
import type { Item } from '../attributes.js';
import type { CancellationReason as WireCancellationReason } from '../../../models/dynamodb.js';

/** The codes Cellar gives a cancelled action (the model's CancellationReason.Code values it can produce). */
export type CancellationCode = 'None' | 'ConditionalCheckFailed' | 'TransactionConflict' | 'ValidationError' | 'DuplicateItem' | 'ThrottlingError';

export interface CancellationReason {
  Code: CancellationCode;
  /** Absent for "None", as DynamoDB sends it. */
  Message?: string;
  /** The item as it was, for a failed condition of an action that asked for ALL_OLD. */
  Item?: Item;
}

export const CONDITIONAL_CHECK_FAILED_MESSAGE = 'The conditional request failed';
export const TRANSACTION_CONFLICT_MESSAGE = 'Transaction is ongoing for the item';

export const NO_REASON: CancellationReason = { Code: 'None' };

export function conditionalCheckFailed(item?: Item): CancellationReason {
  return item ? { Code: 'ConditionalCheckFailed', Message: CONDITIONAL_CHECK_FAILED_MESSAGE, Item: item } : { Code: 'ConditionalCheckFailed', Message: CONDITIONAL_CHECK_FAILED_MESSAGE };
}

export function transactionConflict(): CancellationReason {
  return { Code: 'TransactionConflict', Message: TRANSACTION_CONFLICT_MESSAGE };
}

export function validationFailed(message: string): CancellationReason {
  return { Code: 'ValidationError', Message: message };
}

/** An action whose table (or GSI) has no provisioned capacity left (throughput/enforcer.ts gives the message). */
export function throttlingError(message: string): CancellationReason {
  return { Code: 'ThrottlingError', Message: message };
}

/** DynamoDB's summary of the reasons: their codes in request order, in brackets. */
export function cancellationMessage(reasons: readonly CancellationReason[]): string {
  return `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`;
}

/** TransactionCanceledException with its reasons (its message goes in `Message`, as its model shape spells it). */
export function transactionCanceled(reasons: readonly CancellationReason[]): ServiceError {
  const wire: WireCancellationReason[] = reasons.map((r) => ({ ...r }));
  return new ServiceError('TransactionCanceledException', cancellationMessage(reasons), { fields: { CancellationReasons: wire } });
}

/** Whether any reason cancels the transaction. */
export function cancels(reasons: readonly CancellationReason[]): boolean {
  return reasons.some((r) => r.Code !== 'None');
}

/** A single-item write (PutItem, UpdateItem, DeleteItem) on an item a transaction holds. */
export function transactionConflictError(): ServiceError {
  return new ServiceError('TransactionConflictException', TRANSACTION_CONFLICT_MESSAGE);
}

/** AWS's words, as a Java SDK log of a real TransactionInProgressException shows them. */
export function transactionInProgress(): ServiceError {
  return new ServiceError('TransactionInProgressException', 'Transaction from previous request is still in progress');
}

/**
 * Without a message, as DynamoDB Local answers it (an SDK shows "IdempotentParameterMismatchException:" and
 * nothing after): the one public record of what DynamoDB says here.
 */
export function idempotentParameterMismatch(): ServiceError {
  return new ServiceError('IdempotentParameterMismatchException', '');
}
