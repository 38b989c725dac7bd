import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { keys } from '../../domain/keys.js';
import type { TreeManifest } from '../../domain/tree.js';
import { MllError } from '../../errors.js';
import { exists, getBuffer, getJsonIfPresent, type ObjectStore } from '../../storage/object-store.js';
import { secretRedactor } from '../../shared/redact.js';
import { LAYER_FORMAT, type Compression } from '../oci/layers.js';
import { layerMediaType } from '../oci/compress.js';
import type { DependencyLayerInfo, DependencySpec, InstalledPackage, OciLayer, StageContext } from '../types.js';
import { formatBytes } from '../util.js';
import { directoryEntries, writeDirectoryLayer } from './dir-tar.js';
import { describeTarget, interpreterUnavailable, pipFailure, tooLarge } from './failure.js';
import { normaliseTree } from './normalise-tree.js';
import { indexUrls, pipEnv, pipInstallArgs, publicIndexConfig, runPip, type PipIndexConfig } from './pip.js';
import type { PythonTarget } from './python-target.js';
import { interpreterPaths } from './sandbox.js';
import { logicalLines, vetRequirements, type PayloadView, type VettedRequirements } from './requirements.js';

/** Bumped whenever what goes into a dependency layer (pip flags, normalisation, tar) changes. */
export const DEPENDENCY_LAYER_FORMAT = 'mll-deps/1';
export const LIB_ROOT = 'model/lib';
/** Requirement files larger than this are refused (they are read whole). */
export const MAX_REQUIREMENTS_BYTES = 1024 * 1024;
/** pip lines shown on the version; the rest are counted. */
const MAX_LOG_LINES = 300;

/** How a worker installs dependencies (from MLL_INSTALL_DEPENDENCIES, MLL_PIP_*, MLL_DEPENDENCY_MAX_BYTES). */
export interface DependencySettings {
  install: boolean;
  index: PipIndexConfig;
  allowSdist: boolean;
  /** Where source builds run (wheels-only installs run no package code). */
  sandbox: 'bwrap' | 'none';
  timeoutMs: number;
  maxBytes: number;
  /** The interpreter pip runs with on the worker. */
  interpreter: string;
  /** The Python version to install for when neither the runtime nor the model-type says. */
  defaultPythonVersion: string;
  /** PATH for pip (and, with source builds, their tools). */
  searchPath: string;
}

/** What the store keeps about a dependency layer, at dependency-layers/<key>.json. */
export interface DependencyLayerRecord {
  format: string;
  key: string;
  layer: { mediaType: string; digest: string; diffId: string; size: number; uncompressedSize: number };
  installedBytes: number;
  files: number;
  packages: InstalledPackage[];
  python: DependencyLayerInfo['python'];
}

