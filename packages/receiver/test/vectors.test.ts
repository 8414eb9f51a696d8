import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { buildVectors, VECTORS_PATH, type VectorFile, vectorScheme } from '../scripts/make-vectors.ts';
import { WebhookVerificationError } from '../src/errors.ts';
import { verify } from '../src/verify.ts';

const file = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as VectorFile;

describe('vectors.json', () => {
  test('is what scripts/make-vectors.ts generates (deterministic, not stale)', () => {
    assert.deepEqual(buildVectors(), file);
  });

  test('covers every built-in scheme with positive and negative cases', () => {
    for (const scheme of [
      'standard-webhooks',
      'svix',
      'stripe',
      'github',
      'shopify',
      'slack',
      'twilio',
      'paddle',
      'discord',
      'hubspot',
      'salesforce',
      'hmac',
    ]) {
      const cases = file.cases.filter((c) => c.scheme === scheme);
      assert.ok(
        cases.some((c) => c.expected.ok),
        `${scheme} has a positive case`,
      );
      assert.ok(
        cases.some((c) => !c.expected.ok),
        `${scheme} has a negative case`,
      );
    }
  });

  for (const vector of file.cases) {
    test(vector.description, () => {
      const run = () =>
        verify({
          scheme: vectorScheme(vector),
          body: vector.body,
          headers: vector.headers,
          secrets: vector.secrets,
          url: vector.url,
          method: vector.method,
          receivedAt: vector.receivedAt,
          tolerance: vector.tolerance,
        });
      const { expected } = vector;
      if (expected.ok) {
        const result = run();
        assert.equal(result.matchedSecretIndex, expected.matchedSecretIndex);
        if (expected.id !== undefined) assert.equal(result.id, expected.id);
      } else {
        assert.throws(
          run,
          (error) => error instanceof WebhookVerificationError && error.code === expected.code,
        );
      }
    });
  }
});
