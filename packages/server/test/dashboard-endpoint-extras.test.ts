/**
 * The endpoint page's adaptive-delivery panels in a real browser (Debian's Chromium driven by
 * playwright-core) against a real Hookline and a real receiver: the current concurrency and why
 * (steady, then paused by a 429 with Retry-After), the transformation editor (save, simulate the
 * transformed request, see a failing handler's error), and the endpoint's authentication (OAuth
 * client credentials set through the form and shown without the secret, a client certificate and
 * a CA, removed again). The page passes axe-core with every panel open; a full-page screenshot
 * goes to test/artifacts/dashboard-endpoint-extras/.
 *
 * Browser-side code is passed to Playwright as strings: this file is typechecked without the DOM
 * library. Without /usr/bin/chromium the test is skipped, unless CI=true (then it fails).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { DEFAULT_DASHBOARD_DIR } from '../src/api/dashboard.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer, tempDir } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Kept by CI with the other dashboard screenshots. */
const SHOTS = join(import.meta.dirname, 'artifacts/dashboard-endpoint-extras');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') {
  throw new Error(`${CHROMIUM} is missing; CI must install it (apt-get install -y chromium, see .ci/run)`);
}
const skip = haveChromium
  ? false
  : `${CHROMIUM} not found: install Debian's Chromium to run the browser test`;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A self-signed CA certificate and its key (good as a client certificate and as a trusted CA). */
function selfSigned(): { cert: string; key: string } {
  const dir = tempDir('hookline-dash-pki-');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'c.key'),
      '-out',
      join(dir, 'c.crt'),
      '-days',
      '30',
      '-subj',
      '/CN=Hookline Dashboard Test',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    { stdio: 'pipe' },
  );
  return {
    cert: readFileSync(join(dir, 'c.crt'), 'utf8'),
    key: readFileSync(join(dir, 'c.key'), 'utf8'),
  };
}

interface Violation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

