import type { Command } from 'commander';
import { commandContext, type CommandContext } from '../context.js';
import { CliError, ExitCode } from '../errors.js';
import { collect, positiveSeconds } from '../options.js';
import { writeJson } from '../output.js';
import type { CliIO, CommandRegistrar } from '../program.js';
import { pickSignature, renderOutputs, requestFromOptions, type OipTensor } from './infer-request.js';
import { connectEngine, findRunning, releasedVersion, runnableImage } from './local-runtime.js';

/**
 * `mll predict <model> [version] --input x=1,2,3`: builds an Open Inference Protocol request from the
 * version's contract and sends it to the runtime `mll run` started for that version (found in the
 * Docker engine by its labels), or to --url. Prints each output; --json prints the runtime's answer.
 */

interface PredictOptions {
  input: string[];
  shape: string[];
  signature?: string;
  url?: string;
  timeout?: number;
}

async function runtimeUrl(ctx: CommandContext, model: string, version: number, opts: PredictOptions, check: () => void): Promise<string> {
  if (opts.url) return opts.url.replace(/\/+$/, '');
  const engine = await connectEngine(ctx.io.env);
  const running = await findRunning(engine, model, version);
  if (!running) {
    check();
    throw new CliError('NOT_RUNNING', `${model}:${version} is not running on the Docker engine at ${engine.where}; start it with mll run ${model} ${version} --detach (or give the runtime's address with --url)`);
  }
  if (!running.http) throw new CliError('NO_HTTP_FACE', `the runtime of ${model}:${version} publishes no HTTP port; call its gRPC face at ${running.grpc ?? '(unpublished)'}`);
  return running.http;
}

async function send(url: string, body: unknown, timeoutSeconds: number): Promise<{ status: number; body: { outputs?: OipTensor[]; error?: string } }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutSeconds * 1000);
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: abort.signal });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as { outputs?: OipTensor[]; error?: string } };
    } catch {
      throw new CliError('BAD_RESPONSE', `${url} answered ${res.status} with something that is not JSON: ${text.slice(0, 200)}`, { exitCode: ExitCode.UNAVAILABLE });
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (abort.signal.aborted) throw new CliError('TIMEOUT', `the runtime at ${url} did not answer within ${timeoutSeconds} s (--timeout)`, { exitCode: ExitCode.TIMEOUT });
    const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError('RUNTIME_UNREACHABLE', `cannot reach the runtime at ${url} (${code})`, { exitCode: ExitCode.UNAVAILABLE, cause: err });
  } finally {
    clearTimeout(timer);
  }
}

const failureCodes: Record<number, string> = { 400: 'INVALID_INPUT', 404: 'NOT_FOUND', 503: 'RUNTIME_NOT_READY' };

async function predict(ctx: CommandContext, model: string, rawVersion: string | undefined, opts: PredictOptions): Promise<void> {
  const v = await releasedVersion(ctx, model, rawVersion);
  if (!v.contract) throw new CliError('CONTRACT_NOT_READY', `version ${v.version} of ${model} has no contract`);
  const sig = pickSignature(v.contract.signatures, opts.signature);
  const body = requestFromOptions(sig, opts.input, opts.shape);
  const base = await runtimeUrl(ctx, model, v.version, opts, () => runnableImage(v));
  const url = `${base}/v2/models/${encodeURIComponent(sig.name)}/infer`;
  const answer = await send(url, body, opts.timeout ?? 60);
  if (answer.status !== 200) {
    throw new CliError(failureCodes[answer.status] ?? 'PREDICTION_FAILED', `the runtime answered ${answer.status}: ${answer.body.error ?? JSON.stringify(answer.body)}`, {
      status: answer.status, exitCode: answer.status === 503 ? ExitCode.UNAVAILABLE : ExitCode.FAILED,
    });
  }
  if (ctx.json) writeJson(ctx.io.stdout, answer.body);
  else ctx.io.stdout.write(renderOutputs(answer.body.outputs ?? []));
}

export const registerPredictCommand: CommandRegistrar = (program: Command, io: CliIO) => {
  program
    .command('predict')
    .description('send one prediction to a version started with mll run (its HTTP face) and print the outputs')
    .argument('<model>', 'model name')
    .argument('[version]', 'version number (default: the newest released one)')
    .option('-i, --input <name=values>', 'an input, values separated by commas (a scalar string is taken whole); repeat for each input', collect, [])
    .option('--shape <name=2x3>', "an input's shape when the contract leaves more than one size open (\"scalar\" for [])", collect, [])
    .option('-s, --signature <name>', 'the signature to call (needed when the model has several)')
    .option('--url <url>', 'the runtime\'s HTTP address (default: the container mll run started for this version)')
    .option('--timeout <seconds>', 'how long to wait for the answer (default 60)', positiveSeconds)
    .addHelpText('after', [
      '',
      'Examples:',
      '  $ mll predict linear --input x=1,2,3.5',
      '  $ mll predict tokenizer 3 --signature tokenize --input text="Hello, world"',
      '  $ mll predict iris --input x=5.1,3.5,1.4,0.2,6.2,2.9,4.3,1.3     two rows of a [-1,4] input',
      '  $ mll --json predict linear --input x=1,2 | jq .outputs',
    ].join('\n'))
    .action(async (model: string, version: string | undefined, opts: PredictOptions, cmd: Command) => {
      await predict(commandContext(cmd, io), model, version, opts);
    });
};
