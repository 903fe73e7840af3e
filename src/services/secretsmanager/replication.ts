/**
 * @module services/secretsmanager/replication
 * Replication to other regions of the same Cellar: a replica is a read-only copy of its primary, its metadata as is
 * and its values re-encrypted under the replica region's key, brought in line whenever the primary changes (see
 * `commit`).
 */
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import { isRegionName, Scope } from '../../core/scope.js';
import type * as api from '../../models/secretsmanager.js';
import type { SecretAccess } from './access.js';
import { DEFAULT_KMS_KEY, type Envelope } from './envelope.js';
import { type ReplicaState, type SecretRecord, type SecretRepository, valueKey, type VersionMeta } from './records.js';

export class Replication {
  constructor(private readonly repo: SecretRepository, private readonly envelope: Envelope, private readonly access: SecretAccess, private readonly clock: Clock) {}

  /** Saves a primary and brings its replicas in line with it. */
  commit(rec: SecretRecord): void {
    this.repo.store.transaction(() => {
      this.repo.save(rec);
      this.sync(rec);
    });
  }

  /** ReplicationStatus as AWS reports it: each replica's state, with the replica's own LastAccessedDate. */
  status(rec: SecretRecord): api.ReplicationStatusType[] {
    return rec.replicas.map((r) => {
      const replica = r.Status === 'InSync' ? this.repo.get(Scope.ofRecord(rec).otherRegion(r.Region), rec.name) : undefined;
      return { ...r, ...(replica?.lastAccessedDayMs !== undefined ? { LastAccessedDate: new Date(replica.lastAccessedDayMs) } : {}) };
    });
  }

  validateRegions(primaryRegion: string, requests: api.ReplicaRegionType[]): void {
    const seen = new Set<string>();
    for (const r of requests) {
      // A region names state (core/scope.ts): only a well-formed region name is a replica region.
      if (!r.Region || !isRegionName(r.Region) || r.Region === primaryRegion || seen.has(r.Region)) throw new ServiceError('InvalidParameterException', 'Invalid replica region.');
      seen.add(r.Region);
    }
  }

  /** Creates replicas in other regions of this Cellar; a name taken there fails that replica unless ForceOverwriteReplicaSecret. */
  addReplicas(rec: SecretRecord, requests: api.ReplicaRegionType[], force: boolean): void {
    for (const req of requests) {
      const region = req.Region!;
      const state: ReplicaState = { Region: region, KmsKeyId: req.KmsKeyId || DEFAULT_KMS_KEY, Status: 'InSync', StatusMessage: 'Replication succeeded' };
      const taken = this.repo.get(Scope.ofRecord(rec).otherRegion(region), rec.name);
      if (taken && !(taken.primaryRegion === rec.region && taken.arn.endsWith(rec.arn.slice(-7)))) {
        if (!force) {
          state.Status = 'Failed';
          state.StatusMessage = `Replication failed: Secret name ${rec.name} already exists in region ${region}.`;
        } else {
          this.repo.purge(taken);
        }
      }
      rec.replicas = [...rec.replicas.filter((r) => r.Region !== region), state];
    }
    this.repo.save(rec);
    this.sync(rec);
  }

