/**
 * The image side of ML Lambda: two ports and their adapters.
 *
 *   ImageBuilder  oci     daemonless: runtime base (resolved by tag to a digest) + the installed
 *                         requirements (/model/lib, one layer, see deps/) + deterministic model
 *                         layers (shared small-files layer, one layer per file of 4 MiB or more, up to
 *                         64 model layers, the contract last) + config + OCI manifest
 *                 docker  dockerode: FROM <runtime>@<digest>, a pip install stage whose /model/lib is
 *                         copied in, COPY files and contract, the same labels; the result is exported
 *                         from the engine (`docker save`, streamed) into the store as an OCI image
 *   ImageTarget   registry    OCI distribution API (HEAD, cross-repo mount, monolithic/chunked upload,
 *                             manifest PUT by tag last; anonymous, basic and bearer auth)
 *                 oci-layout  an OCI image layout per repository under <dataDir>/images
 * Build is separate from publish: every builder returns an OciImage (types.ts) described by where its
 * blobs live, and every target publishes any of them through publish/ (new layers hashed on the way).
 *
 * Object-store keys: `image-layers/<sha256>.json` layer records (entries → digest, size), keyed by
 * everything that decides the layer's bytes; `dependency-layers/<sha256>.json` dependency layer
 * records (keyed by the requirements, target Python/platform, index without secrets, base digest),
 * whose tar is a content-addressed blob; image configs, manifests, gzip layers, runtime configs
 * and Dockerfiles are content-addressed blobs (`blobs/sha256/…`). Uncompressed layers are never
 * stored: they are regenerated from the content blobs. A layer never seen before is hashed by its first
 * publish while it uploads (one pass); its digest is recorded, so an unchanged payload is never read again.
 */
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ObjectStore } from '../storage/object-store.js';
import { DockerImageBuilder } from './docker/builder.js';
import { createDocker } from './docker/engine.js';
import { OciLayoutTarget } from './layout/target.js';
import { OciImageBuilder } from './oci/builder.js';
import { dependencySettings } from './deps/index.js';
import type { Credentials } from './registry/client.js';
import { parseRegistryTarget } from './registry/reference.js';
import { Registries } from './registry/registries.js';
import { RegistryTarget } from './registry/target.js';
import type { ImageBuilder, ImageTarget } from './types.js';

export * from './types.js';
export { OciImageBuilder } from './oci/builder.js';
export { DockerImageBuilder } from './docker/builder.js';
export { RegistryTarget } from './registry/target.js';
export { OciLayoutTarget } from './layout/target.js';
export { Registries } from './registry/registries.js';
export { RegistryClient } from './registry/client.js';
export { createDocker } from './docker/engine.js';
export { labelKeys } from './oci/image-config.js';

export interface ImageDeps {
  store: ObjectStore;
  logger: Logger;
}

const credentialsHint = 'set MLL_REGISTRY_USERNAME and MLL_REGISTRY_PASSWORD';

function credentials(config: Config): Credentials | undefined {
  return config.registryUsername ? { username: config.registryUsername, password: config.registryPassword ?? '' } : undefined;
}

/** One client per registry host; the configured registry gets the configured credentials. */
export function createRegistries(config: Config, logger: Logger): Registries {
  const primary = config.registry ? parseRegistryTarget(config.registry).registry : undefined;
  return new Registries({
    primary: primary ? { registry: primary, insecure: config.registryInsecure, credentials: credentials(config) } : undefined,
    credentialsHint,
    logger,
  });
}

/** The image builder named by MLL_BUILDER: `oci` (daemonless, default) or `docker` (dockerode). */
export function createImageBuilder(config: Config, deps: ImageDeps, registries = createRegistries(config, deps.logger)): ImageBuilder {
  const logger = deps.logger.child({ component: `builder-${config.builder}` });
  if (config.builder === 'docker') {
    const docker = lazy(() => createDocker(config.dockerHost));
    const primary = config.registry ? parseRegistryTarget(config.registry).registry : undefined;
    return new DockerImageBuilder({
      store: deps.store, logger, registries, runtimes: config.runtimes, runtimeAllow: config.runtimeAllow,
      dependencies: dependencySettings(config), docker,
      registry: primary ? { host: primary, credentials: credentials(config) } : undefined,
      scratchDir: path.join(config.dataDirAbs, 'tmp'),
    });
  }
  return new OciImageBuilder({
    store: deps.store, logger, registries, runtimes: config.runtimes, runtimeAllow: config.runtimeAllow, compression: config.layerCompression,
    scratchDir: path.join(config.dataDirAbs, 'tmp'), dependencies: dependencySettings(config),
  });
}

/** The image target named by MLL_TARGET: `oci-layout` under MLL_DATA_DIR/images (default) or `registry`. */
export function createImageTarget(config: Config, deps: ImageDeps, registries = createRegistries(config, deps.logger)): ImageTarget {
  const logger = deps.logger.child({ component: `target-${config.target}` });
  if (config.target === 'registry') {
    return new RegistryTarget({
      store: deps.store, logger, registries, registry: config.registry!, publicRegistry: config.registryPublic,
      failpoints: config.failpoints,
    });
  }
  return new OciLayoutTarget({ store: deps.store, logger, registries, root: path.join(config.dataDirAbs, 'images') });
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
