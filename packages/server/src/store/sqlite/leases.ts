/**
 * The leases a SQLite server holds, by endpoint: the deliveries it claimed or handed off to its
 * dispatchers and has not completed or given back yet, with when each lease ends. A claim counts
 * an endpoint's deliveries in flight here instead of in the database.
 *
 * One process owns a SQLite file, so every lease that can still be in flight is one this process
 * took. Counted from an index of the `sending` rows instead (`delivery_sending`, dropped by
 * migration 26), every handoff, claim and outcome also wrote that index, on a page of its
 * endpoint's: a drain writes 6-8 % fewer bytes a delivery without it (docs/benchmarks.md). And a
 * `sending` row left by a process that stopped or crashed is no longer counted as in flight: no
 * request of it is running, and it falls due again when its lease ends, as before.
 */
export class Leases {
  /** Endpoint → delivery → when its lease ends. */
  private readonly byEndpoint = new Map<string, Map<string, number>>();
  /** Delivery → its endpoint. */
  private readonly endpointOf = new Map<string, string>();

  /** A delivery was leased until `until` (a claim, or the ingest's handoff). */
  add(endpointId: string, deliveryId: string, until: number): void {
    let leases = this.byEndpoint.get(endpointId);
    if (!leases) {
      leases = new Map();
      this.byEndpoint.set(endpointId, leases);
    }
    leases.set(deliveryId, until);
    this.endpointOf.set(deliveryId, endpointId);
  }

  /**
   * The lease ended (its outcome recorded, or it was given back). With `until`, only if the
   * delivery still holds that lease: one that ran out and was claimed again holds a newer one.
   */
  end(deliveryId: string, until?: number): void {
    const endpointId = this.endpointOf.get(deliveryId);
    if (endpointId === undefined) return;
    const leases = this.byEndpoint.get(endpointId);
    if (until !== undefined && leases?.get(deliveryId) !== until) return;
    this.endpointOf.delete(deliveryId);
    leases?.delete(deliveryId);
    if (leases?.size === 0) this.byEndpoint.delete(endpointId);
  }

  /** The endpoint's leases that have not ended by `now`; those that have are forgotten. */
  inFlight(endpointId: string, now: number): number {
    const leases = this.byEndpoint.get(endpointId);
    if (!leases) return 0;
    for (const [id, until] of leases) {
      if (until > now) continue;
      leases.delete(id);
      this.endpointOf.delete(id);
    }
    if (leases.size === 0) this.byEndpoint.delete(endpointId);
    return leases.size;
  }
}