describe('endpoint page: concurrency, transformation and authentication', { skip }, () => {
  let server: TestServer;
  let receiver: TestReceiver;
  let browser: Browser;
  let page: Page;
  let endpointId = '';
  const browserErrors: string[] = [];

  /** axe-core on the page as it is now: no serious or critical violation. */
  const a11y = async (name: string) => {
    if (!(await page.evaluate<boolean>('typeof window.axe !== "undefined"')))
      await page.addScriptTag({ content: AXE });
    const violations = await page.evaluate<Violation[]>(`
      axe.run(document, { resultTypes: ['violations'] }).then((r) =>
        r.violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))`);
    assert.deepEqual(violations, [], `${name}: accessibility violations`);
  };

  before(async () => {
    assert.ok(
      existsSync(join(DEFAULT_DASHBOARD_DIR, 'index.html')),
      'the dashboard is not built: run "npm install"',
    );
    server = await startHookline({ env: { HOOKLINE_ENDPOINT_CONCURRENCY: '6' } });
    receiver = await startReceiver();
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'Acme Store', uid: 'acme' })).status, 201);
    const et = await server.call('POST', '/api/v1/event-type', {
      name: 'invoice.paid',
      description: 'An invoice was paid in full.',
      schemas: { '1': { type: 'object', examples: [{ invoiceId: 'inv_1001', amount: 4200 }] } },
    });
    assert.equal(et.status, 201);
    const ep = await server.call('POST', '/api/v1/app/acme/endpoint', {
      url: `${receiver.url}/hooks`,
      filterTypes: ['invoice.paid'],
    });
    assert.equal(ep.status, 201);
    endpointId = ep.body.id;
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
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => browserErrors.push(`${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        browserErrors.push(`${page.url()}: ${m.text()}`);
    });
    await page.goto(server.url);
    await page.getByLabel('Admin token').fill(server.token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.goto(`${server.url}/apps/acme/endpoints/${endpointId}`);
    await page.getByRole('heading', { name: 'Endpoint', exact: true }).waitFor();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await receiver?.close();
  });

  test('concurrency: at the maximum, then paused by a 429 with Retry-After, and why', async () => {
    const panel = page.getByTestId('concurrency');
    await panel.getByRole('heading', { name: 'Concurrency' }).waitFor();
    await panel.getByTestId('concurrency-state').getByText('steady').waitFor();
    assert.equal(await panel.getByTestId('concurrency-limit').textContent(), '6 of 6');
    assert.equal(await panel.getByTestId('concurrency-in-flight').textContent(), '0');

    // The endpoint asks for a pause: the panel (live updates, polling) shows it and until when.
    receiver.queue({ status: 429, headers: { 'retry-after': '600' } });
    const sent = await server.call('POST', '/api/v1/app/acme/msg', {
      eventType: 'invoice.paid',
      payload: { invoiceId: 'inv_1' },
    });
    assert.equal(sent.status, 202);
    await receiver.waitFor(1);
    await panel.getByTestId('concurrency-state').getByText('paused').waitFor({ timeout: 20_000 });
    assert.match(
      (await panel.getByTestId('concurrency-reason').textContent()) ?? '',
      /Retry-After on HTTP 429/,
    );
    assert.doesNotMatch(
      (await panel.getByTestId('concurrency-reason').textContent()) ?? '',
      /\d{2}:\d{2}:\d{2}(\.\d+)?Z/,
      'times in the reason are shown in local time',
    );
    const until = panel.locator('time').first();
    assert.match((await until.textContent()) ?? '', /^in (9|10) min$/);
    const api = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/concurrency`);
    assert.equal(await until.getAttribute('datetime'), api.body.pausedUntil, 'the exact time on hover');
    assert.ok(await until.getAttribute('title'));
  });

  test('transformation: save handler code, simulate it, see a failing handler explained', async () => {
    const panel = page.getByRole('region', { name: 'Transformation' });
    await panel.getByText('No transformation').waitFor();
    // The event type's example is the sample payload.
    const payload = panel.getByLabel('Payload (JSON object)');
    // A function, not a string: a string predicate goes through the page's eval at every poll,
    // which the dashboard's Content-Security-Policy refuses.
    await page.waitForFunction(
      () =>
        (
          globalThis as unknown as { document: { getElementById(id: string): { value: string } | null } }
        ).document
          .getElementById('simulate-payload')
          ?.value.includes('inv_1001') === true,
    );
    assert.deepEqual(JSON.parse(await payload.inputValue()), { invoiceId: 'inv_1001', amount: 4200 });

    const code = `function handler(webhook) {
  webhook.payload = { id: webhook.payload.invoiceId, cents: webhook.payload.amount, type: webhook.eventType };
  webhook.headers['x-tenant'] = 'acme';
  return webhook;
}`;
    await panel.getByLabel('Handler code').fill(code);
    await panel.getByRole('button', { name: 'Save transformation' }).click();
    await panel.getByRole('status').getByText('Transformation saved').waitFor();
    await panel.getByTestId('transformation-state').getByText('enabled').waitFor();
    const saved = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/transformation`);
    assert.equal(saved.body.code, code);
    assert.equal(saved.body.enabled, true);

    await panel.getByRole('button', { name: 'Simulate' }).click();
    const result = panel.getByTestId('simulate-result');
    await result.getByRole('table', { name: 'Headers added' }).waitFor();
    assert.match((await result.textContent()) ?? '', new RegExp(`^POST ${receiver.url}/hooks`));
    assert.equal(
      await result
        .getByRole('row', { name: /^x-tenant/ })
        .locator('td')
        .textContent(),
      'acme',
    );
    const body = await result.locator('pre.code').textContent();
    assert.deepEqual(JSON.parse(body ?? ''), { id: 'inv_1001', cents: 4200, type: 'invoice.paid' });

    // Code that throws: the error and its detail, not a result.
    await panel
      .getByLabel('Handler code')
      .fill('function handler(webhook) { throw new Error("no invoice here"); }');
    await panel.getByRole('button', { name: 'Simulate' }).click();
    const alert = result.getByRole('alert');
    await alert.getByText('transformation_failed').waitFor();
    assert.match((await alert.textContent()) ?? '', /no invoice here/);
    // Not saved: the endpoint keeps its code.
    const still = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/transformation`);
    assert.equal(still.body.code, code);

    // Turned off: saved, shown as disabled. Editing the code clears the last simulation.
    await panel.getByLabel('Handler code').fill(code);
    await alert.waitFor({ state: 'detached' });
    await panel.getByLabel('Run it on every delivery (enabled)').uncheck();
    await panel.getByRole('button', { name: 'Save transformation' }).click();
    await panel.getByTestId('transformation-state').getByText('disabled').waitFor();
    const off = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/transformation`);
    assert.equal(off.body.enabled, false);
    await a11y('endpoint page with a simulated transformation');
  });

  test('authentication: OAuth set through the form and shown without its secret, then removed', async () => {
    const oauth = page.getByTestId('oauth');
    await oauth.getByText('Not set').waitFor();
    await oauth.getByRole('button', { name: 'Set up OAuth 2.0 client credentials' }).click();
    await oauth.getByLabel('Token URL').fill(`${receiver.url}/token`);
    await oauth.getByLabel('Client ID').fill('hookline-client');
    await oauth.getByLabel('Client secret').fill('s3cr3t-never-shown');
    await oauth.getByLabel('Scopes (space-separated)').fill('webhooks.write events');
    await oauth.getByLabel('Client authentication').selectOption('clientSecretPost');
    await a11y('endpoint page with the OAuth form open');
    await oauth.getByRole('button', { name: 'Save OAuth' }).click();
    await oauth.getByRole('status').getByText('OAuth saved').waitFor();
    const shown = oauth.getByRole('table', { name: 'OAuth configuration' });
    await shown.waitFor();
    const cell = async (name: string) =>
      (await shown
        .getByRole('row', { name: new RegExp(`^${name}`) })
        .locator('td')
        .textContent()) ?? '';
    assert.equal(await cell('Token URL'), `${receiver.url}/token`);
    assert.equal(await cell('Client ID'), 'hookline-client');
    assert.equal(await cell('Scopes'), 'webhooks.write events');
    assert.equal(await cell('Client authentication'), 'in the request body');
    assert.equal(await cell('Client secret'), 'set (never shown)');
    assert.ok(!(await page.content()).includes('s3cr3t-never-shown'), 'the secret is nowhere in the page');
    const api = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/oauth`);
    assert.equal(api.status, 200);
    assert.deepEqual(api.body.scopes, ['webhooks.write', 'events']);
    assert.equal(api.body.authMethod, 'clientSecretPost');

    // Changing it asks for the secret again (it is never read back).
    await oauth.getByRole('button', { name: 'Change OAuth 2.0 client credentials' }).click();
    assert.equal(await oauth.getByLabel('Client ID').inputValue(), 'hookline-client');
    assert.equal(await oauth.getByLabel('Client secret').inputValue(), '');
    await oauth.getByRole('button', { name: 'Cancel' }).click();

    // A bad token URL is refused with the API's error.
    await oauth.getByRole('button', { name: 'Change OAuth 2.0 client credentials' }).click();
    await oauth.getByLabel('Token URL').fill('ftp://example.com/token');
    await oauth.getByLabel('Client secret').fill('x');
    await oauth.getByRole('button', { name: 'Save OAuth' }).click();
    await oauth.getByRole('alert').getByText('tokenUrl').waitFor();
    await oauth.getByRole('button', { name: 'Cancel' }).click();

    await oauth.getByRole('button', { name: 'Remove OAuth 2.0 client credentials' }).click();
    await page
      .getByRole('dialog', { name: 'Remove the OAuth configuration' })
      .getByRole('button', { name: 'Remove' })
      .click();
    await oauth.getByText('Not set').waitFor();
    const gone = await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/oauth`);
    assert.equal(gone.status, 404);
  });

  test('authentication: a client certificate and a CA, shown by subject and expiry, key never shown', {
    skip: hasOpenssl ? undefined : 'the openssl CLI is not installed',
  }, async () => {
    const { cert, key } = selfSigned();
    const mtls = page.getByTestId('mtls');
    await mtls.getByText('No client certificate').waitFor();
    await mtls.getByRole('button', { name: 'Set up Client certificate (mutual TLS)' }).click();
    await mtls.getByLabel('Certificate (PEM, optionally with its chain)').fill(cert);
    await mtls.getByLabel('Private key (PEM, unencrypted; write-only)').fill(key);
    await mtls.getByRole('button', { name: 'Save client certificate' }).click();
    const shown = mtls.getByRole('table', { name: 'Client certificate' });
    await shown.waitFor();
    assert.match((await shown.textContent()) ?? '', /CN=Hookline Dashboard Test/);
    assert.match((await shown.getByRole('row', { name: /^Expires/ }).textContent()) ?? '', /in (29|30) d/);
    assert.equal(
      await shown
        .getByRole('row', { name: /^Private key/ })
        .locator('td')
        .textContent(),
      'set (never shown)',
    );
    assert.ok(!(await page.content()).includes('PRIVATE KEY-----\n'), 'the key is not in the page');

    const ca = page.getByTestId('ca');
    await ca.getByRole('button', { name: 'Set up Trusted CA' }).click();
    await ca.getByLabel('CA certificates (PEM)').fill(cert);
    await ca.getByRole('button', { name: 'Save CA certificate' }).click();
    await ca.getByRole('table', { name: 'First CA certificate' }).waitFor();
    await a11y('endpoint page with authentication set');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'endpoint-extras.png'), fullPage: true });
    assert.equal((await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/ca`)).status, 200);

    await mtls.getByRole('button', { name: 'Remove Client certificate (mutual TLS)' }).click();
    await page
      .getByRole('dialog', { name: 'Remove the client certificate' })
      .getByRole('button', { name: 'Remove' })
      .click();
    await mtls.getByText('No client certificate').waitFor();
    assert.equal((await server.call('GET', `/api/v1/app/acme/endpoint/${endpointId}/mtls`)).status, 404);
  });

  test('no script or console errors', () => {
    assert.deepEqual(browserErrors, []);
  });
});
