import type { FastifyInstance } from 'fastify';
import { TERMINAL, type JobRepository, type JobStatus } from '../../store/index.js';
import { requireBearer } from '../auth.js';
import { idGenerator } from '../ids.js';
import type { CallbackSender } from '../callbacks.js';
import { JobNotCancellableError, JobNotFoundError, ModuleNotFoundError, UnknownFunctionError } from '../errors.js';
import { invocationPayload } from '../invocation-payload.js';
import type { JobRunner } from '../job-runner.js';
import { jobView } from '../job-view.js';
import { NAME_PATTERN } from '../module-config.js';
import type { ModuleRegistry } from '../module-registry.js';

export interface AsyncRoutesDeps {
  readonly registry: ModuleRegistry;
  readonly jobs: JobRepository;
  readonly runner: JobRunner;
  readonly callbacks: CallbackSender;
  readonly invokeToken: string | undefined;
}

// Crockford base32, 26 characters: a ULID.
const ID_PATTERN = '^[0-9A-HJKMNP-TV-Z]{26}$';
const STATUSES: readonly JobStatus[] = ['queued', 'running', ...TERMINAL];

const callParams = {
  type: 'object',
  required: ['module', 'fn'],
  properties: { module: { type: 'string', pattern: NAME_PATTERN }, fn: { type: 'string', pattern: NAME_PATTERN } },
} as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID_PATTERN } } } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    module: { type: 'string', pattern: NAME_PATTERN },
    status: { type: 'string', enum: STATUSES },
    // Query strings are not coerced (coerceTypes is off for every schema): digits, checked here.
    limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9][0-9]|500)$' },
    cursor: { type: 'string', pattern: ID_PATTERN },
  },
} as const;

/** Async jobs: submit (202 once committed), poll, list, cancel. Same token as function calls. */
export async function asyncRoutes(app: FastifyInstance, deps: AsyncRoutesDeps): Promise<void> {
  if (deps.invokeToken !== undefined) app.addHook('onRequest', requireBearer(deps.invokeToken, 'function'));
  const newId = idGenerator();

  app.post<{ Params: { module: string; fn: string } }>(
    '/async-function/:module/:fn',
    {
      schema: {
        summary: 'Submit an async call; answers 202 with the job id once the job is stored. X-Callback-Url gets the final record.',
        params: callParams,
      },
    },
    async (request, reply) => {
      const { module, fn } = request.params;
      const entry = deps.registry.lookup(module);
      if (entry === undefined) throw new ModuleNotFoundError(module);
      if (!entry.functions.has(fn)) throw new UnknownFunctionError(module, fn, { functions: entry.record.functions });
      const callbackUrl = deps.callbacks.fromHeader(request.headers['x-callback-url']);
      const id = newId();
      const payload = invocationPayload(entry.record, fn, request, 'async', id);
      await deps.runner.submit({ id, module, function: fn, payload, createdAt: Date.now(), callbackUrl });
      const statusUrl = `/async/${id}`;
      return reply.code(202).header('location', statusUrl).send({ id, status: 'queued', statusUrl });
    },
  );

  app.get<{ Params: { id: string } }>('/async/:id', { schema: { summary: 'One job record', params: idParams } }, async (request) => {
    const row = deps.jobs.get(request.params.id);
    if (row === undefined) throw new JobNotFoundError(request.params.id);
    return jobView(row);
  });

  app.get<{ Querystring: { module?: string; status?: JobStatus; limit?: string; cursor?: string } }>(
    '/async',
    { schema: { summary: 'Jobs, newest first (limit 1-500, default 50); pass nextCursor as cursor for the next page', querystring: listQuery } },
    async (request) => {
      const { module, status, cursor } = request.query;
      const limit = Number(request.query.limit ?? 50);
      const rows = deps.jobs.list({ module, status, limit, before: cursor });
      const last = rows[rows.length - 1];
      return { jobs: rows.map(jobView), nextCursor: rows.length === limit && last !== undefined ? last.id : null };
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/async/:id',
    { schema: { summary: 'Cancel a queued job (409 once it runs or has ended)', params: idParams } },
    async (request) => {
      const { id } = request.params;
      const row = deps.runner.cancel(id);
      if (row !== undefined) return jobView(row);
      const current = deps.jobs.get(id);
      if (current === undefined) throw new JobNotFoundError(id);
      throw new JobNotCancellableError(id, current.status);
    },
  );
}
