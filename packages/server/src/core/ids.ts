/**
 * Identifiers, the way Svix spells them: a type prefix plus a 27-character base62 KSUID.
 *
 * A KSUID is 4 bytes of seconds since 2014-05-13 (the KSUID epoch) followed by 16 random
 * bytes. Ids therefore sort by creation time, which keeps B-tree inserts append-mostly and
 * makes "newest first" a plain index scan. Within one second this generator increments the
 * random part instead of drawing a new one, so ids made by one process are strictly
 * increasing (the same trick as monotonic ULIDs).
 */
import { randomBytes } from 'node:crypto';

const KSUID_EPOCH_SECONDS = 1_400_000_000;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KSUID_LENGTH = 27;

export const ID_PREFIXES = {
  app: 'app_',
  endpoint: 'ep_',
  message: 'msg_',
  attempt: 'atmpt_',
  task: 'qtask_',
  delivery: 'dlv_',
  source: 'src_',
  appToken: 'apptok_',
} as const;
export type IdKind = keyof typeof ID_PREFIXES;

/**
 * The 20 bytes as a 27-digit base62 number. Long division over five 32-bit words: every
 * intermediate stays below 2^38, exact in a double, and no BigInt is allocated (ids are made for
 * every message, delivery and attempt).
 */
export function encodeBase62(bytes: Uint8Array): string {
  const words = new Array<number>(5);
  for (let w = 0; w < 5; w++) {
    const i = w * 4;
    words[w] = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
  }
  const digits = new Array<string>(KSUID_LENGTH);
  for (let d = KSUID_LENGTH - 1; d >= 0; d--) {
    let rem = 0;
    for (let w = 0; w < 5; w++) {
      const acc = rem * 0x1_0000_0000 + words[w]!;
      words[w] = Math.floor(acc / 62);
      rem = acc - words[w]! * 62;
    }
    digits[d] = BASE62[rem]!;
  }
  return digits.join('');
}

/** Creates KSUID strings; one generator per process keeps its ids strictly increasing. */
export function createKsuidGenerator(now: () => number = Date.now): () => string {
  let lastSecond = -1;
  let last = new Uint8Array(20);
  return () => {
    const second = Math.floor(now() / 1000) - KSUID_EPOCH_SECONDS;
    if (second > lastSecond) {
      last = new Uint8Array(20);
      new DataView(last.buffer).setUint32(0, second >>> 0);
      last.set(randomBytes(16), 4);
      lastSecond = second;
    } else {
      // Same (or earlier, if the clock stepped back) second: increment the payload.
      for (let i = 19; i >= 4; i--) {
        last[i] = (last[i]! + 1) & 0xff;
        if (last[i] !== 0) break;
      }
    }
    return encodeBase62(last);
  };
}

export type IdGenerator = (kind: IdKind) => string;

export function createIdGenerator(now: () => number = Date.now): IdGenerator {
  const next = createKsuidGenerator(now);
  return (kind) => ID_PREFIXES[kind] + next();
}

/**
 * The smallest id of `kind` that could be made at time `ms`: a keyset cursor for "everything
 * created since then" (ids sort by creation second). Times past the KSUID's last second (in 2150)
 * give the floor of that second, above every id made before it.
 */
export function idFloor(kind: IdKind, ms: number): string {
  const bytes = new Uint8Array(20);
  const second = Math.min(0xffff_ffff, Math.max(0, Math.floor(ms / 1000) - KSUID_EPOCH_SECONDS));
  new DataView(bytes.buffer).setUint32(0, second);
  return ID_PREFIXES[kind] + encodeBase62(bytes);
}

const KSUID_RE = /^[0-9A-Za-z]{27}$/;

/** True when `value` is an id of the given kind (prefix plus a well-formed KSUID). */
export function isId(kind: IdKind, value: string): boolean {
  const prefix = ID_PREFIXES[kind];
  return value.startsWith(prefix) && KSUID_RE.test(value.slice(prefix.length));
}
