/**
 * @module engines/tls
 * TLS for the relational engines: where an instance keeps its server certificate and key, and the pure pieces that
 * turn them on in PostgreSQL (cellar.conf lines, pg_hba rewritten to `hostssl` when TLS is forced) and MariaDB
 * (command-line options). The certificates themselves come from the caller (RDS asks Cellar's CA, src/tls/): the engine
 * layer only installs them.
 *
 * One file, `<dataDir>/tls/server.pem`, holds the private key and the certificate: both engines read each from the
 * first PEM block of its kind, and a single atomic rename means an engine (re)loading it never sees a key from one
 * certificate next to another certificate. The file is 0600 and belongs to the engine user, as PostgreSQL requires
 * of its key file; the `tls/` directory is 0700.
 */
import * as path from 'node:path';
import type { Host } from './host.js';

export interface TlsMaterial {
  certPem: string;
  /** PEM private key (PKCS #8). Written only to the instance's own 0600 key file. */
  keyPem: string;
}

/**
 * Cellar's own setting (named as RDS names it) saying that TCP clients must use TLS. PostgreSQL keeps it as a
 * placeholder setting (`SHOW rds.force_ssl` answers, as on RDS); the adapter turns it into `hostssl` pg_hba rules.
 */
export const FORCE_SSL_PARAM = 'rds.force_ssl';

/** The part of an instance's layout (adapter.ts) that TLS files live under: a structural type, so no import circle. */
type InstanceRoot = { root: string };

export function tlsFile(layout: InstanceRoot): string {
  return path.join(layout.root, 'tls', 'server.pem');
}

/** Writes key + certificate atomically and durably, 0600, owned by the engine user. */
export async function writeTlsMaterial(host: Host, layout: InstanceRoot, m: TlsMaterial): Promise<void> {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(m.keyPem)) throw new Error('TLS key is not a PEM private key');
  if (!/-----BEGIN CERTIFICATE-----/.test(m.certPem)) throw new Error('TLS certificate is not a PEM certificate');
  const file = tlsFile(layout);
  await host.ensureDir(path.dirname(file), 0o700);
  await host.writeFile(file, ensureNewline(m.keyPem) + ensureNewline(m.certPem), { mode: 0o600 });
}

export async function hasTls(host: Host, layout: InstanceRoot): Promise<boolean> {
  return host.exists(tlsFile(layout));
}

/** The installed server certificate (PEM), never the key; undefined when none is installed. */
export async function readTlsCertificate(host: Host, layout: InstanceRoot): Promise<string | undefined> {
  const text = await host.readFile(tlsFile(layout));
  const m = text && /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/.exec(text);
  return m ? m[0] + '\n' : undefined;
}

/** cellar.conf lines that turn TLS on with the instance's key file. TLS 1.2 at least, as RDS's default. */
export function postgresTlsLines(file: string): string[] {
  const q = "'" + file.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
  return ['# TLS: the instance certificate issued by Cellar\'s CA (key and certificate in one file).', 'ssl = on', `ssl_cert_file = ${q}`, `ssl_key_file = ${q}`, "ssl_min_protocol_version = 'TLSv1.2'"];
}

/**
 * pg_hba.conf with TLS forced: every `host` rule that lets someone in becomes `hostssl`, so a TCP connection without
 * TLS matches no rule and is refused as RDS refuses it ("no pg_hba.conf entry for host ..., no encryption"). Rules
 * that reject stay `host` (they must keep rejecting with or without TLS); Unix-socket rules are untouched.
 */
export function forceTlsInHba(hba: string, force: boolean): string {
  if (!force) return hba;
  return hba
    .split('\n')
    .map((line) => {
      const m = /^(host)(\s+.*\s)(\S+)\s*$/.exec(line);
      if (!m || m[3] === 'reject') return line;
      return 'hostssl' + m[2]!.replace(/^ {3}/, '') + m[3];
    })
    .join('\n');
}

/** mariadbd options for the instance's key file (one file for both: each option reads the block it needs). */
export function mariadbTlsArgs(file: string): string[] {
  return [`--ssl-cert=${file}`, `--ssl-key=${file}`, '--tls-version=TLSv1.2,TLSv1.3'];
}

function ensureNewline(s: string): string {
  return s.endsWith('\n') ? s : s + '\n';
}
