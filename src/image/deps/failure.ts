import { MllError } from '../../errors.js';
import { formatBytes } from '../util.js';
import type { PipOutcome } from './pip.js';
import { probeIndexes } from './probe.js';
import type { PythonTarget } from './python-target.js';

export interface FailureContext {
  python: PythonTarget;
  /** Index URLs (with credentials, for the probe only). */
  indexUrls: string[];
  /** The same without credentials, for messages. */
  publicIndexUrls: string[];
  allowSdist: boolean;
  timeoutMs: number;
  maxBytes: number;
  interpreter: string;
  redact(text: string): string;
  signal: AbortSignal;
}

const MAX_MESSAGE = 1500;
const connectionTrouble = /NewConnectionError|Connection refused|Max retries exceeded|connection broken|Read timed out|ConnectTimeoutError|Name or service not known|Temporary failure in name resolution|ProxyError|SSLError|\b50[0234] (Server )?Error/i;
const credentialTrouble = /\b40[13] (Client )?Error|Credentials not correct|401 Unauthorized|403 Forbidden/i;

function clip(text: string): string {
  return text.length <= MAX_MESSAGE ? text : `${text.slice(0, MAX_MESSAGE - 1)}…`;
}

/** pip's ERROR lines and the indented lines under them: what a user needs, without the progress. */
export function pipErrorLines(tail: string[]): string[] {
  const out: string[] = [];
  let inError = false;
  for (const line of tail) {
    if (/^ERROR: /.test(line)) {
      inError = true;
      out.push(line.replace(/^ERROR: /, ''));
    } else if (inError && /^\s+\S/.test(line)) out.push(line.trim());
    else inError = false;
  }
  return out;
}

/** The worker's interpreter cannot be run (`cause`), or has no pip (no cause). */
export function interpreterUnavailable(interpreter: string, cause?: NodeJS.ErrnoException): MllError {
  const why = cause ? `${interpreter} cannot be run (${cause.code ?? cause.message})` : `${interpreter} has no pip`;
  return new MllError('BUILDER_UNAVAILABLE',
    `This worker cannot install dependencies: ${why}. Install python3 and python3-pip on the worker, or point MLL_PIP_PYTHON at an interpreter with pip`,
    { details: { interpreter }, ...(cause ? { cause } : {}) });
}

export function describeTarget(python: PythonTarget): string {
  return `Python ${python.version} (${python.abis[0]}) on ${python.platform}`;
}

