/**
 * Application alert emails, on SQLite and on PostgreSQL: the alert email is set with Svix's
 * `PATCH /api/v1/app/{app}/alert-email`, and when an endpoint of the application is disabled
 * for failing Hookline emails it through a real SMTP server (smtp-server, on 127.0.0.1).
 * The svix client has no method for this call (Svix marks it internal), so it goes as plain HTTP.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { Svix } from 'svix';
import { loadConfig } from '../src/config.ts';
import { createManualClock } from '../src/core/clock.ts';
import { isEmailAddress, parseAddressList } from '../src/core/email-address.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

interface Mail {
  from: string;
  to: string[];
  user: string | null;
  subject: string;
  text: string;
}

/** A local SMTP server that keeps what it is sent; it wants user `hookline`, password `s3cret`. */
async function startSmtp() {
  const mails: Mail[] = [];
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    allowInsecureAuth: true,
    // Plain SMTP: nodemailer would otherwise upgrade to TLS with the server's test certificate.
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'hookline' && auth.password === 's3cret') cb(null, { user: auth.username });
      else cb(new Error('bad credentials'));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const split = raw.indexOf('\r\n\r\n');
        const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
        let body = raw.slice(split + 4);
        if (/^content-transfer-encoding:\s*quoted-printable/im.test(head)) {
          body = Buffer.from(
            body
              .replace(/=\r\n/g, '')
              .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
            'latin1',
          ).toString('utf8');
        }
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: (session.user as string | undefined) ?? null,
          subject: /^subject:\s*(.*)$/im.exec(head)?.[1] ?? '',
          text: body,
        });
        for (const w of waiters.splice(0)) w();
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://hookline:s3cret@127.0.0.1:${port}`,
    mails,
    /** Waits (bounded) until a mail matching `match` has come. */
    async waitFor(match: (m: Mail) => boolean, what: string): Promise<Mail> {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const found = mails.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no alert email ${what}; got ${JSON.stringify(mails)}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 200);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const patchAlertEmail = (server: TestServer, app: string, body: unknown) =>
  server.call('PATCH', `/api/v1/app/${app}/alert-email`, body);

