/**
 * @module auth/policy
 * Evaluates AWS IAM policy documents of the resource kind (a Secrets Manager resource policy, a KMS key policy)
 * against one request: who asks (the principal), for what (the action), on what (the resource ARN), with which
 * request context keys (aws:PrincipalAccount, kms:CallerAccount, kms:ViaService, kms:EncryptionContext:*, ...).
 *
 * The logic is AWS's policy evaluation for one resource-based policy:
 *   - an explicit Deny in any matching statement wins;
 *   - otherwise an Allow in a matching statement allows;
 *   - otherwise the request is implicitly denied.
 * A statement matches when its Principal/NotPrincipal, Action/NotAction, Resource/NotResource and every Condition
 * match. Cellar does not model IAM identity policies: every principal's own account lets it do everything, so a
 * resource policy is what decides across accounts, and an explicit Deny is what can refuse within one.
 *
 * Principal forms: "*", {"AWS": "*"}, an account id, `arn:aws:iam::<acct>:root` (any principal of that account),
 * an IAM user or role ARN (a role also matches its assumed-role sessions), an STS assumed-role session ARN; an ARN
 * of another partition (`arn:aws-cn:…`) names no one here.
 * Condition operators: the String*, Arn*, Numeric*, Date*, Bool and Null families, with `...IfExists` and the
 * `ForAnyValue:`/`ForAllValues:` set qualifiers, evaluated as IAM documents them (reference_policies_elements_
 * condition_operators, reference_policies_multi-value-conditions):
 *   - a key absent from the request context: a plain operator is false, a negated one (StringNotEquals,
 *     ArnNotLike …) true, `...IfExists` true, `ForAllValues:` true (with any operator), `ForAnyValue:` false (with any
 *     operator, IfExists or not); `Null` tests presence itself;
 *   - several policy values for one key are ORed, and a negated operator NORs them: it holds for a request value
 *     that matches none of them; `ForAnyValue:` needs one request value to hold, `ForAllValues:` every one;
 *   - the Arn operators match each of the six colon-separated parts of the ARN on its own.
 * An operator Cellar does not know makes its statement not match (for an Allow: no access; for a Deny: no denial),
 * so an unknown condition never widens access by itself.
 * Pure: no I/O.
 */
import { PARTITION } from '../core/scope.js';

export interface PolicyPrincipal {
  accountId: string;
  /** `arn:aws:iam::<acct>:root`, `arn:aws:iam::<acct>:user/<name>`, `arn:aws:sts::<acct>:assumed-role/<role>/<session>`. */
  arn: string;
}

export interface PolicyRequest {
  principal: PolicyPrincipal;
  /** `service:Action`, e.g. `secretsmanager:GetSecretValue`. */
  action: string;
  /** The resource's ARN. */
  resource: string;
  /**
   * Request context keys (names compared case-insensitively, as IAM does); multi-valued keys are arrays. A function
   * is a value worked out only when a condition asks for it (kms:ResourceAliases reads the alias table).
   */
  context?: Record<string, ContextValue | (() => ContextValue)>;
}

export type ContextValue = string | string[] | undefined;

export type PolicyDecision = 'allow' | 'deny' | 'implicit-deny';

interface Statement {
  Effect?: unknown;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: unknown;
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
}

/** Bounds on what one evaluation walks: a policy document is user input. */
const MAX_STATEMENTS = 256;
const MAX_VALUES = 1024;

function list(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).slice(0, MAX_VALUES);
}

/** Decides one request under one policy document; a document that is not valid JSON decides nothing (implicit deny). */
export function evaluatePolicy(policyText: string | undefined, req: PolicyRequest): PolicyDecision {
  if (!policyText) return 'implicit-deny';
  let doc: unknown;
  try {
    doc = JSON.parse(policyText);
  } catch {
    return 'implicit-deny';
  }
  if (typeof doc !== 'object' || doc === null) return 'implicit-deny';
  const statements = list((doc as { Statement?: unknown }).Statement).slice(0, MAX_STATEMENTS);
  let allowed = false;
  for (const raw of statements) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) continue;
    const st = raw as Statement;
    if (!statementMatches(st, req)) continue;
    if (st.Effect === 'Deny') return 'deny';
    if (st.Effect === 'Allow') allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}

