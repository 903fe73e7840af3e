/**
 * @module services/kms/key-material
 * A key's material: 32 random bytes per key version, sealed by the root key (bound to the key's ARN) before it is
 * stored, and unsealed into a bounded in-memory cache when used.
 */
import { randomBytes } from 'node:crypto';
import { ServiceError } from '../../core/errors.js';
import type { SecretBox } from '../../crypto/rootkey.js';
import type { KeyMaterialRecord, KeyRecord } from './records.js';

const MATERIAL_CACHE_ENTRIES = 4096;

export class KeyMaterial {
  /**
   * Unsealed key material, cached in memory (as an HSM holds its keys) because unsealing costs more than
   * the encryption it serves. A key version's material never changes, so the cache needs no invalidation;
   * it is bounded and simply cleared when full.
   */
  private readonly cache = new Map<string, Buffer>();

  constructor(private readonly box: SecretBox) {}

  /** New material for the key `arn`, sealed. */
  create(arn: string, createdMs: number, rotationType?: KeyMaterialRecord['rotationType']): KeyMaterialRecord {
    return { sealed: this.box.sealString(randomBytes(32).toString('base64'), arn), id: randomBytes(32).toString('hex'), createdMs, ...(rotationType ? { rotationType } : {}) };
  }

  /** The key's material of version `index`, unsealed. */
  bytes(key: KeyRecord, index: number): Buffer {
    const m = key.materials[index];
    if (!m) throw new ServiceError('InvalidCiphertextException', '');
    const cacheKey = `${key.arn}#${m.id}`;
    let bytes = this.cache.get(cacheKey);
    if (!bytes) {
      bytes = Buffer.from(this.box.openString(m.sealed, key.arn), 'base64');
      if (this.cache.size >= MATERIAL_CACHE_ENTRIES) this.cache.clear();
      this.cache.set(cacheKey, bytes);
    }
    return bytes;
  }
}
