/**
 * The one place where error codes become HTTP statuses. Every part throws
 * errors carrying a string `code` (and optional `details`); nothing below the
 * gateway knows about HTTP.
 */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  INVALID_REQUEST: 400,
  INVALID_EVENT: 400,
  CALLBACK_NOT_ALLOWED: 400,
  INVALID_WORKFLOW: 400,
  INVALID_OBJECT_KEY: 400,
  INVALID_BUCKET_NAME: 400,
  INVALID_PACKAGE: 400,
  BUILD_FAILED: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  MODULE_NOT_FOUND: 404,
  FUNCTION_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  WORKFLOW_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  INVOCATION_NOT_FOUND: 404,
  BUCKET_NOT_FOUND: 404,
  OBJECT_NOT_FOUND: 404,
  JOB_NOT_CANCELLABLE: 409,
  BUCKET_NOT_EMPTY: 409,
  BODY_TOO_LARGE: 413,
  OBJECT_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  POOL_SATURATED: 429,
  HANDLER_ERROR: 500,
  WORKFLOW_FAILED: 500,
  BUILD_ERROR: 500,
  INSTANCE_PROTOCOL_ERROR: 500,
  INTERNAL: 500,
  INSTANCE_CRASHED: 502,
  ENGINE_UNAVAILABLE: 503,
  INSTANCE_START_FAILED: 503,
  BASE_IMAGE_MISSING: 503,
  SHUTTING_DOWN: 503,
  INVOCATION_TIMEOUT: 504,
  WORKFLOW_TIMEOUT: 504,
};

/** Fastify's and its plugins' own error codes, folded into ours. */
const FASTIFY_CODES: Readonly<Record<string, string>> = {
  FST_ERR_VALIDATION: 'INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_PARTS_LIMIT: 'INVALID_REQUEST',
  FST_FILES_LIMIT: 'INVALID_REQUEST',
  FST_FIELDS_LIMIT: 'INVALID_REQUEST',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
};

export interface HttpError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { readonly error: { readonly code: string; readonly message: string } & Record<string, unknown> };
}

export function statusOf(code: string): number | undefined {
  return STATUS_BY_CODE[code];
}

/** Maps any thrown value to a status and the `{"error": {code, message, …details}}` body. */
export function toHttpError(err: unknown): HttpError {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; details?: unknown; statusCode?: unknown };
  let code = typeof e.code === 'string' ? (FASTIFY_CODES[e.code] ?? e.code) : 'INTERNAL';
  let status = statusOf(code);
  if (status === undefined) {
    // Client errors we have no name for (a malformed body, say) keep their 4xx; anything else is ours.
    const given = typeof e.statusCode === 'number' ? e.statusCode : 500;
    status = given >= 400 && given < 500 ? given : 500;
    code = status === 500 ? 'INTERNAL' : 'INVALID_REQUEST';
  }
  const message = status === 500 && code === 'INTERNAL' ? 'internal error' : String(e.message ?? code);
  const details = e.details !== null && typeof e.details === 'object' ? (e.details as Record<string, unknown>) : {};
  // A refusal for load tells the client when to come back.
  const headers: Record<string, string> = typeof details.retryAfterSec === 'number' ? { 'retry-after': String(details.retryAfterSec) } : {};
  return { status, headers, body: { error: { ...details, code, message } } };
}
