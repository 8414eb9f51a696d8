#!/usr/bin/env node
/**
 * The `hookline` command: one file per command under `commands/`, options parsed with
 * `node:util` parseArgs. `hookline --help` lists them; `hookline <command> --help` explains one.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VERSION } from '../hookline.ts';
import { COMMON_OPTIONS, type Command, commandHelp, type OptionValues } from './command.ts';
import { listen } from './commands/listen.ts';
import { replay } from './commands/replay.ts';
import { send } from './commands/send.ts';
import { adminToken, migrate, rotateSecretKeyCommand, serve } from './commands/server.ts';
import { tail } from './commands/tail.ts';
import { trigger } from './commands/trigger.ts';
import { CliError, colorsFor, EXIT, EXIT_CODES_HELP, type Io, processIo } from './shared.ts';

export const COMMANDS: Command[] = [
  serve,
  migrate,
  adminToken,
  rotateSecretKeyCommand,
  send,
  trigger,
  listen,
  tail,
  replay,
];

function mainHelp(bold: (s: string) => string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `hookline ${VERSION} — send, receive and inspect webhooks

${bold('Usage:')} hookline <command> [options]      hookline <command> --help for its options

${bold('Commands:')}
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}
  ${'help'.padEnd(width)}Show this help (hookline help <command> for one command)

Commands that talk to a server take --server URL and --token TOKEN, or HOOKLINE_URL and
HOOKLINE_TOKEN. Every command takes --json for machine-readable output.

${bold('Examples:')}
${COMMANDS.map((c) => `  ${c.examples[0]}`).join('\n')}

${EXIT_CODES_HELP}
`;
}

/** Runs one command line; returns the exit code. Exported for tests. */
export async function run(argv: string[], io: Io): Promise<number> {
  const [name = 'help', ...rest] = argv;
  const bold = (s: string) => io.c.bold(s);
  if (name === 'help' || name === '--help' || name === '-h') {
    const cmd = COMMANDS.find((c) => c.name === rest[0]);
    io.out(cmd ? commandHelp(cmd, bold) : mainHelp(bold));
    return EXIT.ok;
  }
  if (name === '--version' || name === 'version') {
    io.out(VERSION);
    return EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(`hookline: unknown command "${name}"; run \`hookline --help\``);
    return EXIT.usage;
  }
  const specs = Object.fromEntries(
    Object.entries({ ...cmd.options, ...COMMON_OPTIONS }).map(([k, o]) => [
      k,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
    ]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: specs, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`hookline ${cmd.name}: ${(err as Error).message}; run \`hookline ${cmd.name} --help\``);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    io.out(commandHelp(cmd, bold));
    return EXIT.ok;
  }
  if (parsed.positionals.length > cmd.maxPositionals) {
    io.err(
      `hookline ${cmd.name}: unexpected argument "${parsed.positionals[cmd.maxPositionals]}"; run \`hookline ${cmd.name} --help\``,
    );
    return EXIT.usage;
  }
  try {
    return (
      (await cmd.run({ values: parsed.values as OptionValues, positionals: parsed.positionals, io })) ??
      EXIT.ok
    );
  } catch (err) {
    if (err instanceof CliError) {
      if (io.json) io.out(JSON.stringify({ error: err.message, exitCode: err.exitCode }));
      io.err(`hookline ${cmd.name}: ${err.message}`);
      return err.exitCode;
    }
    throw err;
  }
}

/**
 * True when this file is the program (`hookline ...`, `node main.ts`), not imported. Node < 24.2
 * has no `import.meta.main`; the npm bin link is a symlink, hence the realpath.
 */
function isProgram(): boolean {
  if (typeof import.meta.main === 'boolean') return import.meta.main;
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** Runs the command line of this process (`process.argv`) and exits with its code. */
export function runProgram(): void {
  const controller = new AbortController();
  let signals = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      // The first signal asks the command to stop cleanly; a second one does not wait.
      if (++signals > 1) process.exit(130);
      controller.abort(sig);
    });
  }
  const argv = process.argv.slice(2);
  const io = processIo(argv.includes('--json'), controller.signal);
  run(argv, io).then(
    (code) => {
      process.exitCode = code;
      // Commands close what they open; an idle keep-alive socket must not hold the process.
      setTimeout(() => process.exit(code), 100).unref();
    },
    (err: unknown) => {
      const c = colorsFor(process.stderr);
      process.stderr.write(
        `${c.red('hookline: unexpected error:')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(EXIT.failure);
    },
  );
}

if (isProgram()) runProgram();
