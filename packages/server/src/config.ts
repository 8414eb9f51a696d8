/**
 * Configuration: built-in defaults, then an optional JSON file (`HOOKLINE_CONFIG`, an object
 * with the same names and units as the environment variables), then `HOOKLINE_*` environment
 * variables. Read once at start, validated with every problem listed
 * in one error, then frozen. Library code receives this object and never reads `process.env`.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { isEmailAddress } from './core/email-address.ts';
import { ipRangeProblems } from './core/ip-ranges.ts';

export interface HooklineConfig {
  host: string;
  port: number;
  /** `sqlite:<path>` (default `sqlite:./data/hookline.db`) or `postgres://...`. */
  databaseUrl: string;
  /** Bearer token with full access; when null one is generated on first start. */
  adminToken: string | null;
  /** When set, `GET /metrics` needs this bearer token (or the admin token); when null it is open. */
  metricsToken: string | null;
  /** When set, `/metrics` is also served on this port (on `host`), whatever the role. */
  metricsPort: number | null;
  /**
   * Where people reach this server's dashboard (`https://hooks.example.com`): chat messages link
   * to the message there. Null: no links.
   */
  publicUrl: string | null;
  /** Allow endpoint URLs on loopback and private ranges (local development, tests). */
  allowPrivateNetworks: boolean;
  /**
   * Development mode (`hookline serve --dev`, `HOOKLINE_DEV`): allows loopback and private
   * endpoints. Only for a server that listens on a loopback address (see `checkDevMode`).
   */
  dev: boolean;
  /**
   * Check message payloads against their event type's JSON Schema on publish, for event types
   * that do not say (`validatePayload` null).
   */
  validatePayloads: boolean;
  /**
   * Which proxies' `X-Forwarded-For` names the client (Fastify's `trustProxy`): false (the
   * socket address), true (any), a hop count, or the proxies' IPs/CIDRs. Source allowlists
   * check the address this gives.
   */
  trustProxy: boolean | number | string[];
  /** Key that encrypts endpoint secrets at rest; when null one is generated into the data dir. */
  secretKey: string | null;
  /** Largest accepted request body, in bytes. */
  maxPayloadBytes: number;
  /**
   * How long a client may take to send a request, so slow or stalled clients cannot hold
   * sockets forever: its headers (`headersTimeoutMs`), the whole request with its body
   * (`requestTimeoutMs`), and how long an idle keep-alive connection stays open between
   * requests (`keepAliveTimeoutMs`). A WebSocket (`hookline listen`) is not cut by them once open.
   */
  http: { requestTimeoutMs: number; headersTimeoutMs: number; keepAliveTimeoutMs: number };
  /** `all` runs the API and the delivery worker; `api` or `worker` runs one of them. */
  role: 'all' | 'api' | 'worker';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `FULL` survives power loss; `NORMAL` survives process crashes and is faster. */
  sqliteSynchronous: 'FULL' | 'NORMAL';
  /** SQLite's page cache, in MB: more keeps more of a large database in memory (and in RSS). */
  sqliteCacheMb: number;
  /** Apply pending migrations when the process starts (else run `hookline migrate` first). */
  migrateOnStart: boolean;
  /** PostgreSQL: connections per process, and how long to wait for a connection or a statement. */
  database: { poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number };
  /**
   * Payloads and attempt logs older than this are deleted by the worker role (the message
   * records stay, marked as expunged). Null keeps everything.
   */
  retentionMs: number | null;
  /**
   * A `listen` endpoint whose `hookline listen` has been gone this long is paused (disabled,
   * its queued deliveries canceled); the next `hookline listen` enables it again. Null: never.
   */
  listenEndpointTtlMs: number | null;
  /**
   * Alert emails to an application's alert email (`PATCH /api/v1/app/{app}/alert-email`): the
   * SMTP server (`smtp://user:pass@host:587`, `smtps://...`; null: none are sent), the From
   * address, which events send one, and the least time between two emails to one application
   * (events in between are listed in the next one).
   */
  alertEmail: {
    smtpUrl: string | null;
    from: string | null;
    events: AlertEmailEvent[];
    intervalMs: number;
  };
  delivery: {
    concurrency: number;
    perEndpointConcurrency: number;
    /**
     * The per-endpoint limit adapts to the endpoint's answers (AIMD, up to
     * `perEndpointConcurrency`), and Retry-After / used-up rate limits pause the endpoint.
     */
    adaptiveConcurrency: boolean;
    timeoutMs: number;
    connectTimeoutMs: number;
    maxResponseBytes: number;
    /** Delays between attempts, in milliseconds; its length is the number of retries. */
    retryScheduleMs: number[];
    retryJitter: number;
    /** An endpoint failing without a success for this long is disabled. */
    disableAfterMs: number;
  };
}

