/**
 * @module services/rds/assemble
 * Puts RDS together once Cellar serves: finds the engine user and the installed engines, prepares the engine root,
 * and builds the supervisor, the managed master secrets and the provider. services/rds/index.ts loads this module
 * with `import()` after the server listens, so none of RDS's internals (nor the engine layer) is loaded, compiled or
 * run before the first request of another service can be answered.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ServiceEnv } from '../env.js';
import type { KmsInternal } from '../kms/internal.js';
import type { SecretsManagerInternal } from '../secretsmanager/provider.js';
import { LocalHost } from '../../engines/host.js';
import { claimTempDir, removeOwnTempDirs, sweepStaleTempDirs } from '../../engines/temp-dirs.js';
import { DEFAULT_MEMORY_SCALE } from './catalog.js';
import { endpointAddress } from './describe.js';
import { EnginesDriver } from './driver.js';
import { MasterSecrets } from './master-secret.js';
import { RdsLogs } from './logs.js';
import { RdsProvider } from './provider.js';
import { ParameterGroupApi } from './parameter-groups.js';
import { SubnetGroupApi } from './subnet-groups.js';
import { OptionGroupApi } from './option-groups.js';
import { TagApi } from './tagging.js';
import { EventApi } from './describe-events.js';
import { EngineVersionApi } from './engine-versions.js';
import { RdsResources } from './resources.js';
import { RdsTables } from './records.js';
import { InstanceEvents } from './status.js';
import { RdsSupervisor } from './supervisor.js';
import { RdsMetrics } from './metrics.js';
import { InstanceCertificates } from './tls.js';
import { backupRootFor } from '../../engines/backup/index.js';
import { BackupApi } from './backups/api.js';
import { BackupTables } from './backups/records.js';
import { BackupWorker } from './backups/worker.js';
import { done } from '../../runtime/reconciler.js';

const DEFAULT_HEALTH_INTERVAL_MS = 500;
/** How often the backup worker looks at every instance: LatestRestorableTime trails the archive by at most this. */
const BACKUP_TICK_MS = 1000;

export interface AssembledRds {
  /**
   * The modules that serve RDS's operations, each one method per operation it has: DB instances (the provider), the
   * groups, tags, events, engine versions, snapshots and backups. index.ts serves an operation from the one that has it.
   */
  operations: readonly object[];
  supervisor: RdsSupervisor;
  backups: BackupWorker;
  /** Where backups and snapshots live (engines/backup/location.ts). */
  backupRoot: string;
  secrets: MasterSecrets | undefined;
  root: string;
  temporary: boolean;
  /** After the engines stopped: removes what this Cellar made under the system temp dir (engines/temp-dirs.ts). */
  removeTempDirs: () => Promise<void>;
  /** The AWS/RDS metrics of the running engines. */
  metrics: RdsMetrics;
}

/**
 * Where engine data lives: `<data-dir>/rds`, or a temporary directory with --in-memory. The engines
 * run as an unprivileged user, who must be able to pass through the parent directories (not list
 * them): when Cellar runs as root, the data directory becomes 0711 and the state files in it 0600.
 */
function prepareEngineRoot(env: ServiceEnv): { root: string; temporary: boolean } {
  const configured = env.config.rds?.engineRoot;
  const dataDir = env.config.dataDir;
  const root = configured ?? (dataDir ? join(dataDir, 'rds') : mkdtempSync(join(tmpdir(), 'cellar-rds-')));
  mkdirSync(root, { recursive: true, mode: 0o711 });
  chmodSync(root, 0o711);
  if (userInfo().uid === 0 && dataDir && !configured) {
    chmodSync(dataDir, 0o711);
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm', 'root.key', 'cellar.json']) {
      const p = join(dataDir, f);
      if (existsSync(p)) chmodSync(p, 0o600);
    }
  }
  return { root, temporary: !configured && !dataDir };
}

