/**
 * @module tls/x509
 * A minimal, pure X.509 v3 certificate builder: just enough DER (RFC 5280) to mint a root CA and the server
 * certificates it signs, with SANs, key usages and key identifiers. No I/O and no key generation: the caller hands in
 * the subject's public key (SPKI DER) and a `sign` function over the to-be-signed bytes, so Node's own crypto does the
 * cryptography and this module only lays out bytes.
 *
 * Why not the openssl CLI: issuing through it needs the CA's private key in a file (or a pipe) for a child process;
 * here it never leaves Cellar's memory. Why not an npm package: the subset needed is a page of DER, and Node's
 * X509Certificate (and the real TLS clients in the tests) check what this produces.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

// ---- DER primitives ----------------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: tag byte, DER length, contents. */
export function tlv(tag: number, contents: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(contents.length), contents]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
export const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
export const nul = (): Buffer => Buffer.from([0x05, 0x00]);
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
/** `[n]` EXPLICIT: a constructed context tag wrapping a whole TLV. */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);

/** A non-negative INTEGER from big-endian magnitude bytes, minimally encoded (a 0x00 pad only when the top bit is set). */
export function uint(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return tlv(0x02, m[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : Buffer.from(m));
}

export function smallInt(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new Error(`smallInt out of range: ${n}`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return uint(b);
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`bad OID ${dotted}`);
    return Number(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2) throw new Error(`bad OID ${dotted}`);
  const out: number[] = [];
  const base128 = (v: number) => {
    const groups: number[] = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  };
  base128(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) base128(a);
  return tlv(0x06, Buffer.from(out));
}

/** BIT STRING holding whole bytes (signatures, keys). */
export const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

/**
 * A named-bit BIT STRING (KeyUsage): bit 0 is the most significant bit of the first byte, and DER drops trailing
 * zero bits, saying how many of the last byte are unused.
 */
export function namedBits(bits: readonly number[]): Buffer {
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[Math.floor(b / 8)]! |= 0x80 >> b % 8;
  const unused = 7 - (max % 8);
  return tlv(0x03, Buffer.concat([Buffer.from([unused]), bytes]));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, UTC. */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`certificate time out of range: ${iso}`);
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

// ---- a tiny DER reader (only what extracting a public key needs) ------------------------------------

interface Read {
  tag: number;
  contents: Buffer;
  next: number;
}

function read(b: Buffer, at: number): Read {
  const tag = b[at];
  let len = b[at + 1];
  if (tag === undefined || len === undefined) throw new Error('truncated DER');
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    p += n;
  }
  if (p + len > b.length) throw new Error('truncated DER');
  return { tag, contents: b.subarray(p, p + len), next: p + len };
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo (what RFC 5280's key identifier method 1 hashes). */
export function spkiKeyBits(spki: Buffer): Buffer {
  const outer = read(spki, 0);
  if (outer.tag !== 0x30) throw new Error('SubjectPublicKeyInfo is not a SEQUENCE');
  const alg = read(outer.contents, 0);
  const bits = read(outer.contents, alg.next);
  if (bits.tag !== 0x03 || bits.contents[0] !== 0) throw new Error('SubjectPublicKeyInfo has no public key BIT STRING');
  return bits.contents.subarray(1);
}

export function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(spkiKeyBits(spki)).digest();
}

// ---- certificates ------------------------------------------------------------------------------------

export const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** Distinguished name attributes, in order (most significant first, as RFC 4514 prints them last). */
export interface DistinguishedName {
  organization?: string;
  organizationalUnit?: string;
  commonName: string;
}

export function name(dn: DistinguishedName): Buffer {
  const rdns: Buffer[] = [];
  const add = (o: string, v: string | undefined) => {
    if (v !== undefined) rdns.push(set(seq(oid(o), utf8(v))));
  };
  add(OID.organization, dn.organization);
  add(OID.organizationalUnit, dn.organizationalUnit);
  add(OID.commonName, dn.commonName);
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

/** GeneralNames: dNSName [2] IA5String and iPAddress [7] OCTET STRING (4 or 16 bytes), both implicitly tagged. */
export function subjectAltNames(dnsNames: readonly string[], ipAddresses: readonly string[]): Buffer {
  const names: Buffer[] = [];
  for (const d of dnsNames) {
    if (!/^[A-Za-z0-9*]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(d)) throw new Error(`not a DNS name: ${d}`);
    names.push(tlv(0x82, Buffer.from(d, 'ascii')));
  }
  for (const ip of ipAddresses) names.push(tlv(0x87, ipBytes(ip)));
  return seq(...names);
}

export function ipBytes(ip: string): Buffer {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ip.split('.').map(Number));
  if (v !== 6) throw new Error(`not an IP address: ${ip}`);
  // Expand "::" and any embedded IPv4 tail into eight 16-bit groups.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export type SignatureAlgorithm = 'sha256WithRSAEncryption' | 'ecdsaWithSHA256';

export interface CertificateTemplate {
  /** Positive serial number, big-endian; at most 20 bytes (RFC 5280). */
  serial: Buffer;
  issuer: DistinguishedName;
  subject: DistinguishedName;
  notBeforeMs: number;
  notAfterMs: number;
  /** The subject's public key, SubjectPublicKeyInfo DER. */
  subjectPublicKey: Buffer;
  /** The issuer's public key (for the authority key identifier); the subject's own for a self-signed CA. */
  issuerPublicKey: Buffer;
  /** A CA certificate (keyCertSign, cRLSign; path length 0) or a TLS server certificate. */
  kind: 'ca' | 'server';
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  signatureAlgorithm: SignatureAlgorithm;
}

/**
 * The DER of a signed certificate. `sign` gets the DER of the TBSCertificate and returns the raw signature as the
 * algorithm defines it (PKCS #1 v1.5 bytes for RSA, a DER ECDSA-Sig-Value for ECDSA): Node's crypto.sign does both.
 */
export function buildCertificate(t: CertificateTemplate, sign: (tbs: Buffer) => Buffer): Buffer {
  if (t.serial.length === 0 || t.serial.length > 20) throw new Error('serial must be 1-20 bytes');
  if (t.notAfterMs <= t.notBeforeMs) throw new Error('notAfter must follow notBefore');
  const algorithm = t.signatureAlgorithm === 'sha256WithRSAEncryption' ? seq(oid(OID.sha256WithRSAEncryption), nul()) : seq(oid(OID.ecdsaWithSHA256));
  const extensions: Buffer[] = [];
  if (t.kind === 'ca') {
    extensions.push(extension(OID.basicConstraints, true, seq(bool(true), smallInt(0))));
    extensions.push(extension(OID.keyUsage, true, namedBits([5, 6]))); // keyCertSign, cRLSign
  } else {
    extensions.push(extension(OID.basicConstraints, true, seq()));
    extensions.push(extension(OID.keyUsage, true, namedBits([0, 2]))); // digitalSignature, keyEncipherment
    extensions.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))));
    const dns = t.dnsNames ?? [];
    const ips = t.ipAddresses ?? [];
    if (dns.length + ips.length === 0) throw new Error('a server certificate needs at least one name');
    extensions.push(extension(OID.subjectAltName, false, subjectAltNames(dns, ips)));
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(t.subjectPublicKey))));
  extensions.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyIdentifier(t.issuerPublicKey)))));
  const tbs = seq(
    explicit(0, smallInt(2)), // v3
    uint(t.serial),
    algorithm,
    name(t.issuer),
    seq(time(t.notBeforeMs), time(t.notAfterMs)),
    name(t.subject),
    Buffer.from(t.subjectPublicKey),
    explicit(3, seq(...extensions)),
  );
  return seq(tbs, algorithm, bitString(sign(tbs)));
}

export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every PEM block labelled `label` in text, each with its own BEGIN/END lines and a trailing newline. */
export function pemBlocks(text: string, label = 'CERTIFICATE'): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----\\r?\\n[A-Za-z0-9+/=\\r\\n]+?-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => m[0].replace(/\r\n/g, '\n') + '\n');
}
