/**
 * The README's first five minutes, as written: `hookline serve --dev`, then the curl walkthrough
 * twice in a row on the same server (every step must be re-runnable), then the Svix snippet
 * twice, then every command of "The `hookline` command" section. A receiver on localhost stands
 * in for the walkthrough's `node -e` one.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN, ROOT } from './child.ts';
import { tempDir } from './helpers.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first fenced block of `lang` after the heading `heading`. */
function codeBlock(heading: string, lang: string): string {
  const at = readme.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `README has no "${heading}"`);
  const start = readme.indexOf(`\`\`\`${lang}\n`, at);
  const end = readme.indexOf('\n```', start + 4);
  return readme.slice(start + lang.length + 4, end + 1);
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

describe('README quickstart', () => {
  const received: Received[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.end();
    });
  });
  let receiverPort = 0;
  let server: ReturnType<typeof spawn>;
  let serverClosed: Promise<unknown>;
  let dir = '';
  let output = '';
  let url = '';
  let token = '';

  before(async () => {
    await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
    receiverPort = (receiver.address() as AddressInfo).port;
    dir = tempDir('hookline-quickstart-');
    // As the README starts it: `npx hookline serve --dev`, which runs the workspace's bin link
    // (its #!/usr/bin/env node finds this Node first on PATH). Only the port is set.
    server = spawn(join(ROOT, 'node_modules/.bin/hookline'), ['serve', '--dev'], {
      cwd: dir,
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
        HOOKLINE_PORT: '0',
        HOOKLINE_LOG_LEVEL: 'warn',
        NO_COLOR: '1',
      },
      stdio: 'pipe',
    });
    serverClosed = new Promise((ok) => server.once('close', ok));
    server.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    server.stderr!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const deadline = Date.now() + 30_000;
    while (!/Admin token \(shown once; keep it\): (\S+)/.test(output)) {
      if (server.exitCode !== null) assert.fail(`hookline serve --dev exited:\n${output}`);
      if (Date.now() > deadline) assert.fail(`no banner within 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    token = /Admin token \(shown once; keep it\): (\S+)/.exec(output)![1]!;
    url = /API: +(http:\/\/\S+)\/api\/v1/.exec(output)![1]!;
  });

  async function stopServer(): Promise<void> {
    if (!server) return;
    server.kill('SIGTERM');
    await serverClosed;
  }

  after(async () => {
    await stopServer();
    await new Promise((ok) => receiver.close(ok));
  });

  test('the banner says development mode loudly', () => {
    assert.match(
      output,
      /DEVELOPMENT MODE \(--dev\): endpoints on localhost and private networks are allowed/,
    );
    assert.match(output, /Never use --dev on a server others can reach/);
  });

  test('the curl walkthrough runs twice in a row and delivers to the local receiver', async () => {
    const script = codeBlock('## Five minutes with curl', 'sh')
      .replace('hl_admin_...', token)
      .replaceAll('http://127.0.0.1:8071', url)
      .replaceAll('localhost:3000', `localhost:${receiverPort}`)
      // The test's receiver replaces the one the README starts in the background.
      .replace(/^node -e .*&\n/m, '')
      // Fail on any HTTP error (curl -s alone prints the error body and goes on).
      .replaceAll('curl -s ', 'curl -s --fail-with-body ');
    assert.match(script, /curl -s --fail-with-body -X PUT/, 'the walkthrough was found');
    for (const run of [1, 2]) {
      const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(result.status, 0, `run ${run} failed:\n${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, /"key":"whsec_/, `run ${run} printed the signing secret`);
    }
    const deadline = Date.now() + 20_000;
    while (!received.some((r) => r.body.includes('inv_1001'))) {
      assert.ok(Date.now() < deadline, 'the message reached the receiver within 20 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const deliveries = received.filter((r) => r.body.includes('inv_1001'));
    // The second run's publish got the first answer back (idempotency-key): one message.
    assert.equal(new Set(deliveries.map((r) => r.headers['webhook-id'])).size, 1);
    assert.match(String(deliveries[0]!.headers['webhook-signature']), /^v1,/);
  });

  test('the Svix snippet runs twice after the curl walkthrough (no 409)', () => {
    const svix = import.meta.resolve('svix');
    const snippet = codeBlock('## The same with the official Svix client', 'js')
      .replace("from 'svix'", `from ${JSON.stringify(svix)}`)
      .replace("'http://127.0.0.1:8071'", JSON.stringify(url))
      .replaceAll('http://localhost:3000', `http://localhost:${receiverPort}`);
    const file = join(tempDir('hookline-svix-snippet-'), 'snippet.mjs');
    writeFileSync(
      file,
      `${snippet}\nconsole.log(JSON.stringify({ app: app.id, ep: ep.id, msg: msg.id, attempts: attempts.data.length, key }));\n`,
    );
    const outputs = [1, 2].map((run) => {
      const result = spawnSync(process.execPath, [file], {
        encoding: 'utf8',
        env: { ...process.env, TOKEN: token },
        timeout: 30_000,
      });
      assert.equal(result.status, 0, `run ${run}:\n${result.stdout}\n${result.stderr}`);
      return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    });
    assert.equal(outputs[0]!.ep, outputs[1]!.ep, 'the same endpoint both times');
    assert.equal(outputs[0]!.app, outputs[1]!.app);
    assert.match(String(outputs[0]!.key), /^whsec_/);
  });

  test('the `hookline` command section runs as written after the walkthrough', async () => {
    const [exportLine, ...commands] = codeBlock('## The `hookline` command', 'sh')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
    assert.match(exportLine!, /^export HOOKLINE_TOKEN=\$TOKEN /);
    const names = commands.map((line) => /^npx hookline (\S+) /.exec(`${line} `)?.[1]);
    for (const name of ['send', 'trigger', 'listen', 'tail', 'replay', 'migrate', 'admin-token'])
      assert.ok(names.includes(name), `the section shows ${name}`);
    // rotate-secret-key wants the server stopped, and serve its port: they come last.
    assert.deepEqual(names.slice(-2), ['rotate-secret-key', 'serve']);
    // As the README runs them: after the walkthrough's `export TOKEN=...`, in the directory the
    // server was started in (its ./data), `npx hookline` being the workspace's bin link.
    const env = {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
      TOKEN: token,
      HOOKLINE_URL: url,
      HOOKLINE_PORT: '0',
      HOOKLINE_LOG_LEVEL: 'warn',
      HOOKLINE_BIN: join(ROOT, 'node_modules/.bin/hookline'),
      NO_COLOR: '1',
    };
    const script = (line: string) =>
      `${exportLine}\nexec ${line.replace(/^npx hookline /, '"$HOOKLINE_BIN" ').replaceAll('localhost:3000', `localhost:${receiverPort}`)}`;
    // Asynchronously: the receiver the commands send to answers from this process.
    const start = (line: string) => {
      const child = spawn('bash', ['-euo', 'pipefail', '-c', script(line)], { cwd: dir, env, stdio: 'pipe' });
      const closed = new Promise<number | null>((ok) => child.once('close', (code) => ok(code)));
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        text += c.toString();
      });
      return { child, closed, text: () => text };
    };
    const run = async (line: string) => {
      const { child, closed, text } = start(line);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await closed;
      clearTimeout(timer);
      assert.equal(code, 0, `${line}:\n${text()}`);
      return text();
    };
    /** A command that runs until stopped: it must get as far as `ready` says. */
    const runUntil = async (line: string, ready: RegExp) => {
      const { child, closed, text } = start(line);
      try {
        const deadline = Date.now() + 30_000;
        while (!ready.test(text())) {
          assert.ok(child.exitCode === null, `${line} exited (${child.exitCode}):\n${text()}`);
          assert.ok(Date.now() < deadline, `${line}: not ready within 30 s:\n${text()}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        child.kill('SIGTERM');
        await closed;
      }
      return text();
    };
    const waitForDelivery = async (what: (r: Received) => boolean, why: string) => {
      const deadline = Date.now() + 20_000;
      while (!received.some(what)) {
        assert.ok(Date.now() < deadline, `${why} within 20 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    for (const [i, line] of commands.entries()) {
      const name = names[i];
      assert.ok(name, `${line} is a \`npx hookline\` command`);
      if (name === 'listen') await runUntil(line, /Ready! Forwarding to/);
      else if (name === 'tail') await runUntil(line, /following attempts of app_/);
      else if (name === 'serve') {
        const text = await runUntil(line, /API: +http:\/\/127\.0\.0\.1:\d+\/api\/v1/);
        assert.match(text, /using sqlite:\.\/data\/hookline\.db/);
      } else if (name === 'rotate-secret-key') {
        await stopServer();
        assert.match(await run(line), /re-encrypted the secrets of [1-9]\d* endpoint/);
        assert.ok(existsSync(join(dir, 'data/secret.key.old')), 'the old key is kept');
      } else {
        const out = await run(line);
        if (name === 'send') {
          assert.match(out, /^sent msg_/);
          const payload = /'(\{.*\})'/.exec(line)![1]!;
          await waitForDelivery((r) => r.body === payload, 'the sent message reached the receiver');
        } else if (name === 'trigger')
          await waitForDelivery(
            (r) => r.headers['stripe-signature'] !== undefined,
            'the Stripe event arrived',
          );
        else if (name === 'admin-token') assert.match(out, /^hl_admin_/);
      }
    }
  });

  test('--dev is refused on a non-loopback address, with the reason', () => {
    const result = spawnSync(process.execPath, [MAIN, 'serve', '--dev'], {
      cwd: tempDir('hookline-dev-refused-'),
      env: { ...process.env, HOOKLINE_HOST: '0.0.0.0', HOOKLINE_PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(
      result.stderr,
      /development mode .* only runs on a loopback address, and HOOKLINE_HOST is 0\.0\.0\.0/,
    );
  });
});
