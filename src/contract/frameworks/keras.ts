import { MllError } from '../../errors.js';
import { UNKNOWN_VERSION, type Inferred } from './common.js';
import { readH5RootAttributes } from './h5-attributes.js';
import { contractFromKerasConfig } from './keras-config.js';

/** Keras HDF5 (*.h5): the root attributes `model_config` (JSON) and `keras_version`. */
export async function inferKeras(file: string, label: string): Promise<Inferred> {
  const { attributes } = await readH5RootAttributes(file, ['model_config', 'keras_version'], label);
  const raw = attributes.model_config;
  if (raw === null || raw === undefined) {
    throw new MllError(
      'INVALID_MODEL',
      `${label} has no model_config attribute: it holds weights only (saved with save_weights?). ` +
        'Save the whole model with model.save("model.h5"), or add a serving.yaml with the contract.',
      { details: { file: label } },
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(raw);
  } catch {
    throw new MllError('INVALID_MODEL', `${label}: its model_config attribute is not valid JSON`, { details: { file: label } });
  }
  const version = attributes.keras_version?.trim() || UNKNOWN_VERSION;
  return { contract: contractFromKerasConfig(config, label), modelType: `keras:${version}` };
}
