/**
 * Endpoint authentication beyond the signature: OAuth 2.0 client credentials (a local token
 * server; the token is cached until it expires and fetched again on a 401, within the same
 * attempt), mutual TLS (a local HTTPS receiver that requires a client certificate) and a CA of
 * the endpoint's own. The API never answers the client secret or the private key. Both stores.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { startHookline, type TestServer, tempDir } from './helpers.ts';
import { type TestStoreKind, testStores } from './pg.ts';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface Pki {
  ca: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
  otherKey: string;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate it signed, by the openssl CLI. */
function makePki(): Pki {
  const dir = tempDir('hookline-pki-');
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=Hookline Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  const leaf = (name: string, ext: string) => {
    ossl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      `/CN=${name}`,
    );
    writeFileSync(f(`${name}.ext`), ext);
    ossl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
    );
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
  ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('other.key'));
  const r = (n: string) => readFileSync(f(n), 'utf8');
  return {
    ca: r('ca.crt'),
    serverKey: r('server.key'),
    serverCert: r('server.crt'),
    clientKey: r('client.key'),
    clientCert: r('client.crt'),
    otherKey: r('other.key'),
  };
}

const listen = (s: Server) =>
  new Promise<string>((ok) => s.listen(0, '127.0.0.1', () => ok(String((s.address() as AddressInfo).port))));
const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

interface Attempt {
  status: number;
  responseStatusCode: number;
  response: string;
}

