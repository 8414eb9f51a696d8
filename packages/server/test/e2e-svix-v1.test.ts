/**
 * End to end with the OLD official client, `svix@1.99.1` (installed as `svix-v1`, CommonJS).
 * It spells renamed fields the v1 way (`filterTypes`, `rateLimit`, `version`), calls upserts
 * `update`, and leaves `with_content` out of list and get requests, so the server's default must
 * include the payload. Deliveries are verified with `standardwebhooks`.
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
} from 'svix-v1';
import {
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
  verifyDelivery,
} from './helpers.ts';

function apiError(status: number, code?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    assert.equal(err.code, status);
    if (code !== undefined) assert.equal((err.body as { code: string }).code, code);
    return true;
  };
}

describe('svix v1 client (1.99.1) against Hookline', () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let svix: Svix;
  const drain = () => server.hookline.dispatcher!.drain();

  before(async () => {
    server = await startHookline();
    receiver = await startReceiver();
    svix = new Svix(server.token, { serverUrl: server.url });
  });

  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  test('the CommonJS package loads from ESM with its named exports', () => {
    assert.equal(typeof Svix, 'function');
    assert.equal(typeof ApiException, 'function');
    assert.equal(MessageStatus.Fail, 2);
  });

  test('a wrong token is a 401, an unknown application a 404', async () => {
    const wrong = new Svix('wrong-token', { serverUrl: server.url });
    await assert.rejects(wrong.application.list(), apiError(401, 'authentication_failed'));
    await assert.rejects(svix.application.get('missing'), apiError(404, 'not_found'));
  });

  let app: ApplicationOut;

  test('application: create with rateLimit, getOrCreate, get, update, patch, list', async () => {
    app = await svix.application.create({ name: 'Old Co', uid: 'old-co', rateLimit: 50 });
    assert.match(app.id, /^app_[0-9A-Za-z]{27}$/);
    assert.equal(app.rateLimit, 50, 'rateLimit is read back');
    assert.equal(app.throttleRate, 50, 'and is the same setting as throttleRate');

    assert.equal((await svix.application.getOrCreate({ name: 'x', uid: 'old-co' })).id, app.id);
    assert.equal((await svix.application.get('old-co')).name, 'Old Co');
    await assert.rejects(svix.application.create({ name: 'dup', uid: 'old-co' }), apiError(409));

    const updated = await svix.application.update('old-co', {
      name: 'Old Co Ltd',
      uid: 'old-co',
      rateLimit: 20,
    });
    assert.equal(updated.id, app.id);
    assert.equal(updated.name, 'Old Co Ltd');
    assert.equal(updated.rateLimit, 20);
    const patched = await svix.application.patch(app.id, { metadata: { tier: 'gold' } });
    assert.deepEqual(patched.metadata, { tier: 'gold' });
    assert.equal(patched.name, 'Old Co Ltd');
    assert.equal(patched.rateLimit, 20);

    const list = await svix.application.list({ limit: 10 });
    assert.ok(list.data.some((a) => a.id === app.id));
    assert.equal(list.done, true);
  });

  test('event type: create, 409 on a duplicate, list (content included by default), update, patch', async () => {
    const schemas = { '1': { type: 'object' } };
    const created = await svix.eventType.create({
      name: 'order.created',
      description: 'An order',
      schemas,
    });
    assert.equal(created.name, 'order.created');
    await svix.eventType.create({ name: 'order.refunded', description: 'A refund' });
    await assert.rejects(
      svix.eventType.create({ name: 'order.created', description: 'again' }),
      apiError(409, 'event_type_exists'),
    );
    const list = await svix.eventType.list();
    assert.deepEqual(
      list.data.map((t) => t.name),
      ['order.created', 'order.refunded'],
    );
    assert.deepEqual(list.data[0]!.schemas, schemas, 'without with_content the schemas come back');
    const updated = await svix.eventType.update('order.refunded', { description: 'Money back' });
    assert.equal(updated.description, 'Money back');
    const patched = await svix.eventType.patch('order.refunded', { featureFlag: 'beta' });
    assert.equal(patched.featureFlag, 'beta');
    assert.deepEqual(patched.featureFlags, ['beta']);
    assert.equal(patched.description, 'Money back');
  });

  let ep: EndpointOut;
  let secret: string;

  test('endpoint: create with filterTypes, rateLimit and version; get, update, patch, secret', async () => {
    ep = await svix.endpoint.create(app.id, {
      url: receiver.url,
      uid: 'orders',
      version: 1,
      filterTypes: ['order.created'],
      rateLimit: 100,
      description: 'orders hook',
    });
    assert.match(ep.id, /^ep_[0-9A-Za-z]{27}$/);
    assert.deepEqual(ep.filterTypes, ['order.created']);
    assert.equal(ep.rateLimit, 100);
    assert.equal(ep.version, 1);
    assert.equal(ep.uid, 'orders');

    await assert.rejects(
      svix.endpoint.create(app.id, { url: receiver.url, version: 1, filterTypes: ['order.unknown'] }),
      (err: unknown) => {
        apiError(422)(err);
        const detail = (err as ApiException<{ detail: { loc: unknown[] }[] }>).body.detail;
        assert.equal(detail[0]?.loc[1], 'eventTypes');
        return true;
      },
    );

    const got = await svix.endpoint.get('old-co', 'orders');
    assert.equal(got.id, ep.id);
    assert.deepEqual(got.filterTypes, ['order.created']);

    const updated = await svix.endpoint.update(app.id, ep.id, {
      url: receiver.url,
      uid: 'orders',
      version: 1,
      filterTypes: ['order.created'],
      rateLimit: 200,
      description: 'orders hook v2',
    });
    assert.equal(updated.rateLimit, 200);
    assert.equal(updated.description, 'orders hook v2');
    assert.deepEqual(updated.filterTypes, ['order.created']);

    const patched = await svix.endpoint.patch(app.id, 'orders', { description: 'orders hook v3' });
    assert.equal(patched.description, 'orders hook v3');
    assert.deepEqual(patched.filterTypes, ['order.created']);
    assert.equal(patched.rateLimit, 200);

    const list = await svix.endpoint.list(app.id);
    assert.deepEqual(
      list.data.map((e) => e.id),
      [ep.id],
    );
    assert.equal(list.data[0]!.version, 1);

    secret = (await svix.endpoint.getSecret(app.id, ep.id)).key;
    assert.match(secret, /^whsec_[A-Za-z0-9+/=]{32,}$/);
  });

  let msg: MessageOut;
  const payload = { orderId: 'o_1', total: 99.5, items: [{ sku: 'a' }] };

  test('message: create, 409 on a duplicate eventId, list and get carry the payload by default', async () => {
    msg = await svix.message.create(app.id, { eventType: 'order.created', eventId: 'ord-1', payload });
    assert.match(msg.id, /^msg_[0-9A-Za-z]{27}$/);
    assert.equal(msg.eventId, 'ord-1');
    await assert.rejects(
      svix.message.create(app.id, { eventType: 'order.created', eventId: 'ord-1', payload: {} }),
      apiError(409, 'conflict'),
    );
    // Not subscribed by the endpoint's filterTypes: never delivered.
    const refunded = await svix.message.create(app.id, { eventType: 'order.refunded', payload: { r: 1 } });

    const list = await svix.message.list(app.id);
    assert.deepEqual(
      list.data.map((m) => m.id),
      [refunded.id, msg.id],
    );
    assert.deepEqual(list.data[1]!.payload, payload, 'v1 omits with_content: the payload is included');
    const filtered = await svix.message.list(app.id, { eventTypes: ['order.refunded'] });
    assert.deepEqual(
      filtered.data.map((m) => m.id),
      [refunded.id],
    );

    const got = await svix.message.get(app.id, 'ord-1');
    assert.equal(got.id, msg.id);
    assert.deepEqual(got.payload, payload);
  });

  test('the delivery verifies with standardwebhooks and carries the message id', async () => {
    await receiver.waitFor(1);
    await drain();
    assert.equal(receiver.requests.length, 1, 'the filtered-out event type was not delivered');
    const r = receiver.requests[0]!;
    assert.deepEqual(verifyDelivery(r, secret, msg.id), payload);
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    assert.throws(() => verifyDelivery(r, other, msg.id), /signature/i);
  });

  test('messageAttempt: listByEndpoint and listByMsg with statuses and filters', async () => {
    const byEp = await svix.messageAttempt.listByEndpoint(app.id, ep.id);
    assert.equal(byEp.data.length, 1);
    const a = byEp.data[0]!;
    assert.equal(a.msgId, msg.id);
    assert.equal(a.endpointId, ep.id);
    assert.equal(a.status, MessageStatus.Success);
    assert.equal(a.responseStatusCode, 200);
    assert.equal(a.triggerType, MessageAttemptTriggerType.Scheduled);
    assert.match(a.id, /^atmpt_[0-9A-Za-z]{27}$/);

    const failed = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { status: MessageStatus.Fail });
    assert.equal(failed.data.length, 0);
    const ok2xx = await svix.messageAttempt.listByEndpoint(app.id, 'orders', {
      statusCodeClass: StatusCodeClass.Code2xx,
    });
    assert.equal(ok2xx.data.length, 1);
    const withMsg = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { withMsg: true });
    assert.deepEqual(withMsg.data[0]!.msg?.payload, payload);

    const byMsg = await svix.messageAttempt.listByMsg(app.id, msg.id);
    assert.deepEqual(
      byMsg.data.map((x) => x.id),
      [a.id],
    );
    const byEventId = await svix.messageAttempt.listByMsg(app.id, 'ord-1', { endpointId: 'orders' });
    assert.deepEqual(
      byEventId.data.map((x) => x.id),
      [a.id],
    );
  });

  test('messageAttempt.resend delivers again with the same webhook-id', async () => {
    const out = await svix.messageAttempt.resend(app.id, msg.id, ep.id);
    assert.deepEqual(out, {});
    await receiver.waitFor(2);
    await drain();
    assert.equal(receiver.requests.length, 2);
    assert.deepEqual(verifyDelivery(receiver.requests[1]!, secret, msg.id), payload);
    const attempts = await svix.messageAttempt.listByMsg(app.id, msg.id);
    assert.equal(attempts.data.length, 2);
    assert.equal(attempts.data[0]!.triggerType, MessageAttemptTriggerType.Manual);
    assert.equal(attempts.data[0]!.status, MessageStatus.Success);
  });

  test('endpoint and application delete', async () => {
    await svix.endpoint.delete(app.id, ep.id);
    await assert.rejects(svix.endpoint.get(app.id, ep.id), apiError(404));
    await svix.application.delete(app.id);
    await assert.rejects(svix.application.get('old-co'), apiError(404));
  });
});
