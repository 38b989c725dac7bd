import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Warning } from '../domain/version.js';
import { isMllError, MllError } from '../errors.js';
import { classifyFile, detect, type Candidate, type Framework } from './detect.js';
import { diffContracts } from './diff.js';
import { NeedsContract, UNKNOWN_VERSION, type Inferred } from './frameworks/common.js';
import { inferKeras } from './frameworks/keras.js';
import { inferOnnx } from './frameworks/onnx.js';
import { inferSpark } from './frameworks/spark.js';
import { inferTensorflow } from './frameworks/tensorflow.js';
import { contractRequired, DEFAULT_MODEL_TYPE, nameFromPath } from './minimal-yaml.js';
import { sourceOfTarget } from './payload.js';
import { checkPythonFunctions, loadServingYaml, modelTypePattern, PYTHON_ENTRY, SERVING_YAML_NAMES, type ServingYaml } from './serving-yaml.js';
import type { Contract, ContractSignature } from './types.js';

/**
 * The contract module's public API: what a model consumes and produces, read statically from
 * its files (no model is ever run) or from serving.yaml, plus the binary form and the diff.
 */

export type { Contract, ContractField, ContractSignature, DType, Profile } from './types.js';
export type { ServingYaml } from './serving-yaml.js';
export { encodeContract, decodeContract } from './binary.js';
export { diffContracts } from './diff.js';

export interface Inspection {
  /** JSON form, signatures sorted by name. */
  contract: Contract;
  /** framework:version ("tensorflow:1.14.0", "onnx:12", "keras:2.2.2", "spark:2.1.1", "python:3.6"). */
  modelType: string;
  /** The parsed serving.yaml, when the upload has one. */
  servingYaml: ServingYaml | null;
  warnings: Warning[];
}

export interface InspectOptions {
  /** The model's name (upload metadata); used in messages and compared with serving.yaml's. */
  modelName?: string;
  /** model-type from the upload metadata; serving.yaml wins, a disagreement is a warning. */
  modelType?: string;
  /** `strict`: unknown serving.yaml keys fail instead of warning (MLL_SERVING_YAML). */
  servingYaml?: 'lenient' | 'strict';
  /** The upload was assembled by a Hydrosphere client: serving.yaml's payload is not applied again (ServingYamlOptions). */
  payloadAssembled?: boolean;
}

function frameworkOf(modelType: string): string {
  return modelType.split(':')[0] ?? '';
}

function versionOf(modelType: string): string {
  return modelType.slice(modelType.indexOf(':') + 1);
}

/** fs errors that say "this upload is not readable" rather than "try again later". */
const fileFaults = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EINVAL']);

