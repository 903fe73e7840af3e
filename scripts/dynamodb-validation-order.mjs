#!/usr/bin/env node
/**
 * Writes src/models/dynamodb-validation-order.json: for each DynamoDB input structure, the order in which
 * DynamoDB itself checks its members when it reports several "N validation errors detected" at once. AWS's
 * order is not the model's member order (it follows the service's own internal field order), and the only
 * public record of it is dynalite's validation tables, which were written against the live service; this
 * reads them (dynalite is a devDependency) alongside Cellar's model and keeps the members the model has.
 *
 *   node scripts/dynamodb-validation-order.mjs
 */
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const validations = join(dirname(require.resolve('dynalite/package.json')), 'validations');
const model = JSON.parse(readFileSync(join(root, 'src/models/dynamodb.json'), 'utf8'));
const order = {};

function walk(types, shapeName) {
  const shape = model.shapes[shapeName];
  if (!shape || shape.type !== 'structure' || typeof types !== 'object' || types === null) return;
  const names = Object.keys(types).filter((n) => shape.members?.[n]);
  if (!order[shapeName] && names.length > 1) order[shapeName] = names;
  for (const n of names) entry(types[n], shape.members[n].shape);
}

function entry(e, shapeName) {
  const shape = model.shapes[shapeName];
  if (!shape || typeof e !== 'object' || e === null || typeof e.children !== 'object') return;
  if (shape.type === 'structure') walk(e.children, shapeName);
  else if (shape.type === 'list') entry(e.children, shape.member.shape);
  else if (shape.type === 'map') entry(e.children, shape.value.shape);
}

for (const file of readdirSync(validations).sort()) {
  if (file === 'index.js') continue;
  const op = file.replace(/\.js$/, '').replace(/^./, (c) => c.toUpperCase());
  const input = model.operations[op]?.input?.shape;
  if (!input) continue;
  walk(require(join(validations, file)).types, input);
}
const sorted = Object.fromEntries(Object.keys(order).sort().map((k) => [k, order[k]]));
writeFileSync(join(root, 'src/models/dynamodb-validation-order.json'), JSON.stringify({ generatedFrom: `dynalite ${require('dynalite/package.json').version} validations`, order: sorted }, null, 2) + '\n');
console.log(`${Object.keys(sorted).length} structures`);
