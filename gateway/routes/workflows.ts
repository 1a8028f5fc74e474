import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import type { RunRepository, RunRow, RunStatus, WorkflowRepository } from '../../store/index.js';
import { toMermaid } from '../../workflows/index.js';
import { requireBearer } from '../auth.js';
import { InvalidRequestError, RunNotFoundError, WorkflowNotFoundError, WorkflowRunError } from '../errors.js';
import { NAME_PATTERN } from '../module-config.js';
import type { ModuleRegistry } from '../module-registry.js';
import { respondAsync } from './functions.js';
import { runView } from '../run-view.js';
import { compileWorkflow, deploymentWarnings } from '../workflow-definitions.js';
import type { WorkflowRunner } from '../workflow-runner.js';

export interface WorkflowRoutesDeps {
  readonly workflows: WorkflowRepository;
  readonly runs: RunRepository;
  readonly runner: WorkflowRunner;
  readonly registry: ModuleRegistry;
  readonly maxNodes: number;
  readonly maxDataBytes: number;
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
// `runs` would shadow GET /workflows/runs/:id.
const RESERVED = new Set(['runs']);
const ID_PATTERN = '^[0-9A-HJKMNP-TV-Z]{26}$';
const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'timeout'];

const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: NAME_PATTERN } } } as const;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID_PATTERN } } } as const;

/** Saving, reading and drawing workflows: admin token. */
export async function workflowAdminRoutes(app: FastifyInstance, deps: WorkflowRoutesDeps): Promise<void> {
  // YAML is accepted wherever JSON is; aliases are bounded by the parser (no billion laughs).
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseYaml(body as string, { maxAliasCount: 100 }) as unknown);
    } catch (err) {
      done(new InvalidRequestError(`the body is not valid YAML: ${(err as Error).message}`), undefined);
    }
  });

  app.put<{ Params: { name: string }; Body: unknown }>(
    '/workflows/:name',
    { schema: { summary: 'Create or replace a workflow (JSON or YAML); 400 lists every problem; undeployed functions come back as warnings', params: nameParams } },
    async (request, reply) => {
      const { name } = request.params;
      if (RESERVED.has(name)) throw new InvalidRequestError(`${name} is a reserved workflow name`);
      // Checked as it will be stored: YAML can say things JSON cannot (.inf, .nan), which would not survive saving.
      const body = request.body === undefined ? undefined : (JSON.parse(JSON.stringify(request.body)) as unknown);
      // The name may be left out of the document: the URL gives it. A different one is a mistake.
      const definition = isObject(body) && body.name === undefined ? { name, ...body } : body;
      if (isObject(definition) && definition.name !== name) {
        throw new InvalidRequestError(`the document's name ${JSON.stringify(definition.name)} differs from the URL's ${JSON.stringify(name)}`);
      }
      const workflow = compileWorkflow(definition, deps.maxNodes);
      const { row, created } = deps.workflows.save(name, definition as object, new Date());
      return reply.code(created ? 201 : 200).send({ ...row, warnings: deploymentWarnings(workflow, deps.registry), graphUrl: `/workflows/${name}/graph` });
    },
  );

  app.get('/workflows', { schema: { summary: 'Every workflow' } }, async () => ({
    workflows: deps.workflows.list().map((row) => ({
      name: row.name,
      description: row.definition.description ?? null,
      nodes: Object.keys((row.definition.nodes ?? {}) as object).length,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    })),
  }));

  app.get<{ Params: { name: string } }>('/workflows/:name', { schema: { summary: 'A workflow, with warnings about functions not deployed', params: nameParams } }, async (request) => {
    const row = deps.workflows.get(request.params.name);
    if (row === undefined) throw new WorkflowNotFoundError(request.params.name);
    return { ...row, warnings: deploymentWarnings(compileWorkflow(row.definition, deps.maxNodes), deps.registry) };
  });

  app.delete<{ Params: { name: string } }>(
    '/workflows/:name',
    { schema: { summary: 'Remove a workflow (runs under way finish with the definition they started with)', params: nameParams } },
    async (request, reply) => {
      if (!deps.workflows.delete(request.params.name)) throw new WorkflowNotFoundError(request.params.name);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { name: string }; Querystring: { format?: 'mermaid' | 'markdown' } }>(
    '/workflows/:name/graph',
    {
      schema: {
        summary: 'The workflow as a Mermaid flowchart (format=markdown wraps it in a ```mermaid block)',
        params: nameParams,
        querystring: { type: 'object', additionalProperties: false, properties: { format: { type: 'string', enum: ['mermaid', 'markdown'] } } },
      },
    },
    async (request, reply) => {
      const row = deps.workflows.get(request.params.name);
      if (row === undefined) throw new WorkflowNotFoundError(request.params.name);
      const graph = toMermaid(compileWorkflow(row.definition, deps.maxNodes));
      if (request.query.format === 'markdown') return reply.type('text/markdown; charset=utf-8').send(`\`\`\`mermaid\n${graph}\`\`\`\n`);
      return reply.type('text/plain; charset=utf-8').send(graph);
    },
  );
}

