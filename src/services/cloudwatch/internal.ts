/**
 * @module services/cloudwatch/internal
 * What Cellar's own samplers use of CloudWatch in-process: publishing datums to a namespace of an account and region,
 * including the `AWS/` namespaces a caller may not publish to (AWS/RDS, AWS/DynamoDB, AWS/SecretsManager, AWS/KMS …).
 * Get it from the built CloudWatch definition: `(env.built.get('cloudwatch')?.provider as { internal?: CloudWatchInternal })?.internal`.
 */
import type { MetricDatum } from '../../models/cloudwatch.js';

export type { MetricDatum };

export interface CloudWatchInternal {
  /**
   * Stores datums as PutMetricData does (the same rules: at most 1000 datums, 150 values each, timestamps within two
   * weeks past and two hours ahead, StorageResolution 1 or 60). Resolves once they are durable; rejects with
   * CloudWatch's ServiceError for a datum PutMetricData would refuse (nothing of the call is then stored).
   */
  publish(scope: { accountId: string; region: string }, namespace: string, datums: MetricDatum[]): Promise<void>;
}
