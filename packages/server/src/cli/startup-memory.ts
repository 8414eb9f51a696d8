/**
 * Gives back the memory a server used to start. Loading the modules, compiling the API's
 * schemas and migrating the database leave tens of megabytes of garbage, and V8's young
 * generation grows to its largest while they run; a process that then serves little (an API
 * process beside busy workers, a worker waiting for work) never collects enough to shrink
 * them again, and keeps them in its RSS. One full collection that also shrinks the heap, once
 * `hookline serve` is up, returns them: an idle API process on PostgreSQL held ~220 MB, ~140 MB
 * after it; a worker ~150 MB, ~120 MB.
 *
 * Node exposes the collector only behind `--expose-gc`: the flag is set for the moment a new
 * context is made to fetch it, so neither the process's own global scope nor any context or
 * worker thread made later gets a `gc`. Where that fails (another runtime), nothing is done.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** Runs the collection; returns how long it took in milliseconds, or null when it could not run. */
export function releaseStartupMemory(): number | null {
  let collect: Collect;
  try {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as Collect;
  } catch {
    return null;
  } finally {
    // Contexts and worker threads made later (transformations, chat templates) get no `gc`.
    setFlagsFromString('--no-expose-gc');
  }
  if (typeof collect !== 'function') return null;
  const started = performance.now();
  // "last-resort": collect everything collectable and shrink the spaces, the young one included.
  collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return performance.now() - started;
}
