import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { extractToDir } from '../archive/extract-to-dir.js';
import { installCommandToRequirements, mergeSentContract, uploadContractOf } from '../contract/hydrosphere/index.js';
import { encodeContract, inspectModel, type Contract, type Inspection } from '../contract/index.js';
import { placePayload } from '../contract/payload.js';
import { checkPythonFunctions, dialectDescriptions, PYTHON_ENTRY, type ServingYaml, type ServingYamlDialect } from '../contract/serving-yaml.js';
import { keys } from '../domain/keys.js';
import type { TreeEntry, TreeManifest } from '../domain/tree.js';
import type { DependencySource, PayloadInfo, TreeInfo, Warning } from '../domain/version.js';
import { isMllError, MllError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import { sha256Digest } from '../shared/digest.js';
import { blindWriteLimit, exists, putBlobBytes } from '../storage/object-store.js';
import { inputsDigest, outputKey, readOutput, writeOutput } from './outputs.js';
import type { StageContext, StagePorts } from './ports.js';

/** Bumped whenever extraction would give another output for the same inputs. */
export const EXTRACT_FORMAT = 'mll-extract/3';

/** The longest description a version has (the upload metadata's limit). */
const MAX_DESCRIPTION = 4096;

export interface ExtractInput {
  model: string;
  /** framework:version from the upload's metadata, if it said. */
  modelType: string | null;
  payload: Pick<PayloadInfo, 'key' | 'digest' | 'size' | 'format'>;
  /** A contract the client sent with the upload (Hydrosphere clients): it wins over serving.yaml and inference. */
  sentContract: Contract | null;
  /** A Hydrosphere client's install command: its pip install steps become the dependencies (it wins over serving.yaml's). */
  installCommand?: string | null;
  /** The payload was assembled by a Hydrosphere client (it came through their upload routes): serving.yaml's payload is not applied again. */
  payloadAssembled?: boolean;
}

/** What serving.yaml says beyond the contract and the files, for the version record. */
export interface ServingYamlSummary {
  file: string;
  dialect: ServingYamlDialect;
  /** The model's name as written, when it is not the model name (a Hydrosphere name). */
  displayName: string | null;
  labels: Record<string, string>;
  /** `runtime: image:tag`, used as the base when the operator allows it. */
  requestedRuntime: string | null;
  /** serving.yaml's `description` (at most 4096 characters, as the upload metadata's); the upload's own wins. */
  description?: string | null;
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
  servingYaml?: ServingYamlSummary | null;
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
    installCommand: input.installCommand ?? null, servingYaml: ports.settings.servingYaml ?? 'lenient', payloadAssembled: input.payloadAssembled === true,
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
      // A Hydrosphere client's archive holds the payload entries by base name: a lone `src/` is the payload, not a wrapper.
    }, ctx.signal, { stripSingleTopFolder: input.payloadAssembled !== true });
    if (extracted.strippedPrefix) ctx.log(`extract: the archive wraps everything in "${extracted.strippedPrefix}"; using it as the model root`);

    const inspection = await inspectWithSentContract(extracted.root, input, ports.settings.servingYaml ?? 'lenient');
    const yaml = inspection.servingYaml;
    if (yaml) ctx.log(`extract: ${yaml.file} is written in ${dialectDescriptions[yaml.dialect]}`);
    // serving.yaml's payload chooses the files and where they land in the image (src/contract/payload.ts).
    const placed = placePayload(extracted.entries, yaml?.placements ?? null);
    const selected = placed.map((p) => p.entry);
    ctx.log(`extract: contract with ${inspection.contract.signatures.length} signature(s), model-type ${inspection.modelType}, ${selected.length} file(s) in the image`);

    await failpoint(ports.failpoints, 'extract-mid', ctx.signal);
    const protobin = Buffer.from(encodeContract(input.model, inspection.contract));
    const contractDigest = sha256Digest(protobin);
    await putBlobIfAbsent(ports, contractDigest, protobin);
    for (const { entry, source } of placed) {
      if (entry.type !== 'file') continue;
      const blobKey = keys.blob(entry.digest);
      if (entry.size > blindWriteLimit(ports.store) && (await exists(ports.store, blobKey))) continue;
      ctx.signal.throwIfAborted();
      await ports.store.putFile(blobKey, path.join(extracted.root, ...source.split('/')), { size: entry.size, move: true });
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
      dependencies: await dependencySource(ports, selected, yaml, input.installCommand ?? null),
      warnings: yaml?.description && yaml.description.length > MAX_DESCRIPTION
        ? [...inspection.warnings, { code: 'DESCRIPTION_SHORTENED', message: `${yaml.file}'s description is ${yaml.description.length} characters long; the version keeps its first ${MAX_DESCRIPTION}`, details: { length: yaml.description.length } }]
        : inspection.warnings,
      servingYaml: yaml && {
        file: yaml.file,
        dialect: yaml.dialect,
        displayName: yaml.displayName === yaml.name ? null : yaml.displayName,
        labels: yaml.labels,
        requestedRuntime: yaml.requestedRuntime,
        description: yaml.description === null ? null : yaml.description.slice(0, MAX_DESCRIPTION),
      },
    };
    await writeOutput(ports.store, key, output);
    return output;
  } finally {
    // Not synchronously (src/shared/local-fs.ts): removing files and folders waits on the disk far
    // longer than it uses the CPU, and the event loop would wait with it.
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/**
 * A contract the client sent wins (mergeSentContract). The upload's own serving.yaml or model
 * files are still read, for the model-type and to warn when they disagree; a model they cannot
 * describe is fine then.
 */
async function inspectWithSentContract(root: string, input: ExtractInput, servingYaml: 'lenient' | 'strict'): Promise<Inspection> {
  const options = { modelName: input.model, modelType: input.modelType ?? undefined, servingYaml, payloadAssembled: input.payloadAssembled === true };
  if (!input.sentContract) return inspectModel(root, options);
  const sent = input.sentContract;
  let inspected: Inspection | null = null;
  try {
    inspected = await inspectModel(root, options);
  } catch (err) {
    if (!isMllError(err) || err.code !== 'CONTRACT_REQUIRED') throw err;
  }
  const modelType = inspected?.modelType ?? input.modelType ?? `${sent.framework || 'unknown'}:unknown`;
  const merged = mergeSentContract(sent, inspected && uploadContractOf(inspected));
  if (modelType.split(':')[0] === 'python') {
    // The runtime calls func_main.<signature>: a sent contract is held to that like serving.yaml's.
    const issues = await checkPythonFunctions(root, 'the contract sent with the upload', merged.contract.signatures, inspected?.servingYaml?.placements ?? null);
    if (issues.length > 0) {
      throw new MllError('INVALID_MODEL', `The contract sent with the upload does not match ${PYTHON_ENTRY}: ${issues.map((i) => `${i.path}: expected ${i.expected}, found ${i.found}`).join('; ')}`, { details: issues });
    }
  }
  return {
    contract: { ...merged.contract, framework: modelType.split(':')[0] ?? merged.contract.framework },
    modelType,
    servingYaml: inspected?.servingYaml ?? null,
    warnings: [...(inspected?.warnings ?? []), ...merged.warnings],
  };
}

/**
 * What is installed under /model/lib at build time: a client's install command, else
 * serving.yaml's install-command (their pip install steps as requirements text, stored as a
 * blob), else a requirements.txt at the root of the image's files.
 */
async function dependencySource(ports: StagePorts, selected: TreeEntry[], yaml: ServingYaml | null, clientCommand: string | null): Promise<DependencySource | null> {
  let text = yaml?.dependencies?.text ?? null;
  if (clientCommand !== null && clientCommand.trim() !== '') {
    const result = installCommandToRequirements(clientCommand);
    if (!result.ok) {
      throw new MllError('INVALID_METADATA', `The install command cannot be run: ${JSON.stringify(result.part)}: ${result.reason}`, { details: { installCommand: clientCommand, part: result.part } });
    }
    text = result.requirements === '' ? null : result.requirements;
  }
  if (text !== null) {
    const bytes = Buffer.from(text);
    const digest = sha256Digest(bytes);
    await putBlobIfAbsent(ports, digest, bytes);
    return { source: 'install-command', digest };
  }
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
  await putBlobBytes(ports.store, keys.blob(digest), bytes);
}
