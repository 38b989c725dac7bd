import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { MllError } from '../../errors.js';
import type { ContractField, DType } from '../types.js';
import { NeedsContract, UNKNOWN_VERSION, type Inferred } from './common.js';

/**
 * Spark ML pipelines: the stage metadata (`metadata/part-00000` of the pipeline and of each stage)
 * mapped stage class by stage class to typed columns, following Hydrosphere's SparkModelFetcher
 * and its mappers as ../shared/fixtures/README.md writes them down. One signature, `default_spark`.
 * No parquet data is read.
 */

export const SIGNATURE = 'default_spark';
const PIPELINE_CLASS = 'org.apache.spark.ml.PipelineModel';
const PACKAGES = ['org.apache.spark.ml.feature.', 'org.apache.spark.ml.classification.', 'org.apache.spark.ml.regression.', 'org.apache.spark.ml.clustering.'];
const MAX_METADATA_BYTES = 8 * 1024 * 1024;
const MAX_STAGES = 10_000;

type Obj = Record<string, unknown>;

export interface StageMetadata {
  class: string;
  sparkVersion?: string;
  uid?: string;
  paramMap: Obj;
  defaultParamMap: Obj;
  top: Obj;
}

export interface StageFields {
  inputs: ContractField[];
  outputs: ContractField[];
  label: string | null;
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first line of a Spark metadata file, as JSON. */
export async function readSparkMetadata(file: string, label: string): Promise<StageMetadata> {
  let text: string;
  try {
    const fh = await open(file, 'r');
    try {
      const buf = new Uint8Array(MAX_METADATA_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = new TextDecoder('utf-8').decode(buf.subarray(0, bytesRead));
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MllError('INVALID_MODEL', `${label} is missing from the Spark pipeline`, { details: { file: label } });
    throw err;
  }
  return parseSparkMetadata(text.split('\n', 1)[0] ?? '', label);
}

export function parseSparkMetadata(line: string, label: string): StageMetadata {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new MllError('INVALID_MODEL', `${label} is not Spark ML metadata: its first line is not JSON`, { details: { file: label } });
  }
  if (!isObj(json) || typeof json.class !== 'string') {
    throw new MllError('INVALID_MODEL', `${label} is not Spark ML metadata: it has no "class"`, { details: { file: label } });
  }
  return {
    class: json.class,
    sparkVersion: typeof json.sparkVersion === 'string' ? json.sparkVersion : undefined,
    uid: typeof json.uid === 'string' ? json.uid : undefined,
    paramMap: isObj(json.paramMap) ? json.paramMap : {},
    defaultParamMap: isObj(json.defaultParamMap) ? json.defaultParamMap : {},
    top: json,
  };
}

const S: number[] = [];
const V: number[] = [-1];

function field(name: string, dtype: DType, shape: number[] | null): ContractField {
  return { name, dtype, shape: shape === null ? null : [...shape] };
}

/** The columns one stage reads and writes, by its class (the table of fixtures/README.md). */
export function stageFields(meta: StageMetadata): StageFields {
  const param = (p: string): unknown => {
    const v = meta.paramMap[p];
    return v === undefined || v === null ? meta.defaultParamMap[p] : v;
  };
  const col = (p: string): string | undefined => {
    const v = param(p);
    return typeof v === 'string' ? v : undefined;
  };
  const size = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) ? v : -1);
  const F = [size(meta.top.numFeatures)];
  const C = [size(meta.top.numClasses)];

  const inputs: ContractField[] = [];
  const outputs: ContractField[] = [];
  let label: string | null = null;
  const input = (p: string, dtype: DType, shape: number[] | null): void => {
    const c = col(p);
    if (c !== undefined) inputs.push(field(c, dtype, shape));
  };
  const output = (p: string, dtype: DType, shape: number[] | null): void => {
    const c = col(p);
    if (c !== undefined) outputs.push(field(c, dtype, shape));
  };
  const predictor = (): void => {
    input('featuresCol', 'double', F);
    output('predictionCol', 'double', S);
    label = col('labelCol') ?? null;
  };

