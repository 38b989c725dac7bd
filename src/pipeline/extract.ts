import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { extractToDir } from '../archive/extract-to-dir.js';
import { diffContracts, encodeContract, inspectModel, type Contract, type Inspection } from '../contract/index.js';
import { keys } from '../domain/keys.js';
import type { TreeEntry, TreeManifest } from '../domain/tree.js';
import type { DependencySource, PayloadInfo, TreeInfo, Warning } from '../domain/version.js';
import { isMllError, MllError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import { sha256Digest } from '../shared/digest.js';
import { exists } from '../storage/object-store.js';
import { inputsDigest, outputKey, readOutput, writeOutput } from './outputs.js';
import type { StageContext, StagePorts } from './ports.js';

/** Bumped whenever extraction would give another output for the same inputs. */
export const EXTRACT_FORMAT = 'mll-extract/1';

export interface ExtractInput {
  model: string;
  /** framework:version from the upload's metadata, if it said. */
  modelType: string | null;
  payload: Pick<PayloadInfo, 'key' | 'digest' | 'size' | 'format'>;
  /** A contract the client sent with the upload (Hydrosphere clients): it wins over serving.yaml and inference. */
  sentContract: Contract | null;
}

export interface ExtractOutput {
  /** The digest of the inputs that made this output (its key in the store). */
  inputs: string;
  modelType: string;
  contract: Contract;
  /** sha256 of contract.protobin, a blob in the store. */
  contractDigest: string;
  /** The tree manifest (a blob) of the files that go into the image. */
  tree: TreeInfo;
  dependencies: DependencySource | null;
  warnings: Warning[];
}

/**
 * Extract: unpack the payload safely into a scratch directory, take or infer the contract, and
 * store the model's files as content-addressed blobs plus a tree manifest. The output is keyed by
 * the payload's digest (and the rest of the input), so a retry, a duplicate job or a new version
 * with a byte-identical payload reads it instead of unpacking again.
 */
export async function runExtract(input: ExtractInput, ports: StagePorts, ctx: StageContext): Promise<ExtractOutput> {
  const digest = inputsDigest({
    format: EXTRACT_FORMAT, model: input.model, modelType: input.modelType, payload: input.payload.digest, sentContract: input.sentContract,
  });
  const key = outputKey('extract', digest);
  const done = await readOutput<ExtractOutput>(ports.store, key);
  if (done && (await exists(ports.store, keys.blob(done.tree.digest)))) {
    ctx.log(`extract: this payload (${input.payload.digest}) was extracted before; reusing its tree and contract`);
    return done;
  }
  const scratch = path.join(ports.settings.scratchDir, `${input.model}-${process.pid}-${randomUUID()}`);
  try {
    ctx.log(`extract: unpacking ${input.payload.size} bytes (${input.payload.format})`);
    const extracted = await extractToDir(await ports.store.get(input.payload.key, { signal: ctx.signal }), scratch, {
      maxUnpackedBytes: ports.settings.maxUnpackedBytes,
      maxEntries: ports.settings.maxFiles,
      maxDepth: ports.settings.maxPathDepth,
    }, ctx.signal);
    if (extracted.strippedPrefix) ctx.log(`extract: the archive wraps everything in "${extracted.strippedPrefix}"; using it as the model root`);

    const inspection = await inspectWithSentContract(extracted.root, input);
    const selected = selectPayload(extracted.entries, inspection.servingYaml?.payload ?? null);
    ctx.log(`extract: contract with ${inspection.contract.signatures.length} signature(s), model-type ${inspection.modelType}, ${selected.length} file(s) in the image`);

    await failpoint(ports.failpoints, 'extract-mid', ctx.signal);
    const protobin = Buffer.from(encodeContract(input.model, inspection.contract));
    const contractDigest = sha256Digest(protobin);
    await putBlobIfAbsent(ports, contractDigest, protobin);
    for (const entry of selected) {
      if (entry.type !== 'file') continue;
      const blobKey = keys.blob(entry.digest);
      if (await exists(ports.store, blobKey)) continue;
      ctx.signal.throwIfAborted();
      await ports.store.putFile(blobKey, path.join(extracted.root, ...entry.path.split('/')), { size: entry.size, move: true });
    }
    const manifest: TreeManifest = { entries: selected };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const treeDigest = sha256Digest(manifestBytes);
    await putBlobIfAbsent(ports, treeDigest, manifestBytes);
    const files = selected.filter((e) => e.type === 'file');
    const output: ExtractOutput = {
      inputs: digest,
      modelType: inspection.modelType,
      contract: inspection.contract,
      contractDigest,
      tree: { digest: treeDigest, files: files.length, size: files.reduce((n, f) => n + f.size, 0) },
      dependencies: dependencySource(selected),
      warnings: inspection.warnings,
    };
    await writeOutput(ports.store, key, output);
    return output;
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/**
 * A contract the client sent wins. The upload's own serving.yaml or model files are still read,
 * for the model-type and to warn when they disagree; a model they cannot describe is fine then.
 */
async function inspectWithSentContract(root: string, input: ExtractInput): Promise<Inspection> {
  const options = { modelName: input.model, modelType: input.modelType ?? undefined };
  if (!input.sentContract) return inspectModel(root, options);
  const sent = input.sentContract;
  let inspected: Inspection | null = null;
  try {
    inspected = await inspectModel(root, options);
  } catch (err) {
    if (!isMllError(err) || err.code !== 'CONTRACT_REQUIRED') throw err;
  }
  const modelType = inspected?.modelType ?? input.modelType ?? `${sent.framework}:unknown`;
  const warnings = [...(inspected?.warnings ?? [])];
  if (inspected) {
    const diff = diffContracts(inspected.contract, sent);
    if (diff.changes.length > 0) {
      warnings.push({
        code: 'CONTRACT_MISMATCH',
        message: `the contract sent with the upload differs from the one its files declare (${diff.changes.length} difference${diff.changes.length === 1 ? '' : 's'}); the sent contract is used`,
        details: { changes: diff.changes },
      });
    }
  }
  return { contract: { ...sent, framework: modelType.split(':')[0] ?? sent.framework }, modelType, servingYaml: inspected?.servingYaml ?? null, warnings };
}

/** A requirements.txt at the root of the image's files is installed under /model/lib at build time. */
function dependencySource(selected: TreeEntry[]): DependencySource | null {
  const file = selected.find((e) => e.type === 'file' && e.path === 'requirements.txt');
  return file && file.type === 'file' ? { source: 'requirements.txt', digest: file.digest } : null;
}

/**
 * Removes scratch directories left by workers that died mid-extract (their pid, in the name, is
 * gone). Run when a worker process starts; directories of live workers are left alone.
 */
export async function sweepScratch(scratchDir: string): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(scratchDir).catch(() => [] as string[])) {
    const pid = Number(/-(\d+)-[0-9a-f-]{36}$/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await fs.rm(path.join(scratchDir, name), { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function putBlobIfAbsent(ports: StagePorts, digest: string, bytes: Buffer): Promise<void> {
  const key = keys.blob(digest);
  if (!(await exists(ports.store, key))) await ports.store.put(key, bytes, { size: bytes.length });
}

/**
 * serving.yaml's `payload` names the files and folders that go into the image; without it, every
 * file does. A listed entry that matches nothing is an error, not a silent skip.
 */
export function selectPayload(entries: TreeEntry[], payload: string[] | null): TreeEntry[] {
  if (payload === null) return entries;
  const chosen = new Set<TreeEntry>();
  for (const raw of payload) {
    const item = raw.replace(/^\.\/+/, '').replace(/\/+$/, '');
    const matches = entries.filter((e) => item === '' || e.path === item || e.path.startsWith(`${item}/`));
    if (matches.length === 0) {
      throw new MllError('PAYLOAD_ENTRY_MISSING', `serving.yaml lists payload entry "${raw}", but the upload has no such file or folder`, {
        details: { file: 'serving.yaml', path: 'payload', entry: raw },
      });
    }
    for (const m of matches) chosen.add(m);
  }
  return entries.filter((e) => chosen.has(e));
}
