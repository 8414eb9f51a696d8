/**
 * What every shared store module works with: an executor on the database, and the codec
 * context (dialect and secret box) that turns records into rows and back.
 */
import type { SecretBox } from '../../core/secret-box.ts';
import type { Executor } from '../sql.ts';
import type { CodecContext } from '../table.ts';

export interface Db {
  ex: Executor;
  ctx: CodecContext;
}

export const createDb = (ex: Executor, box: SecretBox): Db => ({ ex, ctx: { dialect: ex.dialect, box } });

/** The same database inside a transaction. */
export const within = (db: Db, ex: Executor): Db => ({ ex, ctx: db.ctx });
