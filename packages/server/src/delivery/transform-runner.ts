/**
 * Where transformations run: a small pool of long-lived worker threads (`worker-pool.ts`), each evaluating one
 * handler at a time in a QuickJS (WebAssembly) sandbox (`transform-worker.ts`), so a handler never
 * runs on the event loop that answers the API. Each run has a budget (time, memory) enforced
 * inside the sandbox; a run still going well past its time is stopped by terminating its worker,
 * and a worker that dies takes only its own run with it. Either way the run fails with the reason.
 */
import type { TransformBudget, TransformJob, TransformOutcome } from './transform-worker.ts';
import { createWorkerPool } from './worker-pool.ts';

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

const pool = createWorkerPool<TransformJob, TransformOutcome>({
  script: new URL('./transform-worker.ts', import.meta.url),
  heapMb: WORKER_HEAP_MB,
  size: POOL_SIZE,
  graceMs: DEADLINE_GRACE_MS,
  // Past its time without the sandbox's interrupt taking hold.
  late: (job) => ({ ok: false, message: `ran for more than ${job.budget.timeMs} ms and was stopped` }),
  died: (_job, error) => ({ ok: false, message: `the sandbox stopped: ${error?.message ?? 'exited'}` }),
  notStarted: (why) => ({ ok: false, message: `the transformation sandbox did not start: ${why}` }),
});

/** Runs `handler(input)` (`run`) or only evaluates the code (`check`) in a sandbox worker. */
export function runTransformation(
  op: TransformJob['op'],
  code: string,
  input: unknown,
): Promise<TransformOutcome> {
  return pool.run({ op, code, input: JSON.stringify(input), budget: { ...budget } });
}

/** Ends the workers (a run in progress fails); the next run starts new ones. */
export function stopTransformWorkers(): Promise<void> {
  return pool.stop();
}
