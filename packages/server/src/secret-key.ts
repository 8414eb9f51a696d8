/**
 * The secret key's life: where it comes from, the check that the database was sealed with it,
 * and rotation to a new key (`hookline rotate-secret-key`).
 *
 * The database keeps the key's fingerprint (never the key) in its `setting` table. A process
 * started with another key stops at once with a message saying so, instead of answering 500 to
 * every read of an endpoint or a source. Rotation opens every sealed value with the old key and
 * seals it again with the new one through the Store's ordinary update methods, then records the
 * new fingerprint. While it runs, a marker in the same table stops servers from starting with
 * either key, and an interrupted rotation can be run again with the same keys to finish it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type HooklineConfig, MIN_SECRET_KEY_CHARS, sqlitePath } from './config.ts';
import { type SecretBox, SecretKeyMismatchError } from './core/secret-box.ts';
import type { Page, PageQuery, Store } from './store/store.ts';

/** Thrown at start when the configuration cannot work (the CLI prints it and exits). */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

const FINGERPRINT_SETTING = 'secret_key_fingerprint';
/** `{from, to}` fingerprints while a rotation runs; empty when none does. */
const ROTATION_SETTING = 'secret_key_rotation';

/** The key that seals secrets, and where it came from (for messages). */
export interface SecretKey {
  key: string;
  /** `HOOKLINE_SECRET_KEY`, or the file it was read from. */
  source: string;
  /** The key file of a SQLite install that generated its own key; null when the key is configured. */
  file: string | null;
}

/**
 * The configured key, or for SQLite the one generated next to the database on first start.
 * PostgreSQL needs it configured: every process sharing the database must use the same key.
 */
export function resolveSecretKey(config: Readonly<HooklineConfig>): SecretKey {
  if (config.secretKey) return { key: config.secretKey, source: 'HOOKLINE_SECRET_KEY', file: null };
  const path = sqlitePath(config.databaseUrl);
  if (path === null) {
    throw new StartupError(
      'HOOKLINE_SECRET_KEY is required with PostgreSQL: every Hookline process sharing the database must use the same key (generate one with `openssl rand -base64 32`)',
    );
  }
  if (path === ':memory:')
    return { key: randomBytes(32).toString('base64'), source: 'a key for this run', file: null };
  const file = join(dirname(resolve(path)), 'secret.key');
  if (existsSync(file)) return { key: readFileSync(file, 'utf8').trim(), source: file, file };
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32).toString('base64');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return { key, source: file, file };
}

const ROTATE_HINT =
  'to move to a new key, start nothing and run `hookline rotate-secret-key` with the current key in place and the new one in HOOKLINE_NEW_SECRET_KEY';

/**
 * Every page of a Svix-style list, oldest first. `list` gets a page query continuing after the
 * last id seen.
 */
async function* everything<T extends { id: string }>(
  list: (page: PageQuery) => Promise<Page<T>>,
): AsyncGenerator<T> {
  let after: string | null = null;
  for (;;) {
    const page = await list({ limit: 100, after, before: null, order: 'asc' });
    yield* page.items;
    if (!page.more || page.items.length === 0) return;
    after = page.items.at(-1)!.id;
  }
}

/** Reads a few sealed values: throws `SecretKeyMismatchError` when the key cannot open them. */
async function probe(store: Store): Promise<void> {
  const first = { limit: 1, after: null, before: null, order: 'asc' } as const;
  await store.listSources(first);
  const apps = await store.listApps({ ...first, limit: 20 });
  for (const app of apps.items) await store.listEndpoints(app.id, first);
}

/**
 * Checks at start that `box` holds the key this database's secrets are sealed with, recording
 * its fingerprint on the first start (after reading a few sealed values with it, for databases
 * from before fingerprints were kept).
 */
export async function checkSecretKey(store: Store, box: SecretBox, source: string): Promise<void> {
  const rotation = await store.getSetting(ROTATION_SETTING);
  if (rotation) {
    const { from, to } = JSON.parse(rotation) as { from: string; to: string };
    throw new StartupError(
      `a secret key rotation (from key ${from} to key ${to}) did not finish: run \`hookline rotate-secret-key\` again with the same two keys before starting Hookline`,
    );
  }
  const mismatch = (stored: string) =>
    new StartupError(
      `the secret key in ${source} (fingerprint ${box.fingerprint}) is not the key this database's secrets are encrypted with (fingerprint ${stored}): start with the original key; ${ROTATE_HINT}`,
    );
  let stored = await store.getSetting(FINGERPRINT_SETTING);
  if (!stored) {
    try {
      await probe(store);
    } catch (err) {
      if (err instanceof SecretKeyMismatchError) throw mismatch('unknown');
      throw err;
    }
    stored = await store.setSettingIfAbsent(FINGERPRINT_SETTING, box.fingerprint);
  }
  if (stored !== box.fingerprint) throw mismatch(stored);
}

