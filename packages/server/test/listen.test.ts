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
import { after, before, describe, test } from 'node:test';
import { sign } from '@hookline/receiver';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import WebSocket from 'ws';
import { MAIN } from './child.ts';
import { headersOf, startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

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

function startListen(server: TestServer, args: string[]): ListenChild {
  const proc = spawn(process.execPath, [MAIN, 'listen', '--json', ...args], {
    env: { ...process.env, HOOKLINE_URL: server.url, HOOKLINE_TOKEN: server.token, NO_COLOR: '1' },
    stdio: 'pipe',
  });
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
  });
}
