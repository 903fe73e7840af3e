/**
 * @module services/dynamodb/streams/stream-spec
 * StreamSpecification on CreateTable and UpdateTable: what DynamoDB accepts, with its messages.
 * (AWS's messages name the view type `UpdateViewType`, its internal name for StreamViewType.)
 */
import { validationError } from '../../../core/errors.js';
import type { StreamViewType } from './format.js';

export interface StreamSpecificationInput {
  StreamEnabled?: boolean;
  StreamViewType?: StreamViewType;
}

const INVALID = 'One or more parameter values were invalid: ';

/** CreateTable: an enabled stream needs a view type; a disabled one must not name one. */
export function checkCreateStreamSpec(spec: StreamSpecificationInput | undefined): void {
  if (!spec) return;
  if (spec.StreamEnabled && !spec.StreamViewType) throw validationError(`${INVALID}Table is being created with a stream enabled, UpdateViewType is required`);
  if (!spec.StreamEnabled && spec.StreamViewType) throw validationError(`${INVALID}Table is being created with a stream disabled, UpdateViewType should not be specified`);
}

/**
 * UpdateTable: the same rule for the view type, then the table's state: a stream cannot be enabled
 * twice (nor its view type changed in place) nor disabled when there is none, and it cannot change
 * in the same request as an index is created or deleted.
 */
export function checkUpdateStreamSpec(spec: StreamSpecificationInput | undefined, tableName: string, enabledNow: boolean, changesIndexes: boolean): void {
  if (!spec) return;
  if (spec.StreamEnabled && !spec.StreamViewType) throw validationError(`${INVALID}If stream is being enabled then UpdateViewType is required`);
  if (!spec.StreamEnabled && spec.StreamViewType) throw validationError(`${INVALID}If stream is being disabled, then UpdateViewType must not be specified`);
  if (changesIndexes) throw validationError(`${INVALID}You cannot create or delete index while changing stream status`);
  if (spec.StreamEnabled && enabledNow) throw validationError(`Table already has an enabled stream: TableName: ${tableName}`);
  if (!spec.StreamEnabled && !enabledNow) throw validationError(`Table has no stream to disable: TableName: ${tableName}`);
}
