/**
 * Where chat templates are rendered: a small pool of long-lived worker threads, so a template,
 * however expensive, never runs on the event loop that answers the API, `/in/{source}` and
 * `/health`. Each render has one budget for the whole template (time, steps, allocations; see
 * `chat-template.ts`), checked by LiquidJS as it renders; a render still running well past its
 * time (one filter over a huge value does not come back to those checks) is stopped by
 * terminating its worker, and a worker that runs out of heap dies alone. Either way the render
 * fails with a budget error and a new worker takes the next render.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { ChatContext } from './chat-limits.ts';
import type { RenderBudget, RenderResult } from './chat-template.ts';
import type { RenderJob } from './chat-worker.ts';

/** The budget of one render, every string of the template together. */
export const DEFAULT_RENDER_BUDGET: Readonly<RenderBudget> = {
  timeMs: 250,
  steps: 200_000,
  memory: 16 * 1024 * 1024,
};

/** How long past its budget's time a render may run before its worker is terminated. */
export const RENDER_DEADLINE_GRACE_MS = 1000;

/** setTimeout's longest delay (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

interface Pending {
  job: RenderJob;
  resolve(r: RenderResult): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  pending: Pending | null;
  error: (Error & { code?: string }) | null;
}

const slots: Slot[] = [];
const queue: Pending[] = [];
let nextId = 1;

function remove(slot: Slot) {
  const i = slots.indexOf(slot);
  if (i >= 0) slots.splice(i, 1);
}

function settle(slot: Slot, p: Pending) {
  clearTimeout(p.timer);
  slot.pending = null;
  renderEvents.emit('end', p.job.op);
}

function spawn() {
  const worker = new Worker(new URL('./chat-worker.ts', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: RENDER_WORKER_HEAP_MB, maxYoungGenerationSizeMb: 16 },
  });
  const slot: Slot = { worker, ready: false, pending: null, error: null };
  slots.push(slot);
  worker.on('message', (m: { ready?: true; id?: number } & RenderResult) => {
    if (m.ready) {
      slot.ready = true;
    } else if (slot.pending && m.id === slot.pending.job.id) {
      const p = slot.pending;
      settle(slot, p);
      const { id: _, ...result } = m;
      p.resolve(result as RenderResult);
    }
    pump();
  });
  worker.on('error', (err) => {
    slot.error = err;
  });
  worker.on('exit', () => {
    remove(slot);
    const p = slot.pending;
    if (p) {
      settle(slot, p);
      if (slot.error?.code === 'ERR_WORKER_OUT_OF_MEMORY')
        p.resolve({
          ok: false,
          budget: true,
          path: [],
          message: `exceeds its render budget: more than ${RENDER_WORKER_HEAP_MB} MB of memory`,
        });
      else p.reject(new Error(`the chat template renderer stopped: ${slot.error?.message ?? 'exited'}`));
    }
    if (!slot.ready) {
      // It never started (a broken installation): fail what waits rather than start workers forever.
      const why = `the chat template renderer did not start: ${slot.error?.message ?? 'exited'}`;
      for (const w of queue.splice(0)) w.reject(new Error(why));
    }
    pump();
  });
}

function dispatch(slot: Slot, p: Pending) {
  slot.pending = p;
  try {
    slot.worker.postMessage(p.job);
  } catch (err) {
    slot.pending = null;
    p.reject(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  renderEvents.emit('start', p.job.op);
  p.timer = setTimeout(
    () => {
      // Past its time without coming back to LiquidJS's checks: only ending the thread stops it.
      settle(slot, p);
      remove(slot);
      void slot.worker.terminate();
      p.resolve({
        ok: false,
        budget: true,
        path: [],
        message: `exceeds its render budget: rendering took more than ${p.job.budget.timeMs} ms and was stopped`,
      });
      pump();
    },
    Math.min(p.job.budget.timeMs + RENDER_DEADLINE_GRACE_MS, MAX_TIMER_MS),
  );
}

function pump() {
  for (const slot of slots) {
    if (queue.length === 0) break;
    if (slot.ready && !slot.pending) dispatch(slot, queue.shift()!);
  }
  const starting = slots.filter((s) => !s.ready).length;
  if (queue.length > starting && slots.length < POOL_SIZE) {
    try {
      spawn();
    } catch (err) {
      // No thread to be had (resources): what waits fails now, the next render tries again.
      const why = `the chat template renderer did not start: ${err instanceof Error ? err.message : String(err)}`;
      if (slots.length === 0) for (const w of queue.splice(0)) w.reject(new Error(why));
    }
  }
  // Idle workers do not keep the process alive; busy ones (or ones starting for waiting work) do.
  for (const s of slots) {
    if (s.pending || (!s.ready && queue.length > 0)) s.worker.ref();
    else s.worker.unref();
  }
}

/** Renders (`render`) or checks (`check`: parse, loop count, sample render) a template in a worker. */
export function renderInWorker(
  op: RenderJob['op'],
  template: Record<string, unknown>,
  context: ChatContext,
): Promise<RenderResult> {
  return new Promise((resolve, reject) => {
    queue.push({ job: { id: nextId++, op, template, context, budget: { ...budget } }, resolve, reject });
    pump();
  });
}

/** Ends the render workers (a render in progress fails); the next render starts new ones. */
export async function stopRenderWorkers(): Promise<void> {
  await Promise.all([...slots].map((s) => s.worker.terminate()));
}
