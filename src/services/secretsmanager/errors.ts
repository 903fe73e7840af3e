/**
 * @module services/secretsmanager/errors
 * The errors several Secrets Manager operations answer with, worded as AWS words them.
 */
import { ServiceError } from '../../core/errors.js';

export const ERR = {
  notFound: () => new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret."),
  deleted: () => new ServiceError('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion."),
  replica: () => new ServiceError('InvalidRequestException', "Operation not permitted on a replica secret. Call must be made in primary secret's region."),
  noVersionId: (id: string) => new ServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${id}`),
  noStage: (stage: string) => new ServiceError('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${stage}`),
  tokenInUse: (token: string, arn: string) => new ServiceError('ResourceExistsException', `You can't use ClientRequestToken ${token} because that value is already in use for a version of secret ${arn}.`),
  needToken: () => new ServiceError('InvalidRequestException', 'You must provide a ClientRequestToken value. We recommend a UUID-type value.'),
  bothValues: () => new ServiceError('InvalidParameterException', "You can't specify both a binary secret value and a string secret value in the same secret."),
  badToken: () => new ServiceError('InvalidNextTokenException', 'The NextToken value is invalid.'),
};
