/**
 * Svix Ingest's API (`/ingest/api/v1/source...`) through the official `svix` client's `ingest`
 * namespace, on SQLite and on PostgreSQL: a Stripe source created the Svix way receives a
 * Stripe-signed request at its ingestUrl and forwards it to its ingest endpoint, signed with the
 * endpoint's secret; endpoints, headers, secret and URL token rotation, the dashboard link,
 * pagination, and the errors (unsupported type, unknown source, unknown path).
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { ApiException, Svix } from 'svix';
import { createManualClock } from '../src/core/clock.ts';
import {
  headersOf,
  startHookline,
  startReceiver,
  type TestReceiver,
  type TestServer,
  tempDir,
} from './helpers.ts';
import { createTestDatabase, PG_SECRET_KEY, pgTestOptions, type TestDatabase } from './pg.ts';

function apiError(status: number, code?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    assert.equal(err.code, status);
    if (code !== undefined) assert.equal((err.body as { code: string }).code, code);
    return true;
  };
}

interface Setup {
  env: Record<string, string>;
  dataDir?: string;
  cleanup?: () => Promise<void>;
}

const HOUR = 3600 * 1000;

function suite(name: string, setup: () => Promise<Setup>, options: { skip?: string } = {}) {
  describe(`Svix Ingest API through the svix client (${name})`, options, () => {
    let s: Setup;
    let server: TestServer;
    let svix: Svix;
    let recv: TestReceiver;
    const clock = createManualClock();
    const stripe = new Stripe('sk_test_dummy');
    const stripeSecret = `whsec_${randomBytes(24).toString('base64')}`;
    const drain = () => server.hookline.dispatcher!.drain();

    /** Posts a Stripe-signed event (signed at the server's time) to a receive URL. */
    const postStripe = async (url: string, body: string, secret = stripeSecret) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': stripe.webhooks.generateTestHeaderString({
            payload: body,
            secret,
            timestamp: Math.floor(clock.now() / 1000),
          }),
        },
        body,
      });

    before(async () => {
      s = await setup();
      server = await startHookline({ env: s.env, clock, ...(s.dataDir ? { dataDir: s.dataDir } : {}) });
      svix = new Svix(server.token, { serverUrl: server.url });
      recv = await startReceiver();
    });
    after(async () => {
      await recv?.close();
      await server?.close();
      await s?.cleanup?.();
    });

    test('a Stripe source forwards a Stripe-signed request to its endpoint; endpoints, headers, secret rotation', async () => {
      const source = await svix.ingest.source.create({
        name: 'Stripe (production)',
        uid: 'stripe-prod',
        metadata: { team: 'billing' },
        type: 'stripe',
        config: { secret: stripeSecret },
      });
      assert.match(source.id, /^src_/);
      assert.equal(source.type, 'stripe');
      assert.deepEqual(source.config, {});
      assert.equal(source.name, 'Stripe (production)');
      assert.equal(source.uid, 'stripe-prod');
      assert.deepEqual(source.metadata, { team: 'billing' });
      assert.ok(source.ingestUrl);
      const ingestUrl = source.ingestUrl;
      assert.match(ingestUrl, new RegExp(`^${server.url}/in/stripe-prod/[A-Za-z0-9_-]{20,}$`));
      assert.equal((await svix.ingest.source.get('stripe-prod')).id, source.id, 'by uid');
      assert.equal((await svix.ingest.source.get(source.id)).ingestUrl, ingestUrl, 'by id');
      // Hookline's own API shows the same source, its receive path with the token.
      const native = await server.call('GET', `/api/v1/source/${source.id}`);
      assert.equal(native.status, 200);
      assert.equal(`${server.url}${native.body.ingestPath}`, ingestUrl);
      assert.equal(native.body.verification.scheme, 'stripe');

      const ep = await svix.ingest.endpoint.create(source.id, {
        url: `${recv.url}/billing`,
        description: 'billing service',
        uid: 'billing',
        metadata: { owner: 'ops' },
        throttleRate: 50,
        headers: { 'X-Team': 'billing' },
      });
      assert.match(ep.id, /^ep_/);
      assert.equal(ep.url, `${recv.url}/billing`);
      assert.equal(ep.description, 'billing service');
      assert.equal(ep.uid, 'billing');
      assert.equal(ep.throttleRate, 50);
      assert.equal(ep.disabled, false);
      assert.deepEqual(ep.metadata, { owner: 'ops' });
      assert.equal((await svix.ingest.endpoint.get('stripe-prod', 'billing')).id, ep.id, 'by uids');
      const listed = await svix.ingest.endpoint.list(source.id);
      assert.deepEqual(
        listed.data.map((e) => e.id),
        [ep.id],
      );
      assert.equal(listed.done, true);
      assert.deepEqual(await svix.ingest.endpoint.getHeaders(source.id, ep.id), {
        headers: { 'x-team': 'billing' },
        sensitive: [],
      });
      const { key } = await svix.ingest.endpoint.getSecret(source.id, ep.id);
      assert.match(key, /^whsec_/);

      // Stripe signs; Hookline verifies, keeps and forwards it signed with the endpoint's secret.
      const body = JSON.stringify({
        id: 'evt_1',
        object: 'event',
        type: 'invoice.paid',
        data: { object: {} },
      });
      const res = await postStripe(ingestUrl, body);
      assert.equal(res.status, 200);
      const accepted = (await res.json()) as { id: string; status: string };
      assert.equal(accepted.status, 'accepted');
      await drain();
      await recv.waitFor(1);
      const fwd = recv.requests[0]!;
      assert.equal(fwd.url, '/billing');
      assert.equal(fwd.body.toString(), body, 'forwarded byte for byte');
      const h = headersOf(fwd);
      assert.equal(h['x-team'], 'billing');
      assert.equal(h['webhook-id'], accepted.id);
      new Webhook(key).verify(fwd.body.toString(), h);

      // Forged, and the URL without its token: neither reaches the endpoint.
      assert.equal(
        (await postStripe(ingestUrl, body, `whsec_${randomBytes(24).toString('base64')}`)).status,
        401,
      );
      const bare = await postStripe(`${server.url}/in/stripe-prod`, body);
      assert.equal(bare.status, 404);
      assert.equal(((await bare.json()) as { code: string }).code, 'not_found');
      assert.equal((await postStripe(`${ingestUrl}x`, body)).status, 404, 'a wrong token');

      // Headers replaced; the endpoint updated; the secret rotated (the old one signs on).
      await svix.ingest.endpoint.setHeaders(source.id, ep.id, { headers: { 'X-Env': 'prod' } });
      assert.deepEqual((await svix.ingest.endpoint.getHeaders(source.id, ep.id)).headers, {
        'x-env': 'prod',
      });
      const updated = await svix.ingest.endpoint.upsert(source.id, ep.id, {
        url: `${recv.url}/billing-v2`,
        description: 'billing v2',
        uid: 'billing',
        metadata: { owner: 'payments' },
      });
      assert.equal(updated.url, `${recv.url}/billing-v2`);
      assert.equal(updated.description, 'billing v2');
      assert.deepEqual(updated.metadata, { owner: 'payments' });
      assert.equal(updated.throttleRate, null, 'an upsert replaces the endpoint: no rate given, none kept');
      assert.deepEqual(
        (await svix.ingest.endpoint.getHeaders(source.id, ep.id)).headers,
        { 'x-env': 'prod' },
        'an upsert keeps the headers',
      );
      await svix.ingest.endpoint.rotateSecret(source.id, ep.id);
      const { key: key2 } = await svix.ingest.endpoint.getSecret(source.id, ep.id);
      assert.notEqual(key2, key);
      const body2 = JSON.stringify({
        id: 'evt_2',
        object: 'event',
        type: 'invoice.paid',
        data: { object: {} },
      });
      assert.equal((await postStripe(ingestUrl, body2)).status, 200);
      await drain();
      await recv.waitFor(2);
      const fwd2 = recv.requests[1]!;
      assert.equal(fwd2.url, '/billing-v2');
      assert.equal(headersOf(fwd2)['x-env'], 'prod');
      assert.equal(headersOf(fwd2)['x-team'], undefined);
      new Webhook(key2).verify(fwd2.body.toString(), headersOf(fwd2));
      new Webhook(key).verify(fwd2.body.toString(), headersOf(fwd2));

      // An endpoint created by PUT under a uid; a secret that differs from the shared one is refused.
      const put = await svix.ingest.endpoint.upsert(source.id, 'audit', {
        url: `${recv.url}/audit`,
        disabled: true,
      });
      assert.equal(put.uid, 'audit');
      assert.equal(put.disabled, true);
      await assert.rejects(
        svix.ingest.endpoint.create(source.id, {
          url: `${recv.url}/other`,
          secret: `whsec_${randomBytes(24).toString('base64')}`,
        }),
        apiError(422),
      );
      await assert.rejects(
        svix.ingest.endpoint.create(source.id, { url: `${recv.url}/dup`, uid: 'audit' }),
        apiError(409, 'conflict'),
      );
      assert.equal((await svix.ingest.endpoint.list(source.id)).data.length, 2);
      await svix.ingest.endpoint.delete(source.id, 'audit');
      await assert.rejects(svix.ingest.endpoint.get(source.id, 'audit'), apiError(404, 'not_found'));
      assert.deepEqual(
        (await svix.ingest.endpoint.list(source.id)).data.map((e) => e.id),
        [ep.id],
      );

      // Transformations do not run on forwarded requests: none to read, setting code is refused.
      assert.deepEqual(await svix.ingest.endpoint.transformation.get(source.id, ep.id), {
        code: null,
        enabled: false,
        variables: null,
      });
      await assert.rejects(
        svix.ingest.endpoint.transformation.patch(source.id, ep.id, {
          code: 'function handler(w) { return w }',
        }),
        apiError(422),
      );
      await svix.ingest.endpoint.transformation.patch(source.id, ep.id, { code: null });
    });

    test('a first endpoint may bring the secret; the source updated by upsert changes its verification', async () => {
      const source = await svix.ingest.source.create({
        name: 'Shop',
        type: 'stripe',
        config: { secret: stripeSecret },
      });
      assert.equal(source.uid, null);
      assert.match(source.ingestUrl!, /\/in\/shop-[a-z0-9x]{8}\/[A-Za-z0-9_-]+$/);
      const secret = `whsec_${randomBytes(24).toString('base64')}`;
      const ep = await svix.ingest.endpoint.create(source.id, { url: `${recv.url}/shop`, secret });
      assert.equal((await svix.ingest.endpoint.getSecret(source.id, ep.id)).key, secret);
      const second = await svix.ingest.endpoint.create(source.id, { url: `${recv.url}/shop2`, secret });
      assert.equal(second.description, '');

      const ghSecret = 'a-github-secret';
      const changed = await svix.ingest.source.upsert(source.id, {
        name: 'Shop (GitHub now)',
        type: 'github',
        config: { secret: ghSecret },
        metadata: { k: 'v' },
      });
      assert.equal(changed.type, 'github');
      assert.equal(changed.name, 'Shop (GitHub now)');
      assert.equal(changed.ingestUrl, source.ingestUrl, 'the URL stays');
      assert.deepEqual(changed.metadata, { k: 'v' });
      assert.equal((await svix.ingest.endpoint.list(source.id)).data.length, 2, 'the endpoints stay');
      const body = JSON.stringify({ id: 'evt_x' });
      assert.equal((await postStripe(changed.ingestUrl!, body)).status, 401, 'no longer verified as Stripe');

      // PUT under an unknown uid creates the source; under an unknown id it is a 404.
      const made = await svix.ingest.source.upsert('made-by-put', {
        name: 'Made by PUT',
        type: 'generic-webhook',
      });
      assert.equal(made.uid, 'made-by-put');
      assert.equal(made.type, 'generic-webhook');
      assert.equal((await fetch(made.ingestUrl!, { method: 'POST', body: '{}' })).status, 200);
      await assert.rejects(
        svix.ingest.source.upsert('src_2zzzzzzzzzzzzzzzzzzzzzzzzzz', { name: 'x', type: 'generic-webhook' }),
        apiError(404, 'not_found'),
      );

      await svix.ingest.source.delete(source.id);
      await assert.rejects(svix.ingest.source.get(source.id), apiError(404, 'not_found'));
      assert.equal((await postStripe(source.ingestUrl!, body)).status, 404);
    });

    test('token rotation: a new URL at once, the old one for 48 hours, at most three rotations at a time', async () => {
      const source = await svix.ingest.source.create({
        name: 'rotating',
        uid: 'rotating',
        type: 'stripe',
        config: { secret: stripeSecret },
      });
      const old = source.ingestUrl!;
      const { ingestUrl: fresh } = await svix.ingest.source.rotateToken(source.id);
      assert.notEqual(fresh, old);
      assert.equal((await svix.ingest.source.get(source.id)).ingestUrl, fresh);
      const body = JSON.stringify({ id: 'evt_r' });
      assert.equal((await postStripe(fresh, body)).status, 200);
      assert.equal((await postStripe(old, body)).status, 200, 'the old URL works on for now');
      clock.advance(48 * HOUR + 1000);
      assert.equal((await postStripe(old, body)).status, 404, 'the old URL expired');
      assert.equal((await postStripe(fresh, body)).status, 200);

      const urls = [fresh];
      for (let i = 0; i < 3; i++) urls.push((await svix.ingest.source.rotateToken(source.id)).ingestUrl);
      await assert.rejects(svix.ingest.source.rotateToken(source.id), apiError(429, 'too_many_rotations'));
      for (const url of urls) assert.equal((await postStripe(url, body)).status, 200);

      // A source made through /api/v1/source has no token: rotating gives it one, and its bare
      // URL keeps working for the grace period.
      const native = await server.call('POST', '/api/v1/source', {
        name: 'native-gh',
        verification: { scheme: 'github', secrets: ['gh-secret'] },
        destinations: [{ url: `${recv.url}/native` }],
      });
      assert.equal(native.status, 201);
      const seen = await svix.ingest.source.get('native-gh');
      assert.equal(seen.type, 'github');
      assert.equal(seen.uid, null);
      assert.equal(seen.ingestUrl, `${server.url}/in/native-gh`);
      assert.deepEqual(
        (await svix.ingest.endpoint.list('native-gh')).data.map((e) => e.url),
        [`${recv.url}/native`],
      );
      const rotated = await svix.ingest.source.rotateToken('native-gh');
      assert.match(rotated.ingestUrl, /\/in\/native-gh\/[A-Za-z0-9_-]+$/);
      const ping = { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } };
      assert.equal((await fetch(`${server.url}/in/native-gh`, ping)).status, 401, 'bare URL: still reached');
      assert.equal((await fetch(rotated.ingestUrl, ping)).status, 401, 'token URL: reached');
      clock.advance(48 * HOUR + 1000);
      assert.equal((await fetch(`${server.url}/in/native-gh`, ping)).status, 404, 'bare URL: expired');
    });

    test('Svix-signed, Zoom and Segment types verify requests signed as those providers sign', async () => {
      const post = (url: string, body: string, headers: Record<string, string>) =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const now = () => Math.floor(clock.now() / 1000);
      const body = JSON.stringify({ type: 'user.created', data: { id: 'u1' } });

      // Clerk signs with Svix (Standard Webhooks with svix- headers).
      const clerkSecret = `whsec_${randomBytes(24).toString('base64')}`;
      const clerk = await svix.ingest.source.create({
        name: 'clerk',
        type: 'clerk',
        config: { secret: clerkSecret },
      });
      assert.equal(clerk.type, 'clerk');
      const sig = new Webhook(clerkSecret).sign('msg_1', new Date(clock.now()), body);
      const svixHeaders = { 'svix-id': 'msg_1', 'svix-timestamp': String(now()), 'svix-signature': sig };
      assert.equal((await post(clerk.ingestUrl!, body, svixHeaders)).status, 200);
      assert.equal((await post(clerk.ingestUrl!, `${body} `, svixHeaders)).status, 401);

      // Zoom: HMAC-SHA256 of v0:{timestamp}:{body}; its URL validation answered with the secret.
      const zoomSecret = 'zoom-secret-token';
      const zoom = await svix.ingest.source.create({
        name: 'zoom',
        type: 'zoom',
        config: { secret: zoomSecret },
      });
      const zoomSign = (b: string, ts: number) =>
        `v0=${createHmac('sha256', zoomSecret).update(`v0:${ts}:${b}`).digest('hex')}`;
      const ts = now();
      const zoomHeaders = (b: string) => ({
        'x-zm-request-timestamp': String(ts),
        'x-zm-signature': zoomSign(b, ts),
      });
      assert.equal((await post(zoom.ingestUrl!, body, zoomHeaders(body))).status, 200);
      assert.equal((await post(zoom.ingestUrl!, body, zoomHeaders('{}'))).status, 401);
      const validation = JSON.stringify({ event: 'endpoint.url_validation', payload: { plainToken: 'abc' } });
      const answer = await post(zoom.ingestUrl!, validation, zoomHeaders(validation));
      assert.equal(answer.status, 200);
      assert.deepEqual(await answer.json(), {
        plainToken: 'abc',
        encryptedToken: createHmac('sha256', zoomSecret).update('abc').digest('hex'),
      });

      // Segment: HMAC-SHA1 of the body, hex, in X-Signature.
      const segment = await svix.ingest.source.create({
        name: 'segment',
        type: 'segment',
        config: { secret: 'segment-secret' },
      });
      const segSig = createHmac('sha1', 'segment-secret').update(body).digest('hex');
      assert.equal((await post(segment.ingestUrl!, body, { 'x-signature': segSig })).status, 200);
      assert.equal((await post(segment.ingestUrl!, body, { 'x-signature': '00' })).status, 401);
      assert.equal((await svix.ingest.source.get(segment.id)).type, 'segment');
    });

    test('dashboard access, list pagination, unsupported types and unknown sources', async () => {
      const source = await svix.ingest.source.create({ name: 'dash', uid: 'dash', type: 'generic-webhook' });
      const access = await svix.ingest.authentication.consumerPortalAccess(source.id, { readOnly: true });
      assert.match(access.token, /^hl_app_/);
      const appId = /\/apps\/(app_[A-Za-z0-9]+)#key=/.exec(access.url)?.[1];
      assert.ok(appId, access.url);
      const asPortal = await fetch(`${server.url}/api/v1/app/${appId}/endpoint`, {
        headers: { authorization: `Bearer ${access.token}` },
      });
      assert.equal(asPortal.status, 200, "the token opens the source's application");

      for (const type of ['svix', 'open-ai'] as const)
        await svix.ingest.source.create({
          name: `page ${type}`,
          type,
          config: { secret: `whsec_${randomBytes(24).toString('base64')}` },
        });
      const all = new Set<string>();
      let iterator: string | null = null;
      let pages = 0;
      for (; pages < 50; pages++) {
        const page = await svix.ingest.source.list({ limit: 2, iterator });
        assert.ok(page.data.length <= 2);
        for (const s2 of page.data) all.add(s2.id);
        if (page.done) break;
        iterator = page.iterator;
      }
      assert.ok(pages >= 1, 'more than one page');
      const full = await server.call('GET', '/api/v1/source?limit=250');
      assert.deepEqual(
        [...all].sort(),
        (full.body.data as { id: string }[]).map((x) => x.id).sort(),
        'every source, once',
      );

      await assert.rejects(
        svix.ingest.source.create({ name: 'adobe', type: 'adobe-sign', config: { clientId: 'c' } }),
        (err: unknown) => {
          assert.ok(err instanceof ApiException);
          assert.equal(err.code, 422);
          const detail = (err.body as { detail: { loc: string[]; msg: string }[] }).detail;
          assert.deepEqual(detail[0]!.loc, ['body', 'type']);
          assert.match(detail[0]!.msg, /adobe-sign/);
          assert.match(detail[0]!.msg, /stripe/);
          return true;
        },
      );
      await assert.rejects(
        svix.ingest.source.create({ name: 'no secret', type: 'stripe', config: {} as { secret: string } }),
        apiError(422),
      );
      await assert.rejects(
        svix.ingest.source.get('src_2nosuchsourcexxxxxxxxxxxxxx'),
        apiError(404, 'not_found'),
      );
      await assert.rejects(svix.ingest.endpoint.list('no-such-source'), apiError(404, 'not_found'));
      await assert.rejects(
        svix.ingest.endpoint.get(source.id, 'ep_2nosuchendpointxxxxxxxxxxx'),
        apiError(404),
      );
      for (const path of ['/ingest/api/v1/nope', '/ingest/api/v2/source', '/ingest/x', '/api/v1/nope']) {
        const res = await fetch(`${server.url}${path}`, {
          headers: { authorization: `Bearer ${server.token}` },
        });
        assert.equal(res.status, 404, path);
        assert.equal(((await res.json()) as { code: string }).code, 'not_found', path);
      }
      const anon = await fetch(`${server.url}/ingest/api/v1/source`);
      assert.equal(anon.status, 401, 'the ingest API needs the admin token');
    });
  });
}

suite('sqlite', async () => ({ env: {}, dataDir: tempDir() }));

let db: TestDatabase | undefined;
suite(
  'postgres',
  async () => {
    db = await createTestDatabase('svix_ingest');
    return {
      env: { HOOKLINE_DATABASE_URL: db.url, HOOKLINE_SECRET_KEY: PG_SECRET_KEY },
      cleanup: () => db!.drop(),
    };
  },
  await pgTestOptions(),
);
