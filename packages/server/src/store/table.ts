/**
 * Tables declared once, column by column: each record field names its column and how its value
 * is written and read. Row mapping, INSERT and UPDATE statements are derived from the
 * declaration, so a column list cannot fall out of step with the record or with itself.
 */
import { isSealed, type SecretBox } from '../core/secret-box.ts';
import { type Dialect, join, type Row, raw, type Sql, sql } from './sql.ts';

/** What a codec may need: the database's dialect and the key that seals secrets. */
export interface CodecContext {
  dialect: Dialect;
  box: SecretBox;
}

/** How one field is stored: `write` gives the parameter, `read` turns the column back. */
export interface Codec<T> {
  write(v: T, ctx: CodecContext): unknown;
  read(v: unknown, ctx: CodecContext): T;
}

const nullable = <T>(c: Codec<T>): Codec<T | null> => ({
  write: (v, ctx) => (v === null || v === undefined ? null : c.write(v, ctx)),
  read: (v, ctx) => (v === null || v === undefined ? null : c.read(v, ctx)),
});

export const text: Codec<string> = { write: (v) => v, read: (v) => String(v) };
export const textOrNull = nullable(text);
/** Integers, times in ms (PostgreSQL BIGINT arrives as a number, see the driver setup). */
export const int: Codec<number> = { write: (v) => v, read: (v) => Number(v) };
export const intOrNull = nullable(int);
export const flag: Codec<boolean> = {
  write: (v, ctx) => ctx.dialect.flag(v),
  read: (v, ctx) => ctx.dialect.readFlag(v),
};
export const flagOrNull = nullable(flag);
/** JSON kept as text in both databases (maps, headers, templates, schemas). */
export const json = <T>(): Codec<T> => ({
  write: (v) => (v === null || v === undefined ? null : JSON.stringify(v)),
  read: (v) => (v === null || v === undefined ? (null as T) : (JSON.parse(String(v)) as T)),
});
/** A JSON array that queries search (SQLite text, PostgreSQL JSONB): event types, channels, tags. */
export const jsonArray = <T>(): Codec<T> => ({
  write: (v) => (v === null || v === undefined ? null : JSON.stringify(v)),
  read: (v, ctx) => ctx.dialect.readJsonArray<T>(v),
});
/** JSON encrypted at rest with the server's secret key (secrets, verification settings). */
export const sealed = <T>(): Codec<T> => ({
  write: (v, ctx) => ctx.box.seal(JSON.stringify(v)),
  read: (v, ctx) => JSON.parse(ctx.box.open(String(v))) as T,
});
/**
 * `sealed` for a column that held plain JSON before it was encrypted (an endpoint's custom
 * headers): writes are sealed; a row written before still reads as the plain JSON it holds, and
 * is sealed the next time it is written (`hookline rotate-secret-key` rewrites every endpoint).
 * No migration: sealed text never starts like JSON does.
 */
export const sealedOrPlainJson = <T>(): Codec<T> => ({
  write: (v, ctx) => ctx.box.seal(JSON.stringify(v)),
  read: (v, ctx) => {
    const s = String(v);
    return JSON.parse(isSealed(s) ? ctx.box.open(s) : s) as T;
  },
});
/** Text restricted to a set of values (an enumeration); a missing value reads as `fallback`. */
export const oneOf = <T extends string>(fallback: T): Codec<T> => ({
  write: (v) => v ?? fallback,
  read: (v) => (v === null || v === undefined ? fallback : (String(v) as T)),
});
export const bytes: Codec<Buffer> = {
  write: (v) => v,
  read: (v) => Buffer.from(v as Uint8Array),
};

export interface Column<T> {
  name: string;
  codec: Codec<T>;
}
export const column = <T>(name: string, codec: Codec<T>): Column<T> => ({ name, codec });

export interface Table<R> {
  readonly name: string;
  /** The table name as SQL. */
  readonly ref: Sql;
  /** A field's column name as SQL (`alias.` prefixed when given). */
  col(field: keyof R & string, alias?: string): Sql;
  /** The record of a row read with its declared columns. */
  read(row: Row, ctx: CodecContext): R;
  /** Some fields of a row that has (at least) their columns. */
  pick<K extends keyof R & string>(row: Row, ctx: CodecContext, fields: readonly K[]): Pick<R, K>;
  /** The column names of these fields, comma-separated (`alias.` prefixed when given). */
  names(fields: readonly (keyof R & string)[], alias?: string): string;
  /** `INSERT INTO table (every column) VALUES (...)`. */
  insert(record: R, ctx: CodecContext): Sql;
  /**
   * The same statement as text with this placeholder style, and its parameters for a record in
   * column order: for hot paths that prepare the statement once.
   */
  insertText(placeholder: (n: number) => string): string;
  values(record: R, ctx: CodecContext): unknown[];
  /** `column = value, ...` for these fields. */
  assign(record: Partial<R>, ctx: CodecContext, fields: readonly (keyof R & string)[]): Sql;
  readonly fields: readonly (keyof R & string)[];
}

/** Declares a table whose rows are records of type `R` (every field a column). */
export function defineTable<R>(name: string, columns: { [K in keyof R]-?: Column<R[K]> }): Table<R> {
  const fields = Object.keys(columns) as (keyof R & string)[];
  const cols = fields.map((f) => [f, columns[f]] as const);
  return {
    name,
    ref: raw(name),
    fields,
    col: (field, alias) => raw(alias ? `${alias}.${columns[field].name}` : columns[field].name),
    read(row, ctx) {
      const out = {} as R;
      for (const [f, c] of cols) out[f] = c.codec.read(row[c.name], ctx);
      return out;
    },
    pick(row, ctx, only) {
      const out = {} as Pick<R, (typeof only)[number]>;
      for (const f of only) out[f] = columns[f].codec.read(row[columns[f].name], ctx);
      return out;
    },
    names: (only, alias) =>
      only.map((f) => (alias ? `${alias}.${columns[f].name}` : columns[f].name)).join(', '),
    insert(record, ctx) {
      const names = raw(cols.map(([, c]) => c.name).join(', '));
      const values = join(cols.map(([f, c]) => sql`${c.codec.write(record[f], ctx)}`));
      return sql`INSERT INTO ${raw(name)} (${names}) VALUES (${values})`;
    },
    insertText: (placeholder) =>
      `INSERT INTO ${name} (${cols.map(([, c]) => c.name).join(', ')}) VALUES (${cols.map((_, i) => placeholder(i + 1)).join(', ')})`,
    values: (record, ctx) => cols.map(([f, c]) => c.codec.write(record[f], ctx)),
    assign(record, ctx, only) {
      return join(
        only.map((f) => {
          const c = columns[f];
          return sql`${raw(c.name)} = ${c.codec.write(record[f] as R[typeof f], ctx)}`;
        }),
      );
    },
  };
}
