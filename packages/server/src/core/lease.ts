/**
 * How long a claimed delivery belongs to the worker that claimed it. A worker holds up to twice
 * an endpoint's concurrency in hand, so a delivery may wait for one request to the endpoint
 * before its own runs: the lease covers two request timeouts and some slack. When it runs out
 * (the worker died), another worker claims the delivery again.
 */
export const LEASE_TIMEOUTS = 2;
export const LEASE_SLACK_MS = 10_000;

/** The lease of a delivery whose request may take `timeoutMs`. */
export const leaseFor = (timeoutMs: number): number => LEASE_TIMEOUTS * timeoutMs + LEASE_SLACK_MS;
