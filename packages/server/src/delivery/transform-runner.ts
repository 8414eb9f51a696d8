/**
 * Where transformations run: a small pool of long-lived worker threads, each evaluating one
 * handler at a time in a QuickJS (WebAssembly) sandbox (`transform-worker.ts`), so a handler never
 * runs on the event loop that answers the API. Each run has a budget (time, memory) enforced
 * inside the sandbox; a run still going well past its time is stopped by terminating its worker,
 * and a worker that dies takes only its own run with it. Either way the run fails with the reason.
 */
import { Worker } from 'node:worker_threads';
import type { TransformBudget, TransformJob, TransformOutcome } from './transform-worker.ts';

export type { TransformOutcome };

/** The budget of one run of a handler. */
export const DEFAULT_TRANSFORM_BUDGET: Readonly<TransformBudget> = {
  timeMs: 200,
  memory: 16 * 1024 * 1024,
};

/** How long past its time a run may go before its worker is terminated. */
const DEADLINE_GRACE_MS = 1000;
/** A worker's own heap (the sandbox's memory is inside WebAssembly memory, counted apart). */
const WORKER_HEAP_MB = 64;
/** At most two threads' worth of CPU goes to transformations, however many arrive. */
const POOL_SIZE = 2;

let budget: TransformBudget = { ...DEFAULT_TRANSFORM_BUDGET };

/** Changes the budget (tests); returns a function that puts the previous one back. */
export function setTransformBudget(change: Partial<TransformBudget>): () => void {
  const before = budget;
  budget = { ...budget, ...change };
  return () => {
    budget = before;
  };
}

interface Pending {
  job: TransformJob;
  resolve(r: TransformOutcome): void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  pending: Pending | null;
  error: Error | null;
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
}

function spawn() {
  const worker = new Worker(new URL('./transform-worker.ts', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 16 },
  });
  const slot: Slot = { worker, ready: false, pending: null, error: null };
  slots.push(slot);
  worker.on('message', (m: { ready?: true; id?: number } & TransformOutcome) => {
    if (m.ready) slot.ready = true;
    else if (slot.pending && m.id === slot.pending.job.id) {
      const p = slot.pending;
      settle(slot, p);
      const { id: _, ...result } = m;
      p.resolve(result as TransformOutcome);
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
      p.resolve({ ok: false, message: `the sandbox stopped: ${slot.error?.message ?? 'exited'}` });
    }
    if (!slot.ready) {
      const why = `the transformation sandbox did not start: ${slot.error?.message ?? 'exited'}`;
      for (const w of queue.splice(0)) w.resolve({ ok: false, message: why });
    }
    pump();
  });
}

function dispatch(slot: Slot, p: Pending) {
  slot.pending = p;
  slot.worker.postMessage(p.job);
  p.timer = setTimeout(() => {
    // Past its time without the sandbox's interrupt taking hold: only ending the thread stops it.
    settle(slot, p);
    remove(slot);
    void slot.worker.terminate();
    p.resolve({ ok: false, message: `ran for more than ${p.job.budget.timeMs} ms and was stopped` });
    pump();
  }, p.job.budget.timeMs + DEADLINE_GRACE_MS);
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
      const why = `the transformation sandbox did not start: ${err instanceof Error ? err.message : String(err)}`;
      if (slots.length === 0) for (const w of queue.splice(0)) w.resolve({ ok: false, message: why });
    }
  }
  // Idle workers do not keep the process alive.
  for (const s of slots) {
    if (s.pending || (!s.ready && queue.length > 0)) s.worker.ref();
    else s.worker.unref();
  }
}

/** Runs `handler(input)` (`run`) or only evaluates the code (`check`) in a sandbox worker. */
export function runTransformation(
  op: TransformJob['op'],
  code: string,
  input: unknown,
): Promise<TransformOutcome> {
  return new Promise((resolve) => {
    queue.push({
      job: { id: nextId++, op, code, input: JSON.stringify(input), budget: { ...budget } },
      resolve,
    });
    pump();
  });
}

/** Ends the workers (a run in progress fails); the next run starts new ones. */
export async function stopTransformWorkers(): Promise<void> {
  await Promise.all([...slots].map((s) => s.worker.terminate()));
}
