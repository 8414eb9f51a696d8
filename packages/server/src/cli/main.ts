#!/usr/bin/env node
/**
 * The `hookline` command.
 *
 *   hookline serve [--role all|api|worker]   run the server (API and delivery worker)
 *   hookline migrate                         create or upgrade the database schema, then exit
 *   hookline admin-token --reset             print a new admin token (the old one stops working)
 */
import { parseArgs } from 'node:util';
import { resetAdminToken } from '../api/auth.ts';
import { ConfigError, type HooklineConfig, loadConfig } from '../config.ts';
import { createHookline, openStore, StartupError, VERSION } from '../hookline.ts';

const HELP = `hookline ${VERSION} — send, receive and inspect webhooks

Usage: hookline <command> [options]

Commands:
  serve                 Start the server (API on HOOKLINE_HOST:HOOKLINE_PORT and the delivery worker)
      --role all|api|worker   run both (default) or one of them
  migrate               Create or upgrade the database schema, then exit
  admin-token --reset   Make a new admin token and print it (the old one stops working)
  help                  Show this help

Configuration comes from HOOKLINE_* environment variables (see the README), for example:
  HOOKLINE_PORT=8071 HOOKLINE_DATABASE_URL=sqlite:./data/hookline.db hookline serve

Examples:
  npx hookline serve
  HOOKLINE_ALLOW_PRIVATE_NETWORKS=true npx hookline serve     # deliver to localhost while developing
  npx hookline admin-token --reset
`;

function fail(message: string, code = 1): never {
  process.stderr.write(`hookline: ${message}\n`);
  process.exit(code);
}

async function serve(config: Readonly<HooklineConfig>) {
  const hookline = await createHookline(config);
  const url = await hookline.start();
  const lines = [`Hookline ${VERSION} (${config.role}) using ${config.databaseUrl}`];
  if (url) lines.push(`API:        ${url}/api/v1   (OpenAPI: ${url}/openapi.json, health: ${url}/health)`);
  if (hookline.generatedAdminToken) {
    lines.push(
      `Admin token (shown once; keep it): ${hookline.generatedAdminToken}`,
      `Next: curl -H "Authorization: Bearer <token>" ${url ?? ''}/api/v1/app   — the README walks you through the rest.`,
    );
  } else if (!config.adminToken) {
    lines.push('Admin token: printed on first start; run `hookline admin-token --reset` to make a new one.');
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`hookline: ${signal} received, finishing in-flight deliveries...\n`);
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    await hookline.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function main(argv: string[]) {
  const [command = 'help', ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { role: { type: 'string' }, reset: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (command === 'help' || command === '--help' || command === '-h' || values.help) {
    process.stdout.write(HELP);
    return;
  }
  const env = { ...process.env };
  if (values.role) env.HOOKLINE_ROLE = values.role;
  let config: Readonly<HooklineConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }
  switch (command) {
    case 'serve':
      return serve(config);
    case 'migrate': {
      const store = openStore(config);
      try {
        await store.migrate();
      } finally {
        await store.close();
      }
      process.stdout.write('hookline: database schema is up to date\n');
      return;
    }
    case 'admin-token': {
      if (!values.reset) fail('admin-token needs --reset (the current token is stored only as a hash)', 2);
      const hookline = await createHookline({ ...config, role: 'worker' });
      const { generated } = await resetAdminToken(hookline.store);
      await hookline.close();
      process.stdout.write(`${generated}\n`);
      return;
    }
    default:
      fail(`unknown command "${command}"; run \`hookline help\``, 2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof StartupError) fail(err.message, 2);
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
});
