/**
 * Fuzzing every served operation from its model (test/helpers/fuzz.ts, fast-check): mutated requests — nulls,
 * wrong types, huge and deep values, lone surrogates, invalid UTF-8, damaged bodies — get no 5xx, leave the server
 * serving, and, when refused, change nothing stored. A bounded sample here (FUZZ_RUNS per operation, default 6);
 * `node dist/bench/fuzz.js` runs 100,000 requests and more. The seed is printed; replay with FUZZ_SEED=<seed>.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadModel } from '../../src/protocols/model.js';
import { removeDir, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { Fuzzer, requestArbitrary, servedTargets } from '../helpers/fuzz.js';
import { jsonCall } from '../helpers/sign.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 6);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('fuzz: model-generated, mutated requests to every served operation', () => {
  let cellar: CellarProcess;
  before(async () => {
    // Metric sampling off: it writes CloudWatch data points every period, which a state digest would see as a change.
    cellar = await startCellar({ inMemory: true, args: ['--quiet'], env: { CELLAR_METRICS: 'off' } });
    // Something for requests to find: a table, a secret and a key of the account most requests sign as.
    const call = (svc: string, target: string, body: object) => jsonCall(cellar.endpoint, svc, target, JSON.stringify(body), { accessKeyId: '111111111111', secretAccessKey: 'x' });
    await call('dynamodb', 'DynamoDB_20120810.CreateTable', { TableName: 'fuzz_table', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' });
    await call('secretsmanager', 'secretsmanager.CreateSecret', { Name: 'fuzz/secret', SecretString: 'v', ClientRequestToken: '11111111-1111-1111-1111-111111111111' });
    await call('kms', 'TrentService.CreateKey', {});
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it(`no 5xx, no crash, and a refused request changes nothing (seed ${SEED}, ${RUNS} runs per operation)`, async () => {
    const fuzzer = new Fuzzer(cellar.endpoint);
    const targets = await servedTargets(cellar.endpoint, loadModel);
    assert.ok(targets.length > 100, `only ${targets.length} operations served`);
    // Every protocol a service answers is fuzzed: CloudWatch's RPC v2 CBOR and awsQuery besides its awsJson1_0.
    for (const protocol of ['awsJson1_0', 'awsJson1_1', 'awsQuery', 'rpcv2Cbor']) assert.ok(targets.some((t) => t.protocol === protocol), `no ${protocol} target`);
    const violations: string[] = [];
    for (const [i, t] of targets.entries()) {
      await fc.assert(
        fc.asyncProperty(requestArbitrary(t), async (req) => {
          const out = await fuzzer.send(t, req);
          if (out.violation) violations.push(out.violation);
          return out.violation === undefined;
        }),
        { seed: SEED + i, numRuns: RUNS, endOnFailure: true },
      ).catch((e: Error) => violations.push(`${t.serviceId} ${t.operation}: ${e.message.split('\n').slice(0, 3).join(' ')}`));
    }
    const alive = await fetch(`${cellar.endpoint}/_cellar/health`);
    assert.equal(alive.status, 200, 'server still serving');
    assert.equal(cellar.proc.exitCode, null, 'server did not exit');
    const stacks = cellar.output.filter((l) => l.includes('"level":"error"')).slice(0, 5);
    assert.deepEqual(violations.slice(0, 20), [], `seed ${SEED}: ${violations.length} violation(s)\n${stacks.join('\n')}`);
    const statuses = [...fuzzer.counts.keys()];
    assert.ok(statuses.includes(200) && statuses.some((s) => s >= 400 && s < 500), `the sample reached both successes and refusals: ${JSON.stringify([...fuzzer.counts])}`);
  });
});
