/**
 * @module core/scope
 * The account-and-region every piece of state belongs to, and the one way to name it.
 *
 * A `Scope` is made in three places only, each named for why:
 *   - `Scope.ofCaller`: the gateway, from an authenticated request (the credential scope's region and the account
 *     the access key maps to), once per request; and the web console, whose caller is the loopback user acting as
 *     an account's root (console/guard.ts, console/api.ts);
 *   - `Scope.ofRecord`: background work acting for a stored resource, in the account and region the record says;
 *   - `Scope.crossAccount` / `Scope.otherRegion`: the documented paths that reach beyond the caller's own scope
 *     (a resource policy that grants another account, a key policy or grant, replication to another region), each
 *     called only after the check that allows it.
 * Stores take a Scope, never loose account and region strings, so no code path reads or writes another scope by
 * accident, and a name or region from a request never reaches a key or a path unchecked: both parts are validated
 * here against a strict pattern, and the key prefix they form (`<account>/<region>/`) cannot be ambiguous.
 */

/** Cellar answers as the commercial partition. */
export const PARTITION = 'aws';

/** us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-isob-east-1, ap-southeast-5 ... */
const REGION = /^[a-z]{2}(?:-[a-z]+){1,3}-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;

export function isRegionName(s: string): boolean {
  return s.length <= 32 && REGION.test(s);
}

export function isAccountId(s: string): boolean {
  return ACCOUNT.test(s);
}

export class Scope {
  /** `<account>/<region>/`: every stored record of this scope is keyed under it. */
  readonly prefix: string;

  private constructor(
    readonly accountId: string,
    readonly region: string,
  ) {
    if (!isAccountId(accountId)) throw new Error(`invalid account id ${JSON.stringify(accountId)}`);
    if (!isRegionName(region)) throw new Error(`invalid region ${JSON.stringify(region)}`);
    this.prefix = `${accountId}/${region}/`;
  }

  /** The scope of an authenticated caller (the gateway's, after SigV4 and the credential-scope check). */
  static ofCaller(accountId: string, region: string): Scope {
    return new Scope(accountId, region);
  }

  /** The scope a stored record names (background work acting for that resource). */
  static ofRecord(rec: { accountId: string; region: string }): Scope {
    return new Scope(rec.accountId, rec.region);
  }

  /**
   * The scope of a resource in another account, reached through its ARN: call only once the resource's own policy
   * (or a grant) has allowed the caller, or to read that policy.
   */
  static crossAccount(arn: Arn): Scope {
    return new Scope(arn.accountId, arn.region);
  }

  /** The same account in another region: for the documented cross-region features (secret replication). */
  otherRegion(region: string): Scope {
    return new Scope(this.accountId, region);
  }

  /** The store key of a named resource of this scope. */
  key(name: string): string {
    return this.prefix + name;
  }

  equals(other: Scope): boolean {
    return this.accountId === other.accountId && this.region === other.region;
  }

  /** An ARN of this scope; `global` leaves the region out (IAM, STS). */
  arn(service: string, resource: string, global = false): string {
    return `arn:${PARTITION}:${service}:${global ? '' : this.region}:${this.accountId}:${resource}`;
  }

  /** Whether an ARN names a resource of this scope and service (partition, service, region and account all match). */
  owns(arn: Arn, service: string): boolean {
    return arn.partition === PARTITION && arn.service === service && arn.region === this.region && arn.accountId === this.accountId;
  }

  toString(): string {
    return `${this.accountId}/${this.region}`;
  }
}

export interface Arn {
  partition: string;
  service: string;
  region: string;
  accountId: string;
  /** Everything after the fifth colon (`secret:name-AbCdEf`, `key/1234...`, `table/orders`, `db:mydb`). */
  resource: string;
}

/** Splits `arn:partition:service:region:account:resource`; undefined when it is not one. Checks no semantics. */
export function parseArn(text: string): Arn | undefined {
  if (text.length > 2048 || !text.startsWith('arn:')) return undefined;
  const parts = text.split(':');
  if (parts.length < 6) return undefined;
  const [, partition, service, region, accountId] = parts as [string, string, string, string, string];
  const resource = parts.slice(5).join(':');
  if (!/^aws(?:-[a-z]+)*$/.test(partition) || !/^[a-z0-9-]+$/.test(service) || resource === '') return undefined;
  return { partition, service, region, accountId, resource };
}
