import type { FastifyRequest } from 'fastify';
import type { ModuleRecord } from './module-registry.js';

// Credentials of the caller are not the function's business.
const HIDDEN_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

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
  const query = request.query as Record<string, unknown>;
  const params = request.body === undefined || request.body === null ? {} : request.body;
  if (record.config.paramsIn === 'context') {
    // The original design's convention: parameters (query, then body fields) arrive as `context`.
    const context = isPlainObject(params) ? { ...query, ...params } : { ...query, body: params };
    return JSON.stringify({ event: { method: 'http' }, context });
  }
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request.headers)) if (!HIDDEN_HEADERS.has(name)) headers[name] = value;
  const context = {
    request_id: requestId,
    module: record.name,
    function: fn,
    trigger,
    memory_limit_in_mb: record.config.memoryMb,
    time_limit_in_ms: record.config.timeoutMs,
    headers,
    query,
  };
  // A JSON body is forwarded as received (it was validated by parsing): no second encoding.
  const event = request.rawJson ?? JSON.stringify(params);
  return `{"event":${event},"context":${JSON.stringify(context)}}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
