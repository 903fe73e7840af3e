/**
 * Generates Cellar's API layer from the official AWS service models (botocore's `service-2.json`,
 * the same models the SDKs are generated from):
 *   - src/models/<service>.json  the model trimmed to what parsing, validation and serialization need
 *   - src/models/<service>.ts    request/response types and one interface per service with one method per operation
 *
 * Usage: node dist/scripts/generate-models.js [--check] [--botocore DIR]
 * --check regenerates in memory and exits 1 if the committed files differ (drift).
 * The botocore data directory is found through `python3 -c "import botocore"` unless --botocore is given;
 * the version used is recorded in each generated file so a check only compares like with like.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The services Cellar serves, with the model version of each. */
export const SERVICES: Array<{ id: string; dir: string; version: string; typeName: string }> = [
  { id: 'dynamodb', dir: 'dynamodb', version: '2012-08-10', typeName: 'DynamoDB' },
  { id: 'dynamodbstreams', dir: 'dynamodbstreams', version: '2012-08-10', typeName: 'DynamoDBStreams' },
  { id: 'kms', dir: 'kms', version: '2014-11-01', typeName: 'KMS' },
  { id: 'secretsmanager', dir: 'secretsmanager', version: '2017-10-17', typeName: 'SecretsManager' },
  { id: 'sts', dir: 'sts', version: '2011-06-15', typeName: 'STS' },
  { id: 'rds', dir: 'rds', version: '2014-10-31', typeName: 'RDS' },
  { id: 'elasticache', dir: 'elasticache', version: '2015-02-02', typeName: 'ElastiCache' },
  { id: 'cloudwatch', dir: 'cloudwatch', version: '2010-08-01', typeName: 'CloudWatch' },
];

const KEEP_SHAPE_KEYS = ['type', 'required', 'min', 'max', 'pattern', 'enum', 'flattened', 'timestampFormat', 'exception', 'error', 'union', 'sensitive', 'event', 'eventstream', 'document'];
const KEEP_MEMBER_KEYS = ['shape', 'location', 'locationName', 'flattened', 'xmlAttribute', 'xmlNamespace', 'idempotencyToken', 'timestampFormat', 'jsonvalue', 'queryName', 'hostLabel', 'deprecated'];

type Json = Record<string, any>;

function findBotocore(explicit?: string): { dir: string; version: string } {
  if (explicit) return { dir: explicit, version: 'explicit' };
  const out = execFileSync('python3', ['-c', 'import botocore,os;print(os.path.dirname(botocore.__file__));print(botocore.__version__)'], { encoding: 'utf8' });
  const [dir, version] = out.trim().split('\n');
  return { dir: join(dir!, 'data'), version: version! };
}

function readModel(dataDir: string, svc: { dir: string; version: string }): Json {
  const base = join(dataDir, svc.dir, svc.version, 'service-2.json');
  if (existsSync(base)) return JSON.parse(readFileSync(base, 'utf8'));
  if (existsSync(base + '.gz')) return JSON.parse(gunzipSync(readFileSync(base + '.gz')).toString('utf8'));
  throw new Error(`no model for ${svc.dir} ${svc.version} under ${dataDir}`);
}

