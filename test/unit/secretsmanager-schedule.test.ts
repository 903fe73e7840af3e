/** Rotation schedules (rate, cron, windows) and GetRandomPassword rules, as pure functions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextWindow, parseRotationRules } from '../../src/services/secretsmanager/schedule.js';
import { randomPassword } from '../../src/services/secretsmanager/password.js';

const at = (iso: string) => Date.parse(iso);

describe('rotation schedules', () => {
  it('AutomaticallyAfterDays and rate(N days) open at midnight UTC of the due day and report the end of that day', () => {
    for (const rules of [{ AutomaticallyAfterDays: 3 }, { ScheduleExpression: 'rate(3 days)' }]) {
      const w = nextWindow(parseRotationRules(rules)!, at('2024-05-10T15:30:00Z'));
      assert.equal(new Date(w.startMs).toISOString(), '2024-05-13T00:00:00.000Z');
      assert.equal(new Date(w.reportedMs).toISOString(), '2024-05-13T23:59:59.000Z');
    }
    const withDuration = nextWindow(parseRotationRules({ AutomaticallyAfterDays: 1, Duration: '3h' })!, at('2024-05-10T15:30:00Z'));
    assert.equal(new Date(withDuration.reportedMs).toISOString(), '2024-05-11T02:59:59.000Z');
  });

  it('rate(N hours) is N hours after the base, at least four hours', () => {
    const w = nextWindow(parseRotationRules({ ScheduleExpression: 'rate(6 hours)' })!, at('2024-05-10T15:30:00Z'));
    assert.equal(new Date(w.startMs).toISOString(), '2024-05-10T21:30:00.000Z');
    assert.throws(() => parseRotationRules({ ScheduleExpression: 'rate(3 hours)' }), /InvalidParameterException|at least 4 hours/);
  });

  it("AWS's six-field cron: lists, ranges, steps, names, L and #", () => {
    const next = (expr: string, from: string) => new Date(nextWindow(parseRotationRules({ ScheduleExpression: expr })!, at(from)).startMs).toISOString();
    assert.equal(next('cron(0 8 ? * MON *)', '2024-05-10T15:30:00Z'), '2024-05-13T08:00:00.000Z'); // Friday → Monday
    assert.equal(next('cron(0 16 1,15 * ? *)', '2024-05-10T15:30:00Z'), '2024-05-15T16:00:00.000Z');
    assert.equal(next('cron(30 */6 * * ? *)', '2024-05-10T15:30:00Z'), '2024-05-10T18:30:00.000Z');
    assert.equal(next('cron(0 0 L * ? *)', '2024-02-10T00:00:00Z'), '2024-02-29T00:00:00.000Z'); // leap year
    assert.equal(next('cron(0 9 ? * 2#1 *)', '2024-05-10T00:00:00Z'), '2024-06-03T09:00:00.000Z'); // first Monday of June
    assert.equal(next('cron(0 9 ? * 6L *)', '2024-05-01T00:00:00Z'), '2024-05-31T09:00:00.000Z'); // last Friday of May
    assert.equal(next('cron(0 10 1 JAN-MAR ? 2025)', '2024-05-10T00:00:00Z'), '2025-01-01T10:00:00.000Z');
  });

  it('refuses what AWS refuses', () => {
    assert.throws(() => parseRotationRules({ AutomaticallyAfterDays: 3, ScheduleExpression: 'rate(3 days)' }), /cannot specify both/);
    assert.throws(() => parseRotationRules({ ScheduleExpression: 'cron(0 8 * * * *)' }), /exactly one of day-of-month and day-of-week/);
    assert.throws(() => parseRotationRules({ ScheduleExpression: 'cron(0 8 ? *)' }), /six fields/);
    assert.throws(() => parseRotationRules({ ScheduleExpression: 'cron(61 8 ? * MON *)' }), /invalid/);
    assert.throws(() => parseRotationRules({ ScheduleExpression: 'every day' }), /invalid/);
    assert.throws(() => parseRotationRules({ AutomaticallyAfterDays: 1001 }), /1-1000/);
    assert.throws(() => parseRotationRules({ AutomaticallyAfterDays: 1, Duration: '25h' }), /Duration/);
  });
});

describe('GetRandomPassword', () => {
  it('requires each included type by default, over many draws', () => {
    for (let i = 0; i < 200; i++) {
      const p = randomPassword({ PasswordLength: 4 });
      assert.match(p, /[a-z]/);
      assert.match(p, /[A-Z]/);
      assert.match(p, /[0-9]/);
      assert.match(p, /[^A-Za-z0-9]/);
    }
  });
  it('excluding every character fails; excluding a whole class drops it from the requirement', () => {
    assert.throws(() => randomPassword({ ExcludeLowercase: true, ExcludeUppercase: true, ExcludeNumbers: true, ExcludePunctuation: true }), /InvalidParameterException|excluded/);
    assert.match(randomPassword({ PasswordLength: 30, ExcludeCharacters: '0123456789' }), /^[^0-9]{30}$/);
  });
});
