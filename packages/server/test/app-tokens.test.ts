/**
 * What an app-scoped token (the app portal) may see and do beyond route scoping: the portal link
 * it is handed, and event types behind feature flags, which a token without the flag must not
 * be able to find, subscribe to or read messages of — through any route.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

/** A POST with a Host header of the caller's choosing (fetch does not let one set it). */
function postWithHost(url: string, host: string, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { host, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

describe('the app portal link', () => {
  let withPublicUrl: TestServer;
  let without: TestServer;
  before(async () => {
    withPublicUrl = await startHookline({ env: { HOOKLINE_PUBLIC_URL: 'https://hooks.example.com/' } });
    without = await startHookline();
    for (const s of [withPublicUrl, without])
      await s.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
  });
  after(async () => {
    await withPublicUrl?.close();
    await without?.close();
  });

  test('uses HOOKLINE_PUBLIC_URL, whatever Host the request carries', async () => {
    const r = await postWithHost(
      `${withPublicUrl.url}/api/v1/auth/app-portal-access/acme`,
      'attacker.example',
      withPublicUrl.token,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.url, /^https:\/\/hooks\.example\.com\/apps\/app_[0-9A-Za-z]+#key=hl_app_/);
  });

  test('a repeat with the same idempotency key makes another token at once (no response is kept)', async () => {
    const call = () =>
      without.call('POST', '/api/v1/auth/app-portal-access/acme', {}, { 'idempotency-key': 'same-key' });
    const first = await call();
    // The key is free once the call is answered: neither a response nor a reservation holds it
    // (the key as the idempotency layer hashes it: token, key and URL).
    const key = createHash('sha256')
      .update(`Bearer ${without.token}\nsame-key\n/api/v1/auth/app-portal-access/acme`)
      .digest('hex');
    const store = without.hookline.store;
    assert.equal(await store.reserveIdempotencyKey(key, Date.now(), Date.now() + 1000), 'reserved');
    await store.releaseIdempotencyKey(key);
    const repeat = await call();
    assert.equal(first.status, 200);
    assert.equal(repeat.status, 200, JSON.stringify(repeat.body));
    assert.notEqual(repeat.body.token, first.body.token);
    assert.equal(repeat.body.url.includes(first.body.token), false);
  });

  test('without a public URL, the server as the client reached it', async () => {
    const r = await postWithHost(
      `${without.url}/api/v1/auth/app-portal-access/acme`,
      'portal.test:8080',
      without.token,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.url, /^http:\/\/portal\.test:8080\/apps\/app_/);
  });
});

for (const kind of await testStores()) {
  describe(`event types behind feature flags (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let receiver: TestReceiver;
    /** Messages published by the admin: one of the flagged type, one of the public type. */
    let betaMsg: string;
    let publicMsg: string;
    /** The admin's endpoint (no filter): it received both. */
    let adminEp: string;
    let plain: Caller;
    let beta: Caller;

    type Caller = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;
    const as =
      (token: string): Caller =>
      (method, path, body) =>
        server.call(method, path, body, { authorization: `Bearer ${token}` });
    const newToken = async (body: Record<string, unknown>) => {
      const r = await server.call('POST', '/api/v1/auth/app-portal-access/shop', body);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return as(r.body.token);
    };

    before(async () => {
      db = await kind.open('flags');
      receiver = await startReceiver();
      server = await startHookline({ env: db.env });
      await server.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' });
      for (const [name, flags] of [
        ['beta.thing', ['beta']],
        ['public.thing', null],
      ] as const) {
        const r = await server.call('POST', '/api/v1/event-type', {
          name,
          description: name,
          featureFlags: flags,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
      }
      adminEp = (await server.call('POST', '/api/v1/app/shop/endpoint', { url: receiver.url })).body.id;
      const publish = async (eventType: string) =>
        (await server.call('POST', '/api/v1/app/shop/msg', { eventType, payload: { secret: eventType } }))
          .body.id as string;
      betaMsg = await publish('beta.thing');
      publicMsg = await publish('public.thing');
      await server.hookline.dispatcher!.drain();
      assert.equal(receiver.requests.length, 2);
      plain = await newToken({});
      beta = await newToken({ featureFlags: ['beta'] });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await db?.drop();
    });

    /** The answer for a hidden type is the answer for an unknown one, word for word. */
    function sameAnswer(hidden: { status: number; body: any }, unknown: { status: number; body: any }) {
      assert.equal(hidden.status, unknown.status, JSON.stringify(hidden.body));
      assert.equal(
        JSON.stringify(hidden.body).replaceAll('beta.thing', 'NAME'),
        JSON.stringify(unknown.body).replaceAll('no.such.thing', 'NAME'),
      );
    }

    test('a token without the flag cannot subscribe an endpoint to the type: answered as for an unknown type', async () => {
      const url = 'https://example.com/hook';
      for (const field of ['eventTypes', 'filterTypes']) {
        const hidden = await plain('POST', '/api/v1/app/shop/endpoint', { url, [field]: ['beta.thing'] });
        assert.equal(hidden.status, 422);
        sameAnswer(
          hidden,
          await plain('POST', '/api/v1/app/shop/endpoint', { url, [field]: ['no.such.thing'] }),
        );
      }
      // Upsert creating, PUT and PATCH of the token's own endpoint.
      sameAnswer(
        await plain('PUT', '/api/v1/app/shop/endpoint/new-one', { url, eventTypes: ['beta.thing'] }),
        await plain('PUT', '/api/v1/app/shop/endpoint/new-one', { url, eventTypes: ['no.such.thing'] }),
      );
      const own = await plain('POST', '/api/v1/app/shop/endpoint', { url, eventTypes: ['public.thing'] });
      assert.equal(own.status, 201);
      const path = `/api/v1/app/shop/endpoint/${own.body.id}`;
      sameAnswer(
        await plain('PUT', path, { url, eventTypes: ['public.thing', 'beta.thing'] }),
        await plain('PUT', path, { url, eventTypes: ['public.thing', 'no.such.thing'] }),
      );
      sameAnswer(
        await plain('PATCH', path, { eventTypes: ['beta.thing'] }),
        await plain('PATCH', path, { eventTypes: ['no.such.thing'] }),
      );
      // REST Hooks, one type or several.
      const target = `${url}/zap`;
      sameAnswer(
        await plain('POST', '/api/v1/app/shop/hook', { targetUrl: target, event: 'beta.thing' }),
        await plain('POST', '/api/v1/app/shop/hook', { targetUrl: target, event: 'no.such.thing' }),
      );
      sameAnswer(
        await plain('POST', '/api/v1/app/shop/hook', {
          targetUrl: target,
          eventTypes: ['public.thing', 'beta.thing'],
        }),
        await plain('POST', '/api/v1/app/shop/hook', {
          targetUrl: target,
          eventTypes: ['public.thing', 'no.such.thing'],
        }),
      );
      assert.equal((await plain('GET', path)).body.eventTypes.length, 1, 'nothing was changed');

      // A token with the flag, and the admin, may.
      assert.equal(
        (await beta('POST', '/api/v1/app/shop/endpoint', { url, eventTypes: ['beta.thing'] })).status,
        201,
      );
      assert.equal((await beta('PATCH', path, { eventTypes: ['beta.thing'] })).status, 200);
      // A type the endpoint has already (the token sees it on the endpoint) stays: GET then PUT
      // the same endpoint back works.
      const seen = (await plain('GET', path)).body;
      assert.deepEqual(seen.eventTypes, ['beta.thing']);
      const back = await plain('PUT', path, { url: seen.url, eventTypes: seen.eventTypes });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.deepEqual(back.body.eventTypes, ['beta.thing']);
    });

    test("a token without the flag never reads the type's messages or attempts", async () => {
      const ids = (r: { body: any }) => r.body.data.map((x: any) => x.id);
      const msgIds = (r: { body: any }) => r.body.data.map((x: any) => x.msgId);
      assert.deepEqual(ids(await plain('GET', '/api/v1/app/shop/msg')), [publicMsg]);
      assert.deepEqual(ids(await plain('GET', '/api/v1/app/shop/msg?event_types=beta.thing')), []);
      assert.deepEqual(ids(await plain('GET', '/api/v1/app/shop/msg?event_types=beta.thing,public.thing')), [
        publicMsg,
      ]);
      assert.deepEqual(ids(await beta('GET', '/api/v1/app/shop/msg')), [publicMsg, betaMsg]);
      assert.deepEqual(ids(await server.call('GET', '/api/v1/app/shop/msg')), [publicMsg, betaMsg]);

      const unknownMsg = await plain('GET', '/api/v1/app/shop/msg/msg_2zzzzzzzzzzzzzzzzzzzzzzzzzz');
      assert.equal(unknownMsg.status, 404);
      assert.deepEqual((await plain('GET', `/api/v1/app/shop/msg/${betaMsg}`)).body, unknownMsg.body);
      assert.equal((await plain('GET', `/api/v1/app/shop/msg/${publicMsg}`)).status, 200);
      assert.equal((await beta('GET', `/api/v1/app/shop/msg/${betaMsg}`)).status, 200);

      const byEndpoint = `/api/v1/app/shop/attempt/endpoint/${adminEp}`;
      assert.deepEqual(msgIds(await plain('GET', byEndpoint)), [publicMsg]);
      assert.deepEqual(msgIds(await plain('GET', `${byEndpoint}?event_types=beta.thing`)), []);
      const withMsg = await plain('GET', `${byEndpoint}?with_msg=true`);
      assert.deepEqual(
        withMsg.body.data.map((a: any) => a.msg.eventType),
        ['public.thing'],
      );
      assert.deepEqual(msgIds(await beta('GET', byEndpoint)), [publicMsg, betaMsg]);

      const attempt = (await server.call('GET', `/api/v1/app/shop/attempt/msg/${betaMsg}`)).body.data[0].id;
      for (const [method, path] of [
        ['GET', `/api/v1/app/shop/attempt/msg/${betaMsg}`],
        ['GET', `/api/v1/app/shop/msg/${betaMsg}/attempt/${attempt}`],
        ['POST', `/api/v1/app/shop/msg/${betaMsg}/endpoint/${adminEp}/resend`],
      ] as const) {
        const r = await plain(method, path);
        assert.equal(r.status, 404, `${method} ${path}`);
        assert.deepEqual(r.body, unknownMsg.body, `${method} ${path}`);
        assert.ok([200, 202].includes((await beta(method, path)).status), `${method} ${path} with the flag`);
      }
    });
  });
}
