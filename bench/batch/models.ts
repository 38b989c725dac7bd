import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Small Python models for the batch benchmark and the CLI tests: serving.yaml with a contract
 * and src/func_main.py defining its functions, padded to about `bytes` in total.
 */

export function servingYaml(name: string): string {
  return [
    'kind: Model',
    `name: "${name}"`,
    'model-type: "python:3.11"',
    'payload:',
    '  - "src/"',
    'contract:',
    '  predict:',
    '    inputs:',
    '      x:',
    '        shape: [-1, 4]',
    '        type: float',
    '        profile: numerical',
    '    outputs:',
    '      y:',
    '        shape: [-1]',
    '        type: float',
    '        profile: numerical',
    '',
  ].join('\n');
}

export function funcMain(name: string, bytes: number): string {
  const head = [
    `"""${name}: a generated model for ML Lambda's batch benchmark."""`,
    '',
    `WEIGHTS = [${Array.from({ length: 4 }, (_, i) => ((i + 1) / 10).toFixed(1)).join(', ')}]`,
    '',
    '',
    'def predict(x):',
    '    return [sum(w * v for w, v in zip(WEIGHTS, row)) for row in x]',
    '',
  ].join('\n');
  // Padding as comment lines, different per model (so payloads do not deduplicate).
  const lines: string[] = [];
  let size = Buffer.byteLength(head);
  for (let i = 0; size < bytes; i++) {
    const line = `# ${name} padding line ${i} ${'.'.repeat(48)}\n`;
    lines.push(line);
    size += line.length;
  }
  return `${head}\n${lines.join('')}`;
}

/** Writes one model folder `<root>/<name>`; returns its path. */
export async function writePythonModel(root: string, name: string, options: { bytes?: number; brokenYaml?: boolean } = {}): Promise<string> {
  const dir = path.join(root, name);
  await fs.mkdir(path.join(dir, 'src'), { recursive: true });
  const yaml = options.brokenYaml ? servingYaml(name).replace('type: float', 'type: float99') : servingYaml(name);
  await fs.writeFile(path.join(dir, 'serving.yaml'), yaml);
  await fs.writeFile(path.join(dir, 'src', 'func_main.py'), funcMain(name, (options.bytes ?? 10 * 1024) - Buffer.byteLength(yaml)));
  return dir;
}

/** `count` models named `<prefix>-0000`, `<prefix>-0001`, … under `root`; returns their folders. */
export async function writePythonModels(root: string, prefix: string, count: number, options: { bytes?: number } = {}): Promise<string[]> {
  const width = Math.max(4, String(count - 1).length);
  const dirs: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const chunk = Array.from({ length: Math.min(50, count - i) }, (_, j) => `${prefix}-${String(i + j).padStart(width, '0')}`);
    dirs.push(...(await Promise.all(chunk.map((name) => writePythonModel(root, name, options)))));
  }
  return dirs;
}
