/**
 * Delivery status codes as SQL text. Statements write them as literals, not parameters: the
 * queue's partial indexes (`WHERE status IN (1, 3)`) are only used when a query's condition
 * names the same constants.
 */
import { INBOUND_STATUSES, type InboundStatus } from '../core/enums.ts';
import { DeliveryStatus } from '../core/types.ts';

export const SUCCESS = String(DeliveryStatus.success);
export const PENDING = String(DeliveryStatus.pending);
export const FAIL = String(DeliveryStatus.fail);
export const SENDING = String(DeliveryStatus.sending);
export const CANCELED = String(DeliveryStatus.canceled);
/** The queue: waiting for an attempt, or leased by a worker. */
export const OPEN = `${PENDING}, ${SENDING}`;
/** Finished without success: what `recover` brings back. */
export const GAVE_UP = `${FAIL}, ${CANCELED}`;

/** Inbound request statuses as SQL literals (see `INBOUND_STATUSES`). */
const quoted = (s: string) => `'${s}'`;
export const ACCEPTED = quoted('accepted' satisfies InboundStatus);
/** Requests kept for inspection only, pruned to a source's newest few. */
export const UNACCEPTED = INBOUND_STATUSES.filter((s) => s !== 'accepted')
  .map(quoted)
  .join(', ');

/**
 * On an open delivery `d`: it is unkeyed, or the first open one of its (endpoint, ordering key)
 * line. The others of a line wait for its head, so their own due times say nothing about when
 * the queue next has work: `nextDueAt` looks only at these (one probe of `delivery_key_open` per
 * keyed row it passes).
 */
export const LINE_HEAD = `(d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM delivery k
  WHERE k.endpoint_id = d.endpoint_id AND k.ordering_key = d.ordering_key AND k.ordering_key IS NOT NULL
    AND k.status IN (${OPEN}) AND (k.sequence, k.id) < (d.sequence, d.id)))`;
