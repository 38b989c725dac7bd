import { statusMatches, transientErrorCodes, transientStatuses } from './shared/transient.js';

/**
 * The one error catalogue of ML Lambda. Every error a user can see (HTTP responses, CLI messages,
 * a failed version's reason, webhook payloads) carries one of these codes. Each code is declared
 * once with its HTTP status and whether retrying the same work can succeed.
 */
export const errorCatalogue = {
  // 4xx: the request or the model is wrong; retrying the same input never helps.
  BAD_REQUEST: { status: 400, transient: false, description: 'The request is malformed.' },
  INVALID_MODEL_NAME: { status: 400, transient: false, description: 'A model name must match ^[a-z0-9][a-z0-9_-]{0,62}$.' },
  INVALID_VERSION: { status: 400, transient: false, description: 'A version is a positive integer.' },
  INVALID_METADATA: { status: 400, transient: false, description: 'The metadata part or field is not valid.' },
  INVALID_WEBHOOK_URL: { status: 400, transient: false, description: 'A webhook URL must be http(s), without credentials, and reach a public address unless private targets are allowed.' },
  EMPTY_PAYLOAD: { status: 400, transient: false, description: 'The upload carried no bytes.' },
  UNAUTHORIZED: { status: 401, transient: false, description: 'A valid API token is required.' },
  FORBIDDEN: { status: 403, transient: false, description: 'The token lacks the scope this route needs.' },
  NOT_FOUND: { status: 404, transient: false, description: 'No such route or resource.' },
  MODEL_NOT_FOUND: { status: 404, transient: false, description: 'No model with that name.' },
  VERSION_NOT_FOUND: { status: 404, transient: false, description: 'No such version of the model.' },
  WEBHOOK_NOT_FOUND: { status: 404, transient: false, description: 'No webhook endpoint (or delivery of it) with that id.' },
  CONTRACT_NOT_READY: { status: 409, transient: false, description: 'The version has no contract yet (or it failed before one was made).' },
  CONFLICT: { status: 409, transient: false, description: 'The request conflicts with the current state.' },
  PRECONDITION_FAILED: { status: 412, transient: false, description: 'The object changed since it was read, or exists already; read it again and retry the change.' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, transient: false, description: 'The Idempotency-Key was used with a different request.' },
  IDEMPOTENCY_CLAIM_LOST: { status: 409, transient: true, description: 'The request lost its hold on its Idempotency-Key before making anything; retry with the same key.' },
  PAYLOAD_TOO_LARGE: { status: 413, transient: false, description: 'The upload is larger than the configured limit.' },
  ARCHIVE_TOO_LARGE: { status: 413, transient: false, description: 'The archive unpacks to more bytes or files than the configured limits.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, transient: false, description: 'The Content-Type is not one the route accepts.' },
  INVALID_ARCHIVE: { status: 422, transient: false, description: 'The payload is not a readable tar or tar.gz archive.' },
  UNSAFE_ARCHIVE: { status: 422, transient: false, description: 'An archive entry would escape the model root or is not a regular file, directory or safe link.' },
  INVALID_SERVING_YAML: { status: 422, transient: false, description: 'serving.yaml breaks a rule of the contract format.' },
  PAYLOAD_ENTRY_MISSING: { status: 422, transient: false, description: 'serving.yaml lists a payload entry that the upload does not contain.' },
  INVALID_MODEL: { status: 422, transient: false, description: 'The model files cannot be read (truncated, garbage, or contradictory).' },
  CONTRACT_REQUIRED: { status: 422, transient: false, description: 'The framework has no readable metadata: a serving.yaml contract is needed.' },
  UNSUPPORTED_FRAMEWORK: { status: 422, transient: false, description: 'No runtime or inference exists for the model-type framework.' },
  UNSUPPORTED_DTYPE: { status: 422, transient: false, description: 'A field has a dtype the binary contract cannot encode.' },
  DEPENDENCY_FORBIDDEN_OPTION: { status: 422, transient: false, description: 'A requirements line overrides the package index, is editable, or reaches outside the payload.' },
  DEPENDENCY_UNRESOLVABLE: { status: 422, transient: false, description: 'A requirement has no version with a wheel for the runtime\'s Python and platform on the index.' },
  DEPENDENCY_SDIST_REFUSED: { status: 422, transient: false, description: 'A requirement is available only as a source distribution, and building from source is not allowed (MLL_PIP_ALLOW_SDIST).' },
  DEPENDENCY_HASH_MISMATCH: { status: 422, transient: false, description: 'A downloaded package does not match a --hash pinned in the requirements.' },
  DEPENDENCY_INSTALL_FAILED: { status: 422, transient: false, description: 'pip could not install the requirements (its message says why).' },
  DEPENDENCY_TOO_LARGE: { status: 413, transient: false, description: 'The installed dependencies are larger than MLL_DEPENDENCY_MAX_BYTES.' },
  DEPENDENCY_TIMEOUT: { status: 504, transient: false, description: 'Installing the dependencies took longer than MLL_PIP_TIMEOUT_MS.' },
  REGISTRY_AUTH_FAILED: { status: 502, transient: false, description: 'The registry refused the configured credentials.' },
  REGISTRY_REJECTED: { status: 502, transient: false, description: 'The registry refused a blob or manifest.' },
  RATE_LIMITED: { status: 429, transient: true, description: 'Too many requests; retry after the indicated delay.' },
  NOT_IMPLEMENTED: { status: 501, transient: false, description: 'A part of a foreign protocol ML Lambda does not provide (Hydrosphere training data, monitoring, deployment).' },
  // 5xx: something outside the request failed; the same work can succeed later.
  STORE_UNAVAILABLE: { status: 503, transient: true, description: 'The object store cannot be reached.' },
  QUEUE_UNAVAILABLE: { status: 503, transient: true, description: 'Redis (queues, counters, indexes) cannot be reached.' },
  REGISTRY_UNAVAILABLE: { status: 503, transient: true, description: 'The image registry cannot be reached or answered 5xx.' },
  DEPENDENCY_INDEX_UNAVAILABLE: { status: 503, transient: true, description: 'The package index cannot be reached (or refused the configured credentials).' },
  BUILDER_UNAVAILABLE: { status: 503, transient: true, description: 'The image builder (Docker engine) cannot be reached.' },
  SHUTTING_DOWN: { status: 503, transient: true, description: 'The service is shutting down; retry against another instance.' },
  UNREADABLE_RECORD: { status: 500, transient: false, description: 'A stored record is damaged or was written by a newer ML Lambda; the message says which and what to do.' },
  TIMEOUT: { status: 504, transient: true, description: 'An operation took longer than its deadline.' },
  INTERNAL: { status: 500, transient: false, description: 'An unexpected error (a bug, or a state that should not exist); retrying does not help. The log has the details.' },
} as const satisfies Record<string, { status: number; transient: boolean; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

const MLL_ERROR = Symbol.for('ml-lambda.error');

/** The base of every error ML Lambda raises on purpose. `message` is written for the user. */
export class MllError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly [MLL_ERROR] = true;

  constructor(code: ErrorCode, message: string, options: { details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MllError';
    this.code = code;
    this.details = options.details;
  }

  get status(): number {
    return errorCatalogue[this.code].status;
  }

  get transient(): boolean {
    return errorCatalogue[this.code].transient;
  }

  toJSON(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** Works across duplicate copies of this module and across serialisation (job failures keep the name). */
export function isMllError(err: unknown): err is MllError {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[MLL_ERROR] === true;
}

const transientNodeCodes = new Set(transientErrorCodes);

/**
 * The one rule that decides whether work that failed with `err` may succeed if retried:
 * network faults, timeouts and 408/429/5xx answers are transient; everything else (bad input,
 * refused credentials, programming errors flagged as such) is not.
 */
export function isTransient(err: unknown): boolean {
  if (isMllError(err)) return err.transient;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; status?: unknown; statusCode?: unknown; name?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && transientNodeCodes.has(e.code)) return true;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) return statusMatches(transientStatuses, status);
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
  if (e.cause !== undefined && e.cause !== err) return isTransient(e.cause);
  return false;
}

/** Turns anything thrown into the error shape users see; unknown errors never leak their text. */
export function toErrorBody(err: unknown): ErrorBody {
  if (isMllError(err)) return err.toJSON();
  return { code: 'INTERNAL', message: 'Internal error; the service log has the details.' };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
