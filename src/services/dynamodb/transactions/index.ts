/**
 * @module services/dynamodb/transactions
 * DynamoDB transactions: TransactWriteItems and TransactGetItems, and the engines PartiQL's
 * ExecuteTransaction shares (`transactWrite`, `transactGet`). The provider holds one TransactionState
 * (the items transactions hold, the remembered client tokens) and asks it, before a single-item write,
 * whether a transaction holds the item.
 */
import type { Clock } from '../../../core/clock.js';
import type { Store } from '../../../storage/store.js';
import { transactionConflictError } from './cancellation.js';
import { ClientTokens } from './client-tokens.js';
import { ItemLocks } from './item-locks.js';

export { transactWrite, transactWriteItems, type TransactWriteAction, type TransactWriteOptions, type TransactWriteOutput, type ConditionFailure } from './transact-write.js';
export { transactGet, transactGetItems, type TransactGetAction, type TransactGetOutput } from './transact-get.js';
export { requestHash } from './client-tokens.js';
export { transactionCanceled, type CancellationReason } from './cancellation.js';

export class TransactionState {
  readonly locks = new ItemLocks();
  readonly tokens: ClientTokens;

  constructor(store: Store, clock: Clock) {
    this.tokens = new ClientTokens(store, clock);
  }

  /**
   * Before a single-item write (PutItem, UpdateItem, DeleteItem, a PartiQL statement): an item a write
   * transaction holds refuses it with TransactionConflictException, as DynamoDB does.
   */
  checkFree(key: Buffer): void {
    if (this.locks.isHeld(key)) throw transactionConflictError();
  }

  close(): void {
    this.tokens.close();
  }
}
