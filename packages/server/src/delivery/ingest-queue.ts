/**
 * Group commit for new messages and received inbound requests. Every item accepted in the same
 * turn of the event loop is written by one store call, in one transaction, so a burst of requests
 * costs one commit (and one fsync) instead of one each. Each caller still gets its own result,
 * and only after the commit: the API never answers 2xx for something not yet durable.
 */
import type {
  InboundItem,
  InboundResult,
  IngestHandoff,
  IngestItem,
  IngestResult,
  Store,
} from '../store/store.ts';
import { StoreUnavailableError } from '../store/store-errors.ts';

export interface GroupCommit<I, R> {
  add(item: I): Promise<R>;
}

export type IngestQueue = GroupCommit<IngestItem, IngestResult>;
export type InboundQueue = GroupCommit<InboundItem, InboundResult>;

/**
 * Batches `add` calls into `write` calls of up to `maxBatch` items, one result per item, in order.
 * At most `inFlight` writes run at once: what arrives while they are being written waits for the
 * next batch, so under load batches grow instead of many small transactions competing for
 * connections, while a store that can write in parallel starts the next batch as one commits.
 */
export function createGroupCommit<I, R>(
  write: (items: I[]) => Promise<R[]>,
  maxBatch = 1000,
  inFlight = 1,
  /** Told the size of every write that succeeded (for `hookline_write_batch_size`). */
  onWritten: (items: number) => void = () => {},
): GroupCommit<I, R> {
  let pending: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  let writing = 0;

  function flush() {
    scheduled = false;
    while (pending.length > 0 && writing < inFlight) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      writing++;
      void writeBatch(batch).finally(() => {
        writing--;
        // Whatever arrived meanwhile is the next batch.
        if (pending.length > 0 && !scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    }
  }

  async function writeBatch(batch: typeof pending) {
    try {
      const results = await write(batch.map((p) => p.item));
      onWritten(batch.length);
      batch.forEach((p, i) => {
        p.resolve(results[i]!);
      });
    } catch (err) {
      if (batch.length === 1 || err instanceof StoreUnavailableError) {
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad item (say, its app was deleted a moment ago) must not fail its neighbours.
      for (const p of batch) {
        try {
          const [result] = await write([p.item]);
          onWritten(1);
          p.resolve(result!);
        } catch (itemErr) {
          p.reject(itemErr);
        }
      }
    }
  }

  return {
    add(item) {
      return new Promise<R>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (!scheduled && writing < inFlight) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}

/**
 * `handoff`: this process's dispatcher, when it runs one, offered the new deliveries as they are
 * written (see `IngestHandoff`); read at each write, since the dispatcher is made after the queue.
 */
export function createIngestQueue(
  store: Store,
  maxBatch = 1000,
  handoff: () => IngestHandoff | null = () => null,
  onWritten?: (items: number) => void,
): IngestQueue {
  return createGroupCommit(
    (items) => store.ingest(items, handoff()),
    maxBatch,
    store.capabilities.parallelWrites,
    onWritten,
  );
}

export function createInboundQueue(
  store: Store,
  maxBatch = 500,
  onWritten?: (items: number) => void,
): InboundQueue {
  return createGroupCommit(
    (items) => store.receiveInbound(items),
    maxBatch,
    store.capabilities.parallelWrites,
    onWritten,
  );
}
