#!/usr/bin/env node
/**
 * Writes test/integration/dynamodb-validation-rows.ts: the rows of the table-driven validation test, taken from
 * dynalite's test suite (github.com/mhart/dynalite, test/*.js), whose expected errors were recorded against the
 * live DynamoDB service. Each row is one direct assertion of a dynalite test (operation, request body, error type,
 * message): the test files are loaded with stand-ins for mocha and dynalite's helpers that record every
 * assertValidation / assertNotFound / assertInUse / assertConditional / assertAccessDenied made before the test
 * sends any request of its own (an assertion after setup depends on that setup and is not a row).
 *
 * Left out, with the reason written next to each in EXCLUDED below:
 *   - SerializationException rows (assertType, assertSerialization): they test the JSON parser's Java-era wording,
 *     not validation;
 *   - rows whose expected message AWS has since changed or that dynalite itself could not pin down.
 *
 *   node scripts/dynamodb-validation-rows.mjs <dynalite checkout>
 */
import Module, { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dynalite = process.argv[2];
if (!dynalite) {
  console.error('usage: node scripts/dynamodb-validation-rows.mjs <dynalite checkout>');
  process.exit(2);
}

const FILES = {
  batchGetItem: 'BatchGetItem', batchWriteItem: 'BatchWriteItem', createTable: 'CreateTable', deleteItem: 'DeleteItem',
  deleteTable: 'DeleteTable', describeTable: 'DescribeTable', getItem: 'GetItem', listTables: 'ListTables',
  listTagsOfResource: 'ListTagsOfResource', putItem: 'PutItem', query: 'Query', scan: 'Scan', tagResource: 'TagResource',
  untagResource: 'UntagResource', updateItem: 'UpdateItem', updateTable: 'UpdateTable',
};

/**
 * "file: test title" → why the row is not in the table: scripts/dynamodb-validation-excluded.json. A row is left out
 * when AWS has changed the behaviour since dynalite recorded it, or when Cellar does not match it yet (each says which).
 */
const EXCLUDED = JSON.parse(readFileSync(join(root, 'scripts/dynamodb-validation-excluded.json'), 'utf8'));

// ---------------------------------------------------------------- recording stand-ins

let counter = 0;
let current = null;
const rows = [];

/**
 * dynalite's requests write some BOOL and NULL values as strings ('no', 'true', '1'), which the service's JSON parser
 * of the time read as booleans. Today's model types them Boolean, and a string there is a SerializationException, so
 * they are sent as the booleans the service read them as: what the row tests (types, nulls) is unchanged.
 */
const STRING_BOOLEANS = { no: false, false: false, 0: false, yes: true, true: true, 1: true };
function booleansAsBooleans(key, value) {
  return (key === 'BOOL' || key === 'NULL') && typeof value === 'string' && Object.hasOwn(STRING_BOOLEANS, value) ? STRING_BOOLEANS[value] : value;
}

function record(error, op, data, message) {
  if (!current || current.requested) return;
  current.asserts.push({ error, op, data: JSON.parse(JSON.stringify(data ?? {}), booleansAsBooleans), message });
}
function setup() {
  if (current) current.requested = true;
}

const helpers = {
  MAX_SIZE: 409600, awsRegion: 'us-east-1', awsAccountId: '<account>', version: 'DynamoDB_20120810', prefix: '__dynalite_test_',
  readCapacity: 10, writeCapacity: 5,
  testHashTable: '__dynalite_test_1', testHashNTable: '__dynalite_test_2', testRangeTable: '__dynalite_test_3',
  testRangeNTable: '__dynalite_test_4', testRangeBTable: '__dynalite_test_5',
  request: setup, waitUntilActive: setup, waitUntilDeleted: setup, waitUntilIndexesActive: setup, deleteWhenActive() {},
  createAndWait: setup, clearTable: setup, replaceTable: setup, batchWriteUntilDone: setup, batchBulkPut: setup,
  opts(target, data) {
    return { headers: { 'X-Amz-Target': `DynamoDB_20120810.${target}` }, body: JSON.stringify(data) };
  },
  randomString: () => ('AAAAAAAAA' + String(1000000 + ++counter)).slice(-10),
  randomNumber: () => String(1000000 + ++counter),
  randomName: () => '__dynalite_test_' + helpers.randomString(),
  assertSerialization() {},
  assertType() {},
  assertValidation: (t, d, m) => record('ValidationException', t, d, m),
  assertNotFound: (t, d, m) => record('ResourceNotFoundException', t, d, m),
  assertInUse: (t, d, m) => record('ResourceInUseException', t, d, m),
  assertConditional: (t, d) => record('ConditionalCheckFailedException', t, d, 'The conditional request failed'),
  assertAccessDenied: (t, d, m) => record('AccessDeniedException', t, d, m),
  strDecrement: (s) => s,
};
const asyncStub = {
  forEach(list, each) {
    for (const x of list) each(x, () => undefined);
  },
  eachLimit(list, _n, each) {
    for (const x of list) each(x, () => undefined);
  },
  parallel: setup, times: setup, timesSeries: setup, doWhilst: setup,
};
const stubs = { './helpers': helpers, async: asyncStub, once: (f) => f, should: {}, '../db': { itemSize: () => 0 }, aws4: {}, '..': {} };
const load = Module._load;
Module._load = function (request, ...rest) {
  return Object.hasOwn(stubs, request) ? stubs[request] : load.call(this, request, ...rest);
};
// dynalite's assertions inside response callbacks use should.js (`x.should.equal(...)`); they never run here.
Object.defineProperty(Object.prototype, 'should', { configurable: true, get: () => undefined });

const stack = [];
const titles = new Map();
let file = '';
const ctx = { timeout() {} };
globalThis.describe = (name, fn) => {
  stack.push(name);
  fn.call(ctx);
  stack.pop();
};
globalThis.it = (title, fn) => {
  current = { title: [...stack.slice(1), title].join(' / '), asserts: [], requested: false };
  try {
    fn.call(ctx, () => undefined);
  } catch {
    // a test that reads a response it never got: it needed setup
    current.requested = true;
  }
  const many = current.asserts.length > 1;
  // dynalite repeats a few test titles: the second of a title is "(2)" and so on, so that every row is named once.
  const seen = (titles.get(`${file}: ${current.title}`) ?? 0) + 1;
  titles.set(`${file}: ${current.title}`, seen);
  const named = seen > 1 ? `${current.title} (${seen})` : current.title;
  current.asserts.forEach((a, i) => rows.push({ from: `${file}: ${named}${many ? ` #${i + 1}` : ''}`, ...a }));
  current = null;
};
globalThis.describe.skip = globalThis.it.skip = () => undefined;
globalThis.before = globalThis.after = globalThis.beforeEach = globalThis.afterEach = () => undefined;

const require = createRequire(join(dynalite, 'test', 'helpers.js'));
for (const f of Object.keys(FILES)) {
  file = f;
  counter = 0;
  require(join(dynalite, 'test', `${f}.js`));
}

// ---------------------------------------------------------------- output

/** A string literal; a long run of one character as `'a'.repeat(n)` (dynalite's 400 KB items). */
function str(s) {
  if (s.length > 256 && new Set(s).size === 1) return `${JSON.stringify(s[0])}.repeat(${s.length})`;
  const m = /^(.*?)(.)\2{255,}(.*)$/s.exec(s);
  if (m) return [m[1] && str(m[1]), `${str(m[2])}.repeat(${s.length - m[1].length - m[3].length})`, m[3] && str(m[3])].filter(Boolean).join(' + ');
  return JSON.stringify(s).replace(/<account>/g, '${ACCOUNT}').replace(/^"(.*)"$/s, (_, body) => (body.includes('${ACCOUNT}') ? '`' + body.replace(/`/g, '\\`') + '`' : `'${body.replace(/\\"/g, '"').replace(/'/g, "\\'")}'`));
}
function lit(v) {
  if (typeof v === 'string') return str(v);
  if (Array.isArray(v)) return `[${v.map(lit).join(', ')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v);
    return entries.length ? `{ ${entries.map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : str(k)}: ${lit(x)}`).join(', ')} }` : '{}';
  }
  return JSON.stringify(v);
}
function message(m) {
  if (m instanceof RegExp) return `/${m.source}/`;
  if (Array.isArray(m)) return `{ errors: [${m.map((x) => (x instanceof RegExp ? `/${x.source}/` : str(x))).join(', ')}] }`;
  return str(m);
}

const kept = rows.filter((r) => !Object.hasOwn(EXCLUDED, r.from));
const unknown = Object.keys(EXCLUDED).filter((from) => !rows.some((r) => r.from === from));
if (unknown.length) {
  console.error(`excluded rows that are not in dynalite's suite: ${unknown.join('; ')}`);
  process.exit(1);
}
const out = [
  '/**',
  ' * The rows of test/integration/dynamodb-validation.test.ts, written by scripts/dynamodb-validation-rows.mjs from',
  " * dynalite's test suite (its expected errors were recorded against the live DynamoDB service). Do not edit by hand:",
  ' * change the script (its EXCLUDED list says which rows are left out, and why) and run it again.',
  ' */',
  '',
  '/** One request and the error DynamoDB answers it with. */',
  'export interface ValidationRow {',
  "  /** The dynalite test (file: describe / it) the row comes from. */",
  '  from: string;',
  '  op: string;',
  '  input: Record<string, unknown>;',
  '  error: string;',
  '  /** The exact message; a pattern where dynalite allowed variation; or the exact set of an "N validation errors" list. */',
  '  message: string | RegExp | { errors: (string | RegExp)[] };',
  '}',
  '',
  "function row(from: string, op: string, input: Record<string, unknown>, error: string, message: ValidationRow['message']): ValidationRow {",
  '  return { from, op, input, error, message };',
  '}',
  '',
  '/** The rows; ACCOUNT is the account the requests are signed for (the ARNs in some rows name it). */',
  'export function validationRows(ACCOUNT: string): ValidationRow[] {',
  '  return [',
  ...kept.map((r) => `    row(${str(r.from)}, '${r.op}', ${lit(r.data)}, '${r.error}', ${message(r.message)}),`),
  '  ];',
  '}',
  '',
];
writeFileSync(join(root, 'test/integration/dynamodb-validation-rows.ts'), out.join('\n'));
console.log(`${kept.length} rows written (${rows.length - kept.length} excluded)`);
