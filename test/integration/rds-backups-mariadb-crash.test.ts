/**
 * RDS backups on a real MariaDB across kill -9 of Cellar mid-backup (issue 12): see rds-backups-crash-run.ts.
 */
import { crashScenarios } from './rds-backups-crash-run.js';

crashScenarios('mariadb', { writerIntervalMs: 1300, timeGranularityMs: 1000 });
