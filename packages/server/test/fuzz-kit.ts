/**
 * Shared pieces of the fuzz tests (fuzz-api, fuzz-inbound): how many cases and which seed,
 * values built from JSON Schema (valid-looking ones and hostile ones), and the check every
 * error response must pass.
 *
 * FUZZ_RUNS scales the number of cases (CI uses the default with a fixed seed); FUZZ_SEED
 * replays a run. A failure names its seed and the shrunk counterexample.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ERRORS } from '../src/core/errors.ts';

const DEFAULT_SEED = 0x5eed_2026;

/** Cases per property and the seed: fixed unless FUZZ_SEED says otherwise (or FUZZ_RUNS asks for a long run). */
export function fuzzSettings(defaultRuns: number): { numRuns: number; seed: number } {
  const runs = Number(process.env.FUZZ_RUNS);
  const numRuns = Number.isInteger(runs) && runs > 0 ? runs : defaultRuns;
  const fromEnv = Number(process.env.FUZZ_SEED);
  const seed = Number.isInteger(fromEnv)
    ? fromEnv
    : process.env.FUZZ_RUNS && process.env.CI !== 'true'
      ? // A long local run explores new cases each time; the seed is printed to replay it.
        Math.floor(Math.random() * 0x7fff_ffff)
      : DEFAULT_SEED;
  return { numRuns, seed };
}

/** Runs an async property; on failure the error names the seed to replay with FUZZ_SEED. */
export async function runProperty<T>(
  label: string,
  arb: fc.Arbitrary<T>,
  check: (value: T) => Promise<void>,
  settings: { numRuns: number; seed: number },
): Promise<void> {
  const out = await fc.check(fc.asyncProperty(arb, check), {
    ...settings,
    // A shrink reruns requests against a live server; a bounded number keeps a failure quick.
    endOnFailure: false,
    maxSkipsPerRun: 1,
    interruptAfterTimeLimit: 120_000,
  });
  if (out.failed) {
    const reason = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    throw new Error(
      `${label}: fuzz case failed (replay with FUZZ_SEED=${out.seed}, path ${out.counterexamplePath})\n` +
        `counterexample: ${JSON.stringify(out.counterexample, null, 1)?.slice(0, 4000)}\n${reason}`,
    );
  }
}

/** The codes docs/errors.md lists (the table's first column). */
export function documentedCodes(): Set<string> {
  const md = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  return new Set([...md.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!));
}

/**
 * An error response has the documented shape: a 422 is Svix's `{detail: [{loc, msg, type}]}`,
 * anything else `{code, detail}` with a code of core/errors.ts that docs/errors.md lists and
 * whose status is the one answered.
 */
export function assertCodedError(status: number, text: string, codes: Set<string>, where: string): void {
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${where}: ${status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  assert.ok(
    body && typeof body === 'object' && !Array.isArray(body),
    `${where}: error body ${text.slice(0, 300)}`,
  );
  if (status === 422) {
    assert.deepEqual(Object.keys(body), ['detail'], `${where}: 422 body ${text.slice(0, 300)}`);
    assert.ok(
      Array.isArray(body.detail) && body.detail.length > 0,
      `${where}: 422 detail ${text.slice(0, 300)}`,
    );
    for (const issue of body.detail) {
      assert.ok(Array.isArray(issue.loc), `${where}: 422 loc ${text.slice(0, 300)}`);
      assert.equal(typeof issue.msg, 'string', `${where}: 422 msg ${text.slice(0, 300)}`);
      assert.equal(typeof issue.type, 'string', `${where}: 422 type ${text.slice(0, 300)}`);
    }
    return;
  }
  assert.deepEqual(
    Object.keys(body).sort(),
    ['code', 'detail'],
    `${where}: ${status} body ${text.slice(0, 300)}`,
  );
  assert.equal(typeof body.detail, 'string', `${where}: detail ${text.slice(0, 300)}`);
  assert.ok(body.code in ERRORS, `${where}: code ${body.code} is not in core/errors.ts`);
  assert.ok(codes.has(body.code), `${where}: code ${body.code} is not listed in docs/errors.md`);
  assert.equal(
    ERRORS[body.code as keyof typeof ERRORS].status,
    status,
    `${where}: ${body.code} answered with ${status}: ${text.slice(0, 300)}`,
  );
  assert.doesNotMatch(text, /\bat .+\.ts:\d+/, `${where}: a stack trace in the body`);
}

/** Strings that break naive code: empty, huge, NUL, odd unicode, leap seconds, path tricks. */
export const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  'x'.repeat(70_000),
  'é'.repeat(300),
  '💥'.repeat(100),
  '\ud800',
  '\u202e\u0301\ufeff',
  '2026-12-31T23:59:60Z',
  '2026-02-30T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '+275760-09-13T00:00:01Z',
  '9999-12-31T23:59:59.999999999Z',
  '1e308',
  '-1',
  'NaN',
  '../..',
  '%00',
  '__proto__',
  'constructor',
  'null',
  'app_',
  'msg_' + 'A'.repeat(27),
  '<script>alert(1)</script>',
  "'; DROP TABLE app; --",
  '{{ payload }}',
];

export const HOSTILE_NUMBERS = [
  0,
  -1,
  -0.5,
  1.5,
  2 ** 31,
  2 ** 53 + 2,
  -(2 ** 63),
  1e308,
  -1e308,
  Number.MIN_VALUE,
];

/** Arrays and objects nested `depth` levels deep. */
export const deep = (depth: number, leaf: unknown = 1): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

