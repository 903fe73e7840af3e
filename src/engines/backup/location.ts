/**
 * @module engines/backup/location
 * Where backups live: `<data-dir>/backups` by default, or the config's `rds.backupDir` (another disk, so that losing
 * the data disk does not lose its backups). One place per instance, named by the caller's account and region and by
 * the instance's DbiResourceId (stable across renames, and kept after the instance is deleted):
 *
 *   <backupRoot>/<account>/<region>/<dbiResourceId>/base/<backupId>/   one full backup + cellar-manifest.json
 *   <backupRoot>/<account>/<region>/<dbiResourceId>/archive/           the continuously archived log
 *
 * Names from requests never become paths unchecked: every component is validated here.
 */
import * as path from 'node:path';
import type { Host } from '../host.js';
import type { BackupPlace } from '../adapter.js';
import { isAccountId, isRegionName } from '../../core/scope.js';

/** Lower-case letters, digits and dashes: DbiResourceIds (`db-ABC...` upper-case too) and generated backup ids. */
const SAFE_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkPathComponent(what: string, value: string): string {
  if (!SAFE_COMPONENT.test(value) || value.includes('..')) throw new Error(`invalid ${what} ${JSON.stringify(value)} for a backup path`);
  return value;
}

/** The backup root: the configured directory, else `<dataDir>/backups`; undefined when neither exists (in-memory). */
export function backupRootFor(options: { dataDir?: string; backupDir?: string }): string | undefined {
  if (options.backupDir) {
    if (!path.isAbsolute(options.backupDir)) throw new Error(`backupDir must be an absolute path: ${options.backupDir}`);
    return path.resolve(options.backupDir);
  }
  return options.dataDir ? path.join(path.resolve(options.dataDir), 'backups') : undefined;
}

export interface BackupOwner {
  accountId: string;
  region: string;
  /** The instance's DbiResourceId. */
  resourceId: string;
}

/** The place of one instance's backups, without touching the disk. */
export function backupPlace(root: string, owner: BackupOwner): BackupPlace & { dir: string } {
  if (!path.isAbsolute(root)) throw new Error(`backup root must be absolute: ${root}`);
  if (!isAccountId(owner.accountId)) throw new Error(`invalid account id ${JSON.stringify(owner.accountId)}`);
  if (!isRegionName(owner.region)) throw new Error(`invalid region ${JSON.stringify(owner.region)}`);
  const dir = path.join(path.resolve(root), owner.accountId, owner.region, checkPathComponent('resource id', owner.resourceId));
  return { dir, baseDir: path.join(dir, 'base'), archiveDir: path.join(dir, 'archive') };
}

/**
 * Creates the place's directories. The root and the account/region levels are 0711 (the engine user passes through,
 * lists nothing); the instance's own directories belong to the engine user, whose tools (pg_basebackup,
 * pg_receivewal, mariadb-backup) write there.
 */
export async function preparePlace(host: Host, root: string, owner: BackupOwner): Promise<BackupPlace & { dir: string }> {
  const place = backupPlace(root, owner);
  await host.ensureDir(root, 0o711);
  await host.ensureDir(path.dirname(path.dirname(place.dir)), 0o711);
  await host.ensureDir(path.dirname(place.dir), 0o711);
  await host.ensureDir(place.dir, 0o700);
  await host.ensureDir(place.baseDir, 0o700);
  await host.ensureDir(place.archiveDir, 0o700);
  return place;
}

/** The directory of one base backup under a place; the id is checked. */
export function baseBackupDir(place: BackupPlace, id: string): string {
  return path.join(place.baseDir, checkPathComponent('backup id', id));
}
