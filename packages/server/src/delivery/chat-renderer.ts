/**
 * Where chat templates are rendered: a small pool of long-lived worker threads
 * (`worker-pool.ts`), so a template, however expensive, never runs on the event loop that answers
 * the API, `/in/{source}` and `/health`. Each render has one budget for the whole template (time, steps, allocations; see
 * `chat-template.ts`), checked by LiquidJS as it renders; a render still running well past its
 * time (one filter over a huge value does not come back to those checks) is stopped by
 * terminating its worker, and a worker that runs out of heap dies alone. Either way the render
 * fails with a budget error and a new worker takes the next render.
 */
import { EventEmitter } from 'node:events';
import type { ChatContext } from './chat-limits.ts';
import type { RenderBudget, RenderResult } from './chat-template.ts';
import type { RenderJob } from './chat-worker.ts';
import { createWorkerPool } from './worker-pool.ts';

/** The budget of one render, every string of the template together. */
export const DEFAULT_RENDER_BUDGET: Readonly<RenderBudget> = {
  timeMs: 250,
  steps: 200_000,
  memory: 16 * 1024 * 1024,
};

/** How long past its budget's time a render may run before its worker is terminated. */
export const RENDER_DEADLINE_GRACE_MS = 1000;

/** A render worker's heap: the message context (with its payload) plus what a template allocates. */
export const RENDER_WORKER_HEAP_MB = 128;

/**
 * Renders run one at a time per worker. Two workers, started when there is work for them: one
 * expensive template does not hold up every other endpoint's messages, and at most two threads'
 * worth of CPU goes to templates however many arrive.
 */
const POOL_SIZE = 2;

let budget: RenderBudget = { ...DEFAULT_RENDER_BUDGET };

/** Changes the render budget (tests); returns a function that puts the previous one back. */
export function setRenderBudget(change: Partial<RenderBudget>): () => void {
  const before = budget;
  budget = { ...budget, ...change };
  return () => {
    budget = before;
  };
}

/** `start` when a render begins in a worker, `end` when it is answered (tests and metrics). */
export const renderEvents = new EventEmitter<{ start: [op: RenderJob['op']]; end: [op: RenderJob['op']] }>();

const pool = createWorkerPool<RenderJob, RenderResult>({
  script: new URL('./chat-worker.ts', import.meta.url),
  heapMb: RENDER_WORKER_HEAP_MB,
  size: POOL_SIZE,
  graceMs: RENDER_DEADLINE_GRACE_MS,
  // Past its time without coming back to LiquidJS's checks.
  late: (job) => ({
    ok: false,
    budget: true,
    path: [],
    message: `exceeds its render budget: rendering took more than ${job.budget.timeMs} ms and was stopped`,
  }),
  died: (_job, error) =>
    error?.code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? {
          ok: false,
          budget: true,
          path: [],
          message: `exceeds its render budget: more than ${RENDER_WORKER_HEAP_MB} MB of memory`,
        }
      : new Error(`the chat template renderer stopped: ${error?.message ?? 'exited'}`),
  notStarted: (why) => new Error(`the chat template renderer did not start: ${why}`),
  onStart: (job) => renderEvents.emit('start', job.op),
  onEnd: (job) => renderEvents.emit('end', job.op),
});

/** Renders (`render`) or checks (`check`: parse, loop count, sample render) a template in a worker. */
export function renderInWorker(
  op: RenderJob['op'],
  template: Record<string, unknown>,
  context: ChatContext,
): Promise<RenderResult> {
  return pool.run({ op, template, context, budget: { ...budget } });
}

/** Ends the render workers (a render in progress fails); the next render starts new ones. */
export function stopRenderWorkers(): Promise<void> {
  return pool.stop();
}