function suite(kind: TestStoreKind): void {
  describe(`application alert email (${kind.name})`, kind.options, () => {
    // Disabling depends on how long an endpoint has failed, so the test moves the clock.
    const clock = createManualClock(Date.parse('2026-03-01T00:00:00Z'));
    let db: Awaited<ReturnType<TestStoreKind['open']>>;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    let server: TestServer;
    let receiver: TestReceiver;
    let svix: Svix;

    /** An application with `endpoints` endpoints to the failing receiver. */
    async function app(uid: string, endpoints = 1) {
      const a = await svix.application.create({ name: `Shop ${uid}`, uid });
      const eps = [];
      for (let i = 0; i < endpoints; i++)
        eps.push(
          await svix.endpoint.create(uid, { url: `${receiver.url}/${uid}/${i}`, uid: `${uid}-ep${i}` }),
        );
      return { app: a, endpoints: eps };
    }

    /** Fails every endpoint of `uid` until the dispatcher disables them (1 s of failing is enough). */
    async function failUntilDisabled(uid: string) {
      const dispatcher = server.hookline.dispatcher!;
      await svix.message.create(uid, { eventType: 'invoice.paid', payload: { n: 1 } });
      await dispatcher.drain();
      clock.advance(2_000);
      await svix.message.create(uid, { eventType: 'invoice.paid', payload: { n: 2 } });
      await dispatcher.drain();
      for (const ep of (await svix.endpoint.list(uid)).data)
        assert.equal(ep.disabled, true, `${ep.id} disabled`);
    }

    before(async () => {
      db = await kind.open('alertemail');
      smtp = await startSmtp();
      receiver = await startReceiver();
      receiver.fallback = { status: 500, body: 'down' };
      server = await startHookline({
        clock,
        env: {
          ...db.env,
          HOOKLINE_SMTP_URL: smtp.url,
          HOOKLINE_SMTP_FROM: 'Hookline alerts <alerts@hooks.example.com>',
          HOOKLINE_PUBLIC_URL: 'https://hooks.example.com',
          // The first retry stays a minute away: each test's messages fail once.
          HOOKLINE_RETRY_SCHEDULE: '60',
          HOOKLINE_DISABLE_AFTER: '1',
          HOOKLINE_ALERT_EMAIL_EVENTS: 'endpoint.disabled,message.attempt.exhausted',
        },
      });
      svix = new Svix(server.token, { serverUrl: server.url });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await smtp?.close();
      await db?.drop();
    });

    test('an endpoint disabled for failing emails the alert email, with the endpoint and the application', async () => {
      const { app: a, endpoints } = await app('acme');
      const ep = endpoints[0]!;
      const set = await patchAlertEmail(server, 'acme', { email: ' ops@acme.example , oncall@acme.example' });
      assert.equal(set.status, 204);
      assert.equal(
        await server.hookline.store.getAppAlertEmail(a.id),
        'ops@acme.example, oncall@acme.example',
      );

      await failUntilDisabled('acme');
      const mail = await smtp.waitFor((m) => m.text.includes(a.id), 'for acme');
      assert.deepEqual(mail.to.sort(), ['oncall@acme.example', 'ops@acme.example']);
      assert.equal(mail.from, 'alerts@hooks.example.com');
      assert.equal(mail.user, 'hookline', 'the credentials in HOOKLINE_SMTP_URL are used');
      assert.match(mail.subject, /endpoint disabled/i);
      assert.ok(mail.text.includes(ep.id), mail.text);
      assert.ok(mail.text.includes(ep.url), mail.text);
      assert.ok(mail.text.includes('acme-ep0'), 'the endpoint uid');
      assert.ok(mail.text.includes('Shop acme'), 'the application name');
      assert.ok(mail.text.includes(`https://hooks.example.com/apps/${a.id}/endpoints/${ep.id}`), mail.text);
    });

    test('endpoints disabled together for one application make one email listing them all', async () => {
      const { app: a, endpoints } = await app('bulk', 3);
      assert.equal((await patchAlertEmail(server, a.id, { email: 'bulk@example.org' })).status, 204);
      const sentBefore = smtp.mails.length;
      await failUntilDisabled('bulk');
      const mail = await smtp.waitFor((m) => m.text.includes(a.id), 'for bulk');
      const forBulk = () => smtp.mails.slice(sentBefore).filter((m) => m.text.includes(a.id));
      // Endpoints that missed the first email wait for the next interval (a minute), so at most
      // two emails; they are all in one unless the machine stalled between the disables.
      const listed = endpoints.filter((ep) => mail.text.includes(ep.id)).length;
      assert.ok(listed >= 1, mail.text);
      if (listed === 3) assert.match(mail.subject, /3 webhook endpoints disabled/);
      else assert.equal(forBulk().length, 1, 'the rest waits for the interval');
      assert.deepEqual(mail.to, ['bulk@example.org']);
    });

    test('a bad address is refused with 422; the stored one is kept', async () => {
      const { app: a } = await app('strict');
      assert.equal((await patchAlertEmail(server, 'strict', { email: 'a@strict.example' })).status, 204);
      for (const email of [
        'not-an-address',
        'a@strict.example, b@',
        'x y@example.com',
        '@example.com',
        'a@b',
      ]) {
        const res = await patchAlertEmail(server, 'strict', { email });
        assert.equal(res.status, 422, email);
        assert.deepEqual(res.body.detail[0].loc, ['body', 'email']);
      }
      const wrongType = await patchAlertEmail(server, 'strict', { email: 42 });
      assert.equal(wrongType.status, 422);
      assert.equal(await server.hookline.store.getAppAlertEmail(a.id), 'a@strict.example');
      // A body without `email` changes nothing; an unknown application is 404.
      assert.equal((await patchAlertEmail(server, 'strict', {})).status, 204);
      assert.equal(await server.hookline.store.getAppAlertEmail(a.id), 'a@strict.example');
      // An application token (the app portal) may set its own application's, not another's.
      const { token } = await svix.authentication.appPortalAccess('strict', {});
      const asApp = (app: string, email: string) =>
        fetch(`${server.url}/api/v1/app/${app}/alert-email`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ email }),
        });
      assert.equal((await asApp('strict', 'portal@strict.example')).status, 204);
      assert.equal(await server.hookline.store.getAppAlertEmail(a.id), 'portal@strict.example');
      assert.equal((await asApp('acme', 'portal@strict.example')).status, 403);
      // The call is in the OpenAPI document, as Svix has it.
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      assert.ok(doc.paths['/api/v1/app/{app_id}/alert-email']?.patch);
      const missing = await patchAlertEmail(server, 'nope', { email: 'a@strict.example' });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.code, 'not_found');
    });

    test('environment export and import carry the alert email', async () => {
      const doc = (await server.call('POST', '/api/v1/environment/export')).body;
      const acme = doc.applications.find((a: { uid: string }) => a.uid === 'acme');
      assert.equal(acme.alertEmail, 'ops@acme.example, oncall@acme.example');
      const bad = await server.call('POST', '/api/v1/environment/import', {
        applications: [{ name: 'Imported', uid: 'imported', alertEmail: 'nope' }],
      });
      assert.equal(bad.status, 422);
      assert.deepEqual(bad.body.detail[0].loc, ['body', 'applications', 0, 'alertEmail']);
      assert.equal(await server.hookline.store.getApp('imported'), null, 'nothing written');
      const ok = await server.call('POST', '/api/v1/environment/import', {
        applications: [{ name: 'Imported', uid: 'imported', alertEmail: 'imp@example.org' }],
      });
      assert.equal(ok.status, 204);
      const imported = (await server.hookline.store.getApp('imported'))!;
      assert.equal(await server.hookline.store.getAppAlertEmail(imported.id), 'imp@example.org');
    });

    test('a cleared alert email sends nothing', async () => {
      const quiet = await app('quiet');
      const loud = await app('loud');
      assert.equal((await patchAlertEmail(server, 'quiet', { email: 'q@quiet.example' })).status, 204);
      assert.equal((await patchAlertEmail(server, 'quiet', { email: null })).status, 204);
      assert.equal(await server.hookline.store.getAppAlertEmail(quiet.app.id), null);
      assert.equal((await patchAlertEmail(server, 'loud', { email: 'l@loud.example' })).status, 204);
      assert.equal((await patchAlertEmail(server, 'loud', { email: '' })).status, 204, 'empty clears too');
      assert.equal(await server.hookline.store.getAppAlertEmail(loud.app.id), null);
      assert.equal((await patchAlertEmail(server, 'loud', { email: 'l@loud.example' })).status, 204);

      // Both are disabled in the same drains; the one with an address is told, the other not.
      const dispatcher = server.hookline.dispatcher!;
      for (const uid of ['quiet', 'loud'])
        await svix.message.create(uid, { eventType: 'invoice.paid', payload: { n: 1 } });
      await dispatcher.drain();
      clock.advance(2_000);
      for (const uid of ['quiet', 'loud'])
        await svix.message.create(uid, { eventType: 'invoice.paid', payload: { n: 2 } });
      await dispatcher.drain();
      assert.equal((await svix.endpoint.get('quiet', quiet.endpoints[0]!.id)).disabled, true);
      await smtp.waitFor((m) => m.text.includes(loud.app.id), 'for loud');
      assert.equal(smtp.mails.filter((m) => m.text.includes(quiet.app.id)).length, 0);
    });

    test("without an alert email, Svix's `svix.email` metadata names the address", async () => {
      const a = await svix.application.create({
        name: 'Shop meta',
        uid: 'meta',
        metadata: { 'svix.email': 'meta@example.org' },
      });
      await svix.endpoint.create('meta', { url: `${receiver.url}/meta` });
      await failUntilDisabled('meta');
      const mail = await smtp.waitFor((m) => m.text.includes(a.id), 'for meta');
      assert.deepEqual(mail.to, ['meta@example.org']);
    });

    test('a message that failed every attempt is an alert too, when configured', async () => {
      const { app: a, endpoints } = await app('spent');
      assert.equal((await patchAlertEmail(server, 'spent', { email: 'spent@example.org' })).status, 204);
      const msg = await svix.message.create('spent', { eventType: 'invoice.paid', payload: { n: 1 } });
      const dispatcher = server.hookline.dispatcher!;
      await dispatcher.drain();
      clock.advance(120_000);
      await dispatcher.drain();
      const mail = await smtp.waitFor((m) => m.text.includes(msg.id), 'for the exhausted message');
      assert.deepEqual(mail.to, ['spent@example.org']);
      assert.ok(mail.text.includes(a.id));
      assert.ok(mail.text.includes(endpoints[0]!.id));
      assert.ok(mail.text.includes('HTTP 500'), mail.text);
    });

    test('the quiet application never got an email, up to the end', async () => {
      // Stopping sends whatever waited for its interval: nothing of the cleared application.
      await server.close();
      assert.equal(smtp.mails.filter((m) => m.text.includes('Shop quiet')).length, 0);
    });
  });

  describe(`application alert email without SMTP (${kind.name})`, kind.options, () => {
    const clock = createManualClock(Date.parse('2026-03-01T00:00:00Z'));
    let db: Awaited<ReturnType<TestStoreKind['open']>>;
    let server: TestServer;
    let receiver: TestReceiver;

    before(async () => {
      db = await kind.open('alertnosmtp');
      receiver = await startReceiver();
      receiver.fallback = { status: 503 };
      server = await startHookline({
        clock,
        env: { ...db.env, HOOKLINE_RETRY_SCHEDULE: '60', HOOKLINE_DISABLE_AFTER: '1' },
      });
    });
    after(async () => {
      await server?.close();
      await receiver?.close();
      await db?.drop();
    });

    test('the address is stored, and a disabled endpoint does no harm', async () => {
      const a = await server.call('POST', '/api/v1/app', { name: 'Solo', uid: 'solo' });
      const ep = await server.call('POST', '/api/v1/app/solo/endpoint', { url: `${receiver.url}/hook` });
      assert.equal((await patchAlertEmail(server, 'solo', { email: 'solo@example.org' })).status, 204);
      assert.equal(await server.hookline.store.getAppAlertEmail(a.body.id), 'solo@example.org');
      const dispatcher = server.hookline.dispatcher!;
      await server.call('POST', '/api/v1/app/solo/msg', { eventType: 'a', payload: {} });
      await dispatcher.drain();
      clock.advance(2_000);
      await server.call('POST', '/api/v1/app/solo/msg', { eventType: 'a', payload: {} });
      await dispatcher.drain();
      const after = await server.call('GET', `/api/v1/app/solo/endpoint/${ep.body.id}`);
      assert.equal(after.body.disabled, true);
      // The server goes on: another message is accepted and delivered elsewhere.
      const ok = await startReceiver();
      await server.call('POST', '/api/v1/app/solo/endpoint', { url: `${ok.url}/hook` });
      await server.call('POST', '/api/v1/app/solo/msg', { eventType: 'a', payload: {} });
      await dispatcher.drain();
      assert.equal(ok.requests.length, 1);
      await ok.close();
    });
  });
}

