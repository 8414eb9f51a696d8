/**
 * The closed sets of core/enums.ts reach the wire: `/openapi.json` lists the allowed values of
 * endpoint and destination kinds, inbound and delivery statuses and verification schemes, in
 * requests and responses, and requests with any other value are refused with a 422 that names
 * the allowed ones.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SCHEME_NAMES } from '@hookline/receiver';
import {
  DELIVERY_STATUS_CODES,
  ENDPOINT_KINDS,
  INBOUND_STATUSES,
  RECEIVER_SCHEMES,
  SOURCE_DESTINATION_KINDS,
  SOURCE_SCHEMES,
} from '../src/core/enums.ts';
import { startHookline, type TestServer } from './helpers.ts';

type Json = any;

const json = (op: Json, status: string): Json => op.responses[status].content['application/json'].schema;
const body = (op: Json): Json => op.requestBody.content['application/json'].schema;
const query = (op: Json, name: string): Json => op.parameters.find((p: Json) => p.name === name).schema;
/** The items of a list response (named components, which the document references). */
const listItem = (doc: Json, op: Json): Json => {
  const items = json(op, '200').properties.data.items;
  return items.$ref ? doc.components.schemas[items.$ref.split('/').pop()] : items;
};

describe('enumerations in /openapi.json and in validation', () => {
  let server: TestServer;
  let doc: Json;
  before(async () => {
    server = await startHookline();
    const res = await fetch(`${server.url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = await res.json();
  });
  after(() => server?.close());

  test('the lists are the ones users know, and the receiver scheme names match @hookline/receiver', () => {
    assert.deepEqual(ENDPOINT_KINDS, ['http', 'listen', 'slack', 'discord', 'teams', 'poller']);
    assert.deepEqual(SOURCE_DESTINATION_KINDS, ['http', 'slack', 'discord', 'teams']);
    assert.deepEqual(INBOUND_STATUSES, ['accepted', 'rejected', 'duplicate', 'handshake']);
    assert.deepEqual(DELIVERY_STATUS_CODES, [0, 1, 2, 3, 4]);
    assert.deepEqual(RECEIVER_SCHEMES, SCHEME_NAMES);
    assert.deepEqual(SOURCE_SCHEMES, [...SCHEME_NAMES, 'hmac', 'none']);
  });

  test('endpoint kinds', () => {
    const endpoints = doc.paths['/api/v1/app/{app_id}/endpoint'];
    const one = doc.paths['/api/v1/app/{app_id}/endpoint/{endpoint_id}'];
    for (const schema of [
      body(endpoints.post).properties.kind,
      body(one.patch).properties.kind,
      body(one.put).properties.kind,
      json(endpoints.post, '201').properties.kind,
    ]) {
      assert.deepEqual(schema.enum, [...ENDPOINT_KINDS]);
      assert.equal(schema.type, 'string');
    }
  });

  test('source verification schemes and destination kinds', () => {
    const sources = doc.paths['/api/v1/source'];
    const scheme = body(sources.post).properties.verification.properties.scheme;
    assert.deepEqual(scheme.enum, [...SOURCE_SCHEMES]);
    for (const name of ['github', 'stripe', 'discord', 'hubspot', 'salesforce', 'hmac', 'none']) {
      assert.ok(scheme.enum.includes(name), name);
    }
    assert.deepEqual(json(sources.post, '201').properties.verification.properties.scheme.enum, [
      ...SOURCE_SCHEMES,
    ]);
    assert.deepEqual(body(sources.post).properties.destinations.items.properties.kind.enum, [
      ...SOURCE_DESTINATION_KINDS,
    ]);
    assert.deepEqual(json(sources.post, '201').properties.destinations.items.properties.kind.enum, [
      ...SOURCE_DESTINATION_KINDS,
    ]);
  });

  test('inbound statuses', () => {
    const events = doc.paths['/api/v1/source/{source_id}/event'].get;
    assert.deepEqual(query(events, 'status').enum, [...INBOUND_STATUSES]);
    assert.deepEqual(listItem(doc, events).properties.status.enum, [...INBOUND_STATUSES]);
  });

  test('delivery status codes and names', () => {
    const attempts = doc.paths['/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}'].get;
    assert.deepEqual(query(attempts, 'status').enum, [0, 1, 2, 3, 4]);
    const item = listItem(doc, attempts).properties;
    assert.deepEqual(item.status.enum, [0, 1, 2, 3, 4]);
    assert.equal(item.status.type, 'integer');
    assert.deepEqual(item.statusText.enum, ['success', 'pending', 'fail', 'sending', 'canceled']);
    assert.deepEqual(item.triggerType.enum, [0, 1]);
  });

  test('other values are refused with a 422 that lists the allowed ones', async () => {
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'Enums', uid: 'enums' })).status, 201);
    const cases: [string, string, unknown, (string | number)[]][] = [
      ['POST', '/api/v1/app/enums/endpoint', { url: 'https://example.com/h', kind: 'ftp' }, ['body', 'kind']],
      [
        'POST',
        '/api/v1/source',
        {
          name: 'enums',
          verification: { scheme: 'gitlab' },
          destinations: [{ url: 'https://example.com/h' }],
        },
        ['body', 'verification', 'scheme'],
      ],
      [
        'POST',
        '/api/v1/source',
        {
          name: 'enums',
          verification: { scheme: 'none' },
          destinations: [{ url: 'https://example.com/h', kind: 'listen' }],
        },
        ['body', 'destinations', 0, 'kind'],
      ],
      ['GET', '/api/v1/source/enums/event?status=lost', undefined, ['query', 'status']],
      ['GET', '/api/v1/app/enums/attempt/endpoint/ep_x?status=9', undefined, ['query', 'status']],
    ];
    for (const [method, path, payload, loc] of cases) {
      const res = await server.call(method, path, payload);
      assert.equal(res.status, 422, `${method} ${path}: ${JSON.stringify(res.body)}`);
      const issue = (res.body.detail as { loc: unknown[]; msg: string; type: string }[]).find(
        (d) => JSON.stringify(d.loc) === JSON.stringify(loc),
      );
      assert.ok(
        issue,
        `${method} ${path}: an issue at ${JSON.stringify(loc)} in ${JSON.stringify(res.body)}`,
      );
      assert.match(issue.msg, /^must be one of /);
      assert.equal(issue.type, 'value_error.enum');
    }
  });
});
