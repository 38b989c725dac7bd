import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { packDirectory } from '../../archive/pack-dir.js';
import { dialectDescriptions } from '../../contract/serving-yaml.js';
import { versionPath, type Version, type VersionEnd, type VersionStatus } from '../api-types.js';
import { isAbort } from '../client.js';
import { commandContext, type CommandContext } from '../context.js';
import { CliError, ExitCode } from '../errors.js';
import { followVersion, renderEvent } from '../follow.js';
import { outcomeOf, reachedApi, sendRetry } from '../retry.js';
import { metadataQuery, payloadBytes, resolveModel, uploadMetadata, type ModelSource, type UploadMetadata } from '../model-dir.js';
import { collect, positiveSeconds } from '../options.js';
import { formatBytes, writeJson } from '../output.js';
import { byteProgress } from '../progress.js';
import type { CliIO, CommandRegistrar } from '../program.js';

/**
 * `mll upload <dir>`: packs the folder as a tar stream (never whole in memory) straight into
 * POST /api/v1/models/{name}/versions, prints the version URL, and with --wait follows the
 * build to its end. Retries a dropped or refused-for-now upload with the same Idempotency-Key,
 * so a retry never makes a second version.
 */

export interface UploadOptions {
  name?: string;
  modelType?: string;
  label: string[];
  description?: string;
  gzip: boolean;
  wait: boolean;
  timeout?: number;
}


/** Sends one model folder; returns the new version (status queued). */
async function sendModel(
  ctx: CommandContext,
  source: ModelSource,
  metadata: UploadMetadata,
  options: { gzip: boolean; onBytes?: (n: number) => void; onRetry?: (err: CliError, attempt: number) => void },
): Promise<Version> {
  const key = randomUUID();
  let reached = false;
  for (let attempt = 1; ; attempt++) {
    try {
      const body = packDirectory(source.path, { gzip: options.gzip, onBytes: options.onBytes, include: source.include });
      const res = await ctx.client.send<Version>('POST', `/api/v1/models/${source.name}/versions`, {
        query: metadataQuery(metadata),
        headers: { 'content-type': options.gzip ? 'application/gzip' : 'application/x-tar', 'idempotency-key': key },
        body,
      });
      return res.body;
    } catch (err) {
      if (!(err instanceof CliError)) {
        const reason = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message;
        throw new CliError('READ_FAILED', `cannot read ${source.path} while packing it (${reason})`, { cause: err });
      }
      reached ||= reachedApi(err);
      const decision = sendRetry(reached).decide(attempt, outcomeOf(err));
      if (!decision.retry) throw err;
      options.onRetry?.(err, attempt);
      await sleep(decision.delayMs);
    }
  }
}

export function failureOf(model: string, version: number, end: { error: { code: string; message: string; details?: unknown } | null }): CliError {
  const code = end.error?.code ?? 'VERSION_FAILED';
  return new CliError(code, `${model}:${version} failed: ${end.error?.message ?? 'no reason recorded'}`, { details: end.error?.details });
}

