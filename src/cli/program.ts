import { Command } from 'commander';

/**
 * The `mll` command line. Each command lives in its own module under ./commands and registers
 * itself on the program; `--json` and `--server` are shared by every command.
 */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

export type CommandRegistrar = (program: Command, io: CliIO) => void;

export function buildProgram(io: CliIO, registrars: CommandRegistrar[]): Command {
  const program = new Command('mll')
    .description('ML Lambda: upload models, follow their builds, read their contracts.')
    .option('--server <url>', 'API address (env MLL_SERVER)', io.env.MLL_SERVER ?? 'http://127.0.0.1:8080')
    .option('--token <token>', 'API token (env MLL_TOKEN)', io.env.MLL_TOKEN)
    .option('--json', 'print machine-readable JSON on stdout and nothing else', false)
    .showHelpAfterError()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  for (const register of registrars) register(program, io);
  return program;
}