/** What sends an alert email (Svix's application alert events, without streaming's). */
export const ALERT_EMAIL_EVENTS = ['endpoint.disabled', 'message.attempt.exhausted'] as const;
export type AlertEmailEvent = (typeof ALERT_EMAIL_EVENTS)[number];

export const DEFAULT_CONFIG: HooklineConfig = {
  host: '127.0.0.1',
  port: 8071,
  databaseUrl: 'sqlite:./data/hookline.db',
  adminToken: null,
  metricsToken: null,
  metricsPort: null,
  publicUrl: null,
  allowPrivateNetworks: false,
  dev: false,
  validatePayloads: false,
  trustProxy: false,
  secretKey: null,
  maxPayloadBytes: 1024 * 1024,
  // 72 s keep-alive outlives the 60 s idle timeout of common load balancers, so they never reuse
  // a connection Hookline is closing.
  http: { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000 },
  role: 'all',
  logLevel: 'info',
  sqliteSynchronous: 'FULL',
  sqliteCacheMb: 64,
  migrateOnStart: true,
  database: { poolSize: 10, connectTimeoutMs: 5_000, statementTimeoutMs: 15_000 },
  retentionMs: null,
  listenEndpointTtlMs: 24 * 3_600_000,
  alertEmail: { smtpUrl: null, from: null, events: ['endpoint.disabled'], intervalMs: 60_000 },
  delivery: {
    concurrency: 256,
    perEndpointConcurrency: 32,
    adaptiveConcurrency: true,
    timeoutMs: 15_000,
    connectTimeoutMs: 5_000,
    maxResponseBytes: 64 * 1024,
    retryScheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    retryJitter: 0.2,
    disableAfterMs: 5 * 24 * 3_600_000,
  },
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid Hookline configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Parser = (raw: string) => unknown;
const int =
  (min: number, max: number): Parser =>
  (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`must be a whole number from ${min} to ${max}`);
    return n;
  };
const bool: Parser = (raw) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error('must be true or false');
};
const oneOf =
  (...values: string[]): Parser =>
  (raw) => {
    if (!values.includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
    return raw;
  };
const text: Parser = (raw) => {
  if (raw.trim() === '') throw new Error('must not be empty');
  return raw;
};
/** A secret someone could otherwise guess: at least `min` characters. */
const secret =
  (min: number, generate: string): Parser =>
  (raw) => {
    if (raw.trim().length < min)
      throw new Error(`is too short: use at least ${min} random characters (${generate})`);
    return raw;
  };
const seconds =
  (min: number): Parser =>
  (raw) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`must be a number of seconds, at least ${min}`);
    return Math.round(n * 1000);
  };
const days: Parser = (raw) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error('must be a number of days (0 keeps everything)');
  return n === 0 ? null : Math.round(n * 86_400_000);
};
const secondsOrNever: Parser = (raw) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (n > 0 && n < 1))
    throw new Error('must be a number of seconds, at least 1 (0 turns it off)');
  return n === 0 ? null : Math.round(n * 1000);
};
const secondsList: Parser = (raw) =>
  raw.split(',').map((part) => {
    const n = Number(part.trim());
    if (!Number.isFinite(n) || n < 0)
      throw new Error('must be a comma-separated list of seconds, such as 5,300,1800');
    return Math.round(n * 1000);
  });
const trustProxy: Parser = (raw) => {
  if (/^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
  if (/^\d+$/.test(raw)) return int(1, 100)(raw);
  const list = raw.split(',').map((s) => s.trim());
  const bad = ipRangeProblems(list);
  if (bad.length > 0) throw new Error(`must be true, false, a hop count or IPs/CIDRs: ${bad[0]!.msg}`);
  return list;
};
const databaseUrl: Parser = (raw) => {
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(raw)) {
    throw new Error('must start with sqlite: (sqlite:./data/hookline.db) or postgres://');
  }
  return raw;
};

const publicUrl: Parser = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('must be a URL such as https://hooks.example.com');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must use http or https');
  return raw.replace(/\/+$/, '');
};