function pick(obj: Json, keys: string[]): Json {
  const out: Json = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

export function trimModel(model: Json, botocoreVersion: string): Json {
  const shapes: Json = {};
  for (const name of Object.keys(model.shapes).sort()) {
    const s = model.shapes[name];
    const t = pick(s, KEEP_SHAPE_KEYS);
    if (s.members) {
      t.members = {};
      for (const [m, def] of Object.entries<Json>(s.members)) t.members[m] = pick(def, KEEP_MEMBER_KEYS);
    }
    if (s.member) t.member = pick(s.member, KEEP_MEMBER_KEYS);
    if (s.key) t.key = pick(s.key, KEEP_MEMBER_KEYS);
    if (s.value) t.value = pick(s.value, KEEP_MEMBER_KEYS);
    shapes[name] = t;
  }
  const operations: Json = {};
  for (const name of Object.keys(model.operations).sort()) {
    const o = model.operations[name];
    operations[name] = {
      http: o.http,
      ...(o.input ? { input: pick(o.input, ['shape']) } : {}),
      ...(o.output ? { output: pick(o.output, ['shape', 'resultWrapper']) } : {}),
      errors: (o.errors ?? []).map((e: Json) => e.shape),
      ...(o.deprecated ? { deprecated: true } : {}),
      // KMS documents per operation whether it works on another account's key ("Cross-account use: Yes"): kept, so
      // the provider's cross-account rule comes from the model rather than a hand-kept list.
      ...(/Cross-account use<\/b>:\s*Yes/i.test(String(o.documentation ?? '')) ? { crossAccount: true } : {}),
    };
  }
  return { generatedFrom: `botocore ${botocoreVersion}`, metadata: model.metadata, operations, shapes };
}

function tsType(model: Json, shapeName: string): string {
  const s = model.shapes[shapeName];
  switch (s.type) {
    case 'structure':
      return shapeName;
    case 'list': {
      const inner = tsType(model, s.member.shape);
      return inner.includes('|') ? `(${inner})[]` : `${inner}[]`;
    }
    case 'map':
      // DynamoDB Streams names a shape `Record`, which would shadow TypeScript's own.
      return model.shapes.Record ? `{ [key: string]: ${tsType(model, s.value.shape)} }` : `Record<string, ${tsType(model, s.value.shape)}>`;
    case 'string':
      return s.enum ? s.enum.map((e: string) => JSON.stringify(e)).join(' | ') : 'string';
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
      return 'Date';
    case 'blob':
      return 'Blob';
    default:
      return 'unknown';
  }
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

export function generateTypes(trimmed: Json, typeName: string): string {
  const lines: string[] = [
    `// Generated by scripts/generate-models.ts from ${trimmed.generatedFrom} (${trimmed.metadata.uid}). Do not edit.`,
    `import type { RequestContext } from '../core/context.js';`,
    ``,
    `/** Blobs arrive base64-encoded (JSON) and may be returned as bytes or base64. */`,
    `export type Blob = string | Uint8Array;`,
    ``,
  ];
  for (const name of Object.keys(trimmed.shapes)) {
    const s = trimmed.shapes[name];
    if (s.type !== 'structure') continue;
    const req = new Set<string>(s.required ?? []);
    lines.push(`export interface ${name} {`);
    for (const [m, def] of Object.entries<Json>(s.members ?? {})) {
      lines.push(`  ${/^[A-Za-z_$][\w$]*$/.test(m) ? m : JSON.stringify(m)}${req.has(m) ? '' : '?'}: ${tsType(trimmed, def.shape)};`);
    }
    lines.push('}');
  }
  lines.push('', `/** One method per ${typeName} operation. Providers implement the ones they serve. */`, `export interface ${typeName}Api {`);
  for (const [op, def] of Object.entries<Json>(trimmed.operations)) {
    const input = def.input ? def.input.shape : 'Record<string, never>';
    const output = def.output ? def.output.shape : 'void';
    lines.push(`  ${lowerFirst(op)}(input: ${input}, ctx: RequestContext): ${output === 'void' ? 'void' : output} | Promise<${output}>;`);
  }
  lines.push('}', '');
  return lines.join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const bi = args.indexOf('--botocore');
  const { dir, version } = findBotocore(bi >= 0 ? args[bi + 1] : undefined);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  let drift = 0;
  for (const svc of SERVICES) {
    const trimmed = trimModel(readModel(dir, svc), version);
    const outputs: Array<[string, string]> = [
      [join(root, 'src/models', `${svc.id}.json`), JSON.stringify(trimmed) + '\n'],
      [join(root, 'src/models', `${svc.id}.ts`), generateTypes(trimmed, svc.typeName)],
    ];
    for (const [path, text] of outputs) {
      if (check) {
        const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
        if (current !== text) {
          drift++;
          console.error(`drift: ${path} differs from what botocore ${version} generates`);
        }
      } else {
        writeFileSync(path, text);
      }
    }
  }
  if (check && drift) process.exit(1);
  console.log(check ? `models match botocore ${version}` : `generated models from botocore ${version}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
