/** Cellar's version, from package.json (read once, by root.ts). */
export { PACKAGE_VERSION as VERSION } from './root.js';
