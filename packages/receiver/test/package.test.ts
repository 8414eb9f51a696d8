import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import * as api from '../src/index.ts';

const exported = new Map<string, unknown>(Object.entries(api));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
// Markdown table rows as trimmed cells (formatters may pad the columns).
const rows = readme
  .split('\n')
  .filter((line) => line.startsWith('|'))
  .map((line) =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );

describe('package surface', () => {
  test('the README errors table documents every code with its status', () => {
    for (const code of api.WEBHOOK_ERROR_CODES) {
      const row = rows.find((cells) => cells[0] === `\`${code}\``);
      assert.ok(row, `README is missing a row for ${code}`);
      assert.equal(row[1], String(api.ERROR_CODES[code].status), `README status for ${code}`);
    }
  });

  test('the README documents every built-in scheme', () => {
    for (const name of api.SCHEME_NAMES) {
      assert.ok(
        rows.some((cells) => cells[0] === `\`${name}\``),
        `README is missing ${name}`,
      );
    }
  });

  test('the entry point exports the documented API', () => {
    for (const name of [
      'verify',
      'sign',
      'createHmacScheme',
      'createGithubScheme',
      'generateEd25519KeyPair',
      'createExpressWebhookMiddleware',
      'createFastifyWebhookPlugin',
      'createHonoWebhookMiddleware',
      'createNodeWebhookHandler',
      'verifyNodeRequest',
      'createIdempotencyGuard',
      'createMemoryIdempotencyStore',
      'createSqliteIdempotencyStore',
    ] as const) {
      assert.equal(typeof exported.get(name), 'function', name);
    }
    assert.ok(new api.WebhookVerificationError('missing_header', 'x') instanceof Error);
  });

  test('the package resolves by name through its exports map', async () => {
    const byName = await import('@hookline/receiver');
    assert.equal(byName.verify, api.verify);
  });
});
