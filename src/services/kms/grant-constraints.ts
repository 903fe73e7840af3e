/**
 * @module services/kms/grant-constraints
 * What a grant allows, as pure functions: which grant operations stand for a policy action, whether a grant's
 * encryption-context constraint holds for a request, and whether a child grant's constraint is at least as strict as
 * its parent's.
 */
import type * as api from '../../models/kms.js';
import type { GrantOperation } from './records.js';

/** Grant operations that carry no encryption context: a grant's constraint does not apply to them (GrantConstraints). */
export const WITHOUT_CONTEXT: ReadonlySet<GrantOperation> = new Set<GrantOperation>(['DescribeKey', 'RetireGrant']);

/** Grant operations that stand for a policy action. */
export function grantOperationsFor(action: string): GrantOperation[] {
  const op = action.slice('kms:'.length);
  if (op === 'ReEncryptFrom' || op === 'ReEncryptTo') return [op];
  return [op as GrantOperation];
}

/**
 * Whether a child grant's constraint is at least as strict as its parent's: the same or more pairs in an
 * EncryptionContextSubset, or an EncryptionContextEquals that includes the parent's subset; an
 * EncryptionContextEquals parent allows only the same EncryptionContextEquals (KMS: "the child grant can add pairs to
 * an EncryptionContextSubset constraint … but it cannot remove them … can change an EncryptionContextSubset
 * constraint to an EncryptionContextEquals constraint, but not the reverse").
 */
export function atLeastAsStrict(child: api.GrantConstraints | undefined, parent: api.GrantConstraints | undefined): boolean {
  const includes = (outer: Record<string, string>, inner: Record<string, string>): boolean => Object.entries(inner).every(([k, v]) => Object.hasOwn(outer, k) && outer[k] === v);
  if (parent?.EncryptionContextEquals) {
    const want = parent.EncryptionContextEquals;
    const got = child?.EncryptionContextEquals;
    return got !== undefined && Object.keys(got).length === Object.keys(want).length && includes(got, want);
  }
  if (parent?.EncryptionContextSubset) {
    const got = child?.EncryptionContextEquals ?? child?.EncryptionContextSubset;
    return got !== undefined && includes(got, parent.EncryptionContextSubset);
  }
  return true;
}

/** Whether a grant's encryption-context constraint holds for the request's context. */
export function constraintsHold(c: api.GrantConstraints | undefined, ec: Record<string, string> | undefined): boolean {
  if (!c) return true;
  const actual = ec ?? {};
  if (c.EncryptionContextEquals) {
    const want = c.EncryptionContextEquals;
    const keys = Object.keys(want);
    return keys.length === Object.keys(actual).length && keys.every((k) => actual[k] === want[k]);
  }
  if (c.EncryptionContextSubset) return Object.entries(c.EncryptionContextSubset).every(([k, v]) => actual[k] === v);
  return true;
}
