import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sign } from '../src/sign.ts';
import { verifyRequest, webhookErrorResponse } from '../src/web.ts';

const checkVectors = fileURLToPath(new URL('./fixtures/check-vectors.mjs', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));

function runVectors(...args: string[]) {
  const out = execFileSync(process.execPath, [checkVectors, ...args], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
    cases: number;
    checks: number;
    failures: unknown[];
  };
}

describe('the Web-standard entry', () => {
  test('every vector gives the Node entry result, from raw bodies and from Request objects', () => {
    const summary = runVectors();
    assert.deepEqual(summary.failures, []);
    assert.ok(summary.cases > 100 && summary.checks >= summary.cases * 2, JSON.stringify(summary));
  });

  test('without node:crypto (getBuiltinModule gone, node: imports refused) every vector still verifies', () => {
    const summary = runVectors('--web-only');
    assert.deepEqual(summary.failures, []);
    assert.ok(summary.checks >= summary.cases, JSON.stringify(summary));
  });

  test('without Buffer either (Cloudflare Workers without nodejs_compat), every vector verifies', () => {
    const summary = runVectors('--web-only', '--no-buffer');
    assert.deepEqual(summary.failures, []);
    assert.equal(summary.checks, summary.cases);
  });

  test('the Hono middleware verifies with Web Crypto where node:crypto is missing (Workers, Deno)', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"type":"invoice.paid"}';
    const { headers } = sign({ scheme: 'standard-webhooks', body, secret });
    const script = `
      process.getBuiltinModule = undefined;
      const { Hono } = await import('hono');
      const { createHonoWebhookMiddleware } = await import('@hookline/receiver/hono');
      const { headers, body, secret } = JSON.parse(process.env.CASE);
      const app = new Hono();
      app.post('/hook', createHonoWebhookMiddleware({ scheme: 'standard-webhooks', secret }), (c) => c.json({ id: c.get('webhook').id }));
      const ok = await app.request('/hook', { method: 'POST', headers, body });
      const forged = await app.request('/hook', { method: 'POST', headers, body: body + ' ' });
      console.log(JSON.stringify({ ok: [ok.status, await ok.json()], forged: [forged.status, await forged.json()] }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, CASE: JSON.stringify({ headers, body, secret }) },
      encoding: 'utf8',
    });
    const result = JSON.parse(out.trim()) as {
      ok: [number, { id: string }];
      forged: [number, { code: string }];
    };
    assert.deepEqual(result.ok, [200, { id: headers['webhook-id'] }]);
    assert.equal(result.forged[0], 401);
    assert.equal(result.forged[1].code, 'no_matching_signature');
  });

  test('verifyRequest returns the body; a forged request becomes a {code, detail} 401 Response', async () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"type":"invoice.paid"}';
    const { headers } = sign({ scheme: 'standard-webhooks', body, secret });
    const request = () => new Request('https://app.example/webhooks', { method: 'POST', headers, body });
    const verified = await verifyRequest(request(), { scheme: 'standard-webhooks', secret });
    assert.deepEqual(verified.json(), { type: 'invoice.paid' });
    assert.equal(verified.id, headers['webhook-id']);

    const forged = new Request('https://app.example/webhooks', { method: 'POST', headers, body: `${body} ` });
    const response = await verifyRequest(forged, { scheme: 'standard-webhooks', secret }).then(
      () => assert.fail('a modified body verified'),
      webhookErrorResponse,
    );
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { code: string }).code, 'no_matching_signature');
    await assert.rejects(verifyRequest(request(), { scheme: 'standard-webhooks', secret, limit: 5 }), {
      code: 'body_too_large',
    });
  });
});