export interface RotationResult {
  endpoints: number;
  sources: number;
  /** The new key's fingerprint. */
  fingerprint: string;
  /** True when the database had been rotated to this key already (nothing was re-encrypted). */
  alreadyDone: boolean;
}

/**
 * Seals every secret again with the new key. `box` seals with the new key and opens with both
 * (see `createSecretBox`); `oldFingerprint` names the key being replaced. No Hookline process
 * may run meanwhile: one still holding the old key could not read what was sealed anew.
 */
export async function rotateSecretKey(
  store: Store,
  box: SecretBox,
  oldFingerprint: string,
  progress: (line: string) => void = () => {},
): Promise<RotationResult> {
  const to = box.fingerprint;
  if (to === oldFingerprint)
    throw new StartupError('HOOKLINE_NEW_SECRET_KEY is the current key; nothing to do');
  const rotation = await store.getSetting(ROTATION_SETTING);
  const stored = await store.getSetting(FINGERPRINT_SETTING);
  if (rotation) {
    const unfinished = JSON.parse(rotation) as { from: string; to: string };
    if (unfinished.to !== to) {
      throw new StartupError(
        `an unfinished rotation to key ${unfinished.to} is recorded: run it again with that key in HOOKLINE_NEW_SECRET_KEY (this one is ${to})`,
      );
    }
  } else if (stored === to) {
    return { endpoints: 0, sources: 0, fingerprint: to, alreadyDone: true };
  } else if (stored && stored !== oldFingerprint) {
    throw new StartupError(
      `the current key (fingerprint ${oldFingerprint}) is not the key this database's secrets are encrypted with (fingerprint ${stored}): put the original key in HOOKLINE_SECRET_KEY`,
    );
  }
  await store.setSetting(
    ROTATION_SETTING,
    JSON.stringify({ from: rotation ? JSON.parse(rotation).from : oldFingerprint, to }),
  );

  let endpoints = 0;
  let sources = 0;
  try {
    // Applications of API users, and their endpoints (listen endpoints and REST Hook subscriptions too).
    for await (const app of everything((page) => store.listApps(page))) {
      for await (const endpoint of everything((page) => store.listEndpoints(app.id, page))) {
        await store.updateEndpoint(endpoint);
        if (++endpoints % 1000 === 0) progress(`${endpoints} endpoints re-encrypted`);
      }
    }
    // Endpoints' OAuth client secrets and mTLS private keys (only endpoints that have some).
    for (const extras of await store.listEndpointExtras()) await store.putEndpointExtras(extras);
    // Sources: their verification and forwarding secrets, handshake settings, and destinations.
    for await (const source of everything((page) => store.listSources(page))) {
      await store.updateSource(source);
      endpoints += source.destinations.length;
      sources++;
    }
  } catch (err) {
    if (err instanceof SecretKeyMismatchError) {
      throw new StartupError(
        'a stored secret opens with neither HOOKLINE_SECRET_KEY nor HOOKLINE_NEW_SECRET_KEY: put the key the database was encrypted with in HOOKLINE_SECRET_KEY',
      );
    }
    throw err;
  }
  await store.setSetting(FINGERPRINT_SETTING, to);
  await store.setSetting(ROTATION_SETTING, '');
  return { endpoints, sources, fingerprint: to, alreadyDone: false };
}

/**
 * The new key of a rotation: HOOKLINE_NEW_SECRET_KEY, or for a SQLite install whose key lives in
 * its data dir, one generated into `secret.key.new` (kept there until the rotation is done, so an
 * interrupted one picks the same key up again).
 */
export function newSecretKey(
  current: SecretKey,
  given: string | undefined,
): { key: string; pendingFile: string | null } {
  if (given !== undefined && given !== '') {
    if (given.trim().length < MIN_SECRET_KEY_CHARS) {
      throw new StartupError(
        `HOOKLINE_NEW_SECRET_KEY is too short: use at least ${MIN_SECRET_KEY_CHARS} random characters (openssl rand -base64 32)`,
      );
    }
    return { key: given, pendingFile: null };
  }
  if (!current.file) {
    throw new StartupError(
      'set the new key in HOOKLINE_NEW_SECRET_KEY (generate one with `openssl rand -base64 32`); HOOKLINE_SECRET_KEY stays the current key until the rotation is done',
    );
  }
  const pendingFile = `${current.file}.new`;
  if (existsSync(pendingFile)) return { key: readFileSync(pendingFile, 'utf8').trim(), pendingFile };
  const key = randomBytes(32).toString('base64');
  writeFileSync(pendingFile, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return { key, pendingFile };
}

/**
 * After a rotation of a generated key: the new key becomes the data dir's `secret.key`, and the
 * old one `secret.key.old` (backups taken before the rotation need it).
 */
export function commitKeyFile(current: SecretKey, pendingFile: string): void {
  const file = current.file!;
  writeFileSync(`${file}.old`, `${current.key}\n`, { mode: 0o600 });
  renameSync(pendingFile, file);
}
