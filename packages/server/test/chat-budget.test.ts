/**
 * Chat templates' caps and render budget: the shape caps checked at save (strings, loops,
 * nesting, size), one budget of steps, allocations and time for the whole template (not per
 * string), and the render workers: a render that never comes back to the budget checks is
 * stopped by terminating its worker, one that runs out of heap kills only its worker, and a slow
 * render in one worker does not hold up a render in the other.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ChatContext,
  ChatTemplateError,
  checkTemplate,
  renderTemplate,
  SAMPLE_CONTEXT,
  TEMPLATE_MAX_BYTES,
  TEMPLATE_MAX_DEPTH,
  TEMPLATE_MAX_LOOPS,
  TEMPLATE_MAX_STRINGS,
} from '../src/delivery/chat.ts';
import {
  DEFAULT_RENDER_BUDGET,
  RENDER_WORKER_HEAP_MB,
  setRenderBudget,
} from '../src/delivery/chat-renderer.ts';

const ctx = (over: Partial<ChatContext> = {}): ChatContext => ({ ...SAMPLE_CONTEXT, ...over });
const LOOP = (n: number | string) => `{% for a in (1..${n}) %}{% endfor %}`;
const strings = (n: number, value: (i: number) => string) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, value(i)]));

/** The render's error (it must fail). */
async function renderError(template: Record<string, unknown>, c = ctx()): Promise<ChatTemplateError> {
  const err = await renderTemplate(template, c).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ChatTemplateError, `expected a ChatTemplateError, got ${String(err)}`);
  return err;
}

/** Runs `fn` with a different render budget, then puts the default back. */
async function withBudget<T>(
  change: Parameters<typeof setRenderBudget>[0],
  fn: () => Promise<T>,
): Promise<T> {
  const restore = setRenderBudget(change);
  try {
    return await fn();
  } finally {
    restore();
  }
}

describe('template caps at save', () => {
  test('at most TEMPLATE_MAX_STRINGS strings: at the cap accepted, above refused with where', async () => {
    assert.equal(await checkTemplate(strings(TEMPLATE_MAX_STRINGS, () => 'x')), null);
    const e = await checkTemplate({ blocks: [strings(TEMPLATE_MAX_STRINGS + 1, () => 'x')] });
    assert.match(e?.message ?? '', new RegExp(`has more than ${TEMPLATE_MAX_STRINGS} strings`));
    assert.equal(e?.path[0], 'blocks');
    assert.equal(e?.budget, false);
  });

  test('at most TEMPLATE_MAX_LOOPS loops, counting nested ones, tablerow and loops in {% liquid %}', async () => {
    assert.equal(await checkTemplate({ text: LOOP(2).repeat(TEMPLATE_MAX_LOOPS) }), null);
    const nested = '{% for a in (1..2) %}{% for b in (1..2) %}{% endfor %}{% endfor %}';
    const tablerow = '{% tablerow a in (1..2) %}{% endtablerow %}';
    const inLiquid = '{% liquid\nfor c in (1..2)\necho c\nendfor %}';
    const e = await checkTemplate({
      a: LOOP(2).repeat(TEMPLATE_MAX_LOOPS - 4),
      b: `${nested}${tablerow}`,
      c: `{% if true %}${inLiquid}{% endif %}${inLiquid}`,
    });
    assert.match(e?.message ?? '', new RegExp(`has more than ${TEMPLATE_MAX_LOOPS} loops`));
    assert.deepEqual(e?.path, ['c'], 'the string where the count went over');
  });

  test('nesting and size are capped', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < TEMPLATE_MAX_DEPTH + 5; i++) deep = [deep];
    const e = await checkTemplate({ d: deep });
    assert.match(e?.message ?? '', new RegExp(`nests deeper than ${TEMPLATE_MAX_DEPTH} levels`));
    const big = await checkTemplate({ text: 'x'.repeat(TEMPLATE_MAX_BYTES) });
    assert.match(big?.message ?? '', new RegExp(`more than ${TEMPLATE_MAX_BYTES}`));
  });
});

