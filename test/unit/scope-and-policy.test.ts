/**
 * Pure units of the trust layer: the account-and-region scope and ARN parsing (core/scope.ts), IAM resource-policy
 * evaluation (auth/policy.ts), and the text checks that keep distinct strings distinct (protocols/text.ts).
 * Properties run with fast-check; a failure prints its seed and path for replay.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isRegionName, parseArn, Scope } from '../../src/core/scope.js';
import { arnLike, evaluatePolicy, principalMatches, resourceTagKeys, wildcardMatch } from '../../src/auth/policy.js';
import { atLeastAsStrict } from '../../src/services/kms/provider.js';
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

  it('a principal ARN of another partition names no one here', () => {
    assert.ok(!principalMatches({ AWS: 'arn:aws-cn:iam::222222222222:root' }, other));
    assert.ok(!principalMatches({ AWS: 'arn:aws-us-gov:iam::222222222222:user/alice' }, alice));
    assert.ok(!principalMatches({ AWS: 'arn:aws-cn:iam::222222222222:role/app' }, session));
    assert.ok(!principalMatches({ AWS: 'arn:aws-cn:sts::222222222222:assumed-role/app/session-1' }, session));
    assert.ok(!principalMatches({ AWS: 'arn:aws:iam::222222222222:role/app' }, { accountId: '222222222222', arn: 'arn:aws-cn:sts::222222222222:assumed-role/app/session-1' }));
    assert.equal(evaluatePolicy(doc({ Effect: 'Allow', Principal: { AWS: 'arn:aws-cn:iam::222222222222:root' }, Action: '*', Resource: '*' }), req()), 'implicit-deny');
  });

  // IAM's documented outcomes (reference_policies_elements_condition_operators, reference_policies_multi-value-conditions,
  // and the tables of reference_policies_condition-single-vs-multi-valued-context-keys).
  it('conditions on a key absent from the request: plain false, negated true, IfExists true, ForAllValues true, ForAnyValue false, Null true', () => {
    const holds = (Condition: object, context: Record<string, string | string[]> = {}) => evaluatePolicy(doc({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*', Condition }), req(other, 'kms:Decrypt', context)) === 'deny';
    const absent: Array<[object, boolean]> = [
      [{ StringEquals: { 'x:k': 'a' } }, false],
      [{ StringNotEquals: { 'x:k': 'a' } }, true],
      [{ StringNotLike: { 'x:k': 'a*' } }, true],
      [{ ArnNotLike: { 'x:k': 'arn:aws:*:*:*:*' } }, true],
      [{ NumericNotEquals: { 'x:k': '1' } }, true],
      [{ StringEqualsIfExists: { 'x:k': 'a' } }, true],
      [{ StringNotEqualsIfExists: { 'x:k': 'a' } }, true],
      [{ 'ForAllValues:StringEquals': { 'x:k': 'a' } }, true],
      [{ 'ForAllValues:StringNotLike': { 'x:k': 'a*' } }, true],
      [{ 'ForAnyValue:StringEquals': { 'x:k': 'a' } }, false],
      [{ 'ForAnyValue:StringNotEquals': { 'x:k': 'a' } }, false],
      [{ 'ForAnyValue:StringNotLikeIfExists': { 'x:k': 'a*' } }, false],
      [{ Null: { 'x:k': 'true' } }, true],
      [{ Null: { 'x:k': 'false' } }, false],
      [{ Bool: { 'x:k': 'false' } }, false],
    ];
    for (const [condition, expected] of absent) assert.equal(holds(condition), expected, JSON.stringify(condition));
    // An empty set of values is as absent for the set qualifiers.
    assert.equal(holds({ 'ForAllValues:StringEquals': { 'x:k': 'a' } }, { 'x:k': [] }), true);
    assert.equal(holds({ 'ForAnyValue:StringNotEquals': { 'x:k': 'a' } }, { 'x:k': [] }), false);
    assert.equal(holds({ Null: { 'x:k': 'true' } }, { 'x:k': 'v' }), false);
  });

  it('ForAnyValue with a negated operator: some request value matches none of the policy values', () => {
    const deny = (Condition: object, keys: string[]) => evaluatePolicy(doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }, { Effect: 'Deny', Principal: '*', Action: '*', Resource: '*', Condition }), req(other, 'kms:Decrypt', { 'kms:EncryptionContextKeys': keys }));
    const notLike = { 'ForAnyValue:StringNotLike': { 'kms:EncryptionContextKeys': ['allowed'] } };
    assert.equal(deny(notLike, ['allowed', 'evil']), 'deny');
    assert.equal(deny(notLike, ['allowed']), 'allow');
    const notEquals = { 'ForAnyValue:StringNotEquals': { 'kms:EncryptionContextKeys': ['a', 'b'] } };
    assert.equal(deny(notEquals, ['a', 'b']), 'allow');
    assert.equal(deny(notEquals, ['Dept', 'a']), 'deny');
    // ForAllValues with a negated operator: no request value may match a policy value (the doc's key1* example).
    const allNotLike = { 'ForAllValues:StringNotLike': { 'kms:EncryptionContextKeys': 'key1*' } };
    assert.equal(deny(allNotLike, ['key1:legal']), 'allow');
    assert.equal(deny(allNotLike, ['key1:hr', 'key1:personnel']), 'allow');
    assert.equal(deny(allNotLike, ['key2:audit']), 'deny');
    // Several values under a plain single-valued operator are ORed, under a negated one NORed.
    const one = (Condition: object, v: string) => evaluatePolicy(doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*', Condition }), req(other, 'kms:Decrypt', { 'x:k': v }));
    assert.equal(one({ StringEquals: { 'x:k': ['a', 'b'] } }, 'b'), 'allow');
    assert.equal(one({ StringNotEquals: { 'x:k': ['a', 'b'] } }, 'b'), 'implicit-deny');
    assert.equal(one({ StringNotEquals: { 'x:k': ['a', 'b'] } }, 'c'), 'allow');
  });

  it('Arn operators match each of the six ARN parts on its own; dates take ISO 8601 or epoch seconds', () => {
    assert.ok(arnLike('arn:aws:someservice:*:111122223333:finance/*', 'arn:aws:someservice:us-east-2:111122223333:finance/doc.txt'));
    // IAM's own example: a StringLike match, not an ArnLike one.
    assert.ok(!arnLike('arn:aws:someservice:*:111122223333:finance/*', 'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt'));
    assert.ok(wildcardMatch('arn:aws:someservice:*:111122223333:finance/*', 'arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt'));
    assert.ok(arnLike('arn:aws:secretsmanager:*:*:secret:a:b*', 'arn:aws:secretsmanager:us-east-1:1:secret:a:bc'), 'the resource part keeps its colons');
    assert.ok(!arnLike('arn:aws:kms:*:*:key/*', 'not-an-arn'));
    const when = (Condition: object, t: string) => evaluatePolicy(doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*', Condition }), req(other, 'kms:Decrypt', { 'aws:CurrentTime': t }));
    assert.equal(when({ DateLessThan: { 'aws:CurrentTime': '2030-01-01T00:00:00Z' } }, '2029-12-31T23:59:59Z'), 'allow');
    assert.equal(when({ DateLessThan: { 'aws:CurrentTime': '1893456000' } }, '2029-12-31T23:59:59Z'), 'allow', '1893456000 s is 2030-01-01');
    assert.equal(when({ DateGreaterThan: { 'aws:CurrentTime': '1893456000' } }, '2029-12-31T23:59:59Z'), 'implicit-deny');
  });

  it('supplies the principal keys IAM derives: aws:PrincipalArn (the role of a session), aws:PrincipalType, aws:username', () => {
    const is = (Condition: object, principal = session) => evaluatePolicy(doc({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*', Condition }), req(principal)) === 'allow';
    assert.ok(is({ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::222222222222:role/app' } }));
    assert.ok(!is({ ArnEquals: { 'aws:PrincipalArn': 'arn:aws:sts::222222222222:assumed-role/app/session-1' } }));
    assert.ok(is({ StringEquals: { 'aws:PrincipalType': 'AssumedRole' } }));
    assert.ok(is({ StringEquals: { 'aws:PrincipalType': 'Account' } }, other));
    assert.ok(is({ StringEquals: { 'aws:PrincipalType': 'User', 'aws:username': 'alice' } }, alice));
    assert.ok(is({ StringEquals: { 'aws:PrincipalAccount': '222222222222' } }));
    assert.deepEqual(resourceTagKeys([{ Key: 'env', Value: 'prod' }], 'secretsmanager'), { 'aws:ResourceTag/env': 'prod', 'secretsmanager:ResourceTag/env': 'prod' });
  });

  it('KMS: a child grant constraint is at least as strict as its parent only as KMS documents', () => {
    const subset = (c: Record<string, string>) => ({ EncryptionContextSubset: c });
    const equals = (c: Record<string, string>) => ({ EncryptionContextEquals: c });
    assert.ok(atLeastAsStrict(undefined, undefined));
    assert.ok(atLeastAsStrict(subset({ a: '1' }), undefined));
    assert.ok(!atLeastAsStrict(undefined, subset({ d: 'IT' })), 'a constraint cannot be dropped');
    assert.ok(atLeastAsStrict(subset({ d: 'IT' }), subset({ d: 'IT' })));
    assert.ok(atLeastAsStrict(subset({ d: 'IT', p: 'x' }), subset({ d: 'IT' })), 'pairs may be added');
    assert.ok(!atLeastAsStrict(subset({ p: 'x' }), subset({ d: 'IT', p: 'x' })), 'pairs may not be removed');
    assert.ok(!atLeastAsStrict(subset({ d: 'HR' }), subset({ d: 'IT' })));
    assert.ok(atLeastAsStrict(equals({ d: 'IT' }), subset({ d: 'IT' })), 'Subset to Equals');
    assert.ok(!atLeastAsStrict(subset({ d: 'IT' }), equals({ d: 'IT' })), 'not Equals to Subset');
    assert.ok(atLeastAsStrict(equals({ d: 'IT' }), equals({ d: 'IT' })));
    assert.ok(!atLeastAsStrict(equals({ d: 'IT', p: 'x' }), equals({ d: 'IT' })), 'Equals is exact');
    assert.ok(!atLeastAsStrict(subset({ toString: 'x' }), subset({ constructor: 'y' })));
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
