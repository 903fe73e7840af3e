/**
 * CloudWatch metrics through the official SDK v3 client (awsJson1_0, awsQueryCompatible) and the AWS CLI v2
 * (awsQuery): PutMetricData in every datum form, GetMetricStatistics, GetMetricData with metric math, ListMetrics,
 * and AWS's errors for what they refuse. Data survives a kill -9; another account or region sees none of it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CloudWatchClient, GetMetricDataCommand, GetMetricStatisticsCommand, ListMetricsCommand, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import { awsCli, removeDir, sdkConfig, startCellar, type CellarProcess } from '../helpers/cellar.js';
import { queryCall } from '../helpers/sign.js';

const MINUTE = 60_000;

describe('CloudWatch metrics', () => {
  let cellar: CellarProcess;
  let cw: CloudWatchClient;
  /** A minute boundary a few minutes back, so every datum of a test lands in known periods. */
  const base = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;
  const at = (minutes: number, seconds = 0) => new Date(base + minutes * MINUTE + seconds * 1000);
  const range = { StartTime: new Date(base - 5 * MINUTE), EndTime: new Date(base + 20 * MINUTE) };

  before(async () => {
    cellar = await startCellar();
    cw = new CloudWatchClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  const put = (Namespace: string, MetricData: MetricDatum[]) => cw.send(new PutMetricDataCommand({ Namespace, MetricData }));
  const rejects = (p: Promise<unknown>, name: string, code: string, message: RegExp) =>
    assert.rejects(p, (e: any) => {
      assert.equal(e.name, name, `${e.name}: ${e.message}`);
      assert.equal(e.Error?.Code ?? e.Code, code);
      assert.match(e.message, message);
      assert.equal(e.$metadata.httpStatusCode, 400);
      return true;
    });

  it('takes single values, values with counts and statistic sets, and answers their statistics per period', async () => {
    const dims = [{ Name: 'Service', Value: 'checkout' }];
    await put('Shop', [
      { MetricName: 'Latency', Dimensions: dims, Timestamp: at(0, 5), Value: 10, Unit: 'Milliseconds' },
      { MetricName: 'Latency', Dimensions: dims, Timestamp: at(0, 30), Values: [20, 30], Counts: [2, 1], Unit: 'Milliseconds' },
      { MetricName: 'Latency', Dimensions: dims, Timestamp: at(1, 10), StatisticValues: { SampleCount: 4, Sum: 100, Minimum: 5, Maximum: 60 }, Unit: 'Milliseconds' },
    ]);
    const out = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Shop', MetricName: 'Latency', Dimensions: dims, ...range, Period: 60, Statistics: ['SampleCount', 'Sum', 'Average', 'Minimum', 'Maximum'], ExtendedStatistics: ['p50', 'p100'] }));
    assert.equal(out.Label, 'Latency');
    const points = [...out.Datapoints!].sort((a, b) => a.Timestamp!.getTime() - b.Timestamp!.getTime());
    assert.equal(points.length, 2);
    assert.deepEqual(
      { t: points[0]!.Timestamp!.getTime(), n: points[0]!.SampleCount, sum: points[0]!.Sum, avg: points[0]!.Average, min: points[0]!.Minimum, max: points[0]!.Maximum, unit: points[0]!.Unit, ext: points[0]!.ExtendedStatistics },
      { t: at(0).getTime(), n: 4, sum: 80, avg: 20, min: 10, max: 30, unit: 'Milliseconds', ext: { p50: 20, p100: 30 } },
    );
    // A statistic set carries no distribution: its percentiles are not answered.
    assert.deepEqual({ n: points[1]!.SampleCount, sum: points[1]!.Sum, min: points[1]!.Minimum, max: points[1]!.Maximum, ext: points[1]!.ExtendedStatistics }, { n: 4, sum: 100, min: 5, max: 60, ext: {} });
    // A 5-minute period merges both minutes.
    const five = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Shop', MetricName: 'Latency', Dimensions: dims, ...range, Period: 300, Statistics: ['Sum', 'SampleCount'] }));
    const total = five.Datapoints!.reduce((s, d) => s + d.Sum!, 0);
    assert.equal(total, 180);
    // Another unit matches nothing; the dimensionless metric is another metric.
    assert.deepEqual((await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Shop', MetricName: 'Latency', Dimensions: dims, ...range, Period: 60, Statistics: ['Sum'], Unit: 'Seconds' }))).Datapoints, []);
    assert.deepEqual((await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Shop', MetricName: 'Latency', ...range, Period: 60, Statistics: ['Sum'] }))).Datapoints, []);
  });

  it('keeps high-resolution data at 1-second periods', async () => {
    await put('Hires', [
      { MetricName: 'Ticks', Timestamp: at(2, 1), Value: 1, StorageResolution: 1 },
      { MetricName: 'Ticks', Timestamp: at(2, 2), Value: 2, StorageResolution: 1 },
      { MetricName: 'Ticks', Timestamp: at(2, 2), Value: 3, StorageResolution: 1 },
    ]);
    const out = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Hires', MetricName: 'Ticks', StartTime: at(2), EndTime: at(2, 30), Period: 1, Statistics: ['Sum'] }));
    assert.deepEqual(
      out.Datapoints!.map((d) => [d.Timestamp!.getTime(), d.Sum]).sort((a, b) => a[0]! - b[0]!),
      [
        [at(2, 1).getTime(), 1],
        [at(2, 2).getTime(), 5],
      ],
    );
    const minute = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Hires', MetricName: 'Ticks', ...range, Period: 60, Statistics: ['Sum', 'SampleCount'] }));
    assert.deepEqual(minute.Datapoints!.map((d) => [d.Sum, d.SampleCount]), [[6, 3]]);
  });

  it('GetMetricData evaluates metric math over MetricStat queries, with labels, ScanBy and ReturnData', async () => {
    const req = (n: number, e: number) => [
      { MetricName: 'Requests', Timestamp: at(n), Value: 100 * (n + 1) },
      { MetricName: 'Errors', Timestamp: at(n), Value: e },
    ];
    await put('Api', [...req(0, 5), ...req(1, 10), ...req(2, 0), ...req(3, 30)]);
    const stat = (name: string) => ({ Metric: { Namespace: 'Api', MetricName: name }, Period: 60, Stat: 'Sum' });
    const out = await cw.send(
      new GetMetricDataCommand({
        ...range,
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [
          { Id: 'requests', MetricStat: stat('Requests'), ReturnData: false },
          { Id: 'errors', MetricStat: stat('Errors'), Label: 'Errors!' },
          { Id: 'rate', Expression: '100 * errors / requests', Label: 'Error rate' },
          { Id: 'total', Expression: 'SUM(METRICS())' },
          { Id: 'peak', Expression: 'MAX(errors) + 0 * errors' },
          { Id: 'growth', Expression: 'DIFF(requests)' },
          { Id: 'persec', Expression: 'RATE(requests)' },
        ],
      }),
    );
    const byId = Object.fromEntries(out.MetricDataResults!.map((r) => [r.Id, r]));
    assert.equal(byId.requests, undefined, 'ReturnData false is not returned');
    assert.equal(byId.errors!.Label, 'Errors!');
    assert.deepEqual(byId.errors!.Values, [5, 10, 0, 30]);
    assert.deepEqual(byId.errors!.Timestamps!.map((t: Date) => t.getTime()), [0, 1, 2, 3].map((n) => at(n).getTime()));
    assert.equal(byId.rate!.Label, 'Error rate');
    assert.deepEqual(byId.rate!.Values, [5, 5, 0, 7.5]);
    assert.deepEqual(byId.total!.Values, [105, 210, 300, 430]);
    assert.deepEqual(byId.peak!.Values, [30, 30, 30, 30]);
    assert.deepEqual(byId.growth!.Values, [100, 100, 100]);
    assert.deepEqual(byId.persec!.Values, [100 / 60, 100 / 60, 100 / 60]);
    assert.equal(byId.errors!.StatusCode, 'Complete');
    // Descending is the default.
    const desc = await cw.send(new GetMetricDataCommand({ ...range, MetricDataQueries: [{ Id: 'e', MetricStat: stat('Errors') }] }));
    assert.deepEqual(desc.MetricDataResults![0]!.Values, [30, 0, 10, 5]);
    // FILL fills the periods with no data.
    const filled = await cw.send(new GetMetricDataCommand({ StartTime: at(0), EndTime: at(6), ScanBy: 'TimestampAscending', MetricDataQueries: [{ Id: 'e', MetricStat: stat('Errors'), ReturnData: false }, { Id: 'f', Expression: 'FILL(e, 0)' }, { Id: 'r', Expression: 'FILL(e, REPEAT)' }] }));
    const f = Object.fromEntries(filled.MetricDataResults!.map((r) => [r.Id, r.Values]));
    assert.deepEqual(f.f, [5, 10, 0, 30, 0, 0]);
    assert.deepEqual(f.r, [5, 10, 0, 30, 30, 30]);
  });

  it('GetMetricData pages its datapoints with MaxDatapoints and NextToken', async () => {
    const stat = { Metric: { Namespace: 'Api', MetricName: 'Requests' }, Period: 60, Stat: 'Sum' };
    const seen: number[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await cw.send(new GetMetricDataCommand({ ...range, MaxDatapoints: 3, ScanBy: 'TimestampAscending', NextToken, MetricDataQueries: [{ Id: 'a', MetricStat: stat }, { Id: 'b', Expression: 'a * 2' }] }));
      for (const r of page.MetricDataResults!) seen.push(...r.Values!.map((v) => (r.Id === 'a' ? v : -v)));
      NextToken = page.NextToken;
      pages++;
    } while (NextToken && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [100, 200, 300, 400, -200, -400, -600, -800]);
    await assert.rejects(cw.send(new GetMetricDataCommand({ ...range, NextToken: 'garbage', MetricDataQueries: [{ Id: 'a', MetricStat: stat }] })), (e: any) => e.name === 'InvalidNextToken');
  });

  it('ListMetrics filters by namespace, name, dimensions and recent activity', async () => {
    await put('Lister', [
      { MetricName: 'CPU', Dimensions: [{ Name: 'Host', Value: 'a' }], Value: 1 },
      { MetricName: 'CPU', Dimensions: [{ Name: 'Host', Value: 'b' }, { Name: 'Rack', Value: 'r1' }], Value: 1 },
      { MetricName: 'Disk', Dimensions: [{ Name: 'Host', Value: 'a' }], Value: 1 },
    ]);
    const names = (ms: any[] | undefined) => (ms ?? []).map((m) => `${m.MetricName}:${m.Dimensions.map((d: any) => `${d.Name}=${d.Value}`).join(',')}`).sort();
    assert.deepEqual(names((await cw.send(new ListMetricsCommand({ Namespace: 'Lister' }))).Metrics), ['CPU:Host=a', 'CPU:Host=b,Rack=r1', 'Disk:Host=a']);
    assert.deepEqual(names((await cw.send(new ListMetricsCommand({ Namespace: 'Lister', MetricName: 'CPU' }))).Metrics), ['CPU:Host=a', 'CPU:Host=b,Rack=r1']);
    assert.deepEqual(names((await cw.send(new ListMetricsCommand({ Namespace: 'Lister', Dimensions: [{ Name: 'Rack' }] }))).Metrics), ['CPU:Host=b,Rack=r1']);
    assert.deepEqual(names((await cw.send(new ListMetricsCommand({ Namespace: 'Lister', Dimensions: [{ Name: 'Host', Value: 'a' }] }))).Metrics), ['CPU:Host=a', 'Disk:Host=a']);
    assert.deepEqual(names((await cw.send(new ListMetricsCommand({ Namespace: 'Lister', RecentlyActive: 'PT3H' }))).Metrics).length, 3);
    assert.deepEqual((await cw.send(new ListMetricsCommand({ Namespace: 'Nothing' }))).Metrics, []);
  });

  it('ListMetrics pages by 500', async () => {
    for (let batch = 0; batch < 2; batch++) {
      await put('Many', Array.from({ length: 300 }, (_, i) => ({ MetricName: 'M', Dimensions: [{ Name: 'N', Value: String(batch * 300 + i).padStart(4, '0') }], Value: 1 })));
    }
    const first = await cw.send(new ListMetricsCommand({ Namespace: 'Many' }));
    assert.equal(first.Metrics!.length, 500);
    assert.ok(first.NextToken);
    const second = await cw.send(new ListMetricsCommand({ Namespace: 'Many', NextToken: first.NextToken }));
    assert.equal(second.Metrics!.length, 100);
    assert.equal(second.NextToken, undefined);
    const all = new Set([...first.Metrics!, ...second.Metrics!].map((m) => m.Dimensions![0]!.Value));
    assert.equal(all.size, 600);
  });

  it('refuses what PutMetricData refuses, with AWS codes in x-amzn-query-error, and stores nothing of a refused request', async () => {
    await rejects(put('AWS/EC2', [{ MetricName: 'x', Value: 1 }]), 'InvalidParameterValueException', 'InvalidParameterValue', /The value AWS\/EC2 for parameter Namespace is invalid/);
    await rejects(put('Bad', [{ MetricName: 'ok', Value: 1 }, { MetricName: 'x', Value: 1, Values: [1] }]), 'InvalidParameterValueException', 'InvalidParameterValue', /MetricData.member.2.Value and MetricData.member.2.Values are mutually exclusive/);
    await rejects(put('Bad', [{ MetricName: 'x', Value: 1, StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } }]), 'InvalidParameterCombinationException', 'InvalidParameterCombination', /mutually exclusive/);
    await rejects(put('Bad', [{ MetricName: 'x', Values: [1, 2], Counts: [1] }]), 'InvalidParameterValueException', 'InvalidParameterValue', /must be of the same size/);
    await rejects(put('Bad', [{ MetricName: 'x', Value: 1, StorageResolution: 5 }]), 'InvalidParameterValueException', 'InvalidParameterValue', /^The parameter MetricData.member.1.StorageResolution must be a value in the set \[ 1, 60 \].$/);
    await rejects(put('Bad', [{ MetricName: 'x', Value: 1, Timestamp: new Date(Date.now() - 15 * 24 * 3600_000) }]), 'InvalidParameterValueException', 'InvalidParameterValue', /^The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.$/);
    await rejects(put('Bad', [{ MetricName: 'x', Value: 1, Timestamp: new Date(Date.now() + 3 * 3600_000) }]), 'InvalidParameterValueException', 'InvalidParameterValue', /two hours in the future/);
    // Every datum out of range is named, one line each.
    await rejects(
      put('Bad', [{ MetricName: 'x', Value: 1, Timestamp: new Date(Date.now() - 20 * 24 * 3600_000) }, { MetricName: 'ok', Value: 1 }, { MetricName: 'y', Value: 1, Timestamp: new Date(Date.now() - 20 * 24 * 3600_000) }]),
      'InvalidParameterValueException',
      'InvalidParameterValue',
      /^The parameter MetricData.member.1.Timestamp must specify a time within the past two weeks.\nThe parameter MetricData.member.3.Timestamp must specify a time within the past two weeks.$/,
    );
    await rejects(put('Bad', [{ MetricName: 'x', Values: Array.from({ length: 151 }, (_, i) => i) }]), 'InvalidParameterValueException', 'InvalidParameterValue', /150/);
    await rejects(put('Bad', [{ MetricName: 'x', Value: 2 ** 400 }]), 'InvalidParameterValueException', 'InvalidParameterValue', /MetricData.member.1.Value is invalid/);
    await rejects(put('Bad', [{ MetricName: 'x', Dimensions: [{ Name: 'a', Value: '1' }, { Name: 'a', Value: '2' }], Value: 1 }]), 'InvalidParameterValueException', 'InvalidParameterValue', /unique/);
    await assert.rejects(put('Bad', [{ MetricName: 'x' }]), (e: any) => e.Error?.Code === 'MissingParameter' && e.$metadata.httpStatusCode === 400);
    await assert.rejects(put('Bad', Array.from({ length: 1001 }, () => ({ MetricName: 'x', Value: 1 }))), (e: any) => e.Error?.Code === 'InvalidParameterValue');
    assert.deepEqual((await cw.send(new ListMetricsCommand({ Namespace: 'Bad' }))).Metrics, []);
  });

  it('refuses malformed queries with AWS codes', async () => {
    const q = { Namespace: 'Shop', MetricName: 'Latency', ...range };
    await rejects(cw.send(new GetMetricStatisticsCommand({ ...q, Period: 60 })), 'InvalidParameterCombinationException', 'InvalidParameterCombination', /Must specify either Statistics or ExtendedStatistics/);
    await rejects(cw.send(new GetMetricStatisticsCommand({ ...q, Period: 60, Statistics: ['Sum'], StartTime: range.EndTime, EndTime: range.StartTime })), 'InvalidParameterValueException', 'InvalidParameterValue', /StartTime must be less than/);
    await rejects(cw.send(new GetMetricStatisticsCommand({ ...q, Period: 60, Statistics: ['Sum'], EndTime: range.StartTime })), 'InvalidParameterValueException', 'InvalidParameterValue', /^The parameter StartTime must not equal parameter EndTime.$/);
    await rejects(cw.send(new GetMetricStatisticsCommand({ ...q, Period: 1, Statistics: ['Sum'] })), 'InvalidParameterCombinationException', 'InvalidParameterCombination', /^You have requested up to 1500 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.$/);
    await rejects(cw.send(new GetMetricStatisticsCommand({ ...q, Period: 90, Statistics: ['Sum'] })), 'InvalidParameterValueException', 'InvalidParameterValue', /Period must be/);
    await rejects(cw.send(new GetMetricStatisticsCommand({ ...q, Period: 60, ExtendedStatistics: ['median'] })), 'InvalidParameterValueException', 'InvalidParameterValue', /median/);
    const stat = { Metric: { Namespace: 'Api', MetricName: 'Errors' }, Period: 60, Stat: 'Sum' };
    const bad = (MetricDataQueries: any[], extra = {}) => cw.send(new GetMetricDataCommand({ ...range, ...extra, MetricDataQueries }));
    const validation = (e: any) => e.Error?.Code === 'ValidationError' && e.$metadata.httpStatusCode === 400;
    await assert.rejects(bad([{ Id: 'a', MetricStat: stat }, { Id: 'a', MetricStat: stat }]), validation);
    await assert.rejects(bad([{ Id: 'a' }]), validation);
    await assert.rejects(bad([{ Id: 'a', MetricStat: stat }, { Id: 'e', Expression: 'a +' }]), validation);
    await assert.rejects(bad([{ Id: 'a', MetricStat: stat }, { Id: 'e', Expression: 'NOPE(a)' }]), (e: any) => validation(e) && /Unrecognized function NOPE/.test(e.message));
    await assert.rejects(bad([{ Id: 'a', MetricStat: stat }, { Id: 'e', Expression: 'b * 2' }]), validation);
    await assert.rejects(bad([{ Id: 'x', Expression: 'y' }, { Id: 'y', Expression: 'x' }]), validation);
    await assert.rejects(bad([{ Id: 'a', MetricStat: stat }], { StartTime: range.EndTime, EndTime: range.StartTime }), (e: any) => validation(e) && /EndTime must be greater than StartTime/.test(e.message));
    await assert.rejects(bad([{ Id: 'A', MetricStat: stat }, { Id: 'ok', MetricStat: stat }, { Id: '5xx', MetricStat: stat }]), (e: any) => validation(e) && e.message === 'The value A for parameter MetricDataQueries.member.1.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.\nThe value 5xx for parameter MetricDataQueries.member.3.Id is not matching the expected pattern ^[a-z][a-zA-Z0-9_]*$.');
  });

  it('the AWS CLI (awsQuery) publishes and reads metrics, and gets awsQuery errors', () => {
    const env = {};
    const put = awsCli(cellar.endpoint, ['cloudwatch', 'put-metric-data', '--namespace', 'Cli', '--metric-name', 'Jobs', '--value', '3', '--unit', 'Count', '--dimensions', 'Queue=q1'], env);
    assert.equal(put.status, 0, put.stderr);
    const list = awsCli(cellar.endpoint, ['cloudwatch', 'list-metrics', '--namespace', 'Cli'], env);
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(list.json.Metrics, [{ Namespace: 'Cli', MetricName: 'Jobs', Dimensions: [{ Name: 'Queue', Value: 'q1' }] }]);
    const start = new Date(Date.now() - 10 * MINUTE).toISOString();
    const end = new Date(Date.now() + MINUTE).toISOString();
    const stats = awsCli(cellar.endpoint, ['cloudwatch', 'get-metric-statistics', '--namespace', 'Cli', '--metric-name', 'Jobs', '--dimensions', 'Name=Queue,Value=q1', '--start-time', start, '--end-time', end, '--period', '60', '--statistics', 'Sum', 'SampleCount'], env);
    assert.equal(stats.status, 0, stats.stderr);
    assert.equal(stats.json.Datapoints.length, 1);
    assert.equal(stats.json.Datapoints[0].Sum, 3);
    assert.equal(stats.json.Datapoints[0].Unit, 'Count');
    const data = awsCli(cellar.endpoint, ['cloudwatch', 'get-metric-data', '--start-time', start, '--end-time', end, '--metric-data-queries', JSON.stringify([{ Id: 'j', MetricStat: { Metric: { Namespace: 'Cli', MetricName: 'Jobs', Dimensions: [{ Name: 'Queue', Value: 'q1' }] }, Period: 60, Stat: 'Sum' } }, { Id: 'd', Expression: 'j * 10' }])], env);
    assert.equal(data.status, 0, data.stderr);
    assert.deepEqual(data.json.MetricDataResults.map((r: any) => [r.Id, r.Values]), [['j', [3]], ['d', [30]]]);
    const refused = awsCli(cellar.endpoint, ['cloudwatch', 'put-metric-data', '--namespace', 'AWS/Lambda', '--metric-name', 'x', '--value', '1'], env);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /\(InvalidParameterValue\).*The value AWS\/Lambda for parameter Namespace is invalid/);
  });

  it('awsQuery errors are the XML ErrorResponse with Sender faults', async () => {
    const r = await queryCall(cellar.endpoint, 'monitoring', { Action: 'GetMetricStatistics', Version: '2010-08-01', Namespace: 'X', MetricName: 'Y', StartTime: '2026-01-01T00:00:00Z', EndTime: '2026-01-01T01:00:00Z', Period: '60' });
    assert.equal(r.status, 400);
    assert.match(r.text, /<Type>Sender<\/Type><Code>InvalidParameterCombination<\/Code>/);
    const unknown = await queryCall(cellar.endpoint, 'monitoring', { Action: 'NoSuchAction', Version: '2010-08-01' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /<Code>InvalidAction<\/Code>/);
  });

  it('another account, and the same account in another region, see none of these metrics', async () => {
    const other = new CloudWatchClient({ ...sdkConfig(cellar.endpoint, { accessKeyId: '222233334444', secretAccessKey: 'x' }) });
    const away = new CloudWatchClient({ ...sdkConfig(cellar.endpoint), region: 'eu-west-1' });
    for (const client of [other, away]) {
      assert.deepEqual((await client.send(new ListMetricsCommand({}))).Metrics, []);
      const stats = await client.send(new GetMetricStatisticsCommand({ Namespace: 'Shop', MetricName: 'Latency', Dimensions: [{ Name: 'Service', Value: 'checkout' }], ...range, Period: 60, Statistics: ['Sum'] }));
      assert.deepEqual(stats.Datapoints, []);
    }
  });

  it('metrics survive kill -9 and a restart', async () => {
    await put('Durable', [{ MetricName: 'Acked', Value: 42 }]);
    await cellar.kill9();
    cellar = await cellar.restart();
    cw = new CloudWatchClient(sdkConfig(cellar.endpoint));
    const out = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'Durable', MetricName: 'Acked', StartTime: new Date(Date.now() - 10 * MINUTE), EndTime: new Date(Date.now() + MINUTE), Period: 60, Statistics: ['Sum'] }));
    assert.deepEqual(out.Datapoints!.map((d) => d.Sum), [42]);
  });
});
