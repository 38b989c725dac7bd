import path from 'node:path';
import { MllError, type ErrorCode } from '../../errors.js';
import { redactUrlCredentials } from '../../shared/redact.js';
import type { DependencySpec } from '../types.js';

/**
 * Reads a requirements file the way pip does (continuation lines, comments, option lines,
 * per-requirement options) and refuses, before pip ever runs, what would let a model choose where
 * code comes from or run it: index overrides, editables, URLs, paths outside the payload, build
 * options, environment variables; source builds unless the operator allows them.
 */

/** The payload as the requirements see it (paths relative to the model root, `/`-separated). */
export interface PayloadView {
  isFile(p: string): boolean;
  isDir(p: string): boolean;
  /** Every file under a directory, recursively. */
  filesUnder(dir: string): string[];
  read(p: string): Promise<string>;
}

export interface VettedRequirements {
  /** Where pip starts: the payload path of the top file (a name of our own for an install-command). */
  entry: string;
  /** Every requirements/constraints file pip reads, the top one first, with its text. */
  files: { path: string; text: string }[];
  /** Payload files pip installs from besides those (local wheels; sdists and source trees when allowed). */
  localFiles: string[];
  /** Requirement lines (packages asked for) across every file. */
  requirements: number;
  /** The logical lines of every file, comments and blank lines dropped: what the cache key hashes. */
  canonical: string[];
}

/** The scratch name an install-command's requirement lines are written under (at the payload root). */
export const INSTALL_COMMAND_FILE = '.mll-install-command.txt';
const MAX_FILES = 32;
const archiveExt = /\.(whl|zip|tar|tgz|tar\.gz|tar\.bz2|tbz|tar\.xz|txz)$/i;
const urlLike = /^[a-z][a-z0-9+.-]*:(\/\/|[^\s]*\/)/i;
const envVar = /\$\{[A-Z0-9_]+\}/;

interface LogicalLine {
  line: number;
  text: string;
}

/** pip's preprocessing: join `\` continuations, drop comments (`#` at the start or after whitespace) and blank lines. */
export function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const physical = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let pending: LogicalLine | undefined;
  physical.forEach((raw, i) => {
    const continues = /\\$/.test(raw) && !/(^|\s)#/.test(raw);
    const body = continues ? raw.slice(0, -1) : raw;
    pending = pending ? { line: pending.line, text: pending.text + body } : { line: i + 1, text: body };
    if (continues && i < physical.length - 1) return;
    const stripped = pending.text.replace(/(^|\s+)#.*$/, '').trim();
    if (stripped !== '') out.push({ line: pending.line, text: stripped.replace(/\s+/g, ' ') });
    pending = undefined;
  });
  return out;
}

/** Splits an option line like a shell would (quotes kept together), as pip does with shlex. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

type Refusal = { code: ErrorCode; why: string };

const indexOptions = new Set(['-i', '--index-url', '--extra-index-url', '-f', '--find-links', '--trusted-host']);
const buildOptions = new Set(['--global-option', '--install-option', '--build-option', '--config-settings', '-C']);
const harmlessFlags = new Set(['--pre', '--prefer-binary', '--require-hashes', '--no-index']);
const valueOptions = new Set(['-r', '--requirement', '-c', '--constraint', '-e', '--editable', '--only-binary', '--no-binary',
  '--hash', '--use-feature', ...indexOptions, ...buildOptions]);

/** `--name=value`, `--name value`, `-Xvalue`, `-X value` → [name, value]. */
function takeOption(words: string[], i: number): { name: string; value?: string; next: number } {
  const word = words[i]!;
  if (word.startsWith('--')) {
    const eq = word.indexOf('=');
    if (eq > 0) return { name: word.slice(0, eq), value: word.slice(eq + 1), next: i + 1 };
    if (valueOptions.has(word)) return { name: word, value: words[i + 1], next: i + 2 };
    return { name: word, next: i + 1 };
  }
  const name = word.slice(0, 2);
  if (word.length > 2) return { name, value: word.slice(2).replace(/^=/, ''), next: i + 1 };
  return { name, value: valueOptions.has(name) ? words[i + 1] : undefined, next: valueOptions.has(name) ? i + 2 : i + 1 };
}

function optionRefusal(name: string, allowSdist: boolean): Refusal | undefined {
  if (indexOptions.has(name)) {
    return { code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'sets where packages come from; the package index is the operator\'s choice (MLL_PIP_INDEX_URL, MLL_PIP_EXTRA_INDEX_URL). Remove the line and publish the packages to that index' };
  }
  if (name === '-e' || name === '--editable') {
    return { code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'is an editable install, which needs a source checkout at run time. List the package by name (or as a wheel in the payload) instead' };
  }
  if (buildOptions.has(name)) {
    return { code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'passes options to a package\'s build code; ML Lambda installs wheels and does not pass build options' };
  }
  if (name === '--no-binary' && !allowSdist) {
    return { code: 'DEPENDENCY_SDIST_REFUSED', why: 'asks pip to build from source, which runs package code on the build worker; building from source is not allowed here (MLL_PIP_ALLOW_SDIST). Remove the line so wheels are used' };
  }
  if (name === '--no-binary' || harmlessFlags.has(name) || ['-r', '--requirement', '-c', '--constraint', '--only-binary', '--hash'].includes(name)) return undefined;
  return { code: 'DEPENDENCY_FORBIDDEN_OPTION', why: `uses ${name}, which is not an option ML Lambda accepts in a requirements file (allowed: -r, -c, --hash, --require-hashes, --pre, --prefer-binary, --only-binary, --no-index)` };
}