export async function assembleRds(env: ServiceEnv, sm: SecretsManagerInternal | undefined, kms: KmsInternal | undefined): Promise<AssembledRds> {
  const tables = new RdsTables(env.store);
  const events = new InstanceEvents(tables);
  // Engines run through the engine layer's host (as the unprivileged `cellar` user when Cellar is root).
  // Its secret files (engines' internal admin and replication passwords) are sealed under Cellar's root key.
  const host = await LocalHost.create({ secretBox: env.box });
  // A Cellar killed earlier could not remove its temp directories (its engines died with it, see engines/host.ts).
  await sweepStaleTempDirs(host);
  const driver = await EnginesDriver.create(host);
  const { root, temporary } = prepareEngineRoot(env);
  if (temporary) await claimTempDir(host, root);
  const memoryScale = env.config.rds?.memoryScale ?? DEFAULT_MEMORY_SCALE;
  let secrets: MasterSecrets | undefined;
  const backupTables = new BackupTables(env.store);
  // In memory (no data directory), backups live beside the temporary engine root.
  const backupRoot = backupRootFor({ dataDir: env.config.dataDir, backupDir: env.config.rds?.backupDir }) ?? join(root, 'backups');
  const specOf = { fn: undefined as undefined | ((rec: Parameters<RdsSupervisor['spec']>[0]) => ReturnType<RdsSupervisor['spec']>) };
  const backups = new BackupWorker({ tables, backups: backupTables, events, driver, clock: env.clock, root: backupRoot, spec: (rec) => specOf.fn!(rec), tickMs: BACKUP_TICK_MS });
  const certificates = new InstanceCertificates(env.tls?.authority('rds'), driver, env.config);
  const supervisor: RdsSupervisor = new RdsSupervisor({
    certificates,
    deleteSecret: (rec, arn) => secrets?.delete(rec, arn),
    tables,
    events,
    driver,
    box: env.box,
    clock: env.clock,
    config: env.config,
    engineRoot: root,
    memoryScale,
    storageGiBBytes: env.config.rds?.storageGiBBytes ?? 1024 ** 3,
    healthIntervalMs: env.config.rds?.healthIntervalMs ?? DEFAULT_HEALTH_INTERVAL_MS,
    backups,
    ensureBackups: async (c) => done(backups.ensureStep(c.key, c.rec)),
  });
  specOf.fn = (rec) => supervisor.spec(rec);
  backups.attach(supervisor);
  // Before the first RDS request is answered: an instance is never reported available while its engine is not yet
  // this Cellar's (see RdsSupervisor.takeOver).
  supervisor.takeOver();
  if (sm && kms) {
    secrets = new MasterSecrets({
      sm,
      kms,
      tables,
      events,
      box: env.box,
      clock: env.clock,
      driver,
      spec: (rec) => supervisor.spec(rec),
      clientAddress: (rec) => endpointAddress(rec, env.config),
      caBundle: () => certificates.bundle(),
    });
  }
  const resources = new RdsResources(tables, () => driver.installed());
  const parameterGroups = new ParameterGroupApi({ resources, memoryScale, trigger: supervisor });
  const subnetGroups = new SubnetGroupApi(resources);
  const optionGroups = new OptionGroupApi(resources);
  const provider = new RdsProvider({
    secrets,
    resources,
    events,
    box: env.box,
    config: env.config,
    engineRoot: root,
    memoryScale,
    trigger: supervisor,
    parameterGroups,
    subnetGroups,
    optionGroups,
    ...(kms ? { kms } : {}),
    backupWorker: backups,
    logs: new RdsLogs({ driver, spec: (rec) => supervisor.spec(rec) }),
  });
  const operations = [
    provider,
    parameterGroups,
    subnetGroups,
    optionGroups,
    new TagApi(resources, parameterGroups, optionGroups),
    new EventApi(tables),
    new EngineVersionApi(resources),
    new BackupApi({ tables, backups: backupTables, events, worker: backups, creator: provider }),
  ];
  const metrics = new RdsMetrics(() => supervisor.metricTargets(), driver);
  return { operations, supervisor, backups, backupRoot, secrets, root, temporary, removeTempDirs: () => removeOwnTempDirs(host), metrics };
}
