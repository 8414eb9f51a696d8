/**
 * Recovering an endpoint, on every store: bounded to Svix's 14 days, never reaching messages
 * older than the endpoint, and run as a background task in batches whose progress
 * `GET /api/v1/background-task/{id}` reports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const DAY = 86_400_000;
/** More than two batches' worth (a batch looks at 200 rows). */
const MISSED = 450;

/** Waits until the wall clock has moved past the current millisecond (creation times are ms). */
async function nextMillisecond(): Promise<void> {
  const t = Date.now();
  while (Date.now() <= t) await new Promise((r) => setImmediate(r));
}

for (const kind of await testStores()) {
  describe(`endpoint recovery (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let receiver: TestReceiver;
    let epId: string;
    let olderThanEndpoint: string;
    before(async () => {
      db = await kind.open('recover');
      receiver = await startReceiver();
      server = await startHookline({ env: db.env });
      await server.call('POST', '/api/v1/app', { name: 'Acme', uid: 'acme' });
      await server.call('POST', '/api/v1/app', { name: 'Other', uid: 'other' });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await db?.drop();
    });

    const publish = async (n: number) => {
      const r = await server.call('POST', '/api/v1/app/acme/msg', { eventType: 'x.y', payload: { n } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.id as string;
    };

    /** Polls the task until it is no longer running (bounded by a count, not a time). */
    async function finished(id: string, call = server.call) {
      for (let i = 0; i < 2_000; i++) {
        const r = await call('GET', `/api/v1/background-task/${id}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        if (r.body.status !== 'running') return r.body;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.fail('the task is still running');
    }

    test('a recovery is a background task that queues, in batches, what the endpoint missed since it exists', async () => {
      olderThanEndpoint = await publish(-1);
      await nextMillisecond();
      const ep = await server.call('POST', '/api/v1/app/acme/endpoint', { url: receiver.url });
      epId = ep.body.id;
      await server.call('PATCH', `/api/v1/app/acme/endpoint/${epId}`, { disabled: true });
      for (let i = 0; i < MISSED; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, MISSED - i) }, (_, j) => publish(i + j)));
      }
      await server.call('PATCH', `/api/v1/app/acme/endpoint/${epId}`, { disabled: false });
      assert.equal(receiver.requests.length, 0, 'nothing was sent while disabled');

      const started = await server.call('POST', `/api/v1/app/acme/endpoint/${epId}/recover`, {
        since: new Date(Date.now() - DAY).toISOString(),
      });
      assert.equal(started.status, 202, JSON.stringify(started.body));
      assert.match(started.body.id, /^qtask_[0-9A-Za-z]{27}$/);
      assert.equal(started.body.task, 'endpoint.recover');
      assert.equal(started.body.status, 'running');

      const done = await finished(started.body.id);
      assert.equal(done.status, 'finished', JSON.stringify(done));
      assert.equal(
        done.data.messagesQueued,
        MISSED,
        'every missed message, not the one older than the endpoint',
      );
      assert.ok(done.data.batches >= 3, `batches: ${done.data.batches}`);
      assert.equal(done.data.endpointId, epId);

      await receiver.waitFor(MISSED, 60_000);
      await server.hookline.dispatcher!.drain();
      const ids = new Set(receiver.requests.map((r) => r.headers['webhook-id']));
      assert.equal(ids.size, MISSED);
      assert.equal(ids.has(olderThanEndpoint), false);

      // Again: nothing is missing any more.
      const again = await server.call('POST', `/api/v1/app/acme/endpoint/${epId}/recover`, {
        since: new Date(Date.now() - DAY).toISOString(),
      });
      assert.equal((await finished(again.body.id)).data.messagesQueued, 0);
    });

    test('since may reach 14 days back, no further (as Svix)', async () => {
      const tooOld = await server.call('POST', `/api/v1/app/acme/endpoint/${epId}/recover`, {
        since: new Date(Date.now() - 15 * DAY).toISOString(),
      });
      assert.equal(tooOld.status, 422, JSON.stringify(tooOld.body));
      assert.deepEqual(tooOld.body.detail[0].loc, ['body', 'since']);
      assert.match(tooOld.body.detail[0].msg, /14 days/);
      const epoch = await server.call('POST', `/api/v1/app/acme/endpoint/${epId}/recover`, {
        since: '1970-01-01T00:00:00Z',
      });
      assert.equal(epoch.status, 422);
      const limit = await server.call('POST', `/api/v1/app/acme/endpoint/${epId}/recover`, {
        since: new Date(Date.now() - 14 * DAY).toISOString(),
      });
      assert.equal(limit.status, 202, JSON.stringify(limit.body));
      assert.equal((await finished(limit.body.id)).status, 'finished');
    });

    test("a task is read by the admin and its own application's tokens only", async () => {
      const started = await server.call('POST', `/api/v1/app/acme/endpoint/${epId}/recover`, {
        since: new Date(Date.now() - DAY).toISOString(),
      });
      await finished(started.body.id);
      const token = async (app: string) => {
        const r = await server.call('POST', `/api/v1/auth/app-portal-access/${app}`, {});
        const auth = { authorization: `Bearer ${r.body.token}` };
        return (method: string, path: string, body?: unknown) => server.call(method, path, body, auth);
      };
      const own = await token('acme');
      assert.equal((await own('GET', `/api/v1/background-task/${started.body.id}`)).body.status, 'finished');
      const fromPortal = await own('POST', `/api/v1/app/acme/endpoint/${epId}/recover`, {
        since: new Date(Date.now() - DAY).toISOString(),
      });
      assert.equal(fromPortal.status, 202);
      assert.equal((await finished(fromPortal.body.id, own)).status, 'finished');
      const other = await token('other');
      const hidden = await other('GET', `/api/v1/background-task/${started.body.id}`);
      assert.equal(hidden.status, 404);
      const unknown = await server.call('GET', '/api/v1/background-task/qtask_2zzzzzzzzzzzzzzzzzzzzzzzzzz');
      assert.equal(unknown.status, 404);
      assert.deepEqual(hidden.body, unknown.body);
    });
  });
}
