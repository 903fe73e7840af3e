/**
 * RDS backups on a real PostgreSQL across kill -9 of Cellar mid-backup (issue 12): see rds-backups-crash-run.ts.
 */
import { crashScenarios } from './rds-backups-crash-run.js';

crashScenarios('postgres', { writerIntervalMs: 80 });
