/**
 * @module engines/backup
 * Backup storage shared by every engine: where backups live (location), checksum manifests written last and
 * verified before a restore (manifest), retention pruning (prune), and the error a damaged backup gives (errors).
 */
export * from './errors.js';
export * from './location.js';
export * from './manifest.js';
export * from './prune.js';
