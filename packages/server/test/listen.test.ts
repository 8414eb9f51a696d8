/**
 * `hookline listen` (acceptance 2 of issue 5): the CLI runs as a child process against a real
 * server; events sent while it is disconnected wait on the server and arrive in order after it
 * reconnects, byte-identical (SHA-256 compared with the stored payload); a Stripe-signed event
 * still verifies with the `stripe` library at the local app; a local failure is retried like
 * production and logged as attempts.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { sign } from '@hookline/receiver';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { ConfigError, loadConfig } from '../src/config.ts';
import { LISTEN_ERRORS } from '../src/delivery/listen-hub.ts';
import { MAIN } from './child.ts';
import { headersOf, startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';
import { metricValue } from './prometheus.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

interface ListenChild {
  proc: ChildProcess;
  /** JSON lines printed on stdout so far. */
  events: Record<string, any>[];
  stderr(): string;
  waitFor(
    pred: (e: Record<string, any>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, any>>;
  stop(): Promise<number | null>;
}

/**
 * Every child started. A failed test may leave one running, which would keep this file from
 * ending: each suite's `after` kills what is left (a file-level `after` would run too early,
 * while the suites below are still being declared).
 */
const children = new Set<ChildProcess>();
function killChildren() {
  for (const proc of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  children.clear();
}

function startListen(server: TestServer, args: string[]): ListenChild {
  const proc = spawn(process.execPath, [MAIN, 'listen', '--json', ...args], {
    env: { ...process.env, HOOKLINE_URL: server.url, HOOKLINE_TOKEN: server.token, NO_COLOR: '1' },
    stdio: 'pipe',
  });
  children.add(proc);
  const events: Record<string, any>[] = [];
  let buffered = '';
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => {
    buffered += c.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const l of lines) if (l.trim()) events.push(JSON.parse(l));
  });
  proc.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  return {
    proc,
    events,
    stderr: () => err,
    async waitFor(pred, what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(pred);
        if (found) return found;
        if (proc.exitCode !== null)
          throw new Error(`listen exited (${proc.exitCode}) before ${what}:\n${err}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(events)}\n${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** A raw client of the listen stream, speaking the protocol as a test (or a buggy client) would. */
interface Stream {
  ws: WebSocket;
  /** Every message the server sent, parsed. */
  messages: Record<string, any>[];
  /** Resolves with the first message (from `from` on) matching `pred`. */
  next(pred: (m: Record<string, any>) => boolean, what: string, from?: number): Promise<Record<string, any>>;
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens the stream; resolves with the session, or with the HTTP refusal (status and body). */
function openStream(
  server: TestServer,
  appId: string,
  endpointId: string,
  token: string,
): Promise<Stream | { status: number; body: any }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(
      `${server.url.replace('http', 'ws')}/api/v1/app/${appId}/endpoint/${endpointId}/listen`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    const messages: Record<string, any>[] = [];
    const waiters = new Set<() => void>();
    const closed = new Promise<{ code: number; reason: string }>((ok) =>
      ws.on('close', (code, reason) => {
        ok({ code, reason: reason.toString() });
        for (const w of waiters) w();
      }),
    );
    ws.on('message', (data) => {
      messages.push(JSON.parse(String(data)));
      for (const w of waiters) w();
    });
    ws.on('error', () => {});
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        closed,
        next(pred, what, from = 0) {
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages)}`));
            }, 15_000);
            function check() {
              const found = messages.slice(from).find(pred);
              if (found) {
                clearTimeout(timer);
                waiters.delete(check);
                ok(found);
              } else if (ws.readyState === WebSocket.CLOSED) {
                clearTimeout(timer);
                waiters.delete(check);
                fail(new Error(`stream closed before ${what}; got ${JSON.stringify(messages)}`));
              }
            }
            waiters.add(check);
            check();
          });
        },
      }),
    );
  });
}

