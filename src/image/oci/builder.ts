import { keys } from '../../domain/keys.js';
import { MllError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ObjectStore } from '../../storage/object-store.js';
import { sha256 } from '../registry/client.js';
import type { Registries } from '../registry/registries.js';
import type { BuildRequest, ImageBuilder, ImageWarning, OciBuiltImage, OciLayer, StageContext } from '../types.js';
import { formatBytes, hostPlatform, mapLimit } from '../util.js';
import { putIfAbsent, resolveRuntime } from '../runtime.js';
import { imageAnnotations, imageConfigBytes, imageLabels, manifestBytes } from './image-config.js';
import { computeLayer, planModelLayers, type Compression, type LayerPlan } from './layers.js';
import { mediaTypes, ociLayerMediaType } from './media-types.js';

export interface OciBuilderOptions {
  store: ObjectStore;
  logger: Logger;
  registries: Registries;
  /** framework → runtime image reference. */
  runtimes: Record<string, string>;
  compression: Compression;
  /** os/arch[/variant] picked from runtime indexes and written into model-only images; the host's by default. */
  platform?: string;
  /** Where compressed layers are written on their way into the store. */
  scratchDir?: string;
  /** Layers hashed at once. */
  concurrency?: number;
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
    const contractDigest = sha256(req.contract.protobin);
    if (contractDigest !== req.contract.digest) {
      throw new MllError('INTERNAL', `The contract of ${req.model} v${req.version} does not match its digest ${req.contract.digest}`);
    }
    await putIfAbsent(store, keys.blob(contractDigest), req.contract.protobin);

    const warnings: ImageWarning[] = [];
    const resolved = await resolveRuntime({ ...this.options, platform: this.platform }, req.framework, warnings, ctx);

    const plans = planModelLayers(req.tree, { digest: contractDigest, size: req.contract.protobin.length });
    const computed = await mapLimit(plans, this.options.concurrency ?? 2, async (plan) => {
      const t0 = performance.now();
      const result = await computeLayer(store, plan.entries, {
        compression: this.options.compression, scratchDir: this.options.scratchDir, signal: ctx.signal,
      });
      ctx.log(`layer ${plan.description}: ${result.record.digest} (${formatBytes(result.record.size)}, ${result.cached ? 'unchanged' : `hashed in ${((performance.now() - t0) / 1000).toFixed(2)} s`})`);
      return { plan, ...result };
    });

    const baseLayers: OciLayer[] = (resolved?.layers ?? []).map((l, i) => ({
      mediaType: ociLayerMediaType(l.mediaType),
      digest: l.digest,
      size: l.size,
      diffId: resolved!.config.rootfs?.diff_ids[i] ?? l.digest,
      source: { kind: 'base' },
    }));
    const modelLayers: OciLayer[] = computed.map(({ key, record }) => ({
      mediaType: record.mediaType,
      digest: record.digest,
      size: record.size,
      diffId: record.diffId,
      source: record.compression === 'none' ? { kind: 'recipe', key } : { kind: 'blob' },
    }));

    const meta = {
      model: req.model, version: req.version, modelType: req.modelType, framework: req.framework, contractDigest,
      description: req.description, userLabels: req.labels,
      base: resolved ? { reference: resolved.base.reference, digest: resolved.base.digest } : null,
    };
    const labels = imageLabels(meta);
    const history = computed.map(({ plan }, i) => ({ diffId: modelLayers[i]!.diffId, createdBy: createdBy(plan) }));
    const config = imageConfigBytes(resolved?.config ?? null, this.platform, labels, history);
    const configDigest = sha256(config);
    await putIfAbsent(store, keys.blob(configDigest), config);
    const layers = [...baseLayers, ...modelLayers];
    const manifest = manifestBytes({ mediaType: mediaTypes.ociConfig, digest: configDigest, size: config.length }, layers, imageAnnotations(meta));
    const manifestDigest = sha256(manifest);
    await putIfAbsent(store, keys.blob(manifestDigest), manifest);

    const parsedConfig = JSON.parse(config.toString('utf8')) as { architecture: string; os: string; variant?: string };
    ctx.log(`image ${manifestDigest}: ${layers.length} layers (${modelLayers.length} of the model), built in ${((performance.now() - started) / 1000).toFixed(2)} s`);
    return {
      kind: 'oci',
      builder: 'oci',
      manifestDigest,
      manifestMediaType: mediaTypes.ociManifest,
      manifestSize: manifest.length,
      configDigest,
      configSize: config.length,
      layers,
      base: resolved?.base ?? null,
      modelOnly: !resolved,
      platform: [parsedConfig.os, parsedConfig.architecture, parsedConfig.variant].filter(Boolean).join('/'),
      labels,
      warnings,
    };
  }
}

function createdBy(plan: LayerPlan): string {
  if (plan.role === 'contract') return 'COPY contract.protobin /model/contract.protobin';
  if (plan.role === 'file') return `COPY ${plan.description} /model/files/${plan.description}`;
  return `COPY files/ /model/files/ (${plan.description})`;
}
