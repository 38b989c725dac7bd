import { CommanderError } from 'commander';

/**
 * How `mll` ends. Scripts can rely on these codes; `mll --help` lists them.
 */
export const ExitCode = {
  OK: 0,
  /** A version failed, a batch item failed or was refused, or the API refused the request. */
  FAILED: 1,
  /** Unknown command or option, a missing or invalid argument. */
  USAGE: 2,
  /** The API (or the Docker engine, or a runtime) cannot be reached or is unavailable: retrying later may help. */
  UNAVAILABLE: 3,
  /** --timeout passed before the version (or batch) became terminal. */
  TIMEOUT: 4,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const exitCodesHelp = [
  'Exit codes:',
  '  0  success',
  '  1  a version failed, a batch item failed or was refused, or the API refused the request',
  '  2  usage error: unknown command or option, missing or invalid argument',
  '  3  the API, the Docker engine or a runtime cannot be reached or is unavailable; retry later',
  '  4  timed out waiting (--timeout)',
].join('\n');

/** An error `mll` reports to the user: `code: message`, or {"error": {...}} with --json. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly details: unknown;
  /** HTTP status when the API answered with this error. */
  readonly status: number | undefined;
  /** The answer's Retry-After, if it had one. */
  readonly retryAfter: string | undefined;

  constructor(code: string, message: string, options: { exitCode?: ExitCodeValue; details?: unknown; status?: number; retryAfter?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.FAILED;
    this.details = options.details;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

export function usageError(message: string, details?: unknown): CliError {
  return new CliError('USAGE', message, { exitCode: ExitCode.USAGE, details });
}

const usageCodes = new Set([
  'commander.unknownOption', 'commander.unknownCommand', 'commander.missingArgument', 'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue', 'commander.conflictingOption', 'commander.excessArguments',
  'commander.invalidArgument', 'commander.invalidOptionArgument', 'commander.help',
]);

/** Any error that ends a command, as a CliError with its exit code (help and version end with 0). */
export function toCliError(err: unknown): CliError | null {
  if (err instanceof CliError) return err;
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0)) return null;
    if (err.code === 'commander.help') return new CliError('USAGE', 'a command is needed (mll --help lists them)', { exitCode: ExitCode.USAGE });
    if (usageCodes.has(err.code)) return new CliError('USAGE', err.message.replace(/^error: /, ''), { exitCode: ExitCode.USAGE });
    // Commands report their own failures with cmd.error(…, { code: 'mll.<CODE>' }).
    const code = err.code.startsWith('mll.') ? err.code.slice(4) : 'FAILED';
    const message = err.message.replace(/^error: /, '').replace(new RegExp(`^${code}: `), '');
    return new CliError(code, message, { exitCode: err.exitCode === 0 ? ExitCode.FAILED : (err.exitCode as ExitCodeValue) });
  }
  const e = err as Error;
  return new CliError('INTERNAL', `unexpected error: ${e?.message ?? String(err)}`, { exitCode: ExitCode.FAILED, details: e?.stack });
}

/** One line for people, or the API's error shape for scripts. */
export function renderError(err: CliError, json: boolean): string {
  if (json) {
    const error: Record<string, unknown> = { code: err.code, message: err.message };
    if (err.details !== undefined && err.code !== 'INTERNAL') error.details = err.details;
    if (err.status !== undefined) error.status = err.status;
    return `${JSON.stringify({ error })}\n`;
  }
  return `error: ${err.code === 'USAGE' ? '' : `${err.code}: `}${err.message}\n`;
}
