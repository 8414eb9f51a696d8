/**
 * REST Hooks (Zapier, Make, n8n, Pipedream) and the app-scoped tokens that manage them, on every
 * store: subscribe / unsubscribe as a Zapier app does, 410 Gone, sample payloads, token scoping.
 * The clock is manual and the dispatcher is drained, so "nothing more arrives" is exact, not a wait.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiException, Svix } from 'svix';
import { createManualClock } from '../src/core/clock.ts';
import {
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
  verifyDelivery,
} from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const ORDER_SCHEMA = {
  '1': {
    type: 'object',
    properties: { orderId: { type: 'string' }, total: { type: 'number' } },
    examples: [{ orderId: 'ord_1', total: 12.5 }, 'not an object', { id: 'keep-me', orderId: 'ord_2' }],
  },
};

function restHooksSuite(kind: TestStoreKind): void {
  // Starts at the real time: receivers (standardwebhooks) check signature timestamps against it.
  const clock = createManualClock();
  let server: TestServer;
  let receiver: TestReceiver;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;
  let appId: string;
  let otherAppId: string;

  /** Calls the API with an app-scoped token instead of the admin token. */
  const as = (token: string) => (method: string, path: string, body?: unknown) =>
    server.call(method, path, body, { authorization: `Bearer ${token}` });

  const newToken = async (app: string, body: Record<string, unknown> = {}) => {
    const r = await server.call('POST', `/api/v1/auth/app-portal-access/${app}`, body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ['token', 'url']);
    assert.ok(r.body.url.includes(r.body.token), 'the dashboard url carries the token');
    return r.body.token as string;
  };

  const publish = async (app: string, eventType: string, payload: Record<string, unknown>) => {
    const r = await server.call('POST', `/api/v1/app/${app}/msg`, { eventType, payload });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.id as string;
  };

  before(async () => {
    db = await kind.open('resthooks');
    receiver = await startReceiver();
    server = await startHookline({ clock, env: { HOOKLINE_DELIVERY_TIMEOUT: '2', ...db.env } });
    for (const [name, schemas] of [
      ['order.created', ORDER_SCHEMA],
      ['order.refunded', null],
      ['beta.thing', null],
    ] as const) {
      const r = await server.call('POST', '/api/v1/event-type', {
        name,
        description: name,
        ...(schemas ? { schemas } : {}),
        ...(name === 'beta.thing' ? { featureFlags: ['beta'] } : {}),
      });
      assert.equal(r.status, 201);
    }
    appId = (await server.call('POST', '/api/v1/app', { name: 'Shop', uid: 'shop' })).body.id;
    otherAppId = (await server.call('POST', '/api/v1/app', { name: 'Other', uid: 'other' })).body.id;
  });
  after(async () => {
    await server.close();
    await receiver.close();
    await db.drop();
  });

  test('Zapier flow with an app token: subscribe, receive only the subscribed event (signed), unsubscribe, receive nothing more', async () => {
    const call = as(await newToken('shop'));
    const dispatcher = server.hookline.dispatcher!;
    const target = `${receiver.url}/zap/1`;
    const sub = await call('POST', '/api/v1/app/shop/hook', { targetUrl: target, event: 'order.created' });
    assert.equal(sub.status, 201, JSON.stringify(sub.body));
    assert.match(sub.body.id, /^ep_/);
    assert.equal(sub.body.targetUrl, target);
    assert.deepEqual(sub.body.eventTypes, ['order.created']);
    assert.equal(sub.body.event, 'order.created');

    // Subscribing the same pair again (Zapier retrying) returns the same subscription.
    const again = await call('POST', '/api/v1/app/shop/hook', { target_url: target, event: 'order.created' });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, sub.body.id);

    // It is an ordinary endpoint too, marked in its metadata.
    const ep = await call('GET', `/api/v1/app/shop/endpoint/${sub.body.id}`);
    assert.equal(ep.status, 200);
    assert.equal(ep.body.metadata['hookline.restHook'], 'true');
    const listed = await call('GET', '/api/v1/app/shop/hook');
    assert.deepEqual(
      listed.body.data.map((h: any) => h.id),
      [sub.body.id],
    );
    const secret = (await call('GET', `/api/v1/app/shop/endpoint/${sub.body.id}/secret`)).body.key;

    const before = receiver.requests.length;
    const created = await publish('shop', 'order.created', { orderId: 'ord_9', total: 3 });
    await publish('shop', 'order.refunded', { orderId: 'ord_9' });
    await dispatcher.drain();
    const got = receiver.requests.slice(before);
    assert.equal(got.length, 1, 'only the subscribed event type is delivered');
    assert.equal(got[0]!.url, '/zap/1');
    assert.deepEqual(verifyDelivery(got[0]!, secret, created), { orderId: 'ord_9', total: 3 });

    const del = await call('DELETE', `/api/v1/app/shop/hook/${sub.body.id}`);
    assert.equal(del.status, 204);
    const gone = await call('DELETE', `/api/v1/app/shop/hook/${sub.body.id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'not_found');
    await publish('shop', 'order.created', { orderId: 'ord_10', total: 1 });
    await dispatcher.drain();
    assert.equal(receiver.requests.length, before + 1, 'nothing is delivered after unsubscribing');
  });

  test('identical subscribe requests at once make one subscription', async () => {
    const body = { targetUrl: `${receiver.url}/zap/race`, eventTypes: ['order.refunded', 'order.created'] };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => server.call('POST', '/api/v1/app/shop/hook', body)),
    );
    for (const r of results) assert.ok(r.status === 200 || r.status === 201, JSON.stringify(r.body));
    assert.equal(results.filter((r) => r.status === 201).length, 1, 'exactly one is created');
    assert.equal(new Set(results.map((r) => r.body.id)).size, 1);
    assert.deepEqual(results[0]!.body.eventTypes, ['order.created', 'order.refunded']);
    // The event types in another order are the same subscription.
    const swapped = await server.call('POST', '/api/v1/app/shop/hook', {
      ...body,
      eventTypes: ['order.created', 'order.refunded'],
    });
    assert.equal(swapped.status, 200);
    assert.equal(swapped.body.id, results[0]!.body.id);
    assert.equal((await server.call('DELETE', `/api/v1/app/shop/hook/${swapped.body.id}`)).status, 204);
  });

  test('unsubscribe by target URL (optionally one event); the hooks API never deletes ordinary endpoints', async () => {
    const target = `${receiver.url}/zap/by-url`;
    const a = await server.call('POST', '/api/v1/app/shop/hook', { hookUrl: target, event: 'order.created' });
    const b = await server.call('POST', '/api/v1/app/shop/hook', {
      targetUrl: target,
      eventTypes: ['order.refunded'],
    });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.body.id, b.body.id);
    const plain = await server.call('POST', '/api/v1/app/shop/endpoint', { url: target });
    assert.equal(plain.status, 201);

    const one = await server.call('POST', '/api/v1/app/shop/hook/unsubscribe', {
      targetUrl: target,
      event: 'order.refunded',
    });
    assert.equal(one.status, 204);
    assert.equal((await server.call('GET', `/api/v1/app/shop/hook/${b.body.id}`)).status, 404);
    assert.equal((await server.call('GET', `/api/v1/app/shop/hook/${a.body.id}`)).status, 200);
    const all = await server.call('POST', '/api/v1/app/shop/hook/unsubscribe', { targetUrl: target });
    assert.equal(all.status, 204);
    assert.equal((await server.call('GET', `/api/v1/app/shop/hook/${a.body.id}`)).status, 404);
    const none = await server.call('POST', '/api/v1/app/shop/hook/unsubscribe', { targetUrl: target });
    assert.equal(none.status, 404);
    assert.equal(none.body.code, 'not_found');
    assert.equal((await server.call('DELETE', `/api/v1/app/shop/hook/${plain.body.id}`)).status, 404);
    assert.equal((await server.call('GET', `/api/v1/app/shop/endpoint/${plain.body.id}`)).status, 200);
    await server.call('DELETE', `/api/v1/app/shop/endpoint/${plain.body.id}`);
  });

  test('subscribe validation: unknown event type, missing fields, unsafe URL, flagged event types', async () => {
    const unknown = await server.call('POST', '/api/v1/app/shop/hook', {
      targetUrl: `${receiver.url}/x`,
      event: 'no.such.event',
    });
    assert.equal(unknown.status, 422);
    assert.deepEqual(unknown.body.detail[0].loc, ['body', 'event']);
    const noUrl = await server.call('POST', '/api/v1/app/shop/hook', { event: 'order.created' });
    assert.equal(noUrl.status, 422);
    assert.deepEqual(noUrl.body.detail[0].loc, ['body', 'targetUrl']);
    const noEvent = await server.call('POST', '/api/v1/app/shop/hook', { targetUrl: `${receiver.url}/x` });
    assert.equal(noEvent.status, 422);
    assert.deepEqual(noEvent.body.detail[0].loc, ['body', 'event']);
    const badUrl = await server.call('POST', '/api/v1/app/shop/hook', {
      targetUrl: 'ftp://example.com/x',
      event: 'order.created',
    });
    assert.equal(badUrl.status, 422);
    assert.deepEqual(badUrl.body.detail[0].loc, ['body', 'targetUrl']);
    assert.equal(
      (
        await server.call('POST', '/api/v1/app/nope/hook', {
          targetUrl: 'https://example.com',
          event: 'order.created',
        })
      ).status,
      404,
    );

    // An event type behind a feature flag exists only for tokens carrying the flag.
    const plainToken = as(await newToken('shop'));
    const hidden = await plainToken('POST', '/api/v1/app/shop/hook', {
      targetUrl: `${receiver.url}/b`,
      event: 'beta.thing',
    });
    assert.equal(hidden.status, 422);
    assert.equal((await plainToken('GET', '/api/v1/event-type/beta.thing/sample')).status, 404);
    assert.equal((await plainToken('GET', '/api/v1/event-type/beta.thing')).status, 404);
    const names = async (call: typeof plainToken) =>
      (await call('GET', '/api/v1/event-type?limit=1')).body.data.map((t: any) => t.name);
    assert.deepEqual(await names(plainToken), [], 'the first page (beta.thing) is hidden, not the iterator');
    const page1 = await plainToken('GET', '/api/v1/event-type?limit=1');
    assert.equal(page1.body.done, false);
    const page2 = await plainToken('GET', `/api/v1/event-type?limit=1&iterator=${page1.body.iterator}`);
    assert.deepEqual(
      page2.body.data.map((t: any) => t.name),
      ['order.created'],
    );
    assert.deepEqual(await names(server.call), ['beta.thing'], 'the admin sees every event type');
    const betaToken = as(await newToken('shop', { featureFlags: ['beta'] }));
    assert.deepEqual(await names(betaToken), ['beta.thing']);
    const shown = await betaToken('POST', '/api/v1/app/shop/hook', {
      targetUrl: `${receiver.url}/b`,
      event: 'beta.thing',
    });
    assert.equal(shown.status, 201);
    assert.equal((await betaToken('DELETE', `/api/v1/app/shop/hook/${shown.body.id}`)).status, 204);
  });

  test('410 Gone from a target disables its subscription without retry; an ordinary endpoint retries a 410', async () => {
    const dispatcher = server.hookline.dispatcher!;
    const store = server.hookline.store;
    receiver.fallback = { status: 410, body: 'gone' };
    try {
      const sub = await server.call('POST', '/api/v1/app/other/hook', {
        targetUrl: `${receiver.url}/zap/gone`,
        event: 'order.created',
      });
      assert.equal(sub.status, 201);
      const before = receiver.requests.length;
      const msg = await publish('other', 'order.created', { orderId: 'ord_1' });
      await dispatcher.drain();
      assert.equal(receiver.requests.length, before + 1);
      const hook = await server.call('GET', `/api/v1/app/other/hook/${sub.body.id}`);
      assert.equal(hook.body.disabled, true, 'the subscription is disabled');
      assert.equal(await store.nextDueAt(), null, 'nothing is scheduled: the 410 is not retried');
      const attempts = await server.call('GET', `/api/v1/app/other/attempt/msg/${msg}`);
      assert.equal(attempts.body.data.length, 1);
      assert.equal(attempts.body.data[0].responseStatusCode, 410);

      await publish('other', 'order.created', { orderId: 'ord_2' });
      await dispatcher.drain();
      assert.equal(receiver.requests.length, before + 1, 'a disabled subscription receives nothing');

      // Zapier subscribing the same URL again turns it back on.
      receiver.fallback = { status: 200, body: 'ok' };
      const back = await server.call('POST', '/api/v1/app/other/hook', {
        targetUrl: `${receiver.url}/zap/gone`,
        event: 'order.created',
      });
      assert.equal(back.status, 200);
      assert.equal(back.body.id, sub.body.id);
      assert.equal(back.body.disabled, false);
      await server.call('DELETE', `/api/v1/app/other/hook/${sub.body.id}`);

      receiver.fallback = { status: 410, body: 'gone' };
      const plain = await server.call('POST', '/api/v1/app/other/endpoint', { url: `${receiver.url}/plain` });
      await publish('other', 'order.created', { orderId: 'ord_3' });
      await dispatcher.drain();
      const ep = await server.call('GET', `/api/v1/app/other/endpoint/${plain.body.id}`);
      assert.equal(ep.body.disabled, false, 'an ordinary endpoint is not disabled by a 410');
      assert.notEqual(await store.nextDueAt(), null, 'and its delivery is retried');
      await server.call('DELETE', `/api/v1/app/other/endpoint/${plain.body.id}`);
      assert.equal(await store.nextDueAt(), null);
    } finally {
      receiver.fallback = { status: 200, body: 'ok' };
    }
  });

  test('sample payloads: recent ones newest first with an id, else schema examples, else []', async () => {
    await server.call('POST', '/api/v1/app', { name: 'Fresh', uid: 'fresh' });
    const token = as(await newToken('fresh', { readOnly: true }));
    // No message yet: the event type's schema examples (objects only), each with an id.
    const examples = await token('GET', '/api/v1/app/fresh/hook/sample?event=order.created');
    assert.equal(examples.status, 200);
    assert.deepEqual(examples.body, [
      { id: 'order.created.example.1', orderId: 'ord_1', total: 12.5 },
      { id: 'keep-me', orderId: 'ord_2' },
    ]);
    const catalog = await token('GET', '/api/v1/event-type/order.created/sample?limit=1');
    assert.deepEqual(catalog.body, [{ id: 'order.created.example.1', orderId: 'ord_1', total: 12.5 }]);
    assert.deepEqual((await token('GET', '/api/v1/event-type/order.refunded/sample')).body, []);
    assert.equal((await token('GET', '/api/v1/event-type/no.such/sample')).status, 404);
    // Neither messages nor examples: [].
    assert.deepEqual((await token('GET', '/api/v1/app/fresh/hook/sample?event=order.refunded')).body, []);
    assert.deepEqual((await token('GET', '/api/v1/app/fresh/hook/sample?event=never.seen')).body, []);

    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) {
      clock.advance(1000);
      ids.push(await publish('fresh', 'order.created', { orderId: `ord_${i}`, total: i }));
    }
    await publish('fresh', 'order.refunded', { orderId: 'ord_x' });
    await publish('shop', 'order.created', { orderId: 'other-app' });
    await publish('fresh', 'order.created', { id: 'own-id', orderId: 'ord_5' });
    const recent = await token('GET', '/api/v1/app/fresh/hook/sample?event=order.created');
    assert.deepEqual(recent.body, [
      { id: 'own-id', orderId: 'ord_5' },
      { id: ids[3], orderId: 'ord_4', total: 4 },
      { id: ids[2], orderId: 'ord_3', total: 3 },
    ]);
    const two = await token('GET', '/api/v1/app/fresh/hook/sample?event=order.refunded&limit=2');
    assert.equal(two.body.length, 1);
    assert.equal(two.body[0].orderId, 'ord_x');
    const missing = await token('GET', '/api/v1/app/fresh/hook/sample');
    assert.equal(missing.status, 422);
  });

  test('token scoping: own application only, no admin routes, read-only refuses writes, expired and revoked tokens fail', async () => {
    const token = await newToken('shop', { expiry: 60 });
    const call = as(token);
    assert.equal((await call('GET', `/api/v1/app/${appId}`)).status, 200, 'by id');
    assert.equal((await call('GET', '/api/v1/app/shop/endpoint')).status, 200, 'by uid');
    assert.equal((await call('GET', '/api/v1/event-type')).status, 200, 'the catalog is readable');
    const refused: [string, string, unknown?][] = [
      ['GET', '/api/v1/app/other/hook'],
      ['GET', `/api/v1/app/${otherAppId}/endpoint`],
      ['POST', '/api/v1/app/other/hook', { targetUrl: `${receiver.url}/x`, event: 'order.created' }],
      ['GET', '/api/v1/app/nope/endpoint'],
      ['GET', '/api/v1/app'],
      ['POST', '/api/v1/app', { name: 'Mine' }],
      ['DELETE', '/api/v1/app/shop'],
      ['POST', '/api/v1/app/shop/msg', { eventType: 'order.created', payload: { forged: true } }],
      ['POST', '/api/v1/event-type', { name: 'x.y', description: 'x' }],
      ['DELETE', '/api/v1/event-type/order.created'],
      ['GET', '/api/v1/source'],
      ['POST', '/api/v1/auth/app-portal-access/shop', {}],
      ['POST', '/api/v1/auth/app/shop/expire-all', {}],
    ];
    for (const [method, path, body] of refused) {
      const r = await call(method, path, body);
      assert.equal(r.status, 403, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, 'insufficient_access');
    }
    assert.equal((await server.call('GET', '/api/v1/app/shop')).status, 200, 'the admin is unaffected');

    const readOnly = as(await newToken('shop', { readOnly: true }));
    assert.equal((await readOnly('GET', '/api/v1/app/shop/hook')).status, 200);
    const sub = await readOnly('POST', '/api/v1/app/shop/hook', {
      targetUrl: `${receiver.url}/ro`,
      event: 'order.created',
    });
    assert.equal(sub.status, 403);
    assert.equal(sub.body.code, 'insufficient_access');
    assert.equal(
      (await readOnly('POST', '/api/v1/app/shop/endpoint', { url: `${receiver.url}/ro` })).status,
      403,
    );

    clock.advance(61_000);
    const expired = await call('GET', '/api/v1/app/shop/hook');
    assert.equal(expired.status, 401);
    assert.equal(expired.body.code, 'authentication_failed');

    const revocable = as(await newToken('shop'));
    assert.equal((await revocable('GET', '/api/v1/app/shop/hook')).status, 200);
    assert.equal((await revocable('POST', '/api/v1/auth/logout')).status, 204);
    const revoked = await revocable('GET', '/api/v1/app/shop/hook');
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.code, 'authentication_failed');
    assert.equal(
      (await server.call('POST', '/api/v1/auth/logout')).status,
      400,
      'the admin token does not log out',
    );

    const many = [as(await newToken('shop')), as(await newToken('shop'))];
    const untouched = as(await newToken('other'));
    assert.equal((await server.call('POST', '/api/v1/auth/app/shop/expire-all', {})).status, 204);
    for (const t of many) assert.equal((await t('GET', '/api/v1/app/shop/hook')).status, 401);
    assert.equal((await untouched('GET', '/api/v1/app/other/hook')).status, 200);

    // The token is never stored in clear, not even as an idempotent response to replay.
    const first = await server.call(
      'POST',
      '/api/v1/auth/app-portal-access/shop',
      {},
      { 'idempotency-key': 'k1' },
    );
    const repeat = await server.call(
      'POST',
      '/api/v1/auth/app-portal-access/shop',
      {},
      { 'idempotency-key': 'k1' },
    );
    assert.equal(repeat.status, 200);
    assert.notEqual(repeat.body.token, first.body.token, 'a repeat makes a new token, not a replay');
    assert.equal((await server.call('POST', '/api/v1/auth/app-portal-access/nope', {})).status, 404);
    const tooLong = await server.call('POST', '/api/v1/auth/app-portal-access/shop', { expiry: 0 });
    assert.equal(tooLong.status, 422);
    assert.equal((await as('hl_app_forged')('GET', '/api/v1/app/shop/hook')).status, 401);
  });

  test('the new routes are in /openapi.json', async () => {
    const spec = (await server.call('GET', '/openapi.json')).body;
    for (const path of [
      '/api/v1/app/{app_id}/hook',
      '/api/v1/app/{app_id}/hook/{hook_id}',
      '/api/v1/app/{app_id}/hook/unsubscribe',
      '/api/v1/app/{app_id}/hook/sample',
      '/api/v1/event-type/{event_type_name}/sample',
      '/api/v1/auth/app-portal-access/{app_id}',
      '/api/v1/auth/logout',
    ]) {
      assert.ok(spec.paths[path], path);
    }
  });
}

for (const kind of await testStores()) {
  describe(`REST Hooks and app-scoped tokens (${kind.name})`, kind.options, () => restHooksSuite(kind));
}

describe('app-scoped tokens through the official svix client', () => {
  let server: TestServer;
  before(async () => {
    server = await startHookline();
  });
  after(() => server.close());

  const status = (code: number) => (err: unknown) => {
    assert.ok(err instanceof ApiException, String(err));
    assert.equal(err.code, code);
    return true;
  };

  test('appPortalAccess (creating the application inline), scoped calls, logout and expireAll', async () => {
    const admin = new Svix(server.token, { serverUrl: server.url });
    await admin.application.create({ name: 'Someone else', uid: 'else' });
    const access = await admin.authentication.appPortalAccess('cust-1', {
      application: { name: 'Customer 1' },
      featureFlags: [],
    });
    assert.match(access.token, /^hl_app_/);
    assert.ok(access.url.endsWith(`#key=${access.token}`), access.url);
    const app = await admin.application.get('cust-1');
    assert.equal(app.name, 'Customer 1');

    const customer = new Svix(access.token, { serverUrl: server.url });
    const ep = await customer.endpoint.create('cust-1', { url: 'https://example.com/hook' });
    assert.equal((await customer.endpoint.list('cust-1')).data[0]?.id, ep.id);
    await assert.rejects(customer.endpoint.list('else'), status(403));
    await assert.rejects(customer.application.list(), status(403));
    await customer.authentication.logout();
    await assert.rejects(customer.endpoint.list('cust-1'), status(401));

    const second = new Svix((await admin.authentication.appPortalAccess('cust-1')).token, {
      serverUrl: server.url,
    });
    await second.endpoint.get('cust-1', ep.id);
    await admin.authentication.expireAll('cust-1', {});
    await assert.rejects(second.endpoint.get('cust-1', ep.id), status(401));
  });
});
