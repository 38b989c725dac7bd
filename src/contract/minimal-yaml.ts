import { modelNamePattern } from '../domain/model-name.js';
import { MllError } from '../errors.js';

/**
 * CONTRACT_REQUIRED: the model has no metadata to read a contract from. The message shows a
 * minimal serving.yaml filled with the model's name that the user can complete and upload.
 */

export const DEFAULT_MODEL_TYPE = 'python:3.6';

/** A valid model name from a folder or file name ("My Model.onnx" -> "my-model"). */
export function nameFromPath(base: string): string {
  const stem = base.replace(/\.[A-Za-z0-9]+$/, '');
  const name = stem.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+/, '').replace(/-+$/, '').slice(0, 63);
  return modelNamePattern.test(name) ? name : 'my-model';
}

export function minimalServingYaml(name: string, modelType: string, payload: string[]): string {
  const entries = (payload.length > 0 ? payload : ['src/']).slice(0, 20).map((p) => `  - ${JSON.stringify(p)}`);
  return [
    'kind: Model',
    `name: ${JSON.stringify(name)}`,
    `model-type: ${JSON.stringify(modelType)}`,
    'payload:',
    ...entries,
    'contract:',
    '  predict:',
    '    inputs:',
    '      input:',
    '        shape: [-1]',
    '        type: double',
    '    outputs:',
    '      output:',
    '        shape: [-1]',
    '        type: double',
    '',
  ].join('\n');
}

export function contractRequired(reason: string, name: string, modelType: string, payload: string[]): MllError {
  const isPython = modelType.startsWith('python:');
  const entries = isPython && !payload.includes('src/') ? [...payload, 'src/'] : payload;
  const yaml = minimalServingYaml(name, modelType, entries);
  const python = isPython ? ' For a python model, src/func_main.py must define a top-level function per signature (here: def predict(...)).' : '';
  return new MllError(
    'CONTRACT_REQUIRED',
    `${reason}, so no contract can be read from the files. Add a serving.yaml with the contract at the root of the upload.${python} ` +
      `For example (set the real fields, shapes and types):\n\n${yaml}`,
    { details: { reason, servingYaml: yaml } },
  );
}
