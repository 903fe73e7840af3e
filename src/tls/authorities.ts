/**
 * @module tls/authorities
 * Where Cellar's certificate authorities live: `<data-dir>/tls/` holds their public bundles (the sealed keys are in
 * the state store); with --in-memory, a private temporary directory (`cellar-tls-XXXXXX`) that goes when Cellar
 * closes, stamped with its owner so that the next Cellar sweeps it when this one dies without closing
 * (engines/temp-dirs.ts). One
 * CertificateAuthority per purpose, made on first use: nothing is generated until a service or a client needs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretBox } from '../crypto/rootkey.js';
import { stampDirSync } from '../engines/owner-stamp.js';
import type { Store } from '../storage/store.js';
import { CertificateAuthority } from './ca.js';

export interface TlsAuthoritiesOptions {
  store: Store;
  box: SecretBox;
  /** Cellar's data directory; undefined with --in-memory. */
  dataDir: string | undefined;
  now: () => number;
}

export class TlsAuthorities {
  readonly dir: string;
  private readonly temporary: boolean;
  private readonly byName = new Map<string, CertificateAuthority>();

  constructor(private readonly o: TlsAuthoritiesOptions) {
    this.temporary = !o.dataDir;
    this.dir = o.dataDir ? join(o.dataDir, 'tls') : mkdtempSync(join(tmpdir(), 'cellar-tls-'));
    if (this.temporary) stampDirSync(this.dir);
  }

  authority(name: string): CertificateAuthority {
    let ca = this.byName.get(name);
    if (!ca) {
      ca = new CertificateAuthority({ name, store: this.o.store, box: this.o.box, dir: this.dir, now: this.o.now });
      this.byName.set(name, ca);
    }
    return ca;
  }

  close(): void {
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }
}
