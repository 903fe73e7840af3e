/**
 * CloudWatch alarms through the SDK v3 client and the AWS CLI: PutMetricAlarm (metric and math alarms), their state
 * evaluated in the background on the stored metrics (Period, EvaluationPeriods, DatapointsToAlarm, TreatMissingData,
 * ComparisonOperator), SetAlarmState, DescribeAlarms and its filters, DescribeAlarmsForMetric, DescribeAlarmHistory,
 * Enable/DisableAlarmActions, DeleteAlarms, tags, AWS's errors, isolation and durability. The server's clock is moved
 * forward (/_cellar/clock) to make periods pass.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  DescribeAlarmsForMetricCommand,
  DisableAlarmActionsCommand,
  EnableAlarmActionsCommand,
  ListTagsForResourceCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
  SetAlarmStateCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { advanceClock, awsCli, removeDir, sdkConfig, startCellar, waitFor, type CellarProcess } from '../helpers/cellar.js';

const ACCOUNT = '000000000000';

describe('CloudWatch alarms', () => {
  let cellar: CellarProcess;
  let cw: CloudWatchClient;

  before(async () => {
    cellar = await startCellar();
    cw = new CloudWatchClient(sdkConfig(cellar.endpoint));
  });
  after(async () => {
    await cellar.stop();
    removeDir(cellar.dataDir);
  });

  const alarm = async (name: string) => (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms![0]!;
  const stateOf = async (name: string) => (await alarm(name)).StateValue;
  const until = (name: string, state: string) => waitFor(async () => (await stateOf(name)) === state, `${name} in ${state}`, 15_000, 200);
  const put = (input: Partial<PutMetricAlarmCommandInput> & { AlarmName: string }) =>
    cw.send(new PutMetricAlarmCommand({ Namespace: 'Orders', MetricName: 'Failed', Statistic: 'Sum', Period: 60, EvaluationPeriods: 2, DatapointsToAlarm: 1, Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', ...input } as PutMetricAlarmCommandInput));
  const datum = (MetricName: string, Value: number, Namespace = 'Orders') => cw.send(new PutMetricDataCommand({ Namespace, MetricData: [{ MetricName, Value }] }));
  /** Several datums in one request: they arrive at one instant, so a period boundary cannot fall between them. */
  const datums = (Namespace: string, values: Array<[string, number]>) => cw.send(new PutMetricDataCommand({ Namespace, MetricData: values.map(([MetricName, Value]) => ({ MetricName, Value })) }));

  it('a new alarm is INSUFFICIENT_DATA, goes to ALARM when a datapoint breaches, and back to OK when it stops', async () => {
    await put({ AlarmName: 'failed-orders', AlarmDescription: 'too many failures', AlarmActions: ['arn:aws:sns:us-east-1:000000000000:ops'], Tags: [{ Key: 'team', Value: 'orders' }] });
    const created = await alarm('failed-orders');
    assert.equal(created.StateValue, 'INSUFFICIENT_DATA');
    assert.equal(created.StateReason, 'Unchecked: Initial alarm creation');
    assert.equal(created.AlarmArn, `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:failed-orders`);
    assert.deepEqual(created.AlarmActions, ['arn:aws:sns:us-east-1:000000000000:ops']);
    assert.deepEqual({ p: created.Period, e: created.EvaluationPeriods, d: created.DatapointsToAlarm, t: created.Threshold, op: created.ComparisonOperator, s: created.Statistic, actions: created.ActionsEnabled }, { p: 60, e: 2, d: 1, t: 5, op: 'GreaterThanThreshold', s: 'Sum', actions: true });
    await datums('Orders', [['Failed', 4], ['Failed', 3]]);
    // Alarms evaluate complete periods: the datapoints count once their period is over.
    await advanceClock(cellar.endpoint, 60_000);
    await until('failed-orders', 'ALARM');
    const fired = await alarm('failed-orders');
    assert.match(fired.StateReason!, /^Threshold Crossed: 1 out of the last 2 datapoints \[7\.0 \(.*\)\] was greater than the threshold \(5\.0\)/);
    const data = JSON.parse(fired.StateReasonData!);
    assert.equal(data.statistic, 'Sum');
    assert.equal(data.threshold, 5);
    assert.deepEqual(data.recentDatapoints, [7]);
    // Two periods later the breaching datapoint is out of the evaluation range; the quiet periods have data below it.
    await datum('Failed', 1);
    await advanceClock(cellar.endpoint, 60_000);
    await datum('Failed', 0);
    await advanceClock(cellar.endpoint, 60_000);
    await until('failed-orders', 'OK');
    const history = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: 'failed-orders', HistoryItemType: 'StateUpdate' }));
    assert.deepEqual(history.AlarmHistoryItems!.map((h) => h.HistorySummary), ['Alarm updated from ALARM to OK', 'Alarm updated from INSUFFICIENT_DATA to ALARM']);
    const item = JSON.parse(history.AlarmHistoryItems![1]!.HistoryData!);
    assert.equal(item.oldState.stateValue, 'INSUFFICIENT_DATA');
    assert.equal(item.newState.stateValue, 'ALARM');
    const config = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: 'failed-orders', HistoryItemType: 'ConfigurationUpdate' }));
    assert.deepEqual(config.AlarmHistoryItems!.map((h) => h.HistorySummary), ['Alarm "failed-orders" created']);
  });

  it('DatapointsToAlarm needs that many breaching periods of the evaluation range', async () => {
    await put({ AlarmName: 'two-of-three', MetricName: 'Slow', EvaluationPeriods: 3, DatapointsToAlarm: 2, Threshold: 100, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Statistic: 'Maximum' });
    await datum('Slow', 150);
    await advanceClock(cellar.endpoint, 60_000);
    await until('two-of-three', 'OK');
    await datum('Slow', 100);
    await advanceClock(cellar.endpoint, 60_000);
    await until('two-of-three', 'ALARM');
    assert.match((await alarm('two-of-three')).StateReason!, /2 out of the last 3 datapoints \[100\.0 .*, 150\.0 .*\] were greater than or equal to the threshold \(100\.0\) \(minimum 2 datapoints for OK -> ALARM transition\)/);
  });

  it('TreatMissingData decides an alarm with no data: missing, breaching, notBreaching, ignore', async () => {
    const none = { MetricName: 'NeverSent', Namespace: 'Quiet' };
    await put({ AlarmName: 'tmd-missing', ...none });
    await put({ AlarmName: 'tmd-breaching', ...none, TreatMissingData: 'breaching' });
    await put({ AlarmName: 'tmd-not', ...none, TreatMissingData: 'notBreaching' });
    await put({ AlarmName: 'tmd-ignore', ...none, TreatMissingData: 'ignore' });
    await until('tmd-breaching', 'ALARM');
    await until('tmd-not', 'OK');
    assert.match((await alarm('tmd-breaching')).StateReason!, /treated as \[Breaching\]/);
    await advanceClock(cellar.endpoint, 61_000);
    await until('tmd-breaching', 'ALARM');
    assert.equal(await stateOf('tmd-missing'), 'INSUFFICIENT_DATA');
    assert.equal(await stateOf('tmd-ignore'), 'INSUFFICIENT_DATA');
    assert.equal((await alarm('tmd-ignore')).StateReason, 'Unchecked: Initial alarm creation');
  });

  it('a metric math alarm evaluates its expression', async () => {
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: 'error-rate',
        // Two periods, one to alarm: the datapoints stay in the range even if a period ends between a put and the clock move.
        EvaluationPeriods: 2,
        DatapointsToAlarm: 1,
        Threshold: 10,
        ComparisonOperator: 'GreaterThanThreshold',
        Metrics: [
          { Id: 'errors', MetricStat: { Metric: { Namespace: 'Web', MetricName: 'Errors' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
          { Id: 'requests', MetricStat: { Metric: { Namespace: 'Web', MetricName: 'Requests' }, Period: 60, Stat: 'Sum' }, ReturnData: false },
          { Id: 'rate', Expression: '100 * errors / requests', Label: 'Error rate', ReturnData: true },
        ],
      }),
    );
    await datums('Web', [['Requests', 100], ['Errors', 5]]);
    await advanceClock(cellar.endpoint, 60_000);
    await until('error-rate', 'OK');
    await datums('Web', [['Requests', 100], ['Errors', 15]]);
    await advanceClock(cellar.endpoint, 60_000);
    await until('error-rate', 'ALARM');
    const a = await alarm('error-rate');
    assert.equal(a.Metrics!.length, 3);
    assert.equal(a.MetricName, undefined);
    assert.deepEqual(JSON.parse(a.StateReasonData!).recentDatapoints, [15, 5]);
  });

  it('SetAlarmState holds until the next evaluation, and is recorded in the history', async () => {
    await put({ AlarmName: 'manual', MetricName: 'Manual' });
    await until('manual', 'INSUFFICIENT_DATA');
    await cw.send(new SetAlarmStateCommand({ AlarmName: 'manual', StateValue: 'ALARM', StateReason: 'testing the pager', StateReasonData: '{"by":"test"}' }));
    const set = await alarm('manual');
    assert.equal(set.StateValue, 'ALARM');
    assert.equal(set.StateReason, 'testing the pager');
    assert.equal(set.StateReasonData, '{"by":"test"}');
    const h = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: 'manual', HistoryItemType: 'StateUpdate', MaxRecords: 1 }));
    assert.equal(h.AlarmHistoryItems![0]!.HistorySummary, 'Alarm updated from INSUFFICIENT_DATA to ALARM');
    assert.equal(JSON.parse(h.AlarmHistoryItems![0]!.HistoryData!).newState.stateReason, 'testing the pager');
    await advanceClock(cellar.endpoint, 61_000);
    await until('manual', 'INSUFFICIENT_DATA');
  });

  it('DescribeAlarms filters by names, prefix, state and action, and pages', async () => {
    for (let i = 0; i < 5; i++) await put({ AlarmName: `page-${i}`, MetricName: 'Paged', OKActions: i === 2 ? ['arn:aws:sns:us-east-1:000000000000:ok'] : [] });
    const prefix = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'page-' }));
    assert.deepEqual(prefix.MetricAlarms!.map((a) => a.AlarmName), ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    const names: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'page-', MaxRecords: 2, NextToken }));
      names.push(...page.MetricAlarms!.map((a) => a.AlarmName!));
      NextToken = page.NextToken;
      pages++;
    } while (NextToken && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(names, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    assert.deepEqual((await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['page-3', 'page-1', 'nope'] }))).MetricAlarms!.map((a) => a.AlarmName), ['page-1', 'page-3']);
    assert.deepEqual((await cw.send(new DescribeAlarmsCommand({ ActionPrefix: 'arn:aws:sns:us-east-1:000000000000:ok' }))).MetricAlarms!.map((a) => a.AlarmName), ['page-2']);
    const alarming = (await cw.send(new DescribeAlarmsCommand({ StateValue: 'ALARM' }))).MetricAlarms!.map((a) => a.AlarmName);
    assert.ok(alarming.every((n) => n !== 'page-0'));
    assert.deepEqual((await cw.send(new DescribeAlarmsCommand({ AlarmTypes: ['CompositeAlarm'] }))).MetricAlarms, []);
    await assert.rejects(cw.send(new DescribeAlarmsCommand({ NextToken: 'bogus' })), (e: any) => e.name === 'InvalidNextToken');
  });

  it('DescribeAlarmsForMetric finds the alarms on a metric and its dimensions', async () => {
    await put({ AlarmName: 'dims-a', MetricName: 'Cpu', Namespace: 'Hosts', Dimensions: [{ Name: 'Host', Value: 'a' }], Statistic: 'Average' });
    await put({ AlarmName: 'dims-b', MetricName: 'Cpu', Namespace: 'Hosts', Dimensions: [{ Name: 'Host', Value: 'b' }], Statistic: 'Average' });
    const a = await cw.send(new DescribeAlarmsForMetricCommand({ Namespace: 'Hosts', MetricName: 'Cpu', Dimensions: [{ Name: 'Host', Value: 'a' }] }));
    assert.deepEqual(a.MetricAlarms!.map((x) => x.AlarmName), ['dims-a']);
    assert.deepEqual((await cw.send(new DescribeAlarmsForMetricCommand({ Namespace: 'Hosts', MetricName: 'Cpu', Dimensions: [{ Name: 'Host', Value: 'a' }], Statistic: 'Sum' }))).MetricAlarms, []);
    assert.deepEqual((await cw.send(new DescribeAlarmsForMetricCommand({ Namespace: 'Web', MetricName: 'Errors' }))).MetricAlarms!.map((x) => x.AlarmName), ['error-rate']);
  });

  it('Enable/DisableAlarmActions, an update that keeps state and tags, and DeleteAlarms', async () => {
    await cw.send(new DisableAlarmActionsCommand({ AlarmNames: ['failed-orders', 'no-such-alarm'] }));
    assert.equal((await alarm('failed-orders')).ActionsEnabled, false);
    await cw.send(new EnableAlarmActionsCommand({ AlarmNames: ['failed-orders'] }));
    assert.equal((await alarm('failed-orders')).ActionsEnabled, true);
    const before = await alarm('failed-orders');
    await put({ AlarmName: 'failed-orders', Threshold: 50, Tags: [{ Key: 'ignored', Value: 'on update' }] });
    const after = await alarm('failed-orders');
    assert.equal(after.Threshold, 50);
    assert.equal(after.StateValue, before.StateValue);
    const arn = after.AlarmArn!;
    assert.deepEqual((await cw.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags, [{ Key: 'team', Value: 'orders' }]);
    await cw.send(new TagResourceCommand({ ResourceARN: arn, Tags: [{ Key: 'env', Value: 'dev' }, { Key: 'team', Value: 'payments' }] }));
    assert.deepEqual((await cw.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags, [{ Key: 'team', Value: 'payments' }, { Key: 'env', Value: 'dev' }]);
    await cw.send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ['team'] }));
    assert.deepEqual((await cw.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags, [{ Key: 'env', Value: 'dev' }]);
    const updated = await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: 'failed-orders', HistoryItemType: 'ConfigurationUpdate', ScanBy: 'TimestampAscending' }));
    assert.deepEqual(updated.AlarmHistoryItems!.map((h) => h.HistorySummary), ['Alarm "failed-orders" created', 'Alarm "failed-orders" updated']);
    await cw.send(new DeleteAlarmsCommand({ AlarmNames: ['page-0', 'page-1', 'never-existed'] }));
    assert.deepEqual((await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'page-' }))).MetricAlarms!.map((a) => a.AlarmName), ['page-2', 'page-3', 'page-4']);
  });

  it('refuses what CloudWatch refuses', async () => {
    const code = (c: string, status = 400, message?: RegExp) => (e: any) => {
      assert.equal(e.Error?.Code ?? e.name, c, `${e.name}: ${e.message}`);
      assert.equal(e.$metadata.httpStatusCode, status);
      if (message) assert.match(e.message, message);
      return true;
    };
    await assert.rejects(cw.send(new SetAlarmStateCommand({ AlarmName: 'ghost', StateValue: 'OK', StateReason: 'x' })), code('ResourceNotFound', 404));
    await assert.rejects(cw.send(new SetAlarmStateCommand({ AlarmName: 'manual', StateValue: 'OK', StateReason: 'x', StateReasonData: '{not json' })), code('InvalidFormat'));
    await assert.rejects(cw.send(new SetAlarmStateCommand({ AlarmName: 'manual', StateValue: 'BROKEN' as any, StateReason: 'x' })), code('ValidationError', 400, /stateValue/));
    const missingArn = `arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:ghost`;
    await assert.rejects(cw.send(new ListTagsForResourceCommand({ ResourceARN: missingArn })), code('ResourceNotFoundException', 404));
    await assert.rejects(cw.send(new TagResourceCommand({ ResourceARN: missingArn, Tags: [{ Key: 'a', Value: 'b' }] })), code('ResourceNotFoundException', 404));
    await assert.rejects(cw.send(new ListTagsForResourceCommand({ ResourceARN: 'not-an-arn' })), code('InvalidParameterValue'));
    await assert.rejects(put({ AlarmName: 'bad', DatapointsToAlarm: 3, EvaluationPeriods: 2 }), code('ValidationError', 400, /DatapointsToAlarm/));
    await assert.rejects(put({ AlarmName: 'bad', TreatMissingData: 'sometimes' }), code('ValidationError', 400, /TreatMissingData/));
    await assert.rejects(put({ AlarmName: 'bad', Period: 45 }), code('ValidationError', 400, /Period/));
    await assert.rejects(put({ AlarmName: 'bad', ExtendedStatistic: 'p99' }), code('InvalidParameterCombination'));
    await assert.rejects(put({ AlarmName: 'bad', AlarmActions: ['not-an-arn'] }), code('ValidationError', 400, /arn/));
    await assert.rejects(
      cw.send(new PutMetricAlarmCommand({ AlarmName: 'bad', EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', Metrics: [{ Id: 'a', MetricStat: { Metric: { Namespace: 'X', MetricName: 'Y' }, Period: 60, Stat: 'Sum' } }, { Id: 'b', Expression: 'a * 2' }] })),
      code('ValidationError', 400, /Exactly one element of the metrics list should return data/),
    );
    assert.deepEqual((await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['bad'] }))).MetricAlarms, []);
  });

  it('another account and another region see none of the alarms, and cannot change them', async () => {
    const before = await alarm('failed-orders');
    const other = new CloudWatchClient(sdkConfig(cellar.endpoint, { accessKeyId: '999988887777', secretAccessKey: 'x' }));
    const away = new CloudWatchClient({ ...sdkConfig(cellar.endpoint), region: 'eu-west-1' });
    for (const c of [other, away]) {
      assert.deepEqual((await c.send(new DescribeAlarmsCommand({}))).MetricAlarms, []);
      assert.deepEqual((await c.send(new DescribeAlarmHistoryCommand({}))).AlarmHistoryItems, []);
      assert.deepEqual((await c.send(new DescribeAlarmsForMetricCommand({ Namespace: 'Orders', MetricName: 'Failed' }))).MetricAlarms, []);
      await assert.rejects(c.send(new SetAlarmStateCommand({ AlarmName: 'failed-orders', StateValue: 'ALARM', StateReason: 'x' })), (e: any) => e.name === 'ResourceNotFound');
      await assert.rejects(c.send(new ListTagsForResourceCommand({ ResourceARN: before.AlarmArn! })), (e: any) => e.name === 'ResourceNotFoundException');
      await c.send(new DeleteAlarmsCommand({ AlarmNames: ['failed-orders'] }));
      await c.send(new DisableAlarmActionsCommand({ AlarmNames: ['failed-orders'] }));
    }
    const after = await alarm('failed-orders');
    assert.deepEqual({ ...after, StateUpdatedTimestamp: undefined, StateReason: undefined, StateReasonData: undefined, StateTransitionedTimestamp: undefined, StateValue: undefined }, { ...before, StateUpdatedTimestamp: undefined, StateReason: undefined, StateReasonData: undefined, StateTransitionedTimestamp: undefined, StateValue: undefined });
  });

  it('the AWS CLI (awsQuery) puts, describes and sets alarms', () => {
    const made = awsCli(cellar.endpoint, ['cloudwatch', 'put-metric-alarm', '--alarm-name', 'cli-alarm', '--namespace', 'Cli', '--metric-name', 'Depth', '--statistic', 'Average', '--period', '60', '--evaluation-periods', '1', '--threshold', '10', '--comparison-operator', 'GreaterThanThreshold', '--dimensions', 'Name=Queue,Value=q1', '--tags', 'Key=owner,Value=cli']);
    assert.equal(made.status, 0, made.stderr);
    const set = awsCli(cellar.endpoint, ['cloudwatch', 'set-alarm-state', '--alarm-name', 'cli-alarm', '--state-value', 'ALARM', '--state-reason', 'from the cli']);
    assert.equal(set.status, 0, set.stderr);
    const described = awsCli(cellar.endpoint, ['cloudwatch', 'describe-alarms', '--alarm-names', 'cli-alarm']);
    assert.equal(described.status, 0, described.stderr);
    const a = described.json.MetricAlarms[0];
    assert.deepEqual([a.AlarmName, a.StateValue, a.StateReason, a.Threshold, a.Dimensions], ['cli-alarm', 'ALARM', 'from the cli', 10, [{ Name: 'Queue', Value: 'q1' }]]);
    const missing = awsCli(cellar.endpoint, ['cloudwatch', 'set-alarm-state', '--alarm-name', 'nope', '--state-value', 'OK', '--state-reason', 'x']);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /\(ResourceNotFound\)/);
  });

  it('alarms, their state and history survive kill -9 and a restart', async () => {
    const before = await alarm('failed-orders');
    await cellar.kill9();
    cellar = await cellar.restart();
    cw = new CloudWatchClient(sdkConfig(cellar.endpoint));
    const after = await alarm('failed-orders');
    assert.equal(after.AlarmArn, before.AlarmArn);
    assert.equal(after.Threshold, 50);
    assert.ok((await cw.send(new DescribeAlarmHistoryCommand({ AlarmName: 'failed-orders' }))).AlarmHistoryItems!.length >= 4);
    assert.deepEqual((await cw.send(new ListTagsForResourceCommand({ ResourceARN: after.AlarmArn! }))).Tags, [{ Key: 'env', Value: 'dev' }]);
  });
});
