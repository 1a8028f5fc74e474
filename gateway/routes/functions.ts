import type { FastifyInstance } from 'fastify';
import { setTimeout as delay } from 'node:timers/promises';
import type { InvokeOutcome } from '../../pool/index.js';
import { requireBearer } from '../auth.js';
import { idGenerator } from '../ids.js';
import type { CallbackSender } from '../callbacks.js';
import { HandlerError, ModuleNotFoundError, UnknownFunctionError } from '../errors.js';
import { invocationPayload } from '../invocation-payload.js';
import type { Invoker } from '../invoker.js';
import type { JobRunner } from '../job-runner.js';
import { NAME_PATTERN } from '../module-config.js';
import type { ModuleRegistry } from '../module-registry.js';

export interface FunctionRoutesDeps {
  readonly registry: ModuleRegistry;
  readonly invoker: Invoker;
  readonly runner: JobRunner;
  readonly callbacks: CallbackSender;
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
  const newId = idGenerator();

  app.post<{ Params: { module: string; fn: string } }>(
    '/function/:module/:fn',
    { schema: { summary: 'Call a function synchronously; the body is the event', params: paramsSchema } },
    async (request, reply) => {
      const { module, fn } = request.params;
      const entry = deps.registry.lookup(module);
      if (entry === undefined) throw new ModuleNotFoundError(module);
      if (!entry.functions.has(fn)) throw new UnknownFunctionError(module, fn, { functions: entry.record.functions });
      const prefer = respondAsync(request.headers.prefer);
      // Set first, so an error answer carries it too: GET /system/invocations/:id finds the record.
      const callId = newId();
      reply.header('x-hearth-call-id', callId);
      reply.header('x-hearth-request-id', request.id);
      let outcome: InvokeOutcome;
      if (prefer === undefined) {
        outcome = await deps.invoker.invoke(module, fn, invocationPayload(entry.record, fn, request, 'http'), { trigger: 'http', id: callId });
      } else {
        // RFC 7240 respond-async: answer normally if the call ends within wait=N s, else 202 and it goes on as a job.
        const callbackUrl = deps.callbacks.fromHeader(request.headers['x-callback-url']);
        const id = newId();
        const payload = invocationPayload(entry.record, fn, request, 'http', id);
        const startedAt = Date.now();
        const call = deps.invoker.invoke(module, fn, payload, { trigger: 'http', id: callId, source: `job:${id}` });
        const early = await Promise.race([call, delay(prefer.waitMs, undefined, { ref: false })]);
        if (early === undefined) {
          deps.runner.adopt({ id, module, function: fn, payload, createdAt: startedAt, callbackUrl, running: { startedAt } }, call);
          const statusUrl = `/async/${id}`;
          return reply.code(202).header('location', statusUrl).header('preference-applied', 'respond-async').send({ id, status: 'running', statusUrl });
        }
        outcome = early;
      }
      const result = outcome.reply;
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

// A wait longer than this is a sync call in all but name.
const MAX_WAIT_S = 3600;

/** `Prefer: respond-async, wait=N` (RFC 7240); undefined when the client did not ask. */
export function respondAsync(header: string | string[] | undefined): { waitMs: number } | undefined {
  if (header === undefined) return undefined;
  const tokens = (Array.isArray(header) ? header.join(',') : header).split(/[,;]/).map((token) => token.trim().toLowerCase());
  if (!tokens.includes('respond-async')) return undefined;
  const wait = tokens.map((token) => /^wait\s*=\s*"?(\d+)"?$/.exec(token)?.[1]).find((value) => value !== undefined);
  return { waitMs: Math.min(Number(wait ?? 0), MAX_WAIT_S) * 1000 };
}
