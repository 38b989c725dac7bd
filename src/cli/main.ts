#!/usr/bin/env node
import { runCli } from './cli.js';
import type { CliIO } from './program.js';

/** Entry of the `mll` command: the process's streams and environment, its exit code. */
const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };
// A closed stdout (`mll list | head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});
process.exitCode = await runCli(process.argv, io);