/** `p`, or a failure naming `what` after `ms`: a test waits for a close or a connection this way. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function isStream(s: Stream | { status: number }): s is Stream {
  return 'ws' in s;
}

test('every error code of the listen stream is documented in docs/errors.md', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  for (const [code, meaning] of Object.entries(LISTEN_ERRORS)) {
    assert.ok(doc.includes(`| \`${code}\` | ${meaning} |`), `docs/errors.md lists ${code}`);
  }
});

for (const kind of await testStores()) {
  describe(`hookline listen (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let local: TestReceiver;
    let appId: string;

    before(async () => {
      // Quick retries so a failed local delivery is tried again within the test.
      db = await kind.open('listen');
      server = await startHookline({ env: { HOOKLINE_RETRY_SCHEDULE: '0.2,0.2', ...db.env } });
      local = await startReceiver();
      appId = (await server.call('POST', '/api/v1/app', { name: 'laptop', uid: 'laptop' })).body.id;
    });
    after(async () => {
      killChildren();
      await server.close();
      await local.close();
      await db?.drop();
    });

    const send = async (payload: unknown, eventType = 'invoice.paid') => {
      const res = await server.call('POST', `/api/v1/app/${appId}/msg`, { eventType, payload });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const storedPayload = async (msgId: string) =>
      (await server.hookline.store.getMessage(appId, msgId))!.payload;

    test('forwards live, buffers while disconnected, catches up in order, byte-identical', async () => {
      let cli = startListen(server, [
        '--forward-to',
        `${local.url}/webhooks`,
        '--app',
        'laptop',
        '--name',
        'dev-1',
      ]);
      const ready = await cli.waitFor((e) => e.type === 'ready', 'ready');
      assert.equal(ready.created, true);
      await cli.waitFor((e) => e.type === 'connected', 'connected');
      const endpoint = (await server.call('GET', `/api/v1/app/${appId}/endpoint/${ready.endpointId}`)).body;
      assert.equal(endpoint.kind, 'listen');
      assert.match(await server.hookline.metrics.render(), /^hookline_listen_clients 1$/m);
      assert.equal(endpoint.url, `${local.url}/webhooks`);

      /** Attempt outcomes recorded by this process's group commits so far, and in how many. */
      const outcomeBatches = async () => {
        const text = await server.hookline.metrics.render();
        const of = (part: string) =>
          metricValue(text, `hookline_write_batch_size_${part}`, { kind: 'outcomes' }) ?? 0;
        return { sum: of('sum'), count: of('count') };
      };
      const before = await outcomeBatches();
      const first = await send({ hello: 'live' });
      await local.waitFor(1);
      const line = await cli.waitFor((e) => e.type === 'forwarded' && e.msgId === first, 'first forward');
      assert.equal(line.status, 200);
      assert.equal(line.eventType, 'invoice.paid');
      assert.equal(typeof line.durationMs, 'number');
      assert.equal(local.requests[0]!.url, '/webhooks');
      new Webhook(ready.secret).verify(
        local.requests[0]!.body.toString('utf8'),
        headersOf(local.requests[0]!),
      );

      assert.equal(await cli.stop(), 0, cli.stderr());
      // Payloads with unicode, escapes and big numbers: any re-encoding on the way would show in the hash.
      const sent: string[] = [];
      for (let i = 0; i < 12; i++) {
        sent.push(
          await send({
            i,
            text: `héllo ✓ "quoted" \\ ${'x'.repeat(i * 50)}`,
            big: 1.5e300,
            small: -0.000001,
            nested: { a: [i, null, true] },
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(local.requests.length, 1, 'nothing is sent to the listen URL while no CLI is connected');
      const stats = await server.hookline.store.endpointStats(ready.endpointId, 0, Date.now() + 1);
      assert.equal(stats.pending, 12, 'the server keeps them queued');

      cli = startListen(server, [
        '--forward-to',
        `${local.url}/webhooks`,
        '--app',
        'laptop',
        '--name',
        'dev-1',
      ]);
      const again = await cli.waitFor((e) => e.type === 'ready', 'ready again');
      assert.equal(again.created, false, 'the endpoint is reused');
      assert.equal(again.endpointId, ready.endpointId);
      const connected = await cli.waitFor((e) => e.type === 'connected', 'reconnected');
      assert.equal(connected.backlog, 12);
      const caughtUp = await cli.waitFor((e) => e.type === 'caught-up', 'caught up');
      assert.equal(caughtUp.replayed, 12);
      await local.waitFor(13);
      const replayed = local.requests.slice(1);
      assert.deepEqual(
        replayed.map((r) => r.headers['webhook-id']),
        sent,
        'in the order they were sent',
      );
      for (const [i, r] of replayed.entries()) {
        assert.equal(sha256(r.body), sha256(await storedPayload(sent[i]!)), `body ${i} is byte-identical`);
        new Webhook(ready.secret).verify(r.body.toString('utf8'), headersOf(r));
      }
      const attempts = (
        await server.call('GET', `/api/v1/app/${appId}/attempt/endpoint/${ready.endpointId}?limit=100`)
      ).body.data;
      assert.equal(attempts.length, 13);
      assert.ok(attempts.every((a: { responseStatusCode: number }) => a.responseStatusCode === 200));
      // The session's outcomes count among the group commits' (the app has no other endpoint).
      let recorded = await outcomeBatches();
      for (let i = 0; i < 50 && recorded.sum < before.sum + 13; i++) {
        await new Promise((r) => setTimeout(r, 100));
        recorded = await outcomeBatches();
      }
      assert.equal(recorded.sum - before.sum, 13, 'outcomes recorded by the listen session');
      assert.ok(recorded.count - before.count >= 1 && recorded.count - before.count <= 13);
      assert.equal(await cli.stop(), 0);
    });

    test('a Stripe-signed event still verifies with the stripe library at the local app', async () => {
      const cli = startListen(server, [
        '--forward-to',
        `${local.url}/stripe`,
        '--app',
        'laptop',
        '--name',
        'dev-stripe',
      ]);
      const ready = await cli.waitFor((e) => e.type === 'ready', 'ready');
      await cli.waitFor((e) => e.type === 'connected', 'connected');
      // A Stripe event, signed by Stripe's algorithm over its exact bytes; the signature rides along
      // as a header of the endpoint, the way a forwarded provider request keeps its own headers.
      const stripeSecret = 'whsec_local_stripe_secret_for_listen';
      const event = {
        id: 'evt_1Listen',
        object: 'event',
        api_version: '2024-06-20',
        created: Math.floor(Date.now() / 1000),
        data: {
          object: {
            id: 'pi_1Listen',
            object: 'payment_intent',
            amount: 2000,
            currency: 'eur',
            description: 'Café ☕',
          },
        },
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type: 'payment_intent.succeeded',
      };
      const body = JSON.stringify(event);
      const signed = sign({ scheme: 'stripe', body, secret: stripeSecret });
      const patched = await server.call(
        'PATCH',
        `/api/v1/app/${appId}/endpoint/${ready.endpointId}/headers`,
        {
          headers: { 'stripe-signature': signed.headers['Stripe-Signature']! },
        },
      );
      assert.ok(patched.status < 300, JSON.stringify(patched.body));
      const before = local.requests.length;
      await send(event, 'payment_intent.succeeded');
      await local.waitFor(before + 1);
      const got = local.requests[before]!;
      assert.equal(got.url, '/stripe');
      const verified = new Stripe('sk_test_listen').webhooks.constructEvent(
        got.body,
        String(got.headers['stripe-signature']),
        stripeSecret,
      );
      assert.equal(verified.id, 'evt_1Listen');
      assert.equal(sha256(got.body), sha256(body));
      await cli.stop();
    });

    test('a local failure is recorded and retried like production', async () => {
      const cli = startListen(server, [
        '--forward-to',
        `${local.url}/flaky`,
        '--app',
        'laptop',
        '--name',
        'dev-flaky',
      ]);
      const ready = await cli.waitFor((e) => e.type === 'ready', 'ready');
      await cli.waitFor((e) => e.type === 'connected', 'connected');
      local.queue({ status: 500, body: 'local app crashed' });
      const id = await send({ flaky: true });
      const retried = await cli.waitFor(
        (e) => e.type === 'forwarded' && e.msgId === id && e.attempt === 2,
        'the retry',
      );
      assert.equal(retried.status, 200);
      const first = cli.events.find((e) => e.type === 'forwarded' && e.msgId === id && e.attempt === 1);
      assert.equal(first?.status, 500);
      await new Promise((r) => setTimeout(r, 100));
      const attempts = (await server.call('GET', `/api/v1/app/${appId}/attempt/endpoint/${ready.endpointId}`))
        .body.data;
      assert.deepEqual(
        attempts.map((a: { responseStatusCode: number }) => a.responseStatusCode).sort(),
        [200, 500],
      );
      assert.equal(
        attempts.find((a: { responseStatusCode: number }) => a.responseStatusCode === 500).response,
        'local app crashed',
      );
      await cli.stop();
    });

    test('a second listen for the same endpoint takes over; the first stops (exit 1)', async () => {
      const a = startListen(server, [
        '--forward-to',
        `${local.url}/a`,
        '--app',
        'laptop',
        '--name',
        'shared',
      ]);
      await a.waitFor((e) => e.type === 'connected', 'a connected');
      const b = startListen(server, [
        '--forward-to',
        `${local.url}/b`,
        '--app',
        'laptop',
        '--name',
        'shared',
      ]);
      await b.waitFor((e) => e.type === 'connected', 'b connected');
      const code = await new Promise((ok) =>
        a.proc.exitCode !== null ? ok(a.proc.exitCode) : a.proc.once('exit', ok),
      );
      assert.equal(code, 1);
      assert.match(a.stderr(), /another hookline listen connected to this endpoint/);
      const before = local.requests.length;
      await send({ to: 'b' });
      await local.waitFor(before + 1);
      assert.equal(local.requests[before]!.url, '/b');
      assert.equal(await b.stop(), 0);
    });

    test('the stream refuses plain HTTP, http endpoints and bad tokens with coded errors', async () => {
      const http = (await server.call('POST', `/api/v1/app/${appId}/endpoint`, { url: local.url })).body;
      const notListen = await server.call('GET', `/api/v1/app/${appId}/endpoint/${http.id}/listen`);
      assert.equal(notListen.status, 409);
      assert.equal(notListen.body.code, 'not_listen_endpoint');
      const listenEp = (await server.call('GET', `/api/v1/app/${appId}/endpoint/dev-1`)).body;
      const plain = await server.call('GET', `/api/v1/app/${appId}/endpoint/${listenEp.id}/listen`);
      assert.equal(plain.status, 426);
      assert.equal(plain.body.code, 'websocket_required');
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(
          `${server.url.replace('http', 'ws')}/api/v1/app/${appId}/endpoint/${listenEp.id}/listen`,
          {
            headers: { authorization: 'Bearer wrong' },
          },
        );
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      });
      assert.equal(status, 401);
      const cli = startListen(server, ['--forward-to', local.url, '--app', 'laptop', '--token', 'wrong']);
      const code = await new Promise((ok) => cli.proc.once('exit', ok));
      assert.equal(code, 3, 'a rejected token exits 3');
    });

    const listenEndpoint = async (uid: string) => {
      const res = await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
        url: `${local.url}/${uid}`,
        uid,
        kind: 'listen',
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const appToken = async (readOnly: boolean, app = appId) => {
      const res = await server.call('POST', `/api/v1/auth/app-portal-access/${app}`, { readOnly });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.token as string;
    };
    const answer = (s: Stream, d: Record<string, any>, status = 200) =>
      s.ws.send(
        JSON.stringify({ type: 'result', deliveryId: d.deliveryId, status, durationMs: 3, body: 'ok' }),
      );

    test('only a token that can change the endpoint takes the stream: a read-only app token is refused', async () => {
      const ep = await listenEndpoint('owner-stream');
      const owner = await openStream(server, appId, ep, server.token);
      assert.ok(isStream(owner));
      await owner.next((m) => m.type === 'hello', 'hello');

      const readOnly = await openStream(server, appId, ep, await appToken(true));
      assert.ok(!isStream(readOnly), 'a read-only token must not open the stream');
      assert.equal(readOnly.status, 403);
      assert.equal(readOnly.body.code, 'insufficient_access');
      const otherApp = (await server.call('POST', '/api/v1/app', { name: 'other', uid: 'other-app' })).body
        .id;
      const foreign = await openStream(server, appId, ep, await appToken(false, otherApp));
      assert.ok(!isStream(foreign));
      assert.equal(foreign.status, 403);

      // The owner's session was not kicked off: it still gets (and answers) the next delivery.
      const msgId = await send({ owner: true });
      const d = await owner.next((m) => m.type === 'delivery' && m.msgId === msgId, 'the delivery');
      answer(owner, d);
      const attempts = async () =>
        (await server.call('GET', `/api/v1/app/${appId}/attempt/endpoint/${ep}`)).body.data as unknown[];
      for (let i = 0; i < 200 && (await attempts()).length === 0; i++)
        await new Promise((r) => setTimeout(r, 25));
      assert.equal((await attempts()).length, 1);

      // An application token that may change the endpoint may take the stream over.
      const writer = await openStream(server, appId, ep, await appToken(false));
      assert.ok(isStream(writer));
      await writer.next((m) => m.type === 'hello', 'hello for the app token');
      assert.equal((await owner.closed).code, 4000);
      writer.ws.close();
      await writer.closed;
    });

    test('a malformed client message gets a coded error and the session lives on', async () => {
      const ep = await listenEndpoint('raw-bad');
      const s = await openStream(server, appId, ep, server.token);
      assert.ok(isStream(s));
      await s.next((m) => m.type === 'idle', 'idle');
      const msgId = await send({ bad: 'client' });
      const d = await s.next((m) => m.type === 'delivery' && m.msgId === msgId, 'the delivery');
      const bad = [
        'not json',
        'null',
        '[1]',
        '{"type":"nope"}',
        JSON.stringify({ type: 'result', deliveryId: d.deliveryId, status: '200', durationMs: 'x' }),
        JSON.stringify({ type: 'result', deliveryId: d.deliveryId, status: 200, durationMs: -1 }),
        JSON.stringify({
          type: 'result',
          deliveryId: d.deliveryId,
          status: 200,
          durationMs: 1,
          headers: { a: 1 },
        }),
      ];
      for (const [i, text] of bad.entries()) {
        const from = s.messages.length;
        s.ws.send(text);
        const e = await s.next((m) => m.type === 'error', `the error for message ${i}`, from);
        assert.equal(e.code, 'invalid_listen_message', `message ${i}: ${text}`);
        assert.equal(typeof e.detail, 'string');
      }
      const from = s.messages.length;
      s.ws.send(JSON.stringify({ type: 'result', deliveryId: 'dlv_not_pushed', status: 200, durationMs: 1 }));
      const unknown = await s.next((m) => m.type === 'error', 'the error for an unknown delivery', from);
      assert.equal(unknown.code, 'unknown_delivery');
      assert.equal(s.ws.readyState, WebSocket.OPEN, 'the session survives bad messages');

      // A valid answer is still taken after all that.
      answer(s, d, 204);
      const attempts = async () =>
        (await server.call('GET', `/api/v1/app/${appId}/attempt/endpoint/${ep}`)).body.data as {
          responseStatusCode: number;
        }[];
      for (let i = 0; i < 200 && (await attempts()).length === 0; i++)
        await new Promise((r) => setTimeout(r, 25));
      assert.deepEqual(
        (await attempts()).map((a) => a.responseStatusCode),
        [204],
      );
      s.ws.close();
      await s.closed;
    });

    test('a session that dies on a server error gives its deliveries back at once', async () => {
      const ep = await listenEndpoint('raw-dies');
      const ids = [await send({ n: 0 }), await send({ n: 1 })];
      const first = await openStream(server, appId, ep, server.token);
      assert.ok(isStream(first));
      const d0 = await first.next((m) => m.type === 'delivery' && m.msgId === ids[0], 'the first delivery');
      const d1 = await first.next((m) => m.type === 'delivery' && m.msgId === ids[1], 'the second delivery');
      // The database fails while the answers are recorded: the session ends (the client reconnects).
      // Only this session's write fails: the dispatcher records the same messages' deliveries to
      // the http endpoint of an earlier test meanwhile, and must not take the failure instead.
      const store = server.hookline.store;
      const complete = store.completeDeliveries;
      const ours = new Set([d0.deliveryId, d1.deliveryId]);
      store.completeDeliveries = async (outcomes, now) => {
        if (!outcomes.some((o) => ours.has(o.deliveryId))) return complete.call(store, outcomes, now);
        store.completeDeliveries = complete;
        throw new Error('database went away');
      };
      answer(first, d0);
      answer(first, d1);
      assert.equal((await within(first.closed, 15_000, 'the session closing')).code, 1011);
      // Its leases were given back at once, not after they expire (minutes): the next session
      // gets both deliveries again, in order.
      const second = await within(openStream(server, appId, ep, server.token), 15_000, 'the second session');
      assert.ok(isStream(second));
      const again0 = await second.next((m) => m.type === 'delivery', 'the first delivery again');
      assert.equal(again0.msgId, ids[0]);
      assert.equal(again0.attempt, 1, 'nothing was recorded for it');
      answer(second, again0);
      const again1 = await second.next(
        (m) => m.type === 'delivery' && m.msgId === ids[1],
        'the second again',
      );
      answer(second, again1);
      await second.next((m) => m.type === 'idle', 'caught up');
      second.ws.close();
      await second.closed;
    });

    test('after a SIGKILL, the next listen gets the interrupted delivery first, then the rest in order', async (ctx) => {
      // A local app of its own: the http endpoint of an earlier test delivers to `local` too.
      const app = await startReceiver();
      ctx.after(() => app.close());
      const args = (path: string) => [
        '--forward-to',
        `${app.url}/${path}`,
        '--app',
        'laptop',
        '--name',
        'dev-kill',
      ];
      const cli = startListen(server, args('first'));
      await cli.waitFor((e) => e.type === 'connected', 'connected');
      const sent = [await send({ i: 0 })];
      await cli.waitFor((e) => e.type === 'forwarded' && e.msgId === sent[0], 'the first forward');
      // The local app takes the next one and never answers: that delivery is in flight when the
      // CLI dies, and everything published meanwhile waits behind it.
      app.queue({ hang: true });
      sent.push(await send({ i: 1 }));
      await app.waitFor(2);
      assert.equal(app.requests[1]!.headers['webhook-id'], sent[1]);
      for (let i = 2; i < 7; i++) sent.push(await send({ i }));
      cli.proc.kill('SIGKILL');
      await new Promise((ok) =>
        cli.proc.exitCode !== null || cli.proc.signalCode !== null ? ok(null) : cli.proc.once('exit', ok),
      );

      const again = startListen(server, args('second'));
      await again.waitFor((e) => e.type === 'caught-up', 'caught up');
      const got = app.requests.filter((r) => r.url === '/second').map((r) => r.headers['webhook-id']);
      assert.deepEqual(got, sent.slice(1), 'the interrupted delivery first, then the rest in publish order');
      assert.equal(await again.stop(), 0);
    });
  });
}

