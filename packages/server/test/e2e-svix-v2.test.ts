/**
 * End to end with the official `svix` v2 client: every call goes over HTTP to a real Hookline,
 * and every webhook it sends to a real receiver is verified with the `standardwebhooks` library.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  type ApplicationOut,
  type EndpointOut,
  MessageAttemptTriggerType,
  type MessageOut,
  MessageStatus,
  StatusCodeClass,
  Svix,
} from 'svix';
import {
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
  verifyDelivery,
} from './helpers.ts';

const ID = {
  app: /^app_[0-9A-Za-z]{27}$/,
  ep: /^ep_[0-9A-Za-z]{27}$/,
  msg: /^msg_[0-9A-Za-z]{27}$/,
  atmpt: /^atmpt_[0-9A-Za-z]{27}$/,
  qtask: /^qtask_[0-9A-Za-z]{27}$/,
};

/** An `assert.rejects` check: the client threw ApiException with this status (and error code). */
function apiError(status: number, code?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    assert.equal(err.code, status);
    if (code !== undefined) assert.equal((err.body as { code: string }).code, code);
    return true;
  };
}

const randomSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/** Waits until the wall clock has moved past the current millisecond (message timestamps are ms). */
async function nextMillisecond(): Promise<void> {
  const t = Date.now();
  while (Date.now() <= t) await new Promise((r) => setImmediate(r));
}

