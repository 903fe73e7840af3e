/**
 * RDS automated backups, point-in-time restore, snapshots and their restores on a real PostgreSQL (issue 12): see
 * rds-backups-run.ts for the scenarios, shared with MariaDB.
 */
import { backupScenarios } from './rds-backups-run.js';

backupScenarios('postgres', { writerIntervalMs: 80 });
