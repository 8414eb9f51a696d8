/**
 * Every field of every record goes into the store and comes back unchanged, on every adapter.
 * Each value is chosen to differ from its default and from its neighbours, so a column written
 * under the wrong name, swapped with another of the same type, or dropped fails here.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type {
  App,
  AppToken,
  Attempt,
  BackgroundTask,
  Endpoint,
  EndpointExtras,
  EventType,
  InboundEvent,
  Message,
  Source,
} from '../src/core/types.ts';
import type { Store } from '../src/store/store.ts';
import { pgTestOptions } from './pg.ts';
import { selectedAdapters } from './stores.ts';

const T0 = Date.parse('2026-04-01T00:00:00Z');
const PAGE = { limit: 50, after: null, before: null, order: 'asc' } as const;

for (const adapter of selectedAdapters()) {
  const options = adapter.name === 'postgres' ? await pgTestOptions() : {};
  describe(`Store round trip: ${adapter.name}`, options, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await adapter.open());
    });
    afterEach(() => cleanup());

    const app: App = {
      id: 'app_2rtA',
      uid: 'acme-ü',
      name: 'Acme “Corp”',
      throttleRate: 17,
      metadata: { plan: 'gold', region: 'eu' },
      createdAt: T0 + 1,
      updatedAt: T0 + 2,
    };
    const endpoint: Endpoint = {
      id: 'ep_2rtE',
      appId: app.id,
      uid: 'billing',
      url: 'https://hooks.example.com/in?x=1',
      description: 'Billing hooks',
      disabled: true,
      eventTypes: ['invoice.paid', 'invoice.void'],
      channels: ['eu', 'vip'],
      throttleRate: 9,
      metadata: { team: 'billing' },
      headers: { 'x-api-key': 'k-123', 'x-team': 'b' },
      secrets: [
        { key: 'whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWM=', expiresAt: null },
        { key: 'whsec_b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWM=', expiresAt: T0 + 86_400_000 },
      ],
      svixHeaders: true,
      failingSince: T0 + 3,
      timeoutMs: 45_000,
      kind: 'slack',
      fifo: true,
      template: { text: '{{ eventType }}', blocks: [{ type: 'divider' }] },
      createdAt: T0 + 4,
      updatedAt: T0 + 5,
    };
    const token: AppToken = {
      id: 'tok_2rtT',
      appId: app.id,
      tokenHash: 'a'.repeat(64),
      readOnly: true,
      featureFlags: ['beta', 'gamma'],
      scope: 'message',
      name: 'billing service',
      endpointId: 'ep_2rtPoller',
      expiresAt: T0 + 6,
      revokedAt: T0 + 7,
      createdAt: T0 + 8,
    };
    const eventType: EventType = {
      name: 'invoice.paid',
      description: 'An invoice was paid',
      archived: true,
      deprecated: true,
      schemas: { '1': { type: 'object', properties: { id: { type: 'string' } } } },
      groupName: 'invoice',
      featureFlags: ['beta'],
      retryScheduleMs: [50, 60_000],
      validatePayload: true,
      createdAt: T0 + 9,
      updatedAt: T0 + 10,
    };
    const message: Message = {
      id: 'msg_2rtM',
      appId: app.id,
      eventId: 'evt-42',
      eventType: 'invoice.paid',
      payload: '{"amount":4200,"note":"ü \\u0000 ok"}',
      channels: ['eu', 'vip'],
      tags: ['t1', 't2'],
      orderingKey: 'order_123',
      createdAt: T0 + 11,
    };

    test('applications, endpoints, tokens and event types', async () => {
      await store.insertApp(app);
      assert.deepEqual(await store.getApp(app.id), app);
      assert.deepEqual(await store.getApp(app.uid!), app);
      const app2 = {
        ...app,
        uid: null,
        name: 'Renamed',
        throttleRate: null,
        metadata: {},
        updatedAt: T0 + 99,
      };
      await store.updateApp(app2);
      assert.deepEqual(await store.getApp(app.id), app2);
      assert.deepEqual((await store.listApps(PAGE)).items, [app2]);

      await store.insertEndpoint(endpoint);
      assert.deepEqual(await store.getEndpoint(app.id, endpoint.id), endpoint);
      assert.deepEqual(await store.getEndpoint(app.id, endpoint.uid!), endpoint);
      assert.deepEqual((await store.listEndpoints(app.id, PAGE)).items, [endpoint]);
      const endpoint2: Endpoint = {
        ...endpoint,
        uid: null,
        url: 'https://other.example.com/',
        description: '',
        disabled: false,
        eventTypes: null,
        channels: null,
        throttleRate: null,
        metadata: {},
        headers: {},
        secrets: [{ key: 'whsk_3q2+7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', expiresAt: null }],
        svixHeaders: false,
        failingSince: null,
        timeoutMs: null,
        kind: 'http',
        fifo: false,
        template: null,
        createdAt: T0 + 40,
        updatedAt: T0 + 41,
      };
      await store.updateEndpoint(endpoint2);
      assert.deepEqual(await store.getEndpoint(app.id, endpoint.id), endpoint2);

      // Extras: every field comes back; unsetting all four removes the row.
      const extras: EndpointExtras = {
        endpointId: endpoint.id,
        appId: app.id,
        oauth: {
          tokenUrl: 'https://auth.example.com/token',
          clientId: 'client-1',
          clientSecret: 'oauth-client-secret-value',
          scopes: ['webhooks:write', 'x'],
          authMethod: 'clientSecretPost',
          extraParams: { audience: 'https://api.example.com' },
        },
        mtls: { certificate: '-----BEGIN CERTIFICATE-----\nAAA\n', key: 'private-key-pem-value' },
        ca: '-----BEGIN CERTIFICATE-----\nBBB\n',
        transformation: { code: 'function handler(w) { return w }', enabled: true, updatedAt: T0 + 60 },
        updatedAt: T0 + 61,
      };
      assert.equal(await store.getEndpointExtras(endpoint.id), null);
      await store.putEndpointExtras(extras);
      assert.deepEqual(await store.getEndpointExtras(endpoint.id), extras);
      const extras2: EndpointExtras = {
        ...extras,
        oauth: null,
        mtls: null,
        ca: null,
        transformation: { code: '', enabled: false, updatedAt: T0 + 70 },
        updatedAt: T0 + 71,
      };
      await store.putEndpointExtras(extras2);
      assert.deepEqual(await store.getEndpointExtras(endpoint.id), extras2);
      assert.deepEqual(await store.listEndpointExtras(), [extras2]);
      await store.putEndpointExtras({ ...extras2, transformation: null });
      assert.equal(await store.getEndpointExtras(endpoint.id), null);
      assert.deepEqual(await store.listEndpointExtras(), []);
      await store.putEndpointExtras(extras);

      await store.insertAppToken(token);
      assert.deepEqual(await store.getAppTokenByHash(token.tokenHash), token);
      const live: AppToken = {
        ...token,
        id: 'tok_2rtU',
        tokenHash: 'b'.repeat(64),
        readOnly: false,
        featureFlags: null,
        scope: 'portal',
        name: null,
        revokedAt: null,
      };
      await store.insertAppToken(live);
      assert.deepEqual(await store.getAppTokenByHash(live.tokenHash), live);

      await store.insertEventType(eventType);
      assert.deepEqual(await store.getEventType(eventType.name), eventType);
      assert.deepEqual((await store.listEventTypes(PAGE, true)).items, [eventType]);
      const eventType2: EventType = {
        ...eventType,
        description: 'changed',
        archived: false,
        deprecated: false,
        schemas: null,
        groupName: null,
        featureFlags: null,
        validatePayload: false,
        updatedAt: T0 + 50,
      };
      await store.updateEventType({ ...eventType2, retryScheduleMs: null });
      // updateEventType leaves the retry schedule alone; setEventTypeRetrySchedule changes it.
      assert.deepEqual(await store.getEventType(eventType.name), {
        ...eventType2,
        createdAt: eventType.createdAt,
      });
      assert.deepEqual(await store.eventTypeRetrySchedules(), new Map([['invoice.paid', [50, 60_000]]]));
      assert.equal(await store.setEventTypeRetrySchedule('invoice.paid', null, T0 + 51), true);
      assert.equal(await store.setEventTypeRetrySchedule('no.such', [1], T0 + 51), false);
      assert.deepEqual(await store.getEventType(eventType.name), {
        ...eventType2,
        retryScheduleMs: null,
        createdAt: eventType.createdAt,
        updatedAt: T0 + 51,
      });
      assert.deepEqual(await store.eventTypeRetrySchedules(), new Map());
      await store.updateEventType({ ...eventType2, validatePayload: null });
      assert.equal((await store.getEventType(eventType.name))?.validatePayload, null);

      await store.setSetting('k', 'v1');
      assert.equal(await store.getSetting('k'), 'v1');
      assert.equal(await store.setSettingIfAbsent('k', 'v2'), 'v1');
      await store.putIdempotentResponse('idem', { status: 202, body: '{"id":"x"}' }, T0 + 1000, T0);
      assert.deepEqual(await store.getIdempotentResponse('idem', T0), { status: 202, body: '{"id":"x"}' });
    });

    test('messages, deliveries and attempts', async () => {
      await store.insertApp(app);
      await store.insertEndpoint({
        ...endpoint,
        disabled: false,
        kind: 'http',
        fifo: false,
        throttleRate: null,
      });
      const results = await store.ingest([
        {
          message,
          dueAt: T0 + 11,
          route: (eps) => eps.map((e) => e.id),
          newDeliveryId: () => 'dlv_2rtD',
        },
      ]);
      assert.deepEqual(results, [{ ok: true, deliveries: 1 }]);
      assert.deepEqual(await store.getMessage(app.id, message.id), message);
      assert.deepEqual(await store.getMessage(app.id, message.eventId!), message);
      assert.deepEqual((await store.listMessages(app.id, {}, PAGE)).items, [message]);

      const {
        deliveries: [claimed],
      } = await store.claimDue({
        now: T0 + 20,
        limit: 10,
        leaseMs: 1000,
        perEndpoint: 10,
        skipEndpoints: [],
      });
      assert.ok(claimed);
      assert.equal(claimed.id, 'dlv_2rtD');
      assert.equal(claimed.msgId, message.id);
      assert.equal(claimed.appId, app.id);
      assert.equal(claimed.endpointId, endpoint.id);
      assert.equal(claimed.attempts, 0);
      assert.equal(claimed.eventType, message.eventType);
      assert.equal(claimed.payload, message.payload);
      assert.equal(claimed.msgCreatedAt, message.createdAt);
      assert.equal(claimed.leaseUntil, T0 + 1020);
      assert.deepEqual(claimed.endpoint, {
        url: endpoint.url,
        disabled: false,
        headers: endpoint.headers,
        secrets: endpoint.secrets,
        svixHeaders: endpoint.svixHeaders,
        metadata: endpoint.metadata,
        kind: 'http',
        template: endpoint.template,
        uid: endpoint.uid,
        description: endpoint.description,
        timeoutMs: endpoint.timeoutMs,
        fifo: false,
      });

      const attempt: Attempt = {
        id: 'atmpt_2rtA',
        deliveryId: claimed.id,
        msgId: message.id,
        endpointId: endpoint.id,
        appId: app.id,
        url: endpoint.url,
        status: 2,
        responseStatusCode: 503,
        response: 'down for maintenance',
        responseHeaders: { 'retry-after': '5' },
        requestHeaders: { 'webhook-id': message.id },
        requestBody: '{"text":"rendered"}',
        durationMs: 123,
        triggerType: 0,
        createdAt: T0 + 21,
      };
      await store.completeDeliveries(
        [
          {
            deliveryId: claimed.id,
            leaseUntil: claimed.leaseUntil,
            attempt,
            next: { kind: 'retry', at: T0 + 5000 },
          },
        ],
        T0 + 22,
      );
      assert.deepEqual(await store.getAttempt(app.id, attempt.id), attempt);
      assert.deepEqual((await store.listAttempts({ appId: app.id }, PAGE)).items, [attempt]);
      assert.equal(await store.nextDueAt(), T0 + 5000);
      assert.equal((await store.getEndpoint(app.id, endpoint.id))?.failingSince, endpoint.failingSince);
    });

    test('sources and inbound events', async () => {
      const source: Source = {
        id: 'src_2rtS',
        name: 'github-acme',
        appId: 'app_2rtB',
        description: 'GitHub for Acme',
        verification: {
          scheme: 'github',
          secrets: ['s1', 's2'],
          tolerance: 300,
          url: 'https://x/in',
          hmac: { a: 1 },
        },
        forwardSecrets: [{ key: 'whsec_Zm9yd2FyZC1zZWNyZXQtZm9yd2FyZC1zZWNyZXQ=', expiresAt: T0 + 9 }],
        dedupe: { header: 'x-github-delivery', jsonPath: null, windowMs: 3_600_000 },
        eventType: { header: 'x-github-event', jsonPath: null },
        maxBodyBytes: 65_536,
        handshake: {
          provider: false,
          discordResponse: { type: 4, data: { content: 'hi' } },
          challenge: {
            preset: 'zoom',
            method: 'POST',
            query: null,
            jsonPath: 'payload.plainToken',
            when: { jsonPath: 'event', equals: 'endpoint.url_validation' },
            respond: 'json',
            field: 'plainToken',
            hmacField: 'encryptedToken',
            secret: 'zoom-secret',
            verify: true,
          },
        },
        allowedIps: ['192.0.2.0/24', '2001:db8::/32'],
        destinations: [
          {
            id: 'ep_2rtD1',
            url: 'https://app.internal/gh',
            headers: { 'x-team': 'dev' },
            eventTypes: ['push'],
            disabled: false,
            kind: 'http',
            template: null,
          },
          {
            id: 'ep_2rtD2',
            url: 'https://hooks.slack.com/services/T/B/X',
            headers: {},
            eventTypes: null,
            disabled: true,
            kind: 'slack',
            template: { text: '{{ payload.ref }}' },
          },
        ],
        ingest: {
          type: 'stripe',
          uid: 'rt-source',
          metadata: { team: 'billing' },
          tokens: [
            { token: 'tok-new', expiresAt: null },
            { token: '', expiresAt: T0 + 32 },
          ],
        },
        createdAt: T0 + 30,
        updatedAt: T0 + 31,
      };
      await store.insertSource(source);
      assert.deepEqual(await store.getSource(source.id), source);
      assert.deepEqual(await store.getSource(source.name), source);
      assert.deepEqual((await store.listSources(PAGE)).items, [source]);

      const event: InboundEvent = {
        id: 'msg_2rtI',
        sourceId: source.id,
        status: 'accepted',
        eventType: 'push',
        dedupeKey: 'd-1',
        duplicateOf: null,
        verifyCode: null,
        verifyDetail: null,
        method: 'POST',
        contentType: 'application/json',
        headers: [
          ['X-GitHub-Event', 'push'],
          ['Accept', 'a'],
          ['accept', 'b'],
        ],
        body: Buffer.from([0x7b, 0, 0xff, 0x7d]),
        receivedAt: T0 + 32,
        bodyExpungedAt: null,
        messageIds: null,
      };
      const rejected: InboundEvent = {
        ...event,
        id: 'msg_2rtJ',
        status: 'rejected',
        dedupeKey: null,
        verifyCode: 'no_matching_signature',
        verifyDetail: 'no signature matched',
        method: 'PUT',
        contentType: null,
        receivedAt: T0 + 33,
      };
      const results = await store.receiveInbound(
        [event, rejected].map((ev) => ({
          event: ev,
          appId: source.appId,
          dedupeSince: T0,
          route: (eps) => eps.filter((e) => !e.disabled).map((e) => e.id),
          newDeliveryId: () => `dlv_${ev.id}`,
          keepUnaccepted: 10,
        })),
      );
      assert.deepEqual(results, [{ status: 'accepted', deliveries: 1 }, { status: 'rejected' }]);
      assert.deepEqual(await store.getInboundEvent(source.id, event.id), event);
      assert.deepEqual(await store.getInboundEvent(source.id, rejected.id), rejected);
      assert.deepEqual((await store.listInboundEvents(source.id, {}, PAGE)).items, [event, rejected]);
    });
    test('background tasks', async () => {
      await store.insertApp(app);
      const task: BackgroundTask = {
        id: 'qtask_2rtT',
        appId: app.id,
        kind: 'endpoint.bulk-replay',
        status: 'running',
        data: { endpointId: 'ep_x', since: '2026-03-31T00:00:00.000Z', messagesQueued: 0 },
        createdAt: T0 + 1,
        updatedAt: T0 + 2,
      };
      const global: BackgroundTask = { ...task, id: 'qtask_2rtU', appId: null, kind: 'message.broadcast' };
      await store.insertBackgroundTask(task);
      await store.insertBackgroundTask(global);
      assert.deepEqual(await store.getBackgroundTask(task.id), task);
      assert.deepEqual(await store.getBackgroundTask(global.id), global);
      const done: BackgroundTask = {
        ...task,
        status: 'finished',
        data: { messagesQueued: 7, ü: '“x”' },
        updatedAt: T0 + 9,
      };
      await store.updateBackgroundTask(done);
      assert.deepEqual(await store.getBackgroundTask(task.id), done);
      assert.deepEqual((await store.listBackgroundTasks({ appId: app.id }, PAGE)).items, [done]);
      assert.deepEqual((await store.listBackgroundTasks({ status: 'running' }, PAGE)).items, [global]);
      assert.deepEqual((await store.listBackgroundTasks({ kind: 'message.broadcast' }, PAGE)).items, [
        global,
      ]);
      // Pruning forgets ended tasks only: by age, then beyond the newest `keep`.
      assert.equal(await store.pruneBackgroundTasks(T0 + 5, 10), 0);
      assert.equal(await store.pruneBackgroundTasks(T0 + 10, 10), 1);
      assert.equal(await store.getBackgroundTask(task.id), null);
      await store.insertBackgroundTask({ ...done, id: 'qtask_2rtV' });
      await store.insertBackgroundTask({ ...done, id: 'qtask_2rtW', updatedAt: T0 + 10 });
      assert.equal(await store.pruneBackgroundTasks(0, 1), 1);
      assert.deepEqual(
        (await store.listBackgroundTasks({}, PAGE)).items.map((t) => t.id),
        ['qtask_2rtU', 'qtask_2rtW'],
      );
    });
  });
}
