/**
 * @module services/cloudwatch/math
 * CloudWatch metric math: parses an expression (`(m1 + m2) / 2`, `SUM(METRICS())`, `RATE(m1) * 60`,
 * `FILL(m1, 0)`, `m1 / PERIOD(m1)` …) and evaluates it over the time series of a GetMetricData request or an alarm.
 * A value is a scalar, a time series, or an array of time series (METRICS()). Series combine on the timestamps they
 * share; a scalar combines with every point; an array combines member by member. SUM/AVG/MIN/MAX/STDDEV of one
 * series are a scalar, of an array a series (per timestamp over the members that have it). Pure: no I/O.
 */

export interface Series {
  label: string;
  /** Query id the series came from. */
  id: string;
  /** Ascending, ms, with a value each. */
  timestamps: number[];
  values: number[];
  periodSec: number;
}

export type MathValue = { kind: 'scalar'; value: number } | { kind: 'series'; series: Series } | { kind: 'array'; items: Series[] };

type Node =
  | { type: 'number'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ref'; id: string }
  | { type: 'unary'; op: '-'; arg: Node }
  | { type: 'binary'; op: '+' | '-' | '*' | '/' | '^'; left: Node; right: Node }
  | { type: 'call'; name: string; args: Node[] };

export class MathError extends Error {}

/** Longest expression accepted (CloudWatch's Expression member allows 2048 characters). */
const MAX_EXPRESSION_LENGTH = 2048;
const MAX_DEPTH = 64;

type Token = { kind: 'num'; value: number } | { kind: 'str'; value: string } | { kind: 'ident'; value: string } | { kind: 'op'; value: string };

function tokenize(text: string): Token[] {
  if (text.length > MAX_EXPRESSION_LENGTH) throw new MathError('the expression is too long');
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (/[0-9.]/.test(c)) {
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
      if (!m) throw new MathError(`unexpected character '${c}' at position ${i + 1}`);
      out.push({ kind: 'num', value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ kind: 'ident', value: m[0] });
      i += m[0].length;
    } else if (c === '"' || c === "'") {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new MathError('unterminated string');
      out.push({ kind: 'str', value: text.slice(i + 1, end) });
      i = end + 1;
    } else if ('+-*/^(),'.includes(c)) {
      out.push({ kind: 'op', value: c });
      i++;
    } else {
      throw new MathError(`unexpected character '${c}' at position ${i + 1}`);
    }
  }
  return out;
}

/** Parses an expression into its tree; throws MathError naming what is wrong. */
export function parseExpression(text: string): Node {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isOp = (v: string): boolean => {
    const t = peek();
    return t !== undefined && t.kind === 'op' && t.value === v;
  };
  const expect = (v: string): void => {
    if (!isOp(v)) throw new MathError(`expected '${v}'`);
    pos++;
  };
  const additive = (depth: number): Node => {
    let left = multiplicative(depth);
    while (isOp('+') || isOp('-')) {
      const op = (tokens[pos++] as { value: '+' | '-' }).value;
      left = { type: 'binary', op, left, right: multiplicative(depth) };
    }
    return left;
  };
  const multiplicative = (depth: number): Node => {
    let left = unary(depth);
    while (isOp('*') || isOp('/')) {
      const op = (tokens[pos++] as { value: '*' | '/' }).value;
      left = { type: 'binary', op, left, right: unary(depth) };
    }
    return left;
  };
  const unary = (depth: number): Node => {
    if (isOp('-')) {
      pos++;
      return { type: 'unary', op: '-', arg: unary(depth + 1) };
    }
    if (isOp('+')) {
      pos++;
      return unary(depth + 1);
    }
    return power(depth);
  };
  const power = (depth: number): Node => {
    const base = primary(depth);
    if (isOp('^')) {
      pos++;
      return { type: 'binary', op: '^', left: base, right: unary(depth + 1) };
    }
    return base;
  };
  const primary = (depth: number): Node => {
    if (depth > MAX_DEPTH) throw new MathError('the expression is nested too deeply');
    const t = tokens[pos++];
    if (!t) throw new MathError('the expression ends unexpectedly');
    if (t.kind === 'num') return { type: 'number', value: t.value };
    if (t.kind === 'str') return { type: 'string', value: t.value };
    if (t.kind === 'op' && t.value === '(') {
      const inner = additive(depth + 1);
      expect(')');
      return inner;
    }
    if (t.kind === 'ident') {
      if (isOp('(')) {
        pos++;
        const args: Node[] = [];
        if (!isOp(')')) {
          args.push(additive(depth + 1));
          while (isOp(',')) {
            pos++;
            args.push(additive(depth + 1));
          }
        }
        expect(')');
        return { type: 'call', name: t.value.toUpperCase(), args };
      }
      return { type: 'ref', id: t.value };
    }
    throw new MathError(`unexpected '${t.value}'`);
  };
  const node = additive(0);
  if (pos < tokens.length) throw new MathError(`unexpected '${String(tokens[pos]!.value)}'`);
  return node;
}

