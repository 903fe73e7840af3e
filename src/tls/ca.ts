/**
 * @module tls/ca
 * Cellar's own certificate authorities: one per purpose (`rds` today; ElastiCache's Redis TLS can ask for another
 * by name), per data directory (per process with --in-memory). Each one
 *
 * - keeps its CA certificates and their private keys in the state store, the keys sealed under the root key
 *   (SecretBox), never on disk in plaintext;
 * - publishes its CA certificates as a PEM bundle file `<data-dir>/tls/<name>-ca-bundle.pem` (what a client puts in
 *   its trust store; the server also serves it at `/_cellar/tls/<name>-ca-bundle.pem`);
 * - issues TLS server certificates (ECDSA P-256 keys, SANs for every DNS name and IP address a client may use) and
 *   says when an existing one must be replaced (another CA, names changed, expiry near);
 * - rolls itself over before it expires: a new CA joins the bundle while the old one stays in it until it expires,
 *   as AWS does when it introduces a new RDS CA.
 *
 * A stored CA that cannot be used (a root key that changed, a corrupt record) is reported in the log and replaced by
 * a new one: it never stops Cellar from starting. Certificates issued by the old CA are replaced at their next check.
 *
 * Time: validity windows follow the injectable clock (so tests that move it forward see renewals), but notBefore is
 * never later than the real time, so real TLS clients accept a certificate as soon as it is issued.
 */
