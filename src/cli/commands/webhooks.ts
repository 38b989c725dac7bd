import type { Command } from 'commander';
import type { Page, Webhook, WebhookDelivery } from '../api-types.js';
import { commandContext, type CommandContext } from '../context.js';
import { collect, positiveInt } from '../options.js';
import { formatTime, keyValues, oneLine, paintStatus, table, writeJson } from '../output.js';
import type { CliIO, CommandRegistrar } from '../program.js';
import { nextQuery } from './models.js';

/**
 * `mll webhooks add|list|show|rm|deliveries|redeliver`: webhook endpoints that are told when
 * versions are released or fail and when batches complete (Standard Webhooks signatures).
 */

const webhookEvents = ['version.released', 'version.failed', 'batch.completed'];
const base = '/api/v1/webhooks';
const idPath = (id: string) => `${base}/${encodeURIComponent(id)}`;

function renderWebhook(w: Webhook, ctx: CommandContext): string {
  const c = ctx.out;
  const pairs: [string, string][] = [
    ['id', w.id],
    ['url', w.url],
    ['events', w.events.join(', ')],
    ['models', w.models?.join(', ') ?? 'all'],
    ['enabled', w.enabled ? c.green('yes') : c.red(`no${w.disabledReason ? ` (${w.disabledReason})` : ''}`)],
  ];
  if (w.description) pairs.push(['description', w.description]);
  pairs.push(['created', formatTime(w.createdAt)]);
  if (w.secret) pairs.push(['secret', c.bold(w.secret)]);
  return keyValues(pairs, c);
}

interface AddOptions {
  event: string[];
  model: string[];
  secret?: string;
  description?: string;
}

async function add(ctx: CommandContext, url: string, opts: AddOptions): Promise<void> {
  const body: Record<string, unknown> = { url };
  if (opts.event.length > 0) body.events = opts.event;
  if (opts.model.length > 0) body.models = opts.model;
  if (opts.secret !== undefined) body.secret = opts.secret;
  if (opts.description !== undefined) body.description = opts.description;
  const created = (await ctx.client.request<Webhook>('POST', base, { json: body })).body;
  if (ctx.json) return writeJson(ctx.io.stdout, created);
  ctx.io.stdout.write(renderWebhook(created, ctx));
  if (created.secret && opts.secret === undefined) ctx.note('Keep the secret now: it is not shown again. Receivers verify webhook-signature with it.');
}

async function list(ctx: CommandContext): Promise<void> {
  const { items } = await ctx.client.get<{ items: Webhook[] }>(base);
  if (ctx.json) return writeJson(ctx.io.stdout, items);
  if (items.length === 0) return ctx.note('no webhooks: add one with mll webhooks add <url>');
  const c = ctx.out;
  ctx.io.stdout.write(table(
    ['ID', 'URL', 'EVENTS', 'MODELS', 'ENABLED'],
    items.map((w) => [w.id, w.url, w.events.join(','), w.models?.join(',') ?? 'all', w.enabled ? 'yes' : c.red('no')]),
    c,
  ));
}

async function show(ctx: CommandContext, id: string): Promise<void> {
  const w = await ctx.client.get<Webhook>(idPath(id));
  if (ctx.json) writeJson(ctx.io.stdout, w);
  else ctx.io.stdout.write(renderWebhook(w, ctx));
}

async function remove(ctx: CommandContext, id: string): Promise<void> {
  await ctx.client.request('DELETE', idPath(id));
  if (ctx.json) writeJson(ctx.io.stdout, { deleted: id });
  else ctx.note(`deleted webhook ${id} and its delivery history`);
}

function lastAttempt(d: WebhookDelivery) {
  return d.attempts.at(-1);
}

