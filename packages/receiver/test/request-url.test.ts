import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withRequestQuery } from '../src/request-url.ts';

describe('withRequestQuery', () => {
  test("the configured scheme, host and path with the request's own query string", () => {
    assert.equal(
      withRequestQuery('https://hooks.example.com/twilio', '/internal/twilio?bodySHA256=ab&x=%20'),
      'https://hooks.example.com/twilio?bodySHA256=ab&x=%20',
    );
    assert.equal(
      withRequestQuery('https://hooks.example.com/twilio?old=1', 'http://127.0.0.1:8080/twilio?new=2'),
      'https://hooks.example.com/twilio?new=2',
      "the request's query replaces the configured one",
    );
    assert.equal(withRequestQuery('https://h.example/t?old=1', '/t'), 'https://h.example/t');
    assert.equal(withRequestQuery('https://h.example/t', '/t?'), 'https://h.example/t?', 'byte for byte');
  });

  test('fragments are dropped; an unknown request keeps the configured query', () => {
    assert.equal(withRequestQuery('https://h.example/t#rc=3&rp=all', '/t?a=1'), 'https://h.example/t?a=1');
    assert.equal(withRequestQuery('https://h.example/t?a=1#ct=500', undefined), 'https://h.example/t?a=1');
  });
});
