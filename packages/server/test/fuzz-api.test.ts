/**
 * Property-based fuzzing of the whole API, driven by the server's own /openapi.json: every
 * route and method gets generated requests (valid-looking and hostile bodies, path parameters
 * and query strings) on both stores, as the admin, as an application token and as a read-only
 * application token. Whatever comes in: never a 5xx, every error coded and documented, and an
 * application token never sees or changes another tenant's data.
 *
 * FUZZ_RUNS=5000 runs longer (cases per store and role); FUZZ_SEED replays a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  assertCodedError,
  documentedCodes,
  fuzzSettings,
  hostileString,
  runProperty,
  schemaArbitraries,
} from './fuzz-kit.ts';
import { startHookline, startReceiver, type TestReceiver, type TestServer } from './helpers.ts';
import { testStores } from './pg.ts';

const settings = fuzzSettings(800);
const codes = documentedCodes();
const stores = await testStores();

type Role = 'app' | 'readonly' | 'admin';
interface Operation {
  method: string;
  path: string;
  op: any;
}

/** One tenant's records, created through the API. */
interface Tenant {
  id: string;
  uid: string;
  endpoints: string[];
  msgs: string[];
  attempts: string[];
  hooks: string[];
}

/** A percent-encoding that also takes lone surrogates (as their UTF-8 replacement). */
const encode = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');

/** Path segments a client might send unencoded. */
const RAW_SEGMENTS = ['%', '%zz', '%2F', '%2e%2e', '..', '.', ';', '*', 'a%00b', `${'x'.repeat(3000)}`];

