/**
 * Transformations: an endpoint's `handler(webhook)` runs in a QuickJS sandbox worker and may
 * change the payload, method, path, query and headers (the request is signed over the new body),
 * or cancel the delivery. Code that throws, burns CPU, hogs memory or returns garbage fails the
 * attempt with the reason in its log, and the API keeps answering meanwhile. Svix's
 * `transformation` calls through the official `svix` client, and `simulate`. Both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { Svix } from 'svix';
import { setTransformBudget } from '../src/delivery/transform-runner.ts';
import { headersOf, startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

interface Attempt {
  status: number;
  responseStatusCode: number;
  response: string;
  url: string;
  requestBody?: string | null;
}

const BURN = 'function handler(w) { while (true) {} }';
/** Grows an array until the sandbox's memory limit (16 MB) stops it. */
const HOG = 'function handler(w) { const a = []; for (;;) a.push(a.length, a.length, a.length, a.length) }';
('function handler(w) { const keep = []; while (true) keep.push(new Array(10000).fill(keep.length)) }');

function transformationSuite(kind: TestStoreKind): void {
  let server: TestServer;
  let receiver: TestReceiver;
  let svix: Svix;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;

  before(async () => {
    db = await kind.open('transform');
    receiver = await startReceiver();
    server = await startHookline({ env: { ...db.env } });
    svix = new Svix(server.token, { serverUrl: server.url });
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'A', uid: 'a' })).status, 201);
    await server.call('POST', '/api/v1/event-type', { name: 'order.created', description: 'x' });
  });
  after(async () => {
    await server.close();
    await receiver.close();
    await db.drop();
  });

  const newEndpoint = async (path: string) => {
    const r = await server.call('POST', '/api/v1/app/a/endpoint', { url: `${receiver.url}${path}` });
    assert.equal(r.status, 201);
    return r.body.id as string;
  };
  const publish = async (payload: Record<string, unknown>) => {
    const r = await server.call('POST', '/api/v1/app/a/msg', { eventType: 'order.created', payload });
    assert.equal(r.status, 202);
    await server.hookline.dispatcher!.drain();
    return r.body.id as string;
  };
  const attempts = async (ep: string) =>
    (await server.call('GET', `/api/v1/app/a/attempt/endpoint/${ep}`)).body.data as Attempt[];
  const setCode = (ep: string, code: string | null) =>
    server.call('PATCH', `/api/v1/app/a/endpoint/${ep}/transformation`, { code });

  test('get and patch through the svix client; bad code is refused with 422', async () => {
    const ep = await newEndpoint('/api');
    const empty = await svix.endpoint.transformation.get('a', ep);
    assert.equal(empty.code ?? null, null);
    assert.equal(empty.enabled, false);
    for (const code of ['function handler(w) {', 'const notAHandler = 1', 'throw new Error("at load")']) {
      const r = await setCode(ep, code);
      assert.equal(r.status, 422, code);
      assert.deepEqual(r.body.detail[0].loc, ['body', 'code']);
    }
    const code = 'function handler(webhook) { return webhook }';
    await svix.endpoint.transformation.patch('a', ep, { code });
    const got = await svix.endpoint.transformation.get('a', ep);
    assert.equal(got.code, code);
    assert.equal(got.enabled, true, 'new code runs');
    assert.ok(got.updatedAt instanceof Date);
    await svix.endpoint.transformation.patch('a', ep, { enabled: false });
    const off = await svix.endpoint.transformation.get('a', ep);
    assert.equal(off.enabled, false);
    assert.equal(off.code, code);
    await svix.endpoint.transformation.patch('a', ep, { code: null });
    assert.equal((await svix.endpoint.transformation.get('a', ep)).code ?? null, null);
    const missing = await server.call('GET', '/api/v1/app/a/endpoint/ep_missing/transformation');
    assert.equal(missing.status, 404);
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}`);
  });

  test('a handler changes payload, method, path, query and headers; the new body is signed', async () => {
    const ep = await newEndpoint('/orig');
    const secret = (await server.call('GET', `/api/v1/app/a/endpoint/${ep}/secret`)).body.key as string;
    const code = `function handler(webhook) {
      webhook.payload = { id: webhook.payload.id, total: webhook.payload.amount / 100, type: webhook.eventType };
      webhook.method = 'PUT';
      const u = new URL(webhook.url);
      webhook.url = webhook.url.replace('/orig', '/orders/' + webhook.payload.id) + '?source=hookline';
      webhook.headers = { 'x-order': String(webhook.payload.id) };
      return webhook;
    }`.replace('const u = new URL(webhook.url);', '');
    assert.equal((await setCode(ep, code)).status, 204);
    const before = receiver.requests.length;
    const msgId = await publish({ id: 'o1', amount: 1250 });
    assert.equal(receiver.requests.length, before + 1);
    const r = receiver.requests.at(-1)!;
    assert.equal(r.method, 'PUT');
    assert.equal(r.url, '/orders/o1?source=hookline');
    const headers = headersOf(r);
    assert.equal(headers['x-order'], 'o1');
    assert.equal(headers['webhook-id'], msgId);
    assert.deepEqual(JSON.parse(r.body.toString('utf8')), { id: 'o1', total: 12.5, type: 'order.created' });
    // Signed over the body that was sent.
    assert.deepEqual(new Webhook(secret).verify(r.body.toString('utf8'), headers), {
      id: 'o1',
      total: 12.5,
      type: 'order.created',
    });
    const [a] = await attempts(ep);
    assert.equal(a!.status, 0);
    assert.match(a!.url, /\/orders\/o1\?source=hookline$/);
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}`);
  });

  test('a handler cancels: nothing is sent and the delivery is canceled, not failed', async () => {
    const ep = await newEndpoint('/cancel');
    const code = 'function handler(w) { if (w.payload.test) { w.cancel = true } return w }';
    assert.equal((await setCode(ep, code)).status, 204);
    const before = receiver.requests.length;
    const skipped = await publish({ test: true });
    await publish({ test: false });
    assert.equal(receiver.requests.length, before + 1, 'only the real one was sent');
    const log = await attempts(ep);
    const canceled = log.find((a) => /canceled/.test(a.response));
    assert.ok(canceled, 'the cancel is in the attempt log');
    const stats = await svix.endpoint.getStats('a', ep);
    assert.equal(stats.canceled, 1, 'the test message was canceled');
    assert.equal(stats.success, 1);
    assert.equal(stats.fail, 0, 'a cancel is not a failure');
    const [skippedAttempt] = (await server.call('GET', `/api/v1/app/a/attempt/msg/${skipped}`)).body
      .data as Attempt[];
    assert.match(skippedAttempt!.response, /canceled by the endpoint's transformation/);
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}`);
  });

  test('throwing, burning CPU, hogging memory or returning garbage fails the attempt with the reason', async () => {
    const ep = await newEndpoint('/bad');
    const cases: [string, RegExp][] = [
      ['function handler(w) { throw new Error("boom") }', /transformation threw Error: boom/],
      [BURN, /ran for more than \d+ ms and was stopped/],
      [HOG, /more than \d+ MB of memory/],
      ['function handler(w) { return 42 }', /returned something other than the webhook object/],
      [
        'function handler(w) { w.url = "http://169.254.169.254/latest"; return w }',
        /outside the endpoint's origin/,
      ],
      ['function handler(w) { w.method = "DELETE"; return w }', /the method "DELETE"/],
      ['function handler(w) { w.headers = { "webhook-signature": "x" }; return w }', /Hookline sets itself/],
      ['function handler(w) { return { ...w, payload: undefined } }', /no payload/],
      [
        'function handler(w) { return typeof process === "undefined" && typeof require === "undefined" ? w : 1 }',
        /^$/,
      ],
    ];
    const before = receiver.requests.length;
    for (const [code, reason] of cases) {
      assert.equal((await setCode(ep, code)).status, 204, code);
      // The memory hog gets time enough to reach its memory limit first.
      const restore = setTransformBudget(code === HOG ? { timeMs: 5_000 } : {});
      try {
        await publish({ n: 1 });
      } finally {
        restore();
      }
      const [a] = await attempts(ep);
      if (reason.source === '^$') {
        assert.equal(a!.status, 0, 'no Node inside the sandbox');
        continue;
      }
      assert.equal(a!.status, 2, code);
      assert.equal(a!.responseStatusCode, 0);
      assert.match(a!.response, reason, code);
    }
    assert.equal(receiver.requests.length, before + 1, 'only the sandbox check reached the receiver');
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}`);
  });

  test('simulate shows the request for a sample payload; a failing handler answers transformation_failed', async () => {
    const ep = await newEndpoint('/sim');
    const sim = await server.call('POST', `/api/v1/app/a/endpoint/${ep}/transformation/simulate`, {
      code: 'function handler(w) { w.payload = { wrapped: w.payload }; w.url += "?x=1"; return w }',
      eventType: 'order.created',
      payload: { id: 'o2' },
    });
    assert.equal(sim.status, 200);
    assert.deepEqual(sim.body, {
      method: 'POST',
      url: `${receiver.url}/sim?x=1`,
      payload: JSON.stringify({ wrapped: { id: 'o2' } }),
      headers: {},
      cancel: false,
    });
    const none = await server.call('POST', `/api/v1/app/a/endpoint/${ep}/transformation/simulate`, {
      eventType: 'order.created',
      payload: {},
    });
    assert.equal(none.status, 422, 'no code given or saved');
    const restore = setTransformBudget({ timeMs: 1_500 });
    try {
      // The API keeps answering while a handler burns CPU in its worker.
      let healthFirst = false;
      const burning = server
        .call('POST', `/api/v1/app/a/endpoint/${ep}/transformation/simulate`, {
          code: BURN,
          eventType: 'order.created',
          payload: {},
        })
        .then((r) => ({ r, healthFirst }));
      const health = await fetch(`${server.url}/health`);
      healthFirst = true;
      assert.equal(health.status, 200);
      const { r, healthFirst: first } = await burning;
      assert.equal(first, true, '/health answered while the handler burned');
      assert.equal(r.status, 400);
      assert.equal(r.body.code, 'transformation_failed');
      assert.match(r.body.detail, /ran for more than 1500 ms/);
    } finally {
      restore();
    }
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}`);
  });
}

for (const kind of await testStores()) {
  describe(`transformations (${kind.name})`, kind.options, () => transformationSuite(kind));
}
