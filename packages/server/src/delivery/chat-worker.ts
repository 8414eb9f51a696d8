/**
 * A chat-template render worker (a `node:worker_threads` thread started by `chat-renderer.ts`).
 * It renders one template at a time; a template that runs past its budget without yielding to
 * LiquidJS's checks is stopped from outside by terminating this thread.
 */
import { parentPort } from 'node:worker_threads';
import type { ChatContext } from './chat-limits.ts';
import { checkWithBudget, type RenderBudget, renderWithBudget } from './chat-template.ts';

export interface RenderJob {
  id: number;
  op: 'render' | 'check';
  template: Record<string, unknown>;
  context: ChatContext;
  budget: RenderBudget;
}

const port = parentPort;
if (!port) throw new Error('chat-worker.ts runs as a worker thread');

port.on('message', (job: RenderJob) => {
  const out =
    job.op === 'check'
      ? checkWithBudget(job.template, job.context, job.budget)
      : renderWithBudget(job.template, job.context, job.budget);
  port.postMessage({ id: job.id, ...out });
});
port.postMessage({ ready: true });
