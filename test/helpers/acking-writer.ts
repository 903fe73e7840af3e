/**
 * Test helper: a separate process that writes items into a table one request after another and prints the keys
 * each acknowledged request wrote (one line per request), so a test can kill Cellar mid-stream and check what was
 * acknowledged. It writes with PutItem only, or (`mixed`) with PutItem, UpdateItem, TransactWriteItems and
 * BatchWriteItem in turn, so every write path is cut by the kill somewhere.
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './cellar.js';

const WRITER = `
const { DynamoDBClient, PutItemCommand, UpdateItemCommand, TransactWriteItemsCommand, BatchWriteItemCommand } = require('@aws-sdk/client-dynamodb');
const [endpoint, table, template, keyAttr, mode, keyNamesJson] = process.argv.slice(1);
const keyNames = JSON.parse(keyNamesJson);
const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
const itemOf = (i, suffix) => {
  const item = JSON.parse(template.replaceAll('%I%', String(i)));
  item[keyAttr] = { S: item[keyAttr].S + suffix };
  return item;
};
const keyOf = (item) => Object.fromEntries(keyNames.map((k) => [k, item[k]]));
// An UpdateItem that sets every attribute but the key's: it creates the item as a PutItem would.
const update = (item) => {
  const rest = Object.keys(item).filter((k) => !keyNames.includes(k));
  return {
    TableName: table, Key: keyOf(item),
    UpdateExpression: 'SET ' + rest.map((_, j) => '#a' + j + ' = :v' + j).join(', '),
    ExpressionAttributeNames: Object.fromEntries(rest.map((k, j) => ['#a' + j, k])),
    ExpressionAttributeValues: Object.fromEntries(rest.map((k, j) => [':v' + j, item[k]])),
  };
};
/** One request; answers the items it wrote. */
async function write(i) {
  const kind = mode === 'mixed' ? i % 4 : 0;
  if (kind === 0) {
    const item = itemOf(i, '');
    await client.send(new PutItemCommand({ TableName: table, Item: item }));
    return [item];
  }
  if (kind === 1) {
    const item = itemOf(i, 'u');
    await client.send(new UpdateItemCommand(update(item)));
    return [item];
  }
  if (kind === 2) {
    const items = [itemOf(i, 'ta'), itemOf(i, 'tb'), itemOf(i, 'tc')];
    await client.send(new TransactWriteItemsCommand({ TransactItems: [
      { Put: { TableName: table, Item: items[0] } }, { Put: { TableName: table, Item: items[1] } }, { Update: update(items[2]) },
    ] }));
    return items;
  }
  const items = [itemOf(i, 'ba'), itemOf(i, 'bb')];
  const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }));
  const unprocessed = new Set((out.UnprocessedItems?.[table] ?? []).map((r) => r.PutRequest.Item[keyAttr].S));
  return items.filter((it) => !unprocessed.has(it[keyAttr].S));
}
(async () => {
  for (let i = 0; i < 100000; i++) {
    let written;
    try {
      written = await write(i);
    } catch (e) {
      process.exit(0); // the server is gone: stop writing
    }
    process.stdout.write(written.map((item) => item[keyAttr].S).join(' ') + '\\n');
  }
})();
`;

export interface AckingWriter {
  /** Keys (the string value of keyAttr) of the items acknowledged so far. */
  acked: string[];
  /** The same keys, one list per acknowledged request. */
  ackedRequests: string[][];
  /** Settles when the writer exits (it stops at the first failed request). */
  done: Promise<void>;
}

export interface AckingWriterOptions {
  /** The attribute whose string value names each item (default pk); multi-item requests append a suffix to it. */
  keyAttr?: string;
  /** `put`: PutItem only (default); `mixed`: PutItem, UpdateItem, TransactWriteItems (3 items), BatchWriteItem (2) in turn. */
  mode?: 'put' | 'mixed';
  /** The table's key attributes (default [keyAttr]): an UpdateItem's Key. */
  keyNames?: string[];
}

/** Starts the writer; `%I%` in the item template (DynamoDB JSON) is replaced by the request's number. */
export function startAckingWriter(endpoint: string, table: string, template: Record<string, unknown>, opts: AckingWriterOptions = {}): AckingWriter {
  const keyAttr = opts.keyAttr ?? 'pk';
  const args = [endpoint, table, JSON.stringify(template), keyAttr, opts.mode ?? 'put', JSON.stringify(opts.keyNames ?? [keyAttr])];
  const writer = spawn(process.execPath, ['-e', WRITER, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  const ackedRequests: string[][] = [];
  let partial = '';
  writer.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines.filter(Boolean)) {
      const keys = line.split(' ');
      ackedRequests.push(keys);
      acked.push(...keys);
    }
  });
  const done = new Promise<void>((r) => writer.once('exit', () => r()));
  return { acked, ackedRequests, done };
}
