import type { Logger } from '../log.js';
import type { TreeManifest } from '../domain/tree.js';

/** Everything a builder needs to turn one version's files and contract into an image. */
export interface BuildRequest {
  model: string;
  version: number;
  /** framework:version, e.g. `tensorflow:2.15`. */
  modelType: string;
  /** The framework part of modelType; picks the runtime base image (config.runtimes). */
  framework: string;
  /** Files go under /model/files/<path>; each file's bytes are the store blob keys.blob(digest). */
  tree: TreeManifest;
  /** Goes to /model/contract.protobin, in a layer of its own. */
  contract: { protobin: Buffer; digest: string };
  labels?: Record<string, string>;
  description?: string | null;
  /**
   * Requirement lines to install under /model/lib (one layer): the payload's root requirements.txt, or
   * serving.yaml's `pip install …` install-command turned into requirement lines. `-r`/`-c` and local
   * paths in them are resolved against `tree`.
   */
  dependencies?: DependencySpec;
  /** serving.yaml's `runtime: image:tag`: the base when MLL_RUNTIME_ALLOW admits it, otherwise a warning. */
  requestedRuntime?: string;
}

export interface DependencySpec {
  source: 'requirements.txt' | 'install-command';
  text: string;
}

/** One package installed into /model/lib, as pip resolved it. */
export interface InstalledPackage {
  name: string;
  version: string;
  /** The wheel's file name on the index ('' when unknown). */
  file: string;
  /** sha256:<hex> of the wheel pip installed (from its installation report), when pip reported it. */
  wheelDigest: string | null;
}

/** What a build installed under /model/lib, and for which Python. */
export interface DependencySummary {
  source: DependencySpec['source'];
  packages: InstalledPackage[];
  python: PythonTargetInfo;
}

/** The /model/lib layer of an oci build: what was installed, for which Python, and whether it was reused. */
export interface DependencyLayerInfo extends DependencySummary {
  /** The layer's digest (compressed bytes when gzip) and size. */
  digest: string;
  size: number;
  /** Total bytes of the installed files. */
  installedBytes: number;
  files: number;
  /** True when the layer was found by its inputs and pip did not run. */
  reused: boolean;
  /** The cache key (hash of the inputs, secrets excluded). */
  key: string;
}

export interface PythonTargetInfo {
  /** major.minor, e.g. 3.11 */
  version: string;
  /** os/arch, e.g. linux/amd64 */
  platform: string;
  /** Where the version came from. */
  from: 'runtime-label' | 'model-type' | 'default';
}

export interface StageContext {
  signal: AbortSignal;
  /** A build/push log line meant for users (shown on the version). */
  log(line: string): void;
  logger: Logger;
}

/** A warning the pipeline should put on the version (e.g. a runtime that could not be reached). */
export interface ImageWarning {
  code: 'RUNTIME_NOT_CONFIGURED' | 'RUNTIME_UNREACHABLE' | 'RUNTIME_NOT_ALLOWED' | 'DEPENDENCIES_NOT_INSTALLED';
  message: string;
}

/** The runtime base image, resolved by tag to a digest once per build. */
export interface BaseImage {
  /** As configured, e.g. `127.0.0.1:5000/mll/runtime-python:dev`. */
  reference: string;
  /** What the reference resolved to (an index or a manifest): `docker pull <repo>@<digest>` gives this image. */
  digest: string;
  /** The platform manifest the image was built on (equals digest unless the tag names an index). */
  manifestDigest: string;
  /** Registry host[:port] and repository of the base, for cross-repository mounts and blob copies. */
  registry: string;
  repository: string;
  /** The MLL_RUNTIMES key that chose it (`python:3.6`, `python`), or `serving.yaml`. */
  matched?: string;
}

/** Where the bytes of a layer come from when a target needs them. */
export type LayerSource =
  /** A blob of the base image: mounted or copied from base.registry/base.repository. */
  | { kind: 'base' }
  /** A deterministic tar regenerated from content blobs by the recipe stored at this object-store key. */
  | { kind: 'recipe'; key: string }
  /** Stored whole in the object store at keys.blob(digest) (compressed layers). */
  | { kind: 'blob' };

