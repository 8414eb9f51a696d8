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
