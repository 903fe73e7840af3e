import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/cellar.js';
import { generateTypes, SERVICES } from '../../scripts/generate-models.js';
import { loadModel, topLevelMember } from '../../src/protocols/model.js';

const modelPath = (id: string, ext: 'json' | 'ts') => join(REPO_ROOT, 'src', 'models', `${id}.${ext}`);

describe('generated API layer', () => {
  it('the committed types are what the generator makes from the committed models', () => {
    for (const svc of SERVICES) {
      const trimmed = JSON.parse(readFileSync(modelPath(svc.id, 'json'), 'utf8'));
      assert.equal(generateTypes(trimmed, svc.typeName), readFileSync(modelPath(svc.id, 'ts'), 'utf8'), `src/models/${svc.id}.ts drifted`);
    }
  });

  it('the committed models are what the generator makes from botocore (where this machine has the same botocore)', (t) => {
    const generatedFrom = (JSON.parse(readFileSync(modelPath('sts', 'json'), 'utf8')) as { generatedFrom: string }).generatedFrom;
    const probe = spawnSync('python3', ['-c', 'import botocore; print(botocore.__version__)'], { encoding: 'utf8' });
    const here = probe.status === 0 ? `botocore ${probe.stdout.trim()}` : 'no botocore';
    if (here !== generatedFrom) {
      // Other botocore versions differ for reasons that are not drift; the test above still checks the generator.
      t.diagnostic(`models are from ${generatedFrom}; this machine has ${here}: compared the generated types only`);
      return;
    }
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'generate-models.js'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('model loading', () => {
  it('a lazily loaded model has the metadata, operations and shapes of the whole file', () => {
    for (const svc of SERVICES) {
      const raw = JSON.parse(readFileSync(modelPath(svc.id, 'json'), 'utf8'));
      const model = loadModel(svc.id);
      assert.deepEqual(model.metadata, raw.metadata, svc.id);
      assert.deepEqual([...model.operations.keys()], Object.keys(raw.operations), svc.id);
      assert.deepEqual(model.shapes, raw.shapes, svc.id);
    }
  });

  it('reads one top-level member without parsing the others, and gives up on anything but an object', () => {
    const text = ' {"a" : "x\\"}y", "b": [1, {"c": "]"}], "n": -1.5e3, "metadata" : {"k": "v,}"}, "z": {} } ';
    assert.deepEqual(topLevelMember(text, 'metadata'), { k: 'v,}' });
    assert.equal(topLevelMember(text, 'n'), -1.5e3);
    assert.deepEqual(topLevelMember(text, 'b'), [1, { c: ']' }]);
    assert.equal(topLevelMember(text, 'missing'), undefined);
    assert.equal(topLevelMember('[{"metadata": 1}]', 'metadata'), undefined);
    assert.equal(topLevelMember('{"a": "unterminated', 'metadata'), undefined);
    assert.equal(topLevelMember('{"a": 1 "metadata": 2}', 'metadata'), undefined);
    // The head of a file: a member running to the end of the text may be cut short, so it is not taken.
    assert.equal(topLevelMember('{"metadata": 12', 'metadata'), undefined);
    assert.equal(topLevelMember('{"metadata": {"a": "b', 'metadata'), undefined);
    assert.deepEqual(topLevelMember('{"metadata": {"a": "b"}, "operations": {"x', 'metadata'), { a: 'b' });
  });
});
