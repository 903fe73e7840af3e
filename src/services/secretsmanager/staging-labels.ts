/**
 * @module services/secretsmanager/staging-labels
 * Staging labels: which version of a secret is AWSCURRENT, AWSPREVIOUS or AWSPENDING, and how a label moves from one
 * version to another as AWS moves it.
 */
import type { SecretRecord, VersionMeta } from './records.js';

export const CURRENT = 'AWSCURRENT';
export const PREVIOUS = 'AWSPREVIOUS';
export const PENDING = 'AWSPENDING';

export function versionWith(rec: SecretRecord, stage: string): VersionMeta | undefined {
  return Object.values(rec.versions).find((v) => v.stages.includes(stage));
}

/** Attaches stage to version `toId`, taking it from wherever it was; AWSCURRENT drags AWSPREVIOUS along as AWS does. */
export function attachStage(rec: SecretRecord, stage: string, toId: string): void {
  const target = rec.versions[toId]!;
  const holder = versionWith(rec, stage);
  if (holder?.id === toId) return;
  if (holder) holder.stages = holder.stages.filter((s) => s !== stage);
  if (stage === CURRENT && holder) {
    for (const v of Object.values(rec.versions)) v.stages = v.stages.filter((s) => s !== PREVIOUS);
    holder.stages.push(PREVIOUS);
  }
  target.stages.push(stage);
}
