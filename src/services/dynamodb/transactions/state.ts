/**
 * @module services/dynamodb/transactions/state
 * The transactions' shared state the provider holds: the items write transactions hold (item-locks.ts) and the
 * client tokens they remember (client-tokens.ts), and the narrow view of the provider the transaction engines take.
 * Apart from transactions/index.ts so that the provider can name it without importing the engines through the index.
 */
import type { Clock } from '../../../core/clock.js';
import type { Store } from '../../../storage/store.js';
import type { ItemStore } from '../tables/state.js';
import { transactionConflictError } from './cancellation.js';
import { ClientTokens } from './client-tokens.js';
import { ItemLocks } from './item-locks.js';

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

/** What the transaction engines use of the provider: its items, and the transactions' own state. */
export interface TransactionalStore extends ItemStore {
  readonly transactions: TransactionState;
}