  const pkg = PACKAGES.find((p) => meta.class.startsWith(p));
  const short = pkg ? meta.class.slice(pkg.length) : null;
  switch (short) {
    case 'HashingTF':
    case 'CountVectorizerModel':
      input('inputCol', 'string', V);
      output('outputCol', 'double', V);
      break;
    case 'IDF':
      input('inputCol', 'double', F);
      output('outputCol', 'double', V);
      break;
    case 'Word2VecModel':
      input('inputCol', 'string', V);
      output('outputCol', 'double', [size(param('vectorSize'))]);
      break;
    case 'Tokenizer':
    case 'RegexTokenizer':
      input('inputCol', 'string', S);
      output('outputCol', 'string', V);
      break;
    case 'StopWordsRemover':
    case 'NGram':
      input('inputCol', 'string', V);
      output('outputCol', 'string', V);
      break;
    case 'Binarizer':
    case 'Bucketizer':
      input('inputCol', 'double', S);
      output('outputCol', 'double', S);
      break;
    case 'PCAModel':
      input('inputCol', 'double', F);
      output('outputCol', 'double', [size(param('k'))]);
      break;
    case 'StringIndexerModel':
      input('inputCol', 'string', S);
      output('outputCol', 'double', S);
      break;
    case 'IndexToString':
      input('inputCol', 'double', S);
      output('outputCol', 'string', S);
      break;
    case 'OneHotEncoder':
      input('inputCol', 'string', S);
      output('outputCol', 'double', V);
      break;
    case 'VectorIndexerModel':
      input('inputCol', 'double', F);
      output('outputCol', 'double', S);
      break;
    case 'PolynomialExpansion':
    case 'DCT':
    case 'Interaction':
    case 'Normalizer':
    case 'StandardScalerModel':
    case 'MinMaxScalerModel':
    case 'MaxAbsScalerModel':
    case 'ElementwiseProduct':
    case 'BucketedRandomProjectionLSHModel':
    case 'MinHashLSHModel':
      input('inputCol', 'double', F);
      output('outputCol', 'double', V);
      break;
    case 'VectorSlicer':
      input('inputCol', 'variant', V);
      output('outputCol', 'variant', V);
      break;
    case 'VectorAssembler': {
      const cols = param('inputCols');
      if (Array.isArray(cols)) for (const c of cols) if (typeof c === 'string') inputs.push(field(c, 'variant', null));
      output('outputCol', 'double', F);
      break;
    }
    case 'ChiSqSelectorModel':
      input('featuresCol', 'double', F);
      output('outputCol', 'double', V);
      break;
    case 'LogisticRegressionModel':
    case 'MultilayerPerceptronClassificationModel':
    case 'LinearRegressionModel':
    case 'GeneralizedLinearRegressionModel':
    case 'DecisionTreeRegressionModel':
    case 'RandomForestRegressionModel':
    case 'GBTRegressionModel':
    case 'AFTSurvivalRegressionModel':
    case 'IsotonicRegressionModel':
      predictor();
      break;
    case 'LinearSVCModel':
      predictor();
      output('rawPredictionCol', 'double', C);
      break;
    case 'DecisionTreeClassificationModel':
    case 'RandomForestClassificationModel':
    case 'GBTClassificationModel':
    case 'NaiveBayesModel':
      predictor();
      output('rawPredictionCol', 'double', C);
      output('probabilityCol', 'double', C);
      break;
    case 'KMeansModel':
      input('featuresCol', 'double', F);
      output('predictionCol', 'int32', S);
      break;
    default:
      // Unknown stage: the columns it names, untyped, rather than a guess.
      for (const p of ['inputCol', 'featuresCol']) input(p, 'string', null);
      for (const p of ['outputCol', 'predictionCol', 'probabilityCol', 'rawPredictionCol']) output(p, 'string', null);
      label = col('labelCol') ?? null;
  }
  return { inputs, outputs, label };
}

