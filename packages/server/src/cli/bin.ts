#!/usr/bin/env node
/**
 * The `hookline` program. It checks the Node.js version before loading anything else (it imports
 * only `node-version.ts` statically): on an older Node the server's modules would fail with a bare
 * "No such built-in module: node:sqlite". Then it runs the command line (`main.ts`) without the
 * "SQLite is an experimental feature" warning Node 22 prints for every command; other warnings
 * are printed as usual.
 */

import { MIN_NODE, supportedNode } from './node-version.ts';

if (!supportedNode(process.versions.node)) {
  process.stderr.write(
    `hookline needs Node.js ${MIN_NODE} or newer (24 LTS recommended); this is Node.js ${process.version}.\n`,
  );
  process.exit(1);
}

// Node's default handler prints every warning; this one prints all but the SQLite notice.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning' && /SQLite/i.test(warning.message)) return;
  process.stderr.write(`(node:${process.pid}) ${warning.name}: ${warning.message}\n`);
});

const { runProgram } = await import('./main.ts');
runProgram();