/** The payload as requirements see it: the tree's paths, file bytes read from the store. */
export function payloadView(store: ObjectStore, tree: TreeManifest): PayloadView & { digestOf(p: string): string | undefined } {
  const files = new Map<string, { digest: string; size: number }>();
  const dirs = new Set<string>();
  for (const e of tree.entries) {
    if (e.type !== 'file') continue;
    files.set(e.path, { digest: e.digest, size: e.size });
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return {
    isFile: (p) => files.has(p),
    isDir: (p) => p === '.' || dirs.has(p),
    filesUnder: (dir) => [...files.keys()].filter((p) => dir === '.' || p.startsWith(`${dir}/`)),
    digestOf: (p) => files.get(p)?.digest,
    read: async (p) => {
      const f = files.get(p)!;
      if (f.size > MAX_REQUIREMENTS_BYTES) {
        throw new MllError('DEPENDENCY_FORBIDDEN_OPTION', `${p} is ${formatBytes(f.size)}; a requirements file may be at most ${formatBytes(MAX_REQUIREMENTS_BYTES)}`);
      }
      return (await getBuffer(store, keys.blob(f.digest), MAX_REQUIREMENTS_BYTES)).toString('utf8');
    },
  };
}

/** True when the spec asks for anything at all (not only comments and blank lines). */
export function hasRequirementLines(spec: DependencySpec | undefined): spec is DependencySpec {
  return !!spec && logicalLines(spec.text).length > 0;
}

/**
 * The cache key of a dependency layer: everything that decides which wheels pip picks and how the
 * layer is written — the requirement lines (comments and spacing ignored) and the payload files
 * they use, the target Python and platform, the index configuration without credentials, whether
 * sources may be built, the runtime's digest and the layer formats. Credentials are left out on
 * purpose: rotating a password does not rebuild anything.
 */
export function dependencyCacheKey(parts: {
  vetted: VettedRequirements; localDigests: [string, string][]; python: PythonTarget; index: PipIndexConfig; allowSdist: boolean;
  baseDigest: string | null; compression: Compression;
}): string {
  const { python } = parts;
  return createHash('sha256').update(JSON.stringify({
    format: DEPENDENCY_LAYER_FORMAT,
    layerFormat: LAYER_FORMAT,
    compression: parts.compression,
    requirements: parts.vetted.canonical,
    localFiles: parts.localDigests,
    python: { version: python.version, implementation: python.implementation, abis: python.abis, platforms: python.platformTags },
    index: publicIndexConfig(parts.index),
    allowSdist: parts.allowSdist,
    base: parts.baseDigest,
  })).digest('hex');
}

async function readRecord(store: ObjectStore, key: string): Promise<DependencyLayerRecord | undefined> {
  const record = await getJsonIfPresent<DependencyLayerRecord>(store, keys.dependencyLayer(key));
  if (!record || record.format !== DEPENDENCY_LAYER_FORMAT) return undefined;
  // The layer is only good while its bytes are still stored.
  return (await exists(store, keys.blob(record.layer.digest))) ? record : undefined;
}

interface PipReport {
  install?: {
    metadata?: { name?: string; version?: string };
    download_info?: { url?: string; archive_info?: { hash?: string; hashes?: Record<string, string> } };
  }[];
}

/** The packages pip's installation report lists, by name, without URLs (they may carry credentials). */
export function reportedPackages(report: PipReport): InstalledPackage[] {
  return (report.install ?? []).map((item): InstalledPackage => {
    const info = item.download_info?.archive_info;
    const sha = info?.hashes?.sha256 ?? (info?.hash?.startsWith('sha256=') ? info.hash.slice(7) : undefined);
    let file = '';
    try {
      file = decodeURIComponent(new URL(item.download_info?.url ?? '').pathname.split('/').pop() ?? '');
    } catch { /* no URL */ }
    return { name: item.metadata?.name ?? '', version: item.metadata?.version ?? '', file, wheelDigest: sha ? `sha256:${sha}` : null };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

export interface DependencyLayerRequest {
  store: ObjectStore;
  settings: DependencySettings;
  scratchDir: string;
  compression: Compression;
  spec: DependencySpec;
  tree: TreeManifest;
  python: PythonTarget;
  baseDigest: string | null;
}

export interface DependencyLayer {
  layer: OciLayer;
  info: DependencyLayerInfo;
  /** The history entry of the layer in the image config. */
  createdBy: string;
}

/**
 * The /model/lib layer of a build: found by its inputs (pip does not run), or installed now by pip
 * on the worker (wheels only, for the runtime's Python and platform, so no package code runs),
 * normalised, written as one deterministic tar into the store and recorded under its inputs.
 * Undefined when the requirements list no packages. Scratch space is removed on every path.
 */
export async function dependencyLayer(r: DependencyLayerRequest, ctx: StageContext): Promise<DependencyLayer | undefined> {
  const payload = payloadView(r.store, r.tree);
  const vetted = await vetRequirements(r.spec, payload, { allowSdist: r.settings.allowSdist });
  const sourceName = r.spec.source === 'requirements.txt' ? 'requirements.txt' : 'serving.yaml install-command';
  if (vetted.requirements === 0) {
    ctx.log(`dependencies: ${sourceName} lists no packages; no /model/lib layer`);
    return undefined;
  }
  const localDigests = vetted.localFiles.map((p): [string, string] => [p, payload.digestOf(p)!]);
  const key = dependencyCacheKey({
    vetted, localDigests, python: r.python, index: r.settings.index, allowSdist: r.settings.allowSdist,
    baseDigest: r.baseDigest, compression: r.compression,
  });
  const target = describeTarget(r.python);
  let record = await readRecord(r.store, key);
  const reused = !!record;
  if (record) {
    ctx.log(`dependencies: layer ${record.layer.digest} (${formatBytes(record.layer.size)}, ${record.packages.length} package(s)) reused: same requirements, ${target}; pip did not run`);
  } else {
    record = await install(r, vetted, key, ctx);
  }
  const info: DependencyLayerInfo = {
    source: r.spec.source,
    digest: record.layer.digest,
    size: record.layer.size,
    installedBytes: record.installedBytes,
    files: record.files,
    packages: record.packages,
    python: { version: r.python.version, platform: r.python.platform, from: r.python.from },
    reused,
    key,
  };
  return {
    layer: {
      mediaType: record.layer.mediaType, digest: record.layer.digest, size: record.layer.size, diffId: record.layer.diffId, source: { kind: 'blob' },
    },
    info,
    createdBy: `RUN pip install -r ${sourceName} --target /model/lib (${record.packages.length} package(s) for Python ${r.python.version} on ${r.python.platform})`,
  };
}

async function install(r: DependencyLayerRequest, vetted: VettedRequirements, key: string, ctx: StageContext): Promise<DependencyLayerRecord> {
  const { settings, python } = r;
  const redact = secretRedactor(indexUrls(settings.index));
  const shownIndexes = publicIndexConfig(settings.index).indexUrls;
  await fs.mkdir(r.scratchDir, { recursive: true });
  const scratch = await fs.mkdtemp(path.join(r.scratchDir, 'deps-'));
  try {
    const dirs = { payload: path.join(scratch, 'payload'), lib: path.join(scratch, 'lib'), home: path.join(scratch, 'home'), tmp: path.join(scratch, 'tmp') };
    for (const d of Object.values(dirs)) await fs.mkdir(d, { recursive: true });
    await materialise(r, vetted, dirs.payload, ctx.signal);

    const started = performance.now();
    ctx.log(`dependencies: installing ${vetted.requirements} requirement line(s) for ${describeTarget(python)} from ${shownIndexes.join(', ')}${settings.allowSdist ? ' (source builds allowed)' : ', wheels only'}`);
    let shown = 0;
    const env = pipEnv(settings.index, dirs, settings.searchPath);
    const sandbox = settings.allowSdist && settings.sandbox === 'bwrap' ? await sandboxFor(settings.interpreter, env, scratch) : undefined;
    const outcome = await runPip({
      python: sandbox?.executable ?? settings.interpreter,
      args: pipInstallArgs({ target: dirs.lib, requirementFile: vetted.entry, report: path.join(scratch, 'report.json'), python, allowSdist: settings.allowSdist }),
      cwd: dirs.payload,
      env,
      timeoutMs: settings.timeoutMs,
      watchDir: scratch,
      // Downloaded wheels and their unpacked copy sit side by side before pip moves them into place.
      maxScratchBytes: 2 * settings.maxBytes + 64 * 1024 * 1024,
      signal: ctx.signal,
      sandbox,
      onLine: (line) => {
        if (line.trim() === '') return;
        if (shown++ < MAX_LOG_LINES) ctx.log(`pip: ${redact(line)}`);
      },
    });
    if (shown > MAX_LOG_LINES) ctx.log(`pip: (${shown - MAX_LOG_LINES} more lines not shown)`);
    if (outcome.stopped === 'aborted') ctx.signal.throwIfAborted();
    if (outcome.exitCode !== 0 || outcome.stopped) {
      const err = await pipFailure(outcome, {
        python, indexUrls: indexUrls(settings.index), publicIndexUrls: shownIndexes, allowSdist: settings.allowSdist,
        timeoutMs: settings.timeoutMs, maxBytes: settings.maxBytes, interpreter: settings.interpreter, redact, signal: ctx.signal,
      });
      ctx.log(`dependencies: ${err.message}`);
      throw err;
    }
    await normaliseTree(dirs.lib);
    const { entries, files, bytes } = await directoryEntries(dirs.lib, LIB_ROOT);
    if (bytes > settings.maxBytes) throw tooLarge(settings.maxBytes, bytes, describeTarget(python));
    const report = JSON.parse(await fs.readFile(path.join(scratch, 'report.json'), 'utf8')) as PipReport;
    const packages = reportedPackages(report);

    const written = await writeDirectoryLayer(dirs.lib, LIB_ROOT, entries, r.compression, scratch, ctx.signal);
    if (!(await exists(r.store, keys.blob(written.digest)))) {
      await r.store.putFile(keys.blob(written.digest), written.file, { size: written.size, move: true, signal: ctx.signal });
    }
    const record: DependencyLayerRecord = {
      format: DEPENDENCY_LAYER_FORMAT,
      key,
      layer: {
        mediaType: layerMediaType[r.compression],
        digest: written.digest, diffId: written.diffId, size: written.size, uncompressedSize: written.uncompressedSize,
      },
      installedBytes: bytes,
      files,
      packages,
      python: { version: python.version, platform: python.platform, from: python.from },
    };
    const json = Buffer.from(JSON.stringify(record));
    await r.store.put(keys.dependencyLayer(key), json, { size: json.length });
    ctx.log(`dependencies: ${packages.map((p) => `${p.name} ${p.version}`).join(', ')} → layer ${written.digest} (${formatBytes(bytes)} in ${files} files) in ${((performance.now() - started) / 1000).toFixed(2)} s`);
    return record;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/** Writes the requirement files and the local packages they name where pip (cwd = payload root) finds them. */
async function materialise(r: DependencyLayerRequest, vetted: VettedRequirements, root: string, signal: AbortSignal): Promise<void> {
  const place = async (p: string) => {
    const full = path.join(root, p);
    if (!full.startsWith(`${root}${path.sep}`)) throw new MllError('INTERNAL', `A requirements path escaped the scratch directory: ${p}`);
    await fs.mkdir(path.dirname(full), { recursive: true });
    return full;
  };
  for (const f of vetted.files) await fs.writeFile(await place(f.path), f.text);
  const digests = new Map(r.tree.entries.flatMap((e) => (e.type === 'file' ? [[e.path, e.digest] as const] : [])));
  for (const p of vetted.localFiles) {
    const body = await r.store.get(keys.blob(digests.get(p)!), { signal });
    await pipeline(body, createWriteStream(await place(p)), { signal });
  }
}

/** The sandbox of a source build: its scratch writable, the interpreter's installation readable. */
async function sandboxFor(interpreter: string, env: Record<string, string>, scratch: string): Promise<{ executable: string; writable: string[]; readable: string[] }> {
  try {
    const { executable, prefixes } = await interpreterPaths(interpreter, env);
    return { executable, writable: [scratch], readable: prefixes };
  } catch (err) {
    throw interpreterUnavailable(interpreter, err as NodeJS.ErrnoException);
  }
}