import { createPrivateKey, generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { log } from '../core/log.js';
import type { SecretBox } from '../crypto/rootkey.js';
import { JsonTable, type Store } from '../storage/store.js';
import { buildCertificate, pemBlocks, toPem } from './x509.js';

const generateKeyPairAsync = promisify(generateKeyPair);

const DAY_MS = 86_400_000;
/** CA lifetime. AWS's current RDS CAs live about 40 years; 20 is plenty for a local data directory. */
export const CA_VALIDITY_MS = 20 * 365 * DAY_MS;
/** A new CA is introduced this long before the current one expires (clients get time to trust it). */
export const CA_ROLLOVER_BEFORE_MS = 2 * 365 * DAY_MS;
/** Server certificates live a year, as RDS's do, and are renewed when less than this is left. */
export const SERVER_VALIDITY_MS = 365 * DAY_MS;
export const SERVER_RENEW_BEFORE_MS = 30 * DAY_MS;
/** notBefore is backdated this much, so a client whose clock is a little behind still accepts a fresh certificate. */
const BACKDATE_MS = 3600_000;
/** CAs kept in a record (current, plus the ones being rolled away from). */
const MAX_AUTHORITIES = 4;

interface StoredAuthority {
  certPem: string;
  /** The private key (PKCS #8 PEM), sealed under the root key with `aad(name, serial)`. */
  keySealed: string;
  createdAtMs: number;
}

interface StoredRecord {
  authorities: StoredAuthority[];
}

interface Authority {
  cert: X509Certificate;
  certPem: string;
  key: KeyObject;
  notAfterMs: number;
}

export interface ServerCertificateRequest {
  /** The subject CN: the endpoint address, as RDS puts the endpoint in the CN. */
  commonName: string;
  /** Every name a client may connect with: DNS names and IP addresses (told apart here). */
  names: readonly string[];
}

export interface IssuedCertificate {
  certPem: string;
  /** PKCS #8 PEM. Secret: goes only to the engine's own key file. */
  keyPem: string;
  notAfterMs: number;
  serialHex: string;
}

export interface CertificateAuthorityOptions {
  /** `rds`, later `elasticache`: names the record, the bundle file and the CN. */
  name: string;
  store: Store;
  box: SecretBox;
  /** Where the bundle file is written (`<data-dir>/tls`, or a temporary directory with --in-memory). */
  dir: string;
  now: () => number;
}

export class CertificateAuthority {
  readonly bundlePath: string;
  private readonly table: JsonTable<StoredRecord>;
  private state: Authority[] | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private lastProblem: string | undefined;

  constructor(private readonly o: CertificateAuthorityOptions) {
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(o.name)) throw new Error(`invalid CA name ${o.name}`);
    this.bundlePath = join(o.dir, `${o.name}-ca-bundle.pem`);
    this.table = new JsonTable<StoredRecord>(o.store.keyspace('tls_authorities'));
  }

  /** The PEM bundle clients trust: every unexpired CA of this authority, newest first. */
  async bundlePem(): Promise<string> {
    return bundleOf(await this.authorities());
  }

  /** Why a server certificate (PEM, or undefined when there is none) must be (re)issued for req; undefined if it is fine. */
  async renewalReason(certPem: string | undefined, req: ServerCertificateRequest): Promise<string | undefined> {
    if (!certPem) return 'no certificate yet';
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch {
      return 'the certificate cannot be read';
    }
    const ca = (await this.authorities())[0]!;
    if (!cert.checkIssued(ca.cert) || !cert.verify(ca.cert.publicKey)) return 'it was issued by another CA';
    const left = Date.parse(cert.validTo) - this.o.now();
    if (left < SERVER_RENEW_BEFORE_MS) return `it expires ${cert.validTo}`;
    const { dns, ips } = splitNames(req.names);
    for (const d of dns) if (cert.checkHost(d, { subject: 'never', wildcards: false }) === undefined) return `it does not name ${d}`;
    for (const ip of ips) if (cert.checkIP(ip) === undefined) return `it does not name ${ip}`;
    const sans = (cert.subjectAltName ?? '').split(', ').filter(Boolean).length;
    if (sans !== dns.length + ips.length) return 'it names hosts that are no longer the endpoint';
    if (!new RegExp(`CN=${escapeRegExp(req.commonName)}(\\n|$)`).test(cert.subject)) return `its CN is not ${req.commonName}`;
    return undefined;
  }

  async issueServerCertificate(req: ServerCertificateRequest): Promise<IssuedCertificate> {
    const ca = (await this.authorities())[0]!;
    const { dns, ips } = splitNames(req.names);
    const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    const now = this.o.now();
    const serial = newSerial();
    // Whole seconds: what the certificate itself can say.
    const notAfterMs = Math.floor(Math.min(now + SERVER_VALIDITY_MS, ca.notAfterMs) / 1000) * 1000;
    const der = buildCertificate(
      {
        serial,
        issuer: subjectOf(ca.cert),
        subject: { organization: 'Cellar', organizationalUnit: `Cellar ${this.o.name.toUpperCase()}`, commonName: req.commonName },
        notBeforeMs: Math.min(now, Date.now()) - BACKDATE_MS,
        notAfterMs,
        subjectPublicKey: publicKey.export({ type: 'spki', format: 'der' }),
        issuerPublicKey: ca.cert.publicKey.export({ type: 'spki', format: 'der' }),
        kind: 'server',
        dnsNames: dns,
        ipAddresses: ips,
        signatureAlgorithm: 'sha256WithRSAEncryption',
      },
      (tbs) => sign('sha256', tbs, ca.key),
    );
    return { certPem: toPem(der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, notAfterMs, serialHex: serial.toString('hex') };
  }

  /**
   * Introduces a new CA when the current one is within CA_ROLLOVER_BEFORE_MS of expiry and drops expired ones (every
   * use checks this too; this is for a periodic caller). Background work: a failure is logged and returned, never thrown.
   */
  async maintain(): Promise<string | undefined> {
    try {
      await this.authorities();
      return undefined;
    } catch (e) {
      const message = (e as Error).message;
      log('error', 'tls: CA maintenance failed', { ca: this.o.name, error: message });
      return `CA ${this.o.name} maintenance failed: ${message}`;
    }
  }

  health(): Record<string, unknown> {
    return { bundle: this.bundlePath, ...(this.lastProblem ? { replacedUnusableCa: this.lastProblem } : {}) };
  }

  /**
   * The usable CAs, newest first: loaded once, then rolled over (a new CA in front) when the newest nears expiry and
   * pruned of expired ones. Calls run one at a time, so two callers never mint two CAs.
   */
  private authorities(): Promise<Authority[]> {
    const run = this.chain.then(() => this.refresh());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async refresh(): Promise<Authority[]> {
    const now = this.o.now();
    const cur = this.state;
    if (cur && cur[0]!.notAfterMs - now > CA_ROLLOVER_BEFORE_MS && cur.every((a) => a.notAfterMs > now)) return cur;
    let list = cur ?? this.load();
    list = list.filter((a) => a.notAfterMs > now);
    if (list.length === 0 || list[0]!.notAfterMs - now <= CA_ROLLOVER_BEFORE_MS) {
      const fresh = await this.generate();
      log('info', list.length ? 'tls: new CA introduced before the current one expires; both are in the bundle' : 'tls: CA created', {
        ca: this.o.name,
        subject: fresh.cert.subject.replace(/\n/g, ', '),
        bundle: this.bundlePath,
      });
      list = [fresh, ...list];
    }
    // Persisted before it is used: a certificate is never issued by a CA the store does not hold.
    this.state = this.persist(list);
    return this.state;
  }

  /** The stored CAs that can be used, newest first. A record that cannot be used is reported and dropped, never fatal. */
  private load(): Authority[] {
    let record: StoredRecord | undefined;
    const problems: string[] = [];
    try {
      record = this.table.get(this.o.name);
    } catch (e) {
      problems.push(`record unreadable: ${(e as Error).message}`);
    }
    const usable: Authority[] = [];
    for (const s of record?.authorities ?? []) {
      try {
        usable.push(this.open(s));
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    if (problems.length === 0) return usable.sort((a, b) => b.notAfterMs - a.notAfterMs);
    this.lastProblem = problems.join('; ');
    // A CA whose record is damaged is not trusted any longer, nor are the others stored with it: start afresh.
    log('error', 'tls: a stored CA cannot be used; a new CA replaces it and certificates are reissued', { ca: this.o.name, problems: this.lastProblem });
    return [];
  }

  private open(s: StoredAuthority): Authority {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(s.certPem);
    } catch (e) {
      throw new Error(`stored CA certificate unreadable: ${(e as Error).message}`);
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(this.o.box.openString(s.keySealed, aad(this.o.name, cert.serialNumber)));
    } catch {
      // Wrong root key (CELLAR_ROOT_KEY changed, root.key replaced) or a damaged record.
      throw new Error(`CA ${cert.serialNumber}: its sealed key cannot be opened with this root key`);
    }
    if (!cert.checkPrivateKey(key)) throw new Error(`CA ${cert.serialNumber}: stored key does not match its certificate`);
    if (!cert.ca) throw new Error(`CA ${cert.serialNumber}: not a CA certificate`);
    return { cert, certPem: s.certPem, key, notAfterMs: Date.parse(cert.validTo) };
  }

  /** Stores the list (keys sealed) and rewrites the bundle file; returns the list. */
  private persist(list: Authority[]): Authority[] {
    const now = this.o.now();
    const kept = list.filter((a) => a.notAfterMs > now).slice(0, MAX_AUTHORITIES);
    this.o.store.transaction(() => {
      const prev = new Map((this.table.get(this.o.name)?.authorities ?? []).map((s) => [s.certPem, s]));
      this.table.put(this.o.name, {
        authorities: kept.map((a) => prev.get(a.certPem) ?? { certPem: a.certPem, keySealed: this.seal(a), createdAtMs: now }),
      });
    });
    this.writeBundle(bundleOf(kept));
    return kept;
  }

  private seal(a: Authority): string {
    return this.o.box.sealString(a.key.export({ type: 'pkcs8', format: 'pem' }) as string, aad(this.o.name, a.cert.serialNumber));
  }

  /** A new self-signed RSA 2048 root (RDS's default CA type, `rds-ca-rsa2048-g1`). */
  private async generate(): Promise<Authority> {
    const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    const now = this.o.now();
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const serial = newSerial();
    // The serial's start tells two data directories' CAs apart in a trust store.
    const dn = { organization: 'Cellar', organizationalUnit: `Cellar ${this.o.name.toUpperCase()}`, commonName: `Cellar ${this.o.name.toUpperCase()} Root CA RSA2048 ${serial.toString('hex').slice(0, 8)}` };
    const der = buildCertificate(
      {
        serial,
        issuer: dn,
        subject: dn,
        notBeforeMs: Math.min(now, Date.now()) - BACKDATE_MS,
        notAfterMs: now + CA_VALIDITY_MS,
        subjectPublicKey: spki,
        issuerPublicKey: spki,
        kind: 'ca',
        signatureAlgorithm: 'sha256WithRSAEncryption',
      },
      (tbs) => sign('sha256', tbs, privateKey),
    );
    const certPem = toPem(der);
    const cert = new X509Certificate(certPem);
    return { cert, certPem, key: privateKey, notAfterMs: Date.parse(cert.validTo) };
  }

  /** Atomic (temp + fsync + rename), world-readable: the bundle is public by design. */
  private writeBundle(pem: string): void {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o755 });
    let current: string | undefined;
    try {
      current = readFileSync(this.bundlePath, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === pem) return;
    const tmp = `${this.bundlePath}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, pem, { mode: 0o644, flag: 'wx' });
    chmodSync(tmp, 0o644);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.bundlePath);
  }
}

function bundleOf(list: readonly Authority[]): string {
  return list.map((a) => `# ${a.cert.subject.replace(/\n/g, ', ')} (valid until ${a.cert.validTo})\n${pemBlocks(a.certPem)[0]}`).join('');
}

function aad(name: string, serialHex: string): string {
  return `cellar/tls/${name}/${serialHex.toLowerCase()}`;
}

/** 16 random bytes, positive, with no leading zero byte (so DER keeps all 16). */
function newSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b;
}

function subjectOf(cert: X509Certificate): { organization?: string; organizationalUnit?: string; commonName: string } {
  const fields = Object.fromEntries(cert.subject.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { organization: fields['O'], organizationalUnit: fields['OU'], commonName: fields['CN'] ?? '' };
}

function splitNames(names: readonly string[]): { dns: string[]; ips: string[] } {
  const unique = [...new Set(names)];
  return { dns: unique.filter((n) => isIP(n) === 0), ips: unique.filter((n) => isIP(n) !== 0) };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