/** Turns a failed pip run into the version's error: which requirement, for which Python and platform, and why. */
export async function pipFailure(outcome: PipOutcome, fc: FailureContext): Promise<MllError> {
  const { python } = fc;
  const target = describeTarget(python);
  const details = (extra: Record<string, unknown> = {}) => ({ python: python.version, platform: python.platform, ...extra });
  const tail = outcome.tail.map(fc.redact);
  const text = tail.join('\n');
  const errors = pipErrorLines(tail);

  const sandboxRefused = outcome.sandboxed ? tail.find((l) => /^bwrap: /.test(l)) : undefined;
  if (outcome.sandboxed && (outcome.spawnError?.code === 'ENOENT' || sandboxRefused)) {
    const why = sandboxRefused ? `it refused to start (${sandboxRefused.trim()})` : 'bwrap is not installed';
    return new MllError('BUILDER_UNAVAILABLE',
      `This worker cannot build source distributions: they run in a bubblewrap sandbox (MLL_PIP_ALLOW_SDIST) and ${why}. Install bubblewrap on the worker and allow it user namespaces, or set MLL_PIP_SANDBOX=none to build without a sandbox`,
      { details: { sandbox: 'bwrap' } });
  }
  if (outcome.spawnError) return interpreterUnavailable(fc.interpreter, outcome.spawnError);
  if (/No module named pip\b/.test(text)) return interpreterUnavailable(fc.interpreter);
  if (outcome.stopped === 'timeout') {
    const last = tail.filter((l) => l.trim() !== '').slice(-1)[0];
    return new MllError('DEPENDENCY_TIMEOUT',
      `Installing the dependencies for ${target} took longer than ${Math.round(fc.timeoutMs / 1000)} s (MLL_PIP_TIMEOUT_MS) and was stopped${last ? `; pip was at: ${last.trim()}` : ''}`,
      { details: details({ timeoutMs: fc.timeoutMs }) });
  }
  if (outcome.stopped === 'too-large') return tooLarge(fc.maxBytes, undefined, target);

  if (/DO NOT MATCH THE HASHES/.test(text)) {
    const lines = errors.filter((l) => !/^THESE PACKAGES|^If you have updated/.test(l));
    return new MllError('DEPENDENCY_HASH_MISMATCH',
      clip(`A downloaded package does not match the hash pinned for it (a --hash in the requirements, or the one the package index publishes): ${lines.join(' ').replace(/\s+/g, ' ')}`),
      { details: details({ pip: errors }) });
  }
  if (/THESE PACKAGES|--require-hashes|Hashes are required/.test(text)) {
    return new MllError('DEPENDENCY_HASH_MISMATCH', clip(`pip refused the requirements' hashes: ${errors.join(' ').replace(/\s+/g, ' ')}`), { details: details({ pip: errors }) });
  }

  const notFound = /No matching distribution found for (\S+)/.exec(text);
  if (notFound) {
    const requirement = notFound[1]!;
    const versions = new RegExp(`satisfies the requirement ${escapeRe(requirement)}.*\\(from versions: ([^)]*)\\)`).exec(text)?.[1]?.trim();
    if (credentialTrouble.test(text)) return indexRefused(fc, requirement);
    if (connectionTrouble.test(text)) return indexUnreachable(fc, requirement);
    if (versions && versions !== 'none') {
      return new MllError('DEPENDENCY_UNRESOLVABLE',
        `No version of "${requirement}" fits: the index has ${versions} with wheels for ${target}`,
        { details: details({ requirement, versions: versions.split(/,\s*/) }) });
    }
    const project = /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(requirement)?.[0] ?? requirement;
    const probe = await probeIndexes(project, fc.indexUrls, fc.signal);
    if (!probe.reachable) return indexUnreachable(fc, requirement);
    if (probe.sdists.length > 0 && !fc.allowSdist) {
      const wheels = probe.wheels.length > 0 ? `; its wheels (${list(probe.wheels)}) are for other Pythons or platforms` : '';
      return new MllError('DEPENDENCY_SDIST_REFUSED',
        `"${requirement}" is available only as a source distribution for ${target} (${list(probe.sdists)})${wheels}. ` +
        'Building it would run its code on the build worker, which is not allowed here (MLL_PIP_ALLOW_SDIST); publish a wheel for this Python and platform to the index',
        { details: details({ requirement, sdists: probe.sdists.slice(0, 10) }) });
    }
    if (probe.wheels.length > 0) {
      return new MllError('DEPENDENCY_UNRESOLVABLE',
        `No wheel of "${requirement}" fits ${target}; the index has ${list(probe.wheels)}`,
        { details: details({ requirement, wheels: probe.wheels.slice(0, 10) }) });
    }
    return new MllError('DEPENDENCY_UNRESOLVABLE',
      `"${requirement}" is not on the package index (${fc.publicIndexUrls.join(', ')}); check its name, or publish it there`,
      { details: details({ requirement }) });
  }
  if (/ResolutionImpossible|conflicting dependencies/i.test(text)) {
    const cause = tail.slice(tail.findIndex((l) => /The conflict is caused by/.test(l))).filter((l) => /^\s+\S/.test(l)).map((l) => l.trim());
    return new MllError('DEPENDENCY_UNRESOLVABLE',
      clip(`The requirements conflict for ${target}: ${(cause.length > 0 ? cause : errors).join('; ')}`),
      { details: details({ pip: errors }) });
  }
  if (credentialTrouble.test(text)) return indexRefused(fc);
  if (connectionTrouble.test(text)) return indexUnreachable(fc);
  const shown = errors.length > 0 ? errors.slice(-10) : tail.filter((l) => l.trim() !== '').slice(-5);
  return new MllError('DEPENDENCY_INSTALL_FAILED',
    clip(`pip could not install the requirements for ${target} (exit ${outcome.exitCode ?? 'signal'}): ${shown.join(' | ')}`),
    { details: details({ pip: shown }) });
}

export function tooLarge(maxBytes: number, installed: number | undefined, target: string): MllError {
  const size = installed === undefined ? `more than ${formatBytes(maxBytes)}` : `${formatBytes(installed)}, more than ${formatBytes(maxBytes)}`;
  return new MllError('DEPENDENCY_TOO_LARGE',
    `The dependencies installed for ${target} take ${size} (MLL_DEPENDENCY_MAX_BYTES); trim the requirements or ask the operator to raise the limit`,
    { details: { maxBytes, installedBytes: installed ?? null } });
}

function indexUnreachable(fc: FailureContext, requirement?: string): MllError {
  return new MllError('DEPENDENCY_INDEX_UNAVAILABLE',
    `The package index (${fc.publicIndexUrls.join(', ')}) cannot be reached${requirement ? ` while looking for "${requirement}"` : ''}; the build is retried`,
    { details: { indexUrls: fc.publicIndexUrls, ...(requirement ? { requirement } : {}) } });
}

function indexRefused(fc: FailureContext, requirement?: string): MllError {
  return new MllError('DEPENDENCY_INDEX_UNAVAILABLE',
    `The package index (${fc.publicIndexUrls.join(', ')}) refused the configured credentials${requirement ? ` while looking for "${requirement}"` : ''}; check MLL_PIP_INDEX_URL`,
    { details: { indexUrls: fc.publicIndexUrls, ...(requirement ? { requirement } : {}) } });
}

function list(files: string[]): string {
  return files.length <= 4 ? files.join(', ') : `${files.slice(0, 4).join(', ')} and ${files.length - 4} more`;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
