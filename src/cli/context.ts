import type { Command } from 'commander';
import { ApiClient } from './client.js';
import { colorEnabled, colors, type Colors } from './output.js';
import { progressMode, type ProgressMode } from './progress.js';
import type { CliIO } from './program.js';

/**
 * What every command gets: the API client built from the global options, whether --json is on,
 * colours per stream, and how to show progress. New commands (mll reindex, mll tokens, …) take
 * one of these and need nothing else.
 */
export interface CommandContext {
  io: CliIO;
  json: boolean;
  client: ApiClient;
  /** Colours for stdout and stderr (off unless that stream is a terminal, NO_COLOR unset). */
  out: Colors;
  err: Colors;
  progress: ProgressMode;
  /** A line for people on stderr (nothing with --json). */
  note(line: string): void;
}

export interface GlobalOptions {
  server: string;
  token?: string;
  json?: boolean;
  color?: boolean;
}

export function commandContext(cmd: Command, io: CliIO): CommandContext {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const json = g.json === true;
  const allowColor = g.color !== false;
  return {
    io,
    json,
    client: new ApiClient({ server: g.server, token: g.token, userAgent: 'mll' }),
    out: colors(allowColor && !json && colorEnabled(io.stdout, io.env)),
    err: colors(allowColor && !json && colorEnabled(io.stderr, io.env)),
    progress: progressMode(io.stderr, json),
    note: (line) => {
      if (!json) io.stderr.write(`${line}\n`);
    },
  };
}