/** The query ids an expression reads (METRICS() reads every metric query: `*`). */
export function references(node: Node): Set<string> {
  const out = new Set<string>();
  const walk = (n: Node): void => {
    if (n.type === 'ref') out.add(n.id);
    else if (n.type === 'unary') walk(n.arg);
    else if (n.type === 'binary') {
      walk(n.left);
      walk(n.right);
    } else if (n.type === 'call') {
      if (n.name === 'METRICS') out.add('*');
      n.args.forEach((arg, i) => {
        // FILL's REPEAT and LINEAR are keywords, not ids.
        if (n.name === 'FILL' && i === 1 && arg.type === 'ref' && /^(REPEAT|LINEAR)$/i.test(arg.id)) return;
        walk(arg);
      });
    }
  };
  walk(node);
  return out;
}

export interface MathContext {
  /** The value of another query of the request, by id. */
  lookup(id: string): MathValue | undefined;
  /** Every MetricStat query's series, in request order (METRICS()). */
  metrics(): Series[];
  /** The timestamps of the request's range at a period (FILL's grid), ascending, ms. */
  grid(periodSec: number): number[];
  /** The expression's own id, which results carry. */
  id: string;
}

export function evaluate(node: Node, ctx: MathContext): MathValue {
  switch (node.type) {
    case 'number':
      return { kind: 'scalar', value: node.value };
    case 'string':
      throw new MathError('a string is allowed only as an argument of METRICS or FILL');
    case 'ref': {
      const v = ctx.lookup(node.id);
      if (!v) throw new MathError(`Unrecognized metric or expression id ${node.id}`);
      return v;
    }
    case 'unary':
      return mapValue(evaluate(node.arg, ctx), (x) => -x);
    case 'binary':
      return combine(evaluate(node.left, ctx), evaluate(node.right, ctx), BINARY[node.op]);
    case 'call':
      return call(node.name, node.args, ctx);
  }
}

const BINARY: Record<'+' | '-' | '*' | '/' | '^', (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '^': (a, b) => a ** b,
};

function mapSeries(s: Series, f: (x: number) => number): Series {
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < s.values.length; i++) {
    const v = f(s.values[i]!);
    if (Number.isFinite(v)) {
      timestamps.push(s.timestamps[i]!);
      values.push(v);
    }
  }
  return { ...s, timestamps, values };
}

function mapValue(v: MathValue, f: (x: number) => number): MathValue {
  if (v.kind === 'scalar') return { kind: 'scalar', value: f(v.value) };
  if (v.kind === 'series') return { kind: 'series', series: mapSeries(v.series, f) };
  return { kind: 'array', items: v.items.map((s) => mapSeries(s, f)) };
}

/** Two series on the timestamps both have; results that are not finite (x/0) are left out, as CloudWatch drops them. */
function joinSeries(a: Series, b: Series, f: (x: number, y: number) => number): Series {
  const byTime = new Map<number, number>();
  for (let i = 0; i < b.timestamps.length; i++) byTime.set(b.timestamps[i]!, b.values[i]!);
  const timestamps: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < a.timestamps.length; i++) {
    const y = byTime.get(a.timestamps[i]!);
    if (y === undefined) continue;
    const v = f(a.values[i]!, y);
    if (Number.isFinite(v)) {
      timestamps.push(a.timestamps[i]!);
      values.push(v);
    }
  }
  return { ...a, timestamps, values, periodSec: Math.max(a.periodSec, b.periodSec) };
}

