import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { sha256Digest } from '../../shared/digest.js';
import { secretRedactor } from '../../shared/redact.js';
import type { TarEntry } from '../oci/tar.js';
import { putIfAbsent } from '../runtime.js';
import type { BuildRequest, DependencySummary, InstalledPackage } from '../types.js';
import { describeTarget, pipFailure, tooLarge } from './failure.js';
import { payloadView, type DependencySettings } from './layer.js';
import { NORMALISE_PY } from './normalise.js';
import { indexUrls, pipInstallArgs, publicIndexConfig } from './pip.js';
import type { PythonTarget } from './python-target.js';
import { vetRequirements } from './requirements.js';

/** The build stage that installs the requirements; only its /model/lib reaches the image. */
export const DEPS_STAGE = 'mll-deps';
const TIMEOUT_EXIT = 124;
const TOO_LARGE_EXIT = 97;

/**
 * The docker builder's dependency step, equivalent to the oci builder's layer: the same refusals
 * first, then a build stage FROM the runtime that runs the same pip command (`--target /model/lib`)
 * and the same normalisation, and a `COPY --from` of /model/lib into the image, so the image gets
 * one layer with the same file tree and nothing else of that stage. The index reaches pip as build
 * arguments of that stage only (they appear in neither the image's layers nor its history); the
 * build needs the host's network for a loopback index.
 */
export interface DockerDependencyStep {
  /** Build-context entries, under deps/. */
  entries: TarEntry[];
  /** Dockerfile text of the install stage (goes before the image's own FROM). */
  stage: string;
  /** The image's line that takes the installed tree. */
  copy: string;
  buildargs: Record<string, string>;
  summary: DependencySummary;
  redact(text: string): string;
  /** Maps a failed build of the install stage to the version's error. */
  failure(exitCode: number, output: string[], signal: AbortSignal): Promise<MllError>;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export async function dockerDependencyStep(
  store: ObjectStore, settings: DependencySettings, req: BuildRequest, python: PythonTarget, from: string,
): Promise<DockerDependencyStep | undefined> {
  const spec = req.dependencies!;
  const payload = payloadView(store, req.tree);
  const vetted = await vetRequirements(spec, payload, { allowSdist: settings.allowSdist });
  if (vetted.requirements === 0) return undefined;

  const entries: TarEntry[] = [];
  const addBytes = async (p: string, bytes: Buffer) => {
    const digest = sha256Digest(bytes);
    await putIfAbsent(store, keys.blob(digest), bytes);
    entries.push({ type: 'file', path: p, mode: 0o644, size: bytes.length, digest });
  };
  await addBytes('deps/normalise.py', Buffer.from(NORMALISE_PY));
  for (const f of vetted.files) await addBytes(`deps/payload/${f.path}`, Buffer.from(f.text));
  const files = new Map(req.tree.entries.flatMap((e) => (e.type === 'file' ? [[e.path, e] as const] : [])));
  for (const p of vetted.localFiles) {
    const e = files.get(p)!;
    entries.push({ type: 'file', path: `deps/payload/${p}`, mode: 0o644, size: e.size, digest: e.digest });
  }

  const { index } = settings;
  const buildargs: Record<string, string> = {};
  const envPairs = ['HOME=/tmp/mll-home', 'TMPDIR=/tmp', 'LANG=C.UTF-8', 'PIP_CONFIG_FILE=/dev/null', 'PYTHONDONTWRITEBYTECODE=1', 'SOURCE_DATE_EPOCH=315532800'];
  const args: string[] = [];
  const indexArg = (name: string, value: string) => {
    buildargs[name] = value;
    args.push(`ARG ${name}`);
    envPairs.push(`${name}="$${name}"`);
  };
  if (index.indexUrl) indexArg('PIP_INDEX_URL', index.indexUrl);
  if (index.extraIndexUrls.length > 0) indexArg('PIP_EXTRA_INDEX_URL', index.extraIndexUrls.join(' '));
  if (index.trustedHosts.length > 0) indexArg('PIP_TRUSTED_HOST', index.trustedHosts.join(' '));
  const pip = ['python3', '-I', '-m', 'pip', ...pipInstallArgs({ target: '/model/lib', requirementFile: vetted.entry, python, allowSdist: settings.allowSdist })]
    .map(shellQuote).join(' ');
  const seconds = Math.max(1, Math.ceil(settings.timeoutMs / 1000));
  const run = [
    `mkdir -p /tmp/mll-home`,
    `env -i PATH="$PATH" ${envPairs.join(' ')} timeout -k 5 ${seconds} ${pip}`,
    `python3 -I /mll-deps/normalise.py /model/lib`,
    `size=$(find /model/lib -type f -printf '%s\\n' | awk '{s+=$1} END {print s+0}')`,
    `if [ "$size" -gt ${settings.maxBytes} ]; then echo "mll: installed $size bytes" >&2; exit ${TOO_LARGE_EXIT}; fi`,
  ].join(' && \\\n    ');
  const stage = [
    `FROM ${from} AS ${DEPS_STAGE}`,
    'USER 0',
    ...args,
    `COPY deps/ /mll-deps/`,
    'WORKDIR /mll-deps/payload',
    `RUN ${run}`,
    '',
  ].join('\n');
  const redact = secretRedactor(indexUrls(index));
  const target = describeTarget(python);
  return {
    entries,
    stage,
    copy: `COPY --from=${DEPS_STAGE} /model/lib /model/lib\n`,
    buildargs,
    summary: { source: spec.source, packages: [], python: { version: python.version, platform: python.platform, from: python.from } },
    redact,
    failure: async (exitCode, output, signal) => {
      if (exitCode === 127 || output.some((l) => /No module named pip|python3: not found|can't execute 'python3'/.test(l))) {
        return new MllError('DEPENDENCY_INSTALL_FAILED',
          `The runtime image ${from} has no python3 with pip, which the docker builder runs to install the requirements; use a runtime image with python3-pip, or the oci builder (MLL_BUILDER=oci)`,
          { details: { runtime: from } });
      }
      if (exitCode === TOO_LARGE_EXIT) {
        const installed = Number(/mll: installed (\d+) bytes/.exec(output.join('\n'))?.[1]);
        return tooLarge(settings.maxBytes, Number.isFinite(installed) ? installed : undefined, target);
      }
      return pipFailure({ exitCode, stopped: exitCode === TIMEOUT_EXIT ? 'timeout' : undefined, tail: output }, {
        python, indexUrls: indexUrls(index), publicIndexUrls: publicIndexConfig(index).indexUrls, allowSdist: settings.allowSdist,
        timeoutMs: settings.timeoutMs, maxBytes: settings.maxBytes, interpreter: 'python3 (in the runtime image)', redact, signal,
      });
    },
  };
}

/** `Successfully installed a-1.0 b_c-2.0` → packages (what the docker path can know of them). */
export function packagesFromPipOutput(line: string): InstalledPackage[] | undefined {
  const m = /^Successfully installed (.+)$/.exec(line.trim());
  if (!m) return undefined;
  return m[1]!.split(/\s+/).map((item) => {
    const dash = item.lastIndexOf('-');
    return { name: dash > 0 ? item.slice(0, dash) : item, version: dash > 0 ? item.slice(dash + 1) : '', file: '', wheelDigest: null };
  }).sort((a, b) => a.name.localeCompare(b.name));
}