/** Any JSON value, leaning on the hostile ones. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...HOSTILE_NUMBERS, null, true, false, [], {}) },
  { weight: 1, arbitrary: fc.constantFrom(deep(20), deep(130), deep(400), [HOSTILE_STRINGS]) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
);

type Schema = Record<string, any>;

/** Builds values for JSON Schemas of one OpenAPI document (its `$ref`s resolved against it). */
export function schemaArbitraries(
  doc: { components?: { schemas?: Record<string, Schema> } },
  options: { hostile: boolean; hints?: Record<string, fc.Arbitrary<unknown>> } = { hostile: true },
) {
  const { hostile } = options;
  /** Values for properties by name (URLs, known event types) that a schema alone does not pin down. */
  const hints = options.hints ?? {};
  const resolve = (s: Schema): Schema => {
    let cur = s;
    for (let i = 0; i < 10 && cur && typeof cur.$ref === 'string'; i++) {
      const name = cur.$ref.replace('#/components/schemas/', '');
      cur = doc.components?.schemas?.[name] ?? {};
    }
    return cur ?? {};
  };

  /** Mostly a value the schema allows (a fuzzed body should reach the handler), sometimes a hostile one. */
  const valueFor = (raw: Schema, depth = 0): fc.Arbitrary<unknown> => {
    const s = resolve(raw);
    if (!hostile) return conforming(s, depth);
    const hostileWeight = depth > 4 ? 5 : 1;
    return fc.oneof(
      { weight: 5, arbitrary: conforming(s, depth) },
      { weight: hostileWeight, arbitrary: hostileValue },
    );
  };

  const conforming = (s: Schema, depth: number): fc.Arbitrary<unknown> => {
    if (depth > 6) return fc.constant(null);
    if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf)) {
      const options = (s.anyOf ?? s.oneOf) as Schema[];
      return fc.oneof(...options.map((o) => conforming(resolve(o), depth + 1)));
    }
    if (s.const !== undefined) return fc.constant(s.const);
    if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
    switch (s.type) {
      case 'string':
        return stringFor(s);
      case 'integer':
        if (!hostile)
          return fc.integer({ min: s.minimum ?? 0, max: Math.min(s.maximum ?? 100_000, 100_000) });
        return fc.oneof(
          fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 100_000 }),
          fc.constantFrom(
            s.minimum ?? 0,
            s.maximum ?? 2 ** 31,
            (s.maximum ?? 2 ** 31) + 1,
            (s.minimum ?? 0) - 1,
          ),
        );
      case 'number':
        return fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true }),
          fc.constantFrom(...HOSTILE_NUMBERS),
        );
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array': {
        const items = s.items ? valueFor(s.items, depth + 1) : hostile ? hostileValue : fc.string();
        return fc.array(items, {
          minLength: hostile ? 0 : (s.minItems ?? 0),
          maxLength: Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 4, 4)),
        });
      }
      case 'object':
        return objectFor(s, depth);
      default:
        return hostileValue;
    }
  };

  const stringFor = (s: Schema): fc.Arbitrary<string> => {
    const options: fc.Arbitrary<string>[] = hostile ? [hostileString] : [];
    if (!hostile && s.format === 'date-time')
      return fc.constantFrom(
        '2026-01-01T00:00:00Z',
        '2026-12-31T23:59:60Z',
        new Date(Date.now() + 1000).toISOString(),
      );
    if (!hostile && s.format === 'uri') return fc.constant('https://example.com/hook');
    if (s.format === 'date-time')
      options.push(
        fc.constantFrom(
          '2026-12-31T23:59:60Z',
          '2026-01-01T00:00:00Z',
          '2026-01-01T00:00:00.123+05:30',
          'yesterday',
        ),
      );
    else if (s.format === 'uri')
      options.push(
        fc.constantFrom(
          'https://example.com/hook',
          'http://127.0.0.1:1/x',
          'javascript:alert(1)',
          'http://[::1]:0',
        ),
      );
    if (s.pattern) {
      try {
        options.push(
          fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length <= (s.maxLength ?? 300)),
        );
      } catch {
        // a pattern JavaScript cannot read: hostile strings only
      }
    } else {
      options.push(fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 30, 30) }));
    }
    if (/url/i.test(s.description ?? '')) options.push(fc.constant('https://example.com/hook'));
    return fc.oneof(...options);
  };

  const objectFor = (s: Schema, depth: number): fc.Arbitrary<unknown> => {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const required = new Set<string>(s.required ?? []);
    const entries = Object.entries(props);
    if (entries.length === 0)
      return fc.dictionary(
        fc.string({ maxLength: 8 }),
        hostile ? hostileValue : fc.jsonValue({ maxDepth: 2 }),
        {
          maxKeys: 3,
        },
      );
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of entries) {
      const hint = hints[k];
      model[k] = hint ? (hostile ? fc.oneof(hint, valueFor(v, depth + 1)) : hint) : valueFor(v, depth + 1);
    }
    return fc
      .tuple(
        fc.record(model, { requiredKeys: [] }),
        // Usually every required field is there (to get past validation); sometimes one is not.
        hostile
          ? fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.boolean() })
          : fc.constant(true),
        hostile
          ? fc.oneof(
              { weight: 4, arbitrary: fc.constant(null) },
              { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), hostileValue) },
            )
          : fc.constant(null),
        fc.record(
          Object.fromEntries(
            [...required].map((k) => [k, hints[k] ?? conforming(resolve(props[k] ?? {}), depth + 1)]),
          ),
        ),
      )
      .map(([rec, keepRequired, extra, req]) => {
        const o: Record<string, unknown> = keepRequired ? { ...req, ...rec } : { ...rec };
        if (extra) o[extra[0]] = extra[1];
        return o;
      });
  };

  return { resolve, valueFor, conforming: (s: Schema) => conforming(resolve(s), 0) };
}
