/**
 * Polling endpoints (endpoint kind `poller`) through the official `svix` client, on SQLite and
 * on PostgreSQL: reading with a client-side iterator, consumers whose position the server keeps
 * (poll, seek) or that commit offsets (the polling-endpoint calls), poller tokens and what they
 * may do, and that nothing is ever delivered to a polling endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiException, AutoConfigConsumer, Svix } from 'svix';
import { createManualClock } from '../src/core/clock.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { testStores } from './pg.ts';

function apiError(status: number, code?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    assert.equal(err.code, status);
    if (code !== undefined) assert.equal((err.body as { code: string }).code, code);
    return true;
  };
}

/** A Svix autoconfig (v1) token, which `AutoConfigConsumer` reads: the polling-endpoint calls. */
function autoConfigToken(server: TestServer, appId: string, sinkId: string, token: string): string {
  const content = {
    aid: appId,
    eid: sinkId,
    surl: server.url,
    esec: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    tok: token,
  };
  return `auto_v1_${Buffer.from(JSON.stringify(content)).toString('base64')}`;
}

for (const store of await testStores()) {
  describe(`polling endpoints through the svix client (${store.name})`, store.options, () => {
    let db: Awaited<ReturnType<typeof store.open>>;
    let server: TestServer;
    let svix: Svix;
    let recvHttp: TestReceiver;
    let recvPoller: TestReceiver;
    // Moves only when told to: polling holds back the newest two seconds.
    const clock = createManualClock(Date.UTC(2026, 0, 5, 12, 0, 0));
    const drain = () => server.hookline.dispatcher!.drain();
    /** Messages the sink lets through (event types order.*, channel eu), in order. */
    const expected: string[] = [];
    let t1 = 0;
    let sinkId = '';

    const publish = async (eventType: string, channels: string[] | null, sink: boolean) => {
      const m = await svix.message.create('shop', { eventType, payload: { n: expected.length }, channels });
      if (sink) expected.push(m.id);
      return m.id;
    };
    /** Every page of a client-side poll, following the iterator (bounded). */
    const pollAll = async (client: Svix, opts: { eventType?: string; channel?: string } = {}) => {
      const ids: string[] = [];
      let iterator: string | null = null;
      for (let i = 0; i < 50; i++) {
        const page = await client.message.poller.poll('shop', 'sink', { limit: 2, iterator, ...opts });
        ids.push(...page.data.map((m) => m.id));
        iterator = page.iterator;
        if (page.done) return ids;
      }
      throw new Error('poll never done');
    };

    before(async () => {
      db = await store.open('polling');
      server = await startHookline({ env: db.env, clock });
      svix = new Svix(server.token, { serverUrl: server.url });
      recvHttp = await startReceiver();
      recvPoller = await startReceiver();
      for (const name of ['order.created', 'order.paid', 'user.created'])
        await svix.eventType.create({ name, description: name });
      await svix.application.create({ name: 'Shop', uid: 'shop' });
      await svix.endpoint.create('shop', { url: recvHttp.url, uid: 'http' });
      // The Hookline extension `kind`: the svix client's EndpointIn has no such field.
      const created = await server.call('POST', '/api/v1/app/shop/endpoint', {
        url: recvPoller.url,
        uid: 'sink',
        kind: 'poller',
        eventTypes: ['order.created', 'order.paid'],
        channels: ['eu'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.kind, 'poller');
      sinkId = created.body.id;
      const other = await server.call('POST', '/api/v1/app/shop/endpoint', {
        url: recvPoller.url,
        uid: 'sink2',
        kind: 'poller',
      });
      assert.equal(other.status, 201);

      await publish('order.created', ['eu'], true);
      await publish('order.paid', ['eu', 'us'], true);
      await publish('user.created', ['eu'], false);
      await publish('order.created', ['us'], false);
      await publish('order.created', null, false);
      clock.advance(5000);
      t1 = clock.now();
      for (let i = 0; i < 3; i++) await publish('order.paid', ['eu'], true);
      clock.advance(3000);
    });
    after(async () => {
      await server?.close();
      await recvHttp?.close();
      await recvPoller?.close();
      await db?.drop();
    });

    test('nothing is delivered to a polling endpoint; the HTTP endpoint beside it gets everything', async () => {
      await drain();
      assert.equal(recvHttp.requests.length, 8);
      assert.equal(recvPoller.requests.length, 0);
      assert.deepEqual((await svix.messageAttempt.listAttemptedMessages('shop', 'sink')).data, []);
      assert.deepEqual((await svix.messageAttempt.listByEndpoint('shop', 'sink')).data, []);
      await assert.rejects(
        svix.messageAttempt.resend('shop', expected[0]!, 'sink'),
        apiError(409, 'poller_endpoint'),
      );
      const testAttempt = await server.call('POST', '/api/v1/app/shop/endpoint/sink/msg/test-attempt', {
        eventType: 'order.paid',
        payload: {},
      });
      assert.equal(testAttempt.status, 409);
      assert.equal(testAttempt.body.code, 'poller_endpoint');
      // Kinds do not change to or from poller.
      const patched = await server.call('PATCH', '/api/v1/app/shop/endpoint/sink', { kind: 'http' });
      assert.equal(patched.status, 409);
      assert.equal(patched.body.code, 'kind_change_not_allowed');
      await drain();
      assert.equal(recvPoller.requests.length, 0);
    });

    test('poll pages through the endpoint’s messages with the iterator, filtered by its types and channels', async () => {
      assert.deepEqual(await pollAll(svix), expected);
      // Narrowed by the call: within the endpoint's filter, or nothing.
      assert.deepEqual(await pollAll(svix, { eventType: 'order.paid' }), expected.slice(1));
      assert.deepEqual(await pollAll(svix, { eventType: 'user.created' }), []);
      assert.deepEqual(await pollAll(svix, { channel: 'us' }), []);
      const page = await svix.message.poller.poll('shop', 'sink', { limit: 250 });
      assert.equal(page.done, true);
      assert.deepEqual(page.data[0]!.payload, { n: 0 });
      assert.equal(page.data[0]!.eventType, 'order.created');
      // From a time: the second batch only.
      const later = await svix.message.poller.poll('shop', 'sink', { after: new Date(t1 - 1000) });
      assert.deepEqual(
        later.data.map((m) => m.id),
        expected.slice(2),
      );
      // The last iterator stays put when nothing new came.
      const again = await svix.message.poller.poll('shop', 'sink', { iterator: page.iterator });
      assert.deepEqual(again.data, []);
      assert.equal(again.iterator, page.iterator);
      assert.equal(again.done, true);
    });

    test('consumers: each keeps its own position on the server; seek moves it', async () => {
      const poller = svix.message.poller;
      const a1 = await poller.consumerPoll('shop', 'sink', 'a', { limit: 3 });
      assert.deepEqual(
        a1.data.map((m) => m.id),
        expected.slice(0, 3),
      );
      assert.equal(a1.done, false);
      const a2 = await poller.consumerPoll('shop', 'sink', 'a', { limit: 3 });
      assert.deepEqual(
        a2.data.map((m) => m.id),
        expected.slice(3),
      );
      assert.equal(a2.done, true);
      assert.deepEqual((await poller.consumerPoll('shop', 'sink', 'a')).data, []);
      // Another consumer starts from the beginning.
      const b = await poller.consumerPoll('shop', 'sink', 'b', { limit: 250 });
      assert.deepEqual(
        b.data.map((m) => m.id),
        expected,
      );
      // Seek to the second batch's time, then to before everything.
      const seek = await poller.consumerSeek('shop', 'sink', 'a', { after: new Date(t1) });
      assert.equal(typeof seek.iterator, 'string');
      assert.deepEqual(
        (await poller.consumerPoll('shop', 'sink', 'a', { limit: 250 })).data.map((m) => m.id),
        expected.slice(2),
      );
      await poller.consumerSeek('shop', 'sink', 'a', { after: new Date(t1 - 60_000) });
      assert.deepEqual(
        (await poller.consumerPoll('shop', 'sink', 'a', { limit: 250 })).data.map((m) => m.id),
        expected,
      );
      // b did not move with a.
      assert.deepEqual((await poller.consumerPoll('shop', 'sink', 'b')).data, []);
      // An iterator passed explicitly wins over the stored position.
      const fromIt = await poller.consumerPoll('shop', 'sink', 'b', { iterator: seek.iterator, limit: 1 });
      assert.deepEqual(
        fromIt.data.map((m) => m.id),
        [expected[2]],
      );
    });

    test('polling-endpoint consumers: the same messages until they commit, each its own offsets', async () => {
      const pollerToken = await svix.authentication.rotateStreamPollerToken('shop', 'sink');
      const c = new AutoConfigConsumer(autoConfigToken(server, 'shop', 'sink', pollerToken.token), {});
      const r1 = await c.receive('c1', { limit: 2 });
      assert.deepEqual(
        r1.data.map((m) => [m.id, m.offset]),
        [
          [expected[0], 1],
          [expected[1], 2],
        ],
      );
      assert.equal(r1.done, false);
      // Not committed: the same again.
      assert.deepEqual(
        (await c.receive('c1', { limit: 2 })).data.map((m) => m.id),
        expected.slice(0, 2),
      );
      await c.commit('c1', 2);
      const r2 = await c.receive('c1', { limit: 2 });
      assert.deepEqual(
        r2.data.map((m) => [m.id, m.offset]),
        [
          [expected[2], 3],
          [expected[3], 4],
        ],
      );
      // A second consumer has its own position and offsets.
      const s1 = await c.receive('c2', { limit: 250 });
      assert.deepEqual(
        s1.data.map((m) => m.id),
        expected,
      );
      assert.equal(s1.done, true);
      await c.commit('c2', 1);
      assert.deepEqual(
        (await c.receive('c2', { limit: 250 })).data.map((m) => m.id),
        expected.slice(1),
      );
      // A stale commit changes nothing; an offset never handed out is refused.
      await c.commit('c1', 1);
      assert.deepEqual(
        (await c.receive('c1', { limit: 1 })).data.map((m) => m.id),
        [expected[2]],
      );
      await assert.rejects(c.commit('c1', 99), apiError(422));
      await assert.rejects(c.commit('never-polled', 1), apiError(422));
      // Commits racing each other: the highest offset wins.
      const all = await c.receive('c3', { limit: 250 });
      assert.equal(all.data.length, expected.length);
      await Promise.all(all.data.map((m) => c.commit('c3', m.offset)));
      const rest = await c.receive('c3');
      assert.deepEqual(rest.data, []);
      assert.equal(rest.done, true);
      // `latest`: a new consumer starts after what exists now.
      assert.deepEqual((await c.receive('c4', { startingPosition: 'latest' as never })).data, []);
    });

    test('poller tokens poll only their own endpoint; rotating retires the old one', async () => {
      const t = await svix.authentication.rotateStreamPollerToken('shop', 'sink', { oldTokenExpiry: 0 });
      assert.deepEqual(t.scopes, ['poller']);
      // One is live, and Hookline keeps only its hash.
      await assert.rejects(
        svix.authentication.getStreamPollerToken('shop', 'sink'),
        apiError(409, 'conflict'),
      );
      const p = new Svix(t.token, { serverUrl: server.url });
      assert.deepEqual(await pollAll(p), expected);
      await p.message.poller.consumerSeek('shop', sinkId, 'tok', { after: new Date(t1) });
      assert.equal((await p.message.poller.consumerPoll('shop', sinkId, 'tok')).data.length, 3);
      // Everything else is refused.
      await assert.rejects(p.message.poller.poll('shop', 'sink2'), apiError(403, 'insufficient_access'));
      await assert.rejects(p.message.poller.poll('shop', 'http'), apiError(403, 'insufficient_access'));
      await assert.rejects(p.message.list('shop'), apiError(403, 'insufficient_access'));
      await assert.rejects(p.endpoint.list('shop'), apiError(403, 'insufficient_access'));
      await assert.rejects(
        p.message.create('shop', { eventType: 'order.paid', payload: {} }),
        apiError(403, 'insufficient_access'),
      );
      await assert.rejects(
        p.authentication.rotateStreamPollerToken('shop', 'sink'),
        apiError(403, 'insufficient_access'),
      );
      // Rotating with oldTokenExpiry 0 retires the previous token at once.
      const next = await svix.authentication.rotateStreamPollerToken('shop', 'sink', { oldTokenExpiry: 0 });
      await assert.rejects(p.message.poller.poll('shop', 'sink'), apiError(401, 'authentication_failed'));
      const q = new Svix(next.token, { serverUrl: server.url });
      assert.equal((await q.message.poller.poll('shop', 'sink', { limit: 1 })).data.length, 1);
      // A polling endpoint without a token gets its first one from the GET.
      const first = await svix.authentication.getStreamPollerToken('shop', 'sink2');
      const r = new Svix(first.token, { serverUrl: server.url });
      assert.deepEqual((await r.message.poller.poll('shop', 'sink2')).done, true);
      await assert.rejects(
        svix.authentication.getStreamPollerToken('shop', 'http'),
        apiError(409, 'not_poller_endpoint'),
      );
    });

    test('/openapi.json documents the polling calls', async () => {
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      for (const op of [
        'get /api/v1/app/{app_id}/poller/{sink_id}',
        'get /api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}',
        'post /api/v1/app/{app_id}/poller/{sink_id}/consumer/{consumer_id}/seek',
        'get /api/v1/app/{app_id}/polling-endpoint/{sink_id}/consumer/{consumer_id}',
        'post /api/v1/app/{app_id}/polling-endpoint/{sink_id}/consumer/{consumer_id}/commit',
        'get /api/v1/auth/stream/{stream_id}/sink/{sink_id}/poller/token',
        'post /api/v1/auth/stream/{stream_id}/sink/{sink_id}/poller/token/rotate',
      ]) {
        const [method, path] = op.split(' ') as [string, string];
        assert.ok(doc.paths[path]?.[method], `${op} is documented`);
      }
    });

    test('bad calls get coded 4xx errors', async () => {
      const poller = svix.message.poller;
      await assert.rejects(poller.poll('shop', 'http'), apiError(409, 'not_poller_endpoint'));
      await assert.rejects(poller.consumerPoll('shop', 'http', 'x'), apiError(409, 'not_poller_endpoint'));
      await assert.rejects(poller.poll('shop', 'nope'), apiError(404, 'not_found'));
      await assert.rejects(poller.poll('no-such-app', 'sink'), apiError(404, 'not_found'));
      await assert.rejects(
        poller.poll('shop', 'sink', { iterator: 'garbage' }),
        (err: unknown) =>
          apiError(422)(err) && (err as ApiException<any>).body.detail[0].loc.join('.') === 'query.iterator',
      );
      await assert.rejects(poller.consumerPoll('shop', 'sink', 'x', { iterator: 'msg_x' }), apiError(422));
      await assert.rejects(poller.poll('shop', 'sink', { limit: 1000 }), apiError(422));
      const badCommit = await server.call(
        'POST',
        '/api/v1/app/shop/polling-endpoint/sink/consumer/c1/commit',
        { offset: 'x' },
      );
      assert.equal(badCommit.status, 422);
      assert.ok(JSON.stringify(badCommit.body.detail).includes('offset'), JSON.stringify(badCommit.body));
      const badSeek = await server.call('POST', '/api/v1/app/shop/poller/sink/consumer/c1/seek', {
        after: 'yesterday',
      });
      assert.equal(badSeek.status, 422);
    });
  });
}
