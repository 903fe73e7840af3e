/**
 * CloudWatch over Smithy RPC v2 CBOR, the model's first protocol, through the official SDK v3 client given the CBOR
 * protocol its SDKs pick (AwsSmithyRpcV2CborProtocol, query-compatible, and @smithy/core's plain
 * SmithyRpcV2CborProtocol). A middleware records what went on the wire, so each test also checks the request really
 * was CBOR on `/service/GraniteServiceVersion20100801/operation/<Op>`. Raw signed requests cover what no SDK sends:
 * unknown operations and services, malformed CBOR, missing headers, a signature for another service.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols';
import { cbor, SmithyRpcV2CborProtocol, tag } from '@smithy/core/cbor';
import { removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { signedRequest } from '../helpers/sign.js';

const MINUTE = 60_000;
const PATH = '/service/GraniteServiceVersion20100801/operation/';
const NO_OUTPUT = new Set(['PutMetricData', 'PutMetricAlarm', 'SetAlarmState']);

interface Exchange {
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  status: number;
  responseHeaders: Record<string, string>;
}

/** A CloudWatch client speaking RPC v2 CBOR, and the requests it sent with their answers' heads. */
function cborClient(endpoint: string, protocol: typeof AwsSmithyRpcV2CborProtocol | typeof SmithyRpcV2CborProtocol, credentials?: { accessKeyId: string; secretAccessKey: string }) {
  // The class, not an instance: the client builds it with its own settings (namespace, error registries, query compatibility).
  const client = new CloudWatchClient({ ...sdkConfig(endpoint, credentials), protocol });
  const wire: Exchange[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { path: string; headers: Record<string, string>; body?: Uint8Array };
      const out = await next(args);
      const res = out.response as { statusCode: number; headers: Record<string, string> };
      wire.push({ path: req.path, headers: req.headers, body: req.body, status: res.statusCode, responseHeaders: res.headers });
      return out;
    },
    // Innermost (after signing, before the deserializer turns an error answer into a throw): the wire as sent and received.
    { step: 'deserialize', priority: 'low', name: 'captureWire' },
  );
  return { client, wire };
}

/** The last exchange was RPC v2 CBOR for this operation, both ways; returns its decoded request body. */
function assertCborWire(wire: Exchange[], operation: string): Record<string, unknown> {
  const last = wire.at(-1)!;
  assert.equal(last.path, PATH + operation);
  assert.equal(last.headers['smithy-protocol'], 'rpc-v2-cbor');
  assert.equal(last.headers['content-type'], 'application/cbor');
  assert.equal(last.headers['x-amz-target'], undefined);
  assert.match(last.headers['authorization'] ?? '', /^AWS4-HMAC-SHA256 Credential=test\/\d{8}\/us-east-1\/monitoring\/aws4_request/);
  assert.equal(last.responseHeaders['smithy-protocol'], 'rpc-v2-cbor');
  // An operation with no output (PutMetricData, SetAlarmState) is answered with no body and no content type.
  if (last.status !== 200 || !NO_OUTPUT.has(operation)) assert.equal(last.responseHeaders['content-type'], 'application/cbor');
  else assert.equal(last.responseHeaders['content-type'], undefined);
  assert.ok(last.body instanceof Uint8Array, 'a binary body');
  return cbor.deserialize(last.body) as Record<string, unknown>;
}

/** A raw signed RPC v2 request; the answer's status, headers and decoded CBOR body. */
async function rawCall(endpoint: string, path: string, body: Buffer, headers: Record<string, string> = { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor' }, service = 'monitoring') {
  const res = await fetch(await signedRequest(endpoint, body, { service, path, headers }));
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: Object.fromEntries(res.headers), body: bytes.length ? (cbor.deserialize(bytes) as Record<string, unknown>) : undefined };
}