async function deliveries(ctx: CommandContext, id: string, opts: { limit: number }): Promise<void> {
  const items: WebhookDelivery[] = [];
  let query: Record<string, string> | null = { limit: String(Math.min(opts.limit, 500)) };
  while (query && items.length < opts.limit) {
    const page: Page<WebhookDelivery> = await ctx.client.get<Page<WebhookDelivery>>(`${idPath(id)}/deliveries`, query);
    items.push(...page.items);
    query = nextQuery(page.next);
  }
  const shown = items.slice(0, opts.limit);
  if (ctx.json) return writeJson(ctx.io.stdout, shown);
  if (shown.length === 0) return ctx.note(`webhook ${id} has no deliveries yet`);
  const c = ctx.out;
  ctx.io.stdout.write(table(
    ['DELIVERY', 'EVENT', 'STATUS', 'ATTEMPTS', 'LAST', 'UPDATED', 'ERROR'],
    shown.map((d) => {
      const a = lastAttempt(d);
      const last = a ? `${a.statusCode ?? '—'} ${a.durationMs} ms` : '—';
      return [d.id, d.eventType, paintStatus(d.status, c), String(d.attempts.length), last, formatTime(d.updatedAt), d.error ? c.red(oneLine(d.error, 100)) : ''];
    }),
    c,
  ));
}

async function redeliver(ctx: CommandContext, id: string, deliveryId: string): Promise<void> {
  const d = (await ctx.client.request<WebhookDelivery>('POST', `${idPath(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`)).body;
  if (ctx.json) return writeJson(ctx.io.stdout, d);
  ctx.note(`delivery ${d.id} (${d.eventType}) queued again; see it with: mll webhooks deliveries ${id}`);
}

export const registerWebhooksCommand: CommandRegistrar = (program: Command, io: CliIO) => {
  const webhooks = program
    .command('webhooks')
    .description('manage webhook endpoints told about released and failed versions and completed batches')
    .addHelpText('after', [
      '',
      'Examples:',
      '  $ mll webhooks add https://ci.example.com/hooks/mll --event version.released --model "search-*"',
      '  $ mll webhooks list',
      '  $ mll webhooks deliveries wh_0123456789abcdef0123',
      '  $ mll webhooks redeliver wh_0123456789abcdef0123 dlv_0123456789abcdef01234567',
      '  $ mll webhooks rm wh_0123456789abcdef0123',
    ].join('\n'));

  webhooks
    .command('add')
    .description('register an endpoint; prints its signing secret once')
    .argument('<url>', 'http(s) URL that receives the events')
    .option('--event <type>', `an event type to send (${webhookEvents.join(', ')}); repeat for more (default: all)`, collect, [])
    .option('--model <name>', 'only events of this model (or "prefix*"); repeat for more (default: all models)', collect, [])
    .option('--secret <whsec_…>', 'use this signing secret instead of a generated one')
    .option('--description <text>', 'what the endpoint is for')
    .addHelpText('after', ['', 'Example:', '  $ mll webhooks add https://ci.example.com/hooks/mll --event version.released --event version.failed'].join('\n'))
    .action(async (url: string, opts: AddOptions, cmd: Command) => add(commandContext(cmd, io), url, opts));

  webhooks
    .command('list')
    .description('list the endpoints (without secrets)')
    .action(async (_opts: unknown, cmd: Command) => list(commandContext(cmd, io)));

  webhooks
    .command('show')
    .description('show one endpoint (without its secret)')
    .argument('<id>', 'endpoint id (wh_…)')
    .action(async (id: string, _opts: unknown, cmd: Command) => show(commandContext(cmd, io), id));

  webhooks
    .command('rm')
    .alias('delete')
    .description('delete an endpoint and its delivery history')
    .argument('<id>', 'endpoint id (wh_…)')
    .action(async (id: string, _opts: unknown, cmd: Command) => remove(commandContext(cmd, io), id));

  webhooks
    .command('deliveries')
    .description("an endpoint's deliveries, newest first, with their attempts")
    .argument('<id>', 'endpoint id (wh_…)')
    .option('--limit <n>', 'at most this many deliveries', positiveInt, 20)
    .addHelpText('after', ['', 'Example:', '  $ mll --json webhooks deliveries wh_0123456789abcdef0123 | jq ".[0].attempts"'].join('\n'))
    .action(async (id: string, opts: { limit: number }, cmd: Command) => deliveries(commandContext(cmd, io), id, opts));

  webhooks
    .command('redeliver')
    .description('send a delivery again (same event id and body, new signature)')
    .argument('<id>', 'endpoint id (wh_…)')
    .argument('<delivery-id>', 'delivery id (dlv_…)')
    .action(async (id: string, deliveryId: string, _opts: unknown, cmd: Command) => redeliver(commandContext(cmd, io), id, deliveryId));
};
