import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { InvocationRow } from '../../store/index.js';
import { InvalidRequestError, InvocationNotFoundError, ModuleNotFoundError } from '../errors.js';
import type { InvocationRecorder } from '../invocation-recorder.js';
import { NAME_PATTERN } from '../module-config.js';
import type { ModuleRegistry } from '../module-registry.js';

export interface InvocationRoutesDeps {
  readonly recorder: InvocationRecorder;
  readonly registry: ModuleRegistry;
}

const ID_PATTERN = '^[0-9A-HJKMNP-TV-Z]{26}$';
const STATUSES = ['succeeded', 'handler_error', 'timeout', 'crashed', 'saturated', 'start_failed', 'not_found', 'shutting_down', 'error'];
// How often a follower gets a comment line, so proxies keep an idle stream open.
const HEARTBEAT_MS = 15_000;
// A follower that stops reading is dropped once this much waits for it, rather than held in memory.
const MAX_UNREAD_BYTES = 1024 * 1024;

const moduleParams = { type: 'object', required: ['module'], properties: { module: { type: 'string', pattern: NAME_PATTERN } } } as const;

/** Invocation records and live logs (admin token). */
export async function invocationRoutes(app: FastifyInstance, deps: InvocationRoutesDeps): Promise<void> {
  // Open log streams end when the daemon closes, so shutdown does not wait out its grace for them.
  const streams = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end('event: bye\ndata: {}\n\n');
  });

  app.get<{ Params: { module: string }; Querystring: { status?: string; since?: string; limit?: string; cursor?: string } }>(
    '/system/modules/:module/invocations',
    {
      schema: {
        summary: 'Calls of a module, newest first (limit 1-500, default 50; since = ISO time or epoch ms); pass nextCursor as cursor for the next page',
        params: moduleParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: STATUSES },
            since: { type: 'string', maxLength: 40 },
            limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9][0-9]|500)$' },
            cursor: { type: 'string', pattern: ID_PATTERN },
          },
        },
      },
    },
    async (request) => {
      const { module } = request.params;
      const { status, cursor } = request.query;
      const limit = Number(request.query.limit ?? 50);
      const since = request.query.since === undefined ? undefined : parseSince(request.query.since);
      const rows = deps.recorder.list({ module, status, since, limit, before: cursor });
      const last = rows[rows.length - 1];
      return { invocations: rows.map(invocationView), nextCursor: rows.length === limit && last !== undefined ? last.id : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/system/invocations/:id',
    { schema: { summary: 'One invocation record, with its logs and error', params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID_PATTERN } } } } },
    async (request) => {
      const row = deps.recorder.get(request.params.id);
      if (row === undefined) throw new InvocationNotFoundError(request.params.id);
      return invocationView(row);
    },
  );

  app.get<{ Params: { module: string }; Querystring: { follow?: string; limit?: string } }>(
    '/system/modules/:module/logs',
    {
      schema: {
        summary: "Each call's captured output: the recent ones (limit, default 20), or with follow=1 a Server-Sent Events stream of every call as it ends",
        params: moduleParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { follow: { type: 'string', enum: ['1', 'true', '0', 'false'] }, limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9][0-9]|500)$' } },
        },
      },
    },
    async (request, reply) => {
      const { module } = request.params;
      if (deps.registry.lookup(module) === undefined) throw new ModuleNotFoundError(module);
      if (request.query.follow !== '1' && request.query.follow !== 'true') {
        const rows = deps.recorder.list({ module, limit: Number(request.query.limit ?? 20) });
        return { logs: rows.map(logView) };
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': following\n\n');
      streams.add(res);
      const stop = deps.recorder.follow(module, (row) => {
        if (res.writableLength > MAX_UNREAD_BYTES) {
          res.end();
          return;
        }
        res.write(`id: ${row.id}\nevent: call\ndata: ${JSON.stringify(logView(row))}\n\n`);
      });
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
      const end = (): void => {
        clearInterval(heartbeat);
        stop();
        streams.delete(res);
      };
      request.raw.on('close', end);
      res.on('close', end);
    },
  );
}

function parseSince(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidRequestError(`since must be an ISO time or epoch milliseconds, got ${JSON.stringify(text)}`);
  return ms;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function invocationView(row: InvocationRow): Record<string, unknown> {
  return { ...row, startedAt: iso(row.startedAt), endedAt: iso(row.endedAt) };
}

function logView(row: InvocationRow): Record<string, unknown> {
  return { id: row.id, function: row.function, trigger: row.trigger, status: row.status, endedAt: iso(row.endedAt), durationMs: row.durationMs, logs: row.logs };
}
