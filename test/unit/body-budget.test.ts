/**
 * The body budget's accounting (gateway/budget.ts): bytes taken and given back, waiters charged what they hold and
 * granted in arrival order once their need fits, cancellation, and the bound on what it lets in.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BodyBudget } from '../../src/gateway/budget.js';

describe('body budget', () => {
  it('takes what fits and refuses what does not, without changing its count', () => {
    const b = new BodyBudget(100);
    assert.equal(b.tryTake(60), true);
    assert.equal(b.tryTake(41), false);
    assert.equal(b.usedBytes, 60);
    assert.equal(b.tryTake(40), true);
    assert.equal(b.usedBytes, 100);
    b.give(100);
    assert.equal(b.usedBytes, 0);
  });

  it('counts bytes taken anyway (already received), which make later requests wait', () => {
    const b = new BodyBudget(100);
    b.takeAnyway(150);
    assert.equal(b.usedBytes, 150);
    assert.equal(b.tryTake(1), false);
    b.give(150);
    assert.equal(b.tryTake(100), true);
  });

  it('refuses to give back more than was taken', () => {
    const b = new BodyBudget(100);
    b.tryTake(10);
    assert.throws(() => b.give(11), /gave back more than was taken/);
  });

  it('charges a waiter what it holds, and on grant what it needs instead', () => {
    const b = new BodyBudget(100);
    assert.equal(b.tryTake(80), true);
    let granted = 0;
    const w = b.wait(10, 50, () => granted++);
    assert.ok(w);
    assert.equal(b.usedBytes, 90);
    assert.equal(b.waiting, 1);
    b.give(30); // 60 used, of which 10 held by the waiter: its 50 fits in place of its 10
    assert.equal(granted, 1);
    assert.equal(b.waiting, 0);
    assert.equal(b.usedBytes, 100);
  });

  it('refuses to queue a waiter whose held bytes do not fit', () => {
    const b = new BodyBudget(100);
    b.tryTake(95);
    assert.equal(b.wait(10, 50, () => assert.fail('granted')), undefined);
    assert.equal(b.usedBytes, 95);
    assert.equal(b.waiting, 0);
  });

  it('grants in arrival order, letting a smaller need pass one that does not fit yet', () => {
    const b = new BodyBudget(100);
    b.tryTake(90);
    const order: string[] = [];
    const big = b.wait(1, 60, () => order.push('big'));
    const small = b.wait(1, 5, () => order.push('small'));
    const second = b.wait(1, 3, () => order.push('second'));
    assert.ok(big && small && second);
    assert.equal(b.usedBytes, 93);
    b.give(10); // 83 used: big (60 in place of its 1) does not fit; small and second do
    assert.deepEqual(order, ['small', 'second']);
    assert.equal(b.usedBytes, 80 + 5 + 3 + 1);
    b.give(80); // 9 used: big fits now
    assert.deepEqual(order, ['small', 'second', 'big']);
    assert.equal(b.usedBytes, 5 + 3 + 60);
  });

  it('gives a cancelled waiter\'s held bytes back, and grants the next', () => {
    const b = new BodyBudget(100);
    b.tryTake(90);
    let granted = false;
    const first = b.wait(5, 50, () => assert.fail('cancelled waiter granted'))!;
    const next = b.wait(5, 20, () => (granted = true))!;
    assert.ok(first && next);
    assert.equal(b.cancel(first), true);
    assert.equal(b.cancel(first), false);
    assert.equal(b.usedBytes, 95);
    assert.equal(granted, false); // 20 in place of its 5 would make 110
    b.give(90); // 5 used (next's hold): next's 20 fits
    assert.equal(granted, true);
    assert.equal(b.usedBytes, 20);
  });

  it('lets a grant callback give bytes back and so grant the next waiter', () => {
    const b = new BodyBudget(100);
    b.tryTake(100);
    const order: string[] = [];
    // The first waiter finishes at once (a body read whole in the same turn) and gives its bytes back.
    b.wait(0, 80, () => {
      order.push('first');
      b.give(80);
    });
    b.wait(0, 90, () => order.push('second'));
    b.give(100);
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(b.usedBytes, 90);
  });

  it('never lets more than its limit in through tryTake and wait, whatever the order of calls', () => {
    const b = new BodyBudget(1000);
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const held: number[] = [];
    for (let step = 0; step < 5000; step++) {
      const r = rand(3);
      if (r === 0) {
        const n = rand(400);
        if (b.tryTake(n)) held.push(n);
      } else if (r === 1 && held.length) {
        b.give(held.splice(rand(held.length), 1)[0]!);
      } else {
        const need = rand(400);
        b.wait(rand(20), need, () => held.push(need));
      }
      assert.ok(b.usedBytes <= 1000, `step ${step}: ${b.usedBytes} used`);
    }
  });
});