for (const store of stores) {
  describe(
    `API fuzz on ${store.name} (seed ${settings.seed}, ${settings.numRuns} cases per role)`,
    store.options,
    () => {
      let server: TestServer;
      let receiver: TestReceiver;
      let drop: () => Promise<void> = async () => {};
      let doc: any;
      let operations: Operation[];
      const A: Tenant = { id: '', uid: 'tenant-a', endpoints: [], msgs: [], attempts: [], hooks: [] };
      const B: Tenant = { id: '', uid: 'tenant-b', endpoints: [], msgs: [], attempts: [], hooks: [] };
      /** Records the fuzzer may delete (so the tenants' own keep being there). */
      const spare = { apps: [] as string[], sources: [] as string[], eventTypes: ['fz.spare'] };
      const tokens: Record<Exclude<Role, 'admin'>, string> = { app: '', readonly: '' };
      const sources: { id: string; events: string[] }[] = [];
      /** Strings that identify tenant B: an application token of A must never get them back. */
      let tenantBMarks: string[] = [];

      const ok = async (method: string, path: string, body?: unknown) => {
        const r = await server.call(method, path, body);
        assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };

      before(async () => {
        const db = await store.open('fuzzapi');
        drop = db.drop;
        receiver = await startReceiver();
        server = await startHookline({
          env: { ...db.env, HOOKLINE_DELIVERY_TIMEOUT: '1', HOOKLINE_RETRY_SCHEDULE: '3600' },
        });
        doc = await (await fetch(`${server.url}/openapi.json`)).json();
        operations = [];
        for (const [path, item] of Object.entries<any>(doc.paths)) {
          // The inbound gateway has its own fuzz test (fuzz-inbound.test.ts).
          if (path.startsWith('/in/')) continue;
          for (const [method, op] of Object.entries<any>(item)) {
            if (['get', 'post', 'put', 'patch', 'delete'].includes(method))
              operations.push({ method: method.toUpperCase(), path, op });
          }
        }
        assert.ok(operations.length >= 50, `only ${operations.length} operations in /openapi.json`);

        for (const name of ['fz.a', 'fz.b', 'fz.spare'])
          await ok('POST', '/api/v1/event-type', { name, description: name });
        for (const t of [A, B]) {
          const marker = t === B ? 'ZZTENANTB' : 'tenant a';
          const app = await ok('POST', '/api/v1/app', {
            name: `${marker} app`,
            uid: t.uid,
            metadata: { who: marker },
          });
          t.id = app.id;
          for (let i = 0; i < 3; i++) {
            const ep = await ok('POST', `/api/v1/app/${t.id}/endpoint`, {
              url: `${receiver.url}/${t.uid}/${i}`,
              description: `${marker} endpoint ${i}`,
              uid: `${t.uid}-ep-${i}`,
              metadata: { who: marker },
            });
            t.endpoints.push(ep.id);
          }
          for (let i = 0; i < 2; i++) {
            const msg = await ok('POST', `/api/v1/app/${t.id}/msg`, {
              eventType: 'fz.a',
              eventId: `${t.uid}-evt-${i}`,
              payload: { who: marker, i },
              channels: ['ch1'],
              tags: ['tg'],
            });
            t.msgs.push(msg.id);
          }
          const hook = await ok('POST', `/api/v1/app/${t.id}/hook`, {
            target_url: `${receiver.url}/${t.uid}/hook`,
            event: 'fz.a',
          }).catch(() => null);
          if (hook?.id) t.hooks.push(hook.id);
        }
        for (let i = 0; i < 2; i++)
          spare.apps.push((await ok('POST', '/api/v1/app', { name: `spare ${i}` })).id);
        for (const name of ['fz-src-keep', 'fz-src-spare']) {
          const src = await ok('POST', '/api/v1/source', {
            name,
            verification: { scheme: 'none' },
            destinations: [{ url: `${receiver.url}/src/${name}` }],
          });
          const res = await fetch(`${server.url}/in/${name}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"type":"x"}',
          });
          await res.text();
          sources.push({ id: src.id, events: [] });
          if (name === 'fz-src-spare') spare.sources.push(src.id);
        }
        for (const s of sources) {
          const events = await ok('GET', `/api/v1/source/${s.id}/event`);
          s.events = events.data.map((e: any) => e.id);
        }
        await receiver.waitFor(10, 15_000).catch(() => {});
        for (const t of [A, B]) {
          for (const m of t.msgs) {
            const at = await ok('GET', `/api/v1/app/${t.id}/attempt/msg/${m}`);
            t.attempts.push(...at.data.map((a: any) => a.id));
          }
        }
        tokens.app = (await ok('POST', `/api/v1/auth/app-portal-access/${A.id}`, {})).token;
        tokens.readonly = (
          await ok('POST', `/api/v1/auth/app-portal-access/${A.uid}`, { readOnly: true })
        ).token;
        tenantBMarks = ['ZZTENANTB', B.id, ...B.endpoints, ...B.msgs, ...B.attempts, ...B.hooks].filter(
          Boolean,
        );
      });
      after(async () => {
        await server?.close();
        await receiver?.close();
        await drop();
      });

      /** Values for a path parameter: the fixtures' ids (the tenants', spare ones for deletions) and hostile strings. */
      const pathParam = (name: string, destructive: boolean, role: Role): fc.Arbitrary<string> => {
        const keep = (xs: string[]) => (destructive ? xs.slice(1) : xs);
        let pool: string[];
        switch (name) {
          case 'app_id':
            pool = destructive
              ? spare.apps
              : role === 'admin'
                ? [A.id, A.uid, B.id, B.uid]
                : [A.id, A.uid, A.id, B.id, B.uid];
            break;
          case 'endpoint_id':
            pool = [...keep(A.endpoints), ...keep(B.endpoints), `${A.uid}-ep-0`, `${B.uid}-ep-0`];
            break;
          case 'msg_id':
            pool = [...A.msgs, ...B.msgs, `${A.uid}-evt-0`, `${B.uid}-evt-0`];
            break;
          case 'attempt_id':
            pool = [...A.attempts, ...B.attempts];
            break;
          case 'hook_id':
            pool = [...A.hooks, ...B.hooks];
            break;
          case 'source_id':
            pool = destructive ? spare.sources : sources.map((s) => s.id).concat(['fz-src-keep']);
            break;
          case 'event_id':
            pool = sources.flatMap((s) => s.events);
            break;
          case 'event_type_name':
            pool = destructive ? spare.eventTypes : ['fz.a', 'fz.b'];
            break;
          default:
            pool = [];
        }
        const options: { weight: number; arbitrary: fc.Arbitrary<string> }[] = [
          { weight: 1, arbitrary: hostileString.map(encode) },
          { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
        ];
        if (pool.length > 0) options.push({ weight: 8, arbitrary: fc.constantFrom(...pool).map(encode) });
        return fc.oneof(...options);
      };

      /** One request for an operation. */
      const requestFor = (o: Operation, role: Role) => {
        const arbs = schemaArbitraries(doc);
        const valid = schemaArbitraries(doc, { hostile: false });
        const destructive = o.method === 'DELETE' || o.path.endsWith('/expire-all');
        const names = [...o.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
        const params = fc.tuple(...names.map((n) => pathParam(n, destructive, role)));
        const queryParams = ((o.op.parameters ?? []) as any[]).filter((p) => p.in === 'query');
        const hostileQuery = fc.tuple(
          ...queryParams.map((p) =>
            fc.option(
              fc.oneof(
                arbs.valueFor(p.schema ?? {}).map((v) => (Array.isArray(v) ? v : [v])),
                fc.array(hostileString, { minLength: 2, maxLength: 3 }),
              ),
              { freq: 2 },
            ),
          ),
          fc.option(fc.tuple(hostileString, hostileString), { freq: 4 }),
        );
        // A query the document allows, so that list filters and paging run too.
        const validQuery = fc.tuple(
          ...queryParams.map((p) =>
            fc.option(
              valid.valueFor(p.schema ?? {}).map((v) => (Array.isArray(v) ? v : [v])),
              { freq: 2 },
            ),
          ),
          fc.constant(null),
        );
        const query = fc.oneof(validQuery, hostileQuery);
        const schema = o.op.requestBody?.content?.['application/json']?.schema;
        const body = fc.oneof(
          {
            weight: schema ? 5 : 1,
            arbitrary: (schema ? arbs.valueFor(schema) : fc.constant({})).map((v) => ({
              text: JSON.stringify(v) ?? 'null',
              type: 'application/json',
            })),
          },
          // Bodies the schema allows, so that cases get past validation into the handlers.
          {
            weight: schema ? 5 : 0,
            arbitrary: (schema ? valid.valueFor(schema) : fc.constant({})).map((v) => ({
              text: JSON.stringify(v) ?? 'null',
              type: 'application/json',
            })),
          },
          {
            weight: 1,
            arbitrary: fc.record({
              text: fc.constantFrom(
                '',
                '{',
                '{"a":',
                'null',
                '[]',
                '"str"',
                '1e999',
                '{"a":1,"a":2}',
                '\u0000',
                '[[[[[[[[[[',
                `${'['.repeat(200)}${']'.repeat(200)}`,
              ),
              type: fc.constantFrom(
                'application/json',
                'application/json; charset=utf-16',
                'text/plain',
                'application/x-www-form-urlencoded',
                'application/json;charset=latin1',
              ),
            }),
          },
          { weight: schema ? 1 : 3, arbitrary: fc.constant(null) },
        );
        const idempotencyKey = fc.option(hostileString, { freq: 6 });
        return fc
          .record({ params, query, body, idempotencyKey })
          .map(({ params: ps, query: q, body: b, idempotencyKey: key }) => {
            let path = o.path;
            names.forEach((n, i) => {
              path = path.replace(`{${n}}`, ps[i]!);
            });
            const search: string[] = [];
            const [named, extra] = [
              q.slice(0, -1) as (unknown[] | null)[],
              q[q.length - 1] as [string, string] | null,
            ];
            queryParams.forEach((p, i) => {
              for (const v of named[i] ?? [])
                search.push(
                  `${encode(p.name)}=${encode(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))}`,
                );
            });
            if (extra) search.push(`${encode(extra[0])}=${encode(extra[1])}`);
            return {
              method: o.method,
              path: search.length ? `${path}?${search.join('&')}` : path,
              body: o.method === 'GET' ? null : b,
              idempotencyKey: o.method === 'POST' ? key : null,
            };
          });
      };

      const operationsFor = (role: Role) =>
        // A token that logs out is gone for the rest of the run; logging out is tested elsewhere.
        operations.filter((o) => role === 'admin' || o.path !== '/api/v1/auth/logout');

      const send = async (
        role: Role,
        req: {
          method: string;
          path: string;
          body: { text: string; type: string } | null;
          idempotencyKey: string | null;
        },
      ) => {
        const headers: Record<string, string> = {
          authorization: `Bearer ${role === 'admin' ? server.token : tokens[role]}`,
        };
        if (req.body) headers['content-type'] = req.body.type;
        if (req.idempotencyKey !== null) headers['idempotency-key'] = encode(req.idempotencyKey);
        const res = await fetch(server.url + req.path, {
          method: req.method,
          headers,
          ...(req.body ? { body: req.body.text } : {}),
        });
        // A live feed (server-sent events) never ends: its status and headers are the answer.
        if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
          await res.body?.cancel();
          return { status: res.status, text: '' };
        }
        return { status: res.status, text: await res.text() };
      };

      const check = (
        role: Role,
        req: { method: string; path: string; body: { text: string } | null },
        status: number,
        text: string,
      ) => {
        const where = `${role} ${req.method} ${req.path.slice(0, 300)}`;
        assert.ok(status < 500, `${where}: ${status} ${text.slice(0, 500)}`);
        if (status >= 400) assertCodedError(status, text, codes, where);
        if (role === 'admin' || status >= 300) return;
        // The path as sent: fetch resolves dot segments (`/api/v1/background-task/.`).
        const route = new URL(server.url + req.path.split('?')[0]!).pathname;
        const open = route === '/health' || route === '/api/v1/health' || route === '/metrics';
        if (open) return;
        // An application token succeeds only inside its own application, or reading the catalog.
        const own = [A.id, A.uid].some(
          (a) => route === `/api/v1/app/${a}` || route.startsWith(`/api/v1/app/${a}/`),
        );
        const catalog = req.method === 'GET' && route.startsWith('/api/v1/event-type');
        // Its own tasks (the list is filtered to them) and who it is.
        // (The router ignores a trailing slash.)
        const bare = route.replace(/\/+$/, '');
        const self =
          req.method === 'GET' && (bare === '/api/v1/background-task' || bare === '/api/v1/auth/whoami');
        assert.ok(
          own || catalog || self,
          `${where}: an application token of ${A.id} got ${status}: ${text.slice(0, 300)}`,
        );
        // A search and a pre-check are POSTs that only read.
        const readingPost = /^\/api\/v1\/app\/[^/]+\/msg\/(search|precheck\/active)$/.test(route);
        if (role === 'readonly' && !readingPost)
          assert.equal(req.method, 'GET', `${where}: a read-only token changed something (${status})`);
        const sent = req.path + (req.body?.text ?? '');
        for (const mark of tenantBMarks) {
          if (sent.includes(mark)) continue;
          assert.ok(
            !text.includes(mark),
            `${where}: tenant B's ${mark} is visible to tenant A's token: ${text.slice(0, 500)}`,
          );
        }
      };

      for (const role of ['app', 'readonly', 'admin'] as Role[]) {
        test(`as ${role === 'app' ? 'an application token' : role === 'readonly' ? 'a read-only application token' : 'the admin'}: never a 5xx, errors coded, tenants apart`, async (t) => {
          t.diagnostic(`seed ${settings.seed}; replay with FUZZ_SEED=${settings.seed}`);
          const ops = operationsFor(role);
          const arb = fc.oneof(...ops.map((o) => requestFor(o, role)));
          let cases = 0;
          const statuses = new Map<number, number>();
          await runProperty(
            `${store.name}/${role}`,
            arb,
            async (req) => {
              cases++;
              const { status, text } = await send(role, req);
              statuses.set(status, (statuses.get(status) ?? 0) + 1);
              check(role, req, status, text);
            },
            settings,
          );
          const byStatus = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
          t.diagnostic(`${cases} requests over ${ops.length} operations (${byStatus.join(', ')})`);
          // The tenant's token still works: nothing the fuzzer did locked it out or widened it.
          if (role !== 'admin') {
            const own = await send(role, {
              method: 'GET',
              path: `/api/v1/app/${A.id}/endpoint`,
              body: null,
              idempotencyKey: null,
            });
            assert.equal(own.status, 200, own.text);
            const other = await send(role, {
              method: 'GET',
              path: `/api/v1/app/${B.id}/endpoint`,
              body: null,
              idempotencyKey: null,
            });
            assert.equal(other.status, 403, other.text);
          }
        });
      }
    },
  );
}
