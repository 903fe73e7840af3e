/**
 * @module services/kms/key-rotation
 * Key rotation: new material becomes current, automatically every rotation period or on demand (at most 25 times),
 * and older material still decrypts what it encrypted.
 */
import type { RequestContext } from '../../core/context.js';
import type { Clock } from '../../core/clock.js';
import { ServiceError } from '../../core/errors.js';
import type * as api from '../../models/kms.js';
import type { KeyAccess } from './key-access.js';
import type { KeyMaterial } from './key-material.js';
import { page } from './paging.js';
import { DAY_MS, DEFAULT_ROTATION_DAYS, type KeyRecord, type KmsTables } from './records.js';

/** AWS's limit of on-demand rotations per key. */
const MAX_ON_DEMAND_ROTATIONS = 25;

export class KeyRotation {
  constructor(private readonly t: KmsTables, private readonly access: KeyAccess, private readonly material: KeyMaterial, private readonly clock: Clock) {}

  enableKeyRotation(input: api.EnableKeyRotationRequest, ctx: RequestContext): void {
    const key = this.access.keyFor(ctx, input.KeyId);
    this.access.assertCustomerManaged(key, 'EnableKeyRotation');
    this.access.assertUsable(key);
    const days = input.RotationPeriodInDays ?? key.rotationPeriodDays ?? DEFAULT_ROTATION_DAYS;
    key.rotationEnabled = true;
    key.rotationPeriodDays = days;
    key.nextRotationMs = this.clock.now() + days * DAY_MS;
    this.t.save(key);
  }

  disableKeyRotation(input: api.DisableKeyRotationRequest, ctx: RequestContext): void {
    const key = this.access.keyFor(ctx, input.KeyId);
    this.access.assertCustomerManaged(key, 'DisableKeyRotation');
    this.access.assertUsable(key);
    key.rotationEnabled = false;
    delete key.nextRotationMs;
    this.t.save(key);
  }

  getKeyRotationStatus(input: api.GetKeyRotationStatusRequest, ctx: RequestContext): api.GetKeyRotationStatusResponse {
    const key = this.access.keyFor(ctx, input.KeyId);
    if (key.state === 'PendingDeletion') throw new ServiceError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    return {
      KeyRotationEnabled: key.rotationEnabled,
      KeyId: key.arn,
      ...(key.rotationEnabled ? { RotationPeriodInDays: key.rotationPeriodDays, ...(key.nextRotationMs ? { NextRotationDate: new Date(key.nextRotationMs) } : {}) } : {}),
      ...(key.onDemandRotationStartMs ? { OnDemandRotationStartDate: new Date(key.onDemandRotationStartMs) } : {}),
    };
  }

  rotateKeyOnDemand(input: api.RotateKeyOnDemandRequest, ctx: RequestContext): api.RotateKeyOnDemandResponse {
    const key = this.access.keyFor(ctx, input.KeyId);
    this.access.assertCustomerManaged(key, 'RotateKeyOnDemand');
    this.access.assertUsable(key);
    const onDemand = key.materials.filter((m) => m.rotationType === 'ON_DEMAND').length;
    if (onDemand >= MAX_ON_DEMAND_ROTATIONS) throw new ServiceError('LimitExceededException', `The on-demand rotations limit has been reached for the given key ${key.arn}.`);
    this.rotate(key, 'ON_DEMAND');
    return { KeyId: key.keyId };
  }

  listKeyRotations(input: api.ListKeyRotationsRequest, ctx: RequestContext): api.ListKeyRotationsResponse {
    const key = this.access.keyFor(ctx, input.KeyId);
    const rotations = key.materials.slice(1);
    return page(rotations, input.Marker, input.Limit ?? 100, (m) => m.id, (m) => ({ KeyId: key.keyId, KeyMaterialId: m.id, RotationDate: new Date(m.createdMs), RotationType: m.rotationType ?? 'AUTOMATIC', KeyMaterialState: m === key.materials[key.materials.length - 1] ? 'CURRENT' : 'NON_CURRENT' }), 'Rotations');
  }

  /** New current material for the key; the next automatic rotation counts from now. */
  rotate(key: KeyRecord, type: 'AUTOMATIC' | 'ON_DEMAND'): void {
    const now = this.clock.now();
    key.materials.push(this.material.create(key.arn, now, type));
    if (type === 'ON_DEMAND') key.onDemandRotationStartMs = now;
    if (key.rotationEnabled) key.nextRotationMs = now + key.rotationPeriodDays * DAY_MS;
    this.t.save(key);
  }
}
