import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/protocols/model.js';
import { base64Problem, formatProblems, validateShape, TypeMismatch, type ValidationProblem } from '../../src/protocols/validate.js';
import { QueryProtocol } from '../../src/protocols/query.js';
import { JsonProtocol } from '../../src/protocols/json.js';
import { ServiceError } from '../../src/core/errors.js';
import type { WireRequest } from '../../src/protocols/types.js';

function wire(body: string, headers: Record<string, string> = {}): WireRequest {
  return { method: 'POST', path: '/', query: new URLSearchParams(), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: Buffer.from(body) };
}

describe('model-driven validation', () => {
  const kms = loadModel('kms');
  it('reports every problem in AWS wording and order', () => {
    const problems: ValidationProblem[] = [];
    validateShape(kms, 'EncryptRequest', { KeyId: 'x'.repeat(2049), EncryptionAlgorithm: 'ROT13' }, '', problems);
    assert.equal(
      formatProblems(problems),
      "3 validation errors detected: Value null at 'plaintext' failed to satisfy constraint: Member must not be null; " +
        `Value '${'x'.repeat(2049)}' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048; ` +
        "Value 'ROT13' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
    );
  });
  it('throws TypeMismatch for a value of the wrong JSON type', () => {
    assert.throws(() => validateShape(kms, 'GenerateRandomRequest', { NumberOfBytes: '3' }, '', []), TypeMismatch);
    assert.throws(() => validateShape(kms, 'GenerateRandomRequest', { NumberOfBytes: 1.5 }, '', []), TypeMismatch);
  });
  it('names list items as .N.member, 1-based', () => {
    const problems: ValidationProblem[] = [];
    validateShape(kms, 'CreateKeyRequest', { Tags: [{ TagKey: 'a', TagValue: 'b' }, { TagKey: '', TagValue: 'c' }] }, '', problems);
    assert.equal(problems[0]!.path, 'tags.2.member.tagKey');
  });
  it('drops explicit nulls as absent members', () => {
    const input: Record<string, unknown> = { KeyId: 'k', Plaintext: 'aGk=', EncryptionContext: null };
    validateShape(kms, 'EncryptRequest', input, '', []);
    assert.ok(!('EncryptionContext' in input));
  });
});

