/**
 * A small pool of long-lived worker threads that run untrusted work (chat templates,
 * transformations) one job at a time each, off the event loop that answers the API. Each job
 * carries a time budget its worker enforces; a job still running well past it is stopped by
 * terminating its worker, and a worker that dies (out of heap, a crash) takes only its own job
 * with it. Workers start when there is work for them, and idle ones do not keep the process alive.
 *
 * A worker script posts `{ ready: true }` once it can take jobs, then answers each job with its
 * result and the job's `id`.
 */
import { Worker } from 'node:worker_threads';

/** setTimeout's longest delay (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface PoolJob {
  id: number;
  budget: { timeMs: number };
}

export interface WorkerPoolOptions<J extends PoolJob, R> {
  /** The worker script (`new URL('./x-worker.ts', import.meta.url)`, so that builds rewrite it). */
  script: URL;
  /** Each worker's own heap. */
  heapMb: number;
  /** Workers at most: the most CPU this kind of work can take however many jobs arrive. */
  size: number;
  /** How long past its budget's time a job may run before its worker is terminated. */
  graceMs: number;
  /** The answer to a job stopped for running past its time. */
  late(job: J): R;
  /** The answer to a job whose worker died under it, or the error it fails with. */
  died(job: J, error: (Error & { code?: string }) | null): R | Error;
  /** What waiting jobs get when no worker could start (`why` says why). */
  notStarted(why: string): R | Error;
  /** A job was handed to a worker / answered (tests and metrics). */
  onStart?(job: J): void;
  onEnd?(job: J): void;
}

export interface WorkerPool<J extends PoolJob, R> {
  /** Runs a job (its `id` is given here) in a worker. */
  run(job: Omit<J, 'id'>): Promise<R>;
  /** Ends the workers (a job in progress fails); the next job starts new ones. */
  stop(): Promise<void>;
}

interface Pending<J, R> {
  job: J;
  resolve(r: R): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

interface Slot<J, R> {
  worker: Worker;
  ready: boolean;
  pending: Pending<J, R> | null;
  error: (Error & { code?: string }) | null;
}

export function createWorkerPool<J extends PoolJob, R>(o: WorkerPoolOptions<J, R>): WorkerPool<J, R> {
  const slots: Slot<J, R>[] = [];
  const queue: Pending<J, R>[] = [];
  let nextId = 1;

  const answer = (p: Pending<J, R>, r: R | Error) => (r instanceof Error ? p.reject(r) : p.resolve(r));

  function remove(slot: Slot<J, R>) {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
  }

  function settle(slot: Slot<J, R>, p: Pending<J, R>) {
    clearTimeout(p.timer);
    slot.pending = null;
    o.onEnd?.(p.job);
  }

  /** Fails what waits: no worker could start (a broken installation, no resources). */
  function failWaiting(why: string) {
    for (const w of queue.splice(0)) answer(w, o.notStarted(why));
  }

  function spawn() {
    const worker = new Worker(o.script, {
      resourceLimits: { maxOldGenerationSizeMb: o.heapMb, maxYoungGenerationSizeMb: 16 },
    });
    const slot: Slot<J, R> = { worker, ready: false, pending: null, error: null };
    slots.push(slot);
    worker.on('message', (m: { ready?: true; id?: number }) => {
      if (m.ready) {
        slot.ready = true;
      } else if (slot.pending && m.id === slot.pending.job.id) {
        const p = slot.pending;
        settle(slot, p);
        const { id: _, ...result } = m;
        p.resolve(result as R);
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
        answer(p, o.died(p.job, slot.error));
      }
      // It never started: fail what waits rather than start workers forever.
      if (!slot.ready) failWaiting(slot.error?.message ?? 'exited');
      pump();
    });
  }

  function dispatch(slot: Slot<J, R>, p: Pending<J, R>) {
    slot.pending = p;
    try {
      slot.worker.postMessage(p.job);
    } catch (err) {
      slot.pending = null;
      p.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    o.onStart?.(p.job);
    p.timer = setTimeout(
      () => {
        // Past its time without the worker's own checks taking hold: only ending the thread stops it.
        settle(slot, p);
        remove(slot);
        void slot.worker.terminate();
        p.resolve(o.late(p.job));
        pump();
      },
      Math.min(p.job.budget.timeMs + o.graceMs, MAX_TIMER_MS),
    );
  }

  function pump() {
    for (const slot of slots) {
      if (queue.length === 0) break;
      if (slot.ready && !slot.pending) dispatch(slot, queue.shift()!);
    }
    const starting = slots.filter((s) => !s.ready).length;
    if (queue.length > starting && slots.length < o.size) {
      try {
        spawn();
      } catch (err) {
        // No thread to be had: what waits fails now, the next job tries again.
        if (slots.length === 0) failWaiting(err instanceof Error ? err.message : String(err));
      }
    }
    // Idle workers do not keep the process alive; busy ones (or ones starting for waiting work) do.
    for (const s of slots) {
      if (s.pending || (!s.ready && queue.length > 0)) s.worker.ref();
      else s.worker.unref();
    }
  }

  return {
    run: (job) =>
      new Promise<R>((resolve, reject) => {
        queue.push({ job: { ...job, id: nextId++ } as J, resolve, reject });
        pump();
      }),
    stop: async () => {
      await Promise.all([...slots].map((s) => s.worker.terminate()));
    },
  };
}
