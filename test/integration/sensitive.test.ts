/**
 * Members the models mark sensitive (SecretString, SecretBinary, Plaintext, tokens, passwords) never appear in an
 * error message or a log line, however the request is wrong: AWS's own form is "Value at 'plaintext' failed to
 * satisfy constraint: ...", with the value left out.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall, queryCall } from '../helpers/sign.js';

const MARK = 'S3NSITIVE-canary-';

describe('sensitive members stay out of error messages and logs', () => {
  let cellar: CellarProcess;
  before(async () => {
    // Request logging on (no --quiet), at debug level: nothing the client sent as a sensitive member may show.
    cellar = await startCellar({ inMemory: true, env: { CELLAR_LOG_LEVEL: 'debug' } });
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('over-long, mistyped or malformed sensitive values are refused without being echoed', async () => {
    const long = MARK + 'x'.repeat(70_000);
    const key = (await jsonCall(cellar.endpoint, 'kms', 'TrentService.CreateKey', '{}')).json.KeyMetadata.KeyId;
    const cases: Array<[string, string, object]> = [
      ['secretsmanager', 'secretsmanager.CreateSecret', { Name: 'a', SecretString: long, ClientRequestToken: '11111111-1111-1111-1111-111111111111' }],
      ['secretsmanager', 'secretsmanager.CreateSecret', { Name: 'a', SecretBinary: Buffer.from(long).toString('base64'), ClientRequestToken: '11111111-1111-1111-1111-111111111111' }],
      ['secretsmanager', 'secretsmanager.PutSecretValue', { SecretId: 'nope', SecretString: long, ClientRequestToken: '11111111-1111-1111-1111-111111111111' }],
      ['secretsmanager', 'secretsmanager.CreateSecret', { Name: 'a', SecretString: [MARK + 'in-a-list'] }],
      ['kms', 'TrentService.Encrypt', { KeyId: key, Plaintext: Buffer.from(MARK + 'y'.repeat(5000)).toString('base64') }],
      ['kms', 'TrentService.Encrypt', { KeyId: key, Plaintext: { [MARK]: 1 } }],
    ];
    for (const [svc, target, body] of cases) {
      const r = await jsonCall(cellar.endpoint, svc, target, JSON.stringify(body));
      assert.equal(r.status, 400, `${target}: ${r.text.slice(0, 200)}`);
      assert.ok(!r.text.includes(MARK), `${target} echoed a sensitive value: ${r.text.slice(0, 300)}`);
    }
    const r = await jsonCall(cellar.endpoint, 'kms', 'TrentService.Encrypt', JSON.stringify({ KeyId: key, Plaintext: Buffer.alloc(5000).toString('base64') }));
    assert.equal(r.json.message, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
    const q = await queryCall(cellar.endpoint, 'sts', { Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: 'arn:aws:iam::000000000000:role/r', RoleSessionName: 'session', WebIdentityToken: MARK + 'z'.repeat(30_000) });
    assert.ok(q.status >= 400 && q.status < 500, q.text.slice(0, 200));
    assert.ok(!q.text.includes(MARK), `STS echoed a web identity token: ${q.text.slice(0, 300)}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the log is written at the end of its event-loop turn
    assert.ok(cellar.output.some((l) => l.includes('"msg":"request"')), 'requests were logged');
    assert.deepEqual(cellar.output.filter((l) => l.includes(MARK)), [], 'no log line carries a sensitive value');
  });
});
