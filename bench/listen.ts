/**
 * `hookline listen` catch-up rate: `node bench/listen.ts [--count N]`.
 *
 * Hookline runs as a child process (like `npm start`) with a receiver process. First with the
 * API only, N deliveries are queued for an HTTP endpoint and N for a listen endpoint. Restarted
 * with the worker, the dispatcher delivers the HTTP backlog (the baseline, measured in the same
 * run); then `hookline listen` (a child process) connects and catches up on its N. Listen delivers
 * one at a time and in order (claim, push, forward, answer, record), so it is expected to be far
 * slower than the dispatcher; what matters is that a laptop catches up on a day of test traffic
 * in seconds.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { MAIN } from '../packages/server/test/child.ts';
import {
  ADMIN_TOKEN,
  fmtPct,
  fmtRate,
  payloadOf,
  removeDir,
  startHookline,
  startReceiverProcess,
  tempDir,
} from './lib.ts';

const { values } = parseArgs({ options: { count: { type: 'string', default: '500' } } });
const N = Number(values.count);

const dataDir = tempDir();
const receiver = await startReceiverProcess();
const env = { HOOKLINE_LOG_LEVEL: 'warn' };
// First life, API only: queue N deliveries for an HTTP endpoint and N for a listen endpoint.
const api = await startHookline({ dataDir, env: { ...env, HOOKLINE_ROLE: 'api' } });
try {
  const app = await api.call('POST', '/api/v1/app', { name: 'bench-listen', uid: 'bench-listen' });
  for (const name of ['to.http', 'to.listen'])
    await api.call('POST', '/api/v1/event-type', { name, description: '' });
  await api.call('POST', `/api/v1/app/${app.body.id}/endpoint`, {
    url: receiver.url,
    filterTypes: ['to.http'],
  });
  await api.call('POST', `/api/v1/app/${app.body.id}/endpoint`, {
    url: receiver.url,
    uid: 'bench',
    kind: 'listen',
    filterTypes: ['to.listen'],
  });
  for (const eventType of ['to.http', 'to.listen']) {
    for (let i = 0; i < N; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, N - i) }, (_, j) =>
          api.call('POST', `/api/v1/app/${app.body.id}/msg`, {
            eventType,
            payload: { ...payloadOf(1024), seq: i + j },
          }),
        ),
      );
    }
  }
} finally {
  await api.stop();
}

// Second life: the dispatcher delivers the HTTP backlog (baseline), then listen catches up.
await receiver.reset();
const hookline = await startHookline({ dataDir, env });
try {
  const base = await receiver.waitFor(N, 120_000);
  const baseRate = (base.count / (base.at - base.firstAt)) * 1000;
  await receiver.reset();
  const cli = spawn(
    process.execPath,
    [MAIN, 'listen', '--json', '--forward-to', receiver.url, '--app', 'bench-listen', '--name', 'bench'],
    { env: { ...process.env, HOOKLINE_URL: hookline.url, HOOKLINE_TOKEN: ADMIN_TOKEN }, stdio: 'ignore' },
  );
  const caught = await receiver.waitFor(N, 300_000);
  const listenRate = (caught.count / (caught.at - caught.firstAt)) * 1000;
  cli.kill('SIGINT');

  console.log(`hookline listen catch-up: ${N} queued deliveries of 1 KB, from first to last arrival`);
  console.log(`  dispatcher, HTTP endpoint backlog (baseline)  ${fmtRate(baseRate)}/s`);
  console.log(
    `  hookline listen catch-up                      ${fmtRate(listenRate)}/s  (${fmtPct(listenRate / baseRate)} of baseline)`,
  );
} finally {
  await hookline.stop();
  await receiver.close();
  removeDir(dataDir);
}
