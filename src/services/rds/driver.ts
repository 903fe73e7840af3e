/**
 * @module services/rds/driver
 * What the RDS reconciler needs from the engine layer, stated in RDS's terms. The implementation
 * (engine-driver.ts) binds it to the engine adapters and the host interface in src/engines/; tests of
 * the reconciler could bind it to a fake. Nothing in the RDS service calls child_process itself.
 */
import type { EngineKind } from './catalog.js';

export interface EngineSpec {
  /** Stable, unique per instance (account/region/id): names processes and logs. */
  key: string;
  kind: EngineKind;
  /** Exact engine version that must run (never swapped for another). */
  version: string;
  dataDir: string;
  port: number;
  /** 127.0.0.1 unless the instance is publicly accessible. */
  listenAddress: string;
}

export interface MasterCredentials {
  username: string;
  password: string;
  dbName?: string;
}

export interface EngineExit {
  key: string;
  code: number | null;
  signal: string | null;
}

export interface RdsEngineDriver {
  /** Versions really installed on this host. */
  installed(): Array<{ kind: EngineKind; version: string; major: string }>;
  /**
   * Brings a new instance up: data directory, engine started with settings, master user (RDS-like
   * privileges) and DBName. Each step is skipped when already done, so it can be re-run after a crash.
   */
  initialise(spec: EngineSpec, master: MasterCredentials, settings: Record<string, string>): Promise<void>;
  /** Starts the engine with these settings and resolves once it accepts connections. */
  start(spec: EngineSpec, settings: Record<string, string>): Promise<void>;
  /** Stops the engine (graceful, then fast, then kill); a no-op when it is not running. */
  stop(spec: EngineSpec): Promise<void>;
  /**
   * Takes over an engine a previous Cellar left running on this data directory (after kill -9 of
   * Cellar): true when one is running and answers.
   */
  adopt(spec: EngineSpec): Promise<boolean>;
  /** True while the engine process Cellar started (or adopted) is alive. */
  isRunning(spec: EngineSpec): boolean;
  /** Whether the engine answers a query now. */
  probe(spec: EngineSpec): Promise<boolean>;
  /** Applies dynamic settings to the running engine (and to its configuration for the next start). */
  applyDynamic(spec: EngineSpec, dynamic: Record<string, string>, previous: Record<string, string>, all: Record<string, string>): Promise<void>;
  /** The engine's process id while it runs (reported by /_cellar/health). */
  pid(spec: EngineSpec): number | undefined;
  /** Changes the master user's password in the running engine. */
  setMasterPassword(spec: EngineSpec, username: string, password: string): Promise<void>;
  /** Bytes the instance occupies on disk (data directory, WAL and logs). */
  storageUsedBytes(spec: EngineSpec): Promise<number>;
  /** Copies the (stopped) data directory to dest, for a final snapshot. */
  copyDataDir(spec: EngineSpec, dest: string): Promise<void>;
  /** Removes the data directory; the engine must be stopped. */
  destroy(spec: EngineSpec): Promise<void>;
  /** Called when an engine process exits without being asked to. */
  onUnexpectedExit(listener: (exit: EngineExit) => void): void;
  /** Stops every engine this driver started (Cellar shutting down). */
  stopAll(): Promise<void>;
}
