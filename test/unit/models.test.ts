import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cellar.js';

describe('generated API layer', () => {
  it('matches what the generator makes from the installed botocore models (no drift)', (t) => {
    const generatedFrom = (JSON.parse(readFileSync(join(REPO_ROOT, 'src', 'models', 'sts.json'), 'utf8')) as { generatedFrom: string }).generatedFrom;
    const probe = spawnSync('python3', ['-c', 'import botocore; print(botocore.__version__)'], { encoding: 'utf8' });
    const here = probe.status === 0 ? `botocore ${probe.stdout.trim()}` : 'no botocore';
    if (here !== generatedFrom) {
      // Other model versions differ for reasons that are not drift; the skip is reported in the summary.
      t.skip(`the committed models are from ${generatedFrom}; this machine has ${here}`);
      return;
    }
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'generate-models.js'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
