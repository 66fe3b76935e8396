/**
 * One error type for the whole project. `code` is stable and machine-readable: the REST layer
 * maps it to an HTTP status, the agent maps it to a counter, operators grep for it.
 */
export const ErrorCode = {
  Invalid: 'invalid',
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  RevisionMismatch: 'revision_mismatch',
  PayloadTooLarge: 'payload_too_large',
  UnsupportedMediaType: 'unsupported_media_type',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  Unavailable: 'unavailable',
  VersionGap: 'version_gap',
  HashMismatch: 'hash_mismatch',
  DecodeFailed: 'decode_failed',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A problem with one field of the input: `path` is dotted (`spec.ports.0.port`). */
export interface FieldIssue {
  path: string;
  message: string;
}

export class FedmeshError extends Error {
  readonly code: ErrorCode;
  readonly issues: readonly FieldIssue[];
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; issues?: FieldIssue[]; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FedmeshError';
    this.code = code;
    this.issues = opts.issues ?? [];
    this.details = opts.details ?? {};
  }
}

export function isFedmeshError(err: unknown, code?: ErrorCode): err is FedmeshError {
  return err instanceof FedmeshError && (code === undefined || err.code === code);
}

/** Builds an `invalid` error whose message names every offending field. */
export function invalid(issues: FieldIssue[], what = 'invalid input'): FedmeshError {
  const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return new FedmeshError(ErrorCode.Invalid, `${what}: ${summary}`, { issues });
}