/** A path (relative to `from`, a payload directory) resolved inside the payload, or undefined when it leaves it. */
function insidePayload(from: string, p: string): string | undefined {
  if (p.startsWith('/') || p.startsWith('~') || /^[a-z]:[\\/]/i.test(p)) return undefined;
  const joined = path.posix.normalize(path.posix.join(from || '.', p.replace(/\\/g, '/')));
  if (joined === '..' || joined.startsWith('../')) return undefined;
  return joined.replace(/\/+$/, '') || '.';
}

function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('~') || /[\\/]/.test(spec) || archiveExt.test(spec);
}

/**
 * Checks every line of the requirements (and of the payload files they include with -r/-c) and
 * returns what pip needs from the payload. Throws a DEPENDENCY_* MllError naming the file and line.
 */
export async function vetRequirements(spec: DependencySpec, payload: PayloadView, opts: { allowSdist: boolean }): Promise<VettedRequirements> {
  const entry = spec.source === 'requirements.txt' ? 'requirements.txt' : INSTALL_COMMAND_FILE;
  const shownName = (p: string) => (p === INSTALL_COMMAND_FILE ? 'serving.yaml install-command' : p);
  const files: { path: string; text: string }[] = [];
  const localFiles = new Set<string>();
  const canonical: string[] = [];
  let requirements = 0;
  const queue: { path: string; text: string }[] = [{ path: entry, text: spec.text }];
  const seen = new Set([entry]);

  while (queue.length > 0) {
    const file = queue.shift()!;
    files.push(file);
    canonical.push(`# ${file.path}`);
    const dir = file.path === INSTALL_COMMAND_FILE ? '' : path.posix.dirname(file.path).replace(/^\.$/, '');
    for (const { line, text } of logicalLines(file.text)) {
      const refuse = (r: Refusal): never => {
        throw new MllError(r.code, `${shownName(file.path)} line ${line}: "${redactUrlCredentials(text)}" ${r.why}`, {
          details: { file: shownName(file.path), line, text: redactUrlCredentials(text) },
        });
      };
      if (envVar.test(text)) refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'refers to an environment variable; the build has none to offer. Write the value itself' });
      canonical.push(text);
      if (text.startsWith('-')) {
        const words = shellWords(text);
        for (let i = 0; i < words.length;) {
          const opt = takeOption(words, i);
          i = opt.next;
          const refusal = optionRefusal(opt.name, opts.allowSdist);
          if (refusal) refuse(refusal);
          if (!['-r', '--requirement', '-c', '--constraint'].includes(opt.name)) continue;
          const target = opt.value ?? '';
          if (target === '' || urlLike.test(target)) {
            refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'includes a file that is not in the payload; -r and -c may only name files uploaded with the model' });
          }
          const resolved = insidePayload(dir, target);
          if (!resolved || !payload.isFile(resolved)) {
            refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: `includes "${target}", which is ${resolved ? 'not a file in the payload' : 'outside the payload'}; -r and -c may only name files uploaded with the model` });
          }
          if (seen.has(resolved!)) continue;
          if (seen.size >= MAX_FILES) refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: `includes more than ${MAX_FILES} requirements files` });
          seen.add(resolved!);
          queue.push({ path: resolved!, text: await payload.read(resolved!) });
        }
        continue;
      }
      // A requirement, then its own options (pip: arguments up to the first word starting with '-').
      const words = text.split(' ');
      const firstOption = words.findIndex((w) => w.startsWith('-'));
      const req = (firstOption < 0 ? words : words.slice(0, firstOption)).join(' ');
      const reqOptions = firstOption < 0 ? [] : words.slice(firstOption);
      for (let i = 0; i < reqOptions.length;) {
        const opt = takeOption(reqOptions, i);
        i = opt.next;
        if (opt.name !== '--hash') refuse(optionRefusal(opt.name, opts.allowSdist) ?? { code: 'DEPENDENCY_FORBIDDEN_OPTION', why: `uses ${opt.name} on a requirement; only --hash is accepted there` });
        if (!/^(sha256|sha384|sha512):[a-f0-9]+$/i.test(opt.value ?? '')) {
          refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'has a --hash that is not algorithm:hex (e.g. --hash=sha256:…)' });
        }
      }
      requirements++;
      const direct = /^[^@]*@\s*(\S+)/.exec(req);
      if (urlLike.test(req) || (direct && urlLike.test(direct[1]!))) {
        refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'installs from a URL; packages come from the configured index (MLL_PIP_INDEX_URL) or from files in the payload' });
      }
      if (!looksLikePath(req)) continue;
      // Local paths: pip resolves them against its working directory, the payload root.
      const bare = req.replace(/#.*$/, '').replace(/\[[^\]]*\]$/, '');
      const resolved = insidePayload('', bare);
      if (!resolved) refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'names a path outside the payload; local packages must be files uploaded with the model' });
      if (payload.isFile(resolved!)) {
        if (!/\.whl$/i.test(resolved!) && !opts.allowSdist) {
          refuse({ code: 'DEPENDENCY_SDIST_REFUSED', why: 'is a source distribution; building it would run its code on the build worker, which is not allowed here (MLL_PIP_ALLOW_SDIST). Upload a wheel instead' });
        }
        localFiles.add(resolved!);
      } else if (payload.isDir(resolved!)) {
        if (!opts.allowSdist) {
          refuse({ code: 'DEPENDENCY_SDIST_REFUSED', why: 'is a source tree; building it would run its code on the build worker, which is not allowed here (MLL_PIP_ALLOW_SDIST). Upload a wheel instead' });
        }
        for (const f of payload.filesUnder(resolved!)) localFiles.add(f);
      } else {
        refuse({ code: 'DEPENDENCY_FORBIDDEN_OPTION', why: 'names a path that is not in the payload; local packages must be files uploaded with the model' });
      }
    }
  }
  return { entry, files, localFiles: [...localFiles].sort(), requirements, canonical };
}
