/**
 * @module services/secretsmanager/policy
 * Resource policies: the syntax checks AWS runs on a secret's policy document (JSON, Version,
 * Statement with Effect/Action/Principal) and the "block public policy" check, which refuses a policy
 * that lets anyone (`"Principal": "*"` or `{"AWS": "*"}`) in without a narrowing condition.
 */
export interface PolicyProblem {
  checkName: 'SYNTAX_CHECK' | 'PUBLIC_ACCESS_CHECK';
  message: string;
}

const VERSIONS = new Set(['2012-10-17', '2008-10-17']);

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
}

/** Syntax problems of a policy document; empty when it is well-formed. */
export function syntaxProblems(text: string): PolicyProblem[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [{ checkName: 'SYNTAX_CHECK', message: 'This resource policy contains a syntax error: the document is not valid JSON.' }];
  }
  const problems: PolicyProblem[] = [];
  const bad = (message: string) => problems.push({ checkName: 'SYNTAX_CHECK', message });
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    bad('This resource policy contains a syntax error: the policy must be a JSON object.');
    return problems;
  }
  const policy = doc as Record<string, unknown>;
  if (policy.Version !== undefined && !VERSIONS.has(String(policy.Version))) bad(`This resource policy contains a syntax error: invalid Version ${JSON.stringify(policy.Version)}.`);
  const statements = asList(policy.Statement);
  if (statements.length === 0) bad('This resource policy contains a syntax error: Statement is missing.');
  statements.forEach((st, i) => {
    if (typeof st !== 'object' || st === null || Array.isArray(st)) {
      bad(`This resource policy contains a syntax error: statement ${i + 1} is not an object.`);
      return;
    }
    const s = st as Record<string, unknown>;
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') bad(`This resource policy contains a syntax error: statement ${i + 1} needs Effect Allow or Deny.`);
    if (s.Action === undefined && s.NotAction === undefined) bad(`This resource policy contains a syntax error: statement ${i + 1} needs Action or NotAction.`);
    if (s.Principal === undefined && s.NotPrincipal === undefined) bad(`This resource policy contains an unsupported principal: statement ${i + 1} needs a Principal.`);
    for (const a of asList(s.Action ?? s.NotAction)) {
      if (typeof a !== 'string' || !(a === '*' || /^[\w-]+:[\w*?]+$/.test(a))) bad(`This resource policy contains a syntax error: statement ${i + 1} has an invalid action ${JSON.stringify(a)}.`);
    }
  });
  return problems;
}

function grantsEveryone(principal: unknown): boolean {
  if (principal === '*') return true;
  if (typeof principal === 'object' && principal !== null && !Array.isArray(principal)) {
    return asList((principal as Record<string, unknown>).AWS).includes('*');
  }
  return false;
}

/** Whether the (syntactically valid) policy lets the public in: an Allow for everyone with no Condition. */
export function isPublic(text: string): boolean {
  const doc = JSON.parse(text) as Record<string, unknown>;
  return asList(doc.Statement).some((st) => {
    const s = st as Record<string, unknown>;
    return s.Effect === 'Allow' && grantsEveryone(s.Principal) && (s.Condition === undefined || (typeof s.Condition === 'object' && s.Condition !== null && Object.keys(s.Condition).length === 0));
  });
}
