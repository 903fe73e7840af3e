/**
 * Smithy RPC v2 CBOR (protocols/rpcv2cbor.ts) without a socket: the well-formedness check, the mapping of decoded
 * CBOR onto what the JSON parser produces (tag 1 → Date, byte string → base64), the shape-aware output walk (Date →
 * tag 1), and the protocol's requests, answers and errors as CloudWatch's twin.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cbor, tag } from '@smithy/core/cbor';
import { loadModel } from '../../src/protocols/model.js';
import { cborFromOutput, documentFromCbor, rpcV2Target, RpcV2CborProtocol, wellFormedProblem } from '../../src/protocols/rpcv2cbor.js';
import { ServiceError } from '../../src/core/errors.js';
import type { JsonErrorStyle, WireRequest } from '../../src/protocols/types.js';

const model = loadModel('cloudwatch');
const style: JsonErrorStyle = { typePrefix: 'com.amazonaws.cloudwatch#', validationTypePrefix: 'com.amazon.coral.validate#', messageKey: 'message', crc32: false, queryCompatible: { validationCode: 'ValidationError' } };
const protocol = new RpcV2CborProtocol('GraniteServiceVersion20100801', 'com.amazonaws.cloudwatch', style);
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

function request(operation: string, body: Buffer, headers: Record<string, string> = {}): WireRequest {
  return { method: 'POST', path: `/service/GraniteServiceVersion20100801/operation/${operation}`, query: new URLSearchParams(), headers: { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor', ...headers }, body };
}

function serializationMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ServiceError, String(e));
    assert.equal(e.code, 'SerializationException');
    assert.equal(e.status, 400);
    return e.message;
  }
  assert.fail('no SerializationException');
}

describe('RPC v2 CBOR paths', () => {
  it('reads the last four segments, with or without a prefix', () => {
    assert.deepEqual(rpcV2Target('/service/GraniteServiceVersion20100801/operation/ListMetrics'), { service: 'GraniteServiceVersion20100801', operation: 'ListMetrics' });
    assert.deepEqual(rpcV2Target('/v1/service/S/operation/O'), { service: 'S', operation: 'O' });
    assert.equal(rpcV2Target('/'), undefined);
    assert.equal(rpcV2Target('/service/S/operation/'), undefined);
    assert.equal(rpcV2Target('/service/S/op/O'), undefined);
  });
  it('answers to the shape name and to the absolute id with `.` for `#`, and not to the operation as an absolute id', () => {
    assert.ok(protocol.servesName('GraniteServiceVersion20100801'));
    assert.ok(protocol.servesName('com.amazonaws.cloudwatch.GraniteServiceVersion20100801'));
    assert.ok(!protocol.servesName('CloudWatch'));
    const req = request('ListMetrics', Buffer.alloc(0));
    assert.equal(protocol.operationName(req, model), 'ListMetrics');
    assert.equal(protocol.operationName({ ...req, path: '/service/GraniteServiceVersion20100801/operation/com.amazonaws.cloudwatch.ListMetrics' }, model), undefined);
  });
});

describe('CBOR well-formedness', () => {
  it('accepts definite and indefinite maps, lists and strings, floats of every width, and tag 1', () => {
    for (const ok of ['a0', 'bfff', 'a1616101', 'bf6161 9f0102ff ff', '7f626869 6121 ff', '5f4101 4102ff', 'c11a5f5e1000', 'c1fb41d7d7840000000', 'f93c00', 'fa3fc00000', 'f6', 'f7', 'f4', 'f5', '3818', '1b0020000000000000']) {
      const bytes = ok === 'c1fb41d7d7840000000' ? hex('c1fb41d7d78400000000') : hex(ok);
      assert.equal(wellFormedProblem(bytes), undefined, ok);
    }
  });
  it('refuses truncation, trailing bytes, reserved values, non-text keys, bad UTF-8, other tags and deep nesting', () => {
    const cases: Array<[string, RegExp]> = [
      ['a1', /end of CBOR/],
      ['a16161', /end of CBOR/],
      ['6461', /end of CBOR/],
      ['a0 00', /after the CBOR document/],
      ['1c', /additional information 28/],
      ['a10101', /keys must be text/],
      ['a17f6161ff01', /definite-length text/],
      ['62c328', /UTF-8/],
      ['c240', /tag 2/],
      ['c3420001', /tag 3/],
      ['c46161', /tag 4/],
      ['c16161', /tag 1 must hold a number/],
      ['ff', /break/],
      ['bf6161ff', /break/],
      ['9b00000000ffffffff', /end of CBOR/],
      ['f0', /simple value/],
      ['f820', /simple value/],
      ['7f 01 ff', /indefinite-length string/],
      ['a1695f5f70726f746f5f5f a0', /__proto__/],
    ];
    for (const [bytes, message] of cases) assert.match(wellFormedProblem(hex(bytes)) ?? 'accepted', message, bytes);
    assert.match(wellFormedProblem(Buffer.concat([Buffer.alloc(300, 0x81), Buffer.from([0x00])]))!, /too deeply/);
  });
  it('costs one pass over a large bignum-shaped body instead of the codec quadratic read', () => {
    // 0xc2 (tag 2) + a 1 MiB byte string: refused before the codec reads it byte by byte.
    const head = Buffer.from([0xc2, 0x5a, 0x00, 0x10, 0x00, 0x00]);
    assert.match(wellFormedProblem(Buffer.concat([head, Buffer.alloc(1 << 20)]))!, /tag 2/);
  });
});

describe('CBOR documents as the JSON parser would produce them', () => {
  it('turns tag-1 timestamps into Dates and byte strings into base64', () => {
    const doc = cbor.deserialize(cbor.serialize({ Namespace: 'App', MetricData: [{ MetricName: 'M', Timestamp: tag({ tag: 1, value: 1700000000.25 }), Value: 1 }] }));
    const out = documentFromCbor(model, 'PutMetricDataInput', doc) as { MetricData: Array<{ Timestamp: Date }> };
    assert.ok(out.MetricData[0]!.Timestamp instanceof Date);
    assert.equal(out.MetricData[0]!.Timestamp.getTime(), 1700000000250);
    assert.equal(documentFromCbor(model, 'MetricWidgetImage', new Uint8Array([104, 105])), 'aGk=');
  });
  it('refuses a timestamp that is not tag 1, and a tag or byte string where another type belongs', () => {
    assert.match(serializationMessage(() => documentFromCbor(model, 'GetMetricStatisticsInput', { StartTime: 1700000000 })), /Expected a timestamp \(CBOR tag 1\) at 'startTime'/);
    assert.match(serializationMessage(() => documentFromCbor(model, 'GetMetricStatisticsInput', { Namespace: new Uint8Array([1]) })), /Expected a string at 'namespace'/);
    assert.match(serializationMessage(() => documentFromCbor(model, 'PutMetricDataInput', { MetricData: [tag({ tag: 1, value: 1 })] })), /Expected a structure at 'metricData.1.member'/);
  });
});

describe('output along its shape', () => {
  it('writes Dates and epoch-second timestamps as tag 1, base64 blobs as bytes, and leaves null members out', () => {
    const out = cborFromOutput(model, 'GetMetricDataOutput', {
      MetricDataResults: [{ Id: 'q', Timestamps: [new Date(1700000000000), 1700000060], Values: [1, 2.5], StatusCode: 'Complete', Label: undefined }],
      NextToken: null,
    });
    const back = cbor.deserialize(cbor.serialize(out)) as { MetricDataResults: Array<{ Timestamps: Array<{ tag: number; value: number }>; Values: number[] }> };
    assert.deepEqual(Object.keys(back), ['MetricDataResults']);
    const r = back.MetricDataResults[0]!;
    assert.deepEqual(r.Timestamps.map((t) => [t.tag, t.value]), [[1, 1700000000], [1, 1700000060]]);
    assert.deepEqual(r.Values, [1, 2.5]);
    assert.ok(!('Label' in r));
    assert.deepEqual([...(cborFromOutput(model, 'MetricWidgetImage', 'aGk=') as Buffer)], [104, 105]);
  });
});

describe('the protocol as CloudWatch speaks it', () => {
  it('parses, validates and answers in CBOR with the protocol header', () => {
    const body = Buffer.from(cbor.serialize({ Namespace: 'App', MetricName: 'Latency', StartTime: tag({ tag: 1, value: 1700000000 }), EndTime: tag({ tag: 1, value: 1700003600 }), Period: 60, Statistics: ['Sum'] }));
    const op = model.operations.get('GetMetricStatistics')!;
    const input = protocol.parseInput(request('GetMetricStatistics', body), model, op) as { StartTime: Date };
    assert.equal(input.StartTime.getTime(), 1700000000000);
    const res = protocol.serializeOutput(model, op, { Label: 'Latency', Datapoints: [{ Timestamp: new Date(1700000000000), Sum: 3, Unit: 'None' }] }, 'rid');
    assert.equal(res.status, 200);
    assert.equal(res.headers['smithy-protocol'], 'rpc-v2-cbor');
    assert.equal(res.headers['content-type'], 'application/cbor');
    const decoded = cbor.deserialize(res.body as Buffer) as { Datapoints: Array<{ Timestamp: { tag: number; value: number } }> };
    assert.equal(decoded.Datapoints[0]!.Timestamp.tag, 1);
    assert.equal(decoded.Datapoints[0]!.Timestamp.value, 1700000000);
  });
  it('takes an empty body as an empty input, and refuses requests without the header or with X-Amz-Target', () => {
    const op = model.operations.get('ListMetrics')!;
    assert.deepEqual(protocol.parseInput(request('ListMetrics', Buffer.alloc(0)), model, op), {});
    assert.deepEqual(protocol.parseInput(request('ListMetrics', hex('bfff')), model, op), {});
    assert.match(serializationMessage(() => protocol.parseInput(request('ListMetrics', hex('a0'), { 'smithy-protocol': '' }), model, op)), /smithy-protocol: rpc-v2-cbor/);
    assert.match(serializationMessage(() => protocol.parseInput(request('ListMetrics', hex('a0'), { 'x-amz-target': 'GraniteServiceVersion20100801.ListMetrics' }), model, op)), /X-Amz-Target/);
    assert.match(serializationMessage(() => protocol.parseInput(request('ListMetrics', hex('a16161')), model, op)), /end of CBOR/);
    assert.match(serializationMessage(() => protocol.parseInput(request('ListMetrics', hex('8101')), model, op)), /Start of structure/);
    assert.match(serializationMessage(() => protocol.parseInput(request('ListMetrics', Buffer.from(cbor.serialize({ Namespace: 5 }))), model, op)), /NUMBER_VALUE can not be converted to a String/);
  });
  it('reports constraint problems as the JSON protocol does (ValidationError, in the query-compatible header)', () => {
    const op = model.operations.get('GetMetricStatistics')!;
    let err: unknown;
    try {
      protocol.parseInput(request('GetMetricStatistics', Buffer.from(cbor.serialize({ Namespace: '', MetricName: 'M' }))), model, op);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ServiceError && err.code === 'ValidationException', String(err));
    const res = protocol.serializeError(model, err, 'rid');
    assert.equal(res.status, 400);
    assert.equal(res.headers['x-amzn-query-error'], 'ValidationError;Sender');
    assert.equal(res.headers['x-amzn-errortype'], undefined);
    const body = cbor.deserialize(res.body as Buffer) as { __type: string; message: string };
    assert.equal(body.__type, 'com.amazon.coral.validate#ValidationException');
    assert.match(body.message, /validation errors? detected: .*'startTime'/);
  });
  it('names a modelled error by its shape id, with its HTTP status', () => {
    const res = protocol.serializeError(model, new ServiceError('ResourceNotFound', 'Could not find alarm a', { status: 404 }), 'rid');
    assert.equal(res.status, 404);
    assert.equal(res.headers['smithy-protocol'], 'rpc-v2-cbor');
    assert.equal(res.headers['x-amzn-query-error'], 'ResourceNotFound;Sender');
    assert.deepEqual(cbor.deserialize(res.body as Buffer), { __type: 'com.amazonaws.cloudwatch#ResourceNotFound', message: 'Could not find alarm a' });
  });
});