async function upload(ctx: CommandContext, dir: string, opts: UploadOptions): Promise<void> {
  const source = await resolveModel(dir, opts.name);
  const metadata = uploadMetadata(opts);
  const { bytes, files } = await payloadBytes(source.path, source.include);
  const from = source.displayName ? `${source.nameFrom}'s "${source.displayName}"` : source.nameFrom;
  ctx.note(`uploading ${dir} as ${ctx.err.bold(source.name)} (${files} files, ${formatBytes(bytes)}; name from ${from})`);
  if (source.dialect) ctx.note(`serving.yaml is written in ${dialectDescriptions[source.dialect]}${source.include ? '; sending it with what its payload lists' : ''}`);
  let sent = 0;
  let progress = byteProgress(ctx.io.stderr, ctx.progress, `upload ${source.name}`, bytes);
  const version = await sendModel(ctx, source, metadata, {
    gzip: opts.gzip,
    onBytes: (n) => progress.update((sent += n)),
    onRetry: (err, attempt) => {
      progress.abort();
      ctx.note(`upload attempt ${attempt} failed (${err.code}: ${err.message}); retrying`);
      sent = 0;
      progress = byteProgress(ctx.io.stderr, ctx.progress, `upload ${source.name}`, bytes);
    },
  }).catch((err: unknown) => {
    progress.abort();
    throw err;
  });
  progress.finish();
  const ref = `${version.model}:${version.version}`;
  if (!opts.wait) {
    if (ctx.json) writeJson(ctx.io.stdout, version);
    else {
      ctx.io.stdout.write(`${version.url}\n`);
      ctx.note(`${ref} is ${version.status}; follow it with: mll logs ${version.model} ${version.version} --follow`);
    }
    return;
  }
  if (!ctx.json) ctx.io.stdout.write(`${version.url}\n`);
  ctx.note(`${ref} accepted; following its build`);
  const end = await waitForVersion(ctx, version.model, version.version, opts.timeout);
  const final = ctx.json ? await ctx.client.get<Version>(versionPath(version.model, version.version)) : undefined;
  if (final) writeJson(ctx.io.stdout, final);
  if (end.status === 'failed') throw failureOf(version.model, version.version, end);
  const image = end.image ? `${end.image.reference}${end.image.digest ? `@${end.image.digest}` : ''}` : '';
  ctx.note(`${ctx.err.green('released')} ${ref}${image ? `  ${image}` : ''}`);
}

/** Follows the events to the end, printing them on stderr; --timeout gives exit 4. */
export async function waitForVersion(ctx: CommandContext, model: string, version: number, timeoutSeconds?: number): Promise<VersionEnd> {
  let status: VersionStatus = 'queued';
  const signal = timeoutSeconds ? AbortSignal.timeout(timeoutSeconds * 1000) : undefined;
  try {
    return await followVersion(ctx.client, model, version, {
      signal,
      onEvent: (e) => {
        if (e.status) status = e.status;
        if (!ctx.json) ctx.io.stderr.write(`${renderEvent(e, ctx.err)}\n`);
      },
    });
  } catch (err) {
    if (isAbort(err) && signal?.aborted) {
      throw new CliError('TIMEOUT', `gave up waiting after ${timeoutSeconds} s: ${model}:${version} is still ${status}; the build goes on (mll logs ${model} ${version} --follow)`, {
        exitCode: ExitCode.TIMEOUT, details: { model, version, status },
      });
    }
    throw err;
  }
}

export const registerUploadCommand: CommandRegistrar = (program: Command, io: CliIO) => {
  program
    .command('upload')
    .description('upload a model folder as the next version of its model')
    .argument('<dir>', 'the model folder as it should be packed (or a single model file)')
    .option('--name <name>', "the model's name when the folder has no serving.yaml naming it (default: the folder name)")
    .option('--model-type <type>', 'framework:version, e.g. tensorflow:2.15 or python:3.11 (serving.yaml wins)')
    .option('--label <key=value>', 'a label on the version; repeat for more', collect, [])
    .option('--description <text>', 'a description of the version')
    .option('--gzip', 'compress the payload on the way (tar.gz)', false)
    .option('--wait', 'follow the build until the version is released or failed; exit 1 if it failed', false)
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long (exit 4; the build goes on)', positiveSeconds)
    .addHelpText('after', [
      '',
      'The model name comes from serving.yaml\'s "name", else --name, else the folder name.',
      'Prints the version URL on stdout; progress and build events go to stderr.',
      '',
      'Examples:',
      '  $ mll upload ./half_plus_two --name half-plus-two --model-type tensorflow:2.15',
      '  $ mll upload ./tokenizer --label team=search --label stage=canary --wait',
      '  $ mll upload ./big-model --gzip --wait --timeout 600',
      '  $ mll --json upload ./tokenizer --wait | jq -r .image.reference',
    ].join('\n'))
    .action(async (dir: string, opts: UploadOptions, cmd: Command) => {
      await upload(commandContext(cmd, io), dir, opts);
    });
};
