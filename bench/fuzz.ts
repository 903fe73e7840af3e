/**
 * The long fuzz run: at least 100,000 model-generated, mutated requests (test/helpers/fuzz.ts) spread over every
 * operation a fresh in-memory Cellar serves, each checked for a 5xx and, when refused, for a change to stored
 * state. Prints the counts by HTTP status, overall and per service, and the first violations; exits 1 if any.
 *
 *   npm run build && node dist/bench/fuzz.js [--requests 100000] [--seed N] [--no-state-check]
 *
 * Not part of `npm test` (it takes minutes); the test suite runs a bounded sample of the same generator.
 */
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/protocols/model.js';
import { startCellar } from '../test/helpers/cellar.js';
import { Fuzzer, requestArbitrary, servedTargets } from '../test/helpers/fuzz.js';
import { jsonCall } from '../test/helpers/sign.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '100000' }, seed: { type: 'string' }, 'no-state-check': { type: 'boolean' } } });
const total = Number(values.requests);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const BATCH = 50;

// Metric sampling off: it writes CloudWatch data points every period, which a state digest would see as a change.
const cellar = await startCellar({ inMemory: true, args: ['--quiet'], env: { CELLAR_METRICS: 'off' } });
try {
  const call = (svc: string, target: string, body: object) => jsonCall(cellar.endpoint, svc, target, JSON.stringify(body), { accessKeyId: '111111111111', secretAccessKey: 'x' });
  await call('dynamodb', 'DynamoDB_20120810.CreateTable', { TableName: 'fuzz_table', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' });
  await call('secretsmanager', 'secretsmanager.CreateSecret', { Name: 'fuzz/secret', SecretString: 'v', ClientRequestToken: '11111111-1111-1111-1111-111111111111' });
  await call('kms', 'TrentService.CreateKey', {});

  const fuzzer = new Fuzzer(cellar.endpoint, !values['no-state-check']);
  const targets = await servedTargets(cellar.endpoint, loadModel);
  const arbitraries = targets.map((t) => requestArbitrary(t));
  const violations: string[] = [];
  const started = Date.now();
  let sent = 0;
  for (let round = 0; sent < total; round++) {
    for (const [i, t] of targets.entries()) {
      const n = Math.min(BATCH, total - sent);
      if (n <= 0) break;
      for (const req of fc.sample(arbitraries[i]!, { seed: seed + round * targets.length + i, numRuns: n })) {
        const out = await fuzzer.send(t, req);
        sent++;
        if (out.violation && violations.length < 50) violations.push(out.violation);
      }
    }
    process.stderr.write(`\r${sent} requests, ${violations.length} violation(s), ${Math.round(sent / ((Date.now() - started) / 1000))} req/s   `);
  }
  process.stderr.write('\n');
  const alive = (await fetch(`${cellar.endpoint}/_cellar/health`)).status === 200 && cellar.proc.exitCode === null;
  const row = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]).map(([s, c]) => `${s}: ${c}`).join(', ');
  console.log(`seed ${seed}: ${sent} requests to ${targets.length} operations in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`by status: ${row(fuzzer.counts)}`);
  for (const [svc, m] of fuzzer.byService) console.log(`  ${svc}: ${row(m)}`);
  console.log(`server still serving: ${alive}`);
  console.log(`violations: ${violations.length}`);
  for (const v of violations.slice(0, 20)) console.log(`  ${v}`);
  process.exitCode = violations.length === 0 && alive ? 0 : 1;
} finally {
  await cellar.stop();
}
