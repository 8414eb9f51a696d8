/**
 * The small layer under every statement Hookline writes once for both databases.
 *
 * - `sql` is a tagged template: values become parameters, never text, and each database gets its
 *   own placeholders (`?` for SQLite, `$1, $2, ...` for PostgreSQL) when the statement is
 *   rendered. Nested `sql` fragments are spliced in as SQL.
 * - A `Dialect` says how each database spells the few things they spell differently: booleans,
 *   list membership, JSON containment.
 * - An `Executor` runs statements (`all`, `one`, `run`) and transactions (`tx`). The SQLite one
 *   serializes transactions on its single connection; the PostgreSQL one takes a pooled
 *   connection per transaction.
 */

/** One row as the driver returns it: column name to value. */
export type Row = Record<string, unknown>;

/** A piece of SQL with its parameters. Build it with `sql`; render it with `render`. */
export class Sql {
  /** `text.length === values.length + 1`: the values sit between the pieces of text. */
  readonly text: readonly string[];
  readonly values: readonly unknown[];
  /** Kept prepared on each PostgreSQL connection under this name (see `prepared`). */
  readonly prepareAs: string | undefined;
  constructor(text: readonly string[], values: readonly unknown[], prepareAs?: string) {
    this.text = text;
    this.values = values;
    this.prepareAs = prepareAs;
  }

  /** The statement text with the dialect's placeholders, and its parameters in order. */
  render(placeholder: (n: number) => string): { text: string; values: unknown[] } {
    let text = this.text[0] ?? '';
    for (let i = 0; i < this.values.length; i++) text += placeholder(i + 1) + this.text[i + 1];
    return { text, values: [...this.values] };
  }
}

/** A statement or fragment: `${value}` is a parameter, `${sql`...`}` is spliced in as SQL. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  const text: string[] = [strings[0] ?? ''];
  const params: unknown[] = [];
  values.forEach((v, i) => {
    const after = strings[i + 1] ?? '';
    if (v instanceof Sql) {
      text[text.length - 1] += v.text[0] ?? '';
      for (let j = 0; j < v.values.length; j++) {
        params.push(v.values[j]);
        text.push(v.text[j + 1] ?? '');
      }
      text[text.length - 1] += after;
    } else {
      params.push(v);
      text.push(after);
    }
  });
  return new Sql(text, params);
}

/**
 * `q`, kept prepared on each PostgreSQL connection that runs it: parsed and analysed once per
 * connection, and planned once too when PostgreSQL finds its generic plan no dearer than the plans
 * made for the values. For the statements every delivery runs (ingest, routing, claim,
 * completion), whose parsing and planning were about a third of PostgreSQL's work per delivery.
 * `name` says what it is; each distinct text gets a name of its own. SQLite keeps every statement
 * prepared anyway.
 */
export const prepared = (name: string, q: Sql): Sql => new Sql(q.text, q.values, name);

/** Trusted SQL text (a column or table name, a keyword). Never pass user input. */
export const raw = (text: string): Sql => new Sql([text], []);

/** Fragments joined by a separator (`, ` by default); an empty list is an empty fragment. */
export function join(parts: readonly Sql[], separator = ', '): Sql {
  if (parts.length === 0) return raw('');
  const strings = [''];
  for (let i = 1; i < parts.length; i++) strings.push(separator);
  strings.push('');
  return sql(Object.assign(strings, { raw: strings }) as TemplateStringsArray, ...parts);
}

/** Conditions joined with AND (`TRUE` when there are none). */
export const and = (conditions: readonly Sql[]): Sql =>
  conditions.length === 0 ? raw('1 = 1') : join(conditions, ' AND ');

/**
 * What SQLite and PostgreSQL spell differently in the statements both run. Code asks the
 * dialect; it never tests which database it is.
 */
export interface Dialect {
  /** For messages and logs only. */
  readonly name: string;
  /** The n-th parameter (1-based). */
  placeholder(n: number): string;
  /** A boolean as a parameter (SQLite keeps 0/1). */
  flag(v: boolean): unknown;
  /** A boolean column as read. */
  readFlag(v: unknown): boolean;
  /** A JSON array column as read (SQLite keeps JSON text; PostgreSQL JSONB arrives parsed). */
  readJsonArray<T>(v: unknown): T;
  /** `expr` is one of `values`. */
  inList(expr: Sql, values: readonly string[]): Sql;
  /** `expr` is none of `values` (always true for an empty list). */
  notInList(expr: Sql, values: readonly string[]): Sql;
  /** The JSON array in `column` holds the string `value`. */
  jsonArrayHas(column: Sql, value: string): Sql;
  /** The JSON object text in `column` holds every one of these string entries. */
  jsonObjectHas(column: Sql, entries: Record<string, string>): Sql;
  /**
   * New message payloads are kept apart from their rows, in `message_payload` (PostgreSQL, one
   * partition per day); otherwise in `message.payload`. Read either through `message_with_payload`.
   */
  readonly payloadTable: boolean;
}

/** Runs statements on one database; see `tx` for the transaction rules. */
export interface Executor {
  readonly dialect: Dialect;
  all(q: Sql): Promise<Row[]>;
  one(q: Sql): Promise<Row | undefined>;
  /** Runs a write; returns how many rows it changed. */
  run(q: Sql): Promise<number>;
  /**
   * Runs `fn` in one transaction, with an executor bound to it: everything `fn` does through
   * that executor commits together or not at all. No other statement of this process runs
   * inside it (SQLite: the connection is held until it ends; PostgreSQL: its own connection).
   */
  tx<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
}
