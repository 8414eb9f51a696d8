/**
 * `/metrics`: the output parses as Prometheus text format, and its counters match the
 * deliveries made (acceptance 4 of issue 5).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import parsePrometheus from 'parse-prometheus-text-format';
import pino from 'pino';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { createHookline } from '../src/hookline.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer, tempDir } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';
import { metricValue } from './prometheus.ts';

type Families = ReturnType<typeof parsePrometheus>;

function sample(families: Families, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `metric ${name} is exported`);
  const matching = family.metrics.filter((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
  );
  return matching.reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0);
}

/** The claims of one claimer that came back, counted by the duration histogram. */
const claimCount = (text: string, claimer: string) =>
  metricValue(text, 'hookline_claim_duration_seconds_count', { claimer });

async function scrape(server: TestServer, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}/metrics`, { headers });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text };
}

for (const kind of await testStores()) {
  describe(`/metrics (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let ok: TestReceiver;
    let broken: TestReceiver;

    before(async () => {
      db = await kind.open('metrics');
      // Two quick retries, then give up: every failing delivery makes exactly three attempts.
      server = await startHookline({
        env: { HOOKLINE_RETRY_SCHEDULE: '0.01,0.01', HOOKLINE_METRICS_TOKEN: 'scrape-me', ...db.env },
      });
      ok = await startReceiver();
      broken = await startReceiver();
      broken.fallback = { status: 503, body: 'down' };
    });
    after(async () => {
      await server.close();
      await ok.close();
      await broken.close();
      await db?.drop();
    });

    test('is protected by HOOKLINE_METRICS_TOKEN when set', async () => {
      const none = await scrape(server);
      assert.equal(none.status, 401);
      assert.equal(JSON.parse(none.text).code, 'authentication_failed');
      const wrong = await scrape(server, { authorization: 'Bearer nope' });
      assert.equal(wrong.status, 401);
      const admin = await scrape(server, { authorization: `Bearer ${server.token}` });
      assert.equal(admin.status, 200);
    });

    test('counters match the deliveries made, and the output parses', async () => {
      const app = await server.call('POST', '/api/v1/app', { name: 'metrics' });
      assert.equal(app.status, 201);
      const appId = app.body.id as string;
      for (const r of [ok, broken]) {
        const ep = await server.call('POST', `/api/v1/app/${appId}/endpoint`, { url: r.url });
        assert.equal(ep.status, 201);
      }
      const messages = 4;
      for (let i = 0; i < messages; i++) {
        const m = await server.call('POST', `/api/v1/app/${appId}/msg`, {
          eventType: 'order.paid',
          payload: { i },
        });
        assert.equal(m.status, 202);
      }
      await ok.waitFor(messages);
      await broken.waitFor(messages * 3);
      await server.hookline.dispatcher!.drain();

      const res = await scrape(server, { authorization: 'Bearer scrape-me' });
      assert.equal(res.status, 200);
      assert.match(res.type, /^text\/plain; version=0\.0\.4/);
      const families = parsePrometheus(res.text);

      assert.equal(sample(families, 'hookline_messages_accepted_total'), messages);
      assert.equal(sample(families, 'hookline_deliveries_queued_total'), messages * 2);
      assert.equal(
        sample(families, 'hookline_delivery_attempts_total', { outcome: 'success' }),
        ok.requests.length,
      );
      assert.equal(
        sample(families, 'hookline_delivery_attempts_total', { outcome: 'success', status_class: '2xx' }),
        messages,
      );
      assert.equal(sample(families, 'hookline_delivery_attempts_total', { outcome: 'retry' }), messages * 2);
      assert.equal(
        sample(families, 'hookline_delivery_attempts_total', { outcome: 'fail', status_class: '5xx' }),
        messages,
      );
      // Every attempt the receivers saw is in the latency histogram, and in the attempt log.
      const histogram = families.find((f) => f.name === 'hookline_attempt_duration_seconds');
      assert.equal(histogram?.type, 'HISTOGRAM');
      assert.equal(Number(histogram!.metrics[0]?.count), ok.requests.length + broken.requests.length);
      assert.equal(
        Number(histogram!.metrics[0]?.buckets?.['+Inf']),
        ok.requests.length + broken.requests.length,
      );

      // Claims: every retry was claimed from the database (a new delivery may also be handed to
      // the dispatcher by the ingest, on SQLite), and each lease made one attempt here.
      const attemptsMade = ok.requests.length + broken.requests.length;
      const claimedDeliveries = sample(families, 'hookline_claimed_deliveries_total');
      assert.ok(claimedDeliveries >= messages * 2, `claimed ${claimedDeliveries}, retries ${messages * 2}`);
      assert.ok(claimedDeliveries <= attemptsMade, `claimed ${claimedDeliveries}, attempts ${attemptsMade}`);
      const leasedClaims = sample(families, 'hookline_claims_total', { result: 'leased' });
      assert.ok(leasedClaims >= 1 && leasedClaims <= claimedDeliveries, `${leasedClaims} claims leased`);
      assert.equal(sample(families, 'hookline_claims_total', { result: 'failed' }), 0);
      const claimHistogram = families.find((f) => f.name === 'hookline_claim_duration_seconds');
      assert.equal(claimHistogram?.type, 'HISTOGRAM');
      assert.equal(
        claimCount(res.text, 'dispatcher'),
        leasedClaims + sample(families, 'hookline_claims_total', { result: 'empty' }),
      );
      assert.equal(claimCount(res.text, 'listen'), null, 'no hookline listen stream was open');

      // Group commits: every message went through one ingest transaction, every attempt's outcome
      // through one of the dispatcher's outcome batches; nothing came in on /in.
      const batch = (part: 'count' | 'sum', kind: string) =>
        metricValue(res.text, `hookline_write_batch_size_${part}`, { kind });
      assert.equal(batch('sum', 'ingest'), messages);
      const ingestBatches = batch('count', 'ingest') ?? 0;
      assert.ok(ingestBatches >= 1 && ingestBatches <= messages, `${ingestBatches} ingest batches`);
      assert.equal(batch('sum', 'outcomes'), attemptsMade);
      assert.ok((batch('count', 'outcomes') ?? 0) >= 1);
      assert.equal(batch('count', 'inbound'), null);

      // Nothing left in the queue; the broken endpoint is failing, but not for a minute yet.
      assert.equal(sample(families, 'hookline_queue_depth', { state: 'pending' }), 0);
      assert.equal(sample(families, 'hookline_queue_depth', { state: 'sending' }), 0);
      assert.equal(sample(families, 'hookline_queue_oldest_due_age_seconds'), 0);
      assert.equal(sample(families, 'hookline_endpoints_failing', { longer_than: '1m' }), 0);
      assert.ok(families.some((f) => f.name === 'hookline_process_resident_memory_bytes'));
    });

    test('queue depth and oldest due age show deliveries no worker has taken', async () => {
      await server.hookline.dispatcher!.stop();
      const app = await server.call('POST', '/api/v1/app', { name: 'stalled' });
      await server.call('POST', `/api/v1/app/${app.body.id}/endpoint`, { url: ok.url });
      for (let i = 0; i < 3; i++)
        await server.call('POST', `/api/v1/app/${app.body.id}/msg`, { eventType: 'x', payload: {} });
      await new Promise((r) => setTimeout(r, 20));
      const families = parsePrometheus((await scrape(server, { authorization: 'Bearer scrape-me' })).text);
      assert.equal(sample(families, 'hookline_queue_depth', { state: 'due' }), 3);
      assert.ok(sample(families, 'hookline_queue_oldest_due_age_seconds') > 0);
    });

    test("a hookline listen stream's claims are counted apart from the dispatcher's", async () => {
      // The dispatcher was stopped by the test above: whatever is claimed now, the stream claims.
      const scrapeText = async () => (await scrape(server, { authorization: 'Bearer scrape-me' })).text;
      const before = parsePrometheus(await scrapeText());
      const dispatcherClaims = sample(before, 'hookline_claims_total', { claimer: 'dispatcher' });
      assert.ok(dispatcherClaims > 0, 'the tests above counted claims of the dispatcher');
      assert.equal(sample(before, 'hookline_claims_total', { claimer: 'listen' }), 0);

      const app = await server.call('POST', '/api/v1/app', { name: 'laptop' });
      const ep = await server.call('POST', `/api/v1/app/${app.body.id}/endpoint`, {
        url: 'http://127.0.0.1:9/local-app',
        kind: 'listen',
      });
      assert.equal(ep.status, 201, JSON.stringify(ep.body));
      const ws = new WebSocket(
        `${server.url.replace('http', 'ws')}/api/v1/app/${app.body.id}/endpoint/${ep.body.id}/listen`,
        { headers: { authorization: `Bearer ${server.token}` } },
      );
      const answered = new Set<string>();
      ws.on('message', (data) => {
        const m = JSON.parse(String(data));
        if (m.type !== 'delivery') return;
        answered.add(m.msgId);
        ws.send(
          JSON.stringify({
            type: 'result',
            deliveryId: m.deliveryId,
            status: 200,
            durationMs: 1,
            body: 'ok',
          }),
        );
      });
      await once(ws, 'open');
      const messages = 3;
      for (let i = 0; i < messages; i++) {
        const m = await server.call('POST', `/api/v1/app/${app.body.id}/msg`, {
          eventType: 'x',
          payload: { i },
        });
        assert.equal(m.status, 202);
      }
      for (let i = 0; i < 400 && answered.size < messages; i++) await new Promise((r) => setTimeout(r, 25));
      assert.equal(answered.size, messages, 'the stream got every message');
      ws.close();
      await once(ws, 'close');

      const text = await scrapeText();
      const after = parsePrometheus(text);
      const leased = sample(after, 'hookline_claims_total', { claimer: 'listen', result: 'leased' });
      assert.ok(leased >= 1 && leased <= messages, `${leased} listen claims leased`);
      assert.equal(sample(after, 'hookline_claimed_deliveries_total', { claimer: 'listen' }), messages);
      assert.equal(sample(after, 'hookline_claims_total', { claimer: 'listen', result: 'failed' }), 0);
      assert.equal(
        claimCount(text, 'listen'),
        leased + sample(after, 'hookline_claims_total', { claimer: 'listen', result: 'empty' }),
      );
      // The dispatcher's figures did not move.
      assert.equal(sample(after, 'hookline_claims_total', { claimer: 'dispatcher' }), dispatcherClaims);
    });

    test('HOOKLINE_METRICS_PORT serves /metrics on its own port, also in a worker-only process', async () => {
      const dir = tempDir();
      const config = loadConfig({
        HOOKLINE_DATABASE_URL: `sqlite:${join(dir, 'h.db')}`,
        HOOKLINE_ADMIN_TOKEN: 'admin-token-for-metrics',
        HOOKLINE_ROLE: 'worker',
        HOOKLINE_METRICS_PORT: '0',
        HOOKLINE_METRICS_TOKEN: 'scrape',
        HOOKLINE_LOG_LEVEL: 'silent',
      });
      const worker = await createHookline(config, { logger: pino({ level: 'silent' }) });
      try {
        assert.equal(await worker.start(), null, 'no API in a worker');
        assert.ok(worker.metricsUrl);
        const denied = await fetch(`${worker.metricsUrl}/metrics`);
        assert.equal(denied.status, 401);
        assert.equal(((await denied.json()) as { code: string }).code, 'authentication_failed');
        const other = await fetch(`${worker.metricsUrl}/api/v1/app`);
        assert.equal(other.status, 404);
        assert.equal(((await other.json()) as { code: string }).code, 'not_found');
        const ok = await fetch(`${worker.metricsUrl}/metrics`, {
          headers: { authorization: 'Bearer scrape' },
        });
        assert.equal(ok.status, 200);
        const families = parsePrometheus(await ok.text());
        assert.equal(sample(families, 'hookline_delivery_attempts_total'), 0);
        assert.equal(sample(families, 'hookline_queue_depth', { state: 'pending' }), 0);
        assert.equal(sample(families, 'hookline_listen_clients'), 0);
      } finally {
        await worker.close();
      }
    });
  });

  describe(`/metrics: canceled deliveries (${kind.name})`, kind.options, () => {
    let db: Awaited<ReturnType<TestStoreKind['open']>> | undefined;
    let server: TestServer;
    let down: TestReceiver;
    let up: TestReceiver;

    before(async () => {
      db = await kind.open('metrics_cancel');
      // A failed attempt is tried again 2 s later, once: time to cancel what waits for it.
      server = await startHookline({ env: { HOOKLINE_RETRY_SCHEDULE: '2', ...db.env } });
      down = await startReceiver();
      down.fallback = { status: 503, body: 'down' };
      up = await startReceiver();
    });
    after(async () => {
      await server.close();
      await down.close();
      await up.close();
      await db?.drop();
    });

    const canceledBy = async (reason: string) =>
      metricValue(await server.hookline.metrics.render(), 'hookline_deliveries_canceled_total', { reason }) ??
      0;
    const attempts = async (outcome: string) =>
      metricValue(await server.hookline.metrics.render(), 'hookline_delivery_attempts_total', { outcome }) ??
      0;

    test("are counted by reason, and a transformation's cancel is not a failed attempt", async () => {
      // An application per case: each message goes to that case's endpoint only.
      let apps = 0;
      const endpoint = async (url: string) => {
        const app = (await server.call('POST', '/api/v1/app', { name: `cancels ${++apps}` })).body
          .id as string;
        const ep = await server.call('POST', `/api/v1/app/${app}/endpoint`, { url });
        assert.equal(ep.status, 201);
        return { app, ep: ep.body.id as string };
      };
      const publish = async (app: string, n: number) => {
        for (let i = 0; i < n; i++) {
          const m = await server.call('POST', `/api/v1/app/${app}/msg`, {
            eventType: 'order.paid',
            payload: { i },
          });
          assert.equal(m.status, 202);
        }
      };
      const canceledOf = async (ep: string) =>
        (await server.hookline.store.endpointStats(ep, 0, Date.now() + 60_000)).canceled;
      const until = async (what: string, check: () => Promise<boolean>) => {
        for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(await check(), what);
      };

      // Disabled while its retries wait: the dispatcher cancels each when it comes up.
      const disabled = await endpoint(`${down.url}/disabled`);
      await publish(disabled.app, 3);
      await down.waitFor(3);
      const patched = await server.call('PATCH', `/api/v1/app/${disabled.app}/endpoint/${disabled.ep}`, {
        disabled: true,
      });
      assert.equal(patched.status, 200);
      await until('the three retries were canceled', async () => (await canceledOf(disabled.ep)) === 3);
      assert.equal(down.requests.length, 3, 'nothing was sent to the disabled endpoint');
      assert.equal(await canceledBy('endpoint_disabled'), 3);

      // cancel-msgs: the retries waiting for the endpoint, canceled through the API.
      const byApi = await endpoint(`${down.url}/api`);
      await publish(byApi.app, 2);
      await down.waitFor(5);
      // Both first attempts recorded: each delivery waits for its retry (a delivery still being
      // recorded is not pending, and cancel-msgs leaves it alone).
      await until(
        'both wait for their retry',
        async () =>
          (await server.hookline.store.endpointStats(byApi.ep, 0, Date.now() + 60_000)).pending === 2,
      );
      const cancel = await server.call('POST', `/api/v1/app/${byApi.app}/endpoint/${byApi.ep}/cancel-msgs`, {
        createdBefore: new Date(Date.now() + 1_000).toISOString(),
      });
      assert.equal(cancel.status, 204);
      assert.equal(await canceledOf(byApi.ep), 2);
      assert.equal(await canceledBy('api'), 2);

      // A transformation that cancels: one canceled attempt, neither a success nor a failure.
      const transformed = await endpoint(`${up.url}/transformed`);
      const code = 'function handler(w) { w.cancel = true; return w }';
      const set = await server.call(
        'PATCH',
        `/api/v1/app/${transformed.app}/endpoint/${transformed.ep}/transformation`,
        {
          code,
        },
      );
      assert.equal(set.status, 204);
      const before = { fail: await attempts('fail'), success: await attempts('success') };
      await publish(transformed.app, 1);
      await until(
        'the transformed message was canceled',
        async () => (await canceledOf(transformed.ep)) === 1,
      );
      await server.hookline.dispatcher!.drain();
      assert.equal(up.requests.length, 0, 'the transformation canceled it before sending');
      assert.equal(await attempts('canceled'), 1);
      assert.equal(await canceledBy('transformation'), 1);
      assert.deepEqual({ fail: await attempts('fail'), success: await attempts('success') }, before);
      // Each reason counted only its own.
      assert.equal(await canceledBy('endpoint_disabled'), 3);
      assert.equal(await canceledBy('api'), 2);
      assert.equal(await canceledBy('listen_expired'), 0);
    });
  });
}

