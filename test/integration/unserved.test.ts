/**
 * A service or operation Cellar does not serve answers in the protocol its SDK speaks, so the official clients
 * report AWS's error for an unknown operation instead of failing to parse the answer: awsJson (an unknown
 * X-Amz-Target), awsQuery (ElastiCache), rest-json (Lambda), rest-xml (S3).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ElastiCacheClient, DescribeCacheClustersCommand } from '@aws-sdk/client-elasticache';
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { S3Client, ListBucketsCommand } from '@aws-sdk/client-s3';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { jsonCall, send } from '../helpers/sign.js';

describe('requests for services and operations Cellar does not serve', () => {
  let cellar: CellarProcess;
  before(async () => {
    cellar = await startCellar({ inMemory: true, args: ['--quiet'] });
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  /** The SDK parsed the answer as a service error (no deserialization failure) with this name and a 4xx. */
  const parsedAs = (name: RegExp) => (e: any) => {
    assert.match(String(e.name), name, `${e.name}: ${e.message}`);
    assert.ok(e.$metadata?.httpStatusCode >= 400 && e.$metadata.httpStatusCode < 500, `status ${e.$metadata?.httpStatusCode}`);
    assert.doesNotMatch(String(e.message), /Deserialization|Unexpected token|char 0|not valid JSON|Expected closing tag/i);
    return true;
  };

  it('awsJson: a service Cellar does not serve (SQS) answers UnknownOperationException', async () => {
    const r = await jsonCall(cellar.endpoint, 'sqs', 'AmazonSQS.ListQueues', '{}');
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('x-amzn-errortype'), 'UnknownOperationException');
  });

  it('awsQuery: ElastiCache answers InvalidAction in XML', async () => {
    const ec = new ElastiCacheClient(sdkConfig(cellar.endpoint));
    await assert.rejects(ec.send(new DescribeCacheClustersCommand({})), parsedAs(/^InvalidAction$/));
  });

  it('rest-json: Lambda answers UnknownOperationException', async () => {
    const lambda = new LambdaClient(sdkConfig(cellar.endpoint));
    await assert.rejects(lambda.send(new ListFunctionsCommand({})), parsedAs(/^UnknownOperationException$/));
  });

  it('rest-xml: S3 answers in its own XML error shape', async () => {
    const s3 = new S3Client({ ...sdkConfig(cellar.endpoint), forcePathStyle: true });
    await assert.rejects(s3.send(new ListBucketsCommand({})), parsedAs(/^UnknownOperationException$/));
  });

  it('an unknown operation of a served JSON service, and an unknown target prefix', async () => {
    const r = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.NoSuchOperation', '{}');
    assert.equal(r.status, 400);
    assert.equal(r.json.__type, 'com.amazon.coral.service#UnknownOperationException');
    const other = await jsonCall(cellar.endpoint, 'dynamodb', 'NoSuchService_20991231.Op', '{}');
    assert.equal(other.status, 400);
    assert.equal(other.json.__type, 'com.amazon.coral.service#UnknownOperationException');
    assert.equal(other.headers.get('x-amzn-errortype'), 'UnknownOperationException');
  });
  /** A raw request with no signature at all, as dynalite's connection suite sends them. */
  const unsigned = (target: string, version = '1.0') =>
    send(new Request(`${cellar.endpoint}/`, { method: 'POST', body: '{}', headers: { 'x-amz-target': target, 'content-type': `application/x-amz-json-${version}` } }));

  it('DynamoDB answers an operation it does not have before it checks the signature; other services authenticate first', async () => {
    // dynalite's connection suite (recorded on AWS): 'DynamoDB_20120810.ListTable' unsigned is UnknownOperationException.
    const unknown = await unsigned('DynamoDB_20120810.ListTable');
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.__type, 'com.amazon.coral.service#UnknownOperationException');
    assert.equal(unknown.json.message, undefined);
    // A signature that does not verify changes nothing either.
    const badlySigned = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.ListTable', '{}', { secretAccessKey: 'not-the-secret' });
    assert.equal(badlySigned.status, 400);
    assert.equal(badlySigned.json.__type, 'com.amazon.coral.service#UnknownOperationException');
    // An operation of DynamoDB's that Cellar does not serve is answered the same way (global tables' auto scaling).
    const unserved = await unsigned('DynamoDB_20120810.UpdateTableReplicaAutoScaling');
    assert.equal(unserved.status, 400);
    assert.equal(unserved.json.__type, 'com.amazon.coral.service#UnknownOperationException');
    // An operation DynamoDB has still needs the signature first (dynalite: unsigned ListTables).
    const known = await unsigned('DynamoDB_20120810.ListTables');
    assert.equal(known.status, 400);
    assert.match(String(known.json.__type), /MissingAuthenticationTokenException$/);
    assert.equal(known.json.message, 'Request is missing Authentication Token');
    const knownBadlySigned = await jsonCall(cellar.endpoint, 'dynamodb', 'DynamoDB_20120810.ListTables', '{}', { secretAccessKey: 'not-the-secret' });
    assert.equal(knownBadlySigned.status, 400);
    assert.match(String(knownBadlySigned.json.__type), /InvalidSignatureException$/);
    // KMS keeps its order: the signature is checked before the operation.
    const kms = await unsigned('TrentService.NoSuchThing', '1.1');
    assert.equal(kms.status, 400);
    assert.match(String(kms.json.__type), /MissingAuthenticationTokenException$/);
  });
});