describe('CloudWatch over Smithy RPC v2 CBOR', () => {
  let cellar: CellarProcess;
  let cw: ReturnType<typeof cborClient>;
  let plain: ReturnType<typeof cborClient>;
  let json: CloudWatchClient;
  const base = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;
  const at = (minutes: number, seconds = 0) => new Date(base + minutes * MINUTE + seconds * 1000);

  before(async () => {
    cellar = await startCellar();
    cw = cborClient(cellar.endpoint, AwsSmithyRpcV2CborProtocol);
    plain = cborClient(cellar.endpoint, SmithyRpcV2CborProtocol);
    json = new CloudWatchClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  it('stores PutMetricData sent as CBOR (timestamps as tag 1) and answers GetMetricData with tag-1 timestamps', async () => {
    const dims = [{ Name: 'Service', Value: 'checkout' }];
    await cw.client.send(
      new PutMetricDataCommand({
        Namespace: 'Cbor',
        MetricData: [
          { MetricName: 'Latency', Dimensions: dims, Timestamp: at(0, 5), Value: 10, Unit: 'Milliseconds' },
          { MetricName: 'Latency', Dimensions: dims, Timestamp: at(0, 30), Values: [20, 30], Counts: [2, 1], Unit: 'Milliseconds' },
          { MetricName: 'Latency', Dimensions: dims, Timestamp: at(1, 10), Value: 40, Unit: 'Milliseconds' },
        ],
      }),
    );
    const sent = assertCborWire(cw.wire, 'PutMetricData') as { MetricData: Array<{ Timestamp: { tag: number; value: number } }> };
    assert.equal(sent.MetricData[0]!.Timestamp.tag, 1, 'the SDK sent the timestamp as tag 1');
    assert.equal(sent.MetricData[0]!.Timestamp.value * 1000, at(0, 5).getTime());

    const out = await cw.client.send(
      new GetMetricDataCommand({
        StartTime: at(-5),
        EndTime: at(10),
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [
          { Id: 'sum', MetricStat: { Metric: { Namespace: 'Cbor', MetricName: 'Latency', Dimensions: dims }, Period: 60, Stat: 'Sum' } },
          { Id: 'double', Expression: 'sum * 2' },
        ],
      }),
    );
    assertCborWire(cw.wire, 'GetMetricData');
    const byId = Object.fromEntries(out.MetricDataResults!.map((r) => [r.Id, r]));
    assert.deepEqual(byId.sum!.Timestamps!.map((t: Date) => t.getTime()), [at(0).getTime(), at(1).getTime()]);
    assert.deepEqual(byId.sum!.Values, [80, 40]);
    assert.deepEqual(byId.double!.Values, [160, 80]);
    assert.equal(byId.sum!.StatusCode, 'Complete');

    // The same data through awsJson1_0: one store, whatever the protocol.
    const viaJson = await json.send(new GetMetricStatisticsCommand({ Namespace: 'Cbor', MetricName: 'Latency', Dimensions: dims, StartTime: at(-5), EndTime: at(10), Period: 60, Statistics: ['Sum', 'SampleCount', 'Maximum'] }));
    const points = [...viaJson.Datapoints!].sort((a, b) => a.Timestamp!.getTime() - b.Timestamp!.getTime());
    assert.deepEqual(points.map((p) => [p.Timestamp!.getTime(), p.Sum, p.SampleCount, p.Maximum]), [[at(0).getTime(), 80, 4, 30], [at(1).getTime(), 40, 1, 40]]);
  });

  it('answers GetMetricStatistics and ListMetrics, with either SDK CBOR protocol', async () => {
    for (const { client, wire } of [cw, plain]) {
      const stats = await client.send(new GetMetricStatisticsCommand({ Namespace: 'Cbor', MetricName: 'Latency', Dimensions: [{ Name: 'Service', Value: 'checkout' }], StartTime: at(-5), EndTime: at(10), Period: 300, Statistics: ['Sum', 'Average'], ExtendedStatistics: ['p100'] }));
      assertCborWire(wire, 'GetMetricStatistics');
      assert.equal(stats.Label, 'Latency');
      assert.equal(stats.Datapoints!.reduce((s, d) => s + d.Sum!, 0), 120, JSON.stringify(stats.Datapoints));
      for (const d of stats.Datapoints!) assert.ok(d.Timestamp instanceof Date && d.Timestamp.getTime() % (5 * MINUTE) === 0);
      const list = await client.send(new ListMetricsCommand({ Namespace: 'Cbor' }));
      assertCborWire(wire, 'ListMetrics');
      assert.deepEqual(list.Metrics!.map((m) => [m.MetricName, m.Dimensions]), [['Latency', [{ Name: 'Service', Value: 'checkout' }]]]);
    }
  });

  it('puts and describes alarms, and sets their state', async () => {
    await cw.client.send(
      new PutMetricAlarmCommand({ AlarmName: 'cbor-latency', Namespace: 'Cbor', MetricName: 'Latency', Dimensions: [{ Name: 'Service', Value: 'checkout' }], Statistic: 'Average', Period: 60, EvaluationPeriods: 1, Threshold: 1000, ComparisonOperator: 'GreaterThanThreshold', Tags: [{ Key: 'team', Value: 'shop' }] }),
    );
    assertCborWire(cw.wire, 'PutMetricAlarm');
    await cw.client.send(new SetAlarmStateCommand({ AlarmName: 'cbor-latency', StateValue: 'ALARM', StateReason: 'drill' }));
    assertCborWire(cw.wire, 'SetAlarmState');
    const out = await cw.client.send(new DescribeAlarmsCommand({ AlarmNames: ['cbor-latency'] }));
    assertCborWire(cw.wire, 'DescribeAlarms');
    const alarm = out.MetricAlarms![0]!;
    assert.equal(alarm.AlarmName, 'cbor-latency');
    assert.equal(alarm.StateValue, 'ALARM');
    assert.equal(alarm.StateReason, 'drill');
    assert.equal(alarm.Threshold, 1000);
    assert.ok(alarm.StateUpdatedTimestamp instanceof Date && Math.abs(alarm.StateUpdatedTimestamp.getTime() - Date.now()) < 60_000, String(alarm.StateUpdatedTimestamp));
    assert.ok(alarm.AlarmConfigurationUpdatedTimestamp instanceof Date);
  });

  it("reports AWS's errors: a missing alarm, a validation error, a provider's own refusal", async () => {
    await assert.rejects(cw.client.send(new SetAlarmStateCommand({ AlarmName: 'ghost', StateValue: 'OK', StateReason: 'x' })), (e: any) => {
      assert.equal(e.name, 'ResourceNotFound');
      assert.equal(e.Error?.Code, 'ResourceNotFound');
      assert.equal(e.$metadata.httpStatusCode, 404);
      assert.match(e.message, /ghost/);
      return true;
    });
    assertCborWire(cw.wire, 'SetAlarmState');
    assert.equal(cw.wire.at(-1)!.responseHeaders['x-amzn-query-error'], 'ResourceNotFound;Sender');
    // The plain Smithy protocol goes by `__type`, the shape id.
    await assert.rejects(plain.client.send(new SetAlarmStateCommand({ AlarmName: 'ghost', StateValue: 'OK', StateReason: 'x' })), (e: any) => e.name === 'ResourceNotFound' && e.$metadata.httpStatusCode === 404);
    await assert.rejects(cw.client.send(new SetAlarmStateCommand({ AlarmName: 'cbor-latency', StateValue: 'BROKEN' as any, StateReason: 'x' })), (e: any) => {
      assert.equal(e.Error?.Code, 'ValidationError');
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.match(e.message, /stateValue/);
      return true;
    });
    await assert.rejects(cw.client.send(new PutMetricDataCommand({ Namespace: 'AWS/Mine', MetricData: [{ MetricName: 'M', Value: 1 }] })), (e: any) => e.Error?.Code === 'InvalidParameterValue' && e.$metadata.httpStatusCode === 400);
  });

  it('keeps each account apart', async () => {
    const other = cborClient(cellar.endpoint, AwsSmithyRpcV2CborProtocol, { accessKeyId: '111111111111', secretAccessKey: 'x' });
    assert.deepEqual((await other.client.send(new ListMetricsCommand({ Namespace: 'Cbor' }))).Metrics, []);
  });

  it('answers requests no SDK sends in CBOR, with 4xx', async () => {
    const body = Buffer.from(cbor.serialize({}));
    const unknown = await rawCall(cellar.endpoint, PATH + 'DescribeNothing', body);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.headers['smithy-protocol'], 'rpc-v2-cbor');
    assert.equal(unknown.headers['content-type'], 'application/cbor');
    assert.match(String(unknown.body!.__type), /UnknownOperationException$/);

    const malformed = await rawCall(cellar.endpoint, PATH + 'ListMetrics', Buffer.from([0xa1, 0x61]));
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.body!.__type), /SerializationException$/);
    assert.equal(malformed.headers['x-amzn-query-error'], 'SerializationException;Sender');

    const bignum = await rawCall(cellar.endpoint, PATH + 'ListMetrics', Buffer.concat([Buffer.from([0xa1, 0x69]), Buffer.from('Namespace'), Buffer.from([0xc2, 0x5a, 0x00, 0x10, 0x00, 0x00]), Buffer.alloc(1 << 20, 0xff)]));
    assert.equal(bignum.status, 400);
    assert.match(String(bignum.body!.message), /tag 2/);

    const wrongType = await rawCall(cellar.endpoint, PATH + 'GetMetricStatistics', Buffer.from(cbor.serialize({ Namespace: 'Cbor', MetricName: 'Latency', StartTime: 5, EndTime: tag({ tag: 1, value: 10 }), Period: 60, Statistics: ['Sum'] })));
    assert.equal(wrongType.status, 400);
    assert.match(String(wrongType.body!.message), /timestamp \(CBOR tag 1\) at 'startTime'/);

    const noHeader = await rawCall(cellar.endpoint, PATH + 'ListMetrics', body, { 'content-type': 'application/cbor' });
    assert.equal(noHeader.status, 400);
    assert.match(String(noHeader.body!.message), /smithy-protocol/);

    const unknownService = await rawCall(cellar.endpoint, '/service/Nope/operation/ListMetrics', body);
    assert.equal(unknownService.status, 400);
    assert.equal(unknownService.headers['smithy-protocol'], 'rpc-v2-cbor');
    assert.match(String(unknownService.body!.__type), /UnknownOperationException/);

    // The absolute service id, `#` written `.`, is the same service.
    const absolute = await rawCall(cellar.endpoint, '/service/com.amazonaws.cloudwatch.GraniteServiceVersion20100801/operation/ListMetrics', body);
    assert.equal(absolute.status, 200);
    assert.ok(Array.isArray(absolute.body!.Metrics));
  });

  it('authenticates as every request is: unsigned, or signed for another service, is refused', async () => {
    const body = Buffer.from(cbor.serialize({}));
    const unsigned = await fetch(`${cellar.endpoint}${PATH}ListMetrics`, { method: 'POST', headers: { 'smithy-protocol': 'rpc-v2-cbor', 'content-type': 'application/cbor' }, body });
    assert.equal(unsigned.status, 400);
    assert.equal(unsigned.headers.get('smithy-protocol'), 'rpc-v2-cbor');
    assert.match(String((cbor.deserialize(Buffer.from(await unsigned.arrayBuffer())) as Record<string, unknown>).__type), /MissingAuthenticationTokenException/);
    const elsewhere = await rawCall(cellar.endpoint, PATH + 'ListMetrics', body, undefined, 'dynamodb');
    assert.equal(elsewhere.status, 400);
    assert.match(String(elsewhere.body!.message), /Credential should be scoped to correct service: 'monitoring'/);
  });
});