function combine(a: MathValue, b: MathValue, f: (x: number, y: number) => number): MathValue {
  if (a.kind === 'scalar' && b.kind === 'scalar') return { kind: 'scalar', value: f(a.value, b.value) };
  if (a.kind === 'scalar') return mapValue(b, (y) => f(a.value, y));
  if (b.kind === 'scalar') return mapValue(a, (x) => f(x, b.value));
  if (a.kind === 'series' && b.kind === 'series') return { kind: 'series', series: joinSeries(a.series, b.series, f) };
  if (a.kind === 'array' && b.kind === 'series') return { kind: 'array', items: a.items.map((s) => joinSeries(s, b.series, f)) };
  if (a.kind === 'series' && b.kind === 'array') return { kind: 'array', items: b.items.map((s) => ({ ...joinSeries(a.series, s, f), label: s.label, id: s.id })) };
  throw new MathError('two arrays of time series cannot be combined');
}

type Reducer = (xs: number[]) => number;
const REDUCERS: Record<string, Reducer> = {
  SUM: (xs) => xs.reduce((s, x) => s + x, 0),
  AVG: (xs) => xs.reduce((s, x) => s + x, 0) / xs.length,
  // Loops rather than Math.min(...xs): a series may hold 100,800 points, past what a spread call takes.
  MIN: (xs) => xs.reduce((m, x) => (x < m ? x : m), Infinity),
  MAX: (xs) => xs.reduce((m, x) => (x > m ? x : m), -Infinity),
  STDDEV: (xs) => {
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  },
};

const ELEMENTWISE: Record<string, (x: number) => number> = { ABS: Math.abs, CEIL: Math.ceil, FLOOR: Math.floor, LOG: Math.log, LOG10: Math.log10, SQRT: Math.sqrt };

function call(name: string, args: Node[], ctx: MathContext): MathValue {
  const arity = (n: number): void => {
    if (args.length !== n) throw new MathError(`${name} takes ${n} argument${n === 1 ? '' : 's'}`);
  };
  if (name === 'METRICS') {
    if (args.length > 1) throw new MathError('METRICS takes at most one argument');
    const filter = args[0];
    if (filter && filter.type !== 'string') throw new MathError('the argument of METRICS must be a string');
    const all = ctx.metrics();
    return { kind: 'array', items: filter ? all.filter((s) => s.id.includes(filter.value)) : all };
  }
  const reducer = REDUCERS[name];
  if (reducer) {
    arity(1);
    const v = evaluate(args[0]!, ctx);
    if (v.kind === 'scalar') return v;
    if (v.kind === 'series') {
      if (v.series.values.length === 0) throw new MathError(`${name} of a time series with no data`);
      return { kind: 'scalar', value: reducer(v.series.values) };
    }
    return { kind: 'series', series: acrossArray(v.items, reducer, ctx.id, name) };
  }
  const elementwise = ELEMENTWISE[name];
  if (elementwise) {
    arity(1);
    return mapValue(evaluate(args[0]!, ctx), elementwise);
  }
  switch (name) {
    case 'RATE':
    case 'DIFF':
    case 'DIFF_TIME':
    case 'RUNNING_SUM': {
      arity(1);
      return perSeries(evaluate(args[0]!, ctx), name, (s) => sequential(s, name));
    }
    case 'PERIOD': {
      arity(1);
      const v = evaluate(args[0]!, ctx);
      if (v.kind === 'scalar') throw new MathError('PERIOD takes a time series');
      return { kind: 'scalar', value: v.kind === 'series' ? v.series.periodSec : (v.items[0]?.periodSec ?? 60) };
    }
    case 'DATAPOINT_COUNT': {
      arity(1);
      const v = evaluate(args[0]!, ctx);
      if (v.kind !== 'series') throw new MathError('DATAPOINT_COUNT takes a time series');
      return { kind: 'scalar', value: v.series.values.length };
    }
    case 'FILL': {
      arity(2);
      const how = args[1]!;
      const v = evaluate(args[0]!, ctx);
      let filler: FillMode;
      if (how.type === 'ref' && (how.id.toUpperCase() === 'REPEAT' || how.id.toUpperCase() === 'LINEAR')) filler = how.id.toUpperCase() as FillMode;
      else {
        const f = evaluate(how, ctx);
        if (f.kind !== 'scalar') throw new MathError('FILL fills with a number, REPEAT or LINEAR');
        filler = f.value;
      }
      return perSeries(v, name, (s) => fill(s, ctx.grid(s.periodSec), filler));
    }
    default:
      throw new MathError(`Unrecognized function ${name}`);
  }
}