function statementMatches(st: Statement, req: PolicyRequest): boolean {
  if (st.Principal !== undefined) {
    if (!principalMatches(st.Principal, req.principal)) return false;
  } else if (st.NotPrincipal !== undefined) {
    if (principalMatches(st.NotPrincipal, req.principal)) return false;
  } else return false; // a resource policy statement without a principal applies to no one
  if (st.Action !== undefined) {
    if (!list(st.Action).some((a) => typeof a === 'string' && wildcardMatch(a.toLowerCase(), req.action.toLowerCase()))) return false;
  } else if (st.NotAction !== undefined) {
    if (list(st.NotAction).some((a) => typeof a === 'string' && wildcardMatch(a.toLowerCase(), req.action.toLowerCase()))) return false;
  } else return false;
  if (st.Resource !== undefined) {
    if (!list(st.Resource).some((r) => typeof r === 'string' && wildcardMatch(r, req.resource))) return false;
  } else if (st.NotResource !== undefined) {
    if (list(st.NotResource).some((r) => typeof r === 'string' && wildcardMatch(r, req.resource))) return false;
  }
  // A resource policy may leave Resource out (it is implied by what the policy is attached to).
  return conditionsMatch(st.Condition, req);
}

/** Whether a Principal element names the requesting principal. */
export function principalMatches(element: unknown, p: PolicyPrincipal): boolean {
  if (element === '*') return true;
  if (typeof element !== 'object' || element === null || Array.isArray(element)) return false;
  for (const v of list((element as { AWS?: unknown }).AWS)) {
    if (typeof v !== 'string') continue;
    if (v === '*') return true;
    if (/^\d{12}$/.test(v)) {
      if (v === p.accountId) return true;
      continue;
    }
    const m = /^arn:([\w-]+):iam::(\d{12}):(.+)$/.exec(v);
    if (m) {
      const [, partition, account, resource] = m as unknown as [string, string, string, string];
      // Principals are of Cellar's partition: an `arn:aws-cn:` or `arn:aws-us-gov:` principal is someone else.
      if (partition !== PARTITION || account !== p.accountId) continue;
      if (resource === 'root') return true;
      if (v === p.arn) return true;
      // A role ARN names every session of that role: arn:aws:sts::<acct>:assumed-role/<role>/<session>.
      const role = /^role\/(?:.*\/)?([^/]+)$/.exec(resource);
      const session = sessionOf(p.arn);
      if (role && session && session.account === account && session.role === role[1]) return true;
      continue;
    }
    if (v === p.arn) return true;
  }
  return false;
}

/** The role and account of an STS assumed-role session ARN of Cellar's partition. */
function sessionOf(arn: string): { account: string; role: string; session: string } | undefined {
  const m = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/([^/]+)$/.exec(arn);
  if (!m || m[1] !== PARTITION) return undefined;
  return { account: m[2]!, role: m[3]!, session: m[4]! };
}

/**
 * The global condition keys IAM derives from the principal alone: aws:PrincipalAccount, aws:PrincipalArn (for an
 * assumed-role session the role's ARN, as IAM documents), aws:PrincipalType, aws:username (IAM users),
 * aws:PrincipalIsAWSService.
 */
