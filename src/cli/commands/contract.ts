import type { Command } from 'commander';
import { encodeContract, inspectModel, type Inspection } from '../../contract/index.js';
import { dialectDescriptions } from '../../contract/serving-yaml.js';
import type { ContractField } from '../../contract/types.js';
import { isMllError } from '../../errors.js';
import type { CliIO, CommandRegistrar } from '../program.js';

/**
 * `mll contract <dir-or-file> [--json]`: the contract the service would infer for a model, read
 * locally without uploading anything. With --json, stdout holds exactly the contract's JSON form.
 */

function shapeText(f: ContractField): string {
  if (f.shape === null) return 'unknown rank';
  if (f.shape.length === 0) return 'scalar';
  return `[${f.shape.map((d, i) => f.dimNames?.[i] ?? String(d)).join(', ')}]`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

/** A record's fields follow it, named by their path (`person.age`). */
function flatten(fields: ContractField[], prefix = ''): { path: string; field: ContractField }[] {
  return fields.flatMap((f) => [{ path: prefix + f.name, field: f }, ...flatten(f.subfields ?? [], `${prefix}${f.name}.`)]);
}

export function renderInspection(inspection: Inspection): string {
  const { contract, modelType } = inspection;
  const lines = [`model-type  ${modelType}`, `framework   ${contract.framework}`];
  const yaml = inspection.servingYaml;
  if (yaml) {
    const from = yaml.contract ? `contract${yaml.contractFile ? ` from ${yaml.contractFile}` : ''}` : 'no contract: inferred from the files';
    lines.push(`source      ${yaml.file} (${from})`, `dialect     ${dialectDescriptions[yaml.dialect]}`);
    if (yaml.displayName !== yaml.name) lines.push(`name        ${yaml.name} (${yaml.file} says "${yaml.displayName}")`);
  }
  const all = contract.signatures.flatMap((s) => flatten([...s.inputs, ...s.outputs]));
  const withProfile = all.some(({ field }) => field.profile !== undefined);
  for (const s of contract.signatures) {
    lines.push('', `signature ${s.name}`);
    const header = ['', 'field', 'dtype', 'shape', ...(withProfile ? ['profile'] : [])];
    const rows = [header];
    for (const [dir, fields] of [['in', s.inputs], ['out', s.outputs]] as const) {
      for (const { path, field: f } of flatten(fields)) rows.push([dir, path, f.dtype, shapeText(f), ...(withProfile ? [f.profile ?? ''] : [])]);
    }
    lines.push(...table(rows).map((l) => `  ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

function encodingProblem(inspection: Inspection): string | null {
  try {
    encodeContract('check', inspection.contract);
    return null;
  } catch (err) {
    return isMllError(err) ? err.message : null;
  }
}

export const registerContractCommand: CommandRegistrar = (program: Command, io: CliIO) => {
  program
    .command('contract')
    .description('print the contract the service would infer for a model folder or file (nothing is uploaded)')
    .argument('<path>', 'the model folder as it would be uploaded, or a single model file')
    .option('--name <name>', 'the model name (used in messages and the serving.yaml example)')
    .option('--model-type <type>', 'model-type as the upload would declare it, e.g. tensorflow:1.14.0')
    .showHelpAfterError(false)
    .action(async (target: string, opts: { name?: string; modelType?: string }, cmd: Command) => {
      const { json } = cmd.optsWithGlobals<{ json?: boolean }>();
      let inspection: Inspection;
      try {
        inspection = await inspectModel(target, { modelName: opts.name, modelType: opts.modelType });
      } catch (err) {
        const message = isMllError(err) ? `${err.code}: ${err.message}` : `unexpected error: ${err instanceof Error ? err.message : String(err)}`;
        cmd.error(`error: ${message}`, { exitCode: 1, code: isMllError(err) ? `mll.${err.code}` : 'mll.INTERNAL' });
        return;
      }
      for (const w of inspection.warnings) io.stderr.write(`warning: ${w.message}\n`);
      const problem = encodingProblem(inspection);
      if (problem) io.stderr.write(`warning: the version would fail: ${problem}\n`);
      io.stdout.write(json ? `${JSON.stringify(inspection.contract, null, 2)}\n` : renderInspection(inspection));
    });
};
