/**
 * Group commit for new messages. Every message accepted in the same turn of the event loop is
 * written by one `store.ingest` call, in one transaction, so a burst of API requests costs one
 * commit (and one fsync) instead of one each. Each caller still gets its own result, and only
 * after the commit: the API never answers 202 for something not yet durable.
 */
import type { IngestItem, IngestResult, Store } from '../store/store.ts';
import { StoreUnavailableError } from '../store/store-errors.ts';

export interface IngestQueue {
  add(item: IngestItem): Promise<IngestResult>;
}

export function createIngestQueue(store: Store, maxBatch = 1000): IngestQueue {
  let pending: { item: IngestItem; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;

  async function flush() {
    scheduled = false;
    while (pending.length > 0) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      try {
        const results = await store.ingest(batch.map((p) => p.item));
        batch.forEach((p, i) => {
          p.resolve(results[i]!);
        });
      } catch (err) {
        if (batch.length === 1 || err instanceof StoreUnavailableError) {
          for (const p of batch) p.reject(err);
          continue;
        }
        // One bad item (say, its app was deleted a moment ago) must not fail its neighbours.
        for (const p of batch) {
          try {
            const [result] = await store.ingest([p.item]);
            p.resolve(result!);
          } catch (itemErr) {
            p.reject(itemErr);
          }
        }
      }
    }
  }

  return {
    add(item) {
      return new Promise<IngestResult>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
