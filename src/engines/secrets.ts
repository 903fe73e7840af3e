/**
 * @module engines/secrets
 * Password verifiers computed on our side, so that plaintext passwords never reach an engine's SQL text, logs,
 * command line or configuration file: the engine only ever stores (and we only ever send) the verifier.
 * Pure functions; no I/O.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default iteration count for SCRAM-SHA-256 (`scram_iterations` in PG 16+, fixed before). */
export const SCRAM_ITERATIONS = 4096;

/**
 * A SCRAM-SHA-256 verifier in PostgreSQL's stored format:
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, which `CREATE ROLE ... PASSWORD '<verifier>'` stores
 * as-is. PostgreSQL normalises passwords with SASLprep; for ASCII (everything RDS accepts) that is the identity.
 * For other input we apply NFKC after SASLprep's two mapping tables, which covers ordinary text but not the full
 * RFC 4013 prohibition checks.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_ITERATIONS): string {
  const normalised = saslPrepLite(password);
  const salted = pbkdf2Sync(Buffer.from(normalised, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function saslPrepLite(s: string): string {
  if (/^[\x00-\x7f]*$/.test(s)) return s;
  return s
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ') // non-ASCII spaces map to SPACE
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '') // "mapped to nothing"
    .normalize('NFKC');
}

/** MySQL/MariaDB `mysql_native_password` hash: `*` + upper-hex SHA1(SHA1(password)), for `IDENTIFIED BY PASSWORD`. */
export function mysqlNativePasswordHash(password: string): string {
  const inner = createHash('sha1').update(Buffer.from(password, 'utf8')).digest();
  return '*' + createHash('sha1').update(inner).digest('hex').toUpperCase();
}

/** Redis ACL password rule `#<sha256 hex>`: the server stores only the hash. */
export function redisAclPasswordRule(password: string): string {
  return '#' + createHash('sha256').update(Buffer.from(password, 'utf8')).digest('hex');
}

/** A random secret for Cellar's internal administrative accounts (URL- and config-safe characters). */
export function generateSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}
