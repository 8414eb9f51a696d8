/**
 * SQLite durability off the event loop: new messages and inbound requests are committed without
 * an fsync on the event loop, then one fdatasync of the WAL on libuv's thread pool makes them
 * durable. Nobody is answered 2xx, and no delivery leaves, before that flush is done; flushes
 * are shared by every commit that arrives while one runs; a flush that fails is a coded 503.
 *
 * `fs.fdatasync` is wrapped here (the real one still runs) so the test can hold flushes back and
 * count them; `syncBuiltinESMExports` makes the store's `import { fdatasync }` see the wrapper.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqlite } from '../src/store/sqlite/connection.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer, tempDir } from './helpers.ts';

const realFdatasync = fs.fdatasync;
const flushes = {
  calls: 0,
  hold: false,
  held: [] as (() => void)[],
  fail: null as NodeJS.ErrnoException | null,
  /** Lets the held flushes run (the real fdatasync). */
  release() {
    this.hold = false;
    for (const go of this.held.splice(0)) go();
  },
};

/** Settles to 'pending' if `p` has not settled within `ms`. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then((v) => ({ settled: v })), sleep(ms).then(() => 'pending' as const)]);

const until = async (what: string, cond: () => boolean, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(5);
  }
};

describe('SQLite: flushing the WAL off the event loop', () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let appId: string;

  before(async () => {
    fs.fdatasync = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      flushes.calls++;
      if (flushes.fail) {
        const err = flushes.fail;
        flushes.fail = null;
        process.nextTick(cb, err);
        return;
      }
      const go = () => realFdatasync(fd, cb);
      if (flushes.hold) flushes.held.push(go);
      else go();
    }) as typeof fs.fdatasync;
    syncBuiltinESMExports();
    server = await startHookline();
    receiver = await startReceiver();
    const app = await server.call('POST', '/api/v1/app', { name: 'Flush' });
    appId = app.body.id;
    const ep = await server.call('POST', `/api/v1/app/${appId}/endpoint`, { url: `${receiver.url}/hook` });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
  });
  after(async () => {
    flushes.release();
    fs.fdatasync = realFdatasync;
    syncBuiltinESMExports();
    await server?.close();
    await receiver?.close();
  });

  const publish = (n: number) =>
    server.call('POST', `/api/v1/app/${appId}/msg`, { eventType: 'flush.test', payload: { n } });

  test('a publish is answered, and delivered, only after its flush', async () => {
    flushes.hold = true;
    const before = flushes.calls;
    const answer = publish(1);
    await until('the flush to start', () => flushes.calls > before);
    assert.equal(await within(answer, 300), 'pending', 'no 202 while the WAL is not on disk');
    assert.equal(receiver.requests.length, 0, 'no delivery while the WAL is not on disk');
    flushes.release();
    const res = await answer;
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await receiver.waitFor(1);
    assert.equal(JSON.parse(receiver.requests[0]!.body.toString()).n, 1);
  });

  test('commits that arrive while a flush runs share the next one', async () => {
    flushes.hold = true;
    const before = flushes.calls;
    const first = publish(2);
    await until('the first flush to start', () => flushes.calls === before + 1);
    // Two more batches while the first flush is held: the first is committed at once (the
    // group commit keeps two batches in flight), and both wait for one more flush.
    const second = [publish(3), publish(4)];
    await sleep(100);
    const third = publish(5);
    await sleep(100);
    assert.equal(flushes.calls, before + 1, 'one fdatasync at a time');
    assert.equal(await within(first, 10), 'pending');
    assert.equal(await within(Promise.all(second), 10), 'pending');
    // Release the first flush only: the next one (for the second batch) starts after it.
    flushes.hold = false;
    flushes.held.shift()!();
    assert.equal((await first).status, 202);
    await until('the second flush', () => flushes.calls >= before + 2);
    for (const r of await Promise.all([...second, third]))
      assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.ok(
      flushes.calls <= before + 3,
      `four publishes in three batches took ${flushes.calls - before} flushes, at most 3`,
    );
    await receiver.waitFor(5);
  });

  test('a flush that fails is a coded 503, and the next publish works', async () => {
    flushes.fail = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5 });
    const failed = await publish(6);
    assert.equal(failed.status, 503, JSON.stringify(failed.body));
    assert.equal(failed.body.code, 'service_unavailable');
    assert.doesNotMatch(JSON.stringify(failed.body), /EIO|at \//, 'no internals in the answer');
    const ok = await publish(7);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
  });

  test('an inbound request is answered only after its flush', async () => {
    const source = await server.call('POST', '/api/v1/source', {
      name: 'flush-in',
      verification: { scheme: 'none' },
      destinations: [{ url: `${receiver.url}/in` }],
    });
    assert.equal(source.status, 201, JSON.stringify(source.body));
    flushes.hold = true;
    const before = flushes.calls;
    const answer = fetch(`${server.url}/in/flush-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hello":"world"}',
    });
    await until('the flush to start', () => flushes.calls > before);
    assert.equal(await within(answer, 300), 'pending', 'no 2xx while the WAL is not on disk');
    flushes.release();
    assert.equal((await answer).status, 200);
  });

  test('with synchronous = NORMAL nothing is flushed (the operator chose that)', async () => {
    const conn = openSqlite({ path: `${tempDir()}/normal.db`, synchronous: 'NORMAL' });
    try {
      conn.txSync(() => conn.run('CREATE TABLE t (a)'), false);
      const before = flushes.calls;
      await conn.flush();
      assert.equal(flushes.calls, before);
    } finally {
      conn.close();
    }
  });
});