function principalKey(lowerKey: string, p: PolicyPrincipal): string | undefined {
  const session = sessionOf(p.arn);
  switch (lowerKey) {
    case 'aws:principalaccount':
      return p.accountId;
    case 'aws:principalarn':
      return session ? `arn:${PARTITION}:iam::${session.account}:role/${session.role}` : p.arn;
    case 'aws:principaltype':
      if (session) return 'AssumedRole';
      if (/:root$/.test(p.arn)) return 'Account';
      if (/^arn:[\w-]+:iam::\d{12}:user\//.test(p.arn)) return 'User';
      return undefined;
    case 'aws:username': {
      const m = /^arn:[\w-]+:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(p.arn);
      return m ? m[1] : undefined;
    }
    case 'aws:principalisawsservice':
      return 'false';
    default:
      return undefined;
  }
}

/**
 * The request-wide global condition keys every service supplies: aws:CurrentTime, aws:EpochTime,
 * aws:RequestedRegion, aws:SecureTransport (Cellar serves plain HTTP).
 */
export function requestKeys(nowMs: number, region: string): Record<string, string> {
  return {
    'aws:CurrentTime': new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'aws:EpochTime': String(Math.floor(nowMs / 1000)),
    'aws:RequestedRegion': region,
    'aws:SecureTransport': 'false',
  };
}

/** aws:ResourceTag/<key> (and the service's own `<service>:ResourceTag/<key>`) for a resource's tags. */
export function resourceTagKeys(tags: Record<string, string> | Array<{ Key?: string; Value?: string }>, servicePrefix?: string): Record<string, string> {
  const out: Record<string, string> = {};
  const pairs = Array.isArray(tags) ? tags.map((t) => [t.Key ?? '', t.Value ?? ''] as const) : Object.entries(tags);
  for (const [k, v] of pairs) {
    out[`aws:ResourceTag/${k}`] = v;
    if (servicePrefix) out[`${servicePrefix}:ResourceTag/${k}`] = v;
  }
  return out;
}

/** IAM's `*` (any run) and `?` (any one character) wildcards; everything else literal. */
export function wildcardMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  // Iterative glob match with backtracking to the last `*`: linear-ish, no regex built from user input.
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === value[v])) {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = v;
    } else if (star >= 0) {
      p = star + 1;
      v = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

function contextValues(req: PolicyRequest, key: string): string[] | undefined {
  const ctx = req.context ?? {};
  const lower = key.toLowerCase();
  let found: ContextValue;
  for (const k of Object.keys(ctx)) {
    if (k.toLowerCase() === lower) {
      const v = ctx[k];
      found = typeof v === 'function' ? v() : v;
      break;
    }
  }
  found ??= principalKey(lower, req.principal);
  if (found === undefined) return undefined;
  return Array.isArray(found) ? found : [found];
}

function conditionsMatch(condition: unknown, req: PolicyRequest): boolean {
  if (condition === undefined) return true;
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) return false;
  for (const [rawOp, block] of Object.entries(condition as Record<string, unknown>)) {
    if (typeof block !== 'object' || block === null || Array.isArray(block)) return false;
    for (const [key, expected] of Object.entries(block as Record<string, unknown>)) {
      if (!conditionMatches(rawOp, key, list(expected).map(String), req)) return false;
    }
  }
  return true;
}

type Comparator = (actual: string, expected: string) => boolean;