function authSuite(kind: TestStoreKind): void {
  let server: TestServer;
  let db: Awaited<ReturnType<TestStoreKind['open']>>;
  let pki: Pki;
  // The token server: what it received, what it answers.
  const tokenRequests: { auth: string | undefined; form: URLSearchParams }[] = [];
  let tokenAnswer: { status: number; expiresIn?: number } = { status: 200, expiresIn: 3600 };
  let issued = 0;
  let tokenServer: Server;
  let tokenUrl: string;
  // The receiver: the tokens it accepts, and the Authorization headers it saw.
  const valid = new Set<string>();
  const seen: string[] = [];
  let receiver: Server;
  let receiverUrl: string;
  // The TLS receiver: the client certificates' names it saw.
  const clients: string[] = [];
  const tlsAuth: string[] = [];
  let tlsReceiver: Server;
  let tlsUrl: string;

  before(async () => {
    db = await kind.open('auth');
    pki = makePki();
    tokenServer = createServer(async (req, res) => {
      const form = new URLSearchParams(await readBody(req));
      tokenRequests.push({ auth: req.headers.authorization, form });
      if (tokenAnswer.status !== 200) {
        res.writeHead(tokenAnswer.status).end('nope');
        return;
      }
      const token = `tok-${++issued}`;
      valid.add(token);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: token,
          token_type: 'Bearer',
          ...(tokenAnswer.expiresIn === undefined ? {} : { expires_in: tokenAnswer.expiresIn }),
        }),
      );
    });
    tokenUrl = `http://127.0.0.1:${await listen(tokenServer)}/oauth/token`;
    receiver = createServer(async (req, res) => {
      await readBody(req);
      const auth = req.headers.authorization ?? '';
      seen.push(auth);
      const ok = auth.startsWith('Bearer ') && valid.has(auth.slice(7));
      res.writeHead(ok ? 200 : 401).end(ok ? 'ok' : 'bad token');
    });
    receiverUrl = `http://127.0.0.1:${await listen(receiver)}`;
    tlsReceiver = createHttpsServer(
      { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
      async (req, res) => {
        await readBody(req);
        const cn = (req.socket as TLSSocket).getPeerCertificate().subject.CN as string;
        if (req.url === '/token') {
          // A token server on the same private PKI, binding tokens to the client certificate.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ access_token: `tls-token-for-${cn}`, expires_in: 3600 }));
          return;
        }
        clients.push(cn);
        tlsAuth.push(req.headers.authorization ?? '');
        res.writeHead(200).end('tls ok');
      },
    );
    tlsUrl = `https://127.0.0.1:${await listen(tlsReceiver)}/hook`;
    server = await startHookline({ env: { ...db.env } });
    assert.equal((await server.call('POST', '/api/v1/app', { name: 'A', uid: 'a' })).status, 201);
    await server.call('POST', '/api/v1/event-type', { name: 'auth.test', description: 'x' });
  });
  after(async () => {
    await server.close();
    for (const s of [tokenServer, receiver, tlsReceiver]) {
      s.closeAllConnections();
      await new Promise((ok) => s.close(ok));
    }
    await db.drop();
  });

  const publish = async () => {
    const r = await server.call('POST', '/api/v1/app/a/msg', { eventType: 'auth.test', payload: { n: 1 } });
    assert.equal(r.status, 202);
    await server.hookline.dispatcher!.drain();
  };
  const attempts = async (ep: string) =>
    (await server.call('GET', `/api/v1/app/a/attempt/endpoint/${ep}`)).body.data as Attempt[];

  test('oauth: validated, stored sealed, answered without the client secret, removed', async () => {
    const ep = (await server.call('POST', '/api/v1/app/a/endpoint', { url: `${receiverUrl}/v` })).body.id;
    const path = `/api/v1/app/a/endpoint/${ep}/oauth`;
    assert.equal((await server.call('GET', path)).status, 404);
    assert.equal((await server.call('PUT', path, { tokenUrl, clientId: 'c' })).status, 422, 'no secret');
    const bad = await server.call('PUT', path, { tokenUrl: 'ftp://x/', clientId: 'c', clientSecret: 's' });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.detail[0].loc, ['body', 'tokenUrl']);
    const put = await server.call('PUT', path, {
      tokenUrl,
      clientId: 'client-1',
      clientSecret: 'the-client-secret-xyz',
      scopes: ['a', 'b'],
    });
    assert.equal(put.status, 204);
    const got = await server.call('GET', path);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, {
      tokenUrl,
      clientId: 'client-1',
      scopes: ['a', 'b'],
      authMethod: 'clientSecretBasic',
      grantType: 'clientCredentials',
      extraParams: {},
    });
    assert.doesNotMatch(JSON.stringify(got.body), /the-client-secret-xyz/);
    if (kind.name === 'sqlite') {
      const raw = new DatabaseSync(join(server.dataDir, 'hookline.db'), { readOnly: true });
      const row = raw.prepare('SELECT oauth FROM endpoint_extra WHERE endpoint_id = ?').get(ep) as {
        oauth: string;
      };
      raw.close();
      assert.ok(row.oauth.length > 0);
      assert.doesNotMatch(row.oauth, /the-client-secret-xyz/, 'sealed at rest');
    }
    assert.equal((await server.call('DELETE', path)).status, 204);
    assert.equal((await server.call('GET', path)).status, 404);
    assert.equal((await server.call('GET', `/api/v1/app/a/endpoint/ep_nope/oauth`)).status, 404);
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}`);
  });

  test('oauth: a bearer token from the token URL, cached, fetched again when expired or on a 401', async () => {
    const ep = (await server.call('POST', '/api/v1/app/a/endpoint', { url: `${receiverUrl}/o` })).body.id;
    tokenRequests.length = 0;
    seen.length = 0;
    tokenAnswer = { status: 200, expiresIn: 3600 };
    const put = await server.call('PUT', `/api/v1/app/a/endpoint/${ep}/oauth`, {
      tokenUrl,
      clientId: 'client id',
      clientSecret: 's3cret:&',
      scopes: ['webhooks:write', 'read'],
      extraParams: { audience: 'https://api.example.com' },
    });
    assert.equal(put.status, 204);
    await publish();
    await publish();
    assert.equal(tokenRequests.length, 1, 'one token for both deliveries');
    const first = tokenRequests[0]!;
    assert.equal(first.form.get('grant_type'), 'client_credentials');
    assert.equal(first.form.get('scope'), 'webhooks:write read');
    assert.equal(first.form.get('audience'), 'https://api.example.com');
    assert.equal(first.form.get('client_secret'), null, 'Basic by default: no secret in the form');
    const basic = Buffer.from(first.auth!.replace(/^Basic /, ''), 'base64').toString('utf8');
    assert.equal(basic, `${encodeURIComponent('client id')}:${encodeURIComponent('s3cret:&')}`);
    const token1 = seen.at(-1)!;
    assert.match(token1, /^Bearer tok-\d+$/);
    assert.deepEqual(seen.slice(-2), [token1, token1]);
    let log = await attempts(ep);
    assert.equal(log.length, 2);
    assert.ok(log.every((a) => a.status === 0));

    // The receiver stops accepting the token: a 401, a new token, the same attempt succeeds.
    valid.delete(token1.slice(7));
    await publish();
    assert.equal(tokenRequests.length, 2, 'fetched again on the 401');
    const token2 = seen.at(-1)!;
    assert.notEqual(token2, token1);
    assert.deepEqual(seen.slice(-2), [token1, token2], 'the old token, then the new one');
    log = await attempts(ep);
    assert.equal(log.length, 3, 'one attempt for the 401 and the retry with the new token');
    assert.equal(log[0]!.status, 0);

    // A token that expires (expires_in 1 s) is not used once it has run out.
    tokenAnswer = { status: 200, expiresIn: 1 };
    valid.delete(token2.slice(7));
    await publish(); // 401 -> new short-lived token
    const requestsBefore = tokenRequests.length;
    await new Promise((ok) => setTimeout(ok, 1_100));
    await publish();
    assert.equal(tokenRequests.length, requestsBefore + 1, 'the expired token was replaced before sending');
    assert.equal(seen.filter((s) => s === seen.at(-1)).length, 1, 'the newest token was used once');

    // The client secret post method puts the credentials in the form.
    await server.call('PUT', `/api/v1/app/a/endpoint/${ep}/oauth`, {
      tokenUrl,
      clientId: 'c2',
      clientSecret: 'p2',
      authMethod: 'clientSecretPost',
    });
    await publish();
    const posted = tokenRequests.at(-1)!;
    assert.equal(posted.auth, undefined);
    assert.equal(posted.form.get('client_id'), 'c2');
    assert.equal(posted.form.get('client_secret'), 'p2');
    assert.equal(posted.form.get('scope'), null);
    assert.equal((await attempts(ep))[0]!.status, 0, 'a new configuration gets a new token');

    // A token URL that fails: the attempt fails with the reason, nothing reaches the receiver.
    await server.call('PUT', `/api/v1/app/a/endpoint/${ep}/oauth`, {
      tokenUrl,
      clientId: 'c3',
      clientSecret: 'p3',
    });
    tokenAnswer = { status: 500 };
    const reached = seen.length;
    await publish();
    const failed = (await attempts(ep))[0]!;
    assert.equal(failed.status, 2);
    assert.equal(failed.responseStatusCode, 0);
    assert.match(failed.response, /OAuth token request failed: the token URL answered 500/);
    assert.equal(seen.length, reached);
    tokenAnswer = { status: 200, expiresIn: 3600 };

    // Without OAuth the endpoint gets no Authorization header.
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}/oauth`);
    await publish();
    assert.equal(seen.at(-1), '');
    await server.call('DELETE', `/api/v1/app/a/endpoint/${ep}`);
  });

  test('mtls and ca: a receiver that requires a client certificate from a private CA', {
    skip: hasOpenssl ? undefined : 'the openssl CLI is not installed',
  }, async () => {
    const ep = (await server.call('POST', '/api/v1/app/a/endpoint', { url: tlsUrl })).body.id;
    const base = `/api/v1/app/a/endpoint/${ep}`;
    await publish();
    let [last] = await attempts(ep);
    assert.equal(last!.status, 2, 'the private CA is not trusted by default');
    assert.match(last!.response, /certificate/i);

    assert.equal((await server.call('PUT', `${base}/ca`, { certificate: 'nope' })).status, 422);
    assert.equal(
      (await server.call('PUT', `${base}/ca`, { certificate: pki.serverCert })).status,
      422,
      'not a CA',
    );
    assert.equal((await server.call('PUT', `${base}/ca`, { certificate: pki.ca })).status, 204);
    const ca = await server.call('GET', `${base}/ca`);
    assert.equal(ca.body.subject, 'CN=Hookline Test CA');
    await publish();
    [last] = await attempts(ep);
    assert.equal(last!.status, 2, 'trusted now, but the receiver wants a client certificate');
    assert.equal(clients.length, 0);

    const mismatch = await server.call('PUT', `${base}/mtls`, {
      certificate: pki.clientCert,
      key: pki.otherKey,
    });
    assert.equal(mismatch.status, 422);
    assert.deepEqual(mismatch.body.detail[0].loc, ['body', 'key']);
    assert.equal(
      (await server.call('PUT', `${base}/mtls`, { certificate: pki.clientCert, key: 'x' })).status,
      422,
    );
    const put = await server.call('PUT', `${base}/mtls`, { certificate: pki.clientCert, key: pki.clientKey });
    assert.equal(put.status, 204);
    const got = await server.call('GET', `${base}/mtls`);
    assert.equal(got.body.subject, 'CN=client');
    assert.equal(got.body.certificate, pki.clientCert);
    assert.doesNotMatch(JSON.stringify(got.body), /PRIVATE KEY/);
    await publish();
    [last] = await attempts(ep);
    assert.equal(last!.status, 0, last!.response);
    assert.equal(last!.response, 'tls ok');
    assert.deepEqual(clients, ['client']);

    // OAuth with a token URL on the same private PKI: reached with the endpoint's CA and certificate.
    const oauth = await server.call('PUT', `${base}/oauth`, {
      tokenUrl: tlsUrl.replace('/hook', '/token'),
      clientId: 'c',
      clientSecret: 's',
    });
    assert.equal(oauth.status, 204);
    await publish();
    [last] = await attempts(ep);
    assert.equal(last!.status, 0, last!.response);
    assert.equal(tlsAuth.at(-1), 'Bearer tls-token-for-client');
    assert.equal((await server.call('DELETE', `${base}/oauth`)).status, 204);
    clients.length = 1;

    // Removing the client certificate: the receiver refuses the connection again.
    assert.equal((await server.call('DELETE', `${base}/mtls`)).status, 204);
    assert.equal((await server.call('GET', `${base}/mtls`)).status, 404);
    await publish();
    [last] = await attempts(ep);
    assert.equal(last!.status, 2);
    assert.deepEqual(clients, ['client']);
    // And without the CA, the private CA is not trusted any more.
    assert.equal((await server.call('DELETE', `${base}/ca`)).status, 204);
    await publish();
    [last] = await attempts(ep);
    assert.equal(last!.status, 2);
    assert.match(last!.response, /certificate/i);

    const openapi = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const part of ['oauth', 'mtls', 'ca', 'transformation', 'transformation/simulate'])
      assert.ok(
        openapi.paths[`/api/v1/app/{app_id}/endpoint/{endpoint_id}/${part}`],
        `${part} is in /openapi.json`,
      );
    await server.call('DELETE', base);
  });
}

for (const kind of await testStores()) {
  describe(`endpoint authentication (${kind.name})`, kind.options, () => authSuite(kind));
}
