import path from 'node:path';
import { parse, type ParseEntry } from 'shell-quote';

/**
 * Hydrosphere's `install-command` (serving.yaml) and `installCommand` (v2 upload metadata) was a
 * shell command run in the image build. ML Lambda runs no shell commands: it installs Python
 * packages in the dependency layer from requirements.txt syntax, without running package code.
 * So a command made only of `pip install …` steps (pip, pip3, pipX.Y, python -m pip, with or
 * without sudo, joined by && or ;) becomes that requirement text; anything else is refused,
 * naming the part, with what to do instead.
 *
 * Translation: `-r f` / `-c f` stay `-r f` / `-c f` lines (files of the payload, resolved by the
 * dependency layer against the image's files), each requirement becomes a line, `--pre`,
 * `--only-binary`, `--no-binary`, `--prefer-binary` stay as requirements-file options, options
 * that only change how pip behaves at install time (-U, --user, -q, --no-cache-dir, …) are
 * dropped with a note, `pip` itself as a requirement (`pip install -U pip`) is dropped.
 * Options that choose where packages come from or go (-i, --extra-index-url, -f, --target, -e)
 * are refused: the package index is the operator's.
 */

export type InstallCommandResult =
  | { ok: true; requirements: string; notes: string[] }
  | { ok: false; part: string; reason: string };

const MAX_COMMAND_LENGTH = 8192;

/** Options that only change how pip runs; no effect on what is installed in the layer. */
const droppedFlags = new Set([
  '-U', '--upgrade', '--user', '-q', '--quiet', '-v', '--verbose', '--no-cache-dir', '--no-cache', '--force-reinstall',
  '-I', '--ignore-installed', '--no-warn-script-location', '--disable-pip-version-check', '--no-color', '--isolated',
  '--compile', '--no-compile', '--no-deps', '--ignore-requires-python', '--no-build-isolation', '--use-pep517',
  '--no-input', '--break-system-packages', '--root-user-action=ignore', '-qq', '-qqq', '-vv', '-vvv',
]);
const droppedWithValue = new Set(['--upgrade-strategy', '--progress-bar', '--timeout', '--retries', '--exists-action', '--default-timeout', '--log', '--cache-dir', '--root-user-action']);
/** Options a requirements file may hold as they are. */
const keptFlags = new Set(['--pre', '--prefer-binary', '--require-hashes']);
const keptWithValue = new Set(['--only-binary', '--no-binary']);
const refused: Readonly<Record<string, string>> = {
  '-i': 'the package index is the operator\'s (MLL_PIP_INDEX_URL)',
  '--index-url': 'the package index is the operator\'s (MLL_PIP_INDEX_URL)',
  '--extra-index-url': 'the package index is the operator\'s (MLL_PIP_EXTRA_INDEX_URL)',
  '--no-index': 'the package index is the operator\'s (MLL_PIP_INDEX_URL)',
  '-f': 'packages come from the operator\'s index, not from links',
  '--find-links': 'packages come from the operator\'s index, not from links',
  '--trusted-host': 'the package index is the operator\'s (MLL_PIP_TRUSTED_HOST)',
  '-e': 'editable installs are not supported; list the package in requirements.txt',
  '--editable': 'editable installs are not supported; list the package in requirements.txt',
  '-t': 'packages always go to the dependency layer (/model/lib)',
  '--target': 'packages always go to the dependency layer (/model/lib)',
  '--prefix': 'packages always go to the dependency layer (/model/lib)',
  '--root': 'packages always go to the dependency layer (/model/lib)',
  '--src': 'editable installs are not supported',
  '--global-option': 'build options run package code at build time',
  '--install-option': 'build options run package code at build time',
  '--config-settings': 'build options run package code at build time',
};

const whatToDo = 'put Python packages in requirements.txt (installed without running package code), and system packages in a runtime image the operator allows (serving.yaml runtime:)';

function isPip(word: string): boolean {
  return /^pip(?:[0-9]+(?:\.[0-9]+)?)?$/.test(path.posix.basename(word));
}

function isPython(word: string): boolean {
  return /^python(?:[0-9]+(?:\.[0-9]+)?)?$/.test(path.posix.basename(word));
}

interface Step {
  words: string[];
  text: string;
}