const smtpUrl: Parser = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('must be a URL such as smtp://user:password@mail.example.com:587');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error('must use smtp or smtps');
  if (url.hostname === '') throw new Error('must name the SMTP server');
  return raw;
};
/** `hooks@example.com` or `Hookline <hooks@example.com>`. */
const fromAddress: Parser = (raw) => {
  const m = /^\s*(?:[^<>]*<([^<>]+)>|([^<>\s]+))\s*$/.exec(raw);
  const address = m?.[1] ?? m?.[2];
  if (address === undefined || !isEmailAddress(address.trim()))
    throw new Error('must be an email address, such as hooks@example.com or "Hookline <hooks@example.com>"');
  return raw.trim();
};
const alertEvents: Parser = (raw) => {
  const events = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const bad = events.find((e) => !(ALERT_EMAIL_EVENTS as readonly string[]).includes(e));
  if (bad !== undefined || events.length === 0)
    throw new Error(`must be a comma-separated list of ${ALERT_EMAIL_EVENTS.join(', ')}`);
  return [...new Set(events)];
};

/** Shortest admin token accepted (the generated ones have 41 characters). */
export const MIN_TOKEN_CHARS = 16;
/** Shortest secret key accepted (`openssl rand -base64 32` gives 44 characters). */
export const MIN_SECRET_KEY_CHARS = 32;

