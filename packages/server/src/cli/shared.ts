/**
 * What every `hookline` command shares: exit codes, output (colors only on a terminal, `--json`
 * for scripts), the API client (server URL and token from flags or HOOKLINE_URL /
 * HOOKLINE_TOKEN) and reading a payload from an argument, a file or stdin.
 */

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createColors } from 'picocolors';

/** Exit codes of every command (documented in `hookline --help` and the README). */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The command ran and something failed (an API error, a non-2xx answer, a failed forward). */
  failure: 1,
  /** Wrong usage: unknown command or option, missing or invalid argument. */
  usage: 2,
  /** Cannot reach the server (or the target URL), or the server rejected the token. */
  unreachable: 3,
} as const;

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  failure (the API answered with an error, the target answered non-2xx, a forward failed)
  2  usage error (unknown command or option, missing or invalid argument)
  3  cannot reach the server or target, or the token was rejected`;

/** An error that ends the command with a message and an exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failure) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);

/** Colors when writing to a terminal, unless NO_COLOR is set; FORCE_COLOR turns them on. */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
  return createColors(!noColor && (force || (stream.isTTY === true && env.TERM !== 'dumb')));
}

export type Colors = ReturnType<typeof colorsFor>;

/** Where a command writes. Tests pass their own; `main.ts` passes the process's. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Rewrites the current status line (progress); only used when `tty` is true. */
  status(line: string): void;
  c: Colors;
  /** stderr is a terminal: progress lines are worth drawing. */
  tty: boolean;
  json: boolean;
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Aborted on SIGINT/SIGTERM: long-running commands (tail, listen) stop cleanly. */
  signal: AbortSignal;
}

export function processIo(json: boolean, signal: AbortSignal): Io {
  const tty = process.stderr.isTTY === true;
  let statusShown = false;
  const clearStatus = () => {
    if (statusShown) process.stderr.write('\r\x1b[2K');
    statusShown = false;
  };
  return {
    out(line) {
      clearStatus();
      process.stdout.write(`${line}\n`);
    },
    err(line) {
      clearStatus();
      process.stderr.write(`${line}\n`);
    },
    status(line) {
      if (!tty) return;
      process.stderr.write(`\r\x1b[2K${line}`);
      statusShown = true;
    },
    c: colorsFor(json ? {} : process.stdout),
    tty,
    json,
    env: process.env,
    stdin: process.stdin,
    signal,
  };
}

/** Prints a value as one line of JSON (for `--json`). */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value));
}

// ---- the API client ----------------------------------------------------------------------

export const DEFAULT_SERVER = 'http://127.0.0.1:8071';

/** Options every command that talks to a Hookline server takes. */
export const SERVER_OPTIONS = {
  server: {
    type: 'string',
    valueName: 'URL',
    description: `Hookline server (env HOOKLINE_URL; default ${DEFAULT_SERVER})`,
  },
  token: { type: 'string', valueName: 'TOKEN', description: 'API token (env HOOKLINE_TOKEN)' },
} as const;

export interface ApiClient {
  readonly base: string;
  readonly token: string;
  // biome-ignore lint/suspicious/noExplicitAny: API answers are JSON; callers name the shape they read
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
}

/** Builds the client from `--server`/`--token` or HOOKLINE_URL/HOOKLINE_TOKEN. */
export function apiClient(values: { server?: string; token?: string }, env: NodeJS.ProcessEnv): ApiClient {
  const base = (values.server ?? env.HOOKLINE_URL ?? DEFAULT_SERVER).replace(/\/+$/, '');
  try {
    new URL(base);
  } catch {
    throw usageError(`--server must be a URL such as ${DEFAULT_SERVER}; got ${JSON.stringify(base)}`);
  }
  const token = values.token ?? env.HOOKLINE_TOKEN;
  if (!token) throw usageError('no API token: pass --token or set HOOKLINE_TOKEN');
  return {
    base,
    token,
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(base + path, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
      } catch (err) {
        throw new CliError(`cannot reach Hookline at ${base}: ${causeOf(err)}`, EXIT.unreachable);
      }
      const text = await res.text();
      let parsed: { code?: string; detail?: unknown } | null = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = { detail: text };
      }
      if (res.status === 401) {
        throw new CliError(
          `the server rejected the token (${parsed?.detail ?? 'authentication failed'})`,
          EXIT.unreachable,
        );
      }
      if (!res.ok) {
        const detail = Array.isArray(parsed?.detail)
          ? parsed.detail
              .map((d: { loc: unknown[]; msg: string }) => `${d.loc.join('.')}: ${d.msg}`)
              .join('; ')
          : (parsed?.detail ?? text);
        throw new CliError(
          `${method} ${path} failed: ${res.status} ${parsed?.code ?? ''} ${detail}`.replace(/\s+/g, ' '),
        );
      }
      return parsed as T;
    },
  };
}

/** The useful part of a fetch failure (`ECONNREFUSED 127.0.0.1:8071` rather than "fetch failed"). */
export function causeOf(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; message?: string };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

/** Lists every page of a Svix-style list endpoint (`{data, iterator, done}`), up to `max` items. */
export async function listAll<T>(api: ApiClient, path: string, max = 100_000): Promise<T[]> {
  const out: T[] = [];
  let iterator: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  for (;;) {
    const page: { data: T[]; iterator: string | null; done: boolean } = await api.request(
      'GET',
      `${path}${sep}limit=250${iterator ? `&iterator=${encodeURIComponent(iterator)}` : ''}`,
    );
    out.push(...page.data);
    if (page.done || page.data.length === 0 || out.length >= max) return out.slice(0, max);
    iterator = page.iterator;
  }
}

export const enc = encodeURIComponent;

// ---- input -------------------------------------------------------------------------------

/** Reads all of stdin as text. */
export async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The payload of `send`: the positional argument, else `--file` (`-` is stdin), else stdin when
 * it is not a terminal. Must be a JSON object.
 */
export async function readPayload(
  io: Io,
  arg: string | undefined,
  file: string | undefined,
): Promise<unknown> {
  let text: string;
  let from: string;
  if (arg !== undefined) {
    text = arg;
    from = 'the payload argument';
  } else if (file !== undefined && file !== '-') {
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw usageError(`cannot read --file ${file}: ${(err as Error).message}`);
    }
    from = file;
  } else if (file === '-' || !io.stdin.isTTY) {
    text = await readStdin(io.stdin);
    from = 'stdin';
  } else {
    throw usageError('no payload: pass it as an argument, with --file PATH, or on stdin');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (err) {
    throw usageError(`the payload in ${from} is not valid JSON: ${(err as Error).message}`);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw usageError(`the payload in ${from} must be a JSON object`);
  }
  return payload;
}

/** Parses a time option: RFC 3339, a date, or a relative `30m` / `2h` / `7d` ago. */
export function parseTimeOption(name: string, value: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value);
  if (rel) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return now - Number(rel[1]) * unit;
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw usageError(`--${name} must be a time (2026-03-01T12:00:00Z) or a duration ago (30m, 2h, 7d)`);
  }
  return t;
}

/** `12:03:04.123`: the local time of day, for one-line-per-event output. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** Colors an HTTP status: green 2xx, yellow 3xx/4xx, red 5xx and no response. */
export function paintStatus(c: Colors, status: number): string {
  const text = status === 0 ? 'ERR' : String(status);
  if (status >= 200 && status < 300) return c.green(text);
  if (status >= 300 && status < 500) return c.yellow(text);
  return c.red(text);
}

/** Waits `ms`, or less when the command is interrupted (Ctrl-C): never throws. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch(() => {});
}
