import type { FastifyInstance } from 'fastify';
import type { PoolManager } from '../../pool/index.js';
import { requireBearer } from '../auth.js';
import { HandlerError, ModuleNotFoundError, UnknownFunctionError } from '../errors.js';
import { invocationPayload } from '../invocation-payload.js';
import { NAME_PATTERN } from '../module-config.js';
import type { ModuleRegistry } from '../module-registry.js';

export interface FunctionRoutesDeps {
  readonly registry: ModuleRegistry;
  readonly pools: PoolManager;
  /** When set, calls need this bearer token. */
  readonly invokeToken: string | undefined;
}

const TAIL_BYTES = 4096;

const paramsSchema = {
  type: 'object',
  required: ['module', 'fn'],
  properties: { module: { type: 'string', pattern: NAME_PATTERN }, fn: { type: 'string', pattern: NAME_PATTERN } },
} as const;

/** `POST /function/:module/:fn`: the synchronous call, the hot path. */
export async function functionRoutes(app: FastifyInstance, deps: FunctionRoutesDeps): Promise<void> {
  if (deps.invokeToken !== undefined) app.addHook('onRequest', requireBearer(deps.invokeToken, 'function'));

  app.post<{ Params: { module: string; fn: string } }>(
    '/function/:module/:fn',
    { schema: { summary: 'Call a function synchronously; the body is the event', params: paramsSchema } },
    async (request, reply) => {
      const { module, fn } = request.params;
      const entry = deps.registry.lookup(module);
      if (entry === undefined) throw new ModuleNotFoundError(module);
      if (!entry.functions.has(fn)) throw new UnknownFunctionError(module, fn, { functions: entry.record.functions });
      const outcome = await deps.pools.invoke(module, fn, invocationPayload(entry.record, fn, request, 'http'));
      const result = outcome.reply;
      reply.header('x-hearth-request-id', request.id);
      reply.header('x-hearth-cold-start', outcome.coldStart ? '1' : '0');
      reply.header('x-hearth-duration-ms', String(result.durationMs));
      // As AWS Lambda's X-Amz-Log-Type: Tail, the last 4 KiB of the call's output, base64.
      if (request.headers['x-hearth-log-type'] === 'Tail') {
        reply.header('x-hearth-log-result', Buffer.from(result.logs).subarray(-TAIL_BYTES).toString('base64'));
      }
      if (!result.ok) {
        const error = result.error ?? { type: 'Error', message: 'the handler failed', traceback: '' };
        throw new HandlerError({ type: error.type, traceback: error.traceback, logs: result.logs }, `${error.type}: ${error.message}`);
      }
      return reply.type('application/json').send(result.resultJson);
    },
  );
}
