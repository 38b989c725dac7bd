import { keys } from '../domain/keys.js';
import type { TreeManifest } from '../domain/tree.js';
import { failpoint } from '../failpoints.js';
import type { BuiltImage } from '../image/types.js';
import { readDependencySpec } from '../image/deps/index.js';
import { getBuffer, getJson } from '../storage/object-store.js';
import type { DependencySource } from '../domain/version.js';
import { inputsDigest, readOutput, writeOutput } from './outputs.js';
import type { StageContext, StagePorts } from './ports.js';

export interface BuildInput {
  model: string;
  version: number;
  modelType: string;
  /** sha256 of the tree manifest blob (extract's output). */
  treeDigest: string;
  /** sha256 of contract.protobin (extract's output). */
  contractDigest: string;
  dependencies: DependencySource | null;
  /** A runtime image the client asked for (serving.yaml `runtime:`); used only when MLL_RUNTIME_ALLOW admits it. */
  requestedRuntime?: string | null;
  labels: Record<string, string>;
  description: string | null;
}

/** The built image of one version, stored for the push stage with the digest of what made it. */
export interface BuildOutput {
  inputs: string;
  image: BuiltImage;
}

/**
 * Build: turn the extracted tree and contract into an image with the configured builder. The
 * output is kept per version with the digest of its inputs; a retried or duplicated build with
 * the same inputs returns it, and builders reuse every layer they made before (an unchanged
 * payload's layers are never read again).
 */
export async function runBuild(input: BuildInput, ports: StagePorts, ctx: StageContext): Promise<BuildOutput> {
  const digest = inputsDigest({ ...input, builder: ports.builder.name });
  const key = keys.builtImage(input.model, input.version);
  // Three independent reads at once: the usual case (a first build) needs all of them.
  const [existing, tree, protobin] = await Promise.all([
    readOutput<Partial<BuildOutput>>(ports.store, key),
    getJson<TreeManifest>(ports.store, keys.blob(input.treeDigest)),
    getBuffer(ports.store, keys.blob(input.contractDigest)),
  ]);
  if (existing?.inputs === digest && existing.image) {
    ctx.log('build: image already built for this version; skipping');
    return existing as BuildOutput;
  }
  const framework = input.modelType.split(':')[0]!;
  ctx.log(`build: ${ports.builder.name} builder, framework ${framework}, ${tree.entries.filter((e) => e.type === 'file').length} file(s)`);
  const image = await ports.builder.build({
    model: input.model,
    version: input.version,
    modelType: input.modelType,
    framework,
    tree,
    contract: { protobin, digest: input.contractDigest },
    labels: input.labels,
    description: input.description,
    dependencies: input.dependencies ? await readDependencySpec(ports.store, input.dependencies) : undefined,
    requestedRuntime: input.requestedRuntime ?? undefined,
  }, ctx);
  await failpoint(ports.failpoints, 'build-mid', ctx.signal);
  const output: BuildOutput = { inputs: digest, image };
  await writeOutput(ports.store, key, output);
  return output;
}