describe('alert email addresses and settings', () => {
  test('addresses', () => {
    for (const ok of ['a@example.com', 'first.last+tag@mail.example.co.uk', 'a@bücher.example'])
      assert.ok(isEmailAddress(ok), ok);
    for (const bad of [
      'a',
      'a@b',
      'a@@b.com',
      '.a@b.com',
      'a..b@c.com',
      'a b@c.com',
      'a@-b.com',
      '"a"@b.com',
    ])
      assert.ok(!isEmailAddress(bad), bad);
    assert.deepEqual(parseAddressList(' a@x.com, ,A@x.com,b@x.com '), ['a@x.com', 'b@x.com']);
    assert.deepEqual(parseAddressList(''), []);
    assert.throws(() => parseAddressList('a@x.com, nope'), /"nope" is not an email address/);
  });

  test('HOOKLINE_SMTP_* settings', () => {
    const c = loadConfig({ HOOKLINE_SMTP_URL: 'smtps://alerts%40example.com:pw@mail.example.com' });
    assert.equal(c.alertEmail.from, 'alerts@example.com', 'the SMTP user name is the default From');
    assert.deepEqual(c.alertEmail.events, ['endpoint.disabled']);
    assert.equal(c.alertEmail.intervalMs, 60_000);
    assert.throws(() => loadConfig({ HOOKLINE_SMTP_URL: 'smtp://mail.example.com' }), /HOOKLINE_SMTP_FROM/);
    assert.throws(() => loadConfig({ HOOKLINE_SMTP_URL: 'http://mail.example.com' }), /smtp or smtps/);
    assert.throws(() => loadConfig({ HOOKLINE_SMTP_FROM: 'Hookline <nope>' }), /HOOKLINE_SMTP_FROM/);
    assert.throws(
      () => loadConfig({ HOOKLINE_ALERT_EMAIL_EVENTS: 'endpoint.created' }),
      /ALERT_EMAIL_EVENTS/,
    );
    const d = loadConfig({
      HOOKLINE_SMTP_URL: 'smtp://mail.example.com:587',
      HOOKLINE_SMTP_FROM: 'Hookline <hooks@example.com>',
      HOOKLINE_ALERT_EMAIL_INTERVAL: '5',
    });
    assert.equal(d.alertEmail.from, 'Hookline <hooks@example.com>');
    assert.equal(d.alertEmail.intervalMs, 5_000);
  });
});

for (const kind of await testStores()) suite(kind);
