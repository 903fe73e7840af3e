/**
 * @module services/rds/metrics
 * The AWS/RDS metrics of the instances whose engines this Cellar runs, per DBInstanceIdentifier, sampled once per
 * period from the engine processes (/proc, observability/proc.ts) and from the engine itself through Cellar's admin
 * account:
 * - DatabaseConnections: client sessions (PostgreSQL pg_stat_activity, MariaDB Threads_connected), not counting the
 *   admin session that asks;
 * - CPUUtilization: CPU time of the engine's processes over the period, as a percentage of the host's CPUs;
 * - FreeableMemory: the instance class's memory here (rds.memoryScale) less the engine processes' memory
 *   (proportional set size: shared buffers count once, not once per backend);
 * - FreeStorageSpace: AllocatedStorage less what the instance directory occupies;
 * - ReadIOPS / WriteIOPS: read and write system calls of the engine's processes per second;
 * - ReadLatency / WriteLatency: seconds per block read and per WAL sync, when the engine times its I/O
 *   (PostgreSQL's track_io_timing / track_wal_io_timing); absent otherwise rather than guessed.
 * ReplicaLag joins them when read replicas exist: a replica's target will carry its source, and the lag is read
 * from the engine's replication status in `sampleInstance`.
 */
import { log } from '../../core/log.js';
import { availableParallelism } from 'node:os';
import type { EngineActivity } from '../../engines/adapter.js';
import { ioBetween, sampleTree, type ProcessSample } from '../../observability/proc.js';
import type { MetricDatum, MetricSampler, ScopedMetrics } from '../../observability/types.js';
import type { RdsEngineDriver } from './driver.js';
import type { RdsMetricTarget } from './supervisor.js';

interface Previous {
  atMs: number;
  process: ProcessSample;
  activity: EngineActivity | undefined;
}

export class RdsMetrics implements MetricSampler {
  /** The last reading of each instance (by engine key), for the per-second and per-period figures. */
  private readonly previous = new Map<string, Previous>();

  constructor(
    private readonly targets: () => RdsMetricTarget[],
    private readonly driver: RdsEngineDriver,
    private readonly cpus = availableParallelism(),
  ) {}

  async sample(_periodMs: number, timestamp: Date): Promise<ScopedMetrics[]> {
    const targets = this.targets();
    const out: ScopedMetrics[] = [];
    const live = new Set<string>();
    for (const t of targets) {
      live.add(t.spec.key);
      try {
        const datums = await this.sampleInstance(t, timestamp);
        if (datums.length > 0) out.push({ scope: t.scope, namespace: 'AWS/RDS', datums });
      } catch (e) {
        log('warn', 'rds metrics: instance not sampled', { instance: t.spec.key, error: (e as Error).message });
      }
    }
    for (const key of this.previous.keys()) if (!live.has(key)) this.previous.delete(key);
    return out;
  }

  private async sampleInstance(t: RdsMetricTarget, timestamp: Date): Promise<MetricDatum[]> {
    const Dimensions = [{ Name: 'DBInstanceIdentifier', Value: t.id }];
    const datum = (MetricName: string, Value: number, Unit: string): MetricDatum => ({ MetricName, Dimensions, Timestamp: timestamp, Value, Unit });
    const datums: MetricDatum[] = [];
    const atMs = Date.now();
    const [activity, used] = await Promise.all([
      this.driver.activity ? this.driver.activity(t.spec).catch((e: unknown) => void log('warn', 'rds metrics: engine activity not read', { instance: t.spec.key, error: (e as Error).message })) : undefined,
      // The health loop's own reading when it has one (it walks the instance directory every few seconds anyway).
      t.usedBytes !== undefined ? t.usedBytes : this.driver.storageUsedBytes(t.spec).catch(() => undefined),
    ]);
    if (activity) datums.push(datum('DatabaseConnections', activity.connections, 'Count'));
    if (used !== undefined) datums.push(datum('FreeStorageSpace', Math.max(0, t.allocatedBytes - used), 'Bytes'));
    const proc = sampleTree(t.pid);
    if (proc) datums.push(datum('FreeableMemory', Math.max(0, t.memoryBytes - proc.memoryBytes), 'Bytes'));
    const before = this.previous.get(t.spec.key);
    if (proc && before && before.process.rootPid === proc.rootPid && atMs > before.atMs) {
      const seconds = (atMs - before.atMs) / 1000;
      const cpu = Math.max(0, proc.cpuSeconds - before.process.cpuSeconds);
      datums.push(datum('CPUUtilization', Math.min(100, (cpu / seconds / this.cpus) * 100), 'Percent'));
      const io = ioBetween(before.process, proc);
      datums.push(datum('ReadIOPS', io.reads / seconds, 'Count/Second'));
      datums.push(datum('WriteIOPS', io.writes / seconds, 'Count/Second'));
      const a = before.activity;
      if (activity && a) {
        const latency = (count?: number, timeMs?: number, count0?: number, timeMs0?: number): number | undefined =>
          count !== undefined && timeMs !== undefined && count0 !== undefined && timeMs0 !== undefined && count > count0 ? (timeMs - timeMs0) / 1000 / (count - count0) : undefined;
        const read = latency(activity.readCount, activity.readTimeMs, a.readCount, a.readTimeMs);
        const write = latency(activity.writeCount, activity.writeTimeMs, a.writeCount, a.writeTimeMs);
        if (read !== undefined) datums.push(datum('ReadLatency', Math.max(0, read), 'Seconds'));
        if (write !== undefined) datums.push(datum('WriteLatency', Math.max(0, write), 'Seconds'));
      }
    }
    if (proc) this.previous.set(t.spec.key, { atMs, process: proc, activity: activity ?? undefined });
    return datums;
  }
}