describe('one budget for the whole template', () => {
  test('steps: strings that each fit the budget are refused together, at the string that went over', async (t) => {
    const each = Math.floor(DEFAULT_RENDER_BUDGET.steps * 0.3);
    const four = strings(4, () => LOOP(each));
    // Time lifted so that the steps run out first however busy the machine is.
    const restore = setRenderBudget({ timeMs: 60_000 });
    t.after(restore);
    assert.equal(await checkTemplate({ s0: four.s0 }), null, 'one string alone is within the budget');
    const e = await checkTemplate(four);
    assert.equal(e?.budget, true);
    assert.match(
      e?.message ?? '',
      new RegExp(`^exceeds its render budget: more than ${DEFAULT_RENDER_BUDGET.steps} rendering steps`),
    );
    assert.deepEqual(e?.path, ['s3']);
    // Nested loops multiply: a payload of 1,000 items looped over twice is a million steps.
    const nested = '{% for a in payload.items %}{% for b in payload.items %}{% endfor %}{% endfor %}';
    const items = Array.from({ length: 1000 }, (_, i) => i);
    assert.equal((await renderError({ text: nested }, ctx({ payload: { items } }))).budget, true);
  });

  test('allocations: counted across strings', async (t) => {
    const restore = setRenderBudget({ timeMs: 60_000 });
    t.after(restore);
    const s = 'x'.repeat(3_000_000);
    const doubled = '{% assign x = payload.s | append: payload.s %}{{ x | size }}';
    assert.deepEqual(await renderTemplate({ a: doubled }, ctx({ payload: { s } })), { a: '6000000' });
    const e = await renderError({ a: doubled, b: doubled, c: doubled }, ctx({ payload: { s } }));
    assert.match(e.message, new RegExp(`more than ${DEFAULT_RENDER_BUDGET.memory} characters allocated`));
    assert.deepEqual(e.path, ['c']);
  });

  test('time: counted across strings', async () => {
    // 32 loops of 120,000 iterations: about a second of work, far over 20 ms.
    const e = await withBudget({ timeMs: 20, steps: Number.POSITIVE_INFINITY }, () =>
      renderError(strings(32, () => LOOP(120_000))),
    );
    assert.equal(e.budget, true);
    assert.match(e.message, /^exceeds its render budget: rendering took more than 20 ms$/);
  });
});

describe('render workers', () => {
  test('a render that never comes back to the budget checks is stopped; the next render works', async () => {
    // One output, 800 filters over a 100,000-item list (seconds of work): LiquidJS checks the
    // budget between nodes, not between the filters of one output.
    const list = Array.from({ length: 100_000 }, (_, i) => `v${i}`);
    const chain = `{{ payload.list${' | join: "," | split: ","'.repeat(400)} | size }}`;
    const e = await withBudget({ timeMs: 200, memory: Number.POSITIVE_INFINITY }, () =>
      renderError({ text: chain }, ctx({ payload: { list } })),
    );
    assert.equal(e.budget, true);
    assert.match(e.message, /^exceeds its render budget: rendering took more than 200 ms and was stopped$/);
    assert.deepEqual(await renderTemplate({ text: '{{ eventType }}' }, ctx()), { text: 'invoice.paid' });
  });

  test('a render that runs out of heap kills only its worker; the next render works', async () => {
    // An array doubled 26 times: 64 M entries, more than a worker's heap.
    const doubling =
      '{% assign a = "x" | split: "," %}{% for i in (1..26) %}{% assign a = a | concat: a %}{% endfor %}{{ a | size }}';
    const e = await withBudget(
      { timeMs: 60_000, steps: Number.POSITIVE_INFINITY, memory: Number.POSITIVE_INFINITY },
      () => renderError({ text: doubling }),
    );
    assert.equal(e.budget, true);
    assert.equal(e.message, `exceeds its render budget: more than ${RENDER_WORKER_HEAP_MB} MB of memory`);
    assert.deepEqual(await renderTemplate({ text: '{{ msgId }}' }, ctx()), { text: SAMPLE_CONTEXT.msgId });
  });

  test('a slow render in one worker does not hold up a render in the other', async () => {
    const order: string[] = [];
    await withBudget({ timeMs: 1500, steps: Number.POSITIVE_INFINITY }, async () => {
      const slow = renderTemplate(
        strings(32, () => LOOP(1_000_000)),
        ctx(),
      ).then(
        () => order.push('slow'),
        () => order.push('slow'),
      );
      const quick = renderTemplate({ text: '{{ eventType }}' }, ctx()).then(() => order.push('quick'));
      await Promise.all([slow, quick]);
    });
    assert.deepEqual(order, ['quick', 'slow']);
  });
});
