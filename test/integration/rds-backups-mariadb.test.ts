/**
 * RDS automated backups, point-in-time restore, snapshots and their restores on a real MariaDB (issue 12): see
 * rds-backups-run.ts for the scenarios, shared with PostgreSQL. MariaDB's binlog stamps events in whole seconds, so
 * the writer leaves more than a second between rows and restore times are whole seconds.
 */
import { backupScenarios } from './rds-backups-run.js';

backupScenarios('mariadb', { writerIntervalMs: 1300, timeGranularityMs: 1000 });
