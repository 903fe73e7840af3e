/**
 * Pure units of the trust layer: the account-and-region scope and ARN parsing (core/scope.ts), IAM resource-policy
 * evaluation (auth/policy.ts), and the text checks that keep distinct strings distinct (protocols/text.ts).
 * Properties run with fast-check; a failure prints its seed and path for replay.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRegionName, parseArn, Scope } from '../../src/core/scope.js';
import { evaluatePolicy, principalMatches, wildcardMatch } from '../../src/auth/policy.js';
import { checkSurrogateEscapes, MalformedText, utf8Text } from '../../src/protocols/text.js';

const ACCOUNT = fc.stringMatching(/^\d{12}$/);
const REGION = fc.constantFrom('us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-2', 'ap-southeast-5', 'us-gov-west-1', 'cn-north-1', 'us-isob-east-1', 'il-central-1');

describe('Scope', () => {
  it('accepts region names and refuses anything that could reach another key or a path', () => {
    for (const r of ['us-east-1', 'eu-west-3', 'us-gov-east-1', 'cn-northwest-1', 'ap-southeast-5', 'us-isob-east-1', 'mx-central-1']) assert.ok(isRegionName(r), r);
    for (const r of ['', '..', '.', 'us-east-1/..', '../us-east-1', 'US-EAST-1', 'us-east', 'us_east_1', 'us-east-1 ', 'us-east-1\u0000', 'us-east-1\n', 'x'.repeat(40) + '-1', 'local']) assert.ok(!isRegionName(r), JSON.stringify(r));
    assert.throws(() => Scope.ofCaller('000000000000', '..'));
    assert.throws(() => Scope.ofCaller('0000', 'us-east-1'));
    assert.throws(() => Scope.ofCaller('00000000000a', 'us-east-1'));
  });

  it('distinct scopes and names never share a key', () => {
    fc.assert(
      fc.property(ACCOUNT, REGION, fc.string(), ACCOUNT, REGION, fc.string(), (a1, r1, n1, a2, r2, n2) => {
        const k1 = Scope.ofCaller(a1, r1).key(n1);
        const k2 = Scope.ofCaller(a2, r2).key(n2);
        assert.equal(k1 === k2, a1 === a2 && r1 === r2 && n1 === n2);
      }),
    );
  });

  it('owns only ARNs of its own partition, service, region and account', () => {
    const s = Scope.ofCaller('111111111111', 'us-east-1');
    const arn = (text: string) => parseArn(text)!;
    assert.ok(s.owns(arn('arn:aws:kms:us-east-1:111111111111:key/abc'), 'kms'));
    assert.ok(!s.owns(arn('arn:aws:kms:us-east-1:222222222222:key/abc'), 'kms'));
    assert.ok(!s.owns(arn('arn:aws:kms:eu-west-1:111111111111:key/abc'), 'kms'));
    assert.ok(!s.owns(arn('arn:aws-cn:kms:us-east-1:111111111111:key/abc'), 'kms'));
    assert.ok(!s.owns(arn('arn:aws:secretsmanager:us-east-1:111111111111:secret:abc'), 'kms'));
    assert.deepEqual(parseArn('arn:aws:secretsmanager:us-east-1:111111111111:secret:a:b:c'), { partition: 'aws', service: 'secretsmanager', region: 'us-east-1', accountId: '111111111111', resource: 'secret:a:b:c' });
    for (const bad of ['arn:aws:kms', 'arn:aws:kms:us-east-1:1:', 'nope:aws:kms:r:a:b', 'arn:AWS:kms:r:a:b', 'arn:aws:KMS:r:a:b', `arn:aws:kms:r:a:${'x'.repeat(3000)}`]) assert.equal(parseArn(bad), undefined, bad);
  });
});

describe('resource policy evaluation', () => {
  const other = { accountId: '222222222222', arn: 'arn:aws:iam::222222222222:root' };
  const alice = { accountId: '222222222222', arn: 'arn:aws:iam::222222222222:user/alice' };
  const session = { accountId: '222222222222', arn: 'arn:aws:sts::222222222222:assumed-role/app/session-1' };
  const doc = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
  const req = (principal = other, action = 'secretsmanager:GetSecretValue', context: Record<string, string | string[]> = {}) => ({ principal, action, resource: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:s-AbCdEf', context });

  it('matches principals as AWS does: account, root, user, role sessions, everyone', () => {
    assert.ok(principalMatches({ AWS: '222222222222' }, alice));
    assert.ok(principalMatches({ AWS: 'arn:aws:iam::222222222222:root' }, session));
    assert.ok(principalMatches({ AWS: 'arn:aws:iam::222222222222:user/alice' }, alice));
    assert.ok(!principalMatches({ AWS: 'arn:aws:iam::222222222222:user/alice' }, other));
    assert.ok(principalMatches({ AWS: 'arn:aws:iam::222222222222:role/app' }, session));
    assert.ok(principalMatches({ AWS: 'arn:aws:iam::222222222222:role/path/app' }, session));
    assert.ok(!principalMatches({ AWS: 'arn:aws:iam::222222222222:role/other' }, session));
    assert.ok(!principalMatches({ AWS: 'arn:aws:iam::333333333333:root' }, other));
    assert.ok(principalMatches('*', other));
    assert.ok(principalMatches({ AWS: ['333333333333', '*'] }, other));
    assert.ok(!principalMatches({ Service: 'lambda.amazonaws.com' }, other));
  });

  it('an explicit Deny wins, an Allow allows, silence denies', () => {
    const allow = { Effect: 'Allow', Principal: { AWS: '222222222222' }, Action: 'secretsmanager:Get*', Resource: '*' };
    assert.equal(evaluatePolicy(doc(allow), req()), 'allow');
    assert.equal(evaluatePolicy(doc(allow), req(other, 'secretsmanager:PutSecretValue')), 'implicit-deny');
    assert.equal(evaluatePolicy(doc(allow, { Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' }), req()), 'deny');
    assert.equal(evaluatePolicy(doc({ ...allow, Action: 'SecretsManager:GETSECRETVALUE' }), req()), 'allow', 'actions compare without case');
    assert.equal(evaluatePolicy(doc({ Effect: 'Allow', Principal: '*', NotAction: 'secretsmanager:Delete*', Resource: '*' }), req(other, 'secretsmanager:DeleteSecret')), 'implicit-deny');
    assert.equal(evaluatePolicy(doc({ Effect: 'Allow', Principal: '*', Action: '*', NotResource: 'arn:aws:secretsmanager:*:*:secret:s-*' }), req()), 'implicit-deny');
    assert.equal(evaluatePolicy(undefined, req()), 'implicit-deny');
    assert.equal(evaluatePolicy('not json', req()), 'implicit-deny');
    assert.equal(evaluatePolicy(doc({ Effect: 'Allow', Action: '*', Resource: '*' }), req()), 'implicit-deny', 'a statement without a principal applies to no one');
  });

  it('conditions: operators, IfExists, Null, negation on absent keys, set qualifiers; unknown operators never widen access', () => {
    const withCondition = (Condition: object) => doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*', Condition });
    const via = { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' };
    assert.equal(evaluatePolicy(withCondition({ StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } }), req(other, 'kms:Decrypt', via)), 'allow');
    assert.equal(evaluatePolicy(withCondition({ StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } }), req(other, 'kms:Decrypt')), 'implicit-deny');
    assert.equal(evaluatePolicy(withCondition({ StringEqualsIfExists: { 'kms:ViaService': 'x' } }), req(other, 'kms:Decrypt')), 'allow');
    assert.equal(evaluatePolicy(withCondition({ StringNotEquals: { 'kms:ViaService': 'x' } }), req(other, 'kms:Decrypt')), 'allow', 'a negated operator matches an absent key');
    assert.equal(evaluatePolicy(withCondition({ StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } }), req(other, 'kms:Decrypt', via)), 'allow');
    assert.equal(evaluatePolicy(withCondition({ StringEquals: { 'aws:PrincipalAccount': '222222222222' } }), req()), 'allow');
    assert.equal(evaluatePolicy(withCondition({ StringEquals: { 'kms:CallerAccount': '111111111111' } }), req(other, 'kms:Decrypt', { 'kms:CallerAccount': '222222222222' })), 'implicit-deny');
    assert.equal(evaluatePolicy(withCondition({ Null: { 'kms:ViaService': 'true' } }), req(other, 'kms:Decrypt')), 'allow');
    assert.equal(evaluatePolicy(withCondition({ Null: { 'kms:ViaService': 'true' } }), req(other, 'kms:Decrypt', via)), 'implicit-deny');
    const keys = { 'kms:EncryptionContextKeys': ['app', 'env'] };
    assert.equal(evaluatePolicy(withCondition({ 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'env' } }), req(other, 'kms:Decrypt', keys)), 'allow');
    assert.equal(evaluatePolicy(withCondition({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['app'] } }), req(other, 'kms:Decrypt', keys)), 'implicit-deny');
    assert.equal(evaluatePolicy(withCondition({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['app', 'env', 'x'] } }), req(other, 'kms:Decrypt', keys)), 'allow');
    assert.equal(evaluatePolicy(withCondition({ NumericLessThan: { 'x:n': '10' } }), req(other, 'kms:Decrypt', { 'x:n': '9' })), 'allow');
    assert.equal(evaluatePolicy(withCondition({ SomeFutureOperator: { 'kms:ViaService': 'x' } }), req(other, 'kms:Decrypt', via)), 'implicit-deny');
    assert.equal(evaluatePolicy(doc({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*', Condition: { SomeFutureOperator: { a: 'b' } } }), req()), 'implicit-deny');
  });

  it("IAM's wildcards agree with a reference matcher on random patterns", () => {
    const chars = fc.constantFrom('a', 'b', ':', '/', '*', '?', '.');
    const reference = (p: string, v: string) => new RegExp('^' + p.replace(/[.+^${}()|[\]\\/:]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's').test(v);
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 12 }).map((a) => a.join('')), fc.array(fc.constantFrom('a', 'b', ':', '/', '.'), { maxLength: 14 }).map((a) => a.join('')), (p, v) => {
        assert.equal(wildcardMatch(p, v), reference(p, v), `${p} vs ${v}`);
      }),
    );
  });
});

describe('request text', () => {
  it('refuses exactly the JSON texts that escape a lone surrogate', () => {
    const reference = (s: string): boolean => {
      // Well-formed iff re-encoding every string through UTF-8 loses nothing.
      let ok = true;
      JSON.parse(s, (_k, v) => {
        if (typeof v === 'string' && Buffer.from(v, 'utf8').toString('utf8') !== v) ok = false;
        if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) if (Buffer.from(k, 'utf8').toString('utf8') !== k) ok = false;
        return v;
      });
      return ok;
    };
    const unit = fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 6 }), fc.boolean(), (units, asKey) => {
        const escaped = units.map((u) => `\\u${u.toString(16).padStart(4, '0')}`).join('');
        const text = asKey ? `{"${escaped}": 1}` : `{"k": "${escaped}"}`;
        let refused = false;
        try {
          checkSurrogateEscapes(text);
        } catch (e) {
          assert.ok(e instanceof MalformedText);
          refused = true;
        }
        assert.equal(refused, !reference(text), text);
      }),
      { numRuns: 2000 },
    );
    // Escaped backslashes are not escapes of a surrogate.
    checkSurrogateEscapes('{"k": "\\\\ud800"}');
    checkSurrogateEscapes('{"k": "\\ud83d\\ude00"}');
    assert.throws(() => checkSurrogateEscapes('{"k": "\\ud83d\\u0041"}'), MalformedText);
  });

  it('refuses bytes that are not UTF-8', () => {
    assert.equal(utf8Text(Buffer.from('héllo 💥')), 'héllo 💥');
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]]) assert.throws(() => utf8Text(Buffer.from(bad)), MalformedText);
  });
});
