/**
 * Test helper: a separate process that puts items into a table one after another and prints the key of
 * each acknowledged put, so a test can kill Cellar mid-stream and check what was acknowledged.
 */
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './cellar.js';

const WRITER = `
const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');
const [endpoint, table, template, keyAttr] = process.argv.slice(1);
const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
(async () => {
  for (let i = 0; i < 100000; i++) {
    const item = JSON.parse(template.replaceAll('%I%', String(i)));
    try {
      await client.send(new PutItemCommand({ TableName: table, Item: item }));
    } catch (e) {
      process.exit(0); // the server is gone: stop writing
    }
    process.stdout.write(item[keyAttr].S + '\\n');
  }
})();
`;

export interface AckingWriter {
  /** Keys (the string value of keyAttr) of the puts acknowledged so far. */
  acked: string[];
  /** Settles when the writer exits (it stops at the first failed put). */
  done: Promise<void>;
}

/** Starts the writer; `%I%` in the item template (DynamoDB JSON) is replaced by the put's number. */
export function startAckingWriter(endpoint: string, table: string, template: Record<string, unknown>, keyAttr = 'pk'): AckingWriter {
  const writer = spawn(process.execPath, ['-e', WRITER, endpoint, table, JSON.stringify(template), keyAttr], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  let partial = '';
  writer.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    acked.push(...lines.filter(Boolean));
  });
  const done = new Promise<void>((r) => writer.once('exit', () => r()));
  return { acked, done };
}
