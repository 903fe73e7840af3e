/**
 * @module services/rds/settings
 * The engine settings a DB instance should run with right now: its class's memory through RDS's
 * formulas, its parameter group's values, and the read-only overlay while storage is full. Used by the
 * API (to report ParameterApplyStatus) and by the reconciler (to configure the engine), so both
 * always agree.
 */
import { classMemoryBytes, instanceClass } from './catalog.js';
import { effectiveSettings, type EffectiveSettings } from './parameters.js';
import type { InstanceRecord, ParameterGroupRecord } from './records.js';

export interface InstanceSettings extends EffectiveSettings {
  /** Static settings only (what a restart would change). */
  staticValues: Record<string, string>;
  /** Dynamic settings only (applied to the running engine). */
  dynamicValues: Record<string, string>;
}

export function instanceSettings(rec: InstanceRecord, group: ParameterGroupRecord | undefined, memoryScale: number): InstanceSettings {
  const cls = instanceClass(rec.instanceClass);
  const vars = {
    DBInstanceClassMemory: cls ? classMemoryBytes(cls, memoryScale) : 256 * 1024 * 1024,
    DBInstanceVCPU: cls?.vcpu ?? 2,
    AllocatedStorage: rec.allocatedStorageGiB * 1024 ** 3,
  };
  const eff = effectiveSettings(rec.engineKind, group?.values ?? {}, vars);
  if (rec.observed.storageFull) {
    // Storage full: the engine stops taking writes (docs/rds.md explains what a client sees).
    if (rec.engineKind === 'postgres') eff.values['default_transaction_read_only'] = '1';
    else eff.values['read_only'] = '1';
  }
  const staticValues: Record<string, string> = {};
  const dynamicValues: Record<string, string> = {};
  for (const [k, v] of Object.entries(eff.values)) {
    if (eff.staticNames.has(k)) staticValues[k] = v;
    else dynamicValues[k] = v;
  }
  return { ...eff, staticValues, dynamicValues };
}

export function sameSettings(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  if (!a) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}
