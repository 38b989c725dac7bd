import { Command } from 'commander';
import { exitCodesHelp } from './errors.js';

/**
 * The `mll` command line. Each command lives in its own module under ./commands and registers
 * itself on the program; `--json`, `--server` and `--token` are shared by every command.
 * Commander never exits the process itself (exitOverride): main.ts turns every outcome into
 * one exit code (see errors.ts) and, with --json, errors into JSON on stderr.
 */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
}

export type CommandRegistrar = (program: Command, io: CliIO) => void;

export interface ProgramOptions {
  /** --json was given: commander's own messages stay off stderr (main prints them as JSON). */
  json?: boolean;
  version?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export function buildProgram(io: CliIO, registrars: CommandRegistrar[], options: ProgramOptions = {}): Command {
  const program = new Command('mll')
    .description('ML Lambda: upload models, follow their builds, read their contracts.')
    .option('--server <url>', 'API address (env MLL_SERVER)', io.env.MLL_SERVER || DEFAULT_SERVER)
    .option('--token <token>', 'API token, sent as Authorization: Bearer (env MLL_TOKEN)', io.env.MLL_TOKEN)
    .option('--json', 'print machine-readable JSON on stdout and nothing else (errors as JSON on stderr)', false)
    .option('--no-color', 'no colours (also NO_COLOR=1; colours are only used on a terminal)')
    .version(options.version ?? '0.0.0', '-V, --version', 'print the version of mll')
    .showHelpAfterError(options.json ? false : '(add --help for usage and examples)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      // With --json, stderr carries only the JSON error main.ts prints.
      writeErr: (s) => {
        if (!options.json) io.stderr.write(s);
      },
      outputError: (s, write) => write(s),
    })
    .addHelpText('after', [
      '',
      'Examples:',
      '  $ mll upload ./my-model --wait            upload a folder, follow the build',
      '  $ mll batch "models/*" --concurrency 8    upload many models, wait, print a table',
      '  $ mll status my-model                     the latest version of a model',
      '  $ mll --json versions my-model | jq .     JSON for scripts',
      '',
      'Environment: MLL_SERVER (default http://127.0.0.1:8080), MLL_TOKEN, NO_COLOR.',
      '',
      exitCodesHelp,
    ].join('\n'));
  for (const register of registrars) register(program, io);
  return program;
}
