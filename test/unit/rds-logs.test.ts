/**
 * The pure parts of RDS's log download (src/services/rds/logs.ts): markers, the forward page of lines and the tail.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forwardPortionBytes, formatLogMarker, logFileName, parseLogMarker, tailPortionStart } from '../../src/services/rds/logs.js';

const buf = (s: string) => Buffer.from(s, 'utf8');

describe('RDS log portions', () => {
  it('names the log files as RDS names the engines error logs', () => {
    assert.equal(logFileName('postgres', 'current'), 'error/postgres.log');
    assert.equal(logFileName('postgres', 'previous'), 'error/postgres.log.1');
    assert.equal(logFileName('mariadb', 'current'), 'error/mysql-error.log');
  });

  it('reads markers: none (the tail), "0", and its own; refuses anything else', () => {
    assert.equal(parseLogMarker(undefined), undefined);
    assert.equal(parseLogMarker('0'), 0);
    assert.equal(parseLogMarker(formatLogMarker(12345)), 12345);
    for (const bad of ['', 'x', '-1', '0:-5', '1:5', '0:1e3', '0:' + '9'.repeat(16)]) assert.throws(() => parseLogMarker(bad), { code: 'InvalidParameterValue' }, bad);
  });

  it('takes whole lines forward, a partial last line only at the end of the file or when it alone fills the page', () => {
    const text = buf('a\nbb\nccc\ndd');
    assert.equal(forwardPortionBytes(text, 1, false), 2);
    assert.equal(forwardPortionBytes(text, 2, false), 5);
    assert.equal(forwardPortionBytes(text, 3, false), 9);
    assert.equal(forwardPortionBytes(text, 10, false), 9, 'the unfinished line waits when the file goes on');
    assert.equal(forwardPortionBytes(text, 10, true), 11, 'at the end of the file it is the line being written');
    assert.equal(forwardPortionBytes(buf('x'.repeat(50)), 3, false), 50, 'one line longer than a page is cut, never stuck');
    assert.equal(forwardPortionBytes(buf(''), 3, true), 0);
  });

  it('finds the start of the last lines, never a line cut by the read', () => {
    const text = buf('one\ntwo\nthree\n');
    assert.equal(text.subarray(tailPortionStart(text, 1, true)).toString(), 'three\n');
    assert.equal(text.subarray(tailPortionStart(text, 2, true)).toString(), 'two\nthree\n');
    assert.equal(text.subarray(tailPortionStart(text, 9, true)).toString(), 'one\ntwo\nthree\n');
    assert.equal(text.subarray(tailPortionStart(text, 9, false)).toString(), 'two\nthree\n', 'the first line may be cut: dropped');
    const open = buf('one\ntwo\nthr');
    assert.equal(open.subarray(tailPortionStart(open, 1, true)).toString(), 'thr', 'an unfinished last line is the newest');
    assert.equal(open.subarray(tailPortionStart(open, 2, true)).toString(), 'two\nthr');
    assert.equal(tailPortionStart(buf('no newline'), 1, false), 10, 'a read inside one long line returns nothing of it');
    assert.equal(tailPortionStart(buf(''), 5, true), 0);
  });
});
