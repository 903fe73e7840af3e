/**
 * @module services/kms/ciphertext
 * The ciphertext blob Cellar's KMS returns. Like AWS's, it is opaque to callers and names the key it
 * was made under, so Decrypt needs no KeyId. Layout (all lengths fixed but the key reference and body):
 *   magic 'CK' | version (1 byte) | key-ref length (1 byte) | key ref (ASCII) | material index (uint32 BE)
 *   | IV (12) | GCM tag (16) | ciphertext
 * Version 2's key ref is `<account>:<region>:<key id>`, so a ciphertext made under another account's key (used
 * across accounts through its key policy or a grant) still finds that key; version 1 (older blobs) holds only the
 * key id, of the caller's own account and region.
 * The encryption context is the GCM additional authenticated data, so a wrong context fails to decrypt.
 */
const MAGIC = Buffer.from('CK', 'ascii');
const VERSION = 2;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

export interface CiphertextParts {
  keyId: string;
  /** The key's account and region (absent in version 1 blobs: the caller's own). */
  accountId?: string;
  region?: string;
  materialIndex: number;
  iv: Buffer;
  tag: Buffer;
  body: Buffer;
}

export function encodeCiphertext(p: CiphertextParts & { accountId: string; region: string }): Buffer {
  const id = Buffer.from(`${p.accountId}:${p.region}:${p.keyId}`, 'ascii');
  if (id.length > 255) throw new Error('key reference too long');
  const header = Buffer.alloc(MAGIC.length + 2);
  MAGIC.copy(header, 0);
  header[2] = VERSION;
  header[3] = id.length;
  const index = Buffer.alloc(4);
  index.writeUInt32BE(p.materialIndex, 0);
  return Buffer.concat([header, id, index, p.iv, p.tag, p.body]);
}

/** Parses a blob; undefined when it is not one of ours (the caller answers InvalidCiphertextException). */
export function decodeCiphertext(blob: Buffer): CiphertextParts | undefined {
  if (blob.length < 4 || blob[0] !== MAGIC[0] || blob[1] !== MAGIC[1] || (blob[2] !== 1 && blob[2] !== 2)) return undefined;
  const version = blob[2]!;
  const idLen = blob[3]!;
  const fixed = 4 + idLen + 4 + IV_BYTES + TAG_BYTES;
  if (blob.length < fixed) return undefined;
  const ref = blob.subarray(4, 4 + idLen).toString('ascii');
  let keyId = ref;
  let accountId: string | undefined;
  let region: string | undefined;
  if (version === 2) {
    const m = /^(\d{12}):([a-z0-9-]{1,32}):([A-Za-z0-9-]{1,128})$/.exec(ref);
    if (!m) return undefined;
    [, accountId, region, keyId] = m as unknown as [string, string, string, string];
  }
  let off = 4 + idLen;
  const materialIndex = blob.readUInt32BE(off);
  off += 4;
  const iv = blob.subarray(off, off + IV_BYTES);
  off += IV_BYTES;
  const tag = blob.subarray(off, off + TAG_BYTES);
  off += TAG_BYTES;
  return { keyId, ...(accountId ? { accountId, region } : {}), materialIndex, iv, tag, body: blob.subarray(off) };
}

/**
 * The encryption context as AAD: keys sorted, so the order a caller lists pairs in does not matter
 * (as with AWS), and length-prefixed so no two contexts share an encoding.
 */
export function contextAad(context: Record<string, string> | undefined): Buffer {
  if (!context) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  for (const k of Object.keys(context).sort()) {
    for (const s of [k, context[k]!]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length, 0);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}
