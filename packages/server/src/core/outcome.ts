/**
 * What happened to one claimed delivery, and the delivery status that follows from it: the
 * dispatcher decides the outcome, the store records it with its attempt in one transaction.
 */
import { type Attempt, DeliveryStatus, type DeliveryStatusCode } from './types.ts';

/** What happened to one claimed delivery, recorded in one transaction with its attempt. */
export interface DeliveryOutcome {
  deliveryId: string;
  /** The lease the worker held (`ClaimedDelivery.leaseUntil`); a lost lease moves nothing. */
  leaseUntil: number;
  /** Null when no request was made (endpoint deleted or disabled). */
  attempt: Attempt | null;
  next:
    | { kind: 'success' }
    /**
     * `rateLimited`: the endpoint answered 429 with when to come back; the attempt is logged
     * but does not count against the retry schedule (`attempts` is not incremented).
     */
    | { kind: 'retry'; at: number; rateLimited?: boolean }
    | { kind: 'fail' }
    | { kind: 'cancel' };
  /** When the attempt failed: disable the endpoint if it has been failing since before this time. */
  disableIfFailingSince?: number;
}

/** The delivery status an outcome leaves behind (a retry is pending again). */
export function statusAfter(next: DeliveryOutcome['next']): DeliveryStatusCode {
  switch (next.kind) {
    case 'success':
      return DeliveryStatus.success;
    case 'retry':
      return DeliveryStatus.pending;
    case 'fail':
      return DeliveryStatus.fail;
    case 'cancel':
      return DeliveryStatus.canceled;
  }
}

/**
 * Whether an outcome counts against the retry schedule: a request was made, and it was not a
 * 429 that said when to come back (those wait without using up a retry).
 */
export const countsAsAttempt = (o: DeliveryOutcome): boolean =>
  o.attempt !== null && !(o.next.kind === 'retry' && o.next.rateLimited === true);