function containsSlice(list: readonly string[], slice: readonly string[]): boolean {
  if (slice.length === 0) return true;
  for (let i = 0; i + slice.length <= list.length; i++) {
    if (slice.every((s, j) => list[i + j] === s)) return true;
  }
  return false;
}

/** Steps 4-6 of the rules: merge the stages' columns into the pipeline's inputs and outputs. */
export function mergeStages(stages: readonly StageFields[]): { inputs: ContractField[]; outputs: ContractField[] } {
  const allIns = new Map<string, ContractField>();
  const allOuts = new Map<string, ContractField>();
  for (const s of stages) {
    for (const f of s.inputs) allIns.set(f.name, f);
    for (const f of s.outputs) allOuts.set(f.name, f);
  }
  const labels = stages.flatMap((s) => (s.label === null ? [] : [s.label]));
  const dropped = new Set<string>(allOuts.keys());
  if (labels.length > 0) {
    for (const s of stages) {
      if (containsSlice(s.outputs.map((f) => f.name), labels)) for (const f of s.inputs) dropped.add(f.name);
    }
  }
  const inputs = [...allIns.values()].filter((f) => !dropped.has(f.name));
  const outputs = [...allOuts.values()].filter((f) => !allIns.has(f.name));
  return { inputs, outputs };
}

async function stageDirectories(stagesDir: string): Promise<string[]> {
  try {
    return await readdir(stagesDir);
  } catch {
    return [];
  }
}

/** `dir` holds `metadata/part-00000`; `rel` is its path inside the upload, for messages. */
export async function inferSpark(dir: string, rel: string): Promise<Inferred> {
  const prefix = rel === '' ? '' : `${rel.replace(/\/+$/, '')}/`;
  const root = await readSparkMetadata(path.join(dir, 'metadata', 'part-00000'), `${prefix}metadata/part-00000`);
  const version = root.sparkVersion || UNKNOWN_VERSION;
  let stages: StageMetadata[];
  if (root.class === PIPELINE_CLASS) {
    const uids = root.paramMap.stageUids;
    if (!Array.isArray(uids) || !uids.every((u): u is string => typeof u === 'string')) {
      throw new MllError('INVALID_MODEL', `${prefix}metadata/part-00000 is a PipelineModel without a stageUids list`, {
        details: { file: `${prefix}metadata/part-00000` },
      });
    }
    if (uids.length > MAX_STAGES) {
      throw new MllError('INVALID_MODEL', `the Spark pipeline lists ${uids.length} stages; more than ${MAX_STAGES} cannot be a real pipeline`, {
        details: { file: `${prefix}metadata/part-00000` },
      });
    }
    // Stage i is the folder <i>_<uid>, i possibly zero-padded.
    const byKey = new Map<string, string>();
    for (const e of await stageDirectories(path.join(dir, 'stages'))) {
      const m = /^(\d+)_(.*)$/s.exec(e);
      if (m) byKey.set(`${Number(m[1])}\u0000${m[2]}`, e);
    }
    stages = [];
    for (const [i, uid] of uids.entries()) {
      const name = byKey.get(`${i}\u0000${uid}`);
      if (name === undefined) {
        throw new MllError('INVALID_MODEL', `the Spark pipeline lists stage ${i} (${uid}) but ${prefix}stages/ has no ${i}_${uid} directory`, {
          details: { file: `${prefix}stages/${i}_${uid}` },
        });
      }
      stages.push(await readSparkMetadata(path.join(dir, 'stages', name, 'metadata', 'part-00000'), `${prefix}stages/${name}/metadata/part-00000`));
    }
  } else {
    // A single stage saved on its own (not wrapped in a PipelineModel) is read as a one-stage pipeline.
    stages = [root];
  }
  const { inputs, outputs } = mergeStages(stages.map(stageFields));
  if (inputs.length === 0 && outputs.length === 0) {
    throw new NeedsContract(`the Spark ${root.class.split('.').pop()} in ${prefix || './'} names no input or output columns`, `spark:${version}`);
  }
  return {
    contract: { framework: 'spark', signatures: [{ name: SIGNATURE, inputs, outputs }] },
    modelType: `spark:${version}`,
  };
}
