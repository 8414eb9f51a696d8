/**
 * A new user's first ten minutes with the dashboard, in a real browser (Debian's Chromium driven by
 * playwright-core) against a real Hookline and real receivers, as the admin and through an app
 * portal link: sign in, create an application, an event type and an endpoint, send a test event
 * and see it arrive live on the overview and the message page, break the endpoint and watch it
 * turn failing, recover, inspect an attempt (copy as curl), receive a signed and a forged inbound
 * request and see the verdicts live on the Tail page and on the request's page.
 *
 * Every page visited is checked with axe-core: no serious or critical accessibility violation.
 * Screenshots of each step go to test/artifacts/dashboard/ (kept by CI); with
 * HOOKLINE_README_SHOTS=1 (`npm run screenshots`) the README's three are written to docs/img/.
 *
 * Browser-side code is passed to Playwright as strings: this file is typechecked without the DOM
 * library. Without /usr/bin/chromium the test is skipped, unless CI=true (then it fails).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_DASHBOARD_DIR } from '../src/api/dashboard.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, 'artifacts/dashboard');
const README_SHOTS = join(import.meta.dirname, '../../../docs/img');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing; CI must install it (apt-get install -y chromium, see .ci/run)`);
}
const skip = haveChromium
  ? false
  : `${CHROMIUM} not found: install Debian's Chromium to run the browser test`;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

describe('a new user in the dashboard', { skip }, () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let browser: Browser;
  let context: BrowserContext;
  const browserErrors: string[] = [];
  /** Pages checked for accessibility, for the final count. */
  const checked = new Set<string>();
  let step = 0;

  const open = async (): Promise<Page> => {
    const p = await context.newPage();
    p.setDefaultTimeout(10_000);
    p.on('pageerror', (e) => browserErrors.push(`${p.url()}: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        browserErrors.push(`${p.url()}: ${m.text()}`);
    });
    return p;
  };

  /** axe-core on the page as it is now: no serious or critical violation. */
  const a11y = async (p: Page, name: string) => {
    if (!(await p.evaluate<boolean>('typeof window.axe !== "undefined"')))
      await p.addScriptTag({ content: AXE });
    const violations = await p.evaluate<Violation[]>(`
      axe.run(document, { resultTypes: ['violations'] }).then((r) =>
        r.violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))`);
    assert.deepEqual(violations, [], `${name}: accessibility violations`);
    checked.add(name);
  };

  /** Accessibility check, then a screenshot numbered in step order. */
  const t0 = Date.now();
  const mark = (label: string) => {
    if (process.env.HOOKLINE_TOUR_TIMES) console.log(`  ${label}`, Date.now() - t0);
  };
  const visit = async (p: Page, name: string, readme?: string) => {
    if (process.env.HOOKLINE_TOUR_TIMES) console.log(name, Date.now() - t0);
    await a11y(p, name);
    mark(`${name}: axe done`);
    step++;
    const file = join(SHOTS, `${String(step).padStart(2, '0')}-${name}.png`);
    await p.screenshot({ path: file });
    mark(`${name}: shot`);
    if (readme && process.env.HOOKLINE_README_SHOTS === '1') {
      mkdirSync(README_SHOTS, { recursive: true });
      await p.screenshot({ path: join(README_SHOTS, `${readme}.png`) });
    }
  };

  before(async () => {
    assert.ok(
      existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html')),
      'the dashboard is not built: run "npm install"',
    );
    // Only this run's steps in the folder.
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    // Quick retries: a broken endpoint gives up within seconds, so recovery can be shown.
    server = await startHookline({ env: { HOOKLINE_RETRY_SCHEDULE: '0.5,0.5' } });
    receiver = await startReceiver();
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
    // The dashboard's CSP allows its own scripts only; the test injects axe-core.
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await receiver?.close();
  });

  test('admin: sign in, set up, send, watch it live, break, recover, inspect, receive', async () => {
    const page = await open();
    await page.goto(server.url);
    await page.getByLabel('Admin token').waitFor();
    await visit(page, 'sign-in');
    await page.getByLabel('Admin token').fill(server.token);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByTestId('live').getByText('Live').waitFor();
    assert.equal(await page.getByTestId('ov-attempts').textContent(), '0');
    // Nothing delivered yet: the next step, down to the curl that sends a first message.
    const firstCurl = (await page.getByTitle('Send a first message with curl').textContent()) ?? '';
    assert.match(firstCurl, new RegExp(`^curl -X POST ${server.url}/api/v1/app/\\$APP_ID/msg`));
    await visit(page, 'overview-empty');

    // Create an application from the keyboard: the button, the dialog's fields, Enter submits.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Applications' }).click();
    await page.getByText('No applications yet').waitFor();
    await visit(page, 'applications-empty');
    await page.getByRole('button', { name: 'Create application' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Create application' });
    await dialog.waitFor();
    await page.keyboard.type('Acme Store');
    await page.keyboard.press('Tab');
    await page.keyboard.type('acme');
    await visit(page, 'application-new');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Acme Store' }).waitFor();
    const app = await server.call('GET', '/api/v1/app/acme');
    assert.equal(app.status, 200);
    assert.equal(app.body.name, 'Acme Store');
    await page.getByText('No endpoints yet').waitFor();
    // Ids are set in a monospace face (I and l differ), with a copy button.
    const idFont = await page.evaluate<string>(
      `getComputedStyle(document.querySelector('.id code')).fontFamily`,
    );
    assert.match(idFont, /monospace/);
    await page.getByRole('button', { name: `Copy application id ${app.body.id}` }).waitFor();
    await visit(page, 'application');

    // An event type with a schema; an example that does not fit it is refused before sending.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Event types' }).click();
    await page.getByRole('button', { name: 'Create event type' }).click();
    const et = page.getByRole('dialog', { name: 'Create event type' });
    await et.getByLabel('Name').fill('invoice.paid');
    await et.getByLabel('Description').fill('An invoice was paid in full.');
    await et.getByLabel('Payload JSON Schema').fill(
      JSON.stringify({
        type: 'object',
        properties: { invoiceId: { type: 'string' }, amount: { type: 'integer' } },
        required: ['invoiceId'],
      }),
    );
    await et.getByLabel('Example payload').fill('{"amount": 4200}');
    await et.getByRole('button', { name: 'Create', exact: true }).click();
    await et.getByRole('alert').getByText('invoiceId is required').waitFor();
    await visit(page, 'event-type-new');
    await et.getByLabel('Example payload').fill('{"invoiceId": "inv_1001", "amount": 4200}');
    await et.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name: 'invoice.paid' }).waitFor();
    const created = await server.call('GET', '/api/v1/event-type/invoice.paid');
    assert.deepEqual(created.body.schemas['1'].examples, [{ invoiceId: 'inv_1001', amount: 4200 }]);

    // Its own retry schedule and payload checks; then back to the server's defaults.
    const editType = async () => {
      await page.getByRole('button', { name: 'Edit invoice.paid' }).click();
      const dialog = page.getByRole('dialog', { name: 'Edit invoice.paid' });
      await dialog.locator('input[id$="-retry"]:not([disabled])').waitFor();
      return dialog;
    };
    let typeDialog = await editType();
    await typeDialog.getByLabel('Retry schedule').fill('1, two');
    await typeDialog.getByRole('button', { name: 'Save' }).click();
    await typeDialog.getByRole('alert').getByText('"two" is not').waitFor();
    await typeDialog.getByLabel('Retry schedule').fill('1, 2.5');
    await typeDialog.getByLabel('Check payloads against the schema').selectOption('on');
    await visit(page, 'event-type-edit');
    await typeDialog.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Payloads are checked against the schema.').waitFor();
    const schedule = await server.call('GET', '/api/v1/event-type/invoice.paid/retry-schedule');
    assert.deepEqual(schedule.body.retrySchedule, [
      { secs: 1, nanos: 0 },
      { secs: 2, nanos: 500_000_000 },
    ]);
    assert.equal((await server.call('GET', '/api/v1/event-type/invoice.paid')).body.validatePayload, true);
    typeDialog = await editType();
    assert.equal(await typeDialog.getByLabel('Retry schedule').inputValue(), '1, 2.5');
    assert.equal(await typeDialog.getByLabel('Check payloads against the schema').inputValue(), 'on');
    await typeDialog.getByLabel('Retry schedule').fill('');
    await typeDialog.getByLabel('Check payloads against the schema').selectOption('default');
    await typeDialog.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Payloads are checked against the schema.').waitFor({ state: 'detached' });
    const reset = await server.call('GET', '/api/v1/event-type/invoice.paid/retry-schedule');
    assert.equal(reset.body.retrySchedule, null);
    assert.equal((await server.call('GET', '/api/v1/event-type/invoice.paid')).body.validatePayload, null);

    // An endpoint with most of its fields.
    await page.goto(`${server.url}/apps/acme`);
    await page.getByRole('link', { name: 'Create endpoint' }).first().click();
    const url = `${receiver.url}/hooks/billing`;
    await page.getByLabel('URL').fill(url);
    await page.getByLabel('Description').fill('Billing service');
    await page.getByLabel('invoice.paid').check();
    await page.getByLabel('Rate limit (per second)').fill('50');
    await page.getByLabel('Custom headers').fill('X-Team: billing');
    await visit(page, 'endpoint-new');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
    const endpointPath = new URL(page.url()).pathname;
    const endpointId = endpointPath.split('/').pop()!;
    const ep = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}`);
    assert.deepEqual([ep.body.url, ep.body.rateLimit, ep.body.filterTypes], [url, 50, ['invoice.paid']]);
    await visit(page, 'endpoint');

    // The overview in one tab, Send test event in another: the attempt arrives live.
    await page.goto(server.url);
    await page.getByTestId('live').getByText('Live').waitFor();
    // A second tab signs in again (the token is kept per tab).
    const sender = await open();
    await sender.goto(`${server.url}/event-types?app=acme`);
    await sender.getByLabel('Admin token').fill(server.token);
    await sender.keyboard.press('Enter');
    await sender.getByRole('heading', { name: 'Send test event' }).waitFor();
    // The application named by uid in the link is selected (it used to be blank).
    assert.equal(await sender.getByLabel('Application').inputValue(), app.body.id);
    assert.deepEqual(JSON.parse(await sender.getByLabel('Payload (JSON object)').inputValue()), {
      invoiceId: 'inv_1001',
      amount: 4200,
    });
    await visit(sender, 'send-test-event');
    await sender.getByRole('button', { name: 'Send test event' }).click();
    const msgId = (await sender.getByRole('status').getByRole('link').textContent())!;
    assert.match(msgId, /^msg_/);
    await receiver.waitFor(1);
    assert.equal(receiver.requests[0]!.headers['x-team'], 'billing');
    // Back to the overview's tab (a background tab's timers are throttled).
    await sender.close();
    await page.bringToFront();
    const activity = page.getByTestId('activity');
    await activity.getByRole('link', { name: msgId }).waitFor();
    await page.getByTestId('ov-attempts').getByText('1').waitFor();
    assert.equal(await page.getByTestId('ov-rate').textContent(), '100.0%');
    // The chart's legend names its series, never `--` for a value under no cursor.
    assert.deepEqual(await page.locator('.u-legend .u-label').allTextContents(), [
      'deliveries / min',
      'success %',
    ]);
    assert.doesNotMatch((await page.locator('.u-legend').textContent()) ?? '', /--/);
    await visit(page, 'overview-live');

    // The message page: one row per endpoint, then its attempts.
    await activity.getByRole('link', { name: msgId }).click();
    await page.getByRole('heading', { name: `Message ${msgId}` }).waitFor();
    await page.getByTestId('live').getByText('Live').waitFor();
    const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
    assert.equal(await crumbs.getByRole('link', { name: 'Applications' }).getAttribute('href'), '/apps');
    // Each endpoint's row (Svix's listAttemptedDestinations): status, attempts made, next try.
    const row = page.getByTestId('deliveries').getByRole('row', { name: new RegExp(url) });
    await row.getByText('success').waitFor();
    const cells = row.getByRole('cell');
    assert.deepEqual(
      [await cells.nth(1).textContent(), await cells.nth(2).textContent(), await cells.nth(3).textContent()],
      ['success', '1', '–'],
    );
    await page.getByTestId('attempts').locator('tbody tr').first().waitFor();

    // Break the endpoint: a resend fails, and the message page shows each try as it happens.
    receiver.fallback = { status: 500, body: 'down for maintenance' };
    await page.getByRole('link', { name: 'Inspect' }).first().click();
    await page.getByRole('heading', { name: /^Attempt atmpt_/ }).waitFor();
    mark('inspect');
    await page.getByRole('button', { name: 'Resend' }).click();
    await page
      .getByRole('dialog', { name: 'Resend this message' })
      .getByRole('button', { name: 'Resend now' })
      .click();
    await page.getByRole('status').getByText('Queued').waitFor();
    mark('queued');
    await page.goBack();
    await page.getByRole('heading', { name: `Message ${msgId}` }).waitFor();
    mark('back');
    // Three tries (first + two retries) then it gives up: all arrive without a reload.
    await row.getByText('fail').waitFor({ timeout: 15_000 });
    // The first success and the resend's three tries.
    await cells.nth(2).getByText('4').waitFor();
    await page.getByTestId('attempts').locator('tbody tr').nth(3).waitFor();
    await visit(page, 'message', 'message');

    // The overview says where it hurts: the endpoint is failing.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
    await page.getByTestId('troubled').getByRole('link', { name: url }).waitFor();
    await page.getByTestId('failures').getByText('500').first().waitFor();
    await visit(page, 'overview-failing');

    // Fix it and recover: the failed message goes again, the endpoint is healthy again.
    receiver.fallback = { status: 200, body: 'ok' };
    await page.getByTestId('troubled').getByRole('link', { name: url }).click();
    await page.getByText(/failing since/).waitFor();
    await page.getByRole('button', { name: 'Recover failed messages' }).click();
    const recover = page.getByRole('dialog', { name: 'Recover failed messages' });
    // It says first what it will send again.
    await recover.getByTestId('recover-preview').getByText('1 delivery').waitFor();
    await visit(page, 'recover-preview');
    await recover.getByRole('button', { name: 'Recover' }).click();
    mark('recover');
    await page.getByRole('status').getByText('1 messages queued again').waitFor();
    mark('recovered');
    await page.getByText('healthy').first().waitFor({ timeout: 15_000 });
    await visit(page, 'endpoint-recovered');

    // A new endpoint never got the app's earlier messages: replay them, following the task.
    const late = await server.call('POST', '/api/v1/app/acme/endpoint', {
      url: `${receiver.url}/hooks/late`,
    });
    assert.equal(late.status, 201, JSON.stringify(late.body));
    const sent = await server.call('GET', '/api/v1/app/acme/msg?limit=250');
    const missed = sent.body.data.length as number;
    assert.ok(missed >= 1);
    const endpointPage = page.url();
    await page.goto(`${server.url}/apps/acme/endpoints/${late.body.id}`);
    await page.getByRole('button', { name: 'Replay missing messages' }).click();
    // It says first what it will send: every message so far, the newest named.
    const replayPreview = page.getByTestId('replay-preview');
    assert.equal(
      await replayPreview.locator('strong').textContent(),
      `${missed} ${missed === 1 ? 'message' : 'messages'}`,
    );
    await replayPreview.getByText(sent.body.data[0].id).waitFor();
    await visit(page, 'replay-missing');
    await page
      .getByRole('dialog', { name: 'Replay missing messages' })
      .getByRole('button', { name: 'Replay', exact: true })
      .click();
    const replay = page.getByTestId('replay-task');
    await replay
      .getByText(`Replay finished: ${missed} ${missed === 1 ? 'message' : 'messages'} queued`)
      .waitFor();
    const tasks = await server.call('GET', '/api/v1/background-task?task=endpoint.replay');
    assert.equal(tasks.body.data[0].data.messagesQueued, missed);
    await visit(page, 'replay-finished');
    // The Tasks page lists it, with its progress.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click();
    const taskRow = page.getByTestId('tasks').getByRole('row', { name: new RegExp(tasks.body.data[0].id) });
    await taskRow.getByText('finished').waitFor();
    assert.match(
      (await taskRow.textContent()) ?? '',
      new RegExp(`endpoint\\.replay.*messages queued: ${missed}`),
    );
    await visit(page, 'tasks');
    // An application's tasks by id or uid (a Hookline extension of the list).
    const ofApp = await server.call('GET', '/api/v1/background-task?app_id=acme');
    assert.ok(ofApp.body.data.some((t: { id: string }) => t.id === tasks.body.data[0].id));
    assert.equal((await server.call('GET', '/api/v1/background-task?app_id=nope')).status, 404);
    const lateHits = () => receiver.requests.filter((r) => r.url.startsWith('/hooks/late')).length;
    for (let i = 0; i < 100 && lateHits() < missed; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(lateHits(), missed);
    await page.goto(endpointPage);

    // Inspect an attempt: the exact request, and the curl that makes it again.
    await page
      .getByTestId('attempts')
      .getByRole('link', { name: /Inspect/ })
      .first()
      .click();
    await page.getByRole('heading', { name: /^Attempt atmpt_/ }).waitFor();
    mark('attempt-open');
    await page.getByRole('button', { name: 'Copy as curl' }).waitFor();
    await page.getByText('Show the curl command').click();
    const curl = (await page.getByTitle('curl command').textContent()) ?? '';
    assert.match(curl, new RegExp(`^curl -X POST '${url}'`));
    assert.match(curl, /-H 'webhook-signature: v1,/);
    assert.match(curl, /--data-binary '\{"invoiceId":"inv_1001","amount":4200\}'/);
    await visit(page, 'attempt');

    // Inbound: a source, and the Tail page open while a signed and a forged request arrive.
    const secret = `whsec_${Buffer.from('tour-secret-0123456789abcdef').toString('base64')}`;
    const source = await server.call('POST', '/api/v1/source', {
      name: 'clerk-users',
      app: app.body.id,
      verification: { scheme: 'standard-webhooks', secrets: [secret] },
      destinations: [{ url: `${receiver.url}/clerk` }],
    });
    assert.equal(source.status, 201, JSON.stringify(source.body));
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tail' }).click();
    await page.getByRole('heading', { name: 'Tail' }).waitFor();
    await page.getByTestId('live').getByText('Live').waitFor();
    const body = JSON.stringify({ type: 'user.created', data: { id: 'user_1' } });
    const post = (id: string, signature: string) =>
      fetch(`${server.url}/in/clerk-users`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
          'webhook-signature': signature,
        },
        body,
      });
    assert.ok((await post('msg_signed', new Webhook(secret).sign('msg_signed', new Date(), body))).ok);
    assert.equal((await post('msg_forged', 'v1,Zm9yZ2VkIHNpZ25hdHVyZQ==')).status, 401);
    const tail = page.getByTestId('tail');
    await tail.getByText('accepted').waitFor();
    await tail.getByText('rejected').waitFor();
    await visit(page, 'tail');

    // The forged request's page gives the verdict; the signed one's its forward and its curl.
    await tail
      .getByRole('row', { name: /rejected/ })
      .getByRole('link')
      .click();
    await page.getByRole('heading', { name: /^Event / }).waitFor();
    await page.locator('.verdict.rejected').waitFor();
    await visit(page, 'inbound-rejected');
    await page.goBack();
    await tail
      .getByRole('row', { name: /accepted/ })
      .getByRole('link')
      .click();
    await page.getByRole('heading', { name: /^Event / }).waitFor();
    await page.locator('.verdict.accepted').waitFor();
    await page.getByRole('button', { name: 'Copy as curl' }).waitFor();
    await visit(page, 'inbound-accepted', 'inbound-request');

    // Edit the source from its page: a new description, the same destination.
    // The source's page lists its latest requests, and a new one arrives live.
    await page.goto(`${server.url}/sources/${source.body.id}`);
    const latest = page.getByTestId('latest-requests').locator('li');
    await latest.nth(1).waitFor();
    await page.locator('#latest-h + .live').getByText('Live').waitFor();
    assert.equal((await post('msg_forged2', 'v1,Zm9yZ2VkIGFnYWlu')).status, 401);
    await latest.nth(2).waitFor();
    await page.getByRole('button', { name: 'Edit source' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit source clerk-users' });
    await edit.getByLabel('Description').fill('Clerk user events');
    await edit.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved').waitFor();
    const edited = await server.call('GET', `/api/v1/source/${source.body.id}`);
    assert.equal(edited.body.description, 'Clerk user events');
    assert.deepEqual(
      edited.body.destinations.map((d: { id: string }) => d.id),
      source.body.destinations.map((d: { id: string }) => d.id),
      'the destination keeps its id',
    );
    await visit(page, 'source');
    // The source pages no other step opens pass the same check.
    for (const [name, path, ready] of [
      ['sources', '/sources', 'clerk-users'],
      ['source-new', '/sources/new', 'Signing secret'],
      ['source-events', `/sources/${source.body.id}/events`, 'no_matching_signature'],
    ] as const) {
      await page.goto(server.url + path);
      await page.locator('main').getByText(ready).first().waitFor();
      await visit(page, name);
    }

    // The overview counts the source's verdicts.
    await page.goto(server.url);
    const sources = page.getByTestId('sources').getByRole('row', { name: /clerk-users/ });
    await sources.waitFor();
    assert.match((await sources.textContent()) ?? '', /clerk-users\s*1\s*2\s*33%/);
    await visit(page, 'overview', 'overview');

    // Dark mode follows the system, and passes the same check; the overview fits a phone.
    await page.emulateMedia({ colorScheme: 'dark' });
    await visit(page, 'overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/', '/tail', `/apps/acme`]) {
      await page.goto(server.url + path);
      await page.locator('main h1').waitFor();
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      assert.ok(overflow <= 0, `${path}: ${overflow}px wider than a phone`);
    }
    await visit(page, 'application-phone');
    await page.setViewportSize({ width: 1280, height: 860 });

    // A missing application offers only the way back; a missing page too.
    await page.goto(`${server.url}/apps/app_missing`);
    await page.getByRole('heading', { name: 'Application not found' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Create endpoint' }).count(), 0);
    await visit(page, 'application-missing');
    await page.goto(`${server.url}/no/such/page`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    assert.equal(
      await page.getByRole('link', { name: 'Back to applications' }).getAttribute('href'),
      '/apps',
    );
    await visit(page, 'page-missing');
    await page.close();
    assert.deepEqual(browserErrors, []);
  });

  test('app portal: sign in by link, create an endpoint, watch a message arrive live', async () => {
    const access = await server.call('POST', '/api/v1/auth/app-portal-access/acme', {});
    assert.equal(access.status, 200);
    const portal = await open();
    await portal.goto(access.body.url);
    await portal.getByRole('heading', { name: 'Acme Store' }).waitFor();
    await portal.getByTestId('live').getByText('Live').waitFor();
    const nav = await portal.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents();
    assert.deepEqual(nav, ['Endpoints', 'Messages', 'Event types', 'Tail', 'Tasks']);
    await visit(portal, 'portal-application');

    await portal.getByRole('link', { name: 'Create endpoint' }).click();
    const portalUrl = `${receiver.url}/portal/orders`;
    await portal.getByLabel('URL').fill(portalUrl);
    await portal.getByLabel('invoice.paid').check();
    await visit(portal, 'portal-endpoint-new');
    await portal.getByRole('button', { name: 'Create endpoint' }).click();
    await portal.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
    await portal.getByTestId('live').getByText('Live').waitFor();
    await visit(portal, 'portal-endpoint');

    // The application's page shows the message arrive (the portal cannot publish: the API does).
    await portal.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Endpoints' }).click();
    await portal.getByTestId('live').getByText('Live').waitFor();
    const sent = await server.call('POST', '/api/v1/app/acme/msg', {
      eventType: 'invoice.paid',
      payload: { invoiceId: 'inv_portal' },
    });
    assert.equal(sent.status, 202);
    await portal.getByTestId('activity').getByRole('link', { name: sent.body.id }).first().click();
    await portal.getByRole('heading', { name: `Message ${sent.body.id}` }).waitFor();
    const row = portal.getByTestId('deliveries').getByRole('row', { name: new RegExp(portalUrl) });
    await row.getByText('success').waitFor();
    await visit(portal, 'portal-message');

    // Edit the endpoint: every field of the form, saved, and read back by the API.
    await row.getByRole('link', { name: portalUrl }).click();
    await portal.getByRole('link', { name: 'Edit endpoint' }).click();
    await portal.getByRole('heading', { name: 'Edit endpoint' }).waitFor();
    assert.equal(await portal.getByLabel('URL').inputValue(), portalUrl);
    assert.equal(await portal.getByLabel('invoice.paid').isChecked(), true);
    await portal.getByLabel('Description').fill('Orders service');
    await portal.getByLabel('Rate limit (per second)').fill('10');
    await portal.getByLabel('Request timeout (seconds)').fill('20');
    await portal.getByLabel('Channels').fill('eu, us');
    await portal.getByLabel('Strict order (FIFO)').check();
    await portal.getByLabel('Custom headers').fill('X-Tenant: acme');
    await visit(portal, 'portal-endpoint-edit');
    await portal.getByRole('button', { name: 'Save endpoint' }).click();
    await portal.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
    const portalEpId = new URL(portal.url()).pathname.split('/').pop()!;
    const edited = await server.call('GET', `/api/v1/app/acme/endpoint/${portalEpId}`);
    assert.deepEqual(
      [
        edited.body.description,
        edited.body.rateLimit,
        edited.body.timeout,
        edited.body.channels,
        edited.body.fifo,
      ],
      ['Orders service', 10, 20, ['eu', 'us'], true],
    );
    assert.deepEqual(edited.body.filterTypes, ['invoice.paid']);
    const headers = await server.call('GET', `/api/v1/app/acme/endpoint/${portalEpId}/headers`);
    assert.equal(headers.body.headers['x-tenant'], 'acme');
    // The form opens again with what was saved.
    await portal.getByRole('link', { name: 'Edit endpoint' }).click();
    assert.equal(await portal.getByLabel('Channels').inputValue(), 'eu, us');
    assert.equal(await portal.getByLabel('Strict order (FIFO)').isChecked(), true);
    assert.equal(await portal.getByLabel('Rate limit (per second)').inputValue(), '10');

    // Messages: the newest are listed without a search; filters live in the URL.
    await portal.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
    await portal.getByTestId('messages').getByRole('link', { name: sent.body.id }).waitFor();
    await portal.getByLabel('Event types').fill('invoice.paid');
    await portal.getByRole('button', { name: 'Search' }).click();
    await portal.waitForURL(/event_types=invoice.paid/);
    await portal.getByTestId('messages').getByRole('link', { name: sent.body.id }).waitFor();
    await visit(portal, 'portal-messages');
    // Its tasks: the replay the admin ran for it.
    await portal.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tasks' }).click();
    await portal.getByTestId('tasks').getByText('endpoint.replay').first().waitFor();
    await visit(portal, 'portal-tasks');
    await server.call('POST', '/api/v1/app', { name: 'Other', uid: 'tasks-other' });
    const other = await server.call('GET', '/api/v1/background-task?app_id=tasks-other', undefined, {
      authorization: `Bearer ${access.body.token}`,
    });
    assert.equal(other.status, 403, "another application's tasks");
    assert.equal(other.body.code, 'insufficient_access');
    await portal.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Event types' }).click();
    await portal.getByRole('heading', { name: 'invoice.paid' }).waitFor();
    assert.equal(await portal.getByRole('button', { name: 'Create event type' }).count(), 0);
    await visit(portal, 'portal-event-types');
    await portal.close();
    assert.deepEqual(browserErrors, []);
    assert.ok(checked.size >= 25, `${checked.size} pages checked for accessibility`);
  });
});
