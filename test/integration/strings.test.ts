/**
 * Strings are what the client sent: a lone UTF-16 surrogate or bytes that are not UTF-8 are refused rather than
 * turned into U+FFFD, so two distinct keys can never become one item. Well-formed text of every plane round-trips.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient, CreateTableCommand, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall, queryCall } from '../helpers/sign.js';

describe('strings as sent', () => {
  let cellar: CellarProcess;
  let ddb: DynamoDBClient;
  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
    ddb = new DynamoDBClient(sdkConfig(cellar.endpoint));
    await ddb.send(new CreateTableCommand({ TableName: 'strings', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  const put = (body: string | Buffer) => jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.PutItem', body);

  it('a lone surrogate, high or low, in a key or a value is a SerializationException; nothing is stored', async () => {
    for (const text of ['{"TableName":"strings","Item":{"pk":{"S":"\\ud800"}}}', '{"TableName":"strings","Item":{"pk":{"S":"a\\udfffb"}}}', '{"TableName":"strings","Item":{"pk":{"S":"k"},"v":{"S":"\\udbff"}}}', '{"TableName":"strings","Item":{"pk":{"S":"k"},"\\ud800":{"S":"v"}}}']) {
      const r = await put(text);
      assert.equal(r.status, 400, text);
      assert.equal(r.json.__type, 'com.amazon.coral.service#SerializationException', text);
    }
    assert.equal((await ddb.send(new ScanCommand({ TableName: 'strings' }))).Count, 0);
  });

  it('a body that is not UTF-8 is a SerializationException', async () => {
    const r = await put(Buffer.concat([Buffer.from('{"TableName":"strings","Item":{"pk":{"S":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}}')]));
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'com.amazon.coral.service#SerializationException');
    const q = await queryCall(cellar.endpoint, 'sts', { Action: 'GetCallerIdentity', Version: '2011-06-15' }, { query: { Bogus: '\ufffd' } });
    assert.equal(q.status, 200, 'a percent-encoded U+FFFD is real text');
  });

  it('U+FFFD, a surrogate pair (escaped or raw) and text of every plane are distinct keys that round-trip', async () => {
    const keys = ['\ufffd', '\ud83d\ude00', '😀x', 'ä', 'A\u0000B', '\u{10ffff}', '?'];
    for (const k of keys) await ddb.send(new PutItemCommand({ TableName: 'strings', Item: { pk: { S: k }, v: { S: k } } }));
    // The same emoji sent as an escaped pair names the same item as the raw one.
    const escaped = await put('{"TableName":"strings","Item":{"pk":{"S":"\\ud83d\\ude00"},"v":{"S":"escaped"}}}');
    assert.equal(escaped.status, 200);
    for (const k of keys) {
      const item = (await ddb.send(new GetItemCommand({ TableName: 'strings', Key: { pk: { S: k } } }))).Item;
      assert.equal(item?.pk?.S, k);
    }
    assert.equal((await ddb.send(new ScanCommand({ TableName: 'strings' }))).Count, keys.length, 'one item per distinct key (the escaped emoji is the raw one)');
  });
});
