/**
 * The figures one bench run produces: each with a stable key (so two runs can be compared), its
 * value, its ratio to the raw loopback ceiling measured in the same run (rates), and the target
 * it is held to (the performance goals set for the delivery engine), met or not. Printed at the end
 * as a Markdown table that can be pasted into the README, and written as JSON with `--json FILE`
 * for `bench/compare.ts` and `bench/ab.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export type Unit = '/s' | 'ms' | 'µs' | 'KB' | 'MB' | '×' | '/CPU-s' | 'per 1,000' | 'per commit';

export interface Target {
  /** As printed: `≥ 0.30 of ceiling`, `≤ 10 ms`, ... */
  text: string;
  met: boolean;
}

export interface Figure {
  /** Stable across runs, e.g. `sqlite.e2e`, `postgres.w2.cpu_postgres`. */
  key: string;
  label: string;
  /** NaN when it could not be measured. */
  value: number;
  unit: Unit;
  /** Which way is an improvement. */
  better: 'higher' | 'lower';
  /** Rates only: value ÷ the raw loopback ceiling of the same run. */
  ofCeiling?: number;
  target?: Target;
}

export interface RunFile {
  bench: 'hookline';
  version: 1;
  startedAt: string;
  node: string;
  cpus: number;
  command: string;
  seconds: number;
  ceiling: number;
  figures: Figure[];
}

export function fmtValue(value: number, unit: Unit): string {
  if (value === Number.POSITIVE_INFINITY) return '∞';
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case '/s':
    case '/CPU-s':
      return `${Math.round(value).toLocaleString('en-US')}${unit}`;
    case 'ms':
      return `${value.toFixed(1)} ms`;
    case 'µs':
      return `${Math.round(value).toLocaleString('en-US')} µs`;
    case 'KB':
      return `${value.toFixed(2)} KB`;
    case 'MB':
      return `${Math.round(value)} MB`;
    case '×':
      return `${value.toFixed(2)}×`;
    case 'per 1,000':
      return `${value.toFixed(0)} per 1,000`;
    case 'per commit':
      return `${value.toFixed(1)} per commit`;
  }
}

/** Reads a file written by `npm run bench -- --json FILE` (null back to NaN, "Infinity" to ∞). */
export function readRun(file: string): RunFile {
  const run = JSON.parse(readFileSync(file, 'utf8')) as RunFile;
  if (run.bench !== 'hookline' || !Array.isArray(run.figures))
    throw new Error(`${file} is not a file written by npm run bench -- --json`);
  // JSON has neither NaN nor Infinity: the bench wrote them as null and "Infinity".
  for (const f of run.figures)
    f.value =
      f.value === null
        ? Number.NaN
        : (f.value as unknown) === 'Infinity'
          ? Number.POSITIVE_INFINITY
          : f.value;
  return run;
}

/**
 * What two runs compare of a figure: a rate's ratio of its own run's ceiling (the ceiling moves
 * between runs on a shared machine), anything else its value. NaN when absent.
 */
export const comparable = (f: Figure | undefined): number =>
  f === undefined ? Number.NaN : f.ofCeiling !== undefined && f.key !== 'ceiling' ? f.ofCeiling : f.value;

/** A ratio of the ceiling, written as the goals write them (0.15). */
export const fmtRatio = (r: number | undefined) =>
  r === undefined ? '' : Number.isFinite(r) ? r.toFixed(r < 0.1 ? 3 : 2) : 'n/a';

export class Results {
  readonly figures: Figure[] = [];
  ceiling = Number.NaN;
  readonly #startedAt = new Date();

  #push(f: Figure): Figure {
    const i = this.figures.findIndex((x) => x.key === f.key);
    if (i === -1) this.figures.push(f);
    else this.figures[i] = f;
    return f;
  }

  get(key: string): Figure | undefined {
    return this.figures.find((f) => f.key === key);
  }

  /** A rate (per second), with its share of the ceiling; `min`: the target as a ratio of the ceiling. */
  rate(key: string, label: string, perSec: number, min?: number): Figure {
    const ofCeiling = perSec / this.ceiling;
    return this.#push({
      key,
      label,
      value: perSec,
      unit: '/s',
      better: 'higher',
      ofCeiling,
      ...(min !== undefined
        ? { target: { text: `≥ ${min.toFixed(2)} of ceiling`, met: ofCeiling >= min } }
        : {}),
    });
  }

  /** A time in milliseconds (lower is better); `max`: the target. */
  ms(key: string, label: string, ms: number, max?: number): Figure {
    return this.#push({
      key,
      label,
      value: ms,
      unit: 'ms',
      better: 'lower',
      ...(max !== undefined ? { target: { text: `≤ ${+max.toFixed(1)} ms`, met: ms <= max } } : {}),
    });
  }

  /** Anything else; `target` as given. */
  other(
    key: string,
    label: string,
    value: number,
    unit: Unit,
    better: 'higher' | 'lower',
    target?: Target,
  ): Figure {
    return this.#push({ key, label, value, unit, better, ...(target ? { target } : {}) });
  }

  /** `a ÷ b` as a multiple, with an optional lower bound as its target. */
  multiple(key: string, label: string, a: number, b: number, min?: number, minText?: string): Figure {
    const x = a / b;
    return this.other(
      key,
      label,
      x,
      '×',
      'higher',
      min !== undefined ? { text: minText ?? `≥ ${min.toFixed(2)}×`, met: x >= min } : undefined,
    );
  }

  /** The Markdown table of every figure, with the command that produced it. */
  markdown(command: string, seconds: number): string {
    const lines = [
      `\`${command}\` — ${this.#startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${availableParallelism()} CPUs, ${seconds.toFixed(0)} s`,
      '',
      '| figure | value | ÷ ceiling | target | met |',
      '|---|--:|--:|---|---|',
    ];
    for (const f of this.figures) {
      const met = f.target ? (Number.isFinite(f.value) && f.target.met ? 'yes' : '**no**') : '';
      lines.push(
        `| ${f.label} | ${fmtValue(f.value, f.unit)} | ${fmtRatio(f.ofCeiling)} | ${f.target?.text ?? ''} | ${met} |`,
      );
    }
    const withTarget = this.figures.filter((f) => f.target);
    const met = withTarget.filter((f) => Number.isFinite(f.value) && f.target!.met).length;
    lines.push('', `Targets met: ${met} of ${withTarget.length}.`);
    return lines.join('\n');
  }

  write(file: string, command: string, seconds: number): void {
    const run: RunFile = {
      bench: 'hookline',
      version: 1,
      startedAt: this.#startedAt.toISOString(),
      node: process.version,
      cpus: availableParallelism(),
      command,
      seconds: Math.round(seconds),
      ceiling: this.ceiling,
      figures: this.figures,
    };
    // JSON has neither NaN nor Infinity: unmeasured values become null, infinite ones a string.
    const replacer = (_k: string, v: unknown) =>
      v === Number.POSITIVE_INFINITY ? 'Infinity' : Number.isNaN(v) ? null : v;
    writeFileSync(file, `${JSON.stringify(run, replacer, 2)}\n`);
  }
}