function splitSteps(command: string): Step[] | { part: string; reason: string } {
  const variables: string[] = [];
  let entries: ParseEntry[];
  try {
    entries = parse(command, (key) => {
      variables.push(key);
      return `$${key}`;
    });
  } catch (err) {
    return { part: command, reason: `it cannot be read as a shell command (${(err as Error).message})` };
  }
  if (variables.length > 0) return { part: `$${variables[0]!}`, reason: 'shell variables are not expanded: write the value itself' };
  const steps: Step[] = [];
  let words: string[] = [];
  const close = () => {
    if (words.length > 0) steps.push({ words, text: words.join(' ') });
    words = [];
  };
  for (const e of entries) {
    if (typeof e === 'string') {
      if (/[`]/.test(e) || e.includes('$(')) return { part: e, reason: 'command substitution is shell; it is not run' };
      words.push(e);
    } else if ('comment' in e) {
      break;
    } else if ('op' in e && (e.op === '&&' || e.op === ';')) {
      close();
    } else if ('op' in e && e.op === 'glob') {
      return { part: e.pattern, reason: 'file patterns are not expanded: name the packages or use -r requirements.txt' };
    } else {
      return { part: 'op' in e ? e.op : String(e), reason: 'pipes, redirects, subshells and background jobs are shell; only pip install steps joined by && or ; are understood' };
    }
  }
  close();
  return steps;
}

/** The words after `install` of one step, or why the step is not a pip install. */
function pipInstallArgs(step: Step): string[] | string {
  let w = step.words;
  if (w[0] === 'sudo') {
    w = w.slice(1);
    while (w[0]?.startsWith('-')) w = w.slice(1);
  }
  while (w.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(w[0]!)) w = w.slice(1);
  if (w.length === 0) return 'it runs no command';
  let rest: string[];
  if (isPip(w[0]!)) rest = w.slice(1);
  else if (isPython(w[0]!) && w[1] === '-m' && w[2] === 'pip') rest = w.slice(3);
  else return `only pip install steps are run, and this one runs ${path.posix.basename(w[0]!)}`;
  while (rest[0] === '-q' || rest[0] === '--quiet' || rest[0] === '--disable-pip-version-check' || rest[0] === '--no-cache-dir') rest = rest.slice(1);
  if (rest[0] !== 'install') return `only "pip install" is run, not "pip ${rest[0] ?? ''}"`.trimEnd();
  return rest.slice(1);
}

/** Translates an install command into requirements.txt text, or says which part is refused and why. */
export function installCommandToRequirements(command: string): InstallCommandResult {
  if (command.length > MAX_COMMAND_LENGTH) return { ok: false, part: `${command.slice(0, 40)}...`, reason: `the command is longer than ${MAX_COMMAND_LENGTH} characters` };
  const steps = splitSteps(command);
  if (!Array.isArray(steps)) return { ok: false, part: steps.part, reason: `${steps.reason}; ${whatToDo}` };
  const lines: string[] = [];
  const notes: string[] = [];
  const dropped = new Set<string>();
  for (const step of steps) {
    const args = pipInstallArgs(step);
    if (typeof args === 'string') return { ok: false, part: step.text, reason: `${args}; ${whatToDo}` };
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      const eq = arg.indexOf('=');
      const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
      const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
      const value = (): string | null => inline ?? args[++i] ?? null;
      if (arg.startsWith('-r') || arg.startsWith('-c') || flag === '--requirement' || flag === '--constraint') {
        const short = arg.startsWith('-r') || arg.startsWith('-c');
        const v = short && arg.length > 2 ? arg.slice(2) : value();
        if (!v) return { ok: false, part: step.text, reason: `${arg} needs a file name` };
        lines.push(`${arg.startsWith('-c') || flag === '--constraint' ? '-c' : '-r'} ${v}`);
      } else if (Object.hasOwn(refused, flag)) {
        return { ok: false, part: arg, reason: refused[flag]! };
      } else if (droppedFlags.has(arg)) {
        dropped.add(arg);
      } else if (droppedWithValue.has(flag)) {
        value();
        dropped.add(flag);
      } else if (keptFlags.has(arg)) {
        lines.push(arg);
      } else if (keptWithValue.has(flag)) {
        const v = value();
        if (!v) return { ok: false, part: step.text, reason: `${flag} needs a value` };
        lines.push(`${flag} ${v}`);
      } else if (arg.startsWith('-')) {
        return { ok: false, part: arg, reason: 'this pip option is not understood; put the requirements in requirements.txt' };
      } else if (/^pip(?:[<>=!~ ;[]|$)/i.test(arg)) {
        notes.push(`"${arg}" is not installed: the dependency layer brings its own pip`);
      } else {
        lines.push(arg);
      }
    }
  }
  if (dropped.size > 0) notes.push(`pip options that do not change what is installed are dropped: ${[...dropped].join(', ')}`);
  return { ok: true, requirements: lines.length === 0 ? '' : `${lines.join('\n')}\n`, notes };
}