describe('/metrics exposure', () => {
  /** The warnings Hookline logs while starting with these settings (it never listens here). */
  async function startWarnings(env: Record<string, string>): Promise<string[]> {
    const dir = tempDir();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const config = loadConfig({
      HOOKLINE_DATABASE_URL: `sqlite:${join(dir, 'h.db')}`,
      HOOKLINE_ADMIN_TOKEN: 'admin-token-for-metrics',
      ...env,
    });
    const hookline = await createHookline(config, { logger });
    await hookline.close();
    rmSync(dir, { recursive: true, force: true });
    return lines.map((l) => JSON.parse(l).msg as string);
  }

  test('an API on a non-loopback address without HOOKLINE_METRICS_TOKEN warns at start', async () => {
    const open = await startWarnings({ HOOKLINE_HOST: '0.0.0.0' });
    assert.ok(
      open.some((m) =>
        /\/metrics is open to anyone who can reach 0\.0\.0\.0: set HOOKLINE_METRICS_TOKEN/.test(m),
      ),
      open.join('\n'),
    );
    const quietSettings: Record<string, string>[] = [
      { HOOKLINE_HOST: '0.0.0.0', HOOKLINE_METRICS_TOKEN: 'a-scrape-token' },
      { HOOKLINE_HOST: '127.0.0.1' },
      { HOOKLINE_HOST: '::1' },
      { HOOKLINE_HOST: 'localhost' },
      { HOOKLINE_HOST: '0.0.0.0', HOOKLINE_ROLE: 'worker' },
    ];
    for (const quiet of quietSettings) {
      const got = await startWarnings(quiet);
      assert.ok(!got.some((m) => /metrics/i.test(m)), `${JSON.stringify(quiet)}: ${got.join('\n')}`);
    }
  });

  test('/openapi.json stays open without a token', async () => {
    const server = await startHookline({ env: { HOOKLINE_METRICS_TOKEN: 'a-scrape-token' } });
    try {
      const res = await fetch(`${server.url}/openapi.json`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { openapi: string }).openapi, '3.1.0');
      assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    } finally {
      await server.close();
    }
  });
});
