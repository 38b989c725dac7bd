import { CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerAdminCommands } from './commands/admin.js';
import { registerBatchCommand } from './commands/batch.js';
import { registerContractCommand } from './commands/contract.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerModelCommands } from './commands/models.js';
import { registerPredictCommand } from './commands/predict.js';
import { registerRunCommand } from './commands/run.js';
import { registerUploadCommand } from './commands/upload.js';
import { registerWebhooksCommand } from './commands/webhooks.js';
import { ExitCode, renderError, toCliError } from './errors.js';
import { buildProgram, type CliIO, type CommandRegistrar } from './program.js';

/**
 * The `mll` command line as a function (main.ts is the process entry; tests call runCli in
 * process). A new command is one module under ./commands exporting a CommandRegistrar, added to
 * this list.
 */
const registrars: CommandRegistrar[] = [
  registerUploadCommand,
  registerBatchCommand,
  registerModelCommands,
  registerLogsCommand,
  registerWebhooksCommand,
  registerContractCommand,
  registerAdminCommands,
  registerRunCommand,
  registerPredictCommand,
];

/** The package version, from the package.json above this file (src/ under tsx, dist/src/ when built). */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ml-lambda' && pkg.version) return pkg.version;
    } catch {
      /* keep looking */
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

/** Runs one command line; returns the exit code (never calls process.exit, so output flushes). */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const args = argv.slice(2);
  const end = args.indexOf('--');
  const json = (end < 0 ? args : args.slice(0, end)).includes('--json');
  const program = buildProgram(io, registrars, { json, version: packageVersion() });
  try {
    await program.parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    const failure = toCliError(err);
    if (!failure) return ExitCode.OK;
    // Commander has printed its own messages already (unless --json silenced them).
    if (json || !(err instanceof CommanderError)) io.stderr.write(renderError(failure, json));
    return failure.exitCode;
  }
}