export interface Descriptor {
  mediaType: string;
  /** sha256:<hex> */
  digest: string;
  size: number;
}

export interface OciLayer {
  mediaType: string;
  /** sha256:<hex>; null while the layer has never been hashed (see OciBuiltImage). */
  digest: string | null;
  size: number;
  /** sha256 of the uncompressed tar (equals digest for uncompressed layers); null with digest. */
  diffId: string | null;
  source: LayerSource;
}

/**
 * An OCI image as both builders describe it, by reference to where each blob's bytes live: plain
 * JSON, so the push stage may run in another process and get it back from the store. The manifest
 * and config bytes are store blobs at keys.blob(manifestDigest) and keys.blob(configDigest). Any
 * target publishes any image from this alone, whichever builder made it.
 *
 * A model layer whose bytes were never seen before is left for the first publish to hash while it
 * uploads (one pass over a new payload instead of two); until then its digest, and so the config and
 * manifest digests, are null, and `assembly` says how the publish completes them. Once every layer is
 * known (an unchanged payload, any later build, or an image exported by a Docker engine) the image
 * is complete.
 */
export interface OciImage {
  manifestDigest: string | null;
  manifestMediaType: string;
  manifestSize: number | null;
  configDigest: string | null;
  configSize: number | null;
  /** Base layers first, then the model's layers (dependencies, files, one per large file, contract last). */
  layers: OciLayer[];
  base: BaseImage | null;
  /** True when the image is the model's layers on an empty base (no runtime configured or reachable). */
  modelOnly: boolean;
  /** `os/arch[/variant]` of the image config. */
  platform: string;
  /** Our labels (the config also keeps the runtime's). */
  labels: Record<string, string>;
  warnings: ImageWarning[];
  /** What the config and manifest are made of, besides the layers; null for an image complete when built. */
  assembly: {
    /** The runtime's config, a store blob. */
    baseConfigDigest: string | null;
    /** `created_by` of each model layer's history entry. */
    history: string[];
    annotations: Record<string, string>;
  } | null;
}

/** An image built without a daemon (the oci builder). */
export interface OciBuiltImage extends OciImage {
  kind: 'oci';
  builder: 'oci';
  /** The /model/lib layer, when the model has dependencies and they were installed. */
  dependencies?: DependencyLayerInfo | null;
}

/**
 * An image built by a Docker engine and exported from it (`docker save`, streamed) into the store:
 * its model layers are store blobs, its base layers those of the runtime's registry. Complete.
 */
export interface DockerBuiltImage extends OciImage {
  kind: 'docker';
  builder: 'docker';
  /** sha256:<hex> image id in the engine. */
  imageId: string;
  /** The local tag the build gave it (`mll-build/<model>:<version>`). */
  localTag: string;
  /** What the `RUN pip install` step installed (names and versions from pip's output; the engine keeps no wheel hashes). */
  dependencies?: DependencySummary | null;
}

export type BuiltImage = OciBuiltImage | DockerBuiltImage;

export interface ImageBuilder {
  readonly name: 'oci' | 'docker';
  /** Idempotent: a retried build finds its outputs in the store (or the engine's cache). */
  build(req: BuildRequest, ctx: StageContext): Promise<BuiltImage>;
  /** Readiness; throws BUILDER_UNAVAILABLE. */
  check(): Promise<void>;
}

export interface PublishRef {
  /** The model name (the target adds its namespace). */
  repository: string;
  /** The version number as a string. */
  tag: string;
}

export interface PublishedImage {
  /** registry/namespace/name:tag, or oci:<layout dir>:<tag> (a skopeo/crane-style reference). */
  reference: string;
  /** Manifest digest, sha256:<hex>. */
  digest: string;
}

export interface ImageTarget {
  readonly name: 'registry' | 'oci-layout';
  /** Idempotent: skips blobs already present; the manifest (by tag) is written last. */
  publish(image: BuiltImage, ref: PublishRef, ctx: StageContext): Promise<PublishedImage>;
  /** Readiness; throws REGISTRY_UNAVAILABLE / REGISTRY_AUTH_FAILED (or STORE_UNAVAILABLE for a layout). */
  check(): Promise<void>;
}
