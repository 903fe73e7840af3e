/**
 * @module services/kms/ciphertext
 * The ciphertext blob Cellar's KMS returns. Like AWS's, it is opaque to callers and names the key it
 * was made under, so Decrypt needs no KeyId. Layout (all lengths fixed but the key id and body):
 *   magic 'CK' | version 1 | key-id length (1 byte) | key id (ASCII) | material index (uint32 BE)
 *   | IV (12) | GCM tag (16) | ciphertext
 * The encryption context is the GCM additional authenticated data, so a wrong context fails to decrypt.
 */
const MAGIC = Buffer.from('CK', 'ascii');
const VERSION = 1;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

export interface CiphertextParts {
  keyId: string;
  materialIndex: number;
  iv: Buffer;
  tag: Buffer;
  body: Buffer;
}

export function encodeCiphertext(p: CiphertextParts): Buffer {
  const id = Buffer.from(p.keyId, 'ascii');
  if (id.length > 255) throw new Error('key id too long');
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
  if (blob.length < 4 || blob[0] !== MAGIC[0] || blob[1] !== MAGIC[1] || blob[2] !== VERSION) return undefined;
  const idLen = blob[3]!;
  const fixed = 4 + idLen + 4 + IV_BYTES + TAG_BYTES;
  if (blob.length < fixed) return undefined;
  const keyId = blob.subarray(4, 4 + idLen).toString('ascii');
  let off = 4 + idLen;
  const materialIndex = blob.readUInt32BE(off);
  off += 4;
  const iv = blob.subarray(off, off + IV_BYTES);
  off += IV_BYTES;
  const tag = blob.subarray(off, off + TAG_BYTES);
  off += TAG_BYTES;
  return { keyId, materialIndex, iv, tag, body: blob.subarray(off) };
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
