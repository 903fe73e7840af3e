/**
 * @module services/env
 * What every service is built from: the durable store, the clock, the configuration, the root-key
 * box for secrets at rest, and the services built before it (Secrets Manager uses KMS; RDS uses both).
 */
import type { Clock } from '../core/clock.js';
import type { CellarConfig } from '../config.js';
import type { CredentialStore } from '../auth/credentials.js';
import type { SecretBox } from '../crypto/rootkey.js';
import type { Store } from '../storage/store.js';
import type { TlsAuthorities } from '../tls/authorities.js';
import type { ServiceDefinition } from './registry.js';

export interface ServiceEnv {
  store: Store;
  clock: Clock;
  config: CellarConfig;
  credentials: CredentialStore;
  box: SecretBox;
  /** Services already built, by model id. */
  built: Map<string, ServiceDefinition>;
  /** Cellar's certificate authorities (RDS's server certificates; their bundles are published under `/_cellar/tls/`). */
  tls?: TlsAuthorities;
  /** Cellar's own endpoint, set once the server listens (before services start): work that calls back into Cellar uses it. */
  endpoint?: string;
}
