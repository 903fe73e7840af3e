/**
 * @module services/rds/tls
 * Each DB instance's TLS server certificate: issued by Cellar's `rds` CA (src/tls/) for the names a client may reach
 * the instance by, installed in the instance's own directory through the engine layer, and replaced when the
 * endpoint's address changes, when it nears expiry, or when the CA it came from is no longer the current one.
 *
 * The names: the endpoint address DescribeDBInstances reports (the CN, as RDS puts the endpoint in the CN), plus the
 * loopback names `localhost`, `127.0.0.1` and `::1` (an instance always listens on loopback, or on every address).
 */
import { X509Certificate } from 'node:crypto';
import type { CellarConfig } from '../../config.js';
import type { CertificateAuthority, ServerCertificateRequest } from '../../tls/ca.js';
import { endpointAddress } from './describe.js';
import type { MemberEngine, RdsEngineDriver } from './driver.js';
import type { InstanceRecord } from './records.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

export function certificateRequest(rec: Pick<InstanceRecord, 'publiclyAccessible'>, config: Pick<CellarConfig, 'publicAddress'>): ServerCertificateRequest {
  const address = endpointAddress(rec, config);
  return { commonName: address, names: [...new Set([address, ...LOOPBACK_NAMES])] };
}

export class InstanceCertificates {
  constructor(
    private readonly ca: CertificateAuthority | undefined,
    private readonly driver: RdsEngineDriver,
    private readonly config: Pick<CellarConfig, 'publicAddress'>,
  ) {}

  /**
   * Makes sure the instance has a current certificate. Says whether it issued one (with a sentence for the log) and
   * until when the served certificate is valid. Throws when it cannot (the caller decides whether that stops anything:
   * it never does, a certificate is background work).
   */
  async ensure(rec: InstanceRecord, spec: MemberEngine): Promise<{ sentence?: string; validTillMs?: number }> {
    if (!this.ca) return {};
    const req = certificateRequest(rec, this.config);
    const current = await this.driver.tlsCertificate(spec);
    const reason = await this.ca.renewalReason(current, req);
    if (!reason) return { validTillMs: Date.parse(new X509Certificate(current!).validTo) };
    const issued = await this.ca.issueServerCertificate(req);
    const { live } = await this.driver.installTls(spec, issued);
    const running = this.driver.isRunning(spec);
    return {
      sentence: `TLS certificate for ${req.names.join(', ')} issued (${reason}), valid until ${new Date(issued.notAfterMs).toISOString()}${running && !live ? '; served from the next restart' : ''}`,
      validTillMs: issued.notAfterMs,
    };
  }

  /** Where the CA bundle is (with --in-memory, a temporary directory) and whether a stored CA had to be replaced. */
  health(): Record<string, unknown> {
    return this.ca ? { ...this.ca.health(), url: '/_cellar/tls/rds-ca-bundle.pem' } : {};
  }

  /** The CA bundle clients verify against (for Cellar's own client logins), undefined without a CA. */
  async bundle(): Promise<string | undefined> {
    return this.ca?.bundlePem();
  }
}
