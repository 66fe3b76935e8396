import { ErrorCode, FedmeshError, type FieldIssue, isFedmeshError } from '@fedmesh/shared';

/** The one error catalogue of the REST API: error code → HTTP status. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  [ErrorCode.Invalid]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.AlreadyExists]: 409,
  [ErrorCode.RevisionMismatch]: 412,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.VersionGap]: 500,
  [ErrorCode.HashMismatch]: 500,
  [ErrorCode.DecodeFailed]: 400,
  [ErrorCode.Internal]: 500,
};

export interface ErrorBody {
  error: { code: string; message: string; issues?: FieldIssue[]; details?: Record<string, unknown> };
}

/** Fastify's own error codes for request-level problems, mapped onto ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCode.PayloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCode.UnsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ErrorCode.Invalid,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCode.Invalid,
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCode.Invalid,
  FST_ERR_VALIDATION: ErrorCode.Invalid,
  FST_ERR_BAD_URL: ErrorCode.Invalid,
};

export function toHttpError(err: unknown): { status: number; body: ErrorBody } {
  if (isFedmeshError(err)) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.issues.length) body.error.issues = [...err.issues];
    if (Object.keys(err.details).length) body.error.details = { ...err.details };
    return { status: STATUS_BY_CODE[err.code], body };
  }
  const e = err as Error & { code?: string; statusCode?: number };
  const mapped = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return toHttpError(new FedmeshError(mapped, cleanFastifyMessage(e.message ?? mapped)));
  if (e instanceof SyntaxError || (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)) {
    const code =
      e.statusCode === 413
        ? ErrorCode.PayloadTooLarge
        : e.statusCode === 415
          ? ErrorCode.UnsupportedMediaType
          : ErrorCode.Invalid;
    return toHttpError(new FedmeshError(code, cleanFastifyMessage(e.message ?? 'bad request')));
  }
  return { status: 500, body: { error: { code: ErrorCode.Internal, message: 'internal error' } } };
}

function cleanFastifyMessage(m: string): string {
  return m.replace(/^FST_\w+:\s*/, '');
}