  /** Copies a primary into each in-sync replica: metadata as is, values re-encrypted under the replica region's key. */
  private sync(rec: SecretRecord): void {
    for (const state of rec.replicas) {
      if (state.Status !== 'InSync') continue;
      const replicaArn = rec.arn.replace(`:secretsmanager:${rec.region}:`, `:secretsmanager:${state.Region}:`);
      const existing = this.repo.get(Scope.ofRecord(rec).otherRegion(state.Region), rec.name);
      const replica: SecretRecord = {
        ...structuredClone(rec),
        arn: replicaArn,
        region: state.Region,
        primaryRegion: rec.region,
        replicas: [],
        kmsKeyId: state.KmsKeyId === DEFAULT_KMS_KEY ? undefined : state.KmsKeyId,
        versions: {},
        dueKeys: existing?.dueKeys ?? [],
        ...(existing?.lastAccessedDayMs !== undefined ? { lastAccessedDayMs: existing.lastAccessedDayMs } : {}),
      };
      delete replica.rotation;
      if (replica.kmsKeyId === undefined) delete replica.kmsKeyId;
      for (const v of Object.values(rec.versions)) {
        const had = existing?.versions[v.id];
        const meta: VersionMeta = { ...v, stages: [...v.stages] };
        if (had?.lastAccessedDayMs !== undefined) meta.lastAccessedDayMs = had.lastAccessedDayMs;
        if (v.kmsKeyArn && !had?.kmsKeyArn) {
          const value = this.envelope.open(rec, v.id);
          if (value) {
            const sealed = this.envelope.seal(replica, v.id, value);
            this.repo.values.put(valueKey(replicaArn, v.id), sealed);
            meta.kmsKeyArn = sealed.keyArn;
          }
        } else if (had?.kmsKeyArn) {
          meta.kmsKeyArn = had.kmsKeyArn;
        }
        replica.versions[v.id] = meta;
      }
      for (const id of Object.keys(existing?.versions ?? {})) if (!rec.versions[id]) this.repo.values.delete(valueKey(replicaArn, id));
      this.repo.save(replica);
    }
  }

  replicateSecretToRegions(input: api.ReplicateSecretToRegionsRequest, ctx: RequestContext): api.ReplicateSecretToRegionsResponse {
    const rec = this.access.findWritable(ctx, input.SecretId);
    this.validateRegions(rec.region, input.AddReplicaRegions);
    this.repo.store.transaction(() => this.addReplicas(rec, input.AddReplicaRegions, Boolean(input.ForceOverwriteReplicaSecret)));
    return { ARN: rec.arn, ReplicationStatus: this.status(rec) };
  }

  removeRegionsFromReplication(input: api.RemoveRegionsFromReplicationRequest, ctx: RequestContext): api.RemoveRegionsFromReplicationResponse {
    const rec = this.access.findWritable(ctx, input.SecretId);
    const remove = new Set(input.RemoveReplicaRegions);
    for (const region of remove) {
      if (!rec.replicas.some((r) => r.Region === region)) throw new ServiceError('InvalidParameterException', `The secret isn't replicated to Region ${region}.`);
    }
    this.repo.store.transaction(() => {
      for (const region of remove) {
        const state = rec.replicas.find((r) => r.Region === region)!;
        const replica = state.Status === 'InSync' ? this.repo.get(Scope.ofRecord(rec).otherRegion(region), rec.name) : undefined;
        if (replica?.primaryRegion === rec.region) this.repo.purge(replica);
      }
      rec.replicas = rec.replicas.filter((r) => !remove.has(r.Region));
      rec.lastChangedMs = this.clock.now();
      this.repo.save(rec);
    });
    return { ARN: rec.arn, ReplicationStatus: this.status(rec) };
  }

  stopReplicationToReplica(input: api.StopReplicationToReplicaRequest, ctx: RequestContext): api.StopReplicationToReplicaResponse {
    const replica = this.access.find(ctx, input.SecretId);
    if (!replica.primaryRegion) throw new ServiceError('InvalidRequestException', 'StopReplicationToReplica can only be called on a replica secret, in its own Region.');
    this.repo.store.transaction(() => {
      const primary = this.repo.get(Scope.ofRecord(replica).otherRegion(replica.primaryRegion!), replica.name);
      if (primary) {
        primary.replicas = primary.replicas.filter((r) => r.Region !== replica.region);
        this.repo.save(primary);
      }
      delete replica.primaryRegion;
      replica.lastChangedMs = this.clock.now();
      this.repo.save(replica);
    });
    return { ARN: replica.arn };
  }
}
