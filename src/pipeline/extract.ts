import { randomUUID } from 'node:crypto';
import { sha256Digest } from '../shared/digest.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import { extractToDir } from '../archive/extract-to-dir.js';
import { diffContracts, encodeContract, inspectModel } from '../contract/index.js';
import { keys } from '../domain/keys.js';
import type { TreeEntry, TreeManifest } from '../domain/tree.js';
import type { ContractDiff, VersionRecord, Warning } from '../domain/version.js';
import { MllError } from '../errors.js';
import { exists } from '../storage/object-store.js';
import { failpoint } from '../failpoints.js';
import type { StageContext, StageDeps, StageInput } from './context.js';


/**
 * Extract: unpack the payload safely into a scratch directory, take or infer the contract, and
 * store the model's files as content-addressed blobs plus a tree manifest. Re-running it for a
 * version that already has its tree and contract does nothing.
 */
export async function runExtract(input: StageInput, deps: StageDeps, ctx: StageContext): Promise<void> {
  const record = await deps.catalog.getDurable(input.model, input.version);
  if (record.tree && record.contractDigest) {
    ctx.log('extract: already done for this version; skipping');
    return;
  }
  const scratch = path.join(deps.config.dataDirAbs, 'work', `${input.model}-${input.version}-${process.pid}-${randomUUID()}`);
  try {
    ctx.log(`extract: unpacking ${record.payload.size} bytes (${record.payload.format})`);
    const extracted = await extractToDir(await deps.store.get(record.payload.key, { signal: ctx.signal }), scratch, {
      maxUnpackedBytes: deps.config.maxUnpackedBytes,
      maxEntries: deps.config.maxFiles,
      maxDepth: deps.config.maxPathDepth,
    }, ctx.signal);
    if (extracted.strippedPrefix) ctx.log(`extract: the archive wraps everything in "${extracted.strippedPrefix}"; using it as the model root`);

    const inspection = await inspectModel(extracted.root, { modelName: input.model, modelType: record.modelType ?? undefined });
    const selected = selectPayload(extracted.entries, inspection.servingYaml?.payload ?? null);
    ctx.log(`extract: contract with ${inspection.contract.signatures.length} signature(s), model-type ${inspection.modelType}, ${selected.length} file(s) in the image`);

    await failpoint(deps.failpoints, 'extract-mid', ctx.signal);
    const protobin = Buffer.from(encodeContract(input.model, inspection.contract));
    const contractDigest = sha256Digest(protobin);
    await putBlobIfAbsent(deps, contractDigest, protobin);
    for (const entry of selected) {
      if (entry.type !== 'file') continue;
      const blobKey = keys.blob(entry.digest);
      if (await exists(deps.store, blobKey)) continue;
      ctx.signal.throwIfAborted();
      await deps.store.putFile(blobKey, path.join(extracted.root, ...entry.path.split('/')), { size: entry.size, move: true });
    }
    const manifest: TreeManifest = { entries: selected };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const treeDigest = sha256Digest(manifestBytes);
    await putBlobIfAbsent(deps, treeDigest, manifestBytes);
    const diff = await diffAgainstPrevious(deps, record, inspection.contract);
    const files = selected.filter((e) => e.type === 'file');

    await deps.catalog.update(input.model, input.version, (r) => {
      r.modelType = inspection.modelType;
      r.contract = inspection.contract;
      r.contractDigest = contractDigest;
      r.tree = { digest: treeDigest, files: files.length, size: files.reduce((n, f) => n + f.size, 0) };
      r.warnings = mergeWarnings(r.warnings, inspection.warnings);
      r.diff = diff;
    }, diff?.breaking ? { type: 'warning', stage: 'extract', message: `The contract has breaking changes against version ${diff.against}` } : undefined);
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Removes scratch directories left by workers that died mid-extract (their pid, in the name, is
 * gone). Run when a worker process starts; directories of live workers are left alone.
 */
export async function sweepScratch(dataDir: string): Promise<number> {
  const work = path.join(dataDir, 'work');
  let removed = 0;
  for (const name of await fs.readdir(work).catch(() => [] as string[])) {
    const pid = Number(/-(\d+)-[0-9a-f-]{36}$/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await fs.rm(path.join(work, name), { recursive: true, force: true });
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

async function putBlobIfAbsent(deps: StageDeps, digest: string, bytes: Buffer): Promise<void> {
  const key = keys.blob(digest);
  if (!(await exists(deps.store, key))) await deps.store.put(key, bytes, { size: bytes.length });
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

function mergeWarnings(existing: Warning[], added: Warning[]): Warning[] {
  const seen = new Set(existing.map((w) => `${w.code}:${w.message}`));
  return [...existing, ...added.filter((w) => !seen.has(`${w.code}:${w.message}`))];
}

/** Compares with the newest earlier version of the model that has a contract. */
async function diffAgainstPrevious(deps: StageDeps, record: VersionRecord, contract: VersionRecord['contract']): Promise<ContractDiff | null> {
  if (!contract) return null;
  for (let v = record.version - 1; v >= 1 && v >= record.version - 50; v--) {
    const previous = await deps.catalog.get(record.model, v).catch(() => null);
    if (!previous?.contract) continue;
    const { breaking, changes } = diffContracts(previous.contract, contract);
    return { against: v, breaking, changes };
  }
  return null;
}
