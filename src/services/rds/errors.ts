/**
 * @module services/rds/errors
 * RDS's own error codes and messages, worded as the real service words them (checked against
 * responses quoted in public issue trackers and the API reference). Every refusal in the RDS provider
 * goes through one of these, so a message is written once.
 */
import { ServiceError } from '../../core/errors.js';

export const invalidParameterValue = (message: string) => new ServiceError('InvalidParameterValue', message);
export const invalidParameterCombination = (message: string) => new ServiceError('InvalidParameterCombination', message);

/** RDS words a missing or blank required parameter this way (not MissingParameter). */
export const blankParameter = (name: string) => invalidParameterValue(`The parameter ${name} must be provided and must not be blank.`);

export const dbInstanceNotFound = (id: string) => new ServiceError('DBInstanceNotFound', `DBInstance ${id} not found.`, { status: 404 });
export const dbInstanceAlreadyExists = () => new ServiceError('DBInstanceAlreadyExists', 'DB instance already exists');
export const invalidDBInstanceState = (message: string) => new ServiceError('InvalidDBInstanceState', message);

export const dbParameterGroupNotFound = (name: string) => new ServiceError('DBParameterGroupNotFound', `DBParameterGroup not found: ${name}`, { status: 404 });
export const dbParameterGroupAlreadyExists = (name: string) =>
  new ServiceError('DBParameterGroupAlreadyExists', `Parameter group ${name} already exists`);
export const invalidDBParameterGroupState = (message: string) => new ServiceError('InvalidDBParameterGroupState', message);

export const dbSubnetGroupNotFound = (name: string) => new ServiceError('DBSubnetGroupNotFoundFault', `DBSubnetGroup ${name} not found.`, { status: 404 });
export const dbSubnetGroupAlreadyExists = (name: string) => new ServiceError('DBSubnetGroupAlreadyExists', `DB Subnet Group ${name} already exists.`);
export const invalidDBSubnetGroupState = (message: string) => new ServiceError('InvalidDBSubnetGroupStateFault', message);

export const optionGroupNotFound = (name: string) => new ServiceError('OptionGroupNotFoundFault', `Specified OptionGroupName: ${name} not found.`, { status: 404 });
export const optionGroupAlreadyExists = (name: string) => new ServiceError('OptionGroupAlreadyExistsFault', `Option group ${name} already exists.`);
export const invalidOptionGroupState = (message: string) => new ServiceError('InvalidOptionGroupStateFault', message);

export const dbSecurityGroupNotFound = (name: string) => new ServiceError('DBSecurityGroupNotFound', `DBSecurityGroup ${name} not found.`, { status: 404 });

export const dbSnapshotAlreadyExists = (id: string) =>
  new ServiceError('DBSnapshotAlreadyExists', `Cannot create the snapshot because a snapshot with the identifier ${id} already exists.`);

export const kmsKeyNotAccessible = (message: string) => new ServiceError('KMSKeyNotAccessibleFault', message);

/** The identifier rule RDS states for instances, parameter groups, snapshots and subnet groups. */
export const invalidIdentifier = (param: string) =>
  invalidParameterValue(
    `The parameter ${param} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.`,
  );
