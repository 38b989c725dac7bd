import type { Command } from 'commander';
import type { ContractField } from '../../contract/types.js';
import { versionPath, type Model, type Page, type Version, type VersionPage } from '../api-types.js';
import { commandContext, type CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { positiveInt, versionArgument } from '../options.js';
import { formatBytes, formatDuration, formatTime, keyValues, oneLine, paintStatus, shortDigest, table, writeJson, type Colors } from '../output.js';
import type { CliIO, CommandRegistrar } from '../program.js';

/**
 * Reading the registry: `mll status <name> [version]`, `mll list`, `mll versions <name>`.
 * With --json: the version record, or a JSON array of models / versions.
 */

function fieldText(f: ContractField): string {
  const shape = f.shape === null ? '?' : f.shape.length === 0 ? '' : `[${f.shape.join(',')}]`;
  return `${f.name}: ${f.dtype}${shape}`;
}

export function contractSummary(v: Version): string[] {
  if (!v.contract) return [];
  return v.contract.signatures.map((s) => `${s.name}(${s.inputs.map(fieldText).join(', ')}) -> (${s.outputs.map(fieldText).join(', ')})`);
}

function stageSummary(v: Version): string {
  const parts: string[] = [];
  for (const stage of ['extract', 'build', 'push'] as const) {
    const t = v.stages?.[stage];
    if (!t?.startedAt) continue;
    const ms = t.finishedAt ? Date.parse(t.finishedAt) - Date.parse(t.startedAt) : undefined;
    parts.push(`${stage} ${ms === undefined ? 'running' : formatDuration(ms)}${t.attempts > 1 ? ` (${t.attempts} attempts)` : ''}`);
  }
  return parts.join(', ') || '—';
}

export function renderVersion(v: Version, c: Colors, latest = false): string {
  const pairs: [string, string][] = [
    ['model', v.model],
    ['version', `${v.version}${latest ? ' (latest)' : ''}`],
    ['status', paintStatus(v.status, c)],
    ['model-type', v.modelType ?? '—'],
    ['created', formatTime(v.createdAt)],
    ['updated', formatTime(v.updatedAt)],
    ['stages', stageSummary(v)],
    ['payload', v.payload ? `${formatBytes(v.payload.size)} ${v.payload.format}${v.payload.files !== undefined ? `, ${v.payload.files} files` : ''}` : '—'],
  ];
  const signatures = contractSummary(v);
  signatures.forEach((s, i) => pairs.push([i === 0 ? 'contract' : '', s]));
  if (v.image) pairs.push(['image', `${v.image.reference}${v.image.digest ? `@${v.image.digest}` : ''}`]);
  if (v.description) pairs.push(['description', v.description]);
  const labels = Object.entries(v.labels ?? {});
  if (labels.length > 0) pairs.push(['labels', labels.map(([k, val]) => `${k}=${val}`).join(', ')]);
  if (v.batchId) pairs.push(['batch', v.batchId]);
  if (v.error) pairs.push(['error', c.red(`${v.error.code}: ${v.error.message}`)]);
  for (const [i, w] of (v.warnings ?? []).entries()) pairs.push([i === 0 ? 'warnings' : '', c.yellow(w.message)]);
  pairs.push(['url', v.url]);
  return keyValues(pairs, c);
}

/** The query of a `next` link, so pages are fetched from --server even behind a proxy. */
export function nextQuery(next: string | null): Record<string, string> | null {
  if (!next) return null;
  try {
    return Object.fromEntries(new URL(next).searchParams);
  } catch {
    return null;
  }
}

async function status(ctx: CommandContext, name: string, rawVersion: string | undefined): Promise<void> {
  let version: number;
  const latest = rawVersion === undefined;
  if (rawVersion === undefined) {
    const model = await ctx.client.get<Model>(`/api/v1/models/${encodeURIComponent(name)}`);
    if (!model.latest) throw new CliError('VERSION_NOT_FOUND', `model "${name}" has no versions yet`);
    version = model.latest.version;
  } else version = versionArgument(rawVersion);
  const v = await ctx.client.get<Version>(versionPath(name, version));
  if (ctx.json) writeJson(ctx.io.stdout, v);
  else ctx.io.stdout.write(renderVersion(v, ctx.out, latest));
}

async function list(ctx: CommandContext, opts: { query?: string; limit?: number }): Promise<void> {
  const items: Model[] = [];
  let query: Record<string, string> | null = { limit: String(Math.min(opts.limit ?? 1000, 1000)), ...(opts.query ? { q: opts.query } : {}) };
  while (query && (opts.limit === undefined || items.length < opts.limit)) {
    const page = await ctx.client.get<Page<Model>>('/api/v1/models', query);
    items.push(...page.items);
    query = nextQuery(page.next);
  }
  const shown = opts.limit === undefined ? items : items.slice(0, opts.limit);
  if (ctx.json) return writeJson(ctx.io.stdout, shown);
  if (shown.length === 0) {
    ctx.note(opts.query ? `no model name contains "${opts.query}"` : 'no models yet: upload one with mll upload <dir>');
    return;
  }
  const c = ctx.out;
  ctx.io.stdout.write(table(
    ['NAME', 'VERSIONS', 'LATEST', 'STATUS', 'UPDATED'],
    shown.map((m) => [m.name, String(m.versions), m.latest ? String(m.latest.version) : '—', m.latest ? paintStatus(m.latest.status, c) : '—', formatTime(m.latest?.updatedAt ?? m.updatedAt)]),
    c,
  ));
}

function outcome(v: Version): string {
  if (v.error) return `${v.error.code}: ${oneLine(v.error.message, 100)}`;
  if (v.image?.digest) return `${v.image.reference.split('/').pop()}@${shortDigest(v.image.digest)}`;
  return '';
}

async function versions(ctx: CommandContext, name: string, opts: { limit?: number; all?: boolean }): Promise<void> {
  const want = opts.all ? Infinity : opts.limit ?? 20;
  const items: Version[] = [];
  let query: Record<string, string> | null = { limit: String(Math.min(want, 500)) };
  while (query && items.length < want) {
    const page: VersionPage = await ctx.client.get<VersionPage>(`/api/v1/models/${encodeURIComponent(name)}/versions`, query);
    items.push(...page.items);
    query = nextQuery(page.next);
  }
  const shown = items.slice(0, want);
  if (ctx.json) return writeJson(ctx.io.stdout, shown);
  if (shown.length === 0) {
    ctx.note(`model "${name}" has no versions`);
    return;
  }
  const c = ctx.out;
  ctx.io.stdout.write(table(
    ['VERSION', 'STATUS', 'MODEL-TYPE', 'CREATED', 'TOOK', 'IMAGE / ERROR'],
    shown.map((v) => [
      String(v.version), paintStatus(v.status, c), v.modelType ?? '—', formatTime(v.createdAt),
      v.status === 'released' || v.status === 'failed' ? formatDuration(Date.parse(v.updatedAt) - Date.parse(v.createdAt)) : '…',
      v.error ? c.red(outcome(v)) : outcome(v),
    ]),
    c,
  ));
  if (query && !opts.all) ctx.note(`showing the newest ${shown.length}; --limit N or --all for more`);
}

export const registerModelCommands: CommandRegistrar = (program: Command, io: CliIO) => {
  program
    .command('status')
    .description('show one version: status, stage times, contract, image, error (the latest version when none is given)')
    .argument('<name>', 'model name')
    .argument('[version]', 'version number (default: the latest)')
    .addHelpText('after', ['', 'Examples:', '  $ mll status my-model', '  $ mll status my-model 3', '  $ mll --json status my-model | jq -r .status'].join('\n'))
    .action(async (name: string, version: string | undefined, _opts: unknown, cmd: Command) => {
      await status(commandContext(cmd, io), name, version);
    });

  program
    .command('list')
    .description('list models with their latest version')
    .option('-q, --query <text>', 'only models whose name contains this')
    .option('--limit <n>', 'at most this many models (default: all)', positiveInt)
    .addHelpText('after', ['', 'Examples:', '  $ mll list', '  $ mll list --query tokenizer', '  $ mll --json list | jq -r ".[].name"'].join('\n'))
    .action(async (opts: { query?: string; limit?: number }, cmd: Command) => {
      await list(commandContext(cmd, io), opts);
    });

  program
    .command('versions')
    .description("list a model's versions, newest first")
    .argument('<name>', 'model name')
    .option('--limit <n>', 'at most this many versions (default 20)', positiveInt)
    .option('--all', 'every version', false)
    .addHelpText('after', ['', 'Examples:', '  $ mll versions my-model', '  $ mll versions my-model --all', '  $ mll --json versions my-model --limit 5'].join('\n'))
    .action(async (name: string, opts: { limit?: number; all?: boolean }, cmd: Command) => {
      await versions(commandContext(cmd, io), name, opts);
    });
};