async function inferCandidate(c: Candidate): Promise<Inferred> {
  try {
    switch (c.framework) {
      case 'tensorflow':
        return await inferTensorflow(path.join(c.path, 'saved_model.pb'), c.marker);
      case 'onnx':
        return await inferOnnx(c.path, c.marker);
      case 'keras':
        return await inferKeras(c.path, c.marker);
      case 'spark':
        return await inferSpark(c.path, c.rel);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (typeof code === 'string' && fileFaults.has(code)) {
      throw new MllError('INVALID_MODEL', `${c.marker} cannot be read (${code})`, { details: { file: c.marker }, cause: err });
    }
    throw err;
  }
}

function mismatchWarning(declared: string, declaredBy: string, detected: string): Warning | null {
  if (declared === detected) return null;
  const sameFramework = frameworkOf(declared) === frameworkOf(detected);
  if (sameFramework && (versionOf(detected) === UNKNOWN_VERSION || versionOf(declared) === UNKNOWN_VERSION)) return null;
  return {
    code: 'MODEL_TYPE_MISMATCH',
    message: `${declaredBy} says model-type ${declared}, but the model files say ${detected}; ${declared} is used`,
    details: { declared, declaredBy, detected },
  };
}

/**
 * The model-type a version gets when it declares one and its files tell one: the declared one,
 * except that a declared framework without a version (`tensorflow:unknown`, what a 2018 client's
 * bare `tensorflow` becomes) takes the version the files tell.
 */
function resolveDeclared(declared: string, detected: string): string {
  const versionless = versionOf(declared) === UNKNOWN_VERSION && frameworkOf(declared) === frameworkOf(detected);
  return versionless ? detected : declared;
}

/** The candidate to read: the only one, or the only one of the declared framework. */
function choose(candidates: Candidate[], declaredFramework: string | undefined): Candidate | 'none' | 'ambiguous' {
  if (candidates.length === 0) return 'none';
  if (candidates.length === 1) return candidates[0]!;
  const matching = candidates.filter((c) => c.framework === declaredFramework);
  return matching.length === 1 ? matching[0]! : 'ambiguous';
}

function inPayload(marker: string, payload: string[]): boolean {
  return payload.some((e) => (e.endsWith('/') ? marker.startsWith(e) : marker === e));
}

/**
 * Inspects an extracted upload (a directory) or a single model file: validates serving.yaml if
 * present, finds the model file(s), reads the contract and the model-type. Throws MllError:
 * INVALID_SERVING_YAML, PAYLOAD_ENTRY_MISSING, INVALID_MODEL, CONTRACT_REQUIRED.
 */
export async function inspectModel(target: string, options: InspectOptions = {}): Promise<Inspection> {
  const st = await stat(target).catch(() => null);
  if (!st) throw new MllError('INVALID_MODEL', `${target} does not exist`);
  if (st.isFile()) return inspectFile(target, options);
  if (!st.isDirectory()) throw new MllError('INVALID_MODEL', `${target} is neither a folder nor a file`);
  return inspectDirectory(target, options);
}

function declaredFromOptions(options: InspectOptions, warnings: Warning[]): string | undefined {
  const t = options.modelType;
  if (t === undefined || t === '') return undefined;
  if (modelTypePattern.test(t)) return t;
  warnings.push({
    code: 'MODEL_TYPE_IGNORED',
    message: `the upload's model-type "${t}" is not <framework>:<version>; it is ignored`,
    details: { declared: t },
  });
  return undefined;
}

async function inspectDirectory(dir: string, options: InspectOptions): Promise<Inspection> {
  const warnings: Warning[] = [];
  const loaded = await loadServingYaml(dir, { strict: options.servingYaml === 'strict', payloadAssembled: options.payloadAssembled });
  const yaml = loaded?.yaml ?? null;
  if (loaded) warnings.push(...loaded.warnings);
  const detection = await detect(dir);
  if (detection.files === 0) {
    throw new MllError('INVALID_MODEL', 'the upload is empty: it holds no files (hidden files are ignored)');
  }

  const modelName = yaml?.name ?? options.modelName ?? nameFromPath(path.basename(path.resolve(dir)));
  if (yaml && options.modelName !== undefined && options.modelName !== yaml.name) {
    warnings.push({
      code: 'MODEL_NAME_MISMATCH',
      message: `${yaml.file} names the model ${yaml.name}, the upload was for ${options.modelName}`,
      details: { servingYaml: yaml.name, upload: options.modelName },
    });
  }
  const fromOptions = declaredFromOptions(options, warnings);
  if (yaml?.modelType && fromOptions !== undefined && fromOptions !== yaml.modelType && resolveDeclared(fromOptions, yaml.modelType) !== yaml.modelType) {
    warnings.push({
      code: 'MODEL_TYPE_MISMATCH',
      message: `the upload says model-type ${fromOptions}, ${yaml.file} says ${yaml.modelType}; ${yaml.modelType} is used`,
      details: { declared: yaml.modelType, declaredBy: yaml.file, upload: fromOptions },
    });
  }
  const declared = yaml?.modelType ?? fromOptions;
  const declaredBy = yaml?.modelType ? yaml.file : 'the upload';
  const declaredFramework = declared === undefined ? undefined : frameworkOf(declared);

  let candidates = detection.candidates;
  if (yaml?.payloadDeclared && yaml.payload.length > 0) {
    candidates = candidates.filter((c) => inPayload(c.marker, yaml.payload));
  }
  const payloadForExample = detection.topLevel.filter((e) => !(SERVING_YAML_NAMES as readonly string[]).includes(e));

  if (yaml?.contract) return contractFromServingYaml(dir, yaml, yaml.contract, declared, candidates, warnings);

  if (declaredFramework === 'python') {
    throw contractRequired(`${yaml ? yaml.file : 'the upload'} declares a python model without a contract`, modelName, declared!, yaml?.payload.length ? yaml.payload : payloadForExample);
  }
  const picked = choose(candidates, declaredFramework);
  if (picked === 'none') {
    const seen = detection.unreadable[0];
    const reason = seen ? `${seen.rel}: ${seen.why}` : 'the upload holds no model file this service can read (saved_model.pb, *.onnx, *.h5, Spark ML metadata)';
    const guess = declared ?? DEFAULT_MODEL_TYPE;
    throw contractRequired(reason, modelName, guess, yaml?.payload.length ? yaml.payload : payloadForExample);
  }
  if (picked === 'ambiguous') {
    const list = candidates.map((c) => `${c.marker} (${c.framework})`).join(', ');
    throw new MllError(
      'INVALID_MODEL',
      `the upload holds ${candidates.length} model files: ${list}. Upload one model per version, or list the one to serve in serving.yaml's payload.`,
      { details: { candidates: candidates.map((c) => ({ file: c.marker, framework: c.framework })) } },
    );
  }
  let inferred: Inferred;
  try {
    inferred = await inferCandidate(picked);
  } catch (err) {
    if (err instanceof NeedsContract) {
      throw contractRequired(err.reason, modelName, declared ?? err.modelType, yaml?.payload.length ? yaml.payload : payloadForExample);
    }
    throw err;
  }
  let modelType = inferred.modelType;
  if (declared !== undefined) {
    const w = mismatchWarning(declared, declaredBy, inferred.modelType);
    if (w) warnings.push(w);
    modelType = resolveDeclared(declared, inferred.modelType);
  }
  return { contract: inferred.contract, modelType, servingYaml: yaml, warnings };
}

/**
 * serving.yaml has a contract: it is used. The model files are still read (except for python
 * models) to tell the model-type when serving.yaml does not, and to warn when they disagree.
 * Without either, a payload with src/func_main.py is a python model; anything else gets
 * `unknown:unknown` and a warning.
 */
async function contractFromServingYaml(
  dir: string,
  yaml: ServingYaml,
  signatures: ContractSignature[],
  declared: string | undefined,
  candidates: Candidate[],
  warnings: Warning[],
): Promise<Inspection> {
  let modelType = declared;
  const declaredBy = yaml.modelType ? yaml.file : 'the upload';
  const framework = (): string => frameworkOf(modelType ?? 'unknown:unknown');
  if (modelType === undefined || frameworkOf(modelType) !== 'python') {
    const picked = choose(candidates, modelType === undefined ? undefined : frameworkOf(modelType));
    if (typeof picked !== 'string') {
      try {
        const inferred = await inferCandidate(picked);
        if (modelType === undefined) modelType = inferred.modelType;
        const w = mismatchWarning(modelType, declaredBy, inferred.modelType);
        if (w) warnings.push(w);
        modelType = resolveDeclared(modelType, inferred.modelType);
        const diff = diffContracts({ ...inferred.contract, framework: framework() }, { framework: framework(), signatures });
        if (diff.changes.length > 0) {
          warnings.push({
            code: 'CONTRACT_MISMATCH',
            message: `${yaml.file}'s contract differs from the one ${picked.marker} declares (${diff.changes.length} difference${diff.changes.length === 1 ? '' : 's'}); ${yaml.file} is used`,
            details: { file: picked.marker, changes: diff.changes },
          });
        }
      } catch (err) {
        if (!(isMllError(err) || err instanceof NeedsContract)) throw err;
        warnings.push({
          code: 'INFERENCE_FAILED',
          message: `the contract could not be read from ${picked.marker} (${err.message.split('\n')[0]}); ${yaml.file}'s contract is used`,
          details: { file: picked.marker },
        });
      }
    }
  }
  if (modelType === undefined) {
    const main = sourceOfTarget(yaml.placements, PYTHON_ENTRY);
    const isFile = main !== null && (await stat(path.join(dir, main)).catch(() => null))?.isFile() === true;
    if (isFile) {
      modelType = `python:${UNKNOWN_VERSION}`;
      const issues = await checkPythonFunctions(dir, yaml.file, signatures, yaml.placements);
      if (issues.length > 0) throw new MllError('INVALID_SERVING_YAML', `${yaml.file}: ${issues.map((i) => `${i.path}: expected ${i.expected}, found ${i.found}`).join('; ')}`, { details: issues });
    } else {
      modelType = 'unknown:unknown';
      warnings.push({
        code: 'MODEL_TYPE_UNKNOWN',
        message: `${yaml.file} does not say the model-type (no model-type, and the runtime image's name does not tell it), and the files do not either; add model-type: <framework>:<version>`,
        details: { file: yaml.file },
      });
    }
  }
  return { contract: { framework: framework(), signatures }, modelType, servingYaml: yaml, warnings };
}

/** A single model file (the CLI accepts one): no serving.yaml, no payload. */
async function inspectFile(file: string, options: InspectOptions): Promise<Inspection> {
  const warnings: Warning[] = [];
  const base = path.basename(file);
  const declared = declaredFromOptions(options, warnings);
  const modelName = options.modelName ?? nameFromPath(base);
  const kind = classifyFile(base);
  if (kind === null || 'why' in kind) {
    const reason = kind ? `${base}: ${kind.why}` : `${base} is not a model file this service can read (saved_model.pb, *.onnx, *.h5)`;
    throw contractRequired(reason, modelName, declared ?? DEFAULT_MODEL_TYPE, [base]);
  }
  const framework: Framework = kind.framework;
  const candidate: Candidate =
    framework === 'tensorflow'
      ? { framework, path: path.dirname(file), rel: '', marker: base }
      : { framework, path: file, rel: base, marker: base };
  let inferred: Inferred;
  try {
    inferred = await inferCandidate(candidate);
  } catch (err) {
    if (err instanceof NeedsContract) throw contractRequired(err.reason, modelName, declared ?? err.modelType, [base]);
    throw err;
  }
  let modelType = inferred.modelType;
  if (declared !== undefined) {
    const w = mismatchWarning(declared, 'the upload', inferred.modelType);
    if (w) warnings.push(w);
    modelType = resolveDeclared(declared, inferred.modelType);
  }
  return { contract: inferred.contract, modelType, servingYaml: null, warnings };
}
