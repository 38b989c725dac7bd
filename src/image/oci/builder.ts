import os from 'node:os';
import path from 'node:path';
import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { sha256Digest } from '../../shared/digest.js';
import type { Registries } from '../registry/registries.js';
import type { BuildRequest, ImageBuilder, ImageWarning, OciBuiltImage, OciLayer, StageContext } from '../types.js';
import { mapLimit } from '../../shared/map-limit.js';
import { formatBytes, hostPlatform } from '../util.js';
import { chooseRuntime, putIfAbsent, resolveRuntime } from '../runtime.js';
import { buildDependencyLayer, type DependencySettings } from '../deps/index.js';
import { imageAnnotations, imageLabels } from './image-config.js';
import { completeImage } from './assemble.js';
import { planModelLayers, prepareLayer, type Compression, type LayerPlan } from './layers.js';
import { mediaTypes, ociLayerMediaType } from './media-types.js';

export interface OciBuilderOptions {
  store: ObjectStore;
  logger: Logger;
  registries: Registries;
  /** `framework` or `framework:version-prefix` → runtime image reference (MLL_RUNTIMES). */
  runtimes: Record<string, string>;
  /** Patterns a serving.yaml `runtime:` must match to be used (MLL_RUNTIME_ALLOW). */
  runtimeAllow?: string[];
  /** How requirements are installed; without it, a model's requirements are not installed (and the version warns). */
  dependencies?: DependencySettings;
  compression: Compression;
  /** os/arch[/variant] picked from runtime indexes and written into model-only images; the host's by default. */
  platform?: string;
  /** Where compressed layers and dependency installs are written on their way into the store. */
  scratchDir?: string;
  /** Layers prepared at once. */
  concurrency?: number;
  /** Hash new uncompressed layers in the build instead of in their first publish (two passes over a new payload). */
  hashAtBuild?: boolean;
}

/**
 * The daemonless builder: runtime base (resolved to a digest) + the model's deterministic layers +
 * an image config and OCI manifest. Outputs are content-addressed in the store (layer records,
 * config and manifest blobs), so a retried or repeated build reads what it computed before and an
 * unchanged payload is never read again.
 */
export class OciImageBuilder implements ImageBuilder {
  readonly name = 'oci' as const;
  private readonly platform: string;

  constructor(private readonly options: OciBuilderOptions) {
    this.platform = options.platform ?? hostPlatform();
  }

  async check(): Promise<void> {
    try {
      await this.options.store.check();
    } catch (err) {
      throw new MllError('BUILDER_UNAVAILABLE', 'The oci builder cannot use the object store', { cause: err });
    }
  }

  async build(req: BuildRequest, ctx: StageContext): Promise<OciBuiltImage> {
    const { store } = this.options;
    const started = performance.now();
    const contractDigest = sha256Digest(req.contract.protobin);
    if (contractDigest !== req.contract.digest) {
      throw new MllError('INTERNAL', `The contract of ${req.model} v${req.version} does not match its digest ${req.contract.digest}`);
    }
    await putIfAbsent(store, keys.blob(contractDigest), req.contract.protobin);

    const warnings: ImageWarning[] = [];
    const choice = chooseRuntime(this.options, req, warnings, ctx);
    const resolved = await resolveRuntime({ ...this.options, platform: this.platform }, choice, req.framework, warnings, ctx);
    const platform = resolved
      ? [resolved.config.os ?? 'linux', resolved.config.architecture ?? 'amd64', resolved.config.variant].filter(Boolean).join('/')
      : this.platform;
    const deps = await buildDependencyLayer({
      store, settings: this.options.dependencies, scratchDir: this.options.scratchDir ?? path.join(os.tmpdir(), 'mll-build'),
      compression: this.options.compression,
    }, req, resolved, platform, warnings, ctx);

    const plans = planModelLayers(req.tree, { digest: contractDigest, size: req.contract.protobin.length });
    const prepared = await mapLimit(plans, this.options.concurrency ?? 8, async (plan) => {
      const t0 = performance.now();
      const result = await prepareLayer(store, plan.entries, {
        compression: this.options.compression, eager: this.options.hashAtBuild, scratchDir: this.options.scratchDir, signal: ctx.signal,
      });
      const what = result.state === 'known' ? `${result.record.digest} (unchanged)`
        : result.state === 'pending' ? 'new: hashed as it is first published'
          : `${result.record.digest} (hashed in ${((performance.now() - t0) / 1000).toFixed(2)} s)`;
      ctx.log(`layer ${plan.description} (${formatBytes(result.record.size)}): ${what}`);
      return { plan, ...result };
    });

    const baseLayers: OciLayer[] = (resolved?.layers ?? []).map((l, i) => ({
      mediaType: ociLayerMediaType(l.mediaType),
      digest: l.digest,
      size: l.size,
      diffId: resolved!.config.rootfs?.diff_ids[i] ?? l.digest,
      source: { kind: 'base' },
    }));
    const fileLayers: OciLayer[] = prepared.map(({ key, record }) => ({
      mediaType: record.mediaType,
      digest: record.digest,
      size: record.size,
      diffId: record.diffId,
      source: record.compression === 'none' ? { kind: 'recipe', key } : { kind: 'blob' },
    }));
    const modelLayers = deps ? [deps.layer, ...fileLayers] : fileLayers;
    const meta = {
      model: req.model, version: req.version, modelType: req.modelType, framework: req.framework, contractDigest,
      description: req.description, userLabels: req.labels,
      base: resolved ? { reference: resolved.base.reference, digest: resolved.base.digest } : null,
    };
    let image: OciBuiltImage = {
      kind: 'oci',
      builder: 'oci',
      manifestDigest: null,
      manifestMediaType: mediaTypes.ociManifest,
      manifestSize: null,
      configDigest: null,
      configSize: null,
      layers: [...baseLayers, ...modelLayers],
      base: resolved?.base ?? null,
      modelOnly: !resolved,
      dependencies: deps?.info ?? null,
      platform,
      labels: imageLabels(meta),
      warnings,
      assembly: {
        baseConfigDigest: resolved?.configDigest ?? null,
        history: [...(deps ? [deps.createdBy] : []), ...prepared.map(({ plan }) => createdBy(plan))],
        annotations: imageAnnotations(meta),
      },
    };
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    if (image.layers.every((l) => l.digest !== null)) {
      image = await completeImage(store, image);
      ctx.log(`image ${image.manifestDigest}: ${image.layers.length} layers (${modelLayers.length} of the model), built in ${seconds} s`);
    } else {
      const pending = modelLayers.filter((l) => l.digest === null).length;
      ctx.log(`image planned in ${seconds} s: ${image.layers.length} layers, ${pending} new (hashed while published; the manifest digest is known then)`);
    }
    return image;
  }
}

function createdBy(plan: LayerPlan): string {
  if (plan.role === 'contract') return 'COPY contract.protobin /model/contract.protobin';
  if (plan.role === 'file') return `COPY ${plan.description} /model/files/${plan.description}`;
  return `COPY files/ /model/files/ (${plan.description})`;
}
