/**
 * Chat templates rendered under one budget for the whole template. This module runs in the render
 * workers (`chat-worker.ts`), never on the API's event loop: the API and the dispatcher reach it
 * through `chat-renderer.ts`.
 *
 * LiquidJS's own `renderLimit` and `memoryLimit` apply to one `render` call, i.e. to one string of
 * a template, and a template may have hundreds of strings. Here every string of a template renders
 * in a context that shares the same limiters, so the time, the allocations and the number of
 * rendering steps are counted for the whole template together.
 */
import { Context, ForTag, Liquid, TablerowTag, type Template, toValueSync } from 'liquidjs';
import {
  type ChatContext,
  escapeSlack,
  RENDERED_MAX_BYTES,
  TEMPLATE_MAX_BYTES,
  TEMPLATE_MAX_LOOPS,
} from './chat-limits.ts';

/** What one render of a template may use, all its strings together. */
export interface RenderBudget {
  /** Wall time, in milliseconds. */
  timeMs: number;
  /**
   * Rendering steps: LiquidJS takes one before each text, output and tag it renders and one for
   * every loop iteration, so this bounds loop iterations (nested ones multiplied) too.
   */
  steps: number;
  /** Characters that filters and ranges may allocate (LiquidJS's memory accounting). */
  memory: number;
}

/** The answer of one render: the message as JSON text, or why there is none. */
export type RenderResult =
  | { ok: true; json: string }
  | { ok: false; message: string; path: (string | number)[]; budget: boolean };

// Templates read nothing but their context: no file system (`include`/`render` find nothing),
// own properties only, bounded parse size. Time and memory are bounded per render below.
const liquid = new Liquid({
  strictVariables: false,
  strictFilters: true,
  ownPropertyOnly: true,
  templates: {},
  parseLimit: TEMPLATE_MAX_BYTES,
});

// `{{ payload.note | slack_escape }}`: data placed in Slack mrkdwn by a template.
liquid.registerFilter('slack_escape', (v: unknown) =>
  escapeSlack(v === null || v === undefined ? '' : String(v)),
);

/** Parsed Liquid per template string; bounded, rebuilt when full. */
const parsed = new Map<string, Template[]>();
const PARSED_CACHE_SIZE = 1000;

function parseLiquid(source: string): Template[] {
  let t = parsed.get(source);
  if (!t) {
    t = liquid.parse(source);
    if (parsed.size >= PARSED_CACHE_SIZE) parsed.clear();
    parsed.set(source, t);
  }
  return t;
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

/** Thrown out of LiquidJS when the budget runs out; LiquidJS may wrap it, so `Budget.exceeded` tells. */
class BudgetExceeded extends Error {}

/**
 * The limiters of one render. LiquidJS calls `renderLimit.check(now)` before every node it renders
 * (and at the start of every block, so once per loop iteration) and `memoryLimit.use(n)` for what
 * filters and ranges allocate; both are shared by every string of the template.
 */
class Budget {
  steps = 0;
  allocated = 0;
  exceeded: string | null = null;
  private readonly limits: RenderBudget;
  private readonly deadline: number;
  constructor(limits: RenderBudget) {
    this.limits = limits;
    this.deadline = performance.now() + limits.timeMs;
  }
  private fail(why: string): never {
    this.exceeded ??= `exceeds its render budget: ${why}`;
    throw new BudgetExceeded(this.exceeded);
  }
  readonly renderLimit = {
    check: () => {
      if (++this.steps > this.limits.steps)
        this.fail(`more than ${this.limits.steps} rendering steps (loop iterations, tags and outputs)`);
      if (performance.now() > this.deadline) this.fail(`rendering took more than ${this.limits.timeMs} ms`);
    },
    use: () => {},
  };
  readonly memoryLimit = {
    use: (n: number) => {
      if (+n > 0) this.allocated += +n;
      if (this.allocated > this.limits.memory)
        this.fail(`more than ${this.limits.memory} characters allocated`);
    },
    check: () => {},
  };
}

class TemplateProblem extends Error {
  readonly path: (string | number)[];
  readonly budget: boolean;
  constructor(message: string, path: (string | number)[], budget = false) {
    super(message);
    this.path = path;
    this.budget = budget;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseAt(value: string, path: (string | number)[]): Template[] {
  try {
    return parseLiquid(value);
  } catch (err) {
    throw new TemplateProblem(`does not parse: ${errorText(err)}`, path);
  }
}

function walk(value: unknown, path: (string | number)[], c: ChatContext, budget: Budget): unknown {
  if (typeof value === 'string') {
    const tpl = parseAt(value, path);
    // A context per string (an `assign` stays in its string), the limiters shared by all.
    const ctx = new Context(
      c,
      liquid.options,
      { sync: true },
      {
        renderLimit: budget.renderLimit as unknown as Context['renderLimit'],
        memoryLimit: budget.memoryLimit as unknown as Context['memoryLimit'],
        liquid,
      },
    );
    try {
      return String(liquid.renderSync(tpl, ctx));
    } catch (err) {
      if (budget.exceeded) throw new TemplateProblem(budget.exceeded, path, true);
      throw new TemplateProblem(`failed to render: ${errorText(err)}`, path);
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i], c, budget));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, [...path, k], c, budget);
    return out;
  }
  return value;
}

function result(run: () => RenderResult): RenderResult {
  try {
    return run();
  } catch (err) {
    if (err instanceof TemplateProblem)
      return { ok: false, message: err.message, path: err.path, budget: err.budget };
    return { ok: false, message: errorText(err), path: [], budget: false };
  }
}

/** Renders every string of `template` against `c` within `limits`, all strings together. */
export function renderWithBudget(
  template: Record<string, unknown>,
  c: ChatContext,
  limits: RenderBudget,
): RenderResult {
  return result(() => {
    const out = walk(template, [], c, new Budget(limits));
    const json = JSON.stringify(out);
    const size = Buffer.byteLength(json);
    if (size > RENDERED_MAX_BYTES)
      throw new TemplateProblem(`renders to ${size} bytes, more than ${RENDERED_MAX_BYTES}`, []);
    return { ok: true, json };
  });
}

/** Loop tags (`for`, `tablerow`) in parsed Liquid, nested ones included. */
function countLoops(templates: Template[]): number {
  let n = 0;
  for (const t of templates) {
    if (t instanceof ForTag || t instanceof TablerowTag) n++;
    // Partials are never read (there are none): only the tag's own blocks.
    if (t.children) n += countLoops(toValueSync(t.children(false, true)));
  }
  return n;
}

/**
 * The save-time check of a template's Liquid: every string parses, it has at most
 * `TEMPLATE_MAX_LOOPS` loops, and it renders against `sample` within `limits`.
 */
export function checkWithBudget(
  template: Record<string, unknown>,
  sample: ChatContext,
  limits: RenderBudget,
): RenderResult {
  return result(() => {
    let loops = 0;
    const visit = (value: unknown, path: (string | number)[]) => {
      if (typeof value === 'string') {
        loops += countLoops(parseAt(value, path));
        if (loops > TEMPLATE_MAX_LOOPS)
          throw new TemplateProblem(`has more than ${TEMPLATE_MAX_LOOPS} loops (for, tablerow)`, path);
      } else if (Array.isArray(value)) {
        for (const [i, v] of value.entries()) visit(v, [...path, i]);
      } else if (isPlainObject(value)) {
        for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
      }
    };
    visit(template, []);
    return renderWithBudget(template, sample, limits);
  });
}
