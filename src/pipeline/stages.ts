import { diffContracts } from '../contract/index.js';
import type { ContractDiff, ImageDependencies, Stage, VersionEvent, VersionRecord, Warning } from '../domain/version.js';
import { MllError } from '../errors.js';
import type { BuiltImage, PublishedImage } from '../image/types.js';
import { runBuild, type BuildInput, type BuildOutput } from './build.js';
import { runExtract, type ExtractInput, type ExtractOutput } from './extract.js';
import type { StageFunction } from './ports.js';
import { runPush, type PushInput } from './push.js';

/** What the worker knows beyond the stage's output when it records it. */
export interface ChangeContext {
  /** Reads other versions of the model (the catalogue; a map in unit tests). */
  versions: { get(model: string, version: number): Promise<VersionRecord> };
  /** The configured image target's name. */
  target: string;
}

export interface StageEvent {
  type: 'status' | 'warning';
  status?: VersionEvent['status'];
  stage?: Stage;
  message?: string;
}

/** What a stage's output changes on the version record; applied by the worker with the stage's timing. */
export interface RecordChange {
  apply(record: VersionRecord): void;
  event?: StageEvent;
}

/**
 * One stage as the worker runs it: its input read from the version record, the stage function,
 * and what its output changes on the record. The stage itself never touches the record.
 */
export interface StageDefinition<I, O> {
  name: Stage;
  input(record: VersionRecord): I;
  run: StageFunction<I, O>;
  change(record: VersionRecord, output: O, context: ChangeContext): Promise<RecordChange>;
}

function missing(record: VersionRecord, stage: Stage, what: string): MllError {
  return new MllError('INTERNAL', `Version ${record.model}:${record.version} reached the ${stage} stage without ${what}`);
}

export const extractStage: StageDefinition<ExtractInput, ExtractOutput> = {
  name: 'extract',
  input: (r) => ({
    model: r.model,
    modelType: r.modelType,
    payload: { key: r.payload.key, digest: r.payload.digest, size: r.payload.size, format: r.payload.format },
    sentContract: r.client?.contract ?? null,
    installCommand: r.client?.installCommand ?? null,
    // Uploads through Hydrosphere's routes arrive assembled by the client (entries by base name).
    payloadAssembled: r.client?.origin !== undefined,
  }),
  run: runExtract,
  async change(record, output, { versions }) {
    const diff = await diffAgainstPrevious(versions, record, output.contract);
    return {
      apply(r) {
        r.modelType = output.modelType;
        r.contract = output.contract;
        r.contractDigest = output.contractDigest;
        r.tree = output.tree;
        r.dependencies = output.dependencies;
        r.warnings = mergeWarnings(r.warnings, output.warnings);
        r.diff = diff;
        const yaml = output.servingYaml;
        if (yaml) {
          // serving.yaml's metadata are labels; the upload's own labels win.
          r.labels = { ...yaml.labels, ...r.labels };
          if (yaml.displayName !== null && r.displayName === undefined) r.displayName = yaml.displayName;
          if (yaml.requestedRuntime !== null && !r.client?.runtime) r.client = { ...r.client, runtime: yaml.requestedRuntime };
          // serving.yaml's description (2018a, 2018b, 2019) when the upload gave none (the 2018 CLI sent it as model_description).
          if (yaml.description && r.description === null) r.description = yaml.description;
        }
      },
      event: diff?.breaking ? { type: 'warning', stage: 'extract', message: `The contract has breaking changes against version ${diff.against}` } : undefined,
    };
  },
};

export const buildStage: StageDefinition<BuildInput, BuildOutput> = {
  name: 'build',
  input(r) {
    if (!r.tree || !r.contractDigest || !r.modelType) throw missing(r, 'build', 'an extracted tree and contract');
    return {
      model: r.model,
      version: r.version,
      modelType: r.modelType,
      treeDigest: r.tree.digest,
      contractDigest: r.contractDigest,
      dependencies: r.dependencies ?? null,
      requestedRuntime: r.client?.runtime ?? null,
      labels: r.labels,
      description: r.description,
    };
  },
  run: runBuild,
  async change(_record, { image }, { target }) {
    return {
      apply(r) {
        r.image = {
          reference: '',
          repository: r.model,
          tag: String(r.version),
          digest: null,
          base: image.base ? { reference: image.base.reference, digest: image.base.digest, ...(image.base.matched ? { matched: image.base.matched } : {}) } : null,
          modelOnly: image.modelOnly,
          builder: image.builder,
          target,
          dependencies: imageDependencies(image),
        };
        r.warnings = mergeWarnings(r.warnings, image.warnings);
      },
      event: image.modelOnly ? { type: 'warning', stage: 'build', message: 'Built a model-only image (no runtime base image configured or reachable for this framework)' } : undefined,
    };
  },
};

export const pushStage: StageDefinition<PushInput, PublishedImage> = {
  name: 'push',
  input: (r) => ({ model: r.model, version: r.version }),
  run: runPush,
  async change(_record, published, { target }) {
    return {
      apply(r) {
        r.status = 'released';
        r.image = {
          ...(r.image ?? { repository: r.model, tag: String(r.version), base: null, modelOnly: true, builder: '', target }),
          reference: published.reference,
          digest: published.digest,
        };
        r.error = null;
      },
      event: { type: 'status', status: 'released', stage: 'push', message: releasedMessage(published) },
    };
  },
};

/** How a version's release event names the image it was released with. */
export function releasedMessage(image: { reference: string; digest: string | null }): string {
  return `Released ${image.reference}@${image.digest}`;
}

export const stageDefinitions = { extract: extractStage, build: buildStage, push: pushStage } as const;

/** What went into /model/lib, as the version record shows it. */
function imageDependencies(image: BuiltImage): ImageDependencies | null {
  const d = image.dependencies;
  if (!d) return null;
  const layer = 'digest' in d
    ? { layer: { digest: d.digest, size: d.size, installedBytes: d.installedBytes, files: d.files, reused: d.reused, key: d.key } }
    : {};
  return { source: d.source, python: d.python, packages: d.packages, ...layer };
}

function mergeWarnings(existing: Warning[], added: Warning[]): Warning[] {
  const seen = new Set(existing.map((w) => `${w.code}:${w.message}`));
  return [...existing, ...added.filter((w) => !seen.has(`${w.code}:${w.message}`))];
}

/** Compares with the newest earlier version of the model that has a contract. */
async function diffAgainstPrevious(versions: ChangeContext['versions'], record: VersionRecord, contract: VersionRecord['contract']): Promise<ContractDiff | null> {
  if (!contract) return null;
  for (let v = record.version - 1; v >= 1 && v >= record.version - 50; v--) {
    const previous = await versions.get(record.model, v).catch(() => null);
    if (!previous?.contract) continue;
    const { breaking, changes } = diffContracts(previous.contract, contract);
    return { against: v, breaking, changes };
  }
  return null;
}