describe('svix v2 client against Hookline', () => {
  let server: TestServer;
  let recvA: TestReceiver;
  let recvB: TestReceiver;
  let recvR: TestReceiver;
  let svix: Svix;
  /** Resolves when every due delivery is attempted and every attempt recorded. */
  const drain = () => server.hookline.dispatcher!.drain();

  before(async () => {
    server = await startHookline({ env: { HOOKLINE_RETRY_SCHEDULE: '0.05,0.05' } });
    recvA = await startReceiver();
    recvB = await startReceiver();
    recvR = await startReceiver();
    svix = new Svix(server.token, { serverUrl: server.url });
  });

  after(async () => {
    await server?.close();
    await recvA?.close();
    await recvB?.close();
    await recvR?.close();
  });

  test('a wrong token is refused with 401; an unknown application is 404', async () => {
    const wrong = new Svix('not-the-token', { serverUrl: server.url });
    await assert.rejects(wrong.application.list(), apiError(401, 'authentication_failed'));
    await assert.rejects(wrong.application.create({ name: 'nope' }), apiError(401, 'authentication_failed'));
    await assert.rejects(svix.application.get('no-such-app'), apiError(404, 'not_found'));
    await assert.rejects(svix.endpoint.list('no-such-app'), apiError(404, 'not_found'));
    await assert.rejects(
      svix.message.create('no-such-app', { eventType: 'x', payload: {} }),
      apiError(404, 'not_found'),
    );
  });

  // ---- applications ----------------------------------------------------------------------
  let app: ApplicationOut;

  test('application: create, getOrCreate, get by uid, 409 on a taken uid', async () => {
    app = await svix.application.create({ name: 'Acme', uid: 'acme', metadata: { plan: 'pro' } });
    assert.match(app.id, ID.app);
    assert.equal(app.uid, 'acme');
    assert.equal(app.name, 'Acme');
    assert.deepEqual(app.metadata, { plan: 'pro' });
    assert.ok(app.createdAt instanceof Date && !Number.isNaN(app.createdAt.getTime()));
    assert.ok(Math.abs(app.createdAt.getTime() - Date.now()) < 60_000);

    await assert.rejects(svix.application.create({ name: 'Acme again', uid: 'acme' }), apiError(409));

    const same = await svix.application.getOrCreate({ name: 'ignored', uid: 'acme' });
    assert.equal(same.id, app.id);
    assert.equal(same.name, 'Acme');
    const fresh = await svix.application.getOrCreate({ name: 'Fresh', uid: 'fresh' });
    assert.notEqual(fresh.id, app.id);
    assert.equal(fresh.uid, 'fresh');

    assert.equal((await svix.application.get('acme')).id, app.id);
    assert.equal((await svix.application.get(app.id)).uid, 'acme');
  });

  test('application: list pages with iterator, prevIterator, done and limit', async () => {
    for (const n of [1, 2, 3]) await svix.application.create({ name: `Filler ${n}` });
    // The cloud-only exclusion filters are accepted (and ignored, as the open-source server does).
    const all = await svix.application.list({ limit: 250, excludeAppsWithNoEndpoints: true });
    assert.equal(all.done, true);
    assert.ok(all.data.length >= 5);
    const ids = all.data.map((a) => a.id);
    assert.deepEqual(ids, [...ids].sort(), 'applications are listed oldest first');
    assert.ok(ids.includes(app.id));

    const pages: ApplicationOut[][] = [];
    let iterator: string | null = null;
    let prevOfSecond: string | null = null;
    for (;;) {
      const page = await svix.application.list({ limit: 2, iterator });
      assert.ok(page.data.length <= 2);
      pages.push(page.data);
      if (pages.length === 2) prevOfSecond = page.prevIterator ?? null;
      if (page.done) break;
      assert.equal(page.data.length, 2);
      assert.ok(page.iterator);
      iterator = page.iterator;
      assert.ok(pages.length < 10, 'pagination never ends');
    }
    assert.deepEqual(
      pages.flat().map((a) => a.id),
      ids,
    );

    await assert.rejects(svix.application.list({ limit: 251 }), (err: unknown) => {
      apiError(422)(err);
      const detail = (err as ApiException<{ detail: { loc: unknown[] }[] }>).body.detail;
      assert.deepEqual(detail[0]?.loc, ['query', 'limit']);
      return true;
    });

    assert.ok(prevOfSecond?.startsWith('-'));
    const back = await svix.application.list({ limit: 2, iterator: prevOfSecond });
    assert.deepEqual(
      back.data.map((a) => a.id),
      pages[0]!.map((a) => a.id),
    );
  });

  test('application: upsert (update and create), patch, delete', async () => {
    const updated = await svix.application.upsert('acme', {
      name: 'Acme Inc',
      uid: 'acme',
      metadata: { plan: 'enterprise' },
    });
    assert.equal(updated.id, app.id);
    assert.equal(updated.name, 'Acme Inc');
    assert.deepEqual(updated.metadata, { plan: 'enterprise' });

    const created = await svix.application.upsert('brand-new', { name: 'Brand new' });
    assert.match(created.id, ID.app);
    assert.equal(created.uid, 'brand-new');

    const patched = await svix.application.patch(app.id, { name: 'Acme Corp', throttleRate: 10 });
    assert.equal(patched.name, 'Acme Corp');
    assert.equal(patched.throttleRate, 10);
    assert.equal(patched.uid, 'acme', 'patch keeps fields it does not mention');
    assert.deepEqual(patched.metadata, { plan: 'enterprise' });
    const cleared = await svix.application.patch('acme', { throttleRate: null });
    assert.equal(cleared.throttleRate, null);
    assert.equal(cleared.name, 'Acme Corp');
    assert.equal((await svix.application.get('acme')).name, 'Acme Corp');

    await svix.application.delete('brand-new');
    await assert.rejects(svix.application.get('brand-new'), apiError(404, 'not_found'));
    await assert.rejects(svix.application.delete(created.id), apiError(404));
    const list = await svix.application.list({ limit: 250 });
    assert.ok(!list.data.some((a) => a.id === created.id));
  });

  // ---- event types -----------------------------------------------------------------------
  test('event type: create, 409 event_type_exists, list, upsert, patch, archive and unarchive', async () => {
    const schema = { '1': { type: 'object', properties: { amount: { type: 'number' } } } };
    const paid = await svix.eventType.create({
      name: 'invoice.paid',
      description: 'An invoice was paid',
      schemas: schema,
    });
    assert.equal(paid.name, 'invoice.paid');
    assert.equal(paid.archived, false);
    assert.deepEqual(paid.schemas, schema);
    for (const name of ['invoice.failed', 'user.created', 'temp.event']) {
      await svix.eventType.create({ name, description: `${name} happened` });
    }
    await assert.rejects(
      svix.eventType.create({ name: 'invoice.paid', description: 'again' }),
      apiError(409, 'event_type_exists'),
    );

    const names: string[] = [];
    let iterator: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await svix.eventType.list({ limit: 3, iterator });
      assert.ok(page.data.length <= 3);
      names.push(...page.data.map((t) => t.name));
      if (page.done) break;
      iterator = page.iterator ?? null;
    }
    assert.deepEqual(names, ['invoice.failed', 'invoice.paid', 'temp.event', 'user.created']);
    const withContent = await svix.eventType.list({ withContent: true });
    assert.deepEqual(withContent.data.find((t) => t.name === 'invoice.paid')?.schemas, schema);
    assert.equal((await svix.eventType.get('invoice.paid')).description, 'An invoice was paid');

    const upserted = await svix.eventType.upsert('invoice.failed', { description: 'Payment failed' });
    assert.equal(upserted.description, 'Payment failed');
    const patched = await svix.eventType.patch('user.created', { groupName: 'users' });
    assert.equal(patched.groupName, 'users');
    assert.equal(patched.description, 'user.created happened');

    await svix.eventType.delete('temp.event');
    const active = await svix.eventType.list({ limit: 250 });
    assert.ok(!active.data.some((t) => t.name === 'temp.event'));
    const withArchived = await svix.eventType.list({ limit: 250, includeArchived: true });
    assert.equal(withArchived.data.find((t) => t.name === 'temp.event')?.archived, true);
    assert.equal((await svix.eventType.get('temp.event')).archived, true);
    await assert.rejects(svix.eventType.get('never.defined'), apiError(404, 'not_found'));

    // Recreating an archived type brings it back.
    const back = await svix.eventType.create({ name: 'temp.event', description: 'back again' });
    assert.equal(back.archived, false);
    assert.equal(back.description, 'back again');
  });

  // ---- endpoints -------------------------------------------------------------------------
  let epA: EndpointOut;
  let epB: EndpointOut;
  let secretA: string;
  let secretB: string;

  test('endpoint: create with eventTypes, channels and uid; 422 for an unknown event type', async () => {
    epA = await svix.endpoint.create(app.id, {
      url: `${recvA.url}/hook`,
      uid: 'ep-a',
      description: 'billing',
      eventTypes: ['invoice.paid', 'user.created'],
      metadata: { team: 'billing' },
    });
    assert.match(epA.id, ID.ep);
    assert.equal(epA.uid, 'ep-a');
    assert.equal(epA.url, `${recvA.url}/hook`);
    assert.equal(epA.description, 'billing');
    assert.equal(epA.disabled, false);
    assert.deepEqual(epA.eventTypes, ['invoice.paid', 'user.created']);
    assert.equal(epA.channels ?? null, null);
    assert.deepEqual(epA.metadata, { team: 'billing' });

    epB = await svix.endpoint.create('acme', { url: recvB.url, uid: 'ep-b', channels: ['eu'] });
    assert.deepEqual(epB.channels, ['eu']);
    assert.equal(epB.eventTypes ?? null, null);

    await assert.rejects(
      svix.endpoint.create(app.id, { url: recvB.url, eventTypes: ['invoice.paid', 'no.such.type'] }),
      (err: unknown) => {
        apiError(422)(err);
        const detail = (err as ApiException<{ detail: { loc: unknown[] }[] }>).body.detail;
        assert.deepEqual(detail[0]?.loc, ['body', 'eventTypes', 1]);
        return true;
      },
    );
    // An archived type cannot be subscribed to either.
    await svix.eventType.delete('temp.event');
    await assert.rejects(
      svix.endpoint.create(app.id, { url: recvB.url, eventTypes: ['temp.event'] }),
      apiError(422),
    );
    await assert.rejects(svix.endpoint.create(app.id, { url: recvB.url, uid: 'ep-a' }), apiError(409));
  });

  test('endpoint: get, list, upsert, patch, getSecret, delete', async () => {
    assert.equal((await svix.endpoint.get(app.id, 'ep-a')).id, epA.id);
    assert.equal((await svix.endpoint.get('acme', epB.id)).uid, 'ep-b');
    await assert.rejects(svix.endpoint.get(app.id, 'ep-none'), apiError(404, 'not_found'));

    const first = await svix.endpoint.list(app.id, { limit: 1 });
    assert.deepEqual(
      first.data.map((e) => e.id),
      [epB.id],
      'newest endpoint first',
    );
    assert.equal(first.done, false);
    const second = await svix.endpoint.list(app.id, { limit: 1, iterator: first.iterator });
    assert.deepEqual(
      second.data.map((e) => e.id),
      [epA.id],
    );
    assert.equal(second.done, true);
    const asc = await svix.endpoint.list(app.id, { order: 'ascending' as any });
    assert.deepEqual(
      asc.data.map((e) => e.id),
      [epA.id, epB.id],
    );

    const upserted = await svix.endpoint.upsert(app.id, 'ep-a', {
      url: `${recvA.url}/hook`,
      uid: 'ep-a',
      description: 'billing v2',
      eventTypes: ['invoice.paid', 'user.created'],
      metadata: { team: 'billing' },
    });
    assert.equal(upserted.id, epA.id);
    assert.equal(upserted.description, 'billing v2');

    const patched = await svix.endpoint.patch(app.id, 'ep-a', { description: 'billing v3' });
    assert.equal(patched.description, 'billing v3');
    assert.deepEqual(patched.eventTypes, ['invoice.paid', 'user.created']);
    assert.equal(patched.url, `${recvA.url}/hook`);
    assert.deepEqual(patched.metadata, { team: 'billing' });
    await assert.rejects(
      svix.endpoint.patch(app.id, 'ep-a', { eventTypes: ['no.such.type'] }),
      apiError(422),
    );

    secretA = (await svix.endpoint.getSecret(app.id, epA.id)).key;
    secretB = (await svix.endpoint.getSecret('acme', 'ep-b')).key;
    assert.match(secretA, /^whsec_[A-Za-z0-9+/=]{32,}$/);
    assert.notEqual(secretA, secretB);
    assert.equal(Buffer.from(secretA.slice('whsec_'.length), 'base64').length, 24);

    // Upsert creates under an unknown uid; delete removes it.
    const temp = await svix.endpoint.upsert(app.id, 'ep-temp', { url: `${recvA.url}/temp` });
    assert.equal(temp.uid, 'ep-temp');
    assert.match(temp.id, ID.ep);
    await svix.endpoint.delete(app.id, 'ep-temp');
    await assert.rejects(svix.endpoint.get(app.id, temp.id), apiError(404));
    const after = await svix.endpoint.list(app.id);
    assert.deepEqual(after.data.map((e) => e.id).sort(), [epA.id, epB.id].sort());
  });

  // ---- messages --------------------------------------------------------------------------
  let m1: MessageOut;
  let m2: MessageOut;
  let m3: MessageOut;
  let m4: MessageOut;
  const payload1 = { type: 'invoice.paid', amount: 4200, nested: { ok: true, list: [1, 'two', null] } };
  const payload2 = { type: 'user.created', user: { id: 'u_1', name: 'Zoë ✓' } };
  const payload3 = { type: 'invoice.paid', amount: 1 };
  const payload4 = { type: 'invoice.failed' };

  test('message: create; eventId dedupe is a 409; idempotency-key replays the same message', async () => {
    m1 = await svix.message.create(app.id, {
      eventType: 'invoice.paid',
      eventId: 'evt-1',
      payload: payload1,
    });
    assert.match(m1.id, ID.msg);
    assert.equal(m1.eventId, 'evt-1');
    assert.equal(m1.eventType, 'invoice.paid');
    assert.deepEqual(m1.payload, {}, 'with_content=false (the v2 default) leaves the payload out');
    assert.ok(Math.abs(m1.timestamp.getTime() - Date.now()) < 60_000);

    await assert.rejects(
      svix.message.create(app.id, { eventType: 'invoice.paid', eventId: 'evt-1', payload: { other: 1 } }),
      apiError(409, 'conflict'),
    );

    await nextMillisecond();
    m2 = await svix.message.create(
      'acme',
      { eventType: 'user.created', channels: ['eu'], payload: payload2 },
      { withContent: true },
    );
    assert.deepEqual(m2.payload, payload2);
    assert.deepEqual(m2.channels, ['eu']);

    await nextMillisecond();
    const msgIn = { eventType: 'invoice.paid', channels: ['us'], payload: payload3 };
    m3 = await svix.message.create(app.id, msgIn, { idempotencyKey: 'order-1234' });
    const replay = await svix.message.create(app.id, msgIn, { idempotencyKey: 'order-1234' });
    assert.equal(replay.id, m3.id);
    assert.equal(replay.timestamp.getTime(), m3.timestamp.getTime());
    const otherKey = await svix.message.create(
      app.id,
      { eventType: 'invoice.failed', payload: payload4, tags: ['urgent'] },
      { idempotencyKey: 'order-5678' },
    );
    m4 = otherKey;
    assert.notEqual(m4.id, m3.id);

    // A message may carry its application, created on first use under the path's uid.
    const inline = await svix.message.create('inline-app', {
      eventType: 'user.created',
      payload: { inline: true },
      application: { name: 'Inline', uid: 'inline-app' },
    });
    assert.match(inline.id, ID.msg);
    const inlineApp = await svix.application.get('inline-app');
    assert.equal(inlineApp.name, 'Inline');
    assert.deepEqual(
      (await svix.message.list('inline-app')).data.map((m) => m.id),
      [inline.id],
    );

    const all = await svix.message.list(app.id);
    assert.deepEqual(
      all.data.map((m) => m.id),
      [m4.id, m3.id, m2.id, m1.id],
      'one message per idempotency key, newest first',
    );
  });

  test('deliveries reach the subscribed endpoints only, and every one verifies', async () => {
    // A: invoice.paid and user.created (m1, m2, m3). B: channel "eu" (m2). Nobody: m4.
    await recvA.waitFor(3);
    await recvB.waitFor(1);
    await drain();
    assert.equal(recvA.requests.length, 3);
    assert.equal(recvB.requests.length, 1);

    const byId = new Map(recvA.requests.map((r) => [r.headers['webhook-id'], r]));
    assert.deepEqual([...byId.keys()].sort(), [m1.id, m2.id, m3.id].sort());
    assert.deepEqual(verifyDelivery(byId.get(m1.id)!, [secretA], m1.id), payload1);
    assert.deepEqual(verifyDelivery(byId.get(m2.id)!, [secretA], m2.id), payload2);
    assert.deepEqual(verifyDelivery(byId.get(m3.id)!, [secretA], m3.id), payload3);
    assert.equal(recvA.requests[0]!.url, '/hook');
    assert.deepEqual(verifyDelivery(recvB.requests[0]!, [secretB], m2.id), payload2);

    // A's secret does not verify B's delivery: the check above is not vacuous.
    assert.throws(() => verifyDelivery(recvB.requests[0]!, [secretA], m2.id), /signature/i);
    const tampered = { ...recvA.requests[0]!, body: Buffer.from('{"amount":1}') };
    assert.throws(() => verifyDelivery(tampered, [secretA], String(tampered.headers['webhook-id'])));
  });

  test('message: list filters (event_types, channel, before/after), pagination, content', async () => {
    const ids = async (opts: Parameters<Svix['message']['list']>[1]) =>
      (await svix.message.list(app.id, opts)).data.map((m) => m.id);

    assert.deepEqual(await ids({ eventTypes: ['invoice.paid'] }), [m3.id, m1.id]);
    assert.deepEqual(await ids({ eventTypes: ['invoice.paid', 'user.created'] }), [m3.id, m2.id, m1.id]);
    assert.deepEqual(await ids({ channel: 'eu' }), [m2.id]);
    assert.deepEqual(await ids({ channel: 'nowhere' }), []);
    assert.deepEqual(await ids({ tag: 'urgent' }), [m4.id]);
    assert.deepEqual(await ids({ after: m2.timestamp }), [m4.id, m3.id]);
    assert.deepEqual(await ids({ before: m2.timestamp }), [m1.id]);
    assert.deepEqual(await ids({ after: m1.timestamp, before: m3.timestamp }), [m2.id]);

    const page1 = await svix.message.list(app.id, { limit: 2 });
    assert.deepEqual(
      page1.data.map((m) => m.id),
      [m4.id, m3.id],
    );
    assert.equal(page1.done, false);
    const page2 = await svix.message.list(app.id, { limit: 2, iterator: page1.iterator });
    assert.deepEqual(
      page2.data.map((m) => m.id),
      [m2.id, m1.id],
    );
    assert.equal(page2.done, true);

    const bare = await svix.message.list(app.id);
    assert.ok(bare.data.every((m) => Object.keys(m.payload).length === 0));
    const full = await svix.message.list(app.id, { withContent: true });
    assert.deepEqual(full.data.find((m) => m.id === m1.id)?.payload, payload1);
    assert.deepEqual(full.data.find((m) => m.id === m2.id)?.channels, ['eu']);
  });

  test('message: get by id and by eventId, with and without content', async () => {
    const byId = await svix.message.get(app.id, m1.id);
    assert.equal(byId.id, m1.id);
    assert.equal(byId.eventId, 'evt-1');
    assert.deepEqual(byId.payload, {});
    const byEventId = await svix.message.get('acme', 'evt-1', { withContent: true });
    assert.equal(byEventId.id, m1.id);
    assert.deepEqual(byEventId.payload, payload1);
    assert.equal(byEventId.timestamp.getTime(), m1.timestamp.getTime());
    await assert.rejects(svix.message.get(app.id, 'evt-missing'), apiError(404, 'not_found'));
  });

  // ---- attempts --------------------------------------------------------------------------
  test('messageAttempt: listByEndpoint with statuses, status codes and filters', async () => {
    const list = await svix.messageAttempt.listByEndpoint(app.id, epA.id);
    assert.equal(list.data.length, 3);
    assert.deepEqual(list.data.map((a) => a.msgId).sort(), [m1.id, m2.id, m3.id].sort());
    const attemptIds = list.data.map((a) => a.id);
    assert.deepEqual(attemptIds, [...attemptIds].sort().reverse(), 'newest attempt first');
    for (const a of list.data) {
      assert.match(a.id, ID.atmpt);
      assert.equal(a.endpointId, epA.id);
      assert.equal(a.url, `${recvA.url}/hook`);
      assert.equal(a.status, MessageStatus.Success);
      assert.equal(a.statusText, 'success');
      assert.equal(a.responseStatusCode, 200);
      assert.equal(a.response, 'ok');
      assert.equal(a.triggerType, MessageAttemptTriggerType.Scheduled);
      assert.ok(a.responseDurationMs >= 0);
      assert.ok(a.timestamp instanceof Date && Math.abs(a.timestamp.getTime() - Date.now()) < 60_000);
    }

    const count = async (opts: Parameters<Svix['messageAttempt']['listByEndpoint']>[2]) =>
      (await svix.messageAttempt.listByEndpoint(app.id, 'ep-a', opts)).data.length;
    assert.equal(await count({ status: MessageStatus.Success }), 3);
    assert.equal(await count({ status: MessageStatus.Fail }), 0);
    assert.equal(await count({ statusCodeClass: StatusCodeClass.Code2xx }), 3);
    assert.equal(await count({ statusCodeClass: StatusCodeClass.Code5xx }), 0);
    assert.equal(await count({ eventTypes: ['user.created'] }), 1);
    assert.equal(await count({ channel: 'us' }), 1);
    assert.equal(await count({ before: new Date(Date.now() - 3_600_000) }), 0);

    const withMsg = await svix.messageAttempt.listByEndpoint(app.id, epA.id, {
      withMsg: true,
      withContent: true,
    });
    for (const a of withMsg.data) assert.equal(a.msg?.id, a.msgId);
    assert.deepEqual(withMsg.data.find((a) => a.msgId === m1.id)?.msg?.payload, payload1);

    const p1 = await svix.messageAttempt.listByEndpoint(app.id, epA.id, { limit: 2 });
    assert.equal(p1.data.length, 2);
    assert.equal(p1.done, false);
    const p2 = await svix.messageAttempt.listByEndpoint(app.id, epA.id, { limit: 2, iterator: p1.iterator });
    assert.equal(p2.data.length, 1);
    assert.equal(p2.done, true);
    assert.deepEqual(
      [...p1.data, ...p2.data].map((a) => a.id),
      attemptIds,
    );
  });

  test('messageAttempt: listByMsg, by id and eventId, with the endpoint filter', async () => {
    const forM2 = await svix.messageAttempt.listByMsg(app.id, m2.id);
    assert.deepEqual(forM2.data.map((a) => a.endpointId).sort(), [epA.id, epB.id].sort());
    assert.ok(forM2.data.every((a) => a.msgId === m2.id && a.status === MessageStatus.Success));
    const onlyB = await svix.messageAttempt.listByMsg(app.id, m2.id, { endpointId: 'ep-b' });
    assert.deepEqual(
      onlyB.data.map((a) => a.endpointId),
      [epB.id],
    );
    const byEventId = await svix.messageAttempt.listByMsg('acme', 'evt-1');
    assert.deepEqual(
      byEventId.data.map((a) => a.msgId),
      [m1.id],
    );
    const none = await svix.messageAttempt.listByMsg(app.id, m4.id);
    assert.deepEqual(none.data, []);
    assert.equal(none.done, true);
  });

  test('messageAttempt: resend makes a new manual attempt with the same webhook-id', async () => {
    const out = await svix.messageAttempt.resend(app.id, m1.id, epA.id);
    assert.deepEqual(out, {});
    await recvA.waitFor(4);
    await drain();
    assert.equal(recvA.requests.length, 4);
    assert.deepEqual(verifyDelivery(recvA.requests[3]!, [secretA], m1.id), payload1);

    const attempts = await svix.messageAttempt.listByMsg(app.id, m1.id, { endpointId: epA.id });
    assert.equal(attempts.data.length, 2);
    const [newest, oldest] = attempts.data;
    assert.equal(newest!.triggerType, MessageAttemptTriggerType.Manual);
    assert.equal(newest!.status, MessageStatus.Success);
    assert.equal(oldest!.triggerType, MessageAttemptTriggerType.Scheduled);
    assert.notEqual(newest!.id, oldest!.id);
    await assert.rejects(svix.messageAttempt.resend(app.id, 'evt-missing', epA.id), apiError(404));
  });

  test('endpoint.rotateSecret: both secrets sign during the grace period', async () => {
    const oldSecret = secretA;
    await svix.endpoint.rotateSecret(app.id, epA.id, {});
    const newSecret = (await svix.endpoint.getSecret(app.id, epA.id)).key;
    assert.notEqual(newSecret, oldSecret);
    assert.match(newSecret, /^whsec_/);

    const m5 = await svix.message.create(app.id, { eventType: 'invoice.paid', payload: { n: 5 } });
    await recvA.waitFor(5);
    const r = recvA.requests[4]!;
    const sigs = String(r.headers['webhook-signature']).split(' ');
    assert.equal(sigs.length, 2);
    assert.ok(sigs.every((s) => s.startsWith('v1,')));
    assert.deepEqual(verifyDelivery(r, [oldSecret], m5.id), { n: 5 });
    assert.deepEqual(verifyDelivery(r, [newSecret], m5.id), { n: 5 });
    assert.throws(() => verifyDelivery(r, [randomSecret()], m5.id), /signature/i);

    // A supplied key with no grace period replaces every older secret at once.
    const explicit = randomSecret();
    await svix.endpoint.rotateSecret(app.id, 'ep-a', { key: explicit, gracePeriodSeconds: 0 });
    assert.equal((await svix.endpoint.getSecret(app.id, epA.id)).key, explicit);
    const m6 = await svix.message.create(app.id, { eventType: 'invoice.paid', payload: { n: 6 } });
    await recvA.waitFor(6);
    const r6 = recvA.requests[5]!;
    assert.equal(String(r6.headers['webhook-signature']).split(' ').length, 1);
    assert.deepEqual(verifyDelivery(r6, [explicit], m6.id), { n: 6 });
    assert.throws(() => verifyDelivery(r6, [newSecret], m6.id), /signature/i);
    assert.throws(() => verifyDelivery(r6, [oldSecret], m6.id), /signature/i);
    secretA = explicit;
    await drain();
  });

  // ---- recovery and stats ----------------------------------------------------------------
  test('endpoint.recover re-sends a message that failed for good; getStats counts it', async () => {
    const rApp = await svix.application.create({ name: 'Recovering', uid: 'recover-app' });
    const ep = await svix.endpoint.create(rApp.id, { url: recvR.url });
    const secret = (await svix.endpoint.getSecret(rApp.id, ep.id)).key;
    recvR.fallback = { status: 500, body: 'down' };

    const msg = await svix.message.create(rApp.id, { eventType: 'user.created', payload: { id: 'r1' } });
    // One try and two retries 50 ms apart, then the delivery fails for good. The short timeout
    // checks the retries come on schedule, not at the worker's next idle poll (5 s).
    await recvR.waitFor(3, 3_000);
    await drain();
    assert.equal(recvR.requests.length, 3);
    for (const r of recvR.requests) assert.deepEqual(verifyDelivery(r, [secret], msg.id), { id: 'r1' });

    const failed = await svix.messageAttempt.listByEndpoint(rApp.id, ep.id);
    assert.equal(failed.data.length, 3);
    for (const a of failed.data) {
      assert.equal(a.status, MessageStatus.Fail);
      assert.equal(a.statusText, 'fail');
      assert.equal(a.responseStatusCode, 500);
      assert.equal(a.response, 'down');
    }
    const fiveHundreds = await svix.messageAttempt.listByEndpoint(rApp.id, ep.id, {
      statusCodeClass: StatusCodeClass.Code5xx,
      status: MessageStatus.Fail,
    });
    assert.equal(fiveHundreds.data.length, 3);
    assert.deepEqual(await svix.endpoint.getStats(rApp.id, ep.id), {
      success: 0,
      pending: 0,
      sending: 0,
      fail: 1,
      canceled: 0,
    });

    recvR.fallback = { status: 200, body: 'ok' };
    // A window that starts after the message recovers nothing.
    await nextMillisecond();
    const nothing = await svix.endpoint.recover(rApp.id, ep.id, { since: new Date() });
    assert.match(nothing.id, ID.qtask);
    await drain();
    assert.equal(recvR.requests.length, 3);

    const task = await svix.endpoint.recover(rApp.id, ep.id, { since: new Date(Date.now() - 60_000) });
    assert.match(task.id, ID.qtask);
    assert.equal(task.task, 'endpoint.recover');
    assert.ok(['running', 'finished'].includes(task.status));
    assert.ok(task.updatedAt instanceof Date && !Number.isNaN(task.updatedAt.getTime()));
    await recvR.waitFor(4);
    await drain();
    assert.equal(recvR.requests.length, 4);
    assert.deepEqual(verifyDelivery(recvR.requests[3]!, [secret], msg.id), { id: 'r1' });

    const ok = await svix.messageAttempt.listByEndpoint(rApp.id, ep.id, { status: MessageStatus.Success });
    assert.equal(ok.data.length, 1);
    assert.equal(ok.data[0]!.responseStatusCode, 200);
    assert.equal(ok.data[0]!.msgId, msg.id);
    assert.deepEqual(
      await svix.endpoint.getStats(rApp.id, ep.id, {
        since: new Date(Date.now() - 3_600_000),
        until: new Date(Date.now() + 60_000),
      }),
      { success: 1, pending: 0, sending: 0, fail: 0, canceled: 0 },
    );
    assert.deepEqual(
      await svix.endpoint.getStats(rApp.id, ep.id, {
        since: new Date(Date.now() - 7_200_000),
        until: new Date(Date.now() - 3_600_000),
      }),
      { success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 },
    );
  });

  test('endpoint.getStats of the main endpoint counts its successful deliveries', async () => {
    const stats = await svix.endpoint.getStats(app.id, epA.id);
    // m1, m2, m3 (scheduled), the resend of m1, m5 and m6.
    assert.deepEqual(stats, { success: 6, pending: 0, sending: 0, fail: 0, canceled: 0 });
    await svix.endpoint.delete(app.id, epB.id);
    await assert.rejects(svix.endpoint.getStats(app.id, epB.id), apiError(404));
  });
});
