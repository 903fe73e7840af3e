/**
 * @module crypto/rootkey
 * The root key that wraps everything secret Cellar keeps on disk (KMS key material, temporary STS
 * secrets, engine admin passwords). It comes from CELLAR_ROOT_KEY (base64, 32 bytes) or from
 * `<data-dir>/root.key`, created 0600 on first start. With --in-memory it lives only in memory.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, openSync, readFileSync, statSync, writeSync, closeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 1;

export function loadRootKey(dataDir: string | undefined, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env.CELLAR_ROOT_KEY;
  if (fromEnv) {
    const key = Buffer.from(fromEnv, 'base64');
    if (key.length !== KEY_BYTES) throw new Error('CELLAR_ROOT_KEY must be 32 bytes, base64-encoded');
    return key;
  }
  if (!dataDir) return randomBytes(KEY_BYTES);
  const path = join(dataDir, 'root.key');
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) chmodSync(path, 0o600);
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== KEY_BYTES) throw new Error(`${path} does not hold a 32-byte base64 key`);
    return key;
  }
  const key = randomBytes(KEY_BYTES);
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, key.toString('base64') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return key;
}

/** AES-256-GCM sealing under the root key: version byte, IV, tag, ciphertext. */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error('root key must be 32 bytes');
  }

  seal(plaintext: Buffer | string, aad = ''): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer, aad = ''): Buffer {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new Error('sealed value is malformed');
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
  }

  sealString(plaintext: string, aad = ''): string {
    return this.seal(plaintext, aad).toString('base64');
  }

  openString(sealed: string, aad = ''): string {
    return this.open(Buffer.from(sealed, 'base64'), aad).toString('utf8');
  }
}