/** Every setting: its environment variable, its path in the config file and how to read it. */
const OPTIONS: { env: string; path: string; parse: Parser; doc: string }[] = [
  { env: 'HOOKLINE_HOST', path: 'host', parse: text, doc: 'bind address' },
  { env: 'HOOKLINE_PORT', path: 'port', parse: int(0, 65535), doc: 'HTTP port' },
  {
    env: 'HOOKLINE_DATABASE_URL',
    path: 'databaseUrl',
    parse: databaseUrl,
    doc: 'sqlite:<path> or postgres://...',
  },
  {
    env: 'HOOKLINE_ADMIN_TOKEN',
    path: 'adminToken',
    parse: secret(MIN_TOKEN_CHARS, 'openssl rand -base64 24'),
    doc: 'bearer token with full access',
  },
  {
    env: 'HOOKLINE_METRICS_TOKEN',
    path: 'metricsToken',
    parse: text,
    doc: 'bearer token that GET /metrics requires (open when unset)',
  },
  {
    env: 'HOOKLINE_METRICS_PORT',
    path: 'metricsPort',
    parse: int(0, 65535),
    doc: 'also serve /metrics on this port, in any role',
  },
  {
    env: 'HOOKLINE_PUBLIC_URL',
    path: 'publicUrl',
    parse: publicUrl,
    doc: 'public base URL of the dashboard, for links in chat messages',
  },
  {
    env: 'HOOKLINE_ALLOW_PRIVATE_NETWORKS',
    path: 'allowPrivateNetworks',
    parse: bool,
    doc: 'allow endpoint URLs on loopback / private ranges',
  },
  {
    env: 'HOOKLINE_DEV',
    path: 'dev',
    parse: bool,
    doc: 'development mode: deliver to loopback / private addresses; loopback HOOKLINE_HOST only',
  },
  {
    env: 'HOOKLINE_VALIDATE_PAYLOADS',
    path: 'validatePayloads',
    parse: bool,
    doc: "check message payloads against the event type's JSON Schema, for event types that do not say",
  },
  {
    env: 'HOOKLINE_TRUST_PROXY',
    path: 'trustProxy',
    parse: trustProxy,
    doc: 'trust X-Forwarded-For from: true, a hop count, or proxy IPs/CIDRs (comma-separated)',
  },
  {
    env: 'HOOKLINE_SECRET_KEY',
    path: 'secretKey',
    parse: secret(MIN_SECRET_KEY_CHARS, 'openssl rand -base64 32'),
    doc: 'key that encrypts endpoint secrets at rest',
  },
  {
    env: 'HOOKLINE_MAX_PAYLOAD_BYTES',
    path: 'maxPayloadBytes',
    parse: int(1024, 64 * 1024 * 1024),
    doc: 'body limit',
  },
  {
    env: 'HOOKLINE_REQUEST_TIMEOUT',
    path: 'http.requestTimeoutMs',
    parse: seconds(1),
    doc: 'seconds a client may take to send a whole request, body included (then 408)',
  },
  {
    env: 'HOOKLINE_HEADERS_TIMEOUT',
    path: 'http.headersTimeoutMs',
    parse: seconds(1),
    doc: "seconds a client may take to send a request's headers (then 408)",
  },
  {
    env: 'HOOKLINE_KEEP_ALIVE_TIMEOUT',
    path: 'http.keepAliveTimeoutMs',
    parse: seconds(1),
    doc: 'seconds an idle keep-alive connection stays open',
  },
  { env: 'HOOKLINE_ROLE', path: 'role', parse: oneOf('all', 'api', 'worker'), doc: 'which parts run' },
  {
    env: 'HOOKLINE_LOG_LEVEL',
    path: 'logLevel',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    doc: 'log level',
  },
  {
    env: 'HOOKLINE_SQLITE_SYNCHRONOUS',
    path: 'sqliteSynchronous',
    parse: oneOf('FULL', 'NORMAL'),
    doc: 'SQLite durability',
  },
  {
    env: 'HOOKLINE_SQLITE_CACHE_MB',
    path: 'sqliteCacheMb',
    parse: int(1, 4096),
    doc: "SQLite's page cache in MB",
  },
  {
    env: 'HOOKLINE_MIGRATE_ON_START',
    path: 'migrateOnStart',
    parse: bool,
    doc: 'apply database migrations on start',
  },
  {
    env: 'HOOKLINE_DATABASE_POOL_SIZE',
    path: 'database.poolSize',
    parse: int(1, 1000),
    doc: 'PostgreSQL connections per process',
  },
  {
    env: 'HOOKLINE_DATABASE_CONNECT_TIMEOUT',
    path: 'database.connectTimeoutMs',
    parse: seconds(0.1),
    doc: 'seconds to wait for a PostgreSQL connection',
  },
  {
    env: 'HOOKLINE_DATABASE_STATEMENT_TIMEOUT',
    path: 'database.statementTimeoutMs',
    parse: seconds(0.1),
    doc: 'longest PostgreSQL statement, in seconds',
  },
  {
    env: 'HOOKLINE_RETENTION_DAYS',
    path: 'retentionMs',
    parse: days,
    doc: 'days to keep payloads and attempt logs (0 keeps them forever)',
  },
  {
    env: 'HOOKLINE_LISTEN_ENDPOINT_TTL',
    path: 'listenEndpointTtlMs',
    parse: secondsOrNever,
    doc: 'seconds after its hookline listen left before a listen endpoint is paused (0: never)',
  },
  {
    env: 'HOOKLINE_SMTP_URL',
    path: 'alertEmail.smtpUrl',
    parse: smtpUrl,
    doc: 'SMTP server for alert emails: smtp://user:password@host:587 (STARTTLS) or smtps://... (unset: none are sent)',
  },
  {
    env: 'HOOKLINE_SMTP_FROM',
    path: 'alertEmail.from',
    parse: fromAddress,
    doc: 'From of alert emails, such as "Hookline <hooks@example.com>" (default: the SMTP user name, if it is an address)',
  },
  {
    env: 'HOOKLINE_ALERT_EMAIL_EVENTS',
    path: 'alertEmail.events',
    parse: alertEvents,
    doc: "what emails an application's alert email: endpoint.disabled (default), message.attempt.exhausted",
  },
  {
    env: 'HOOKLINE_ALERT_EMAIL_INTERVAL',
    path: 'alertEmail.intervalMs',
    parse: seconds(0),
    doc: 'least seconds between two alert emails to one application (later events wait and go together)',
  },
  {
    env: 'HOOKLINE_CONCURRENCY',
    path: 'delivery.concurrency',
    parse: int(1, 10_000),
    doc: 'requests in flight',
  },
  {
    env: 'HOOKLINE_ENDPOINT_CONCURRENCY',
    path: 'delivery.perEndpointConcurrency',
    parse: int(1, 1000),
    doc: 'requests in flight per endpoint',
  },
  {
    env: 'HOOKLINE_ADAPTIVE_CONCURRENCY',
    path: 'delivery.adaptiveConcurrency',
    parse: bool,
    doc: "adapt each endpoint's concurrency to its answers and honour Retry-After for the whole endpoint",
  },
  {
    env: 'HOOKLINE_DELIVERY_TIMEOUT',
    path: 'delivery.timeoutMs',
    parse: seconds(0.1),
    doc: 'seconds per attempt',
  },
  {
    env: 'HOOKLINE_RETRY_SCHEDULE',
    path: 'delivery.retryScheduleMs',
    parse: secondsList,
    doc: 'seconds between tries',
  },
  {
    env: 'HOOKLINE_DISABLE_AFTER',
    path: 'delivery.disableAfterMs',
    parse: seconds(1),
    doc: 'seconds of failure before an endpoint is disabled',
  },
];

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys[keys.length - 1]!] = value;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Builds the configuration from defaults, an optional file and the environment. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<HooklineConfig> = {},
): Readonly<HooklineConfig> {
  const config = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const problems: string[] = [];
  const file = env.HOOKLINE_CONFIG;
  if (file) {
    try {
      const fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      for (const o of OPTIONS) {
        const v = fromFile[o.env];
        if (v === undefined || v === null) continue;
        try {
          setPath(config, o.path, o.parse(Array.isArray(v) ? v.join(',') : String(v)));
        } catch (err) {
          problems.push(`${o.env} in ${file} ${(err as Error).message} (${o.doc})`);
        }
      }
    } catch (err) {
      problems.push(`HOOKLINE_CONFIG: cannot read ${file}: ${(err as Error).message}`);
    }
  }
  for (const o of OPTIONS) {
    const raw = env[o.env];
    if (raw === undefined || raw === '') continue;
    try {
      setPath(config, o.path, o.parse(raw));
    } catch (err) {
      problems.push(`${o.env}=${JSON.stringify(raw)} ${(err as Error).message} (${o.doc})`);
    }
  }
  const http = (config as unknown as HooklineConfig).http;
  // Node refuses to start an HTTP server whose headers may take longer than the whole request.
  if (http.headersTimeoutMs > http.requestTimeoutMs) {
    problems.push(
      `HOOKLINE_HEADERS_TIMEOUT (${http.headersTimeoutMs / 1000} s) must not be longer than HOOKLINE_REQUEST_TIMEOUT (${http.requestTimeoutMs / 1000} s)`,
    );
  }
  const alertEmail = (config as unknown as HooklineConfig).alertEmail;
  if (alertEmail.smtpUrl !== null && alertEmail.from === null) {
    const user = decodeURIComponent(new URL(alertEmail.smtpUrl).username);
    if (isEmailAddress(user)) alertEmail.from = user;
    else
      problems.push(
        'HOOKLINE_SMTP_URL is set, so alert emails need a From address: set HOOKLINE_SMTP_FROM (such as "Hookline <hooks@example.com>")',
      );
  }
  const merged = { ...(config as unknown as HooklineConfig), ...overrides };
  const devProblem = devModeProblem(merged);
  if (devProblem !== null) problems.push(devProblem);
  if (problems.length > 0) throw new ConfigError(problems);
  // Development mode is what lets the quickstart deliver to a receiver on localhost.
  if (merged.dev) merged.allowPrivateNetworks = true;
  return deepFreeze(merged);
}

