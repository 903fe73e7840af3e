/**
 * @module services/dynamodb/transactions
 * DynamoDB transactions: TransactWriteItems and TransactGetItems, and the engines PartiQL's
 * ExecuteTransaction shares (`transactWrite`, `transactGet`). The provider holds one TransactionState
 * (the items transactions hold, the remembered client tokens) and asks it, before a single-item write,
 * whether a transaction holds the item.
 */
export { TransactionState } from './state.js';
export { transactWrite, transactWriteItems, type TransactWriteAction, type TransactWriteOptions, type TransactWriteOutput, type ConditionFailure } from './transact-write.js';
export { transactGet, transactGetItems, type TransactGetAction, type TransactGetOutput } from './transact-get.js';
export { requestHash } from './client-tokens.js';
export { transactionCanceled, type CancellationReason } from './cancellation.js';
