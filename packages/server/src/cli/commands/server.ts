/** `hookline serve`, `migrate` and `admin-token`: the commands that run on the server machine. */
import { ADMIN_TOKEN_RECHECK_MS, resetAdminToken } from '../../api/auth.ts';
import { ConfigError, type HooklineConfig, loadConfig } from '../../config.ts';
import { createSecretBox, secretKeyFingerprint } from '../../core/secret-box.ts';
import { createHookline, openStore, StartupError, VERSION } from '../../hookline.ts';
import { commitKeyFile, newSecretKey, resolveSecretKey, rotateSecretKey } from '../../secret-key.ts';
import type { Command, OptionValues } from '../command.ts';
import { CliError, EXIT, type Io, printJson, usageError } from '../shared.ts';
import { releaseStartupMemory } from '../startup-memory.ts';

function configFrom(values: OptionValues, io: Io): Readonly<HooklineConfig> {
  const env = { ...io.env };
  if (typeof values.role === 'string') env.HOOKLINE_ROLE = values.role;
  if (values.dev === true) env.HOOKLINE_DEV = 'true';
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** A configuration that cannot start (e.g. PostgreSQL without HOOKLINE_SECRET_KEY) is a usage error. */
async function starting<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StartupError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/** How long in-flight deliveries get to finish on SIGTERM before their leases are left to expire. */
const SHUTDOWN_GRACE_MS = 10_000;

export const serve: Command = {
  name: 'serve',
  summary: 'Start the server: the API on HOOKLINE_HOST:HOOKLINE_PORT and the delivery worker',
  usage: 'hookline serve [--dev] [--role all|api|worker]',
  details: `Settings come from HOOKLINE_* environment variables (see the README). On SIGTERM or SIGINT the
server stops taking requests, lets deliveries in flight finish (up to ${SHUTDOWN_GRACE_MS / 1000} s) and gives the
rest back to the queue, then exits 0.`,
  maxPositionals: 0,
  options: {
    role: {
      type: 'string',
      valueName: 'all|api|worker',
      description: 'Run the API and the worker (all, default) or one of them',
    },
    dev: {
      type: 'boolean',
      description:
        'Development mode: deliver to localhost and private addresses (refused unless HOOKLINE_HOST is loopback)',
    },
  },
  examples: [
    'hookline serve',
    'hookline serve --dev     # on your machine: deliver to receivers on localhost',
    'HOOKLINE_PORT=9000 hookline serve --role api',
  ],
  async run({ values, io }) {
    const config = configFrom(values, io);
    const hookline = await starting(() => createHookline(config));
    let url: string | null;
    try {
      // What start-up used goes back before the first request or delivery.
      url = await starting(() => hookline.start({ beforeServing: releaseStartupMemory }));
    } catch (err) {
      await hookline.close();
      throw err;
    }
    const lines = [`Hookline ${VERSION} (${config.role}) using ${config.databaseUrl}`];
    if (config.dev) {
      lines.push(
        '',
        io.c.bold(
          io.c.yellow('DEVELOPMENT MODE (--dev): endpoints on localhost and private networks are allowed.'),
        ),
        io.c.yellow(`Listening on ${config.host} only. Never use --dev on a server others can reach.`),
        '',
      );
    }
    if (url) {
      lines.push(`Dashboard:  ${url}/`);
      lines.push(`API:        ${url}/api/v1   (OpenAPI: ${url}/openapi.json, health: ${url}/health)`);
      lines.push(
        `Metrics:    ${url}/metrics${config.metricsToken ? '   (needs HOOKLINE_METRICS_TOKEN)' : ''}`,
      );
    }
    if (hookline.metricsUrl)
      lines.push(`Metrics:    ${hookline.metricsUrl}/metrics   (HOOKLINE_METRICS_PORT)`);
    if (hookline.generatedAdminToken) {
      lines.push(
        `Admin token (shown once; keep it): ${hookline.generatedAdminToken}`,
        `Next: curl -H "Authorization: Bearer <token>" ${url ?? ''}/api/v1/app   — the README walks you through the rest.`,
      );
    } else if (!config.adminToken) {
      lines.push(
        'Admin token: printed on first start; run `hookline admin-token --reset` to make a new one.',
      );
    }
    io.out(lines.join('\n'));
    await new Promise<void>((resolve) =>
      io.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    io.out(`hookline: ${String(io.signal.reason)} received, finishing in-flight deliveries...`);
    const force = setTimeout(() => process.exit(EXIT.failure), SHUTDOWN_GRACE_MS + 20_000);
    force.unref();
    await hookline.close(SHUTDOWN_GRACE_MS);
    io.out('hookline: stopped');
    return 0;
  },
};

export const migrate: Command = {
  name: 'migrate',
  summary: 'Create or upgrade the database schema, then exit',
  usage: 'hookline migrate',
  maxPositionals: 0,
  options: {},
  examples: ['HOOKLINE_DATABASE_URL=sqlite:./data/hookline.db hookline migrate'],
  async run({ values, io }) {
    const config = configFrom(values, io);
    // Only the schema: no token, no listeners, so it can run before any server starts.
    const store = await starting(async () => openStore(config));
    let behind: number;
    try {
      // What the schema lacked when we looked (another process starting at the same time may
      // apply some of them: migrations run once, under a lock).
      behind = await store.pendingMigrations();
      await store.migrate();
    } finally {
      await store.close();
    }
    if (io.json) printJson(io, { migrationsApplied: behind });
    else if (behind === 0) io.out('hookline migrate: nothing to apply; the database schema is up to date');
    else io.out(`hookline migrate: applied ${behind} migration(s); the database schema is up to date`);
    return 0;
  },
};

export const adminToken: Command = {
  name: 'admin-token',
  summary: 'Make a new admin token and print it (the old one stops working, on running servers too)',
  usage: 'hookline admin-token --reset',
  details: `The token is stored as a hash in the database. Running servers read it again within
${ADMIN_TOKEN_RECHECK_MS / 1000} s, so a leaked token stops working without a restart. A token set with
HOOKLINE_ADMIN_TOKEN is not stored: change the variable and restart every process instead.`,
  maxPositionals: 0,
  options: { reset: { type: 'boolean', description: 'Required: confirms that the old token stops working' } },
  examples: ['hookline admin-token --reset'],
  async run({ values, io }) {
    if (!values.reset)
      throw usageError('admin-token needs --reset (the current token is stored only as a hash)');
    const config = configFrom(values, io);
    if (config.adminToken) {
      throw usageError(
        'the admin token comes from HOOKLINE_ADMIN_TOKEN, which a reset cannot change: set a new value there and restart every Hookline process (or unset it to use a generated token that `admin-token --reset` can replace live)',
      );
    }
    const hookline = await starting(() => createHookline({ ...config, role: 'worker' }));
    const { generated } = await resetAdminToken(hookline.store);
    await hookline.close();
    if (io.json) printJson(io, { token: generated, takesEffectWithinMs: ADMIN_TOKEN_RECHECK_MS });
    else {
      io.out(generated);
      io.err(
        `hookline admin-token: the old token stops working on running servers within ${ADMIN_TOKEN_RECHECK_MS / 1000} s`,
      );
    }
    return 0;
  },
};

export const rotateSecretKeyCommand: Command = {
  name: 'rotate-secret-key',
  summary: 'Encrypt every stored secret again with a new secret key (stop every Hookline process first)',
  usage: 'HOOKLINE_NEW_SECRET_KEY=<new key> hookline rotate-secret-key',
  details: `Endpoint signing secrets and inbound sources' secrets are stored encrypted with the secret key
(HOOKLINE_SECRET_KEY, or with SQLite the generated secret.key in the data dir). This command opens
each with the current key and seals it again with the new one, then records the new key's
fingerprint: a process started with the old key afterwards refuses to start, saying why.

Stop every Hookline process first (one still running with the old key could not read what was
re-encrypted), run this with the current key in place and the new one in HOOKLINE_NEW_SECRET_KEY,
then start every process with the new key as HOOKLINE_SECRET_KEY. With SQLite and a generated
key, leave HOOKLINE_NEW_SECRET_KEY unset: a new key is generated into secret.key (the old one is
kept as secret.key.old, for backups taken before). If it is interrupted, run it again with the
same keys: it finishes the job.`,
  maxPositionals: 0,
  options: {},
  examples: [
    'HOOKLINE_NEW_SECRET_KEY="$(openssl rand -base64 32)" hookline rotate-secret-key',
    'hookline rotate-secret-key          # SQLite with a generated secret.key',
  ],
  async run({ values, io }) {
    const config = configFrom(values, io);
    const done = await starting(async () => {
      const current = resolveSecretKey(config);
      const next = newSecretKey(current, io.env.HOOKLINE_NEW_SECRET_KEY);
      // Seals with the new key; opens with either, so a second run finishes an interrupted one.
      const box = createSecretBox(next.key, [current.key]);
      const store = openStore(config, box);
      try {
        if (config.migrateOnStart) await store.migrate();
        else if ((await store.pendingMigrations()) > 0) {
          throw new StartupError(
            'the database schema is behind this version of Hookline: run `hookline migrate` first',
          );
        }
        const result = await rotateSecretKey(store, box, secretKeyFingerprint(current.key), (line) =>
          io.err(`hookline rotate-secret-key: ${line}`),
        );
        if (next.pendingFile) commitKeyFile(current, next.pendingFile);
        return { result, keyFile: next.pendingFile ? current.file : null };
      } finally {
        await store.close();
      }
    });
    const { result, keyFile } = done;
    if (io.json) {
      printJson(io, { ...result, keyFile });
      return 0;
    }
    const what = result.alreadyDone
      ? `the database was already encrypted with the new key (fingerprint ${result.fingerprint})`
      : `re-encrypted the secrets of ${result.endpoints} endpoint(s) and ${result.sources} source(s) with the new key (fingerprint ${result.fingerprint})`;
    const next = keyFile
      ? `the new key is in ${keyFile} (the old one is kept as ${keyFile}.old for backups taken before now); start Hookline again`
      : 'start every Hookline process with HOOKLINE_SECRET_KEY set to the new key';
    io.out(`hookline rotate-secret-key: ${what}; ${next}`);
    return 0;
  },
};
