import type { FastifyRequest } from 'fastify';
import type { ModuleRecord } from './module-registry.js';

// Credentials of the caller are not the function's business.
const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** One call as the runtime will see it, whatever started it. */
export interface CallInput {
  /** The event as JSON text, when it is at hand (forwarded without a second encoding). */
  readonly eventJson?: string;
  /** The event as a value, when there is no text (form fields, an empty body). */
  readonly params?: unknown;
  readonly trigger: string;
  readonly requestId: string;
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly query?: Readonly<Record<string, unknown>>;
  /** More context fields (`workflow` for a workflow step). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * The body of `POST /invoke/<fn>` (DESIGN.md section 3): `{"event", "context"}`
 * built from the HTTP request, serialized once.
 */
export function invocationPayload(
  record: ModuleRecord,
  fn: string,
  request: FastifyRequest,
  trigger: string,
  requestId: string = request.id,
): string {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request.headers)) if (!HIDDEN_HEADERS.has(name)) headers[name] = value;
  const params = request.body === undefined || request.body === null ? {} : request.body;
  return buildPayload(record, fn, { eventJson: request.rawJson, params, trigger, requestId, headers, query: request.query as Record<string, unknown> });
}

export function buildPayload(record: ModuleRecord, fn: string, call: CallInput): string {
  const query = call.query ?? {};
  if (record.config.paramsIn === 'context') {
    // The original design's convention: parameters (query, then body fields) arrive as `context`.
    const params = call.params ?? (call.eventJson === undefined ? {} : (JSON.parse(call.eventJson) as unknown));
    const context = isPlainObject(params) ? { ...query, ...params } : { ...query, body: params };
    // An async call came over HTTP too; other triggers (workflow…) name themselves.
    return JSON.stringify({ event: { method: call.trigger === 'async' ? 'http' : call.trigger }, context });
  }
  const context = {
    request_id: call.requestId,
    module: record.name,
    function: fn,
    trigger: call.trigger,
    memory_limit_in_mb: record.config.memoryMb,
    time_limit_in_ms: record.config.timeoutMs,
    headers: call.headers ?? {},
    query,
    ...call.extra,
  };
  const event = call.eventJson ?? JSON.stringify(call.params ?? {});
  return `{"event":${event},"context":${JSON.stringify(context)}}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
