import type { Command } from 'commander';
import { commandContext, type CommandContext } from '../context.js';
import { followVersion, readEvents, renderEvent } from '../follow.js';
import { versionArgument } from '../options.js';
import type { CliIO, CommandRegistrar } from '../program.js';
import { failureOf } from './upload.js';

/**
 * `mll logs <name> <version> [--follow]`: a version's stage transitions and build log lines.
 * Without --follow, what happened so far (JSON events); with it, the live event stream until
 * the version is terminal (exit 1 if it failed). --json: one object, or with --follow one JSON
 * object per line (the last one has "type": "end").
 */

async function logs(ctx: CommandContext, name: string, rawVersion: string, opts: { follow?: boolean; after?: string }): Promise<void> {
  const version = versionArgument(rawVersion);
  const { stdout } = ctx.io;
  if (!opts.follow) {
    const page = await readEvents(ctx.client, name, version, opts.after);
    if (ctx.json) stdout.write(`${JSON.stringify(page, null, 2)}\n`);
    else for (const e of page.items) stdout.write(`${renderEvent(e, ctx.out)}\n`);
    if (!ctx.json && !page.terminal) ctx.note(`${name}:${version} is ${page.status}; add --follow to watch it to the end`);
    return;
  }
  const end = await followVersion(ctx.client, name, version, {
    after: opts.after,
    onEvent: (e) => stdout.write(ctx.json ? `${JSON.stringify(e)}\n` : `${renderEvent(e, ctx.out)}\n`),
  });
  if (ctx.json) stdout.write(`${JSON.stringify({ type: 'end', ...end })}\n`);
  if (end.status === 'failed') throw failureOf(name, version, end);
}

export const registerLogsCommand: CommandRegistrar = (program: Command, io: CliIO) => {
  program
    .command('logs')
    .description("show a version's stage transitions and build log lines")
    .argument('<name>', 'model name')
    .argument('<version>', 'version number')
    .option('-f, --follow', 'stream new events until the version is released or failed (exit 1 if it failed)', false)
    .option('--after <event-id>', 'only events after this id')
    .addHelpText('after', [
      '',
      'Examples:',
      '  $ mll logs my-model 3',
      '  $ mll logs my-model 3 --follow',
      '  $ mll --json logs my-model 3 --follow     one JSON event per line, then {"type":"end",...}',
    ].join('\n'))
    .action(async (name: string, version: string, opts: { follow?: boolean; after?: string }, cmd: Command) => {
      await logs(commandContext(cmd, io), name, version, opts);
    });
};
