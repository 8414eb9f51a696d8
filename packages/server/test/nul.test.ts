/**
 * The NUL character (U+0000), on every store. PostgreSQL's text and JSONB cannot hold it, so it
 * never reaches them in a name, id, query value or text field: those are refused with a 422 that
 * says where, before any lookup. Payloads are another matter: a JSON string with `\u0000` is
 * valid JSON, and messages and inbound requests keep and deliver it exactly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

for (const kind of await testStores()) {
  describe(`NUL characters (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let receiver: TestReceiver;
    before(async () => {
      db = await kind.open('nul');
      receiver = await startReceiver();
      server = await startHookline({ env: db.env });
      await server.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await db?.drop();
    });

    /** A 422 whose first issue is at `loc` (never a 5xx); a field with a pattern may say that instead. */
    function refusedAt(r: { status: number; body: any }, loc: (string | number)[]) {
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.deepEqual(r.body.detail[0].loc, loc);
      assert.match(r.body.detail[0].msg, /NUL|must match pattern/);
    }

    test('in a path segment or a query value: 422 before the store, on every route', async () => {
      refusedAt(await server.call('GET', '/api/v1/app/a%00b'), ['path', 'app_id']);
      refusedAt(await server.call('GET', '/api/v1/app/shop/endpoint/%00'), ['path', 'endpoint_id']);
      refusedAt(await server.call('GET', '/api/v1/app?iterator=%00'), ['query', 'iterator']);
      refusedAt(await server.call('GET', '/api/v1/app/shop/msg?tag=a%00'), ['query', 'tag']);
      refusedAt(await server.call('GET', '/api/v1/app/shop/msg?channel=%00'), ['query', 'channel']);
      refusedAt(await server.call('GET', '/api/v1/app/shop/msg?event_types=a,b%00'), [
        'query',
        'event_types',
      ]);
      refusedAt(await server.call('GET', '/api/v1/event-type/x%00'), ['path', 'event_type_name']);
      // Before authentication too: the inbound gateway needs none.
      for (const [method, path] of [
        ['POST', '/in/%00'],
        ['GET', '/in/a%00b'],
        ['POST', '/in/shop?x=%00'],
      ] as const) {
        const r = await fetch(server.url + path, { method, body: method === 'POST' ? '{}' : null });
        assert.equal(r.status, 422, `${method} ${path}`);
        const body = (await r.json()) as any;
        assert.match(JSON.stringify(body.detail), /NUL/);
      }
      // `%2500` is a percent sign and two zeros, not a NUL.
      assert.equal((await server.call('GET', '/api/v1/app/a%2500b')).status, 404);
    });

    test('in a text field of a JSON body: 422 at that field', async () => {
      refusedAt(await server.call('POST', '/api/v1/app', { name: 'a\u0000b' }), ['body', 'name']);
      refusedAt(await server.call('PUT', '/api/v1/app/nul-app', { name: '\u0000' }), ['body', 'name']);
      refusedAt(await server.call('POST', '/api/v1/app', { name: 'm', metadata: { k: 'v\u0000' } }), [
        'body',
        'metadata',
        'k',
      ]);
      refusedAt(
        await server.call('POST', '/api/v1/app/shop/endpoint', {
          url: receiver.url,
          description: 'd\u0000',
        }),
        ['body', 'description'],
      );
      refusedAt(
        await server.call('POST', '/api/v1/app/shop/endpoint', {
          url: receiver.url,
          channels: ['a', 'b\u0000'],
        }),
        ['body', 'channels', 1],
      );
      refusedAt(await server.call('POST', '/api/v1/event-type', { name: 'n.t', description: '\u0000' }), [
        'body',
        'description',
      ]);
      refusedAt(
        await server.call('POST', '/api/v1/app/shop/msg', {
          eventType: 'x.y',
          payload: {},
          tags: ['\u0000'],
        }),
        ['body', 'tags', 0],
      );
      refusedAt(
        await server.call('POST', '/api/v1/source', {
          name: 'nul-source',
          description: '\u0000',
          verification: { scheme: 'none' },
          destinations: [{ url: receiver.url }],
        }),
        ['body', 'description'],
      );
      // Nothing was created on the way.
      assert.equal((await server.call('GET', '/api/v1/app/nul-app')).status, 404);
    });

    test('in a message payload: stored and delivered exactly', async () => {
      await server.call('POST', '/api/v1/app/shop/endpoint', { url: receiver.url });
      const payload = { text: 'before\u0000after', nested: { list: ['\u0000'] } };
      const sent = await server.call('POST', '/api/v1/app/shop/msg', { eventType: 'x.y', payload });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const read = await server.call('GET', `/api/v1/app/shop/msg/${sent.body.id}`);
      assert.deepEqual(read.body.payload, payload);
      await receiver.waitFor(1);
      await server.hookline.dispatcher!.drain();
      const got = receiver.requests.find((r) => r.headers['webhook-id'] === sent.body.id);
      assert.deepEqual(JSON.parse(got!.body.toString('utf8')), payload);
    });

    test("in a receiver's response: the attempt is recorded (the NUL shown as U+FFFD)", async () => {
      await server.call('POST', '/api/v1/app', { name: 'Answers', uid: 'answers' });
      const ep = await server.call('POST', '/api/v1/app/answers/endpoint', {
        url: `${receiver.url}/nul-answer`,
      });
      receiver.queue({ status: 200, body: 'ok\u0000done' });
      const sent = await server.call('POST', '/api/v1/app/answers/msg', {
        eventType: 'x.y',
        payload: { n: 1 },
      });
      await server.hookline.dispatcher!.drain();
      const attempts = await server.call('GET', `/api/v1/app/answers/attempt/endpoint/${ep.body.id}`);
      assert.equal(attempts.body.data.length, 1, JSON.stringify(attempts.body));
      assert.equal(attempts.body.data[0].msgId, sent.body.id);
      assert.equal(attempts.body.data[0].status, 0, 'success');
      assert.equal(attempts.body.data[0].response, 'ok\uFFFDdone');
    });

    test('in an inbound request: accepted, kept byte for byte and forwarded', async () => {
      const src = await server.call('POST', '/api/v1/source', {
        name: 'nul-in',
        verification: { scheme: 'none' },
        eventType: { jsonPath: 'type' },
        dedupe: { jsonPath: 'id', windowSeconds: 3600 },
        destinations: [{ url: `${receiver.url}/in` }],
      });
      assert.equal(src.status, 201, JSON.stringify(src.body));
      // The event type and the dedupe key come from strings that hold a NUL.
      const raw = '{"type":"order\\u0000paid","id":"evt\\u00001","data":"x\\u0000y"}';
      const before = receiver.requests.length;
      const r = await fetch(`${server.url}/in/nul-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: raw,
      });
      const answer = (await r.json()) as any;
      assert.equal(r.status, 200, JSON.stringify(answer));
      assert.equal(answer.status, 'accepted');
      const event = await server.call('GET', `/api/v1/source/nul-in/event/${answer.id}`);
      assert.equal(event.status, 200, JSON.stringify(event.body));
      assert.equal(
        Buffer.from(event.body.body, event.body.bodyEncoding === 'base64' ? 'base64' : 'utf8').toString(),
        raw,
      );
      await receiver.waitFor(before + 1);
      await server.hookline.dispatcher!.drain();
      const forwarded = receiver.requests.slice(before).find((x) => x.url === '/in');
      assert.equal(forwarded?.body.toString('utf8'), raw, 'the same bytes go on');
      // The same request again is a duplicate (its key survived the trip through the store).
      const again = await fetch(`${server.url}/in/nul-in`, { method: 'POST', body: raw });
      assert.equal(((await again.json()) as any).status, 'duplicate');
    });
  });
}