const COMPARATORS: Record<string, { cmp: Comparator; negated: boolean }> = {
  StringEquals: { cmp: (a, e) => a === e, negated: false },
  StringNotEquals: { cmp: (a, e) => a === e, negated: true },
  StringEqualsIgnoreCase: { cmp: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { cmp: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: true },
  StringLike: { cmp: (a, e) => wildcardMatch(e, a), negated: false },
  StringNotLike: { cmp: (a, e) => wildcardMatch(e, a), negated: true },
  // ArnEquals and ArnLike behave alike, as do their negations (IAM's own words).
  ArnEquals: { cmp: (a, e) => arnLike(e, a), negated: false },
  ArnLike: { cmp: (a, e) => arnLike(e, a), negated: false },
  ArnNotEquals: { cmp: (a, e) => arnLike(e, a), negated: true },
  ArnNotLike: { cmp: (a, e) => arnLike(e, a), negated: true },
  NumericEquals: { cmp: (a, e) => num(a) === num(e), negated: false },
  NumericNotEquals: { cmp: (a, e) => num(a) === num(e), negated: true },
  NumericLessThan: { cmp: (a, e) => num(a) < num(e), negated: false },
  NumericLessThanEquals: { cmp: (a, e) => num(a) <= num(e), negated: false },
  NumericGreaterThan: { cmp: (a, e) => num(a) > num(e), negated: false },
  NumericGreaterThanEquals: { cmp: (a, e) => num(a) >= num(e), negated: false },
  DateEquals: { cmp: (a, e) => date(a) === date(e), negated: false },
  DateNotEquals: { cmp: (a, e) => date(a) === date(e), negated: true },
  DateLessThan: { cmp: (a, e) => date(a) < date(e), negated: false },
  DateLessThanEquals: { cmp: (a, e) => date(a) <= date(e), negated: false },
  DateGreaterThan: { cmp: (a, e) => date(a) > date(e), negated: false },
  DateGreaterThanEquals: { cmp: (a, e) => date(a) >= date(e), negated: false },
  Bool: { cmp: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
};

/** A number, or NaN (which compares false with everything) for a value that is not one. */
function num(s: string): number {
  return /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/.test(s) ? Number(s) : NaN;
}

/** A W3C ISO 8601 date or epoch seconds, in milliseconds; NaN for anything else. */
function date(s: string): number {
  if (/^\d{1,12}$/.test(s)) return Number(s) * 1000;
  return Date.parse(s);
}

/** ArnLike: each of the six colon-separated parts matched on its own (a wildcard never spans a colon between them). */
export function arnLike(pattern: string, value: string): boolean {
  const split = (s: string): string[] | undefined => {
    const parts = s.split(':');
    if (parts.length < 6) return undefined;
    return [...parts.slice(0, 5), parts.slice(5).join(':')];
  };
  const p = split(pattern);
  const v = split(value);
  if (!p || !v) return false;
  return p.every((part, i) => wildcardMatch(part, v[i]!));
}

function conditionMatches(rawOp: string, key: string, expected: string[], req: PolicyRequest): boolean {
  let op = rawOp;
  let set: 'any' | 'all' | undefined;
  if (op.startsWith('ForAnyValue:')) {
    set = 'any';
    op = op.slice('ForAnyValue:'.length);
  } else if (op.startsWith('ForAllValues:')) {
    set = 'all';
    op = op.slice('ForAllValues:'.length);
  }
  const actual = contextValues(req, key);
  const present = actual !== undefined && actual.length > 0;
  if (op === 'Null') {
    // "Null": "true" means the key must be absent, "false" that it is present.
    const wantAbsent = expected.some((e) => e.toLowerCase() === 'true');
    return wantAbsent === !present;
  }
  let ifExists = false;
  if (op.endsWith('IfExists')) {
    ifExists = true;
    op = op.slice(0, -'IfExists'.length);
  }
  const c = COMPARATORS[op];
  if (!c) return false;
  if (!present) {
    if (set === 'all') return true; // every one of no values holds
    if (set === 'any') return false; // no value to hold, negated operator or not, IfExists or not
    if (ifExists) return true;
    return c.negated; // a negated operator matches an absent key
  }
  // Per request value: a plain operator holds when the value matches one policy value (OR), a negated one when it
  // matches none of them (NOR).
  const holds = (a: string): boolean => expected.some((e) => c.cmp(a, e)) !== c.negated;
  if (set === 'all') return actual.every(holds);
  if (set === 'any') return actual.some(holds);
  // Without a qualifier (a single-valued key): the one value decides; were there several, a negated operator would
  // need all of them to match none, a plain one any of them to match one.
  return c.negated ? actual.every(holds) : actual.some(holds);
}

/** IAM's denial message, as the JSON services word it. */
export function notAuthorizedMessage(principalArn: string, action: string, resource: string, reason: 'no-policy' | 'explicit-deny'): string {
  const why = reason === 'explicit-deny' ? `with an explicit deny in a resource-based policy` : `because no resource-based policy allows the ${action} action`;
  return `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}
