import type { Command } from 'commander';
import { commandContext, type CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { collect, positiveInt } from '../options.js';
import { formatTime, keyValues, table, writeJson } from '../output.js';
import type { CliIO, CommandRegistrar } from '../program.js';

/**
 * Administration (admin-scope token): `mll tokens create|list|revoke` and `mll reindex`.
 */

interface Token {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  token?: string;
}

const scopes = ['read', 'write', 'admin'];

async function createToken(ctx: CommandContext, opts: { name: string; scope: string[]; expiresInDays?: number }): Promise<void> {
  const wanted = opts.scope.length > 0 ? opts.scope : ['read'];
  const unknown = wanted.filter((s) => !scopes.includes(s));
  if (unknown.length > 0) throw new CliError('USAGE', `unknown scope ${unknown.join(', ')}: use read, write or admin`, { exitCode: 2 });
  const created = (await ctx.client.request<Token>('POST', '/api/v1/tokens', {
    json: { name: opts.name, scopes: wanted, ...(opts.expiresInDays ? { expiresInDays: opts.expiresInDays } : {}) },
  })).body;
  if (ctx.json) return writeJson(ctx.io.stdout, created);
  ctx.note(`created token ${created.id} (${created.scopes.join(', ')}); it is shown only now:`);
  ctx.io.stdout.write(`${created.token}\n`);
}

async function listTokens(ctx: CommandContext): Promise<void> {
  const { items } = await ctx.client.get<{ items: Token[] }>('/api/v1/tokens');
  if (ctx.json) return writeJson(ctx.io.stdout, items);
  const c = ctx.out;
  ctx.io.stdout.write(table(
    ['ID', 'NAME', 'SCOPES', 'CREATED', 'EXPIRES', 'STATE'],
    items.map((t) => [
      t.id, t.name, t.scopes.join(','), formatTime(t.createdAt), t.expiresAt ? formatTime(t.expiresAt) : 'never',
      t.revokedAt ? c.red(`revoked ${formatTime(t.revokedAt)}`) : t.expiresAt && Date.parse(t.expiresAt) < Date.now() ? c.yellow('expired') : c.green('active'),
    ]),
    c,
  ));
}

async function revokeToken(ctx: CommandContext, id: string): Promise<void> {
  const revoked = (await ctx.client.request<Token>('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`)).body;
  if (ctx.json) return writeJson(ctx.io.stdout, revoked);
  ctx.io.stdout.write(keyValues([['id', revoked.id], ['name', revoked.name], ['revoked', formatTime(revoked.revokedAt ?? '')]], ctx.out));
}

async function reindex(ctx: CommandContext): Promise<void> {
  const result = (await ctx.client.request<{ models: number; versions: number; requeued: number; ms: number }>('POST', '/api/v1/admin/reindex')).body;
  if (ctx.json) return writeJson(ctx.io.stdout, result);
  ctx.io.stdout.write(`rebuilt the index from the object store: ${result.models} model(s), ${result.versions} version(s), ${result.requeued} unfinished version(s) re-enqueued, in ${result.ms} ms\n`);
}

export const registerAdminCommands: CommandRegistrar = (program: Command, io: CliIO) => {
  const tokens = program
    .command('tokens')
    .description('API tokens (needs an admin token): create, list, revoke')
    .addHelpText('after', [
      '', 'Scopes: read (GETs), write (uploads, batches, webhooks; includes read), admin (tokens, reindex; includes write).',
      '', 'Examples:', '  $ mll tokens create --name ci --scope write', '  $ mll tokens list', '  $ mll tokens revoke AbCdEfGhJkMn',
    ].join('\n'));
  tokens
    .command('create')
    .description('create a token; it is printed once, on stdout')
    .requiredOption('--name <name>', 'what the token is for')
    .option('--scope <scope>', 'read, write or admin (repeatable; default read)', collect, [] as string[])
    .option('--expires-in-days <n>', 'make it expire', positiveInt)
    .action(async (opts: { name: string; scope: string[]; expiresInDays?: number }, cmd: Command) => {
      await createToken(commandContext(cmd, io), opts);
    });
  tokens
    .command('list')
    .description('list tokens (never the tokens themselves)')
    .action(async (_opts: unknown, cmd: Command) => {
      await listTokens(commandContext(cmd, io));
    });
  tokens
    .command('revoke')
    .description('revoke a token by id; it stops working at once')
    .argument('<id>', 'token id (the part after mll_)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await revokeToken(commandContext(cmd, io), id);
    });

  program
    .command('reindex')
    .description('rebuild Redis (counters, indexes) from the object store and re-enqueue unfinished versions (admin)')
    .addHelpText('after', ['', 'The service also does this by itself at start-up and when it finds Redis restarted empty.', '', 'Example:', '  $ mll reindex'].join('\n'))
    .action(async (_opts: unknown, cmd: Command) => {
      await reindex(commandContext(cmd, io));
    });
};