test('HOOKLINE_LISTEN_ENDPOINT_TTL: seconds, 0 turns it off, default one day, checked at start', () => {
  assert.equal(loadConfig({}).listenEndpointTtlMs, 86_400_000);
  assert.equal(loadConfig({ HOOKLINE_LISTEN_ENDPOINT_TTL: '3600' }).listenEndpointTtlMs, 3_600_000);
  assert.equal(loadConfig({ HOOKLINE_LISTEN_ENDPOINT_TTL: '0' }).listenEndpointTtlMs, null);
  for (const bad of ['soon', '-5', '0.5']) {
    assert.throws(
      () => loadConfig({ HOOKLINE_LISTEN_ENDPOINT_TTL: bad }),
      (err: unknown) => err instanceof ConfigError && /HOOKLINE_LISTEN_ENDPOINT_TTL/.test(err.message),
      bad,
    );
  }
});

for (const kind of await testStores()) {
  describe(`listen endpoint lifetime (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let local: TestReceiver;
    let appId: string;

    before(async () => {
      db = await kind.open('listen_ttl');
      // Listen endpoints are paused one second after their hookline listen has gone.
      server = await startHookline({ env: { HOOKLINE_LISTEN_ENDPOINT_TTL: '1', ...db.env } });
      local = await startReceiver();
      appId = (await server.call('POST', '/api/v1/app', { name: 'ttl', uid: 'ttl' })).body.id;
    });
    after(async () => {
      killChildren();
      await server.close();
      await local.close();
      await db?.drop();
    });

    const endpoint = async (id: string) =>
      (await server.call('GET', `/api/v1/app/${appId}/endpoint/${id}`)).body;
    const stats = (id: string) => server.hookline.store.endpointStats(id, 0, Date.now() + 1);
    /**
     * Waits (no assertion on time) until the endpoint was last seen more than the TTL ago. Read
     * again after each wait: the server records a CLI's goodbye a moment after the CLI exits.
     */
    const pastTtl = async (id: string) => {
      for (;;) {
        const wait = Date.parse((await endpoint(id)).updatedAt) + 1_200 - Date.now();
        if (wait <= 0) return;
        await new Promise((r) => setTimeout(r, wait));
      }
    };
    const send = async (payload: unknown) => {
      const res = await server.call('POST', `/api/v1/app/${appId}/msg`, { eventType: 'ttl.test', payload });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.id as string;
    };

    test('a listen endpoint is paused once its CLI has been gone for the TTL, and enabled by the next listen', async () => {
      const args = ['--forward-to', `${local.url}/ttl`, '--app', 'ttl', '--name', 'dev-ttl'];
      let cli = startListen(server, args);
      const ready = await cli.waitFor((e) => e.type === 'ready', 'ready');
      await cli.waitFor((e) => e.type === 'connected', 'connected');
      const forgotten = (
        await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
          url: local.url,
          uid: 'forgotten',
          kind: 'listen',
        })
      ).body.id as string;
      const http = (await server.call('POST', `/api/v1/app/${appId}/endpoint`, { url: `${local.url}/http` }))
        .body.id as string;
      await send({ n: 1 });
      assert.equal((await stats(forgotten)).pending, 1, 'queued for the endpoint nobody listens on');

      // Longer than the TTL: the endpoint nobody connected to is paused and its queue dropped;
      // the one with a connected CLI and the http endpoint are left alone.
      await pastTtl(forgotten);
      await server.hookline.listenExpiry!.runOnce();
      assert.equal((await endpoint(forgotten)).disabled, true);
      assert.deepEqual(
        { pending: (await stats(forgotten)).pending, canceled: (await stats(forgotten)).canceled },
        { pending: 0, canceled: 1 },
      );
      assert.equal((await endpoint(ready.endpointId)).disabled, false, 'its CLI is connected');
      assert.equal((await endpoint(http)).disabled, false);
      const counted = async () => {
        const text = await server.hookline.metrics.render();
        return {
          paused: metricValue(text, 'hookline_listen_endpoints_paused_total', {}),
          canceled: metricValue(text, 'hookline_deliveries_canceled_total', { reason: 'listen_expired' }),
        };
      };
      assert.deepEqual(await counted(), { paused: 1, canceled: 1 });

      // The CLI goes; a TTL later its endpoint is paused too, and stops collecting messages.
      assert.equal(await cli.stop(), 0);
      await pastTtl(ready.endpointId);
      await server.hookline.listenExpiry!.runOnce();
      const paused = await endpoint(ready.endpointId);
      assert.equal(paused.disabled, true);
      assert.deepEqual(await counted(), { paused: 2, canceled: 1 }, 'its queue was empty');
      await send({ n: 2 });
      assert.equal((await stats(ready.endpointId)).pending, 0, 'nothing queues for a paused endpoint');

      // The next listen with that name enables it again, says since when events were missed,
      // and forwards as before.
      cli = startListen(server, args);
      const again = await cli.waitFor((e) => e.type === 'ready', 'ready again');
      assert.equal(again.endpointId, ready.endpointId);
      assert.equal(again.reenabled, true);
      assert.equal(again.missedSince, paused.updatedAt, 'the last time the CLI was seen');
      await cli.waitFor((e) => e.type === 'connected', 'connected again');
      assert.equal((await endpoint(ready.endpointId)).disabled, false);
      const live = await send({ n: 3 });
      await cli.waitFor((e) => e.type === 'forwarded' && e.msgId === live, 'a live event');
      assert.equal(await cli.stop(), 0);
    });

    test('hookline listen runs with an application token that may change endpoints (twice), not a read-only one', async () => {
      const portalToken = async (readOnly: boolean) =>
        (await server.call('POST', `/api/v1/auth/app-portal-access/${appId}`, { readOnly })).body
          .token as string;
      const args = (token: string) => [
        '--forward-to',
        `${local.url}/app-token`,
        '--app',
        'ttl',
        '--name',
        'dev-app-token',
        '--token',
        token,
      ];
      const token = await portalToken(false);
      // The second run finds the endpoint although the token cannot see it (hidden from app tokens).
      for (const round of [1, 2]) {
        const cli = startListen(server, args(token));
        const ready = await cli.waitFor((e) => e.type === 'ready', `ready (run ${round})`);
        assert.equal(ready.created, round === 1);
        await cli.waitFor((e) => e.type === 'connected', `connected (run ${round})`);
        const id = await send({ round });
        await cli.waitFor((e) => e.type === 'forwarded' && e.msgId === id, `forwarded (run ${round})`);
        assert.equal(await cli.stop(), 0);
      }
      const readOnly = startListen(server, args(await portalToken(true)));
      const code = await new Promise((ok) => readOnly.proc.once('exit', ok));
      assert.equal(code, 1);
      assert.match(readOnly.stderr(), /read-only/);
    });

    test('listen endpoints are hidden from application tokens (the app portal)', async () => {
      await server.call('POST', `/api/v1/app/${appId}/endpoint`, { url: `${local.url}/shown` });
      const listen = (
        await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
          url: local.url,
          uid: 'hidden',
          kind: 'listen',
        })
      ).body.id as string;
      const token = (await server.call('POST', `/api/v1/auth/app-portal-access/${appId}`, {})).body
        .token as string;
      const asApp = (path: string) =>
        server.call('GET', `/api/v1/app/${appId}${path}`, undefined, { authorization: `Bearer ${token}` });
      const admin = (await server.call('GET', `/api/v1/app/${appId}/endpoint?limit=250`)).body.data as {
        id: string;
        kind: string;
      }[];
      assert.ok(admin.some((e) => e.id === listen));
      const portal = (await asApp('/endpoint?limit=250')).body.data as { id: string; kind: string }[];
      assert.ok(portal.length > 0);
      assert.ok(
        portal.every((e) => e.kind !== 'listen'),
        JSON.stringify(portal),
      );
      for (const ref of [listen, 'hidden']) {
        const one = await asApp(`/endpoint/${ref}`);
        assert.equal(one.status, 404);
        assert.equal(one.body.code, 'not_found');
      }
      // Paging past a page of hidden endpoints goes on to the visible ones.
      const page1 = (await asApp('/endpoint?limit=1&order=descending')).body;
      assert.equal(page1.done, false);
      assert.deepEqual(page1.data, [], 'the newest endpoint is the hidden one');
      const page2 = (await asApp(`/endpoint?limit=250&order=descending&iterator=${page1.iterator}`)).body;
      assert.ok(page2.data.length > 0);
    });
  });
}