type FillMode = number | 'REPEAT' | 'LINEAR';

function perSeries(v: MathValue, name: string, f: (s: Series) => Series): MathValue {
  if (v.kind === 'scalar') throw new MathError(`${name} takes a time series`);
  if (v.kind === 'series') return { kind: 'series', series: f(v.series) };
  return { kind: 'array', items: v.items.map(f) };
}

/** RATE (change per second), DIFF (change), DIFF_TIME (seconds between points) and RUNNING_SUM of one series. */
function sequential(s: Series, name: string): Series {
  const timestamps: number[] = [];
  const values: number[] = [];
  let running = 0;
  for (let i = 0; i < s.values.length; i++) {
    if (name === 'RUNNING_SUM') {
      running += s.values[i]!;
      timestamps.push(s.timestamps[i]!);
      values.push(running);
      continue;
    }
    if (i === 0) continue;
    const dt = (s.timestamps[i]! - s.timestamps[i - 1]!) / 1000;
    const dv = s.values[i]! - s.values[i - 1]!;
    timestamps.push(s.timestamps[i]!);
    values.push(name === 'RATE' ? dv / dt : name === 'DIFF' ? dv : dt);
  }
  return { ...s, timestamps, values };
}

/** Fills the grid's timestamps a series lacks: with a number, the previous value (REPEAT) or a straight line (LINEAR). */
export function fill(s: Series, grid: number[], how: FillMode): Series {
  const known = new Map<number, number>();
  for (let i = 0; i < s.timestamps.length; i++) known.set(s.timestamps[i]!, s.values[i]!);
  const timestamps = [...new Set([...grid, ...s.timestamps])].sort((a, b) => a - b);
  const values: Array<number | undefined> = timestamps.map((t) => known.get(t));
  if (how === 'LINEAR') {
    // The nearest known point after each index, found in one backward pass (the grid may hold 100,800 points).
    const nextKnown: number[] = new Array<number>(timestamps.length);
    let next = -1;
    for (let i = timestamps.length - 1; i >= 0; i--) {
      nextKnown[i] = next;
      if (known.has(timestamps[i]!)) next = i;
    }
    let prev = -1;
    for (let i = 0; i < timestamps.length; i++) {
      if (known.has(timestamps[i]!)) {
        prev = i;
        continue;
      }
      const n = nextKnown[i]!;
      if (prev < 0 || n < 0) continue;
      const t0 = timestamps[prev]!;
      const t1 = timestamps[n]!;
      const v0 = known.get(t0)!;
      const v1 = known.get(t1)!;
      values[i] = v0 + ((v1 - v0) * (timestamps[i]! - t0)) / (t1 - t0);
    }
  } else {
    for (let i = 0; i < values.length; i++) {
      if (values[i] !== undefined) continue;
      values[i] = typeof how === 'number' ? how : i > 0 ? values[i - 1] : undefined;
    }
  }
  const outT: number[] = [];
  const outV: number[] = [];
  for (let i = 0; i < timestamps.length; i++) {
    if (values[i] === undefined) continue;
    outT.push(timestamps[i]!);
    outV.push(values[i]!);
  }
  return { ...s, timestamps: outT, values: outV };
}

/** One series from an array: at each timestamp any member has, the reducer over the members that have it. */
function acrossArray(items: Series[], reducer: Reducer, id: string, name: string): Series {
  const byTime = new Map<number, number[]>();
  for (const s of items) {
    for (let i = 0; i < s.timestamps.length; i++) {
      const t = s.timestamps[i]!;
      let xs = byTime.get(t);
      if (!xs) byTime.set(t, (xs = []));
      xs.push(s.values[i]!);
    }
  }
  const timestamps = [...byTime.keys()].sort((a, b) => a - b);
  return { id, label: name, timestamps, values: timestamps.map((t) => reducer(byTime.get(t)!)), periodSec: items.length ? Math.max(...items.map((s) => s.periodSec)) : 60 };
}
