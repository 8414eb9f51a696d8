/**
 * The web dashboard in a real browser (Debian's Chromium driven by playwright-core) against a
 * real Hookline and a real receiver: log in, create an endpoint, send a test event, see the
 * attempt, inspect it, resend it, and see the health chart count both attempts; create an inbound
 * source, post signed, forged and repeated requests to it, inspect them and replay the accepted
 * one. Screenshots of every main page, at laptop and phone width, go to artifacts/screenshots/.
 *
 * Browser-side code is passed to Playwright as strings: this file is typechecked without the DOM
 * library.
 *
 * Without /usr/bin/chromium the test is skipped, unless CI=true (then it fails): `.ci/run`
 * installs Chromium with apt.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_DASHBOARD_DIR } from '../src/api/dashboard.ts';
import { SOURCE_SCHEMES } from '../src/core/enums.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, '../../../artifacts/screenshots');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing; CI must install it (apt-get install -y chromium, see .ci/run)`);
}
const skip = haveChromium
  ? false
  : `${CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) to run the browser test`;

const PHONE = { width: 390, height: 844 };

/**
 * Waits until the page shows no "Loading …" text. (Not the network going idle: live pages keep
 * their server-sent event stream open.)
 */
const settled = (p: Page) =>
  p.waitForFunction(
    () =>
      !/Loading /.test((globalThis as unknown as InPage).document.querySelector('main')?.textContent ?? ''),
  );

/**
 * What the predicates below read of the page. They are functions, not strings: Playwright runs a
 * string predicate through the page's `eval` at every poll, which the dashboard's
 * Content-Security-Policy (no 'unsafe-eval') refuses once the first check came back false.
 */
interface InPage {
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
    activeElement: { tagName: string } | null;
  };
}
const LAPTOP = { width: 1280, height: 800 };

