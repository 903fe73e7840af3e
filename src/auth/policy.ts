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
 * an IAM user or role ARN (a role also matches its assumed-role sessions), an STS assumed-role session ARN.
 * Condition operators: the String*, Arn*, Numeric*, Date*, Bool and Null families, with `...IfExists` and the
 * `ForAnyValue:`/`ForAllValues:` set qualifiers. An operator Cellar does not know makes its statement not match
 * (for an Allow: no access; for a Deny: no denial), so an unknown condition never widens access by itself.
 * Pure: no I/O.
 */

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
  /** Request context keys (names compared case-insensitively, as IAM does); multi-valued keys are arrays. */
  context?: Record<string, string | string[] | undefined>;
}

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
    const m = /^arn:aws[\w-]*:iam::(\d{12}):(.+)$/.exec(v);
    if (m) {
      const [, account, resource] = m as unknown as [string, string, string];
      if (account !== p.accountId) continue;
      if (resource === 'root') return true;
      if (v === p.arn) return true;
      // A role ARN names every session of that role: arn:aws:sts::<acct>:assumed-role/<role>/<session>.
      const role = /^role\/(?:.*\/)?([^/]+)$/.exec(resource);
      const session = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(p.arn);
      if (role && session && session[1] === account && session[2] === role[1]) return true;
      continue;
    }
    if (v === p.arn) return true;
  }
  return false;
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
  let found: string | string[] | undefined;
  for (const k of Object.keys(ctx)) {
    if (k.toLowerCase() === lower) {
      found = ctx[k];
      break;
    }
  }
  if (found === undefined) {
    if (lower === 'aws:principalaccount') found = req.principal.accountId;
    else if (lower === 'aws:principalarn') found = req.principal.arn;
  }
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
  ArnEquals: { cmp: (a, e) => a === e, negated: false },
  ArnLike: { cmp: (a, e) => wildcardMatch(e, a), negated: false },
  ArnNotEquals: { cmp: (a, e) => a === e, negated: true },
  ArnNotLike: { cmp: (a, e) => wildcardMatch(e, a), negated: true },
  NumericEquals: { cmp: (a, e) => Number(a) === Number(e), negated: false },
  NumericNotEquals: { cmp: (a, e) => Number(a) === Number(e), negated: true },
  NumericLessThan: { cmp: (a, e) => Number(a) < Number(e), negated: false },
  NumericLessThanEquals: { cmp: (a, e) => Number(a) <= Number(e), negated: false },
  NumericGreaterThan: { cmp: (a, e) => Number(a) > Number(e), negated: false },
  NumericGreaterThanEquals: { cmp: (a, e) => Number(a) >= Number(e), negated: false },
  DateEquals: { cmp: (a, e) => Date.parse(a) === Date.parse(e), negated: false },
  DateNotEquals: { cmp: (a, e) => Date.parse(a) === Date.parse(e), negated: true },
  DateLessThan: { cmp: (a, e) => Date.parse(a) < Date.parse(e), negated: false },
  DateLessThanEquals: { cmp: (a, e) => Date.parse(a) <= Date.parse(e), negated: false },
  DateGreaterThan: { cmp: (a, e) => Date.parse(a) > Date.parse(e), negated: false },
  DateGreaterThanEquals: { cmp: (a, e) => Date.parse(a) >= Date.parse(e), negated: false },
  Bool: { cmp: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
};

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
  if (op === 'Null') {
    // "Null": true means the key must be absent.
    const wantAbsent = expected.some((e) => e.toLowerCase() === 'true');
    return wantAbsent === (actual === undefined);
  }
  let ifExists = false;
  if (op.endsWith('IfExists')) {
    ifExists = true;
    op = op.slice(0, -'IfExists'.length);
  }
  const c = COMPARATORS[op];
  if (!c) return false;
  if (actual === undefined || actual.length === 0) {
    if (ifExists) return true;
    if (set === 'all') return true; // ForAllValues over no values is vacuously true, as IAM documents
    return c.negated; // a negated operator matches an absent key
  }
  const one = (a: string): boolean => expected.some((e) => c.cmp(a, e));
  if (set === 'all') return actual.every((a) => (c.negated ? !one(a) : one(a)));
  const anyMatch = actual.some(one);
  return c.negated ? !anyMatch : anyMatch;
}

/** IAM's denial message, as the JSON services word it. */
export function notAuthorizedMessage(principalArn: string, action: string, resource: string, reason: 'no-policy' | 'explicit-deny'): string {
  const why = reason === 'explicit-deny' ? `with an explicit deny in a resource-based policy` : `because no resource-based policy allows the ${action} action`;
  return `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource} ${why}`;
}
