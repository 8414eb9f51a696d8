/**
 * Group commit: requests that arrive together share one write; at most `inFlight` writes run at
 * once; each caller gets its own result, in order, and only after its write finished.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { createGroupCommit } from '../src/delivery/ingest-queue.ts';

/** A write whose calls finish only when the test says so. */
function controlledWrite() {
  const calls: { items: number[]; finish: () => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const write = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      let done = false;
      calls.push({
        items,
        finish: () => {
          if (done) return;
          done = true;
          running--;
          if (items.includes(-1) && items.length > 1) reject(new Error('a bad item in the batch'));
          else if (items.includes(-1)) reject(new Error('bad item'));
          else resolve(items.map((i) => `ok ${i}`));
        },
      });
    });
  return { write, calls, maxRunning: () => maxRunning };
}

describe('group commit', () => {
  test('everything added in one turn is one write; what comes during it is the next', async () => {
    const w = controlledWrite();
    const q = createGroupCommit(w.write, 100, 1);
    const first = [1, 2, 3].map((i) => q.add(i));
    await tick();
    assert.deepEqual(
      w.calls.map((c) => c.items),
      [[1, 2, 3]],
    );
    const second = [4, 5].map((i) => q.add(i));
    await tick();
    assert.equal(w.calls.length, 1, 'one write at a time: the next batch waits');
    w.calls[0]!.finish();
    assert.deepEqual(await Promise.all(first), ['ok 1', 'ok 2', 'ok 3']);
    await tick();
    assert.deepEqual(w.calls[1]?.items, [4, 5]);
    w.calls[1]!.finish();
    assert.deepEqual(await Promise.all(second), ['ok 4', 'ok 5']);
    assert.equal(w.maxRunning(), 1);
  });

  test('a store that writes in parallel gets up to inFlight batches at once, never more', async () => {
    const w = controlledWrite();
    const q = createGroupCommit(w.write, 2, 2);
    const results = [1, 2, 3, 4, 5, 6].map((i) => q.add(i));
    await tick();
    assert.deepEqual(
      w.calls.map((c) => c.items),
      [
        [1, 2],
        [3, 4],
      ],
      'batches of at most maxBatch, two in flight',
    );
    w.calls[1]!.finish();
    await tick();
    await tick();
    assert.deepEqual(w.calls[2]?.items, [5, 6], 'a finished write makes room for the next batch');
    for (const c of w.calls) if (c !== w.calls[1]) c.finish();
    assert.deepEqual(await Promise.all(results), ['ok 1', 'ok 2', 'ok 3', 'ok 4', 'ok 5', 'ok 6']);
    assert.equal(w.maxRunning(), 2);
  });

  test('each successful write is told with its size', async () => {
    const w = controlledWrite();
    const written: number[] = [];
    const q = createGroupCommit(w.write, 100, 1, (n) => written.push(n));
    const first = [1, 2, 3].map((i) => q.add(i));
    await tick();
    assert.deepEqual(written, [], 'not before the write finishes');
    w.calls[0]!.finish();
    await Promise.all(first);
    const second = Promise.allSettled([4, -1, 5].map((i) => q.add(i)));
    for (let i = 0; i < 20 && w.calls.length < 5; i++) {
      await tick();
      for (const c of w.calls) c.finish();
    }
    await second;
    // The batch with a bad item failed (not told); its good neighbours were written alone.
    assert.deepEqual(written, [3, 1, 1]);
  });

  test('one bad item fails alone; its neighbours are written one by one', async () => {
    const w = controlledWrite();
    const q = createGroupCommit(w.write, 100, 1);
    const results = Promise.allSettled([7, -1, 8].map((i) => q.add(i)));
    for (let i = 0; i < 20 && w.calls.length < 4; i++) {
      await tick();
      for (const c of w.calls) c.finish();
    }
    const settled = await results;
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((settled[0] as PromiseFulfilledResult<string>).value, 'ok 7');
  });
});