describe('web dashboard in Chromium', { skip }, () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let browser: Browser;
  let page: Page;
  /** Every page visited, for the phone-width pass. */
  const visited: { name: string; path: string }[] = [];
  /** Script errors and console errors (CSP violations included), apart from failed API calls. */
  const browserErrors: string[] = [];
  /** Signs in with the admin token from a new session (nothing kept from earlier tests). */
  const signInFresh = async () => {
    await page.goto(server.url);
    await page.evaluate('sessionStorage.clear()');
    await page.reload();
    await page.getByLabel('Admin token').fill(server.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  };
  const watch = (p: Page) => {
    p.on('pageerror', (e) => browserErrors.push(`${p.url()}: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        browserErrors.push(`${p.url()}: ${m.text()}`);
    });
  };

  before(async () => {
    assert.ok(
      existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html')),
      'the dashboard is not built: run "npm install" (its prepare script builds packages/dashboard)',
    );
    mkdirSync(SHOTS, { recursive: true });
    server = await startHookline();
    receiver = await startReceiver();
    await server.call('POST', '/api/v1/app', { name: 'Acme Store', uid: 'acme' });
    await server.call('POST', '/api/v1/event-type', {
      name: 'invoice.paid',
      description: 'An invoice was paid in full.',
      schemas: {
        '1': {
          type: 'object',
          properties: { invoiceId: { type: 'string' }, amount: { type: 'integer' } },
          required: ['invoiceId'],
          examples: [{ invoiceId: 'inv_1001', amount: 4200 }],
        },
      },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
    page = await browser.newPage({ viewport: LAPTOP });
    watch(page);
    page.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await receiver?.close();
  });

  const shot = async (p: Page, name: string, width: 'desktop' | 'phone') => {
    await p.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
    // Portal pages take their phone shots in their own test, signed in with the portal link.
    if (width === 'desktop' && !name.startsWith('portal-'))
      visited.push({ name, path: new URL(p.url()).pathname + new URL(p.url()).search });
  };

  /** Reloads the endpoint page's data until the health panel counts `n` attempts (bounded). */
  const waitForAttemptTotal = async (n: number) => {
    for (let i = 0; i < 40; i++) {
      const total = await page.getByTestId('attempt-total').textContent();
      if (total === String(n)) return;
      await page.waitForTimeout(250);
      await page.getByRole('button', { name: 'Refresh' }).click();
    }
    assert.equal(await page.getByTestId('attempt-total').textContent(), String(n));
  };

  test('log in, create an endpoint, send a test event, inspect and resend it, see the chart update', async () => {
    // A wrong token is refused with the API's own error.
    await page.goto(server.url);
    await shot(page, 'login', 'desktop');
    await page.getByLabel('Admin token').fill('wrong-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText('authentication_failed').waitFor();

    await page.getByLabel('Admin token').fill(server.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    // The home page is the overview; the applications are one link away.
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Applications' }).click();
    await page.getByRole('heading', { name: 'Applications' }).waitFor();
    await shot(page, 'apps', 'desktop');

    await page.getByRole('link', { name: 'Acme Store' }).click();
    await page.getByRole('heading', { name: 'Acme Store' }).waitFor();
    await page.getByRole('link', { name: 'Create endpoint' }).click();
    // A long URL: the layout must wrap it, not overflow.
    const url = `${receiver.url}/webhooks/${'very-long-path-segment-'.repeat(8)}?tenant=acme`;
    await page.getByLabel('URL').fill(url);
    await page.getByLabel('Description').fill('Billing service');
    await page.getByLabel('invoice.paid').check();
    await page.getByLabel('Request timeout (seconds)').fill('40');
    await shot(page, 'endpoint-new', 'desktop');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
    await page.getByText(url).waitFor();
    const endpointPath = new URL(page.url()).pathname;
    const endpointId = endpointPath.split('/').pop()!;
    const created = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}`);
    assert.equal(created.status, 200);
    assert.equal(created.body.url, url);
    assert.deepEqual(created.body.filterTypes, ['invoice.paid']);
    assert.equal(created.body.timeout, 40, 'the request timeout from the form');
    await page.getByText('timeout 40 s').waitFor();
    assert.equal(await page.getByTestId('attempt-total').textContent(), '0');

    // Send a test event from the catalog page; the example payload is prefilled.
    await page.getByRole('link', { name: 'Event types' }).click();
    await page.getByRole('heading', { name: 'Send test event' }).waitFor();
    const payload = await page.getByLabel('Payload (JSON object)').inputValue();
    assert.deepEqual(JSON.parse(payload), { invoiceId: 'inv_1001', amount: 4200 });
    await shot(page, 'event-types', 'desktop');
    await page.getByRole('button', { name: 'Send test event' }).click();
    const sent = await page.getByRole('status').getByRole('link').textContent();
    assert.match(sent ?? '', /^msg_/);
    await receiver.waitFor(1);
    assert.equal(receiver.requests[0]!.headers['webhook-id'], sent);
    assert.deepEqual(JSON.parse(receiver.requests[0]!.body.toString()), {
      invoiceId: 'inv_1001',
      amount: 4200,
    });

    // The attempt appears on the endpoint page, and the health panel counts it.
    await page.goto(server.url + endpointPath);
    await waitForAttemptTotal(1);
    const rows = page.getByTestId('attempts').locator('tbody tr');
    // The table loads apart from the health panel.
    await rows.first().waitFor();
    assert.equal(await rows.count(), 1);
    assert.match((await rows.first().textContent()) ?? '', /success 200/);
    assert.equal(await page.locator('.uplot canvas').count(), 2, 'two charts drawn');
    await shot(page, 'endpoint', 'desktop');

    // The inspector shows the exact request and the response.
    await rows
      .first()
      .getByRole('link', { name: /^Inspect/ })
      .click();
    await page.getByRole('heading', { name: /^Attempt atmpt_/ }).waitFor();
    const reqHeaders = page.getByRole('table', { name: 'Request headers' });
    await reqHeaders.waitFor();
    const sentHeaders = receiver.requests[0]!.headers;
    for (const h of ['webhook-id', 'webhook-signature', 'webhook-timestamp']) {
      const row = reqHeaders.getByRole('row', { name: new RegExp(`^${h}`) });
      assert.equal(await row.locator('td').textContent(), sentHeaders[h], h);
    }
    assert.equal(await page.getByTitle('Request body').textContent(), receiver.requests[0]!.body.toString());
    assert.equal(await page.getByTitle('Response body').textContent(), 'ok');
    await page.getByText('HTTP 200').waitFor();
    await shot(page, 'attempt', 'desktop');

    // Resend, with confirmation.
    await page.getByRole('button', { name: 'Resend' }).click();
    const dialog = page.getByRole('dialog', { name: 'Resend this message' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Resend now' }).click();
    await page.getByRole('status').getByText('Queued').waitFor();
    await receiver.waitFor(2);
    assert.equal(receiver.requests[1]!.headers['webhook-id'], sent, 'same webhook-id on resend');

    // The chart data now counts two attempts, the second one manual.
    await page.getByRole('link', { name: 'Endpoint health' }).click();
    await waitForAttemptTotal(2);
    await page.getByText('Chart data').click();
    const buckets = page.getByTestId('series-table').locator('tbody tr');
    let counted = 0;
    for (const row of await buckets.all()) counted += Number(await row.locator('td').nth(1).textContent());
    assert.equal(counted, 2, 'chart data sums to both attempts');
    assert.equal(await page.getByTestId('attempts').locator('tbody tr').count(), 2);
    await page.getByTestId('attempts').getByText('manual').waitFor();

    // Bulk recover asks first, then reports what the API queued (nothing failed here).
    await page.getByRole('button', { name: 'Recover failed messages' }).click();
    const recover = page.getByRole('dialog', { name: 'Recover failed messages' });
    await recover.getByLabel('Since').waitFor();
    await recover.getByRole('button', { name: 'Recover' }).click();
    await page.getByRole('status').getByText('0 messages queued again').waitFor();
    assert.equal(await recover.isVisible(), false, 'the dialog closes');

    // Messages search by event type finds the message; its page lists both attempts.
    await page.goto(`${server.url}/apps/acme/messages`);
    await page.getByLabel('Event types').fill('invoice.paid');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('messages').getByRole('link', { name: sent! }).click();
    await page.getByRole('heading', { name: `Message ${sent}` }).waitFor();
    // The attempts load after the page itself: wait for them, then count.
    await page.getByTestId('attempts').locator('tbody tr').nth(1).waitFor();
    assert.equal(await page.getByTestId('attempts').locator('tbody tr').count(), 2);
    await shot(page, 'message', 'desktop');
    // Search by endpoint and status lists attempts; a search for failures finds none.
    await page.goto(`${server.url}/apps/acme/messages`);
    await page.getByLabel('Endpoint (lists attempts)').selectOption(endpointId);
    await page.getByLabel('Attempt status').selectOption('0');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByTestId('attempts').waitFor();
    // The rows may arrive after the table: wait for them, then count.
    await page.getByTestId('attempts').locator('tbody tr').nth(1).waitFor();
    assert.equal(await page.getByTestId('attempts').locator('tbody tr').count(), 2);
    await shot(page, 'messages', 'desktop');
    await page.getByLabel('Attempt status').selectOption('2');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No attempts.').waitFor();
    await page.goto(`${server.url}/apps/acme`);
    await page.getByText('24 h: 2 attempts').waitFor();
    await shot(page, 'app', 'desktop');

    // An API error is shown with its code and detail.
    await page.goto(`${server.url}/apps/acme/msg/msg_missing`);
    await page.getByRole('alert').getByText('not_found').waitFor();

    // Log out forgets the token.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin token').waitFor();
    assert.equal(await page.evaluate<number>('sessionStorage.length'), 0);
    assert.deepEqual(browserErrors, []);
  });

  test('create a Slack chat destination with a message template', async () => {
    await signInFresh();
    await page.goto(`${server.url}/apps/acme/endpoints/new`);
    await page.getByRole('heading', { name: 'Create endpoint' }).waitFor();
    await page.getByLabel('URL').fill(`${receiver.url}/slack`);
    await page.getByLabel('Destination').selectOption('slack');
    await page.getByLabel('Message template').fill('{"text": ');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('alert').getByText('not valid JSON').waitFor();
    await page.getByLabel('Message template').fill('{"text": "{{ eventType | nope }}"}');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('alert').getByText('nope').waitFor();
    await page.getByLabel('Message template').fill('{"text": "{{ eventType }} paid"}');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
    const endpointId = new URL(page.url()).pathname.split('/').pop()!;
    const created = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}`);
    assert.equal(created.body.kind, 'slack');
    assert.deepEqual(created.body.template, { text: '{{ eventType }} paid' });

    // The attempt inspector shows the body that was sent: the rendered chat message, not the payload.
    const msg = await server.call('POST', '/api/v1/app/acme/msg', {
      eventType: 'invoice.paid',
      payload: { invoiceId: 'inv_chat' },
    });
    assert.equal(msg.status, 202);
    let attemptId: string | undefined;
    for (let i = 0; i < 40 && !attemptId; i++) {
      const list = await server.call('GET', `/api/v1/app/acme/attempt/endpoint/${endpointId}`);
      attemptId = list.body.data[0]?.id;
      if (!attemptId) await page.waitForTimeout(250);
    }
    assert.ok(attemptId, 'the Slack endpoint got an attempt');
    await page.goto(`${server.url}/apps/acme/msg/${msg.body.id}/attempt/${attemptId}`);
    await page.getByRole('heading', { name: `Attempt ${attemptId}` }).waitFor();
    assert.equal(await page.getByTitle('Request body').textContent(), '{"text":"invoice.paid paid"}');
    assert.equal((await server.call('DELETE', `/api/v1/app/acme/endpoint/${endpointId}`)).status, 204);
  });

  test('inbound source: create it, see signed, forged and repeated requests, inspect the raw request, replay', async () => {
    const dest = await startReceiver();
    try {
      await signInFresh();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sources' }).click();
      await page.getByRole('heading', { name: 'Sources' }).waitFor();
      await page.getByText('No sources yet.').waitFor();

      // Create a Standard Webhooks source with two destinations through the form.
      const secret = `whsec_${randomBytes(32).toString('base64')}`;
      await page.getByRole('link', { name: 'Create source' }).click();
      await page.getByRole('heading', { name: 'Create source' }).waitFor();
      // Every scheme the server accepts is offered, in the server's order.
      const schemeOptions = page.getByLabel('Scheme').locator('option');
      const offered: (string | null)[] = [];
      for (let i = 0; i < (await schemeOptions.count()); i++)
        offered.push(await schemeOptions.nth(i).getAttribute('value'));
      assert.deepEqual(offered, [...SOURCE_SCHEMES]);
      await page.getByLabel('Name').fill('clerk-users');
      await page.getByLabel('Description').fill('Clerk user events');
      await page.getByLabel('Scheme').selectOption('standard-webhooks');
      await page.getByLabel('Signing secret').fill(secret);
      await page.getByLabel('Drop repeats of').selectOption('provider');
      await page.getByLabel('Destination URL').fill(`${dest.url}/hooks/clerk`);
      await page.getByLabel(/^Event types/).fill('user.created');
      await page.getByRole('button', { name: 'Add destination' }).click();
      await page.locator('#dest-url-1').fill(`${dest.url}/audit`);
      await page.locator('#dest-types-1').fill('user.deleted, user.banned');
      await shot(page, 'source-new', 'desktop');
      await page.getByRole('button', { name: 'Create source' }).click();
      await page.getByRole('heading', { name: 'Source clerk-users' }).waitFor();
      const sourcePath = new URL(page.url()).pathname;
      const sourceId = sourcePath.split('/').pop()!;
      assert.match(sourceId, /^src_/);
      const saved = await server.call('GET', '/api/v1/source/clerk-users');
      assert.equal(saved.status, 200);
      assert.equal(saved.body.id, sourceId);
      assert.equal(saved.body.verification.scheme, 'standard-webhooks');
      assert.equal(saved.body.verification.secretCount, 1);
      assert.deepEqual(
        saved.body.destinations.map((d: { url: string; eventTypes: string[] }) => [d.url, d.eventTypes]),
        [
          [`${dest.url}/hooks/clerk`, ['user.created']],
          [`${dest.url}/audit`, ['user.deleted', 'user.banned']],
        ],
      );
      assert.deepEqual(saved.body.dedupe, { header: null, jsonPath: null, windowSeconds: 86400 });
      // The page shows where the provider posts, never the verification secret.
      assert.equal(await page.getByLabel('Provider posts to').inputValue(), `${server.url}/in/clerk-users`);
      assert.equal(await page.getByTestId('destinations').locator('tbody tr').count(), 2);
      assert.equal(await page.getByText(secret).count(), 0, 'the verification secret is not shown');
      await page.getByRole('button', { name: 'Reveal forwarding secret' }).click();
      const forwardSecret = (await server.call('GET', '/api/v1/source/clerk-users/secret')).body.key;
      assert.equal(await page.getByLabel('Forwarding secret').inputValue(), forwardSecret);
      await page.getByRole('button', { name: 'Hide secret' }).click();
      await shot(page, 'source', 'desktop');

      // A second source with the same name is refused with the API's code and detail.
      await page.goto(`${server.url}/sources/new`);
      await page.getByLabel('Name').fill('clerk-users');
      await page.getByLabel('Signing secret').fill(secret);
      await page.getByLabel('Destination URL').fill(`${dest.url}/other`);
      await page.getByRole('button', { name: 'Create source' }).click();
      await page.getByRole('alert').getByText('conflict').waitFor();
      await page.getByRole('alert').getByText('a source named "clerk-users" exists already').waitFor();

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sources' }).click();
      const card = page.getByTestId('sources').locator('li');
      await card.first().waitFor();
      assert.equal(await card.count(), 1);
      assert.match(
        (await card.textContent()) ?? '',
        /standard-webhooks · 2 destinations · Clerk user events/,
      );
      assert.equal(await card.getByRole('textbox').inputValue(), `${server.url}/in/clerk-users`);
      await shot(page, 'sources', 'desktop');

      // A request signed by the standardwebhooks library, a forged binary one, and a repeat.
      const body = JSON.stringify({ type: 'user.created', data: { id: 'u_1', email: 'ada@example.com' } });
      const webhookId = `msg_${randomBytes(8).toString('hex')}`;
      const ts = new Date();
      const signedHeaders = {
        'content-type': 'application/json',
        'webhook-id': webhookId,
        'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(webhookId, ts, body),
      };
      const post = (headers: Record<string, string>, b: string | Buffer) =>
        fetch(`${server.url}/in/clerk-users`, { method: 'POST', headers, body: b });
      const ok = await post(signedHeaders, body);
      assert.equal(ok.status, 200);
      const accepted = ((await ok.json()) as { id: string; status: string }).id;
      const binary = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
      const forged = await post(
        {
          'content-type': 'application/octet-stream',
          'webhook-id': `msg_${randomBytes(8).toString('hex')}`,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': `v1,${randomBytes(32).toString('base64')}`,
        },
        binary,
      );
      assert.equal(forged.status, 401);
      const forgedCode = ((await forged.json()) as { code: string }).code;
      assert.equal(forgedCode, 'no_matching_signature');
      const rejected = forged.headers.get('hookline-event-id')!;
      const again = await post(signedHeaders, body);
      assert.equal(again.status, 200);
      const repeat = (await again.json()) as { id: string; status: string; duplicateOf: string };
      assert.equal(repeat.status, 'duplicate');
      assert.equal(repeat.duplicateOf, accepted);
      await dest.waitFor(1);
      assert.equal(dest.requests[0]!.url, '/hooks/clerk');
      assert.equal(dest.requests[0]!.body.toString(), body);

      // All three are in the events list with their status; the filter narrows it.
      await page.getByRole('link', { name: 'clerk-users' }).click();
      await page.getByRole('link', { name: 'Events', exact: true }).click();
      await page.getByRole('heading', { name: 'Events of clerk-users' }).waitFor();
      const rows = page.getByTestId('events').locator('tbody tr');
      await rows.nth(2).waitFor();
      const rowOf = (id: string) =>
        rows.filter({ has: page.locator('td:first-child').getByRole('link', { name: `event ${id}` }) });
      assert.equal(await rows.count(), 3);
      assert.match((await rowOf(accepted).textContent()) ?? '', /accepted.*user\.created/);
      assert.match((await rowOf(rejected).textContent()) ?? '', /rejected.*no_matching_signature/);
      assert.match((await rowOf(repeat.id).textContent()) ?? '', /duplicate/);
      const original = rowOf(repeat.id).getByRole('link', { name: /^original/ });
      assert.equal(await original.getAttribute('href'), `/sources/${sourceId}/events/${accepted}`);
      // Time filter: nothing was received before an hour ago; everything after.
      const hourAgo = new Date(Date.now() - 3_600_000 - new Date().getTimezoneOffset() * 60_000)
        .toISOString()
        .slice(0, 16);
      await page.getByLabel('Received before').fill(hourAgo);
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('No events match.').waitFor();
      await page.getByLabel('Received before').fill('');
      await page.getByLabel('Received after').fill(hourAgo);
      await page.getByRole('button', { name: 'Filter' }).click();
      await rows.nth(2).waitFor();
      assert.equal(await rows.count(), 3);
      await page.getByLabel('Status').selectOption('rejected');
      /** Waits (bounded) until the list shows only `status` rows, one of them. */
      const waitForOnly = async (status: string) => {
        for (let i = 0; i < 40; i++) {
          const texts = await rows.allTextContents();
          if (texts.length === 1 && texts[0]!.includes(status)) return;
          await page.waitForTimeout(100);
        }
        assert.deepEqual(await rows.allTextContents(), [status]);
      };
      await waitForOnly('rejected');
      await shot(page, 'source-events', 'desktop');
      await page.getByLabel('Status').selectOption('accepted');
      await waitForOnly('accepted');
      await rows
        .first()
        .getByRole('link', { name: / event msg_/ })
        .click();

      // The accepted event: the raw body exactly as posted, headers in the order received.
      await page.getByRole('heading', { name: `Event ${accepted}` }).waitFor();
      await page.getByTestId('verdict').getByText('Signature verified (standard-webhooks)').waitFor();
      assert.deepEqual(
        JSON.parse((await page.getByTitle('Request body').textContent()) ?? ''),
        JSON.parse(body),
      );
      await page.getByLabel('Raw').check();
      assert.equal(await page.getByTitle('Request body').textContent(), body);
      const detail = await server.call('GET', `/api/v1/source/clerk-users/event/${accepted}`);
      const shownNames = await page
        .getByRole('table', { name: 'Request headers' })
        .locator('th')
        .allTextContents();
      assert.deepEqual(
        shownNames,
        detail.body.headers.map((h: [string, string]) => h[0]),
      );
      const sigRow = page
        .getByRole('table', { name: 'Request headers' })
        .getByRole('row', { name: /^webhook-id/ });
      assert.equal(await sigRow.locator('td').textContent(), webhookId);

      // Its forward: one attempt at the matching destination, none at the other.
      const forwards = page.getByTestId('forward');
      const clerkAttempts = forwards.filter({ hasText: '/hooks/clerk' }).locator('tbody tr');
      const waitForForwards = async (n: number) => {
        for (let i = 0; i < 40 && (await clerkAttempts.count()) < n; i++) {
          await page.waitForTimeout(250);
          await page.getByRole('button', { name: 'Refresh' }).click();
        }
        assert.equal(await clerkAttempts.count(), n);
      };
      await waitForForwards(1);
      assert.match((await clerkAttempts.first().textContent()) ?? '', /success 200/);
      await forwards.filter({ hasText: '/audit' }).getByText('Not forwarded').waitFor();
      await shot(page, 'source-event', 'desktop');

      // Replay, with confirmation: the destination gets it again with the same webhook-id. The
      // keyboard reaches it from the heading, and Escape backs out of the dialog.
      await page.getByRole('heading', { name: `Event ${accepted}` }).focus();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate<string>('document.activeElement?.textContent'), 'Copy event id');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate<string>('document.activeElement?.textContent'), 'Replay');
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'Replay this event' });
      await dialog.waitFor();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(dest.requests.length, 1, 'nothing replayed without confirmation');
      await page.getByRole('button', { name: 'Replay' }).click();
      await dialog.getByLabel('To').selectOption({ label: `${dest.url}/hooks/clerk` });
      await dialog.getByRole('button', { name: 'Replay now' }).click();
      await page.getByRole('status').getByText('Queued 1 delivery').waitFor();
      await dest.waitFor(2);
      assert.equal(dest.requests[1]!.headers['webhook-id'], accepted);
      assert.equal(dest.requests[1]!.body.toString(), body);
      await waitForForwards(2);
      await clerkAttempts.getByText('manual').waitFor();

      // The attempt inspector shows the forwarded request: the provider's bytes.
      await clerkAttempts
        .first()
        .getByRole('link', { name: /^Inspect/ })
        .click();
      await page.getByRole('heading', { name: /^Attempt atmpt_/ }).waitFor();
      await page.getByLabel('Raw').check();
      assert.equal(await page.getByTitle('Request body').textContent(), body);
      const fwdHeaders = page.getByRole('table', { name: 'Request headers' });
      const fwdId = fwdHeaders.getByRole('row', { name: /^webhook-id/ });
      assert.equal(await fwdId.locator('td').textContent(), accepted);
      await shot(page, 'source-attempt', 'desktop');

      // The forged request: the verdict with code and detail, the binary body as a hex dump, no replay.
      await page.goto(`${server.url}/sources/${sourceId}/events/${rejected}`);
      const verdict = page.getByTestId('verdict');
      await verdict.getByText('no_matching_signature').waitFor();
      assert.match((await verdict.textContent()) ?? '', /Rejected: failed verification/);
      const hex = (await page.getByTitle('Request body').textContent()) ?? '';
      assert.ok(hex.startsWith('00000000  00 01 02 03 04 05 06 07'), hex.slice(0, 80));
      await page.getByLabel('Base64').check();
      assert.equal(await page.getByTitle('Request body').textContent(), binary.toString('base64'));
      assert.equal(await page.getByRole('button', { name: 'Replay' }).count(), 0);
      await shot(page, 'source-event-rejected', 'desktop');

      // The repeat links to the event it duplicates.
      await page.goto(`${server.url}/sources/${sourceId}/events/${repeat.id}`);
      await page.getByTestId('verdict').getByRole('link', { name: accepted }).click();
      await page.getByRole('heading', { name: `Event ${accepted}` }).waitFor();

      // An unknown event is an API error with its code.
      await page.goto(`${server.url}/sources/${sourceId}/events/msg_missing`);
      await page.getByRole('alert').getByText('not_found').waitFor();

      // The list pages by 50: 51 requests to an unverified source make two pages.
      const open = await server.call('POST', '/api/v1/source', {
        name: 'open.hooks',
        verification: { scheme: 'none' },
        dedupe: null,
        destinations: [{ url: `${dest.url}/open` }],
      });
      assert.equal(open.status, 201);
      for (let i = 0; i < 51; i++) {
        const res = await fetch(`${server.url}/in/open.hooks`, { method: 'POST', body: `{"n":${i}}` });
        assert.equal(res.status, 200);
      }
      await page.goto(`${server.url}/sources/${open.body.id}/events`);
      await rows.nth(49).waitFor();
      assert.equal(await rows.count(), 50);
      assert.match((await rows.first().textContent()) ?? '', /accepted.*inbound/);
      await page.getByRole('button', { name: 'Older events' }).click();
      await page.getByRole('button', { name: 'Older events' }).waitFor({ state: 'detached' });
      assert.equal(await rows.count(), 1);
      await page.getByRole('button', { name: 'Newest events' }).waitFor();
      await rows
        .first()
        .getByRole('link', { name: / event msg_/ })
        .click();
      await page.getByRole('heading', { name: /^Event msg_/ }).waitFor();
      await page.getByTestId('verdict').getByText('Accepted without verification (scheme none)').waitFor();
      await page.getByLabel('Raw').check();
      assert.equal(await page.getByTitle('Request body').textContent(), '{"n":0}', 'the oldest is on page 2');

      // A big body scrolls inside its box; the page keeps its width.
      const items = Array.from({ length: 2000 }, (_, i) => ({ sku: `sku-${i}`, qty: i }));
      const big = await fetch(`${server.url}/in/open.hooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'order.created', items }),
      });
      const bigId = ((await big.json()) as { id: string }).id;
      await page.goto(`${server.url}/sources/${open.body.id}/events/${bigId}`);
      const bigBody = page.getByTitle('Request body');
      await bigBody.waitFor();
      assert.deepEqual(JSON.parse((await bigBody.textContent()) ?? ''), { type: 'order.created', items });
      const box = await page.evaluate<{ scroll: number; client: number }>(
        `(() => { const e = document.querySelector('pre.code[title="Request body"]'); return { scroll: e.scrollHeight, client: e.clientHeight }; })()`,
      );
      assert.ok(box.scroll > box.client * 10, `the body box scrolls (${box.scroll} > ${box.client})`);
      await shot(page, 'source-event-big', 'desktop');

      // A handshake (Dropbox's GET challenge) is listed as such and offers no replay.
      const dropbox = await server.call('POST', '/api/v1/source', {
        name: 'dropbox',
        verification: { scheme: 'none' },
        handshake: { challenge: { preset: 'dropbox' } },
        destinations: [{ url: `${dest.url}/dropbox` }],
      });
      assert.equal(dropbox.status, 201);
      const challenged = await fetch(`${server.url}/in/dropbox?challenge=c-42`);
      assert.equal(await challenged.text(), 'c-42');
      await page.goto(`${server.url}/sources/${dropbox.body.id}/events`);
      await rows.first().waitFor();
      assert.match((await rows.first().textContent()) ?? '', /handshake.*answered, not forwarded/);
      await rows
        .first()
        .getByRole('link', { name: / event msg_/ })
        .click();
      await page.getByTestId('verdict').getByText('Handshake', { exact: true }).waitFor();
      await page.getByText('GET /in/dropbox').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Replay' }).count(), 0);
      assert.deepEqual(browserErrors, []);
    } finally {
      await dest.close();
    }
  });

  test('source page: chat destinations, the IP allowlist and handshakes', async () => {
    const created = await server.call('POST', '/api/v1/source', {
      name: 'team-alerts',
      verification: { scheme: 'github', secrets: ['gh-secret'] },
      allowedIps: ['192.0.2.0/24', '2001:db8::/32'],
      handshake: { challenge: { preset: 'graph' } },
      destinations: [{ url: 'https://hooks.example.com/slack', kind: 'slack' }],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await page.goto(`${server.url}/sources/${created.body.id}`);
    await page.getByRole('heading', { name: 'Source team-alerts' }).waitFor();
    const definition = page.getByTestId('source-definition');
    const row = (name: string) => definition.getByRole('row', { name: new RegExp(`^${name}`) });
    assert.match((await row('Allowed clients').textContent())!, /192\.0\.2\.0\/24, 2001:db8::\/32/);
    assert.match((await row('Handshakes').textContent())!, /graph challenge/);
    assert.match(
      (await page.getByTestId('destinations').textContent())!,
      /hooks\.example\.com\/slack · slack/,
    );
    await shot(page, 'source-chat', 'desktop');
  });

  test('edit and delete an application, archive an event type and delete a source from their pages', async () => {
    const app = await server.call('POST', '/api/v1/app', { name: 'Initech', uid: 'initech' });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    await signInFresh();
    await page.goto(`${server.url}/apps/initech`);
    await page.getByRole('heading', { name: 'Initech' }).waitFor();
    await page.getByRole('button', { name: 'Edit application' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit application' });
    await edit.getByLabel('Name').fill('Initech Corp');
    await edit.getByLabel(/^Rate limit/).fill('25');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Initech Corp' }).waitFor();
    const saved = await server.call('GET', '/api/v1/app/initech');
    assert.deepEqual([saved.body.name, saved.body.rateLimit], ['Initech Corp', 25]);
    await page.getByRole('button', { name: 'Delete application' }).click();
    await page
      .getByRole('dialog', { name: 'Delete this application' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await page.getByRole('heading', { name: 'Applications' }).waitFor();
    assert.equal((await server.call('GET', '/api/v1/app/initech')).status, 404);

    // An archived event type leaves the catalog.
    const type = await server.call('POST', '/api/v1/event-type', {
      name: 'temp.event',
      description: 'Short-lived',
    });
    assert.equal(type.status, 201, JSON.stringify(type.body));
    await page.goto(`${server.url}/event-types`);
    await page.getByRole('button', { name: 'Archive temp.event' }).click();
    await page
      .getByRole('dialog', { name: 'Archive temp.event' })
      .getByRole('button', { name: 'Archive' })
      .click();
    await page.getByRole('heading', { name: 'temp.event', exact: true }).waitFor({ state: 'detached' });
    assert.equal((await server.call('GET', '/api/v1/event-type/temp.event')).body.archived, true);

    const src = await server.call('POST', '/api/v1/source', {
      name: 'short-lived',
      verification: { scheme: 'none' },
      destinations: [{ url: `${receiver.url}/short-lived` }],
    });
    assert.equal(src.status, 201, JSON.stringify(src.body));
    await page.goto(`${server.url}/sources/${src.body.id}`);
    await page.getByRole('button', { name: 'Delete source' }).click();
    await page
      .getByRole('dialog', { name: 'Delete source short-lived' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await page.getByRole('heading', { name: 'Sources' }).waitFor();
    assert.equal((await server.call('GET', `/api/v1/source/${src.body.id}`)).status, 404);
    assert.deepEqual(browserErrors, []);
  });

  test('app portal link: scoped to its application, creates an endpoint, read-only and expired links', async () => {
    const app = await server.call('POST', '/api/v1/app', { name: 'Globex Corp', uid: 'globex' });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    const appId = app.body.id as string;
    const existing = await server.call('POST', `/api/v1/app/${appId}/endpoint`, {
      url: `${receiver.url}/globex/existing`,
      description: 'Existing receiver',
    });
    assert.equal(existing.status, 201, JSON.stringify(existing.body));
    const access = await server.call('POST', '/api/v1/auth/app-portal-access/globex', {});
    assert.equal(access.status, 200, JSON.stringify(access.body));
    const { url, token } = access.body as { url: string; token: string };
    assert.equal(url, `${server.url}/apps/${appId}#key=${token}`);

    const portal = await browser.newPage({ viewport: LAPTOP });
    watch(portal);
    portal.setDefaultTimeout(10_000);
    try {
      // Opening the link signs in with its token, and the token leaves the address bar.
      await portal.goto(url);
      await portal.getByRole('heading', { name: 'Globex Corp' }).waitFor();
      assert.equal(portal.url(), `${server.url}/apps/${appId}`);
      assert.equal(await portal.evaluate<string>("sessionStorage.getItem('hookline.token')"), token);
      await portal.getByText(`${receiver.url}/globex/existing`).waitFor();
      // Only what the token can do is offered: no applications list, no sources.
      const nav = await portal.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
      assert.deepEqual(nav, ['Endpoints', 'Messages', 'Event types', 'Tail', 'Tasks']);
      assert.equal(await portal.getByRole('link', { name: 'Applications' }).count(), 0);
      assert.equal(await portal.getByRole('link', { name: 'Sources' }).count(), 0);
      assert.equal(await portal.getByRole('button', { name: 'Log out' }).count(), 0);
      await shot(portal, 'portal-app', 'desktop');

      // Create an endpoint, subscribed to one event type from the catalog the token reads.
      await portal.getByRole('link', { name: 'Create endpoint' }).click();
      await portal.getByRole('heading', { name: 'Create endpoint' }).waitFor();
      assert.equal(await portal.getByRole('link', { name: 'Applications' }).count(), 0);
      const epUrl = `${receiver.url}/globex/orders`;
      await portal.getByLabel('URL').fill(epUrl);
      await portal.getByLabel('Description').fill('Created in the portal');
      await portal.getByLabel('invoice.paid').check();
      await shot(portal, 'portal-endpoint-new', 'desktop');
      await portal.getByRole('button', { name: 'Create endpoint' }).click();
      await portal.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
      await portal.getByText(epUrl).waitFor();
      const endpointId = new URL(portal.url()).pathname.split('/').pop()!;
      const created = await server.call('GET', `/api/v1/app/${appId}/endpoint/${endpointId}`);
      assert.equal(created.status, 200);
      assert.equal(created.body.url, epUrl);
      assert.deepEqual(created.body.filterTypes, ['invoice.paid']);
      // Its signing secret, pause and resume.
      await portal.getByRole('button', { name: 'Show signing secret' }).click();
      const secret = await server.call('GET', `/api/v1/app/${appId}/endpoint/${endpointId}/secret`);
      assert.equal(await portal.getByLabel('Signing secret', { exact: true }).inputValue(), secret.body.key);
      assert.match(secret.body.key, /^whsec_/);
      await portal.getByRole('button', { name: 'Disable' }).click();
      await portal.getByRole('button', { name: 'Enable' }).waitFor();
      const paused = await server.call('GET', `/api/v1/app/${appId}/endpoint/${endpointId}`);
      assert.equal(paused.body.disabled, true);
      await portal.getByRole('button', { name: 'Enable' }).click();
      await portal.getByRole('button', { name: 'Disable' }).waitFor();
      await shot(portal, 'portal-endpoint', 'desktop');

      // Delete the other endpoint (asks first), back to the application's page.
      await portal.goto(`${server.url}/apps/${appId}/endpoints/${existing.body.id}`);
      await portal.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
      await portal.getByRole('button', { name: 'Delete endpoint' }).click();
      await portal.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
      await portal.getByRole('heading', { name: 'Globex Corp' }).waitFor();
      await portal.getByText(epUrl).waitFor();
      assert.equal(
        (await server.call('GET', `/api/v1/app/${appId}/endpoint/${existing.body.id}`)).status,
        404,
      );
      assert.equal(await portal.getByText(`${receiver.url}/globex/existing`).count(), 0);

      await portal.getByRole('link', { name: 'Messages', exact: true }).click();
      await portal.getByRole('heading', { name: 'Messages' }).waitFor();
      await shot(portal, 'portal-messages', 'desktop');
      await portal.getByRole('link', { name: 'Event types' }).click();
      await portal.getByRole('heading', { name: 'invoice.paid' }).waitFor();
      // The token reads the catalog but cannot publish: no test-event form that would only fail.
      assert.equal(await portal.getByRole('heading', { name: 'Send test event' }).count(), 0);
      await shot(portal, 'portal-event-types', 'desktop');

      // The home page is the application; sources and other applications are not in this portal.
      await portal.goto(server.url);
      await portal.getByRole('heading', { name: 'Globex Corp' }).waitFor();
      await portal.goto(`${server.url}/sources`);
      await portal.getByRole('heading', { name: 'Not in this portal' }).waitFor();
      await portal.goto(`${server.url}/apps/acme`);
      await portal.getByRole('heading', { name: 'Not in this portal' }).waitFor();

      // Phone width: every portal page fits.
      const phone = await browser.newPage({ viewport: PHONE });
      watch(phone);
      phone.setDefaultTimeout(10_000);
      await phone.goto(url);
      await phone.getByRole('heading', { name: 'Globex Corp' }).waitFor();
      for (const [name, path] of [
        ['portal-app', `/apps/${appId}`],
        ['portal-endpoint-new', `/apps/${appId}/endpoints/new`],
        ['portal-endpoint', `/apps/${appId}/endpoints/${endpointId}`],
        ['portal-messages', `/apps/${appId}/messages`],
        ['portal-event-types', `/event-types?app=${appId}`],
      ] as const) {
        await phone.goto(server.url + path);
        await phone.locator('main h1').waitFor();
        await settled(phone);
        const overflow = await phone.evaluate<number>(
          'document.documentElement.scrollWidth - window.innerWidth',
        );
        assert.ok(overflow <= 0, `${name}: page is ${overflow}px wider than the phone screen`);
        await shot(phone, name, 'phone');
      }

      // Sign out forgets the token in this tab; the link itself still works.
      await portal.goto(`${server.url}/apps/${appId}`);
      await portal.getByRole('button', { name: 'Sign out' }).click();
      await portal.getByRole('heading', { name: 'You signed out' }).waitFor();
      assert.equal(await portal.evaluate<number>('sessionStorage.length'), 0);

      // A read-only link: a change is refused, and the page shows the API's code and detail.
      const ro = await server.call('POST', '/api/v1/auth/app-portal-access/globex', { readOnly: true });
      assert.equal(ro.status, 200, JSON.stringify(ro.body));
      await portal.goto(ro.body.url);
      await portal.getByRole('heading', { name: 'Globex Corp' }).waitFor();
      await portal.getByRole('link', { name: 'Create endpoint' }).click();
      await portal.getByLabel('URL').fill(`${receiver.url}/globex/refused`);
      await portal.getByRole('button', { name: 'Create endpoint' }).click();
      await portal.getByRole('alert').getByText('insufficient_access').waitFor();
      await portal.getByRole('alert').getByText('read-only').waitFor();

      // A revoked (logged out) link shows that it expired, on a page already open and on a new visit.
      await phone.goto(`${server.url}/apps/${appId}`);
      await phone.getByRole('heading', { name: 'Globex Corp' }).waitFor();
      // Every request of the page answered before the token is revoked: the next one meets it.
      await phone.getByText('24 h: 0 attempts').waitFor();
      await settled(phone);
      const logout = await server.call('POST', '/api/v1/auth/logout', undefined, {
        authorization: `Bearer ${token}`,
      });
      assert.equal(logout.status, 204);
      await phone.getByRole('link', { name: 'Messages', exact: true }).click();
      await phone.getByRole('heading', { name: 'This link has expired' }).waitFor();
      await phone.getByRole('alert').getByText('authentication_failed').waitFor();
      assert.equal(await phone.evaluate<string | null>("sessionStorage.getItem('hookline.token')"), null);
      await shot(phone, 'portal-expired', 'phone');
      await phone.close();
      await portal.goto(url);
      await portal.getByRole('heading', { name: 'This link has expired' }).waitFor();
      assert.equal(portal.url(), `${server.url}/apps/${appId}`);
      await shot(portal, 'portal-expired', 'desktop');
      // Expired by time: a token of one second, past its expiry (bounded wait).
      const short = await server.call('POST', '/api/v1/auth/app-portal-access/globex', { expiry: 1 });
      assert.equal(short.status, 200, JSON.stringify(short.body));
      for (let i = 0; i < 40; i++) {
        const r = await server.call('GET', `/api/v1/app/${appId}`, undefined, {
          authorization: `Bearer ${short.body.token}`,
        });
        if (r.status === 401) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await portal.goto(short.body.url);
      await portal.getByRole('heading', { name: 'This link has expired' }).waitFor();
      await portal.getByRole('alert').getByText('this token expired').waitFor();
      assert.deepEqual(browserErrors, []);
    } finally {
      await portal.close();
    }
  });

  test('every main page fits a phone-width screen, and the keyboard reaches the controls', async () => {
    const phone = await browser.newPage({ viewport: PHONE });
    watch(phone);
    phone.setDefaultTimeout(10_000);
    await phone.goto(server.url);
    await phone.getByLabel('Admin token').waitFor();
    await shot(phone, 'login', 'phone');
    await phone.getByLabel('Admin token').fill(server.token);
    await phone.keyboard.press('Enter');
    await phone.getByRole('heading', { name: 'Overview' }).waitFor();
    assert.ok(visited.length >= 7, `${visited.length} pages visited`);
    for (const v of visited.filter((x) => x.name !== 'login')) {
      await phone.goto(server.url + v.path);
      await phone.locator('main h1').waitFor();
      await settled(phone);
      const overflow = await phone.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      assert.ok(overflow <= 0, `${v.name}: page is ${overflow}px wider than the phone screen`);
      await shot(phone, v.name, 'phone');
    }
    // Navigation moves focus to the page heading, so Tab continues inside the new page.
    await phone.goto(`${server.url}/apps/acme`);
    await phone.getByRole('heading', { name: 'Acme Store' }).waitFor();
    await phone.waitForFunction(
      () => (globalThis as unknown as InPage).document.activeElement?.tagName === 'H1',
    );
    await phone.keyboard.press('Tab');
    assert.match(await phone.evaluate<string>('document.activeElement?.textContent'), /^Copy application id/);
    await phone.keyboard.press('Tab');
    assert.equal(await phone.evaluate<string>('document.activeElement?.textContent'), 'Create endpoint');
    const outline = await phone.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    assert.equal(outline, 'solid', 'the focused control shows an outline');
    await phone.keyboard.press('Enter');
    await phone.getByRole('heading', { name: 'Create endpoint' }).waitFor();
    await phone.waitForFunction(
      () => (globalThis as unknown as InPage).document.activeElement?.tagName === 'H1',
    );
    await phone.keyboard.press('Tab');
    assert.equal(
      await phone.evaluate<string>('document.activeElement?.id'),
      'ep-url',
      'Tab reaches the form',
    );
    // The skip link shows itself when focused, and leads to the content.
    const skipLink = phone.getByRole('link', { name: 'Skip to content' });
    await skipLink.focus();
    const box = await skipLink.boundingBox();
    assert.ok(box && box.x >= 0 && box.y >= 0, 'skip link visible on focus');
    await phone.close();
    assert.deepEqual(browserErrors, []);
  });
});