/**
 * Development mode opens delivery to loopback and private addresses (this machine, its network):
 * fine on a laptop, a server-side request forgery hole on a server others reach. So it is
 * refused unless the server listens on a loopback address only.
 */
export function devModeProblem(config: Readonly<Pick<HooklineConfig, 'dev' | 'host'>>): string | null {
  if (!config.dev || isLoopbackHost(config.host)) return null;
  return `development mode (--dev, HOOKLINE_DEV) allows deliveries to loopback and private addresses, so it only runs on a loopback address, and HOOKLINE_HOST is ${config.host}: use HOOKLINE_HOST=127.0.0.1, or drop --dev (and set HOOKLINE_ALLOW_PRIVATE_NETWORKS=true only if you know every API user)`;
}

/** `sqlite:./data/hookline.db` -> `./data/hookline.db`. */
export function sqlitePath(databaseUrl: string): string | null {
  return databaseUrl.startsWith('sqlite:') ? databaseUrl.slice('sqlite:'.length) : null;
}

/** True when `host` (HOOKLINE_HOST) is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (!ipaddr.isValid(host)) return false;
  const ip = ipaddr.process(host);
  return ip.range() === 'loopback';
}

/**
 * Settings that are fine on a laptop but not on a server others can reach, in words for the
 * start-up log. Empty when nothing needs saying.
 */
export function productionWarnings(config: Readonly<HooklineConfig>): string[] {
  const warnings: string[] = [];
  const servesMetrics = config.role !== 'worker' || config.metricsPort !== null;
  if (servesMetrics && !config.metricsToken && !isLoopbackHost(config.host)) {
    warnings.push(
      `GET /metrics is open to anyone who can reach ${config.host}: set HOOKLINE_METRICS_TOKEN (Prometheus sends it as a bearer token)`,
    );
  }
  return warnings;
}