/** Running workflows and reading runs: the same token as function calls. */
export async function workflowRunRoutes(app: FastifyInstance, deps: WorkflowRoutesDeps & { readonly invokeToken: string | undefined }): Promise<void> {
  if (deps.invokeToken !== undefined) app.addHook('onRequest', requireBearer(deps.invokeToken, 'function'));

  app.post<{ Params: { name: string }; Querystring: { async?: string } }>(
    '/workflows/:name/run',
    {
      schema: {
        summary: 'Run a workflow with the body as input: the output and every step, or with ?async=1 / Prefer: respond-async a 202 and a run id',
        params: nameParams,
        querystring: { type: 'object', additionalProperties: false, properties: { async: { type: 'string', enum: ['1', 'true', '0', 'false'] } } },
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      const row = deps.workflows.get(name);
      if (row === undefined) throw new WorkflowNotFoundError(name);
      const inputJson = request.rawJson ?? JSON.stringify(request.body ?? {});
      if (Buffer.byteLength(inputJson) > deps.maxDataBytes) {
        throw new InvalidRequestError(`the input is ${Buffer.byteLength(inputJson)} bytes of JSON, over HEARTH_WORKFLOW_MAX_DATA_BYTES (${deps.maxDataBytes})`);
      }
      const prefer = respondAsync(request.headers.prefer);
      const asked = request.query.async === '1' || request.query.async === 'true';
      // An explicit async=0 wins over a Prefer header.
      const refused = request.query.async === '0' || request.query.async === 'false';
      if (asked || (prefer !== undefined && !refused)) {
        const run = deps.runner.submit(name, row.definition, inputJson);
        // Prefer: respond-async, wait=N: the answer itself when the run ends within N s.
        const ended = !asked && prefer !== undefined && prefer.waitMs > 0 ? await deps.runner.waitFor(run.id, prefer.waitMs) : undefined;
        if (ended !== undefined) return finished(ended, reply);
        const statusUrl = `/workflows/runs/${run.id}`;
        return reply.code(202).header('location', statusUrl).send({ id: run.id, status: run.status, statusUrl });
      }
      const { run } = await deps.runner.runSync(name, row.definition, inputJson);
      return finished(run, reply);
    },
  );

  /** A run that has ended: its output and steps, or the error naming the step at fault (with every step). */
  function finished(run: RunRow, reply: { header(name: string, value: string): unknown; send(body: unknown): unknown }): unknown {
    reply.header('x-hearth-run-id', run.id);
    const view = runView(run, deps.runs.steps(run.id));
    if (run.status === 'succeeded') return reply.send(view);
    const code = run.status === 'timeout' ? 'WORKFLOW_TIMEOUT' : run.error?.type === 'SHUTTING_DOWN' ? 'SHUTTING_DOWN' : 'WORKFLOW_FAILED';
    throw new WorkflowRunError(code, run.error?.message ?? `the run ${run.status}`, { run: view });
  }

  app.get<{ Params: { id: string } }>('/workflows/runs/:id', { schema: { summary: 'A run with every step', params: idParams } }, async (request) => {
    const run = deps.runs.get(request.params.id);
    if (run === undefined) throw new RunNotFoundError(request.params.id);
    return runView(run, deps.runs.steps(run.id));
  });

  app.get<{ Querystring: { workflow?: string; status?: RunStatus; limit?: string; cursor?: string } }>(
    '/workflows/runs',
    {
      schema: {
        summary: 'Runs, newest first, without their steps (limit 1-500, default 50); pass nextCursor as cursor for the next page',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            workflow: { type: 'string', pattern: NAME_PATTERN },
            status: { type: 'string', enum: RUN_STATUSES },
            limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9][0-9]|500)$' },
            cursor: { type: 'string', pattern: ID_PATTERN },
          },
        },
      },
    },
    async (request) => {
      const { workflow, status, cursor } = request.query;
      const limit = Number(request.query.limit ?? 50);
      const rows = deps.runs.list({ workflow, status, limit, before: cursor });
      const last = rows[rows.length - 1];
      return { runs: rows.map((run) => runView(run, undefined)), nextCursor: rows.length === limit && last !== undefined ? last.id : null };
    },
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
