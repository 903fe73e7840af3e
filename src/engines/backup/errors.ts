/**
 * @module engines/backup/errors
 * The one error a restore gives when the stored backup cannot be trusted: it names the file and says what is wrong,
 * so that a restore fails clearly instead of producing a wrong database.
 */
export type BackupDefect = 'missing' | 'corrupt' | 'truncated' | 'no-manifest' | 'unreadable-manifest' | 'gap';

export class BackupCorruptError extends Error {
  override readonly name = 'BackupCorruptError';
  constructor(
    /** The file (absolute path) that is missing or does not match its checksum. */
    readonly file: string,
    readonly defect: BackupDefect,
    detail: string,
  ) {
    super(`backup file ${file} is ${describeDefect(defect)}: ${detail}`);
  }
}

function describeDefect(defect: BackupDefect): string {
  switch (defect) {
    case 'missing':
      return 'missing';
    case 'corrupt':
      return 'corrupt (checksum mismatch)';
    case 'truncated':
      return 'truncated (size mismatch)';
    case 'no-manifest':
      return 'missing its checksum manifest';
    case 'unreadable-manifest':
      return 'an unreadable checksum manifest';
    case 'gap':
      return 'missing from the archive (a gap in the log sequence)';
  }
}

export function isBackupCorruptError(err: unknown): err is BackupCorruptError {
  return err instanceof BackupCorruptError;
}
