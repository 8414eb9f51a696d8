/**
 * A transformation worker (a `node:worker_threads` thread started by `transform-runner.ts`). Each
 * job runs in a fresh QuickJS runtime (WebAssembly): no Node, no file system, no network, nothing
 * left over from another endpoint's code. The runtime has a memory limit and an interrupt
 * deadline; a job that still does not come back is stopped from outside by ending this thread.
 */

import { parentPort } from 'node:worker_threads';
import variant from '@jitl/quickjs-wasmfile-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  type QuickJSSyncVariant,
  shouldInterruptAfterDeadline,
} from 'quickjs-emscripten-core';

export interface TransformJob {
  id: number;
  /** `run`: call `handler(input)`; `check`: only evaluate the code and look for `handler`. */
  op: 'run' | 'check';
  code: string;
  /** The webhook object as JSON text. */
  input: string;
  budget: TransformBudget;
}

export interface TransformBudget {
  /** Wall time the code may run, ms. */
  timeMs: number;
  /** Bytes the runtime may allocate. */
  memory: number;
}

/** The handler's return value as JSON text, or why there is none. */
export type TransformOutcome = { ok: true; output: string } | { ok: false; message: string };

const port = parentPort;
if (!port) throw new Error('transform-worker.ts runs as a worker thread');

// The package's types describe its CommonJS build; the ES module's default export is the variant.
const quickjs = await newQuickJSWASMModuleFromVariant(variant as unknown as QuickJSSyncVariant);

/** The error a sandboxed evaluation threw, as one line. */
function describe(dumped: unknown): string {
  if (dumped && typeof dumped === 'object') {
    const e = dumped as { name?: unknown; message?: unknown };
    if (typeof e.message === 'string')
      return `${typeof e.name === 'string' ? `${e.name}: ` : ''}${e.message}`;
  }
  return String(dumped);
}

const RUN = `(() => {
  if (typeof handler !== 'function') throw new TypeError('the code must define a function handler(webhook)');
  const out = handler(JSON.parse(__hooklineInput));
  return out === undefined ? undefined : JSON.stringify(out);
})()`;
const CHECK = `(() => {
  if (typeof handler !== 'function') throw new TypeError('the code must define a function handler(webhook)');
})()`;

function run(job: TransformJob): TransformOutcome {
  const runtime = quickjs.newRuntime();
  try {
    runtime.setMemoryLimit(job.budget.memory);
    runtime.setMaxStackSize(512 * 1024);
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + job.budget.timeMs));
    const vm = runtime.newContext();
    try {
      const input = vm.newString(job.input);
      vm.setProp(vm.global, '__hooklineInput', input);
      input.dispose();
      for (const [source, name] of [
        [job.code, 'transformation.js'],
        [job.op === 'check' ? CHECK : RUN, 'hookline.js'],
      ] as const) {
        const result = vm.evalCode(source, name);
        if (result.error) {
          const why = describe(vm.dump(result.error));
          result.error.dispose();
          if (/interrupted/i.test(why))
            return { ok: false, message: `ran for more than ${job.budget.timeMs} ms and was stopped` };
          if (/out of memory/i.test(why))
            return {
              ok: false,
              message: `used more than ${Math.round(job.budget.memory / 1048576)} MB of memory and was stopped`,
            };
          return { ok: false, message: `threw ${why}` };
        }
        const value = vm.dump(result.value) as unknown;
        result.value.dispose();
        if (name === 'hookline.js' && job.op === 'run') {
          if (typeof value !== 'string') return { ok: false, message: 'handler(webhook) returned nothing' };
          return { ok: true, output: value };
        }
      }
      return { ok: true, output: 'null' };
    } finally {
      vm.dispose();
    }
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { ok: false, message: `failed in the sandbox: ${why}` };
  } finally {
    try {
      runtime.dispose();
    } catch {
      // A runtime stopped mid-allocation may not free cleanly; the next job gets a new one.
    }
  }
}

port.on('message', (job: TransformJob) => {
  port.postMessage({ id: job.id, ...run(job) });
});
port.postMessage({ ready: true });
