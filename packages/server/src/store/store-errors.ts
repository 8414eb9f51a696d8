/** Errors every store adapter throws in the same shape, whatever its database said. */

/** The database cannot take the request now (unreachable, locked, disk full). Nothing was stored. */
export class StoreUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreUnavailableError';
  }
}

/** A unique key (uid, event id, name) is taken. */
export class StoreConflictError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'StoreConflictError';
  }
}
