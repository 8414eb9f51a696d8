/**
 * A per-endpoint request timeout (`timeout`, seconds): validated, stored, returned, used by the
 * sender instead of HOOKLINE_DELIVERY_TIMEOUT, and covered by the delivery's lease. On both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { leaseFor } from '../src/core/lease.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

function timeoutSuite(kind: TestStoreKind): void {
  let server: TestServer;
  let receiver: TestReceiver;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;

  before(async () => {
    db = await kind.open('timeout');
    receiver = await startReceiver();
    // The server's timeout is 3 s: a receiver answering after 1.5 s is fine by default.
    server = await startHookline({ env: { HOOKLINE_DELIVERY_TIMEOUT: '3', ...db.env } });
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'A', uid: 'a' })).status, 201);
  });
  after(async () => {
    await server.close();
    await receiver.close();
    await db.drop();
  });

  test('timeout is validated, stored, returned and changed by PUT and PATCH', async () => {
    for (const timeout of [0, 301, 1.5, '5']) {
      const r = await server.call('POST', '/api/v1/app/a/endpoint', { url: `${receiver.url}/x`, timeout });
      assert.equal(r.status, 422, `timeout ${timeout} is refused`);
    }
    const created = await server.call('POST', '/api/v1/app/a/endpoint', {
      url: `${receiver.url}/x`,
      timeout: 45,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.timeout, 45);
    const id = created.body.id;
    assert.equal((await server.call('GET', `/api/v1/app/a/endpoint/${id}`)).body.timeout, 45);
    const patched = await server.call('PATCH', `/api/v1/app/a/endpoint/${id}`, { timeout: 7 });
    assert.equal(patched.body.timeout, 7);
    const put = await server.call('PUT', `/api/v1/app/a/endpoint/${id}`, { url: `${receiver.url}/x` });
    assert.equal(put.body.timeout, 7, 'PUT without it keeps it, like the other Hookline fields');
    const cleared = await server.call('PATCH', `/api/v1/app/a/endpoint/${id}`, { timeout: null });
    assert.equal(cleared.body.timeout, null, "null: the server's timeout");
    const def = await server.call('POST', '/api/v1/app/a/endpoint', { url: `${receiver.url}/y` });
    assert.equal(def.body.timeout, null);
    await server.call('DELETE', `/api/v1/app/a/endpoint/${id}`);
    await server.call('DELETE', `/api/v1/app/a/endpoint/${def.body.id}`);
  });

  test("a short endpoint timeout fails a slow answer that the server's timeout lets through", async () => {
    await server.call('POST', '/api/v1/event-type', { name: 'slow.thing', description: 'x' });
    const impatient = await server.call('POST', '/api/v1/app/a/endpoint', {
      url: `${receiver.url}/impatient`,
      timeout: 1,
    });
    const patient = await server.call('POST', '/api/v1/app/a/endpoint', { url: `${receiver.url}/patient` });
    receiver.fallback = { status: 200, body: 'ok', delayMs: 1_500 };
    const msg = await server.call('POST', '/api/v1/app/a/msg', {
      eventType: 'slow.thing',
      payload: { n: 1 },
    });
    assert.equal(msg.status, 202);
    await server.hookline.dispatcher!.drain();
    const attempts = async (ep: string) =>
      (await server.call('GET', `/api/v1/app/a/attempt/endpoint/${ep}`)).body.data as {
        status: number;
        responseStatusCode: number;
        response: string;
      }[];
    const [fast] = await attempts(impatient.body.id);
    assert.ok(fast, 'the impatient endpoint was attempted');
    assert.equal(fast.status, 2, 'failed');
    assert.equal(fast.responseStatusCode, 0, 'no response within its 1 s');
    assert.match(fast.response, /timed out/);
    const [slow] = await attempts(patient.body.id);
    assert.equal(slow?.status, 0, "the other endpoint waited for the answer under the server's 3 s");
    receiver.fallback = { status: 200, body: 'ok' };
  });

  test('a delivery to an endpoint with its own timeout is leased for it', async () => {
    const ep = await server.call('POST', '/api/v1/app/a/endpoint', {
      url: `${receiver.url}/z`,
      timeout: 120,
    });
    const store = server.hookline.store;
    await server.hookline.dispatcher!.stop();
    await server.call('POST', '/api/v1/app/a/msg', { eventType: 'slow.thing', payload: { n: 2 } });
    const now = Date.now() + 1_000;
    const { deliveries: claimed } = await store.claimDue({
      now,
      limit: 10,
      leaseMs: 16_000,
      leasePerEndpoint: true,
      perEndpoint: 10,
      skipEndpoints: [],
      onlyEndpoints: [ep.body.id],
    });
    assert.equal(claimed.length, 1);
    assert.equal(claimed[0]!.leaseUntil, now + leaseFor(120_000), 'two of its timeouts and the slack');
    assert.equal(claimed[0]!.endpoint.timeoutMs, 120_000);
  });
}

for (const kind of await testStores()) {
  describe(`per-endpoint timeout (${kind.name})`, kind.options, () => timeoutSuite(kind));
}
