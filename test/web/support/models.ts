import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { streamToBuffer } from '../../support/client.js';
import { packDirectory } from '../../../src/archive/pack-dir.js';
import { repoRoot } from '../../support/paths.js';
import { makeTar } from '../../support/tar.js';

/** The model archives the web tests upload. */
export const tokenizerDir = path.join(repoRoot, 'test', 'fixtures', 'models', 'python-tokenizer');

/** python-tokenizer as a .tar.gz, packed by the same code as `mll push`. */
export async function tokenizerTarGz(): Promise<Buffer> {
  return streamToBuffer(packDirectory(tokenizerDir, { gzip: true }));
}

/**
 * A second version of the tokenizer whose contract breaks callers: `count` takes a new required
 * input and returns int32, `tokenize` loses its profile, and a `detokenize` signature appears.
 */
export async function tokenizerV2TarGz(): Promise<Buffer> {
  const source = await readFile(path.join(tokenizerDir, 'src', 'func_main.py'), 'utf8');
  const yaml = `kind: Model
name: "python-tokenizer"
model-type: "python:3.11"
payload:
  - "src/"
  - "requirements.txt"
contract:
  tokenize:
    inputs:
      text:
        shape: [-1]
        type: string
    outputs:
      tokens:
        shape: [-1, -1]
        type: string
        profile: text
  count:
    inputs:
      text:
        shape: scalar
        type: string
      language:
        shape: scalar
        type: string
    outputs:
      n:
        shape: scalar
        type: int32
        profile: numerical
  detokenize:
    inputs:
      tokens:
        shape: [-1, -1]
        type: string
    outputs:
      text:
        shape: [-1]
        type: string
        profile: text
`;
  return makeTar([
    { name: 'serving.yaml', body: yaml },
    { name: 'requirements.txt', body: '# no third-party requirements\n' },
    { name: 'src/func_main.py', body: `${source}\n\ndef detokenize(tokens):\n    return [' '.join(t) for t in tokens]\n` },
  ], { gzip: true });
}

/** A model whose serving.yaml lists a payload entry that is not in the archive: it fails in extract. */
export async function brokenTarGz(): Promise<Buffer> {
  return makeTar([
    { name: 'serving.yaml', body: 'kind: Model\nname: "broken"\nmodel-type: "python:3.11"\npayload:\n  - "src/"\n  - "weights.bin"\ncontract:\n  predict:\n    inputs:\n      x:\n        shape: [-1]\n        type: float\n    outputs:\n      y:\n        shape: [-1]\n        type: float\n' },
    { name: 'src/func_main.py', body: 'def predict(x):\n    return x\n' },
  ], { gzip: true });
}
