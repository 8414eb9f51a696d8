/** The shape of one `hookline` command: its options (for the parser and for `--help`) and its code. */
import type { Io } from './shared.ts';

export interface OptionDoc {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown in help after the option name: `--app ID`. */
  valueName?: string;
  description: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  /** One line, for `hookline --help`. */
  summary: string;
  /** `hookline send [PAYLOAD] --app ID ...` */
  usage: string;
  /** More explanation for `hookline <cmd> --help`. */
  details?: string;
  options: Record<string, OptionDoc>;
  /** Most positional arguments accepted. */
  maxPositionals: number;
  examples: string[];
  /** Returns the exit code (0 when nothing is returned). */
  run(ctx: { values: OptionValues; positionals: string[]; io: Io }): Promise<number | undefined>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: Record<string, OptionDoc> = {
  json: { type: 'boolean', description: 'Machine-readable output: JSON (one object per line for streams)' },
  help: { type: 'boolean', short: 'h', description: 'Show help for this command' },
};

export function commandHelp(cmd: Command, colorize: (s: string) => string = (s) => s): string {
  const all = { ...cmd.options, ...COMMON_OPTIONS };
  const rows = Object.entries(all).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return [flag, o.description + (o.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `${colorize('Usage:')} ${cmd.usage}`,
    '',
    cmd.summary,
    ...(cmd.details ? ['', cmd.details] : []),
    '',
    colorize('Options:'),
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
    '',
    colorize('Examples:'),
    ...cmd.examples.map((e) => `  ${e}`),
    '',
  ].join('\n');
}