describe('awsQuery codec', () => {
  const rds = loadModel('rds');
  const sts = loadModel('sts');
  const q = new QueryProtocol({ validationCode: 'ValidationError' });
  it('decodes locationName lists, nested structures, numbers and booleans', () => {
    const body = 'Action=CreateDBInstance&Version=2014-10-31&DBInstanceIdentifier=db1&DBInstanceClass=db.t3.micro&Engine=postgres&AllocatedStorage=20&MultiAZ=true' +
      '&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-1&VpcSecurityGroupIds.VpcSecurityGroupId.2=sg-2&Tags.Tag.1.Key=env&Tags.Tag.1.Value=dev';
    const input = q.parseInput(wire(body), rds, rds.operations.get('CreateDBInstance')!) as any;
    assert.equal(input.DBInstanceIdentifier, 'db1');
    assert.equal(input.AllocatedStorage, 20);
    assert.equal(input.MultiAZ, true);
    assert.deepEqual(input.VpcSecurityGroupIds, ['sg-1', 'sg-2']);
    assert.deepEqual(input.Tags, [{ Key: 'env', Value: 'dev' }]);
  });
  it('splitting the form body at any offset never crashes: it parses or gives a service error', () => {
    const body = 'Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=abc&DurationSeconds=900';
    for (let i = 0; i <= body.length; i++) {
      try {
        q.parseInput(wire(body.slice(0, i)), sts, sts.operations.get('AssumeRole')!);
      } catch (e) {
        assert.ok(e instanceof ServiceError, `offset ${i}: ${e}`);
      }
    }
  });
  it('a non-numeric integer is a validation error, not a crash', () => {
    assert.throws(() => q.parseInput(wire('Action=AssumeRole&RoleArn=arn:aws:iam::123456789012:role/r&RoleSessionName=abc&DurationSeconds=lots'), sts, sts.operations.get('AssumeRole')!), (e: any) => e instanceof ServiceError && e.code === 'ValidationError');
  });
  it('serializes output with the result wrapper, list member names and ISO timestamps', () => {
    const out = q.serializeOutput(sts, sts.operations.get('AssumeRole')!, { Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) } }, 'rid');
    const xml = String(out.body);
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<AssumeRoleResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><AssumeRoleResult><Credentials><AccessKeyId>ASIA<\/AccessKeyId>/);
    assert.match(xml, /<Expiration>2026-01-02T03:04:05.000Z<\/Expiration>/);
    assert.match(xml, /<ResponseMetadata><RequestId>rid<\/RequestId><\/ResponseMetadata>/);
    const rds2 = q.serializeOutput(rds, rds.operations.get('DescribeDBInstances')!, { DBInstances: [{ DBInstanceIdentifier: 'a', VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg', Status: 'active' }] }] }, 'r');
    assert.match(String(rds2.body), /<DBInstances><DBInstance><DBInstanceIdentifier>a<\/DBInstanceIdentifier><VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg<\/VpcSecurityGroupId>/);
  });
  it('escapes XML special characters in values', () => {
    const out = q.serializeError(sts, new ServiceError('ValidationError', 'a <b> & "c"'), 'rid');
    assert.match(String(out.body), /<Message>a &lt;b&gt; &amp; &quot;c&quot;<\/Message>/);
  });
});

describe('awsJson codec', () => {
  const kms = loadModel('kms');
  const p = new JsonProtocol('awsJson1_1', { typePrefix: '', validationTypePrefix: '', messageKey: 'message', crc32: false });
  it('serializes bytes as base64 and dates as epoch seconds', () => {
    const out = p.serializeOutput(kms, kms.operations.get('GenerateRandom')!, { Plaintext: Buffer.from('hi'), When: new Date(1500) }, 'r');
    assert.deepEqual(JSON.parse(String(out.body)), { Plaintext: 'aGk=', When: 1.5 });
  });
  it('splitting a JSON body at any offset gives a parse or a service error, never a crash', () => {
    const body = JSON.stringify({ KeyId: 'alias/x', Plaintext: 'aGk=', EncryptionContext: { a: 'b' } });
    for (let i = 0; i <= body.length; i++) {
      try {
        p.parseInput(wire(body.slice(0, i)), kms, kms.operations.get('Encrypt')!);
      } catch (e) {
        assert.ok(e instanceof ServiceError, `offset ${i}: ${e}`);
      }
    }
  });
  it('refuses a blob that is not base64 as AWS\'s parser does (SerializationException), and never echoes a sensitive one', () => {
    const encrypt = kms.operations.get('Encrypt')!;
    const refused = (plaintext: string) => {
      try {
        p.parseInput(wire(JSON.stringify({ KeyId: 'alias/x', Plaintext: plaintext })), kms, encrypt);
      } catch (e) {
        assert.ok(e instanceof ServiceError);
        return [e.code, e.message];
      }
      return undefined;
    };
    assert.deepEqual(refused('SENSITIVE!!'), ['SerializationException', 'Base64 encoded length is expected a multiple of 4 bytes but found: 11']);
    assert.deepEqual(refused('SECRET!!'), ['SerializationException', 'Invalid Base64 character'], 'the character of a sensitive member is not echoed');
    assert.deepEqual(refused('aGl='), ['SerializationException', 'Invalid last non-pad Base64 character dectected']);
    assert.deepEqual(refused('a==='), ['SerializationException', 'Invalid Base64 character']);
    assert.equal(refused('aGk='), undefined);
    assert.equal(refused('aGVsbG8gd29ybGQh'), undefined);
    // Not sensitive: the character is named, as Coral names it.
    assert.equal(base64Problem('ab c'), "Invalid Base64 character: ' '");
    assert.equal(base64Problem('abc'), 'Base64 encoded length is expected a multiple of 4 bytes but found: 3');
    assert.equal(base64Problem(''), undefined);
    for (let n = 0; n < 40; n++) assert.equal(base64Problem(Buffer.alloc(n, n).toString('base64')), undefined, `${n} bytes`);
  });
});
